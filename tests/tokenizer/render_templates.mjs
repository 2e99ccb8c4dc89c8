// render_templates.mjs — render the official chat templates (tests/data/tokenizer/templates/*.jinja)
// with @huggingface/jinja over a set of conversations, once, into the fixture the C tests compare
// against byte for byte: tests/data/tokenizer/template_cases.json.
//   node tests/tokenizer/render_templates.mjs
import { Template } from "@huggingface/jinja";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const data = path.join(here, "..", "data", "tokenizer");

// file -> [renderer name, force_think, bos text]
const TEMPLATES = {
  "deepseek-r1.jinja": ["deepseek-r1", false, "<｜begin▁of▁sentence｜>"],
  "deepseek-r1-think.jinja": ["deepseek-r1", true, "<｜begin▁of▁sentence｜>"],
  "deepseek-v3.jinja": ["deepseek-v3", false, "<｜begin▁of▁sentence｜>"],
  "deepseek-r1-distill.jinja": ["deepseek-r1-distill", true, "<｜begin▁of▁sentence｜>"],
  "llama3.jinja": ["llama3", false, "<|begin_of_text|>"],
  "chatml.jinja": ["chatml", false, ""],
};

const call = (name, args) => ({ type: "function", function: { name, arguments: JSON.stringify(args) } });

const CONVERSATIONS = {
  single: [{ role: "user", content: "What is 1+1?" }],
  system: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Hello" },
  ],
  multi_turn_reasoning: [
    { role: "system", content: "Be brief." },
    { role: "system", content: "Answer in English." },
    { role: "user", content: "Is 91 prime?" },
    { role: "assistant", content: "<think>\n91 = 7 * 13.\n</think>\n\nNo: 91 = 7 × 13." },
    { role: "user", content: "And 97?" },
    { role: "assistant", content: "<think>a</think>b</think>\n\nYes, 97 is prime." },
    { role: "user", content: "Thanks! 谢谢 🙏" },
  ],
  tools: [
    { role: "user", content: "Weather in Paris and Tokyo?" },
    { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Paris" })] },
    { role: "tool", content: "{\"temp\": 21}" },
    { role: "assistant", content: "Paris: 21°C." },
    { role: "user", content: "And Tokyo and Lima?" },
    { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Tokyo" }), call("get_weather", { city: "Lima" })] },
    { role: "tool", content: "{\"temp\": 25}" },
    { role: "tool", content: "{\"temp\": 18}" },
  ],
  tools_then_answer: [
    { role: "system", content: "Use tools." },
    { role: "user", content: "Sum 2 and 3." },
    { role: "assistant", content: null, tool_calls: [call("add", { a: 2, b: 3 }), call("add", { a: 0, b: 0 })] },
    { role: "tool", content: "5" },
    { role: "tool", content: "0" },
    { role: "assistant", content: "It is 5." },
    { role: "user", content: "ok" },
  ],
  empty_and_whitespace: [
    { role: "user", content: "  padded \n" },
    { role: "assistant", content: "" },
    { role: "user", content: "\ttabs\t" },
  ],
};

// Which conversations each template family is asked to render: the tool cases only where the
// template supports tools.
const SKIP = { "llama3.jinja": ["tools", "tools_then_answer"], "chatml.jinja": ["tools", "tools_then_answer"] };

const cases = [];
for (const [file, [name, think, bos]] of Object.entries(TEMPLATES)) {
  const tpl = new Template(fs.readFileSync(path.join(data, "templates", file), "utf8"));
  for (const [conv, messages] of Object.entries(CONVERSATIONS)) {
    if ((SKIP[file] ?? []).includes(conv)) continue;
    for (const add_generation_prompt of [true, false]) {
      const expected = tpl.render({ messages, bos_token: bos, eos_token: "", add_generation_prompt });
      cases.push({ template_file: file, renderer: name, force_think: think, conversation: conv, add_generation_prompt, bos, expected });
    }
  }
}
const out = { generated_by: "node tests/tokenizer/render_templates.mjs (@huggingface/jinja)", conversations: CONVERSATIONS, cases };
fs.writeFileSync(path.join(data, "template_cases.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`${cases.length} cases`);
