/* vec_dot_iq_avx2.c — AVX2 dot products of the lattice types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
 * IQ2_S, IQ3_XXS, IQ3_S) with Q8_K activations. Each computes exactly what its scalar twin in
 * ref/vec_dot_ref.c computes, bit for bit: the integer sums of a super-block are exact (summed
 * across lanes as integers), then the same float expression in the same order.
 *
 * Per 32 elements: the grid rows of the sub-block are loaded into one register (4 rows of 8
 * bytes, or 8 rows of 4), the signs become a byte mask (0xFF = negative) that flips the
 * activations (|q8| ≤ 127, so negation never overflows), and maddubs(grid, ±q8) gives int16 pair
 * sums (≤ 2 · 62 · 127), which madd weights by the odd scale code 2u + 1 into int32 lanes. IQ1's
 * lattice values are -1, 0, 1: sign_epi8(q8, grid) is their product. */
#include "kernels/kernels.h"

#if defined(__x86_64__)

#include "tensor/blocks.h"
#include "tensor/iq_tables.h"

#include <immintrin.h>
#include <string.h>

static inline int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float fp16(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline uint32_t u32_at(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 32 sign bits (bit k = element k negative) -> 32 bytes, 0xFF where set. */
static inline __m256i sign_mask(uint32_t bits)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* y with the lanes of mask negated */
static inline __m256i flip(__m256i y, __m256i mask)
{
    return _mm256_sub_epi8(_mm256_xor_si256(y, mask), mask);
}

/* int32 lanes of Σ grid · (±y), pairs weighted by the int16 scale lanes of sc */
static inline __m256i grid_madd(__m256i grid, __m256i y, __m256i mask, __m256i sc)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(grid, flip(y, mask)), sc);
}

static inline __m256i rows8(uint64_t g0, uint64_t g1, uint64_t g2, uint64_t g3)
{
    return _mm256_set_epi64x((long long)g3, (long long)g2, (long long)g1, (long long)g0);
}

/* the scale of elements 0..15 in the low half, of 16..31 in the high half */
static inline __m256i scale2(int lo, int hi)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

static float vec_dot_iq2_xxs_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq2_xxs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint32_t a0 = u32_at(a[i].qs + 4 * sb), a1 = u32_at(a[i].qs + 4 * sb + 2);
            const __m256i g = rows8(iq2xxs_grid[a0 & 255], iq2xxs_grid[(a0 >> 8) & 255],
                                    iq2xxs_grid[(a0 >> 16) & 255], iq2xxs_grid[a0 >> 24]);
            const uint32_t sg = iq_ksigns7(a1) | (uint32_t)iq_ksigns7(a1 >> 7) << 8 |
                                (uint32_t)iq_ksigns7(a1 >> 14) << 16 |
                                (uint32_t)iq_ksigns7(a1 >> 21) << 24;
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            const __m256i sc = _mm256_set1_epi16((short)(2 * (a1 >> 28) + 1));
            acc = _mm256_add_epi32(acc, grid_madd(g, y, sign_mask(sg), sc));
        }
        s += b[i].d * fp16(a[i].d) * (float)hsum_i32(acc);
    }
    return 0.125f * s;
}

static float vec_dot_iq2_xs_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq2_xs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint16_t *q = a[i].qs + 4 * sb;
            const __m256i g = rows8(iq2xs_grid[q[0] & 511], iq2xs_grid[q[1] & 511],
                                    iq2xs_grid[q[2] & 511], iq2xs_grid[q[3] & 511]);
            const uint32_t sg = iq_ksigns7(q[0] >> 9) | (uint32_t)iq_ksigns7(q[1] >> 9) << 8 |
                                (uint32_t)iq_ksigns7(q[2] >> 9) << 16 |
                                (uint32_t)iq_ksigns7(q[3] >> 9) << 24;
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            const int u = a[i].scales[sb];
            acc = _mm256_add_epi32(
                acc, grid_madd(g, y, sign_mask(sg), scale2(2 * (u & 15) + 1, 2 * (u >> 4) + 1)));
        }
        s += b[i].d * fp16(a[i].d) * (float)hsum_i32(acc);
    }
    return 0.125f * s;
}

