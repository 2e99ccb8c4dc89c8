/* dist.c — r1_dist over MPI (R1_MPI builds), or a single rank.
 *
 * Every wait is a nonblocking operation polled with MPI_Test: the poll gives up after the timeout
 * (dist.h) and, on rank 0, asks each worker on a second communicator whether it is still alive so
 * the message can name the rank that died or hangs. Workers answer those pings from every wait
 * loop. Polling spins first (a decode step's allreduce answers within microseconds), then yields,
 * then sleeps (a worker waiting for the next prompt must not burn a core).
 */
#include "dist/dist.h"

#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef R1_MPI
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

typedef struct dist_mpi {
    MPI_Comm comm; /* the forward pass's collectives */
    MPI_Comm ping; /* liveness questions from rank 0 (tag 1) and answers (tag 2) */
    double spin_s; /* how long a wait spins before yielding its core: 0 when this machine runs
                    * more ranks than it has cores (a spinning rank would hold the core the
                    * rank it waits for needs) */
} dist_mpi;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A worker answers every pending ping of rank 0. */
static void answer_pings(dist_mpi *p)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, 1, p->ping, &flag, &st) != MPI_SUCCESS || !flag) return;
        int v = 0;
        MPI_Recv(&v, 1, MPI_INT, 0, 1, p->ping, MPI_STATUS_IGNORE);
        MPI_Send(&v, 1, MPI_INT, 0, 2, p->ping);
    }
}

/* Rank 0, after a timeout: which workers answer a ping within two seconds. Writes their list. */
static void name_silent_ranks(r1_dist *d, char *out, size_t cap)
{
    dist_mpi *p = d->impl;
    int n = d->size - 1, *got = calloc((size_t)n * 2, sizeof(int));
    MPI_Request *req = calloc((size_t)n * 2, sizeof(MPI_Request));
    if (!got || !req) {
        free(got);
        free(req);
        snprintf(out, cap, "?");
        return;
    }
    for (int r = 1; r <= n; r++) {
        MPI_Isend(&got[n + r - 1], 1, MPI_INT, r, 1, p->ping, &req[2 * (r - 1)]);
        MPI_Irecv(&got[r - 1], 1, MPI_INT, r, 2, p->ping, &req[2 * (r - 1) + 1]);
    }
    double t0 = now_s();
    int *done = calloc((size_t)n, sizeof(int));
    while (done && now_s() - t0 < 2.0) {
        int all = 1;
        for (int r = 0; r < n; r++) {
            int flag = 0;
            if (!done[r]) MPI_Test(&req[2 * r + 1], &flag, MPI_STATUS_IGNORE);
            done[r] |= flag;
            all &= done[r];
        }
        if (all) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    size_t len = 0;
    out[0] = 0;
    for (int r = 0; r < n; r++)
        if (!done || !done[r])
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%d", len ? ", " : "",
                                    r + 1);
    if (!len) snprintf(out, cap, "none (all answer now: a slow rank?)");
    free(done);
    free(got); /* the unanswered requests are abandoned: the job is aborted next */
    free(req);
}

/* seconds: the wait that ran out (rc == MPI_SUCCESS) */
static bool fail_within(r1_dist *d, const char *what, int rc, double seconds)
{
    if (d->failed) return false;
    d->failed = true;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (rc != MPI_SUCCESS) MPI_Error_string(rc, msg, &len);
    if (rc != MPI_SUCCESS) {
        snprintf(d->failure, sizeof d->failure, "rank %d: MPI %s failed: %s", d->rank, what, msg);
    } else if (d->rank == 0) {
        char silent[128];
        name_silent_ranks(d, silent, sizeof silent);
        snprintf(d->failure, sizeof d->failure,
                 "rank 0: no answer within %.0f s in %s; rank(s) not answering: %s (died, hung or "
                 "lost their network)",
                 seconds, what, silent);
    } else {
        snprintf(d->failure, sizeof d->failure,
                 "rank %d: no answer from the other ranks within %.0f s in %s", d->rank, seconds,
                 what);
    }
    return false;
}

static bool fail(r1_dist *d, const char *what, int rc)
{
    return fail_within(d, what, rc, d->timeout_s);
}

/* Poll req until done; timeout_s ≤ 0 waits for ever. Spins for the first spin_s (2 ms): a rank
 * that yields its core mid-step may not get it back for a scheduler slice (milliseconds) when
 * anything else is runnable, and every step has dozens of allreduces. */
