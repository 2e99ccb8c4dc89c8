/* sampler.c — choose the next token from logits: greedy, or temperature with top-k, top-p and
 * min-p filters (applied in that order, as in the common engines), from a seeded generator.
 * R1's recommended defaults: temperature 0.6, top-p 0.95. Before any of that, the logits may be
 * adjusted: a logit bias, then the repeat penalty, then the frequency/presence penalties, which
 * need the tokens of the sequence (the sampler remembers what it drew; r1_sampler_accept adds the
 * prompt); then, with a grammar (r1_sampler_set_grammar), the tokens it refuses are masked, and
 * the grammar follows the chosen tokens. */
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
    cand *cands; /* (n_vocab) */
    /* logit adjustments; all NULL/0 while off, so plain sampling costs nothing more */
    float *work; /* (n_vocab) the adjusted logits */
    int32_t *bias_ids;
    float *bias; /* (n_bias) */
    int n_bias;
    int32_t *hist; /* (n_hist) last tokens of prompt + generation, for repeat_penalty */
    int n_hist, cap_hist;
    unsigned char *mark; /* (n_vocab) scratch: a token already penalized in this window */
    int *gen_count;      /* (n_vocab) times each token was drawn, for frequency/presence */
    int32_t *gen_ids;    /* (n_gen_ids) the distinct tokens drawn, in first-drawn order */
    int n_gen_ids;
    r1_grammar *grammar; /* constrained decoding (api/grammar.c), or NULL */
    float *masked;       /* (n_vocab) logits with the grammar's mask applied */
};

static bool repeat_on(const r1_sampler *s)
{
    return s->p.repeat_penalty != 0 && s->p.repeat_penalty != 1 && s->p.repeat_last_n != 0;
}

static bool freq_on(const r1_sampler *s)
{
    return s->p.frequency_penalty != 0 || s->p.presence_penalty != 0;
}

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
    if (!isfinite(params->frequency_penalty) || !isfinite(params->presence_penalty) ||
        !(params->repeat_penalty >= 0 && isfinite(params->repeat_penalty)) ||
        params->repeat_last_n < -1)
        return err_set(err, R1_ERR_INVALID_ARG,
                       "sampler: need finite penalties, repeat_penalty ≥ 0, repeat_last_n ≥ -1");
    r1_sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->cands = malloc((size_t)n_vocab * sizeof *s->cands))) {
        free(s);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    s->p = *params;
    s->n_vocab = n_vocab;
    if (s->p.repeat_last_n == 0) s->p.repeat_last_n = 64;
    bool ok = true;
    if (repeat_on(s) || freq_on(s)) ok = (s->work = malloc((size_t)n_vocab * sizeof *s->work));
    if (ok && repeat_on(s)) ok = (s->mark = calloc((size_t)n_vocab, 1));
    if (ok && freq_on(s))
        ok = (s->gen_count = calloc((size_t)n_vocab, sizeof *s->gen_count)) &&
             (s->gen_ids = malloc((size_t)n_vocab * sizeof *s->gen_ids));
    if (!ok) {
        r1_sampler_free(s);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    rng_seed(&s->rng, params->seed);
    *out = s;
    return R1_OK;
}

void r1_sampler_free(r1_sampler *s)
{
    if (!s) return;
    free(s->cands);
    free(s->work);
    free(s->bias_ids);
    free(s->bias);
    free(s->hist);
    free(s->mark);
    free(s->gen_count);
    free(s->gen_ids);
    free(s->masked);
    free(s);
}

r1_status r1_sampler_set_logit_bias(r1_sampler *s, const int32_t *ids, const float *bias, int n,
                                    char *err)
{
    if (n < 0 || (n > 0 && (!ids || !bias)))
        return err_set(err, R1_ERR_INVALID_ARG, "logit bias: bad arguments");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->n_vocab || !isfinite(bias[i]))
            return err_set(err, R1_ERR_INVALID_ARG,
                           "logit bias: token %d is not in [0, %d) or its bias is not finite",
                           (int)ids[i], s->n_vocab);
    int32_t *ni = n ? malloc((size_t)n * sizeof *ni) : NULL;
    float *nb = n ? malloc((size_t)n * sizeof *nb) : NULL;
    if (n &&
        (!ni || !nb || (!s->work && !(s->work = malloc((size_t)s->n_vocab * sizeof(float)))))) {
        free(ni);
        free(nb);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    if (n) {
        memcpy(ni, ids, (size_t)n * sizeof *ni);
        memcpy(nb, bias, (size_t)n * sizeof *nb);
    }
    free(s->bias_ids);
    free(s->bias);
    s->bias_ids = ni;
    s->bias = nb;
    s->n_bias = n;
    return R1_OK;
}

/* Remember one token of the sequence for repeat_penalty: only the last repeat_last_n are kept
 * (the buffer is compacted when it reaches twice that). */
static void hist_push(r1_sampler *s, int32_t id)
{
    if (!repeat_on(s)) return;
    int keep = s->p.repeat_last_n;
    if (keep > 0 && s->n_hist >= 2 * keep) {
        memmove(s->hist, s->hist + s->n_hist - keep, (size_t)keep * sizeof *s->hist);
        s->n_hist = keep;
    }
    if (s->n_hist == s->cap_hist) {
        int cap = s->cap_hist ? 2 * s->cap_hist : (keep > 0 ? 2 * keep : 256);
        int32_t *h = realloc(s->hist, (size_t)cap * sizeof *h);
        if (!h) return; /* out of memory: the penalty looks at fewer tokens */
        s->hist = h;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = id;
}

void r1_sampler_accept(r1_sampler *s, const int32_t *tokens, int n)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] >= 0 && tokens[i] < s->n_vocab) hist_push(s, tokens[i]);
}

