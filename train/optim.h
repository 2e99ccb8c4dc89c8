/* optim.h — AdamW with linear warmup + cosine decay and global-norm gradient clipping, over the
 * flat parameter array of a tmodel.
 *
 * Weight decay applies to matrices and embeddings, not to RMSNorm gains. The moments are fp32
 * arrays laid out like the parameters. The update is element-wise and the gradient norm is summed
 * in fixed 4096-element blocks in block order, so a step does not depend on the thread count.
 */
#ifndef R1_TRAIN_OPTIM_H
#define R1_TRAIN_OPTIM_H

#include "train/tmodel.h"

typedef struct adamw_params {
    float lr;           /* peak learning rate */
    float min_lr_ratio; /* cosine floor, as a fraction of lr */
    int warmup_steps;
    int total_steps; /* schedule length (the cosine reaches the floor here) */
    float beta1, beta2, eps;
    float weight_decay;
    float clip_norm; /* 0 = no clipping */
} adamw_params;

adamw_params adamw_params_default(void);

typedef struct adamw {
    adamw_params p;
    int64_t step; /* updates done */
    float *m, *v; /* (n_params) first and second moments */
    size_t n;
} adamw;

r1_status adamw_init(adamw *opt, const tmodel *model, const adamw_params *p, char *err);
void adamw_free(adamw *opt);

/* Learning rate of update number `step` (0-based). */
float adamw_lr(const adamw_params *p, int64_t step);

/* L2 norm of the gradients (double sum in fixed blocks). */
double adamw_grad_norm(const tmodel *model);

/* One update from model->grads (clipped to clip_norm first). Returns the pre-clip gradient norm;
 * *out_lr (may be NULL) gets the rate used. */
double adamw_step(adamw *opt, tmodel *model, float *out_lr);

#endif
