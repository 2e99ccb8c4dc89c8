/* gemm_vnni.c — Q8_0 weights (and Q4_0, Q5_0, Q2_K … Q6_K below) repacked 8 rows at a time
 * (kernels.h, KERN_R8_BLOCK_BYTES) times Q8_0 activations with AVX-VNNI (vpdpbusd on 256-bit
 * registers, compiled with -mavxvnni).
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
#include <stddef.h>

/* Built twice: here with AVX-VNNI (VEX, 16 vector registers), and by gemm_vnni512.c with
 * AVX512-VNNI + VL (the same 256-bit instructions EVEX-encoded: 32 registers, so more tokens
 * share each weight load). */
#ifdef R1_VNNI_EVEX
#define DPBUSD _mm256_dpbusd_epi32
#define Q8_TOKENS 8 /* tokens per weight load */
#define Q4K_TOKENS 4
#define Q6K_TOKENS 4
#define Q4K_X2_TOKENS 8 /* the 16-row Q4_K kernel (512-bit registers) */
#define SUFFIX(f) f##_evex
#else
#define DPBUSD _mm256_dpbusd_avx_epi32
#define Q8_TOKENS 4
#define Q4K_TOKENS 2
#define Q6K_TOKENS 2
#define SUFFIX(f) f##_vex
#endif

/* Weights stream from memory, and with several tokens per load the hardware prefetcher falls
 * behind (measured: 55 → 127 GMAC/s for 8 tokens of a 117 MB Q8_0 matrix): ask for the block
 * `ahead` bytes on, one cache line at a time. */
static inline __attribute__((always_inline)) void prefetch_ahead(const uint8_t *p, int bytes)
{
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)(p + o), _MM_HINT_T0);
}

static inline __m256 scales8(const uint8_t *blk)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)blk));
}

/* IQ4's 16 values + 128 (unsigned for vpdpbusd), in both 128-bit lanes for vpshufb. */
static inline __m256i iq4_table(void)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)iq4_values);
    return _mm256_broadcastsi128_si256(_mm_add_epi8(v, _mm_set1_epi8((char)128)));
}

/* Unsigned quants of vector g (quants 4g..4g+3 of the 8 rows) of a repacked 32-column block.
 * kind 0: Q8_0 (stored +128); 1: Q4_0 (nibbles, 0..15: vectors 2c and 2c + 1 in the low and high
 * nibbles of chunk c); 2: Q5_0 (those nibbles, plus bit g of 32 bytes of high bits as bit 4);
 * 3: IQ4_NL (Q4_0's nibbles, looked up as IQ4 values + 128). */
static inline __attribute__((always_inline)) __m256i r8_quants(const uint8_t *q, const int kind,
                                                               const int g)
{
    if (kind == 0) return _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * g));
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * (g / 2)));
    __m256i u = g % 2 ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
    if (kind == 1) return u;
    if (kind == 3) return _mm256_shuffle_epi8(iq4_table(), u);
    __m256i hb = _mm256_loadu_si256((const __m256i *)(const void *)(q + 128));
    /* bit g of each byte to bit 4 (16-bit shifts: no other byte's bit lands on bit 4) */
    hb = g < 4 ? _mm256_slli_epi16(hb, 4 - g) : _mm256_srli_epi16(hb, g - 4);
    return _mm256_or_si256(u, _mm256_and_si256(hb, _mm256_set1_epi8(16)));
}

/* n (1..8) tokens; each token's sequence of float operations does not depend on n (the int32
 * block sums are exact, so splitting them over several accumulators changes nothing). Two or
 * four accumulators per token break vpdpbusd's dependency chain (latency ~4 cycles). */
static inline __attribute__((always_inline)) void gemm_group(const uint8_t *group, int64_t nb,
                                                             const uint8_t *qx, size_t qx_stride,
                                                             const int16_t *xsum,
                                                             size_t xsum_stride, const int n,
                                                             float *y, int64_t ldy, const int kind)
{
    enum { A = 2 }; /* accumulators per token when n > 2; 4 when n <= 2 */
    const size_t bb = kind == 0                ? KERN_R8_BLOCK_BYTES
                      : kind == 1 || kind == 3 ? KERN_R8_Q4_0_BYTES
                                               : KERN_R8_Q5_0_BYTES;
    const int32_t offset = kind == 0 || kind == 3 ? 128 : kind == 1 ? 8 : 16;
    const block_q8_0 *x[Q8_TOKENS];
    const int16_t *xs[Q8_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) {
        x[k] = (const block_q8_0 *)(const void *)(qx + (size_t)k * qx_stride);
        xs[k] = xsum + (size_t)k * xsum_stride;
    }
    const int na = n <= 2 ? 2 * A : A;
    __m256 acc[Q8_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = group + (size_t)b * bb;
        prefetch_ahead(blk + 8 * bb, (int)bb);
        const __m256 dw = scales8(blk);
        const uint8_t *q = blk + 16;
        __m256i s[Q8_TOKENS][4];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
#pragma GCC unroll 8
            for (int a = 0; a < na; a++) s[k][a] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i w = r8_quants(q, kind, g);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t x4;
                __builtin_memcpy(&x4, x[k][b].qs + 4 * g, 4);
                s[k][g % na] = DPBUSD(s[k][g % na], w, _mm256_set1_epi32(x4));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m256i t = s[k][0];
#pragma GCC unroll 8
            for (int a = 1; a < na; a++) t = _mm256_add_epi32(t, s[k][a]);
            __m256i c = _mm256_sub_epi32(t, _mm256_set1_epi32(offset * (int32_t)xs[k][b]));
            __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x[k][b].d)));
            acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(c), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

/* Entry points for the 32-column types: chunks of up to Q8_TOKENS tokens, each a constant n. */
#if Q8_TOKENS > 4
#define CASES_5_8(kind)                                                                            \
    CASE(5, kind)                                                                                  \
    CASE(6, kind)                                                                                  \
    CASE(7, kind)                                                                                  \
    CASE(8, kind)
#else
#define CASES_5_8(kind)
#endif
#define CASE(k, kind)                                                                              \
    case k:                                                                                        \
        gemm_group(group, nb, q, qx_stride, xs, xsum_stride, k, yt, ldy, kind);                    \
        break;
#define DEFINE_GEMM_32(name, kind)                                                                 \
    static void name(const uint8_t *group, int64_t n_cols, const uint8_t *qx, size_t qx_stride,    \
                     const int16_t *xsum, size_t xsum_stride, int64_t n_tok, float *y,             \
                     int64_t ldy)                                                                  \
    {                                                                                              \
        int64_t nb = n_cols / 32;                                                                  \
        for (int64_t t = 0; t < n_tok; t += Q8_TOKENS) {                                           \
            int n = n_tok - t < Q8_TOKENS ? (int)(n_tok - t) : Q8_TOKENS;                          \
            const uint8_t *q = qx + (size_t)t * qx_stride;                                         \
            const int16_t *xs = xsum + (size_t)t * xsum_stride;                                    \
            float *yt = y + t * ldy;                                                               \
            switch (n) {                                                                           \
                CASE(1, kind)                                                                      \
                CASE(2, kind)                                                                      \
                CASE(3, kind)                                                                      \
                CASES_5_8(kind)                                                                    \
            default:                                                                               \
                gemm_group(group, nb, q, qx_stride, xs, xsum_stride, 4, yt, ldy, kind);            \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_GEMM_32(gemm_q8_0_r8, 0)
DEFINE_GEMM_32(gemm_q4_0_r8, 1)
DEFINE_GEMM_32(gemm_q5_0_r8, 2)
DEFINE_GEMM_32(gemm_iq4_nl_r8, 3)

#if defined(R1_VNNI_EVEX) && defined(__AVX512BW__)
/* The 16 outputs of two groups (rows 8g..8g+7 of A, then B's) for one token. */
static inline __attribute__((always_inline)) void store16(float *y, __m512 v)
{
    _mm256_storeu_ps(y, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(y + 8, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* Two adjacent groups (16 rows) at once in 512-bit registers: group A's vector in the low half,
 * group B's in the high half, so each broadcast activation feeds 16 rows. Per (row, token) the
 * same integer sums and float operations as gemm_group: bit-identical results. */
static inline __attribute__((always_inline)) __m512i
r16_quants(const uint8_t *qa, const uint8_t *qb, const int kind, const int g)
{
    if (kind == 0)
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(
                                      (const __m256i *)(const void *)(qa + 32 * g))),
                                  _mm256_loadu_si256((const __m256i *)(const void *)(qb + 32 * g)),
                                  1);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512i v = _mm512_inserti64x4(
        _mm512_castsi256_si512(
            _mm256_loadu_si256((const __m256i *)(const void *)(qa + 32 * (g / 2)))),
        _mm256_loadu_si256((const __m256i *)(const void *)(qb + 32 * (g / 2))), 1);
    __m512i u = g % 2 ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_and_si512(v, m4);
    if (kind == 1) return u;
    __m512i hb = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(qa + 128))),
        _mm256_loadu_si256((const __m256i *)(const void *)(qb + 128)), 1);
    hb = g < 4 ? _mm512_slli_epi16(hb, 4 - g) : _mm512_srli_epi16(hb, g - 4);
    return _mm512_or_si512(u, _mm512_and_si512(hb, _mm512_set1_epi8(16)));
}

static inline __attribute__((always_inline)) void gemm_group2(const uint8_t *ga, const uint8_t *gb,
                                                              int64_t nb, const uint8_t *qx,
                                                              size_t qx_stride, const int16_t *xsum,
                                                              size_t xsum_stride, const int n,
                                                              float *y, int64_t ldy, const int kind)
{
    const size_t bb = kind == 0                ? KERN_R8_BLOCK_BYTES
                      : kind == 1 || kind == 3 ? KERN_R8_Q4_0_BYTES
                                               : KERN_R8_Q5_0_BYTES;
    const int32_t offset = kind == 0 || kind == 3 ? 128 : kind == 1 ? 8 : 16;
    const int na = n <= 2 ? 4 : 2;
    const block_q8_0 *x[Q8_TOKENS];
    const int16_t *xs[Q8_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) {
        x[k] = (const block_q8_0 *)(const void *)(qx + (size_t)k * qx_stride);
        xs[k] = xsum + (size_t)k * xsum_stride;
    }
    __m512 acc[Q8_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *ba = ga + (size_t)b * bb, *bbk = gb + (size_t)b * bb;
        prefetch_ahead(ba + 8 * bb, (int)bb);
        prefetch_ahead(bbk + 8 * bb, (int)bb);
        const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)ba)),
            _mm_loadu_si128((const __m128i *)(const void *)bbk), 1));
        __m512i s[Q8_TOKENS][4];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
