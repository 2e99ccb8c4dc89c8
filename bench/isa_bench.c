/* isa_bench.c — the per-core issue rate of the instructions the kernels are built from, so that a
 * kernel's speed can be read against the machine's real peak (not the datasheet's): 512-bit and
 * 256-bit fp32 FMA and int8 vpdpbusd on independent accumulators, and vpdpbusd fed by one
 * broadcast activation load each (the repacked kernels' inner loop) or one per two.
 *
 * Build (x86-64 with AVX-512F/VL/BW/VNNI):
 *   cc -O2 -mfma -mavx512f -mavx512vl -mavx512bw -mavx512vnni bench/isa_bench.c -o isa_bench
 * Run: isa_bench   (one thread; prints instructions/s and multiply-adds/s)
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int32_t buf[4096];

#define N_ITER 20000000L

static void report(const char *what, double t, double ops, int macs_per_op, long sink)
{
    printf("%-44s %6.2f G instr/s %7.0f GMAC/s   (%ld)\n", what, ops / t / 1e9,
           ops * macs_per_op / t / 1e9, sink & 1);
}

int main(void)
{
    for (int i = 0; i < 4096; i++) buf[i] = i * 7;
    {
        __m512 a[12], b = _mm512_set1_ps(1.0001f);
        for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
        double t0 = now();
        for (long n = 0; n < N_ITER; n++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, b);
            __asm__ volatile("" : "+v"(b));
        }
        double t = now() - t0;
        float s = 0;
        for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(a[i]);
        report("vfmadd231ps zmm (16 fp32 lanes)", t, 12.0 * N_ITER, 16, (long)s);
    }
    {
        __m256 a[12], b = _mm256_set1_ps(1.0001f);
        for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
        double t0 = now();
        for (long n = 0; n < N_ITER; n++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, b);
            __asm__ volatile("" : "+v"(b));
        }
        double t = now() - t0;
        float s[8], tot = 0;
        for (int i = 0; i < 12; i++) {
            _mm256_storeu_ps(s, a[i]);
            tot += s[0];
        }
        report("vfmadd231ps ymm (8 fp32 lanes)", t, 12.0 * N_ITER, 8, (long)tot);
    }
    {
        __m512i a[12], b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(5);
        for (int i = 0; i < 12; i++) a[i] = _mm512_set1_epi32(i);
        double t0 = now();
        for (long n = 0; n < N_ITER; n++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) a[i] = _mm512_dpbusd_epi32(a[i], b, c);
            __asm__ volatile("" : "+v"(b));
        }
        double t = now() - t0;
        long s = 0;
        for (int i = 0; i < 12; i++) s += _mm512_reduce_add_epi32(a[i]);
        report("vpdpbusd zmm (64 int8 products)", t, 12.0 * N_ITER, 64, s);
    }
    {
        __m256i a[12], b = _mm256_set1_epi8(3), c = _mm256_set1_epi8(5);
        for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
        double t0 = now();
        for (long n = 0; n < N_ITER; n++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) a[i] = _mm256_dpbusd_epi32(a[i], b, c);
            __asm__ volatile("" : "+v"(b));
        }
        double t = now() - t0;
        long s = 0;
        for (int i = 0; i < 12; i++) s += _mm256_extract_epi32(a[i], 0);
        report("vpdpbusd ymm (32 int8 products)", t, 12.0 * N_ITER, 32, s);
    }
    {
        __m512i a[16], w0 = _mm512_set1_epi8(3), w1 = _mm512_set1_epi8(5);
        for (int i = 0; i < 16; i++) a[i] = _mm512_set1_epi32(i);
        double t0 = now();
        for (long n = 0; n < N_ITER; n++) {
            const int32_t *p = buf + (n & 255) * 16;
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                a[i] = _mm512_dpbusd_epi32(a[i], w0, _mm512_set1_epi32(p[i]));
            __asm__ volatile("" : "+v"(w0), "+v"(w1));
        }
        double t = now() - t0;
        long s = 0;
        for (int i = 0; i < 16; i++) s += _mm512_reduce_add_epi32(a[i]);
        report("vpdpbusd zmm, one broadcast load each", t, 16.0 * N_ITER, 64, s);
        t0 = now();
        for (long n = 0; n < N_ITER; n++) {
            const int32_t *p = buf + (n & 255) * 8;
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                __m512i x = _mm512_set1_epi32(p[i]);
                a[i] = _mm512_dpbusd_epi32(a[i], w0, x);
                a[8 + i] = _mm512_dpbusd_epi32(a[8 + i], w1, x);
            }
            __asm__ volatile("" : "+v"(w0), "+v"(w1));
        }
        t = now() - t0;
        for (int i = 0; i < 16; i++) s += _mm512_reduce_add_epi32(a[i]);
        report("vpdpbusd zmm, one broadcast load per two", t, 16.0 * N_ITER, 64, s);
    }
    return 0;
}
