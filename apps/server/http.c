/* http.c — the HTTP layer on libmicrohttpd: one thread per connection; body limits, the checks
 * that come before any route (Host, Origin, API key, CORS), then api_handle, then the response —
 * a buffer, or an SSE stream read from api_stream_read by libmicrohttpd's content reader.
 *
 * Order of checks on each request, first failure answers: Host (when bound to loopback: DNS
 * rebinding) -> Origin (cross-site browser requests need --cors) -> OPTIONS preflight -> API key
 * (all but GET / and /health) -> Content-Length and body bytes against max_body_bytes. Before
 * all of these, a request with two Content-Length or two Host headers is refused and its
 * connection closed: a proxy that reads the other value would see a different request.
 *
 * Slow clients: every connection has a deadline (watchdog below) for its next request's headers
 * (header_timeout_s from the connection opening or the previous answer) and then for its body
 * (body_timeout_s); past it the socket is shut down. libmicrohttpd caps connections in all
 * (max_connections) and per client address (max_conns_per_ip); near the cap, connections slow to
 * send their headers are cut early (PRESSURE_* below). */
#include "server_int.h"
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One open connection, for the watchdog: created and freed by on_connection (libmicrohttpd's
 * notify callback), updated by the request callbacks. Guarded by S->conns_mu. */
typedef struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    double deadline; /* CLOCK_MONOTONIC s; 0: none (a request is being answered) */
    double since;    /* when it began waiting for the current headers (if in_headers) */
    bool in_headers; /* waiting for a request's headers (new, or idle between requests) */
    bool cut;        /* the watchdog shut the socket down */
} conn_watch;

typedef struct conn {
    char *body; /* (n_body) bytes, NUL-terminated */
    size_t n_body, cap;
    srv_route route;
    bool rejected;            /* a response was queued before the body was read */
    bool too_large;           /* the body is being read and dropped: 413 at its end */
    bool big_reply;           /* the answer was large: trim the heap after it */
    const char *method, *url; /* libmicrohttpd's, valid until the request completes */
    double t0;                /* when its headers were in (the request log) */
} conn;

/* Bodies over the limit are read and dropped up to this size, then the connection is cut. */
#define DISCARD_MAX (64ull << 20)
/* After a request with a body this large, hand freed memory back to the system: glibc keeps it
 * in the connection thread's arena otherwise (the RSS of a server that once parsed a big body
 * stays high, issue 21). */
#define TRIM_AFTER_BYTES (1u << 20)

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static conn_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Under pressure (this share of --max-connections open), connections that have waited longer
 * than PRESSURE_WAIT_S for their headers are cut at once: a client that means it sends its
 * headers in milliseconds. Without this, slow clients from many addresses could hold every
 * connection until their header deadline (nginx likewise reuses idle keep-alive connections
 * when it runs out). */
#define PRESSURE_NUM 7
#define PRESSURE_DEN 8
#define PRESSURE_WAIT_S 1.0

/* Move a connection's deadline: `seconds` from now, or none (seconds <= 0); in_headers: it now
 * waits for a request's headers. */
static void watch_set(srv *S, struct MHD_Connection *c, int seconds, bool in_headers)
{
    conn_watch *w = watch_of(c);
    if (!w) return;
    pthread_mutex_lock(&S->conns_mu);
    double now = mono_s();
    w->deadline = seconds > 0 ? now + seconds : 0;
    w->in_headers = in_headers;
    w->since = now;
    pthread_mutex_unlock(&S->conns_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv *S = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_watch *w = calloc(1, sizeof *w);
        *socket_context = w;
        if (!w) return; /* unwatched: only the idle timeout applies */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w->fd = ci ? ci->connect_fd : -1;
        w->since = mono_s();
        w->deadline = w->since + S->p.header_timeout_s;
        w->in_headers = true;
        pthread_mutex_lock(&S->conns_mu);
        S->n_conns++;
        w->next = S->conns;
        if (S->conns) S->conns->prev = w;
        S->conns = w;
        pthread_mutex_unlock(&S->conns_mu);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* called before libmicrohttpd closes the socket: the watchdog never sees a reused fd */
        conn_watch *w = *socket_context;
        if (!w) return;
        pthread_mutex_lock(&S->conns_mu);
        S->n_conns--;
        if (w->prev)
            w->prev->next = w->next;
        else
            S->conns = w->next;
        if (w->next) w->next->prev = w->prev;
        pthread_mutex_unlock(&S->conns_mu);
        free(w);
        *socket_context = NULL;
    }
}

