/* eval_report.h — the per-item results file of `r1 eval` and the report computed from it.
 *
 * Results file (JSONL, one object per line, appended and flushed as items finish):
 *   {"type":"header", "version":1, "task":…, "samples":k, "greedy":…, "temperature":…,
 *    "top_p":…, "seed":…, "max_tokens":…, "score":"gen"|"logprob", "data":…, "model":…, …}
 *   {"type":"item", "line":N, "id":…, "subject":…, "reference":…, "n_samples":k, "n_correct":c,
 *    "cons_answer":…, "cons_correct":bool,
 *    "samples":[{"seed":…, "answer":…|null, "extracted_by":…, "correct":bool,
 *                "finish":"stop"|"length"|"context", "n_tokens":…, "n_reasoning_tokens":…,
 *                "n_answer_tokens":…, "reasoning":…, "content":…}, …]}
 * The report depends only on the item records (sorted by line), so an interrupted run that is
 * resumed reports exactly what an uninterrupted one does; only "timing" describes this process. */
#ifndef R1_EVAL_REPORT_H
#define R1_EVAL_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#define EVAL_MAX_K 24

typedef struct eval_report {
    int n_items;
    int n_samples;   /* samples per item (the smallest over items) */
    long n_total;    /* samples over all items */
    long n_correct;  /* correct samples */
    double pass1;    /* mean over items of c/n */
    double pass1_se; /* its standard error over items */
    int n_k;
    int k[EVAL_MAX_K]; /* 1, 2, 4, …, n_samples */
    double pass_k[EVAL_MAX_K];
    double cons;            /* cons@n: majority answer correct, mean over items */
    double mean_tokens;     /* generated tokens per sample */
    double mean_reasoning;  /* tokens before </think> per sample */
    double mean_answer;     /* tokens after it */
    double truncation_rate; /* samples stopped by --max-tokens or the context */
    double no_answer_rate;  /* samples without an extracted answer */
    long generated_tokens;  /* over all samples */
} eval_report;

/* Compute the report over item records (any order; duplicates of a line count once: the last). */
void eval_report_compute(cJSON *const *items, int n_items, eval_report *out);

/* The report as JSON: the numbers above plus "config" (a copy of the header record, seeds
 * included) and "timing" (may be NULL). Caller deletes. */
cJSON *eval_report_json(const eval_report *r, const cJSON *header, const cJSON *timing);

/* The report as a markdown table. */
void eval_report_markdown(FILE *f, const eval_report *r, const cJSON *header, const cJSON *timing);

/* Read a results file: *out_header (NULL when the file has none) and the item records, each a
 * cJSON object the caller deletes (free the array). *out_good_bytes is the length of the prefix
 * made of complete, valid lines: what --resume keeps. False when the file cannot be read. */
bool eval_results_read(const char *path, cJSON **out_header, cJSON ***out_items, int *out_n,
                       long *out_good_bytes, char *err);

#endif
