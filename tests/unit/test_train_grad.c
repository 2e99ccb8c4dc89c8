/* test_train_grad.c — the trainer's backward against central finite differences, for every
 * parameter tensor of a tiny deepseek2 (dense and MoE layers, tied and untied head), and
 * gradients that do not depend on the thread count.
 *
 * fp32 finite differences: loss L = -Σ_t c_t·log p_t (random c_t, summed in double), step
 * h = 1e-2·max(1, |θ|) (rounding noise in L is ~1e-6, so the FD noise is ~1e-4 absolute), central
 * differences. Per tensor, the checked elements (the 4 largest analytic gradients + 4 random) must
 * satisfy ‖g_fd − g‖ ≤ 2e-2·‖g‖ + 2e-4 (tolerance recorded in docs/training.md). Elements whose
 * ±h perturbation flips a top-k routing choice are skipped (the loss is not differentiable
 * there), counted, and must stay a minority. */
#include "test.h"

#include "base/rng.h"
#include "train/tmodel.h"

#include <stdint.h>

static tconfig tiny_config(bool tied)
{
    tconfig c = tconfig_default();
    c.n_vocab = 24;
    c.dim = 16;
    c.n_layers = 3;
    c.n_heads = 2;
    c.q_lora_rank = 8;
    c.kv_lora_rank = 8;
    c.qk_nope_head_dim = 4;
    c.qk_rope_head_dim = 4;
    c.v_head_dim = 6;
    c.inter_dim = 12;
    c.n_dense_layers = 1;
    c.n_routed_experts = 4;
    c.n_activated_experts = 2;
    c.n_shared_experts = 1;
    c.moe_inter_dim = 8;
    c.n_expert_groups = 2;
    c.n_limited_groups = 2;
    c.route_scale = 2.5f;
    c.tie_embeddings = tied;
    c.max_seq_len = 16;
    return c;
}

enum { N_SEQ = 2 };
static const int seq_start[N_SEQ + 1] = {0, 7, 12};
static int32_t tokens[12];
static float coef[12];

static double loss_of(tmodel *m, tstate *st, uint64_t *out_hash)
{
    tbatch b = {N_SEQ, seq_start, tokens, NULL};
    float logp[12];
    char err[R1_ERR_MAX];
    if (tmodel_forward(m, st, &b, logp, err) != R1_OK) {
        fprintf(stderr, "forward: %s\n", err);
        return NAN;
    }
    if (out_hash) *out_hash = tstate_routing_hash(st);
    double L = 0;
    for (int t = 0; t < 12; t++) L -= (double)coef[t] * logp[t];
    return L;
}

static void check_model(bool tied)
{
    tconfig c = tiny_config(tied);
    threadpool *pool = threadpool_new(2);
    tmodel *m;
    char err[R1_ERR_MAX];
    CHECK(tmodel_new(&c, pool, &m, err) == R1_OK);
    tmodel_init_random(m, 7);
    rng r;
    rng_seed(&r, 42);
    /* norms away from 1 and a nonzero balancing bias, so their paths are exercised */
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].kind == TK_NORM)
            for (size_t j = 0; j < m->tensors[i].n; j++)
                m->params[m->tensors[i].offset + j] = 0.7f + 0.6f * rng_uniform(&r);
    for (int i = 0; i < c.n_layers * (c.n_routed_experts + 1); i++)
        m->exp_probs_b[i] = 0.1f * (rng_uniform(&r) - 0.5f);
    for (int t = 0; t < 12; t++) {
        tokens[t] = (int32_t)(rng_next(&r) % (uint64_t)c.n_vocab);
        coef[t] = 0.5f + rng_uniform(&r);
    }
    tstate *st = tstate_new();
    uint64_t h0;
    double L0 = loss_of(m, st, &h0);
    CHECK(isfinite(L0));
    tmodel_zero_grad(m);
    float dlogp[12];
    for (int t = 0; t < 12; t++) dlogp[t] = -coef[t];
    tmodel_backward(m, st, dlogp);

    int n_skipped = 0, n_checked = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const tmodel_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset, *g = m->grads + t->offset;
        size_t pick[8];
        int n_pick = 0;
        /* the 4 largest |g|, then 4 random */
        for (int k = 0; k < 4 && k < (int)t->n; k++) {
            size_t best = 0;
            float bv = -1;
            for (size_t j = 0; j < t->n; j++) {
                bool used = false;
                for (int q = 0; q < n_pick; q++) used = used || pick[q] == j;
                if (!used && fabsf(g[j]) > bv) {
                    bv = fabsf(g[j]);
                    best = j;
                }
            }
            pick[n_pick++] = best;
        }
        for (int k = 0; k < 4; k++) pick[n_pick++] = (size_t)(rng_next(&r) % t->n);
        double num = 0, den = 0;
        int used = 0;
        for (int k = 0; k < n_pick; k++) {
            size_t j = pick[k];
            float save = p[j], h = 1e-2f * (fabsf(save) > 1 ? fabsf(save) : 1.0f);
            uint64_t hp, hm;
            p[j] = save + h;
            double Lp = loss_of(m, st, &hp);
            p[j] = save - h;
            double Lm = loss_of(m, st, &hm);
            p[j] = save;
            if (hp != h0 || hm != h0) {
                n_skipped++;
                continue;
            }
            double fd = (Lp - Lm) / (2.0 * ((double)(save + h) - (double)(save - h)) / 2.0);
            num += (fd - g[j]) * (fd - g[j]);
            den += (double)g[j] * g[j];
            used++;
            n_checked++;
        }
        double rel = sqrt(num), scale = sqrt(den);
        CHECKF(used > 0 && rel <= 2e-2 * scale + 2e-4, "%s (%s): |fd-g| %.3g vs |g| %.3g (%d used)",
               t->name, tied ? "tied" : "untied", rel, scale, used);
        if (getenv("R1_TEST_VERBOSE")) printf("%-32s |fd-g| %.3e |g| %.3e\n", t->name, rel, scale);
    }
    CHECKF(n_skipped * 4 < n_checked, "%d skipped (routing flips) vs %d checked", n_skipped,
           n_checked);

    /* same gradients with 1 and 3 threads, bit for bit */
    float *g2 = malloc(m->n_params * sizeof(float));
    memcpy(g2, m->grads, m->n_params * sizeof(float));
    threadpool *p1 = threadpool_new(1), *p3 = threadpool_new(3);
    for (int pass = 0; pass < 2; pass++) {
        m->pool = pass ? p3 : p1;
        tstate *s2 = tstate_new();
        loss_of(m, s2, NULL);
        tmodel_zero_grad(m);
        tmodel_backward(m, s2, dlogp);
        CHECKF(!memcmp(g2, m->grads, m->n_params * sizeof(float)),
               "gradients differ with %d thread(s)", pass ? 3 : 1);
        tstate_free(s2);
    }
    m->pool = pool;
    threadpool_free(p1);
    threadpool_free(p3);
    free(g2);
    tstate_free(st);
    tmodel_free(m);
    threadpool_free(pool);
}

int main(void)
{
    check_model(false);
    check_model(true);
    return test_finish();
}
