/* tmodel.h — a trainable DeepSeek-V3-architecture model (deepseek2 in GGUF terms) in fp32: its
 * parameters, forward pass with saved activations, and the mirrored backward pass.
 *
 * The forward computes exactly the function the engine runs (src/model/deepseek2.c): MLA in the
 * absorbed form with q and kv low-rank projections and the decoupled RoPE key (pairs (2i, 2i+1),
 * no YaRN), the MoE with sigmoid routing, group-limited top-k on scores + exp_probs_b, weights from
 * the unbiased scores (normalized, × route_scale) and shared experts; dense SwiGLU for the leading
 * layers; RMSNorm everywhere. A GGUF exported from it (train/export.h) runs identically in r1.
 *
 * A batch is several sequences, each attended causally on its own, positions restarting at 0.
 * Position t of a sequence predicts its token t+1; `tmodel_forward` returns log p of those targets
 * where asked, and `tmodel_backward` takes dLoss/dlogp per position — one interface for
 * cross-entropy (dlogp = -weight) and for policy-gradient losses (dlogp = -advantage·…).
 *
 * Multi-token prediction (DeepSeek-V3 §2.2, depth 1; cfg.n_mtp = 1): one more decoder layer that
 * predicts the token after next. For position i of a sequence (i = 0 .. T-2), with h_i the main
 * model's final hidden state after output_norm (the vector that feeds the head) and t_{i+1} the
 * next token:  x_i = eh_proj · [enorm(embed(t_{i+1})); hnorm(h_i)]  (embedding part first),
 * x_i = layer(x_i) at RoPE position i, attending causally over MTP positions ≤ i of the same
 * sequence, and  logits_i = head(shared_head_norm(x_i))  predict t_{i+2}. The embedding and the
 * output head are the main model's (shared; tied when the model ties them). The layer is of the
 * kind of the model's MoE layers (its own router and balancing bias), or dense when the model has
 * none. This is what the engine runs as a drafter (src/model/forward.h model_forward_mtp) and what
 * vLLM / SGLang / llama.cpp do. MTP position i is trained ("MTP-active") exactly when position
 * i+1 of the same sequence is active, i.e. when its target t_{i+2} is in the main loss mask.
 *
 * Parameters, gradients and AdamW moments are flat arrays with one layout (tmodel_tensor table);
 * the aux-loss-free balancing bias of each MoE layer is separate (not trained by gradient).
 * Ownership: a tmodel owns its arrays; a tstate owns the activations of the last forward and must
 * be used with one model. Neither is thread-safe; the work inside is spread over the pool.
 */
#ifndef R1_TRAIN_TMODEL_H
#define R1_TRAIN_TMODEL_H

#include "base/threadpool.h"
#include "r1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tconfig {
    int n_vocab;
    int dim;
    int n_layers;
    int n_heads;
    int q_lora_rank;  /* > 0 */
    int kv_lora_rank; /* latent width R */
    int qk_nope_head_dim;
    int qk_rope_head_dim;
    int v_head_dim;
    int inter_dim;      /* dense FFN width */
    int n_dense_layers; /* leading dense layers; the rest are MoE */
    int n_routed_experts;
    int n_activated_experts;
    int n_shared_experts;
    int moe_inter_dim;
    int n_expert_groups;  /* 1 = no group limit */
    int n_limited_groups; /* groups kept per token */
    float route_scale;
    bool norm_topk_prob;
    bool tie_embeddings; /* output head = token embedding */
    float rope_theta;
    float rms_eps;
    int max_seq_len; /* longest sequence (RoPE table, exported context_length) */
    int n_mtp;       /* multi-token-prediction modules: 0 or 1 (see the top of the file) */
} tconfig;

/* The default tiny model (r1-tiny, with its MTP module): see docs/training.md for the sizes. */
tconfig tconfig_default(void);
/* Checks ranges and divisibility; R1_ERR_INVALID_ARG with a message. */
r1_status tconfig_validate(const tconfig *c, char *err);
/* Whether layer il (0 .. n_layers + n_mtp - 1; the MTP layer is il = n_layers) is a MoE layer. */
bool tconfig_layer_is_moe(const tconfig *c, int il);

