/* sft.h — supervised fine-tuning on generated chats: batches and one optimizer step.
 *
 * Batch b of a run is a pure function of (mix, seed, b, split): sequence i is the problem drawn
 * from seed·b·i, so a resumed run sees exactly the data an uninterrupted one would. Loss: mean
 * cross-entropy over the assistant tokens (everything after "<｜Assistant｜><think>\n", through
 * <｜end▁of▁sentence｜>); the prompt is context only.
 */
#ifndef R1_TRAIN_SFT_H
#define R1_TRAIN_SFT_H

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
    double grad_norm; /* before clipping */
    float lr;
    int n_tokens, n_active;
} sft_stats;

/* Forward + backward + AdamW step + balancing-bias update (bias_rate per step). */
r1_status sft_step(tmodel *m, tstate *st, adamw *opt, tokbatch *b, float bias_rate, sft_stats *out,
                   char *err);
/* Mean cross-entropy of the batch's assistant tokens without training. */
r1_status sft_eval_loss(tmodel *m, tstate *st, tokbatch *b, double *out_loss, char *err);

#endif
