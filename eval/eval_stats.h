/* eval_stats.h — the statistics of `r1 eval`: pass@k (unbiased), mean with standard error,
 * majority vote (cons@k), perplexity with a confidence interval.
 *
 * pass@k per item with n samples of which c are correct is the unbiased estimator of Chen et al.
 * (2021), 1 - C(n-c, k) / C(n, k), computed as a product so it never overflows; a benchmark's
 * pass@k is its mean over items. pass@1 is the mean of c/n; its standard error is the sample
 * standard deviation of the per-item c/n over sqrt(items) (items are the independent unit).
 * Pure functions; no allocation except in eval_majority's caller-sized scratch. */
#ifndef R1_EVAL_STATS_H
#define R1_EVAL_STATS_H

#include <stdbool.h>

/* Unbiased pass@k for one item: n samples, c correct, 1 <= k <= n; NAN for k outside [1, n]. */
double eval_pass_at_k(int n, int c, int k);

/* Mean and standard error of the mean (sample sd / sqrt(n); 0 for n < 2) of x[0..n). */
void eval_mean_se(const double *x, int n, double *out_mean, double *out_se);

/* Majority vote over n answers (NULL = no answer, not a vote): answers are grouped by `same`
 * (e.g. eval_math_equal); the largest group wins, ties going to the group seen first. Returns the
 * index of the winning group's first answer, or -1 when every answer is NULL. */
int eval_majority(const char *const *answers, int n, bool (*same)(const char *, const char *));

/* Perplexity of per-token negative log-likelihoods (natural log) summarized by their count, sum
 * and sum of squares: ppl = exp(mean); the 95% interval is exp(mean ± 1.96·se), se from the
 * token NLLs taken as independent (an underestimate for correlated text; docs/eval.md). */
void eval_perplexity(double n, double sum, double sum_sq, double *out_ppl, double *out_lo,
                     double *out_hi, double *out_se);

#endif
