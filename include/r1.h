/* r1.h — the main public header of libr1: load a DeepSeek-R1-family model, run it, sample from it
 * (r1_chat.h beside it: chat templates, the reasoning split, streaming text helpers).
 *
 * Usage:
 *   r1_model_params mp = r1_model_params_default();
 *   r1_model *model; char err[R1_ERR_MAX];
 *   if (r1_model_load("model.gguf", &mp, &model, err) != R1_OK) { fprintf(stderr, "%s\n", err); ...
 * } r1_session_params sp = r1_session_params_default(); r1_session *s; r1_session_new(model, &sp,
 * &s, err); r1_session_eval(s, tokens, n_tokens, err);         // prefill; logits of the last token
 * are kept const float *logits = r1_session_logits(s);        // n_vocab floats
 *
 * Contracts:
 * - Every function that can fail returns r1_status; on failure the out-params are unchanged and,
 * when `err` is not NULL, it receives a NUL-terminated message of at most R1_ERR_MAX bytes naming
 * the file/argument and the problem.
 * - A model is immutable after load and may be shared by many sessions on many threads. A session
 * is used by one thread at a time. The model must outlive its sessions.
 * - libr1 never prints and never exits: diagnostics go to the log callback (r1_set_log_callback is
 *   per-model via r1_model_params.log_fn).
 */
#ifndef R1_H
#define R1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* R1_API marks what libr1.so exports; the rest of the library is hidden (-fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define R1_API __attribute__((visibility("default")))
#else
#define R1_API
#endif

/* The version of the API this header declares: raised whenever a declaration changes or a
 * function is added. r1_api_version() is the library's, so a program can check at run time that
 * the libr1.so it loaded is at least as new as the header it was built with. */
/* 2: the kernel backend, template names, UTF-8 helpers, sampler penalties and logit bias,
 * grammars (constrained decoding) */
#define R1_API_VERSION 2

R1_API int r1_api_version(void);     /* R1_API_VERSION of the library */
R1_API const char *r1_version(void); /* the release, "MAJOR.MINOR.PATCH" (a constant string) */
/* The kernels this process runs ("ref", "scalar", "avx2", "neon"; a constant string): the best
 * the CPU supports, chosen once per process at the first call into the kernels, or the one the
 * R1_KERNELS environment variable names. (API 2) */
R1_API const char *r1_kernel_backend(void);

#define R1_ERR_MAX 512

/* Free memory the library allocated for the caller (the *out_ids of r1_tokenize, the *out_text of
 * r1_detokenize, ...): the same as free(), for programs that cannot call this library's free()
 * (foreign-function interfaces, another C runtime). NULL is ignored. */
R1_API void r1_free(void *ptr);

typedef enum r1_status {
    R1_OK = 0,
    R1_ERR_IO = 1,           /* open/read/mmap/write failed */
    R1_ERR_FORMAT = 2,       /* file contents malformed or inconsistent */
    R1_ERR_UNSUPPORTED = 3,  /* valid but not supported (architecture, tensor type) */
    R1_ERR_NOMEM = 4,        /* allocation failed or over a cap */
    R1_ERR_INVALID_ARG = 5,  /* caller passed a bad value */
    R1_ERR_CONTEXT_FULL = 6, /* the session's KV cache has no room for the tokens */
} r1_status;

/* A short constant name for a status code ("format error", ...). */
R1_API const char *r1_status_str(r1_status status);

typedef enum r1_log_level {
    R1_LOG_DEBUG = 0,
    R1_LOG_INFO = 1,
    R1_LOG_WARN = 2,
    R1_LOG_ERROR = 3,
} r1_log_level;

typedef void (*r1_log_fn)(r1_log_level level, const char *msg, void *user);

/* ---- model ---------------------------------------------------------------------------------- */

typedef struct r1_model r1_model;

/* ---- several processes (MPI) -----------------------------------------------------------------
 * Under `mpirun -np N` (a build with R1_MPI) every rank loads the same model file with
 * r1_model_params.dist set and keeps only its shard (attention heads, routed experts, FFN columns,
 * vocabulary rows; docs/distributed.md). Rank 0 runs the application through the ordinary session
 * API; every other rank calls r1_dist_worker_run, which takes part in each forward pass until rank
 * 0 frees its model. Without R1_MPI, or when not started by mpirun, there is one rank and all of
 * this is a no-op. Calls into the library must come from one thread at a time
 * (MPI_THREAD_SERIALIZED).
 */