#pragma GCC unroll 4
            for (int a = 0; a < na; a++) s[k][a] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w = r16_quants(ba + 16, bbk + 16, kind, g);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t x4;
                __builtin_memcpy(&x4, x[k][b].qs + 4 * g, 4);
                s[k][g % na] = _mm512_dpbusd_epi32(s[k][g % na], w, _mm512_set1_epi32(x4));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m512i t = s[k][0];
#pragma GCC unroll 4
            for (int a = 1; a < na; a++) t = _mm512_add_epi32(t, s[k][a]);
            __m512i c = _mm512_sub_epi32(t, _mm512_set1_epi32(offset * (int32_t)xs[k][b]));
            __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(x[k][b].d)));
            acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(c), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) { /* rows 8g..8g+7 of A, then B's */
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

/* 16+ tokens: per block the 16 rows' 8 quant vectors are unpacked once into registers while
 * every token of the call passes (gemm_group2 unpacks them once per 8 tokens); each token's
 * float result lives in memory between blocks. Same integer sums and float steps: same bits. */
#define Q8_MANY_MAX 64
#ifndef Q8_MANY_MIN
#define Q8_MANY_MIN 16
#endif
static inline __attribute__((always_inline)) void
gemm_group2_many(const uint8_t *ga, const uint8_t *gb, int64_t nb, const uint8_t *qx,
                 size_t qx_stride, const int16_t *xsum, size_t xsum_stride, int n, float *y,
                 int64_t ldy, const int kind)
{
    const size_t bb = kind == 0                ? KERN_R8_BLOCK_BYTES
                      : kind == 1 || kind == 3 ? KERN_R8_Q4_0_BYTES
                                               : KERN_R8_Q5_0_BYTES;
    const int32_t offset = kind == 0 || kind == 3 ? 128 : kind == 1 ? 8 : 16;
    __m512 acc[Q8_MANY_MAX];
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *ba = ga + (size_t)b * bb, *bbk = gb + (size_t)b * bb;
        prefetch_ahead(ba + 8 * bb, (int)bb);
        prefetch_ahead(bbk + 8 * bb, (int)bb);
        const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)ba)),
            _mm_loadu_si128((const __m128i *)(const void *)bbk), 1));
        __m512i w[8];
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) w[g] = r16_quants(ba + 16, bbk + 16, kind, g);
        const uint8_t *xb = qx + (size_t)b * sizeof(block_q8_0);
        const int16_t *xs = xsum + b;
        for (int k = 0; k < n; k++, xb += qx_stride, xs += xsum_stride) {
            const block_q8_0 *xk = (const block_q8_0 *)(const void *)xb;
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g += 2) {
                int32_t x0, x1;
                __builtin_memcpy(&x0, xk->qs + 4 * g, 4);
                __builtin_memcpy(&x1, xk->qs + 4 * g + 4, 4);
                s0 = _mm512_dpbusd_epi32(s0, w[g], _mm512_set1_epi32(x0));
                s1 = _mm512_dpbusd_epi32(s1, w[g + 1], _mm512_set1_epi32(x1));
            }
            __m512i c = _mm512_sub_epi32(_mm512_add_epi32(s0, s1),
                                         _mm512_set1_epi32(offset * (int32_t)*xs));
            __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(xk->d)));
            acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(c), acc[k]);
        }
    }
    for (int k = 0; k < n; k++) {
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

#define CASE2(k, kind)                                                                             \
    case k:                                                                                        \
        gemm_group2(group, group + group_bytes, nb, q, qx_stride, xs, xsum_stride, k, yt, ldy,     \
                    kind);                                                                         \
        break;
#define DEFINE_GEMM_32_X2(name, kind)                                                              \
    static void name(const uint8_t *group, size_t group_bytes, int64_t n_cols, const uint8_t *qx,  \
                     size_t qx_stride, const int16_t *xsum, size_t xsum_stride, int64_t n_tok,     \
                     float *y, int64_t ldy)                                                        \
    {                                                                                              \
        int64_t nb = n_cols / 32;                                                                  \
        if (n_tok >= Q8_MANY_MIN) {                                                                \
            for (int64_t t = 0; t < n_tok; t += Q8_MANY_MAX) {                                     \
                int n = n_tok - t < Q8_MANY_MAX ? (int)(n_tok - t) : Q8_MANY_MAX;                  \
                gemm_group2_many(group, group + group_bytes, nb, qx + (size_t)t * qx_stride,       \
                                 qx_stride, xsum + (size_t)t * xsum_stride, xsum_stride, n,        \
                                 y + t * ldy, ldy, kind);                                          \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t t = 0; t < n_tok; t += Q8_TOKENS) {                                           \
            int n = n_tok - t < Q8_TOKENS ? (int)(n_tok - t) : Q8_TOKENS;                          \
            const uint8_t *q = qx + (size_t)t * qx_stride;                                         \
            const int16_t *xs = xsum + (size_t)t * xsum_stride;                                    \
            float *yt = y + t * ldy;                                                               \
            switch (n) {                                                                           \
                CASE2(1, kind)                                                                     \
                CASE2(2, kind)                                                                     \
                CASE2(3, kind)                                                                     \
                CASE2(4, kind)                                                                     \
                CASE2(5, kind)                                                                     \
                CASE2(6, kind)                                                                     \
                CASE2(7, kind)                                                                     \
            default:                                                                               \
                gemm_group2(group, group + group_bytes, nb, q, qx_stride, xs, xsum_stride, 8, yt,  \
                            ldy, kind);                                                            \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_GEMM_32_X2(gemm_q8_0_r8x2, 0)
DEFINE_GEMM_32_X2(gemm_q4_0_r8x2, 1)
DEFINE_GEMM_32_X2(gemm_q5_0_r8x2, 2)
#endif

/* ---- Q4_K ------------------------------------------------------------------------------------
 * Per 8 rows and super-block of 256 (KERN_R8_Q4K_BYTES): the 8 rows' d, then dmin (fp16), the
 * 6-bit scales [sub-block][row] and mins [sub-block][row] as bytes, then for each pair of
 * sub-blocks (2c, 2c + 1) and group h of 4 elements, 32 bytes: row r's 4 quants of sub-block 2c
 * in the low nibbles, of sub-block 2c + 1 in the high nibbles. Quants are 0..15, unsigned as
 * vpdpbusd wants them. Per row: d·dx·Σ_j sc_j·S_j − dmin·dx·Σ_j mn_j·X_j (S_j: Σ q·x of
 * sub-block j, X_j: Σ x, from the Q8_K bsums) — integer up to the two float multiply-adds. */
/* ---- Q5_K: Q4_K's layout, then (KERN_R8_Q5K_BYTES − KERN_R8_Q4K_BYTES = 256 bytes) for each
 * group h of 4 elements 32 bytes: row r's qh[4h .. 4h + 3] (bit 2c: the fifth bit of that element
 * of sub-block 2c, bit 2c + 1: of sub-block 2c + 1). The kernel is Q4_K's with quants 0..31. */
static inline __attribute__((always_inline)) void
gemm_q45k_group(const uint8_t *group, int64_t nsb, const uint8_t *qx, size_t qx_stride, const int n,
                float *y, int64_t ldy, const bool five)
{
    const size_t blk_bytes = five ? KERN_R8_Q5K_BYTES : KERN_R8_Q4K_BYTES;
    const block_q8_k *x[Q4K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc[Q4K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = group + (size_t)b * blk_bytes;
        prefetch_ahead(blk + 2 * blk_bytes, blk_bytes);
        const __m256 d = scales8(blk), dmin = scales8(blk + 16);
        const uint8_t *sc = blk + 32, *mn = blk + 96, *q = blk + 160, *qh = blk + KERN_R8_Q4K_BYTES;
        __m256i tot[Q4K_TOKENS], mins[Q4K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = mins[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 4; c++) {
            __m256i s[Q4K_TOKENS][4];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
#pragma GCC unroll 8
                for (int a = 0; a < 4; a++) s[k][a] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m256i v =
                    _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * (8 * c + h)));
                __m256i lo = _mm256_and_si256(v, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                if (five) {
                    const __m256i one = _mm256_set1_epi8(1);
                    __m256i hb = _mm256_loadu_si256((const __m256i *)(const void *)(qh + 32 * h));
                    __m256i b0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), one);
                    __m256i b1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), one);
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
                }
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xl, xh;
                    __builtin_memcpy(&xl, x[k][b].qs + 64 * c + 4 * h, 4);
                    __builtin_memcpy(&xh, x[k][b].qs + 64 * c + 32 + 4 * h, 4);
                    s[k][h & 1] = DPBUSD(s[k][h & 1], lo, _mm256_set1_epi32(xl));
                    s[k][2 + (h & 1)] = DPBUSD(s[k][2 + (h & 1)], hi, _mm256_set1_epi32(xh));
                }
            }
            __m256i sc_lo =
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 16 * c)));
            __m256i sc_hi = _mm256_cvtepu8_epi32(
                _mm_loadl_epi64((const __m128i *)(const void *)(sc + 16 * c + 8)));
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                __m256i slo = _mm256_add_epi32(s[k][0], s[k][1]);
                __m256i shi = _mm256_add_epi32(s[k][2], s[k][3]);
                tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(slo, sc_lo));
                tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(shi, sc_hi));
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m256i m =
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(mn + 8 * j)));
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t xs = x[k][b].bsums[2 * j] + x[k][b].bsums[2 * j + 1];
                mins[k] = _mm256_add_epi32(mins[k], _mm256_mullo_epi32(m, _mm256_set1_epi32(xs)));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m256 dx = _mm256_set1_ps(x[k][b].d);
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(tot[k]), acc[k]);
            acc[k] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(mins[k]), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

