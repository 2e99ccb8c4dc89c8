/* deepseek2.c — DeepSeek-V2/V3/R1 layers: multi-head latent attention (MLA) in the absorbed form
 * over a compressed KV cache, and the mixture of experts with shared experts and group-limited
 * routing.
 *
 * MLA (per token, per head h):
 *   q        = W_q_b · rmsnorm(W_q_a · x)      (or W_q · x without q_lora)  -> [nope | rope]
 *   [c | kpe] = W_kv_a · x; c = rmsnorm(c) · kv_a_norm; kpe = RoPE(kpe)     (shared by all heads)
 *   q_abs    = K_b[h] · q_nope                 (kv_lora_rank values: q moved into latent space)
 *   s[u]     = (q_abs · c[u] + RoPE(q_pe) · kpe[u]) · kq_scale,  p = softmax(s)
 *   o        = V_b[h] · Σ_u p[u] c[u]
 * The cache holds only [c | kpe] per token per layer (576 floats for R1, not 128·(192+128)).
 *
 * Routing (fp32 throughout: bf16 flips near-tied top-k choices):
 *   scores = sigmoid(W_r x) (V3/R1) or softmax(W_r x) (V2); selection adds exp_probs_b;
 *   groups keep the best n_limited_groups (group score: sum of its top-2 for sigmoid, max for
 *   softmax); top-k by biased score; weights = unbiased scores, optionally normalized, × scale.
 */
#include "model/deepseek2.h"
#include "model/layers.h"

#include "tensor/quant.h"

#include <math.h>
#include <string.h>

typedef struct mla_job {
    const r1_model *m;
    workspace *ws;
    int il, t0, n_tok, heads_per_task; /* tokens [t0, t0 + n_tok) of the batch */
    const float *qcat; /* (n_tok, H, kv_lora + rope): [q_abs | roped q_pe] per head */
    float *o_lat;      /* (n_tok, H, kv_lora) */
} mla_job;

/* A token's tasks: its head groups (one part), or its parts with every head (a long cache). */
static int mla_token_tasks(const mla_job *job, int t)
{
    int n_keys = job->ws->positions[t] + 1, H = job->m->cfg.n_heads, hg = job->heads_per_task;
    int parts = attn_n_chunks(n_keys);
    return parts > 1 ? parts : (H + hg - 1) / hg;
}

static void mla_worker(void *p, int ith, int nth)
{
    const mla_job *job = p;
    const workspace *ws = job->ws;
    const model_config *c = &job->m->cfg;
    int H = c->n_heads, R = c->kv_lora_rank, dk = R + c->qk_rope_head_dim;
    int hg = job->heads_per_task;
    float *scratch = ws->scores + (size_t)ith * (size_t)ws->scores_per_thread;
    const int *first = ws->task_first;
    /* tasks dealt round-robin: in a prompt, later tokens attend to more keys, so contiguous
     * ranges would give the last thread most of the work */
    int i = 0;
    for (int task = ith; task < first[job->n_tok]; task += nth) {
        while (first[i + 1] <= task) i++;
        int t = job->t0 + i, local = task - first[i], n_keys = ws->positions[t] + 1;
        const kv_cache *kv = ws->kvs[t];
        const void *cache = kv_cache_row(kv, job->il, 0);
        const float *q = job->qcat + (int64_t)t * H * dk;
        if (attn_n_chunks(n_keys) == 1) {
            int h0 = local * hg, nh = H - h0 < hg ? H - h0 : hg;
            kern_attention(q + (int64_t)h0 * dk, nh, dk, dk, cache, cache, kv->type, kv->row_floats,
                           n_keys, R, c->kq_scale, job->o_lat + ((int64_t)t * H + h0) * R, R,
                           scratch);
        } else {
            int per = attn_chunk_keys(n_keys), u0 = local * per;
            int n = n_keys - u0 < per ? n_keys - u0 : per;
            float *part = ws->attn_part + (int64_t)i * ws->part_per_token,
                  *mx = part + (int64_t)ATTN_MAX_CHUNKS * H * R, *sum = mx + ATTN_MAX_CHUNKS * H;
            kern_attention_part(q, H, dk, dk, kv_cache_row(kv, job->il, u0),
                                kv_cache_row(kv, job->il, u0), kv->type, kv->row_floats, n, R,
                                c->kq_scale, part + (int64_t)local * H * R, R, mx + local * H,
                                sum + local * H, scratch);
        }
    }
}

