/* test_train_export.c — a trainer model saved as GGUF runs identically in the engine.
 *
 * A small deepseek2 (dense + MoE layers, group-limited routing, a nonzero balancing bias, untied
 * and tied heads) with random weights is written by tio_save, loaded by r1_model_load, and the
 * engine's logits for every position of a chat (r1_session_eval with all_logits) are compared
 * with the trainer's forward: max |Δ| ≤ 1e-4·(1 + max|logit|) (fp32, different summation orders;
 * recorded in docs/training.md). Also: the file's vocabulary loads through tokenizer_load_gguf and
 * encodes a rendered chat to the ids vocab_encode gives; tio_load reads back the same weights;
 * a checkpoint restores the AdamW state bit for bit. */
#include "test.h"

#include "base/rng.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "train/tasks.h"
#include "train/tio.h"
#include "train/vocab.h"

#include <unistd.h>

static void check_engine_logits(bool tied)
{
    tconfig c = tconfig_default();
    c.dim = 64;
    c.n_layers = 3;
    c.n_heads = 4;
    c.q_lora_rank = 32;
    c.kv_lora_rank = 32;
    c.qk_nope_head_dim = 16;
    c.qk_rope_head_dim = 8;
    c.v_head_dim = 16;
    c.inter_dim = 96;
    c.n_routed_experts = 8;
    c.n_activated_experts = 2;
    c.moe_inter_dim = 32;
    c.n_expert_groups = 4;
    c.n_limited_groups = 2;
    c.route_scale = 2.5f;
    c.tie_embeddings = tied;
    c.max_seq_len = 256;
    char err[R1_ERR_MAX];
    threadpool *pool = threadpool_new(2);
    tmodel *m;
    CHECK(tmodel_new(&c, pool, &m, err) == R1_OK);
    tmodel_init_random(m, 11);
    rng r;
    rng_seed(&r, 5);
    for (int il = c.n_dense_layers; il < c.n_layers; il++)
        for (int e = 0; e < c.n_routed_experts; e++)
            m->exp_probs_b[il * (c.n_routed_experts + 1) + e] = 0.05f * (rng_uniform(&r) - 0.5f);

    char path[] = "/tmp/r1_test_train_exportXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    tio_save_params sp = {"test", DTYPE_F32, NULL, NULL, NULL};
    CHECKF(tio_save(m, path, &sp, err) == R1_OK, "%s", err);

    /* a real chat as input */
    problem p;
    task_spec spec = {TASK_MUL, 2, 2, 2, 2, 1};
    task_generate(&spec, 3, SPLIT_TRAIN, &p);
    char text[4096];
    int len = task_render_chat(&p, true, true, text, sizeof text, NULL);
    int32_t ids[1024];
    int n = vocab_encode(text, (size_t)len, ids, 1024);
    CHECK(n > 20 && n < 256);

    /* trainer forward, logits of every position but the last */
    tstate *st = tstate_new();
    int seq[2] = {0, n};
    tbatch b = {1, seq, ids, NULL};
    CHECK(tmodel_forward(m, st, &b, NULL, err) == R1_OK);
    int n_rows;
    const float *tl = tstate_logits(st, &n_rows);
    CHECK(n_rows == n - 1);

    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    r1_model *em = NULL;
    CHECKF(r1_model_load(path, &mp, &em, err) == R1_OK, "%s", err);
    if (em) {
        r1_session_params ssp = r1_session_params_default();
        ssp.all_logits = true;
        ssp.n_ctx = 256;
        r1_session *s;
        CHECK(r1_session_new(em, &ssp, &s, err) == R1_OK);
        CHECK(r1_session_eval(s, ids, n, err) == R1_OK);
        int rows;
        const float *el = r1_session_logits_all(s, &rows);
        CHECK(rows == n);
        double maxd = 0, maxl = 0;
        for (int t = 0; t < n - 1; t++)
            for (int j = 0; j < c.n_vocab; j++) {
                double d = fabs((double)el[t * c.n_vocab + j] - tl[t * c.n_vocab + j]);
                maxd = d > maxd ? d : maxd;
                maxl = fabs(tl[t * c.n_vocab + j]) > maxl ? fabs(tl[t * c.n_vocab + j]) : maxl;
            }
        CHECKF(maxd <= 1e-4 * (1 + maxl),
               "%s head: engine vs trainer logits differ by %.3g (max "
               "|logit| %.3g)",
               tied ? "tied" : "untied", maxd, maxl);
        printf("%s: max |engine - trainer| = %.3g over %d positions (max |logit| %.3g)\n",
               tied ? "tied" : "untied", maxd, n - 1, maxl);
        r1_session_free(s);
        r1_model_free(em);
    }

    /* the vocabulary as the engine's tokenizer sees it */
    gguf_file *f;
    CHECK(gguf_open(path, true, &f, err) == R1_OK);
    tokenizer *tok = NULL;
    CHECKF(tokenizer_load_gguf(f, &tok, err) == R1_OK, "%s", err);
    if (tok) {
        int32_t *tids;
        size_t tn;
        CHECK(tokenizer_encode(tok, text, (size_t)len, true, &tids, &tn, err) == R1_OK);
        CHECK((int)tn == n && !memcmp(tids, ids, (size_t)n * sizeof(int32_t)));
        /* valid UTF-8 only: the tokenizer replaces invalid bytes by U+FFFD first */
        const char *odd = "x\x01\tä€😀<think>";
        int32_t mine[64];
        int k = vocab_encode(odd, strlen(odd), mine, 64);
        free(tids);
        CHECK(tokenizer_encode(tok, odd, strlen(odd), true, &tids, &tn, err) == R1_OK);
        CHECK((int)tn == k && !memcmp(tids, mine, (size_t)k * sizeof(int32_t)));
        free(tids);
        char *dec;
        size_t dl;
        CHECK(tokenizer_decode(tok, ids, (size_t)n, true, &dec, &dl, err) == R1_OK);
        CHECK(dl == (size_t)len && !memcmp(dec, text, dl));
        free(dec);
        CHECK(tokenizer_eos(tok) == VOCAB_EOS && tokenizer_bos(tok) == VOCAB_BOS);
        tokenizer_free(tok);
    }
    gguf_close(f);

    /* read back */
    tmodel *m2 = NULL;
    CHECKF(tio_load(path, pool, &m2, NULL, err) == R1_OK, "%s", err);
    if (m2) {
        CHECK(m2->n_params == m->n_params && m2->cfg.tie_embeddings == tied);
        CHECK(!memcmp(m2->params, m->params, m->n_params * sizeof(float)));
        size_t row = (size_t)(c.n_routed_experts + 1), first = (size_t)c.n_dense_layers * row;
        CHECK(!memcmp(m2->exp_probs_b + first, m->exp_probs_b + first,
                      ((size_t)c.n_layers * row - first) * sizeof(float)));
        tmodel_free(m2);
    }
    /* a checkpoint keeps the optimizer state */
    adamw opt, opt2;
    adamw_params ap = adamw_params_default();
    CHECK(adamw_init(&opt, m, &ap, err) == R1_OK);
    for (size_t i = 0; i < opt.n; i++) {
        opt.m[i] = rng_uniform(&r);
        opt.v[i] = rng_uniform(&r);
    }
    opt.step = 17;
    sp.opt = &opt;
    CHECK(tio_save(m, path, &sp, err) == R1_OK);
    m2 = NULL;
    CHECKF(tio_load(path, pool, &m2, &opt2, err) == R1_OK, "%s", err);
    if (m2) {
        CHECK(opt2.step == 17 && opt2.p.lr == ap.lr && opt2.p.total_steps == ap.total_steps);
        CHECK(!memcmp(opt2.m, opt.m, opt.n * sizeof(float)) &&
              !memcmp(opt2.v, opt.v, opt.n * sizeof(float)));
        adamw_free(&opt2);
        tmodel_free(m2);
    }
    adamw_free(&opt);
    unlink(path);
    tstate_free(st);
    tmodel_free(m);
    threadpool_free(pool);
}

int main(void)
{
    check_engine_logits(false);
    check_engine_logits(true);
    return test_finish();
}
