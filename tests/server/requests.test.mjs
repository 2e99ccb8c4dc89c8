// requests.test.mjs — request fields that real applications send (issue 20), with the official
// `openai` client: the developer role, unknown roles and image parts refused, DeepSeek's chat
// prefix completion, GET /v1/models/{id}, llama-server's and newer OpenAI fields, the penalties
// and logit_bias in the sampler, and the request log (-v, --log-format json).
//
// The model is the random-weight tiny-deepseek2 with --think (see conformance.test.mjs); greedy
// decoding (temperature 0) makes outputs comparable between requests.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { startServer, rawRequest, R1_BIN } from "./lib.mjs";

let srv, client;
const USER = { role: "user", content: "Why is the sky blue?" };

before(async () => {
  srv = await startServer(["--think", "-np", "2", "-c", "512", "-n", "64", "--log-format", "json"]);
  client = new OpenAI({ baseURL: srv.base + "/v1", apiKey: "unused", maxRetries: 0, timeout: 30000 });
});
after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, "server exits 0 on SIGTERM");
});

const greedy = (extra) => client.chat.completions.create({ model: "tiny", temperature: 0, max_tokens: 8, ...extra });

test("a developer message is a system message, not dropped", async () => {
  const sys = await greedy({ messages: [{ role: "system", content: "Answer in one word." }, USER] });
  const dev = await greedy({ messages: [{ role: "developer", content: "Answer in one word." }, USER] });
  const none = await greedy({ messages: [USER] });
  assert.equal(dev.usage.prompt_tokens, sys.usage.prompt_tokens);
  assert.ok(dev.usage.prompt_tokens > none.usage.prompt_tokens, "the developer text is in the prompt");
});

