/* sampler.c — choose the next token from logits: greedy, or temperature with top-k, top-p and
 * min-p filters (applied in that order, as in the common engines), from a seeded generator.
 * R1's recommended defaults: temperature 0.6, top-p 0.95. */
#include "r1.h"

#include "base/err.h"
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct r1_sampler {
    r1_sampler_params p;
    int n_vocab;
    rng rng;
    cand *cands; /* (n_vocab) */
};

r1_sampler_params r1_sampler_params_default(void)
{
    return (r1_sampler_params){
        .temperature = 0.6f, .top_p = 0.95f, .top_k = 0, .min_p = 0.0f, .seed = 0};
}

r1_status r1_sampler_new(const r1_sampler_params *params, int n_vocab, r1_sampler **out, char *err)
{
    if (!params || n_vocab <= 0) return err_set(err, R1_ERR_INVALID_ARG, "bad sampler arguments");
    if (!(params->temperature >= 0) || !(params->top_p > 0 && params->top_p <= 1) ||
        params->top_k < 0 || !(params->min_p >= 0 && params->min_p <= 1))
        return err_set(err, R1_ERR_INVALID_ARG,
                       "sampler: need temperature ≥ 0, 0 < top_p ≤ 1, top_k ≥ 0, 0 ≤ min_p ≤ 1");
    r1_sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->cands = malloc((size_t)n_vocab * sizeof *s->cands))) {
        free(s);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    s->p = *params;
    s->n_vocab = n_vocab;
    rng_seed(&s->rng, params->seed);
    *out = s;
    return R1_OK;
}

void r1_sampler_free(r1_sampler *s)
{
    if (!s) return;
    free(s->cands);
    free(s);
}

static int cmp_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id; /* deterministic order on ties */
}

static int32_t argmax(const float *logits, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int32_t r1_sampler_sample(r1_sampler *s, const float *logits)
{
    int n = s->n_vocab;
    if (s->p.temperature <= 0 || s->p.top_k == 1) return argmax(logits, n);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(logits[i])) s->cands[m++] = (cand){logits[i] / s->p.temperature, i};
    if (m == 0) return argmax(logits, n);
    qsort(s->cands, (size_t)m, sizeof *s->cands, cmp_desc);
    if (s->p.top_k > 0 && s->p.top_k < m) m = s->p.top_k;
    /* softmax over the survivors (stored back as probabilities) */
    float mx = s->cands[0].logit;
    double sum = 0;
    for (int i = 0; i < m; i++) sum += exp((double)s->cands[i].logit - mx);
    double cum = 0;
    int keep = m;
    float p0 = (float)(1.0 / sum);
    for (int i = 0; i < m; i++) {
        double p = exp((double)s->cands[i].logit - mx) / sum;
        if (s->p.min_p > 0 && p < s->p.min_p * p0) {
            keep = i > 0 ? i : 1;
            break;
        }
        s->cands[i].logit = (float)p;
        cum += p;
        if (cum >= s->p.top_p) {
            keep = i + 1;
            break;
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += s->cands[i].logit;
    double r = rng_uniform(&s->rng) * total, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += s->cands[i].logit;
        if (r < acc) return s->cands[i].id;
    }
    return s->cands[keep - 1].id;
}
