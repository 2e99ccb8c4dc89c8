/* dp.h — data-parallel training over the ranks of an MPI job (`mpirun -np N r1 train|grpo`,
 * docs/distributed.md "Training"): every rank holds the whole model and builds the same batch,
 * takes a contiguous block of its sequences, and the gradients are summed over the ranks before
 * the optimizer step, so every rank applies the same update and the weights stay bit-identical
 * across ranks (dp_check_identical verifies it).
 *
 * dist NULL, or a job of one rank: every function is the identity (one process trains alone).
 * Sums of statistics go through an allgather and are added in rank order, so every rank gets the
 * same bits; the gradients go through MPI_Allreduce, which gives every rank the same bits too
 * (src/dist/dist.h).
 */
#ifndef R1_TRAIN_DP_H
#define R1_TRAIN_DP_H

#include "r1.h"
#include "train/optim.h"
#include "train/rollout.h"
#include "train/tmodel.h"

#include <stdbool.h>

/* This rank's block of n items: [*out_first, *out_end), contiguous, sizes differing by at most 1,
 * rank order (rank r gets n·r/N .. n·(r+1)/N). */
void dp_share(const r1_dist *dist, int n, int *out_first, int *out_end);

/* This rank's block of the sequences of a batch (seq_start: (n_seqs + 1) token offsets),
 * contiguous, balanced by tokens: sequence q goes to rank ⌊N·mid_q / n_tok⌋ with mid_q the middle
 * of its tokens, so every rank gets about n_tok/N tokens (whole sequences; a rank may get none). */
void dp_share_tokens(const r1_dist *dist, int n_seqs, const int *seq_start, int *out_first,
                     int *out_end);

/* GRPO: each rank sampled the groups of its dp_share of n_groups (outs[k] for k in its groups'
 * samples, n_tokens ≤ max_new); afterwards every rank has every sample (the others' tokens are
 * malloc'd into outs, freed by rollout_free). */
bool dp_allgather_rollouts(r1_dist *dist, int n_groups, int group_size, int max_new,
                           rollout_out *outs);

/* x[0..n) := the sum over ranks of every rank's x (n ≤ 64), added in rank order in double. */
bool dp_sum_f64(r1_dist *dist, double *x, int n);

/* m->grads := the sum over ranks (MPI_Allreduce in buckets of 4 M floats). */
bool dp_sum_grads(r1_dist *dist, tmodel *m);

/* out_load ((n_layers + n_mtp) · (n_routed_experts + 1)) := the sum over ranks of the expert
 * loads of each rank's last forward (ran: whether this rank ran one; zeros if not). */
bool dp_sum_load(r1_dist *dist, const tmodel *m, const tstate *st, bool ran, int *out_load);

/* A 64-bit hash of the weights, balancing biases and (opt non-NULL) AdamW moments and step. */
uint64_t dp_model_hash(const tmodel *m, const adamw *opt);

/* Every rank's dp_model_hash, compared: true when all equal. *out_hash gets this rank's; with
 * *out_first_bad (may be NULL) the lowest rank whose hash differs from rank 0's (-1 if none). */
bool dp_check_identical(r1_dist *dist, const tmodel *m, const adamw *opt, uint64_t *out_hash,
                        int *out_first_bad);

/* This rank's own work failed outside a collective (the others may be waiting in one without a
 * timeout): r1_dist_finalize then aborts the whole job instead of waiting. No-op for dist NULL. */
void dp_mark_failed(r1_dist *dist, const char *why);

#endif
