/* r1_chat.h — text helpers of libr1 for chat applications: what `r1 run` and `r1 serve` do
 * between the tokens and the screen, as public API.
 *
 * Usage (one chat turn; error handling left out):
 *   r1_chat_message msgs[] = {{"user", "What is 47*38?"}};
 *   r1_chat_params cp = r1_chat_params_default();
 *   char *prompt; size_t n; bool in_think;
 *   r1_chat_apply_template(model, &cp, msgs, 1, &prompt, &n, &in_think, err);
 *   r1_tokenize(model, prompt, n, false, true, &ids, &n_ids, err);      // the template has BOS
 *   r1_session_eval(session, ids, (int)n_ids, err);
 *   r1_detok *dt; r1_detok_new(model, false, &dt, err);
 *   r1_reasoning *rs; r1_reasoning_new(in_think, &rs, err);
 *   loop: r1_session_generate(session, sampler, out, &n_out, err); for each id until
 *         r1_token_is_eog(model, id): r1_detok_feed(dt, id, &text, &len, err);
 *         r1_reasoning_feed(rs, text, len, &parts, err); show parts.reasoning, parts.answer
 *   r1_detok_flush + r1_reasoning_feed, then r1_reasoning_finish; free the handles and prompt.
 *
 * Contracts are those of r1.h: r1_status + `err` (R1_ERR_MAX bytes, may be NULL), out-params
 * unchanged on failure, nothing printed. Every handle here is used by one thread at a time; a
 * handle made from a model must not outlive it. Text is UTF-8; text a handle returns is valid
 * until the next call on that handle.
 */
#ifndef R1_CHAT_H
#define R1_CHAT_H

#include "r1.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- chat templates ------------------------------------------------------------------------
 * No template engine runs text from a model file: the model's tokenizer.chat_template is
 * recognized among the R1 family's official templates, each reproduced in C byte for byte:
 * "deepseek-r1", "deepseek-v3", "deepseek-r1-distill", "llama3", "chatml". */

typedef struct r1_chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* UTF-8; NULL = none */
} r1_chat_message;

typedef enum r1_think_mode {
    R1_THINK_ON = 0,       /* R1-family templates: the prompt ends with "<think>\n" (DeepSeek's
                              advice, what `r1 run` does) */
    R1_THINK_OFF = 1,      /* R1-family templates: an empty "<think>\n\n</think>\n\n" block, so the
                              model answers directly */
    R1_THINK_TEMPLATE = 2, /* exactly what the template renders */
} r1_think_mode;

typedef struct r1_chat_params {
    const char *template_name;  /* NULL: the model's own template (deepseek-r1 when unknown) */
    bool add_generation_prompt; /* end with the assistant's prefix (default true) */
    r1_think_mode think;        /* only with add_generation_prompt (default R1_THINK_ON) */
} r1_chat_params;

R1_API r1_chat_params r1_chat_params_default(void);

/* The template names r1_chat_params.template_name accepts, comma-separated ("deepseek-r1,
 * deepseek-v3, ..."; a constant string) for help texts and error messages. (API 2) */
R1_API const char *r1_chat_template_names(void);

/* The name of the template r1_chat_apply_template uses for this model when template_name is NULL
 * (a constant string). *out_recognized (may be NULL) says whether the model's template text was
 * recognized; when not, this is the "deepseek-r1" fallback. */
R1_API const char *r1_chat_template_name(const r1_model *model, bool *out_recognized);

/* Render n_msgs messages to the prompt text: *out_text is malloc'd and NUL-terminated (free() it),
 * *out_len its length. It starts with the BOS text where the template has one: tokenize it with
 * add_bos=false, parse_special=true. *out_in_reasoning (may be NULL) says whether the prompt
 * leaves the model inside <think> (pass it to r1_reasoning_new). model may be NULL when
 * params->template_name is set (the family's usual BOS text is used); params NULL = defaults.
 * R1_ERR_INVALID_ARG: an unknown template name (err lists the known ones), a message without a
 * role, or neither a model nor a template name. */
R1_API r1_status r1_chat_apply_template(const r1_model *model, const r1_chat_params *params,
                                        const r1_chat_message *msgs, size_t n_msgs, char **out_text,
                                        size_t *out_len, bool *out_in_reasoning, char *err);

/* ---- reasoning / answer split ----------------------------------------------------------------
 * Splits streamed output text at <think> … </think>: "<think>" opens the reasoning only as the
 * first thing in the output (whitespace before it is dropped); "</think>" closes it and the
 * whitespace right after it is dropped; everything after is the answer, tags included. Output cut
 * off inside the reasoning stays reasoning. The split does not depend on how the text is cut into
 * pieces: a tag cut across pieces is held back until it is decided. */

typedef struct r1_reasoning r1_reasoning;

