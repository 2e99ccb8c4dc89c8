/* gemm_vnni.c — Q8_0 weights repacked 8 rows at a time (kernels.h, KERN_R8_BLOCK_BYTES) times
 * Q8_0 activations with AVX-VNNI (vpdpbusd on 256-bit registers, compiled with -mavxvnni).
 *
 * Per block of 32 columns: 8 loads of 32 bytes (4 quants of each of the 8 rows), each multiplied
 * with the token's 4 matching activation quants broadcast to all lanes, accumulate the 8 rows'
 * int32 sums in one register; then one conversion and one fused multiply-add by the 8 rows'
 * scales. Weights are stored +128 (vpdpbusd takes unsigned × signed bytes), so the block's sum is
 * corrected by 128·Σx. Up to 4 tokens share each weight load.
 */
#include "kernels/kernels.h"
#include "tensor/blocks.h"

#include <immintrin.h>

static inline __m256 scales8(const uint8_t *blk)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)blk));
}

/* n (1..4) tokens; each token's sequence of float operations does not depend on n (the int32
 * block sums are exact, so splitting them over several accumulators changes nothing). Two or
 * four accumulators per token break vpdpbusd's dependency chain (latency ~4 cycles). */
static inline __attribute__((always_inline)) void
gemm_group(const uint8_t *group, int64_t nb, const uint8_t *qx, size_t qx_stride,
           const int16_t *xsum, size_t xsum_stride, const int n, float *y, int64_t ldy)
{
    enum { A = 2 }; /* accumulators per token when n > 2; 4 when n <= 2 */
    const block_q8_0 *x[4];
    const int16_t *xs[4];
    for (int k = 0; k < n; k++) {
        x[k] = (const block_q8_0 *)(const void *)(qx + (size_t)k * qx_stride);
        xs[k] = xsum + (size_t)k * xsum_stride;
    }
    const int na = n <= 2 ? 2 * A : A;
    __m256 acc[4];
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = group + (size_t)b * KERN_R8_BLOCK_BYTES;
        const __m256 dw = scales8(blk);
        const uint8_t *q = blk + 16;
        __m256i s[4][4];
        for (int k = 0; k < n; k++)
            for (int a = 0; a < na; a++) s[k][a] = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * g));
            for (int k = 0; k < n; k++) {
                int32_t x4;
                __builtin_memcpy(&x4, x[k][b].qs + 4 * g, 4);
                s[k][g % na] = _mm256_dpbusd_avx_epi32(s[k][g % na], w, _mm256_set1_epi32(x4));
            }
        }
        for (int k = 0; k < n; k++) {
            __m256i t = s[k][0];
            for (int a = 1; a < na; a++) t = _mm256_add_epi32(t, s[k][a]);
            __m256i c = _mm256_sub_epi32(t, _mm256_set1_epi32(128 * (int32_t)xs[k][b]));
            __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x[k][b].d)));
            acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(c), acc[k]);
        }
    }
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

static void gemm_q8_0_r8_vnni(const uint8_t *group, int64_t n_cols, const uint8_t *qx,
                              size_t qx_stride, const int16_t *xsum, size_t xsum_stride,
                              int64_t n_tok, float *y, int64_t ldy)
{
    int64_t nb = n_cols / 32;
    for (int64_t t = 0; t < n_tok; t += 4) {
        int n = n_tok - t < 4 ? (int)(n_tok - t) : 4;
        const uint8_t *q = qx + (size_t)t * qx_stride;
        const int16_t *xs = xsum + (size_t)t * xsum_stride;
        float *yt = y + t * ldy;
        switch (n) { /* constant n: the loops above unroll */
        case 1:
            gemm_group(group, nb, q, qx_stride, xs, xsum_stride, 1, yt, ldy);
            break;
        case 2:
            gemm_group(group, nb, q, qx_stride, xs, xsum_stride, 2, yt, ldy);
            break;
        case 3:
            gemm_group(group, nb, q, qx_stride, xs, xsum_stride, 3, yt, ldy);
            break;
        default:
            gemm_group(group, nb, q, qx_stride, xs, xsum_stride, 4, yt, ldy);
            break;
        }
    }
}

void kern_backend_add_vnni(kern_backend_t *b)
{
    b->gemm_q8_0_r8 = gemm_q8_0_r8_vnni;
}
