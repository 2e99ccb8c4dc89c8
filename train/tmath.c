/* tmath.c — fp32 matrix product, transpose and RMSNorm for the trainer (see tmath.h).
 *
 * tm_gemm cuts C into 4×16 tiles and hands contiguous runs of tiles to the pool's threads. A full
 * tile on an AVX2+FMA CPU keeps its 4×16 sums in eight ymm registers (broadcast A, load B, FMA);
 * partial tiles and CPUs without AVX2 use scalar loops with the same per-element arithmetic
 * (one fused multiply-add per k on the AVX2 path, multiply then add on the generic one).
 */
#include "train/tmath.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TM_HAVE_AVX2 1
#endif

#define TILE_M 4
#define TILE_N 16

typedef struct gemm_job {
    int M, N, K;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    float *C;
    int ldc;
    bool accumulate;
} gemm_job;

static void tile_generic(const gemm_job *g, int i0, int j0)
{
    int mi = g->M - i0 < TILE_M ? g->M - i0 : TILE_M;
    int nj = g->N - j0 < TILE_N ? g->N - j0 : TILE_N;
    for (int i = 0; i < mi; i++) {
        float acc[TILE_N] = {0};
        const float *a = g->A + (int64_t)(i0 + i) * g->lda;
        for (int k = 0; k < g->K; k++) {
            float av = a[k];
            const float *b = g->B + (int64_t)k * g->ldb + j0;
            for (int j = 0; j < nj; j++) acc[j] += av * b[j];
        }
        float *c = g->C + (int64_t)(i0 + i) * g->ldc + j0;
        for (int j = 0; j < nj; j++) c[j] = g->accumulate ? c[j] + acc[j] : acc[j];
    }
}

#ifdef TM_HAVE_AVX2
__attribute__((target("avx2,fma"))) static void tile_avx2(const gemm_job *g, int i0, int j0)
{
    int mi = g->M - i0 < TILE_M ? g->M - i0 : TILE_M;
    int nj = g->N - j0 < TILE_N ? g->N - j0 : TILE_N;
    const float *A = g->A + (int64_t)i0 * g->lda;
    int64_t lda = g->lda, ldb = g->ldb;
    if (mi == TILE_M && nj == TILE_N) {
        __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
               c30 = c00, c31 = c00;
        const float *b = g->B + j0;
        for (int k = 0; k < g->K; k++, b += ldb) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            __m256 a0 = _mm256_broadcast_ss(A + k), a1 = _mm256_broadcast_ss(A + lda + k);
            c00 = _mm256_fmadd_ps(a0, b0, c00);
            c01 = _mm256_fmadd_ps(a0, b1, c01);
            c10 = _mm256_fmadd_ps(a1, b0, c10);
            c11 = _mm256_fmadd_ps(a1, b1, c11);
            __m256 a2 = _mm256_broadcast_ss(A + 2 * lda + k),
                   a3 = _mm256_broadcast_ss(A + 3 * lda + k);
            c20 = _mm256_fmadd_ps(a2, b0, c20);
            c21 = _mm256_fmadd_ps(a2, b1, c21);
            c30 = _mm256_fmadd_ps(a3, b0, c30);
            c31 = _mm256_fmadd_ps(a3, b1, c31);
        }
        __m256 r[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
        for (int i = 0; i < TILE_M; i++) {
            float *c = g->C + (int64_t)(i0 + i) * g->ldc + j0;
            for (int h = 0; h < 2; h++) {
                __m256 v = r[2 * i + h];
                if (g->accumulate) v = _mm256_add_ps(_mm256_loadu_ps(c + 8 * h), v);
                _mm256_storeu_ps(c + 8 * h, v);
            }
        }
        return;
    }
    for (int i = 0; i < mi; i++) {
        float acc[TILE_N] = {0};
        const float *a = A + (int64_t)i * lda;
        for (int k = 0; k < g->K; k++) {
            float av = a[k];
            const float *b = g->B + (int64_t)k * ldb + j0;
            for (int j = 0; j < nj; j++) acc[j] = __builtin_fmaf(av, b[j], acc[j]);
        }
        float *c = g->C + (int64_t)(i0 + i) * g->ldc + j0;
        for (int j = 0; j < nj; j++) c[j] = g->accumulate ? c[j] + acc[j] : acc[j];
    }
}
#endif

typedef void (*tile_fn)(const gemm_job *g, int i0, int j0);

static tile_fn pick_tile(void)
{
#ifdef TM_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return tile_avx2;
#endif
    return tile_generic;
}

static tile_fn the_tile(void)
{
    static tile_fn fn; /* benign race: every thread computes the same pointer */
    if (!fn) fn = pick_tile();
    return fn;
}

const char *tm_gemm_path(void)
{
#ifdef TM_HAVE_AVX2
    if (the_tile() == tile_avx2) return "avx2+fma";
#endif
    return "generic";
}

static void gemm_worker(void *p, int ith, int nth)
{
    const gemm_job *g = p;
    tile_fn fn = the_tile();
    long tm = (g->M + TILE_M - 1) / TILE_M, tn = (g->N + TILE_N - 1) / TILE_N, b, e;
    threadpool_split(tm * tn, ith, nth, &b, &e);
    for (long t = b; t < e; t++) fn(g, (int)(t / tn) * TILE_M, (int)(t % tn) * TILE_N);
}

void tm_gemm(threadpool *pool, int M, int N, int K, const float *A, int lda, const float *B,
             int ldb, float *C, int ldc, bool accumulate)
{
    if (M <= 0 || N <= 0) return;
    gemm_job g = {M, N, K, A, lda, B, ldb, C, ldc, accumulate};
    /* small products are not worth waking the pool for (the result is the same either way) */
    if (!pool || (int64_t)M * N * (K > 0 ? K : 1) < 32768)
        gemm_worker(&g, 0, 1);
    else
        threadpool_run(pool, gemm_worker, &g);
}

void tm_transpose(const float *A, int rows, int cols, int lda, float *out)
{
    enum { BS = 32 };
    for (int r0 = 0; r0 < rows; r0 += BS)
        for (int c0 = 0; c0 < cols; c0 += BS) {
            int r1 = r0 + BS < rows ? r0 + BS : rows, c1 = c0 + BS < cols ? c0 + BS : cols;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++) out[(int64_t)c * rows + r] = A[(int64_t)r * lda + c];
        }
}

float tm_rmsnorm(float *y, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int i = 0; i < n; i++) y[i] = x[i] * r * w[i];
    return r;
}

void tm_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         float r, int n, bool accumulate)
{
    /* y_i = x_i r w_i, r = (mean(x²) + eps)^(-1/2), dr/dx_j = -r³ x_j / n */
    double dot = 0;
    for (int i = 0; i < n; i++) dot += (double)dy[i] * w[i] * x[i];
    float k = (float)(dot * (double)r * r * r / n);
    for (int i = 0; i < n; i++) {
        float v = dy[i] * w[i] * r - k * x[i];
        dx[i] = accumulate ? dx[i] + v : v;
        if (dw) dw[i] += dy[i] * x[i] * r;
    }
}
