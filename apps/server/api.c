/* api.c — the endpoints: validate a JSON body, turn it into scheduler jobs, format the answer
 * as OpenAI/DeepSeek JSON or SSE chunks (docs/server-api.md is the contract).
 *
 * A generating request is an srv_stream shared by its HTTP thread and the scheduler thread (whose
 * sink callbacks append formatted output under st->mu). It is freed by the HTTP side only after
 * every one of its jobs has reported on_done, so the scheduler never sees a dangling pointer.
 * Invariant: every byte that leaves here is valid UTF-8 JSON — request bodies are checked for
 * UTF-8 before parsing, and token texts are repaired before they are quoted. */
#include "server_int.h"
#include "r1_chat.h"
#include "web.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers --------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static bool sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

/* Append s (valid UTF-8, NUL-terminated) as a JSON string literal. */
static bool sb_json_string(sbuf *b, const char *s)
{
    bool ok = sb_add(b, "\"", 1);
    for (const char *p = s; *p && ok; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            ok = sb_add(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            ok = sb_add(b, e, 6);
        } else {
            ok = sb_add(b, p, 1);
        }
    }
    return ok && sb_add(b, "\"", 1);
}

static void reply_json(srv_reply *out, int status, cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!s) {
        out->status = 500;
        out->content_type = "application/json";
        out->body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                           "\"param\":null,\"code\":null}}");
        out->n_body = out->body ? strlen(out->body) : 0;
        return;
    }
    out->status = status;
    out->content_type = "application/json";
    out->body = s;
    out->n_body = strlen(s);
}

static cJSON *error_object(const char *type, const char *code, const char *param, const char *msg)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return o;
}

void api_error(srv_reply *out, int status, const char *type, const char *code, const char *param,
               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* messages may quote user input: keep them valid UTF-8 */
    size_t n = strlen(msg), ok = r1_utf8_valid_prefix(msg, n);
    if (ok < n) msg[ok] = 0;
    reply_json(out, status, error_object(type, code, param, msg));
}

static void make_id(srv *S, const char *prefix, char *out, size_t size)
{
    uint64_t k = atomic_fetch_add(&S->next_id, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = k * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_nsec * 0xBF58476D1CE4E5B9ull;
    snprintf(out, size, "%s%016llx%04llx", prefix, (unsigned long long)x,
             (unsigned long long)(k & 0xffff));
}

/* ---- request bodies ---------------------------------------------------------------------------
 */

/* What a look at the raw JSON text finds before cJSON builds anything from it. */
typedef struct json_scan_result {
    int depth;       /* deepest nesting (counting stops past the limit) */
    size_t n_values; /* brackets + commas outside strings: at least the values cJSON would make */
    size_t bad_at;   /* byte offset of the first bad escape or control byte in a string */
    const char *bad; /* NULL: none; else what is wrong there */
} json_scan_result;

static int hex_val(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One pass over the body: nesting depth, an upper bound on the tree cJSON would build (so a
 * body of 4 million one-digit numbers is refused before it costs 300 MB), and the string escapes
 * cJSON lets through: it reads "\uZZZZ" as U+0000, and U+0000 (escaped, or a raw control byte)
 * would cut the C string there — "a\u0000b" would become "a". Both are refused instead. */
static json_scan_result json_scan(const char *s, size_t n, int depth_limit)
{
    json_scan_result r = {0};
    int d = 0;
    bool in_str = false;
    for (size_t i = 0; i < n && !r.bad; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c < 0x20) {
                r.bad = "a control character (below U+0020) must be escaped in a JSON string";
                r.bad_at = i;
            } else if (c == '\\') {
                char e = i + 1 < n ? s[i + 1] : 0;
                if (e == 'u') {
                    int v = 0;
                    for (int k = 0; k < 4 && v >= 0; k++) {
                        int h = i + 2 + k < n ? hex_val(s[i + 2 + k]) : -1;
                        v = h < 0 ? -1 : v * 16 + h;
                    }
                    if (v < 0) {
                        r.bad = "invalid \\u escape (it needs four hex digits)";
                        r.bad_at = i;
                    } else if (v == 0) {
                        r.bad = "\\u0000 (NUL) is not allowed in a string";
                        r.bad_at = i;
                    }
                    i += 5;
                } else if (e && strchr("\"\\/bfnrt", e)) {
                    i++;
                } else {
                    r.bad = "invalid escape in a JSON string";
                    r.bad_at = i;
                }
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            r.n_values++;
            if (++d > r.depth && (r.depth = d) > depth_limit) return r;
        } else if (c == ']' || c == '}') {
            d--;
        } else if (c == ',') {
            r.n_values++;
        }
    }
    return r;
}

size_t api_max_json_values(const srv *S)
{
    if (S->p.max_json_values > 0) return (size_t)S->p.max_json_values;
    return 4 * (size_t)S->n_ctx + 4096;
}

void api_limits_init(srv *S)
{
    /* The longest text any token stands for (its piece, or its written form for special tokens
     * that match text): a text longer than n_ctx of them cannot fit the context, so it is
     * refused before the tokenizer spends memory on it. Twice that, for normalizers that
     * shorten the text (NFC joins a letter and its accent) */
    size_t max_piece = 1;
    for (int32_t id = 0; id < tokenizer_n_vocab(S->tok); id++) {
        size_t n = 0;
        if (tokenizer_token_piece(S->tok, id, &n) && n > max_piece) max_piece = n;
        if (tokenizer_token_text(S->tok, id, &n) && n > max_piece) max_piece = n;
    }
    S->max_text_bytes = 2 * (size_t)S->n_ctx * max_piece;
    if (S->p.tokenize_ctx_multiple <= 0) S->p.tokenize_ctx_multiple = 16;
}

/* Parse a body into a JSON object, or answer 400 and return NULL. */
cJSON *api_parse_body(srv *S, const char *body, size_t n, srv_reply *out)
{
    if (!n) {
        api_error(out, 400, "invalid_request_error", "invalid_json", NULL,
                  "the request body is empty; send a JSON object");
        return NULL;
    }
    size_t ok = r1_utf8_valid_prefix(body, n);
    if (ok < n) {
        api_error(out, 400, "invalid_request_error", "invalid_utf8", NULL,
                  "the request body is not valid UTF-8 (byte %zu)", ok);
        return NULL;
    }
    json_scan_result sc = json_scan(body, n, S->p.max_json_depth);
    if (sc.depth > S->p.max_json_depth) {
        api_error(out, 400, "invalid_request_error", "json_too_deep", NULL,
                  "the JSON body is nested deeper than %d levels", S->p.max_json_depth);
        return NULL;
    }
    if (sc.bad) {
        api_error(out, 400, "invalid_request_error", "invalid_json", NULL, "%s (byte %zu)", sc.bad,
                  sc.bad_at);
        return NULL;
    }
    if (sc.n_values > api_max_json_values(S)) {
        api_error(out, 400, "invalid_request_error", "too_many_json_values", NULL,
                  "the JSON body holds more than %zu values (arrays, objects and their items)",
                  api_max_json_values(S));
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, n, &end, false);
    if (!j) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        api_error(out, 400, "invalid_request_error", "invalid_json", NULL,
                  "the request body is not valid JSON (near byte %zu)", at);
        return NULL;
    }
    const char *p = end;
    while (p && p < body + n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p && p < body + n) {
        cJSON_Delete(j);
        api_error(out, 400, "invalid_request_error", "invalid_json", NULL,
                  "unexpected data after the JSON value (byte %zu)", (size_t)(p - body));
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        api_error(out, 400, "invalid_request_error", "invalid_json", NULL,
                  "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

static bool in_list(const char *s, const char *const *list)
{
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(s, list[i])) return true;
    return false;
}

/* Fields that common clients send (OpenAI's newer ones, llama-server's sampler knobs) which this
 * server cannot honour but which change nothing a client relies on: accepted, and named in the
 * X-R1-Ignored-Fields header and the log, so that a typo is still refused by name. */
static const char *const harmless_fields[] = {"reasoning_effort",
                                              "prediction",
                                              "modalities",
                                              "verbosity",
                                              "prompt_cache_key",
                                              "safety_identifier",
                                              "web_search_options",
                                              "typical_p",
                                              "tfs_z",
                                              "mirostat",
                                              "mirostat_tau",
                                              "mirostat_eta",
                                              "n_keep",
                                              "id_slot",
                                              "slot_id",
                                              "samplers",
                                              "dynatemp_range",
                                              "dynatemp_exponent",
                                              "penalize_nl",
                                              "t_max_predict_ms",
                                              NULL};

/* Refuse a field not in known (nor, when ignored is given, a harmless one, whose names are
 * appended to *ignored as "a,b"). */
static bool check_known_ign(const cJSON *body, const char *const *known, sbuf *ignored,
                            srv_reply *out)
{
    for (const cJSON *c = body->child; c; c = c->next) {
        bool found = in_list(c->string, known);
        if (!found && ignored && in_list(c->string, harmless_fields)) {
            found = true;
            if ((ignored->n && !sb_add(ignored, ",", 1)) ||
                !sb_add(ignored, c->string, strlen(c->string)))
                return false;
        }
        if (!found) {
            api_error(out, 400, "invalid_request_error", "unknown_parameter", c->string,
                      "Unrecognized request argument supplied: %s", c->string);
            return false;
        }
    }
    return true;
}

static bool check_known(const cJSON *body, const char *const *known, srv_reply *out)
{
    return check_known_ign(body, known, NULL, out);
}

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static bool opt_number(const cJSON *o, const char *key, double lo, double hi, double *out,
                       srv_reply *r)
{
    const cJSON *v = field(o, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v)) {
        api_error(r, 400, "invalid_request_error", "invalid_type", key, "'%s' must be a number",
                  key);
        return false;
    }
    if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
        api_error(r, 400, "invalid_request_error", "invalid_value", key,
                  "'%s' must be between %g and %g, got %g", key, lo, hi, v->valuedouble);
        return false;
    }
    *out = v->valuedouble;
    return true;
}

