"""r1 — Python bindings of libr1 (DeepSeek-R1 inference in C), over ctypes, standard library only.

    import r1
    model = r1.Model("models/r1-tiny.gguf")
    reply = model.chat("Compute 47*38.", temperature=0)
    print(reply.reasoning)
    print(reply.answer)

Model: load, tokenize/detokenize, metadata, chat templates, chat turns (streamed as
("reasoning" | "answer", text) pieces, or whole), batched generation. Session and Sampler give the
lower level (eval, logits as a memoryview, generate). Failures raise R1Error with the library's
message. Objects free their C memory on close() (or `with`), or when collected.
"""

import array
import ctypes
import dataclasses
from dataclasses import dataclass, field

from . import _lib

__all__ = ["R1Error", "Model", "Session", "Sampler", "SamplingParams", "ChatReply", "version",
           "api_version"]

_L = _lib.load()

_STATUS = {1: "io", 2: "format", 3: "unsupported", 4: "nomem", 5: "invalid_arg",
           6: "context_full"}


class R1Error(Exception):
    """A libr1 call failed: .status is the r1_status code, .name its short name ("format", ...),
    and str(e) the library's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.name = _STATUS.get(status, str(status))


def _check(status, err):
    if status != 0:
        msg = err.value.decode("utf-8", "replace") if err is not None else ""
        raise R1Error(status, msg or _L.r1_status_str(status).decode())


def _err():
    return ctypes.create_string_buffer(_lib.ERR_MAX)


def _bytes(text):
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def version():
    """The library's release ("0.1.0")."""
    return _L.r1_version().decode()


def api_version():
    """The library's R1_API_VERSION."""
    return _L.r1_api_version()


@dataclass
class SamplingParams:
    """How the next token is chosen (r1_sampler_params). Defaults are R1's recommended ones;
    temperature 0 is greedy."""
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    min_p: float = 0.0
    seed: int = 0
    frequency_penalty: float = 0.0  # OpenAI's, over the generated tokens
    presence_penalty: float = 0.0
    repeat_penalty: float = 1.0  # llama.cpp's, over the last repeat_last_n tokens; 1 = off
    repeat_last_n: int = 64

    def _c(self):
        return _lib.SamplerParams(self.temperature, self.top_p, self.top_k, self.min_p, self.seed,
                                  self.frequency_penalty, self.presence_penalty,
                                  self.repeat_penalty, self.repeat_last_n)


@dataclass
class ChatReply:
    """One finished chat turn."""
    reasoning: str = ""
    answer: str = ""
    n_tokens: int = 0        # tokens generated (the end-of-turn token included)
    finish_reason: str = ""  # "stop" (end of turn or a stop string) or "length"
    pieces: list = field(default_factory=list, repr=False)  # the streamed (kind, text) pieces


class _Handle:
    """Owns one C object, freed once by close(), `with`, or collection."""
    _free = None

    def __init__(self, ptr):
        self._ptr = ptr

    def close(self):
        if self._ptr:
            type(self)._free(self._ptr)
            self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def _p(self):
        if not self._ptr:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr


