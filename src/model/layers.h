/* layers.h — what the per-layer code shares: the KV cache rows, the workspace every intermediate
 * lives in, RoPE with the batch's tables and the SwiGLU FFN. forward.c (the driver) and the
 * per-architecture files (deepseek2.c, llama.c) include it; it includes neither of them, so the
 * dependencies run one way: forward → deepseek2, llama → layers.
 */
#ifndef R1_MODEL_LAYERS_H
#define R1_MODEL_LAYERS_H

#include "model/model.h"

typedef struct kv_cache {
    int n_ctx;      /* capacity in tokens */
    int row_floats; /* values per token per layer: deepseek2 kv_lora + rope; others 2·n_kv·head_dim
                     */
    dtype type;     /* DTYPE_F32, DTYPE_F16, DTYPE_BF16 or DTYPE_Q8_0 */
    size_t row_bytes;
    void *data;  /* (n_layers, n_ctx, row_floats) values of `type` */
    int dist_id; /* split model: the id of its session on every rank */
} kv_cache;

/* Bytes of n values of the cache's type (Q8_0: n a multiple of 32). */
static inline size_t kv_cache_bytes(const kv_cache *kv, int64_t n)
{
    if (kv->type == DTYPE_Q8_0) return (size_t)n / 32 * 34;
    return (size_t)n * (kv->type == DTYPE_F32 ? 4 : 2);
}

/* Row of (layer, pos), in the cache's type. */
static inline void *kv_cache_row(const kv_cache *kv, int layer, int pos)
{
    return (uint8_t *)kv->data + ((size_t)layer * (size_t)kv->n_ctx + (size_t)pos) * kv->row_bytes;
}

/* Store n floats at element offset `off` of row (layer, pos), converting to the cache's type. */
void kv_cache_store(kv_cache *kv, int layer, int pos, int64_t off, const float *src, int64_t n);

typedef struct workspace {
    int n_batch; /* max tokens per forward */
    int n_threads;
    int64_t width; /* floats per token in each generic buffer */
    float *x;      /* (n_batch, dim) residual stream */
    float *h;      /* (n_batch, dim) normalized input of a sub-layer */
    float *buf[6]; /* (n_batch, width) each: projections and intermediates */
    float *scores; /* (n_threads, scores_per_thread) attention scratch */
    int64_t scores_per_thread;
    float *rope_cos, *rope_sin; /* (n_batch, rope_dim/2) */
    int *positions;             /* (n_batch) position of each token in its sequence */
    kv_cache **kvs;             /* (n_batch) the cache of the sequence each token belongs to */
    int *moe_ids;               /* (n_batch, n_activated_experts) chosen experts */
    float *moe_w;               /* (n_batch, n_activated_experts) their weights */
    int *moe_tok;               /* (n_batch·K) token of each gathered expert-input row */
    float *moe_tw;              /* (n_batch·K) routing weight of each gathered row */
    float *router;              /* (n_routed_experts) per-token scratch, thread 0 only */
    kern_ctx kc;
    kern_mm *mm;        /* (max(n_heads, 2·n_routed_experts)) matmul groups */
    int64_t *moe_first; /* (n_routed_experts) first gathered row of each active expert */
    /* How a batch of one sequence attends: ATTN_AUTO (by size, see deepseek2.c and llama.c),
     * or forced by R1_PREFILL_ATTN=tokenwise|tiled (tests, A/B benchmarks): token by token with
     * the decode kernel (MLA: the absorbed form), or in tiles of queries with the prefill kernel
     * (MLA: the decompressed form; GQA: an fp32 cache only) */
    int attn_mode;
    /* deepseek2's decompressed form, NULL when n_batch is too small for it: per head of a group
     * and key, [k_pe | k_nope | v]; latent rows as fp32 */
    float *mla_kv;
    int64_t mla_kv_floats;
    float *mla_lat; /* (n_batch, kv_lora_rank + rope) */
    /* Attention over a long cache in parts (attn_chunk_keys): each part's unnormalized output
     * and statistics for part_tokens tokens at a time, part_per_token floats each; task_first:
     * (n_batch + 1) the first task of each token of an attention job */
    float *attn_part;
    int64_t part_per_token;
    int part_tokens;
    int *task_first;
    /* split model (dist/dist.h): the session id this workspace belongs to; the batch as sent to
     * the workers (tokens, positions, session ids: 3·n_batch); a worker's rows of logits */
    int dist_id;
    int32_t *dist_msg;
    float *dist_logits; /* (DIST_HEAD_ROWS, its vocabulary rows) */
} workspace;

/* A token attends over n_keys cached keys in parts of attn_chunk_keys(n_keys) keys, each a
 * task of its own with all the heads (one part up to ATTN_CHUNK_MIN keys; at most
 * ATTN_MAX_CHUNKS parts): a decode step's threads read disjoint stretches of the cache instead
 * of each reading all of it for its own heads. The cut depends on n_keys alone, so a token gets
 * the same bits alone, in a batch and on any number of threads. */
#define ATTN_CHUNK_MIN 256
#define ATTN_MAX_CHUNKS 16
static inline int attn_chunk_keys(int n_keys)
{
    if (n_keys <= ATTN_CHUNK_MIN) return n_keys > 0 ? n_keys : 1;
    int per = (n_keys + ATTN_MAX_CHUNKS - 1) / ATTN_MAX_CHUNKS;
    per = (per + 31) / 32 * 32;
    return per > ATTN_CHUNK_MIN ? per : ATTN_CHUNK_MIN;
}
static inline int attn_n_chunks(int n_keys)
{
    int per = attn_chunk_keys(n_keys);
    return (n_keys + per - 1) / per;
}

enum { ATTN_AUTO, ATTN_TOKENWISE, ATTN_TILED };
/* A batch of one sequence with at least this many tokens may attend in tiles */
#define ATTN_TILED_MIN_TOKENS 32

/* Whether the batch is one sequence at consecutive positions (a prompt chunk). */
static inline bool ws_is_one_sequence(const workspace *ws, int n_tok)
{
    for (int t = 1; t < n_tok; t++)
        if (ws->kvs[t] != ws->kvs[0] || ws->positions[t] != ws->positions[0] + t) return false;
    return true;
}

void forward_swiglu(const r1_model *m, workspace *ws, const wmat *gate, const wmat *up,
                    const wmat *down, const float *in, int n_tok, float *g, float *u, float *out);
/* Rotate pairs in v (n_heads heads, head stride `stride`, rotated part at `offset` in each head)
 * with the batch's RoPE tables; token t of n_tok at v + t·ld. */
void forward_rope(const r1_model *m, const workspace *ws, float *v, int64_t ld, int n_tok,
                  int n_heads, int64_t stride, int64_t offset);

#endif
