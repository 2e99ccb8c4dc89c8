/* threadpool.c — persistent workers for the many small parallel jobs of a decode step.
 * A job is split into nth parts; publishing it bumps the generation in an atomic word that also
 * counts the parts handed out. Every thread, the caller included, claims parts from that word
 * until none are left, so a part is run once, by whichever thread gets to it first: when a core is
 * taken by another process and a worker is not scheduled, the caller runs that worker's part
 * itself instead of spinning until the worker gets the CPU back (which took a scheduler time
 * slice per job, ~8x slower than one thread). Idle workers spin for a short while (a decode step
 * issues a job every few microseconds, and waking a sleeping thread costs more than the job), then
 * sleep on a condition variable; while they keep missing jobs (the caller ran every part) that
 * spin shrinks towards nothing, and it grows back as they keep up (threadpool_run).
 * A 1-thread pool runs jobs inline with no synchronization. */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
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
    /* generation << 32 | parts of this generation's job handed out (release on publish: fn and
     * ctx are visible to whoever acquires the new generation) */
    atomic_ullong job;
    atomic_int n_done; /* parts of the current job finished */
    atomic_int stop;
    atomic_int spin_ns; /* how long an idle worker spins before sleeping, <= SPIN_NS */
    int n_sleeping;     /* under mu */
    _Atomic(threadpool_fn) fn;
    _Atomic(void *) ctx;
};

typedef struct worker_arg {
    threadpool *pool;
} worker_arg;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static unsigned job_gen(unsigned long long w)
{
    return (unsigned)(w >> 32);
}

/* Run parts of generation gen until none are left; fn and ctx are read before a claim, and a
 * claim only succeeds while gen is current, so they belong to gen (the next job cannot be
 * published before this one's claimed parts are done). */
static int run_parts(threadpool *pool, unsigned gen)
{
    int nth = pool->n_threads, n_run = 0;
    for (;;) {
        threadpool_fn fn = atomic_load_explicit(&pool->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&pool->ctx, memory_order_relaxed);
        unsigned long long w = atomic_load_explicit(&pool->job, memory_order_acquire);
        do {
            if (job_gen(w) != gen || (int)(uint32_t)w >= nth) return n_run;
        } while (!atomic_compare_exchange_weak_explicit(&pool->job, &w, w + 1, memory_order_acq_rel,
                                                        memory_order_acquire));
        fn(ctx, (int)(uint32_t)w, nth);
        atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_acq_rel);
        n_run++;
    }
}

/* Wait until the generation differs from seen (or stop); returns the new generation. */
static unsigned wait_job(threadpool *pool, unsigned seen)
{
    long long t0 = 0, spin_ns = atomic_load_explicit(&pool->spin_ns, memory_order_relaxed);
    for (unsigned spins = 0;; spins++) {
        unsigned g = job_gen(atomic_load_explicit(&pool->job, memory_order_acquire));
        if (g != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed)) return g;
        cpu_relax();
        if ((spins & 1023) == 1023) {
            long long t = now_ns();
            if (!t0) t0 = t;
            if (t - t0 > spin_ns) break;
        }
    }
    pthread_mutex_lock(&pool->mu);
    pool->n_sleeping++;
    unsigned g;
    while ((g = job_gen(atomic_load_explicit(&pool->job, memory_order_acquire))) == seen &&
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
    free(arg);
    unsigned seen = 0; /* no job can precede the workers: generation starts at 0 */
    for (;;) {
        seen = wait_job(pool, seen);
        if (atomic_load(&pool->stop)) break;
        run_parts(pool, seen);
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
    atomic_init(&pool->job, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->spin_ns, SPIN_NS);
    atomic_init(&pool->fn, NULL);
    atomic_init(&pool->ctx, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) *arg = (worker_arg){pool};
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
    int nth = pool->n_threads;
    if (nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    atomic_store_explicit(&pool->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    unsigned gen = job_gen(atomic_load_explicit(&pool->job, memory_order_relaxed)) + 1;
    atomic_store_explicit(&pool->job, (unsigned long long)gen << 32, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    if (pool->n_sleeping) pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    int n_mine = run_parts(pool, gen);
    /* parts claimed by workers still running; one may have been preempted mid-part */
    for (unsigned spins = 0; atomic_load_explicit(&pool->n_done, memory_order_acquire) < nth;
         spins++) {
        cpu_relax();
        if ((spins & 255) == 255) sched_yield();
    }
    /* The caller ran every part: the workers were not there in time, most likely because other
     * processes have their cores. Then idle workers stop spinning and sleep at once: a spinning
     * worker uses up its share of a contended core and is preempted, often holding a part the
     * caller must wait for, while a woken sleeper is run promptly (the scheduler favours it) and
     * finishes its part. Each job the workers keep up with doubles the spin back to SPIN_NS. */
    int spin = atomic_load_explicit(&pool->spin_ns, memory_order_relaxed);
    int next = n_mine == nth ? spin / 4 : spin * 2 + 1000 < SPIN_NS ? spin * 2 + 1000 : SPIN_NS;
    if (next != spin) atomic_store_explicit(&pool->spin_ns, next, memory_order_relaxed);
}

void threadpool_split(long n, int ith, int nth, long *out_begin, long *out_end)
{
    long per = n / nth, rem = n % nth;
    *out_begin = ith * per + (ith < rem ? ith : rem);
    *out_end = *out_begin + per + (ith < rem ? 1 : 0);
}
