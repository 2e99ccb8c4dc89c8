"""_lib.py — finds and loads libr1.so and declares the C functions of include/r1.h and r1_chat.h
for ctypes. The structs here mirror the C ones field for field; R1_API_VERSION is checked at load.

Where libr1.so is looked for, first found wins:
  1. $R1_LIB (a path to the library file, or a folder holding libr1.so)
  2. next to this package (r1/libr1.so*), as a wheel that bundles it would have it
  3. the lib/ folder of an install prefix: sys.prefix, then the prefix this file lies in
     (PREFIX/lib/pythonX.Y/site-packages/r1 -> PREFIX/lib)
  4. the dynamic loader's search path (ldconfig, LD_LIBRARY_PATH)
"""

import ctypes
import ctypes.util
import os
import sys

API_VERSION = 2  # the R1_API_VERSION these declarations follow

c_bool = ctypes.c_bool
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_float = ctypes.c_float
c_int32 = ctypes.c_int32
c_uint64 = ctypes.c_uint64
P = ctypes.POINTER

ERR_MAX = 512


class ModelParams(ctypes.Structure):
    _fields_ = [("n_threads", c_int), ("use_mmap", c_bool), ("load_type", c_char_p),
                ("log_fn", c_void_p), ("log_user", c_void_p), ("dist", c_void_p)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("architecture", c_char_p), ("name", c_char_p), ("n_vocab", c_int),
                ("n_layers", c_int), ("n_embd", c_int), ("n_ctx_train", c_int),
                ("kv_values_per_token_layer", c_int), ("n_params", c_uint64),
                ("weight_bytes", c_uint64), ("active_bytes_per_token", c_uint64),
                ("bos_id", c_int), ("eos_id", c_int), ("n_mtp_layers", c_int)]


class SessionParams(ctypes.Structure):
    _fields_ = [("n_ctx", c_int), ("n_batch", c_int), ("all_logits", c_bool),
                ("cache_type", c_int), ("mtp", c_int)]


class SamplerParams(ctypes.Structure):
    _fields_ = [("temperature", c_float), ("top_p", c_float), ("top_k", c_int),
                ("min_p", c_float), ("seed", c_uint64), ("frequency_penalty", c_float),
                ("presence_penalty", c_float), ("repeat_penalty", c_float),
                ("repeat_last_n", c_int)]


class ChatMessage(ctypes.Structure):
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class ChatParams(ctypes.Structure):
    _fields_ = [("template_name", c_char_p), ("add_generation_prompt", c_bool), ("think", c_int)]


class ReasoningParts(ctypes.Structure):
    _fields_ = [("reasoning", c_void_p), ("n_reasoning", c_size_t),
                ("answer", c_void_p), ("n_answer", c_size_t)]


def _candidates():
    env = os.environ.get("R1_LIB")
    if env:
        yield os.path.join(env, "libr1.so") if os.path.isdir(env) else env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.startswith("libr1.so"):
            yield os.path.join(here, name)
    prefixes = [sys.prefix]
    parts = here.split(os.sep)
    if "lib" in parts:  # PREFIX/lib/pythonX.Y/site-packages/r1
        i = len(parts) - 1 - parts[::-1].index("lib")
        prefixes.append(os.sep.join(parts[:i]) or os.sep)
    for prefix in prefixes:
        path = os.path.join(prefix, "lib", "libr1.so")
        if os.path.exists(path):
            yield path
    found = ctypes.util.find_library("r1")
    yield found if found else "libr1.so.0"


def load():
    """Load libr1.so and declare its functions; OSError (with every place tried) if none loads."""
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        try:
            _fn(lib, "r1_api_version", c_int)
            have = lib.r1_api_version()
        except AttributeError:
            have = 0  # a libr1 from before the API was versioned
        if have < API_VERSION:
            raise OSError(f"{path} has r1 API version {have}, these bindings need "
                          f"{API_VERSION} or later")
        _declare(lib)
        return lib
    raise OSError("libr1.so not found (set R1_LIB to its path); tried:\n  " + "\n  ".join(tried))


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