static bool wait_req(r1_dist *d, MPI_Request *req, const char *what, double timeout_s)
{
    dist_mpi *p = d->impl;
    double t0 = now_s();
    for (long spins = 0;; spins++) {
        int flag = 0, rc = MPI_Test(req, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return fail(d, what, rc);
        if (flag) return true;
        if (spins % 64) continue;
        double waited = now_s() - t0;
        if (waited < p->spin_s) continue;
        if (d->rank > 0) answer_pings(p);
        if (timeout_s > 0 && waited > timeout_s)
            return fail_within(d, what, MPI_SUCCESS, timeout_s);
        if (waited < 0.02) {
            sched_yield();
        } else {
            struct timespec ts = {0, waited < 1 ? 50000 : 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

r1_status r1_dist_init(int *argc, char ***argv, r1_dist **out, char *err)
{
    r1_dist *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, R1_ERR_NOMEM, "out of memory");
    d->size = 1;
    const char *t = getenv("R1_DIST_TIMEOUT");
    d->timeout_s = t && atof(t) > 0 ? atof(t) : 20.0;
    /* only when a launcher started us: a plain run of an MPI build stays one process, without the
     * launcher's singleton start-up */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK") &&
        !getenv("MPI_LOCALNRANKS")) {
        *out = d;
        return R1_OK;
    }
    /* The threads MPI starts here inherit this mask: with the stop signals blocked in them, a
     * SIGTERM/SIGINT/SIGUSR1 meant for the program (r1 serve's graceful stop) is delivered to one
     * of the program's threads, never to an MPI thread where its default action kills the rank. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != MPI_SUCCESS) {
        free(d);
        return err_set(err, R1_ERR_IO, "MPI_Init_thread failed");
    }
    d->has_mpi = true;
    dist_mpi *p = calloc(1, sizeof *p);
    if (!p) return err_set(err, R1_ERR_NOMEM, "out of memory");
    d->impl = p;
    MPI_Comm_dup(MPI_COMM_WORLD, &p->comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &p->ping);
    /* errors come back as codes: a dead peer must become a message, not an abort without one */
    MPI_Comm_set_errhandler(p->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(p->ping, MPI_ERRORS_RETURN);
    MPI_Comm_rank(p->comm, &d->rank);
    MPI_Comm_size(p->comm, &d->size);
    MPI_Comm local;
    int n_local = 1;
    if (MPI_Comm_split_type(p->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
        MPI_Comm_size(local, &n_local);
        MPI_Comm_free(&local);
    }
    p->spin_s = n_local > sysconf(_SC_NPROCESSORS_ONLN) ? 0.0 : 0.002;
    if (provided < MPI_THREAD_SERIALIZED && d->size > 1) {
        r1_dist_finalize(d);
        return err_set(err, R1_ERR_UNSUPPORTED,
                       "the MPI library does not offer MPI_THREAD_SERIALIZED");
    }
    *out = d;
    return R1_OK;
}

void r1_dist_finalize(r1_dist *d)
{
    if (!d) return;
    if (d->has_mpi) {
        dist_mpi *p = d->impl;
        if (d->failed) MPI_Abort(MPI_COMM_WORLD, 1); /* a dead peer would block MPI_Finalize */
        MPI_Comm_free(&p->ping);
        MPI_Comm_free(&p->comm);
        MPI_Finalize();
        free(p);
    }
    free(d);
}

bool dist_allreduce_sum(r1_dist *d, float *x, int64_t n)
{
    if (!dist_is_split(d)) return true;
    if (d->failed) return false;
    dist_mpi *p = d->impl;
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, p->comm, &req);
    if (rc != MPI_SUCCESS) return fail(d, "allreduce", rc);
    return wait_req(d, &req, "allreduce", d->timeout_s);
}

bool dist_bcast(r1_dist *d, void *buf, size_t bytes, bool idle)
{
    if (!dist_is_split(d)) return true;
    if (d->failed) return false;
    dist_mpi *p = d->impl;
    MPI_Request req;
    int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, p->comm, &req);
    if (rc != MPI_SUCCESS) return fail(d, "broadcast", rc);
    return wait_req(d, &req, "broadcast", idle && d->rank > 0 ? 0 : d->timeout_s);
}

bool dist_gather_cols(r1_dist *d, float *out, int64_t ld, const float *mine, int n_rows,
                      const int64_t *col0, const int64_t *n_cols)
{
    if (!dist_is_split(d)) return true;
    if (d->failed) return false;
    dist_mpi *p = d->impl;
    if (d->rank > 0) {
        if (!n_cols[d->rank] || !n_rows) return true;
        MPI_Request req;
        int rc = MPI_Isend(mine, (int)(n_rows * n_cols[d->rank]), MPI_FLOAT, 0, 3, p->comm, &req);
        if (rc != MPI_SUCCESS) return fail(d, "send of logits", rc);
        return wait_req(d, &req, "send of logits", d->timeout_s);
    }
    if (!n_rows) return true;
    bool ok = true;
    for (int r = 1; r < d->size && ok; r++) {
        if (!n_cols[r]) continue;
        MPI_Datatype rows;
        MPI_Type_vector(n_rows, (int)n_cols[r], (int)ld, MPI_FLOAT, &rows);
        MPI_Type_commit(&rows);
        MPI_Request req;
        int rc = MPI_Irecv(out + col0[r], 1, rows, r, 3, p->comm, &req);
        ok = rc == MPI_SUCCESS ? wait_req(d, &req, "gather of logits", d->timeout_s)
                               : fail(d, "gather of logits", rc);
        MPI_Type_free(&rows);
    }
    return ok;
}

bool dist_allgather_u64(r1_dist *d, const uint64_t *mine, int n, uint64_t *all)
{
    return dist_allgather_u64_within(d, mine, n, all, 0);
}

bool dist_allgather_u64_within(r1_dist *d, const uint64_t *mine, int n, uint64_t *all,
                               double timeout_s)
{
    if (!dist_is_split(d)) {
        memcpy(all, mine, (size_t)n * sizeof *mine);
        return true;
    }
    if (d->failed) return false;
    dist_mpi *p = d->impl;
    MPI_Request req;
    int rc = MPI_Iallgather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, p->comm, &req);
    if (rc != MPI_SUCCESS) return fail(d, "allgather", rc);
    return wait_req(d, &req, "allgather", timeout_s);
}

bool dist_barrier(r1_dist *d)
{
    if (!dist_is_split(d)) return true;
    if (d->failed) return false;
    dist_mpi *p = d->impl;
    MPI_Request req;
    int rc = MPI_Ibarrier(p->comm, &req);
    if (rc != MPI_SUCCESS) return fail(d, "barrier", rc);
    return wait_req(d, &req, "barrier", 0);
}

#else /* one rank */

r1_status r1_dist_init(int *argc, char ***argv, r1_dist **out, char *err)
{
    (void)argc;
    (void)argv;
    r1_dist *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, R1_ERR_NOMEM, "out of memory");
    d->size = 1;
    *out = d;
    return R1_OK;
}

void r1_dist_finalize(r1_dist *d)
{
    free(d);
}

bool dist_allreduce_sum(r1_dist *d, float *x, int64_t n)
{
    (void)d, (void)x, (void)n;
    return true;
}

bool dist_bcast(r1_dist *d, void *buf, size_t bytes, bool idle)
{
    (void)d, (void)buf, (void)bytes, (void)idle;
    return true;
}

bool dist_gather_cols(r1_dist *d, float *out, int64_t ld, const float *mine, int n_rows,
                      const int64_t *col0, const int64_t *n_cols)
{
    (void)d, (void)out, (void)ld, (void)mine, (void)n_rows, (void)col0, (void)n_cols;
    return true;
}

bool dist_allgather_u64(r1_dist *d, const uint64_t *mine, int n, uint64_t *all)
{
    (void)d;
    memcpy(all, mine, (size_t)n * sizeof *mine);
    return true;
}

bool dist_allgather_u64_within(r1_dist *d, const uint64_t *mine, int n, uint64_t *all,
                               double timeout_s)
{
    (void)timeout_s;
    return dist_allgather_u64(d, mine, n, all);
}

bool dist_barrier(r1_dist *d)
{
    (void)d;
    return true;
}
#endif

void dist_mark_failed(r1_dist *d, const char *why)
{
    if (!d || d->failed) return;
    d->failed = true;
    snprintf(d->failure, sizeof d->failure, "rank %d: %s", d->rank, why);
}

int r1_dist_rank(const r1_dist *d)
{
    return d ? d->rank : 0;
}

int r1_dist_size(const r1_dist *d)
{
    return d ? d->size : 1;
}

const char *r1_dist_failure(const r1_dist *d)
{
    return d && d->failed ? d->failure : NULL;
}
