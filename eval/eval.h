/* eval.h — `r1 eval` as a library (r1eval): score a model on math, multiple-choice and perplexity
 * benchmarks with DeepSeek-R1's protocol (docs/eval.md). The command (apps/cli/cmd_eval.c) parses
 * the options into an eval_options and calls eval_run or eval_summarize; everything else — data,
 * prompts, batched generation, answer checking, statistics, the results file and the report —
 * lives here. Messages and the progress line go to stderr, the report to stdout, as the command
 * prints them. */
#ifndef R1_EVAL_H
#define R1_EVAL_H

#include "eval_data.h"
#include "r1.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct eval_options {
    const char *model_arg;  /* the model as the user named it (recorded in the results header) */
    const char *model_path; /* the file or folder it resolved to */
    const char *data, *out, *report, *template_name, *summarize;
    eval_task task;
    bool has_task;
    eval_fields fields;
    int limit; /* 0 = all */
    bool strict, resume, overwrite, no_text, json, verbose, greedy, logprob;
    int samples;
    float temperature, top_p;
    uint64_t seed;
    int max_tokens, ctx, stride, parallel, n_threads;
    r1_mtp_mode mtp;
    r1_cache_type cache_type;
    /* The application's model loader (it prints what went wrong; NULL on failure). Required. */
    r1_model *(*load_model)(const char *path, int n_threads, bool verbose);
    /* Pretty-printer for the JSON report (a malloc'd string); NULL: cJSON_Print. */
    char *(*json_print)(const cJSON *item);
    /* Called once the model is loaded, before the first item (NULL: nothing): where the command
     * installs its Ctrl-C handler, so that an interrupted load still ends the process at once. */
    void (*on_loaded)(void);
} eval_options;

/* Run a benchmark as o says (o->model_path set, o->task and o->data checked by the caller).
 * Returns the process exit code: 0 done, 1 runtime error, 2 usage error (a bad template name, a
 * results file that exists without --resume/--overwrite or does not match), 130 stopped by
 * eval_request_stop (the finished items are in the results file). */
int eval_run(const eval_options *o);

/* The report of an existing results file: markdown (or JSON when json) on stdout, the JSON in
 * report_path when not NULL. Returns 0, or 1 when the file cannot be read or the report written. */
int eval_summarize(const char *results, const char *report_path, bool json,
                   char *(*print)(const cJSON *item));

/* Ask a running eval_run to stop after the steps in flight; async-signal-safe (a SIGINT handler
 * calls it). */
void eval_request_stop(void);

#endif
