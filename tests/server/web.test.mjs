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

test("\\boxed{579} is rendered by KaTeX and the thinking block folds on a fast answer; nothing leaves the server", async () => {
  const outside = [];
  const onRequest = (r) => { if (!r.url().startsWith(srv.base + "/")) outside.push(r.url()); };
  page.on("request", onRequest);
  const m = await ask("What is 123 + 456?", {
    frames: [
      { reasoning_content: "Add: 123 + 456 = 579. Units $3+6=9$." },
      { content: "Adding the units, tens and hundreds: \\(3+6=9\\), $2+5=7$ and $$1+4=5$$, so\n\n\\[\n\\boxed{579}\n\\]\n\n" +
        "Prices like $5 and $10 stay text, and so does `$x$` in code." },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 },
  });
  const answer = m.locator(".answer");
  const display = answer.locator(".katex-display");
  await display.last().waitFor();
  assert.equal(await display.count(), 2, "\\[..\\] and $$..$$ are display math");
  // \boxed{579}: KaTeX's box (a framed span) around the digits, and the MathML KaTeX writes for it
  const boxed = display.last().locator(".katex-html .boxpad");
  assert.equal(await boxed.count(), 1, "a KaTeX box");
  assert.equal((await boxed.textContent()).trim(), "579");
  assert.equal(await display.last().locator(".katex-mathml menclose[notation='box']").count(), 1);
  assert.equal(await answer.locator(":scope > p .katex:not(.katex-display .katex)").count(), 2, "\\(..\\) and $..$ inline");
  const text = await answer.textContent();
  assert.match(text, /Prices like \$5 and \$10 stay text/);
  assert.equal(await answer.locator("code").textContent(), "$x$");
  const visible = await answer.evaluate((a) => {
    const c = a.cloneNode(true);
    c.querySelectorAll(".katex-mathml").forEach((e) => e.remove()); // MathML keeps the TeX for screen readers
    return c.textContent;
  });
  assert.doesNotMatch(visible, /boxed|\\\[|\\\(|\$\$/, "no TeX source left as text: " + visible);
  // KaTeX's own fonts came from the binary (font-src 'self'), none from the system
  const fonts = await page.evaluate(async () => {
    await document.fonts.ready;
    return [...document.fonts].filter((f) => f.status === "loaded").map((f) => f.family);
  });
  assert.ok(fonts.includes("KaTeX_Main"), "KaTeX_Main loaded: " + fonts);
  // the reasoning stays plain text, folded, with a thinking time
  const d = m.locator("details.reasoning");
  assert.equal(await d.evaluate((e) => e.open), false, "folded");
  assert.equal(await d.locator(".thoughts").textContent(), "Add: 123 + 456 = 579. Units $3+6=9$.");
  assert.match(await d.locator("summary").textContent(), /^Thought for [0-9.]+ s$/);
  assert.equal(await m.locator(".meta:not(.error)").textContent(), "40 tokens");
  await page.screenshot({ path: join(tmpdir(), "r1-web-boxed.png") });
  page.off("request", onRequest);
  assert.deepEqual(outside, [], "every request went to r1 serve");
});

test("a reply with script and event-handler HTML: nothing executes", async () => {
  await page.evaluate(() => { window.__pwned = []; });
  const attacks = [
    '<img src=x onerror="window.__pwned.push(\'img\')">',
    "<script>window.__pwned.push('script')</script>",
    '<svg onload="window.__pwned.push(\'svg\')"><circle r=1 /></svg>',
    '<iframe srcdoc="<script>parent.__pwned.push(\'iframe\')</script>"></iframe>',
    '<details open ontoggle="window.__pwned.push(\'toggle\')">x</details>',
    '<a href="javascript:window.__pwned.push(\'href\')">click</a>',
    "[md link](javascript:window.__pwned.push('mdlink'))",
    '![img](x" onerror="window.__pwned.push(\'mdimg\'))',
    "<style>body{display:none}</style>",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    "<object data=\"javascript:alert('object')\"></object><embed src=\"javascript:alert('embed')\">",
    "$\\href{javascript:alert('tex')}{x}$ and \\(\\htmlData{x=1}{y}\\) and $\\url{javascript:alert(1)}$",
    "inline <b onmouseover=alert(1)>bold</b> and <math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>",
  ];
  const m = await ask("Say something nasty.", {
    frames: [
      { reasoning_content: '<img src=x onerror="window.__pwned.push(\'reasoning\')">' },
      { content: attacks.join("\n\n") + "\n\nThe end." },
    ],
  });
  const answer = m.locator(".answer");
  // ask() waited for the end of the stream, when the answer is drawn for the last time
  // give an image's error, an svg's load, a frame's script the time they would take
  await page.waitForTimeout(500);
  await m.locator(".answer a").first().click({ trial: false }).catch(() => {});
  await page.waitForTimeout(200);
  assert.deepEqual(await page.evaluate(() => window.__pwned), [], "no script, handler or javascript: URL ran");
  assert.deepEqual(dialogs, [], "no alert");
  const dom = await answer.evaluate((a) => ({
    elements: [...a.querySelectorAll("script,iframe,object,embed,form,button,style,svg,details")].map((e) => e.tagName),
    images: [...a.querySelectorAll("img")].map((e) => e.getAttribute("src")),
    handlers: [...a.querySelectorAll("*")].flatMap((e) => [...e.attributes].filter((x) => /^on/i.test(x.name)).map((x) => e.tagName + " " + x.name)),
    hrefs: [...a.querySelectorAll("[href], [src], [action], [data]")].map((e) => e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action") || e.getAttribute("data")),
    text: a.textContent,
  }));
  assert.deepEqual(dom.elements, [], "no active element came from the reply");
  assert.deepEqual(dom.handlers, [], "no event handler attribute");
  assert.ok(dom.images.length <= 1, "only the Markdown image became one: " + dom.images);
  assert.ok(dom.hrefs.every((h) => !/^\s*javascript:/i.test(h)), "no javascript: URL: " + dom.hrefs);
  // raw HTML is shown as the text the model wrote
  assert.match(dom.text, /<img src=x onerror="window.__pwned.push\('img'\)">/);
  assert.match(dom.text, /<script>window.__pwned.push\('script'\)<\/script>/);
  assert.equal(await m.locator(".thoughts").textContent(), '<img src=x onerror="window.__pwned.push(\'reasoning\')">');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).display), "flex", "no style from the reply");
});

