/* chat.c — the conversation engine of `r1 run` (see chat.h): render, reuse the cached prefix,
 * prefill, sample, split reasoning from content, keep the history. */
#include "chat.h"
#include "common.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static r1_status fail(char *err, r1_status st, const char *msg, const char *path)
{
    if (err) snprintf(err, R1_ERR_MAX, "%s%s%s", path ? path : "", path ? ": " : "", msg);
    return st;
}

static r1_status oom(char *err)
{
    return fail(err, R1_ERR_NOMEM, "out of memory", NULL);
}

bool chat_think_from_name(const char *name, chat_think *out)
{
    static const char *names[] = {"show", "hide", "off"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (chat_think)i;
            return true;
        }
    if (!strcmp(name, "on")) {
        *out = CHAT_THINK_SHOW;
        return true;
    }
    return false;
}

const char *chat_think_name(chat_think t)
{
    return t == CHAT_THINK_HIDE ? "hide" : t == CHAT_THINK_OFF ? "off" : "show";
}

const char *chat_finish_name(chat_finish f)
{
    static const char *names[] = {"stop", "length", "interrupted", "context_full"};
    return names[f];
}

/* ---- growable buffers ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *data;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *t = realloc(b->data, cap);
        if (!t) {
            b->oom = true;
            return;
        }
        b->data = t;
        b->cap = cap;
    }
    memcpy(b->data + b->n, s, n);
    b->n += n;
    b->data[b->n] = 0;
}

/* Take the string out of b (never NULL unless out of memory). */
static char *sb_take(sbuf *b)
{
    if (!b->data && !b->oom) return strdup("");
    char *s = b->oom ? NULL : b->data;
    if (b->oom) free(b->data);
    memset(b, 0, sizeof *b);
    return s;
}

static bool cached_push(chat *c, const int32_t *ids, int n)
{
    if (c->n_cached + n > c->cap_cached) {
        int cap = c->cap_cached ? c->cap_cached : 1024;
        while (cap < c->n_cached + n) cap *= 2;
        int32_t *t = realloc(c->cached, (size_t)cap * sizeof *t);
        if (!t) return false;
        c->cached = t;
        c->cap_cached = cap;
    }
    memcpy(c->cached + c->n_cached, ids, (size_t)n * sizeof *ids);
    c->n_cached += n;
    return true;
}

static void msg_free(chat_msg *m)
{
    free(m->role);
    free(m->content);
    free(m->reasoning);
    memset(m, 0, sizeof *m);
}

/* Append a message; takes ownership of content and reasoning (freed on failure). */
static bool msgs_push(chat *c, const char *role, char *content, char *reasoning)
{
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        chat_msg *t = realloc(c->msgs, cap * sizeof *t);
        if (!t) goto oom;
        c->msgs = t;
        c->cap_msgs = cap;
    }
    chat_msg *m = &c->msgs[c->n_msgs];
    if (!content || !(m->role = strdup(role))) goto oom;
    m->content = content;
    m->reasoning = reasoning;
    c->n_msgs++;
    return true;
oom:
    free(content);
    free(reasoning);
    return false;
}

/* ---- setup ----------------------------------------------------------------------------------- */

r1_status chat_init(chat *c, r1_model *model, const tokenizer *tok, int n_ctx, r1_mtp_mode mtp,
                    r1_cache_type cache_type, const char *template_name,
                    const r1_sampler_params *sampling, const char **out_warning, char *err)
{
    memset(c, 0, sizeof *c);
    c->model = model;
    c->tok = tok;
    r1_model_get_info(model, &c->info);
    c->sampling = *sampling;
    c->tmpl = chat_template_params_default();
    const char *warning = NULL;
    if (template_name) {
        if (!chat_template_from_name(template_name, &c->tmpl.kind)) {
            if (err)
                snprintf(err, R1_ERR_MAX, "unknown chat template '%s' (known: %s)", template_name,
                         chat_template_names());
            return R1_ERR_INVALID_ARG;
        }
    } else {
        chat_template_detect(tokenizer_chat_template(tok), &c->tmpl, &warning);
    }
    if (out_warning) *out_warning = warning;
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = n_ctx;
    sp.mtp = mtp;
    sp.cache_type = cache_type;
    r1_status st = r1_session_new(model, &sp, &c->session, err);
    if (st) return st;
    st = r1_sampler_new(&c->sampling, c->info.n_vocab, &c->sampler, err);
    if (st) {
        r1_session_free(c->session);
        c->session = NULL;
    }
    return st;
}

