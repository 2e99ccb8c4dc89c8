/* chat_template.c — the C renderers of the official chat templates (see chat_template.h) and the
 * OpenAI-style messages parser. Each renderer follows its Jinja source statement by statement; the
 * comments quote the conditions they implement. */
#include "tokenizer/chat_template.h"

#include "base/err.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- string builder ---------------------------------------------------------------------------
 */

typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd) {
            b->oom = true;
            return;
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    if (s) sb_add(b, s, strlen(s));
}

/* ---- names and detection ----------------------------------------------------------------------
 */

static const struct {
    const char *name;
    chat_template_kind kind;
} template_names[] = {
    {"deepseek-r1", CHAT_TEMPLATE_DEEPSEEK_R1},
    {"deepseek-v3", CHAT_TEMPLATE_DEEPSEEK_V3},
    {"deepseek-r1-distill", CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL},
    {"llama3", CHAT_TEMPLATE_LLAMA3},
    {"chatml", CHAT_TEMPLATE_CHATML},
    {"deepseek3", CHAT_TEMPLATE_DEEPSEEK_V3},
    {"r1-distill-qwen", CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL},
    {"r1-distill-llama", CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL},
};

bool chat_template_from_name(const char *name, chat_template_kind *out_kind)
{
    for (size_t i = 0; i < sizeof template_names / sizeof template_names[0]; i++) {
        if (strcmp(name, template_names[i].name) == 0) {
            *out_kind = template_names[i].kind;
            return true;
        }
    }
    return false;
}

const char *chat_template_name(chat_template_kind kind)
{
    for (size_t i = 0; i < sizeof template_names / sizeof template_names[0]; i++)
        if (template_names[i].kind == kind) return template_names[i].name;
    return "?";
}

const char *chat_template_names(void)
{
    return "deepseek-r1, deepseek-v3, deepseek-r1-distill, llama3, chatml";
}

chat_template_params chat_template_params_default(void)
{
    chat_template_params p = {CHAT_TEMPLATE_DEEPSEEK_R1, true, false};
    return p;
}

#define HAS(s) (strstr(text, (s)) != NULL)

chat_template_kind chat_template_detect(const char *text, chat_template_params *p,
                                        const char **out_warning)
{
    const char *warning = NULL;
    p->force_think = false;
    if (!text || !text[0]) {
        p->kind = CHAT_TEMPLATE_DEEPSEEK_R1;
        warning = "the model has no chat template; using deepseek-r1";
    } else if (HAS("<\xEF\xBD\x9C"
                   "Assistant\xEF\xBD\x9C>") ||
               HAS("<\xEF\xBD\x9C"
                   "User\xEF\xBD\x9C>")) {
        /* DeepSeek's tokens: <｜Assistant｜>, <｜User｜> */
        bool think_prompt = HAS("<\xEF\xBD\x9C"
                                "Assistant\xEF\xBD\x9C><think>");
        if (HAS("is_last_user")) {
            /* R1-0528 and later: tools in the system prompt, not reproduced exactly */
            p->kind = CHAT_TEMPLATE_DEEPSEEK_R1;
            warning = "DeepSeek template variant (R1-0528 style) rendered with deepseek-r1";
        } else if (HAS("is_first_sp")) {
            /* R1 and V3 join all system prompts; only R1 cuts reasoning at </think> */
            p->kind = HAS("</think>") ? CHAT_TEMPLATE_DEEPSEEK_R1 : CHAT_TEMPLATE_DEEPSEEK_V3;
        } else if (HAS("</think>")) {
            p->kind = CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL;
        } else {
            p->kind = CHAT_TEMPLATE_DEEPSEEK_R1;
            warning = "unrecognized DeepSeek-style chat template; using deepseek-r1";
        }
        p->force_think = think_prompt;
    } else if (HAS("<|start_header_id|>")) {
        p->kind = CHAT_TEMPLATE_LLAMA3;
    } else if (HAS("<|im_start|>")) {
        p->kind = CHAT_TEMPLATE_CHATML;
    } else {
        p->kind = CHAT_TEMPLATE_DEEPSEEK_R1;
        warning = "unrecognized chat template; using deepseek-r1 (choose with --chat-template)";
    }
    if (out_warning) *out_warning = warning;
    return p->kind;
}

