/* attn_bf16.c — attention over a BF16 cache with AVX512-BF16 dot products (vdpbf16ps: 32 bf16
 * products per instruction, twice fp32's 16). The spec is ref/attn_bf16_ref.c, bit for bit.
 * - scores: the lanes are 16 heads (the packed query, kernels.h), one register per cached row;
 *   each step broadcasts one pair of the row's elements and adds both products to every head:
 *   exactly the spec's chain per (head, key), with no horizontal sums at the end.
 * - accum: the lanes are 16 output columns; two consecutive rows are interleaved into pairs
 *   (vpermt2w) and multiplied by each head's broadcast pair of probabilities. */
#include "kernels/kernels.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#define SCORE_ROWS 16 /* cached rows per score tile: 8 accumulators, one query register */
#define ACC_HEADS 8   /* heads per accum tile: 8 × 2 accumulators, 2 interleaved value registers */

INLINE void scores_tile(int nk, const uint32_t *qg, const uint8_t *k, size_t ks, int n_p, float *s,
                        int ld, int n_h)
{
    __m512 acc[SCORE_ROWS];
#pragma GCC unroll 16
    for (int j = 0; j < nk; j++) acc[j] = _mm512_setzero_ps();
    for (int p = 0; p < n_p; p++) {
        __m512bh q = (__m512bh)_mm512_loadu_si512(qg + (size_t)p * 16);
#pragma GCC unroll 16
        for (int j = 0; j < nk; j++) {
            uint32_t kp;
            memcpy(&kp, k + (size_t)j * ks + 4 * (size_t)p, 4);
            acc[j] = _mm512_dpbf16_ps(acc[j], q, (__m512bh)_mm512_set1_epi32((int)kp));
        }
    }
#pragma GCC unroll 16
    for (int j = 0; j < nk; j++) {
        float t[16];
        _mm512_storeu_ps(t, acc[j]);
        for (int l = 0; l < n_h; l++) s[l * ld + j] = t[l];
    }
}

static void attn_scores_bf16(const uint32_t *qp, int n_h, const void *k_, size_t ks, int n_k,
                             int dk, float *s, int ld)
{
    const uint8_t *k = k_;
    int n_p = dk / 2;
    for (int g = 0; 16 * g < n_h; g++) {
        const uint32_t *qg = qp + (size_t)g * n_p * 16;
        int nh = n_h - 16 * g < 16 ? n_h - 16 * g : 16, j = 0;
        float *sg = s + 16 * g * ld;
        for (; j + SCORE_ROWS <= n_k; j += SCORE_ROWS)
            scores_tile(SCORE_ROWS, qg, k + (size_t)j * ks, ks, n_p, sg + j, ld, nh);
        for (; j < n_k; j++) scores_tile(1, qg, k + (size_t)j * ks, ks, n_p, sg + j, ld, nh);
    }
}

/* outputs [c, c + 32) of nh heads over all n_k rows */
INLINE void accum_tile(int nh, float *o, int64_t os, const uint32_t *pp, int ld_pp,
                       const uint8_t *v, size_t vs, int n_k, int c)
{
    const __m512i lo_idx =
                      _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                       39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0),
                  hi_idx = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25,
                                            56, 24, 55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18,
                                            49, 17, 48, 16);
    __m512 acc[ACC_HEADS][2];
#pragma GCC unroll 16
    for (int h = 0; h < nh; h++) {
        acc[h][0] = _mm512_loadu_ps(o + h * os + c);
        acc[h][1] = _mm512_loadu_ps(o + h * os + c + 16);
    }
    for (int j = 0; 2 * j < n_k; j++) {
        __m512i r0 = _mm512_loadu_si512(v + (size_t)(2 * j) * vs + 2 * (size_t)c);
        __m512i r1 = 2 * j + 1 < n_k
                         ? _mm512_loadu_si512(v + (size_t)(2 * j + 1) * vs + 2 * (size_t)c)
                         : _mm512_setzero_si512();
        __m512bh lo = (__m512bh)_mm512_permutex2var_epi16(r0, lo_idx, r1),
                 hi = (__m512bh)_mm512_permutex2var_epi16(r0, hi_idx, r1);
#pragma GCC unroll 16
        for (int h = 0; h < nh; h++) {
            __m512bh p = (__m512bh)_mm512_set1_epi32((int)pp[h * ld_pp + j]);
            acc[h][0] = _mm512_dpbf16_ps(acc[h][0], lo, p);
            acc[h][1] = _mm512_dpbf16_ps(acc[h][1], hi, p);
        }
    }