static inline __attribute__((always_inline)) void gemm_q4k_group(const uint8_t *group, int64_t nsb,
                                                                 const uint8_t *qx,
                                                                 size_t qx_stride, const int n,
                                                                 float *y, int64_t ldy)
{
    gemm_q45k_group(group, nsb, qx, qx_stride, n, y, ldy, false);
}
static inline __attribute__((always_inline)) void gemm_q5k_group(const uint8_t *group, int64_t nsb,
                                                                 const uint8_t *qx,
                                                                 size_t qx_stride, const int n,
                                                                 float *y, int64_t ldy)
{
    gemm_q45k_group(group, nsb, qx, qx_stride, n, y, ldy, true);
}

/* ---- Q6_K ------------------------------------------------------------------------------------
 * Per 8 rows and super-block of 256 (KERN_R8_Q6K_BYTES): the 8 rows' d (fp16), the scales
 * [sub-block of 16][row] (int8), then the 6-bit codes u = q + 32 split in two: for each pair of
 * 32-element chunks (2p, 2p + 1) and group h of 4 elements, 32 bytes of low 4 bits (row r's 4
 * codes of chunk 2p in the low nibbles, of chunk 2p + 1 in the high ones), then for each quad of
 * chunks (4q .. 4q + 3) and group h, 32 bytes of high 2 bits (chunk 4q + j in bits 2j, 2j + 1).
 * Per row: d·dx·(Σ_s sc_s·S_s − 32·Σ_s sc_s·X_s), S_s = Σ u·x and X_s = Σ x over sub-block s. */
static inline __attribute__((always_inline)) void gemm_q6k_group(const uint8_t *group, int64_t nsb,
                                                                 const uint8_t *qx,
                                                                 size_t qx_stride, const int n,
                                                                 float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m256 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = group + (size_t)b * KERN_R8_Q6K_BYTES;
        prefetch_ahead(blk + 2 * KERN_R8_Q6K_BYTES, KERN_R8_Q6K_BYTES);
        const __m256 d = scales8(blk);
        const int8_t *sc = (const int8_t *)(blk + 16);
        const uint8_t *lo = blk + 144, *hi = blk + 144 + 1024;
        __m256i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m256i s[Q6K_TOKENS][4]; /* sub-blocks 4p .. 4p + 3 */
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) s[k][a] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m256i v =
                    _mm256_loadu_si256((const __m256i *)(const void *)(lo + 32 * (8 * p + h)));
                __m256i hb = _mm256_loadu_si256(
                    (const __m256i *)(const void *)(hi + 32 * (8 * (p / 2) + h)));
                hb = _mm256_srli_epi16(hb, 4 * (p % 2));
                __m256i u0 = _mm256_or_si256(_mm256_and_si256(v, m4),
                                             _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
                __m256i u1 = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t x0, x1;
                    __builtin_memcpy(&x0, x[k][b].qs + 64 * p + 4 * h, 4);
                    __builtin_memcpy(&x1, x[k][b].qs + 64 * p + 32 + 4 * h, 4);
                    /* chunk 2p: sub-blocks 4p (h < 4), 4p + 1; chunk 2p + 1: 4p + 2, 4p + 3 */
                    s[k][h / 4] = DPBUSD(s[k][h / 4], u0, _mm256_set1_epi32(x0));
                    s[k][2 + h / 4] = DPBUSD(s[k][2 + h / 4], u1, _mm256_set1_epi32(x1));
                }
            }
#pragma GCC unroll 4
            for (int a = 0; a < 4; a++) {
                __m256i scv = _mm256_cvtepi8_epi32(
                    _mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * (4 * p + a))));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(s[k][a], scv));
            }
        }
        /* − 32 · Σ_s sc_s · X_s */
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m256i scv =
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * j)));
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                tot[k] = _mm256_sub_epi32(
                    tot[k], _mm256_mullo_epi32(scv, _mm256_set1_epi32(32 * x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[k][b].d)),
                                     _mm256_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

/* ---- Q3_K ------------------------------------------------------------------------------------
 * Per 8 rows and super-block of 256 (KERN_R8_Q3K_BYTES): the 8 rows' d (fp16), the scales
 * [sub-block of 16][row] (int8, sc − 32), then the 3-bit codes u = q + 4 split in two: for each
 * quad of 32-element chunks (4q .. 4q + 3) and group h of 4 elements, 32 bytes of low 2 bits
 * (row r's 4 codes of chunk 4q + j in bits 2j, 2j + 1), then for each group h 32 bytes of the
 * third bits (chunk c in bit c). Per row: d·dx·(Σ_s sc_s·S_s − 4·Σ_s sc_s·X_s), S_s = Σ u·x and
 * X_s = Σ x over sub-block s — Q6_K's form with offset 4. */
static inline __attribute__((always_inline)) void gemm_q3k_group(const uint8_t *group, int64_t nsb,
                                                                 const uint8_t *qx,
                                                                 size_t qx_stride, const int n,
                                                                 float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = group + (size_t)b * KERN_R8_Q3K_BYTES;
        prefetch_ahead(blk + 2 * KERN_R8_Q3K_BYTES, KERN_R8_Q3K_BYTES);
        const __m256 d = scales8(blk);
        const int8_t *sc = (const int8_t *)(blk + 16);
        const uint8_t *lo = blk + 144, *hi = blk + 144 + 512;
        __m256i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m256i s[Q6K_TOKENS][2]; /* sub-blocks 2c, 2c + 1 */
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m256i v = _mm256_loadu_si256(
                    (const __m256i *)(const void *)(lo + 32 * (8 * (c / 4) + h)));
                __m256i hb = _mm256_loadu_si256((const __m256i *)(const void *)(hi + 32 * h));
                __m256i u = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(v, 2 * (c % 4)), m2),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, c), one), 2));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xv;
                    __builtin_memcpy(&xv, x[k][b].qs + 32 * c + 4 * h, 4);
                    s[k][h / 4] = DPBUSD(s[k][h / 4], u, _mm256_set1_epi32(xv));
                }
            }
