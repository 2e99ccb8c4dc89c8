/* sft.h — supervised fine-tuning on generated chats: batches and one optimizer step.
 *
 * Batch b of a run is a pure function of (mix, seed, b, split): sequence i is the problem drawn
 * from seed·b·i, so a resumed run sees exactly the data an uninterrupted one would. Loss: mean
 * cross-entropy over the assistant tokens (everything after "<｜Assistant｜><think>\n", through
 * <｜end▁of▁sentence｜>); the prompt is context only. With an MTP module (train/tmodel.h) and
 * mtp_lambda > 0 the loss is CE_main + mtp_lambda · CE_mtp, CE_mtp the mean cross-entropy of the
 * MTP module's predictions of the assistant tokens two ahead (DeepSeek-V3's objective, λ = 0.3).
 */
#ifndef R1_TRAIN_SFT_H
#define R1_TRAIN_SFT_H

#include "formats/gguf.h"
#include "train/optim.h"
#include "train/tasks.h"
#include "train/tmodel.h"

typedef struct tokbatch {
    int n_seqs, cap_seqs;
    int *seq_start;  /* (n_seqs + 1) */
    int *prompt_len; /* (n_seqs) tokens of each prompt */
    int n_tok, cap_tok;
    int32_t *tokens;
    uint8_t *active; /* (n_tok) positions whose next token is trained on */
    float *dlogp;    /* (n_tok) scratch for the backward */
    float *logp;     /* (n_tok) */
    int n_active;
    /* MTP: the mask (tbatch_mtp_mask), log p_mtp of the token two ahead, its gradient */
    uint8_t *mtp_active;
    float *mtp_logp, *mtp_dlogp; /* (n_tok) */
} tokbatch;

void tokbatch_clear(tokbatch *b);
void tokbatch_free(tokbatch *b);
/* Append one sequence: prompt then completion; the completion's tokens are trained on.
 * Sequences longer than max_len are cut at max_len. */
r1_status tokbatch_add(tokbatch *b, const int32_t *prompt, int n_prompt, const int32_t *completion,
                       int n_completion, int max_len, char *err);
tbatch tokbatch_view(const tokbatch *b);

typedef struct sft_data {
    task_mix mix;
    uint64_t seed;
    float suffix_prob; /* chance a prompt carries R1's "Please reason step by step…" line */
    int batch_size;    /* sequences per step */
    int max_len;
} sft_data;

/* Fill b with batch number `index` of the split. */
r1_status sft_make_batch(const sft_data *d, int64_t index, task_split split, tokbatch *b,
                         char *err);

typedef struct sft_stats {
    double loss;      /* mean cross-entropy per assistant token (nats) */
    double mtp_loss;  /* the MTP module's, per MTP-trained token; NaN when not run */
    double mtp_acc;   /* its top-1 accuracy on those tokens; NaN when not run */
    double grad_norm; /* before clipping */
    float lr;
    int n_tokens, n_active, n_mtp;
} sft_stats;

/* Forward + backward + AdamW step + balancing-bias update (bias_rate per step). mtp_lambda: weight
 * of the MTP loss (0, or a model without MTP: the MTP module is neither run nor trained). */
r1_status sft_step(tmodel *m, tstate *st, adamw *opt, tokbatch *b, float bias_rate,
                   float mtp_lambda, sft_stats *out, char *err);
/* Mean cross-entropy of the batch's assistant tokens without training. */
r1_status sft_eval_loss(tmodel *m, tstate *st, tokbatch *b, double *out_loss, char *err);
/* The same, with the MTP module's loss and top-1 accuracy when the model has one (out: loss,
 * mtp_loss, mtp_acc, n_tokens, n_active, n_mtp). */
r1_status sft_eval(tmodel *m, tstate *st, tokbatch *b, sft_stats *out, char *err);

/* Sequences [s0, s1) of src appended to dst (cleared first), with the same trained positions. */
r1_status tokbatch_slice(const tokbatch *src, int s0, int s1, tokbatch *dst, char *err);

/* Data parallel over the ranks of dist (train/dp.h; NULL or one rank: exactly sft_step /
 * sft_eval). b is the whole batch, the same on every rank; each rank forwards and backwards its
 * block of sequences (dp_share), the loss is normalized by the whole batch's token counts, the
 * gradients and expert loads are summed over the ranks, and every rank applies the same update.
 * out holds the whole batch's statistics on every rank. */
/* The data settings of a run, stored in its checkpoints as r1train.* keys so `r1 train --resume`
 * continues with the same batches: sft_add_data_keys is a tio_save_params.add_keys callback (user:
 * a sft_data_keys), sft_read_data_keys restores them (false, with err, when the file cannot be
 * read or is not an SFT checkpoint; tasks gets the task mix text, cap bytes). */
typedef struct sft_data_keys {
    const sft_data *d;
    const char *tasks;
    float bias_rate, mtp_lambda;
} sft_data_keys;

void sft_add_data_keys(gguf_writer *w, void *user);
bool sft_read_data_keys(const char *path, sft_data *d, char *tasks, size_t cap, float *bias_rate,
                        float *mtp_lambda, char *err);

r1_status sft_step_dp(tmodel *m, tstate *st, adamw *opt, tokbatch *b, r1_dist *dist,
                      float bias_rate, float mtp_lambda, sft_stats *out, char *err);
r1_status sft_eval_dp(tmodel *m, tstate *st, tokbatch *b, r1_dist *dist, sft_stats *out, char *err);

#endif
