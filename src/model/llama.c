/* llama.c — grouped-query attention of qwen2 (R1-Distill-Qwen: q/k/v biases, NEOX RoPE) and llama
 * (R1-Distill-Llama: no biases, normal RoPE with Llama-3 frequency factors).
 * KV cache row per token per layer: [k (n_kv_heads·head_dim) | v (n_kv_heads·head_dim)]. */
#include "model/llama.h"
#include "model/layers.h"

#include <math.h>
#include <string.h>

typedef struct gqa_job {
    const r1_model *m;
    workspace *ws;
    int il, n_tok;
    const float *q; /* (n_tok, n_heads·head_dim) */
    float *out;     /* (n_tok, n_heads·head_dim) */
} gqa_job;

/* One task = one token × one KV head with the query heads that share it. */
static void gqa_worker(void *p, int ith, int nth)
{
    const gqa_job *job = p;
    const model_config *c = &job->m->cfg;
    int H = c->n_heads, D = c->head_dim, KV = c->n_kv_heads, group = H / KV;
    int64_t kv_width = (int64_t)KV * D;
    float *scratch = job->ws->scores + (size_t)ith * (size_t)job->ws->scores_per_thread;
    /* tasks dealt round-robin: in a prompt, later tokens attend to more keys, so contiguous
     * ranges would give the last thread most of the work */
    for (long task = ith; task < (long)job->n_tok * KV; task += nth) {
        int t = (int)(task / KV), kvh = (int)(task % KV);
        int64_t qoff = ((int64_t)t * H + (int64_t)kvh * group) * D;
        const kv_cache *kv = job->ws->kvs[t];
        const uint8_t *row0 = kv_cache_row(kv, job->il, 0);
        kern_attention(job->q + qoff, group, D, D, row0 + kv_cache_bytes(kv, (int64_t)kvh * D),
                       row0 + kv_cache_bytes(kv, kv_width + (int64_t)kvh * D), kv->type,
                       kv->row_floats, job->ws->positions[t] + 1, D, c->kq_scale, job->out + qoff,
                       D, scratch);
    }
}

/* A prompt chunk with an fp32 cache: tiles of KERN_PREFILL_Q consecutive tokens of one query
 * head against its KV head's rows (kern_attention_prefill: the queries across the vector lanes,
 * each key row read once per tile instead of once per token and group). Tasks go KV head by KV
 * head, a tile's heads side by side, so both threads read the same rows at the same time. */
static void gqa_tiled_worker(void *p, int ith, int nth)
{
    const gqa_job *job = p;
    const model_config *c = &job->m->cfg;
    int H = c->n_heads, D = c->head_dim, KV = c->n_kv_heads, group = H / KV;
    int tiles = (job->n_tok + KERN_PREFILL_Q - 1) / KERN_PREFILL_Q, n_past = job->ws->positions[0];
    const kv_cache *kv = job->ws->kvs[0];
    const float *row0 = kv_cache_row(kv, job->il, 0);
    float *scratch = job->ws->scores + (size_t)ith * (size_t)job->ws->scores_per_thread;
    for (long task = ith; task < (long)KV * tiles * group; task += nth) {
        int kvh = (int)(task / ((long)tiles * group)), rest = (int)(task % ((long)tiles * group));
        int t0 = rest / group * KERN_PREFILL_Q, h = kvh * group + rest % group;
        int nq = job->n_tok - t0 < KERN_PREFILL_Q ? job->n_tok - t0 : KERN_PREFILL_Q;
        int64_t qoff = ((int64_t)t0 * H + h) * D;
        kern_attention_prefill(job->q + qoff, nq, (int64_t)H * D, D, row0 + (int64_t)kvh * D,
                               row0 + (int64_t)(KV + kvh) * D, kv->row_floats, n_past + t0 + nq, D,
                               c->kq_scale, job->out + qoff, (int64_t)H * D, scratch);
    }
}

/* Tiles pay from 16 tokens on (qwen-1.5B Q4_K after 1024 tokens, `r1 bench -p N -d 1024`: 8
 * tokens 139 tiled vs 149 t/s token by token, 16 tokens 228 vs 204; after 4096, 64 tokens 224 vs
 * 129). Only over an fp32 cache: the prefill kernel reads fp32 rows. */
#define GQA_TILED_MIN_TOKENS 16

static bool use_tiled(const workspace *ws, int n_tok)
{
    if (ws->attn_mode == ATTN_TOKENWISE || ws->kvs[0]->type != DTYPE_F32 ||
        !ws_is_one_sequence(ws, n_tok))
        return false;
    return ws->attn_mode == ATTN_TILED || n_tok >= GQA_TILED_MIN_TOKENS;
}

static void add_bias(float *y, const float *bias, int n_tok, int64_t n)
{
    if (!bias) return;
    for (int t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++) y[t * n + i] += bias[i];
}

float *llama_attention(const r1_model *m, int il, workspace *ws, int n_tok)
{
    const model_config *c = &m->cfg;
    const model_layer *ly = &m->layers[il];
    int64_t E = c->dim, D = c->head_dim, nq = (int64_t)c->n_heads * D,
            nkv = (int64_t)c->n_kv_heads * D;
    float *q = ws->buf[0], *k = ws->buf[1], *v = ws->buf[2], *o = ws->buf[3], *out = ws->buf[4];
    kern_mm qkv[3] = {{&ly->wq, 0, ws->h, E, n_tok, q, nq},
                      {&ly->wk, 0, ws->h, E, n_tok, k, nkv},
                      {&ly->wv, 0, ws->h, E, n_tok, v, nkv}};
    kern_matmul_multi(&ws->kc, qkv, 3);
    add_bias(q, ly->bq, n_tok, nq);
    add_bias(k, ly->bk, n_tok, nkv);
    add_bias(v, ly->bv, n_tok, nkv);
    forward_rope(m, ws, q, nq, n_tok, c->n_heads, D, 0);
    forward_rope(m, ws, k, nkv, n_tok, c->n_kv_heads, D, 0);
    for (int t = 0; t < n_tok; t++) {
        kv_cache_store(ws->kvs[t], il, ws->positions[t], 0, k + t * nkv, nkv);
        kv_cache_store(ws->kvs[t], il, ws->positions[t], nkv, v + t * nkv, nkv);
    }
    gqa_job job = {m, ws, il, n_tok, q, o};
    threadpool_run(m->pool, use_tiled(ws, n_tok) ? gqa_tiled_worker : gqa_worker, &job);
    kern_matmul(&ws->kc, &ly->wo, 0, o, nq, n_tok, out, E);
    return out;
}
