/* bench.c — tools/bench.h: the memory-bandwidth triad on the library's pool, the default pool size
 * and the random ids of `r1 bench`. */
#include "tools/bench.h"

#include "base/rng.h"
#include "base/threadpool.h"

#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct triad_job {
    float *a, *b, *c;
    long n;
} triad_job;

static void triad_worker(void *p, int ith, int nth)
{
    triad_job *j = p;
    long b, e;
    threadpool_split(j->n, ith, nth, &b, &e);
    for (long i = b; i < e; i++) j->a[i] = j->b[i] + 3.0f * j->c[i];
}

/* Best of several triads: bytes moved (2 reads + 1 write) / time, in GB/s. */
double tools_measure_bandwidth(int n_threads)
{
    long n = 64l << 20; /* 3 × 256 MiB */
    triad_job j = {malloc((size_t)n * 4), malloc((size_t)n * 4), malloc((size_t)n * 4), n};
    threadpool *pool = threadpool_new(n_threads);
    double best = 0;
    if (j.a && j.b && j.c && pool) {
        for (long i = 0; i < n; i++) j.a[i] = j.b[i] = j.c[i] = 1.0f;
        for (int r = 0; r < 6; r++) {
            double t0 = now_s();
            threadpool_run(pool, triad_worker, &j);
            double gbs = 3.0 * (double)n * 4 / (now_s() - t0) / 1e9;
            if (gbs > best) best = gbs;
        }
    }
    threadpool_free(pool);
    free(j.a);
    free(j.b);
    free(j.c);
    return best;
}

int tools_default_threads(void)
{
    threadpool *p = threadpool_new(0);
    int n = p ? threadpool_n_threads(p) : 1;
    threadpool_free(p);
    return n;
}

void tools_random_tokens(uint64_t seed, int n_vocab, int32_t *out, int n)
{
    rng g;
    rng_seed(&g, seed);
    for (int i = 0; i < n; i++) out[i] = (int32_t)(rng_next(&g) % (uint64_t)n_vocab);
}