/* The sampler drew id: it is now part of the sequence. */
static void note_drawn(r1_sampler *s, int32_t id)
{
    if (id < 0 || id >= s->n_vocab) return;
    hist_push(s, id);
    if (freq_on(s) && s->gen_count[id]++ == 0) s->gen_ids[s->n_gen_ids++] = id;
}

void r1_sampler_apply(r1_sampler *s, const float *logits, float *out)
{
    if (out != logits) memcpy(out, logits, (size_t)s->n_vocab * sizeof *out);
    for (int i = 0; i < s->n_bias; i++) out[s->bias_ids[i]] += s->bias[i];
    if (repeat_on(s)) {
        float r = s->p.repeat_penalty;
        int from = s->p.repeat_last_n > 0 && s->n_hist > s->p.repeat_last_n
                       ? s->n_hist - s->p.repeat_last_n
                       : 0;
        for (int i = from; i < s->n_hist; i++) {
            int32_t id = s->hist[i];
            if (s->mark[id]) continue; /* each distinct token once */
            s->mark[id] = 1;
            out[id] = out[id] > 0 ? out[id] / r : out[id] * r;
        }
        for (int i = from; i < s->n_hist; i++) s->mark[s->hist[i]] = 0;
    }
    if (freq_on(s))
        for (int i = 0; i < s->n_gen_ids; i++) {
            int32_t id = s->gen_ids[i];
            out[id] -= (float)s->gen_count[id] * s->p.frequency_penalty + s->p.presence_penalty;
        }
}

/* The logits to draw from: the caller's, or the adjusted copy when anything adjusts them. */
static const float *adjusted(r1_sampler *s, const float *logits)
{
    if (!s->n_bias && !repeat_on(s) && !freq_on(s)) return logits;
    r1_sampler_apply(s, logits, s->work);
    return s->work;
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

static int32_t sample_plain(r1_sampler *s, const float *logits)
{
    if (s->p.temperature <= 0 || s->p.top_k == 1) return argmax(logits, s->n_vocab);
    double total;
    int m = filter(s, logits, &total);
    if (m == 0) return argmax(logits, s->n_vocab);
    return draw(s, m, total, -1);
}

int32_t r1_sampler_sample(r1_sampler *s, const float *logits)
{
    int32_t id = sample_plain(s, grammar_mask(s, adjusted(s, logits)));
    note_drawn(s, id);
    if (s->grammar) r1_grammar_accept(s->grammar, id);
    return id;
}

/* Speculative sampling with a deterministic draft (q = one-hot): accepting the draft d with
 * probability p(d) and otherwise drawing from p without d gives P(d) = p(d) and, for x ≠ d,
 * P(x) = (1 − p(d)) · p(x) / (1 − p(d)) = p(x): exactly the distribution of r1_sampler_sample. */
int32_t r1_sampler_sample_draft(r1_sampler *s, const float *logits, int32_t draft, bool *accepted)
{
    /* a draft the grammar refuses has probability 0 below: it is rejected */
    logits = grammar_mask(s, adjusted(s, logits));
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
    note_drawn(s, id);
    if (s->grammar) r1_grammar_accept(s->grammar, id);
    return id;
}