/* Combine the parts of every token that had more than one, one (token, head) at a time. */
static void mla_merge_worker(void *p, int ith, int nth)
{
    const mla_job *job = p;
    const workspace *ws = job->ws;
    int H = job->m->cfg.n_heads, R = job->m->cfg.kv_lora_rank;
    long r0, r1;
    threadpool_split((long)job->n_tok * H, ith, nth, &r0, &r1);
    for (long r = r0; r < r1; r++) {
        int i = (int)(r / H), h = (int)(r % H), t = job->t0 + i;
        int n_parts = attn_n_chunks(ws->positions[t] + 1);
        if (n_parts == 1) continue;
        const float *part = ws->attn_part + (int64_t)i * ws->part_per_token,
                    *mx = part + (int64_t)ATTN_MAX_CHUNKS * H * R, *sum = mx + ATTN_MAX_CHUNKS * H;
        kern_attention_merge(part + (int64_t)h * R, n_parts, (int64_t)H * R, R, mx + h, sum + h, H,
                             1, R, job->o_lat + ((int64_t)t * H + h) * R, R);
    }
}

/* ---- prefill in the decompressed form ----------------------------------------------------------
 * The absorbed form costs (kv_lora + rope) + kv_lora multiply-adds per (query, key, head): 1088
 * with R1's dims. Decompressing each key's latent row into that head's key and value first,
 *   k[u,h] = [k_pe[u] | k_up[h] · c[u]],  v[u,h] = v_b[h] · c[u]   ((nope + v) · kv_lora = 131072
 * multiply-adds per key and head, a matmul over all keys that the integer kernels run fast),
 * leaves (rope + nope) + v = 320 per pair. A batch of n tokens of one sequence after n_past cached
 * ones has n·n_past + n(n+1)/2 pairs; its own n keys cost the absorbed form as much (q_abs and
 * V_b · o_lat per query), so the decompressed form pays once the pairs' saving exceeds
 * decompressing the n_past earlier keys again. Same mathematics, other rounding: the forms agree
 * to float error (test_batch; test_fixtures_tiled compares every fixture with llama.cpp). */
typedef struct mla_dec_job {
    const r1_model *m;
    workspace *ws;
    int n_tok, n_keys, h0, n_h; /* heads [h0, h0 + n_h) of this group */
    const float *qd;            /* (n_tok, H, rope + nope): [roped q_pe | q_nope] */
    float *o;                   /* (n_tok, H, v) */
} mla_dec_job;

/* One task = one head × KERN_PREFILL_Q consecutive queries; dealt round-robin (later tiles see more
 * keys), neighbouring tasks on one head so its keys are shared in cache. */
static void mla_dec_worker(void *p, int ith, int nth)
{
    const mla_dec_job *job = p;
    const model_config *c = &job->m->cfg;
    int64_t H = c->n_heads, rope = c->qk_rope_head_dim, nope = c->qk_nope_head_dim,
            V = c->v_head_dim, dk = rope + nope, per_key = dk + V;
    int n_past = job->n_keys - job->n_tok,
        tiles = (job->n_tok + KERN_PREFILL_Q - 1) / KERN_PREFILL_Q;
    float *scratch = job->ws->scores + (size_t)ith * (size_t)job->ws->scores_per_thread;
    for (long task = ith; task < (long)job->n_h * tiles; task += nth) {
        int hl = (int)(task / tiles), t0 = (int)(task % tiles) * KERN_PREFILL_Q;
        int nq = job->n_tok - t0 < KERN_PREFILL_Q ? job->n_tok - t0 : KERN_PREFILL_Q;
        int64_t h = job->h0 + hl;
        const float *kv = job->ws->mla_kv + (int64_t)hl * job->n_keys * per_key;
        kern_attention_prefill(job->qd + ((int64_t)t0 * H + h) * dk, nq, H * dk, (int)dk, kv,
                               kv + dk, per_key, n_past + t0 + nq, (int)V, c->kq_scale,
                               job->o + ((int64_t)t0 * H + h) * V, H * V, scratch);
    }
}

