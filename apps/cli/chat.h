/* chat.h — a conversation with a model: the history, rendered with the chat template every turn,
 * and one session whose KV cache is reused for the longest shared token prefix.
 *
 * Invariant: `cached` holds exactly the tokens in the session's KV cache, in order
 * (n_cached == r1_session_n_past). A turn renders the whole history, encodes it, finds the longest
 * common prefix with `cached`, rewinds the session to it and evaluates only the rest; DeepSeek's R1
 * templates drop earlier reasoning, so a turn re-processes the previous answer (what follows the
 * reasoning) and the new user message, never the older history.
 *
 * Used by `r1 run` in both modes: chat_repl.c (interactive) and cmd_run.c (scriptable). */
#ifndef R1_CLI_CHAT_H
#define R1_CLI_CHAT_H

#include "r1.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/reasoning.h"
#include "tokenizer/tokenizer.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum chat_think {
    CHAT_THINK_SHOW = 0, /* the model thinks; reasoning is shown */
    CHAT_THINK_HIDE = 1, /* the model thinks; reasoning is not shown (kept in the result) */
    CHAT_THINK_OFF = 2,  /* R1 templates: the reply is prefilled with an empty <think></think> */
} chat_think;

bool chat_think_from_name(const char *name, chat_think *out);
const char *chat_think_name(chat_think t);

typedef enum chat_finish {
    CHAT_FINISH_STOP = 0,        /* end-of-sequence token */
    CHAT_FINISH_LENGTH = 1,      /* max_tokens reached */
    CHAT_FINISH_INTERRUPTED = 2, /* *stop was set (Ctrl-C) */
    CHAT_FINISH_CONTEXT = 3,     /* the context filled up while generating */
} chat_finish;

const char *chat_finish_name(chat_finish f);

typedef struct chat_msg {
    char *role;
    char *content;
    char *reasoning; /* NULL when none */
} chat_msg;

/* Streaming output of one reply. on_text gets the decoded text split into reasoning and content
 * (reasoning.h); on_reasoning_end is called once when a reasoning block ends (at </think>, or
 * when generation stops inside it) with its token count and duration. Any may be NULL. */
typedef struct chat_callbacks {
    void (*on_text)(void *user, reasoning_part part, const char *text, size_t n);
    void (*on_reasoning_start)(void *user);
    void (*on_reasoning_end)(void *user, int n_tokens, double seconds, chat_finish why);
    void *user;
} chat_callbacks;

typedef struct chat_stats {
    int n_prompt;    /* tokens of the rendered conversation */
    int n_reused;    /* of them, already in the KV cache */
    int n_processed; /* evaluated this turn: n_prompt - n_reused */
    int n_generated; /* tokens sampled, the end-of-sequence token included */
    int n_reasoning; /* of them, inside the reasoning block */
    double prompt_s; /* seconds evaluating the prompt */
    double gen_s;    /* seconds generating */
    chat_finish finish;
    int n_drafted, n_accepted; /* MTP drafts made and accepted this turn (0 without MTP) */
} chat_stats;

/* One line of timings (and MTP acceptance) for --verbose. */
void chat_print_stats(const chat_stats *s);

typedef struct chat {
    r1_model *model;      /* borrowed */
    const tokenizer *tok; /* borrowed */
    r1_model_info info;
    r1_session *session;
    r1_sampler *sampler;
    r1_sampler_params sampling;
    int max_tokens; /* per reply; <= 0: until end-of-sequence or the context is full */
    chat_think think;
    bool raw; /* no template: the prompt is the user text alone (BOS added per the model) */
    chat_template_params tmpl;
    char *system;   /* system prompt or NULL */
    chat_msg *msgs; /* (n_msgs) user/assistant turns */
    size_t n_msgs, cap_msgs;
    int32_t *cached; /* (n_cached) tokens in the KV cache */
    int n_cached, cap_cached;
    volatile sig_atomic_t *stop; /* set to non-zero to stop the current reply; may be NULL */
} chat;

/* Make a conversation over a loaded model and tokenizer (both must outlive it). n_ctx: session
 * context size (0: the library default). The template comes from the model's tokenizer unless
 * template_name is given; *out_warning receives a note when the template was not recognized. */
r1_status chat_init(chat *c, r1_model *model, const tokenizer *tok, int n_ctx, r1_mtp_mode mtp,
                    r1_cache_type cache_type, const char *template_name,
                    const r1_sampler_params *sampling, const char **out_warning, char *err);
void chat_free(chat *c);

/* Replace the sampler after c->sampling changed. */
r1_status chat_update_sampler(chat *c, char *err);

/* Append a user message and generate the assistant's reply, streaming it through cb; the reply
 * (content and reasoning, even when cut short) is appended to the history. When the prompt alone
 * does not fit the context, returns R1_ERR_CONTEXT_FULL and leaves the history as it was; when a
 * reply is interrupted before any token was generated, the user message is dropped too. */
r1_status chat_reply(chat *c, const char *user_text, const chat_callbacks *cb,
                     chat_stats *out_stats, char *err);

/* Forget the history (the KV cache stays and is reused where the next prompt matches it). */
void chat_clear(chat *c);
/* Keep only the first n_msgs messages (the KV cache stays, as for chat_clear). */
void chat_truncate(chat *c, size_t n_msgs);

/* Save / load the conversation as JSON: {"messages":[{"role","content","reasoning_content"}],
 * "system": ..., "options": {...}}. Loading replaces the history. */
r1_status chat_save(const chat *c, const char *path, char *err);
r1_status chat_load(chat *c, const char *path, char *err);

/* The last assistant message, or NULL. */
const chat_msg *chat_last_reply(const chat *c);

#endif
