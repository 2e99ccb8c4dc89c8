/* forward.c — the architecture-independent parts of a forward pass: embedding lookup, RoPE tables
 * (plain, linear, Llama-3 frequency factors, YaRN), the layer loop over the per-architecture
 * sub-layers, the final norm and the output head, and the workspace that holds every
 * intermediate (sized once per session). The shared layer pieces are in layers.c. */
#include "model/forward.h"
#include "model/deepseek2.h"
#include "model/llama.h"

#include "base/err.h"
#include "dist/dist.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

r1_status workspace_init(workspace *ws, const r1_model *m, int n_batch, int n_ctx, char *err)
{
    const model_config *c = &m->cfg;
    memset(ws, 0, sizeof *ws);
    ws->n_batch = n_batch;
    ws->n_threads = threadpool_n_threads(m->pool);
    int64_t w = c->dim;
    if (c->arch == ARCH_DEEPSEEK2) {
        int64_t H = c->n_heads;
        w = max64(w, H * (c->qk_nope_head_dim + c->qk_rope_head_dim));
        w = max64(w, c->kv_lora_rank + c->qk_rope_head_dim);
        w = max64(w, H * (c->kv_lora_rank + c->qk_rope_head_dim));
        w = max64(w, H * c->v_head_dim);
        w = max64(w, c->q_lora_rank);
        w = max64(w, c->n_routed_experts);
        w = max64(w,
                  (int64_t)c->moe_inter_dim * (c->n_shared_experts > 1 ? c->n_shared_experts : 1));
        w = max64(w, c->inter_dim);
        /* all routed experts' rows at once: n_tok·K gathered inputs, intermediates, outputs */
        w = max64(w, (int64_t)c->n_activated_experts * c->dim);
        w = max64(w, (int64_t)c->n_activated_experts * c->moe_inter_dim);
    } else {
        w = max64(w, (int64_t)c->n_heads * c->head_dim);
        w = max64(w, (int64_t)c->inter_dim);
    }
    if (m->n_mtp) w = max64(w, 2 * (int64_t)c->dim); /* MTP: eh_proj's input */
    ws->width = w;
    size_t nb = (size_t)n_batch;
    int k = c->n_activated_experts > 0 ? c->n_activated_experts : 1;
    int half = (c->arch == ARCH_DEEPSEEK2 ? c->qk_rope_head_dim : c->rope_dim) / 2;
    ws->x = malloc(nb * (size_t)c->dim * sizeof(float));
    ws->h = malloc(nb * (size_t)c->dim * sizeof(float));
    bool ok = ws->x && ws->h;
    for (int i = 0; i < 6; i++) ok = ok && (ws->buf[i] = malloc(nb * (size_t)w * sizeof(float)));
    int attn_heads = c->n_heads,
        attn_dv = c->arch == ARCH_DEEPSEEK2 ? c->kv_lora_rank : c->head_dim;
    int attn_dk = c->arch == ARCH_DEEPSEEK2 ? c->kv_lora_rank + c->qk_rope_head_dim : c->head_dim;
    ws->scores_per_thread = kern_attention_scratch_floats(attn_heads, attn_dk, attn_dv);
    /* and the prefill kernel's tiles */
    int dk_tile =
            c->arch == ARCH_DEEPSEEK2 ? c->qk_rope_head_dim + c->qk_nope_head_dim : c->head_dim,
        dv_tile = c->arch == ARCH_DEEPSEEK2 ? c->v_head_dim : c->head_dim;
    ws->scores_per_thread =
        max64(ws->scores_per_thread, kern_attention_prefill_scratch_floats(dk_tile, dv_tile));
    ok = ok && (ws->scores =
                    malloc((size_t)ws->n_threads * (size_t)ws->scores_per_thread * sizeof(float)));
    ok = ok && (ws->rope_cos = malloc(nb * (size_t)half * sizeof(float)));
    ok = ok && (ws->rope_sin = malloc(nb * (size_t)half * sizeof(float)));
    ok = ok && (ws->positions = malloc(nb * sizeof(int)));
    ok = ok && (ws->kvs = malloc(nb * sizeof(kv_cache *)));
    int64_t n_mm = max64(max64(2 * (int64_t)c->n_heads, 2 * (int64_t)c->n_routed_experts), 4);
    ok = ok && (ws->mm = malloc((size_t)n_mm * sizeof *ws->mm));
    ok = ok && (ws->moe_first = malloc((size_t)(c->n_routed_experts + 1) * sizeof(int64_t)));
    ok = ok && (ws->moe_ids = malloc(nb * (size_t)k * sizeof(int)));
    ok = ok && (ws->moe_w = malloc(nb * (size_t)k * sizeof(float)));
    ok = ok && (ws->moe_tok = malloc(nb * (size_t)k * sizeof(int)));
    ok = ok && (ws->moe_tw = malloc(nb * (size_t)k * sizeof(float)));
    ok = ok && (ws->router = malloc((size_t)(c->n_routed_experts + 1) * sizeof(float)));
    /* the widest matmul group per token: routed experts' gate+up (2·K·dim), all heads' MLA
     * up-projections, q/k/v, ... (see kern_matmul_multi calls) */
    int64_t per_tok = 3 * (int64_t)c->dim;
    per_tok = max64(per_tok, 2 * (int64_t)(c->n_activated_experts + 1) * c->dim);
    per_tok = max64(per_tok, (int64_t)(c->n_activated_experts + 1) * c->moe_inter_dim);
    per_tok = max64(per_tok, 2 * (int64_t)c->inter_dim);
    per_tok = max64(per_tok, w);
    ok = ok && kern_ctx_init(&ws->kc, m->pool, per_tok * n_batch);
    const char *env = getenv("R1_PREFILL_ATTN");
    ws->attn_mode = !env                        ? ATTN_AUTO
                    : !strcmp(env, "tokenwise") ? ATTN_TOKENWISE
                    : !strcmp(env, "tiled")     ? ATTN_TILED
                                                : ATTN_AUTO;
    if (ok && c->arch == ARCH_DEEPSEEK2) {
        if (ws->attn_mode == ATTN_TILED || n_batch >= ATTN_TILED_MIN_TOKENS) {
            /* room for one head's keys over the whole context, or more heads at once up to
             * 16 MB; pages are touched only by long prompts */
            int64_t per_key = c->qk_rope_head_dim + c->qk_nope_head_dim + c->v_head_dim;
            ws->mla_kv_floats = max64((int64_t)n_ctx * per_key, (int64_t)4 << 20);
            ok = (ws->mla_kv = malloc((size_t)ws->mla_kv_floats * sizeof(float))) &&
                 (ws->mla_lat =
                      malloc(nb * (size_t)(c->kv_lora_rank + c->qk_rope_head_dim) * sizeof(float)));
        }
    }
    /* the parts of a long cache's attention: up to 16 MB of tokens at a time, at least one */
    ws->part_per_token = (int64_t)ATTN_MAX_CHUNKS * attn_heads * (attn_dv + 2);
    ws->part_tokens =
        (int)max64(1, min64(n_batch, ((int64_t)4 << 20) / max64(1, ws->part_per_token)));
    ok = ok && (ws->attn_part =
                    malloc((size_t)ws->part_tokens * (size_t)ws->part_per_token * sizeof(float)));
    ok = ok && (ws->task_first = malloc((nb + 1) * sizeof(int)));
    if (ok && dist_is_split(m->dist)) {
        int64_t nv = 0;
        for (int r = 0; r < m->dist->size; r++) nv = max64(nv, m->shard.n_vocab_rows[r]);
        ok = (ws->dist_msg = malloc(3 * nb * sizeof(int32_t))) &&
             (ws->dist_logits = malloc((size_t)(DIST_HEAD_ROWS * nv) * sizeof(float)));
    }
    if (!ok) {
        workspace_free(ws);
        return err_set(err, R1_ERR_NOMEM, "cannot allocate the forward-pass workspace (%d x %lld)",
                       n_batch, (long long)w);
    }
    return R1_OK;
}