typedef struct r1_dist r1_dist;

/* Join the MPI job (MPI_Init_thread) when started by mpirun/mpiexec, else a one-rank r1_dist. */
R1_API r1_status r1_dist_init(int *argc, char ***argv, r1_dist **out_dist, char *err);
R1_API int r1_dist_rank(const r1_dist *dist); /* 0 for NULL */
R1_API int r1_dist_size(const r1_dist *dist); /* 1 for NULL */
/* Leave the job: MPI_Finalize, or MPI_Abort after a failed peer (so no rank waits on a dead one).
 */
R1_API void r1_dist_finalize(r1_dist *dist);
/* The reason the last collective operation failed (a rank died or timed out), or NULL. */
R1_API const char *r1_dist_failure(const r1_dist *dist);

typedef struct r1_model_params {
    int n_threads; /* worker threads for the forward pass; 0 = number of cores */
    bool use_mmap; /* map the file (default) or read it into memory */
    /* Hugging Face folders: type FP8 weights are converted to at load ("Q8_0" when NULL; any GGUF
     * type name: "F32", "BF16", "Q4_K", ...). Other weights are used as stored. */
    const char *load_type;
    r1_log_fn log_fn; /* may be NULL */
    void *log_user;
    r1_dist *dist; /* NULL: the whole model in this process; else this rank's shard (above) */
} r1_model_params;

R1_API r1_model_params r1_model_params_default(void);

/* path: a GGUF file, or a Hugging Face model folder (config.json, *.safetensors with or without
 * model.safetensors.index.json, tokenizer.json): DeepseekV3/V2ForCausalLM (BF16 or FP8),
 * Qwen2ForCausalLM, LlamaForCausalLM. */
R1_API r1_status r1_model_load(const char *path, const r1_model_params *params,
                               r1_model **out_model, char *err);
R1_API void r1_model_free(r1_model *model);

/* On ranks > 0 of a distributed model: serve rank 0's forward passes until rank 0 frees the model
 * (R1_OK) or a peer fails (R1_ERR_IO, with r1_dist_failure). The caller then frees the model. */
R1_API r1_status r1_dist_worker_run(r1_model *model, char *err);

/* Description of a loaded model, valid as long as the model. */
typedef struct r1_model_info {
    const char *architecture; /* "deepseek2", "qwen2", "llama" */
    const char *name;         /* general.name or "" */
    int n_vocab;
    int n_layers;
    int n_embd;
    int n_ctx_train;
    int kv_values_per_token_layer; /* floats cached per token per layer (576 for R1's MLA) */
    uint64_t n_params;
    uint64_t weight_bytes;
    uint64_t active_bytes_per_token; /* weight bytes one decode step reads (routed experts: only
                                        the activated share; embeddings: one row) */
    int bos_id, eos_id;              /* -1 when absent */
    int n_mtp_layers;                /* multi-token-prediction modules usable for drafting (0/1) */
} r1_model_info;

R1_API void r1_model_get_info(const r1_model *model, r1_model_info *out_info);

/* Metadata of the model file by GGUF key ("general.name", "deepseek2.block_count",
 * "tokenizer.chat_template"; a Hugging Face folder is seen through the keys it was converted to):
 * *out_value is a malloc'd NUL-terminated text (free() it): a string as stored, an integer in
 * decimal, a float as with "%.9g", a bool as "true"/"false". R1_ERR_INVALID_ARG when the key is
 * absent, R1_ERR_UNSUPPORTED when its value is an array (only its length and type are told in
 * `err`). */
R1_API r1_status r1_model_meta(const r1_model *model, const char *key, char **out_value, char *err);
/* The number of metadata keys, and the i-th key (0 <= i < count; NULL otherwise), valid as long
 * as the model. */
R1_API int r1_model_meta_count(const r1_model *model);
R1_API const char *r1_model_meta_key(const r1_model *model, int i);

/* ---- text ------------------------------------------------------------------------------------ */

/* Tokenize UTF-8 text with the model's own vocabulary (byte-exact with the reference tokenizers).
 * add_bos: prepend BOS when the model asks for it; parse_special: also match control tokens
 * written in the text. *out_ids is malloc'd (free() it). R1_ERR_UNSUPPORTED if the model file
 * has no vocabulary. Invalid UTF-8 is replaced by U+FFFD as browsers do. */
