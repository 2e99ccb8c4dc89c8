/* threadpool.h — a persistent pool of worker threads that run one parallel job at a time.
 * threadpool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once on each of the nth threads (the caller
 * is thread 0) and returns when all are done. Jobs split work by output rows (`ith` of `nth`), so
 * results never depend on the thread count. Not reentrant: one caller at a time. */
#ifndef R1_BASE_THREADPOOL_H
#define R1_BASE_THREADPOOL_H

typedef struct threadpool threadpool;
typedef void (*threadpool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the number of online cores. Returns NULL on failure. */
threadpool *threadpool_new(int n_threads);
void threadpool_free(threadpool *pool);
int threadpool_n_threads(const threadpool *pool);
void threadpool_run(threadpool *pool, threadpool_fn fn, void *ctx);

/* Split [0, n) into nth near-equal contiguous ranges; range ith is [*out_begin, *out_end). */
void threadpool_split(long n, int ith, int nth, long *out_begin, long *out_end);

#endif
