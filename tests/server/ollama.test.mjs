// ollama.test.mjs — Ollama's API on the same port, driven by the official `ollama` client: chat and
// generate, streamed (NDJSON, Ollama's default) and not, think on and off, list (tags), show, ps,
// version; the unsupported routes and fields give clear errors.
//
// The model is the random-weight tiny-deepseek2 with --think: its output starts inside the
// reasoning, so `thinking` appears; think: false closes the reasoning block before generation.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { startServer, rawRequest } from "./lib.mjs";

let srv, ollama;
const MSG = [{ role: "user", content: "Why is the sky blue?" }];

before(async () => {
  srv = await startServer(["--think", "-np", "2", "-c", "512", "-n", "64"]);
  ollama = new Ollama({ host: srv.base });
});
after(async () => {
  assert.equal((await srv.stop()).code, 0);
});

const isTime = (s) => typeof s === "string" && !Number.isNaN(Date.parse(s));

function checkDone(r) {
  assert.equal(r.done, true);
  assert.ok(["stop", "length"].includes(r.done_reason), r.done_reason);
  assert.equal(r.model, "tiny.gguf");
  assert.ok(isTime(r.created_at), r.created_at);
  assert.ok(r.prompt_eval_count > 0);
  assert.ok(r.eval_count > 0);
  assert.ok(r.total_duration > 0 && r.eval_duration >= 0 && r.prompt_eval_duration >= 0);
  assert.ok(r.total_duration >= r.prompt_eval_duration);
}

test("chat, not streamed: message with thinking and content, counts and durations", async () => {
  // the bias on </think> ends the reasoning after a few tokens (as in conformance.test.mjs)
  const r = await ollama.chat({
    model: "tiny", messages: MSG, stream: false, think: true,
    options: { num_predict: 40, seed: 3, temperature: 0.8, top_k: 40, top_p: 0.9, repeat_penalty: 1.1, num_ctx: 512 },
  });
  checkDone(r);
  assert.equal(r.message.role, "assistant");
  assert.equal(typeof r.message.content, "string");
  assert.ok(r.message.thinking && r.message.thinking.length > 0, "thinking: " + JSON.stringify(r.message));
  assert.ok(r.eval_count <= 40);
});

test("chat, streamed by default: thinking chunks before content, the last one done", async () => {
  const raw = await rawRequest(srv.port, {
    path: "/api/chat",
    body: JSON.stringify({ model: "tiny", messages: MSG, options: { num_predict: 24, seed: 5 } }),
  });
  assert.equal(raw.status, 200);
  assert.match(raw.headers["content-type"], /application\/x-ndjson/);
  const lines = raw.body.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.length >= 2);
  for (const l of lines.slice(0, -1)) assert.equal(l.done, false);
  checkDone(lines[lines.length - 1]);

  const stream = await ollama.chat({ model: "tiny", messages: MSG, stream: true, options: { num_predict: 24, seed: 5 } });
  let thinking = "", content = "", last = null, sawContent = false;
  for await (const part of stream) {
    if (part.message.thinking) {
      assert.ok(!sawContent, "thinking after content");
      thinking += part.message.thinking;
    }
    if (part.message.content) sawContent = true;
    content += part.message.content;
    last = part;
  }
  checkDone(last);
  assert.ok(thinking.length > 0);
  assert.equal(last.eval_count, lines[lines.length - 1].eval_count, "same seed, same tokens");
});

test("think: false answers without reasoning", async () => {
  const r = await ollama.chat({ model: "tiny", messages: MSG, stream: false, think: false, options: { num_predict: 12, temperature: 0 } });
  checkDone(r);
  assert.equal(r.message.thinking, undefined);
  const s = await ollama.chat({ model: "tiny", messages: MSG, stream: true, think: false, options: { num_predict: 12, temperature: 0 } });
  let content = "";
  for await (const part of s) {
    assert.equal(part.message.thinking, undefined);
    content += part.message.content;
  }
  assert.equal(content, r.message.content, "greedy: streamed and not give the same text");
  // a thinking turn in the history goes back to the model as reasoning_content (accepted)
  const h = await ollama.chat({
    model: "tiny", stream: false, options: { num_predict: 4 },
    messages: [...MSG, { role: "assistant", content: "Scattering.", thinking: "Rayleigh" }, { role: "user", content: "More?" }],
  });
  checkDone(h);
});

