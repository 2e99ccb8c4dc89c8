/* server.h — `r1 serve`: an OpenAI/DeepSeek-compatible HTTP server over libr1 (docs/server-api.md).
 *
 * Threads: libmicrohttpd runs one thread per connection (parse, validate, tokenize, format JSON);
 * one scheduler thread (scheduler.h) drives every forward pass. They meet only in srv_request
 * (api.h) and the scheduler's queue, both behind mutexes. The model and tokenizer are immutable
 * after load and shared read-only.
 *
 * Lifecycle: listen first, then load the model (GET /health answers 503 "loading" meanwhile), then
 * serve until SIGTERM/SIGINT: stop accepting, let in-flight requests finish for up to
 * shutdown_timeout_s, cancel the rest, exit 0. */
#ifndef R1_SERVER_SERVER_H
#define R1_SERVER_SERVER_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct server_params {
    const char *model_path;
    const char *alias;         /* model id reported by /v1/models; NULL = file name */
    const char *host;          /* "127.0.0.1" */
    int port;                  /* 8080; 0 = any free port (printed at start) */
    const char *api_key;       /* NULL = no authentication */
    const char *cors_origin;   /* NULL = no CORS headers; "*" or one origin */
    int n_threads;             /* forward-pass threads; 0 = all cores */
    int n_parallel;            /* slots decoded together */
    int n_ctx;                 /* per slot; 0 = min(model context, 4096) */
    int n_queue;               /* waiting tasks beyond the slots before 503 */
    int max_tokens;            /* default and cap of max_tokens */
    int prefill_chunk;         /* prompt tokens per scheduler step while others decode */
    size_t max_body_bytes;     /* request bodies above this get 413 */
    int max_json_depth;        /* nesting deeper than this gets 400 */
    int shutdown_timeout_s;    /* SIGTERM: how long in-flight requests may go on */
    int max_connections;       /* open connections, all clients together (1024) */
    int max_conns_per_ip;      /* open connections from one address (64; 0 = no cap) */
    int header_timeout_s;      /* request headers must be in within this many s of the
                                  connection opening or the previous answer (incl. idle) */
    int body_timeout_s;        /* the body must be in within this many s of the headers */
    int max_json_values;       /* JSON values (brackets + commas) a body may hold; 0 = 4 * n_ctx
                                  + 4096 */
    int tokenize_ctx_multiple; /* /tokenize content: at most this many bytes per context token */
    int debug_load_delay_ms;   /* tests only: sleep this long before loading the model */
    const char *chat_template; /* renderer name; NULL = detect from the model */
    bool force_think;          /* end the generation prompt with "<think>\n" */
    const char *reasoning_fmt; /* default reasoning_format: "deepseek" or "none" */
    int step_delay_ms;         /* tests only: sleep this long after each scheduler step */
    r1_mtp_mode mtp;           /* MTP speculative decoding (default: when the model has it) */
    r1_cache_type cache_type;  /* KV cache element type (default F32) */
    const r1_dist *dist;       /* under mpirun: the communicator of the split model (rank 0 serves,
                                  the other ranks only take part in its forward passes) */
    bool verbose;              /* also logs one line per request */
    bool log_json;             /* --log-format json: the request log as JSON lines */
    bool log_requests;         /* the request log without the rest of -v (--log-format) */
} server_params;

server_params server_params_default(void);

/* Run the server until a termination signal; returns the process exit code. */
int server_run(const server_params *params);

#endif
