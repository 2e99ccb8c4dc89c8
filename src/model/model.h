/* model.h — internals of r1_model shared by the loader, the architectures and the session.
 *
 * A model is its hyperparameters (model_config, named as in DeepSeek's ModelArgs where one exists),
 * per-layer weight views (wmat) pointing into the mapped GGUF file in their stored type, and a few
 * small vectors (norms, biases) converted to fp32 at load. Weights are never copied except the
 * per-head K up-projection of old-style deepseek2 files (attn_kv_b), which must be transposed.
 * Immutable after load.
 */
#ifndef R1_MODEL_MODEL_H
#define R1_MODEL_MODEL_H

#include "base/threadpool.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "r1.h"

#include <pthread.h>
#include <stdbool.h>

typedef enum model_arch {
    ARCH_DEEPSEEK2 = 0,
    ARCH_QWEN2 = 1,
    ARCH_LLAMA = 2,
} model_arch;

#define MODEL_MAX_EXPERT_GROUPS 256

typedef enum gating_func {
    GATING_SOFTMAX = 1,
    GATING_SIGMOID = 2,
} gating_func;

typedef struct model_config {
    model_arch arch;
    int n_vocab;
    int dim; /* embedding_length */
    int n_layers;
    int n_ctx_train; /* context_length */
    int n_heads;
    int n_kv_heads; /* GQA: query head h uses kv head h / (n_heads / n_kv_heads) */
    int head_dim;   /* qwen2/llama: per-head q/k/v width */
    int inter_dim;  /* dense FFN width (feed_forward_length) */
    float rms_eps;

    /* RoPE */
    float rope_theta;
    int rope_dim;      /* dims rotated per head */
    bool rope_neox;    /* pairs (i, i+d/2) instead of (2i, 2i+1) */
    float rope_factor; /* YaRN / linear scaling factor (1 = none) */
    bool use_yarn;
    int original_seq_len; /* YaRN n_ctx_orig */
    float beta_fast, beta_slow;
    float mscale; /* 1 + yarn_log_multiplier·ln(factor), deepseek2 attention scale */

    /* deepseek2 (MLA + MoE) */
    int q_lora_rank; /* 0: plain wq (V2-Lite) */
    int kv_lora_rank;
    int qk_nope_head_dim;
    int qk_rope_head_dim;
    int v_head_dim;
    int n_dense_layers;   /* leading_dense_block_count */
    int n_routed_experts; /* expert_count */
    int n_activated_experts;
    int n_shared_experts;
    int moe_inter_dim; /* expert_feed_forward_length */
    int n_expert_groups;
    int n_limited_groups; /* expert_group_used_count */
    gating_func score_func;
    bool norm_topk_prob;
    float route_scale; /* expert_weights_scale */
    bool is_mla_split; /* file has attn_k_b / attn_v_b (else legacy attn_kv_b) */

    float kq_scale; /* softmax scale of attention scores */
} model_config;

typedef struct model_layer {
    const float *attn_norm; /* (dim) */
    const float *ffn_norm;  /* (dim) */
    /* qwen2 / llama attention */
    wmat wq, wk, wv;           /* (n_heads·head_dim, dim), (n_kv_heads·head_dim, dim) ×2 */
    const float *bq, *bk, *bv; /* biases or NULL */
    wmat wo; /* (dim, n_heads·head_dim) or deepseek2 (dim, n_heads·v_head_dim) */
    /* deepseek2 MLA */
    wmat wq_a;              /* (q_lora_rank, dim) */
    const float *q_a_norm;  /* (q_lora_rank) */
    wmat wq_b;              /* (n_heads·(nope+rope), q_lora_rank); or wq when q_lora_rank = 0 */
    wmat wkv_a;             /* (kv_lora_rank + rope, dim) */
    const float *kv_a_norm; /* (kv_lora_rank) */
    wmat k_b;               /* n_heads × (kv_lora_rank, nope): q_abs = k_b[h] · q_nope */
    wmat v_b;               /* n_heads × (v_head_dim, kv_lora_rank): o = v_b[h] · o_latent */
    wmat k_up; /* n_heads × (nope, kv_lora_rank): k_nope = k_up[h] · c, k_b[h] transposed (the
                * decompressed form of long prompts, deepseek2.c) */
    /* FFN: dense (gate/up/down) or MoE */
    bool is_moe;
    wmat ffn_gate, ffn_up, ffn_down; /* (inter, dim), (inter, dim), (dim, inter) */
    wmat gate_inp;                   /* router (n_routed_experts, dim) */
    const float *exp_probs_b;        /* (n_routed_experts) selection bias or NULL */
    wmat gate_exps, up_exps;         /* n_experts × (moe_inter_dim, dim) */
    wmat down_exps;                  /* n_experts × (dim, moe_inter_dim) */
    wmat gate_shexp, up_shexp;       /* (moe_inter_dim·n_shared, dim) */
    wmat down_shexp;                 /* (dim, moe_inter_dim·n_shared) */
} model_layer;

