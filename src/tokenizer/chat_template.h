/* chat_template.h — prompt formats of the R1 family, written as C renderers.
 *
 * No template engine runs text from a model file: the file's tokenizer.chat_template is only
 * *recognized* (by distinctive substrings of the official templates) to pick a renderer, and each
 * renderer reproduces its official Jinja template byte for byte (tests compare with renderings by
 * @huggingface/jinja, tests/data/tokenizer/templates/):
 *   deepseek-r1          DeepSeek-R1 (671B): BOS + system prompts joined by "\n\n",
 *                        <｜User｜>…<｜Assistant｜>…<｜end▁of▁sentence｜>, earlier assistant turns
 * cut to what follows the last </think>, tool calls/outputs with the tool tokens; force_think
 * appends "<think>\n" (R1's updated template does). deepseek-v3          DeepSeek-V3: as above
 * without the </think> cut, V3's tool-call layout. deepseek-r1-distill  R1-Distill-Qwen and
 * R1-Distill-Llama: last system prompt only, generation prompt "<｜Assistant｜><think>\n". llama3
 * Llama-3 Instruct headers (<|start_header_id|>role<|end_header_id|>). chatml
 * <|im_start|>role\n…<|im_end|>\n. The rendered text starts with the BOS *text* where the template
 * has it; encode it with parse_special=true and do not add another BOS. Quirks of the official
 * templates are kept (e.g. `is_first` never resets between assistant turns) because the models were
 * trained on them. */
#ifndef R1_TOKENIZER_CHAT_TEMPLATE_H
#define R1_TOKENIZER_CHAT_TEMPLATE_H

#include "r1.h"
#include "tokenizer/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum chat_template_kind {
    CHAT_TEMPLATE_DEEPSEEK_R1 = 0,
    CHAT_TEMPLATE_DEEPSEEK_V3 = 1,
    CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL = 2,
    CHAT_TEMPLATE_LLAMA3 = 3,
    CHAT_TEMPLATE_CHATML = 4,
} chat_template_kind;

typedef struct chat_tool_call {
    const char *id;        /* may be NULL */
    const char *type;      /* "function" */
    const char *name;      /* function name */
    const char *arguments; /* JSON text, as OpenAI sends it */
} chat_tool_call;

/* One message. Strings are borrowed (the caller keeps them alive while rendering). */
typedef struct chat_message {
    const char *role;              /* "system", "user", "assistant", "tool" */
    const char *content;           /* NULL = JSON null / absent */
    const char *reasoning_content; /* NULL when absent; the official templates drop it */
    const chat_tool_call *tool_calls;
    size_t n_tool_calls;
    bool has_tool_calls;      /* the message has a non-null "tool_calls" key (R1 tests presence) */
    const char *tool_call_id; /* tool results, may be NULL */
} chat_message;

typedef struct chat_template_params {
    chat_template_kind kind;
    bool add_generation_prompt; /* end with the assistant prefix (default true) */
    bool force_think;           /* and "<think>\n" after it (set by chat_template_detect) */
} chat_template_params;

chat_template_params chat_template_params_default(void); /* deepseek-r1, prompt on, no think */

/* Pick the renderer for a model's template text (may be NULL). Sets p->kind and p->force_think;
 * returns p->kind. When the text is missing or not recognized, falls back to deepseek-r1 and
 * *out_warning (if not NULL) gets a constant message saying so; otherwise it is set to NULL. */
chat_template_kind chat_template_detect(const char *template_text, chat_template_params *p,
                                        const char **out_warning);

/* Name <-> kind ("deepseek-r1", "deepseek-v3", "deepseek-r1-distill", "llama3", "chatml"; also
 * "r1-distill-qwen", "r1-distill-llama", "deepseek3"). */
bool chat_template_from_name(const char *name, chat_template_kind *out_kind);
const char *chat_template_name(chat_template_kind kind);
const char *chat_template_names(void); /* "deepseek-r1, deepseek-v3, ..." for help texts */

/* Render messages to a malloc'd NUL-terminated string (free() it). tok (may be NULL) supplies the
 * BOS text; without it the family's usual BOS text is used. R1_ERR_INVALID_ARG for a message
 * without a role. */
r1_status chat_template_render(const chat_template_params *p, const tokenizer *tok,
                               const chat_message *msgs, size_t n_msgs, char **out_text,
                               size_t *out_len, char *err);

/* ---- OpenAI-style messages JSON ---------------------------------------------------------------
 */

typedef struct chat_messages {
    chat_message *items; /* (n) */
    size_t n;
    void *priv; /* storage owned by the list */
} chat_messages;

/* Parse `[{"role":…,"content":…,"reasoning_content":…,"tool_calls":[{"type":"function",
 * "function":{"name":…,"arguments":"…"}}]}, …]` or `{"messages": [...]}`. Content given as an array
 * of parts joins the "text" parts; arguments given as an object are re-serialized compactly. */
r1_status chat_messages_parse_json(const char *json, size_t n_bytes, chat_messages *out, char *err);
/* The same from a tree the caller already parsed (a request body: parsed once, not twice). The
 * messages borrow its strings: keep `json` until chat_messages_free. */
struct cJSON;
r1_status chat_messages_from_cjson(const struct cJSON *json, chat_messages *out, char *err);
void chat_messages_free(chat_messages *m);

#endif
