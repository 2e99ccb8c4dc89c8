/* threadpool.h — a persistent pool of worker threads that run one parallel job at a time.
 * threadpool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for each part ith of nth (nth = the
 * pool's threads) and returns when all are done. A part runs on whichever thread claims it first
 * (the caller takes the parts of workers not yet running), so fn must not assume that part ith
 * runs on a given thread or concurrently with the others; per-part scratch indexed by ith is fine.
 * Jobs split work by output rows (`ith` of `nth`), so results never depend on the thread count.
 * Not reentrant: one caller at a time. */
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
