/* vec_dot_avx2.c — AVX2 + FMA + F16C kernels (this file alone is compiled with those flags;
 * dispatch.c calls kern_backend_init_avx2 only when the CPU has them).
 * Each kernel computes exactly what its scalar twin in ref/vec_dot_ref.c computes: integer sums
 * per sub-block are exact, only the order of the final float accumulation differs. Types without
 * an AVX2 kernel keep the scalar integer kernel.
 * Core step: for signed bytes q and y, Σ q·y over 32 lanes = maddubs(|q|, sign(y, q)) (u8 × s8
 * pairs to s16, no overflow for |q| ≤ 64), then madd with a scale or with 1 to s32. */
#include "kernels/kernels.h"
#include "kernels/x86/exp_simd.h"

#if defined(__x86_64__)

#include "tensor/blocks.h"

#include <float.h>
#include <immintrin.h>
#include <string.h>

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float fp16(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* Σ over pairs of q·y as 8 int32 lanes (q, y signed bytes). */
static inline __m256i dot_i8_pairs(__m256i q, __m256i y)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Expand 32 bits into 32 bytes: 0xFF where the bit is set. Byte k tests bit k. */
static inline __m256i bits_to_bytes(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x(0x8040201008040201);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* 16 packed bytes -> 32 nibbles: low nibbles are elements 0..15, high nibbles 16..31. */
static inline __m256i nibbles_32(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15));
    return _mm256_set_m128i(hi, lo);
}

/* Bit-identical with dot_f32_scalar: the same 32 partial sums (4 registers × 8 lanes), multiply
 * then add (an FMA would round once instead of twice), the same combination order. */
static float dot_f32_avx2(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
        s1 = _mm256_add_ps(s1,
                           _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8)));
        s2 = _mm256_add_ps(s2,
                           _mm256_mul_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16)));
        s3 = _mm256_add_ps(s3,
                           _mm256_mul_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24)));
    }
    __m256 t = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    float tl[8];
    _mm256_storeu_ps(tl, t);
    float s = ((tl[0] + tl[4]) + (tl[1] + tl[5])) + ((tl[2] + tl[6]) + (tl[3] + tl[7]));
    for (; i < n; i++) {
        float p = a[i] * b[i];
        s = s + p;
    }
    return s;
}

static void axpy_f32_avx2(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) /* multiply, then add: bit-identical with the scalar axpy */
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                              _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) {
        float p = a * x[i];
        y[i] = y[i] + p;
    }
}

/* 8 fp16 / bf16 values to floats (exact). */
static inline __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const uint16_t *p)
{
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static inline float bf16_scalar(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Bit-identical with dot_f16_scalar / dot_bf16_scalar (the partial sums of dot_f32_avx2). */
#define DEFINE_DOT_16(name, load, conv)                                                            \
    static float name(const float *a, const uint16_t *b, int64_t n)                                \
    {                                                                                              \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                                \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32) {                                                             \
            s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), load(b + i)));            \
            s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), load(b + i + 8)));    \
            s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(a + i + 16), load(b + i + 16)));  \
            s3 = _mm256_add_ps(s3, _mm256_mul_ps(_mm256_loadu_ps(a + i + 24), load(b + i + 24)));  \
        }                                                                                          \
        __m256 t = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));                    \
        float tl[8];                                                                               \
        _mm256_storeu_ps(tl, t);                                                                   \
        float s = ((tl[0] + tl[4]) + (tl[1] + tl[5])) + ((tl[2] + tl[6]) + (tl[3] + tl[7]));       \
        for (; i < n; i++) {                                                                       \
            float p = a[i] * conv(b[i]);                                                           \
            s = s + p;                                                                             \
        }                                                                                          \
        return s;                                                                                  \
    }

#define DEFINE_AXPY_16(name, load, conv)                                                           \
    static void name(float *y, float a, const uint16_t *x, int64_t n)                              \
    {                                                                                              \
        __m256 va = _mm256_set1_ps(a);                                                             \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(                                                                      \
                y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, load(x + i))));     \
        for (; i < n; i++) {                                                                       \
            float p = a * conv(x[i]);                                                              \
            y[i] = y[i] + p;                                                                       \
        }                                                                                          \
    }