static bool opt_int(const cJSON *o, const char *key, double lo, double hi, long long *out,
                    srv_reply *r)
{
    const cJSON *v = field(o, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
        api_error(r, 400, "invalid_request_error", "invalid_type", key, "'%s' must be an integer",
                  key);
        return false;
    }
    if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
        api_error(r, 400, "invalid_request_error", "invalid_value", key,
                  "'%s' must be between %.0f and %.0f, got %.0f", key, lo, hi, v->valuedouble);
        return false;
    }
    *out = (long long)v->valuedouble;
    return true;
}

static bool opt_bool(const cJSON *o, const char *key, bool *out, srv_reply *r)
{
    const cJSON *v = field(o, key);
    if (!v) return true;
    if (!cJSON_IsBool(v)) {
        api_error(r, 400, "invalid_request_error", "invalid_type", key, "'%s' must be a boolean",
                  key);
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

static bool opt_string(const cJSON *o, const char *key, const char **out, srv_reply *r)
{
    const cJSON *v = field(o, key);
    if (!v) return true;
    if (!cJSON_IsString(v)) {
        api_error(r, 400, "invalid_request_error", "invalid_type", key, "'%s' must be a string",
                  key);
        return false;
    }
    *out = v->valuestring;
    return true;
}

/* ---- generation requests --------------------------------------------------------------------- */

#define MAX_CHOICES 16
#define MAX_STOPS 4
#define MAX_STOP_BYTES 256

typedef struct choice {
    sbuf content, reasoning; /* non-streaming: the whole answer */
    sched_logprob *lp;       /* tokens not yet written out (streaming) or all (non-streaming) */
    int n_lp, cap_lp;
    size_t text_offset; /* completions: bytes of text so far (logprobs.text_offset) */
    sched_result res;
    bool done;
} choice;

typedef struct srv_stream {
    srv *S;
    bool is_chat, stream, include_usage;
    int n_logprobs; /* -1: none */
    int n;          /* choices */
    choice ch[MAX_CHOICES];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool cancel;
    int n_done;
    sbuf out; /* SSE bytes not yet read */
    size_t out_pos;
    bool finished; /* out holds everything, [DONE] included */
    /* job inputs, borrowed by the scheduler until on_done */
    int32_t *prompt;
    int n_prompt;
    char *stops[MAX_STOPS];
    int n_stops;
    int32_t *bias_ids;
    float *bias;
    int n_bias;
    char *grammar;                     /* GBNF the replies follow (malloc'd), or NULL */
    r1_grammar *grammars[MAX_CHOICES]; /* one per choice, made at submission */
    char id[64];
    long created;
    sbuf ignored; /* harmless fields the request sent, "a,b" */
    api_proto proto;
    double t_start, t_first; /* CLOCK_MONOTONIC s: submitted, first text (Ollama durations) */
    char path[96];           /* for the request log line written when the stream ends */
} srv_stream;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Append an Ollama NDJSON line (takes it). Caller holds st->mu. */
static void ndjson_emit(srv_stream *st, char *line)
{
    if (!line) return;
    sb_add(&st->out, line, strlen(line));
    free(line);
    pthread_cond_broadcast(&st->cv);
}

static ollama_done ollama_totals(const srv_stream *st)
{
    const choice *c = &st->ch[0];
    double now = mono_s(), first = st->t_first > 0 ? st->t_first : now;
    return (ollama_done){.reason = c->res.finish == SCHED_FINISH_LENGTH ? "length" : "stop",
                         .n_prompt = st->n_prompt,
                         .n_gen = c->res.n_generated,
                         .total_s = now - st->t_start,
                         .prompt_s = first - st->t_start};
}

static void stream_free(srv_stream *st)
{
    for (int i = 0; i < st->n; i++) {
        free(st->ch[i].content.p);
        free(st->ch[i].reasoning.p);
        free(st->ch[i].lp);
    }
    for (int i = 0; i < st->n_stops; i++) free(st->stops[i]);
    free(st->out.p);
    free(st->ignored.p);
    free(st->prompt);
    free(st->bias_ids);
    free(st->bias);
    for (int i = 0; i < MAX_CHOICES; i++) r1_grammar_free(st->grammars[i]);
    free(st->grammar);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

/* A token's text as a valid UTF-8 string (malloc'd) and its raw bytes. */
static char *token_text(const srv *S, int32_t id, const char **raw, size_t *n_raw)
{
    *raw = tokenizer_token_piece(S->tok, id, n_raw);
    if (!*raw) {
        *raw = "";
        *n_raw = 0;
    }
    char *text = NULL;
    size_t n;
    r1_utf8_repair(*raw, *n_raw, &text, &n, NULL); /* NULL when out of memory, as before */
    return text;
}

static cJSON *bytes_array(const char *raw, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((uint8_t)raw[i]));
    return a;
}

/* chat: {"content": [{token, logprob, bytes, top_logprobs: [...]}, ...]} */
static cJSON *chat_logprobs(const srv *S, const sched_logprob *lp, int n)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "content");
    for (int i = 0; i < n; i++) {
        const char *raw;
        size_t n_raw;
        char *t = token_text(S, lp[i].id, &raw, &n_raw);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "token", t ? t : "");
        cJSON_AddNumberToObject(e, "logprob", lp[i].logprob);
        cJSON_AddItemToObject(e, "bytes", bytes_array(raw, n_raw));
        free(t);
        cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int k = 0; k < lp[i].n_top; k++) {
            cJSON *x = cJSON_CreateObject();
            t = token_text(S, lp[i].top_ids[k], &raw, &n_raw);
            cJSON_AddStringToObject(x, "token", t ? t : "");
            cJSON_AddNumberToObject(x, "logprob", lp[i].top_logprobs[k]);
            cJSON_AddItemToObject(x, "bytes", bytes_array(raw, n_raw));
            free(t);
            cJSON_AddItemToArray(top, x);
        }
        cJSON_AddItemToArray(arr, e);
    }
    return o;
}

/* completions (legacy): {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset} */
static cJSON *completion_logprobs(const srv *S, const sched_logprob *lp, int n, size_t offset)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    cJSON *lps = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *tops = cJSON_AddArrayToObject(o, "top_logprobs");
    cJSON *offs = cJSON_AddArrayToObject(o, "text_offset");
    for (int i = 0; i < n; i++) {
        const char *raw;
        size_t n_raw;
        char *t = token_text(S, lp[i].id, &raw, &n_raw);
        cJSON_AddItemToArray(toks, cJSON_CreateString(t ? t : ""));
        cJSON_AddItemToArray(lps, cJSON_CreateNumber(lp[i].logprob));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += n_raw; /* approximate where control tokens are dropped from the text */
        free(t);
        cJSON *d = cJSON_CreateObject();
        for (int k = 0; k < lp[i].n_top; k++) {
            t = token_text(S, lp[i].top_ids[k], &raw, &n_raw);
            if (t && !cJSON_GetObjectItemCaseSensitive(d, t))
                cJSON_AddNumberToObject(d, t, lp[i].top_logprobs[k]);
            free(t);
        }
        cJSON_AddItemToArray(tops, d);
    }
    return o;
}

static cJSON *usage_object(const srv_stream *st)
{
    int gen = 0, reas = 0, hit = st->ch[0].res.n_cache_hit;
    for (int i = 0; i < st->n; i++) {
        gen += st->ch[i].res.n_generated;
        reas += st->ch[i].res.n_reasoning;
    }
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", st->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", gen);
    cJSON_AddNumberToObject(u, "total_tokens", st->n_prompt + gen);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "prompt_tokens_details"), "cached_tokens",
                            hit);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "completion_tokens_details"),
                            "reasoning_tokens", reas);
    cJSON_AddNumberToObject(u, "prompt_cache_hit_tokens", hit);
    cJSON_AddNumberToObject(u, "prompt_cache_miss_tokens", st->n_prompt - hit);
    return u;
}

/* The fields every response object starts with: id, object, created, model, fingerprint. */
static cJSON *response_base(const srv_stream *st, const char *object)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", st->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)st->created);
    cJSON_AddStringToObject(o, "model", st->S->model_id);
    cJSON_AddStringToObject(o, "system_fingerprint", "r1");
    return o;
}

static cJSON *chunk_base(const srv_stream *st)
{
    return response_base(st, st->is_chat ? "chat.completion.chunk" : "text_completion");
}

/* Append `data: JSON\n\n` (takes obj). Caller holds st->mu. */
static void sse_emit(srv_stream *st, cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!s) return;
    sb_add(&st->out, "data: ", 6);
    sb_add(&st->out, s, strlen(s));
    sb_add(&st->out, "\n\n", 2);
    free(s);
    pthread_cond_broadcast(&st->cv);
}