static float vec_dot_iq2_s_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq2_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = a[i].qs + 4 * sb;
            const unsigned h = a[i].qh[sb];
            const __m256i g =
                rows8(iq2s_grid[q[0] | (h & 3) << 8], iq2s_grid[q[1] | ((h >> 2) & 3) << 8],
                      iq2s_grid[q[2] | ((h >> 4) & 3) << 8], iq2s_grid[q[3] | (h >> 6) << 8]);
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            const int u = a[i].scales[sb];
            acc = _mm256_add_epi32(acc, grid_madd(g, y, sign_mask(u32_at(a[i].qs + 32 + 4 * sb)),
                                                  scale2(2 * (u & 15) + 1, 2 * (u >> 4) + 1)));
        }
        s += b[i].d * fp16(a[i].d) * (float)hsum_i32(acc);
    }
    return 0.125f * s;
}

static float vec_dot_iq3_xxs_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq3_xxs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = a[i].qs + 8 * sb;
            const uint32_t sc = u32_at(a[i].qs + 64 + 4 * sb);
            const __m256i g = _mm256_setr_epi32((int)iq3xxs_grid[q[0]], (int)iq3xxs_grid[q[1]],
                                                (int)iq3xxs_grid[q[2]], (int)iq3xxs_grid[q[3]],
                                                (int)iq3xxs_grid[q[4]], (int)iq3xxs_grid[q[5]],
                                                (int)iq3xxs_grid[q[6]], (int)iq3xxs_grid[q[7]]);
            const uint32_t sg = iq_ksigns7(sc) | (uint32_t)iq_ksigns7(sc >> 7) << 8 |
                                (uint32_t)iq_ksigns7(sc >> 14) << 16 |
                                (uint32_t)iq_ksigns7(sc >> 21) << 24;
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            acc = _mm256_add_epi32(acc, grid_madd(g, y, sign_mask(sg),
                                                  _mm256_set1_epi16((short)(2 * (sc >> 28) + 1))));
        }
        s += b[i].d * fp16(a[i].d) * (float)hsum_i32(acc);
    }
    return 0.25f * s;
}

static float vec_dot_iq3_s_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq3_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = a[i].qs + 8 * sb;
            const unsigned h = a[i].qh[sb];
            const __m256i g = _mm256_setr_epi32(
                (int)iq3s_grid[q[0] | (h & 1) << 8], (int)iq3s_grid[q[1] | ((h >> 1) & 1) << 8],
                (int)iq3s_grid[q[2] | ((h >> 2) & 1) << 8],
                (int)iq3s_grid[q[3] | ((h >> 3) & 1) << 8],
                (int)iq3s_grid[q[4] | ((h >> 4) & 1) << 8],
                (int)iq3s_grid[q[5] | ((h >> 5) & 1) << 8],
                (int)iq3s_grid[q[6] | ((h >> 6) & 1) << 8], (int)iq3s_grid[q[7] | (h >> 7) << 8]);
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            const int u = (a[i].scales[sb / 2] >> (4 * (sb % 2))) & 15;
            acc = _mm256_add_epi32(acc, grid_madd(g, y, sign_mask(u32_at(a[i].signs + 4 * sb)),
                                                  _mm256_set1_epi16((short)(2 * u + 1))));
        }
        s += b[i].d * fp16(a[i].d) * (float)hsum_i32(acc);
    }
    return s;
}

/* int32 lanes of Σ lattice · y (lattice bytes -1, 0, 1), pairs weighted by sc */
static inline __m256i iq1_madd(__m256i g, __m256i y, __m256i sc)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_sign_epi8(y, g)), sc);
}