typedef struct r1_reasoning_parts {
    const char *reasoning; /* n_reasoning bytes of reasoning, then */
    size_t n_reasoning;
    const char *answer; /* n_answer bytes of answer (within one call the reasoning comes first) */
    size_t n_answer;
} r1_reasoning_parts;

/* start_in_reasoning: the prompt already opened <think> (r1_chat_apply_template's
 * *out_in_reasoning). */
R1_API r1_status r1_reasoning_new(bool start_in_reasoning, r1_reasoning **out_reasoning, char *err);
R1_API void r1_reasoning_free(r1_reasoning *rs);
/* Feed n bytes of output text; *out_parts receives the newly decided text (either part may be
 * empty; not NUL-terminated), valid until the next call on rs. R1_ERR_NOMEM leaves rs usable
 * with the piece not fed. */
R1_API r1_status r1_reasoning_feed(r1_reasoning *rs, const char *text, size_t n,
                                   r1_reasoning_parts *out_parts, char *err);
/* End of output: release what is held back (a partial tag is text). rs then starts over as new
 * with the same start_in_reasoning. */
R1_API r1_status r1_reasoning_finish(r1_reasoning *rs, r1_reasoning_parts *out_parts, char *err);
/* Whether the text fed so far ends inside the reasoning. */
R1_API bool r1_reasoning_is_open(const r1_reasoning *rs);

/* ---- streaming detokenizer -------------------------------------------------------------------
 * Turns ids into text one at a time and never returns half a UTF-8 character: the bytes of a
 * character split over several tokens are held back until it is complete; an incomplete or
 * invalid sequence becomes U+FFFD (at a special token or at the flush). Feeding all ids and then
 * flushing gives exactly r1_detokenize's text. */

typedef struct r1_detok r1_detok;

/* render_special: also show control tokens (BOS, EOS) as their text; false drops them as
 * r1_detokenize does. R1_ERR_UNSUPPORTED for a model without a vocabulary. */
R1_API r1_status r1_detok_new(const r1_model *model, bool render_special, r1_detok **out_detok,
                              char *err);
R1_API void r1_detok_free(r1_detok *dt);
/* One id: *out_text gets the newly completed text (valid UTF-8, possibly empty, not
 * NUL-terminated) and *out_len its length. An id out of range is R1_ERR_INVALID_ARG (state
 * unchanged). */
R1_API r1_status r1_detok_feed(r1_detok *dt, int32_t id, const char **out_text, size_t *out_len,
                               char *err);
/* End of stream: the held-back bytes (U+FFFD for an incomplete character); dt starts over. */
R1_API void r1_detok_flush(r1_detok *dt, const char **out_text, size_t *out_len);

/* ---- stop strings ----------------------------------------------------------------------------
 * Cuts a text stream at the first occurrence of any of a set of stop strings, holding back the
 * text that might be the start of one until it is decided, so a stop string cut across pieces is
 * never shown. */

typedef struct r1_stop r1_stop;

/* n_stops strings (copied; empty ones are ignored; n_stops may be 0). */
R1_API r1_status r1_stop_new(const char *const *stops, size_t n_stops, r1_stop **out_stop,
                             char *err);
R1_API void r1_stop_free(r1_stop *st);
/* Feed n bytes: *out_text gets the text that is now safe to show (not NUL-terminated). When a stop
 * string completes, it is the text before it, *out_stopped becomes true, and the stop string and
 * everything fed after it are dropped. */
R1_API r1_status r1_stop_feed(r1_stop *st, const char *text, size_t n, const char **out_text,
                              size_t *out_len, bool *out_stopped, char *err);
/* End of stream: the text still held back (none after a stop); st then starts over. */
R1_API void r1_stop_flush(r1_stop *st, const char **out_text, size_t *out_len);
/* Index (in r1_stop_new's array) of the stop string found, or -1. */
R1_API int r1_stop_which(const r1_stop *st);

/* ---- UTF-8 ------------------------------------------------------------------------------------
 * Text from outside (request bodies, files) and a single token's bytes (which may hold part of a
 * character) checked and repaired by the Unicode rules the detokenizer uses: no overlong forms,
 * no surrogates, nothing above U+10FFFF; an invalid sequence is its "maximal subpart" (WHATWG
 * TextDecoder, Python's errors="replace"). (API 2) */

/* Length of the longest prefix of s[0..n) that is valid UTF-8 (n when all of it is; 0 for s NULL).
 */
R1_API size_t r1_utf8_valid_prefix(const char *s, size_t n);
/* s[0..n) with every invalid sequence replaced by U+FFFD (EF BF BD): *out_text is malloc'd and
 * NUL-terminated (free() or r1_free() it), *out_len its length. R1_ERR_INVALID_ARG for s NULL with
 * n > 0, R1_ERR_NOMEM. */
R1_API r1_status r1_utf8_repair(const char *s, size_t n, char **out_text, size_t *out_len,
                                char *err);

#ifdef __cplusplus
}
#endif
#endif