/* One streamed choice chunk: text (may be NULL) of a part, and the pending logprobs. */
static void sse_choice(srv_stream *st, int index, reasoning_part part, const char *text, size_t n,
                       const char *finish)
{
    choice *c = &st->ch[index];
    cJSON *o = chunk_base(st), *arr = cJSON_AddArrayToObject(o, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", index);
    char *t = text ? strndup(text, n) : NULL;
    if (st->is_chat) {
        cJSON *d = cJSON_AddObjectToObject(ch, "delta");
        if (t)
            cJSON_AddStringToObject(
                d, part == REASONING_PART_REASONING ? "reasoning_content" : "content", t);
    } else {
        cJSON_AddStringToObject(ch, "text", t ? t : "");
    }
    free(t);
    if (st->n_logprobs >= 0 && c->n_lp) {
        cJSON_AddItemToObject(ch, "logprobs",
                              st->is_chat
                                  ? chat_logprobs(st->S, c->lp, c->n_lp)
                                  : completion_logprobs(st->S, c->lp, c->n_lp, c->text_offset));
        c->n_lp = 0;
    } else {
        cJSON_AddNullToObject(ch, "logprobs");
    }
    if (finish)
        cJSON_AddStringToObject(ch, "finish_reason", finish);
    else
        cJSON_AddNullToObject(ch, "finish_reason");
    cJSON_AddItemToArray(arr, ch);
    if (st->include_usage) cJSON_AddNullToObject(o, "usage");
    sse_emit(st, o);
}

static void on_text(void *user, int index, reasoning_part part, const char *text, size_t n)
{
    srv_stream *st = user;
    choice *c = &st->ch[index];
    pthread_mutex_lock(&st->mu);
    if (!st->is_chat) part = REASONING_PART_CONTENT;
    if (st->t_first == 0) st->t_first = mono_s();
    if (st->stream && st->proto != PROTO_OPENAI) {
        char *t = strndup(text, n);
        bool thinking = part == REASONING_PART_REASONING;
        if (t)
            ndjson_emit(
                st, ollama_line(st->S, st->proto, thinking ? NULL : t, thinking ? t : NULL, NULL));
        free(t);
    } else if (st->stream)
        sse_choice(st, index, part, text, n, NULL);
    else
        sb_add(part == REASONING_PART_REASONING ? &c->reasoning : &c->content, text, n);
    c->text_offset += n;
    pthread_mutex_unlock(&st->mu);
}

static void on_token(void *user, int index, const sched_logprob *lp)
{
    srv_stream *st = user;
    choice *c = &st->ch[index];
    pthread_mutex_lock(&st->mu);
    if (c->n_lp == c->cap_lp) {
        int cap = c->cap_lp ? c->cap_lp * 2 : 16;
        sched_logprob *p = realloc(c->lp, (size_t)cap * sizeof *p);
        if (p) {
            c->lp = p;
            c->cap_lp = cap;
        }
    }
    if (c->n_lp < c->cap_lp) c->lp[c->n_lp++] = *lp;
    pthread_mutex_unlock(&st->mu);
}

static const char *finish_name(sched_finish f)
{
    return f == SCHED_FINISH_LENGTH ? "length" : "stop";
}

static void on_done(void *user, int index, const sched_result *res)
{
    srv_stream *st = user;
    choice *c = &st->ch[index];
    pthread_mutex_lock(&st->mu);
    c->res = *res;
    c->done = true;
    if (st->stream && st->proto != PROTO_OPENAI) {
        /* Ollama: an error is a line {"error": "..."}; the last line carries done: true */
        const char *why =
            atomic_load(&st->cancel) ? NULL
            : res->finish == SCHED_FINISH_ERROR || res->finish == SCHED_FINISH_UNAVAILABLE
                ? res->err
            : res->finish == SCHED_FINISH_CANCELLED ? "the generation was cancelled"
                                                    : NULL;
        if (why) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", why);
            char *s = cJSON_PrintUnformatted(e);
            cJSON_Delete(e);
            if (s) {
                sb_add(&st->out, s, strlen(s));
                sb_add(&st->out, "\n", 1);
                free(s);
            }
        } else if (!atomic_load(&st->cancel)) {
            ollama_done d = ollama_totals(st);
            ndjson_emit(st, ollama_line(st->S, st->proto, NULL, NULL, &d));
        }
        st->n_done++;
        st->finished = true; /* Ollama requests have one choice */
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        return;
    }
    if (st->stream && !atomic_load(&st->cancel)) {
        if (res->finish == SCHED_FINISH_STOP || res->finish == SCHED_FINISH_LENGTH) {
            sse_choice(st, index, REASONING_PART_CONTENT, NULL, 0, finish_name(res->finish));
        } else if (res->finish == SCHED_FINISH_ERROR) {
            sse_emit(st, error_object("server_error", "generation_failed", NULL, res->err));
        } else if (res->finish == SCHED_FINISH_UNAVAILABLE) {
            sse_emit(st, error_object("server_error", "model_unavailable", NULL, res->err));
        } else if (atomic_load(&st->S->state) == SRV_STOPPING) {
            sse_emit(st, error_object("server_error", "server_shutting_down", NULL,
                                      "the server is shutting down; the generation was cut"));
        } else {
            sse_emit(st, error_object("invalid_request_error", "client_closed_request", NULL,
                                      "the client closed its side of the connection; the "
                                      "generation was cut"));
        }
    }
    if (++st->n_done == st->n) {
        if (st->stream) {
            if (st->include_usage) {
                cJSON *o = chunk_base(st);
                cJSON_AddArrayToObject(o, "choices");
                cJSON_AddItemToObject(o, "usage", usage_object(st));
                sse_emit(st, o);
            }
            sb_add(&st->out, "data: [DONE]\n\n", 14);
        }
        st->finished = true;
    }
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static const sched_sink sink = {on_text, on_token, on_done};

long api_stream_read(srv_stream *st, char *buf, size_t max)
{
    pthread_mutex_lock(&st->mu);
    while (st->out_pos == st->out.n && !st->finished) pthread_cond_wait(&st->cv, &st->mu);
    long n = -1;
    if (st->out_pos < st->out.n) {
        size_t k = st->out.n - st->out_pos;
        if (k > max) k = max;
        memcpy(buf, st->out.p + st->out_pos, k);
        st->out_pos += k;
        if (st->out_pos == st->out.n) st->out_pos = st->out.n = 0;
        n = (long)k;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* Wait until every job reported on_done (cancelling them first when asked), then free. */
static void stream_finish(srv_stream *st, bool cancel)
{
    if (cancel) atomic_store(&st->cancel, true);
    pthread_mutex_lock(&st->mu);
    while (st->n_done < st->n) pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    stream_free(st);
}

void api_stream_release(srv_stream *st)
{
    int gen = 0;
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n; i++) gen += st->ch[i].res.n_generated;
    pthread_mutex_unlock(&st->mu);
    api_log_request(st->S, "POST", st->path, 200, st->n_prompt, gen, st->t_start);
    stream_finish(st, true);
}

/* Options shared by chat and completions; fills st and the job template. */
static bool parse_sampling(srv *S, const cJSON *body, srv_stream *st, sched_job *job,
                           srv_reply *out)
{
    double temp = job->sampling.temperature, top_p = job->sampling.top_p,
           min_p = job->sampling.min_p;
    long long top_k = job->sampling.top_k, n = 1, seed = -1, max_tokens = S->p.max_tokens;
    bool stream = false;
    if (!opt_number(body, "temperature", 0, 2, &temp, out) ||
        !opt_number(body, "top_p", 0, 1, &top_p, out) ||
        !opt_number(body, "min_p", 0, 1, &min_p, out) ||
        !opt_int(body, "top_k", 0, 1 << 30, &top_k, out) ||
        !opt_int(body, "n", 1, MAX_CHOICES, &n, out) ||
        !opt_int(body, "seed", -9.2e18, 9.2e18, &seed, out) ||
        !opt_int(body, "max_tokens", 1, 1e9, &max_tokens, out) ||
        !opt_int(body, "max_completion_tokens", 1, 1e9, &max_tokens, out) ||
        !opt_bool(body, "stream", &stream, out))
        return false;
    /* penalties (the sampler, r1.h): OpenAI's two over the answer; llama.cpp's repeat penalty,
     * under either name, over the last repeat_last_n tokens of prompt + answer */
    double freq = 0, pres = 0, rep_pen = 1;
    long long rep_n = 64, n_predict = 0;
    bool cache_prompt = true;
    if (!opt_number(body, "frequency_penalty", -2, 2, &freq, out) ||
        !opt_number(body, "presence_penalty", -2, 2, &pres, out) ||
        !opt_number(body, "repeat_penalty", 0, 10, &rep_pen, out) ||
        !opt_number(body, "repetition_penalty", 0, 10, &rep_pen, out) ||
        !opt_int(body, "repeat_last_n", -1, 1 << 30, &rep_n, out) ||
        !opt_int(body, "n_predict", -1, 1e9, &n_predict, out) ||
        !opt_bool(body, "cache_prompt", &cache_prompt, out)) /* always on: slots keep caches */
        return false;
    if (n_predict == 0 && field(body, "n_predict")) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "n_predict",
                  "'n_predict' must be -1 (up to the server's limit) or at least 1");
        return false;
    }
    /* llama-server's name for max_tokens; -1 means as many as the server allows */
    if (n_predict != 0 && !field(body, "max_tokens") && !field(body, "max_completion_tokens"))
        max_tokens = n_predict < 0 ? S->p.max_tokens : n_predict;
    job->sampling.frequency_penalty = (float)freq;
    job->sampling.presence_penalty = (float)pres;
    job->sampling.repeat_penalty = rep_n == 0 ? 1.0f : (float)rep_pen; /* a window of 0: off */
    job->sampling.repeat_last_n = rep_n == 0 ? 64 : (int)rep_n;
    const cJSON *so = field(body, "stream_options");
    if (so) {
        if (!cJSON_IsObject(so)) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "stream_options",
                      "'stream_options' must be an object");
            return false;
        }
        if (!opt_bool(so, "include_usage", &st->include_usage, out)) return false;
    }
    job->sampling.temperature = (float)temp;
    job->sampling.top_p = top_p > 1e-6 ? (float)top_p : 1e-6f; /* 0: only the top token */
    job->sampling.min_p = (float)min_p;
    job->sampling.top_k = (int)top_k;
    if (seed >= 0 || field(body, "seed")) {
        job->sampling.seed = (uint64_t)seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        job->sampling.seed = (uint64_t)ts.tv_nsec ^ atomic_fetch_add(&S->next_id, 1) << 32;
    }
    job->max_tokens = max_tokens > S->p.max_tokens ? S->p.max_tokens : (int)max_tokens;
    st->n = (int)n;
    st->stream = stream;
    if (!stream) st->include_usage = false;

    const cJSON *stop = field(body, "stop");
    if (stop) {
        const cJSON *items[MAX_STOPS];
        int k = 0;
        if (cJSON_IsString(stop)) {
            items[k++] = stop;
        } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) <= MAX_STOPS) {
            for (const cJSON *c = stop->child; c; c = c->next) {
                if (!cJSON_IsString(c)) k = -100;
                if (k >= 0) items[k++] = c;
            }
        } else {
            k = -1;
        }
        if (k < 0) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "stop",
                      "'stop' must be a string or an array of at most %d strings", MAX_STOPS);
            return false;
        }
        for (int i = 0; i < k; i++) {
            size_t len = strlen(items[i]->valuestring);
            if (len == 0 || len > MAX_STOP_BYTES) {
                api_error(out, 400, "invalid_request_error", "invalid_value", "stop",
                          "each stop string must have 1 to %d bytes", MAX_STOP_BYTES);
                return false;
            }
            if (!(st->stops[st->n_stops] = strdup(items[i]->valuestring))) return false;
            st->n_stops++;
        }
    }

    const cJSON *lb = field(body, "logit_bias");
    if (lb) {
        int cnt = cJSON_GetArraySize(lb);
        if (!cJSON_IsObject(lb) || cnt > 1024) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "logit_bias",
                      "'logit_bias' must be an object of at most 1024 token ids");
            return false;
        }
        st->bias_ids = malloc((size_t)(cnt ? cnt : 1) * sizeof *st->bias_ids);
        st->bias = malloc((size_t)(cnt ? cnt : 1) * sizeof *st->bias);
        if (!st->bias_ids || !st->bias) return false;
        for (const cJSON *c = lb->child; c; c = c->next) {
            char *end;
            long id = strtol(c->string, &end, 10);
            if (end == c->string || *end || id < 0 || id >= S->n_vocab || !cJSON_IsNumber(c) ||
                !(c->valuedouble >= -100 && c->valuedouble <= 100)) {
                api_error(out, 400, "invalid_request_error", "invalid_value", "logit_bias",
                          "logit_bias maps token ids (0..%d) to numbers in [-100, 100]",
                          S->n_vocab - 1);
                return false;
            }
            st->bias_ids[st->n_bias] = (int32_t)id;
            st->bias[st->n_bias++] = (float)c->valuedouble;
        }
    }
    return true;
}

