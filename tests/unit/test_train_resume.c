/* test_train_resume.c — training is deterministic and resumes exactly: N SFT steps straight give
 * the same weights, AdamW moments and balancing biases, bit for bit, as N/2 steps, a checkpoint
 * written and read back through GGUF, and N/2 more; and the same again with another thread
 * count. The model has its MTP module, trained with λ = 0.3 (its weights, moments and router
 * bias are part of the comparison). Also the learning-rate schedule's shape. */
#include "test.h"

#include "train/sft.h"
#include "train/tio.h"

#include <unistd.h>

static tconfig small(void)
{
    tconfig c = tconfig_default();
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 2;
    c.q_lora_rank = 16;
    c.kv_lora_rank = 16;
    c.qk_nope_head_dim = 8;
    c.qk_rope_head_dim = 8;
    c.v_head_dim = 8;
    c.inter_dim = 48;
    c.n_routed_experts = 4;
    c.n_activated_experts = 2;
    c.moe_inter_dim = 16;
    c.max_seq_len = 128;
    c.n_mtp = 1;
    return c;
}

static sft_data data(void)
{
    sft_data d = {.seed = 9, .suffix_prob = 0.5f, .batch_size = 6, .max_len = 128};
    task_mix_parse("add:1-2,mul:1x1,countdown:3", &d.mix, NULL);
    return d;
}

/* Train steps [from, to) of a model/optimizer pair. */
static void run(tmodel *m, adamw *opt, int to)
{
    sft_data d = data();
    tstate *st = tstate_new();
    tokbatch b = {0};
    char err[R1_ERR_MAX];
    while (opt->step < to) {
        sft_stats ss;
        CHECK(sft_make_batch(&d, opt->step, SPLIT_TRAIN, &b, err) == R1_OK);
        CHECKF(sft_step(m, st, opt, &b, 1e-2f, 0.3f, &ss, err) == R1_OK, "%s", err);
        CHECK(isfinite(ss.loss) && isfinite(ss.mtp_loss) && ss.n_mtp > 0);
    }
    tokbatch_free(&b);
    tstate_free(st);
}

static bool same(const tmodel *a, const adamw *oa, const tmodel *b, const adamw *ob)
{
    size_t nb = (size_t)(a->cfg.n_layers + a->cfg.n_mtp) * (size_t)(a->cfg.n_routed_experts + 1);
    return a->n_params == b->n_params && oa->step == ob->step &&
           !memcmp(a->params, b->params, a->n_params * sizeof(float)) &&
           !memcmp(oa->m, ob->m, a->n_params * sizeof(float)) &&
           !memcmp(oa->v, ob->v, a->n_params * sizeof(float)) &&
           !memcmp(a->exp_probs_b, b->exp_probs_b, nb * sizeof(float));
}

int main(void)
{
    enum { N = 8 };
    char err[R1_ERR_MAX];
    tconfig c = small();
    adamw_params ap = adamw_params_default();
    ap.total_steps = N;
    ap.warmup_steps = 2;
    threadpool *p2 = threadpool_new(2), *p1 = threadpool_new(1);

    /* straight */
    tmodel *a;
    adamw oa;
    CHECK(tmodel_new(&c, p2, &a, err) == R1_OK && adamw_init(&oa, a, &ap, err) == R1_OK);
    tmodel_init_random(a, 3);
    run(a, &oa, N);
    {
        /* the MTP layer's router bias moved like the others' */
        const float *mb = a->exp_probs_b + (size_t)c.n_layers * (size_t)(c.n_routed_experts + 1);
        float s = 0;
        for (int e = 0; e < c.n_routed_experts; e++) s += fabsf(mb[e]);
        CHECK(s > 0);
    }

    /* half, checkpoint, resume (with one thread this time) */
    tmodel *b;
    adamw ob;
    CHECK(tmodel_new(&c, p2, &b, err) == R1_OK && adamw_init(&ob, b, &ap, err) == R1_OK);
    tmodel_init_random(b, 3);
    run(b, &ob, N / 2);
    CHECK(!same(a, &oa, b, &ob));
    char path[] = "/tmp/r1_test_train_resumeXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    tio_save_params sp = {"ckpt", DTYPE_F32, &ob, NULL, NULL};
    CHECKF(tio_save(b, path, &sp, err) == R1_OK, "%s", err);
    tmodel *r = NULL;
    adamw orr;
    CHECKF(tio_load(path, p1, &r, &orr, err) == R1_OK, "%s", err);
    unlink(path);
    if (r) {
        CHECK(orr.step == N / 2 && orr.p.total_steps == N);
        run(r, &orr, N);
        CHECKF(same(a, &oa, r, &orr), "resumed run differs from the straight run");
        adamw_free(&orr);
        tmodel_free(r);
    }

    /* schedule: warmup ramps to lr, cosine reaches the floor at the end */
    CHECK(fabsf(adamw_lr(&ap, 0) - ap.lr / 2) < 1e-9f);
    CHECK(fabsf(adamw_lr(&ap, 1) - ap.lr) < 1e-9f);
    CHECK(fabsf(adamw_lr(&ap, N) - ap.lr * ap.min_lr_ratio) < 1e-7f);
    CHECK(adamw_lr(&ap, 4) < adamw_lr(&ap, 3));

    adamw_free(&oa);
    adamw_free(&ob);
    tmodel_free(a);
    tmodel_free(b);
    threadpool_free(p1);
    threadpool_free(p2);
    return test_finish();
}
