/* dp.c — data-parallel helpers over r1_dist (see dp.h). */
#include "train/dp.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

void dp_share(const r1_dist *dist, int n, int *out_first, int *out_end)
{
    int64_t r = r1_dist_rank(dist), N = r1_dist_size(dist);
    *out_first = (int)((int64_t)n * r / N);
    *out_end = (int)((int64_t)n * (r + 1) / N);
}

bool dp_sum_f64(r1_dist *dist, double *x, int n)
{
    int N = r1_dist_size(dist);
    if (N <= 1) return true;
    uint64_t mine[64], *all = malloc((size_t)N * (size_t)n * sizeof *all);
    if (!all || n > 64) {
        free(all);
        return false;
    }
    memcpy(mine, x, (size_t)n * sizeof *x);
    bool ok = dist_allgather_u64(dist, mine, n, all);
    for (int i = 0; i < n && ok; i++) {
        double s = 0;
        for (int r = 0; r < N; r++) {
            double v;
            memcpy(&v, &all[(size_t)r * (size_t)n + (size_t)i], sizeof v);
            s += v;
        }
        x[i] = s;
    }
    free(all);
    return ok;
}

bool dp_sum_grads(r1_dist *dist, tmodel *m)
{
    if (r1_dist_size(dist) <= 1) return true;
    const size_t bucket = (size_t)1 << 22; /* MPI counts are ints; big messages pipeline anyway */
    for (size_t i = 0; i < m->n_params; i += bucket) {
        size_t k = m->n_params - i < bucket ? m->n_params - i : bucket;
        if (!dist_allreduce_sum(dist, m->grads + i, (int64_t)k)) return false;
    }
    return true;
}

bool dp_sum_load(r1_dist *dist, const tmodel *m, const tstate *st, bool ran, int *out_load)
{
    const tconfig *c = &m->cfg;
    size_t n = (size_t)(c->n_layers + c->n_mtp) * (size_t)(c->n_routed_experts + 1);
    if (ran)
        memcpy(out_load, tstate_expert_load(st), n * sizeof *out_load);
    else
        memset(out_load, 0, n * sizeof *out_load);
    int N = r1_dist_size(dist);
    if (N <= 1) return true;
    uint64_t *mine = malloc(n * sizeof *mine), *all = malloc((size_t)N * n * sizeof *all);
    bool ok = mine && all;
    for (size_t i = 0; i < n && ok; i++) mine[i] = (uint64_t)(uint32_t)out_load[i];
    ok = ok && dist_allgather_u64(dist, mine, (int)n, all);
    for (size_t i = 0; i < n && ok; i++) {
        int64_t s = 0;
        for (int r = 0; r < N; r++) s += (int64_t)all[(size_t)r * n + i];
        out_load[i] = (int)s;
    }
    free(mine);
    free(all);
    return ok;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t dp_model_hash(const tmodel *m, const adamw *opt)
{
    const tconfig *c = &m->cfg;
    uint64_t h = 1469598103934665603ull;
    h = hash_bytes(h, m->params, m->n_params * sizeof(float));
    h = hash_bytes(h, m->exp_probs_b,
                   (size_t)(c->n_layers + c->n_mtp) * (size_t)(c->n_routed_experts + 1) *
                       sizeof(float));
    if (opt && opt->m && opt->v) {
        h = hash_bytes(h, opt->m, opt->n * sizeof(float));
        h = hash_bytes(h, opt->v, opt->n * sizeof(float));
        h = hash_bytes(h, &opt->step, sizeof opt->step);
    }
    return h;
}

bool dp_check_identical(r1_dist *dist, const tmodel *m, const adamw *opt, uint64_t *out_hash,
                        int *out_first_bad)
{
    uint64_t h = dp_model_hash(m, opt);
    *out_hash = h;
    if (out_first_bad) *out_first_bad = -1;
    int N = r1_dist_size(dist);
    if (N <= 1) return true;
    uint64_t *all = malloc((size_t)N * sizeof *all);
    if (!all || !dist_allgather_u64(dist, &h, 1, all)) {
        free(all);
        return false;
    }
    bool same = true;
    for (int r = 1; r < N; r++)
        if (all[r] != all[0]) {
            if (same && out_first_bad) *out_first_bad = r;
            same = false;
        }
    free(all);
    return same;
}