/* Constrained output: response_format {"type": "json_object"} or {"type": "json_schema",
 * "json_schema": {"name", "schema", "strict"}} (OpenAI), or llama-server's "json_schema" (a
 * schema) and "grammar" (GBNF). At most one; a schema becomes GBNF here, and the GBNF is checked,
 * so a bad one is a 400 before anything runs. */
static bool parse_grammar(const cJSON *body, srv_stream *st, srv_reply *out)
{
    const cJSON *rf = field(body, "response_format"), *js = field(body, "json_schema"),
                *gb = field(body, "grammar");
    const cJSON *schema = NULL;
    const char *param = NULL;
    bool any_object = false;
    if (rf) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rf, "type");
        if (!cJSON_IsObject(rf) || !cJSON_IsString(ty)) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "response_format",
                      "'response_format' must be an object with a 'type'");
            return false;
        }
        if (!strcmp(ty->valuestring, "json_object")) {
            any_object = true;
            param = "response_format";
        } else if (!strcmp(ty->valuestring, "json_schema")) {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
            schema = cJSON_IsObject(w) ? cJSON_GetObjectItemCaseSensitive(w, "schema") : NULL;
            if (!cJSON_IsObject(w) ||
                (schema && !cJSON_IsObject(schema) && !cJSON_IsBool(schema))) {
                api_error(out, 400, "invalid_request_error", "invalid_value", "response_format",
                          "response_format json_schema needs 'json_schema': {\"name\": ..., "
                          "\"schema\": {...}}");
                return false;
            }
            param = "response_format";
        } else if (strcmp(ty->valuestring, "text")) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "response_format",
                      "response_format type must be \"text\", \"json_object\" or "
                      "\"json_schema\"");
            return false;
        }
    }
    if (js) {
        if (param) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "json_schema",
                      "give one of 'response_format', 'json_schema' and 'grammar'");
            return false;
        }
        if (!cJSON_IsObject(js) && !cJSON_IsBool(js)) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "json_schema",
                      "'json_schema' must be a JSON Schema object");
            return false;
        }
        schema = js;
        param = "json_schema";
    }
    char err[R1_ERR_MAX];
    if (gb) {
        if (param) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "grammar",
                      "give one of 'response_format', 'json_schema' and 'grammar'");
            return false;
        }
        if (!cJSON_IsString(gb)) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "grammar",
                      "'grammar' must be a string of GBNF");
            return false;
        }
        if (r1_gbnf_check(gb->valuestring, NULL, err) != R1_OK) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "grammar", "%s", err);
            return false;
        }
        if (!(st->grammar = strdup(gb->valuestring))) return false;
        return true;
    }
    if (!param) return true;
    char *text = any_object ? strdup("{\"type\":\"object\"}")
                 : schema   ? cJSON_PrintUnformatted(schema)
                            : strdup("{}");
    if (!text) return false;
    r1_status rs = r1_json_schema_to_gbnf(text, &st->grammar, err);
    free(text);
    if (rs != R1_OK) {
        api_error(out, 400, "invalid_request_error", "invalid_value", param, "%s", err);
        return false;
    }
    return true;
}

/* Submit the n jobs of a parsed request (api_request_parse checked that the prompt fits), then
 * answer: stream, or wait and build the body. Takes st. */
static void run_generation(srv *S, srv_stream *st, const sched_job *tmpl, int fd, srv_reply *out,
                           void (*build)(srv_stream *, srv_reply *))
{
    sched_job jobs[MAX_CHOICES];
    for (int i = 0; st->grammar && i < st->n; i++) {
        /* with a reasoning model the grammar starts after </think>; max_tokens lets it close
         * the value in time */
        r1_grammar_params gp = r1_grammar_params_default();
        gp.after_think = tmpl->start_in_reasoning;
        gp.max_tokens = tmpl->max_tokens;
        char err[R1_ERR_MAX];
        if (r1_grammar_new_gbnf(S->model, st->grammar, &gp, &st->grammars[i], err) != R1_OK) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "grammar", "%s", err);
            stream_free(st);
            return;
        }
    }
    for (int i = 0; i < st->n; i++) {
        jobs[i] = *tmpl;
        jobs[i].grammar = st->grammars[i];
        jobs[i].prompt = st->prompt;
        jobs[i].n_prompt = st->n_prompt;
        jobs[i].stops = (const char *const *)st->stops;
        jobs[i].n_stops = st->n_stops;
        jobs[i].bias_ids = st->bias_ids;
        jobs[i].bias = st->bias;
        jobs[i].n_bias = st->n_bias;
        jobs[i].n_logprobs = st->n_logprobs;
        jobs[i].fd = fd;
        jobs[i].cancel = &st->cancel;
        jobs[i].sink = &sink;
        jobs[i].user = st;
        jobs[i].index = i;
        jobs[i].sampling.seed = tmpl->sampling.seed + (uint64_t)i;
    }
    make_id(S, st->is_chat ? "chatcmpl-" : "cmpl-", st->id, sizeof st->id);
    st->created = (long)time(NULL);
    st->t_start = mono_s();
    if (st->stream && st->is_chat && st->proto == PROTO_OPENAI) /* the role first */
        for (int i = 0; i < st->n; i++) {
            cJSON *o = chunk_base(st), *arr = cJSON_AddArrayToObject(o, "choices");
            cJSON *ch = cJSON_CreateObject();
            cJSON_AddNumberToObject(ch, "index", i);
            cJSON *d = cJSON_AddObjectToObject(ch, "delta");
            cJSON_AddStringToObject(d, "role", "assistant");
            cJSON_AddStringToObject(d, "content", "");
            cJSON_AddNullToObject(ch, "logprobs");
            cJSON_AddNullToObject(ch, "finish_reason");
            cJSON_AddItemToArray(arr, ch);
            if (st->include_usage) cJSON_AddNullToObject(o, "usage");
            sse_emit(st, o);
        }
    sched_submit_status ss = sched_submit(S->sched, jobs, st->n);
    if (ss != SCHED_SUBMIT_OK) {
        if (ss == SCHED_SUBMIT_FULL) {
            api_error(out, 503, "server_error", "queue_full", NULL,
                      "the server is busy (all %d slots and the queue are in use); retry later",
                      S->p.n_parallel);
            out->retry_after_s = 1;
        } else if (ss == SCHED_SUBMIT_STOPPING) {
            api_error(out, 503, "server_error", "server_shutting_down", NULL,
                      "the server is shutting down");
        } else if (ss == SCHED_SUBMIT_UNAVAILABLE) {
            char why[256];
            sched_failure(S->sched, why, sizeof why);
            api_error(out, 503, "server_error", "model_unavailable", NULL, "%s", why);
        } else {
            api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        }
        stream_free(st);
        return;
    }
    if (st->stream) {
        out->status = 200;
        out->content_type =
            st->proto == PROTO_OPENAI ? "text/event-stream" : "application/x-ndjson";
        out->stream = st;
        return;
    }
    pthread_mutex_lock(&st->mu);
    while (st->n_done < st->n) pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    build(st, out);
    out->n_prompt = st->n_prompt;
    out->n_gen = 0;
    for (int i = 0; i < st->n; i++) out->n_gen += st->ch[i].res.n_generated;
    stream_finish(st, false);
}

