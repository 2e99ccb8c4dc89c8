/* grpo.h — one step of Group Relative Policy Optimization on generated tasks.
 *
 * Per step: the current weights are written to a scratch GGUF and loaded by the inference engine;
 * for each of n_prompts problems it samples group_size completions (r1 sessions + sampler,
 * temperature 1 by default so the samples come from the policy being trained); each completion is
 * rewarded 1 for the exact answer plus format_reward for the R1 format (</think>, then \boxed{},
 * then EOS); advantages are the rewards minus their group mean, divided by the group's standard
 * deviation unless std_norm is off (Dr. GRPO). The loss is PPO's clipped surrogate on the sampled
 * tokens, min(r·A, clip(r, 1-clip_low, 1+clip_high)·A) with r = π/π_old, averaged per token over
 * the whole batch (DAPO's token-level average; GRPO's per-sequence mean and Dr. GRPO's constant
 * normalizer are options), minus kl_coef times the k3 estimate of KL(π‖π_ref) when kl_coef > 0.
 * Defaults follow current practice (DAPO, Dr. GRPO): no KL term (kl_coef 0; KL to the reference
 * is still measured and logged), token-level averaging, clip-higher (0.2 / 0.28), groups whose
 * completions all got the same reward dropped (they carry no signal). With ppo_epochs = 1 the
 * ratio is 1 and the step is the plain policy gradient; more epochs reuse the samples with
 * clipping.
 * MTP: with a model's MTP module (train/tmodel.h) and mtp_lambda > 0, each update also adds
 * mtp_lambda · CE_mtp, the MTP module's cross-entropy on the sampled completion tokens
 * (teacher-forced on the rollout sequences, averaged over the MTP-trained positions), so the
 * drafter keeps predicting the policy's own outputs. Its gradient reaches only the MTP module's
 * own tensors (the trunk, shared embedding and shared head are detached for this term) unless
 * mtp_trunk is set, in which case it flows into the trunk as in SFT.
 */
#ifndef R1_TRAIN_GRPO_H
#define R1_TRAIN_GRPO_H

#include "train/optim.h"
#include "train/tasks.h"
#include "train/tmodel.h"

typedef enum grpo_agg {
    GRPO_AGG_TOKEN = 0,  /* Σ over all sampled tokens / their count (DAPO) */
    GRPO_AGG_SEQ = 1,    /* per-sequence mean, then mean over sequences (GRPO paper) */
    GRPO_AGG_DRGRPO = 2, /* Σ / (sequences · max_new) (Dr. GRPO) */
} grpo_agg;

typedef struct grpo_params {
    task_mix mix;
    uint64_t seed;
    float suffix_prob;
    int n_prompts, group_size;
    float temperature;
    int max_new;
    float clip_low, clip_high;
    float kl_coef;
    bool std_norm;
    grpo_agg agg;
    bool drop_uniform;
    float format_reward;
    int ppo_epochs;
    float bias_rate;
    int n_threads;    /* sampling threads */
    float mtp_lambda; /* MTP loss weight (0: the MTP module is not trained) */
    bool mtp_trunk;   /* let the MTP term's gradient into the trunk too */
    /* data parallel over the ranks of an MPI job (train/dp.h; NULL: this process alone): rank r
     * samples the groups of its block of the step's prompts (dp_share), the samples are gathered
     * so every rank rewards all of them and builds the whole batch, then each trains its block
     * of the kept sequences (dp_share_tokens) with the whole batch's loss weights; gradients,
     * expert loads and the loss statistics are summed over the ranks, and every rank applies the
     * same update. The scratch path must differ between ranks sharing a file system. */
    r1_dist *dist;
} grpo_params;

grpo_params grpo_params_default(void);

typedef struct grpo_stats {
    double reward, accuracy, format, mean_len; /* over all samples */
    double kl;        /* mean k3 KL(π‖π_ref) per sampled token; NaN without a reference */
    double loss;      /* surrogate loss of the first epoch */
    double clip_frac; /* tokens whose ratio was clipped (last epoch) */
    double grad_norm;
    double mtp_loss, mtp_acc; /* MTP cross-entropy / top-1 accuracy (first epoch); NaN when off */
    float lr;
    int n_groups_kept, n_seqs_trained, n_tokens;
    double t_sample, t_train; /* seconds */
} grpo_stats;

/* ref/ref_st may be NULL (then kl_coef must be 0). scratch_path: where the current weights are
 * written for the engine. */
r1_status grpo_step(tmodel *m, tstate *st, adamw *opt, tmodel *ref, tstate *ref_st,
                    const grpo_params *p, int64_t step, const char *scratch_path, grpo_stats *out,
                    char *err);

#endif
