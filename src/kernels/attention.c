/* attention.c — fused causal attention over a KV cache with an online softmax (see kernels.h).
 * Keys are visited in blocks of ATTN_BLOCK; for each block every head of the call computes its
 * scores, rescales its running output when its running max grows, and accumulates the block's
 * values. Memory touched per call: the block, n_heads running outputs and n_heads × ATTN_BLOCK
 * scores, whatever the context length. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define ATTN_BLOCK 32
/* A cache larger than ATTN_STREAM_BYTES (one core's L2) streams from memory while the block
 * before it is computed: its rows are requested ATTN_PF_AHEAD rows ahead, ATTN_PF_ROWS at a time
 * between the score tiles. One burst of prefetches per block (1152 lines for an MLA block) had
 * stalled issue until the core's miss buffers drained — perf put 80 % of this function's time on
 * the prefetch instruction. Non-temporal hint: a row is read once more (values), then not again.
 * A smaller cache is already in cache: one score call per block and no prefetches run 10-20 %
 * faster there (bench/attn_bench.c, 256 keys). */
#define ATTN_PF_ROWS 4
#define ATTN_PF_AHEAD 16
#ifndef ATTN_STREAM_BYTES
#define ATTN_STREAM_BYTES ((size_t)1 << 20)
#endif

static void prefetch_rows(const uint8_t *base, size_t stride, size_t row_bytes, int u0, int u1)
{
    for (int u = u0; u < u1; u++)
        for (size_t off = 0; off < row_bytes; off += 64)
            __builtin_prefetch(base + (size_t)u * stride + off, 0, 0);
}

int64_t kern_attention_scratch_floats(int n_heads, int dk, int dv)
{
    /* scores, max, sum; and for bf16 dot products the packed query and probabilities */
    int64_t groups = (n_heads + 15) / 16;
    return (int64_t)n_heads * (ATTN_BLOCK + 2) + groups * 16 * ((dk + 1) / 2) +
           (int64_t)n_heads * (ATTN_BLOCK / 2);
}

/* Whether the bf16 dot-product kernels take this call (a BF16 cache on a CPU that has them). */
static bool use_bf16_dots(const kern_backend_t *be, dtype kv_type, int dk, int dv)
{
    return kv_type == DTYPE_BF16 && be->attn_scores_bf16 && dk % 2 == 0 && dv % 32 == 0;
}

/* attention_online with bf16 dot products: the same online softmax in fp32; the query (once)
 * and each block's probabilities rounded to bf16 and packed in pairs (kernels.h). */
static void attention_online_bf16(const kern_backend_t *be, const float *q, int n_heads,
                                  int64_t q_stride, int dk, const uint8_t *k, const uint8_t *v,
                                  size_t kv_stride, int n_keys, int dv, float scale, float *out,
                                  int64_t out_stride, float *s, float *mx, float *sum, uint32_t *qp,
                                  uint32_t *pp)
{
    be->attn_pack_q_bf16(q, q_stride, n_heads, dk, qp);
    for (int h = 0; h < n_heads; h++) {
        mx[h] = -INFINITY;
        sum[h] = 0;
    }
    size_t row_bytes = (size_t)(dk > dv ? dk : dv) * 2;
    bool stream = row_bytes * (size_t)n_keys > ATTN_STREAM_BYTES;
    for (int u0 = 0; u0 < n_keys; u0 += ATTN_BLOCK) {
        int nb = n_keys - u0 < ATTN_BLOCK ? n_keys - u0 : ATTN_BLOCK;
        if (stream) {
            int pf0 = u0 + ATTN_BLOCK, pf1 = pf0 + ATTN_BLOCK < n_keys ? pf0 + ATTN_BLOCK : n_keys;
            prefetch_rows(k, kv_stride, (size_t)dk * 2, pf0, pf1);
            if (v != k) prefetch_rows(v, kv_stride, (size_t)dv * 2, pf0, pf1);
        }
        be->attn_scores_bf16(qp, n_heads, k + (size_t)u0 * kv_stride, kv_stride, nb, dk, s,
                             ATTN_BLOCK);
        for (int h = 0; h < n_heads; h++) {
            float *sh = s + h * ATTN_BLOCK, bmax = -INFINITY;
            for (int j = 0; j < nb; j++) {
                sh[j] *= scale;
                bmax = sh[j] > bmax ? sh[j] : bmax;
            }
            if (bmax > mx[h]) {
                float c = expf(mx[h] - bmax);
                if (sum[h] > 0) be->scale_f32(out + h * out_stride, c, dv);
                sum[h] *= c;
                mx[h] = bmax;
            }
            for (int j = 0; j < nb; j++) sh[j] -= mx[h];
            be->exp_f32(sh, sh, nb);
            for (int j = 0; j < nb; j++) sum[h] += sh[j];
        }
        be->attn_pack_p_bf16(s, ATTN_BLOCK, n_heads, nb, pp, ATTN_BLOCK / 2);
        be->attn_accum_bf16(out, out_stride, n_heads, pp, ATTN_BLOCK / 2,
                            v + (size_t)u0 * kv_stride, kv_stride, nb, dv);
    }
}

