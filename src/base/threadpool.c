/* threadpool.c — pthread workers woken per job by a generation counter under one mutex.
 * The caller works as thread 0, so a 1-thread pool runs jobs inline with no synchronization. */
#include "base/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
    unsigned long generation; /* bumped per job */
    int n_pending;            /* workers still running the current job */
    int stop;
    threadpool_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    threadpool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    threadpool *pool = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen)
            pthread_cond_wait(&pool->cv_start, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        threadpool_fn fn = pool->fn;
        void *ctx = pool->ctx;
        pthread_mutex_unlock(&pool->mu);
        fn(ctx, ith, pool->n_threads);
        pthread_mutex_lock(&pool->mu);
        if (--pool->n_pending == 0) pthread_cond_signal(&pool->cv_done);
    }
    pthread_mutex_unlock(&pool->mu);
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
    pthread_cond_init(&pool->cv_start, NULL);
    pthread_cond_init(&pool->cv_done, NULL);
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
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->cv_start);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n_threads; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv_start);
    pthread_cond_destroy(&pool->cv_done);
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
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->cv_start);
    pthread_mutex_unlock(&pool->mu);
    fn(ctx, 0, pool->n_threads);
    pthread_mutex_lock(&pool->mu);
    while (pool->n_pending > 0) pthread_cond_wait(&pool->cv_done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

void threadpool_split(long n, int ith, int nth, long *out_begin, long *out_end)
{
    long per = n / nth, rem = n % nth;
    *out_begin = ith * per + (ith < rem ? ith : rem);
    *out_end = *out_begin + per + (ith < rem ? 1 : 0);
}
