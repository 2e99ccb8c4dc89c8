/* attn_bench.c — kern_attention for one token over a long cache, on one thread: MLA decode's
 * shape (HEADS query heads over latent rows of 576 = 512 + 64 values, values = the first 512),
 * for each cache type. Prints the best of 5 times and the multiply-adds per second
 * (heads × keys × (576 + 512)).
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -D_GNU_SOURCE -Isrc -Iinclude bench/attn_bench.c build/libr1.a -lm -lpthread \
 *      -o attn_bench
 * Run: attn_bench [KEYS] [HEADS] [LAYERS]   (defaults 4096, 8: deepseek2-mini's 16 heads on 2
 * threads, and 1). LAYERS > 1 visits that many separate caches in turn, as a decode step does:
 * with 12 the caches (113 MB in F32) no longer fit in the last-level cache and stream from memory.
 */
#include "base/rng.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n_keys = argc > 1 ? atoi(argv[1]) : 4096, heads = argc > 2 ? atoi(argv[2]) : 8;
    int layers = argc > 3 ? atoi(argv[3]) : 1;
    enum { DK = 576, DV = 512 };
    if (n_keys < 1 || heads < 1 || heads > 128 || layers < 1 || layers > 256) return 2;
    rng g;
    rng_seed(&g, 7);
    float *q = malloc((size_t)heads * DK * 4), *out = malloc((size_t)heads * DV * 4);
    float *rows = malloc((size_t)n_keys * DK * 4);
    float *scratch = malloc((size_t)kern_attention_scratch_floats(heads, DV) * 4);
    size_t layer_bytes = (size_t)n_keys * DK * 4;
    uint8_t *cache = malloc(layer_bytes * layers);
    for (int i = 0; i < heads * DK; i++) q[i] = rng_uniform(&g) - 0.5f;
    for (size_t i = 0; i < (size_t)n_keys * DK; i++) rows[i] = rng_uniform(&g) - 0.5f;
    const dtype types[] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_Q8_0};
    printf("backend %s, %d keys, %d heads, %d layers\n", kern_backend()->name, n_keys, heads,
           layers);
    for (int ti = 0; ti < 4; ti++) {
        dtype t = types[ti];
        size_t rb = dtype_row_bytes(t, DK);
        for (int l = 0; l < layers; l++)
            for (int k = 0; k < n_keys; k++)
                quant_quantize_row(t, rows + (size_t)k * DK,
                                   cache + l * layer_bytes + (size_t)k * rb, DK);
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int l = 0; l < layers; l++)
                kern_attention(q, heads, DK, DK, cache + l * layer_bytes, cache + l * layer_bytes,
                               t, DK, n_keys, DV, 0.07f, out, DV, scratch);
            double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        printf("%-5s %8.3f ms  %6.1f GMAC/s\n", dtype_get(t)->name, best * 1e3,
               (double)heads * n_keys * (DK + DV) * layers / best * 1e-9);
    }
    free(q), free(out), free(rows), free(scratch), free(cache);
    return 0;
}