R1_API r1_status r1_tokenize(const r1_model *model, const char *text, size_t n_bytes, bool add_bos,
                             bool parse_special, int32_t **out_ids, size_t *out_n_ids, char *err);

/* Decode ids to UTF-8 text (malloc'd, NUL-terminated; free() it); control tokens are dropped. */
R1_API r1_status r1_detokenize(const r1_model *model, const int32_t *ids, size_t n_ids,
                               char **out_text, char *err);

/* Whether id ends a reply: the model's EOS, or an end-of-turn token of the chat templates
 * (<｜end▁of▁sentence｜>, <|eot_id|>, <|im_end|>, <|end_of_text|>). False for ids out of range
 * and for a model without a vocabulary. What `r1 run` stops on. */
R1_API bool r1_token_is_eog(const r1_model *model, int32_t id);

/* Streaming text helpers (chat templates, the reasoning/answer split, the streaming detokenizer,
 * stop strings) are declared in r1_chat.h. */

/* ---- session: one sequence with its KV cache --------------------------------------------------
 */

typedef struct r1_session r1_session;
typedef struct r1_sampler r1_sampler;

typedef enum r1_cache_type {
    R1_CACHE_F32 = 0,  /* exact */
    R1_CACHE_F16 = 1,  /* half the memory and bandwidth; ~1e-3 relative rounding of K/V */
    R1_CACHE_BF16 = 2, /* half; coarser mantissa, full fp32 range */
    R1_CACHE_Q8_0 = 3, /* 34 bytes per 32 values (8.5 bits): 8-bit codes with a scale per block */
} r1_cache_type;

/* Speculative decoding with the model's multi-token-prediction module (DeepSeek-V3/R1 MTP). */
typedef enum r1_mtp_mode {
    R1_MTP_AUTO = 0, /* on when the model has an MTP module */
    R1_MTP_OFF = 1,
    R1_MTP_ON = 2, /* error when the model has none */
} r1_mtp_mode;

typedef struct r1_session_params {
    int n_ctx;                /* KV cache capacity in tokens; 0 = min(model context, 4096) */
    int n_batch;              /* prompt tokens processed per forward pass; 0 = 512 */
    bool all_logits;          /* keep logits of every position of the last eval (for r1 logits) */
    r1_cache_type cache_type; /* KV cache element type (default F32) */
    r1_mtp_mode mtp;          /* drafting in r1_session_generate (never with all_logits) */
} r1_session_params;

R1_API r1_session_params r1_session_params_default(void);

R1_API r1_status r1_session_new(r1_model *model, const r1_session_params *params,
                                r1_session **out_session, char *err);
R1_API void r1_session_free(r1_session *session);

/* Append tokens to the sequence and run them through the model. */
R1_API r1_status r1_session_eval(r1_session *session, const int32_t *tokens, int n_tokens,
                                 char *err);

/* Logits (n_vocab floats) of the last evaluated token; with all_logits, `r1_session_logits_all`
 * gives n_tokens × n_vocab floats of the last eval call, row-major. Valid until the next eval. */
R1_API const float *r1_session_logits(const r1_session *session);
R1_API const float *r1_session_logits_all(const r1_session *session, int *out_n_rows);

/* Watch the input of every weight matrix product the session runs (r1 imatrix: activation
 * statistics for quantization). For each product: the weight tensor's name in the file, which of
 * its n_mats matrices (an expert, or a head of a per-head tensor), and n_tok input rows of n_cols
 * floats, ldx apart. Called on the thread that calls r1_session_eval, before the product; the
 * rows are valid only during the call. Products with weights built at load (no file tensor) are
 * not reported. observer NULL turns it off. */
typedef void (*r1_matmul_observer)(void *user, const char *tensor, int64_t mat, int64_t n_mats,
                                   int64_t n_cols, const float *x, int64_t ldx, int64_t n_tok);
R1_API void r1_session_set_matmul_observer(r1_session *session, r1_matmul_observer observer,
                                           void *user);

/* Decode one token for each of n sessions in one forward pass, the weights read once for all of
 * them: tokens[i] is appended to sessions[i], and r1_session_logits(sessions[i]) then holds its
 * next-token logits. The sessions must be distinct and belong to one model; n may not exceed the
 * n_batch of sessions[0], whose scratch the pass uses. On error no session is changed. */
R1_API r1_status r1_session_decode_batch(r1_session *const *sessions, const int32_t *tokens, int n,
                                         char *err);

