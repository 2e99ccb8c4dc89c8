/* evaluate.h — accuracy of a model (through the inference engine) on held-out generated problems.
 *
 * Problems i = 0..n-1 of a spec are drawn from the test split with seed + i, so two models are
 * always compared on the same problems. Greedy by default (temperature 0).
 */
#ifndef R1_TRAIN_EVALUATE_H
#define R1_TRAIN_EVALUATE_H

#include "r1.h"
#include "train/tasks.h"

typedef struct task_eval_params {
    int n_problems;
    uint64_t seed;
    bool r1_suffix; /* prompts carry R1's "Please reason step by step…" line */
    float temperature, top_p;
    int max_new;
    int n_threads;
} task_eval_params;

task_eval_params task_eval_params_default(void);

typedef struct task_eval_result {
    int n, n_correct, n_format;
    double mean_len; /* completion tokens */
} task_eval_result;

r1_status task_eval(r1_model *model, const task_spec *spec, const task_eval_params *p,
                    task_eval_result *out, char *err);

/* "add:3" style name of a spec (for reports). */
void task_spec_name(const task_spec *s, char *out, size_t cap);

#endif