/* ---- renderers --------------------------------------------------------------------------------
 */

#define T_USER                                                                                     \
    "<\xEF\xBD\x9C"                                                                                \
    "User\xEF\xBD\x9C>"
#define T_ASSISTANT                                                                                \
    "<\xEF\xBD\x9C"                                                                                \
    "Assistant\xEF\xBD\x9C>"
#define T_EOS                                                                                      \
    "<\xEF\xBD\x9C"                                                                                \
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"
#define T_BOS                                                                                      \
    "<\xEF\xBD\x9C"                                                                                \
    "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"
#define T_CALLS_BEGIN                                                                              \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "calls\xE2\x96\x81"                                                                            \
    "begin\xEF\xBD\x9C>"
#define T_CALLS_END                                                                                \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "calls\xE2\x96\x81"                                                                            \
    "end\xEF\xBD\x9C>"
#define T_CALL_BEGIN                                                                               \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "call\xE2\x96\x81"                                                                             \
    "begin\xEF\xBD\x9C>"
#define T_CALL_END                                                                                 \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "call\xE2\x96\x81"                                                                             \
    "end\xEF\xBD\x9C>"
#define T_SEP                                                                                      \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "sep\xEF\xBD\x9C>"
#define T_OUTPUTS_BEGIN                                                                            \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "outputs\xE2\x96\x81"                                                                          \
    "begin\xEF\xBD\x9C>"
#define T_OUTPUTS_END                                                                              \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "outputs\xE2\x96\x81"                                                                          \
    "end\xEF\xBD\x9C>"
#define T_OUTPUT_BEGIN                                                                             \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "output\xE2\x96\x81"                                                                           \
    "begin\xEF\xBD\x9C>"
#define T_OUTPUT_END                                                                               \
    "<\xEF\xBD\x9C"                                                                                \
    "tool\xE2\x96\x81"                                                                             \
    "output\xE2\x96\x81"                                                                           \
    "end\xEF\xBD\x9C>"