/* Non-streaming failures shared by both endpoints; true when one was answered. */
static bool failed_choice(srv_stream *st, srv_reply *out)
{
    for (int i = 0; i < st->n; i++) {
        if (st->ch[i].res.finish == SCHED_FINISH_ERROR) {
            api_error(out, 500, "server_error", "generation_failed", NULL, "%s", st->ch[i].res.err);
            return true;
        }
        if (st->ch[i].res.finish == SCHED_FINISH_UNAVAILABLE) {
            api_error(out, 503, "server_error", "model_unavailable", NULL, "%s", st->ch[i].res.err);
            return true;
        }
        if (st->ch[i].res.finish == SCHED_FINISH_CANCELLED) {
            if (atomic_load(&st->S->state) == SRV_STOPPING)
                api_error(out, 503, "server_error", "server_shutting_down", NULL,
                          "the generation was cancelled (server shutting down)");
            else /* the scheduler saw the client shut its side (nginx's 499) */
                api_error(out, 499, "invalid_request_error", "client_closed_request", NULL,
                          "the generation was cancelled: the client closed its side of the "
                          "connection (keep it open until the answer has arrived)");
            return true;
        }
    }
    return false;
}

static void build_chat(srv_stream *st, srv_reply *out)
{
    if (failed_choice(st, out)) return;
    cJSON *o = response_base(st, "chat.completion");
    cJSON *arr = cJSON_AddArrayToObject(o, "choices");
    for (int i = 0; i < st->n; i++) {
        choice *c = &st->ch[i];
        cJSON *ch = cJSON_CreateObject(), *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", i);
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", c->content.p ? c->content.p : "");
        if (c->reasoning.n) cJSON_AddStringToObject(m, "reasoning_content", c->reasoning.p);
        cJSON_AddItemToObject(ch, "message", m);
        if (st->n_logprobs >= 0)
            cJSON_AddItemToObject(ch, "logprobs", chat_logprobs(st->S, c->lp, c->n_lp));
        else
            cJSON_AddNullToObject(ch, "logprobs");
        cJSON_AddStringToObject(ch, "finish_reason", finish_name(c->res.finish));
        cJSON_AddItemToArray(arr, ch);
    }
    cJSON_AddItemToObject(o, "usage", usage_object(st));
    reply_json(out, 200, o);
}

static void build_completion(srv_stream *st, srv_reply *out)
{
    if (failed_choice(st, out)) return;
    cJSON *o = response_base(st, "text_completion");
    cJSON *arr = cJSON_AddArrayToObject(o, "choices");
    for (int i = 0; i < st->n; i++) {
        choice *c = &st->ch[i];
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddStringToObject(ch, "text", c->content.p ? c->content.p : "");
        cJSON_AddNumberToObject(ch, "index", i);
        if (st->n_logprobs >= 0)
            cJSON_AddItemToObject(ch, "logprobs", completion_logprobs(st->S, c->lp, c->n_lp, 0));
        else
            cJSON_AddNullToObject(ch, "logprobs");
        cJSON_AddStringToObject(ch, "finish_reason", finish_name(c->res.finish));
        cJSON_AddItemToArray(arr, ch);
    }
    cJSON_AddItemToObject(o, "usage", usage_object(st));
    reply_json(out, 200, o);
}

/* Ollama, not streamed: one object with the whole answer and the totals. */
static void build_ollama(srv_stream *st, srv_reply *out)
{
    if (failed_choice(st, out)) return;
    ollama_done d = ollama_totals(st);
    const choice *c = &st->ch[0];
    char *line =
        ollama_line(st->S, st->proto, c->content.p ? c->content.p : "", c->reasoning.p, &d);
    if (!line) {
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    out->status = 200;
    out->content_type = "application/json";
    out->body = line;
    out->n_body = strlen(line) - 1; /* without the line's newline */
}

static srv_stream *stream_new(srv *S, bool is_chat)
{
    srv_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->S = S;
    st->is_chat = is_chat;
    st->n_logprobs = -1;
    st->n = 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    return st;
}

/* Roles, content parts and "prefix" of the messages, checked before rendering; "developer"
 * (OpenAI's newer name for system) is rewritten to "system" in the tree. *prefix: the last message
 * is an assistant message with "prefix": true (DeepSeek's chat prefix completion: the answer
 * continues its text). */
static bool check_messages(cJSON *msgs, bool *prefix, srv_reply *out)
{
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", NULL};
    int i = 0, n = cJSON_GetArraySize(msgs);
    for (cJSON *m = msgs->child; m; m = m->next, i++) {
        if (!cJSON_IsObject(m)) continue; /* chat_messages_from_cjson says what is wrong */
        cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role)) continue;
        if (!in_list(role->valuestring, roles)) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "messages",
                      "message %d has the role \"%.64s\"; the roles are system, developer, "
                      "user, assistant and tool",
                      i, role->valuestring);
            return false;
        }
        if (!strcmp(role->valuestring, "developer") && !cJSON_SetValuestring(role, "system")) {
            api_error(out, 500, "server_error", NULL, NULL, "out of memory");
            return false;
        }
        const cJSON *content = field(m, "content");
        for (const cJSON *part = cJSON_IsArray(content) ? content->child : NULL; part;
             part = part->next) {
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(part, "type");
            if (!cJSON_IsObject(part) || (cJSON_IsString(ty) && !strcmp(ty->valuestring, "text")))
                continue;
            if (!ty && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(part, "text"))) continue;
            api_error(out, 400, "invalid_request_error", "unsupported_content", "messages",
                      "this model takes text only: message %d has a content part of type "
                      "\"%.64s\"",
                      i, cJSON_IsString(ty) ? ty->valuestring : "(none)");
            return false;
        }
        const cJSON *pf = field(m, "prefix");
        if (!pf) continue;
        if (!cJSON_IsBool(pf)) {
            api_error(out, 400, "invalid_request_error", "invalid_type", "messages",
                      "message %d: 'prefix' must be a boolean", i);
            return false;
        }
        if (cJSON_IsTrue(pf) && (i != n - 1 || strcmp(role->valuestring, "assistant"))) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "messages",
                      "message %d: 'prefix' is allowed only on the last message, and only on an "
                      "assistant message",
                      i);
            return false;
        }
        *prefix = cJSON_IsTrue(pf);
    }
    return true;
}

/* Append a text to a malloc'd rendering. */
static r1_status text_append(char **text, size_t *n, const char *add, char *err)
{
    size_t k = strlen(add);
    char *p = realloc(*text, *n + k + 1);
    if (!p) {
        snprintf(err, R1_ERR_MAX, "out of memory");
        return R1_ERR_NOMEM;
    }
    memcpy(p + *n, add, k + 1);
    *text = p;
    *n += k;
    return R1_OK;
}

static bool ends_with(const char *text, size_t n, const char *tail)
{
    size_t k = strlen(tail);
    return n >= k && !memcmp(text + n - k, tail, k);
}

/* Chat prefix completion: after the generation prompt comes the assistant's unfinished text.
 * With reasoning_content, the reasoning block holds it (closed when content follows); with
 * content only, an open <think> of the generation prompt is closed empty, so the answer goes
 * on from the content. no_think (content "" and no reasoning) therefore means: answer without
 * reasoning. */
static r1_status append_prefix(char **text, size_t *n, const chat_message *pm, bool *in_reasoning,
                               char *err)
{
    bool in_think = ends_with(*text, *n, "<think>\n") || ends_with(*text, *n, "<think>");
    const char *content = pm->content ? pm->content : "";
    r1_status rs = R1_OK;
    if (pm->reasoning_content) {
        if (!in_think) rs = text_append(text, n, "<think>\n", err);
        if (!rs) rs = text_append(text, n, pm->reasoning_content, err);
        if (!rs && *content) rs = text_append(text, n, "\n</think>\n\n", err);
    } else if (in_think) {
        rs = text_append(text, n, "\n</think>\n\n", err);
    } else if (!*content) {
        rs = text_append(text, n, "<think>\n\n</think>\n\n", err);
    }
    if (!rs) rs = text_append(text, n, content, err);
    *in_reasoning = pm->reasoning_content && !*content;
    return rs;
}

