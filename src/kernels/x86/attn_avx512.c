/* attn_avx512.c — the attention block kernels with 512-bit registers (AVX-512F + VL), on top of
 * attn_avx2.c's EVEX-encoded 256-bit ones (included below, R1_ATTN_EVEX), which take the odd
 * head and the last columns. CPUs with full-width AVX-512 units issue as many 512-bit FMAs per
 * cycle as 256-bit ones, so this doubles the multiply-adds per instruction.
 * Still the reference's bits (ref/attn_ref.c):
 * - scores: a register holds the 8-lane accumulators of two heads (low and high halves) for one
 *   cached row: the row's 8 values are broadcast to both halves, the two heads' query values
 *   sit side by side; each half sums exactly as the 256-bit kernel does, then is reduced alone;
 * - accum: 16 outputs per register instead of 8, each still one chain of FMAs in row order. */
#define R1_ATTN_EVEX 1
#include "attn_avx2.c"

#define TILE_P 4  /* head pairs per score tile: 4 × 4 accumulators + 4 rows + 1 query pair */
#define TILE_KZ 4 /* cached rows per score tile */
#define TILE_HZ 4 /* heads per accum tile: 4 × 4 accumulators + 4 value vectors + 1 weight */
#define TILE_CZ 4 /* 16-column vectors per accum tile */

/* 8 values of a cached row starting at element i, in both halves */
INLINE __m512 ld2_f32(const uint8_t *row, int i)
{
    return _mm512_castpd_ps(
        _mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)(const void *)(row + 4 * i))));
}
INLINE __m512 ld2_f16(const uint8_t *row, int i)
{
    return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)i))));
}
INLINE __m512 ld2_bf16(const uint8_t *row, int i)
{
    __m512i u = _mm512_cvtepu16_epi32(_mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)i))));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
INLINE __m512 ld2_q8(const uint8_t *row, int i)
{
    const block_q8_0 *b = (const block_q8_0 *)(const void *)row + i / 32;
    __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    int64_t q8;
    memcpy(&q8, b->qs + i % 32, 8);
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_set1_epi64x(q8))));
}
/* two 8-value halves side by side */
INLINE __m512 cat2(__m256 lo, __m256 hi)
{
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
INLINE __m256 hi256(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* 16 values of a cached row starting at element c (a multiple of 16) */
INLINE __m512 ld16_f32(const uint8_t *row, int c)
{
    return _mm512_loadu_ps((const float *)(const void *)row + c);
}
INLINE __m512 ld16_f16(const uint8_t *row, int c)
{
    return _mm512_cvtph_ps(
        _mm256_loadu_si256((const __m256i *)(const void *)(row + 2 * (size_t)c)));
}
INLINE __m512 ld16_bf16(const uint8_t *row, int c)
{
    __m512i u = _mm512_cvtepu16_epi32(
        _mm256_loadu_si256((const __m256i *)(const void *)(row + 2 * (size_t)c)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
INLINE __m512 ld16_q8(const uint8_t *row, int c)
{
    const block_q8_0 *b = (const block_q8_0 *)(const void *)row + c / 32;
    __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(b->qs + c % 32));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
}

/* np head pairs × nk rows (constants at every call). */
#define DEFINE_SCORES_Z(T)                                                                         \
    INLINE void scoresz_tile_##T(int np, int nk, const float *q, int64_t qs, const uint8_t *k,     \
                                 size_t ks, int dk, float *s, int ld)                              \
    {                                                                                              \
        __m512 acc[TILE_P][TILE_KZ];                                                               \
        _Pragma("GCC unroll 4") for (int p = 0; p < np; p++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) acc[p][j] = _mm512_setzero_ps();  \
        }                                                                                          \
        int i = 0;                                                                                 \
        for (; i + 8 <= dk; i += 8) {                                                              \
            __m512 kv[TILE_KZ];                                                                    \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) kv[j] =                           \
                ld2_##T(k + (size_t)j * ks, i);                                                    \
            _Pragma("GCC unroll 4") for (int p = 0; p < np; p++)                                   \
            {                                                                                      \
                const float *qp = q + 2 * p * qs + i;                                              \
                __m512 qv = cat2(_mm256_loadu_ps(qp), _mm256_loadu_ps(qp + qs));                   \
                _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++) acc[p][j] =                   \
                    _mm512_fmadd_ps(qv, kv[j], acc[p][j]);                                         \
            }                                                                                      \
        }                                                                                          \
        if (i < dk)                                                                                \
            for (int j = 0; j < nk; j++) {                                                         \
                __m256 kt = tail_##T(k + (size_t)j * ks, i, dk);                                   \
                for (int p = 0; p < np; p++) {                                                     \
                    __m512 qt =                                                                    \
                        cat2(tail_q(q + 2 * p * qs, i, dk), tail_q(q + (2 * p + 1) * qs, i, dk));  \
                    acc[p][j] = _mm512_fmadd_ps(qt, cat2(kt, kt), acc[p][j]);                      \
                }                                                                                  \
            }                                                                                      \
        _Pragma("GCC unroll 4") for (int p = 0; p < np; p++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int j = 0; j < nk; j++)                                   \
            {                                                                                      \
                s[2 * p * ld + j] = hsum8(_mm512_castps512_ps256(acc[p][j]));                      \
                s[(2 * p + 1) * ld + j] = hsum8(hi256(acc[p][j]));                                 \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    INLINE void scoresz_rows_##T(int np, const float *q, int64_t qs, const uint8_t *k, size_t ks,  \
                                 int n_k, int dk, float *s, int ld)                                \
    {                                                                                              \
        int j = 0;                                                                                 \
        for (; j + TILE_KZ <= n_k; j += TILE_KZ)                                                   \
            scoresz_tile_##T(np, TILE_KZ, q, qs, k + (size_t)j * ks, ks, dk, s + j, ld);           \
        for (; j < n_k; j++)                                                                       \
            scoresz_tile_##T(np, 1, q, qs, k + (size_t)j * ks, ks, dk, s + j, ld);                 \
    }                                                                                              \
                                                                                                   \
    static void scoresz_##T(const float *q, int64_t qs, int n_h, const uint8_t *k, size_t ks,      \
                            int n_k, int dk, float *s, int ld)                                     \
    {                                                                                              \
        int h = 0;                                                                                 \
        for (; h + 2 * TILE_P <= n_h; h += 2 * TILE_P)                                             \
            scoresz_rows_##T(TILE_P, q + h * qs, qs, k, ks, n_k, dk, s + h * ld, ld);              \
        if (h + 4 <= n_h) {                                                                        \
            scoresz_rows_##T(2, q + h * qs, qs, k, ks, n_k, dk, s + h * ld, ld);                   \
            h += 4;                                                                                \
        }                                                                                          \
        if (h + 2 <= n_h) {                                                                        \
            scoresz_rows_##T(1, q + h * qs, qs, k, ks, n_k, dk, s + h * ld, ld);                   \
            h += 2;                                                                                \
        }                                                                                          \
        if (h < n_h) scores_##T(q + h * qs, qs, n_h - h, k, ks, n_k, dk, s + h * ld, ld);          \
    }