static bool role_is(const chat_message *m, const char *role)
{
    return m->role && strcmp(m->role, role) == 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* tool['type'] + '<｜tool▁sep｜>' + name + '\n```json\n' + arguments + '\n```<｜tool▁call▁end｜>'
 */
static void ds_tool_call_body(sbuf *b, const chat_tool_call *c)
{
    sb_str(b, str_or_empty(c->type));
    sb_str(b, T_SEP);
    sb_str(b, str_or_empty(c->name));
    sb_str(b, "\n```json\n");
    sb_str(b, str_or_empty(c->arguments));
    sb_str(b, "\n```" T_CALL_END);
}

/* content.split('</think>')[-1] */
static const char *after_last_think(const char *content)
{
    const char *c = str_or_empty(content), *p;
    while ((p = strstr(c, "</think>")) != NULL) c = p + strlen("</think>");
    return c;
}

static void render_deepseek(sbuf *b, chat_template_kind kind, const char *bos,
                            const chat_message *msgs, size_t n, const chat_template_params *p)
{
    bool r1 = kind == CHAT_TEMPLATE_DEEPSEEK_R1, v3 = kind == CHAT_TEMPLATE_DEEPSEEK_V3;
    bool distill = kind == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL;
    /* system prompt: R1/V3 join every system message with "\n\n"; the distills keep the last */
    sb_str(b, bos);
    sbuf sys = {0};
    bool first_sp = true;
    for (size_t i = 0; i < n; i++) {
        if (!role_is(&msgs[i], "system")) continue;
        if (distill)
            sys.len = 0;
        else if (!first_sp)
            sb_str(&sys, "\n\n");
        sb_str(&sys, str_or_empty(msgs[i].content));
        first_sp = false;
    }
    if (sys.oom) b->oom = true;
    if (sys.len) sb_add(b, sys.data, sys.len);
    free(sys.data);

    bool is_first = false, is_tool = false, is_output_first = true;
    for (size_t i = 0; i < n; i++) {
        const chat_message *m = &msgs[i];
        if (role_is(m, "user")) {
            is_tool = false;
            sb_str(b, T_USER);
            sb_str(b, str_or_empty(m->content));
        }
        bool assistant = role_is(m, "assistant");
        /* R1: 'tool_calls' in message; V3: content is none; distill: message['tool_calls'] */
        bool calls = assistant && (r1   ? m->has_tool_calls
                                   : v3 ? m->content == NULL
                                        : m->n_tool_calls > 0);
        if (calls) {
            is_tool = false;
            for (size_t k = 0; k < m->n_tool_calls; k++) {
                if (!is_first) {
                    if (r1 && m->content) {
                        sb_str(b, T_ASSISTANT);
                        sb_str(b, m->content);
                        sb_str(b, T_CALLS_BEGIN T_CALL_BEGIN);
                    } else {
                        sb_str(b, T_ASSISTANT T_CALLS_BEGIN T_CALL_BEGIN);
                    }
                    ds_tool_call_body(b, &m->tool_calls[k]);
                    is_first = true;
                } else {
                    sb_str(b, "\n" T_CALL_BEGIN);
                    ds_tool_call_body(b, &m->tool_calls[k]);
                    /* V3 closes the calls only inside this branch */
                    if (v3) sb_str(b, T_CALLS_END T_EOS);
                }
            }
            if (!v3) sb_str(b, T_CALLS_END T_EOS);
        }
        /* R1: 'tool_calls' not in message; V3/distill: content is not none */
        bool text = assistant && (r1 ? !m->has_tool_calls : m->content != NULL);
        if (text) {
            if (is_tool) {
                sb_str(b, T_OUTPUTS_END);
                sb_str(b, str_or_empty(m->content));
                sb_str(b, T_EOS);
                is_tool = false;
            } else {
                sb_str(b, T_ASSISTANT);
                sb_str(b, v3 ? str_or_empty(m->content) : after_last_think(m->content));
                sb_str(b, T_EOS);
            }
        }
        if (role_is(m, "tool")) {
            is_tool = true;
            if (is_output_first) {
                sb_str(b, T_OUTPUTS_BEGIN T_OUTPUT_BEGIN);
                is_output_first = false;
            } else {
                sb_str(b, r1 ? T_OUTPUT_BEGIN : "\n" T_OUTPUT_BEGIN);
            }
            sb_str(b, str_or_empty(m->content));
            sb_str(b, T_OUTPUT_END);
        }
    }
    if (is_tool) sb_str(b, T_OUTPUTS_END);
    if (p->add_generation_prompt && !is_tool) {
        sb_str(b, T_ASSISTANT);
        if (p->force_think) sb_str(b, "<think>\n");
    }
}

/* Jinja's trim (Python str.strip): leading and trailing whitespace. */
static void sb_trimmed(sbuf *b, const char *s)
{
    s = str_or_empty(s);
    size_t n = strlen(s);
    while (n && strchr(" \t\n\r\v\f", s[n - 1])) n--;
    size_t i = 0;
    while (i < n && strchr(" \t\n\r\v\f", s[i])) i++;
    sb_add(b, s + i, n - i);
}

static void render_llama3(sbuf *b, const char *bos, const chat_message *msgs, size_t n,
                          const chat_template_params *p)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0) sb_str(b, bos);
        sb_str(b, "<|start_header_id|>");
        sb_str(b, msgs[i].role);
        sb_str(b, "<|end_header_id|>\n\n");
        sb_trimmed(b, msgs[i].content);
        sb_str(b, "<|eot_id|>");
    }
    if (p->add_generation_prompt) {
        sb_str(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        if (p->force_think) sb_str(b, "<think>\n");
    }
}