/* The online pass over all n_keys (> 0): out = Σ_u e^(s_u − mx) v_u, unnormalized, with each
 * head's running max mx[h] and sum of exponentials sum[h]. */
static void attention_online(const kern_backend_t *be, const float *q, int n_heads,
                             int64_t q_stride, int dk, const uint8_t *k, const uint8_t *v,
                             dtype kv_type, size_t kv_stride, int n_keys, int dv, float scale,
                             float *out, int64_t out_stride, float *s, float *mx, float *sum)
{
    for (int h = 0; h < n_heads; h++) {
        mx[h] = -INFINITY;
        sum[h] = 0;
    }
    size_t k_bytes = kv_type == DTYPE_Q8_0 ? (size_t)dk / 32 * sizeof(block_q8_0)
                                           : (size_t)dk * (kv_type == DTYPE_F32 ? 4 : 2),
           v_bytes = kv_type == DTYPE_Q8_0 ? (size_t)dv / 32 * sizeof(block_q8_0)
                                           : (size_t)dv * (kv_type == DTYPE_F32 ? 4 : 2);
    bool stream = (k_bytes + (v != k ? v_bytes : 0)) * (size_t)n_keys > ATTN_STREAM_BYTES;
    int step = stream ? ATTN_PF_ROWS : ATTN_BLOCK;
    for (int u0 = 0; u0 < n_keys; u0 += ATTN_BLOCK) {
        int nb = n_keys - u0 < ATTN_BLOCK ? n_keys - u0 : ATTN_BLOCK;
        for (int j0 = 0; j0 < nb; j0 += step) {
            int n = nb - j0 < step ? nb - j0 : step;
            int pf0 = u0 + j0 + ATTN_PF_AHEAD, pf1 = pf0 + n < n_keys ? pf0 + n : n_keys;
            if (stream) {
                prefetch_rows(k, kv_stride, k_bytes, pf0, pf1);
                if (v != k) prefetch_rows(v, kv_stride, v_bytes, pf0, pf1);
            }
            be->attn_scores(kv_type, q, q_stride, n_heads, k + (size_t)(u0 + j0) * kv_stride,
                            kv_stride, n, dk, s + j0, ATTN_BLOCK);
        }
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
}

static size_t kv_row_stride_bytes(dtype kv_type, int64_t kv_stride_elems)
{
    return kv_type == DTYPE_Q8_0 ? (size_t)kv_stride_elems / 32 * sizeof(block_q8_0)
                                 : (size_t)kv_stride_elems * (kv_type == DTYPE_F32 ? 4 : 2);
}

void kern_attention(const float *q, int n_heads, int64_t q_stride, int dk, const void *k_,
                    const void *v_, dtype kv_type, int64_t kv_stride_elems, int n_keys, int dv,
                    float scale, float *out, int64_t out_stride, float *scratch)
{
    const kern_backend_t *be = kern_backend();
    const uint8_t *k = k_, *v = v_;
    size_t kv_stride = kv_row_stride_bytes(kv_type, kv_stride_elems);
    float *s = scratch; /* (n_heads, ATTN_BLOCK) scores, then probabilities */
    for (int h = 0; h < n_heads; h++) memset(out + h * out_stride, 0, (size_t)dv * sizeof(float));
    if (use_bf16_dots(be, kv_type, dk, dv)) {
        float *mx = scratch + (int64_t)n_heads * ATTN_BLOCK, *sum = mx + n_heads;
        uint32_t *qp = (uint32_t *)(sum + n_heads),
                 *pp = qp + (int64_t)(n_heads + 15) / 16 * 16 * (dk / 2);
        attention_online_bf16(be, q, n_heads, q_stride, dk, k, v, kv_stride, n_keys, dv, scale, out,
                              out_stride, s, mx, sum, qp, pp);
        for (int h = 0; h < n_heads; h++)
            if (sum[h] > 0) be->scale_f32(out + h * out_stride, 1.0f / sum[h], dv);
        return;
    }
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
    attention_online(be, q, n_heads, q_stride, dk, k, v, kv_type, kv_stride, n_keys, dv, scale, out,
                     out_stride, s, mx, sum);
    for (int h = 0; h < n_heads; h++)
        if (sum[h] > 0) be->scale_f32(out + h * out_stride, 1.0f / sum[h], dv);
}

void kern_attention_part(const float *q, int n_heads, int64_t q_stride, int dk, const void *k,
                         const void *v, dtype kv_type, int64_t kv_stride_elems, int n_keys, int dv,
                         float scale, float *out, int64_t out_stride, float *mx, float *sum,
                         float *scratch)
{
    const kern_backend_t *be = kern_backend();
    size_t kv_stride = kv_row_stride_bytes(kv_type, kv_stride_elems);
    for (int h = 0; h < n_heads; h++) memset(out + h * out_stride, 0, (size_t)dv * sizeof(float));
    if (use_bf16_dots(be, kv_type, dk, dv)) {
        uint32_t *qp = (uint32_t *)(scratch + (int64_t)n_heads * (ATTN_BLOCK + 2)),
                 *pp = qp + (int64_t)(n_heads + 15) / 16 * 16 * (dk / 2);
        attention_online_bf16(be, q, n_heads, q_stride, dk, k, v, kv_stride, n_keys, dv, scale, out,
                              out_stride, scratch, mx, sum, qp, pp);
        return;
    }
    attention_online(be, q, n_heads, q_stride, dk, k, v, kv_type, kv_stride, n_keys, dv, scale, out,
                     out_stride, scratch, mx, sum);
}

void kern_attention_merge(const float *part, int n_parts, int64_t part_stride, int64_t head_stride,
                          const float *mx, const float *sum, int64_t stat_stride, int n_heads,
                          int dv, float *out, int64_t out_stride)
{
    const kern_backend_t *be = kern_backend();
    for (int h = 0; h < n_heads; h++) {
        float m = -INFINITY;
        for (int c = 0; c < n_parts; c++)
            m = mx[c * stat_stride + h] > m ? mx[c * stat_stride + h] : m;
        float *o = out + h * out_stride;
        memset(o, 0, (size_t)dv * sizeof(float));
        double l = 0;
        for (int c = 0; c < n_parts; c++) {
            float s = sum[c * stat_stride + h];
            if (!(s > 0)) continue;
            float w = expf(mx[c * stat_stride + h] - m);
            l += (double)s * w;
            const float *pc = part + c * part_stride + h * head_stride;
            for (int x = 0; x < dv; x++) o[x] += w * pc[x];
        }
        if (l > 0) be->scale_f32(o, (float)(1.0 / l), dv);
    }
}

int64_t kern_attention_prefill_scratch_floats(int dk, int dv)
{
    return (int64_t)(dk + dv + KERN_PREFILL_Q + 2) * KERN_PREFILL_Q;
}

void kern_attention_prefill(const float *q, int n_q, int64_t q_stride, int dk, const float *k,
                            const float *v, int64_t kv_stride, int n_keys, int dv, float scale,
                            float *out, int64_t out_stride, float *scratch)
{
    enum { Q = KERN_PREFILL_Q };
    const kern_backend_t *be = kern_backend();
    /* the queries and outputs transposed (the block kernel works on one element of every query
     * at once), the block's scores, each query's running max and sum */
    float *qt = scratch, *ot = qt + (int64_t)dk * Q, *s = ot + (int64_t)dv * Q, *m = s + Q * Q,
          *l = m + Q;
    for (int d = 0; d < dk; d++)
        for (int i = 0; i < Q; i++) qt[d * Q + i] = i < n_q ? q[i * q_stride + d] : 0.0f;
    memset(ot, 0, (size_t)dv * Q * sizeof(float));
    for (int i = 0; i < Q; i++) {
        m[i] = -INFINITY;
        l[i] = 0;
    }
    int vis0 = n_keys - n_q + 1; /* keys the first query sees */
    for (int u0 = 0; u0 < n_keys; u0 += Q) {
        int nb = n_keys - u0 < Q ? n_keys - u0 : Q;
        be->attn_prefill_block(qt, n_q, dk, k + (int64_t)u0 * kv_stride,
                               v + (int64_t)u0 * kv_stride, kv_stride, nb, dv, scale, vis0 - u0, m,
                               l, ot, s);
    }
    for (int i = 0; i < n_q; i++) {
        float r = l[i] > 0 ? 1.0f / l[i] : 0.0f, *o = out + i * out_stride;
        for (int x = 0; x < dv; x++) o[x] = ot[x * Q + i] * r;
    }
}