typedef struct kpe_job {
    const float *lat;
    int64_t ld, rope_off, rope, n, n_h, dst_stride, per_key;
    float *dst; /* head hl's row i at dst + hl·dst_stride + i·per_key */
} kpe_job;

static void kpe_worker(void *p, int ith, int nth)
{
    const kpe_job *j = p;
    long r0, r1;
    threadpool_split((long)(j->n_h * j->n), ith, nth, &r0, &r1);
    for (long r = r0; r < r1; r++) {
        int64_t hl = r / j->n, i = r % j->n;
        memcpy(j->dst + hl * j->dst_stride + i * j->per_key, j->lat + i * j->ld + j->rope_off,
               (size_t)j->rope * sizeof(float));
    }
}

/* Whether this batch takes the decompressed form: one sequence at consecutive positions, and
 * cheaper by the count above (a decompression multiply-add weighed at half an attention one: the
 * integer matmul kernels run 2-4x faster per multiply-add than attention's fp32 ones). */
static bool use_decompressed(const r1_model *m, const workspace *ws, int n_tok)
{
    const model_config *c = &m->cfg;
    if (!ws->mla_kv || ws->attn_mode == ATTN_TOKENWISE || !ws_is_one_sequence(ws, n_tok))
        return false;
    int64_t per_key = c->qk_rope_head_dim + c->qk_nope_head_dim + c->v_head_dim;
    if ((int64_t)(ws->positions[0] + n_tok) * per_key > ws->mla_kv_floats) return false;
    if (ws->attn_mode == ATTN_TILED) return true;
    if (n_tok < ATTN_TILED_MIN_TOKENS) return false;
    double n = n_tok, past = ws->positions[0], pairs = n * past + n * (n + 1) / 2;
    double absorbed = 2.0 * c->kv_lora_rank + c->qk_rope_head_dim, decompressed = (double)per_key;
    double per_key_up = (double)(c->qk_nope_head_dim + c->v_head_dim) * c->kv_lora_rank;
    return pairs * (absorbed - decompressed) > 0.5 * past * per_key_up;
}

/* Attention of the batch in the decompressed form: o (n_tok, H, v) from the roped q. */
static void mla_decompressed(const r1_model *m, int il, workspace *ws, int n_tok, const float *q,
                             float *o)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t H = c->n_heads, R = c->kv_lora_rank, nope = c->qk_nope_head_dim,
            rope = c->qk_rope_head_dim, qh = nope + rope, per_key = rope + nope + c->v_head_dim;
    const kv_cache *kv = ws->kvs[0];
    int n_keys = ws->positions[0] + n_tok;

    float *qd = ws->buf[2]; /* reorder each head's query as its keys are laid out */
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t h = 0; h < H; h++) {
            const float *src = q + t * H * qh + h * qh;
            float *dst = qd + (t * H + h) * qh;
            memcpy(dst, src + nope, (size_t)rope * sizeof(float));
            memcpy(dst + rope, src, (size_t)nope * sizeof(float));
        }

    /* heads in groups whose keys fit the buffer (16 MB, or one head's keys over the whole
     * context); a quantized cache's latent rows are read back once per group */
    int64_t hg = ws->mla_kv_floats / ((int64_t)n_keys * per_key);
    hg = hg < 1 ? 1 : hg > H ? H : hg;
    int64_t groups = (H + hg - 1) / hg;
    hg = (H + groups - 1) / groups;
    kern_mm *mm = ws->mm;
    for (int64_t h0 = 0; h0 < H; h0 += hg) {
        int64_t nh = H - h0 < hg ? H - h0 : hg;
        for (int u0 = 0; u0 < n_keys; u0 += ws->n_batch) {
            int n = n_keys - u0 < ws->n_batch ? n_keys - u0 : ws->n_batch;
            const float *lat = ws->mla_lat;
            int64_t ld = R + rope;
            if (kv->type == DTYPE_F32) {
                lat = kv_cache_row(kv, il, u0);
                ld = kv->row_floats;
            } else {
                for (int i = 0; i < n; i++)
                    quant_dequantize_row(kv->type, kv_cache_row(kv, il, u0 + i),
                                         ws->mla_lat + i * ld, ld);
            }
            for (int64_t h = 0; h < nh; h++) {
                float *dst = ws->mla_kv + (h * n_keys + u0) * per_key;
                mm[2 * h] = (kern_mm){&ly->k_up, h0 + h, lat, ld, n, dst + rope, per_key};
                mm[2 * h + 1] = (kern_mm){&ly->v_b, h0 + h, lat, ld, n, dst + rope + nope, per_key};
            }
            kern_matmul_multi(&ws->kc, mm, (int)(2 * nh));
            kpe_job kj = {.lat = lat,
                          .ld = ld,
                          .rope_off = R,
                          .rope = rope,
                          .n = n,
                          .n_h = nh,
                          .dst_stride = (int64_t)n_keys * per_key,
                          .per_key = per_key,
                          .dst = ws->mla_kv + (int64_t)u0 * per_key};
            threadpool_run(m->pool, kpe_worker, &kj);
        }
        mla_dec_job job = {m, ws, n_tok, n_keys, (int)h0, (int)nh, qd, o};
        threadpool_run(m->pool, mla_dec_worker, &job);
    }
}

