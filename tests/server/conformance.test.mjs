// conformance.test.mjs — `r1 serve` driven by the official `openai` client: chat and completions,
// streaming and not, usage, logprobs, errors, the API key, and DeepSeek's reasoning_content.
//
// The model is a random-weight tiny-deepseek2 (gibberish output), served with --think so the
// prompt ends in "<think>\n" and the output starts inside the reasoning. A logit_bias on
// "</think>" makes the model close its reasoning after a few tokens, so both parts appear.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, rawRequest, tokenId } from "./lib.mjs";

let srv, client, thinkEnd;
const MSG = [{ role: "user", content: "Why is the sky blue?" }];

before(async () => {
  srv = await startServer(["--think", "-np", "2", "-c", "512", "-n", "64"]);
  client = new OpenAI({ baseURL: srv.base + "/v1", apiKey: "unused", maxRetries: 0, timeout: 30000 });
  thinkEnd = await tokenId(srv.base, "</think>");
});
after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, "server exits 0 on SIGTERM");
});

test("GET /v1/models lists the model", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].object, "model");
  assert.equal(list.data[0].id, "tiny.gguf");
});

test("chat, not streamed: message, reasoning_content, usage", async () => {
  const r = await client.chat.completions.create({
    model: "tiny", messages: MSG, max_tokens: 40, seed: 3, logit_bias: { [thinkEnd]: 3 },
  });
  assert.equal(r.object, "chat.completion");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.message.role, "assistant");
  assert.ok(["stop", "length"].includes(c.finish_reason));
  assert.equal(typeof c.message.content, "string");
  assert.ok(c.message.reasoning_content.length > 0, "reasoning_content is filled");
  assert.ok(!c.message.reasoning_content.includes("</think>"), "the closing tag is not in the reasoning");
  const u = r.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 40);
  assert.ok(u.completion_tokens_details.reasoning_tokens >= 1);
  assert.ok(u.completion_tokens_details.reasoning_tokens <= u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
});

test("chat, streamed: role first, reasoning deltas before content deltas, usage chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "tiny", messages: MSG, max_tokens: 40, seed: 3, stream: true,
    stream_options: { include_usage: true }, logit_bias: { [thinkEnd]: 3 },
  });
  const kinds = [];
  let reasoning = "", content = "", finish = null, usage = null, first = true;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    if (chunk.usage) { usage = chunk.usage; assert.equal(chunk.choices.length, 0); continue; }
    const ch = chunk.choices[0];
    if (first) { assert.equal(ch.delta.role, "assistant"); first = false; }
    if (ch.delta.reasoning_content) { kinds.push("r"); reasoning += ch.delta.reasoning_content; }
    if (ch.delta.content) { kinds.push("c"); content += ch.delta.content; }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.ok(["stop", "length"].includes(finish));
  assert.ok(reasoning.length > 0, "some reasoning streamed");
  assert.ok(content.length > 0, "some content streamed after </think>");
  const firstContent = kinds.indexOf("c");
  assert.ok(!kinds.slice(firstContent).includes("r"), "no reasoning after content started: " + kinds.join(""));
  assert.ok(usage, "a usage chunk comes with include_usage");
  assert.ok(usage.completion_tokens_details.reasoning_tokens >= 1);
  assert.ok(usage.completion_tokens_details.reasoning_tokens < usage.completion_tokens);
});

test("reasoning_format none: everything is content, tags included", async () => {
  const r = await client.chat.completions.create({
    model: "tiny", messages: MSG, max_tokens: 24, seed: 7, logit_bias: { [thinkEnd]: 4 },
    reasoning_format: "none",
  });
  const m = r.choices[0].message;
  assert.equal(m.reasoning_content, undefined);
  assert.ok(m.content.includes("</think>"));
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 0);
});

test("same seed, same output; a follow-up reuses the cached prefix", async () => {
  const req = { model: "tiny", messages: MSG, max_tokens: 16, seed: 11, temperature: 1 };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.equal(a.choices[0].message.reasoning_content, b.choices[0].message.reasoning_content);
  assert.ok(b.usage.prompt_cache_hit_tokens >= b.usage.prompt_tokens - 1, "the whole prompt came from the cache");
});

test("n = 2 gives two choices", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: MSG, max_tokens: 8, n: 2, seed: 5 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
});

test("max_tokens is capped by the server's -n", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: MSG, max_tokens: 100000, seed: 1, logit_bias: { "1": -100 } });
  assert.ok(r.usage.completion_tokens <= 64);
  assert.equal(r.choices[0].finish_reason, "length");
});

