/* sampler.c — choose the next token from logits: greedy, or temperature with top-k, top-p and
 * min-p filters (applied in that order, as in the common engines), from a seeded generator.
 * R1's recommended defaults: temperature 0.6, top-p 0.95. With a grammar (r1_sampler_set_grammar),
 * the logits are masked first and the grammar follows the chosen tokens. */
#include "r1.h"

#include "base/err.h"
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct r1_sampler {
    r1_sampler_params p;
    int n_vocab;
    rng rng;
    cand *cands;         /* (n_vocab) */
    r1_grammar *grammar; /* constrained decoding (api/grammar.c), or NULL */
    float *masked;       /* (n_vocab) logits with the grammar's mask applied */
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
    free(s->masked);
    free(s);
}

static int cmp_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id; /* deterministic order on ties */
}

static bool before(const cand *x, const cand *y)
{
    return x->logit > y->logit || (x->logit == y->logit && x->id < y->id);
}

/* Partition c[0..n) so that its k best (by cmp_desc order) come first, in O(n) on average
 * (quickselect with a deterministic median-of-three pivot). */
static void select_top(cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], d = c[hi], pivot;
        if (before(&a, &b))
            pivot = before(&b, &d) ? b : (before(&a, &d) ? d : a);
        else
            pivot = before(&a, &d) ? a : (before(&b, &d) ? d : b);
        int i = lo, j = hi;
        while (i <= j) {
            while (before(&c[i], &pivot)) i++;
            while (before(&pivot, &c[j])) j--;
            if (i <= j) {
                cand t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

static int32_t argmax(const float *logits, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* Filters in the usual order — top-k, then min-p (relative to the best token), then top-p — over
 * probabilities softmax(logits / T): leaves the kept candidates in s->cands[0..return) with their
 * unnormalized weights in .logit, and their sum in *total. 0 when nothing can be sampled (greedy
 * falls back to argmax). Only the candidates a filter can keep are sorted: the whole vocabulary
 * (152k for Qwen) is never sorted per token. */
static int filter(r1_sampler *s, const float *logits, double *out_total)
{
    int n = s->n_vocab;
    cand *c = s->cands;
    int m = 0;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (!isnan(logits[i])) {
            c[m++] = (cand){logits[i] / s->p.temperature, i};
            if (c[m - 1].logit > mx) mx = c[m - 1].logit;
        }
    if (m == 0 || mx == -INFINITY) return 0;
    if (s->p.top_k > 0 && s->p.top_k < m) {
        select_top(c, m, s->p.top_k);
        m = s->p.top_k;
    }
    /* weights relative to the best token (its weight is 1) */
    double total = 0;
    int kept = 0;
    for (int i = 0; i < m; i++) {
        double w = exp((double)c[i].logit - mx);
        if (s->p.min_p > 0 && w < s->p.min_p) continue; /* p < min_p · p_max */
        c[kept++] = (cand){(float)w, c[i].id};
        total += w;
    }
    m = kept;
    if (s->p.top_p < 1.0f) {
        /* the smallest set of best tokens whose mass reaches top_p: sort a growing prefix */
        double need = s->p.top_p * total;
        int k = m < 64 ? m : 64;
        for (;;) {
            select_top(c, m, k);
            qsort(c, (size_t)k, sizeof *c, cmp_desc);
            double cum = 0;
            int keep = -1;
            for (int i = 0; i < k; i++) {
                cum += c[i].logit;
                if (cum >= need) {
                    keep = i + 1;
                    break;
                }
            }
            if (keep > 0 || k == m) {
                m = keep > 0 ? keep : k;
                break;
            }
            k = k * 4 < m ? k * 4 : m;
        }
        total = 0;
        for (int i = 0; i < m; i++) total += c[i].logit;
    }
    *out_total = total;
    return m;
}

/* One draw from c[0..m) by weight, skipping token `skip` (total excludes its weight). */
static int32_t draw(r1_sampler *s, int m, double total, int32_t skip)
{
    const cand *c = s->cands;
    double r = rng_uniform(&s->rng) * total, acc = 0;
    int32_t last = -1;
    for (int i = 0; i < m; i++) {
        if (c[i].id == skip) continue;
        acc += c[i].logit;
        last = c[i].id;
        if (r < acc) return c[i].id;
    }
    return last;
}

/* With a grammar: the logits with disallowed tokens at -inf (in s->masked), else the logits. */
static const float *grammar_mask(r1_sampler *s, const float *logits)
{
    if (!s->grammar || !s->masked) return logits;
    memcpy(s->masked, logits, (size_t)s->n_vocab * sizeof *logits);
    if (r1_grammar_apply(s->grammar, s->masked, NULL) != R1_OK) return logits;
    return s->masked;
}

void r1_sampler_set_grammar(r1_sampler *s, r1_grammar *grammar)
{
    if (!s) return;
    if (grammar && !s->masked) s->masked = malloc((size_t)s->n_vocab * sizeof *s->masked);
    s->grammar = s->masked ? grammar : NULL;
}

static int32_t sample_plain(r1_sampler *s, const float *logits);

int32_t r1_sampler_sample(r1_sampler *s, const float *logits)
{
    if (!s->grammar) return sample_plain(s, logits);
    int32_t id = sample_plain(s, grammar_mask(s, logits));
    r1_grammar_accept(s->grammar, id);
    return id;
}

static int32_t sample_plain(r1_sampler *s, const float *logits)
{
    if (s->p.temperature <= 0 || s->p.top_k == 1) return argmax(logits, s->n_vocab);
    double total;
    int m = filter(s, logits, &total);
    if (m == 0) return argmax(logits, s->n_vocab);
    return draw(s, m, total, -1);
}

/* Speculative sampling with a deterministic draft (q = one-hot): accepting the draft d with
 * probability p(d) and otherwise drawing from p without d gives P(d) = p(d) and, for x ≠ d,
 * P(x) = (1 − p(d)) · p(x) / (1 − p(d)) = p(x): exactly the distribution of r1_sampler_sample. */
int32_t r1_sampler_sample_draft(r1_sampler *s, const float *logits, int32_t draft, bool *accepted)
{
    /* a draft the grammar refuses has probability 0 below: it is rejected */
    logits = grammar_mask(s, logits);
    int32_t id;
    if (s->p.temperature <= 0 || s->p.top_k == 1) {
        id = argmax(logits, s->n_vocab);
    } else {
        double total;
        int m = filter(s, logits, &total);
        if (m == 0) {
            id = argmax(logits, s->n_vocab);
        } else {
            double w = 0;
            for (int i = 0; i < m; i++)
                if (s->cands[i].id == draft) w = s->cands[i].logit;
            if (w > 0 && (rng_uniform(&s->rng) * total < w || total - w <= 0))
                id = draft;
            else
                id = draw(s, m, total - w, draft);
        }
    }
    *accepted = id == draft;
    if (s->grammar) r1_grammar_accept(s->grammar, id);
    return id;
}
