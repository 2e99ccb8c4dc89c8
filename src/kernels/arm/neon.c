/* neon.c — the kernel backend for 64-bit ARM (AArch64 Advanced SIMD, present on every such CPU:
 * Apple silicon, Graviton, Raspberry Pi 4/5). It starts from the scalar backend and replaces the
 * hot loops with 128-bit NEON code that gives the scalar backend's bits exactly:
 * - the fp32 helpers (dot, axpy over fp32/fp16/bf16/Q8_0 operands, scale, exp) in the summation
 *   order kernels.h and ref/vec_dot_ref.c define;
 * - the attention block kernels (ref/attn_ref.c): each (head, row) score keeps 8 lanes in two
 *   registers updated in element order; each output one fused multiply-add chain in row order;
 * - the R16 float matmul (ref/gemm_r16_ref.c): 16 rows in four registers, one chain per column;
 * - Q8_0, Q4_0, Q4_K, Q5_K and Q6_K dot products against 8-bit activations: the same integer sums
 *   (widening multiplies and pairwise adds, or `sdot` where the CPU has it: exact either way)
 *   combined by the same float expression (neon_int8.inc);
 * - the Q8_0 activation quantizer: the same amax, scale and round-to-nearest-even;
 * - the prefill attention block, in attn_prefill_neon.c.
 * Other weight types keep the scalar kernels. Compiles to nothing but on AArch64. */
#include "kernels/kernels.h"

#if defined(__aarch64__)
#include "tensor/blocks.h"
#include "tensor/quant.h"

#include "kernels/arm/exp_neon.h"

#include <arm_neon.h>
#include <string.h>
#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#define INLINE static inline __attribute__((always_inline))

/* ---- fp32 helpers ---------------------------------------------------------------------------- */

/* 32 partial sums in 8 registers (sum k in register k / 4, lane k % 4), folded as the spec:
 * t[j] = (s[j] + s[j+8]) + (s[j+16] + s[j+24]), then ((t0+t4) + (t1+t5)) + ((t2+t6) + (t3+t7)). */
INLINE float fold32(const float32x4_t acc[8])
{
    float32x4_t tlo = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[4], acc[6]));
    float32x4_t thi = vaddq_f32(vaddq_f32(acc[1], acc[3]), vaddq_f32(acc[5], acc[7]));
    float32x4_t u = vaddq_f32(tlo, thi); /* (t0+t4, t1+t5, t2+t6, t3+t7) */
    float32x2_t p = vpadd_f32(vget_low_f32(u), vget_high_f32(u));
    return vget_lane_f32(p, 0) + vget_lane_f32(p, 1);
}

INLINE float32x4_t ld_f16x4(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
INLINE float32x4_t ld_bf16x4(const uint16_t *p)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

#define DEFINE_DOT(name, T, LOAD, CONV)                                                            \
    static float name(const float *a, const T *b, int64_t n)                                       \
    {                                                                                              \
        float32x4_t acc[8];                                                                        \
        for (int k = 0; k < 8; k++) acc[k] = vdupq_n_f32(0);                                       \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32)                                                               \
            for (int k = 0; k < 8; k++)                                                            \
                acc[k] =                                                                           \
                    vaddq_f32(acc[k], vmulq_f32(vld1q_f32(a + i + 4 * k), LOAD(b + i + 4 * k)));   \
        float s = fold32(acc);                                                                     \
        for (; i < n; i++) {                                                                       \
            float p = a[i] * CONV(b[i]);                                                           \
            s = s + p;                                                                             \
        }                                                                                          \
        return s;                                                                                  \
    }

#define DEFINE_AXPY(name, T, LOAD, CONV)                                                           \
    static void name(float *y, float a, const T *x, int64_t n)                                     \
    {                                                                                              \
        float32x4_t va = vdupq_n_f32(a);                                                           \
        int64_t i = 0;                                                                             \
        for (; i + 4 <= n; i += 4)                                                                 \
            vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vmulq_f32(va, LOAD(x + i))));             \
        for (; i < n; i++) {                                                                       \
            float p = a * CONV(x[i]);                                                              \
            y[i] = y[i] + p;                                                                       \
        }                                                                                          \
    }