#pragma GCC unroll 2
            for (int a = 0; a < 2; a++) {
                __m256i scv = _mm256_cvtepi8_epi32(
                    _mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * (2 * c + a))));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(s[k][a], scv));
            }
        }
        /* − 4 · Σ_s sc_s · X_s */
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m256i scv =
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * j)));
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                tot[k] = _mm256_sub_epi32(
                    tot[k], _mm256_mullo_epi32(scv, _mm256_set1_epi32(4 * x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[k][b].d)),
                                     _mm256_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

/* ---- Q2_K ------------------------------------------------------------------------------------
 * Per 8 rows and super-block of 256 (KERN_R8_Q2K_BYTES, the file's size): the 8 rows' d, then dmin
 * (fp16), the file's scale bytes [sub-block of 16][row] (scale in the low nibble, min in the high
 * one), then the 2-bit codes: for each
 * quad of chunks (4q .. 4q + 3) and group h of 4 elements, 32 bytes (row r's 4 codes of chunk
 * 4q + j in bits 2j, 2j + 1). Codes are 0..3, unsigned as vpdpbusd wants them. Per row:
 * d·dx·Σ_s sc_s·S_s − dmin·dx·Σ_s mn_s·X_s, as Q4_K with sub-blocks of 16. */
static inline __attribute__((always_inline)) void gemm_q2k_group(const uint8_t *group, int64_t nsb,
                                                                 const uint8_t *qx,
                                                                 size_t qx_stride, const int n,
                                                                 float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m256i m2 = _mm256_set1_epi8(3);
    __m256 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = group + (size_t)b * KERN_R8_Q2K_BYTES;
        prefetch_ahead(blk + 2 * KERN_R8_Q2K_BYTES, KERN_R8_Q2K_BYTES);
        const __m256 d = scales8(blk), dmin = scales8(blk + 16);
        const uint8_t *sc = blk + 32, *q = blk + 160;
        const __m256i m4 = _mm256_set1_epi32(15);
        __m256i tot[Q6K_TOKENS], mins[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = mins[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m256i s[Q6K_TOKENS][2]; /* sub-blocks 2c, 2c + 1 */
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m256i v =
                    _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * (8 * (c / 4) + h)));
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(v, 2 * (c % 4)), m2);
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xv;
                    __builtin_memcpy(&xv, x[k][b].qs + 32 * c + 4 * h, 4);
                    s[k][h / 4] = DPBUSD(s[k][h / 4], u, _mm256_set1_epi32(xv));
                }
            }
#pragma GCC unroll 2
            for (int a = 0; a < 2; a++) {
                __m256i scv =
                    _mm256_and_si256(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                         (const __m128i *)(const void *)(sc + 8 * (2 * c + a)))),
                                     m4);
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(s[k][a], scv));
            }
        }
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m256i m = _mm256_srli_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * j))),
                4);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                mins[k] = _mm256_add_epi32(
                    mins[k], _mm256_mullo_epi32(m, _mm256_set1_epi32(x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m256 dx = _mm256_set1_ps(x[k][b].d);
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(tot[k]), acc[k]);
            acc[k] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(mins[k]), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

/* ---- IQ4_XS ----------------------------------------------------------------------------------
 * Per 8 rows and super-block of 256 (KERN_R8_IQ4XS_BYTES): the 8 rows' d (fp16), the scales
 * [sub-block of 32][row] (int8, ls − 32), then for each sub-block s and group h < 4 32 bytes: row
 * r's codes of elements 4h .. 4h + 3 of s in the low nibbles, of elements 16 + 4h .. in the high
 * ones (the file's order). Codes are looked up as IQ4 values + 128. Per row:
 * d·dx·Σ_s sc_s·(S_s − 128·X_s), S_s = Σ u·x and X_s = Σ x over sub-block s. */
static inline __attribute__((always_inline)) void gemm_iq4xs_group(const uint8_t *group,
                                                                   int64_t nsb, const uint8_t *qx,
                                                                   size_t qx_stride, const int n,
                                                                   float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m256i m4 = _mm256_set1_epi8(15), tbl = iq4_table();
    __m256 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = group + (size_t)b * KERN_R8_IQ4XS_BYTES;
        prefetch_ahead(blk + 2 * KERN_R8_IQ4XS_BYTES, KERN_R8_IQ4XS_BYTES);
        const __m256 d = scales8(blk);
        const int8_t *sc = (const int8_t *)(blk + 16);
        const uint8_t *q = blk + 80;
        __m256i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int sb = 0; sb < 8; sb++) {
            __m256i s[Q6K_TOKENS][2];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int h = 0; h < 4; h++) {
                __m256i v =
                    _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * (4 * sb + h)));
                __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, m4));
                __m256i hi =
                    _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xl, xh;
                    __builtin_memcpy(&xl, x[k][b].qs + 32 * sb + 4 * h, 4);
                    __builtin_memcpy(&xh, x[k][b].qs + 32 * sb + 16 + 4 * h, 4);
                    s[k][0] = DPBUSD(s[k][0], lo, _mm256_set1_epi32(xl));
                    s[k][1] = DPBUSD(s[k][1], hi, _mm256_set1_epi32(xh));
                }
            }
            __m256i scv =
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * sb)));
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t xs = x[k][b].bsums[2 * sb] + x[k][b].bsums[2 * sb + 1];
                __m256i t = _mm256_sub_epi32(_mm256_add_epi32(s[k][0], s[k][1]),
                                             _mm256_set1_epi32(128 * xs));
                tot[k] = _mm256_add_epi32(tot[k], _mm256_mullo_epi32(t, scv));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[k][b].d)),
                                     _mm256_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm256_storeu_ps(y + (size_t)k * ldy, acc[k]);
}

/* The K-quant kernels' entry points: chunks of up to NT tokens, each chunk size a constant n so
 * the group function's loops unroll. */
#if Q4K_TOKENS > 2 || Q6K_TOKENS > 2
#define K_CHUNK_3_4(group_fn)                                                                      \
    else if (n == 3) group_fn(group, nsb, q, qx_stride, 3, y + t * ldy, ldy);                      \
    else if (n == 4) group_fn(group, nsb, q, qx_stride, 4, y + t * ldy, ldy);
#else
#define K_CHUNK_3_4(group_fn)
#endif
#define DEFINE_K_GEMM(name, group_fn, NT)                                                          \
    static void name(const uint8_t *group, int64_t n_cols, const uint8_t *qx, size_t qx_stride,    \
                     const int16_t *xsum, size_t xsum_stride, int64_t n_tok, float *y,             \
                     int64_t ldy)                                                                  \
    {                                                                                              \
        (void)xsum;                                                                                \
        (void)xsum_stride;                                                                         \
        int64_t nsb = n_cols / 256;                                                                \
        for (int64_t t = 0; t < n_tok; t += NT) {                                                  \
            int n = n_tok - t < NT ? (int)(n_tok - t) : NT;                                        \
            const uint8_t *q = qx + (size_t)t * qx_stride;                                         \
            if (n == 1) group_fn(group, nsb, q, qx_stride, 1, y + t * ldy, ldy);                   \
            K_CHUNK_3_4(group_fn)                                                                  \
            else group_fn(group, nsb, q, qx_stride, 2, y + t * ldy, ldy);                          \
        }                                                                                          \
    }
DEFINE_K_GEMM(gemm_q4_k_r8, gemm_q4k_group, Q4K_TOKENS)
DEFINE_K_GEMM(gemm_q5_k_r8, gemm_q5k_group, Q4K_TOKENS)
DEFINE_K_GEMM(gemm_q6_k_r8, gemm_q6k_group, Q6K_TOKENS)
DEFINE_K_GEMM(gemm_q3_k_r8, gemm_q3k_group, Q6K_TOKENS)
DEFINE_K_GEMM(gemm_q2_k_r8, gemm_q2k_group, Q6K_TOKENS)
DEFINE_K_GEMM(gemm_iq4_xs_r8, gemm_iq4xs_group, Q6K_TOKENS)

#if defined(R1_VNNI_EVEX) && defined(__AVX512BW__)
/* 16 rows of two adjacent groups, as gemm_q4k_group does 8: the same integer sums and float
 * operations per (row, token). */
static inline __attribute__((always_inline)) __m512i cat256(const uint8_t *a, const uint8_t *b)
{
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)a)),
        _mm256_loadu_si256((const __m256i *)(const void *)b), 1);
}
static inline __attribute__((always_inline)) __m512 scales16(const uint8_t *a, const uint8_t *b)
{
    return _mm512_cvtph_ps(
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                _mm_loadu_si128((const __m128i *)b), 1));
}
/* 8 bytes of each group, zero-extended to 16 int32 */
static inline __attribute__((always_inline)) __m512i bytes16(const uint8_t *a, const uint8_t *b)
{
    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)a),
                                   _mm_loadl_epi64((const __m128i *)(const void *)b));
    return _mm512_cvtepu8_epi32(v);
}