DEFINE_DOT_16(dot_f16_avx2, load_f16, fp16)
DEFINE_DOT_16(dot_bf16_avx2, load_bf16, bf16_scalar)
DEFINE_AXPY_16(axpy_f16_avx2, load_f16, fp16)
DEFINE_AXPY_16(axpy_bf16_avx2, load_bf16, bf16_scalar)

/* 8 values of a Q8_0 block as floats d·q (the product rounded once, as the scalar version). */
static inline __m256 load_q8(const int8_t *q, __m256 d)
{
    __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q));
    return _mm256_mul_ps(d, _mm256_cvtepi32_ps(v));
}

/* Bit-identical with dot_q8_scalar: one block per iteration of dot_f32_avx2's loop. */
static float dot_q8_avx2(const float *a, const void *b_, int64_t n)
{
    const block_q8_0 *b = b_;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        const block_q8_0 *blk = &b[i / 32];
        __m256 d = _mm256_set1_ps(fp16(blk->d));
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), load_q8(blk->qs, d)));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), load_q8(blk->qs + 8, d)));
        s2 =
            _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(a + i + 16), load_q8(blk->qs + 16, d)));
        s3 =
            _mm256_add_ps(s3, _mm256_mul_ps(_mm256_loadu_ps(a + i + 24), load_q8(blk->qs + 24, d)));
    }
    __m256 t = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    float tl[8];
    _mm256_storeu_ps(tl, t);
    return ((tl[0] + tl[4]) + (tl[1] + tl[5])) + ((tl[2] + tl[6]) + (tl[3] + tl[7]));
}

static void axpy_q8_avx2(float *y, float a, const void *x_, int64_t n)
{
    const block_q8_0 *x = x_;
    __m256 va = _mm256_set1_ps(a);
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        const block_q8_0 *blk = &x[i / 32];
        __m256 d = _mm256_set1_ps(fp16(blk->d));
        for (int k = 0; k < 32; k += 8)
            _mm256_storeu_ps(y + i + k, _mm256_add_ps(_mm256_loadu_ps(y + i + k),
                                                      _mm256_mul_ps(va, load_q8(blk->qs + k, d))));
    }
}

static void scale_f32_avx2(float *y, float a, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= a;
}

static float vec_dot_q8_0(const void *w, const void *x, int64_t n)
{
    const block_q8_0 *a = w, *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_pairs(q, y)), acc);
    }
    return hsum_ps(acc);
}

static float vec_dot_q4_0(const void *w, const void *x, int64_t n)
{
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i q = _mm256_sub_epi8(nibbles_32(a[i].qs), _mm256_set1_epi8(8));
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_pairs(q, y)), acc);
    }
    return hsum_ps(acc);
}

static float vec_dot_q5_0(const void *w, const void *x, int64_t n)
{
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i hb = _mm256_and_si256(bits_to_bytes(a[i].qh), _mm256_set1_epi8(16));
        __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles_32(a[i].qs), hb), _mm256_set1_epi8(16));
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_pairs(q, y)), acc);
    }
    return hsum_ps(acc);
}

static inline __m256i bcast16(__m256i v, int k);

/* 16 packed bytes -> 32 nibbles mapped through the IQ4 table (signed levels -127..113). */
static inline __m256i iq4_values_32(const uint8_t *qs, __m256i table)
{
    return _mm256_shuffle_epi8(table, nibbles_32(qs));
}

static float vec_dot_iq4_nl(const void *w, const void *x, int64_t n)
{
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const __m128i t128 = _mm_loadu_si128((const __m128i *)iq4_values);
    const __m256i table = _mm256_set_m128i(t128, t128);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i q = iq4_values_32(a[i].qs, table);
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_pairs(q, y)), acc);
    }
    return hsum_ps(acc);
}

