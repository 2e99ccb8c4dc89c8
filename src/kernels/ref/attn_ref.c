/* attn_ref.c — the attention block kernels written plainly (see kern_backend_t.attn_scores):
 * the spec that x86/attn_avx2.c reproduces bit for bit. fmaf is one rounding, as the SIMD
 * fused multiply-add is. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/quant.h"

#include <math.h>

/* Element i of a cached row as a float (Q8_0: d·q rounded once). */
static inline float kv_elem(dtype t, const uint8_t *row, int64_t i)
{
    switch (t) {
    case DTYPE_F16:
        return fp16_to_f32(((const uint16_t *)(const void *)row)[i]);
    case DTYPE_BF16:
        return bf16_to_f32(((const uint16_t *)(const void *)row)[i]);
    case DTYPE_Q8_0: {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)row + i / 32;
        return fp16_to_f32(b->d) * (float)b->qs[i % 32];
    }
    default:
        return ((const float *)(const void *)row)[i];
    }
}

void kern_attn_scores_ref(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
                          size_t k_stride, int n_k, int dk, float *s, int ld_s)
{
    for (int h = 0; h < n_h; h++)
        for (int j = 0; j < n_k; j++) {
            const float *qh = q + h * q_stride;
            const uint8_t *kj = (const uint8_t *)k + (size_t)j * k_stride;
            float acc[8] = {0};
            int i = 0;
            for (; i < dk; i++) acc[i % 8] = fmaf(qh[i], kv_elem(t, kj, i), acc[i % 8]);
            for (; i % 8; i++) acc[i % 8] = fmaf(0.0f, 0.0f, acc[i % 8]); /* padding lanes */
            float a0 = acc[0] + acc[4], a1 = acc[1] + acc[5], a2 = acc[2] + acc[6],
                  a3 = acc[3] + acc[7];
            s[h * ld_s + j] = (a0 + a2) + (a1 + a3);
        }
}

void kern_attn_accum_ref(dtype t, float *o, int64_t o_stride, int n_h, const float *p, int ld_p,
                         const void *v, size_t v_stride, int n_k, int dv)
{
    for (int h = 0; h < n_h; h++)
        for (int j = 0; j < n_k; j++) {
            const uint8_t *vj = (const uint8_t *)v + (size_t)j * v_stride;
            float pj = p[h * ld_p + j], *oh = o + h * o_stride;
            for (int i = 0; i < dv; i++) oh[i] = fmaf(pj, kv_elem(t, vj, i), oh[i]);
        }
}