void workspace_free(workspace *ws)
{
    free(ws->x);
    free(ws->h);
    for (int i = 0; i < 6; i++) free(ws->buf[i]);
    free(ws->scores);
    free(ws->rope_cos);
    free(ws->rope_sin);
    free(ws->positions);
    free(ws->kvs);
    free(ws->mm);
    free(ws->moe_first);
    free(ws->moe_ids);
    free(ws->moe_w);
    free(ws->moe_tok);
    free(ws->moe_tw);
    free(ws->router);
    free(ws->mla_kv);
    free(ws->mla_lat);
    free(ws->attn_part);
    free(ws->task_first);
    free(ws->dist_msg);
    free(ws->dist_logits);
    kern_ctx_free(&ws->kc);
    memset(ws, 0, sizeof *ws);
}

/* YaRN correction range: the pair index where a dimension completes n_rot rotations over the
 * original context. Pairs below `low` keep their frequency, above `high` are interpolated. */
static double yarn_corr_dim(int n_dims, int n_ctx_orig, double n_rot, double base)
{
    return n_dims * log(n_ctx_orig / (n_rot * 2 * M_PI)) / (2 * log(base));
}

static void rope_tables(const r1_model *m, workspace *ws, int n_tok)
{
    const model_config *c = &m->cfg;
    int n_dims = c->rope_dim, half = n_dims / 2;
    double freq_scale = 1.0 / c->rope_factor, amplitude = 1.0, low = 0, high = 0;
    if (c->use_yarn) {
        low = fmax(0.0,
                   floor(yarn_corr_dim(n_dims, c->original_seq_len, c->beta_fast, c->rope_theta)));
        high = fmin(n_dims - 1,
                    ceil(yarn_corr_dim(n_dims, c->original_seq_len, c->beta_slow, c->rope_theta)));
        /* deepseek2 folds YaRN's magnitude correction into kq_scale instead (mscale²) */
        if (c->arch != ARCH_DEEPSEEK2) amplitude = 1.0 + 0.1 * log(1.0 / freq_scale);
    }
    for (int t = 0; t < n_tok; t++) {
        double pos = ws->positions[t];
        for (int i = 0; i < half; i++) {
            double theta_extrap = pos * pow(c->rope_theta, -2.0 * i / n_dims);
            if (m->rope_freq_factors) theta_extrap /= m->rope_freq_factors[i];
            double theta = freq_scale * theta_extrap;
            if (c->use_yarn) {
                double y = (i - low) / fmax(0.001, high - low);
                double ramp_mix = 1.0 - fmin(1.0, fmax(0.0, y)); /* 1: keep, 0: interpolate */
                theta = theta * (1 - ramp_mix) + theta_extrap * ramp_mix;
            }
            ws->rope_cos[t * half + i] = (float)(cos(theta) * amplitude);
            ws->rope_sin[t * half + i] = (float)(sin(theta) * amplitude);
        }
    }
}