/* Q5_K: OR the fifth bits of sub-blocks 2c (into lo) and 2c + 1 (into hi), group h, both groups
 * of 8 rows (layout above gemm_q45k_group) */
static inline __attribute__((always_inline)) void
fifth_bits512(const uint8_t *ba, const uint8_t *bq, int c, int h, __m512i *lo, __m512i *hi)
{
    const __m512i one = _mm512_set1_epi8(1);
    __m512i hb = cat256(ba + KERN_R8_Q4K_BYTES + 32 * h, bq + KERN_R8_Q4K_BYTES + 32 * h);
    __m512i b0 = _mm512_and_si512(_mm512_srli_epi16(hb, 2 * c), one);
    __m512i b1 = _mm512_and_si512(_mm512_srli_epi16(hb, 2 * c + 1), one);
    *lo = _mm512_or_si512(*lo, _mm512_slli_epi16(b0, 4));
    *hi = _mm512_or_si512(*hi, _mm512_slli_epi16(b1, 4));
}

static inline __attribute__((always_inline)) void
gemm_q45k_group2(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                 size_t qx_stride, const int n, float *y, int64_t ldy, const bool five)
{
    const size_t blk_bytes = five ? KERN_R8_Q5K_BYTES : KERN_R8_Q4K_BYTES;
    const block_q8_k *x[Q4K_X2_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[Q4K_X2_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * blk_bytes, *bq = gb + (size_t)b * blk_bytes;
        prefetch_ahead(ba + 2 * blk_bytes, blk_bytes);
        prefetch_ahead(bq + 2 * blk_bytes, blk_bytes);
        const __m512 d = scales16(ba, bq), dmin = scales16(ba + 16, bq + 16);
        /* per token: the pair of sub-blocks' sums (s), the scaled total; the mins come after
         * the quants, when those registers are free */
        __m512i tot[Q4K_X2_TOKENS], mins[Q4K_X2_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = mins[k] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m512i s[Q4K_X2_TOKENS][2];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m512i v = cat256(ba + 160 + 32 * (8 * c + h), bq + 160 + 32 * (8 * c + h));
                __m512i lo = _mm512_and_si512(v, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if (five) fifth_bits512(ba, bq, c, h, &lo, &hi);
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xl, xh;
                    __builtin_memcpy(&xl, x[k][b].qs + 64 * c + 4 * h, 4);
                    __builtin_memcpy(&xh, x[k][b].qs + 64 * c + 32 + 4 * h, 4);
                    s[k][0] = _mm512_dpbusd_epi32(s[k][0], lo, _mm512_set1_epi32(xl));
                    s[k][1] = _mm512_dpbusd_epi32(s[k][1], hi, _mm512_set1_epi32(xh));
                }
            }
            __m512i sc_lo = bytes16(ba + 32 + 16 * c, bq + 32 + 16 * c);
            __m512i sc_hi = bytes16(ba + 32 + 16 * c + 8, bq + 32 + 16 * c + 8);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k][0], sc_lo));
                tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k][1], sc_hi));
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i m = bytes16(ba + 96 + 8 * j, bq + 96 + 8 * j);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t xs = x[k][b].bsums[2 * j] + x[k][b].bsums[2 * j + 1];
                mins[k] = _mm512_add_epi32(mins[k], _mm512_mullo_epi32(m, _mm512_set1_epi32(xs)));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m512 dx = _mm512_set1_ps(x[k][b].d);
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(tot[k]), acc[k]);
            acc[k] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(mins[k]), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) {
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

/* 8 signed bytes of each group, sign-extended to 16 int32 */
static inline __attribute__((always_inline)) __m512i sbytes16(const uint8_t *a, const uint8_t *b)
{
    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)a),
                                   _mm_loadl_epi64((const __m128i *)(const void *)b));
    return _mm512_cvtepi8_epi32(v);
}

/* 16 rows of two adjacent groups, as gemm_q6k_group does 8. */
static inline __attribute__((always_inline)) void
gemm_q6k_group2(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                size_t qx_stride, const int n, float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    __m512 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * KERN_R8_Q6K_BYTES,
                      *bq = gb + (size_t)b * KERN_R8_Q6K_BYTES;
        prefetch_ahead(ba + 2 * KERN_R8_Q6K_BYTES, KERN_R8_Q6K_BYTES);
        prefetch_ahead(bq + 2 * KERN_R8_Q6K_BYTES, KERN_R8_Q6K_BYTES);
        const __m512 d = scales16(ba, bq);
        __m512i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m512i s[Q6K_TOKENS][4];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) s[k][a] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m512i v = cat256(ba + 144 + 32 * (8 * p + h), bq + 144 + 32 * (8 * p + h));
                __m512i hb =
                    cat256(ba + 1168 + 32 * (8 * (p / 2) + h), bq + 1168 + 32 * (8 * (p / 2) + h));
                hb = _mm512_srli_epi16(hb, 4 * (p % 2));
                __m512i u0 = _mm512_or_si512(_mm512_and_si512(v, m4),
                                             _mm512_slli_epi16(_mm512_and_si512(hb, m2), 4));
                __m512i u1 = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
                    _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2), m2), 4));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t x0, x1;
                    __builtin_memcpy(&x0, x[k][b].qs + 64 * p + 4 * h, 4);
                    __builtin_memcpy(&x1, x[k][b].qs + 64 * p + 32 + 4 * h, 4);
                    s[k][h / 4] = _mm512_dpbusd_epi32(s[k][h / 4], u0, _mm512_set1_epi32(x0));
                    s[k][2 + h / 4] =
                        _mm512_dpbusd_epi32(s[k][2 + h / 4], u1, _mm512_set1_epi32(x1));
                }
            }
#pragma GCC unroll 4
            for (int a = 0; a < 4; a++) {
                __m512i scv = sbytes16(ba + 16 + 8 * (4 * p + a), bq + 16 + 8 * (4 * p + a));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k][a], scv));
            }
        }
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m512i scv = sbytes16(ba + 16 + 8 * j, bq + 16 + 8 * j);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                tot[k] = _mm512_sub_epi32(
                    tot[k], _mm512_mullo_epi32(scv, _mm512_set1_epi32(32 * x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(x[k][b].d)),
                                     _mm512_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) {
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

/* Q6_K for 16+ tokens, like gemm_q4k_group2_many: per 64 columns (chunk pair p) the 16 rows'
 * codes of the four sub-blocks stay in registers while every token passes; the same integer
 * sums and float steps as gemm_q6k_group2. */
#define Q6K_MANY_MAX 64
static void gemm_q6k_group2_many(const uint8_t *ga, const uint8_t *gb, int64_t nsb,
                                 const uint8_t *qx, size_t qx_stride, int n, float *y, int64_t ldy)
{
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    __m512 acc[Q6K_MANY_MAX];
    __m512i tot[Q6K_MANY_MAX];
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * KERN_R8_Q6K_BYTES,
                      *bq = gb + (size_t)b * KERN_R8_Q6K_BYTES;
        prefetch_ahead(ba + 2 * KERN_R8_Q6K_BYTES, KERN_R8_Q6K_BYTES);
        prefetch_ahead(bq + 2 * KERN_R8_Q6K_BYTES, KERN_R8_Q6K_BYTES);
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 1
        for (int p = 0; p < 4; p++) {
            __m512i u0[8], u1[8];
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m512i v = cat256(ba + 144 + 32 * (8 * p + h), bq + 144 + 32 * (8 * p + h));
                __m512i hb =
                    cat256(ba + 1168 + 32 * (8 * (p / 2) + h), bq + 1168 + 32 * (8 * (p / 2) + h));
                hb = _mm512_srl_epi16(hb, _mm_cvtsi32_si128(4 * (p % 2)));
                u0[h] = _mm512_or_si512(_mm512_and_si512(v, m4),
                                        _mm512_slli_epi16(_mm512_and_si512(hb, m2), 4));
                u1[h] = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
                    _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2), m2), 4));
            }
            __m512i scv[4];