#pragma GCC unroll 16
    for (int h = 0; h < nh; h++) {
        _mm512_storeu_ps(o + h * os + c, acc[h][0]);
        _mm512_storeu_ps(o + h * os + c + 16, acc[h][1]);
    }
}

static void attn_accum_bf16(float *o, int64_t os, int n_h, const uint32_t *pp, int ld_pp,
                            const void *v_, size_t vs, int n_k, int dv)
{
    const uint8_t *v = v_;
    for (int h = 0; h < n_h; h += ACC_HEADS) {
        int nh = n_h - h < ACC_HEADS ? n_h - h : ACC_HEADS;
        for (int c = 0; c + 32 <= dv; c += 32) {
            float *oh = o + h * os;
            const uint32_t *ph = pp + h * ld_pp;
            switch (nh) { /* a constant count per call, so the tile stays in registers */
            case 8:
                accum_tile(8, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 7:
                accum_tile(7, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 6:
                accum_tile(6, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 5:
                accum_tile(5, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 4:
                accum_tile(4, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 3:
                accum_tile(3, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            case 2:
                accum_tile(2, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            default:
                accum_tile(1, oh, os, ph, ld_pp, v, vs, n_k, c);
                break;
            }
        }
    }
}

/* A row of probabilities is already in pair order: its 32 values converted in place of 16
 * pairs (vcvtne2ps2bf16 rounds as kern_f32_to_bf16_ne does), the missing ones zero. */
static void attn_pack_p_bf16(const float *p, int ld_p, int n_h, int n_k, uint32_t *pp, int ld_pp)
{
    __mmask16 m0 = (__mmask16)(n_k >= 16 ? 0xffff : (1u << n_k) - 1),
              m1 = (__mmask16)(n_k >= 32  ? 0xffff
                               : n_k > 16 ? (1u << (n_k - 16)) - 1
                                          : 0);
    __mmask16 mp = (__mmask16)(n_k >= 31 ? 0xffff : (1u << ((n_k + 1) / 2)) - 1);
    for (int h = 0; h < n_h; h++) {
        __m512 lo = _mm512_maskz_loadu_ps(m0, p + h * ld_p),
               hi = _mm512_maskz_loadu_ps(m1, p + h * ld_p + 16);
        __m512i b = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_mask_storeu_epi32(pp + h * ld_pp, mp, b);
    }
}

/* The query: each head's row converted 32 values at a time (the pairs are consecutive
 * elements), then its pairs dealt to the head's lane of every pair's register. */
static void attn_pack_q_bf16(const float *q, int64_t q_stride, int n_h, int dk, uint32_t *qp)
{
    int n_p = dk / 2, n_g = (n_h + 15) / 16;
    uint32_t row[2048];
    if (n_p > 2048) {
        kern_attn_pack_q_bf16(q, q_stride, n_h, dk, qp);
        return;
    }
    for (int g = 0; g < n_g; g++) {
        uint32_t *qg = qp + (size_t)g * n_p * 16;
        for (int l = 0; l < 16; l++) {
            int h = 16 * g + l;
            if (h >= n_h) {
                for (int p = 0; p < n_p; p++) qg[p * 16 + l] = 0;
                continue;
            }
            const float *qh = q + h * q_stride;
            for (int i = 0; i < 2 * n_p; i += 32) {
                int n = 2 * n_p - i;
                __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1),
                          m1 = (__mmask16)(n >= 32  ? 0xffff
                                           : n > 16 ? (1u << (n - 16)) - 1
                                                    : 0);
                __m512i b = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, qh + i + 16),
                                                         _mm512_maskz_loadu_ps(m0, qh + i));
                _mm512_storeu_si512(row + i / 2, b);
            }
            for (int p = 0; p < n_p; p++) qg[p * 16 + l] = row[p];
        }
    }
}

void kern_backend_add_attn_bf16(kern_backend_t *b)
{
    b->attn_pack_q_bf16 = attn_pack_q_bf16;
    b->attn_pack_p_bf16 = attn_pack_p_bf16;
    b->attn_scores_bf16 = attn_scores_bf16;
    b->attn_accum_bf16 = attn_accum_bf16;
}
