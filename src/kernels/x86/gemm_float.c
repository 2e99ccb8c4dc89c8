/* gemm_float.c — the R16 float matmul (kernels.h, kern_gemm_r16_fn) with FMA: a register tile of
 * row groups × tokens, each weight vector loaded (and converted from fp16 / bf16) once for every
 * token of the tile and each broadcast activation used for every group. Each accumulator is one
 * (16 rows, token) chain updated in column order, exactly ref/gemm_r16_ref.c's order, so the
 * results are the spec's bits whatever the tile. Built twice: here for AVX2 (a group is two
 * 8-lane vectors, 16 registers), and by gemm_float512.c (R1_GEMMF_512) for AVX-512F (a group is
 * one 16-lane vector, 32 registers). */
#include "kernels/kernels.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

#ifdef R1_GEMMF_512
typedef __m512 vec;
#define VW 16    /* lanes */
#define NV 1     /* vectors per 16-row group */
#define TG 4     /* groups per tile in batches: 4 × 6 accumulators + 4 weights + 1 activation */
#define TT 6     /* tokens per tile */
#define TG_DEC 8 /* groups per tile for one token: 8 independent chains hide the FMA latency */
#define SUFFIX(name) name##_avx512
#define VZERO() _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VSET1(p) _mm512_set1_ps(*(p))
INLINE vec ld_f32(const uint8_t *p)
{
    return _mm512_loadu_ps((const float *)(const void *)p);
}
INLINE vec ld_f16(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
INLINE vec ld_bf16(const uint8_t *p)
{
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
INLINE void st_rows(float *y, vec v, int n)
{
    if (n >= VW)
        _mm512_storeu_ps(y, v);
    else if (n > 0)
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << n) - 1), v);
}
#else
typedef __m256 vec;
#define VW 8
#define NV 2
#define TG 1 /* 1 × 2 × 6 accumulators + 2 weights + 1 activation = 15 of 16 registers */
#define TT 6
#define TG_DEC 4
#define SUFFIX(name) name##_avx2
#define VZERO() _mm256_setzero_ps()
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VSET1(p) _mm256_broadcast_ss(p)
INLINE vec ld_f32(const uint8_t *p)
{
    return _mm256_loadu_ps((const float *)(const void *)p);
}
INLINE vec ld_f16(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}
INLINE vec ld_bf16(const uint8_t *p)
{
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
INLINE void st_rows(float *y, vec v, int n)
{
    if (n >= VW) {
        _mm256_storeu_ps(y, v);
    } else if (n > 0) {
        float tmp[VW];
        _mm256_storeu_ps(tmp, v);
        memcpy(y, tmp, (size_t)n * sizeof(float));
    }
}
#endif

enum { T_F32, T_F16, T_BF16 };

INLINE vec ld_w(int type, const uint8_t *p)
{
    return type == T_F32 ? ld_f32(p) : type == T_F16 ? ld_f16(p) : ld_bf16(p);
}

/* Groups [0, tg) from w (group_bytes apart) times tokens [0, tt) of x; rows_left = valid rows
 * counted from the tile's first row. tg, tt and type are constants at every call. */
INLINE void tile_body(int type, int tg, int tt, const uint8_t *w, size_t group_bytes,
                      int64_t n_cols, const float *x, int64_t ldx, float *y, int64_t ldy,
                      int64_t rows_left)
{
    size_t es = type == T_F32 ? 4 : 2;
    vec acc[TG_DEC][NV][TT];
#pragma GCC unroll 8
    for (int g = 0; g < tg; g++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
#pragma GCC unroll 6
            for (int t = 0; t < tt; t++) acc[g][v][t] = VZERO();
    for (int64_t k = 0; k < n_cols; k++) {
        vec wv[TG_DEC][NV];
#pragma GCC unroll 8
        for (int g = 0; g < tg; g++)
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                wv[g][v] = ld_w(type, w + (size_t)g * group_bytes +
                                          ((size_t)k * KERN_R16_ROWS + (size_t)v * VW) * es);
#pragma GCC unroll 6
        for (int t = 0; t < tt; t++) {
            vec xb = VSET1(x + t * ldx + k);
#pragma GCC unroll 8
            for (int g = 0; g < tg; g++)
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++) acc[g][v][t] = VFMA(wv[g][v], xb, acc[g][v][t]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < tg; g++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            int64_t n = rows_left - (int64_t)g * KERN_R16_ROWS - (int64_t)v * VW;
            int nv = n > VW ? VW : (int)n;
#pragma GCC unroll 6
            for (int t = 0; t < tt; t++)
                st_rows(y + t * ldy + g * KERN_R16_ROWS + v * VW, acc[g][v][t], nv);
        }
}

/* Each tile shape (and type) its own function, so that the register allocator sees one loop at a
 * time: inlined into one body, the 8 weight pointers of the decode tile were spilled. */
#ifdef R1_GEMMF_512 /* (groups, tokens): TG_DEC x 1 and its tails, TG x TT and its tails */
#define SHAPES(X) X(8, 1) X(4, 1) X(2, 1) X(1, 1) X(4, 6) X(4, 4) X(4, 2) X(1, 6) X(1, 4) X(1, 2)
#else
#define SHAPES(X) X(4, 1) X(2, 1) X(1, 1) X(1, 6) X(1, 4) X(1, 2)
#endif
typedef void (*tile_fn)(const uint8_t *, size_t, int64_t, const float *, int64_t, float *, int64_t,
                        int64_t);
#define TILE_FN(type, tg, tt)                                                                      \
    static __attribute__((noinline)) void tile_##type##_##tg##_##tt(                               \
        const uint8_t *w, size_t group_bytes, int64_t n_cols, const float *x, int64_t ldx,         \
        float *y, int64_t ldy, int64_t rows_left)                                                  \
    {                                                                                              \
        tile_body(type, tg, tt, w, group_bytes, n_cols, x, ldx, y, ldy, rows_left);                \
    }
#define TILE_FNS(tg, tt) TILE_FN(T_F32, tg, tt) TILE_FN(T_F16, tg, tt) TILE_FN(T_BF16, tg, tt)
SHAPES(TILE_FNS)
#define TILE_ENTRY(tg, tt)                                                                         \
    [tg][tt] = {tile_T_F32_##tg##_##tt, tile_T_F16_##tg##_##tt, tile_T_BF16_##tg##_##tt},
static const tile_fn tiles[TG_DEC + 1][TT + 1][3] = {SHAPES(TILE_ENTRY)};

INLINE void tile(int type, int tg, int tt, const uint8_t *w, size_t group_bytes, int64_t n_cols,
                 const float *x, int64_t ldx, float *y, int64_t ldy, int64_t rows_left)
{
    tiles[tg][tt][type](w, group_bytes, n_cols, x, ldx, y, ldy, rows_left);
}

/* Tokens [0, nt) of one tile row of tg groups, in tiles of TT, then 4, 2, 1. */
INLINE void tile_row(int type, int tg, const uint8_t *w, size_t group_bytes, int64_t n_cols,
                     const float *x, int64_t ldx, int64_t nt, float *y, int64_t ldy,
                     int64_t rows_left)
{
    int64_t t = 0;
    for (; t + TT <= nt; t += TT)
        tile(type, tg, TT, w, group_bytes, n_cols, x + t * ldx, ldx, y + t * ldy, ldy, rows_left);
    if (t + 4 <= nt) {
        tile(type, tg, 4, w, group_bytes, n_cols, x + t * ldx, ldx, y + t * ldy, ldy, rows_left);
        t += 4;
    }
    if (t + 2 <= nt) {
        tile(type, tg, 2, w, group_bytes, n_cols, x + t * ldx, ldx, y + t * ldy, ldy, rows_left);
        t += 2;
    }
    if (t < nt)
        tile(type, tg, 1, w, group_bytes, n_cols, x + t * ldx, ldx, y + t * ldy, ldy, rows_left);
}

#define TOKEN_BLOCK                                                                                \
    64 /* activations of a token block stay in L2 while the groups pass over them                  \
        */

INLINE void gemm(int type, const uint8_t *w, int64_t n_cols, int64_t n_groups, int64_t n_rows,
                 const float *x, int64_t ldx, int64_t n_tok, float *y, int64_t ldy)
{
    size_t group_bytes = (size_t)n_cols * KERN_R16_ROWS * (type == T_F32 ? 4 : 2);
    if (n_tok == 1) {
        int64_t g = 0;
        for (; g + TG_DEC <= n_groups; g += TG_DEC)
            tile(type, TG_DEC, 1, w + (size_t)g * group_bytes, group_bytes, n_cols, x, ldx,
                 y + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
        if (TG_DEC > 4 && g + 4 <= n_groups) {
            tile(type, 4, 1, w + (size_t)g * group_bytes, group_bytes, n_cols, x, ldx,
                 y + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
            g += 4;
        }
        if (g + 2 <= n_groups) {
            tile(type, 2, 1, w + (size_t)g * group_bytes, group_bytes, n_cols, x, ldx,
                 y + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
            g += 2;
        }
        if (g < n_groups)
            tile(type, 1, 1, w + (size_t)g * group_bytes, group_bytes, n_cols, x, ldx,
                 y + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tok; t0 += TOKEN_BLOCK) {
        int64_t nt = n_tok - t0 < TOKEN_BLOCK ? n_tok - t0 : TOKEN_BLOCK;
        const float *xb = x + t0 * ldx;
        float *yb = y + t0 * ldy;
        int64_t g = 0;
        for (; g + TG <= n_groups; g += TG)
            tile_row(type, TG, w + (size_t)g * group_bytes, group_bytes, n_cols, xb, ldx, nt,
                     yb + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
        for (; g < n_groups; g++)
            tile_row(type, 1, w + (size_t)g * group_bytes, group_bytes, n_cols, xb, ldx, nt,
                     yb + g * KERN_R16_ROWS, ldy, n_rows - g * KERN_R16_ROWS);
    }
}

#define DEFINE_ENTRY(name, type)                                                                   \
    static void SUFFIX(name)(const uint8_t *w, int64_t n_cols, int64_t n_groups, int64_t n_rows,   \
                             const float *x, int64_t ldx, int64_t n_tok, float *y, int64_t ldy)    \
    {                                                                                              \
        gemm(type, w, n_cols, n_groups, n_rows, x, ldx, n_tok, y, ldy);                            \
    }
DEFINE_ENTRY(gemm_r16_f32, T_F32)
DEFINE_ENTRY(gemm_r16_f16, T_F16)
DEFINE_ENTRY(gemm_r16_bf16, T_BF16)

#ifdef R1_GEMMF_512
void kern_backend_add_gemm_float_avx512(kern_backend_t *b)
#else
void kern_backend_add_gemm_float_avx2(kern_backend_t *b)
#endif
{
    b->gemm_r16[DTYPE_F32] = SUFFIX(gemm_r16_f32);
    b->gemm_r16[DTYPE_F16] = SUFFIX(gemm_r16_f16);
    b->gemm_r16[DTYPE_BF16] = SUFFIX(gemm_r16_bf16);
}