#define AS_IS(v) (v)
DEFINE_DOT(dot_f32_neon, float, vld1q_f32, AS_IS)
DEFINE_DOT(dot_f16_neon, uint16_t, ld_f16x4, fp16_to_f32)
DEFINE_DOT(dot_bf16_neon, uint16_t, ld_bf16x4, bf16_to_f32)
DEFINE_AXPY(axpy_f32_neon, float, vld1q_f32, AS_IS)
DEFINE_AXPY(axpy_f16_neon, uint16_t, ld_f16x4, fp16_to_f32)
DEFINE_AXPY(axpy_bf16_neon, uint16_t, ld_bf16x4, bf16_to_f32)

/* 4 values d·q of a Q8_0 block (one float product each) */
INLINE float32x4_t q8_x4(float32x4_t d, const int8_t *q)
{
    int32_t w;
    memcpy(&w, q, 4);
    int16x8_t h = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(w)));
    return vmulq_f32(d, vcvtq_f32_s32(vmovl_s16(vget_low_s16(h))));
}

static float dot_q8_neon(const float *a, const void *b_, int64_t n)
{
    const block_q8_0 *b = b_;
    float32x4_t acc[8];
    for (int k = 0; k < 8; k++) acc[k] = vdupq_n_f32(0);
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        float32x4_t d = vdupq_n_f32(fp16_to_f32(b[i / 32].d));
        for (int k = 0; k < 8; k++)
            acc[k] = vaddq_f32(acc[k],
                               vmulq_f32(vld1q_f32(a + i + 4 * k), q8_x4(d, b[i / 32].qs + 4 * k)));
    }
    return fold32(acc);
}

static void axpy_q8_neon(float *y, float a, const void *x_, int64_t n)
{
    const block_q8_0 *x = x_;
    float32x4_t va = vdupq_n_f32(a);
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        float32x4_t d = vdupq_n_f32(fp16_to_f32(x[i / 32].d));
        for (int k = 0; k < 8; k++) {
            float *yk = y + i + 4 * k;
            vst1q_f32(yk, vaddq_f32(vld1q_f32(yk), vmulq_f32(va, q8_x4(d, x[i / 32].qs + 4 * k))));
        }
    }
}

static void scale_f32_neon(float *y, float a, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(y + i), vdupq_n_f32(a)));
    for (; i < n; i++) y[i] *= a;
}

static void exp_f32_neon(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, exp4_kern(vld1q_f32(x + i)));
    for (; i < n; i++) y[i] = kern_expf(x[i]);
}

/* ---- Q8_0 activations ----------------------------------------------------------------------- */

/* As the scalar quantize_q8_0: amax, d = amax / 127, id = 1 / d, q = x · id rounded to nearest
 * even (lrintf in the default rounding mode). */
static void quantize_q8_0_neon(const float *x, void *out, int64_t n)
{
    block_q8_0 *b = out;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float32x4_t m = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + 4 * k)));
        float amax = vmaxvq_f32(m), d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        b[i].d = f32_to_fp16(d);
        int16x4_t h[8]; /* |q| <= 127: narrowing keeps every value */
        for (int k = 0; k < 8; k++)
            h[k] = vmovn_s32(vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 4 * k), vdupq_n_f32(id))));
        for (int k = 0; k < 2; k++)
            vst1q_s8(b[i].qs + 16 * k,
                     vcombine_s8(vmovn_s16(vcombine_s16(h[4 * k], h[4 * k + 1])),
                                 vmovn_s16(vcombine_s16(h[4 * k + 2], h[4 * k + 3]))));
    }
}

/* ---- integer dot products (exact: products fit 16 bits, sums 32) ---------------------------- */

