/* test_eval_stats.c — `r1 eval`'s statistics: the unbiased pass@k against the binomial formula
 * (and brute force over subsets), mean ± standard error, majority vote with ties and missing
 * answers, perplexity's interval, and the report computed from hand-made item records (duplicates,
 * truncation, reasoning/answer lengths). */
#include "test.h"

#include <unistd.h>

#include "../../eval/eval_answer.c"
#include "../../eval/eval_report.c"
#include "../../eval/eval_stats.c"

static double binom(int n, int k)
{
    if (k < 0 || k > n) return 0;
    double r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

/* Fraction of the k-subsets of n samples (c correct: the first c) that hold a correct one. */
static double brute_pass(int n, int c, int k)
{
    long hit = 0, all = 0;
    for (unsigned m = 0; m < (1u << n); m++) {
        if (__builtin_popcount(m) != k) continue;
        all++;
        hit += (m & ((1u << c) - 1)) != 0;
    }
    return (double)hit / (double)all;
}

static void test_pass_at_k(void)
{
    for (int n = 1; n <= 12; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++) {
                double got = eval_pass_at_k(n, c, k);
                double want = 1 - binom(n - c, k) / binom(n, k);
                CHECKF(fabs(got - want) < 1e-12, "pass@%d n=%d c=%d: %g vs %g", k, n, c, got, want);
                if (n <= 10) {
                    double b = brute_pass(n, c, k);
                    CHECKF(fabs(got - b) < 1e-12, "brute pass@%d n=%d c=%d: %g vs %g", k, n, c, got,
                           b);
                }
            }
    /* pass@1 is c/n; pass@n is "any correct" */
    CHECK(fabs(eval_pass_at_k(16, 5, 1) - 5.0 / 16) < 1e-15);
    CHECK(eval_pass_at_k(16, 1, 16) == 1.0);
    CHECK(eval_pass_at_k(16, 0, 16) == 0.0);
    /* large n does not overflow */
    double big = eval_pass_at_k(1000, 3, 500);
    CHECK(big > 0.87 && big < 0.88);
    CHECK(isnan(eval_pass_at_k(4, 2, 5)));
    CHECK(isnan(eval_pass_at_k(4, 2, 0)));
    CHECK(isnan(eval_pass_at_k(4, 5, 1)));
}

static void test_mean_se(void)
{
    double x[] = {1, 0, 0.5, 0.5};
    double m, se;
    eval_mean_se(x, 4, &m, &se);
    CHECK(fabs(m - 0.5) < 1e-15);
    /* sd = sqrt(0.5/3), se = sd/2 */
    CHECK(fabs(se - sqrt(0.5 / 3) / 2) < 1e-15);
    eval_mean_se(x, 1, &m, &se);
    CHECK(m == 1 && se == 0);
    eval_mean_se(x, 0, &m, &se);
    CHECK(m == 0 && se == 0);
}

static bool streq(const char *a, const char *b)
{
    return !strcmp(a, b);
}

static void test_majority(void)
{
    const char *a[] = {"1", "2", "2", "3"};
    CHECK(eval_majority(a, 4, streq) == 1);
    const char *tie[] = {"5", "7", "7", "5"};
    CHECK(eval_majority(tie, 4, streq) == 0); /* tie: the group seen first */
    const char *none[] = {NULL, NULL};
    CHECK(eval_majority(none, 2, streq) == -1);
    const char *some[] = {NULL, "4", NULL, "4", "9"};
    CHECK(eval_majority(some, 5, streq) == 1);
    /* grouped by math equivalence: 1/2, 0.5 and \frac{1}{2} are one answer */
    const char *eq[] = {"3", "1/2", "0.5", "3", "\\frac{1}{2}"};
    CHECK(eval_majority(eq, 5, eval_math_equal) == 1);
}

static void test_perplexity(void)
{
    /* NLLs 1, 2, 3: mean 2, sd 1, se 1/sqrt(3) */
    double ppl, lo, hi, se;
    eval_perplexity(3, 6, 14, &ppl, &lo, &hi, &se);
    CHECK(fabs(ppl - exp(2)) < 1e-12);
    CHECK(fabs(se - 1 / sqrt(3)) < 1e-12);
    CHECK(fabs(lo - exp(2 - 1.96 / sqrt(3))) < 1e-9 && fabs(hi - exp(2 + 1.96 / sqrt(3))) < 1e-9);
    eval_perplexity(1, 0.5, 0.25, &ppl, &lo, &hi, &se);
    CHECK(se == 0 && lo == ppl && hi == ppl);
}

static cJSON *record(int line, const char *finishes, const char *correct, int cons_correct)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "item");
    cJSON_AddNumberToObject(o, "line", line);
    cJSON_AddBoolToObject(o, "cons_correct", cons_correct);
    cJSON *arr = cJSON_AddArrayToObject(o, "samples");
    for (size_t k = 0; correct[k]; k++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddBoolToObject(s, "correct", correct[k] == '1');
        if (correct[k] == '-')
            cJSON_AddNullToObject(s, "answer");
        else
            cJSON_AddStringToObject(s, "answer", "x");
        cJSON_AddStringToObject(s, "finish", finishes[k] == 's' ? "stop" : "length");
        cJSON_AddNumberToObject(s, "n_tokens", 10);
        cJSON_AddNumberToObject(s, "n_reasoning_tokens", 6);
        cJSON_AddNumberToObject(s, "n_answer_tokens", 4);
        cJSON_AddItemToArray(arr, s);
    }
    return o;
}

