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
#include "model/forward.h"

#include <math.h>
#include <string.h>

typedef struct mla_job {
    const r1_model *m;
    workspace *ws;
    int il, n_tok, heads_per_task;
    const float *qcat; /* (n_tok, H, kv_lora + rope): [q_abs | roped q_pe] per head */
    float *o_lat;      /* (n_tok, H, kv_lora) */
} mla_job;

/* One task = one token × a group of heads; all heads attend over the same latent rows. */
static void mla_worker(void *p, int ith, int nth)
{
    const mla_job *job = p;
    const model_config *c = &job->m->cfg;
    int H = c->n_heads, R = c->kv_lora_rank, dk = R + c->qk_rope_head_dim;
    int hg = job->heads_per_task, groups = (H + hg - 1) / hg;
    float *scratch = job->ws->scores + (size_t)ith * (size_t)job->ws->scores_per_thread;
    /* tasks dealt round-robin: in a prompt, later tokens attend to more keys, so contiguous
     * ranges would give the last thread most of the work */
    for (long task = ith; task < (long)job->n_tok * groups; task += nth) {
        int t = (int)(task / groups), h0 = (int)(task % groups) * hg;
        int nh = H - h0 < hg ? H - h0 : hg;
        const kv_cache *kv = job->ws->kvs[t];
        const void *cache = kv_cache_row(kv, job->il, 0);
        kern_attention(job->qcat + ((int64_t)t * H + h0) * dk, nh, dk, dk, cache, cache, kv->type,
                       kv->row_floats, job->ws->positions[t] + 1, R, c->kq_scale,
                       job->o_lat + ((int64_t)t * H + h0) * R, R, scratch);
    }
}

void deepseek2_attention(const r1_model *m, int il, workspace *ws, int n_tok)
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
    mla_job job = {m, ws, il, n_tok, hg, qcat, o_lat};
    threadpool_run(m->pool, mla_worker, &job);

    /* decompress the attended latent: o[t,h] = V_b[h] · o_lat[t,h] */
    for (int64_t h = 0; h < H; h++)
        heads[h] = (kern_mm){&ly->v_b, h, o_lat + h * R, H * R, n_tok, o + h * V, H * V};
    kern_matmul_multi(&ws->kc, heads, (int)H);
    kern_matmul(&ws->kc, &ly->wo, 0, o, H * V, n_tok, tmp, E);
    for (int64_t i = 0; i < (int64_t)n_tok * E; i++) ws->x[i] += tmp[i];
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

void deepseek2_moe(const r1_model *m, int il, workspace *ws, int n_tok)
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
    for (int64_t e = 0; e < X; e++) {
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
        mm[n_mm++] = (kern_mm){&ly->gate_exps, e, xe + start * E, E, n - start, g + start * F, F};
        mm[n_mm++] = (kern_mm){&ly->up_exps, e, xe + start * E, E, n - start, u + start * F, F};
    }
    kern_matmul_multi(&ws->kc, mm, n_mm);
    kern_swiglu(g, u, (int64_t)n * F);
    int n_exp = n_mm / 2;
    for (int j = 0; j < n_exp; j++) {
        int64_t start = first[j], cnt = mm[2 * j].n_tok;
        mm[j] = (kern_mm){&ly->down_exps, mm[2 * j].mat, g + start * F, F, cnt, d + start * E, E};
    }
    kern_matmul_multi(&ws->kc, mm, n_exp);
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
    for (int64_t i = 0; i < (int64_t)n_tok * E; i++) ws->x[i] += acc[i];
}