/* plain NEON: 16-bit products, added pairwise into the 32-bit lanes */
#define SUFFIXED(name) name##_neon
#define INT8_ATTR
#define DOT16_ACC(acc, a, b)                                                                       \
    vpadalq_s16(vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b))),                        \
                vmull_s8(vget_high_s8(a), vget_high_s8(b)))
#include "neon_int8.inc"
#undef SUFFIXED
#undef INT8_ATTR
#undef DOT16_ACC

/* ARMv8.2 dot product: sdot adds four products into each 32-bit lane */
#define SUFFIXED(name) name##_dotprod
#define INT8_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#define DOT16_ACC(acc, a, b) vdotq_s32(acc, a, b)
#include "neon_int8.inc"
#undef SUFFIXED
#undef INT8_ATTR
#undef DOT16_ACC

/* ---- attention block kernels ----------------------------------------------------------------- */

/* 4 values of a cached row from element i (as kv_elem in ref/attn_ref.c) */
INLINE float32x4_t kv4(dtype t, const uint8_t *row, int i)
{
    switch (t) {
    case DTYPE_F16:
        return ld_f16x4((const uint16_t *)(const void *)row + i);
    case DTYPE_BF16:
        return ld_bf16x4((const uint16_t *)(const void *)row + i);
    case DTYPE_Q8_0: {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)row + i / 32;
        return q8_x4(vdupq_n_f32(fp16_to_f32(b->d)), b->qs + i % 32);
    }
    default:
        return vld1q_f32((const float *)(const void *)row + i);
    }
}

/* Elements [i, i + 8) of a row as two registers, zeros past dk (Q8_0 rows are whole blocks) */
INLINE void kv8_tail(dtype t, const uint8_t *row, int i, int dk, float32x4_t *lo, float32x4_t *hi)
{
    float f[8] = {0};
    for (int e = i; e < dk; e++) {
        switch (t) {
        case DTYPE_F16:
            f[e - i] = fp16_to_f32(((const uint16_t *)(const void *)row)[e]);
            break;
        case DTYPE_BF16:
            f[e - i] = bf16_to_f32(((const uint16_t *)(const void *)row)[e]);
            break;
        default:
            f[e - i] = ((const float *)(const void *)row)[e];
        }
    }
    *lo = vld1q_f32(f);
    *hi = vld1q_f32(f + 4);
}

INLINE float fold8(float32x4_t lo, float32x4_t hi)
{
    float32x4_t a = vaddq_f32(lo, hi);                           /* (l0+l4, l1+l5, l2+l6, l3+l7) */
    float32x2_t b = vadd_f32(vget_low_f32(a), vget_high_f32(a)); /* (a0+a2, a1+a3) */
    return vget_lane_f32(b, 0) + vget_lane_f32(b, 1);
}

#define SC_H 2 /* heads per score tile: 2 × 4 rows × 2 registers + 8 row registers + 2 query */
#define SC_K 4

