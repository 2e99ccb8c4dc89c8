/* eval_cost.c — what evaluating k = 1..K tokens in one forward pass costs after a short prompt:
 * the price of verifying k − 1 speculative drafts, or of one step of k sequences decoded together
 * (the weights are read once for all k tokens). Times r1_session_eval of k tokens and rewinds, N
 * times per k; prints the best and the median per k and the median per token.
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -Iinclude bench/eval_cost.c build/libr1.a -lutf8proc -lcjson -lm -lpthread \
 *      -o eval_cost
 * Run: eval_cost MODEL [THREADS] [N] [K]   (defaults 2, 30, 4; the weights are read into memory,
 * not mapped, as `r1 bench --no-mmap` does, because decoding from mapped pages is erratic here)
 */
#include "r1.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: eval_cost MODEL [THREADS] [N] [K]\n");
        return 2;
    }
    int n_threads = argc > 2 ? atoi(argv[2]) : 2, n_rep = argc > 3 ? atoi(argv[3]) : 30;
    int k_max = argc > 4 ? atoi(argv[4]) : 4;
    enum { N_PROMPT = 32, K_LIMIT = 32 };
    if (n_threads < 1 || n_rep < 1 || k_max < 1 || k_max > K_LIMIT) {
        fprintf(stderr, "eval_cost: THREADS ≥ 1, N ≥ 1, 1 ≤ K ≤ %d\n", K_LIMIT);
        return 2;
    }
    char err[R1_ERR_MAX];
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = n_threads;
    mp.use_mmap = false;
    r1_model *m = NULL;
    if (r1_model_load(argv[1], &mp, &m, err)) {
        fprintf(stderr, "eval_cost: %s\n", err);
        return 1;
    }
    r1_model_info info;
    r1_model_get_info(m, &info);
    r1_session_params sp = r1_session_params_default();
    sp.mtp = R1_MTP_OFF; /* the main model only */
    sp.n_ctx = N_PROMPT + K_LIMIT + 8;
    r1_session *s = NULL;
    if (r1_session_new(m, &sp, &s, err)) {
        fprintf(stderr, "eval_cost: %s\n", err);
        r1_model_free(m);
        return 1;
    }
    int32_t ids[N_PROMPT + K_LIMIT];
    for (int i = 0; i < N_PROMPT + K_LIMIT; i++) ids[i] = (int32_t)((7 * i + 5) % info.n_vocab);
    double *t = malloc((size_t)n_rep * sizeof *t);
    int rc = !t || r1_session_eval(s, ids, N_PROMPT, err) != R1_OK;
    for (int k = 1; k <= k_max && !rc; k++) {
        for (int r = 0; r < n_rep && !rc; r++) {
            double t0 = now();
            rc = r1_session_eval(s, ids + N_PROMPT, k, err) != R1_OK;
            t[r] = now() - t0;
            r1_session_rewind(s, N_PROMPT);
        }
        if (rc) break;
        qsort(t, (size_t)n_rep, sizeof *t, cmp_double);
        double med = t[n_rep / 2];
        printf("k=%d best %.1f us median %.1f us (per token %.1f)\n", k, t[0] * 1e6, med * 1e6,
               med * 1e6 / k);
    }
    if (rc) fprintf(stderr, "eval_cost: %s\n", err);
    free(t);
    r1_session_free(s);
    r1_model_free(m);
    return rc;
}
