"""test_r1.py — the Python bindings on the default model (models/r1-tiny.gguf): text round trips,
templates, a greedy chat turn with reasoning and answer apart (the same answer `r1 run` gives),
stop strings, limits, sampling, logits, batched generation against one-at-a-time, errors, and the
README examples run as written. Run: PYTHONPATH=bindings/python R1_LIB=build/libr1.so
python3 -m unittest discover -s bindings/python/tests (from the repository root)."""

import array
import contextlib
import io
import os
import re
import unittest

import r1

REPO = os.environ.get("R1_REPO") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(REPO, "models", "r1-tiny.gguf")
QUESTION = "Compute 47*38."
ANSWER = "\\boxed{1786}"


class TestR1(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = r1.Model(MODEL, n_threads=2)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_version(self):
        self.assertRegex(r1.version(), r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(r1.api_version(), 1)

    def test_model_info_and_meta(self):
        m = self.model
        self.assertEqual(m.architecture, "deepseek2")
        self.assertEqual(m.meta("general.architecture"), "deepseek2")
        self.assertEqual(int(m.meta("deepseek2.block_count")), m.n_layers + 1)  # + the MTP block
        self.assertIn("tokenizer.chat_template", m.meta_keys())
        with self.assertRaises(KeyError):
            m.meta("no.such.key")
        with self.assertRaises(r1.R1Error) as cm:
            m.meta("tokenizer.ggml.tokens")
        self.assertEqual(cm.exception.name, "unsupported")
        self.assertIn("array", str(cm.exception))
        self.assertTrue(m.is_eog(m.eos_id))
        self.assertFalse(m.is_eog(m.tokenize("Hi")[0]))

    def test_tokenize_round_trip(self):
        m = self.model
        for text in ["Hello, world!", "héllo 世界 🙂 47*38=1786", ""]:
            ids = m.tokenize(text)
            self.assertTrue(all(isinstance(i, int) and 0 <= i < m.n_vocab for i in ids))
            self.assertEqual(m.detokenize(ids), text)
        with_bos = m.tokenize("Hello", add_bos=True)
        self.assertEqual(with_bos[0], m.bos_id)
        self.assertEqual(with_bos[1:], m.tokenize("Hello"))

    def test_templates(self):
        m = self.model
        self.assertEqual(m.template_name, "deepseek-r1")
        prompt, in_reasoning = m.apply_template(QUESTION)
        self.assertTrue(prompt.endswith("<｜User｜>" + QUESTION + "<｜Assistant｜><think>\n"))
        self.assertTrue(in_reasoning)
        prompt, in_reasoning = m.apply_template(QUESTION, think=False)
        self.assertTrue(prompt.endswith("<think>\n\n</think>\n\n") and not in_reasoning)
        prompt, _ = m.apply_template([{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hi"}], template="chatml")
        self.assertEqual(prompt, "<|im_start|>system\nBe brief.<|im_end|>\n"
                                 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        with self.assertRaises(r1.R1Error) as cm:
            m.apply_template("Hi", template="no-such-template")
        self.assertEqual(cm.exception.name, "invalid_arg")
        self.assertIn("no-such-template", str(cm.exception))

    def test_chat_greedy(self):
        got = {"reasoning": "", "answer": ""}
        reply = self.model.chat(QUESTION, temperature=0,
                                on_reasoning=lambda t: got.__setitem__("reasoning",
                                                                       got["reasoning"] + t),
                                on_answer=lambda t: got.__setitem__("answer", got["answer"] + t))
        self.assertEqual(reply.answer, ANSWER)
        self.assertIn("376+1410", reply.reasoning)
        self.assertNotIn("think>", reply.reasoning + reply.answer)
        self.assertEqual(reply.finish_reason, "stop")
        self.assertEqual((got["reasoning"], got["answer"]), (reply.reasoning, reply.answer))
        kinds = [k for k, _ in reply.pieces]
        self.assertEqual(kinds, sorted(kinds, key=lambda k: k == "answer"))  # reasoning first
        self.assertGreater(kinds.count("reasoning"), 3)  # streamed, not one block
        # the iterator gives the same pieces
        self.assertEqual(list(self.model.chat_stream(QUESTION, temperature=0)), reply.pieces)

    def test_chat_stop_and_length(self):
        reply = self.model.chat(QUESTION, temperature=0, stop=["1410"])
        self.assertEqual(reply.finish_reason, "stop")
        self.assertTrue(reply.reasoning.endswith("4*3+2=14, "), reply.reasoning)
        self.assertEqual(reply.answer, "")
        reply = self.model.chat(QUESTION, temperature=0, max_tokens=5)
        self.assertEqual((reply.finish_reason, reply.n_tokens), ("length", 5))
        self.assertEqual(reply.answer, "")
        self.assertTrue(reply.reasoning)

    def test_sampling_is_seeded(self):
        p = r1.SamplingParams(temperature=1.0, top_p=1.0, seed=42)
        a = self.model.chat(QUESTION, sampling=p, max_tokens=40)
        b = self.model.chat(QUESTION, sampling=p, max_tokens=40)
        self.assertEqual((a.reasoning, a.answer), (b.reasoning, b.answer))

    def test_logits(self):
        m = self.model
        ids = m.tokenize(m.apply_template(QUESTION)[0], parse_special=True)
        with r1.Session(m) as s, r1.Sampler(m, temperature=0) as greedy:
            s.eval(ids)
            self.assertEqual(s.n_past, len(ids))
            view = s.logits()
            self.assertIsInstance(view, memoryview)
            self.assertEqual((view.format, len(view)), ("f", m.n_vocab))
            kept = s.logits(copy=True)
            self.assertIsInstance(kept, array.array)
            best = max(range(m.n_vocab), key=view.__getitem__)
            self.assertEqual(greedy.sample(view), best)
            self.assertEqual(s.generate(greedy)[0], best)
            self.assertEqual(list(kept), list(array.array("f", kept)))  # still readable
            s.rewind(len(ids))
            self.assertEqual(s.n_past, len(ids))

    def test_generate_batch_matches_one_at_a_time(self):
        m = self.model
        prompts = [m.apply_template(q)[0] for q in ["Compute 1+1.", QUESTION, "Compute 12*3."]]
        batch = m.generate_batch(prompts, max_tokens=12, temperature=0, add_bos=False)
        for prompt, got in zip(prompts, batch):
            with r1.Session(m) as s, r1.Sampler(m, temperature=0) as greedy:
                s.eval(m.tokenize(prompt, parse_special=True))
                want = []
                while len(want) < 12:
                    t = greedy.sample(s.logits())
                    if m.is_eog(t):
                        break
                    want.append(t)
                    s.eval([t])
            self.assertEqual(got, want)
            self.assertEqual(len(got), 12)

    def test_errors(self):
        with self.assertRaises(r1.R1Error) as cm:
            r1.Model(os.path.join(REPO, "no-such-model.gguf"))
        self.assertEqual(cm.exception.name, "io")
        self.assertIn("no-such-model.gguf", str(cm.exception))
        with r1.Session(self.model) as s:
            with self.assertRaises(r1.R1Error) as cm:
                s.eval([self.model.n_vocab + 5])
            self.assertEqual(cm.exception.name, "invalid_arg")
        s.close()  # twice is fine
        with self.assertRaises(ValueError):
            s.eval([1])

    def test_pip_install_offline(self):
        try:
            import pip  # noqa: F401  (only to know whether pip is there)
        except ImportError:
            self.skipTest("no pip in this python")
        import subprocess
        import sys
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "site")
            subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--quiet",
                            "--disable-pip-version-check", "--target", target,
                            os.path.join(REPO, "bindings", "python")], check=True,
                           stdout=subprocess.DEVNULL, cwd=tmp)
            env = dict(os.environ, PYTHONPATH=target)
            if "R1_LIB" in env:  # the test's own library (as an absolute path: cwd changes)
                env["R1_LIB"] = os.path.abspath(env["R1_LIB"])
            out = subprocess.run([sys.executable, "-c", "import sys, r1; "
                                  "print(r1.__file__, r1.Model(sys.argv[1]).architecture)", MODEL],
                                 env=env, cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout.split()
            self.assertEqual(out, [os.path.join(target, "r1", "__init__.py"), "deepseek2"])

    def test_readme_examples(self):
        readmes = [os.path.join(REPO, "bindings", "python", "README.md"),
                   os.path.join(REPO, "README.md")]
        for path in readmes:
            with open(path, encoding="utf-8") as f:
                blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
            self.assertTrue(blocks, f"no python example in {path}")
            code = blocks[0]
            self.assertLessEqual(len(code.strip().splitlines()), 5, path)
            out = io.StringIO()
            cwd = os.getcwd()
            os.chdir(REPO)
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, path, "exec"), {})
            finally:
                os.chdir(cwd)
            self.assertIn("answer: " + ANSWER, out.getvalue(), path)
            self.assertIn("376+1410", out.getvalue(), path)


if __name__ == "__main__":
    unittest.main()
