/* test_train_sft.c — the CI-sized training run: a small deepseek2 (one dense and one MoE layer)
 * learns 1–2 digit addition from scratch on one thread. The held-out loss per assistant token must
 * fall from ~6 to below LOSS_MAX (the measured value is printed; see docs/training.md), the
 * balancing bias must have moved, and the model exported to GGUF must answer held-out problems
 * through the engine in the R1 format, some of them right. */
#include "test.h"

#include "train/evaluate.h"
#include "train/sft.h"
#include "train/tio.h"

#include <time.h>
#include <unistd.h>

/* Sanitizer builds run ~9x slower: a shorter run with its own measured threshold keeps the test
 * under a minute there (release: 800 steps reach ~0.07; 300 steps reach ~0.3). */
#if defined(__SANITIZE_ADDRESS__)
#define STEPS 300
#define LOSS_MAX 0.4
#define MIN_CORRECT 0
#else
#define STEPS 800
#define LOSS_MAX 0.15
#define MIN_CORRECT 4
#endif

int main(void)
{
    char err[R1_ERR_MAX];
    tconfig c = tconfig_default();
    c.dim = 64;
    c.n_layers = 2;
    c.n_heads = 2;
    c.q_lora_rank = 32;
    c.kv_lora_rank = 32;
    c.qk_nope_head_dim = 16;
    c.qk_rope_head_dim = 16;
    c.v_head_dim = 16;
    c.inter_dim = 128;
    c.n_routed_experts = 4;
    c.n_activated_experts = 2;
    c.moe_inter_dim = 64;
    c.max_seq_len = 128;
    threadpool *pool = threadpool_new(1);
    tmodel *m;
    adamw opt;
    adamw_params ap = adamw_params_default();
    ap.total_steps = STEPS;
    ap.warmup_steps = 20;
    ap.lr = 5e-3f;
    CHECK(tmodel_new(&c, pool, &m, err) == R1_OK && adamw_init(&opt, m, &ap, err) == R1_OK);
    tmodel_init_random(m, 1);
    sft_data d = {.seed = 1, .suffix_prob = 0, .batch_size = 16, .max_len = 128};
    CHECK(task_mix_parse("add:1-2", &d.mix, err));
    tstate *st = tstate_new();
    tokbatch b = {0}, held = {0};
    sft_data hd = d;
    hd.batch_size = 64;
    CHECK(sft_make_batch(&hd, 0, SPLIT_TEST, &held, err) == R1_OK);
    double loss0;
    CHECK(sft_eval_loss(m, st, &held, &loss0, err) == R1_OK);
    clock_t t0 = clock();
    long n_tok = 0;
    for (int s = 0; s < STEPS; s++) {
        sft_stats ss;
        CHECK(sft_make_batch(&d, s, SPLIT_TRAIN, &b, err) == R1_OK);
        if (sft_step(m, st, &opt, &b, 1e-3f, &ss, err)) {
            CHECKF(0, "%s", err);
            break;
        }
        n_tok += ss.n_tokens;
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC, loss1;
    CHECK(sft_eval_loss(m, st, &held, &loss1, err) == R1_OK);
    printf("held-out loss %.3f -> %.3f after %d steps (%ld tokens, %.1f s, %.0f tok/s)\n", loss0,
           loss1, STEPS, n_tok, secs, n_tok / secs);
    CHECKF(loss0 > 4.5 && loss1 < LOSS_MAX, "held-out loss %.3f -> %.3f (want < %.2f)", loss0,
           loss1, LOSS_MAX);
    float bias_abs = 0;
    for (int e = 0; e < c.n_routed_experts; e++)
        bias_abs += fabsf(m->exp_probs_b[(c.n_routed_experts + 1) * 1 + e]);
    CHECK(bias_abs > 0);

    char path[] = "/tmp/r1_test_train_sftXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    tio_save_params sp = {"ci", DTYPE_F32, NULL, NULL, NULL};
    CHECK(tio_save(m, path, &sp, err) == R1_OK);
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    r1_model *em = NULL;
    CHECKF(r1_model_load(path, &mp, &em, err) == R1_OK, "%s", err);
    if (em) {
        task_eval_params ep = task_eval_params_default();
        ep.n_problems = 40;
        ep.max_new = 48;
        task_spec spec = {TASK_ADD, 2, 2, 2, 2, 1};
        task_eval_result r;
        CHECK(task_eval(em, &spec, &ep, &r, err) == R1_OK);
        printf("greedy held-out 2-digit addition: %d/%d exact, %d/%d well-formed\n", r.n_correct,
               r.n, r.n_format, r.n);
        CHECK(r.n_format >= r.n / 2 && r.n_correct >= MIN_CORRECT);
        r1_model_free(em);
    }
    unlink(path);
    tokbatch_free(&b);
    tokbatch_free(&held);
    tstate_free(st);
    adamw_free(&opt);
    tmodel_free(m);
    threadpool_free(pool);
    return test_finish();
}