static float vec_dot_iq1_s_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq1_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        int sumd = 0;
        for (int sb = 0; sb < 8; sb++) {
            const unsigned qh = a[i].qh[sb];
            const uint8_t *q = a[i].qs + 4 * sb;
            const __m256i g = rows8(
                iq1s_grid[q[0] | (qh & 7) << 8], iq1s_grid[q[1] | ((qh >> 3) & 7) << 8],
                iq1s_grid[q[2] | ((qh >> 6) & 7) << 8], iq1s_grid[q[3] | ((qh >> 9) & 7) << 8]);
            const int ls = (int)(2 * ((qh >> 12) & 7) + 1);
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            acc = _mm256_add_epi32(acc, iq1_madd(g, y, _mm256_set1_epi16((short)ls)));
            const int ysum = b[i].bsums[2 * sb] + b[i].bsums[2 * sb + 1];
            sumd += ls * (qh & 0x8000 ? -ysum : ysum);
        }
        s += b[i].d * fp16(a[i].d) * ((float)hsum_i32(acc) + IQ1_DELTA * (float)sumd);
    }
    return s;
}

static float vec_dot_iq1_m_avx2(const void *w, const void *x, int64_t n)
{
    const block_iq1_m *a = w;
    const block_q8_k *b = x;
    float s = 0;
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint16_t sc[4];
        memcpy(sc, a[i].scales, sizeof sc);
        const uint16_t dh = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                       ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        __m256i acc = _mm256_setzero_si256(), accd = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = a[i].qs + 4 * sb;
            const unsigned h0 = a[i].qh[2 * sb], h1 = a[i].qh[2 * sb + 1];
            const __m256i g =
                rows8(iq1s_grid[q[0] | (h0 & 7) << 8], iq1s_grid[q[1] | ((h0 >> 4) & 7) << 8],
                      iq1s_grid[q[2] | (h1 & 7) << 8], iq1s_grid[q[3] | ((h1 >> 4) & 7) << 8]);
            const int hh = 2 * sb; /* 16-element groups hh, hh + 1 */
            const __m256i scv = scale2(2 * ((sc[hh / 4] >> (3 * (hh % 4))) & 7) + 1,
                                       2 * ((sc[(hh + 1) / 4] >> (3 * ((hh + 1) % 4))) & 7) + 1);
            const __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            acc = _mm256_add_epi32(acc, iq1_madd(g, y, scv));
            /* the shift's sign of each row of 8 (bit 3 of its nibble) flips that row's q8 */
            const uint32_t neg = (h0 & 8 ? 0x000000ffu : 0) | (h0 & 0x80 ? 0x0000ff00u : 0) |
                                 (h1 & 8 ? 0x00ff0000u : 0) | (h1 & 0x80 ? 0xff000000u : 0);
            accd = _mm256_add_epi32(
                accd, _mm256_madd_epi16(_mm256_maddubs_epi16(ones, flip(y, sign_mask(neg))), scv));
        }
        s += b[i].d * fp16(dh) * ((float)hsum_i32(acc) + IQ1_DELTA * (float)hsum_i32(accd));
    }
    return s;
}

void kern_backend_add_iq_avx2(kern_backend_t *b)
{
    b->ops[DTYPE_IQ2_XXS].vec_dot = vec_dot_iq2_xxs_avx2;
    b->ops[DTYPE_IQ2_XS].vec_dot = vec_dot_iq2_xs_avx2;
    b->ops[DTYPE_IQ2_S].vec_dot = vec_dot_iq2_s_avx2;
    b->ops[DTYPE_IQ3_XXS].vec_dot = vec_dot_iq3_xxs_avx2;
    b->ops[DTYPE_IQ3_S].vec_dot = vec_dot_iq3_s_avx2;
    b->ops[DTYPE_IQ1_S].vec_dot = vec_dot_iq1_s_avx2;
    b->ops[DTYPE_IQ1_M].vec_dot = vec_dot_iq1_m_avx2;
}

#else
void kern_backend_add_iq_avx2(kern_backend_t *b)
{
    (void)b;
}
#endif
