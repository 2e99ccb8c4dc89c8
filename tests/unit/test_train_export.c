/* test_train_export.c — a trainer model saved as GGUF runs identically in the engine.
 *
 * A small deepseek2 (dense + MoE layers, group-limited routing, a nonzero balancing bias, untied
 * and tied heads, with its MTP module) with random weights is written by tio_save, loaded by
 * r1_model_load, and the engine's logits for every position of a chat (r1_session_eval with
 * all_logits) are compared with the trainer's forward: max |Δ| ≤ 1e-4·(1 + max|logit|) (fp32,
 * different summation orders; recorded in docs/training.md). The MTP module likewise: the engine's
 * model_forward (hidden states out) then model_forward_mtp over the same chat against the
 * trainer's MTP logits, same tolerance (its input is the main model's hidden state, so the main
 * path's ~1e-6 differences feed one more layer and head: still far below the bound).
 * The file's MTP metadata and tensors follow llama.cpp (nextn_predict_layers = 1, block_count =
 * n_layers + 1, blk.N.nextn.* with eh_proj of ne (2·dim, dim), no nextn.embed_tokens /
 * shared_head_head). Also: the file's vocabulary loads through tokenizer_load_gguf and encodes a
 * rendered chat to the ids vocab_encode gives; tio_load reads back the same weights (MTP module
 * and its balancing bias included, and an all-dense model's dense MTP layer); a checkpoint
 * restores the AdamW state bit for bit. */
#include "test.h"

#include "base/rng.h"
#include "formats/gguf.h"
#include "model/forward.h"
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
    c.n_mtp = 1;
    char err[R1_ERR_MAX];
    threadpool *pool = threadpool_new(2);
    tmodel *m;
    CHECK(tmodel_new(&c, pool, &m, err) == R1_OK);
    tmodel_init_random(m, 11);
    rng r;
    rng_seed(&r, 5);
    for (int il = c.n_dense_layers; il < c.n_layers + c.n_mtp; il++) /* the MTP layer's too */
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

    /* trainer forward, logits of every position but the last; MTP logits of all but the last 2 */
    tstate *st = tstate_new();
    int seq[2] = {0, n};
    tbatch b = {1, seq, ids, NULL};
    float *mlogp = malloc((size_t)n * sizeof(float));
    CHECK(tmodel_forward(m, st, &b, NULL, mlogp, err) == R1_OK);
    int n_rows, n_mrows;
    const float *tl = tstate_logits(st, &n_rows);
    const float *tml = tstate_mtp_logits(st, &n_mrows);
    CHECK(n_rows == n - 1 && n_mrows == n - 2);

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

        /* the MTP module through the engine's internal API: main forward with hidden states,
         * then the MTP layer over (h_i, t_{i+1}), i = 0 .. n-2, with the MTP layer's KV rows */
        CHECK(em->n_mtp == 1 && em->mtp_block == c.n_layers && em->cfg.n_layers == c.n_layers);
        int V = c.n_vocab, E = c.dim;
        kv_cache kv = {
            .n_ctx = 256, .row_floats = model_kv_row_floats(&em->cfg), .type = DTYPE_F32};
        kv.row_bytes = (size_t)kv.row_floats * sizeof(float);
        kv.data = calloc((size_t)(c.n_layers + 1) * (size_t)kv.n_ctx * (size_t)kv.row_floats,
                         sizeof(float));
        workspace ws;
        CHECKF(workspace_init(&ws, em, 256, kv.n_ctx, err) == R1_OK, "%s", err);
        float *hidden = malloc((size_t)n * (size_t)E * sizeof(float));
        float *elog = malloc((size_t)n * (size_t)V * sizeof(float));
        float *emlog = malloc((size_t)n * (size_t)V * sizeof(float));
        int *pos = malloc((size_t)n * sizeof(int));
        kv_cache **kvs = malloc((size_t)n * sizeof *kvs);
        model_forward(em, &kv, &ws, ids, n, 0, elog, n, hidden);
        for (int i = 0; i < n - 1; i++) {
            pos[i] = i;
            kvs[i] = &kv;
        }
        model_forward_mtp(em, kvs, pos, &ws, hidden, ids + 1, n - 1, emlog);
        double maxm = 0, maxml = 0, maxh = 0;
        for (int t = 0; t < n - 1; t++)
            for (int j = 0; j < V; j++) {
                double d = fabs((double)elog[t * V + j] - tl[t * V + j]);
                maxh = d > maxh ? d : maxh;
            }
        int hits = 0;
        for (int i = 0; i < n - 2; i++) {
            int best = 0;
            for (int j = 0; j < V; j++) {
                double d = fabs((double)emlog[i * V + j] - tml[i * V + j]);
                maxm = d > maxm ? d : maxm;
                maxml = fabs(tml[i * V + j]) > maxml ? fabs(tml[i * V + j]) : maxml;
                best = tml[i * V + j] > tml[i * V + best] ? j : best;
            }
            hits += best == ids[i + 2];
        }
        CHECKF(maxh <= 1e-4 * (1 + maxl), "model_forward logits differ by %.3g", maxh);
        CHECKF(maxm <= 1e-4 * (1 + maxml),
               "%s head: engine vs trainer MTP logits differ by %.3g (max |logit| %.3g)",
               tied ? "tied" : "untied", maxm, maxml);
        CHECK(hits == tstate_mtp_top1(st));
        printf("%s: MTP max |engine - trainer| = %.3g over %d positions (max |logit| %.3g)\n",
               tied ? "tied" : "untied", maxm, n - 2, maxml);
        free(hidden);
        free(elog);
        free(emlog);
        free(pos);
        free(kvs);
        free(kv.data);
        workspace_free(&ws);
        r1_model_free(em);
    }

    /* the MTP module's metadata and tensors, llama.cpp's way */
    gguf_file *f;
    CHECK(gguf_open(path, true, &f, err) == R1_OK);
    uint32_t blocks = 0, nextn = 0, dense = 99;
    CHECK(gguf_get_u32(f, "deepseek2.block_count", &blocks, NULL) &&
          blocks == (uint32_t)c.n_layers + 1);
    CHECK(gguf_get_u32(f, "deepseek2.nextn_predict_layers", &nextn, NULL) && nextn == 1);
    CHECK(gguf_get_u32(f, "deepseek2.leading_dense_block_count", &dense, NULL) &&
          dense == (uint32_t)c.n_dense_layers);
    {
        char name[96];
        const char *vecs[] = {"nextn.enorm", "nextn.hnorm", "nextn.shared_head_norm", "attn_norm",
                              "ffn_norm"};
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", c.n_layers, vecs[k]);
            const gguf_tensor *t = gguf_find_tensor(f, name);
            CHECKF(t && t->ne[0] == c.dim && t->type == DTYPE_F32, "%s", name);
        }
        snprintf(name, sizeof name, "blk.%d.nextn.eh_proj.weight", c.n_layers);
        const gguf_tensor *t = gguf_find_tensor(f, name);
        CHECK(t && t->ne[0] == 2 * c.dim && t->ne[1] == c.dim);
        snprintf(name, sizeof name, "blk.%d.exp_probs_b.bias", c.n_layers);
        CHECK(gguf_find_tensor(f, name) != NULL);
        snprintf(name, sizeof name, "blk.%d.ffn_gate_inp.weight", c.n_layers);
        CHECK(gguf_find_tensor(f, name) != NULL);
        snprintf(name, sizeof name, "blk.%d.nextn.embed_tokens.weight", c.n_layers);
        CHECK(gguf_find_tensor(f, name) == NULL);
        snprintf(name, sizeof name, "blk.%d.nextn.shared_head_head.weight", c.n_layers);
        CHECK(gguf_find_tensor(f, name) == NULL);
    }

    /* the vocabulary as the engine's tokenizer sees it */
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
        CHECK(m2->cfg.n_mtp == 1 && m2->cfg.n_layers == c.n_layers &&
              m2->cfg.n_dense_layers == c.n_dense_layers);
        CHECK(!memcmp(m2->params, m->params, m->n_params * sizeof(float)));
        size_t row = (size_t)(c.n_routed_experts + 1), first = (size_t)c.n_dense_layers * row;
        CHECK(!memcmp(m2->exp_probs_b + first, m->exp_probs_b + first,
                      ((size_t)(c.n_layers + 1) * row - first) * sizeof(float)));
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
    free(mlogp);
    tstate_free(st);
    tmodel_free(m);
    threadpool_free(pool);
}

