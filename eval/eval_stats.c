/* eval_stats.c — pass@k, mean ± standard error, majority vote, perplexity (see eval_stats.h). */
#include "eval_stats.h"

#include <math.h>
#include <stdlib.h>

double eval_pass_at_k(int n, int c, int k)
{
    if (n < 1 || k < 1 || k > n || c < 0 || c > n) return NAN;
    if (n - c < k) return 1.0;
    /* 1 - prod_{i = n-c+1}^{n} (1 - k / i) */
    double p = 1.0;
    for (int i = n - c + 1; i <= n; i++) p *= 1.0 - (double)k / i;
    return 1.0 - p;
}

void eval_mean_se(const double *x, int n, double *out_mean, double *out_se)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    double mean = n > 0 ? sum / n : 0;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    *out_mean = mean;
    *out_se = n > 1 ? sqrt(ss / (n - 1) / n) : 0;
}

int eval_majority(const char *const *answers, int n, bool (*same)(const char *, const char *))
{
    int best = -1, best_count = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i]) continue;
        /* only the first answer of a group counts the group */
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) seen = answers[j] && same(answers[j], answers[i]);
        if (seen) continue;
        int count = 0;
        for (int j = i; j < n; j++) count += answers[j] && same(answers[i], answers[j]);
        if (count > best_count) {
            best = i;
            best_count = count;
        }
    }
    return best;
}

void eval_perplexity(double n, double sum, double sum_sq, double *out_ppl, double *out_lo,
                     double *out_hi, double *out_se)
{
    double mean = n > 0 ? sum / n : 0;
    double var = n > 1 ? (sum_sq - n * mean * mean) / (n - 1) : 0;
    if (var < 0) var = 0;
    double se = n > 0 ? sqrt(var / n) : 0;
    *out_ppl = exp(mean);
    *out_lo = exp(mean - 1.96 * se);
    *out_hi = exp(mean + 1.96 * se);
    *out_se = se;
}