#pragma GCC unroll 4
            for (int a = 0; a < 4; a++)
                scv[a] = sbytes16(ba + 16 + 8 * (4 * p + a), bq + 16 + 8 * (4 * p + a));
            const uint8_t *xq =
                qx + (size_t)b * sizeof(block_q8_k) + offsetof(block_q8_k, qs) + 64 * (size_t)p;
            for (int k = 0; k < n; k++, xq += qx_stride) {
                __m512i sa[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(),
                                 _mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 8
                for (int h = 0; h < 8; h++) {
                    int32_t x0, x1;
                    __builtin_memcpy(&x0, xq + 4 * h, 4);
                    __builtin_memcpy(&x1, xq + 32 + 4 * h, 4);
                    sa[h / 4] = _mm512_dpbusd_epi32(sa[h / 4], u0[h], _mm512_set1_epi32(x0));
                    sa[2 + h / 4] =
                        _mm512_dpbusd_epi32(sa[2 + h / 4], u1[h], _mm512_set1_epi32(x1));
                }
                __m512i t = tot[k];
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++)
                    t = _mm512_add_epi32(t, _mm512_mullo_epi32(sa[a], scv[a]));
                tot[k] = t;
            }
        }
        const __m512 d = scales16(ba, bq);
        for (int k = 0; k < n; k++) {
            const block_q8_k *xk =
                (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride) + b;
            __m512i t = tot[k];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) {
                __m512i scj = sbytes16(ba + 16 + 8 * j, bq + 16 + 8 * j);
                t = _mm512_sub_epi32(t,
                                     _mm512_mullo_epi32(scj, _mm512_set1_epi32(32 * xk->bsums[j])));
            }
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(xk->d)), _mm512_cvtepi32_ps(t),
                                     acc[k]);
        }
    }
    for (int k = 0; k < n; k++) {
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

#define DEFINE_K_GEMM_X2(name, group_fn, NT)                                                       \
    static void name(const uint8_t *group, size_t group_bytes, int64_t n_cols, const uint8_t *qx,  \
                     size_t qx_stride, const int16_t *xsum, size_t xsum_stride, int64_t n_tok,     \
                     float *y, int64_t ldy)                                                        \
    {                                                                                              \
        (void)xsum;                                                                                \
        (void)xsum_stride;                                                                         \
        int64_t nsb = n_cols / 256;                                                                \
        const uint8_t *gb = group + group_bytes;                                                   \
        if (n_tok >= 16) {                                                                         \
            for (int64_t t = 0; t < n_tok; t += Q6K_MANY_MAX) {                                    \
                int n = n_tok - t < Q6K_MANY_MAX ? (int)(n_tok - t) : Q6K_MANY_MAX;                \
                gemm_q6k_group2_many(group, gb, nsb, qx + (size_t)t * qx_stride, qx_stride, n,     \
                                     y + t * ldy, ldy);                                            \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t t = 0; t < n_tok; t += NT) {                                                  \
            int n = n_tok - t < NT ? (int)(n_tok - t) : NT;                                        \
            const uint8_t *q = qx + (size_t)t * qx_stride;                                         \
            float *yt = y + t * ldy;                                                               \
            if (n == 1)                                                                            \
                group_fn(group, gb, nsb, q, qx_stride, 1, yt, ldy);                                \
            else if (n == 2)                                                                       \
                group_fn(group, gb, nsb, q, qx_stride, 2, yt, ldy);                                \
            else if (n == 3)                                                                       \
                group_fn(group, gb, nsb, q, qx_stride, 3, yt, ldy);                                \
            else                                                                                   \
                group_fn(group, gb, nsb, q, qx_stride, 4, yt, ldy);                                \
        }                                                                                          \
    }
/* The same sums for many tokens with the loops the other way round: per 64 columns the 16 rows'
 * unpacked quants (16 registers) stay in registers while every token of the call passes over
 * them, and each token's integer total and float result live in memory between column chunks.
 * Nothing is spilled inside the multiply-adds, and the weights are unpacked once per call (up to
 * 64 tokens) instead of once per 8. The integer sums are exact and the float steps are those of
 * gemm_q4k_group2, so the results are the same bits. */
#define Q4K_MANY_MAX 64
static inline __attribute__((always_inline)) void
gemm_q45k_group2_many(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                      size_t qx_stride, int n, float *y, int64_t ldy, const bool five)
{
    const size_t blk_bytes = five ? KERN_R8_Q5K_BYTES : KERN_R8_Q4K_BYTES;
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[Q4K_MANY_MAX];
    __m512i tot[Q4K_MANY_MAX];
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * blk_bytes, *bq = gb + (size_t)b * blk_bytes;
        prefetch_ahead(ba + 2 * blk_bytes, blk_bytes);
        prefetch_ahead(bq + 2 * blk_bytes, blk_bytes);
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 1
        for (int c = 0; c < 4; c++) {
            __m512i lo[8], hi[8];
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                __m512i v = cat256(ba + 160 + 32 * (8 * c + h), bq + 160 + 32 * (8 * c + h));
                lo[h] = _mm512_and_si512(v, m4);
                hi[h] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if (five) fifth_bits512(ba, bq, c, h, &lo[h], &hi[h]);
            }
            __m512i sc_lo = bytes16(ba + 32 + 16 * c, bq + 32 + 16 * c);
            __m512i sc_hi = bytes16(ba + 32 + 16 * c + 8, bq + 32 + 16 * c + 8);
            const uint8_t *xq =
                qx + (size_t)b * sizeof(block_q8_k) + offsetof(block_q8_k, qs) + 64 * (size_t)c;
            for (int k = 0; k < n; k++, xq += qx_stride) {
                /* four short chains of 4 (not two of 8): the multiply-adds' latency hides */
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
                __m512i s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int h = 0; h < 8; h += 2) {
                    int32_t xl0, xh0, xl1, xh1;
                    __builtin_memcpy(&xl0, xq + 4 * h, 4);
                    __builtin_memcpy(&xh0, xq + 32 + 4 * h, 4);
                    __builtin_memcpy(&xl1, xq + 4 * h + 4, 4);
                    __builtin_memcpy(&xh1, xq + 32 + 4 * h + 4, 4);
                    s0 = _mm512_dpbusd_epi32(s0, lo[h], _mm512_set1_epi32(xl0));
                    s1 = _mm512_dpbusd_epi32(s1, hi[h], _mm512_set1_epi32(xh0));
                    s2 = _mm512_dpbusd_epi32(s2, lo[h + 1], _mm512_set1_epi32(xl1));
                    s3 = _mm512_dpbusd_epi32(s3, hi[h + 1], _mm512_set1_epi32(xh1));
                }
                s0 = _mm512_add_epi32(s0, s2);
                s1 = _mm512_add_epi32(s1, s3);
                __m512i t = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s0, sc_lo));
                tot[k] = _mm512_add_epi32(t, _mm512_mullo_epi32(s1, sc_hi));
            }
        }
        const __m512 d = scales16(ba, bq), dmin = scales16(ba + 16, bq + 16);
        __m512i m[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) m[j] = bytes16(ba + 96 + 8 * j, bq + 96 + 8 * j);
        for (int k = 0; k < n; k++) {
            const block_q8_k *xk =
                (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride) + b;
            __m512i mins = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                int32_t xs = xk->bsums[2 * j] + xk->bsums[2 * j + 1];
                mins = _mm512_add_epi32(mins, _mm512_mullo_epi32(m[j], _mm512_set1_epi32(xs)));
            }
            __m512 dx = _mm512_set1_ps(xk->d);
            __m512 a = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(tot[k]), acc[k]);
            acc[k] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(mins), a);
        }
    }
    for (int k = 0; k < n; k++) {
        store16(y + (size_t)k * ldy, acc[k]);
    }
}

static inline __attribute__((always_inline)) void
gemm_q45k_r8x2(const uint8_t *group, size_t group_bytes, int64_t n_cols, const uint8_t *qx,
               size_t qx_stride, const int16_t *xsum, size_t xsum_stride, int64_t n_tok, float *y,
               int64_t ldy, const bool five)
{
    (void)xsum;
    (void)xsum_stride;
    int64_t nsb = n_cols / 256;
    const uint8_t *gb = group + group_bytes;
    if (n_tok >= 16) { /* measured: the 8-token tiles win below 16 tokens, this above */
        for (int64_t t = 0; t < n_tok; t += Q4K_MANY_MAX) {
            int n = n_tok - t < Q4K_MANY_MAX ? (int)(n_tok - t) : Q4K_MANY_MAX;
            gemm_q45k_group2_many(group, gb, nsb, qx + (size_t)t * qx_stride, qx_stride, n,
                                  y + t * ldy, ldy, five);
        }
        return;
    }
    for (int64_t t = 0; t < n_tok; t += Q4K_X2_TOKENS) {
        int n = n_tok - t < Q4K_X2_TOKENS ? (int)(n_tok - t) : Q4K_X2_TOKENS;
        const uint8_t *q = qx + (size_t)t * qx_stride;
        float *yt = y + t * ldy;
        switch (n) { /* a constant n unrolls the loops */
#define CASE_Q4K(k)                                                                                \
    case k:                                                                                        \
        gemm_q45k_group2(group, gb, nsb, q, qx_stride, k, yt, ldy, five);                          \
        break;
            CASE_Q4K(1)
            CASE_Q4K(2)
            CASE_Q4K(3)
            CASE_Q4K(4)
            CASE_Q4K(5)
            CASE_Q4K(6)
            CASE_Q4K(7)
#undef CASE_Q4K
        default:
            gemm_q45k_group2(group, gb, nsb, q, qx_stride, 8, yt, ldy, five);
        }
    }
}
static void gemm_q4_k_r8x2(const uint8_t *group, size_t group_bytes, int64_t n_cols,
                           const uint8_t *qx, size_t qx_stride, const int16_t *xsum,
                           size_t xsum_stride, int64_t n_tok, float *y, int64_t ldy)
{
    gemm_q45k_r8x2(group, group_bytes, n_cols, qx, qx_stride, xsum, xsum_stride, n_tok, y, ldy,
                   false);
}
static void gemm_q5_k_r8x2(const uint8_t *group, size_t group_bytes, int64_t n_cols,
                           const uint8_t *qx, size_t qx_stride, const int16_t *xsum,
                           size_t xsum_stride, int64_t n_tok, float *y, int64_t ldy)
{
    gemm_q45k_r8x2(group, group_bytes, n_cols, qx, qx_stride, xsum, xsum_stride, n_tok, y, ldy,
                   true);
}
DEFINE_K_GEMM_X2(gemm_q6_k_r8x2, gemm_q6k_group2, Q6K_TOKENS)

