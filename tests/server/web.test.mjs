// web.test.mjs — the chat page's rendering and safety in Debian's Chromium (playwright-core), with
// the model's output under the test's control: the page is loaded from a real `r1 serve`, and its
// POST /v1/chat/completions is answered by the test (Playwright's route()) with a crafted SSE
// stream. That is the page's real code path (fetch, stream reader, renderer, sanitizer, CSP), fed
// with exactly the text a model could write: \boxed{} math, HTML and script, a reasoning and
// answer that arrive together.
import test, { before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer, sleep } from "./lib.mjs";

const CHROMIUM = process.env.R1_CHROMIUM || "/usr/bin/chromium";

let srv, ctx, page;
let reply = null; // { frames: [delta...], delayMs, usage } for the next chat request
let requests = []; // the bodies the page posted
const dialogs = [];

// One SSE body: every delta a chunk, then usage and [DONE] — all written at once, so the page's
// reader gets them in one read (the "one frame" case) unless split by the caller.
function sseBody(deltas, usage) {
  const chunk = (delta, finish = null) => JSON.stringify({
    id: "chatcmpl-test", object: "chat.completion.chunk", created: 1, model: "tiny.gguf",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  let s = deltas.map((d) => `data: ${chunk(d)}\n\n`).join("");
  s += `data: ${chunk({}, "stop")}\n\n`;
  if (usage) s += `data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1, model: "tiny.gguf", choices: [], usage })}\n\n`;
  return s + "data: [DONE]\n\n";
}

before(async () => {
  srv = await startServer(["-c", "512"]);
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "r1-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1100, height: 760 },
  });
  page = ctx.pages()[0] || await ctx.newPage();
  page.on("pageerror", (e) => { throw e; });
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.route("**/v1/chat/completions", async (route) => {
    requests.push(JSON.parse(route.request().postData()));
    const r = reply;
    if (r.delayMs) await sleep(r.delayMs);
    await route.fulfill({ status: 200, headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" },
      body: sseBody(r.frames, r.usage) });
  });
  await page.goto(srv.base + "/");
  await page.waitForFunction(() => document.getElementById("title").textContent === "tiny.gguf");
});
after(async () => {
  await ctx?.close();
  if (srv) assert.equal((await srv.stop()).code, 0);
});
beforeEach(async () => {
  requests = [];
  await page.click("#new");
});

async function ask(text, r) {
  reply = r;
  await page.fill("#input", text);
  await page.click("#send");
  await page.locator("#send").waitFor({ state: "visible" });
  return page.locator(".msg.assistant").last();
}

test("bug: reasoning and answer in one frame — the thinking block folds", async () => {
  const m = await ask("What is 123 + 456?", {
    frames: [{ reasoning_content: "123 + 456: units 9, tens 7, hundreds 5." }, { content: "The sum is 579." }],
  });
  await m.locator(".answer").getByText("579").waitFor();
  await page.waitForTimeout(100); // any frame still to be drawn
  const d = m.locator("details.reasoning");
  assert.equal(await d.evaluate((e) => e.open), false, "the block is folded once the answer is there");
  assert.match(await d.locator("summary").textContent(), /^Thought for [0-9.]+ s$/);
});

test("bug: the thinking timer starts at send, not at the first reasoning token", async () => {
  // the server takes 0.8 s before its first token (prompt processing), then all comes at once
  const m = await ask("Think about it.", {
    delayMs: 800, frames: [{ reasoning_content: "Hmm." }, { content: "Done." }],
  });
  await m.locator(".answer").getByText("Done.").waitFor();
  const label = await m.locator("details.reasoning summary").textContent();
  const s = Number(/^Thought for ([0-9.]+) s$/.exec(label)?.[1]);
  assert.ok(s >= 0.7 && s < 10, "thought for the time since send: " + label);
});