class Model(_Handle):
    """A loaded model (GGUF file or Hugging Face folder). Immutable; may serve many sessions."""
    _free = staticmethod(_L.r1_model_free)

    def __init__(self, path, n_threads=0, use_mmap=True):
        mp = _L.r1_model_params_default()
        mp.n_threads = n_threads
        mp.use_mmap = use_mmap
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_model_load(_bytes(str(path)), ctypes.byref(mp), ctypes.byref(out), err), err)
        super().__init__(out.value)
        info = _lib.ModelInfo()
        _L.r1_model_get_info(self._ptr, ctypes.byref(info))
        self.architecture = info.architecture.decode()
        self.name = info.name.decode()
        self.n_vocab = info.n_vocab
        self.n_layers = info.n_layers
        self.n_embd = info.n_embd
        self.n_ctx_train = info.n_ctx_train
        self.n_params = info.n_params
        self.bos_id = info.bos_id
        self.eos_id = info.eos_id

    # ---- text ----

    def tokenize(self, text, add_bos=False, parse_special=False):
        """Token ids (a list of int) of UTF-8 text."""
        data = _bytes(text)
        ids, n, err = ctypes.POINTER(ctypes.c_int32)(), ctypes.c_size_t(), _err()
        _check(_L.r1_tokenize(self._p, data, len(data), add_bos, parse_special, ctypes.byref(ids),
                              ctypes.byref(n), err), err)
        try:
            return ids[:n.value]
        finally:
            _L.r1_free(ids)

    def detokenize(self, ids):
        """Text of token ids (control tokens dropped)."""
        arr = (ctypes.c_int32 * len(ids))(*ids)
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_detokenize(self._p, arr, len(ids), ctypes.byref(out), err), err)
        try:
            return ctypes.string_at(out.value).decode("utf-8")
        finally:
            _L.r1_free(out)

    def is_eog(self, token):
        """Whether the token ends a reply (EOS or a template's end-of-turn token)."""
        return bool(_L.r1_token_is_eog(self._p, token))

    def meta(self, key):
        """The model file's metadata value for key, as text; KeyError when absent."""
        out, err = ctypes.c_void_p(), _err()
        st = _L.r1_model_meta(self._p, _bytes(key), ctypes.byref(out), err)
        if st == 5:
            raise KeyError(key)
        _check(st, err)
        try:
            return ctypes.string_at(out.value).decode("utf-8", "replace")
        finally:
            _L.r1_free(out)

    def meta_keys(self):
        return [_L.r1_model_meta_key(self._p, i).decode()
                for i in range(_L.r1_model_meta_count(self._p))]

    @property
    def template_name(self):
        """The chat template used when none is named ("deepseek-r1", "chatml", ...)."""
        return _L.r1_chat_template_name(self._p, None).decode()

    def apply_template(self, messages, add_generation_prompt=True, think=True, template=None):
        """Render messages (a str for one user message, or a list of {"role", "content"} dicts)
        with the chat template. think: True ends R1 prompts with "<think>\\n", False with an empty
        think block, None leaves the template as is. Returns (prompt, in_reasoning)."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        keep = [(_bytes(m["role"]), None if m.get("content") is None else _bytes(m["content"]))
                for m in messages]
        arr = (_lib.ChatMessage * max(len(keep), 1))(*[_lib.ChatMessage(r, c) for r, c in keep])
        cp = _L.r1_chat_params_default()
        cp.template_name = _bytes(template) if template else None
        cp.add_generation_prompt = add_generation_prompt
        cp.think = 0 if think is True else 1 if think is False else 2
        out, n, in_r, err = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_bool(), _err()
        _check(_L.r1_chat_apply_template(self._p, ctypes.byref(cp), arr, len(keep),
                                         ctypes.byref(out), ctypes.byref(n), ctypes.byref(in_r),
                                         err), err)
        try:
            return ctypes.string_at(out.value, n.value).decode("utf-8"), in_r.value
        finally:
            _L.r1_free(out)

    # ---- generation ----

    def chat_stream(self, messages, max_tokens=4096, sampling=None, think=True, template=None,
                    stop=(), n_ctx=0, _reply=None, **sampling_kw):
        """Generate the assistant's reply to messages, yielding ("reasoning" | "answer", text)
        pieces as they are decided. sampling: a SamplingParams, or its fields as keywords
        (temperature=0). stop: strings that end the reply (not shown)."""
        sp = sampling or SamplingParams(**sampling_kw)
        prompt, in_reasoning = self.apply_template(messages, True, think, template)
        ids = self.tokenize(prompt, add_bos=False, parse_special=True)
        reply = _reply if _reply is not None else ChatReply()
        with Session(self, n_ctx=n_ctx) as s, Sampler(self, sp) as smp, \
                _Detok(self) as dt, _Splitter(in_reasoning) as rs, _Stop(stop) as st:
            s.eval(ids)
            reply.finish_reason = "length"
            done = False
            while not done and reply.n_tokens < max_tokens:
                for tok in s.generate(smp):
                    reply.n_tokens += 1
                    if self.is_eog(tok):
                        reply.finish_reason, done = "stop", True
                        break
                    text, stopped = st.feed(dt.feed(tok))
                    yield from rs.feed(text)
                    if stopped:
                        reply.finish_reason, done = "stop", True
                        break
                    if reply.n_tokens >= max_tokens:
                        break
            if not st.stopped:
                text, _ = st.feed(dt.flush())
                yield from rs.feed(text + st.flush())
            yield from rs.finish()

    def chat(self, messages, on_reasoning=None, on_answer=None, **kw):
        """A whole chat turn: a ChatReply with the reasoning and the answer apart. on_reasoning /
        on_answer, when given, are called with each piece as it streams. Keywords: those of
        chat_stream."""
        reply = ChatReply()
        for kind, text in self.chat_stream(messages, _reply=reply, **kw):
            reply.pieces.append((kind, text))
            if kind == "reasoning":
                reply.reasoning += text
                if on_reasoning:
                    on_reasoning(text)
            else:
                reply.answer += text
                if on_answer:
                    on_answer(text)
        return reply

    def generate_batch(self, prompts, max_tokens=64, sampling=None, add_bos=True, **sampling_kw):
        """Continue several prompts (str, or lists of ids) in one batched forward pass per step
        (r1_session_generate_batch); returns the generated ids of each, up to and without an
        end-of-generation token. Each sequence samples with its own sampler (seed + i)."""
        sp = sampling or SamplingParams(**sampling_kw)
        n = len(prompts)
        sessions = [Session(self, n_batch=max(512, n)) for _ in range(n)]
        samplers = [Sampler(self, dataclasses.replace(sp, seed=sp.seed + i)) for i in range(n)]
        try:
            for s, p in zip(sessions, prompts):
                s.eval(self.tokenize(p, add_bos=add_bos, parse_special=True)
                       if isinstance(p, (str, bytes)) else list(p))
            outs = [[] for _ in range(n)]
            active = list(range(n))
            while active:
                k = len(active)
                sp_arr = (ctypes.c_void_p * k)(*[sessions[i]._p for i in active])
                sm_arr = (ctypes.c_void_p * k)(*[samplers[i]._p for i in active])
                out = (ctypes.c_int32 * (2 * k))()
                n_out = (ctypes.c_int * k)()
                err = _err()
                _check(_L.r1_session_generate_batch(sp_arr, sm_arr, k, out, n_out, err), err)
                still = []
                for j, i in enumerate(active):
                    finished = False
                    for t in out[2 * j: 2 * j + n_out[j]]:
                        if self.is_eog(t) or len(outs[i]) >= max_tokens:
                            finished = True
                            break
                        outs[i].append(t)
                    if not finished and len(outs[i]) < max_tokens:
                        still.append(i)
                active = still
            return outs
        finally:
            for o in sessions + samplers:
                o.close()


class Session(_Handle):
    """One sequence with its KV cache (r1_session). Used by one thread at a time; the model must
    outlive it."""
    _free = staticmethod(_L.r1_session_free)

    def __init__(self, model, n_ctx=0, n_batch=0, all_logits=False):
        p = _L.r1_session_params_default()
        p.n_ctx, p.n_batch, p.all_logits = n_ctx, n_batch, all_logits
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_session_new(model._p, ctypes.byref(p), ctypes.byref(out), err), err)
        super().__init__(out.value)
        self.model = model  # kept alive as long as the session

    def eval(self, ids):
        """Append token ids and run them through the model."""
        arr = (ctypes.c_int32 * len(ids))(*ids)
        err = _err()
        _check(_L.r1_session_eval(self._p, arr, len(ids), err), err)

    def logits(self, copy=False):
        """The next-token logits after the last eval: a memoryview of n_vocab floats (format "f")
        over the session's buffer, valid until the next eval/generate; copy=True gives an
        array.array("f") that stays valid."""
        ptr = _L.r1_session_logits(self._p)
        buf = (ctypes.c_float * self.model.n_vocab).from_address(
            ctypes.cast(ptr, ctypes.c_void_p).value)
        return array.array("f", buf) if copy else memoryview(buf).cast("B").cast("f")

    def generate(self, sampler):
        """Sample the next token (1, or 2 with an accepted MTP draft) and run it through the
        model; returns the list of new ids."""
        out, n, err = (ctypes.c_int32 * 2)(), ctypes.c_int(), _err()
        _check(_L.r1_session_generate(self._p, sampler._p, out, ctypes.byref(n), err), err)
        return out[:n.value]

    @property
    def n_past(self):
        return _L.r1_session_n_past(self._p)

    @property
    def n_ctx(self):
        return _L.r1_session_n_ctx(self._p)

    def rewind(self, n_keep):
        """Drop cached tokens from position n_keep on."""
        _check(_L.r1_session_rewind(self._p, n_keep), None)


class Sampler(_Handle):
    """Chooses tokens from logits (r1_sampler)."""
    _free = staticmethod(_L.r1_sampler_free)

    def __init__(self, model, params=None, **kw):
        sp = (params or SamplingParams(**kw))._c()
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_sampler_new(ctypes.byref(sp), model.n_vocab, ctypes.byref(out), err), err)
        super().__init__(out.value)
        self.n_vocab = model.n_vocab

    def sample(self, logits):
        """A token id from n_vocab logits (a memoryview/array of floats, or a list)."""
        if len(logits) != self.n_vocab:
            raise ValueError(f"{len(logits)} logits, the model has {self.n_vocab}")
        arr = (ctypes.c_float * self.n_vocab)(*logits)
        return _L.r1_sampler_sample(self._p, arr)


class _Detok(_Handle):
    _free = staticmethod(_L.r1_detok_free)

    def __init__(self, model):
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_detok_new(model._p, False, ctypes.byref(out), err), err)
        super().__init__(out.value)

    def feed(self, tok):
        text, n, err = ctypes.c_void_p(), ctypes.c_size_t(), _err()
        _check(_L.r1_detok_feed(self._p, tok, ctypes.byref(text), ctypes.byref(n), err), err)
        return ctypes.string_at(text.value, n.value).decode("utf-8") if n.value else ""

    def flush(self):
        text, n = ctypes.c_void_p(), ctypes.c_size_t()
        _L.r1_detok_flush(self._p, ctypes.byref(text), ctypes.byref(n))
        return ctypes.string_at(text.value, n.value).decode("utf-8") if n.value else ""


class _Splitter(_Handle):
    _free = staticmethod(_L.r1_reasoning_free)

    def __init__(self, in_reasoning):
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_reasoning_new(in_reasoning, ctypes.byref(out), err), err)
        super().__init__(out.value)

    @staticmethod
    def _pieces(p):
        if p.n_reasoning:
            yield "reasoning", ctypes.string_at(p.reasoning, p.n_reasoning).decode("utf-8")
        if p.n_answer:
            yield "answer", ctypes.string_at(p.answer, p.n_answer).decode("utf-8")

    def feed(self, text):
        if not text:
            return ()
        data = text.encode("utf-8")
        p, err = _lib.ReasoningParts(), _err()
        _check(_L.r1_reasoning_feed(self._p, data, len(data), ctypes.byref(p), err), err)
        return list(self._pieces(p))

    def finish(self):
        p, err = _lib.ReasoningParts(), _err()
        _check(_L.r1_reasoning_finish(self._p, ctypes.byref(p), err), err)
        return list(self._pieces(p))


class _Stop(_Handle):
    _free = staticmethod(_L.r1_stop_free)

    def __init__(self, stops):
        stops = [_bytes(s) for s in ([stops] if isinstance(stops, str) else stops)]
        arr = (ctypes.c_char_p * max(len(stops), 1))(*stops)
        out, err = ctypes.c_void_p(), _err()
        _check(_L.r1_stop_new(arr, len(stops), ctypes.byref(out), err), err)
        super().__init__(out.value)
        self.stopped = False

    def feed(self, text):
        if not text:
            return "", self.stopped
        data = text.encode("utf-8")
        out, n, stopped, err = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_bool(), _err()
        _check(_L.r1_stop_feed(self._p, data, len(data), ctypes.byref(out), ctypes.byref(n),
                               ctypes.byref(stopped), err), err)
        self.stopped = stopped.value
        return (ctypes.string_at(out.value, n.value).decode("utf-8") if n.value else ""), \
            self.stopped

    def flush(self):
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        _L.r1_stop_flush(self._p, ctypes.byref(out), ctypes.byref(n))
        return ctypes.string_at(out.value, n.value).decode("utf-8") if n.value else ""