static float vec_dot_iq4_xs(const void *w, const void *x, int64_t n)
{
    const block_iq4_xs *a = w;
    const block_q8_k *b = x;
    const __m128i t128 = _mm_loadu_si128((const __m128i *)iq4_values);
    const __m256i table = _mm256_set_m128i(t128, t128);
    __m256 acc = _mm256_setzero_ps();
    /* sub-block sb's 6-bit scale: nibble sb of scales_l, then bits 2sb, 2sb + 1 of scales_h;
     * decoded in registers (an int16[8] stored and reloaded whole stalled every block) */
    const __m256i lo_shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i hi_shift = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint32_t sl;
        memcpy(&sl, a[i].scales_l, 4);
        __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sl), lo_shift),
                                      _mm256_set1_epi32(15));
        __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(a[i].scales_h), hi_shift),
                                      _mm256_set1_epi32(3));
        __m256i ls32 =
            _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
        __m128i l128 =
            _mm_packs_epi32(_mm256_castsi256_si128(ls32), _mm256_extracti128_si256(ls32, 1));
        const __m256i sc = _mm256_set_m128i(l128, l128);
        __m256i sumi = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            __m256i q = iq4_values_32(a[i].qs + 16 * sb, table);
            __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * sb));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, bcast16(sc, sb)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

/* Q4_1 / Q5_1: x = d·q + m, so Σ x·y = d·dy·Σ q·yq + m·dy·Σ yq. Both sums stay in vectors
 * across blocks (one horizontal sum at the end, not two per block of 32). */
static inline void q41_block(__m256i q, const block_q8_0 *y8, float d, float m, __m256 *acc,
                             __m256 *accm)
{
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)y8->qs);
    __m256i qy = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones16);
    __m256i sy = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y), ones16);
    float dy = fp16(y8->d);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(qy), *acc);
    *accm = _mm256_fmadd_ps(_mm256_set1_ps(m * dy), _mm256_cvtepi32_ps(sy), *accm);
}

static float vec_dot_q4_1(const void *w, const void *x, int64_t n)
{
    const block_q4_1 *a = w;
    const block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++)
        q41_block(nibbles_32(a[i].qs), &b[i], fp16(a[i].d), fp16(a[i].m), &acc, &accm);
    return hsum_ps(_mm256_add_ps(acc, accm));
}

static float vec_dot_q5_1(const void *w, const void *x, int64_t n)
{
    const block_q5_1 *a = w;
    const block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i hb = _mm256_and_si256(bits_to_bytes(a[i].qh), _mm256_set1_epi8(16));
        __m256i q = _mm256_or_si256(nibbles_32(a[i].qs), hb);
        q41_block(q, &b[i], fp16(a[i].d), fp16(a[i].m), &acc, &accm);
    }
    return hsum_ps(_mm256_add_ps(acc, accm));
}

/* Unpack the 12 scale bytes of a Q4_K/Q5_K block (packing in tensor/blocks.h): 8 scales and
 * 8 mins, each as 8 int16 in a 128-bit register. */
static inline void k4_scales(const uint8_t *sc, __m128i *scales, __m128i *mins)
{
    uint32_t s0, s1, s2;
    memcpy(&s0, sc, 4);
    memcpy(&s1, sc + 4, 4);
    memcpy(&s2, sc + 8, 4);
    uint32_t sc_lo = s0 & 0x3f3f3f3f, mn_lo = s1 & 0x3f3f3f3f;
    uint32_t sc_hi = (s2 & 0x0f0f0f0f) | ((s0 >> 6) & 0x03030303) << 4;
    uint32_t mn_hi = ((s2 >> 4) & 0x0f0f0f0f) | ((s1 >> 6) & 0x03030303) << 4;
    *scales = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc_hi, (int)sc_lo));
    *mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn_hi, (int)mn_lo));
}

/* Broadcast int16 element k of both 128-bit halves of v to all lanes. */
static inline __m256i bcast16(__m256i v, int k)
{
    const __m256i ctl = _mm256_set1_epi16((short)((2 * k) | ((2 * k + 1) << 8)));
    return _mm256_shuffle_epi8(v, ctl);
}

/* Σ_s mins[s] · (bsums[2s] + bsums[2s+1]) for a Q8_K block. */
static inline int k4_min_sum(__m128i mins, const int16_t *bsums)
{
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);
    /* duplicate each min for its two 16-element halves: m0 m0 m1 m1 ... */
    __m256i m = _mm256_cvtepu16_epi32(mins);          /* 8 × int32 */
    m = _mm256_or_si256(m, _mm256_slli_epi32(m, 16)); /* (m, m) pairs */
    __m256i p = _mm256_madd_epi16(b, m);              /* 8 × int32 */
    __m128i q = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4e));
    q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0xb1));
    return _mm_cvtsi128_si32(q);
}