test("the Content-Security-Policy stops inline script even past the sanitizer", async () => {
  // Put script and handlers into the page directly, as a sanitizer bug would: the browser refuses
  // them (script-src 'self', no 'unsafe-inline'), and says so in securitypolicyviolation events.
  const r = await page.evaluate(async () => {
    window.__inline = [];
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.effectiveDirective));
    const s = document.createElement("script");
    s.textContent = "window.__inline.push('script')";
    document.body.appendChild(s);
    const d = document.createElement("div");
    d.innerHTML = '<img src="/nope.png" onerror="window.__inline.push(\'onerror\')">';
    document.body.appendChild(d);
    const f = document.createElement("iframe");
    f.src = "javascript:parent.__inline.push('iframe')";
    document.body.appendChild(f);
    await new Promise((res) => setTimeout(res, 500));
    s.remove(); d.remove(); f.remove();
    return { ran: window.__inline, violations };
  });
  assert.deepEqual(r.ran, [], "nothing ran");
  assert.ok(r.violations.filter((v) => v.startsWith("script-src")).length >= 2, "blocked by the CSP: " + r.violations);
});

test("the page's files: CSP, types, caching, no inline script", async () => {
  const get = (path, init) => fetch(srv.base + path, init);
  const root = await get("/");
  assert.equal(root.status, 200);
  const csp = root.headers.get("content-security-policy");
  const dir = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(dir["script-src"], ["'self'"]);
  assert.deepEqual(dir["default-src"], ["'none'"]);
  assert.deepEqual(dir["object-src"], ["'none'"]);
  assert.deepEqual(dir["base-uri"], ["'none'"]);
  assert.deepEqual(dir["frame-ancestors"], ["'none'"]);
  assert.deepEqual(dir["style-src"], ["'self'"]);
  assert.equal(root.headers.get("x-content-type-options"), "nosniff");
  const html = await root.text();
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.ok(scripts.length >= 4 && scripts.every((s) => /\ssrc="\/[^"]+"/.test(s)), "only external scripts: " + scripts);
  assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline handler");
  assert.doesNotMatch(html, /<style/i, "no inline style element");
  const want = {
    "/index.html": ["text/html; charset=utf-8", "no-cache"],
    "/app.js": ["text/javascript; charset=utf-8", "no-cache"],
    "/app.css": ["text/css; charset=utf-8", "no-cache"],
    "/vendor/katex-0.19.1/katex.min.js": ["text/javascript; charset=utf-8", "public, max-age=31536000, immutable"],
    "/vendor/katex-0.19.1/katex.min.css": ["text/css; charset=utf-8", "public, max-age=31536000, immutable"],
    "/vendor/katex-0.19.1/fonts/KaTeX_Main-Regular.woff2": ["font/woff2", "public, max-age=31536000, immutable"],
    "/vendor/marked-18.3.0/marked.umd.js": ["text/javascript; charset=utf-8", "public, max-age=31536000, immutable"],
    "/vendor/dompurify-3.5.0/purify.min.js": ["text/javascript; charset=utf-8", "public, max-age=31536000, immutable"],
    "/vendor/dompurify-3.5.0/LICENSE": ["text/plain; charset=utf-8", "public, max-age=31536000, immutable"],
  };
  for (const [path, [type, cache]] of Object.entries(want)) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get("content-type"), type, path);
    assert.equal(r.headers.get("cache-control"), cache, path);
    const etag = r.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{20}"$/, path);
    assert.ok((await r.arrayBuffer()).byteLength > 0, path);
    const again = await get(path, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304, path + " revalidates");
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
  assert.match(await (await get("/vendor/katex-0.19.1/LICENSE")).text(), /MIT License/);
  assert.equal((await get("/vendor/katex-0.19.1/nope.js")).status, 404);
  assert.equal((await get("/vendor/")).status, 404);
  assert.equal((await get("/app.js", { method: "POST", body: "{}" })).status, 405);
  const head = await get("/app.js", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "text/javascript; charset=utf-8");
});

