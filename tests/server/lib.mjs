// lib.mjs — start and stop `r1 serve` for the tests: loopback only, port chosen by the server.
//
// Env: R1_BIN (the r1 binary), R1_TEST_MODEL (a GGUF; made with `r1 synth --preset
// tiny-deepseek2` into a temp folder when absent).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";

export const R1_BIN = process.env.R1_BIN || "build/r1";

let modelPath = process.env.R1_TEST_MODEL;
export function testModel() {
  if (modelPath && existsSync(modelPath)) return modelPath;
  const dir = mkdtempSync(join(tmpdir(), "r1-server-"));
  modelPath = join(dir, "tiny.gguf");
  execFileSync(R1_BIN, ["synth", "--preset", "tiny-deepseek2", "-o", modelPath], { stdio: "ignore" });
  return modelPath;
}

// Start a server; resolves once it logs "ready". args are extra options; model: another GGUF.
export function startServer(args = [], { timeoutMs = 60000, model = null } = {}) {
  const proc = spawn(R1_BIN, ["serve", "-m", model || testModel(), "--port", "0", "-t", "1", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error("server did not start:\n" + log)); }, timeoutMs);
    let port = null;
    proc.stderr.on("data", (d) => {
      log += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (m) port = Number(m[1]);
      if (port && /r1 serve: ready/.test(log)) {
        clearTimeout(timer);
        const base = `http://127.0.0.1:${port}`;
        resolve({
          proc, port, base,
          log: () => log,
          // SIGTERM, then wait for the exit; resolves with { code, signal, ms }
          stop: (signal = "SIGTERM", waitMs = 30000) => new Promise((res) => {
            if (proc.exitCode !== null) return res({ code: proc.exitCode, signal: proc.signalCode, ms: 0 });
            const t0 = Date.now();
            const kill = setTimeout(() => proc.kill("SIGKILL"), waitMs);
            proc.once("exit", (code, sig) => { clearTimeout(kill); res({ code, signal: sig, ms: Date.now() - t0 }); });
            proc.kill(signal);
          }),
        });
      }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before ready:\n${log}`)); });
  });
}

// Raw HTTP request (for bodies and headers fetch will not send). Resolves { status, headers, body }.
export function rawRequest(port, { method = "POST", path = "/v1/chat/completions", headers = {}, body = null, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

// Parse an SSE body into its data payloads; checks the framing strictly.
export function parseSSE(text) {
  const events = [];
  if (!text.endsWith("\n\n")) throw new Error("SSE body does not end with a blank line");
  for (const block of text.split("\n\n").slice(0, -1)) {
    if (!block.startsWith("data: ") || block.includes("\n")) throw new Error("bad SSE event: " + JSON.stringify(block));
    events.push(block.slice(6));
  }
  if (events[events.length - 1] !== "[DONE]") throw new Error("SSE stream does not end with [DONE]");
  return events.slice(0, -1).map((e) => JSON.parse(e));
}

export async function metrics(base, headers = {}) {
  const r = await fetch(base + "/metrics", { headers });
  const text = await r.text();
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z0-9_]+)(\{[^}]*\})? ([-0-9.e+]+)$/.exec(line);
    if (m) out[m[1] + (m[2] || "")] = Number(m[3]);
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Id of a token by its text (the synth vocabulary has <think> and </think>).
export async function tokenId(base, text, headers = {}) {
  const r = await fetch(base + "/tokenize", { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify({ content: text }) });
  const j = await r.json();
  if (j.tokens.length !== 1) throw new Error(`${text} is not one token: ${JSON.stringify(j)}`);
  return j.tokens[0];
}