static float vec_dot_q4_k(const void *w, const void *x, int64_t n)
{
    const block_q4_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins_total = 0;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m128i sc128, mn128;
        k4_scales(a[i].scales, &sc128, &mn128);
        mins_total += b[i].d * fp16(a[i].dmin) * (float)k4_min_sum(mn128, b[i].bsums);
        const __m256i sc = _mm256_set_m128i(sc128, sc128);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i lo = _mm256_and_si256(bytes, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            __m256i ylo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i yhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), bcast16(sc, 2 * c));
            __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), bcast16(sc, 2 * c + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins_total;
}

/* vec_dot_q4_k / vec_dot_q5_k for 4 activation rows: the same operations per row, in the same
 * order, with the weights' values and scales unpacked once (prompt batches on CPUs without the
 * repacked VNNI kernels). The blocks share d, dmin and scales; Q5_K adds qh (blocks.h). */
static inline __attribute__((always_inline)) void
vec_dot_q45_k_x4(const void *w, const void *x, size_t xs, int64_t n, float out[4], const bool five)
{
    const size_t blk_bytes = five ? sizeof(block_q5_k) : sizeof(block_q4_k);
    const block_q8_k *b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (const block_q8_k *)(const void *)((const uint8_t *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    float mins_total[4] = {0, 0, 0, 0};
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *raw = (const uint8_t *)w + (size_t)i * blk_bytes;
        const block_q4_k *a = (const block_q4_k *)(const void *)raw; /* d, dmin, scales */
        const block_q5_k *a5 = (const block_q5_k *)(const void *)raw;
        const uint8_t *qs = five ? a5->qs : a->qs;
        __m128i sc128, mn128;
        k4_scales(a->scales, &sc128, &mn128);
        float dmin = fp16(a->dmin), d = fp16(a->d);
        for (int k = 0; k < 4; k++)
            mins_total[k] += b[k][i].d * dmin * (float)k4_min_sum(mn128, b[k][i].bsums);
        const __m256i sc = _mm256_set_m128i(sc128, sc128);
        __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(const void *)a5->qh)
                          : _mm256_setzero_si256();
        __m256i sumi[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                           _mm256_setzero_si256()};
        for (int c = 0; c < 4; c++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(bytes, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            if (five) { /* bit 4 of element 64c + l is bit 2c of qh[l]; of 64c + 32 + l, 2c + 1 */
                __m256i hlo = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
                __m256i hhi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(hlo, 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(hhi, 4));
            }
            __m256i slo = bcast16(sc, 2 * c), shi = bcast16(sc, 2 * c + 1);
            for (int k = 0; k < 4; k++) {
                __m256i ylo = _mm256_loadu_si256((const __m256i *)(b[k][i].qs + 64 * c));
                __m256i yhi = _mm256_loadu_si256((const __m256i *)(b[k][i].qs + 64 * c + 32));
                __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), slo);
                __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), shi);
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_add_epi32(plo, phi));
            }
        }
        for (int k = 0; k < 4; k++)
            acc[k] =
                _mm256_fmadd_ps(_mm256_set1_ps(b[k][i].d * d), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
    }
    for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]) - mins_total[k];
}

static void vec_dot_q4_k_x4(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    vec_dot_q45_k_x4(w, x, xs, n, out, false);
}

static void vec_dot_q5_k_x4(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    vec_dot_q45_k_x4(w, x, xs, n, out, true);
}

static float vec_dot_q5_k(const void *w, const void *x, int64_t n)
{
    const block_q5_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins_total = 0;
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m128i sc128, mn128;
        k4_scales(a[i].scales, &sc128, &mn128);
        mins_total += b[i].d * fp16(a[i].dmin) * (float)k4_min_sum(mn128, b[i].bsums);
        const __m256i sc = _mm256_set_m128i(sc128, sc128);
        __m256i qh = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            /* bit 4 of element 64c + l (l < 32) is bit 2c of qh[l]; of 64c + 32 + l, bit 2c+1 */
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i hlo = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
            __m256i hhi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, m4), _mm256_slli_epi16(hlo, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4),
                                         _mm256_slli_epi16(hhi, 4));
            __m256i ylo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i yhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), bcast16(sc, 2 * c));
            __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), bcast16(sc, 2 * c + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins_total;
}