void chat_print_stats(const chat_stats *s)
{
    fprintf(stderr,
            "prompt: %d tokens processed, %d reused from cache (%d in all), %.2f tok/s | "
            "generated: %d tokens (%d reasoning), %.2f tok/s",
            s->n_processed, s->n_reused, s->n_prompt,
            s->prompt_s > 0 ? s->n_processed / s->prompt_s : 0.0, s->n_generated, s->n_reasoning,
            s->gen_s > 0 ? s->n_generated / s->gen_s : 0.0);
    if (s->n_drafted > 0)
        fprintf(stderr, " | MTP: %d of %d drafts accepted (%.0f%%)", s->n_accepted, s->n_drafted,
                100.0 * s->n_accepted / s->n_drafted);
    fputc('\n', stderr);
}

void chat_clear(chat *c)
{
    chat_truncate(c, 0);
}

void chat_truncate(chat *c, size_t n_msgs)
{
    while (c->n_msgs > n_msgs) msg_free(&c->msgs[--c->n_msgs]);
}

void chat_free(chat *c)
{
    chat_clear(c);
    free(c->msgs);
    free(c->cached);
    free(c->system);
    r1_sampler_free(c->sampler);
    r1_session_free(c->session);
    memset(c, 0, sizeof *c);
}

r1_status chat_update_sampler(chat *c, char *err)
{
    r1_sampler *s = NULL;
    r1_status st = r1_sampler_new(&c->sampling, c->info.n_vocab, &s, err);
    if (st) return st;
    r1_sampler_free(c->sampler);
    c->sampler = s;
    return R1_OK;
}

const chat_msg *chat_last_reply(const chat *c)
{
    for (size_t i = c->n_msgs; i-- > 0;)
        if (!strcmp(c->msgs[i].role, "assistant")) return &c->msgs[i];
    return NULL;
}

/* ---- one turn -------------------------------------------------------------------------------- */

