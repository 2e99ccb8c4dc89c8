// browser.test.mjs — the chat page at / in Debian's Chromium, driven by playwright-core: send a
// message, watch reasoning and answer stream in, collapse the reasoning, stop a generation,
// reload (localStorage), new chat, a phone-sized screen, and the renderer's HTML safety. (Rendering
// of crafted replies — math, HTML injection, the CSP — is in web.test.mjs.)
// Screenshots go to $R1_ARTIFACTS (default: a temp folder), named in the output.
//
// Generation is slowed (--debug-step-delay-ms) so streaming is observable, and the page's
// requests get a logit_bias on "</think>" (added in flight) so the reasoning ends after a while.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer, tokenId, metrics, sleep } from "./lib.mjs";

const CHROMIUM = process.env.R1_CHROMIUM || "/usr/bin/chromium";
const OUT = process.env.R1_ARTIFACTS || mkdtempSync(join(tmpdir(), "r1-browser-"));
mkdirSync(OUT, { recursive: true });

let srv, ctx, page, thinkEnd;
let override = {};

before(async () => {
  srv = await startServer(["--think", "-np", "2", "-c", "1024", "--debug-step-delay-ms", "15"]);
  thinkEnd = await tokenId(srv.base, "</think>");
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "r1-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1100, height: 760 },
  });
  page = ctx.pages()[0] || await ctx.newPage();
  page.on("pageerror", (e) => { throw e; });
  await page.route("**/v1/chat/completions", (route) => {
    const body = JSON.parse(route.request().postData());
    Object.assign(body, { seed: 3, logit_bias: { [thinkEnd]: 2.5, 1: -100 } }, override);
    route.continue({ postData: JSON.stringify(body) });
  });
});
after(async () => {
  await ctx?.close();
  if (srv) assert.equal((await srv.stop()).code, 0);
});

test("the page loads from the binary, with the model's name", async () => {
  await page.goto(srv.base + "/");
  await page.waitForFunction(() => document.getElementById("title").textContent === "tiny.gguf");
  assert.equal(await page.locator("#send").isVisible(), true);
});

test("a message streams reasoning, then the answer; the reasoning collapses", async () => {
  override = { max_tokens: 120 };
  await page.fill("#input", "Why is the sky blue?");
  // Watch in the page itself, every few ms from before the send until the answer starts: the
  // reasoning's lengths and the label's texts. (Reading them from here raced the stream: the
  // seed's reasoning is 23 tokens, ~0.35 s, and a loaded machine can miss all of it.)
  const watched = page.evaluate(() => new Promise((resolve) => {
    const lens = new Set(), labels = new Set();
    const tick = () => {
      const m = document.querySelector(".msg.assistant:last-child");
      const t = m?.querySelector(".thoughts"), a = m?.querySelector(".answer");
      const s = m?.querySelector("details.reasoning summary");
      if (t) lens.add(t.textContent.length);
      if (s) labels.add(s.textContent);
      if (a && a.textContent.length > 0) resolve({ lens: [...lens], labels: [...labels] });
      else setTimeout(tick, 2);
    };
    tick();
  }));
  await page.keyboard.press("Enter");
  const summary = page.locator(".msg.assistant details.reasoning summary").last();
  await summary.waitFor();
  await page.screenshot({ path: join(OUT, "thinking.png") });
  const seen = await watched;
  assert.ok(seen.labels.includes("Thinking…"), "labelled Thinking… while it thought: " + seen.labels);
  assert.ok(seen.lens.filter((n) => n > 0).length >= 2, "the reasoning grew while we watched: lengths " + seen.lens);
  // then the answer, and the label becomes "Thought for N s"
  await page.waitForFunction(() => /^Thought for [0-9.]+ s$/.test(document.querySelector(".msg.assistant:last-child summary").textContent));
  await page.locator("#send").waitFor({ state: "visible", timeout: 30000 });
  const details = page.locator(".msg.assistant details.reasoning").last();
  assert.equal(await details.evaluate((d) => d.open), false, "closed once the answer started");
  await summary.click();
  assert.equal(await details.evaluate((d) => d.open), true);
  await page.screenshot({ path: join(OUT, "answer.png") });
  await summary.click();
  assert.equal(await details.evaluate((d) => d.open), false, "collapsed again");
  assert.match(await page.locator(".msg.assistant .meta:not(.error)").last().textContent(), /^\d+ tokens · [0-9.]+ tok\/s$/);
});

test("the stop button ends a generation and frees the slot", async () => {
  override = { max_tokens: 3000, logit_bias: { 1: -100 } };
  await page.fill("#input", "Tell me a very long story.");
  await page.click("#send");
  await page.locator("#stop").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.querySelector(".msg.assistant:last-child .thoughts")?.textContent.length > 20);
  await page.click("#stop");
  await page.locator("#send").waitFor({ state: "visible" });
  assert.equal(await page.locator(".msg.assistant .meta").last().textContent(), "stopped");
  let m;
  for (let i = 0; i < 100; i++) { m = await metrics(srv.base); if (m.r1_slots_active === 0) break; await sleep(20); }
  assert.equal(m.r1_slots_active, 0, "the server cancelled the generation");
  assert.ok(m.r1_jobs_cancelled_total >= 1);
});

test("the conversation survives a reload (localStorage); new chat starts empty", async () => {
  await page.reload();
  await page.locator(".msg.user").first().waitFor();
  assert.equal(await page.locator(".msg.user").count(), 2);
  assert.equal(await page.locator(".chat-item").count(), 1);
  await page.click("#new");
  assert.equal(await page.locator(".msg").count(), 0);
  assert.equal(await page.locator(".chat-item").count(), 2);
  await page.locator(".chat-item").nth(1).click();
  assert.equal(await page.locator(".msg.user").count(), 2);
});

test("model output cannot inject HTML", async () => {
  const result = await page.evaluate(() => {
    window.pwned = 0;
    const div = document.createElement("div");
    renderMarkdown(div, '<img src=x onerror="window.pwned=1"> **<b>bold</b>** [x](javascript:alert(1)) [ok](https://example.com)\n' +
      "```html\n<script>window.pwned=2</script>\n```\n# <i>title</i>\n- <svg onload=alert(1)>");
    document.body.appendChild(div);
    const r = { img: div.querySelectorAll("img,script,svg,b,i").length, links: [...div.querySelectorAll("a[href]")].map((a) => a.href),
      code: div.querySelector("pre code").textContent, text: div.textContent };
    div.remove();
    return r;
  });
  await sleep(100);
  assert.equal(result.img, 0, "no element came from the text");
  assert.deepEqual(result.links, ["https://example.com/"]);
  assert.equal(result.code, "<script>window.pwned=2</script>");
  assert.match(result.text, /<img src=x/);
  assert.equal(await page.evaluate(() => window.pwned), 0);
});

test("phone-sized screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.locator(".msg.user").first().waitFor();
  assert.equal(await page.locator("#menu").isVisible(), true, "the chat list hides behind a menu");
  const box = await page.locator("#input").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, "the input fits the screen");
  await page.screenshot({ path: join(OUT, "phone.png") });
  await page.click("#menu");
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(OUT, "phone-menu.png") });
  console.log("screenshots: " + OUT);
});