/* nh heads × nk rows (constants at every call) */
INLINE void scores_tile(dtype t, int nh, int nk, const float *q, int64_t qs, const uint8_t *k,
                        size_t ks, int dk, float *s, int ld)
{
    float32x4_t lo[SC_H][SC_K], hi[SC_H][SC_K];
    for (int h = 0; h < nh; h++)
        for (int j = 0; j < nk; j++) lo[h][j] = hi[h][j] = vdupq_n_f32(0);
    int i = 0;
    for (; i + 8 <= dk; i += 8) {
        float32x4_t kl[SC_K], kh[SC_K];
        for (int j = 0; j < nk; j++) {
            kl[j] = kv4(t, k + (size_t)j * ks, i);
            kh[j] = kv4(t, k + (size_t)j * ks, i + 4);
        }
        for (int h = 0; h < nh; h++) {
            float32x4_t ql = vld1q_f32(q + h * qs + i), qh = vld1q_f32(q + h * qs + i + 4);
            for (int j = 0; j < nk; j++) {
                lo[h][j] = vfmaq_f32(lo[h][j], ql, kl[j]);
                hi[h][j] = vfmaq_f32(hi[h][j], qh, kh[j]);
            }
        }
    }
    if (i < dk)
        for (int j = 0; j < nk; j++) {
            float32x4_t kl, kh;
            kv8_tail(t, k + (size_t)j * ks, i, dk, &kl, &kh);
            for (int h = 0; h < nh; h++) {
                float f[8] = {0};
                for (int e = i; e < dk; e++) f[e - i] = q[h * qs + e];
                lo[h][j] = vfmaq_f32(lo[h][j], vld1q_f32(f), kl);
                hi[h][j] = vfmaq_f32(hi[h][j], vld1q_f32(f + 4), kh);
            }
        }
    for (int h = 0; h < nh; h++)
        for (int j = 0; j < nk; j++) s[h * ld + j] = fold8(lo[h][j], hi[h][j]);
}

INLINE void scores_rows(dtype t, int nh, const float *q, int64_t qs, const uint8_t *k, size_t ks,
                        int n_k, int dk, float *s, int ld)
{
    int j = 0;
    for (; j + SC_K <= n_k; j += SC_K)
        scores_tile(t, nh, SC_K, q, qs, k + (size_t)j * ks, ks, dk, s + j, ld);
    for (; j < n_k; j++) scores_tile(t, nh, 1, q, qs, k + (size_t)j * ks, ks, dk, s + j, ld);
}

#define DEFINE_SCORES(T, DT)                                                                       \
    static void scores_##T(const float *q, int64_t qs, int n_h, const uint8_t *k, size_t ks,       \
                           int n_k, int dk, float *s, int ld)                                      \
    {                                                                                              \
        int h = 0;                                                                                 \
        for (; h + SC_H <= n_h; h += SC_H)                                                         \
            scores_rows(DT, SC_H, q + h * qs, qs, k, ks, n_k, dk, s + h * ld, ld);                 \
        if (h < n_h) scores_rows(DT, 1, q + h * qs, qs, k, ks, n_k, dk, s + h * ld, ld);           \
    }
DEFINE_SCORES(f32, DTYPE_F32)
DEFINE_SCORES(f16, DTYPE_F16)
DEFINE_SCORES(bf16, DTYPE_BF16)
DEFINE_SCORES(q8, DTYPE_Q8_0)