/* Four times a second: shut down the sockets of connections past their deadline (or, near the
 * connection cap, slow to send their headers). The connection's own thread then reads
 * end-of-file and libmicrohttpd closes it (the usual path, so no race). */
static void *watchdog_main(void *arg)
{
    srv *S = arg;
    pthread_mutex_lock(&S->conns_mu);
    while (!S->watchdog_quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000; /* 1/4 s: deadlines are whole seconds */
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&S->watchdog_cv, &S->conns_mu, &ts);
        double now = mono_s();
        bool pressure = S->n_conns * PRESSURE_DEN >= S->p.max_connections * PRESSURE_NUM;
        for (conn_watch *w = S->conns; w; w = w->next) {
            if (w->cut || w->fd < 0) continue;
            bool late = w->deadline > 0 && now > w->deadline;
            bool evict = pressure && w->in_headers && now - w->since > PRESSURE_WAIT_S;
            if (late || evict) {
                shutdown(w->fd, SHUT_RDWR);
                w->cut = true;
                atomic_fetch_add(late ? &S->n_conns_timed_out : &S->n_conns_evicted, 1);
            }
        }
    }
    pthread_mutex_unlock(&S->conns_mu);
    return NULL;
}

/* Header lines named `name`, counted (libmicrohttpd keeps every one; lookups see the first). */
typedef struct hdr_count {
    const char *name;
    int n;
} hdr_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    hdr_count *h = cls;
    if (key && !strcasecmp(key, h->name)) h->n++;
    return MHD_YES;
}

static int n_headers(struct MHD_Connection *c, const char *name)
{
    hdr_count h = {name, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &h);
    return h.n;
}

typedef struct hdr_set {
    const char *name, *value;
} hdr_set;

static void count(srv *S, srv_route route, int status)
{
    int c = status / 100;
    if (c >= 1 && c <= 5) atomic_fetch_add(&S->n_http[route][c], 1);
}

static void add_common_headers(srv *S, struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (S->p.cors_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", S->p.cors_origin);
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "X-R1-Ignored-Fields");
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

/* libmicrohttpd's content reader: blocking is allowed with a thread per connection. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    long n = api_stream_read(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free_cb(void *cls)
{
    api_stream_release(cls);
}

static enum MHD_Result send_reply(srv *S, struct MHD_Connection *c, const conn *cx, srv_reply *rep)
{
    srv_route route = cx->route;
    /* streams are logged when they end, with their token counts (api_stream_release) */
    if (!rep->stream)
        api_log_request(S, cx->method, cx->url, rep->status, rep->n_prompt, rep->n_gen, cx->t0);
    struct MHD_Response *r;
    if (rep->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader,
                                              rep->stream, stream_free_cb);
        if (!r) {
            api_stream_release(rep->stream);
            return MHD_NO;
        }
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    } else {
        r = MHD_create_response_from_buffer(rep->n_body, rep->body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(rep->body);
            return MHD_NO;
        }
    }
    MHD_add_response_header(r, "Content-Type",
                            rep->content_type ? rep->content_type : "application/json");
    add_common_headers(S, r);
    if (rep->status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (rep->close) MHD_add_response_header(r, "Connection", "close");
    if (rep->ignored_fields) {
        MHD_add_response_header(r, "X-R1-Ignored-Fields", rep->ignored_fields);
        free(rep->ignored_fields);
        rep->ignored_fields = NULL;
    }
    if (rep->retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", rep->retry_after_s);
        MHD_add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rep->status, r);
    MHD_destroy_response(r);
    count(S, route, rep->status);
    return ok;
}