static inline int hsum_epi32(__m256i v)
{
    __m128i q = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4e));
    q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0xb1));
    return _mm_cvtsi128_si32(q);
}

/* Σ over the 32 elements l of chunk (c, j) of a Q2_K/Q3_K block (elements 128c + 32j + l): u·y per
 * 16-element sub-block (l < 16: sub-block 8c + 2j, else 8c + 2j + 1), times its scale: 8 int32.
 * u is unsigned (≤ 7), so maddubs' pair sums stay within int16. */
static inline __m256i k23_chunk(__m256i u, const int8_t *y, int16_t sc_lo, int16_t sc_hi)
{
    __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(const void *)y));
    return _mm256_madd_epi16(p, _mm256_set_m128i(_mm_set1_epi16(sc_hi), _mm_set1_epi16(sc_lo)));
}

/* Q2_K (blocks.h): the integer sums exactly, then the scalar backend's float expression per
 * block, so the result has its bits. */
static float vec_dot_q2_k(const void *w, const void *x, int64_t n)
{
    const block_q2_k *a = w;
    const block_q8_k *b = x;
    const __m256i m3 = _mm256_set1_epi8(3);
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* scales in the low nibbles, mins in the high ones; Σ min·bsum in one madd */
        __m128i sb8 = _mm_loadu_si128((const __m128i *)(const void *)a[i].scales);
        __m256i bsums = _mm256_loadu_si256((const __m256i *)(const void *)b[i].bsums);
        __m256i mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb8, 4), _mm_set1_epi8(15)));
        int summ = hsum_epi32(_mm256_madd_epi16(mins, bsums));
        int16_t sc[16];
        _mm256_storeu_si256((__m256i *)(void *)sc,
                            _mm256_cvtepu8_epi16(_mm_and_si128(sb8, _mm_set1_epi8(15))));
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(a[i].qs + 32 * c));
            for (int j = 0; j < 4; j++) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * j), m3);
                int sb = 8 * c + 2 * j;
                acc = _mm256_add_epi32(
                    acc, k23_chunk(u, b[i].qs + 128 * c + 32 * j, sc[sb], sc[sb + 1]));
            }
        }
        int sumi = hsum_epi32(acc);
        s += b[i].d * (fp16(a[i].d) * (float)sumi - fp16(a[i].dmin) * (float)summ);
    }
    return s;
}

/* Q3_K (blocks.h): q = u − 4 with u = 2 low bits | hmask bit << 2; Σ q·y = Σ u·y − 4·Σ y, the
 * last from the Q8_K bsums. Integer sums exactly, then the scalar backend's float expression. */
static float vec_dot_q3_k(const void *w, const void *x, int64_t n)
{
    const block_q3_k *a = w;
    const block_q8_k *b = x;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* the 16 6-bit scales (blocks.h), four at a time: low 4 bits of sub-blocks 0–7 are
         * the low nibbles of bytes 0–7, of 8–15 their high nibbles; the high 2 bits of
         * sub-block s are bits 2·(s / 4) of byte 8 + s % 4 */
        uint32_t lo0, lo1, hi2;
        memcpy(&lo0, a[i].scales, 4);
        memcpy(&lo1, a[i].scales + 4, 4);
        memcpy(&hi2, a[i].scales + 8, 4);
        const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
        /* built in registers: a 16-byte load of four just-stored words would stall */
        __m128i sc8 = _mm_set_epi32((int)((lo1 >> 4 & m4) | (hi2 >> 6 & m2) << 4),
                                    (int)((lo0 >> 4 & m4) | (hi2 >> 4 & m2) << 4),
                                    (int)((lo1 & m4) | (hi2 >> 2 & m2) << 4),
                                    (int)((lo0 & m4) | (hi2 & m2) << 4));
        sc8 = _mm_sub_epi8(sc8, _mm_set1_epi8(32));
        __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i bsums = _mm256_loadu_si256((const __m256i *)(const void *)b[i].bsums);
        int offs = hsum_epi32(_mm256_madd_epi16(sc16, bsums));
        int16_t sc[16];
        _mm256_storeu_si256((__m256i *)(void *)sc, sc16);
        __m256i hm = _mm256_loadu_si256((const __m256i *)(const void *)a[i].hmask);
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(a[i].qs + 32 * c));
            for (int j = 0; j < 4; j++) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * j), m3);
                __m256i h = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * c + j), one);
                u = _mm256_or_si256(u, _mm256_slli_epi16(h, 2));
                int sb = 8 * c + 2 * j;
                acc = _mm256_add_epi32(
                    acc, k23_chunk(u, b[i].qs + 128 * c + 32 * j, sc[sb], sc[sb + 1]));
            }
        }
        int sumi = hsum_epi32(acc) - 4 * offs;
        s += b[i].d * fp16(a[i].d) * (float)sumi;
    }
    return s;
}

