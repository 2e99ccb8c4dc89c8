// app.js — the chat page's script (apps/web/index.html loads it after marked, KaTeX and
// DOMPurify from vendor/). Chats and settings live in localStorage; replies stream from
// POST /v1/chat/completions (SSE) and are drawn as Markdown with math, sanitized.
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

/* ---- storage: chats and settings live in localStorage ---- */
const store = {
  load(key, def) { try { const v = JSON.parse(localStorage.getItem(key)); return v ?? def; } catch { return def; } },
  save(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* full or disabled */ } },
};
let chats = store.load("r1.chats", []);
let settings = Object.assign({ key: "", temp: "", max: "", sys: "" }, store.load("r1.settings", {}));
let current = store.load("r1.current", null);
let busy = null; // { controller } while a reply streams

function saveChats() { store.save("r1.chats", chats); store.save("r1.current", current); }
function chatById(id) { return chats.find((c) => c.id === id); }
function newChat() {
  const c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: "New chat", messages: [] };
  chats.unshift(c);
  current = c.id;
  saveChats();
  return c;
}

/* ---- rendering a reply: marked (Markdown) + KaTeX (math), then DOMPurify ----
 * Model output is untrusted: a prompt can make a model write <img onerror=...> or <script>. marked
 * is told to show raw HTML as text, KaTeX runs with trust off (no \href{javascript:}, no \htmlData),
 * and the HTML both produce goes through DOMPurify before it reaches the page; the server's CSP
 * (no inline script) is the last wall. */
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// A streaming answer is drawn again on every frame: its formulas are typeset once each.
const texCache = new Map();
function tex(src, displayMode) {
  const key = (displayMode ? "D" : "I") + src;
  let html = texCache.get(key);
  if (html === undefined) {
    html = katex.renderToString(src, { displayMode, throwOnError: false, strict: "ignore", trust: false, output: "htmlAndMathml" });
    if (texCache.size >= 1000) texCache.clear();
    texCache.set(key, html);
  }
  return html;
}

/* Math is found by marked extensions, before Markdown could read "\[" as an escaped "[" or the
 * "_" of x_1 as emphasis; code spans and blocks are tokenized first, so "$" in code stays code.
 * Delimiters, as R1 writes them: \[ \] and $$ $$ (display), \( \) and $ $ (inline; a "$" opens
 * only before a non-space and closes only after one, not before a digit, and holds no backtick:
 * "$5 and $10" is text). */