typedef enum tensor_kind {
    TK_EMBED = 0,  /* token embedding */
    TK_MATRIX = 1, /* projections (weight-decayed) */
    TK_NORM = 2,   /* RMSNorm gains (init 1, no decay) */
    TK_OUT = 3,    /* projections into the residual stream (init scaled by 1/sqrt(2·layers)) */
} tensor_kind;

typedef struct tmodel_tensor {
    char name[64]; /* GGUF name: "blk.3.attn_q_a.weight" */
    int n_dims;
    int64_t ne[3]; /* GGUF order: ne[0] fastest (columns) */
    size_t offset; /* into the flat arrays, in floats */
    size_t n;      /* elements */
    tensor_kind kind;
} tmodel_tensor;

/* Views of one layer's parameters (or gradients) in the flat array. NULL when absent. */
typedef struct tlayer {
    float *attn_norm, *ffn_norm;  /* (dim) */
    float *wq_a;                  /* (q_lora_rank, dim) */
    float *q_a_norm;              /* (q_lora_rank) */
    float *wq_b;                  /* (n_heads·(nope+rope), q_lora_rank) */
    float *wkv_a;                 /* (kv_lora_rank + rope, dim) */
    float *kv_a_norm;             /* (kv_lora_rank) */
    float *k_b;                   /* (n_heads, kv_lora_rank, nope) */
    float *v_b;                   /* (n_heads, v_head_dim, kv_lora_rank) */
    float *wo;                    /* (dim, n_heads·v_head_dim) */
    float *ffn_gate, *ffn_up;     /* dense: (inter_dim, dim) */
    float *ffn_down;              /* dense: (dim, inter_dim) */
    float *gate_inp;              /* router (n_routed_experts, dim) */
    float *gate_exps, *up_exps;   /* (n_routed_experts, moe_inter_dim, dim) */
    float *down_exps;             /* (n_routed_experts, dim, moe_inter_dim) */
    float *gate_shexp, *up_shexp; /* (moe_inter_dim·n_shared, dim) */
    float *down_shexp;            /* (dim, moe_inter_dim·n_shared) */
} tlayer;

typedef struct tweights {
    float *tok_embd; /* (n_vocab, dim) */
    float *out_norm; /* (dim) */
    float *output;   /* (n_vocab, dim); == tok_embd when tied */
    tlayer *layers;  /* (n_layers + n_mtp): the MTP module's decoder layer last */
    /* the MTP module's own tensors (NULL without one), GGUF blk.<n_layers>.nextn.* */
    float *mtp_enorm, *mtp_hnorm; /* (dim) */
    float *mtp_eh_proj;           /* (dim, 2·dim): columns 0..dim-1 act on enorm(embed) */
    float *mtp_head_norm;         /* shared_head_norm (dim) */
} tweights;

typedef struct tmodel {
    tconfig cfg;
    int n_tensors;
    tmodel_tensor *tensors;
    size_t n_params;
    float *params; /* (n_params) */
    float *grads;  /* (n_params) */
    tweights w, g; /* views into params and grads */
    /* (n_layers + n_mtp, n_routed_experts + 1) balancing bias, the MTP layer's last; rows of dense
     * layers unused */
    float *exp_probs_b;
    threadpool *pool; /* borrowed */
} tmodel;

/* Allocate a model with the layout of cfg (parameters zero; see tmodel_init_random). */
r1_status tmodel_new(const tconfig *cfg, threadpool *pool, tmodel **out_model, char *err);
void tmodel_free(tmodel *m);
/* Deterministic initialization from seed: norms 1, projections normal with std 1/sqrt(fan_in)
 * (output projections / sqrt(2·n_layers)), embedding std 1, head std 1/sqrt(dim). Bias 0. */
void tmodel_init_random(tmodel *m, uint64_t seed);
const tmodel_tensor *tmodel_find(const tmodel *m, const char *name);
void tmodel_zero_grad(tmodel *m);