def _declare(lib):
    st = c_int  # r1_status
    _fn(lib, "r1_api_version", c_int)
    _fn(lib, "r1_version", c_char_p)
    _fn(lib, "r1_status_str", c_char_p, st)
    _fn(lib, "r1_free", None, c_void_p)
    _fn(lib, "r1_model_params_default", ModelParams)
    _fn(lib, "r1_model_load", st, c_char_p, P(ModelParams), P(c_void_p), c_char_p)
    _fn(lib, "r1_model_free", None, c_void_p)
    _fn(lib, "r1_model_get_info", None, c_void_p, P(ModelInfo))
    _fn(lib, "r1_model_meta", st, c_void_p, c_char_p, P(c_void_p), c_char_p)
    _fn(lib, "r1_model_meta_count", c_int, c_void_p)
    _fn(lib, "r1_model_meta_key", c_char_p, c_void_p, c_int)
    _fn(lib, "r1_tokenize", st, c_void_p, c_char_p, c_size_t, c_bool, c_bool, P(P(c_int32)),
        P(c_size_t), c_char_p)
    _fn(lib, "r1_detokenize", st, c_void_p, P(c_int32), c_size_t, P(c_void_p), c_char_p)
    _fn(lib, "r1_token_is_eog", c_bool, c_void_p, c_int32)
    _fn(lib, "r1_session_params_default", SessionParams)
    _fn(lib, "r1_session_new", st, c_void_p, P(SessionParams), P(c_void_p), c_char_p)
    _fn(lib, "r1_session_free", None, c_void_p)
    _fn(lib, "r1_session_eval", st, c_void_p, P(c_int32), c_int, c_char_p)
    _fn(lib, "r1_session_logits", P(c_float), c_void_p)
    _fn(lib, "r1_session_logits_all", P(c_float), c_void_p, P(c_int))
    _fn(lib, "r1_session_generate", st, c_void_p, c_void_p, P(c_int32), P(c_int), c_char_p)
    _fn(lib, "r1_session_generate_batch", st, P(c_void_p), P(c_void_p), c_int, P(c_int32),
        P(c_int), c_char_p)
    _fn(lib, "r1_session_n_past", c_int, c_void_p)
    _fn(lib, "r1_session_n_ctx", c_int, c_void_p)
    _fn(lib, "r1_session_rewind", st, c_void_p, c_int)
    _fn(lib, "r1_sampler_params_default", SamplerParams)
    _fn(lib, "r1_sampler_new", st, P(SamplerParams), c_int, P(c_void_p), c_char_p)
    _fn(lib, "r1_sampler_free", None, c_void_p)
    _fn(lib, "r1_sampler_sample", c_int32, c_void_p, P(c_float))
    _fn(lib, "r1_chat_params_default", ChatParams)
    _fn(lib, "r1_chat_template_name", c_char_p, c_void_p, P(c_bool))
    _fn(lib, "r1_chat_apply_template", st, c_void_p, P(ChatParams), P(ChatMessage), c_size_t,
        P(c_void_p), P(c_size_t), P(c_bool), c_char_p)
    _fn(lib, "r1_reasoning_new", st, c_bool, P(c_void_p), c_char_p)
    _fn(lib, "r1_reasoning_free", None, c_void_p)
    _fn(lib, "r1_reasoning_feed", st, c_void_p, c_char_p, c_size_t, P(ReasoningParts), c_char_p)
    _fn(lib, "r1_reasoning_finish", st, c_void_p, P(ReasoningParts), c_char_p)
    _fn(lib, "r1_detok_new", st, c_void_p, c_bool, P(c_void_p), c_char_p)
    _fn(lib, "r1_detok_free", None, c_void_p)
    _fn(lib, "r1_detok_feed", st, c_void_p, c_int32, P(c_void_p), P(c_size_t), c_char_p)
    _fn(lib, "r1_detok_flush", None, c_void_p, P(c_void_p), P(c_size_t))
    _fn(lib, "r1_stop_new", st, P(c_char_p), c_size_t, P(c_void_p), c_char_p)
    _fn(lib, "r1_stop_free", None, c_void_p)
    _fn(lib, "r1_stop_feed", st, c_void_p, c_char_p, c_size_t, P(c_void_p), P(c_size_t),
        P(c_bool), c_char_p)
    _fn(lib, "r1_stop_flush", None, c_void_p, P(c_void_p), P(c_size_t))
