/* server_int.h — what server.c, http.c and api.c share: the server state and the reply shape.
 *
 * srv is created by server.c, which fills model/tok/sched once loading is done and then sets
 * state to SRV_READY (atomically: HTTP threads read it without a lock); afterwards those fields
 * never change until shutdown, when every HTTP thread has stopped. */
#ifndef R1_SERVER_SERVER_INT_H
#define R1_SERVER_SERVER_INT_H

#include "scheduler.h"
#include "server.h"
#include "tokenizer/chat_template.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum srv_state {
    SRV_LOADING = 0,
    SRV_READY = 1,
    SRV_FAILED = 2,
    SRV_STOPPING = 3,
} srv_state;

/* Routes, for the per-route counters of /metrics. */
typedef enum srv_route {
    ROUTE_CHAT = 0,
    ROUTE_COMPLETIONS,
    ROUTE_MODELS,
    ROUTE_HEALTH,
    ROUTE_METRICS,
    ROUTE_TOKENIZE,
    ROUTE_DETOKENIZE,
    ROUTE_WEB,
    ROUTE_OLLAMA, /* /api/...: ollama.c */
    ROUTE_OTHER,
    ROUTE_COUNT,
} srv_route;

typedef struct srv {
    server_params p;
    atomic_int state; /* srv_state */
    r1_model *model;
    tokenizer *tok;
    sched *sched;
    chat_template_params tmpl;
    reasoning_mode reasoning; /* default reasoning_format */
    int n_vocab, n_ctx;
    char model_id[256];
    long created; /* unix time of the load, for /v1/models */
    bool is_loopback;
    atomic_uint_fast64_t next_id;
    atomic_uint_fast64_t n_http[ROUTE_COUNT][6]; /* [route][status / 100] */
    atomic_int n_requests_open; /* requests whose response libmicrohttpd has not finished sending */
    size_t max_text_bytes;      /* no text longer than this fits n_ctx tokens (api.c) */
    /* http.c: open connections and their deadlines, checked by the watchdog thread */
    pthread_mutex_t conns_mu;
    pthread_cond_t watchdog_cv;
    struct conn_watch *conns;
    int n_conns; /* in the list */
    pthread_t watchdog;
    bool has_watchdog, watchdog_quit;
    atomic_uint_fast64_t n_conns_timed_out; /* connections cut by their deadline */
    atomic_uint_fast64_t n_conns_evicted;   /* cut early: slow headers near the connection cap */
} srv;

/* What a handler answers. Either a complete body or, for streams, a request to read from. */
typedef struct srv_reply {
    int status;
    const char *content_type;
    char *body; /* malloc'd; http.c frees it */
    size_t n_body;
    int retry_after_s; /* > 0: send Retry-After */
    bool close;        /* close the connection after this answer */
    struct srv_stream *stream;
    char *ignored_fields; /* malloc'd "a,b": request fields accepted but ignored (a header) */
    int n_prompt, n_gen;  /* tokens, for the request log (-1: not a generation) */
} srv_reply;

/* api.c: route one complete request (body NUL-terminated). fd is the client socket. */
srv_route api_route(const char *method, const char *url);
void api_handle(srv *S, srv_route route, const char *method, const char *url, const char *body,
                size_t n_body, int fd, srv_reply *out);
/* The wire format of a generation's answer. */
typedef enum api_proto {
    PROTO_OPENAI = 0,      /* OpenAI/DeepSeek JSON, SSE when streamed */
    PROTO_OLLAMA_CHAT,     /* Ollama /api/chat: {"message": {...}}, NDJSON when streamed */
    PROTO_OLLAMA_GENERATE, /* Ollama /api/generate: {"response": "..."} */
} api_proto;

