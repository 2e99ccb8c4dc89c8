/* read_bench.c — how fast one core reads a buffer too large for the caches, by access pattern:
 * the question behind attention at depth, whose score tiles walk 4 cached rows side by side with
 * 32-byte loads broadcast to both halves of a 512-bit register (x86/attn_avx512.c).
 * Patterns over MB megabytes (default 113: deepseek2-mini's fp32 latent cache at depth 4096) of
 * 2304-byte rows (576 floats), each load added into a register, best of 5 passes:
 *   linear      one 64-byte load after another
 *   4 rows, 64  four rows side by side, 64-byte loads
 *   4 rows, 32  four rows side by side, 32-byte loads broadcast to 512 bits (the score tiles)
 * Needs AVX-512F.
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -mavx512f -D_GNU_SOURCE -Isrc -Iinclude bench/read_bench.c build/libr1.a -o read_bench
 * Run: read_bench [MB]
 */
#include "base/mmap.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROW = 576 }; /* floats per row */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static __m512 ld32(const float *p)
{
    return _mm512_castpd_ps(
        _mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)(const void *)p)));
}

__attribute__((noinline)) static float read_linear(const float *b, size_t n_rows)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (size_t i = 0; i + 32 <= n_rows * ROW; i += 32) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(b + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(b + i + 16));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

__attribute__((noinline)) static float read_rows4(const float *b, size_t n_rows, int broadcast32)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t r = 0; r + 4 <= n_rows; r += 4) {
        const float *p = b + r * ROW;
        if (broadcast32)
            for (int i = 0; i < ROW; i += 8) {
                a0 = _mm512_add_ps(a0, ld32(p + i));
                a1 = _mm512_add_ps(a1, ld32(p + ROW + i));
                a2 = _mm512_add_ps(a2, ld32(p + 2 * ROW + i));
                a3 = _mm512_add_ps(a3, ld32(p + 3 * ROW + i));
            }
        else
            for (int i = 0; i < ROW; i += 16) {
                a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
                a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + ROW + i));
                a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + 2 * ROW + i));
                a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + 3 * ROW + i));
            }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

int main(int argc, char **argv)
{
    double mb = argc > 1 ? atof(argv[1]) : 113;
    if (!(mb >= 1 && mb <= 65536)) return 2;
    size_t n_rows = (size_t)(mb * 1e6 / (ROW * 4)) / 4 * 4, bytes = n_rows * ROW * 4;
    float *b = mem_huge_alloc(bytes);
    if (!b) return 1;
    memset(b, 0, bytes);
    const char *names[] = {"linear", "4 rows, 64", "4 rows, 32"};
    float sink = 0;
    for (int k = 0; k < 3; k++) {
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            sink += k == 0 ? read_linear(b, n_rows) : read_rows4(b, n_rows, k == 2);
            double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        printf("%-11s %6.1f GB/s\n", names[k], bytes / best * 1e-9);
    }
    mem_huge_free(b, bytes);
    return sink != 0; /* the sums are zero; the test keeps them alive */
}