test("an unknown role is 400 naming it; image parts are 400 text only", async () => {
  await assert.rejects(greedy({ messages: [{ role: "wizard", content: "hi" }] }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.type, "invalid_request_error");
    assert.match(e.message, /wizard/);
    return true;
  });
  const parts = [{ type: "text", text: "What is in it?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }];
  await assert.rejects(greedy({ messages: [{ role: "user", content: parts }] }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, "unsupported_content");
    assert.match(e.message, /text only/);
    return true;
  });
  // text parts alone are fine
  const ok = await greedy({ messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
  assert.equal(ok.choices.length, 1);
});

test("chat prefix completion: the answer continues the assistant's text", async () => {
  const prefix = "The sky is";
  const r = await greedy({ messages: [USER, { role: "assistant", content: prefix, prefix: true }] });
  // the same prompt written out by hand: generation prompt, the reasoning closed empty, the prefix
  const text = "<｜begin▁of▁sentence｜><｜User｜>Why is the sky blue?<｜Assistant｜><think>\n\n</think>\n\n" + prefix;
  const c = await client.completions.create({ model: "tiny", prompt: text, temperature: 0, max_tokens: 8 });
  assert.equal(r.usage.prompt_tokens, c.usage.prompt_tokens);
  assert.equal(r.choices[0].message.reasoning_content, undefined, "no reasoning: the answer goes on");
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 0);
  // a reasoning prefix continues inside the reasoning
  const t = await greedy({ messages: [USER, { role: "assistant", content: "", reasoning_content: "Rayleigh", prefix: true }] });
  assert.ok(t.usage.completion_tokens_details.reasoning_tokens > 0);
  // prefix anywhere but on a last assistant message is refused
  await assert.rejects(greedy({ messages: [{ ...USER, prefix: true }] }), (e) => e.status === 400 && /prefix/.test(e.message));
});

test("GET /v1/models/{id}: the model, or 404 model_not_found", async () => {
  const m = await client.models.retrieve("tiny.gguf");
  assert.equal(m.id, "tiny.gguf");
  assert.equal(m.object, "model");
  await assert.rejects(client.models.retrieve("gpt-4o"), (e) => e.status === 404 && e.code === "model_not_found");
});

test("fields of common clients are accepted; harmless ones are named in X-R1-Ignored-Fields", async () => {
  const body = {
    messages: [USER], temperature: 0, reasoning_effort: "low", repeat_penalty: 1.1, repetition_penalty: 1.1,
    cache_prompt: true, n_predict: 3, prediction: { type: "content", content: "x" },
  };
  const r = await rawRequest(srv.port, { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers["x-r1-ignored-fields"], "reasoning_effort,prediction");
  const j = JSON.parse(r.body);
  assert.equal(j.usage.completion_tokens, 3, "n_predict is max_tokens");
  assert.equal(j.choices[0].finish_reason, "length");
  await new Promise((res) => setTimeout(res, 200)); // the server's stderr arrives on its own
  assert.match(srv.log(), /ignored request fields: reasoning_effort,prediction/);
  // a typo is still refused by name
  const bad = await rawRequest(srv.port, { body: JSON.stringify({ messages: [USER], temprature: 0 }) });
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error.code, "unknown_parameter");
});

test("presence, frequency and repeat penalties change greedy output; logit_bias -100 bans a token", async () => {
  const tok = (content) => fetch(srv.base + "/tokenize", { method: "POST", body: JSON.stringify({ content }) }).then((x) => x.json()).then((j) => j.tokens);
  const prompt = await tok("abc abc abc");
  const run = (extra) => client.completions.create({ model: "tiny", prompt, temperature: 0, max_tokens: 16, logprobs: 0, ...extra })
    .then((r) => r.choices[0].logprobs.tokens);
  // a token the model would rarely pick, lifted by the smallest bias that makes greedy decoding
  // repeat it: then its margin is small and each penalty must push it back
  const [id] = await tok("z");
  const text = "z";
  const count = (toks) => toks.filter((t) => t === text).length;
  let bias = 0, base = [];
  for (let b = 0.5; b <= 20 && count(base) < 6; b += 0.5) {
    bias = b;
    base = await run({ logit_bias: { [id]: b } });
  }
  assert.ok(count(base) >= 6, "a bias makes greedy repeat the token: " + JSON.stringify(base));
  const lb = { [id]: bias };
  for (const pen of [{ presence_penalty: 2 }, { frequency_penalty: 2 }, { repeat_penalty: 5 }, { repetition_penalty: 5 }]) {
    const toks = await run({ logit_bias: lb, ...pen });
    assert.ok(count(toks) < count(base), `${JSON.stringify(pen)}: ${count(toks)} vs ${count(base)} repeats`);
    assert.deepEqual(await run({ logit_bias: lb, ...pen }), toks, "deterministic");
  }
  // -100 bans a token that greedy decoding picks without the bias
  const plain = await run({});
  let banned = null;
  for (const t of plain) {
    const ids = await tok(t);
    if (ids.length === 1 && !t.includes("\ufffd")) { banned = { text: t, id: ids[0] }; break; }
  }
  assert.ok(banned, "some generated token is one token by itself: " + JSON.stringify(plain));
  const without = await run({ logit_bias: { [banned.id]: -100 } });
  assert.ok(!without.includes(banned.text), `${banned.text} was generated: ${JSON.stringify(without)}`);
  assert.notDeepEqual(without, plain);
});

test("the request log: one JSON line per request with status, tokens and time", async () => {
  const before = srv.log().length;
  await greedy({ messages: [USER], max_tokens: 2 });
  const stream = await client.chat.completions.create({ model: "tiny", messages: [USER], max_tokens: 2, stream: true });
  for await (const _ of stream); // drain
  await rawRequest(srv.port, { method: "GET", path: "/v1/nothing" });
  await new Promise((r) => setTimeout(r, 200));
  const lines = srv.log().slice(before).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const chats = lines.filter((l) => l.path === "/v1/chat/completions");
  assert.equal(chats.length, 2, JSON.stringify(lines));
  for (const l of chats) {
    assert.equal(l.method, "POST");
    assert.equal(l.status, 200);
    assert.ok(l.prompt_tokens > 0 && l.completion_tokens === 2, JSON.stringify(l));
    assert.equal(typeof l.ms, "number");
    assert.match(l.time, /^\d{4}-\d\d-\d\dT/);
  }
  const nf = lines.find((l) => l.path === "/v1/nothing");
  assert.equal(nf.status, 404);
  assert.equal(nf.method, "GET");
});

test("r1 serve -m missing.gguf, or a file with no vocabulary, fails before listening", () => {
  const r = spawnSync(R1_BIN, ["serve", "-m", "/nonexistent/missing.gguf", "--port", "0"], { encoding: "utf8", timeout: 20000 });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stderr, /listening/);
  assert.match(r.stderr, /missing\.gguf/);
  // a GGUF without a vocabulary: its tokenizer is read before the port opens
  const dir = mkdtempSync(join(tmpdir(), "r1-novocab-"));
  const file = join(dir, "novocab.gguf");
  const head = Buffer.alloc(24);
  head.write("GGUF", 0, "latin1");
  head.writeUInt32LE(3, 4); // version 3, no tensors, no metadata
  writeFileSync(file, head);
  const e = spawnSync(R1_BIN, ["serve", "-m", file, "--port", "0"], { encoding: "utf8", timeout: 20000 });
  assert.notEqual(e.status, 0);
  assert.doesNotMatch(e.stderr, /listening/);
  assert.match(e.stderr, /tokenizer/);
});
