/* dp.c — data-parallel helpers over r1_dist (see dp.h). */
#include "train/dp.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

static void block(int n, int r, int N, int *first, int *end);

/* The training collectives wait for ranks that evaluate or write a checkpoint alone (rank 0), or
 * sample more tokens than the others: longer than a forward pass's R1_DIST_TIMEOUT, but not for
 * ever — a rank that hangs or loses its network ends the job after R1_DIST_TRAIN_TIMEOUT seconds
 * (default 600; 0 = wait for ever). */
static bool dp_allgather(r1_dist *dist, const uint64_t *mine, int n, uint64_t *all)
{
    const char *e = getenv("R1_DIST_TRAIN_TIMEOUT");
    double t = e ? atof(e) : 600.0;
    return dist_allgather_u64_within(dist, mine, n, all, t);
}

void dp_share(const r1_dist *dist, int n, int *out_first, int *out_end)
{
    block(n, r1_dist_rank(dist), r1_dist_size(dist), out_first, out_end);
}

static void block(int n, int r, int N, int *first, int *end)
{
    *first = (int)((int64_t)n * r / N);
    *end = (int)((int64_t)n * (r + 1) / N);
}

void dp_share_tokens(const r1_dist *dist, int n_seqs, const int *seq_start, int *out_first,
                     int *out_end)
{
    int64_t r = r1_dist_rank(dist), N = r1_dist_size(dist), n_tok = n_seqs ? seq_start[n_seqs] : 0;
    int q = 0;
    /* the rank of sequence q: ⌊N·(start + end) / (2·n_tok)⌋, non-decreasing in q */
    while (q < n_seqs && N * ((int64_t)seq_start[q] + seq_start[q + 1]) < r * 2 * n_tok) q++;
    *out_first = q;
    while (q < n_seqs && N * ((int64_t)seq_start[q] + seq_start[q + 1]) < (r + 1) * 2 * n_tok) q++;
    *out_end = q;
}

bool dp_allgather_rollouts(r1_dist *dist, int n_groups, int group_size, int max_new,
                           rollout_out *outs)
{
    int N = r1_dist_size(dist), me = r1_dist_rank(dist);
    if (N <= 1) return true;
    /* per sample: (n_tokens | hit_eos << 32), then max_new tokens two to a u64; every rank sends
     * as many samples as the largest block, padded */
    int per = 1 + (max_new + 1) / 2, most = (n_groups + N - 1) / N * group_size;
    size_t n_mine = (size_t)most * (size_t)per;
    uint64_t *mine = calloc(n_mine ? n_mine : 1, sizeof *mine);
    uint64_t *all = calloc(n_mine ? n_mine * (size_t)N : 1, sizeof *all);
    bool ok = mine && all;
    int g0, g1;
    block(n_groups, me, N, &g0, &g1);
    for (int k = g0 * group_size; k < g1 * group_size && ok; k++) {
        const rollout_out *o = &outs[k];
        uint64_t *p = mine + (size_t)(k - g0 * group_size) * (size_t)per;
        ok = o->n_tokens <= max_new;
        p[0] = (uint64_t)(uint32_t)o->n_tokens | (uint64_t)o->hit_eos << 32;
        for (int t = 0; t < o->n_tokens && ok; t++)
            p[1 + t / 2] |= (uint64_t)(uint32_t)o->tokens[t] << (t % 2 ? 32 : 0);
    }
    ok = ok && dp_allgather(dist, mine, (int)n_mine, all);
    for (int r = 0; r < N && ok; r++) {
        if (r == me) continue;
        block(n_groups, r, N, &g0, &g1);
        for (int k = g0 * group_size; k < g1 * group_size && ok; k++) {
            const uint64_t *p = all + (size_t)r * n_mine + (size_t)(k - g0 * group_size) * per;
            rollout_out *o = &outs[k];
            o->n_tokens = (int)(uint32_t)p[0];
            o->hit_eos = (p[0] >> 32) != 0;
            o->tokens = malloc((size_t)(o->n_tokens > 0 ? o->n_tokens : 1) * sizeof(int32_t));
            ok = o->tokens != NULL;
            for (int t = 0; t < o->n_tokens && ok; t++)
                o->tokens[t] = (int32_t)(uint32_t)(p[1 + t / 2] >> (t % 2 ? 32 : 0));
        }
    }
    free(mine);
    free(all);
    return ok;
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
    bool ok = dp_allgather(dist, mine, n, all);
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
    ok = ok && dp_allgather(dist, mine, (int)n, all);
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
    if (!all || !dp_allgather(dist, &h, 1, all)) {
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

void dp_mark_failed(r1_dist *dist, const char *why)
{
    dist_mark_failed(dist, why); /* NULL: nothing to mark */
}