static void render_chatml(sbuf *b, const chat_message *msgs, size_t n,
                          const chat_template_params *p)
{
    for (size_t i = 0; i < n; i++) {
        sb_str(b, "<|im_start|>");
        sb_str(b, msgs[i].role);
        sb_str(b, "\n");
        sb_str(b, str_or_empty(msgs[i].content));
        sb_str(b, "<|im_end|>\n");
    }
    if (p->add_generation_prompt) {
        sb_str(b, "<|im_start|>assistant\n");
        if (p->force_think) sb_str(b, "<think>\n");
    }
}

r1_status chat_template_render(const chat_template_params *p, const tokenizer *tok,
                               const chat_message *msgs, size_t n_msgs, char **out_text,
                               size_t *out_len, char *err)
{
    if (!p || (!msgs && n_msgs) || !out_text || !out_len)
        return err_set(err, R1_ERR_INVALID_ARG, "chat_template_render: NULL argument");
    for (size_t i = 0; i < n_msgs; i++)
        if (!msgs[i].role) return err_set(err, R1_ERR_INVALID_ARG, "message %zu has no role", i);
    /* BOS text: the tokenizer's, else the family's usual one */
    char bos_buf[256] = "";
    const char *bos = p->kind == CHAT_TEMPLATE_LLAMA3 ? "<|begin_of_text|>" : T_BOS;
    if (tok && tokenizer_bos(tok) >= 0) {
        size_t len;
        const char *s = tokenizer_token_text(tok, tokenizer_bos(tok), &len);
        if (s && len < sizeof bos_buf) {
            memcpy(bos_buf, s, len);
            bos_buf[len] = 0;
            bos = bos_buf;
        }
    }
    sbuf b = {0};
    sb_add(&b, "", 0);
    switch (p->kind) {
    case CHAT_TEMPLATE_DEEPSEEK_R1:
    case CHAT_TEMPLATE_DEEPSEEK_V3:
    case CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL:
        render_deepseek(&b, p->kind, bos, msgs, n_msgs, p);
        break;
    case CHAT_TEMPLATE_LLAMA3:
        render_llama3(&b, bos, msgs, n_msgs, p);
        break;
    case CHAT_TEMPLATE_CHATML:
        render_chatml(&b, msgs, n_msgs, p);
        break;
    default:
        free(b.data);
        return err_set(err, R1_ERR_INVALID_ARG, "unknown template kind");
    }
    if (b.oom) {
        free(b.data);
        return err_set(err, R1_ERR_NOMEM, "out of memory rendering the chat template");
    }
    *out_text = b.data;
    *out_len = b.len;
    return R1_OK;
}

/* ---- messages JSON ----------------------------------------------------------------------------
 */

typedef struct msg_store {
    cJSON *root;  /* parsed here (chat_messages_parse_json), or NULL: borrowed from the caller */
    char **owned; /* strings made here (joined content, serialized arguments) */
    size_t n_owned, cap_owned;
    chat_tool_call *calls;
} msg_store;

static const char *own(msg_store *s, char *str)
{
    if (!str) return NULL;
    if (s->n_owned == s->cap_owned) {
        size_t cap = s->cap_owned ? s->cap_owned * 2 : 16;
        char **no = realloc(s->owned, cap * sizeof *no);
        if (!no) {
            free(str);
            return NULL;
        }
        s->owned = no;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = str;
    return str;
}

static void store_free(msg_store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_owned; i++) free(s->owned[i]);
    free(s->owned);
    free(s->calls);
    cJSON_Delete(s->root);
    free(s);
}

void chat_messages_free(chat_messages *m)
{
    if (!m) return;
    store_free(m->priv);
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* A string field; content may also be an array of {type:"text", text} parts. *bad on wrong type. */
static const char *text_field(msg_store *s, const cJSON *obj, const char *key, bool *bad)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return NULL;
    if (cJSON_IsString(it)) return it->valuestring;
    if (cJSON_IsArray(it)) {
        sbuf b = {0};
        sb_add(&b, "", 0);
        const cJSON *part;
        cJSON_ArrayForEach(part, it)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (cJSON_IsString(part))
                sb_str(&b, part->valuestring);
            else if (cJSON_IsString(t))
                sb_str(&b, t->valuestring);
        }
        if (b.oom) {
            free(b.data);
            *bad = true;
            return NULL;
        }
        const char *r = own(s, b.data);
        if (!r) *bad = true;
        return r;
    }
    *bad = true;
    return NULL;
}