test("code blocks have a copy button", async () => {
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: srv.base });
  const code = "def add(a, b):\n    return a + b  # <b>not bold</b>";
  const m = await ask("Write add in Python.", { frames: [{ content: "Here:\n\n```python\n" + code + "\n```\n" }] });
  const pre = m.locator(".answer pre");
  await pre.waitFor();
  assert.equal(await pre.locator(".lang").textContent(), "python");
  assert.equal(await pre.locator("code").textContent(), code);
  await pre.locator("button.copy").click();
  await page.waitForFunction(() => document.querySelector(".msg.assistant:last-child pre button.copy").textContent === "Copied");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
});

test("regenerate the last answer; edit the last message", async () => {
  await ask("First question", { frames: [{ content: "First answer" }] });
  let m = await ask("Second question", { frames: [{ content: "Second answer" }] });
  assert.equal(await page.locator(".msg.assistant .actions:visible").count(), 1, "regenerate only on the last answer");
  assert.equal(await page.locator(".msg.user .actions:visible").count(), 1, "edit only on the last message");
  // regenerate: the same history is sent again and the new answer replaces the old one
  reply = { frames: [{ content: "Another second answer" }] };
  await m.locator("button.regenerate").click();
  await page.locator("#send").waitFor({ state: "visible" });
  await page.locator(".msg.assistant .answer").getByText("Another second answer").waitFor();
  assert.equal(requests.length, 3);
  assert.deepEqual(requests[2].messages, requests[1].messages);
  assert.deepEqual(requests[2].messages.map((x) => x.content), ["First question", "First answer", "Second question"]);
  assert.deepEqual((await page.locator(".msg.assistant .answer").allTextContents()).map((t) => t.trim()), ["First answer", "Another second answer"]);
  // edit: the text box, a new text, and what followed is dropped and asked again
  reply = { frames: [{ content: "Answer to the edited question" }] };
  await page.locator(".msg.user").last().locator("button.edit").click();
  const box = page.locator(".msg.user textarea.edit-box");
  assert.equal(await box.inputValue(), "Second question");
  await box.fill("Second question, edited");
  await page.locator(".msg.user .edit-bar button.save").click();
  await page.locator(".msg.assistant .answer").getByText("Answer to the edited question").waitFor();
  await page.locator("#send").waitFor({ state: "visible" });
  assert.equal(requests.length, 4);
  assert.deepEqual(requests[3].messages.map((x) => x.content), ["First question", "First answer", "Second question, edited"]);
  assert.deepEqual(await page.locator(".msg.user .bubble").allTextContents(), ["First question", "Second question, edited"]);
  assert.deepEqual((await page.locator(".msg.assistant .answer").allTextContents()).map((t) => t.trim()), ["First answer", "Answer to the edited question"]);
  // and it is what was stored: a reload shows the same chat
  await page.reload();
  await page.locator(".msg.user").first().waitFor();
  assert.deepEqual(await page.locator(".msg.user .bubble").allTextContents(), ["First question", "Second question, edited"]);
  await page.waitForFunction(() => document.getElementById("title").textContent === "tiny.gguf");
});