static bool is_r1_family(chat_template_kind k)
{
    return k == CHAT_TEMPLATE_DEEPSEEK_R1 || k == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* The prompt text of the whole conversation and whether it leaves the model inside <think>. */
static r1_status render_prompt(const chat *c, char **out_text, size_t *out_len,
                               bool *out_in_reasoning, char *err)
{
    sbuf b = {0};
    *out_in_reasoning = false;
    if (c->raw) {
        /* no template: the text of every turn, one after the other */
        if (c->system) sb_add(&b, c->system, strlen(c->system));
        for (size_t i = 0; i < c->n_msgs; i++)
            sb_add(&b, c->msgs[i].content, strlen(c->msgs[i].content));
    } else {
        size_t n = c->n_msgs + (c->system ? 1 : 0), k = 0;
        chat_message *m = calloc(n ? n : 1, sizeof *m);
        if (!m) return oom(err);
        if (c->system) m[k++] = (chat_message){.role = "system", .content = c->system};
        for (size_t i = 0; i < c->n_msgs; i++)
            m[k++] = (chat_message){.role = c->msgs[i].role,
                                    .content = c->msgs[i].content,
                                    .reasoning_content = c->msgs[i].reasoning};
        char *text = NULL;
        size_t len = 0;
        r1_status st = chat_template_render(&c->tmpl, c->tok, m, n, &text, &len, err);
        free(m);
        if (st) return st;
        b.data = text;
        b.n = len;
        b.cap = len + 1;
        if (is_r1_family(c->tmpl.kind)) {
            /* DeepSeek recommends starting every R1 reply with "<think>\n"; an empty block
             * turns the reasoning off (the model answers directly). */
            bool has_think = ends_with(b.data, b.n, "<think>\n");
            if (c->think == CHAT_THINK_OFF) {
                const char *tail = has_think ? "\n</think>\n\n" : "<think>\n\n</think>\n\n";
                sb_add(&b, tail, strlen(tail));
            } else {
                if (!has_think) sb_add(&b, "<think>\n", 8);
                *out_in_reasoning = true;
            }
        } else {
            *out_in_reasoning =
                ends_with(b.data, b.n, "<think>\n") || ends_with(b.data, b.n, "<think>");
        }
    }
    if (b.oom) {
        free(b.data);
        return oom(err);
    }
    *out_len = b.n;
    *out_text = sb_take(&b);
    return *out_text ? R1_OK : oom(err);
}

static r1_status encode_prompt(const chat *c, const char *text, size_t len, int32_t **out_ids,
                               size_t *out_n, char *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    /* templates write the BOS text themselves; raw text gets BOS when the model asks for it */
    r1_status st = tokenizer_encode(c->tok, text, len, !c->raw, &ids, &n, err);
    if (st) return st;
    int32_t bos = tokenizer_bos(c->tok);
    if (c->raw && tokenizer_add_bos(c->tok) && bos >= 0) {
        int32_t *t = realloc(ids, (n + 1) * sizeof *t);
        if (!t) {
            free(ids);
            return oom(err);
        }
        ids = t;
        memmove(ids + 1, ids, n * sizeof *ids);
        ids[0] = bos;
        n++;
    }
    *out_ids = ids;
    *out_n = n;
    return R1_OK;
}

/* State of one reply while it streams. */
typedef struct turn {
    const chat_callbacks *cb;
    sbuf content, reasoning;
    bool reasoning_open, reasoning_done;
    int n_generated;
    int n_reasoning;
    double t_start;
} turn;

static void turn_end_reasoning(turn *t, chat_finish why)
{
    if (!t->reasoning_open || t->reasoning_done) return;
    t->reasoning_done = true;
    t->n_reasoning = t->n_generated;
    if (t->cb && t->cb->on_reasoning_end)
        t->cb->on_reasoning_end(t->cb->user, t->n_reasoning, now_s() - t->t_start, why);
}

static void turn_emit(void *user, reasoning_part part, const char *text, size_t n)
{
    turn *t = user;
    if (part == REASONING_PART_REASONING) {
        if (!t->reasoning_open) {
            t->reasoning_open = true;
            if (t->cb && t->cb->on_reasoning_start) t->cb->on_reasoning_start(t->cb->user);
        }
        sb_add(&t->reasoning, text, n);
    } else {
        turn_end_reasoning(t, CHAT_FINISH_STOP);
        sb_add(&t->content, text, n);
    }
    if (t->cb && t->cb->on_text) t->cb->on_text(t->cb->user, part, text, n);
}

/* Tokens that end a reply: the model's EOS and the end-of-turn tokens of the templates. */
static bool is_stop_token(const chat *c, int32_t id)
{
    if (id == c->info.eos_id || id == tokenizer_eos(c->tok)) return true;
    size_t len;
    const char *text = tokenizer_token_text(c->tok, id, &len);
    if (!text || !tokenizer_is_special(c->tok, id)) return false;
    static const char *ends[] = {"<\xEF\xBD\x9C"
                                 "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                                 "<|eot_id|>", "<|im_end|>", "<|end_of_text|>"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (len == strlen(ends[i]) && !memcmp(text, ends[i], len)) return true;
    return false;
}

/* Test hook: R1_TEST_TOKEN_DELAY_MS slows generation down so that a test driving the chat
 * through a terminal can press Ctrl-C in the middle of a reply of a tiny, very fast model. */
static void test_delay(void)
{
    static long ms = -1;
    if (ms < 0) {
        const char *s = getenv("R1_TEST_TOKEN_DELAY_MS");
        ms = s ? strtol(s, NULL, 10) : 0;
        if (ms < 0) ms = 0;
    }
    if (ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

r1_status chat_reply(chat *c, const char *user_text, const chat_callbacks *cb,
                     chat_stats *out_stats, char *err)
{
    chat_stats st0 = {0};
    *out_stats = st0;
    char *ut = strdup(user_text);
    if (!ut || !msgs_push(c, "user", ut, NULL)) return oom(err);

    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    bool in_reasoning = false;
    detok *dt = NULL;
    r1_status st = render_prompt(c, &text, &len, &in_reasoning, err);
    if (!st) st = encode_prompt(c, text, len, &ids, &n_ids, err);
    free(text);
    if (!st) st = detok_new(c->tok, false, &dt, err);
    if (st) goto drop_user;
    int n_ctx = r1_session_n_ctx(c->session);
    if (n_ids == 0) {
        st = fail(err, R1_ERR_INVALID_ARG, "the prompt is empty", NULL);
        goto drop_user;
    }
    if ((int)n_ids >= n_ctx) {
        if (err)
            snprintf(err, R1_ERR_MAX,
                     "the conversation is %zu tokens, more than the context size %d", n_ids, n_ctx);
        st = R1_ERR_CONTEXT_FULL;
        goto drop_user;
    }

    /* reuse the longest common prefix; keep at least one token to evaluate for the logits */
    int common = 0;
    while (common < c->n_cached && common < (int)n_ids && c->cached[common] == ids[common])
        common++;
    if (common == (int)n_ids) common--;
    r1_session_rewind(c->session, common);
    c->n_cached = common;
    out_stats->n_prompt = (int)n_ids;
    out_stats->n_reused = common;

    /* prefill in batches, so that Ctrl-C is noticed between them */
    double t0 = now_s();
    for (int done = common; done < (int)n_ids;) {
        if (c->stop && *c->stop) {
            out_stats->finish = CHAT_FINISH_INTERRUPTED;
            out_stats->prompt_s = now_s() - t0;
            st = R1_OK;
            goto drop_user;
        }
        int n = (int)n_ids - done < 256 ? (int)n_ids - done : 256;
        if ((st = r1_session_eval(c->session, ids + done, n, err))) goto drop_user;
        if (!cached_push(c, ids + done, n)) {
            st = oom(err);
            goto drop_user;
        }
        done += n;
        out_stats->n_processed += n;
    }
    double t1 = now_s();
    out_stats->prompt_s = t1 - t0;

    turn t = {.cb = cb, .t_start = t1};
    reasoning_parser rp;
    reasoning_init(&rp, c->raw ? REASONING_NONE : REASONING_DEEPSEEK, in_reasoning, turn_emit, &t);
    if (in_reasoning) {
        t.reasoning_open = true;
        if (cb && cb->on_reasoning_start) cb->on_reasoning_start(cb->user);
    }
    int32_t think_end = tokenizer_token_id(c->tok, "</think>", 8);
    chat_finish finish = CHAT_FINISH_STOP;
    const char *piece;
    size_t n_piece;
    /* r1_session_generate returns one token, or two when the MTP draft was accepted; both are
     * already in the cache. Tokens not shown (after a stop) are rewound below. */
    int32_t step[2];
    int n_step = 0, used = 0;
    bool stop_token = false;
    uint64_t drafted0, accepted0;
    r1_session_mtp_stats(c->session, &drafted0, &accepted0);
    for (;;) {
        if (c->stop && *c->stop) {
            finish = CHAT_FINISH_INTERRUPTED;
            break;
        }
        if (c->max_tokens > 0 && t.n_generated >= c->max_tokens) {
            finish = CHAT_FINISH_LENGTH;
            break;
        }
        if (used == n_step) {
            if (r1_session_n_past(c->session) >= n_ctx) {
                finish = CHAT_FINISH_CONTEXT;
                break;
            }
            test_delay();
            if ((st = r1_session_generate(c->session, c->sampler, step, &n_step, err))) break;
            if (!cached_push(c, step, n_step)) {
                st = oom(err);
                break;
            }
            used = 0;
        }
        int32_t id = step[used++];
        t.n_generated++;
        if (is_stop_token(c, id)) {
            stop_token = true;
            break;
        }
        if (detok_feed(dt, id, &piece, &n_piece, NULL) == R1_OK && n_piece)
            reasoning_feed(&rp, piece, n_piece);
        if (id == think_end && !c->raw) turn_end_reasoning(&t, CHAT_FINISH_STOP);
    }
    /* the cache keeps what was shown, as without drafting: not the stop token, not a draft
     * beyond the end */
    int drop = n_step - used + (stop_token ? 1 : 0);
    if (drop > 0 && !st) {
        r1_session_rewind(c->session, r1_session_n_past(c->session) - drop);
        c->n_cached -= drop;
    }
    detok_flush(dt, &piece, &n_piece);
    if (n_piece) reasoning_feed(&rp, piece, n_piece);
    reasoning_finish(&rp);
    turn_end_reasoning(&t, finish);
    detok_free(dt);
    free(ids);
    out_stats->gen_s = now_s() - t1;
    out_stats->n_generated = t.n_generated;
    out_stats->n_reasoning = t.reasoning_open ? t.n_reasoning : 0;
    out_stats->finish = finish;
    uint64_t drafted, accepted;
    r1_session_mtp_stats(c->session, &drafted, &accepted);
    out_stats->n_drafted = (int)(drafted - drafted0);
    out_stats->n_accepted = (int)(accepted - accepted0);
    char *content = sb_take(&t.content);
    char *reasoning = t.reasoning.n ? sb_take(&t.reasoning) : (free(t.reasoning.data), NULL);
    if (!msgs_push(c, "assistant", content, reasoning) && !st) st = oom(err);
    return st;

drop_user:
    detok_free(dt);
    free(ids);
    c->n_msgs--;
    msg_free(&c->msgs[c->n_msgs]);
    return st;
}

/* ---- save / load ----------------------------------------------------------------------------- */

/* A float setting as the shortest decimal that reads back as the same float: 0.95f is saved as
 * 0.95, not as its double value 0.949999988079071. */
static double float_json(float v)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return strtod(buf, NULL);
}

r1_status chat_save(const chat *c, const char *path, char *err)
{
    cJSON *root = cJSON_CreateObject(), *msgs = cJSON_CreateArray(), *opt = cJSON_CreateObject();
    if (!root || !msgs || !opt) {
        cJSON_Delete(root);
        cJSON_Delete(msgs);
        cJSON_Delete(opt);
        return oom(err);
    }
    cJSON_AddItemToObject(root, "format", cJSON_CreateString("r1-chat-1"));
    cJSON_AddItemToObject(root, "template", cJSON_CreateString(chat_template_name(c->tmpl.kind)));
    if (c->system) cJSON_AddItemToObject(root, "system", cJSON_CreateString(c->system));
    cJSON_AddItemToObject(opt, "think", cJSON_CreateString(chat_think_name(c->think)));
    cJSON_AddItemToObject(opt, "temperature",
                          cJSON_CreateNumber(float_json(c->sampling.temperature)));
    cJSON_AddItemToObject(opt, "top_p", cJSON_CreateNumber(float_json(c->sampling.top_p)));
    cJSON_AddItemToObject(opt, "top_k", cJSON_CreateNumber(c->sampling.top_k));
    cJSON_AddItemToObject(opt, "min_p", cJSON_CreateNumber(float_json(c->sampling.min_p)));
    cJSON_AddItemToObject(opt, "seed", cJSON_CreateNumber((double)c->sampling.seed));
    cJSON_AddItemToObject(opt, "max_tokens", cJSON_CreateNumber(c->max_tokens));
    cJSON_AddItemToObject(root, "options", opt);
    for (size_t i = 0; i < c->n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m) break;
        cJSON_AddItemToObject(m, "role", cJSON_CreateString(c->msgs[i].role));
        cJSON_AddItemToObject(m, "content", cJSON_CreateString(c->msgs[i].content));
        if (c->msgs[i].reasoning)
            cJSON_AddItemToObject(m, "reasoning_content", cJSON_CreateString(c->msgs[i].reasoning));
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddItemToObject(root, "messages", msgs);
    char *json = cli_json_print(root);
    cJSON_Delete(root);
    if (!json) return oom(err);
    /* write a temporary file and rename it: an interrupted save never truncates the old one */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f)) ok = false;
    free(json);
    if (!ok || rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        if (err) snprintf(err, R1_ERR_MAX, "cannot write %s: %s", path, strerror(e));
        return R1_ERR_IO;
    }
    return R1_OK;
}

static char *read_all(const char *path, size_t *out_n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *t = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
            if (!t) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = t;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *out_n = n;
    return buf;
}

r1_status chat_load(chat *c, const char *path, char *err)
{
    size_t n = 0;
    char *text = read_all(path, &n);
    if (!text) {
        if (err) snprintf(err, R1_ERR_MAX, "cannot read %s: %s", path, strerror(errno));
        return R1_ERR_IO;
    }
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    const cJSON *msgs =
        cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs)) {
        cJSON_Delete(root);
        return fail(err, R1_ERR_FORMAT,
                    "not a conversation (a JSON object with a \"messages\" array)", path);
    }
    /* check everything before touching the current history */
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) ||
            (content && !cJSON_IsString(content) && !cJSON_IsNull(content))) {
            cJSON_Delete(root);
            return fail(err, R1_ERR_FORMAT,
                        "every message needs a \"role\" and a string \"content\"", path);
        }
    }
    chat_clear(c);
    const cJSON *sys =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "system") : NULL;
    if (cJSON_IsString(sys)) {
        free(c->system);
        c->system = strdup(sys->valuestring);
    }
    r1_status st = R1_OK;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(m, "reasoning_content");
        const char *ctext = cJSON_IsString(content) ? content->valuestring : "";
        if (!strcmp(role, "system")) {
            free(c->system);
            c->system = strdup(ctext);
            continue;
        }
        char *r = cJSON_IsString(reasoning) ? strdup(reasoning->valuestring) : NULL;
        if (!msgs_push(c, role, strdup(ctext), r)) {
            st = oom(err);
            break;
        }
    }
    cJSON_Delete(root);
    return st;
}