static enum MHD_Result send_error(srv *S, struct MHD_Connection *c, const conn *cx, int status,
                                  const char *code, const char *msg)
{
    srv_reply rep = {.n_prompt = -1, .n_gen = -1};
    api_error(&rep, status, status == 401 ? "authentication_error" : "invalid_request_error", code,
              NULL, "%s", msg);
    /* A request whose framing is in doubt: what follows on the connection cannot be trusted. */
    rep.close = !strcmp(code, "duplicate_header");
    return send_reply(S, c, cx, &rep);
}

/* The page keeps the API key and shows model output, which is untrusted: scripts only from the
 * server's own files (no inline script, no eval), nothing from elsewhere. Style attributes are
 * allowed (style-src-attr) because KaTeX positions its glyphs with them; stylesheets and <style>
 * elements still come only from the server, and with img-src, font-src and connect-src limited to
 * 'self' an injected style could not send anything away. */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "    \
    "font-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "               \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* GET or HEAD of one of the page's files (the route said it exists). The vendored libraries sit in
 * versioned folders, so they are cached for good; the page's own files are revalidated on each
 * load (If-None-Match with the ETag gets 304), so a new r1 binary's page is seen at once. */
static enum MHD_Result send_web(srv *S, struct MHD_Connection *c, const conn *cx,
                                const char *method, const char *url)
{
    const web_file *f = web_find(url);
    if (!f) return send_error(S, c, cx, 404, "not_found", "no such file");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(S, c, cx, 405, "method_not_allowed", "use GET for this endpoint");
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && strstr(inm, f->etag);
    struct MHD_Response *r = MHD_create_response_from_buffer(fresh ? 0 : f->size, (void *)f->data,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", f->type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control",
                            f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    MHD_add_response_header(r, "ETag", f->etag);
    MHD_add_response_header(r, "Content-Security-Policy", WEB_CSP);
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    int status = fresh ? 304 : 200;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    count(S, ROUTE_WEB, status);
    api_log_request(S, cx->method, cx->url, status, -1, -1, cx->t0);
    return ok;
}

/* host part of a Host header value: "[::1]:8080" -> "::1", "localhost:80" -> "localhost" */
static void host_name(const char *h, char *out, size_t size)
{
    size_t n;
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        n = e ? (size_t)(e - h - 1) : strlen(h);
        h++;
    } else {
        const char *e = strchr(h, ':');
        n = e ? (size_t)(e - h) : strlen(h);
    }
    if (n >= size) n = size - 1;
    memcpy(out, h, n);
    out[n] = 0;
}

