// load.test.mjs — 32 concurrent streaming clients for R1_LOAD_SECONDS (default 10; 60 for the
// full run) against one server on loopback: every accepted request must complete with a
// well-formed response, no 503 while the queue has room, and clients killed midway must free
// their slots (checked through /metrics). Bounded: each client stops at the deadline.
import test from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, parseSSE, metrics, sleep } from "./lib.mjs";

const SECONDS = Number(process.env.R1_LOAD_SECONDS || 10);
const CLIENTS = Number(process.env.R1_LOAD_CLIENTS || 32);

function request(port, body, killAfterFirstChunk) {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: body.prompt ? "/v1/completions" : "/v1/chat/completions",
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) }, timeout: 60000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => {
        chunks.push(c);
        if (killAfterFirstChunk && res.statusCode === 200) { req.destroy(); resolve({ status: res.statusCode, killed: true }); }
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (e) => resolve({ status: res.statusCode, error: String(e), killed: killAfterFirstChunk }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, error: String(e), killed: killAfterFirstChunk }));
    req.end(data);
  });
}

function checkChat(body, stream, maxTokens) {
  if (!stream) {
    const j = JSON.parse(body);
    assert.equal(j.object, "chat.completion");
    assert.ok(["stop", "length"].includes(j.choices[0].finish_reason));
    assert.ok(j.usage.completion_tokens <= maxTokens);
    return;
  }
  const events = parseSSE(body);
  assert.equal(events[0].choices[0].delta.role, "assistant");
  let finish = 0, usage = null;
  for (const e of events) {
    assert.ok(e.id && e.created && e.model, "chunk fields");
    if (e.error) throw new Error("error event: " + JSON.stringify(e));
    if (e.usage) usage = e.usage;
    for (const c of e.choices) if (c.finish_reason) { finish++; assert.ok(["stop", "length"].includes(c.finish_reason)); }
  }
  assert.equal(finish, 1);
  assert.ok(usage && usage.completion_tokens <= maxTokens);
}

function checkCompletion(body) {
  const events = parseSSE(body);
  let finish = 0;
  for (const e of events) {
    assert.equal(e.object, "text_completion");
    for (const c of e.choices) if (c.finish_reason) finish++;
  }
  assert.equal(finish, 1);
}

test(`${CLIENTS} concurrent streaming clients for ${SECONDS} s`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const srv = await startServer(["-np", "8", "-c", "512", "--queue", "64"]);
  const stats = { ok: 0, killed: 0, busy: 0, failed: 0, tokens: 0 };
  const failures = [];
  const deadline = Date.now() + SECONDS * 1000;
  let rng = 12345;
  const rand = (n) => { rng = (rng * 1103515245 + 12345) % 2147483648; return rng % n; };
  async function client(k) {
    while (Date.now() < deadline) {
      const maxTokens = 4 + rand(60), kind = rand(10), kill = rand(10) === 0;
      const stream = kind !== 0;
      const body = kind === 9
        ? { prompt: "Once upon a time " + k, max_tokens: maxTokens, stream: true }
        : { messages: [{ role: "user", content: `client ${k} says hello ${rand(1000)}` }], max_tokens: maxTokens, stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}), seed: rand(100000) };
      const r = await request(srv.port, body, kill && stream);
      if (r.killed && (r.status === 200 || r.status === 0)) { stats.killed++; continue; }
      if (r.status === 503) { stats.busy++; continue; }
      try {
        assert.equal(r.status, 200, r.error || r.body);
        if (kind === 9) checkCompletion(r.body); else checkChat(r.body, stream, maxTokens);
        stats.ok++;
      } catch (e) {
        stats.failed++;
        if (failures.length < 5) failures.push(String(e.message).slice(0, 400));
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
    let m;
    for (let i = 0; i < 200; i++) { m = await metrics(srv.base); if (m.r1_slots_active === 0 && m.r1_queue_depth === 0) break; await sleep(10); }
    console.log(`load: ${JSON.stringify(stats)}; generated ${m.r1_generated_tokens_total} tokens, ` +
      `${m.r1_decode_steps_total} steps (${(m.r1_generated_tokens_total / m.r1_decode_steps_total).toFixed(2)} per step), ` +
      `cancelled ${m.r1_jobs_cancelled_total}`);
    assert.deepEqual(failures, []);
    assert.equal(stats.failed, 0);
    assert.equal(stats.busy, 0, "no 503 while the queue (64) has room for 32 clients");
    assert.ok(stats.ok > CLIENTS, "requests completed");
    assert.equal(m.r1_slots_active, 0, "killed clients freed their slots");
    assert.equal(m.r1_queue_depth, 0);
    assert.ok(m.r1_jobs_cancelled_total <= stats.killed);
    assert.ok(m.r1_generated_tokens_total / m.r1_decode_steps_total > 1.5, "steps decode several sequences together");
    assert.equal((await fetch(srv.base + "/health")).status, 200);
  } finally {
    assert.equal((await srv.stop()).code, 0);
  }
});
