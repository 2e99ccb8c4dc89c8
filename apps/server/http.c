/* http.c — the HTTP layer on libmicrohttpd: one thread per connection; body limits, the checks
 * that come before any route (Host, Origin, API key, CORS), then api_handle, then the response —
 * a buffer, or an SSE stream read from api_stream_read by libmicrohttpd's content reader.
 *
 * Order of checks on each request, first failure answers: Host (when bound to loopback: DNS
 * rebinding) -> Origin (cross-site browser requests need --cors) -> OPTIONS preflight -> API key
 * (all but GET / and /health) -> Content-Length and body bytes against max_body_bytes. */
#include "server_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

typedef struct conn {
    char *body; /* (n_body) bytes, NUL-terminated */
    size_t n_body, cap;
    srv_route route;
    bool rejected;  /* a response was queued before the body was read */
    bool too_large; /* the body is being read and dropped: 413 at its end */
} conn;

/* Bodies over the limit are read and dropped up to this size, then the connection is cut. */
#define DISCARD_MAX (64ull << 20)

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

static enum MHD_Result send_reply(srv *S, struct MHD_Connection *c, srv_route route, srv_reply *rep)
{
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
    if (route == ROUTE_WEB)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
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

static enum MHD_Result send_error(srv *S, struct MHD_Connection *c, srv_route route, int status,
                                  const char *code, const char *msg)
{
    srv_reply rep = {0};
    api_error(&rep, status, status == 401 ? "authentication_error" : "invalid_request_error", code,
              NULL, "%s", msg);
    return send_reply(S, c, route, &rep);
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
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        cx->rejected = true;
        if (S->is_loopback && host && !loopback_name(host))
            return send_error(S, c, cx->route, 403, "forbidden_host",
                              "the Host header must name this machine (localhost, 127.0.0.1 or "
                              "[::1]) while the server is bound to loopback");
        if (origin_forbidden(S, origin, host))
            return send_error(S, c, cx->route, 403, "forbidden_origin",
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
            return ok;
        }
        if (S->p.api_key && cx->route != ROUTE_WEB && cx->route != ROUTE_HEALTH) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
            if (!auth || strncasecmp(auth, "Bearer ", 7) || !key_equal(auth + 7, S->p.api_key))
                return send_error(S, c, cx->route, 401, "invalid_api_key",
                                  "Incorrect API key provided: send 'Authorization: Bearer KEY'");
        }
        /* Too large: answer now if the client waits for 100-continue (or the body is absurd);
         * otherwise read and drop the body first, since closing on unread bytes resets the
         * connection and the client would never see the answer. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        uint64_t n_cl = cl ? strtoull(cl, NULL, 10) : 0;
        if (n_cl > S->p.max_body_bytes && (expect || n_cl > DISCARD_MAX))
            return send_error(S, c, cx->route, 413, "body_too_large",
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
                return send_error(S, c, cx->route, 413, "body_too_large",
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
    if (cx->too_large) {
        cx->rejected = true;
        return send_error(S, c, cx->route, 413, "body_too_large",
                          "the request body is larger than the server's limit");
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    srv_reply rep = {0};
    api_handle(S, cx->route, method, cx->body ? cx->body : "", cx->n_body, fd, &rep);
    free(cx->body);
    cx->body = NULL;
    cx->rejected = true; /* answered */
    return send_reply(S, c, cx->route, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *S = cls;
    conn *cx = *con_cls;
    if (cx) {
        free(cx->body);
        free(cx);
        atomic_fetch_sub(&S->n_requests_open, 1);
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
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) snprintf(err, err_size, "cannot listen on %s:%d", S->p.host, S->p.port);
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

void http_stop(struct MHD_Daemon *d)
{
    MHD_stop_daemon(d);
}