/* Generate: choose the next token from the current logits with `sampler` and run it through the
 * model; with MTP, also draft the token after it and verify the draft in the same forward pass.
 * out[0..*n_out) receives 1 or 2 tokens, all now in the cache; r1_session_logits then gives the
 * logits after the last. The tokens are distributed exactly as with r1_sampler_sample + eval one
 * at a time (greedy: the same tokens). After a rejected draft the session has already chosen the
 * next token, which the next call emits (any eval or rewind discards it). */
R1_API r1_status r1_session_generate(r1_session *session, r1_sampler *sampler, int32_t out[2],
                                     int *n_out, char *err);
/* The same for n sessions in one batched forward pass (and one of the MTP layer): sessions[i]
 * samples with samplers[i] and gets out[2i .. 2i + n_out[i]). Distinct sessions of one model, at
 * most n_batch of sessions[0] (its scratch is used; sequences beyond n_batch/2 go without a
 * draft). */
R1_API r1_status r1_session_generate_batch(r1_session *const *sessions, r1_sampler *const *samplers,
                                           int n, int32_t *out, int *n_out, char *err);
/* Logits that out[i] (i = 0, 1) of the last generate step was drawn from (for logprobs). */
R1_API const float *r1_session_step_logits(const r1_session *session, int i);
/* Drafts made and accepted so far by this session; whether it drafts at all. */
R1_API void r1_session_mtp_stats(const r1_session *session, uint64_t *n_drafted,
                                 uint64_t *n_accepted);
R1_API bool r1_session_has_mtp(const r1_session *session);

R1_API int r1_session_n_past(const r1_session *session);
R1_API int r1_session_n_ctx(const r1_session *session);
/* Drop cached tokens from position n_keep on (n_keep <= n_past). */
R1_API r1_status r1_session_rewind(r1_session *session, int n_keep);

/* ---- sampling ---------------------------------------------------------------------------------
 */

typedef struct r1_sampler_params {
    float temperature; /* 0 = greedy; R1 default 0.6 */
    float top_p;       /* 1 = off; R1 default 0.95 */
    int top_k;         /* 0 = off */
    float min_p;       /* 0 = off */
    uint64_t seed;
    /* Penalties on tokens already in the sequence (all off when zero-initialized):
     * frequency/presence as OpenAI defines them, over the tokens this sampler generated:
     *   logit -= count · frequency_penalty + (count > 0) · presence_penalty;
     * repeat_penalty as llama.cpp's, over the last repeat_last_n tokens of prompt + generation
     * (each distinct token once): a positive logit is divided by it, a negative one multiplied. */
    float frequency_penalty; /* 0 = off; OpenAI range -2..2 */
    float presence_penalty;  /* 0 = off; OpenAI range -2..2 */
    float repeat_penalty;    /* 1 (or 0) = off; > 1 discourages repeats */
    int repeat_last_n;       /* window of repeat_penalty; 0 = 64, -1 = every token seen */
} r1_sampler_params;

R1_API r1_sampler_params r1_sampler_params_default(void);

R1_API r1_status r1_sampler_new(const r1_sampler_params *params, int n_vocab,
                                r1_sampler **out_sampler, char *err);
R1_API void r1_sampler_free(r1_sampler *sampler);
/* Draw a token. With a penalty on, the returned token is counted as generated (so call it once
 * per token that enters the sequence, as r1_session_generate does). */
R1_API int32_t r1_sampler_sample(r1_sampler *sampler, const float *logits);
/* Tokens already in the sequence that this sampler did not draw (the prompt): repeat_penalty
 * looks back over them too. */
R1_API void r1_sampler_accept(r1_sampler *sampler, const int32_t *tokens, int n_tokens);
/* Bias added to the logits of ids[i] before every draw (OpenAI logit_bias; -100 bans a token in
 * practice). Replaces any earlier bias; ids must be in [0, n_vocab). The arrays are copied. */
R1_API r1_status r1_sampler_set_logit_bias(r1_sampler *sampler, const int32_t *ids,
                                           const float *bias, int n, char *err);
/* The logits a draw would use now: out = logits with the bias and the penalties applied
 * (n_vocab floats; out may equal logits). For logprobs, and for tests. */
R1_API void r1_sampler_apply(r1_sampler *sampler, const float *logits, float *out);
/* Verify a drafted token: returns a token distributed exactly as r1_sampler_sample(logits) would
 * be, equal to `draft` with probability p(draft) (greedy: iff draft is the argmax); *accepted says
 * whether it is the draft. Used by speculative decoding (r1_session_generate). */
