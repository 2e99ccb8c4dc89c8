/* chat.c — r1_chat.h: the public chat-text helpers, thin handles over the tokenizer module's chat
 * templates (tokenizer/chat_template.c), reasoning parser (tokenizer/reasoning.c), streaming
 * detokenizer (tokenizer/tokenizer.c) and UTF-8 checks (tokenizer/unicode.c), plus the stop-string
 * matcher, which lives here.
 * Invariant: text handed out by a handle stays in that handle's buffers until its next call. */
#include "r1_chat.h"

#include "base/err.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/reasoning.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include <stdlib.h>
#include <string.h>

static r1_status oom(char *err)
{
    return err_set(err, R1_ERR_NOMEM, "out of memory");
}

/* A growable byte buffer; `failed` records an allocation failure during a callback. */
typedef struct buf {
    char *data;
    size_t n, cap;
    bool failed;
} buf;

static bool buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return false;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->n, s, n);
    b->n += n;
    b->data[b->n] = 0;
    return true;
}

/* ---- chat templates -------------------------------------------------------------------------- */

const char *r1_chat_template_names(void)
{
    return chat_template_names();
}

r1_chat_params r1_chat_params_default(void)
{
    return (r1_chat_params){
        .template_name = NULL, .add_generation_prompt = true, .think = R1_THINK_ON};
}

