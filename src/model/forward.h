/* forward.h — one forward pass of a batch of tokens through the model.
 *
 * The session owns the KV cache and a workspace sized once at creation (no allocation per token);
 * the model code fills the cache rows of the batch's positions and reads earlier ones.
 * Layer math per architecture lives in deepseek2.c (MLA + MoE) and llama.c (qwen2 / llama GQA);
 * forward.c drives them layer by layer (embedding, RoPE tables, final norm and head). What they
 * share — the KV cache, the workspace, RoPE, SwiGLU — is in layers.h, so the dependencies run one
 * way: forward → deepseek2, llama → layers.
 */
#ifndef R1_MODEL_FORWARD_H
#define R1_MODEL_FORWARD_H

#include "model/layers.h"
#include "model/model.h"

/* Logits rows a split output head computes and gathers at a time */
#define DIST_HEAD_ROWS 32

r1_status workspace_init(workspace *ws, const r1_model *m, int n_batch, int n_ctx, char *err);
void workspace_free(workspace *ws);

/* Run tokens[0..n_tok) of one sequence at positions n_past.. through the model, writing their KV
 * rows. logits: (n_out, n_vocab) for the last n_out tokens (0 ≤ n_out ≤ n_tok). hidden, unless
 * NULL: (n_tok, dim) final hidden states after the output norm (what the MTP module reads). */
void model_forward(const r1_model *m, kv_cache *kv, workspace *ws, const int32_t *tokens, int n_tok,
                   int n_past, float *logits, int n_out, float *hidden);

/* A worker's forward pass (r1_dist_worker_run): ws->positions / ws->kvs already filled. logits
 * and hidden are rank 0's only (NULL here); n_out rows of the output head take part in the
 * gather. */
void model_forward_ws(const r1_model *m, workspace *ws, const int32_t *tokens, int n_tok,
                      float *logits, int n_out, float *hidden);

/* Batched form: token t belongs to the sequence whose cache is kvs[t], at position positions[t]
 * (tokens of one sequence in increasing positions; different sequences in any order). The weights
 * are read once for the whole batch. logits: (n_tok, n_vocab), one row per token. */
void model_forward_batch(const r1_model *m, kv_cache *const *kvs, const int *positions,
                         workspace *ws, const int32_t *tokens, int n_tok, float *logits,
                         float *hidden);

/* The MTP module (model.h) over n_tok pairs: hidden[t] is the main model's hidden state of the
 * token at positions[t] in sequence kvs[t], tokens[t] the token after it. Writes the MTP layer's
 * KV rows (layer index n_layers) at positions[t]; logits, unless NULL: (n_tok, n_vocab), row t
 * predicting the token after tokens[t]. Needs m->n_mtp and caches with n_layers + 1 layers. */
void model_forward_mtp(const r1_model *m, kv_cache *const *kvs, const int *positions, workspace *ws,
                       const float *hidden, const int32_t *tokens, int n_tok, float *logits);
/* The MTP pass with ws->positions / ws->kvs filled; n_out: 0 (no head) or n_tok. A worker passes
 * logits NULL with rank 0's n_out. */
void model_forward_mtp_ws(const r1_model *m, workspace *ws, const float *hidden,
                          const int32_t *tokens, int n_tok, float *logits, int n_out);

#endif
