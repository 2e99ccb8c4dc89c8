/* tio.h — saving and loading a trainer model as GGUF.
 *
 * The model file is a `deepseek2` GGUF with exactly the metadata keys and tensor names/shapes the
 * engine loads (new-style attn_k_b / attn_v_b, exp_probs_b, ffn_*_exps, *_shexp; no RoPE scaling,
 * so the engine runs plain RoPE with kq_scale = 1/sqrt(nope + rope) like the trainer), plus the
 * byte-level vocabulary and R1's chat template (train/vocab.h). A model's MTP module is written
 * as llama.cpp writes DeepSeek-V3's: nextn_predict_layers = 1, block_count = n_layers + 1, and at
 * block n_layers the usual layer tensors plus nextn.enorm / hnorm / eh_proj (ne0 = 2·dim, ne1 =
 * dim) / shared_head_norm; the embedding and head are the main ones (no nextn.embed_tokens or
 * nextn.shared_head_head).
 * A checkpoint is the same file with F32 weights plus the AdamW moments (tensors adam_m.NAME and
 * adam_v.NAME) and r1train.* keys (step, optimizer hyperparameters, and any the caller adds);
 * the engine can load a checkpoint too (it ignores the extra tensors, with a warning).
 */
#ifndef R1_TRAIN_TIO_H
#define R1_TRAIN_TIO_H

#include "formats/gguf.h"
#include "train/optim.h"
#include "train/tmodel.h"

typedef struct tio_save_params {
    const char *name; /* general.name */
    dtype type;       /* weight matrices: DTYPE_F32 or DTYPE_F16 (vectors stay F32) */
    const adamw *opt; /* non-NULL: write a checkpoint (forces F32) */
    /* extra metadata (r1train.* keys) added before writing; may be NULL */
    void (*add_keys)(gguf_writer *w, void *user);
    void *user;
} tio_save_params;

r1_status tio_save(const tmodel *m, const char *path, const tio_save_params *p, char *err);

/* Read a model file or checkpoint written by tio_save (or any deepseek2 GGUF of the same shape
 * with F32/F16/BF16 weights and sigmoid routing). With opt non-NULL the file must be a checkpoint:
 * the moments and step are restored (opt->p from the file's hyperparameters). */
r1_status tio_load(const char *path, threadpool *pool, tmodel **out_model, adamw *opt, char *err);

#endif