static void attn_scores_neon(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
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

#define AC_H 4 /* heads per accumulation tile: 4 × 4 registers of outputs + 4 values + 1 weight */
#define AC_C 4 /* 4-column registers per tile */

/* outputs [c, c + 4·nc) of nh heads, in registers over all n_k rows */
INLINE void accum_tile(dtype t, int nh, int nc, float *o, int64_t os, const float *p, int ld,
                       const uint8_t *v, size_t vs, int n_k, int c)
{
    float32x4_t acc[AC_H][AC_C];
    for (int h = 0; h < nh; h++)
        for (int x = 0; x < nc; x++) acc[h][x] = vld1q_f32(o + h * os + c + 4 * x);
    for (int j = 0; j < n_k; j++) {
        float32x4_t vv[AC_C];
        for (int x = 0; x < nc; x++) vv[x] = kv4(t, v + (size_t)j * vs, c + 4 * x);
        for (int h = 0; h < nh; h++) {
            float32x4_t pj = vdupq_n_f32(p[h * ld + j]);
            for (int x = 0; x < nc; x++) acc[h][x] = vfmaq_f32(acc[h][x], pj, vv[x]);
        }
    }
    for (int h = 0; h < nh; h++)
        for (int x = 0; x < nc; x++) vst1q_f32(o + h * os + c + 4 * x, acc[h][x]);
}

#define DEFINE_ACCUM(T, DT)                                                                        \
    static void accum_##T(float *o, int64_t os, int n_h, const float *p, int ld, const uint8_t *v, \
                          size_t vs, int n_k, int dv)                                              \
    {                                                                                              \
        for (int h = 0; h < n_h; h += AC_H) {                                                      \
            int nh = n_h - h < AC_H ? n_h - h : AC_H, c = 0;                                       \
            for (; c + 4 * AC_C <= dv; c += 4 * AC_C) {                                            \
                if (nh == AC_H)                                                                    \
                    accum_tile(DT, AC_H, AC_C, o + h * os, os, p + h * ld, ld, v, vs, n_k, c);     \
                else                                                                               \
                    for (int u = 0; u < nh; u++)                                                   \
                        accum_tile(DT, 1, AC_C, o + (h + u) * os, os, p + (h + u) * ld, ld, v, vs, \
                                   n_k, c);                                                        \
            }                                                                                      \
            for (; c + 4 <= dv; c += 4)                                                            \
                for (int u = 0; u < nh; u++)                                                       \
                    accum_tile(DT, 1, 1, o + (h + u) * os, os, p + (h + u) * ld, ld, v, vs, n_k,   \
                               c);                                                                 \
            if (c < dv) /* fewer than 4 columns left (never for Q8_0: whole blocks of 32) */       \
                kern_attn_accum_ref(DT, o + h * os + c, os, nh, p + h * ld, ld,                    \
                                    v + (size_t)c * (DT == DTYPE_F32 ? 4 : 2), vs, n_k, dv - c);   \
        }                                                                                          \
    }
DEFINE_ACCUM(f32, DTYPE_F32)
DEFINE_ACCUM(f16, DTYPE_F16)
DEFINE_ACCUM(bf16, DTYPE_BF16)
DEFINE_ACCUM(q8, DTYPE_Q8_0)

