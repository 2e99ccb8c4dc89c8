/* attention.c — fused causal attention over a KV cache with an online softmax (see kernels.h).
 * Keys are visited in blocks of ATTN_BLOCK; for each block every head of the call computes its
 * scores, rescales its running output when its running max grows, and accumulates the block's
 * values. Memory touched per call: the block, n_heads running outputs and n_heads × ATTN_BLOCK
 * scores, whatever the context length. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"

#include <math.h>
#include <string.h>

#define ATTN_BLOCK 32

int64_t kern_attention_scratch_floats(int n_heads, int dv)
{
    return (int64_t)n_heads * (ATTN_BLOCK + 2);
}

/* q · key and y += a · value for a cache row of any supported type (the branch goes the same way
 * for a whole call, so it predicts perfectly). */
static inline float kv_dot(const kern_backend_t *be, dtype t, const float *a, const void *b,
                           int64_t n)
{
    if (t == DTYPE_F16) return be->dot_f16(a, b, n);
    if (t == DTYPE_BF16) return be->dot_bf16(a, b, n);
    if (t == DTYPE_Q8_0) return be->dot_q8(a, b, n);
    return be->dot_f32(a, b, n);
}

static inline void kv_axpy(const kern_backend_t *be, dtype t, float *y, float a, const void *x,
                           int64_t n)
{
    if (t == DTYPE_F16)
        be->axpy_f16(y, a, x, n);
    else if (t == DTYPE_BF16)
        be->axpy_bf16(y, a, x, n);
    else if (t == DTYPE_Q8_0)
        be->axpy_q8(y, a, x, n);
    else
        be->axpy_f32(y, a, x, n);
}

void kern_attention(const float *q, int n_heads, int64_t q_stride, int dk, const void *k_,
                    const void *v_, dtype kv_type, int64_t kv_stride_elems, int n_keys, int dv,
                    float scale, float *out, int64_t out_stride, float *scratch)
{
    const kern_backend_t *be = kern_backend();
    const uint8_t *k = k_, *v = v_;
    size_t kv_stride = kv_type == DTYPE_Q8_0
                           ? (size_t)kv_stride_elems / 32 * sizeof(block_q8_0)
                           : (size_t)kv_stride_elems * (kv_type == DTYPE_F32 ? 4 : 2); /* bytes */
    if (n_keys <= ATTN_BLOCK) {
        /* everything fits in one block: the plain two-pass softmax (normalized probabilities,
         * sum in double), no rescaling */
        for (int h = 0; h < n_heads; h++) {
            float *sh = scratch, *oh = out + h * out_stride;
            for (int u = 0; u < n_keys; u++)
                sh[u] =
                    kv_dot(be, kv_type, q + h * q_stride, k + (size_t)u * kv_stride, dk) * scale;
            kern_softmax(sh, n_keys);
            memset(oh, 0, (size_t)dv * sizeof(float));
            for (int u = 0; u < n_keys; u++)
                kv_axpy(be, kv_type, oh, sh[u], v + (size_t)u * kv_stride, dv);
        }
        return;
    }
    float *s = scratch;                                  /* (n_heads, ATTN_BLOCK) scores */
    float *mx = scratch + (int64_t)n_heads * ATTN_BLOCK; /* (n_heads) running max */
    float *sum = mx + n_heads;                           /* (n_heads) running sum of exp */
    for (int h = 0; h < n_heads; h++) {
        mx[h] = -INFINITY;
        sum[h] = 0;
        memset(out + h * out_stride, 0, (size_t)dv * sizeof(float));
    }
    for (int u0 = 0; u0 < n_keys; u0 += ATTN_BLOCK) {
        int nb = n_keys - u0 < ATTN_BLOCK ? n_keys - u0 : ATTN_BLOCK;
        for (int h = 0; h < n_heads; h++) {
            const float *qh = q + h * q_stride;
            float *sh = s + h * ATTN_BLOCK, bmax = -INFINITY;
            for (int j = 0; j < nb; j++) {
                sh[j] = kv_dot(be, kv_type, qh, k + (size_t)(u0 + j) * kv_stride, dk) * scale;
                bmax = sh[j] > bmax ? sh[j] : bmax;
            }
            float *oh = out + h * out_stride;
            if (bmax > mx[h]) { /* rescale what was accumulated under the old max */
                float c = expf(mx[h] - bmax);
                if (sum[h] > 0) be->scale_f32(oh, c, dv);
                sum[h] *= c;
                mx[h] = bmax;
            }
            for (int j = 0; j < nb; j++) {
                float p = expf(sh[j] - mx[h]);
                sum[h] += p;
                kv_axpy(be, kv_type, oh, p, v + (size_t)(u0 + j) * kv_stride, dv);
            }
        }
    }
    for (int h = 0; h < n_heads; h++)
        if (sum[h] > 0) be->scale_f32(out + h * out_stride, 1.0f / sum[h], dv);
}