static float vec_dot_q6_k(const void *w, const void *x, int64_t n)
{
    const block_q6_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    /* shuffle controls: low 128-bit half takes int16 element 2g, high half element 2g + 1 */
    __m256i pick[4];
    for (int g = 0; g < 4; g++)
        pick[g] = _mm256_set_m128i(_mm_set1_epi16((short)((4 * g + 2) | ((4 * g + 3) << 8))),
                                   _mm_set1_epi16((short)((4 * g) | ((4 * g + 1) << 8))));
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* x = sc·(u − 32): Σ sc·u·y from the unsigned codes, minus 32·Σ sc·bsum */
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        __m256i offs = _mm256_madd_epi16(sc16, bs);
        __m256i sumi = _mm256_slli_epi32(offs, 5);
        sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
        for (int c = 0; c < 2; c++) {
            __m128i sc8 = c == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1);
            __m256i sc = _mm256_set_m128i(sc8, sc8);
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * c));
            __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
            __m256i high[4] = {_mm256_and_si256(qh, m2),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 4), m2),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 6), m2)};
            for (int g = 0; g < 4; g++) {
                __m256i u = _mm256_or_si256(low[g], _mm256_slli_epi16(high[g], 4));
                __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 128 * c + 32 * g));
                __m256i p = _mm256_maddubs_epi16(u, y);
                sumi =
                    _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, pick[g])));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

/* vec_dot_q8_0 for 4 activation rows (same operations per row, weights loaded once). */
static void vec_dot_q8_0_x4(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const block_q8_0 *a = w, *b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (const block_q8_0 *)(const void *)((const uint8_t *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i aq = _mm256_sign_epi8(q, q);
        float da = fp16(a[i].d);
        for (int k = 0; k < 4; k++) {
            __m256i y = _mm256_loadu_si256((const __m256i *)b[k][i].qs);
            __m256i p = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(y, q));
            __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(da * fp16(b[k][i].d)), _mm256_cvtepi32_ps(s),
                                     acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

/* vec_dot_q6_k for 4 activation rows. */
static void vec_dot_q6_k_x4(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const block_q6_k *a = w;
    const block_q8_k *b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (const block_q8_k *)(const void *)((const uint8_t *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m256i pick[4];
    for (int g = 0; g < 4; g++)
        pick[g] = _mm256_set_m128i(_mm_set1_epi16((short)((4 * g + 2) | ((4 * g + 3) << 8))),
                                   _mm_set1_epi16((short)((4 * g) | ((4 * g + 1) << 8))));
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m256i sumi[4];
        for (int k = 0; k < 4; k++) {
            __m256i bs = _mm256_loadu_si256((const __m256i *)b[k][i].bsums);
            __m256i offs = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5);
            sumi[k] = _mm256_sub_epi32(_mm256_setzero_si256(), offs);
        }
        for (int c = 0; c < 2; c++) {
            __m128i sc8 = c == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1);
            __m256i sc = _mm256_set_m128i(sc8, sc8);
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * c));
            __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
            for (int g = 0; g < 4; g++) {
                __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2);
                __m256i u = _mm256_or_si256(low[g], _mm256_slli_epi16(high, 4));
                __m256i scg = _mm256_shuffle_epi8(sc, pick[g]);
                for (int k = 0; k < 4; k++) {
                    __m256i y =
                        _mm256_loadu_si256((const __m256i *)(b[k][i].qs + 128 * c + 32 * g));
                    sumi[k] = _mm256_add_epi32(sumi[k],
                                               _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), scg));
                }
            }
        }
        float d = fp16(a[i].d);
        for (int k = 0; k < 4; k++)
            acc[k] =
                _mm256_fmadd_ps(_mm256_set1_ps(b[k][i].d * d), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
    }
    for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