/* An all-dense model's MTP layer is dense; the file says so with one more leading dense block, and
 * tio_load reads it back. Without MTP: no nextn key, block_count = n_layers. */
static void check_roundtrip_dense(void)
{
    char err[R1_ERR_MAX];
    threadpool *pool = threadpool_new(1);
    for (int with_mtp = 0; with_mtp < 2; with_mtp++) {
        tconfig c = tconfig_default();
        c.dim = 32;
        c.n_layers = 2;
        c.n_dense_layers = 2;
        c.inter_dim = 48;
        c.max_seq_len = 64;
        c.n_mtp = with_mtp;
        tmodel *m, *m2 = NULL;
        CHECK(tmodel_new(&c, pool, &m, err) == R1_OK);
        tmodel_init_random(m, 3);
        char path[] = "/tmp/r1_test_train_export_denseXXXXXX";
        int fd = mkstemp(path);
        close(fd);
        tio_save_params sp = {"dense", DTYPE_F32, NULL, NULL, NULL};
        CHECKF(tio_save(m, path, &sp, err) == R1_OK, "%s", err);
        gguf_file *f;
        CHECK(gguf_open(path, true, &f, err) == R1_OK);
        uint32_t blocks = 0, dense = 0, nextn = 0;
        CHECK(gguf_get_u32(f, "deepseek2.block_count", &blocks, NULL) &&
              blocks == (uint32_t)(2 + with_mtp));
        CHECK(gguf_get_u32(f, "deepseek2.leading_dense_block_count", &dense, NULL) &&
              dense == blocks);
        CHECK(gguf_get_u32(f, "deepseek2.nextn_predict_layers", &nextn, NULL) == (bool)with_mtp);
        CHECK((gguf_find_tensor(f, "blk.2.ffn_gate.weight") != NULL) == (bool)with_mtp);
        gguf_close(f);
        CHECKF(tio_load(path, pool, &m2, NULL, err) == R1_OK, "%s", err);
        if (m2) {
            CHECK(m2->cfg.n_mtp == with_mtp && m2->cfg.n_layers == 2 &&
                  m2->cfg.n_dense_layers == 2 && m2->n_params == m->n_params &&
                  !memcmp(m2->params, m->params, m->n_params * sizeof(float)));
            tmodel_free(m2);
        }
        unlink(path);
        tmodel_free(m);
    }
    threadpool_free(pool);
}

int main(void)
{
    check_engine_logits(false);
    check_engine_logits(true);
    check_roundtrip_dense();
    return test_finish();
}
