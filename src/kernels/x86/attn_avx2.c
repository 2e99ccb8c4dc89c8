/* attn_avx2.c — kern_attention's block kernels (see kern_backend_t.attn_scores) with AVX2 + FMA:
 * register tiles of heads × cached rows, so each row loaded (and converted from fp16 / bf16 /
 * Q8_0) feeds several heads and each head's query feeds several rows. Bit-identical with
 * ref/attn_ref.c: every (head, row) dot product keeps its own 8-lane accumulator, updated in
 * element order, and every output element its own chain of fused multiply-adds in row order.
 * Built twice: here for 16 registers, and by attn_avx512.c (R1_ATTN_EVEX) with AVX-512VL's 32
 * registers and larger tiles. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"

#include <immintrin.h>
#include <string.h>

#ifdef R1_ATTN_EVEX
#define TILE_H 4 /* heads per tile: 4 × 4 accumulators + 4 rows + 1 query = 21 registers */
#define TILE_K 4
#define TILE_C 4 /* accum: 4 heads × 4 vectors of 8 outputs + 4 rows + 1 weight */
#define SUFFIX(name) name##_evex
#else
#define TILE_H 2 /* 2 × 4 accumulators + 4 rows + 1 query = 13 of 16 registers */
#define TILE_K 4
#define TILE_C 4
#define SUFFIX(name) name##_avx2
#endif

#define INLINE static inline __attribute__((always_inline))

/* 8 cached values starting at element i (a multiple of 8) of a row, as floats. */
INLINE __m256 ld_f32(const uint8_t *row, int i)
{
    return _mm256_loadu_ps((const float *)(const void *)row + i);
}
INLINE __m256 ld_f16(const uint8_t *row, int i)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)i)));
}
INLINE __m256 ld_bf16(const uint8_t *row, int i)
{
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
INLINE __m256 ld_q8(const uint8_t *row, int i)
{
    const block_q8_0 *b = (const block_q8_0 *)(const void *)row + i / 32;
    __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
    __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(b->qs + i % 32));
    return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
}

/* The reference's reduction of the 8 lanes. */
INLINE float hsum8(__m256 a)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
}

/* Elements [i, dk) of a row (fewer than 8) as floats, zero-padded to 8. */
#define DEFINE_TAIL(T, CONV)                                                                       \
    INLINE __m256 tail_##T(const uint8_t *row, int i, int dk)                                      \
    {                                                                                              \
        float f[8] = {0};                                                                          \
        for (int e = i; e < dk; e++) f[e - i] = CONV;                                              \
        return _mm256_loadu_ps(f);                                                                 \
    }
DEFINE_TAIL(f32, ((const float *)(const void *)row)[e])
DEFINE_TAIL(f16, _cvtsh_ss(((const uint16_t *)(const void *)row)[e]))
DEFINE_TAIL(bf16, _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(
                      (int)((uint32_t)((const uint16_t *)(const void *)row)[e] << 16)))))
INLINE __m256 tail_q8(const uint8_t *row, int i, int dk)
{
    (void)row, (void)i, (void)dk; /* Q8_0 rows are whole blocks of 32: there is no tail */
    return _mm256_setzero_ps();
}
INLINE __m256 tail_q(const float *q, int i, int dk)
{
    float f[8] = {0};
    for (int e = i; e < dk; e++) f[e - i] = q[e];
    return _mm256_loadu_ps(f);
}

/* One tile: nh heads × nk rows (compile-time constants at every call, so acc stays in
 * registers). */
#define DEFINE_SCORES(T)                                                                           \
    INLINE void scores_tile_##T(int nh, int nk, const float *q, int64_t qs, const uint8_t *k,      \
                                size_t ks, int dk, float *s, int ld)                               \
    {                                                                                              \
        __m256 acc[TILE_H][TILE_K];                                                                \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) acc[h][j] = _mm256_setzero_ps();  \
        }                                                                                          \
        int i = 0;                                                                                 \
        for (; i + 8 <= dk; i += 8) {                                                              \
            __m256 kv[TILE_K];                                                                     \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) kv[j] =                           \
                ld_##T(k + (size_t)j * ks, i);                                                     \
            _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                   \
            {                                                                                      \
                __m256 qv = _mm256_loadu_ps(q + h * qs + i);                                       \
                _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) acc[h][j] =                   \
                    _mm256_fmadd_ps(qv, kv[j], acc[h][j]);                                         \
            }                                                                                      \
        }                                                                                          \
        if (i < dk)                                                                                \
            for (int j = 0; j < nk; j++) {                                                         \
                __m256 kt = tail_##T(k + (size_t)j * ks, i, dk);                                   \
                for (int h = 0; h < nh; h++)                                                       \
                    acc[h][j] = _mm256_fmadd_ps(tail_q(q + h * qs, i, dk), kt, acc[h][j]);         \
            }                                                                                      \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) s[h * ld + j] = hsum8(acc[h][j]); \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void scores_##T(const float *q, int64_t qs, int n_h, const uint8_t *k, size_t ks,       \
                           int n_k, int dk, float *s, int ld)                                      \
    {                                                                                              \
        int h = 0;                                                                                 \
        for (; h + TILE_H <= n_h; h += TILE_H) {                                                   \
            int j = 0;                                                                             \
            for (; j + TILE_K <= n_k; j += TILE_K)                                                 \
                scores_tile_##T(TILE_H, TILE_K, q + h * qs, qs, k + (size_t)j * ks, ks, dk,        \
                                s + h * ld + j, ld);                                               \
            for (; j < n_k; j++)                                                                   \
                scores_tile_##T(TILE_H, 1, q + h * qs, qs, k + (size_t)j * ks, ks, dk,             \
                                s + h * ld + j, ld);                                               \
        }                                                                                          \
        for (; h < n_h; h++) {                                                                     \
            int j = 0;                                                                             \
            for (; j + TILE_K <= n_k; j += TILE_K)                                                 \
                scores_tile_##T(1, TILE_K, q + h * qs, qs, k + (size_t)j * ks, ks, dk,             \
                                s + h * ld + j, ld);                                               \
            for (; j < n_k; j++)                                                                   \
                scores_tile_##T(1, 1, q + h * qs, qs, k + (size_t)j * ks, ks, dk, s + h * ld + j,  \
                                ld);                                                               \
        }                                                                                          \
    }