/* Q3_K, Q2_K and IQ4_XS on 16 rows (two groups): gemm_q3k_group, gemm_q2k_group and
 * gemm_iq4xs_group with 512-bit registers, the same integer sums and float steps per (row, token).
 */
static inline __attribute__((always_inline)) void
gemm_q3k_group2(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                size_t qx_stride, const int n, float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i m2 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    __m512 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * KERN_R8_Q3K_BYTES,
                      *bq = gb + (size_t)b * KERN_R8_Q3K_BYTES;
        prefetch_ahead(ba + 2 * KERN_R8_Q3K_BYTES, KERN_R8_Q3K_BYTES);
        prefetch_ahead(bq + 2 * KERN_R8_Q3K_BYTES, KERN_R8_Q3K_BYTES);
        const __m512 d = scales16(ba, bq);
        __m512i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m512i s[Q6K_TOKENS][2];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                const size_t lo = 144 + 32 * (8 * (c / 4) + h), hi = 144 + 512 + 32 * h;
                __m512i v = cat256(ba + lo, bq + lo), hb = cat256(ba + hi, bq + hi);
                __m512i u = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi16(v, 2 * (c % 4)), m2),
                    _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, c), one), 2));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xv;
                    __builtin_memcpy(&xv, x[k][b].qs + 32 * c + 4 * h, 4);
                    s[k][h / 4] = _mm512_dpbusd_epi32(s[k][h / 4], u, _mm512_set1_epi32(xv));
                }
            }
#pragma GCC unroll 2
            for (int a = 0; a < 2; a++) {
                __m512i scv = sbytes16(ba + 16 + 8 * (2 * c + a), bq + 16 + 8 * (2 * c + a));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k][a], scv));
            }
        }
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m512i scv = sbytes16(ba + 16 + 8 * j, bq + 16 + 8 * j);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                tot[k] = _mm512_sub_epi32(
                    tot[k], _mm512_mullo_epi32(scv, _mm512_set1_epi32(4 * x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(x[k][b].d)),
                                     _mm512_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) store16(y + (size_t)k * ldy, acc[k]);
}

static inline __attribute__((always_inline)) void
gemm_q2k_group2(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                size_t qx_stride, const int n, float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i m2 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi32(15);
    __m512 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * KERN_R8_Q2K_BYTES,
                      *bq = gb + (size_t)b * KERN_R8_Q2K_BYTES;
        prefetch_ahead(ba + 2 * KERN_R8_Q2K_BYTES, KERN_R8_Q2K_BYTES);
        prefetch_ahead(bq + 2 * KERN_R8_Q2K_BYTES, KERN_R8_Q2K_BYTES);
        const __m512 d = scales16(ba, bq), dmin = scales16(ba + 16, bq + 16);
        __m512i tot[Q6K_TOKENS], mins[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = mins[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m512i s[Q6K_TOKENS][2];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int h = 0; h < 8; h++) {
                const size_t o = 160 + 32 * (8 * (c / 4) + h);
                __m512i u =
                    _mm512_and_si512(_mm512_srli_epi16(cat256(ba + o, bq + o), 2 * (c % 4)), m2);
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xv;
                    __builtin_memcpy(&xv, x[k][b].qs + 32 * c + 4 * h, 4);
                    s[k][h / 4] = _mm512_dpbusd_epi32(s[k][h / 4], u, _mm512_set1_epi32(xv));
                }
            }
#pragma GCC unroll 2
            for (int a = 0; a < 2; a++) {
                __m512i scv = _mm512_and_si512(
                    bytes16(ba + 32 + 8 * (2 * c + a), bq + 32 + 8 * (2 * c + a)), m4);
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k][a], scv));
            }
        }
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m512i m = _mm512_srli_epi32(bytes16(ba + 32 + 8 * j, bq + 32 + 8 * j), 4);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                mins[k] = _mm512_add_epi32(
                    mins[k], _mm512_mullo_epi32(m, _mm512_set1_epi32(x[k][b].bsums[j])));
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            __m512 dx = _mm512_set1_ps(x[k][b].d);
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(tot[k]), acc[k]);
            acc[k] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(mins[k]), acc[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) store16(y + (size_t)k * ldy, acc[k]);
}

static inline __attribute__((always_inline)) void
gemm_iq4xs_group2(const uint8_t *ga, const uint8_t *gb, int64_t nsb, const uint8_t *qx,
                  size_t qx_stride, const int n, float *y, int64_t ldy)
{
    const block_q8_k *x[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i m4 = _mm512_set1_epi8(15),
                  tbl = _mm512_broadcast_i32x4(_mm256_castsi256_si128(iq4_table()));
    __m512 acc[Q6K_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *ba = ga + (size_t)b * KERN_R8_IQ4XS_BYTES,
                      *bq = gb + (size_t)b * KERN_R8_IQ4XS_BYTES;
        prefetch_ahead(ba + 2 * KERN_R8_IQ4XS_BYTES, KERN_R8_IQ4XS_BYTES);
        prefetch_ahead(bq + 2 * KERN_R8_IQ4XS_BYTES, KERN_R8_IQ4XS_BYTES);
        const __m512 d = scales16(ba, bq);
        __m512i tot[Q6K_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int sb = 0; sb < 8; sb++) {
            __m512i s[Q6K_TOKENS][2];
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) s[k][0] = s[k][1] = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int h = 0; h < 4; h++) {
                const size_t o = 80 + 32 * (4 * sb + h);
                __m512i v = cat256(ba + o, bq + o);
                __m512i lo = _mm512_shuffle_epi8(tbl, _mm512_and_si512(v, m4));
                __m512i hi =
                    _mm512_shuffle_epi8(tbl, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) {
                    int32_t xl, xh;
                    __builtin_memcpy(&xl, x[k][b].qs + 32 * sb + 4 * h, 4);
                    __builtin_memcpy(&xh, x[k][b].qs + 32 * sb + 16 + 4 * h, 4);
                    s[k][0] = _mm512_dpbusd_epi32(s[k][0], lo, _mm512_set1_epi32(xl));
                    s[k][1] = _mm512_dpbusd_epi32(s[k][1], hi, _mm512_set1_epi32(xh));
                }
            }
            __m512i scv = sbytes16(ba + 16 + 8 * sb, bq + 16 + 8 * sb);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) {
                int32_t xs = x[k][b].bsums[2 * sb] + x[k][b].bsums[2 * sb + 1];
                __m512i t = _mm512_sub_epi32(_mm512_add_epi32(s[k][0], s[k][1]),
                                             _mm512_set1_epi32(128 * xs));
                tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(t, scv));
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < n; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(x[k][b].d)),
                                     _mm512_cvtepi32_ps(tot[k]), acc[k]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) store16(y + (size_t)k * ldy, acc[k]);
}

