/* attn_bf16_ref.c — the spec of attention with bf16 dot products (kernels.h, attn_scores_bf16 /
 * attn_accum_bf16): what an AVX512-BF16 `vdpbf16ps` computes, written out one rounding at a time.
 * A pair of bf16 products is added to an fp32 sum odd element first, each product exact (8-bit
 * mantissas) and each addition rounded to nearest even, with bf16 denormals read as zero and
 * denormal sums flushed to zero. The packing helpers are shared by every backend. */
#include "kernels/kernels.h"

#include <string.h>

static float bf16_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    if (!(u & 0x7f800000u)) u &= 0x80000000u; /* denormal input: zero */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float ftz(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (!(u & 0x7f800000u)) u &= 0x80000000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

void kern_attn_pack_q_bf16(const float *q, int64_t q_stride, int n_h, int dk, uint32_t *qp)
{
    int n_g = (n_h + 15) / 16, n_p = dk / 2;
    for (int g = 0; g < n_g; g++)
        for (int p = 0; p < n_p; p++)
            for (int l = 0; l < 16; l++) {
                int h = 16 * g + l;
                uint32_t v = 0;
                if (h < n_h) {
                    const float *qh = q + h * q_stride;
                    v = kern_f32_to_bf16_ne(qh[2 * p]) |
                        (uint32_t)kern_f32_to_bf16_ne(qh[2 * p + 1]) << 16;
                }
                qp[((int64_t)g * n_p + p) * 16 + l] = v;
            }
}

void kern_attn_pack_p_bf16(const float *p, int ld_p, int n_h, int n_k, uint32_t *pp, int ld_pp)
{
    for (int h = 0; h < n_h; h++)
        for (int j = 0; 2 * j < n_k; j++) {
            const float *ph = p + h * ld_p;
            uint32_t hi = 2 * j + 1 < n_k ? kern_f32_to_bf16_ne(ph[2 * j + 1]) : 0;
            pp[h * ld_pp + j] = kern_f32_to_bf16_ne(ph[2 * j]) | hi << 16;
        }
}

void kern_attn_scores_bf16_ref(const uint32_t *qp, int n_h, const void *k_, size_t k_stride,
                               int n_k, int dk, float *s, int ld_s)
{
    const uint8_t *k = k_;
    int n_p = dk / 2;
    for (int h = 0; h < n_h; h++) {
        const uint32_t *qg = qp + (int64_t)(h / 16) * n_p * 16 + h % 16;
        for (int j = 0; j < n_k; j++) {
            const uint16_t *kj = (const uint16_t *)(const void *)(k + (size_t)j * k_stride);
            float acc = 0;
            for (int p = 0; p < n_p; p++) {
                uint32_t qv = qg[(int64_t)p * 16];
                acc = ftz(acc + bf16_f32(kj[2 * p + 1]) * bf16_f32((uint16_t)(qv >> 16)));
                acc = ftz(acc + bf16_f32(kj[2 * p]) * bf16_f32((uint16_t)qv));
            }
            s[h * ld_s + j] = acc;
        }
    }
}

void kern_attn_accum_bf16_ref(float *o, int64_t o_stride, int n_h, const uint32_t *pp, int ld_pp,
                              const void *v_, size_t v_stride, int n_k, int dv)
{
    const uint8_t *v = v_;
    for (int h = 0; h < n_h; h++) {
        float *oh = o + h * o_stride;
        for (int j = 0; 2 * j < n_k; j++) {
            uint32_t pv = pp[h * ld_pp + j];
            const uint16_t *v0 = (const uint16_t *)(const void *)(v + (size_t)(2 * j) * v_stride),
                           *v1 = 2 * j + 1 < n_k
                                     ? (const uint16_t *)(const void *)(v + (size_t)(2 * j + 1) *
                                                                                v_stride)
                                     : NULL;
            float p0 = bf16_f32((uint16_t)pv), p1 = bf16_f32((uint16_t)(pv >> 16));
            for (int c = 0; c < dv; c++) {
                float x1 = v1 ? bf16_f32(v1[c]) : 0.0f;
                oh[c] = ftz(oh[c] + x1 * p1);
                oh[c] = ftz(oh[c] + bf16_f32(v0[c]) * p0);
            }
        }
    }
}
