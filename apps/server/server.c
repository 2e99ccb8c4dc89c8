/* server.c — lifecycle of `r1 serve`: listen, load, serve, shut down on SIGTERM/SIGINT.
 *
 * Signals are blocked in every thread (the mask is set before any thread starts) and taken by
 * the main thread with sigtimedwait, so no handler runs in the middle of a libr1 call. */
#include "server_int.h"
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

server_params server_params_default(void)
{
    return (server_params){
        .host = "127.0.0.1",
        .port = 8080,
        .n_parallel = 4,
        .n_queue = 64,
        .max_tokens = 4096,
        .prefill_chunk = 128,
        .max_body_bytes = 8u << 20,
        .max_json_depth = 64,
        .shutdown_timeout_s = 10,
        .max_connections = 1024,
        .max_conns_per_ip = 64,
        .header_timeout_s = 30,
        .body_timeout_s = 120,
        .tokenize_ctx_multiple = 16,
        .reasoning_fmt = "deepseek",
    };
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The tokenizer of a GGUF file, or of a Hugging Face folder's tokenizer.json. */
static r1_status load_tokenizer(const char *path, tokenizer **out, char *err)
{
    struct stat sb;
    if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) {
        char tj[4096], tc[4096];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", path);
        snprintf(tc, sizeof tc, "%s/tokenizer_config.json", path);
        return tokenizer_load_json(tj, access(tc, R_OK) ? NULL : tc, out, err);
    }
    gguf_file *f = NULL;
    r1_status st = gguf_open(path, true, &f, err);
    if (st) return st;
    st = tokenizer_load_gguf(f, out, err);
    gguf_close(f);
    return st;
}

/* Wait up to `seconds` for a termination signal; returns it, or 0 on timeout. */
static int wait_signal(const sigset_t *set, double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static const char *sig_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGUSR1";
}

/* The tokenizer and the chat template: quick, so done before the port opens — a file that is no
 * model (a GGUF without a vocabulary) is an error at the command line, not a server that listened
 * and died. */
static bool load_text(srv *S)
{
    char err[R1_ERR_MAX];
    const server_params *p = &S->p;
    if (load_tokenizer(p->model_path, &S->tok, err)) {
        fprintf(stderr, "r1 serve: cannot load the tokenizer of %s: %s\n", p->model_path, err);
        return false;
    }
    const char *warning = NULL;
    S->tmpl = chat_template_params_default();
    chat_template_detect(tokenizer_chat_template(S->tok), &S->tmpl, &warning);
    if (p->chat_template) {
        if (!chat_template_from_name(p->chat_template, &S->tmpl.kind)) {
            fprintf(stderr, "r1 serve: unknown --chat-template '%s' (one of: %s)\n",
                    p->chat_template, chat_template_names());
            return false;
        }
        warning = NULL;
    }
    if (p->force_think) S->tmpl.force_think = true;
    if (warning) fprintf(stderr, "r1 serve: %s\n", warning);
    return true;
}

/* The weights and the scheduler (after the port opened: /health says "loading" meanwhile). */
static bool load(srv *S)
{
    char err[R1_ERR_MAX];
    const server_params *p = &S->p;
    if (!(S->model = cli_load_model(p->model_path, p->n_threads, p->verbose))) return false;
    r1_model_info info;
    r1_model_get_info(S->model, &info);
    S->n_vocab = info.n_vocab;
    sched_params sp = {.n_slots = p->n_parallel,
                       .n_ctx = p->n_ctx,
                       .n_queue = p->n_queue,
                       .prefill_chunk = p->prefill_chunk,
                       .step_delay_ms = p->step_delay_ms,
                       .mtp = p->mtp,
                       .cache_type = p->cache_type,
                       .dist = p->dist};
    if (sched_new(S->model, S->tok, &sp, &S->sched, err)) {
        fprintf(stderr, "r1 serve: %s\n", err);
        return false;
    }
    S->n_ctx = sched_n_ctx(S->sched);
    api_limits_init(S);
    S->created = (long)time(NULL);
    fprintf(stderr,
            "r1 serve: model %s loaded: %d slots of %d tokens, template %s%s, reasoning %s\n",
            S->model_id, p->n_parallel, S->n_ctx, chat_template_name(S->tmpl.kind),
            S->tmpl.force_think ? " + <think>" : "", p->reasoning_fmt);
    return true;
}

typedef struct loader {
    srv *S;
    atomic_int done; /* 0 running, 1 loaded, 2 failed */
} loader;