/* DeepSeek-V3's multi-token-prediction (MTP) module: one extra decoder layer that, given the main
 * model's final hidden state h_i of position i and the embedding of the token t_{i+1} after it,
 * predicts t_{i+2}:  x = eh_proj · [enorm(embed(t_{i+1})); hnorm(h_i)],  x = layer(x) at
 * position i,  logits = head(head_norm(x)).  h_i is the main model's final hidden state after
 * its output norm (what feeds the output head), as in vLLM, SGLang and llama.cpp. The layer is
 * layers[n_layers] and has its own rows in the KV cache (layer index n_layers). docs/mtp.md cites
 * the evidence for each choice. */
typedef struct model_mtp {
    const float *enorm, *hnorm; /* (dim) */
    wmat eh_proj;               /* (dim, 2·dim) */
    const float *head_norm;     /* shared_head.norm (dim) */
    wmat embed;                 /* its embedding: own copy in the file, or the main tok_embd */
    wmat head;                  /* shared_head.head, or the main output */
} model_mtp;

/* This rank's part of a model split across processes (dist/dist.h, model/shard.c); with one rank,
 * the whole model. cfg.n_heads and cfg.n_kv_heads hold this rank's heads, whose views (wq_b, k_b,
 * wo's columns, ...) start at head0; routed experts keep their global ids in routing. */
typedef struct model_shard {
    int n_heads_total, n_kv_heads_total; /* the file's */
    int head0;                           /* first query head held here */
    int expert0, n_experts;              /* routed experts [expert0, expert0 + n_experts) */
    int64_t *vocab0, *n_vocab_rows;      /* (size) output-head rows of each rank */
} model_shard;

struct r1_model {
    model_config cfg;
    r1_dist *dist; /* NULL: not split */
    model_shard shard;
    int next_session_id; /* rank 0: id of the next session, as the workers know it */
    bool is_loaded;      /* every rank finished loading (rank 0 then tells the workers to quit) */
    int n_mtp;           /* 1 when the file has an MTP module (only the first is used), else 0 */
    int mtp_block;       /* its blk.N index in the file */
    model_mtp mtp;
    char arch_name[32];
    char name[128];
    gguf_file *file;
    struct hf_model *hf;   /* the Hugging Face folder behind `file` (model/hf.h), or NULL */
    model_layer *layers;   /* (n_layers + n_mtp) */
    wmat tok_embd;         /* (n_vocab, dim) */
    const float *out_norm; /* (dim) */
    wmat output;           /* (n_vocab, dim), may alias tok_embd */
    const float *rope_freq_factors; /* llama3 rope_freqs (rope_dim/2) or NULL */
    int bos_id, eos_id;
    uint64_t n_params, weight_bytes;
    uint64_t active_bytes; /* read per decoded token, see r1_model_info */
    /* memory owned by the model (converted vectors, transposed k_b) */
    void **owned;
    int n_owned, cap_owned;
    /* the repacked weights: one anonymous mapping in 2 MB pages where the kernel allows */
    uint8_t *repacked;
    size_t repacked_bytes;
    threadpool *pool;
    pthread_mutex_t forward_mu; /* one forward pass at a time on the pool */
    bool has_mutex;
    r1_log_fn log_fn;
    void *log_user;
    struct tokenizer *tok;        /* NULL when the file has no usable vocabulary */
    struct gvocab *grammar_vocab; /* the vocabulary trie of constrained decoding (grammar.h),
                                     built on first use by api/grammar.c */
};

/* Per-architecture layer of the forward pass, over a batch of n_tok tokens at positions
 * pos[0..n_tok). x is (n_tok, dim) and is updated in place (residual stream). */
struct session_scratch;
void model_log(const r1_model *m, r1_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* What rank 0 of a split model sends the workers (r1_dist_worker_run in session.c), a fixed header
 * broadcast before each step; FORWARD and FORWARD_MTP are followed by the batch (forward.c). */
enum {
    DIST_CMD_QUIT = 1,
    DIST_CMD_SESSION_NEW =
        2, /* id, a = n_ctx, b = n_batch, c = cache_type, d = all_logits, e = mtp */
    DIST_CMD_SESSION_FREE = 3, /* id */
    DIST_CMD_FORWARD = 4,      /* id = leading session, n_tok, n_out */
    DIST_CMD_FORWARD_MTP = 5,  /* id, n_tok, n_out (0 or n_tok) */
};
typedef struct dist_cmd {
    int32_t op, id, n_tok, n_out, a, b, c, d, e;
} dist_cmd;

/* Zeroed memory freed with the model (NULL when out of memory). */
void *model_own(r1_model *m, size_t bytes);
/* Narrow every weight view to this rank's shard (model/shard.c); before repacking. */
r1_status model_shard_weights(r1_model *m, char *err);

/* Floats of KV cache per token per layer (k and v together). */
int model_kv_row_floats(const model_config *cfg);
/* Whether every vector the cache stores and reads starts and ends on a 32-value block (Q8_0). */
bool model_kv_q8_ok(const model_config *cfg);

#endif