r1_status chat_messages_parse_json(const char *json, size_t n_bytes, chat_messages *out, char *err)
{
    cJSON *root = cJSON_ParseWithLength(json, n_bytes);
    if (!root) return err_set(err, R1_ERR_FORMAT, "messages: malformed JSON");
    r1_status st = chat_messages_from_cjson(root, out, err);
    if (st != R1_OK) {
        cJSON_Delete(root);
        return st;
    }
    ((msg_store *)out->priv)->root = root; /* the messages point into it */
    return R1_OK;
}

r1_status chat_messages_from_cjson(const cJSON *json, chat_messages *out, char *err)
{
    msg_store *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, R1_ERR_NOMEM, "out of memory");
    const cJSON *list = json;
    if (cJSON_IsObject(list)) list = cJSON_GetObjectItemCaseSensitive(list, "messages");
    if (!cJSON_IsArray(list)) {
        store_free(s);
        return err_set(err, R1_ERR_FORMAT, "messages: expected an array of messages");
    }
    size_t n = (size_t)cJSON_GetArraySize(list), n_calls = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        if (cJSON_IsArray(tc)) n_calls += (size_t)cJSON_GetArraySize(tc);
    }
    chat_message *items = calloc(n ? n : 1, sizeof *items);
    s->calls = calloc(n_calls ? n_calls : 1, sizeof *s->calls);
    if (!items || !s->calls) {
        free(items);
        store_free(s);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    size_t i = 0, c = 0;
    r1_status st = R1_OK;
    cJSON_ArrayForEach(m, list)
    {
        chat_message *msg = &items[i];
        bool bad = false;
        if (!cJSON_IsObject(m)) {
            st = err_set(err, R1_ERR_FORMAT, "message %zu is not an object", i);
            break;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role)) {
            st = err_set(err, R1_ERR_FORMAT, "message %zu has no \"role\" string", i);
            break;
        }
        msg->role = role->valuestring;
        msg->content = text_field(s, m, "content", &bad);
        msg->reasoning_content = text_field(s, m, "reasoning_content", &bad);
        msg->tool_call_id = text_field(s, m, "tool_call_id", &bad);
        if (bad) {
            st = err_set(err, R1_ERR_FORMAT, "message %zu: a text field has the wrong type", i);
            break;
        }
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        if (tc && !cJSON_IsNull(tc)) {
            if (!cJSON_IsArray(tc)) {
                st = err_set(err, R1_ERR_FORMAT, "message %zu: tool_calls is not an array", i);
                break;
            }
            msg->has_tool_calls = true;
            msg->tool_calls = &s->calls[c];
            const cJSON *call;
            cJSON_ArrayForEach(call, tc)
            {
                chat_tool_call *tcall = &s->calls[c++];
                const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
                const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
                tcall->id = text_field(s, call, "id", &bad);
                tcall->type = text_field(s, call, "type", &bad);
                if (!tcall->type && !bad) tcall->type = "function";
                tcall->name = text_field(s, fn, "name", &bad);
                if (cJSON_IsString(args))
                    tcall->arguments = args->valuestring;
                else if (args && !cJSON_IsNull(args)) {
                    tcall->arguments = own(s, cJSON_PrintUnformatted(args));
                    if (!tcall->arguments) bad = true;
                }
                if (!cJSON_IsObject(fn) || !tcall->name) bad = true;
                msg->n_tool_calls++;
            }
            if (bad) {
                st = err_set(err, R1_ERR_FORMAT,
                             "message %zu: each tool call needs function.name (and string fields)",
                             i);
                break;
            }
        }
        i++;
    }
    if (st != R1_OK) {
        free(items);
        store_free(s);
        return st;
    }
    out->items = items;
    out->n = n;
    out->priv = s;
    return R1_OK;
}