static void *load_main(void *arg)
{
    loader *L = arg;
    if (L->S->p.debug_load_delay_ms > 0) {
        struct timespec ts = {L->S->p.debug_load_delay_ms / 1000,
                              (L->S->p.debug_load_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_store(&L->done, load(L->S) ? 1 : 2);
    return NULL;
}

/* Load on a thread of its own while this one keeps taking signals: a model can take minutes to
 * read, and SIGTERM/SIGINT meanwhile must stop the process (the loader cannot be interrupted
 * halfway, so the process exits without freeing what it was building). */
static bool load_or_signal(srv *S, const sigset_t *set)
{
    loader L = {.S = S};
    pthread_t th;
    if (pthread_create(&th, NULL, load_main, &L)) return load(S);
    while (!atomic_load(&L.done)) {
        int sig = wait_signal(set, 0.05);
        if (sig) {
            fprintf(stderr, "r1 serve: %s while loading the model: exiting\n", sig_name(sig));
            fflush(stderr);
            _exit(1);
        }
    }
    pthread_join(th, NULL);
    return atomic_load(&L.done) == 1;
}

int server_run(const server_params *params)
{
    srv *S = calloc(1, sizeof *S);
    if (!S) return 1;
    S->p = *params;
    if (!reasoning_mode_from_name(S->p.reasoning_fmt, &S->reasoning)) {
        fprintf(stderr, "r1 serve: --reasoning-format must be deepseek or none\n");
        free(S);
        return 2;
    }
    if (S->p.alias) {
        snprintf(S->model_id, sizeof S->model_id, "%s", S->p.alias);
    } else {
        const char *base = strrchr(S->p.model_path, '/');
        base = base && base[1] ? base + 1 : S->p.model_path;
        snprintf(S->model_id, sizeof S->model_id, "%s", base);
    }
    atomic_init(&S->state, SRV_LOADING);
    pthread_mutex_init(&S->conns_mu, NULL);
    pthread_cond_init(&S->watchdog_cv, NULL);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Under mpirun a SIGTERM to mpirun kills every rank about a second later; mpirun forwards
     * SIGUSR1 instead, so that one asks rank 0 for the graceful stop (docs/distributed.md). */
    if (S->p.dist) sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    signal(SIGPIPE, SIG_IGN);

    if (!load_text(S)) {
        tokenizer_free(S->tok);
        pthread_mutex_destroy(&S->conns_mu);
        pthread_cond_destroy(&S->watchdog_cv);
        free(S);
        return 1;
    }
    char err[256];
    struct MHD_Daemon *d = http_start(S, err, sizeof err);
    if (!d) {
        fprintf(stderr, "r1 serve: %s\n", err);
        tokenizer_free(S->tok);
        pthread_mutex_destroy(&S->conns_mu);
        pthread_cond_destroy(&S->watchdog_cv);
        free(S);
        return 1;
    }
    int port = http_bound_port(d);
    bool v6 = strchr(S->p.host, ':') != NULL;
    fprintf(stderr, "r1 serve: listening on http://%s%s%s:%d/\n", v6 ? "[" : "", S->p.host,
            v6 ? "]" : "", port);
    if (!S->is_loopback)
        fprintf(stderr, "r1 serve: warning: bound to %s, not loopback: %s\n", S->p.host,
                S->p.api_key ? "clients need the API key"
                             : "anyone who can reach this address can use the model (no "
                               "--api-key)");

    int rc = 0;
    if (!load_or_signal(S, &set)) {
        atomic_store(&S->state, SRV_FAILED);
        rc = 1;
    } else {
        atomic_store(&S->state, SRV_READY);
        fprintf(stderr, "r1 serve: ready\n");
        int sig = 0;
        char why[256];
        bool broken = false;
        /* A split model whose rank failed cannot answer again: the scheduler has ended its jobs
         * with 503s; stop taking connections, let those answers out, and exit non-zero (under
         * mpirun that ends the job) rather than leave clients a server that only fails. */
        while (!(sig = wait_signal(&set, 0.25)))
            if (S->p.dist && (broken = sched_failure(S->sched, why, sizeof why))) break;
        if (broken) {
            fprintf(stderr, "r1 serve: %s: stopping\n", why);
            atomic_store(&S->state, SRV_FAILED);
            rc = 1;
        } else {
            fprintf(stderr, "r1 serve: %s: stopping (in-flight requests get up to %d s)\n",
                    sig_name(sig), S->p.shutdown_timeout_s);
            atomic_store(&S->state, SRV_STOPPING);
        }
        int lfd = http_quiesce(d);
        if (lfd >= 0) close(lfd);
        sched_drain(S->sched);
        double t_end = now_s() + (broken ? 0 : S->p.shutdown_timeout_s);
        while (!sched_idle(S->sched) && now_s() < t_end)
            if (wait_signal(&set, 0.05)) break; /* a second signal: stop now */
        if (!sched_idle(S->sched)) {
            fprintf(stderr, "r1 serve: cancelling the requests still running\n");
            sched_cancel_all(S->sched);
            for (int i = 0; i < 200 && !sched_idle(S->sched); i++) wait_signal(&set, 0.01);
        }
        /* The jobs are done, but their last bytes (a stream's error event, [DONE] and the final
         * chunk) may still be on their way out; stopping the daemon now would cut them off. */
        double t_flush = (now_s() > t_end ? now_s() : t_end) + 2.0;
        while (atomic_load(&S->n_requests_open) > 0 && now_s() < t_flush)
            if (wait_signal(&set, 0.01)) break;
    }
    http_stop(S, d);
    pthread_mutex_destroy(&S->conns_mu);
    pthread_cond_destroy(&S->watchdog_cv);
    sched_free(S->sched);
    r1_model_free(S->model);
    tokenizer_free(S->tok);
    free(S);
    if (!rc) fprintf(stderr, "r1 serve: stopped\n");
    return rc;
}
