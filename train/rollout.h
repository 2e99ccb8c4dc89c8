/* rollout.h — sample completions of many prompts with the inference engine, in parallel.
 *
 * Each request is decoded by one session on one worker thread (the model should be loaded with
 * n_threads = 1): prompt prefill, then sample until EOS or max_new tokens. Every request has its
 * own sampler seed and starts from an empty cache, so the completions do not depend on the thread
 * count or on which thread ran which request.
 */
#ifndef R1_TRAIN_ROLLOUT_H
#define R1_TRAIN_ROLLOUT_H

#include "r1.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rollout_req {
    const int32_t *prompt;
    int n_prompt;
    uint64_t seed;
} rollout_req;

typedef struct rollout_out {
    int32_t *tokens; /* (n_tokens) malloc'd completion, EOS included when hit */
    int n_tokens;
    bool hit_eos;
} rollout_out;

/* temperature 0 = greedy. outs[n] are filled (free with rollout_free). */
r1_status rollout_generate(r1_model *model, int n_threads, const rollout_req *reqs, int n,
                           float temperature, float top_p, int max_new, rollout_out *outs,
                           char *err);
void rollout_free(rollout_out *outs, int n);

#endif