static void test_report(void)
{
    /* 3 items × 4 samples (one item recorded twice: the later record counts) */
    cJSON *items[4] = {
        record(5, "ssss", "1100", 1), record(2, "sssl", "000-", 0), record(9, "ssll", "1111", 1),
        record(2, "ssss", "1000", 0), /* replaces the first line-2 record */
    };
    eval_report r;
    eval_report_compute(items, 4, &r);
    CHECK(r.n_items == 3);
    CHECK(r.n_samples == 4);
    CHECK(r.n_total == 12);
    CHECK(r.n_correct == 2 + 1 + 4);
    double p1[] = {0.5, 0.25, 1.0}, m, se;
    eval_mean_se(p1, 3, &m, &se);
    CHECK(fabs(r.pass1 - m) < 1e-12 && fabs(r.pass1_se - se) < 1e-12);
    CHECK(r.n_k == 3 && r.k[0] == 1 && r.k[1] == 2 && r.k[2] == 4);
    double p2 = (eval_pass_at_k(4, 2, 2) + eval_pass_at_k(4, 1, 2) + 1) / 3;
    CHECK(fabs(r.pass_k[1] - p2) < 1e-12);
    CHECK(fabs(r.pass_k[2] - 1.0) < 1e-12);
    CHECK(fabs(r.cons - 2.0 / 3) < 1e-12);
    CHECK(fabs(r.truncation_rate - 2.0 / 12) < 1e-12);
    CHECK(r.no_answer_rate == 0);
    CHECK(r.mean_reasoning == 6 && r.mean_answer == 4 && r.generated_tokens == 120);
    cJSON *j = eval_report_json(&r, NULL, NULL);
    CHECK(j && cJSON_GetObjectItem(j, "cons@4") && cJSON_GetObjectItem(j, "pass@k"));
    cJSON_Delete(j);
    for (int i = 0; i < 4; i++) cJSON_Delete(items[i]);
    /* no items at all */
    eval_report_compute(NULL, 0, &r);
    CHECK(r.n_items == 0 && r.pass1 == 0);
}

static void test_results_read(void)
{
    char path[] = "/tmp/test_eval_stats_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *text = "{\"type\":\"header\",\"task\":\"math\"}\n"
                       "{\"type\":\"item\",\"line\":1,\"samples\":[]}\n"
                       "{\"type\":\"item\",\"line\":2,\"samples\":[]}\n"
                       "{\"type\":\"item\",\"line\":3,\"sam";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    cJSON *h, **items;
    int n;
    long good;
    CHECK(eval_results_read(path, &h, &items, &n, &good, NULL));
    CHECK(h && n == 2);
    CHECK(good == (long)(strstr(text, "{\"type\":\"item\",\"line\":3") - text));
    cJSON_Delete(h);
    for (int i = 0; i < n; i++) cJSON_Delete(items[i]);
    free(items);
    unlink(path);
    CHECK(!eval_results_read("/nonexistent/x.jsonl", &h, &items, &n, &good, NULL));
}

int main(void)
{
    test_pass_at_k();
    test_mean_se();
    test_majority();
    test_perplexity();
    test_report();
    test_results_read();
    return test_finish();
}