static const char *const chat_fields[] = {"model",
                                          "messages",
                                          "stream",
                                          "stream_options",
                                          "max_tokens",
                                          "max_completion_tokens",
                                          "temperature",
                                          "top_p",
                                          "top_k",
                                          "min_p",
                                          "seed",
                                          "stop",
                                          "n",
                                          "logprobs",
                                          "top_logprobs",
                                          "reasoning_format",
                                          "logit_bias",
                                          "user",
                                          "frequency_penalty",
                                          "presence_penalty",
                                          "store",
                                          "metadata",
                                          "service_tier",
                                          "parallel_tool_calls",
                                          "tool_choice",
                                          "tools",
                                          "response_format",
                                          "repeat_penalty",
                                          "repetition_penalty",
                                          "repeat_last_n",
                                          "cache_prompt",
                                          "n_predict",
                                          "json_schema",
                                          "grammar",
                                          NULL};

/* Validate a chat body and build its prompt (render the messages, tokenize): the stream to run
 * and the job template, or NULL with the error in out. */
static srv_stream *chat_prepare(srv *S, cJSON *body, sched_job *out_job, srv_reply *out)
{
    sbuf ign = {0};
    bool known = check_known_ign(body, chat_fields, &ign, out);
    free(ign.p); /* collected again into the stream below */
    if (!known) return NULL;
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs)) {
        api_error(out, 400, "invalid_request_error", msgs ? "invalid_type" : "missing_required",
                  "messages", "'messages' must be a non-empty array of messages");
        return NULL;
    }
    bool prefix = false;
    if (!check_messages(msgs, &prefix, out)) return NULL;
    const cJSON *tools = field(body, "tools");
    if (tools && (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools))) {
        api_error(out, 400, "invalid_request_error", "unsupported_parameter", "tools",
                  "'tools' is not supported by this server yet");
        return NULL;
    }
    reasoning_mode rmode = S->reasoning;
    const char *rfmt = NULL;
    if (!opt_string(body, "reasoning_format", &rfmt, out)) return NULL;
    if (rfmt && strcmp(rfmt, "auto") && !reasoning_mode_from_name(rfmt, &rmode)) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "reasoning_format",
                  "'reasoning_format' must be \"deepseek\" or \"none\"");
        return NULL;
    }
    bool logprobs = false;
    long long top_lp = 0;
    if (!opt_bool(body, "logprobs", &logprobs, out) ||
        !opt_int(body, "top_logprobs", 0, SCHED_MAX_TOP_LOGPROBS, &top_lp, out))
        return NULL;
    if (field(body, "top_logprobs") && !logprobs) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "top_logprobs",
                  "'top_logprobs' needs 'logprobs' set to true");
        return NULL;
    }

    srv_stream *st = stream_new(S, true);
    if (!st || !check_known_ign(body, chat_fields, &st->ignored, out)) {
        if (st) stream_free(st);
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return NULL;
    }
    sched_job job = {.sampling = r1_sampler_params_default(), .reasoning = rmode};
    if (!parse_sampling(S, body, st, &job, out) || !parse_grammar(body, st, out)) {
        if (!out->body) api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        stream_free(st);
        return NULL;
    }
    st->n_logprobs = logprobs ? (int)top_lp : -1;

    char err[R1_ERR_MAX];
    chat_messages m = {0};
    if (chat_messages_from_cjson(body, &m, err)) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "messages", "%s", err);
        stream_free(st);
        return NULL;
    }
    char *text = NULL;
    size_t n_text = 0;
    /* a prefix message is not a turn: the generation prompt comes first, then its text */
    r1_status rs =
        chat_template_render(&S->tmpl, S->tok, m.items, m.n - prefix, &text, &n_text, err);
    bool prefix_in_reasoning = false;
    if (!rs && prefix)
        rs = append_prefix(&text, &n_text, &m.items[m.n - 1], &prefix_in_reasoning, err);
    chat_messages_free(&m);
    if (rs) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "messages", "%s", err);
        stream_free(st);
        return NULL;
    }
    if (n_text > S->max_text_bytes) {
        free(text);
        api_error(out, 400, "invalid_request_error", "context_length_exceeded", "messages",
                  "This model's maximum context length is %d tokens, and the prompt is %zu bytes "
                  "long: more than that many tokens. Please shorten it.",
                  S->n_ctx, n_text);
        stream_free(st);
        return NULL;
    }
    job.start_in_reasoning =
        rmode != REASONING_NONE &&
        (prefix ? prefix_in_reasoning
                : ends_with(text, n_text, "<think>\n") || ends_with(text, n_text, "<think>"));
    size_t n_ids = 0;
    rs = tokenizer_encode(S->tok, text, n_text, true, &st->prompt, &n_ids, err);
    free(text);
    if (rs) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "messages", "%s", err);
        stream_free(st);
        return NULL;
    }
    st->n_prompt = (int)(n_ids > (size_t)1 << 30 ? (size_t)1 << 30 : n_ids);
    *out_job = job;
    return st;
}

static const char *const completion_fields[] = {"model",
                                                "prompt",
                                                "stream",
                                                "stream_options",
                                                "max_tokens",
                                                "temperature",
                                                "top_p",
                                                "top_k",
                                                "min_p",
                                                "seed",
                                                "stop",
                                                "n",
                                                "logprobs",
                                                "echo",
                                                "suffix",
                                                "user",
                                                "frequency_penalty",
                                                "presence_penalty",
                                                "logit_bias",
                                                "best_of",
                                                "repeat_penalty",
                                                "repetition_penalty",
                                                "repeat_last_n",
                                                "cache_prompt",
                                                "n_predict",
                                                "response_format",
                                                "json_schema",
                                                "grammar",
                                                NULL};

/* Validate a completions body and build its prompt (tokenize a string, or check token ids): the
 * stream to run and the job template, or NULL with the error in out. */
static srv_stream *completion_prepare(srv *S, const cJSON *body, sched_job *out_job, srv_reply *out)
{
    sbuf ign = {0};
    bool known = check_known_ign(body, completion_fields, &ign, out);
    free(ign.p); /* collected again into the stream below */
    if (!known) return NULL;
    bool echo = false;
    long long best_of = 1, lp = -1;
    if (!opt_bool(body, "echo", &echo, out) || !opt_int(body, "best_of", 1, 1, &best_of, out) ||
        !opt_int(body, "logprobs", 0, SCHED_MAX_TOP_LOGPROBS, &lp, out))
        return NULL;
    if (echo || field(body, "suffix")) {
        api_error(out, 400, "invalid_request_error", "unsupported_parameter",
                  echo ? "echo" : "suffix", "'%s' is not supported", echo ? "echo" : "suffix");
        return NULL;
    }
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) == 1 && cJSON_IsString(prompt->child))
        prompt = prompt->child;
    srv_stream *st = stream_new(S, false);
    if (!st || !check_known_ign(body, completion_fields, &st->ignored, out)) {
        if (st) stream_free(st);
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return NULL;
    }
    char err[R1_ERR_MAX];
    if (cJSON_IsString(prompt)) {
        int32_t *ids = NULL;
        size_t n = 0;
        const char *p = prompt->valuestring;
        if (strlen(p) > S->max_text_bytes) {
            api_error(out, 400, "invalid_request_error", "context_length_exceeded", "prompt",
                      "This model's maximum context length is %d tokens, and the prompt is %zu "
                      "bytes long: more than that many tokens. Please shorten it.",
                      S->n_ctx, strlen(p));
            stream_free(st);
            return NULL;
        }
        if (tokenizer_encode(S->tok, p, strlen(p), true, &ids, &n, err)) {
            api_error(out, 400, "invalid_request_error", "invalid_value", "prompt", "%s", err);
            stream_free(st);
            return NULL;
        }
        int32_t bos = tokenizer_bos(S->tok);
        bool add_bos = tokenizer_add_bos(S->tok) && bos >= 0 && (n == 0 || ids[0] != bos);
        st->prompt = malloc((n + 1) * sizeof *st->prompt);
        if (st->prompt) {
            if (add_bos) st->prompt[st->n_prompt++] = bos;
            memcpy(st->prompt + st->n_prompt, ids, n * sizeof *ids);
            st->n_prompt += (int)n;
        }
        free(ids);
    } else if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) > 0) {
        int n = cJSON_GetArraySize(prompt);
        st->prompt = malloc((size_t)n * sizeof *st->prompt);
        for (const cJSON *c = prompt->child; c && st->prompt; c = c->next) {
            if (!cJSON_IsNumber(c) || c->valuedouble != floor(c->valuedouble) ||
                c->valuedouble < 0 || c->valuedouble >= S->n_vocab) {
                api_error(out, 400, "invalid_request_error", "invalid_value", "prompt",
                          "'prompt' must be a string, or an array of token ids in [0, %d)",
                          S->n_vocab);
                stream_free(st);
                return NULL;
            }
            st->prompt[st->n_prompt++] = (int32_t)c->valuedouble;
        }
    } else {
        api_error(out, 400, "invalid_request_error", prompt ? "invalid_type" : "missing_required",
                  "prompt", "'prompt' must be a non-empty string or array of token ids");
        stream_free(st);
        return NULL;
    }
    if (!st->prompt || !st->n_prompt) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "prompt",
                  "the prompt is empty");
        stream_free(st);
        return NULL;
    }
    sched_job job = {.sampling = r1_sampler_params_default(), .reasoning = REASONING_NONE};
    if (!parse_sampling(S, body, st, &job, out) || !parse_grammar(body, st, out)) {
        if (!out->body) api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        stream_free(st);
        return NULL;
    }
    st->n_logprobs = (int)lp;
    *out_job = job;
    return st;
}

