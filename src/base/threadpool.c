/* threadpool.c — persistent workers for the many small parallel jobs of a decode step.
 * A job is published by bumping an atomic generation counter; workers spin on it for a short
 * while (a decode step issues a job every few microseconds, and waking a sleeping thread costs
 * more than the job), then sleep on a condition variable. The caller works as thread 0 and spins
 * until the others are done. A 1-thread pool runs jobs inline with no synchronization. */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NS 200000 /* how long an idle worker spins before sleeping */

struct threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation; /* bumped per job (release: fn/ctx are visible to acquirers) */
    atomic_int n_pending;   /* workers still running the current job */
    atomic_int stop;
    int n_sleeping; /* under mu */
    threadpool_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    threadpool *pool;
    int ith;
} worker_arg;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Wait until generation differs from seen (or stop); returns the new generation. */
static unsigned wait_job(threadpool *pool, unsigned seen)
{
    long long t0 = 0;
    for (unsigned spins = 0;; spins++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed)) return g;
        cpu_relax();
        if ((spins & 1023) == 1023) {
            long long t = now_ns();
            if (!t0) t0 = t;
            if (t - t0 > SPIN_NS) break;
        }
    }
    pthread_mutex_lock(&pool->mu);
    pool->n_sleeping++;
    unsigned g;
    while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
           !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->cv, &pool->mu);
    pool->n_sleeping--;
    pthread_mutex_unlock(&pool->mu);
    return g;
}

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    threadpool *pool = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0; /* no job can precede the workers: generation starts at 0 */
    for (;;) {
        seen = wait_job(pool, seen);
        if (atomic_load(&pool->stop)) break;
        pool->fn(pool->ctx, ith, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->n_pending, 1, memory_order_acq_rel);
    }
    return NULL;
}

threadpool *threadpool_new(int n_threads)
{
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 256) n_threads = 256;
    threadpool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_pending, 0);
    atomic_init(&pool->stop, 0);
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) *arg = (worker_arg){pool, i};
        if (!arg || pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            pool->n_threads = i; /* run with the threads we have */
            break;
        }
    }
    return pool;
}

void threadpool_free(threadpool *pool)
{
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    pthread_mutex_lock(&pool->mu);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n_threads; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->threads);
    free(pool);
}

int threadpool_n_threads(const threadpool *pool)
{
    return pool->n_threads;
}

void threadpool_run(threadpool *pool, threadpool_fn fn, void *ctx)
{
    if (pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_pending, pool->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    if (pool->n_sleeping) pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    fn(ctx, 0, pool->n_threads);
    for (unsigned spins = 0; atomic_load_explicit(&pool->n_pending, memory_order_acquire) > 0;
         spins++) {
        cpu_relax();
        if ((spins & 4095) == 4095) sched_yield(); /* a worker may be descheduled */
    }
}

void threadpool_split(long n, int ith, int nth, long *out_begin, long *out_end)
{
    long per = n / nth, rem = n % nth;
    *out_begin = ith * per + (ith < rem ? ith : rem);
    *out_end = *out_begin + per + (ith < rem ? 1 : 0);
}