R1_API int32_t r1_sampler_sample_draft(r1_sampler *sampler, const float *logits, int32_t draft,
                                       bool *accepted);

/* ---- constrained decoding ---------------------------------------------------------------------
 * A grammar restricts which tokens the sampler may choose, so the output is a string of the
 * grammar: GBNF text (llama.cpp's format) or a JSON Schema (the subset of OpenAI's structured
 * outputs; docs/server-api.md lists it). Attach one to a sampler: each sample then draws only
 * from the allowed tokens (the others' logits are set to -inf), and the chosen token advances the
 * grammar. End-of-generation tokens are allowed only where the grammar can end; once it cannot
 * continue they are the only ones, so a complete value ends the reply. An MTP draft that breaks
 * the grammar has probability 0 and is rejected by r1_sampler_sample_draft.
 * A grammar follows one sequence (make one per sequence; r1_grammar_reset to reuse it); building
 * the first grammar of a model also builds its vocabulary trie (tens of ms), kept with the model.
 * To force a named function's arguments (tool calling), give that function's parameter schema,
 * or a GBNF grammar whose root writes the call around it. */
typedef struct r1_grammar r1_grammar;

typedef struct r1_grammar_params {
    const char *root; /* GBNF: the start rule (NULL: "root") */
    /* inactive until the model writes </think> (R1 reasoning models): the reasoning is free, the
     * answer after it follows the grammar; end tokens are refused while the reasoning is open */
    bool after_think;
    /* the tokens the generation may take in all (its max_tokens; 0: no limit). When the tokens
     * left come down to the fewest that complete the grammar, only tokens that bring the end
     * closer are allowed (and </think> first when the reasoning is still open), so a reply that
     * would otherwise ramble still ends as a complete string of the grammar. */
    int max_tokens;
} r1_grammar_params;

R1_API r1_grammar_params r1_grammar_params_default(void);
/* R1_ERR_INVALID_ARG with the line and problem for bad GBNF; R1_ERR_UNSUPPORTED when the model
 * has no vocabulary. params may be NULL. */
R1_API r1_status r1_grammar_new_gbnf(const r1_model *model, const char *gbnf,
                                     const r1_grammar_params *params, r1_grammar **out_grammar,
                                     char *err);
/* schema: JSON Schema text; NULL or "{}" = any JSON value, {"type":"object"} = any JSON object
 * (OpenAI's json_object mode). A keyword whose constraint cannot be enforced (pattern, minimum,
 * ...) is R1_ERR_UNSUPPORTED naming it. */
R1_API r1_status r1_grammar_new_json_schema(const r1_model *model, const char *schema,
                                            const r1_grammar_params *params,
                                            r1_grammar **out_grammar, char *err);
/* Check GBNF text without a model (root NULL: "root"): R1_OK, or the error with its line. */
R1_API r1_status r1_gbnf_check(const char *gbnf, const char *root, char *err);
/* The GBNF text a JSON Schema converts to (malloc'd; r1_free it). */
R1_API r1_status r1_json_schema_to_gbnf(const char *schema, char **out_gbnf, char *err);
R1_API void r1_grammar_free(r1_grammar *grammar);
/* Back to the start (and, with after_think, before the reasoning). */
R1_API void r1_grammar_reset(r1_grammar *grammar);
/* Set the logits (n_vocab of the model) of tokens the grammar does not allow now to -inf. */
R1_API r1_status r1_grammar_apply(r1_grammar *grammar, float *logits, char *err);
/* Advance by a chosen token: false (nothing changes) when the grammar does not allow it. */
R1_API bool r1_grammar_accept(r1_grammar *grammar, int32_t token);
/* Whether the output so far is a complete string of the grammar (false while inside the
 * reasoning of after_think). */
R1_API bool r1_grammar_is_complete(const r1_grammar *grammar);
/* Have `sampler` follow `grammar` (NULL: stop): r1_sampler_sample and r1_sampler_sample_draft
 * then draw from the allowed tokens and advance the grammar by what they return. The grammar
 * must outlive its use; one grammar per sampler. A token drawn but then discarded (a pending token
 * dropped by r1_session_eval or rewind) has already advanced it. */
R1_API void r1_sampler_set_grammar(r1_sampler *sampler, r1_grammar *grammar);

#ifdef __cplusplus
}
#endif
#endif