/* Add a sub-layer's output into the residual stream: summed over the ranks of a split model first
 * (each holds a share of the heads, experts or FFN columns: one allreduce of n_tok·dim floats). */
static void add_sublayer(const r1_model *m, workspace *ws, float *out, int n_tok)
{
    int64_t n = (int64_t)n_tok * m->cfg.dim;
    dist_allreduce_sum(m->dist, out, n);
    for (int64_t i = 0; i < n; i++) ws->x[i] += out[i];
}

/* Layer il (attention, then the dense or MoE FFN) over the residual stream ws->x. */
static void forward_layer(const r1_model *m, workspace *ws, int il, int n_tok)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t E = c->dim;
    for (int t = 0; t < n_tok; t++)
        kern_rmsnorm(ws->h + t * E, ws->x + t * E, ly->attn_norm, E, c->rms_eps);
    float *out = ws->buf[5];
    if (c->n_heads == 0) /* a rank of a split model without heads */
        memset(out, 0, (size_t)n_tok * (size_t)E * sizeof(float));
    else if (c->arch == ARCH_DEEPSEEK2)
        out = deepseek2_attention(m, il, ws, n_tok);
    else
        out = llama_attention(m, il, ws, n_tok);
    add_sublayer(m, ws, out, n_tok);
    for (int t = 0; t < n_tok; t++)
        kern_rmsnorm(ws->h + t * E, ws->x + t * E, ly->ffn_norm, E, c->rms_eps);
    if (ly->is_moe) {
        out = deepseek2_moe(m, il, ws, n_tok);
    } else {
        out = ws->buf[2];
        forward_swiglu(m, ws, &ly->ffn_gate, &ly->ffn_up, &ly->ffn_down, ws->h, n_tok, ws->buf[0],
                       ws->buf[1], out);
    }
    add_sublayer(m, ws, out, n_tok);
}

