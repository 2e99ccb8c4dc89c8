/* kernel_bench.c — one matmul (rows × 1536 weights of one type, T activation rows) through
 * kern_matmul on one thread, with and without the repacked (R8, VNNI) layout, alternating 6
 * times and keeping the best of each. Prints the times, the ratio and GMAC/s of the repacked path.
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -D_GNU_SOURCE -Isrc -Iinclude bench/kernel_bench.c build/libr1.a -lm -lpthread \
 *      -o kernel_bench
 * Run: kernel_bench q8|q4|q6|f16|f32 T [ROWS]   (ROWS 8960: 14.6 MB of Q8_0, in L3; 71680: from
 * RAM)
 */
#include "base/rng.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: kernel_bench q8|q4|q6|f16|f32 T [ROWS]\n");
        return 2;
    }
    dtype ty = !strcmp(argv[1], "q8")    ? DTYPE_Q8_0
               : !strcmp(argv[1], "q6")  ? DTYPE_Q6_K
               : !strcmp(argv[1], "f16") ? DTYPE_F16
               : !strcmp(argv[1], "f32") ? DTYPE_F32
                                         : DTYPE_Q4_K;
    int T = atoi(argv[2]);
    int64_t rows = argc > 3 ? atoll(argv[3]) : 8960, cols = 1536;
    if (T < 1 || rows < 8 || rows % 8) return 2;
    size_t rb = dtype_row_bytes(ty, cols);
    uint8_t *wq = malloc((size_t)rows * rb);
    float *wr = malloc((size_t)cols * sizeof(float));
    rng g;
    rng_seed(&g, 1);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) wr[c] = 2 * rng_uniform(&g) - 1;
        quant_quantize_row(ty, wr, wq + (size_t)r * rb, cols);
    }
    wmat w = {.type = ty,
              .data = wq,
              .n_rows = rows,
              .n_cols = cols,
              .n_mats = 1,
              .row_bytes = rb,
              .mat_bytes = (size_t)rows * rb};
    size_t r8_bytes = kern_r8_mat_bytes(&w);
    uint8_t *r8 = malloc(r8_bytes);
    kern_repack_r8(&w, 0, r8);
    float *x = malloc((size_t)T * (size_t)cols * sizeof(float));
    float *y = malloc((size_t)T * (size_t)rows * sizeof(float));
    for (int64_t i = 0; i < (int64_t)T * cols; i++) x[i] = rng_uniform(&g);
    threadpool *pool = threadpool_new(1);
    kern_ctx kc;
    kern_ctx_init(&kc, pool, (int64_t)T * cols);
    double best[2] = {1e9, 1e9};
    for (int it = 0; it < 6; it++)
        for (int m = 0; m < 2; m++) {
            w.r8 = m ? r8 : NULL;
            w.r8_mat_bytes = r8_bytes;
            double t0 = now();
            kern_matmul(&kc, &w, 0, x, cols, T, y, rows);
            double dt = now() - t0;
            if (dt < best[m]) best[m] = dt;
        }
    printf("%s %lldx%lld T=%d: plain %.2f ms, repacked %.2f ms (%s), %.2fx; %.1f GMAC/s\n",
           dtype_get(ty)->name, (long long)rows, (long long)cols, T, best[0] * 1e3, best[1] * 1e3,
           kern_backend()->gemm_r8[ty]    ? "VNNI"
           : kern_backend()->gemm_r16[ty] ? "R16"
                                          : "no repacked kernel: same path",
           best[0] / best[1], (double)rows * cols * T / best[1] / 1e9);
    kern_ctx_free(&kc);
    threadpool_free(pool);
    return 0;
}