static void quantize_q8_0_avx2(const float *x, void *out, int64_t n)
{
    block_q8_0 *b = out;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float amax = _mm_cvtss_f32(m), d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        b[i].d = (uint16_t)_cvtss_sh(d, 0);
        __m256 s = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[k], s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        /* pack 32 int32 -> 32 int8 in order (packs interleave lanes: fix with a permute) */
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)b[i].qs, p);
    }
}

/* kern_expf, 8 at a time: the same operations, so the same bits. */
static void exp_f32_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8_kern(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = kern_expf(x[i]);
}

/* Bit-identical with the scalar quantize_q8_k: the same amax, 127/amax, x·(127/amax) rounded to
 * nearest even, d = its inverse, and the sums of each 16 quants. */
static void quantize_q8_k_avx2(const float *x, void *out, int64_t n)
{
    block_q8_k *b = out;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < QK_K / 8; k++)
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)));
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        if (!(id <= FLT_MAX)) id = 0;
        b[i].d = id > 0 ? 1.0f / id : 0.0f;
        __m256 s = _mm256_set1_ps(id);
        for (int g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_cvtps_epi32(
                    _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * g + 8 * k), s),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
            __m256i p = _mm256_packs_epi16(p01, p23);
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(void *)(b[i].qs + 32 * g), p);
            /* lane j of s4 = quants 4j..4j+3; the two 16-sums are the two halves' totals */
            __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p),
                                           _mm256_set1_epi16(1));
            __m128i h = _mm_hadd_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
            h = _mm_hadd_epi32(h, h);
            b[i].bsums[2 * g] = (int16_t)_mm_cvtsi128_si32(h);
            b[i].bsums[2 * g + 1] = (int16_t)_mm_extract_epi32(h, 1);
        }
    }
}

void kern_backend_init_avx2(kern_backend_t *b)
{
    kern_backend_init_scalar(b);
    b->name = "avx2";
    b->dot_f32 = dot_f32_avx2;
    b->axpy_f32 = axpy_f32_avx2;
    b->dot_q8 = dot_q8_avx2;
    b->axpy_q8 = axpy_q8_avx2;
    b->dot_f16 = dot_f16_avx2;
    b->axpy_f16 = axpy_f16_avx2;
    b->dot_bf16 = dot_bf16_avx2;
    b->axpy_bf16 = axpy_bf16_avx2;
    b->scale_f32 = scale_f32_avx2;
    b->exp_f32 = exp_f32_avx2;
    b->quantize_q8_0 = quantize_q8_0_avx2;
    b->quantize_q8_k = quantize_q8_k_avx2;
    b->ops[DTYPE_Q8_0].vec_dot = vec_dot_q8_0;
    b->ops[DTYPE_Q8_0].vec_dot_x4 = vec_dot_q8_0_x4;
    b->ops[DTYPE_Q4_K].vec_dot_x4 = vec_dot_q4_k_x4;
    b->ops[DTYPE_Q6_K].vec_dot_x4 = vec_dot_q6_k_x4;
    b->ops[DTYPE_Q5_K].vec_dot_x4 = vec_dot_q5_k_x4;
    b->ops[DTYPE_Q4_0].vec_dot = vec_dot_q4_0;
    b->ops[DTYPE_Q5_0].vec_dot = vec_dot_q5_0;
    b->ops[DTYPE_Q4_1].vec_dot = vec_dot_q4_1;
    b->ops[DTYPE_Q5_1].vec_dot = vec_dot_q5_1;
    b->ops[DTYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl;
    b->ops[DTYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs;
    b->ops[DTYPE_Q4_K].vec_dot = vec_dot_q4_k;
    b->ops[DTYPE_Q5_K].vec_dot = vec_dot_q5_k;
    b->ops[DTYPE_Q6_K].vec_dot = vec_dot_q6_k;
    b->ops[DTYPE_Q2_K].vec_dot = vec_dot_q2_k;
    b->ops[DTYPE_Q3_K].vec_dot = vec_dot_q3_k;
    kern_backend_add_iq_avx2(b);
}

#else
void kern_backend_init_avx2(kern_backend_t *b)
{
    kern_backend_init_scalar(b);
}
#endif