/* logits (n_out, n_vocab) = head · h. A split model's head holds vocabulary rows: each rank
 * computes its columns of the logits, rank 0 gathers them, DIST_HEAD_ROWS rows at a time (workers
 * have no logits buffer of their own). */
static void forward_head(const r1_model *m, workspace *ws, const wmat *head, const float *h,
                         int n_out, float *logits)
{
    int64_t E = m->cfg.dim, V = m->cfg.n_vocab;
    if (!dist_is_split(m->dist)) {
        kern_matmul(&ws->kc, head, 0, h, E, n_out, logits, V);
        return;
    }
    const model_shard *sh = &m->shard;
    int rank = m->dist->rank;
    int64_t nv = sh->n_vocab_rows[rank];
    for (int t0 = 0; t0 < n_out; t0 += DIST_HEAD_ROWS) {
        int n = n_out - t0 < DIST_HEAD_ROWS ? n_out - t0 : DIST_HEAD_ROWS;
        if (rank == 0) {
            float *rows = logits + (int64_t)t0 * V;
            if (nv) kern_matmul(&ws->kc, head, 0, h + t0 * E, E, n, rows + sh->vocab0[0], V);
            dist_gather_cols(m->dist, rows, V, NULL, n, sh->vocab0, sh->n_vocab_rows);
        } else {
            if (nv) kern_matmul(&ws->kc, head, 0, h + t0 * E, E, n, ws->dist_logits, nv);
            dist_gather_cols(m->dist, NULL, 0, ws->dist_logits, n, sh->vocab0, sh->n_vocab_rows);
        }
    }
}

/* Rank 0 of a split model: the step to the workers (dist_cmd, then the batch's token ids,
 * positions and session ids, and the MTP input's hidden states). */
static void send_step(const r1_model *m, workspace *ws, int op, const int32_t *tokens, int n_tok,
                      int n_out, const float *hidden_in)
{
    if (!dist_is_split(m->dist) || m->dist->rank != 0) return;
    dist_cmd cmd = {.op = op, .id = ws->dist_id, .n_tok = n_tok, .n_out = n_out};
    int32_t *msg = ws->dist_msg;
    for (int t = 0; t < n_tok; t++) {
        msg[t] = tokens[t];
        msg[n_tok + t] = ws->positions[t];
        msg[2 * n_tok + t] = ws->kvs[t]->dist_id;
    }
    dist_bcast(m->dist, &cmd, sizeof cmd, false);
    dist_bcast(m->dist, msg, 3 * (size_t)n_tok * sizeof(int32_t), false);
    if (hidden_in)
        dist_bcast(m->dist, (void *)hidden_in, (size_t)n_tok * (size_t)m->cfg.dim * sizeof(float),
                   false);
}

/* The layers over ws->kvs / ws->positions, which the callers below fill; the final norm and head
 * for the last n_out tokens; the normed final hidden states of all tokens into hidden (MTP input).
 */