/* A chat or completions request, parsed and validated but not yet submitted. */
typedef struct api_request {
    struct srv_stream *st; /* owns the prompt, stop strings and logit bias that job borrows */
    sched_job job;         /* what every choice runs: prompt, sampling, stops, bias, logprobs */
    int n_choices;         /* 1..16 */
    bool stream;
} api_request;
/* The part of api_handle that reads a ROUTE_CHAT or ROUTE_COMPLETIONS body (NUL-terminated) and
 * stops before anything is submitted: JSON checks, fields, chat template, tokenization, context
 * length. Needs S->p, tok, tmpl, reasoning, n_vocab and n_ctx; not the model or the scheduler.
 * true: *out_req is filled; free it with api_request_free. false: *out_req is untouched and out
 * holds the error object (4xx for a bad request, 500 when memory ran out). */
bool api_request_parse(srv *S, srv_route route, const char *body, size_t n_body,
                       api_request *out_req, srv_reply *out);
void api_request_free(api_request *req);
/* The same from a tree already parsed (ollama.c builds an OpenAI body from an Ollama one), whose
 * answer will be written in proto's format. body may be changed (developer -> system). */
struct cJSON;
bool api_request_parse_json(srv *S, srv_route route, struct cJSON *body, api_proto proto,
                            api_request *out_req, srv_reply *out);
/* Name a request field that was accepted but ignored (the X-R1-Ignored-Fields header). */
void api_request_note_ignored(api_request *req, const char *name);
/* Submit a parsed request and answer it (takes req->st). */
void api_request_run(srv *S, api_request *req, const char *url, int fd, srv_reply *out);
/* A body checked (UTF-8, depth, size) and parsed into a JSON object, or NULL with a 400 in out. */
struct cJSON *api_parse_body(srv *S, const char *body, size_t n_body, srv_reply *out);
/* The 503 of a server that is loading, stopping or broken. */
void api_handle_not_ready(srv *S, srv_reply *out);

/* ollama.c */
typedef struct ollama_done {
    const char *reason; /* "stop" / "length" */
    int n_prompt, n_gen;
    double total_s, prompt_s; /* from the request's start; to its first token */
} ollama_done;
srv_route ollama_route(const char *url); /* ROUTE_OLLAMA for /api/..., else ROUTE_OTHER */
void ollama_handle(srv *S, const char *method, const char *url, const char *body, size_t n_body,
                   int fd, srv_reply *out);
/* The part of ollama_handle that reads /api/chat or /api/generate and stops before submitting
 * (as api_request_parse); errors in Ollama's shape. */
bool ollama_request_parse(srv *S, const char *url, const char *body, size_t n_body,
                          api_request *out_req, srv_reply *out);
/* One Ollama answer object as an NDJSON line (malloc'd, ends in "\n"): a piece of content or
 * thinking (either may be NULL), or with done the last one, with the counts and durations. */
char *ollama_line(const srv *S, api_proto proto, const char *content, const char *thinking,
                  const ollama_done *done);
/* After the tokenizer and n_ctx are set: the text limits derived from them (max_text_bytes). */
void api_limits_init(srv *S);
size_t api_max_json_values(const srv *S); /* --max-json-values, or 4 * n_ctx + 4096 */
/* An OpenAI error object as a reply. */
void api_error(srv_reply *out, int status, const char *type, const char *code, const char *param,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Streams: read the next bytes of SSE (blocks until some are ready); returns the count, or -1 at
 * the end. release: the client is done (finished or gone): cancels what still runs, frees. */
long api_stream_read(struct srv_stream *st, char *buf, size_t max);
void api_stream_release(struct srv_stream *st);

/* One line of the request log (on stderr, with -v or --log-format): method, path, status,
 * tokens (-1: not a generation), milliseconds since t0 (CLOCK_MONOTONIC s). */
void api_log_request(const srv *S, const char *method, const char *path, int status, int n_prompt,
                     int n_gen, double t0);

/* http.c */
struct MHD_Daemon;
struct MHD_Daemon *http_start(srv *S, char *err, size_t err_size);
int http_bound_port(struct MHD_Daemon *d);
int http_quiesce(struct MHD_Daemon *d);       /* stop accepting; returns the listen fd or -1 */
void http_stop(srv *S, struct MHD_Daemon *d); /* stops the daemon and the watchdog */

#endif