test("stop strings end the answer before the match", async () => {
  const base = await client.completions.create({ model: "tiny", prompt: "abc", max_tokens: 30, seed: 9, temperature: 0, logit_bias: { "1": -100 } });
  const text = base.choices[0].text;
  // pick a stop string from the middle of the text (two characters, no replacement char)
  let stop = null, at = -1;
  for (let i = 4; i + 2 <= text.length; i++) {
    const s = text.slice(i, i + 2);
    if (!s.includes("\ufffd") && !/[\ud800-\udfff]/.test(s) && text.indexOf(s) === i) { stop = s; at = i; break; }
  }
  if (stop === null) return; // degenerate output: nothing to cut on
  const r = await client.completions.create({ model: "tiny", prompt: "abc", max_tokens: 30, seed: 9, temperature: 0, stop: [stop], logit_bias: { "1": -100 } });
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].text, text.slice(0, at));
});

test("chat logprobs with top_logprobs", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: MSG, max_tokens: 6, seed: 2, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  for (const e of lp) {
    assert.equal(typeof e.token, "string");
    assert.ok(e.logprob <= 0);
    assert.ok(Array.isArray(e.bytes));
    assert.equal(e.top_logprobs.length, 3);
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[2].logprob);
    assert.ok(e.logprob <= e.top_logprobs[0].logprob + 1e-6);
  }
});

test("chat logprobs, streamed", async () => {
  const stream = await client.chat.completions.create({ model: "tiny", messages: MSG, max_tokens: 6, seed: 2, logprobs: true, top_logprobs: 2, stream: true });
  let n = 0;
  for await (const chunk of stream) for (const c of chunk.choices) n += c.logprobs?.content?.length ?? 0;
  assert.equal(n, 6);
});

test("completions, not streamed, with legacy logprobs", async () => {
  const r = await client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 8, seed: 4, logprobs: 2, logit_bias: { "1": -100 } });
  assert.equal(r.object, "text_completion");
  const c = r.choices[0];
  assert.equal(typeof c.text, "string");
  assert.equal(c.finish_reason, "length");
  assert.equal(c.logprobs.tokens.length, 8);
  assert.equal(c.logprobs.token_logprobs.length, 8);
  assert.equal(c.logprobs.top_logprobs.length, 8);
  assert.equal(r.usage.completion_tokens, 8);
});

test("completions, streamed, token-id prompt", async () => {
  const stream = await client.completions.create({ model: "tiny", prompt: [0, 10, 11, 12], max_tokens: 5, seed: 4, stream: true, stream_options: { include_usage: true }, logit_bias: { "1": -100 } });
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) { text += c.text; if (c.finish_reason) finish = c.finish_reason; }
  }
  assert.equal(finish, "length");
  assert.equal(usage.prompt_tokens, 4);
  assert.equal(usage.completion_tokens, 5);
});

test("errors are OpenAI error objects", async () => {
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: MSG, temperature: "hot" }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.type, "invalid_request_error");
    assert.equal(e.param, "temperature");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: MSG, top_logprobs: 21, logprobs: true }), (e) => e.status === 400 && e.param === "top_logprobs");
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: MSG, bogus: 1 }), (e) => e.status === 400 && e.code === "unknown_parameter");
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: [] }), (e) => e.status === 400 && e.param === "messages");
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x".repeat(600) }] }), (e) => e.status === 400 && e.code === "context_length_exceeded");
  await assert.rejects(client.completions.create({ model: "tiny", prompt: [1e9] }), (e) => e.status === 400 && e.param === "prompt");
  const r = await rawRequest(srv.port, { path: "/v1/nope", method: "GET" });
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.body).error.code, "not_found");
});

test("/tokenize and /detokenize round-trip", async () => {
  const t = await fetch(srv.base + "/tokenize", { method: "POST", body: JSON.stringify({ content: "héllo <think>", with_pieces: true }) }).then((r) => r.json());
  assert.ok(t.tokens.length > 2);
  assert.equal(typeof t.tokens[0].piece, "string");
  const ids = t.tokens.map((x) => x.id);
  const d = await fetch(srv.base + "/detokenize", { method: "POST", body: JSON.stringify({ tokens: ids }) }).then((r) => r.json());
  assert.equal(d.content, "héllo <think>");
});

test("the API key: 401 without it, 200 with it, /health open", async () => {
  const keyed = await startServer(["--api-key", "s3cret-key"]);
  try {
    const bad = new OpenAI({ baseURL: keyed.base + "/v1", apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.code, "invalid_api_key");
      return true;
    });
    const none = await rawRequest(keyed.port, { method: "GET", path: "/v1/models" });
    assert.equal(none.status, 401);
    assert.ok(JSON.parse(none.body).error.message);
    const good = new OpenAI({ baseURL: keyed.base + "/v1", apiKey: "s3cret-key", maxRetries: 0 });
    const r = await good.chat.completions.create({ model: "tiny", messages: MSG, max_tokens: 4 });
    assert.equal(r.choices.length, 1);
    assert.equal((await fetch(keyed.base + "/health")).status, 200);
  } finally {
    assert.equal((await keyed.stop()).code, 0);
  }
});
