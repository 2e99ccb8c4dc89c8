/* vec_dot_avx2.c — AVX2 + FMA + F16C kernels (this file alone is compiled with those flags;
 * dispatch.c calls kern_backend_init_avx2 only when the CPU has them).
 * Each kernel computes exactly what its scalar twin in ref/vec_dot_ref.c computes: integer sums
 * per sub-block are exact, only the order of the final float accumulation differs. Types without
 * an AVX2 kernel keep the scalar integer kernel.
 * Core step: for signed bytes q and y, Σ q·y over 32 lanes = maddubs(|q|, sign(y, q)) (u8 × s8
 * pairs to s16, no overflow for |q| ≤ 64), then madd with a scale or with 1 to s32. */
#include "kernels/kernels.h"

#if defined(__x86_64__)

#include "tensor/blocks.h"

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

static float dot_f32_avx2(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
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

static void k4_scales(const uint8_t *sc, int *scale, int *mn)
{
    for (int s = 0; s < 4; s++) {
        scale[s] = sc[s] & 63;
        mn[s] = sc[s + 4] & 63;
    }
    for (int s = 4; s < 8; s++) {
        scale[s] = (sc[s + 4] & 15) | ((sc[s - 4] >> 6) << 4);
        mn[s] = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
    }
}

static float vec_dot_q4_k(const void *w, const void *x, int64_t n)
{
    const block_q4_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sc[8], mn[8];
        k4_scales(a[i].scales, sc, mn);
        int summ = 0;
        for (int s = 0; s < 8; s++) summ += mn[s] * (b[i].bsums[2 * s] + b[i].bsums[2 * s + 1]);
        mins += b[i].d * fp16(a[i].dmin) * (float)summ;
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i lo = _mm256_and_si256(bytes, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            __m256i ylo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i yhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo),
                                            _mm256_set1_epi16((short)sc[2 * c]));
            __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi),
                                            _mm256_set1_epi16((short)sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

static float vec_dot_q5_k(const void *w, const void *x, int64_t n)
{
    const block_q5_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sc[8], mn[8];
        k4_scales(a[i].scales, sc, mn);
        int summ = 0;
        for (int s = 0; s < 8; s++) summ += mn[s] * (b[i].bsums[2 * s] + b[i].bsums[2 * s + 1]);
        mins += b[i].d * fp16(a[i].dmin) * (float)summ;
        __m256i qh = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            /* bit 4 of element 64c + l (l < 32) is bit 2c of qh[l]; of 64c + 32 + l, bit 2c+1 */
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i hlo = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), _mm256_set1_epi8(1));
            __m256i hhi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), _mm256_set1_epi8(1));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, m4), _mm256_slli_epi16(hlo, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4),
                                         _mm256_slli_epi16(hhi, 4));
            __m256i ylo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i yhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo),
                                            _mm256_set1_epi16((short)sc[2 * c]));
            __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi),
                                            _mm256_set1_epi16((short)sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

static float vec_dot_q6_k(const void *w, const void *x, int64_t n)
{
    const block_q6_k *a = w;
    const block_q8_k *b = x;
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * c + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * c));
            __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
            for (int g = 0; g < 4; g++) {
                __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2);
                __m256i q =
                    _mm256_sub_epi8(_mm256_or_si256(low[g], _mm256_slli_epi16(high, 4)), off);
                __m256i y = _mm256_loadu_si256((const __m256i *)(b[i].qs + 128 * c + 32 * g));
                int s = 8 * c + 2 * g; /* sub-blocks s (first 16) and s + 1 */
                __m256i scale = _mm256_set_m128i(_mm_set1_epi16(a[i].scales[s + 1]),
                                                 _mm_set1_epi16(a[i].scales[s]));
                __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * fp16(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
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

void kern_backend_init_avx2(kern_backend_t *b)
{
    kern_backend_init_scalar(b);
    b->name = "avx2";
    b->dot_f32 = dot_f32_avx2;
    b->quantize_q8_0 = quantize_q8_0_avx2;
    b->ops[DTYPE_Q8_0].vec_dot = vec_dot_q8_0;
    b->ops[DTYPE_Q4_0].vec_dot = vec_dot_q4_0;
    b->ops[DTYPE_Q5_0].vec_dot = vec_dot_q5_0;
    b->ops[DTYPE_Q4_K].vec_dot = vec_dot_q4_k;
    b->ops[DTYPE_Q5_K].vec_dot = vec_dot_q5_k;
    b->ops[DTYPE_Q6_K].vec_dot = vec_dot_q6_k;
}

#else
void kern_backend_init_avx2(kern_backend_t *b)
{
    kern_backend_init_scalar(b);
}
#endif
