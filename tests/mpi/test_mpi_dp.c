/* test_mpi_dp.c — the data-parallel helpers of train/dp.h under `mpirun -np N` (CTest
 * mpi_dp_helpers_np2, _np3): the blocks of items and of sequences cover everything once, in rank
 * order; sums of statistics and of gradients are the same bits on every rank and equal the sums
 * of the ranks' values; gathered rollouts arrive intact; and dp_check_identical notices a rank
 * whose weights differ by one bit (the check r1 train / r1 grpo run at their end).
 */
#include "r1.h"
#include "test.h"
#include "train/dp.h"

int main(int argc, char **argv)
{
    r1_dist *d = NULL;
    char err[R1_ERR_MAX];
    if (r1_dist_init(&argc, &argv, &d, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rank = r1_dist_rank(d), N = r1_dist_size(d);
    if (N < 2) {
        fprintf(stderr, "run under mpirun -np N (N >= 2) with an R1_MPI build\n");
        r1_dist_finalize(d);
        return 1;
    }

    /* blocks: every rank's [first, end) gathered must tile 0 .. n in rank order */
    int seq_start[] = {0, 5, 7, 30, 31, 32, 60, 61, 90, 91, 100};
    for (int n = 0; n <= 10; n++) {
        int f, e, g, h;
        dp_share(d, n, &f, &e);
        dp_share_tokens(d, n, seq_start, &g, &h);
        double x[2] = {e - f, h - g};
        CHECK(dp_sum_f64(d, x, 2) && x[0] == n && x[1] == n);
        /* contiguous, in rank order: rank r ends where rank r+1 starts (via the sums of ends) */
        double ends[2] = {rank + 1 < N ? e : 0, rank + 1 < N ? h : 0};
        double starts[2] = {rank > 0 ? f : 0, rank > 0 ? g : 0};
        CHECK(dp_sum_f64(d, ends, 2) && dp_sum_f64(d, starts, 2) && ends[0] == starts[0] &&
              ends[1] == starts[1]);
    }
    /* token balance: 100 tokens on N ranks, no rank far above 100/N + the longest sequence */
    {
        int g, h;
        dp_share_tokens(d, 10, seq_start, &g, &h);
        int tok = seq_start[h] - seq_start[g];
        CHECKF(tok <= 100 / N + 29, "rank %d: %d tokens", rank, tok);
    }

    /* statistics: same bits everywhere, the sum of the ranks' values */
    double v[3] = {0.1 * (rank + 1), 1e-17 * rank, (double)rank};
    CHECK(dp_sum_f64(d, v, 3));
    double want = 0;
    for (int r = 0; r < N; r++) want += 0.1 * (r + 1);
    CHECK(v[0] == want && v[2] == N * (N - 1) / 2.0);

    /* gradients: summed, identical on every rank */
    tconfig c = tconfig_default();
    c.dim = 32, c.n_layers = 2, c.n_heads = 2, c.q_lora_rank = 16, c.kv_lora_rank = 16;
    c.qk_nope_head_dim = 8, c.qk_rope_head_dim = 8, c.v_head_dim = 8, c.inter_dim = 48;
    c.n_routed_experts = 4, c.n_activated_experts = 2, c.moe_inter_dim = 16, c.max_seq_len = 64;
    c.n_expert_groups = 1, c.n_limited_groups = 1;
    threadpool *pool = threadpool_new(1);
    tmodel *m = NULL;
    CHECKF(tmodel_new(&c, pool, &m, err) == R1_OK, "%s", err);
    if (m) {
        tmodel_init_random(m, 7);
        for (size_t i = 0; i < m->n_params; i++) m->grads[i] = (float)(rank + 1) * 0.5f;
        CHECK(dp_sum_grads(d, m));
        bool ok = true;
        for (size_t i = 0; i < m->n_params; i++) ok &= m->grads[i] == 0.25f * N * (N + 1);
        CHECK(ok);
        /* the same weights: identical; one bit flipped on the last rank: caught, naming it */
        uint64_t h;
        int bad;
        CHECK(dp_check_identical(d, m, NULL, &h, &bad) && bad == -1);
        if (rank == N - 1) {
            uint32_t u;
            memcpy(&u, &m->params[m->n_params / 2], 4);
            u ^= 1;
            memcpy(&m->params[m->n_params / 2], &u, 4);
        }
        CHECK(!dp_check_identical(d, m, NULL, &h, &bad) && bad == N - 1);
    }

    /* rollouts: 5 groups of 2; each rank fills its own groups' samples, then all have all */
    enum { P = 5, G = 2, MAXN = 7 };
    rollout_out outs[P * G];
    memset(outs, 0, sizeof outs);
    int g0, g1;
    dp_share(d, P, &g0, &g1);
    for (int k = g0 * G; k < g1 * G; k++) {
        outs[k].n_tokens = k % (MAXN + 1);
        outs[k].hit_eos = k % 3 == 0;
        outs[k].tokens = malloc(MAXN * sizeof(int32_t));
        for (int t = 0; t < outs[k].n_tokens; t++) outs[k].tokens[t] = 1000 * k + t + 65536 * t;
    }
    CHECK(dp_allgather_rollouts(d, P, G, MAXN, outs));
    bool same = true;
    for (int k = 0; k < P * G; k++) {
        same &= outs[k].n_tokens == k % (MAXN + 1) && outs[k].hit_eos == (k % 3 == 0);
        for (int t = 0; t < outs[k].n_tokens && same; t++)
            same &= outs[k].tokens[t] == 1000 * k + t + 65536 * t;
    }
    CHECK(same);
    rollout_free(outs, P * G);

    tmodel_free(m);
    threadpool_free(pool);
    int rc = test_finish();
    /* every rank's verdict: the job fails if any rank's checks failed */
    double fails = test_n_fail;
    dp_sum_f64(d, &fails, 1);
    r1_dist_finalize(d);
    return rc || fails > 0 ? 1 : 0;
}
