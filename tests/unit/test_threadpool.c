/* test_threadpool.c — the thread pool (src/base/threadpool.c): every part of every job runs exactly
 * once, with ith in [0, nth), and a job finishes even while a worker cannot run — the caller
 * takes the parts a descheduled worker has not started, instead of waiting for that worker to
 * get the CPU back (on a 2-core machine with one core busy that wait made 2 threads ~8x slower
 * than 1). The worker is "descheduled" here by parking it in a signal handler. */
#include "test.h"

#include "base/threadpool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

/* ---- every part once ------------------------------------------------------------------------- */

typedef struct count_job {
    atomic_int runs[8]; /* (nth) times each part ran */
    atomic_int bad_args;
} count_job;

static void count_worker(void *p, int ith, int nth)
{
    count_job *j = p;
    if (ith < 0 || ith >= nth || nth > 8) {
        atomic_fetch_add(&j->bad_args, 1);
        return;
    }
    if ((ith * 7 + nth) % 3 == 0) { /* some parts slower, so claims interleave */
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&j->runs[ith], 1);
}

static void test_every_part_once(void)
{
    for (int n = 1; n <= 4; n++) {
        threadpool *pool = threadpool_new(n);
        CHECK(pool && threadpool_n_threads(pool) == n);
        if (!pool) continue;
        int wrong = 0;
        for (int job = 0; job < 2000; job++) {
            count_job j = {0};
            threadpool_run(pool, count_worker, &j);
            for (int i = 0; i < n; i++) wrong += atomic_load(&j.runs[i]) != 1;
            wrong += atomic_load(&j.bad_args) != 0;
            if (job == 1000) { /* let the workers fall asleep once */
                struct timespec ts = {0, 5000000};
                nanosleep(&ts, NULL);
            }
        }
        CHECKF(wrong == 0, "%d threads: %d parts ran a wrong number of times", n, wrong);
        threadpool_free(pool);
    }
}

/* ---- a worker that cannot run ---------------------------------------------------------------- */

static _Atomic pthread_t g_caller;
static _Atomic pthread_t g_worker;
static atomic_int g_have_worker;
static atomic_int g_parked, g_release; /* lock-free atomics: safe in a signal handler */

static void who_worker(void *p, int ith, int nth)
{
    pthread_t *ran = p;
    ran[ith] = pthread_self();
    if (!pthread_equal(pthread_self(), g_caller) && !atomic_exchange(&g_have_worker, 1))
        g_worker = pthread_self();
    /* the caller may take every part of a job whose worker has not started yet: while looking
     * for the worker, give it a millisecond to claim its part (on a loaded machine it may need
     * it; without this the search below failed under a parallel sanitizer build) */
    if (pthread_equal(pthread_self(), g_caller) && !atomic_load(&g_have_worker)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    (void)nth;
}

static void on_park(int sig)
{
    (void)sig;
    atomic_store(&g_parked, 1);
    while (!atomic_load(&g_release)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

typedef struct runner {
    threadpool *pool;
    pthread_t ran[2];
    atomic_int done;
} runner;

static void *run_job(void *p)
{
    runner *r = p;
    g_caller = pthread_self();
    threadpool_run(r->pool, who_worker, r->ran);
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_worker_descheduled(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_park;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    threadpool *pool = threadpool_new(2);
    CHECK(pool != NULL);
    if (!pool) return;
    /* find the worker thread: run jobs until one part ran off the calling thread */
    g_caller = pthread_self();
    pthread_t ran[2];
    for (int i = 0; i < 10000 && !atomic_load(&g_have_worker); i++) /* up to ~10 s */
        threadpool_run(pool, who_worker, ran);
    CHECK(atomic_load(&g_have_worker));
    if (!atomic_load(&g_have_worker)) {
        threadpool_free(pool);
        return;
    }
    /* park it, as a scheduler would when another process takes its core */
    pthread_kill(g_worker, SIGUSR1);
    for (int i = 0; i < 10000 && !atomic_load(&g_parked); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(atomic_load(&g_parked));
    /* a job must still finish, all its parts run by the caller (a thread of its own here, so
     * that a pool that waits for the worker can be observed and released) */
    runner r = {.pool = pool};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_job, &r) == 0);
    for (int i = 0; i < 10000 && !atomic_load(&r.done); i++) { /* up to 10 s */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    bool finished = atomic_load(&r.done);
    CHECKF(finished, "the job did not finish while its worker could not run");
    atomic_store(&g_release, 1);
    pthread_join(th, NULL);
    if (finished) CHECK(pthread_equal(r.ran[0], th) && pthread_equal(r.ran[1], th));
    /* and the pool goes on normally once the worker runs again */
    count_job j = {0};
    threadpool_run(pool, count_worker, &j);
    CHECK(atomic_load(&j.runs[0]) == 1 && atomic_load(&j.runs[1]) == 1);
    threadpool_free(pool);
}

int main(void)
{
    test_every_part_once();
    test_worker_descheduled();
    return test_finish();
}
