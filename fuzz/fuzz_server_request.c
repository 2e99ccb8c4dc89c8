/* fuzz_server_request.c — libFuzzer target for the request bodies of `r1 serve` (issue 6: a bad
 * body gets a 4xx JSON error, never a crash). Byte 0 picks the endpoint ('c' chat, 'p' completions,
 * 't' tokenize, 'd' detokenize, 'o' Ollama /api/chat, 'g' Ollama /api/generate, else its low two
 * bits; upper case: the --think, reasoning "none" setup); the rest is the body. Ollama bodies go
 * through ollama_request_parse and their errors are Ollama's {"error": "..."} (code "error" for
 * the replay test's file names). Chat and completions go through api_request_parse (api_handle up
 * to submitting), tokenize and detokenize through api_handle, with the tokenizer and sizes of
 * models/r1-tiny.gguf ($R1_FUZZ_MODEL). Promises: every reply is valid UTF-8 JSON; an error is 4xx
 * (500 only for out of memory) with error.message/type/param/code; a parsed request has 1..n_ctx-1
 * ids below n_vocab and options in range. Build, run: docs/fuzzing.md. Replayed by
 * tests/unit/test_fuzz_corpus_server.c (FUZZ_NO_MAIN drops the libFuzzer entry point). */
#include "../apps/server/server_int.h"
#include "../apps/server/web.h"
#include "formats/gguf.h"
#include "tokenizer/unicode.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef R1_FUZZ_MODEL
#define R1_FUZZ_MODEL "models/r1-tiny.gguf"
#endif

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_server_request: broken promise: %s\n", #c);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* api.c routes the embedded page's URLs (GET only, no body reaches them); the fuzzer does not embed
 * the page, so no URL is one of its files. */
const web_file *web_find(const char *url)
{
    (void)url;
    return NULL;
}

/* What one input gave, for the replay test. */
typedef struct fuzz_server_result {
    srv_route route;
    int status;        /* 200: parsed (chat, completions) or answered (tokenize, detokenize) */
    char code[64];     /* error.code, "" when null or no error */
    char message[512]; /* error.message, "" when no error */
} fuzz_server_result;

static srv servers[2]; /* [0]: `r1 serve` defaults; [1]: --force-think, --reasoning-format none */