/* Outputs [c, c + 16·nc) of nh heads, kept in registers over all n_k rows. */
#define DEFINE_ACCUM_Z(T)                                                                          \
    INLINE void accumz_tile_##T(int nh, int nc, float *o, int64_t os, const float *p, int ld,      \
                                const uint8_t *v, size_t vs, int n_k, int c)                       \
    {                                                                                              \
        __m512 acc[TILE_HZ][TILE_CZ];                                                              \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) acc[h][x] =                       \
                _mm512_loadu_ps(o + h * os + c + 16 * x);                                          \
        }                                                                                          \
        for (int j = 0; j < n_k; j++) {                                                            \
            __m512 vv[TILE_CZ];                                                                    \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) vv[x] =                           \
                ld16_##T(v + (size_t)j * vs, c + 16 * x);                                          \
            _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                   \
            {                                                                                      \
                __m512 pj = _mm512_set1_ps(p[h * ld + j]);                                         \
                _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++) acc[h][x] =                   \
                    _mm512_fmadd_ps(pj, vv[x], acc[h][x]);                                         \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int h = 0; h < nh; h++)                                       \
        {                                                                                          \
            _Pragma("GCC unroll 4") for (int x = 0; x < nc; x++)                                   \
                _mm512_storeu_ps(o + h * os + c + 16 * x, acc[h][x]);                              \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void accumz_##T(dtype t, float *o, int64_t os, int n_h, const float *p, int ld,         \
                           const uint8_t *v, size_t vs, int n_k, int dv)                           \
    {                                                                                              \
        for (int h = 0; h < n_h; h += TILE_HZ) {                                                   \
            int nh = n_h - h < TILE_HZ ? n_h - h : TILE_HZ, c = 0;                                 \
            for (; c + 16 * TILE_CZ <= dv; c += 16 * TILE_CZ) {                                    \
                if (nh == TILE_HZ)                                                                 \
                    accumz_tile_##T(TILE_HZ, TILE_CZ, o + h * os, os, p + h * ld, ld, v, vs, n_k,  \
                                    c);                                                            \
                else                                                                               \
                    for (int u = 0; u < nh; u++)                                                   \
                        accumz_tile_##T(1, TILE_CZ, o + (h + u) * os, os, p + (h + u) * ld, ld, v, \
                                        vs, n_k, c);                                               \
            }                                                                                      \
            for (; c + 16 <= dv; c += 16)                                                          \
                for (int u = 0; u < nh; u++)                                                       \
                    accumz_tile_##T(1, 1, o + (h + u) * os, os, p + (h + u) * ld, ld, v, vs, n_k,  \
                                    c);                                                            \
            if (c < dv) /* fewer than 16 columns left (never for Q8_0: whole blocks of 32) */      \
                accum_##T(t, o + h * os + c, os, nh, p + h * ld, ld,                               \
                          v + (size_t)c * (t == DTYPE_F32 ? 4 : 2), vs, n_k, dv - c);              \
        }                                                                                          \
    }

DEFINE_SCORES_Z(f32)
DEFINE_SCORES_Z(f16)
DEFINE_SCORES_Z(bf16)
DEFINE_SCORES_Z(q8)
DEFINE_ACCUM_Z(f32)
DEFINE_ACCUM_Z(f16)
DEFINE_ACCUM_Z(bf16)
DEFINE_ACCUM_Z(q8)

static void attn_scores_z(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
                          size_t k_stride, int n_k, int dk, float *s, int ld_s)
{
    if (t == DTYPE_F16)
        scoresz_f16(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else if (t == DTYPE_BF16)
        scoresz_bf16(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else if (t == DTYPE_Q8_0)
        scoresz_q8(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
    else
        scoresz_f32(q, q_stride, n_h, k, k_stride, n_k, dk, s, ld_s);
}

static void attn_accum_z(dtype t, float *o, int64_t o_stride, int n_h, const float *p, int ld_p,
                         const void *v, size_t v_stride, int n_k, int dv)
{
    if (t == DTYPE_F16)
        accumz_f16(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_BF16)
        accumz_bf16(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_Q8_0)
        accumz_q8(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else
        accumz_f32(t, o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
}

void kern_backend_add_attn_avx512(kern_backend_t *b)
{
    b->attn_scores = attn_scores_z;
    b->attn_accum = attn_accum_z;
}