const MATH_INLINE = /^(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$(?!\s)((?:\\.|[^\\$\n`])+?)(?<!\s)\$(?!\d))/;
const MATH_BLOCK = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n|$)/;
const mathExtensions = [
  {
    name: "mathBlock", level: "block",
    start: (src) => src.match(/^ {0,3}(\$\$|\\\[)/m)?.index,
    tokenizer(src) {
      const m = MATH_BLOCK.exec(src);
      if (m) return { type: "mathBlock", raw: m[0], text: m[1] ?? m[2] };
    },
    renderer: (t) => `<div class="math">${tex(t.text, true)}</div>\n`,
  },
  {
    name: "math", level: "inline",
    start: (src) => src.match(/\$|\\[[(]/)?.index,
    tokenizer(src) {
      const m = MATH_INLINE.exec(src);
      if (m) return { type: "math", raw: m[0], text: m[1] ?? m[2] ?? m[3] ?? m[4], display: m[1] !== undefined || m[2] !== undefined };
    },
    renderer: (t) => tex(t.text, t.display),
  },
];

const md = new marked.Marked({ gfm: true, breaks: true });
md.use({
  extensions: mathExtensions,
  renderer: {
    html: (t) => escapeHtml(t.text), // raw HTML in a reply is shown, never parsed
  },
});

// links open elsewhere and tell nothing; DOMPurify has already dropped javascript: and the like
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

function renderMarkdown(root, src) {
  const html = md.parse(src || "");
  root.innerHTML = DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input", "button", "textarea"], FORBID_ATTR: ["id", "name"] });
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    if (!code) continue;
    const end = code.lastChild; // marked ends a block's code with a newline: copy what was written
    if (end?.nodeType === Node.TEXT_NODE && end.data.endsWith("\n")) end.data = end.data.slice(0, -1);
    const lang = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className)?.[1];
    const bar = el("div", "code-bar");
    bar.appendChild(el("span", "lang", lang || ""));
    const copy = el("button", "copy", "Copy");
    copy.type = "button";
    copy.onclick = () => copyText(code.textContent).then(
      () => { copy.textContent = "Copied"; setTimeout(() => { copy.textContent = "Copy"; }, 1500); },
      () => { copy.textContent = "Copy failed"; });
    bar.appendChild(copy);
    pre.prepend(bar);
  }
}

async function copyText(text) {
  if (navigator.clipboard?.writeText) return navigator.clipboard.writeText(text);
  // no async clipboard (a page served over plain http from another machine): the old way
  const t = el("textarea");
  t.value = text;
  t.style.position = "fixed"; t.style.opacity = "0";
  document.body.appendChild(t);
  t.select();
  const ok = document.execCommand("copy");
  t.remove();
  if (!ok) throw new Error("copy refused");
}

/* ---- view ---- */
function renderChats() {
  const box = $("chats");
  box.replaceChildren();
  for (const c of chats) {
    const item = el("div", "chat-item" + (c.id === current ? " active" : ""));
    item.appendChild(el("span", null, c.title));
    const del = el("button", null, "×");
    del.title = "delete";
    del.onclick = (ev) => {
      ev.stopPropagation();
      chats = chats.filter((x) => x !== c);
      if (current === c.id) current = chats[0]?.id ?? null;
      saveChats(); renderChats(); renderLog();
    };
    item.appendChild(del);
    item.onclick = () => { if (busy) return; current = c.id; saveChats(); renderChats(); renderLog(); $("side").classList.remove("open"); };
    box.appendChild(item);
  }
}

function reasoningBlock() {
  const d = el("details", "reasoning");
  d.appendChild(el("summary", null, ""));
  d.appendChild(el("div", "thoughts"));
  return d;
}

function thoughtLabel(s) {
  return s === undefined ? "Thinking…" : `Thought for ${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

function statsText(msg) {
  if (msg.error) return "";
  if (msg.stopped) return "stopped";
  const parts = [];
  if (msg.usage) parts.push(`${msg.usage.completion_tokens} tokens`);
  if (msg.tokensPerSecond) parts.push(`${msg.tokensPerSecond.toFixed(1)} tok/s`);
  return parts.join(" · ");
}

/* Draw an assistant message from its state. The reasoning block is open while the model thinks
 * and folds once, when the thinking ends (msg.thinkingSeconds is set) — also when reasoning and
 * answer arrive in the same frame; after that it stays as the reader left it. */
function updateAssistant(view, msg, streaming) {
  if (msg.reasoning) {
    if (!view.details) {
      view.details = reasoningBlock();
      view.details.open = msg.thinkingSeconds === undefined;
      view.folded = !view.details.open;
      view.node.prepend(view.details);
    }
    view.details.querySelector(".thoughts").textContent = msg.reasoning;
    view.details.querySelector("summary").textContent = thoughtLabel(msg.thinkingSeconds);
    if (msg.thinkingSeconds !== undefined && !view.folded) {
      view.folded = true;
      view.details.open = false;
    }
  }
  if (view.shown !== msg.content) { // a redraw of the same text keeps the reader's selection
    renderMarkdown(view.answer, msg.content);
    view.shown = msg.content;
  }
  view.meta.textContent = streaming ? "" : statsText(msg);
  view.err.textContent = msg.error || "";
}

function addMessageView(msg) {
  const node = el("div", "msg " + msg.role);
  const actions = el("div", "actions");
  if (msg.role === "user") {
    const view = { node, msg, actions, bubble: el("div", "bubble", msg.content) };
    const edit = el("button", "edit", "Edit");
    edit.type = "button";
    edit.onclick = () => startEdit(view);
    actions.appendChild(edit);
    node.append(view.bubble, actions);
    $("msgs").appendChild(node);
    return view;
  }
  const view = { node, msg, actions, details: null, answer: el("div", "answer"), meta: el("div", "meta"), err: el("div", "meta error") };
  const regen = el("button", "regenerate", "Regenerate");
  regen.type = "button";
  regen.onclick = regenerate;
  actions.appendChild(regen);
  node.append(view.answer, view.err, view.meta, actions);
  $("msgs").appendChild(node);
  updateAssistant(view, msg, false);
  return view;
}

/* Edit and regenerate act on the end of the chat: the last user message, the last answer. */
function updateActions() {
  const nodes = [...$("msgs").querySelectorAll(".msg")];
  for (const n of nodes) n.querySelector(".actions").hidden = true;
  if (busy) return;
  const last = (role) => nodes.filter((n) => n.classList.contains(role)).pop();
  const u = last("user"), a = last("assistant");
  if (u) u.querySelector(".actions").hidden = false;
  if (a && a === nodes[nodes.length - 1]) a.querySelector(".actions").hidden = false;
}

function renderLog() {
  const c = chatById(current);
  $("msgs").replaceChildren();
  if (!c || !c.messages.length) { $("msgs").appendChild(el("div", "empty", "Ask anything.")); return; }
  for (const m of c.messages) addMessageView(m);
  updateActions();
  scrollDown(true);
}

function scrollDown(force) {
  const log = $("log");
  if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
}

function setBusy(b) {
  busy = b;
  $("send").hidden = !!b;
  $("stop").hidden = !b;
  updateActions();
}

/* ---- talking to the server ---- */
function headers() {
  const h = { "Content-Type": "application/json" };
  if (settings.key) h.Authorization = "Bearer " + settings.key;
  return h;
}

async function send() {
  const text = $("input").value.trim();
  if (!text || busy) return;
  let c = chatById(current) || newChat();
  if (!c.messages.length) { c.title = text.slice(0, 40); $("msgs").replaceChildren(); }
  $("input").value = "";
  autosize();
  const user = { role: "user", content: text };
  c.messages.push(user);
  addMessageView(user);
  saveChats(); renderChats();
  await generate(c);
}

// Drop the last answer and ask again.
function regenerate() {
  const c = chatById(current);
  if (busy || !c || c.messages[c.messages.length - 1]?.role !== "assistant") return;
  c.messages.pop();
  renderLog();
  generate(c);
}

// The last user message becomes a text box; saving it drops what followed and asks again.
function startEdit(view) {
  if (busy) return;
  const box = el("textarea", "edit-box");
  box.value = view.msg.content;
  box.rows = Math.min(10, view.msg.content.split("\n").length + 1);
  const save = el("button", "primary save", "Send"), cancel = el("button", "cancel", "Cancel");
  save.type = cancel.type = "button";
  const bar = el("div", "edit-bar");
  bar.append(save, cancel);
  view.bubble.replaceWith(box);
  view.actions.replaceWith(bar);
  box.focus();
  cancel.onclick = renderLog;
  const commit = () => {
    const c = chatById(current);
    const text = box.value.trim();
    const k = c ? c.messages.indexOf(view.msg) : -1;
    if (!text || k < 0 || busy) return;
    view.msg.content = text;
    c.messages.length = k + 1;
    if (k === 0) c.title = text.slice(0, 40);
    saveChats(); renderChats(); renderLog();
    generate(c);
  };
  save.onclick = commit;
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); commit(); }
    if (e.key === "Escape") renderLog();
  });
}

// Stream an answer to chat c's messages into a new assistant message.
async function generate(c) {
  const msg = { role: "assistant", content: "", reasoning: "" };
  const history = [];
  if (settings.sys) history.push({ role: "system", content: settings.sys });
  for (const m of c.messages) history.push({ role: m.role, content: m.content });
  c.messages.push(msg);
  const view = addMessageView(msg);
  saveChats(); scrollDown(true);
  const body = { messages: history, stream: true, stream_options: { include_usage: true } };
  if (settings.temp !== "") body.temperature = Number(settings.temp);
  if (settings.max !== "") body.max_tokens = Number(settings.max);

  const controller = new AbortController();
  setBusy({ controller });
  // The thinking time counts from the send (prompt processing is part of the wait), up to the
  // first answer token. The rate counts from the first token's arrival to the last's.
  const t0 = performance.now();
  let tFirst = null, tLast = null, pending = false, live = true;
  const thinkingDone = () => {
    if (msg.reasoning && msg.thinkingSeconds === undefined) msg.thinkingSeconds = (performance.now() - t0) / 1000;
  };
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; if (live) { updateAssistant(view, msg, true); scrollDown(false); } });
  };
  try {
    const res = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!res.ok) {
      let m = res.status + " " + res.statusText;
      try { m = (await res.json()).error.message; } catch { }
      if (res.status === 401) m += " — set the API key in ⚙";
      throw new Error(m);
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const tRead = performance.now(); // tokens that came in one read have one time: no rate from a burst
      buf += dec.decode(value, { stream: true });
      let k;
      while ((k = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, k);
        buf = buf.slice(k + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) msg.usage = j.usage;
          const d = j.choices?.[0]?.delta;
          if (!d || !(d.reasoning_content || d.content)) continue;
          tLast = tRead;
          tFirst ??= tLast;
          if (d.reasoning_content) msg.reasoning += d.reasoning_content;
          if (d.content) {
            thinkingDone();
            msg.content += d.content;
          }
          redraw();
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") msg.stopped = true;
    else msg.error = String(e.message || e);
  } finally {
    thinkingDone();
    const n = msg.usage?.completion_tokens;
    if (n > 1 && tLast > tFirst) msg.tokensPerSecond = (n - 1) / ((tLast - tFirst) / 1000);
    live = false;
    setBusy(null);
    updateAssistant(view, msg, false);
    saveChats();
    scrollDown(false);
  }
}

function autosize() {
  const t = $("input");
  t.style.height = "auto";
  t.style.height = Math.min(200, t.scrollHeight + 2) + "px";
}

/* ---- wiring ---- */
$("send").onclick = send;
$("stop").onclick = () => busy?.controller.abort();
$("new").onclick = () => { if (busy) return; newChat(); renderChats(); renderLog(); $("side").classList.remove("open"); $("input").focus(); };
$("menu").onclick = () => $("side").classList.toggle("open");
$("gear").onclick = () => $("settings").classList.toggle("open");
$("input").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } });
$("input").addEventListener("input", autosize);
for (const [id, key] of [["s-key", "key"], ["s-temp", "temp"], ["s-max", "max"], ["s-sys", "sys"]]) {
  $(id).value = settings[key];
  $(id).addEventListener("input", () => { settings[key] = $(id).value; store.save("r1.settings", settings); });
}
fetch("/v1/models", { headers: headers() }).then((r) => r.ok ? r.json() : null).then((j) => {
  const id = j?.data?.[0]?.id;
  if (id) { $("title").textContent = id; document.title = id + " — r1 chat"; }
}).catch(() => { });
if (!chatById(current)) current = chats[0]?.id ?? null;
renderChats();
renderLog();
$("input").focus();