void model_forward_ws(const r1_model *m, workspace *ws, const int32_t *tokens, int n_tok,
                      float *logits, int n_out, float *hidden)
{
    const model_config *c = &m->cfg;
    int64_t E = c->dim;
    for (int t = 0; t < n_tok; t++) kern_get_row(&m->tok_embd, 0, tokens[t], ws->x + t * E);
    rope_tables(m, ws, n_tok);
    for (int il = 0; il < c->n_layers; il++) forward_layer(m, ws, il, n_tok);
    int first = hidden ? 0 : n_tok - n_out;
    for (int t = first; t < n_tok; t++)
        kern_rmsnorm(ws->h + t * E, ws->x + t * E, m->out_norm, E, c->rms_eps);
    if (hidden) memcpy(hidden, ws->h, (size_t)n_tok * (size_t)E * sizeof(float));
    if (n_out <= 0) return;
    first = n_tok - n_out;
    forward_head(m, ws, &m->output, ws->h + first * E, n_out, logits);
}

void model_forward(const r1_model *m, kv_cache *kv, workspace *ws, const int32_t *tokens, int n_tok,
                   int n_past, float *logits, int n_out, float *hidden)
{
    for (int t = 0; t < n_tok; t++) {
        ws->positions[t] = n_past + t;
        ws->kvs[t] = kv;
    }
    send_step(m, ws, DIST_CMD_FORWARD, tokens, n_tok, n_out, NULL);
    model_forward_ws(m, ws, tokens, n_tok, logits, n_out, hidden);
}

void model_forward_batch(const r1_model *m, kv_cache *const *kvs, const int *positions,
                         workspace *ws, const int32_t *tokens, int n_tok, float *logits,
                         float *hidden)
{
    for (int t = 0; t < n_tok; t++) {
        ws->positions[t] = positions[t];
        ws->kvs[t] = kvs[t];
    }
    send_step(m, ws, DIST_CMD_FORWARD, tokens, n_tok, n_tok, NULL);
    model_forward_ws(m, ws, tokens, n_tok, logits, n_tok, hidden);
}

void model_forward_mtp_ws(const r1_model *m, workspace *ws, const float *hidden,
                          const int32_t *tokens, int n_tok, float *logits, int n_out)
{
    const model_config *c = &m->cfg;
    const model_mtp *p = &m->mtp;
    int64_t E = c->dim;
    float *cat = ws->buf[0]; /* (n_tok, 2·dim): [enorm(embed(token)); hnorm(hidden)] */
    for (int t = 0; t < n_tok; t++) {
        kern_get_row(&p->embed, 0, tokens[t], ws->h + t * E);
        kern_rmsnorm(cat + t * 2 * E, ws->h + t * E, p->enorm, E, c->rms_eps);
        kern_rmsnorm(cat + t * 2 * E + E, hidden + t * E, p->hnorm, E, c->rms_eps);
    }
    kern_matmul(&ws->kc, &p->eh_proj, 0, cat, 2 * E, n_tok, ws->x, E);
    rope_tables(m, ws, n_tok);
    forward_layer(m, ws, c->n_layers, n_tok);
    if (n_out <= 0) return;
    for (int t = 0; t < n_tok; t++)
        kern_rmsnorm(ws->h + t * E, ws->x + t * E, p->head_norm, E, c->rms_eps);
    forward_head(m, ws, &p->head, ws->h, n_tok, logits);
}

void model_forward_mtp(const r1_model *m, kv_cache *const *kvs, const int *positions, workspace *ws,
                       const float *hidden, const int32_t *tokens, int n_tok, float *logits)
{
    for (int t = 0; t < n_tok; t++) {
        ws->positions[t] = positions[t];
        ws->kvs[t] = kvs[t];
    }
    send_step(m, ws, DIST_CMD_FORWARD_MTP, tokens, n_tok, logits ? n_tok : 0, hidden);
    model_forward_mtp_ws(m, ws, hidden, tokens, n_tok, logits, logits ? n_tok : 0);
}
