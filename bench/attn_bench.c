/* attn_bench.c — kern_attention for one token over a long cache: MLA decode's shape (HEADS query
 * heads over latent rows of 576 = 512 + 64 values, values = the first 512), for each cache type.
 * Prints the best of 5 times and the multiply-adds per second (heads × keys × (576 + 512)).
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -D_GNU_SOURCE -Isrc -Iinclude bench/attn_bench.c build/libr1.a -lm -lpthread \
 *      -o attn_bench
 * Run: attn_bench [KEYS] [HEADS] [LAYERS] [THREADS]   (defaults 4096, 8, 1, 1)
 * - LAYERS > 1 visits that many separate caches in turn, as a decode step does: with 12 the
 *   caches (113 MB in F32) no longer fit in the last-level cache and stream from memory.
 * - THREADS > 1 splits the heads across threads as decode does (each thread a contiguous group
 *   of heads over the whole cache, all threads meeting after each layer); deepseek2-mini's decode
 *   on this machine is `attn_bench 4096 16 12 2`.
 * The caches sit in huge pages, as the engine's do.
 */
#include "base/mmap.h"
#include "base/rng.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { DK = 576, DV = 512, MAX_THREADS = 16 };

typedef struct bench {
    int n_keys, heads, layers, n_threads;
    dtype type;
    size_t layer_bytes;
    const uint8_t *cache;
    const float *q;
    pthread_barrier_t layer_done;
} bench;

typedef struct worker {
    bench *b;
    int ith;
    float *out, *scratch;
} worker;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *p)
{
    worker *w = p;
    bench *b = w->b;
    int per = (b->heads + b->n_threads - 1) / b->n_threads, h0 = w->ith * per;
    int nh = b->heads - h0 < per ? b->heads - h0 : per;
    for (int l = 0; l < b->layers; l++) {
        const uint8_t *c = b->cache + l * b->layer_bytes;
        if (nh > 0)
            kern_attention(b->q + (size_t)h0 * DK, nh, DK, DK, c, c, b->type, DK, b->n_keys, DV,
                           0.07f, w->out, DV, w->scratch);
        if (b->n_threads > 1) pthread_barrier_wait(&b->layer_done);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench b = {.n_keys = argc > 1 ? atoi(argv[1]) : 4096,
               .heads = argc > 2 ? atoi(argv[2]) : 8,
               .layers = argc > 3 ? atoi(argv[3]) : 1,
               .n_threads = argc > 4 ? atoi(argv[4]) : 1};
    if (b.n_keys < 1 || b.heads < 1 || b.heads > 128 || b.layers < 1 || b.layers > 256 ||
        b.n_threads < 1 || b.n_threads > MAX_THREADS)
        return 2;
    rng g;
    rng_seed(&g, 7);
    float *q = malloc((size_t)b.heads * DK * 4), *row = malloc(DK * 4);
    b.layer_bytes = (size_t)b.n_keys * DK * 4; /* room for the widest type */
    uint8_t *cache = mem_huge_alloc(b.layer_bytes * b.layers);
    worker w[MAX_THREADS];
    for (int i = 0; i < b.n_threads; i++)
        w[i] = (worker){&b, i, malloc((size_t)b.heads * DV * 4),
                        malloc((size_t)kern_attention_scratch_floats(b.heads, DK, DV) * 4)};
    if (!q || !row || !cache) return 1;
    for (int i = 0; i < b.heads * DK; i++) q[i] = rng_uniform(&g) - 0.5f;
    b.q = q;
    b.cache = cache;
    pthread_barrier_init(&b.layer_done, NULL, (unsigned)b.n_threads);
    const dtype types[] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_Q8_0};
    printf("backend %s, %d keys, %d heads, %d layers, %d threads\n", kern_backend()->name, b.n_keys,
           b.heads, b.layers, b.n_threads);
    for (int ti = 0; ti < 4; ti++) {
        b.type = types[ti];
        size_t rb = dtype_row_bytes(b.type, DK);
        rng_seed(&g, 11);
        for (int l = 0; l < b.layers; l++)
            for (int k = 0; k < b.n_keys; k++) {
                for (int i = 0; i < DK; i++) row[i] = rng_uniform(&g) - 0.5f;
                quant_quantize_row(b.type, row, cache + l * b.layer_bytes + (size_t)k * rb, DK);
            }
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            pthread_t th[MAX_THREADS];
            double t0 = now();
            for (int i = 1; i < b.n_threads; i++) pthread_create(&th[i], NULL, run, &w[i]);
            run(&w[0]);
            for (int i = 1; i < b.n_threads; i++) pthread_join(th[i], NULL);
            double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        printf("%-5s %8.3f ms  %6.1f GMAC/s  %5.1f GB/s of cache\n", dtype_get(b.type)->name,
               best * 1e3, (double)b.heads * b.n_keys * (DK + DV) * b.layers / best * 1e-9,
               (double)rb * b.n_keys * b.layers / best * 1e-9);
    }
    pthread_barrier_destroy(&b.layer_done);
    for (int i = 0; i < b.n_threads; i++) free(w[i].out), free(w[i].scratch);
    mem_huge_free(cache, b.layer_bytes * b.layers);
    free(q), free(row);
    return 0;
}