/* Attention of the batch in the absorbed form over the latent cache: o (n_tok, H, v). */
static void mla_absorbed(const r1_model *m, int il, workspace *ws, int n_tok, const float *q,
                         float *o_lat, float *qcat, float *o)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t H = c->n_heads, R = c->kv_lora_rank, nope = c->qk_nope_head_dim,
            rope = c->qk_rope_head_dim, qw = H * (nope + rope), V = c->v_head_dim;
    /* absorb K_b into the query: q_abs[t,h] = K_b[h] · q_nope[t,h], written next to the roped
     * q_pe so that a score is one dot product with a cache row [c | k_pe] */
    int64_t dk = R + rope;
    kern_mm *heads = ws->mm;
    for (int64_t h = 0; h < H; h++)
        heads[h] = (kern_mm){&ly->k_b, h, q + h * (nope + rope), qw, n_tok, qcat + h * dk, H * dk};
    kern_matmul_multi(&ws->kc, heads, (int)H);
    for (int t = 0; t < n_tok; t++)
        for (int64_t h = 0; h < H; h++)
            memcpy(qcat + (t * H + h) * dk + R, q + t * qw + h * (nope + rope) + nope,
                   (size_t)rope * sizeof(float));

    int nth = threadpool_n_threads(m->pool);
    int hg = n_tok >= nth ? (int)H : (int)((H + nth - 1) / nth);
    for (int t0 = 0; t0 < n_tok; t0 += ws->part_tokens) {
        int n = n_tok - t0 < ws->part_tokens ? n_tok - t0 : ws->part_tokens;
        mla_job job = {m, ws, il, t0, n, hg, qcat, o_lat};
        bool parts = false;
        ws->task_first[0] = 0;
        for (int i = 0; i < n; i++) {
            ws->task_first[i + 1] = ws->task_first[i] + mla_token_tasks(&job, t0 + i);
            parts |= attn_n_chunks(ws->positions[t0 + i] + 1) > 1;
        }
        threadpool_run(m->pool, mla_worker, &job);
        if (parts) threadpool_run(m->pool, mla_merge_worker, &job);
    }

    /* decompress the attended latent: o[t,h] = V_b[h] · o_lat[t,h] */
    for (int64_t h = 0; h < H; h++)
        heads[h] = (kern_mm){&ly->v_b, h, o_lat + h * R, H * R, n_tok, o + h * V, H * V};
    kern_matmul_multi(&ws->kc, heads, (int)H);
}