static bool loopback_name(const char *h)
{
    char name[256];
    host_name(h, name, sizeof name);
    if (!strcasecmp(name, "localhost") || !strcmp(name, "::1")) return true;
    struct in_addr a;
    return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Constant time in the length of the expected key: no early exit on the first differing byte. */
static bool key_equal(const char *given, const char *expected)
{
    size_t ng = strlen(given), ne = strlen(expected);
    unsigned char diff = (unsigned char)(ng != ne);
    for (size_t i = 0; i < ne; i++) diff |= (unsigned char)(expected[i] ^ given[i < ng ? i : 0]);
    return diff == 0;
}

/* Cross-origin browser request not allowed by --cors? Same-origin pages send Origin equal to
 * http://<Host>; clients that are not browsers send no Origin. */
static bool origin_forbidden(srv *S, const char *origin, const char *host)
{
    if (!origin) return false;
    if (S->p.cors_origin && (!strcmp(S->p.cors_origin, "*") || !strcmp(S->p.cors_origin, origin)))
        return false;
    if (host && !strncmp(origin, "http://", 7) && !strcmp(origin + 7, host)) return false;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    srv *S = cls;
    conn *cx = *con_cls;
    if (!cx) { /* headers are in: the checks that need no body */
        if (!(cx = calloc(1, sizeof *cx))) return MHD_NO;
        *con_cls = cx;
        atomic_fetch_add(&S->n_requests_open, 1);
        cx->route = api_route(method, url);
        cx->method = method;
        cx->url = url;
        cx->t0 = mono_s();
        watch_set(S, c, S->p.body_timeout_s, false);
        cx->rejected = true;
        if (n_headers(c, "Content-Length") > 1 || n_headers(c, "Host") > 1)
            return send_error(S, c, cx, 400, "duplicate_header",
                              n_headers(c, "Host") > 1
                                  ? "the request has more than one Host header"
                                  : "the request has more than one Content-Length header");
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (S->is_loopback && host && !loopback_name(host))
            return send_error(S, c, cx, 403, "forbidden_host",
                              "the Host header must name this machine (localhost, 127.0.0.1 or "
                              "[::1]) while the server is bound to loopback");
        if (origin_forbidden(S, origin, host))
            return send_error(S, c, cx, 403, "forbidden_origin",
                              "cross-origin requests are not allowed (start the server with "
                              "--cors ORIGIN to allow one)");
        if (!strcmp(method, "OPTIONS")) {
            srv_reply rep = {.status = 204, .body = strdup(""), .content_type = "text/plain"};
            struct MHD_Response *r =
                MHD_create_response_from_buffer(0, rep.body, MHD_RESPMEM_MUST_FREE);
            if (!r) return MHD_NO;
            add_common_headers(S, r);
            if (S->p.cors_origin) {
                MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                        "Authorization, Content-Type");
                MHD_add_response_header(r, "Access-Control-Max-Age", "600");
            }
            enum MHD_Result ok = MHD_queue_response(c, 204, r);
            MHD_destroy_response(r);
            count(S, cx->route, 204);
            api_log_request(S, method, url, 204, -1, -1, cx->t0);
            return ok;
        }
        if (S->p.api_key && cx->route != ROUTE_WEB && cx->route != ROUTE_HEALTH) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
            if (!auth || strncasecmp(auth, "Bearer ", 7) || !key_equal(auth + 7, S->p.api_key))
                return send_error(S, c, cx, 401, "invalid_api_key",
                                  "Incorrect API key provided: send 'Authorization: Bearer KEY'");
        }
        /* Too large: answer now if the client waits for 100-continue (or the body is absurd);
         * otherwise read and drop the body first, since closing on unread bytes resets the
         * connection and the client would never see the answer. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        uint64_t n_cl = cl ? strtoull(cl, NULL, 10) : 0;
        if (n_cl > S->p.max_body_bytes && (expect || n_cl > DISCARD_MAX))
            return send_error(S, c, cx, 413, "body_too_large",
                              "the request body is larger than the server's limit");
        cx->rejected = false;
        cx->too_large = n_cl > S->p.max_body_bytes;
        return MHD_YES;
    }
    if (cx->rejected) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a piece of the body */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cx->too_large || cx->n_body + n > S->p.max_body_bytes) {
            cx->too_large = true;
            free(cx->body);
            cx->body = NULL;
            cx->cap = 0;
            cx->n_body += n;
            if (cx->n_body > DISCARD_MAX) {
                cx->rejected = true;
                return send_error(S, c, cx, 413, "body_too_large",
                                  "the request body is larger than the server's limit");
            }
            return MHD_YES;
        }
        if (cx->n_body + n + 1 > cx->cap) {
            size_t cap = cx->cap ? cx->cap : 4096;
            while (cap < cx->n_body + n + 1) cap *= 2;
            char *p = realloc(cx->body, cap);
            if (!p) return MHD_NO;
            cx->body = p;
            cx->cap = cap;
        }
        memcpy(cx->body + cx->n_body, upload_data, n);
        cx->n_body += n;
        cx->body[cx->n_body] = 0;
        return MHD_YES;
    }
    /* the whole request is in */
    (void)version;
    watch_set(S, c, 0, false);
    if (cx->too_large) {
        cx->rejected = true;
        return send_error(S, c, cx, 413, "body_too_large",
                          "the request body is larger than the server's limit");
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    if (cx->route == ROUTE_OTHER) {
        /* name what was asked for: printable ASCII of the path, at most 200 bytes */
        char path[208], msg[256];
        size_t n = 0;
        for (const char *u = url; *u && n < 200; u++)
            path[n++] = *u >= 0x20 && *u < 0x7f ? *u : '?';
        path[n] = 0;
        snprintf(msg, sizeof msg, "no route for %s %s%s", method, path, url[n] ? "..." : "");
        cx->rejected = true;
        free(cx->body);
        cx->body = NULL;
        return send_error(S, c, cx, 404, "not_found", msg);
    }
    if (cx->route == ROUTE_WEB) {
        cx->rejected = true; /* answered */
        free(cx->body);
        cx->body = NULL;
        return send_web(S, c, cx, method, url);
    }
    srv_reply rep = {0};
    api_handle(S, cx->route, method, url, cx->body ? cx->body : "", cx->n_body, fd, &rep);
    free(cx->body);
    cx->body = NULL;
    cx->rejected = true; /* answered */
    cx->big_reply = rep.n_body >= TRIM_AFTER_BYTES;
    return send_reply(S, c, cx, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *S = cls;
    conn *cx = *con_cls;
    /* the next request on this connection: its headers have header_timeout_s from now */
    watch_set(S, c, S->p.header_timeout_s, true);
    if (cx) {
        bool big = cx->n_body >= TRIM_AFTER_BYTES || cx->big_reply;
        free(cx->body);
        free(cx);
        atomic_fetch_sub(&S->n_requests_open, 1);
#ifdef __GLIBC__
        if (big) malloc_trim(0);
#endif
    }
    *con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    srv *S = cls;
    if (!S->p.verbose) return;
    fprintf(stderr, "r1 serve: http: ");
    vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *http_start(srv *S, char *err, size_t err_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", S->p.port);
    int rc = getaddrinfo(S->p.host, port, &hints, &ai);
    if (rc) {
        snprintf(err, err_size, "cannot resolve --host %s: %s", S->p.host, gai_strerror(rc));
        return NULL;
    }
    S->is_loopback = false;
    if (ai->ai_family == AF_INET)
        S->is_loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    else if (ai->ai_family == AF_INET6)
        S->is_loopback = !memcmp(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
                                 &in6addr_loopback, sizeof in6addr_loopback);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)S->p.port, NULL, NULL, on_request, S, MHD_OPTION_EXTERNAL_LOGGER, on_log,
        S, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, S,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)S->p.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)S->p.max_conns_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: its SO_REUSEPORT let a second server bind a port in
     * use, and the kernel then split the connections between the two (issue 20). MHD's default,
     * SO_REUSEADDR, still allows a restart while old connections sit in TIME_WAIT. */
    if (!d) {
        /* MHD does not say why; a bind of our own does (address in use, permission, ...) */
        int why = 0, fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen)) why = errno;
            close(fd);
        }
        freeaddrinfo(ai);
        snprintf(err, err_size, "cannot listen on %s:%d: %s", S->p.host, S->p.port,
                 why ? strerror(why) : "the HTTP library could not start");
        return NULL;
    }
    freeaddrinfo(ai);
    if (pthread_create(&S->watchdog, NULL, watchdog_main, S)) {
        MHD_stop_daemon(d);
        snprintf(err, err_size, "cannot start the connection watchdog");
        return NULL;
    }
    S->has_watchdog = true;
    return d;
}

int http_bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : -1;
}

int http_quiesce(struct MHD_Daemon *d)
{
    return (int)MHD_quiesce_daemon(d);
}

void http_stop(srv *S, struct MHD_Daemon *d)
{
    MHD_stop_daemon(d);
    if (S->has_watchdog) {
        pthread_mutex_lock(&S->conns_mu);
        S->watchdog_quit = true;
        pthread_cond_signal(&S->watchdog_cv);
        pthread_mutex_unlock(&S->conns_mu);
        pthread_join(S->watchdog, NULL);
        S->has_watchdog = false;
    }
}
