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

/* The prefill block, written plainly. Scores: one fmaf chain per (query, key) in element order,
 * then × scale; a key the query does not see scores -inf. Per query: the block max, the new
 * running max mn = max(m, block max), c = e^(m − mn) (0 on the first block, where m = -inf; 1
 * when the max did not grow), l = l·c + Σ_j p_j in key order with p_j = e^(s_j − mn), and each
 * output o = o·c, then one fmaf per key in key order. */
void kern_attn_prefill_block_ref(const float *qt, int n_q, int dk, const float *k, const float *v,
                                 int64_t kv_stride, int n_k, int dv, float scale, int vis, float *m,
                                 float *l, float *ot, float *s)
{
    enum { Q = KERN_PREFILL_Q };
    for (int j = 0; j < n_k; j++)
        for (int i = 0; i < n_q; i++) {
            float a = 0;
            for (int d = 0; d < dk; d++) a = fmaf(qt[d * Q + i], k[j * kv_stride + d], a);
            s[j * Q + i] = j < vis + i ? a * scale : -INFINITY;
        }
    for (int i = 0; i < n_q; i++) {
        float bmax = -INFINITY;
        for (int j = 0; j < n_k; j++) bmax = s[j * Q + i] > bmax ? s[j * Q + i] : bmax;
        float mn = bmax > m[i] ? bmax : m[i], c = kern_expf(m[i] - mn), li = l[i] * c;
        for (int j = 0; j < n_k; j++) {
            float p = kern_expf(s[j * Q + i] - mn);
            s[j * Q + i] = p;
            li += p;
        }
        m[i] = mn;
        l[i] = li;
        for (int x = 0; x < dv; x++) {
            float acc = ot[x * Q + i] * c;
            for (int j = 0; j < n_k; j++) acc = fmaf(s[j * Q + i], v[j * kv_stride + x], acc);
            ot[x * Q + i] = acc;
        }
    }
}