float *deepseek2_attention(const r1_model *m, int il, workspace *ws, int n_tok)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t E = c->dim, H = c->n_heads, R = c->kv_lora_rank, nope = c->qk_nope_head_dim,
            rope = c->qk_rope_head_dim, qw = H * (nope + rope), V = c->v_head_dim;
    float *q = ws->buf[0], *ckv = ws->buf[1], *qcat = ws->buf[2], *o_lat = ws->buf[3],
          *o = ws->buf[4], *tmp = ws->buf[5];

    int64_t kvw = R + rope;
    if (c->q_lora_rank > 0) {
        int64_t QL = c->q_lora_rank;
        kern_mm a[2] = {{&ly->wq_a, 0, ws->h, E, n_tok, tmp, QL},
                        {&ly->wkv_a, 0, ws->h, E, n_tok, ckv, kvw}};
        kern_matmul_multi(&ws->kc, a, 2);
        for (int t = 0; t < n_tok; t++)
            kern_rmsnorm(tmp + t * QL, tmp + t * QL, ly->q_a_norm, QL, c->rms_eps);
        kern_matmul(&ws->kc, &ly->wq_b, 0, tmp, QL, n_tok, q, qw);
    } else {
        kern_mm a[2] = {{&ly->wq_b, 0, ws->h, E, n_tok, q, qw},
                        {&ly->wkv_a, 0, ws->h, E, n_tok, ckv, kvw}};
        kern_matmul_multi(&ws->kc, a, 2);
    }
    forward_rope(m, ws, q, qw, n_tok, (int)H, nope + rope, nope);

    /* rotate the shared rope key in place, then cache [rmsnorm(c) | k_pe] at each token's
     * position in its own sequence's cache */
    forward_rope(m, ws, ckv + R, kvw, n_tok, 1, 0, 0);
    for (int t = 0; t < n_tok; t++) {
        float *row = ckv + t * kvw; /* normalized in place, then stored */
        kern_rmsnorm(row, row, ly->kv_a_norm, R, c->rms_eps);
        kv_cache_store(ws->kvs[t], il, ws->positions[t], 0, row, kvw);
    }

    if (use_decompressed(m, ws, n_tok)) {
        mla_decompressed(m, il, ws, n_tok, q, o);
    } else {
        mla_absorbed(m, il, ws, n_tok, q, o_lat, qcat, o);
    }
    kern_matmul(&ws->kc, &ly->wo, 0, o, H * V, n_tok, tmp, E);
    return tmp;
}

/* Choose n_activated_experts for one token from its router logits. */
static void route(const model_config *c, const float *bias, float *logits, float *biased,
                  int *out_ids, float *out_w)
{
    int X = c->n_routed_experts, K = c->n_activated_experts;
    if (c->score_func == GATING_SIGMOID) {
        for (int e = 0; e < X; e++) logits[e] = 1.0f / (1.0f + expf(-logits[e]));
    } else {
        kern_softmax(logits, X);
    }
    for (int e = 0; e < X; e++) biased[e] = logits[e] + (bias ? bias[e] : 0.0f);

    int G = c->n_expert_groups, per = X / G;
    if (G > 1 && c->n_limited_groups < G) {
        float gscore[MODEL_MAX_EXPERT_GROUPS];
        for (int g = 0; g < G; g++) {
            const float *s = biased + g * per;
            if (c->score_func == GATING_SIGMOID) { /* sum of the group's top 2 */
                float a = -INFINITY, b2 = -INFINITY;
                for (int i = 0; i < per; i++) {
                    if (s[i] > a) {
                        b2 = a;
                        a = s[i];
                    } else if (s[i] > b2) {
                        b2 = s[i];
                    }
                }
                gscore[g] = a + b2;
            } else {
                float a = -INFINITY;
                for (int i = 0; i < per; i++) a = s[i] > a ? s[i] : a;
                gscore[g] = a;
            }
        }
        /* keep the n_limited_groups best groups; mask the rest */
        bool kept[MODEL_MAX_EXPERT_GROUPS] = {false};
        for (int n = 0; n < c->n_limited_groups; n++) {
            int best = -1;
            for (int g = 0; g < G; g++)
                if (!kept[g] && (best < 0 || gscore[g] > gscore[best])) best = g;
            kept[best] = true;
        }
        for (int g = 0; g < G; g++)
            if (!kept[g])
                for (int i = 0; i < per; i++) biased[g * per + i] = -INFINITY;
    }
    /* top-K by biased score (K is small: selection by repeated max) */
    float sum = 0;
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < X; e++)
            if (biased[e] != -INFINITY && (best < 0 || biased[e] > biased[best])) best = e;
        if (best < 0) best = 0; /* all masked: cannot happen with validated groups */
        biased[best] = -INFINITY;
        out_ids[k] = best;
        out_w[k] = logits[best];
        sum += out_w[k];
    }
    if (c->norm_topk_prob) {
        if (sum < 6.103515625e-5f) sum = 6.103515625e-5f;
        for (int k = 0; k < K; k++) out_w[k] /= sum;
    }
    for (int k = 0; k < K; k++) out_w[k] *= c->route_scale;
}