const char *r1_chat_template_name(const r1_model *model, bool *out_recognized)
{
    chat_template_params p = chat_template_params_default();
    const char *warning = NULL;
    chat_template_detect(model && model->tok ? tokenizer_chat_template(model->tok) : NULL, &p,
                         &warning);
    if (out_recognized) *out_recognized = warning == NULL;
    return chat_template_name(p.kind);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

r1_status r1_chat_apply_template(const r1_model *model, const r1_chat_params *params,
                                 const r1_chat_message *msgs, size_t n_msgs, char **out_text,
                                 size_t *out_len, bool *out_in_reasoning, char *err)
{
    r1_chat_params cp = params ? *params : r1_chat_params_default();
    if (!model && !cp.template_name)
        return err_set(err, R1_ERR_INVALID_ARG, "a chat template needs a model or a template name");
    if (n_msgs && !msgs) return err_set(err, R1_ERR_INVALID_ARG, "messages are NULL");
    if (cp.think < R1_THINK_ON || cp.think > R1_THINK_TEMPLATE)
        return err_set(err, R1_ERR_INVALID_ARG, "unknown think mode %d", (int)cp.think);
    chat_template_params tp = chat_template_params_default();
    const tokenizer *tok = model ? model->tok : NULL;
    if (cp.template_name) {
        if (!chat_template_from_name(cp.template_name, &tp.kind))
            return err_set(err, R1_ERR_INVALID_ARG, "unknown chat template '%s' (known: %s)",
                           cp.template_name, chat_template_names());
    } else {
        chat_template_detect(tok ? tokenizer_chat_template(tok) : NULL, &tp, NULL);
    }
    tp.add_generation_prompt = cp.add_generation_prompt;
    if (!cp.add_generation_prompt) tp.force_think = false;

    chat_message *m = calloc(n_msgs ? n_msgs : 1, sizeof *m);
    if (!m) return oom(err);
    for (size_t i = 0; i < n_msgs; i++) {
        if (!msgs[i].role) {
            free(m);
            return err_set(err, R1_ERR_INVALID_ARG, "message %zu has no role", i);
        }
        m[i] = (chat_message){.role = msgs[i].role, .content = msgs[i].content};
    }
    char *text = NULL;
    size_t len = 0;
    r1_status st = chat_template_render(&tp, tok, m, n_msgs, &text, &len, err);
    free(m);
    if (st) return st;

    buf b = {.data = text, .n = len, .cap = len + 1};
    bool in_reasoning = false;
    bool is_r1 =
        tp.kind == CHAT_TEMPLATE_DEEPSEEK_R1 || tp.kind == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL;
    bool has_think = ends_with(b.data, b.n, "<think>\n");
    if (cp.add_generation_prompt && is_r1 && cp.think != R1_THINK_TEMPLATE) {
        /* as `r1 run` (apps/cli/chat.c): DeepSeek recommends starting every R1 reply with
         * "<think>\n"; an empty block turns the reasoning off */
        if (cp.think == R1_THINK_OFF) {
            const char *tail = has_think ? "\n</think>\n\n" : "<think>\n\n</think>\n\n";
            buf_add(&b, tail, strlen(tail));
        } else {
            if (!has_think) buf_add(&b, "<think>\n", 8);
            in_reasoning = true;
        }
    } else if (cp.add_generation_prompt) {
        in_reasoning = has_think || ends_with(b.data, b.n, "<think>");
    }
    if (b.failed) {
        free(b.data);
        return oom(err);
    }
    *out_text = b.data;
    if (out_len) *out_len = b.n;
    if (out_in_reasoning) *out_in_reasoning = in_reasoning;
    return R1_OK;
}

/* ---- reasoning / answer split ---------------------------------------------------------------- */

struct r1_reasoning {
    reasoning_parser parser;
    bool start_in_reasoning;
    buf reasoning, answer; /* what the current call decided */
};

static void reasoning_collect(void *user, reasoning_part part, const char *text, size_t n)
{
    r1_reasoning *rs = user;
    buf_add(part == REASONING_PART_REASONING ? &rs->reasoning : &rs->answer, text, n);
}

r1_status r1_reasoning_new(bool start_in_reasoning, r1_reasoning **out_reasoning, char *err)
{
    r1_reasoning *rs = calloc(1, sizeof *rs);
    if (!rs) return oom(err);
    rs->start_in_reasoning = start_in_reasoning;
    reasoning_init(&rs->parser, REASONING_DEEPSEEK, start_in_reasoning, reasoning_collect, rs);
    *out_reasoning = rs;
    return R1_OK;
}

void r1_reasoning_free(r1_reasoning *rs)
{
    if (!rs) return;
    free(rs->reasoning.data);
    free(rs->answer.data);
    free(rs);
}

static r1_status reasoning_out(r1_reasoning *rs, const reasoning_parser *before,
                               r1_reasoning_parts *out_parts, char *err)
{
    if (rs->reasoning.failed || rs->answer.failed) {
        rs->parser = *before; /* the piece was not fed */
        rs->reasoning.failed = rs->answer.failed = false;
        rs->reasoning.n = rs->answer.n = 0;
        return oom(err);
    }
    *out_parts = (r1_reasoning_parts){
        .reasoning = rs->reasoning.data ? rs->reasoning.data : "",
        .n_reasoning = rs->reasoning.n,
        .answer = rs->answer.data ? rs->answer.data : "",
        .n_answer = rs->answer.n,
    };
    return R1_OK;
}

r1_status r1_reasoning_feed(r1_reasoning *rs, const char *text, size_t n,
                            r1_reasoning_parts *out_parts, char *err)
{
    if (n && !text) return err_set(err, R1_ERR_INVALID_ARG, "text is NULL");
    reasoning_parser before = rs->parser;
    rs->reasoning.n = rs->answer.n = 0;
    reasoning_feed(&rs->parser, text, n);
    return reasoning_out(rs, &before, out_parts, err);
}

r1_status r1_reasoning_finish(r1_reasoning *rs, r1_reasoning_parts *out_parts, char *err)
{
    reasoning_parser before = rs->parser;
    rs->reasoning.n = rs->answer.n = 0;
    reasoning_finish(&rs->parser);
    r1_status st = reasoning_out(rs, &before, out_parts, err);
    if (!st)
        reasoning_init(&rs->parser, REASONING_DEEPSEEK, rs->start_in_reasoning, reasoning_collect,
                       rs);
    return st;
}

bool r1_reasoning_is_open(const r1_reasoning *rs)
{
    return reasoning_is_open(&rs->parser);
}

/* ---- streaming detokenizer ------------------------------------------------------------------- */

struct r1_detok {
    detok *d;
};

r1_status r1_detok_new(const r1_model *model, bool render_special, r1_detok **out_detok, char *err)
{
    if (!model || !model->tok)
        return err_set(err, R1_ERR_UNSUPPORTED, "the model file has no vocabulary");
    r1_detok *dt = calloc(1, sizeof *dt);
    if (!dt) return oom(err);
    r1_status st = detok_new(model->tok, render_special, &dt->d, err);
    if (st) {
        free(dt);
        return st;
    }
    *out_detok = dt;
    return R1_OK;
}

void r1_detok_free(r1_detok *dt)
{
    if (!dt) return;
    detok_free(dt->d);
    free(dt);
}

r1_status r1_detok_feed(r1_detok *dt, int32_t id, const char **out_text, size_t *out_len, char *err)
{
    return detok_feed(dt->d, id, out_text, out_len, err);
}

void r1_detok_flush(r1_detok *dt, const char **out_text, size_t *out_len)
{
    detok_flush(dt->d, out_text, out_len);
}

/* ---- stop strings ---------------------------------------------------------------------------- */

struct r1_stop {
    char **stops; /* (n_stops), NUL-terminated copies; NULL for an empty one */
    size_t *lens; /* (n_stops) */
    size_t n_stops;
    buf hold;  /* text fed but not yet shown: it may be the start of a stop string */
    buf out;   /* what the last call returned */
    int which; /* stop string found, or -1 */
};

r1_status r1_stop_new(const char *const *stops, size_t n_stops, r1_stop **out_stop, char *err)
{
    if (n_stops && !stops) return err_set(err, R1_ERR_INVALID_ARG, "stop strings are NULL");
    r1_stop *st = calloc(1, sizeof *st);
    if (!st) return oom(err);
    st->which = -1;
    st->n_stops = n_stops;
    st->stops = calloc(n_stops ? n_stops : 1, sizeof *st->stops);
    st->lens = calloc(n_stops ? n_stops : 1, sizeof *st->lens);
    if (!st->stops || !st->lens) goto fail;
    for (size_t i = 0; i < n_stops; i++) {
        if (!stops[i] || !*stops[i]) continue;
        st->lens[i] = strlen(stops[i]);
        if (!(st->stops[i] = strdup(stops[i]))) goto fail;
    }
    *out_stop = st;
    return R1_OK;
fail:
    r1_stop_free(st);
    return oom(err);
}

void r1_stop_free(r1_stop *st)
{
    if (!st) return;
    for (size_t i = 0; st->stops && i < st->n_stops; i++) free(st->stops[i]);
    free(st->stops);
    free(st->lens);
    free(st->hold.data);
    free(st->out.data);
    free(st);
}

/* The length of the longest suffix of s[0..n) that is a proper prefix of some stop string. */
static size_t stop_partial(const r1_stop *st, const char *s, size_t n)
{
    size_t best = 0;
    for (size_t i = 0; i < st->n_stops; i++) {
        size_t k = st->lens[i] ? st->lens[i] - 1 : 0;
        if (k > n) k = n;
        for (; k > best; k--)
            if (!memcmp(s + n - k, st->stops[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

r1_status r1_stop_feed(r1_stop *st, const char *text, size_t n, const char **out_text,
                       size_t *out_len, bool *out_stopped, char *err)
{
    if (n && !text) return err_set(err, R1_ERR_INVALID_ARG, "text is NULL");
    st->out.n = 0;
    if (st->which >= 0) {
        *out_text = "";
        *out_len = 0;
        *out_stopped = true;
        return R1_OK;
    }
    size_t n_held = st->hold.n;
    if (!buf_add(&st->hold, text, n)) {
        st->hold.failed = false;
        return oom(err);
    }
    /* the earliest stop string in held + new text (a match may start in the held part) */
    const char *s = st->hold.data ? st->hold.data : "";
    size_t len = st->hold.n, cut = len;
    for (size_t i = 0; i < st->n_stops; i++) {
        if (!st->lens[i] || st->lens[i] > len) continue;
        const char *hit = memmem(s, len, st->stops[i], st->lens[i]);
        if (hit && (size_t)(hit - s) < cut) {
            cut = (size_t)(hit - s);
            st->which = (int)i;
        }
    }
    size_t show = st->which >= 0 ? cut : len - stop_partial(st, s, len);
    if (!buf_add(&st->out, s, show)) {
        st->out.failed = false;
        st->which = -1;
        st->hold.n = n_held;
        return oom(err);
    }
    /* keep the undecided tail; after a stop nothing more is kept */
    size_t keep = st->which >= 0 ? 0 : len - show;
    memmove(st->hold.data, s + show, keep);
    st->hold.n = keep;
    *out_text = st->out.data ? st->out.data : "";
    *out_len = st->out.n;
    *out_stopped = st->which >= 0;
    return R1_OK;
}

void r1_stop_flush(r1_stop *st, const char **out_text, size_t *out_len)
{
    /* hand out the held text through `out` by swapping buffers, so nothing is allocated */
    buf t = st->out;
    st->out = st->hold;
    st->hold = t;
    st->hold.n = 0;
    *out_text = st->out.data && st->out.n ? st->out.data : "";
    *out_len = st->out.n;
    st->which = -1;
}

int r1_stop_which(const r1_stop *st)
{
    return st->which;
}

size_t r1_utf8_valid_prefix(const char *s, size_t n)
{
    return s ? utf8_valid_prefix(s, n) : 0;
}

r1_status r1_utf8_repair(const char *s, size_t n, char **out_text, size_t *out_len, char *err)
{
    if ((!s && n) || !out_text || !out_len)
        return err_set(err, R1_ERR_INVALID_ARG, "text, out_text or out_len is NULL");
    size_t len = 0;
    char *t = utf8_repair(s ? s : "", n, &len);
    if (!t) return oom(err);
    *out_text = t;
    *out_len = len;
    return R1_OK;
}
