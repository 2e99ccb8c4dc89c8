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
#ifndef ATTN_PREFETCH
#define ATTN_PREFETCH 1 /* blocks ahead */
#endif

int64_t kern_attention_scratch_floats(int n_heads, int dv)
{
    return (int64_t)n_heads * (ATTN_BLOCK + 2);
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
    float *s = scratch; /* (n_heads, ATTN_BLOCK) scores, then probabilities */
    for (int h = 0; h < n_heads; h++) memset(out + h * out_stride, 0, (size_t)dv * sizeof(float));
    if (n_keys <= ATTN_BLOCK) {
        /* everything fits in one block: the plain two-pass softmax (normalized probabilities,
         * sum in double), no rescaling */
        be->attn_scores(kv_type, q, q_stride, n_heads, k, kv_stride, n_keys, dk, s, ATTN_BLOCK);
        for (int h = 0; h < n_heads; h++) {
            float *sh = s + h * ATTN_BLOCK;
            for (int u = 0; u < n_keys; u++) sh[u] *= scale;
            kern_softmax(sh, n_keys);
        }
        be->attn_accum(kv_type, out, out_stride, n_heads, s, ATTN_BLOCK, v, kv_stride, n_keys, dv);
        return;
    }
    float *mx = scratch + (int64_t)n_heads * ATTN_BLOCK; /* (n_heads) running max */
    float *sum = mx + n_heads;                           /* (n_heads) running sum of exp */
    for (int h = 0; h < n_heads; h++) {
        mx[h] = -INFINITY;
        sum[h] = 0;
    }
    size_t row_bytes = kv_type == DTYPE_Q8_0 ? (size_t)dk / 32 * sizeof(block_q8_0)
                                             : (size_t)dk * (kv_type == DTYPE_F32 ? 4 : 2);
    for (int u0 = 0; u0 < n_keys; u0 += ATTN_BLOCK) {
        int nb = n_keys - u0 < ATTN_BLOCK ? n_keys - u0 : ATTN_BLOCK;
        /* a long cache streams from memory, faster when the next block is requested
         * ahead (the hardware prefetcher alone left one core at ~15 GB/s) */
        int pf0 = u0 + ATTN_PREFETCH * ATTN_BLOCK, pf1 = pf0 + ATTN_BLOCK;
        pf1 = pf1 < n_keys ? pf1 : n_keys;
        for (int u = pf0; u < pf1; u++) {
            const uint8_t *row = k + (size_t)u * kv_stride;
            for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off, 0, 3);
        }
        be->attn_scores(kv_type, q, q_stride, n_heads, k + (size_t)u0 * kv_stride, kv_stride, nb,
                        dk, s, ATTN_BLOCK);
        for (int h = 0; h < n_heads; h++) {
            float *sh = s + h * ATTN_BLOCK, bmax = -INFINITY;
            for (int j = 0; j < nb; j++) {
                sh[j] *= scale;
                bmax = sh[j] > bmax ? sh[j] : bmax;
            }
            if (bmax > mx[h]) { /* rescale what was accumulated under the old max */
                float c = expf(mx[h] - bmax);
                if (sum[h] > 0) be->scale_f32(out + h * out_stride, c, dv);
                sum[h] *= c;
                mx[h] = bmax;
            }
            for (int j = 0; j < nb; j++) sh[j] -= mx[h];
            be->exp_f32(sh, sh, nb);
            for (int j = 0; j < nb; j++) sum[h] += sh[j];
        }
        be->attn_accum(kv_type, out, out_stride, n_heads, s, ATTN_BLOCK, v + (size_t)u0 * kv_stride,
                       kv_stride, nb, dv);
    }
    for (int h = 0; h < n_heads; h++)
        if (sum[h] > 0) be->scale_f32(out + h * out_stride, 1.0f / sum[h], dv);
}