float *deepseek2_moe(const r1_model *m, int il, workspace *ws, int n_tok)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t E = c->dim, X = c->n_routed_experts, K = c->n_activated_experts, F = c->moe_inter_dim;
    float *logits = ws->buf[0], *xe = ws->buf[1], *g = ws->buf[2], *u = ws->buf[3], *d = ws->buf[4],
          *acc = ws->buf[5];

    kern_matmul(&ws->kc, &ly->gate_inp, 0, ws->h, E, n_tok, logits, X);
    for (int t = 0; t < n_tok; t++)
        route(c, ly->exp_probs_b, logits + t * X, ws->router, ws->moe_ids + t * K,
              ws->moe_w + t * K);

    /* experts: gather the tokens routed to each (rows of xe, grouped by expert), then every
     * active expert's gate and up as one parallel job, SwiGLU, and every down as another */
    kern_mm *mm = ws->mm;
    int n_mm = 0, n = 0;
    int64_t *first = ws->moe_first;
    /* a split model holds experts [e0, e0 + n_experts) as matrices 0.. of its views */
    int64_t e0 = m->shard.expert0, e1 = e0 + m->shard.n_experts;
    for (int64_t e = e0; e < e1; e++) {
        int64_t start = n;
        for (int t = 0; t < n_tok; t++)
            for (int64_t k = 0; k < K; k++)
                if (ws->moe_ids[t * K + k] == e) {
                    ws->moe_tok[n] = t;
                    ws->moe_tw[n] = ws->moe_w[t * K + k];
                    memcpy(xe + n * E, ws->h + t * E, (size_t)E * sizeof(float));
                    n++;
                }
        if (n == start) continue;
        first[n_mm / 2] = start;
        mm[n_mm++] =
            (kern_mm){&ly->gate_exps, e - e0, xe + start * E, E, n - start, g + start * F, F};
        mm[n_mm++] =
            (kern_mm){&ly->up_exps, e - e0, xe + start * E, E, n - start, u + start * F, F};
    }
    if (n_mm) kern_matmul_multi(&ws->kc, mm, n_mm);
    kern_swiglu(g, u, (int64_t)n * F);
    int n_exp = n_mm / 2;
    for (int j = 0; j < n_exp; j++) {
        int64_t start = first[j], cnt = mm[2 * j].n_tok;
        mm[j] = (kern_mm){&ly->down_exps, mm[2 * j].mat, g + start * F, F, cnt, d + start * E, E};
    }
    if (n_exp) kern_matmul_multi(&ws->kc, mm, n_exp);
    memset(acc, 0, (size_t)n_tok * (size_t)E * sizeof(float));
    for (int i = 0; i < n; i++) {
        float w = ws->moe_tw[i];
        float *a = acc + (int64_t)ws->moe_tok[i] * E;
        const float *di = d + (int64_t)i * E;
        for (int64_t j = 0; j < E; j++) a[j] += w * di[j];
    }
    if (c->n_shared_experts > 0) {
        forward_swiglu(m, ws, &ly->gate_shexp, &ly->up_shexp, &ly->down_shexp, ws->h, n_tok, g, u,
                       d);
        for (int64_t i = 0; i < (int64_t)n_tok * E; i++) acc[i] += d[i];
    }
    return acc;
}