/* ---- small endpoints ------------------------------------------------------------------------- */

static void handle_tokenize(srv *S, const cJSON *body, srv_reply *out)
{
    static const char *const known[] = {"content", "add_special", "parse_special", "with_pieces",
                                        NULL};
    if (!check_known(body, known, out)) return;
    const char *content = NULL;
    bool add_special = false, parse_special = true, with_pieces = false;
    if (!opt_string(body, "content", &content, out) ||
        !opt_bool(body, "add_special", &add_special, out) ||
        !opt_bool(body, "parse_special", &parse_special, out) ||
        !opt_bool(body, "with_pieces", &with_pieces, out))
        return;
    if (!content) {
        api_error(out, 400, "invalid_request_error", "missing_required", "content",
                  "'content' (a string) is required");
        return;
    }
    /* Tokenizing costs far more memory than the text (one 7 MB word took 2.5 GB, issue 21): the
     * text is bounded by the context, as for generation requests */
    size_t max_bytes = (size_t)S->p.tokenize_ctx_multiple * (size_t)S->n_ctx;
    if (strlen(content) > max_bytes) {
        api_error(out, 400, "invalid_request_error", "content_too_long", "content",
                  "'content' has %zu bytes; /tokenize takes at most %zu (%d bytes per context "
                  "token, --tokenize-ctx-multiple)",
                  strlen(content), max_bytes, S->p.tokenize_ctx_multiple);
        return;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    char err[R1_ERR_MAX];
    if (tokenizer_encode(S->tok, content, strlen(content), parse_special, &ids, &n, err)) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "content", "%s", err);
        return;
    }
    /* Written straight out, not as a cJSON tree: a tree costs ~80 bytes per id and ~400 per
     * piece, many times the answer itself */
    int32_t bos = tokenizer_bos(S->tok);
    bool bos_first = add_special && tokenizer_add_bos(S->tok) && bos >= 0;
    sbuf b = {0};
    bool ok = sb_add(&b, "{\"tokens\":[", 11);
    for (size_t i = 0; i < n + bos_first && ok; i++) {
        int32_t id = bos_first ? (i == 0 ? bos : ids[i - 1]) : ids[i];
        char num[48];
        int k = snprintf(num, sizeof num, with_pieces ? "%s{\"id\":%d,\"piece\":" : "%s%d",
                         i ? "," : "", (int)id);
        ok = sb_add(&b, num, (size_t)k);
        if (!with_pieces || !ok) continue;
        const char *raw;
        size_t n_raw;
        char *t = token_text(S, id, &raw, &n_raw);
        ok = t && sb_json_string(&b, t) && sb_add(&b, "}", 1);
        free(t);
    }
    free(ids);
    if (!ok || !sb_add(&b, "]}", 2)) {
        free(b.p);
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    out->status = 200;
    out->content_type = "application/json";
    out->body = b.p;
    out->n_body = b.n;
}

static void handle_detokenize(srv *S, const cJSON *body, srv_reply *out)
{
    static const char *const known[] = {"tokens", NULL};
    if (!check_known(body, known, out)) return;
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(body, "tokens");
    if (!cJSON_IsArray(toks)) {
        api_error(out, 400, "invalid_request_error", toks ? "invalid_type" : "missing_required",
                  "tokens", "'tokens' must be an array of token ids");
        return;
    }
    int n = cJSON_GetArraySize(toks), k = 0;
    int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) {
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    for (const cJSON *c = toks->child; c; c = c->next) {
        if (!cJSON_IsNumber(c) || c->valuedouble != floor(c->valuedouble) || c->valuedouble < 0 ||
            c->valuedouble >= S->n_vocab) {
            free(ids);
            api_error(out, 400, "invalid_request_error", "invalid_value", "tokens",
                      "'tokens' must hold token ids in [0, %d)", S->n_vocab);
            return;
        }
        ids[k++] = (int32_t)c->valuedouble;
    }
    char *text = NULL, err[R1_ERR_MAX];
    size_t len = 0;
    r1_status rs = tokenizer_decode(S->tok, ids, (size_t)k, true, &text, &len, err);
    free(ids);
    if (rs) {
        api_error(out, 400, "invalid_request_error", "invalid_value", "tokens", "%s", err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "content", text);
    free(text);
    reply_json(out, 200, o);
}

/* GET /v1/models lists the one model; GET /v1/models/{id} retrieves it by its id. */
static void handle_models(srv *S, const char *url, srv_reply *out)
{
    const char *id = strncmp(url, "/v1/", 4) ? url + strlen("/models") : url + strlen("/v1/models");
    if (*id == '/') {
        id++;
        if (strcmp(id, S->model_id)) {
            api_error(out, 404, "invalid_request_error", "model_not_found", "model",
                      "The model '%.200s' does not exist; this server serves '%s'", id,
                      S->model_id);
            return;
        }
    }
    cJSON *o = cJSON_CreateObject(), *m = cJSON_CreateObject(), *arr = NULL;
    if (!*id) {
        cJSON_AddStringToObject(o, "object", "list");
        arr = cJSON_AddArrayToObject(o, "data");
    }
    cJSON_AddStringToObject(m, "id", S->model_id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)S->created);
    cJSON_AddStringToObject(m, "owned_by", "r1");
    cJSON *meta = cJSON_AddObjectToObject(m, "meta");
    cJSON_AddNumberToObject(meta, "n_vocab", S->n_vocab);
    cJSON_AddNumberToObject(meta, "n_ctx", S->n_ctx);
    cJSON_AddNumberToObject(meta, "n_parallel", S->p.n_parallel);
    if (!arr) {
        cJSON_Delete(o);
        reply_json(out, 200, m);
        return;
    }
    cJSON_AddItemToArray(arr, m);
    reply_json(out, 200, o);
}

static void handle_health(srv *S, srv_reply *out)
{
    int state = atomic_load(&S->state);
    if (state == SRV_READY) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        reply_json(out, 200, o);
        return;
    }
    const char *what = state == SRV_LOADING  ? "loading"
                       : state == SRV_FAILED ? "failed"
                                             : "stopping";
    char why[256];
    bool broken = S->sched && sched_failure(S->sched, why, sizeof why);
    cJSON *o = error_object("server_error", what, NULL,
                            broken                 ? why
                            : state == SRV_LOADING ? "the model is loading"
                            : state == SRV_FAILED  ? "the model failed to load"
                                                   : "the server is shutting down");
    cJSON_AddStringToObject(o, "status", what);
    reply_json(out, 503, o);
}

static const char *const route_names[ROUTE_COUNT] = {
    "chat",     "completions", "models", "health", "metrics",
    "tokenize", "detokenize",  "web",    "ollama", "other"};

static void handle_metrics(srv *S, srv_reply *out)
{
    sbuf b = {0};
    char line[256];
#define LINE(...)                                                                                  \
    do {                                                                                           \
        int k_ = snprintf(line, sizeof line, __VA_ARGS__);                                         \
        sb_add(&b, line, (size_t)k_ < sizeof line ? (size_t)k_ : sizeof line - 1);                 \
    } while (0)
    LINE("# HELP r1_http_requests_total HTTP requests answered, by route and status class.\n");
    LINE("# TYPE r1_http_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int c = 1; c < 6; c++) {
            uint64_t v = atomic_load(&S->n_http[r][c]);
            if (v)
                LINE("r1_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n", route_names[r], c,
                     (unsigned long long)v);
        }
    sched_stats s = {0};
    int state = atomic_load(&S->state); /* sched is set before the state becomes READY */
    if (state == SRV_READY || state == SRV_STOPPING) sched_get_stats(S->sched, &s);
    struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        {"r1_jobs_completed_total", "counter", "generation jobs ended (one per choice)",
         (double)s.n_jobs_done},
        {"r1_jobs_cancelled_total", "counter", "jobs cancelled (client gone or shutdown)",
         (double)s.n_jobs_cancelled},
        {"r1_jobs_failed_total", "counter", "jobs ended by an engine error",
         (double)s.n_jobs_failed},
        {"r1_requests_rejected_total", "counter", "requests refused with 503: queue full",
         (double)s.n_rejected},
        {"r1_prompt_tokens_total", "counter", "prompt tokens of admitted jobs",
         (double)s.n_prompt_tokens},
        {"r1_prompt_cache_hit_tokens_total", "counter", "prompt tokens reused from slot caches",
         (double)s.n_prompt_cache_hit},
        {"r1_generated_tokens_total", "counter", "tokens generated", (double)s.n_generated_tokens},
        {"r1_decode_steps_total", "counter", "batched decode steps", (double)s.n_steps},
        {"r1_mtp_drafts_total", "counter", "tokens drafted by the MTP module",
         (double)s.n_mtp_drafted},
        {"r1_mtp_drafts_accepted_total", "counter", "MTP drafts accepted by verification",
         (double)s.n_mtp_accepted},
        {"r1_busy_seconds_total", "counter", "seconds spent in forward passes", s.busy_seconds},
        {"r1_queue_depth", "gauge", "jobs waiting for a slot", s.n_queued},
        {"r1_slots_active", "gauge", "slots running a job", s.n_active},
        {"r1_slots_total", "gauge", "slots (--parallel)", s.n_slots},
        {"r1_generation_tokens_per_second", "gauge", "generated tokens/s over the last seconds",
         s.gen_tokens_per_s},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        LINE("# HELP %s %s.\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name, m[i].type);
        LINE("%s %.17g\n", m[i].name, m[i].v);
    }
    LINE("# HELP r1_connections_timed_out_total connections cut: request not in by its "
         "deadline.\n# TYPE r1_connections_timed_out_total counter\n");
    LINE("r1_connections_timed_out_total %llu\n",
         (unsigned long long)atomic_load(&S->n_conns_timed_out));
    LINE("# HELP r1_connections_evicted_total connections cut early: slow headers near the "
         "connection cap.\n# TYPE r1_connections_evicted_total counter\n");
    LINE("r1_connections_evicted_total %llu\n",
         (unsigned long long)atomic_load(&S->n_conns_evicted));
    LINE("# HELP r1_model_loaded 1 when the model is loaded and requests are served.\n");
    LINE("# TYPE r1_model_loaded gauge\nr1_model_loaded %d\n", atomic_load(&S->state) == SRV_READY);
#undef LINE
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    out->body = b.p ? b.p : strdup("");
    out->n_body = b.n;
}