/* A batch of sequences. Tokens of sequence s are tokens[seq_start[s] .. seq_start[s+1]). */
typedef struct tbatch {
    int n_seqs;
    const int *seq_start;  /* (n_seqs + 1) */
    const int32_t *tokens; /* (seq_start[n_seqs]) */
    /* (n_tokens): nonzero where position t needs log p(tokens[t+1]); must be 0 at the last
     * position of each sequence. NULL: every position but the last of each sequence. */
    const uint8_t *active;
} tbatch;

typedef struct tstate tstate;

tstate *tstate_new(void);
void tstate_free(tstate *st);

/* The MTP mask of a batch (see the top of the file): out_mask (n_tokens) gets 1 where position t
 * is MTP-active (t+1 in the same sequence and active), 0 elsewhere. Returns their count. */
int tbatch_mtp_mask(const tbatch *b, uint8_t *out_mask);

/* Forward over the batch, saving what the backward needs. out_logp (n_tokens, may be NULL):
 * log p(tokens[t+1]) at active positions, 0 elsewhere. out_mtp_logp (n_tokens): non-NULL runs
 * the MTP module too (when the model has one; else it gets zeros): log p_mtp(tokens[t+2]) at
 * MTP-active positions, 0 elsewhere. */
r1_status tmodel_forward(tmodel *m, tstate *st, const tbatch *b, float *out_logp,
                         float *out_mtp_logp, char *err);
/* Logits (n_vocab each) of the active positions of the last forward, in position order; *out_n
 * gets their count. Valid until the next forward. */
const float *tstate_logits(const tstate *st, int *out_n);
/* The same for the MTP module: logits predicting tokens[t+2] at the MTP-active positions t, in
 * position order (*out_n = 0 when the last forward did not run it). */
const float *tstate_mtp_logits(const tstate *st, int *out_n);
/* How many of those have their target as the (first) largest logit: MTP top-1 hits. */
int tstate_mtp_top1(const tstate *st);
/* Backward of the last forward: dlogp (n_tokens) = dLoss/dlogp at active positions (ignored
 * elsewhere). dmtp_logp (n_tokens, may be NULL: no MTP term) = dLoss/d(MTP logp) at MTP-active
 * positions; needs a forward that ran the MTP module. The MTP term's gradient reaches the MTP
 * module and, unless mtp_detach, the trunk too (through h_i, the shared embedding and the shared
 * head, as in DeepSeek-V3); with mtp_detach only the MTP module's own tensors (enorm, hnorm,
 * eh_proj, its layer, shared_head_norm) get it. Adds into m->grads. */
void tmodel_backward(tmodel *m, tstate *st, const float *dlogp, const float *dmtp_logp,
                     bool mtp_detach);

/* Tokens routed to each expert of each layer in the last forward: (n_layers + n_mtp,
 * n_routed_experts + 1), the MTP layer's row last (0 when the forward did not run it); rows of
 * dense layers are 0. */
const int *tstate_expert_load(const tstate *st);
/* A hash of every routing decision of the last forward, the MTP layer's included (tests: did a
 * perturbation flip one?). */
uint64_t tstate_routing_hash(const tstate *st);
/* DeepSeek-V3 aux-loss-free balancing: bias_e += rate · sign(mean load − load_e) per MoE layer
 * (the MTP layer's too when the forward ran it), from the loads of the last forward. */
void tmodel_update_bias(tmodel *m, const tstate *st, float rate);
/* The same from given loads (laid out as tstate_expert_load's) of the first n_layers_run layers
 * (n_layers, or n_layers + n_mtp when the MTP layer ran): data parallel sums the ranks' loads. */
void tmodel_update_bias_load(tmodel *m, const int *loads, int n_layers_run, float rate);

/* Multiply-adds of one forward over the batch, the MTP module's included when the model has one
 * (for GFLOP/s reports; backward ≈ 2×). */
double tmodel_forward_flops(const tmodel *m, const tbatch *b);

#endif