/* Load the tokenizer and the model's sizes once, as server.c's load() does. */
static bool fuzz_server_setup(void)
{
    static int done; /* 0: not tried; 1: ready; -1: failed */
    if (done) return done > 0;
    done = -1;
    const char *path = getenv("R1_FUZZ_MODEL") ? getenv("R1_FUZZ_MODEL") : R1_FUZZ_MODEL;
    char err[R1_ERR_MAX];
    gguf_file *f = NULL;
    tokenizer *tok = NULL;
    if (gguf_open(path, true, &f, err) || tokenizer_load_gguf(f, &tok, err)) {
        fprintf(stderr, "fuzz_server_request: %s: %s\n", path, err);
        if (f) gguf_close(f);
        return false;
    }
    gguf_close(f);
    r1_model *model = NULL;
    r1_session *sess = NULL;
    if (r1_model_load(path, NULL, &model, err) || r1_session_new(model, NULL, &sess, err)) {
        fprintf(stderr, "fuzz_server_request: %s: %s\n", path, err);
        r1_model_free(model);
        tokenizer_free(tok);
        return false;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    int n_ctx = r1_session_n_ctx(sess); /* what the scheduler's slots get with --ctx 0 */
    r1_session_free(sess);
    r1_model_free(model);
    for (int i = 0; i < 2; i++) {
        srv *S = &servers[i];
        /* the request limits of server_params_default() (server.c, which needs libmicrohttpd) */
        S->p.n_parallel = 4;
        S->p.max_tokens = 4096;
        S->p.max_body_bytes = 8u << 20;
        S->p.max_json_depth = 64;
        S->p.tokenize_ctx_multiple = 16;
        S->tok = tok;
        S->tmpl = chat_template_params_default();
        chat_template_detect(tokenizer_chat_template(tok), &S->tmpl, NULL);
        S->reasoning = REASONING_DEEPSEEK;
        S->n_vocab = info.n_vocab;
        S->n_ctx = n_ctx;
        snprintf(S->model_id, sizeof S->model_id, "r1-tiny.gguf");
        api_limits_init(S);
        atomic_init(&S->state, SRV_READY);
    }
    servers[1].tmpl.force_think = true;
    servers[1].reasoning = REASONING_NONE;
    done = 1;
    return true;
}

static bool is_str_or_null(const cJSON *v)
{
    return cJSON_IsString(v) || cJSON_IsNull(v);
}

/* The reply's body is one valid JSON value; an error reply is an OpenAI error object. */
static void check_reply(const srv_reply *r, fuzz_server_result *res)
{
    FUZZ_ASSERT(r->body && r->n_body == strlen(r->body) && !r->stream);
    FUZZ_ASSERT(r->content_type && !strcmp(r->content_type, "application/json"));
    FUZZ_ASSERT(utf8_valid_prefix(r->body, r->n_body) == r->n_body);
    cJSON *j = cJSON_ParseWithLength(r->body, r->n_body);
    FUZZ_ASSERT(j != NULL);
    res->status = r->status;
    const cJSON *oe = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (r->status >= 400 && cJSON_IsString(oe)) { /* Ollama's error shape */
        FUZZ_ASSERT(res->route == ROUTE_OLLAMA && oe->valuestring[0]);
        FUZZ_ASSERT(r->status < 500 || !strcmp(oe->valuestring, "out of memory"));
        snprintf(res->message, sizeof res->message, "%s", oe->valuestring);
        snprintf(res->code, sizeof res->code, "error");
    } else if (r->status >= 400) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        FUZZ_ASSERT(cJSON_IsObject(e) && cJSON_IsString(msg) && msg->valuestring[0]);
        FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type")));
        FUZZ_ASSERT(is_str_or_null(cJSON_GetObjectItemCaseSensitive(e, "param")));
        FUZZ_ASSERT(is_str_or_null(code));
        /* bad input is the client's fault; a 5xx here would only be memory running out */
        FUZZ_ASSERT((r->status < 500) || !strcmp(msg->valuestring, "out of memory"));
        snprintf(res->message, sizeof res->message, "%s", msg->valuestring);
        if (cJSON_IsString(code)) snprintf(res->code, sizeof res->code, "%s", code->valuestring);
    } else {
        FUZZ_ASSERT(r->status == 200 && cJSON_IsObject(j));
    }
    cJSON_Delete(j);
}

/* A parsed generation request stays inside what the scheduler is promised. */
static void check_request(const srv *S, const api_request *q)
{
    const sched_job *job = &q->job;
    FUZZ_ASSERT(q->st && q->n_choices >= 1 && q->n_choices <= 16);
    FUZZ_ASSERT(job->prompt && job->n_prompt >= 1 && job->n_prompt < S->n_ctx);
    for (int i = 0; i < job->n_prompt; i++)
        FUZZ_ASSERT(job->prompt[i] >= 0 && job->prompt[i] < S->n_vocab);
    FUZZ_ASSERT(job->max_tokens >= 1 && job->max_tokens <= S->p.max_tokens);
    const r1_sampler_params *sp = &job->sampling;
    FUZZ_ASSERT(sp->temperature >= 0 && sp->temperature <= 2);
    FUZZ_ASSERT(sp->top_p > 0 && sp->top_p <= 1 && sp->min_p >= 0 && sp->min_p <= 1);
    FUZZ_ASSERT(sp->top_k >= 0);
    FUZZ_ASSERT(sp->frequency_penalty >= -2 && sp->frequency_penalty <= 2);
    FUZZ_ASSERT(sp->presence_penalty >= -2 && sp->presence_penalty <= 2);
    FUZZ_ASSERT(sp->repeat_penalty >= 0 && sp->repeat_penalty <= 10 && sp->repeat_last_n >= -1);
    FUZZ_ASSERT(job->n_stops >= 0 && job->n_stops <= 4);
    for (int i = 0; i < job->n_stops; i++) {
        size_t n = strlen(job->stops[i]);
        FUZZ_ASSERT(n >= 1 && n <= 256);
    }
    FUZZ_ASSERT(job->n_bias >= 0 && job->n_bias <= 1024);
    for (int i = 0; i < job->n_bias; i++) {
        FUZZ_ASSERT(job->bias_ids[i] >= 0 && job->bias_ids[i] < S->n_vocab);
        FUZZ_ASSERT(job->bias[i] >= -100 && job->bias[i] <= 100);
    }
    FUZZ_ASSERT(job->n_logprobs >= -1 && job->n_logprobs <= SCHED_MAX_TOP_LOGPROBS);
    FUZZ_ASSERT(job->reasoning == REASONING_NONE || job->reasoning == REASONING_DEEPSEEK);
    FUZZ_ASSERT(!job->start_in_reasoning || job->reasoning != REASONING_NONE);
}