/* Their entry points: chunks of up to Q6K_TOKENS tokens. */
#define DEFINE_K_GEMM_X2_SIMPLE(name, group_fn)                                                    \
    static void name(const uint8_t *group, size_t group_bytes, int64_t n_cols, const uint8_t *qx,  \
                     size_t qx_stride, const int16_t *xsum, size_t xsum_stride, int64_t n_tok,     \
                     float *y, int64_t ldy)                                                        \
    {                                                                                              \
        (void)xsum;                                                                                \
        (void)xsum_stride;                                                                         \
        int64_t nsb = n_cols / 256;                                                                \
        const uint8_t *gb = group + group_bytes;                                                   \
        for (int64_t t = 0; t < n_tok; t += Q6K_TOKENS) {                                          \
            int n = n_tok - t < Q6K_TOKENS ? (int)(n_tok - t) : Q6K_TOKENS;                        \
            const uint8_t *q = qx + (size_t)t * qx_stride;                                         \
            float *yt = y + t * ldy;                                                               \
            if (n == 1)                                                                            \
                group_fn(group, gb, nsb, q, qx_stride, 1, yt, ldy);                                \
            else if (n == 2)                                                                       \
                group_fn(group, gb, nsb, q, qx_stride, 2, yt, ldy);                                \
            else if (n == 3)                                                                       \
                group_fn(group, gb, nsb, q, qx_stride, 3, yt, ldy);                                \
            else                                                                                   \
                group_fn(group, gb, nsb, q, qx_stride, 4, yt, ldy);                                \
        }                                                                                          \
    }
DEFINE_K_GEMM_X2_SIMPLE(gemm_q3_k_r8x2, gemm_q3k_group2)
DEFINE_K_GEMM_X2_SIMPLE(gemm_q2_k_r8x2, gemm_q2k_group2)
DEFINE_K_GEMM_X2_SIMPLE(gemm_iq4_xs_r8x2, gemm_iq4xs_group2)
#endif

#if defined(R1_VNNI_EVEX) && defined(__AVX512BW__)
/* ---- the lattice types, decoded (KERN_DEC layout, kernels.h) ------------------------------------
 * 16 rows in the lanes of 512-bit registers. Per super-block and token: S_g = Σ (v + 128)·q over
 * each 16 (or 32) columns (vpdpbusd), tot = Σ_g s_g·S_g (vpmulld) − 128·Σ_g s_g·bsum_g (vpdpwssd
 * of the scale pairs, times −128, with the activation's pairs of 16-column sums): the scalar
 * kernel's Σ_g s_g·Σ v·q exactly. Then its float steps: t = dx·d, X = inner·(float)tot, acc += t·X,
 * and outer·acc at the end. */
#define DEC_TOKENS 8
static inline __attribute__((always_inline)) void gemm_dec_tile(const uint8_t *dec, int64_t nsb,
                                                                const bool per32, const float inner,
                                                                const float outer,
                                                                const uint8_t *qx, size_t qx_stride,
                                                                const int n, float *y, int64_t ldy)
{
    const block_q8_k *x[DEC_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        x[k] = (const block_q8_k *)(const void *)(qx + (size_t)k * qx_stride);
    const __m512i lo16 = _mm512_set1_epi32(0xffff), m128 = _mm512_set1_epi16(-128);
    __m512 acc[DEC_TOKENS];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *blk = dec + (size_t)b * KERN_DEC_BLOCK_BYTES;
        const uint8_t *pairs = blk + 64, *vals = blk + 576;
        __m512i tot[DEC_TOKENS];
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) tot[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int m = 0; m < 8; m++) {
            const __m512i sp = _mm512_loadu_si512((const void *)(pairs + 64 * m));
            const __m512i nsp = _mm512_mullo_epi16(sp, m128);
#pragma GCC unroll 8
            for (int k = 0; k < n; k++) { /* − 128 · (s_2m·bsum_2m + s_2m+1·bsum_2m+1) */
                int32_t bs;
                __builtin_memcpy(&bs, x[k][b].bsums + 2 * m, 4);
                tot[k] = _mm512_dpwssd_epi32(tot[k], nsp, _mm512_set1_epi32(bs));
            }
            for (int half = 0; half < (per32 ? 1 : 2); half++) {
                const __m512i sc = half ? _mm512_srli_epi32(sp, 16) : _mm512_and_si512(sp, lo16);
                __m512i s[DEC_TOKENS];
#pragma GCC unroll 8
                for (int k = 0; k < n; k++) s[k] = _mm512_setzero_si512();
                const int h0 = 8 * m + 4 * half, nh = per32 ? 8 : 4;
#pragma GCC unroll 8
                for (int h = h0; h < h0 + nh; h++) {
                    const __m512i wv = _mm512_loadu_si512((const void *)(vals + 64 * h));
#pragma GCC unroll 8
                    for (int k = 0; k < n; k++) {
                        int32_t xv;
                        __builtin_memcpy(&xv, x[k][b].qs + 4 * h, 4);
                        s[k] = _mm512_dpbusd_epi32(s[k], wv, _mm512_set1_epi32(xv));
                    }
                }
#pragma GCC unroll 8
                for (int k = 0; k < n; k++)
                    tot[k] = _mm512_add_epi32(tot[k], _mm512_mullo_epi32(s[k], sc));
            }
        }
        const __m512 d = _mm512_loadu_ps((const void *)blk);
#pragma GCC unroll 8
        for (int k = 0; k < n; k++) {
            const __m512 t = _mm512_mul_ps(_mm512_set1_ps(x[k][b].d), d);
            const __m512 xs = _mm512_mul_ps(_mm512_cvtepi32_ps(tot[k]), _mm512_set1_ps(inner));
            acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(t, xs));
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        _mm512_storeu_ps(y + (size_t)k * ldy, _mm512_mul_ps(_mm512_set1_ps(outer), acc[k]));
}

#define DEC_CASE(k)                                                                                \
    case k:                                                                                        \
        if (per32)                                                                                 \
            gemm_dec_tile(dec, nsb, true, info->inner, info->outer, q, qx_stride, k, yt, ldy);     \
        else                                                                                       \
            gemm_dec_tile(dec, nsb, false, info->inner, info->outer, q, qx_stride, k, yt, ldy);    \
        break;
static void gemm_dec16(const uint8_t *dec, int64_t n_cols, const kern_dec_info *info,
                       const uint8_t *qx, size_t qx_stride, int64_t n_tok, float *y, int64_t ldy)
{
    const int64_t nsb = n_cols / 256;
    const bool per32 = info->per32;
    for (int64_t t = 0; t < n_tok; t += DEC_TOKENS) {
        const int n = n_tok - t < DEC_TOKENS ? (int)(n_tok - t) : DEC_TOKENS;
        const uint8_t *q = qx + (size_t)t * qx_stride;
        float *yt = y + t * ldy;
        switch (n) {
            DEC_CASE(1)
            DEC_CASE(2)
            DEC_CASE(3)
            DEC_CASE(4)
            DEC_CASE(5)
            DEC_CASE(6)
            DEC_CASE(7)
        default:
            if (per32)
                gemm_dec_tile(dec, nsb, true, info->inner, info->outer, q, qx_stride, 8, yt, ldy);
            else
                gemm_dec_tile(dec, nsb, false, info->inner, info->outer, q, qx_stride, 8, yt, ldy);
        }
    }
}
#endif

void SUFFIX(kern_backend_add_vnni)(kern_backend_t *b)
{
    b->gemm_r8[DTYPE_Q8_0] = gemm_q8_0_r8;
    b->gemm_r8[DTYPE_Q4_0] = gemm_q4_0_r8;
    b->gemm_r8[DTYPE_Q5_0] = gemm_q5_0_r8;
#if defined(R1_VNNI_EVEX) && defined(__AVX512BW__)
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f")) {
        b->gemm_r8x2[DTYPE_Q8_0] = gemm_q8_0_r8x2;
        b->gemm_r8x2[DTYPE_Q4_0] = gemm_q4_0_r8x2;
        b->gemm_r8x2[DTYPE_Q5_0] = gemm_q5_0_r8x2;
        b->gemm_r8x2[DTYPE_Q4_K] = gemm_q4_k_r8x2;
        b->gemm_r8x2[DTYPE_Q5_K] = gemm_q5_k_r8x2;
        b->gemm_r8x2[DTYPE_Q6_K] = gemm_q6_k_r8x2;
        b->gemm_r8x2[DTYPE_Q3_K] = gemm_q3_k_r8x2;
        b->gemm_r8x2[DTYPE_Q2_K] = gemm_q2_k_r8x2;
        b->gemm_r8x2[DTYPE_IQ4_XS] = gemm_iq4_xs_r8x2;
        b->gemm_dec = gemm_dec16;
    }
#endif
    b->gemm_r8[DTYPE_Q4_K] = gemm_q4_k_r8;
    b->gemm_r8[DTYPE_Q5_K] = gemm_q5_k_r8;
    b->gemm_r8[DTYPE_Q6_K] = gemm_q6_k_r8;
    b->gemm_r8[DTYPE_Q3_K] = gemm_q3_k_r8;
    b->gemm_r8[DTYPE_Q2_K] = gemm_q2_k_r8;
    b->gemm_r8[DTYPE_IQ4_XS] = gemm_iq4_xs_r8;
    b->gemm_r8[DTYPE_IQ4_NL] = gemm_iq4_nl_r8;
}