/* ---- routing --------------------------------------------------------------------------------- */

bool api_request_parse(srv *S, srv_route route, const char *body, size_t n_body,
                       api_request *out_req, srv_reply *out)
{
    if (route != ROUTE_CHAT && route != ROUTE_COMPLETIONS) {
        api_error(out, 500, "server_error", NULL, NULL, "not a generation route");
        return false;
    }
    cJSON *j = api_parse_body(S, body, n_body, out);
    if (!j) return false;
    bool ok = api_request_parse_json(S, route, j, PROTO_OPENAI, out_req, out);
    cJSON_Delete(j); /* the stream owns copies of everything the jobs borrow */
    return ok;
}

bool api_request_parse_json(srv *S, srv_route route, cJSON *j, api_proto proto,
                            api_request *out_req, srv_reply *out)
{
    sched_job job = {0};
    srv_stream *st =
        route == ROUTE_CHAT ? chat_prepare(S, j, &job, out) : completion_prepare(S, j, &job, out);
    if (!st) {
        if (!out->body) api_error(out, 500, "server_error", NULL, NULL, "no answer");
        return false;
    }
    if (st->n_prompt >= S->n_ctx) {
        api_error(out, 400, "invalid_request_error", "context_length_exceeded", "messages",
                  "This model's maximum context length is %d tokens. However, your prompt "
                  "has %d tokens. Please shorten it.",
                  S->n_ctx, st->n_prompt);
        stream_free(st);
        return false;
    }
    job.prompt = st->prompt;
    job.n_prompt = st->n_prompt;
    job.stops = (const char *const *)st->stops;
    job.n_stops = st->n_stops;
    job.bias_ids = st->bias_ids;
    job.bias = st->bias;
    job.n_bias = st->n_bias;
    job.n_logprobs = st->n_logprobs;
    st->proto = proto;
    *out_req = (api_request){.st = st, .job = job, .n_choices = st->n, .stream = st->stream};
    return true;
}

void api_request_note_ignored(api_request *req, const char *name)
{
    sbuf *b = &req->st->ignored;
    if (b->n) sb_add(b, ",", 1);
    sb_add(b, name, strlen(name));
}

void api_request_run(srv *S, api_request *req, const char *url, int fd, srv_reply *out)
{
    srv_stream *st = req->st;
    req->st = NULL;
    snprintf(st->path, sizeof st->path, "%s", url);
    if (st->ignored.n) {
        fprintf(stderr, "r1 serve: ignored request fields: %s\n", st->ignored.p);
        out->ignored_fields = strdup(st->ignored.p);
    }
    run_generation(S, st, &req->job, fd, out,
                   st->proto != PROTO_OPENAI ? build_ollama
                   : st->is_chat             ? build_chat
                                             : build_completion);
}

void api_request_free(api_request *req)
{
    if (req->st) stream_free(req->st);
    req->st = NULL;
}

void api_log_request(const srv *S, const char *method, const char *path, int status, int n_prompt,
                     int n_gen, double t0)
{
    if (!S->p.verbose && !S->p.log_requests) return;
    double ms = (mono_s() - t0) * 1e3;
    /* the path as printable ASCII (it is the client's text), at most 200 bytes */
    char safe[208];
    size_t n = 0;
    for (const char *u = path; *u && n < 200; u++) safe[n++] = *u > 0x20 && *u < 0x7f ? *u : '?';
    safe[n] = 0;
    if (S->p.log_json) {
        cJSON *o = cJSON_CreateObject();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char when[64];
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + k, sizeof when - k, ".%03ldZ", ts.tv_nsec / 1000000);
        cJSON_AddStringToObject(o, "time", when);
        cJSON_AddStringToObject(o, "method", method);
        cJSON_AddStringToObject(o, "path", safe);
        cJSON_AddNumberToObject(o, "status", status);
        if (n_prompt >= 0) cJSON_AddNumberToObject(o, "prompt_tokens", n_prompt);
        if (n_gen >= 0) cJSON_AddNumberToObject(o, "completion_tokens", n_gen);
        cJSON_AddNumberToObject(o, "ms", round(ms * 10) / 10);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (line) fprintf(stderr, "%s\n", line);
        free(line);
    } else if (n_prompt >= 0) {
        fprintf(stderr, "r1 serve: %s %s %d prompt=%d completion=%d %.1f ms\n", method, safe,
                status, n_prompt, n_gen, ms);
    } else {
        fprintf(stderr, "r1 serve: %s %s %d %.1f ms\n", method, safe, status, ms);
    }
}

void api_handle_not_ready(srv *S, srv_reply *out)
{
    int state = atomic_load(&S->state);
    char why[256];
    if (S->sched && sched_failure(S->sched, why, sizeof why)) {
        api_error(out, 503, "server_error", "model_unavailable", NULL, "%s", why);
        return;
    }
    api_error(out, 503, "server_error", state == SRV_LOADING ? "loading" : "unavailable", NULL,
              state == SRV_LOADING ? "the model is loading; retry shortly"
                                   : "the server is not serving requests");
    if (state == SRV_LOADING) out->retry_after_s = 5;
}

srv_route api_route(const char *method, const char *url)
{
    (void)method;
    if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))
        return ROUTE_CHAT;
    if (!strcmp(url, "/v1/completions") || !strcmp(url, "/completions")) return ROUTE_COMPLETIONS;
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models") || !strncmp(url, "/v1/models/", 11) ||
        !strncmp(url, "/models/", 8))
        return ROUTE_MODELS;
    if (!strcmp(url, "/health") || !strcmp(url, "/v1/health")) return ROUTE_HEALTH;
    if (!strcmp(url, "/metrics")) return ROUTE_METRICS;
    if (!strcmp(url, "/tokenize")) return ROUTE_TOKENIZE;
    if (!strcmp(url, "/detokenize")) return ROUTE_DETOKENIZE;
    if (web_find(url)) return ROUTE_WEB; /* the chat page's files: http.c serves them */
    return ollama_route(url);
}

void api_handle(srv *S, srv_route route, const char *method, const char *url, const char *body,
                size_t n_body, int fd, srv_reply *out)
{
    out->n_prompt = out->n_gen = -1;
    if (route == ROUTE_OLLAMA) {
        ollama_handle(S, method, url, body, n_body, fd, out);
        if (!out->body && !out->stream)
            api_error(out, 500, "server_error", NULL, NULL, "no answer");
        return;
    }
    bool post = route == ROUTE_CHAT || route == ROUTE_COMPLETIONS || route == ROUTE_TOKENIZE ||
                route == ROUTE_DETOKENIZE;
    if (route == ROUTE_OTHER) {
        api_error(out, 404, "invalid_request_error", "not_found", NULL, "no route for %s", method);
        return;
    }
    if (strcmp(method, post ? "POST" : "GET") && !(!post && !strcmp(method, "HEAD"))) {
        api_error(out, 405, "invalid_request_error", "method_not_allowed", NULL,
                  "use %s for this endpoint", post ? "POST" : "GET");
        return;
    }
    switch (route) {
    case ROUTE_HEALTH:
        handle_health(S, out);
        return;
    case ROUTE_METRICS:
        handle_metrics(S, out);
        return;
    default:
        break;
    }
    if (atomic_load(&S->state) != SRV_READY) {
        api_handle_not_ready(S, out);
        return;
    }
    if (route == ROUTE_MODELS) {
        handle_models(S, url, out);
        return;
    }
    if (route == ROUTE_CHAT || route == ROUTE_COMPLETIONS) {
        api_request req;
        if (api_request_parse(S, route, body, n_body, &req, out))
            api_request_run(S, &req, url, fd, out);
    } else {
        cJSON *j = api_parse_body(S, body, n_body, out);
        if (!j) return;
        if (route == ROUTE_TOKENIZE)
            handle_tokenize(S, j, out);
        else if (route == ROUTE_DETOKENIZE)
            handle_detokenize(S, j, out);
        cJSON_Delete(j);
    }
    if (!out->body && !out->stream) api_error(out, 500, "server_error", NULL, NULL, "no answer");
}