/* tokenize: {"tokens": [id or {"id", "piece"}, ...]}; detokenize: {"content": string}. */
static void check_answer(const srv *S, srv_route route, const srv_reply *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body, r->n_body);
    if (route == ROUTE_DETOKENIZE) {
        FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "content")));
    } else {
        const cJSON *toks = cJSON_GetObjectItemCaseSensitive(j, "tokens"), *t;
        FUZZ_ASSERT(cJSON_IsArray(toks));
        cJSON_ArrayForEach(t, toks)
        {
            const cJSON *id = cJSON_IsObject(t) ? cJSON_GetObjectItemCaseSensitive(t, "id") : t;
            FUZZ_ASSERT(cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < S->n_vocab);
            if (cJSON_IsObject(t))
                FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "piece")));
        }
    }
    cJSON_Delete(j);
}

/* Run one input; returns the HTTP status (0: empty input or no model). */
static int fuzz_server_one(const uint8_t *data, size_t size, fuzz_server_result *res)
{
    memset(res, 0, sizeof *res);
    if (size == 0 || !fuzz_server_setup()) return 0;
    static const srv_route by_bits[4] = {ROUTE_CHAT, ROUTE_COMPLETIONS, ROUTE_TOKENIZE,
                                         ROUTE_DETOKENIZE};
    int sel = data[0] | 0x20;
    srv_route route = sel == 'c'                 ? ROUTE_CHAT
                      : sel == 'p'               ? ROUTE_COMPLETIONS
                      : sel == 't'               ? ROUTE_TOKENIZE
                      : sel == 'd'               ? ROUTE_DETOKENIZE
                      : sel == 'o' || sel == 'g' ? ROUTE_OLLAMA
                                                 : by_bits[data[0] & 3];
    srv *S = &servers[!(data[0] & 0x20)];
    res->route = route;
    /* http.c hands over the body NUL-terminated, in a buffer of its exact size */
    size_t n = size - 1;
    char *body = malloc(n + 1);
    if (!body) return 0;
    memcpy(body, data + 1, n);
    body[n] = 0;
    srv_reply r = {0};
    if (route == ROUTE_CHAT || route == ROUTE_COMPLETIONS || route == ROUTE_OLLAMA) {
        api_request q;
        bool parsed = route == ROUTE_OLLAMA
                          ? ollama_request_parse(S, sel == 'o' ? "/api/chat" : "/api/generate",
                                                 body, n, &q, &r)
                          : api_request_parse(S, route, body, n, &q, &r);
        if (parsed) {
            FUZZ_ASSERT(r.body == NULL && r.status == 0);
            check_request(S, &q);
            api_request_free(&q);
            res->status = 200;
        } else {
            check_reply(&r, res);
            FUZZ_ASSERT(r.status >= 400);
        }
    } else {
        api_handle(S, route, "POST", route == ROUTE_TOKENIZE ? "/tokenize" : "/detokenize", body, n,
                   -1, &r);
        check_reply(&r, res);
        if (r.status == 200) check_answer(S, route, &r);
    }
    free(r.body);
    free(body);
    return res->status;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_server_setup()) abort(); /* without the model nothing would be fuzzed */
    fuzz_server_result res;
    fuzz_server_one(data, size, &res);
    return 0;
}
#endif