test("generate, streamed and not; options map to the sampler (num_predict, stop, seed)", async () => {
  const r = await ollama.generate({ model: "tiny", prompt: "Once upon a time", stream: false, options: { num_predict: 10, seed: 9, temperature: 0 } });
  checkDone(r);
  assert.equal(typeof r.response, "string");
  assert.equal(r.eval_count, 10);
  assert.equal(r.done_reason, "length");
  const s = await ollama.generate({ model: "tiny", prompt: "Once upon a time", stream: true, think: true, options: { num_predict: 10, seed: 9, temperature: 0 } });
  let response = "", thinking = "", last;
  for await (const part of s) {
    response += part.response;
    thinking += part.thinking || "";
    last = part;
  }
  checkDone(last);
  assert.equal(response, r.response);
  assert.equal(thinking, r.thinking || "");
  // no prompt: Ollama's load request, answered at once
  const load = await ollama.generate({ model: "tiny", prompt: "", stream: false });
  assert.equal(load.done, true);
  assert.equal(load.done_reason, "load");
  assert.equal(load.response, "");
  // raw: the prompt goes to the model as written
  const raw = await ollama.generate({ model: "tiny", prompt: "abc", raw: true, stream: false, options: { num_predict: 3 } });
  checkDone(raw);
  // a stop string ends the generation early
  const full = await ollama.generate({ model: "tiny", prompt: "abc", raw: true, stream: false, options: { num_predict: 30, temperature: 0 } });
  const cut = full.response.trim().slice(2, 4);
  if (cut.length === 2 && !cut.includes("\ufffd")) {
    const stopped = await ollama.generate({ model: "tiny", prompt: "abc", raw: true, stream: false, options: { num_predict: 30, temperature: 0, stop: [cut] } });
    assert.ok(!stopped.response.includes(cut));
    assert.equal(stopped.done_reason, "stop");
  }
});

test("list (tags), show, ps and version", async () => {
  const list = await ollama.list();
  assert.equal(list.models.length, 1);
  const m = list.models[0];
  assert.equal(m.name, "tiny.gguf");
  assert.equal(m.model, "tiny.gguf");
  assert.ok(m.size > 0);
  assert.ok(isTime(m.modified_at));
  assert.equal(m.details.format, "gguf");
  assert.equal(m.details.family, "deepseek2");
  const show = await ollama.show({ model: "tiny.gguf" });
  assert.equal(show.details.family, "deepseek2");
  assert.equal(show.model_info["general.architecture"], "deepseek2");
  assert.ok(show.capabilities.includes("thinking"));
  await assert.rejects(ollama.show({ model: "llama3" }), (e) => e.status_code === 404 && /not found/.test(e.message));
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, "tiny.gguf");
  assert.equal(ps.models[0].context_length, 512);
  const v = await ollama.version();
  assert.match(v.version, /^\d+\.\d+\.\d+$/);
});

test("errors: embeddings 501, a format other than json or a schema 400, images 400, unknown fields and options 400", async () => {
  await assert.rejects(ollama.embed({ model: "tiny", input: "x" }), (e) => e.status_code === 501 && /embeddings/.test(e.message));
  await assert.rejects(ollama.embeddings({ model: "tiny", prompt: "x" }), (e) => e.status_code === 501);
  await assert.rejects(ollama.chat({ model: "tiny", messages: MSG, format: "yaml" }), (e) => e.status_code === 400 && /format/.test(e.message));
  await assert.rejects(ollama.chat({ model: "tiny", messages: [{ role: "user", content: "x", images: ["AAAA"] }] }), (e) => e.status_code === 400 && /text only/.test(e.message));
  await assert.rejects(ollama.chat({ model: "tiny", messages: [{ role: "wizard", content: "x" }] }), (e) => e.status_code === 400 && /wizard/.test(e.message));
  await assert.rejects(ollama.generate({ model: "tiny", prompt: "x", options: { temprature: 1 } }), (e) => e.status_code === 400 && /temprature/.test(e.message));
  const r = await rawRequest(srv.port, { path: "/api/pull", body: "{}" });
  assert.equal(r.status, 404);
  assert.match(JSON.parse(r.body).error, /r1 pull/);
  const bad = await rawRequest(srv.port, { path: "/api/chat", body: "{" });
  assert.equal(bad.status, 400);
  assert.equal(typeof JSON.parse(bad.body).error, "string");
  // keep_alive and runner options are accepted; the ignored ones are named
  const ok = await rawRequest(srv.port, { path: "/api/chat", body: JSON.stringify({ model: "tiny", messages: MSG, stream: false, keep_alive: "5m", options: { num_predict: 2, num_gpu: 1, num_ctx: 512 } }) });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.headers["x-r1-ignored-fields"], "options.num_gpu,options.num_ctx");
});

test("format: \"json\" and a JSON schema constrain the answer (the grammar engine)", async () => {
  const Ajv = (await import("ajv")).default;
  const j = await ollama.chat({ model: "tiny", messages: MSG, format: "json", options: { temperature: 1.5, seed: 7, num_predict: 120 } });
  const obj = JSON.parse(j.message.content);
  assert.equal(typeof obj, "object");
  assert.ok(obj !== null && !Array.isArray(obj));
  const schema = { type: "object", properties: { answer: { type: "integer" }, unit: { enum: ["m", "s"] } }, required: ["answer", "unit"], additionalProperties: false };
  const validate = new Ajv().compile(schema);
  for (const seed of [1, 2, 3]) {
    const g = await ollama.generate({ model: "tiny", prompt: "How far?", format: schema, stream: false, options: { temperature: 1.5, seed, num_predict: 120 } });
    const v = JSON.parse(g.response);
    assert.ok(validate(v), JSON.stringify(validate.errors) + " in " + g.response);
  }
});