static void attn_accum_neon(dtype t, float *o, int64_t o_stride, int n_h, const float *p, int ld_p,
                            const void *v, size_t v_stride, int n_k, int dv)
{
    if (t == DTYPE_F16)
        accum_f16(o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_BF16)
        accum_bf16(o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else if (t == DTYPE_Q8_0)
        accum_q8(o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
    else
        accum_f32(o, o_stride, n_h, p, ld_p, v, v_stride, n_k, dv);
}

/* ---- R16 float matmul ------------------------------------------------------------------------ */

#define R16_T 4 /* tokens per tile: 4 tokens × 4 registers of 4 rows + 4 weight registers */

/* 16 weights of column k of a group as four registers */
INLINE void w16(dtype t, const uint8_t *wg, int64_t k, float32x4_t w[4])
{
    for (int r = 0; r < 4; r++) {
        if (t == DTYPE_F32)
            w[r] = vld1q_f32((const float *)(const void *)wg + k * 16 + 4 * r);
        else if (t == DTYPE_F16)
            w[r] = ld_f16x4((const uint16_t *)(const void *)wg + k * 16 + 4 * r);
        else
            w[r] = ld_bf16x4((const uint16_t *)(const void *)wg + k * 16 + 4 * r);
    }
}

INLINE void r16_tile(dtype t, int nt, const uint8_t *wg, int64_t n_cols, int nr, const float *x,
                     int64_t ldx, float *y, int64_t ldy)
{
    float32x4_t acc[R16_T][4];
    for (int u = 0; u < nt; u++)
        for (int r = 0; r < 4; r++) acc[u][r] = vdupq_n_f32(0);
    for (int64_t k = 0; k < n_cols; k++) {
        float32x4_t w[4];
        w16(t, wg, k, w);
        for (int u = 0; u < nt; u++) {
            float32x4_t xv = vdupq_n_f32(x[u * ldx + k]);
            for (int r = 0; r < 4; r++) acc[u][r] = vfmaq_f32(acc[u][r], w[r], xv);
        }
    }
    for (int u = 0; u < nt; u++) {
        float out[16];
        for (int r = 0; r < 4; r++) vst1q_f32(out + 4 * r, acc[u][r]);
        memcpy(y + u * ldy, out, (size_t)nr * sizeof(float));
    }
}

#define DEFINE_R16(T, DT, ESIZE)                                                                   \
    static void gemm_r16_##T(const uint8_t *w, int64_t n_cols, int64_t n_groups, int64_t n_rows,   \
                             const float *x, int64_t ldx, int64_t n_tok, float *y, int64_t ldy)    \
    {                                                                                              \
        for (int64_t g = 0; g < n_groups; g++) {                                                   \
            const uint8_t *wg = w + (size_t)g * (size_t)n_cols * KERN_R16_ROWS * ESIZE;            \
            int64_t nr = n_rows - g * KERN_R16_ROWS;                                               \
            nr = nr < KERN_R16_ROWS ? nr : KERN_R16_ROWS;                                          \
            int64_t t0 = 0;                                                                        \
            for (; t0 + R16_T <= n_tok; t0 += R16_T)                                               \
                r16_tile(DT, R16_T, wg, n_cols, (int)nr, x + t0 * ldx, ldx,                        \
                         y + t0 * ldy + g * KERN_R16_ROWS, ldy);                                   \
            for (; t0 < n_tok; t0++)                                                               \
                r16_tile(DT, 1, wg, n_cols, (int)nr, x + t0 * ldx, ldx,                            \
                         y + t0 * ldy + g * KERN_R16_ROWS, ldy);                                   \
        }                                                                                          \
    }
DEFINE_R16(f32, DTYPE_F32, 4)
DEFINE_R16(f16, DTYPE_F16, 2)
DEFINE_R16(bf16, DTYPE_BF16, 2)

/* ARMv8.2's sdot: Apple M1 and later, Graviton2 and later, Cortex-A55/A76 and later */
static bool cpu_has_dotprod(void)
{
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    return getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
#elif defined(__APPLE__)
    return true;
#else
    return false;
#endif
}

void kern_backend_init_neon(kern_backend_t *b)
{
    kern_backend_init_scalar(b);
    b->name = "neon";
    b->dot_f32 = dot_f32_neon;
    b->axpy_f32 = axpy_f32_neon;
    b->dot_f16 = dot_f16_neon;
    b->axpy_f16 = axpy_f16_neon;
    b->dot_bf16 = dot_bf16_neon;
    b->axpy_bf16 = axpy_bf16_neon;
    b->dot_q8 = dot_q8_neon;
    b->axpy_q8 = axpy_q8_neon;
    b->scale_f32 = scale_f32_neon;
    b->exp_f32 = exp_f32_neon;
    b->quantize_q8_0 = quantize_q8_0_neon;
    bool dotprod = cpu_has_dotprod();
    b->ops[DTYPE_Q8_0].vec_dot = dotprod ? vec_dot_q8_0_dotprod : vec_dot_q8_0_neon;
    b->ops[DTYPE_Q4_0].vec_dot = dotprod ? vec_dot_q4_0_dotprod : vec_dot_q4_0_neon;
    b->ops[DTYPE_Q4_K].vec_dot = dotprod ? vec_dot_q4_k_dotprod : vec_dot_q4_k_neon;
    b->ops[DTYPE_Q5_K].vec_dot = dotprod ? vec_dot_q5_k_dotprod : vec_dot_q5_k_neon;
    b->ops[DTYPE_Q6_K].vec_dot = dotprod ? vec_dot_q6_k_dotprod : vec_dot_q6_k_neon;
    b->attn_scores = attn_scores_neon;
    b->attn_accum = attn_accum_neon;
    kern_backend_add_prefill_neon(b);
    b->gemm_r16[DTYPE_F32] = gemm_r16_f32;
    b->gemm_r16[DTYPE_F16] = gemm_r16_f16;
    b->gemm_r16[DTYPE_BF16] = gemm_r16_bf16;
}
#endif