/* Element i of a row as a float, for the last dv % 8 outputs. */
INLINE float elem(dtype t, const uint8_t *row, int i)
{
    switch (t) {
    case DTYPE_F16:
        return _cvtsh_ss(((const uint16_t *)(const void *)row)[i]);
    case DTYPE_BF16: {
        uint32_t u = (uint32_t)((const uint16_t *)(const void *)row)[i] << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case DTYPE_Q8_0: {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)row + i / 32;
        return _cvtsh_ss(b->d) * (float)b->qs[i % 32];
    }
    default:
        return ((const float *)(const void *)row)[i];
    }
}

/* Outputs [c, c + 8·nc) of nh heads, kept in registers over all n_k rows. */
#define DEFINE_ACCUM(T)                                                                            \
    INLINE void accum_tile_##T(int nh, int nc, float *o, int64_t os, const float *p, int ld,       \
                               const uint8_t *v, size_t vs, int n_k, int c)                        \
    {                                                                                              \
        __m256 acc[TILE_H][TILE_C];                                                                \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) acc[h][x] =                       \
                _mm256_loadu_ps(o + h * os + c + 8 * x);                                           \
        }                                                                                          \
        for (int j = 0; j < n_k; j++) {                                                            \
            __m256 vv[TILE_C];                                                                     \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) vv[x] =                           \
                ld_##T(v + (size_t)j * vs, c + 8 * x);                                             \
            _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                   \
            {                                                                                      \
                __m256 pj = _mm256_broadcast_ss(p + h * ld + j);                                   \
                _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) acc[h][x] =                   \
                    _mm256_fmadd_ps(pj, vv[x], acc[h][x]);                                         \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++)                                   \
                _mm256_storeu_ps(o + h * os + c + 8 * x, acc[h][x]);                               \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void accum_##T(dtype t, float *o, int64_t os, int n_h, const float *p, int ld,          \
                          const uint8_t *v, size_t vs, int n_k, int dv)                            \
    {                                                                                              \
        int h = 0;                                                                                 \
        for (; h < n_h; h += TILE_H) {                                                             \
            int nh = n_h - h < TILE_H ? n_h - h : TILE_H, c = 0;                                   \
            for (; c + 8 * TILE_C <= dv; c += 8 * TILE_C) {                                        \
                if (nh == TILE_H)                                                                  \
                    accum_tile_##T(TILE_H, TILE_C, o + h * os, os, p + h * ld, ld, v, vs, n_k, c); \
                else                                                                               \
                    for (int u = 0; u < nh; u++)                                                   \
                        accum_tile_##T(1, TILE_C, o + (h + u) * os, os, p + (h + u) * ld, ld, v,   \
                                       vs, n_k, c);                                                \
            }                                                                                      \
            for (; c + 8 <= dv; c += 8)                                                            \
                for (int u = 0; u < nh; u++)                                                       \
                    accum_tile_##T(1, 1, o + (h + u) * os, os, p + (h + u) * ld, ld, v, vs, n_k,   \
                                   c);                                                             \
            for (; c < dv; c++)                                                                    \
                for (int u = 0; u < nh; u++) {                                                     \
                    float *oc = o + (h + u) * os + c;                                              \
                    for (int j = 0; j < n_k; j++)                                                  \
                        *oc = __builtin_fmaf(p[(h + u) * ld + j], elem(t, v + (size_t)j * vs, c),  \
                                             *oc);                                                 \
                }                                                                                  \
        }                                                                                          \
    }

DEFINE_SCORES(f32)
DEFINE_SCORES(f16)
DEFINE_SCORES(bf16)
DEFINE_SCORES(q8)
DEFINE_ACCUM(f32)
DEFINE_ACCUM(f16)
DEFINE_ACCUM(bf16)
DEFINE_ACCUM(q8)

static void SUFFIX(attn_scores)(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
                                size_t k_stride, int n_k, int dk, float *s, int ld_s)
{
    if (t == DTYPE_F16)
        scores_f16(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else if (t == DTYPE_BF16)
        scores_bf16(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else if (t == DTYPE_Q8_0)
        scores_q8(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else
        scores_f32(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
}

static void SUFFIX(attn_accum)(dtype t, float *o, int64_t o_stride, int n_h, const float *p,
                               int ld_p, const void *v, size_t v_stride, int n_k, int dv)
{
    if (t == DTYPE_F16)
        accum_f16(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_BF16)
        accum_bf16(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_Q8_0)
        accum_q8(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else
        accum_f32(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
}

#ifdef R1_ATTN_EVEX
void kern_backend_add_attn_evex(kern_backend_t *b)
#else
void kern_backend_add_attn_avx2(kern_backend_t *b)
#endif
{
    b->attn_scores = SUFFIX(attn_scores);
    b->attn_accum = SUFFIX(attn_accum);
}
