/* sft.c — SFT batches and steps (see sft.h). */
#include "train/sft.h"

#include "base/err.h"
#include "base/rng.h"
#include "train/dp.h"
#include "train/vocab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tokbatch_clear(tokbatch *b)
{
    b->n_seqs = 0;
    b->n_tok = 0;
    b->n_active = 0;
}

void tokbatch_free(tokbatch *b)
{
    free(b->seq_start);
    free(b->prompt_len);
    free(b->tokens);
    free(b->active);
    free(b->dlogp);
    free(b->logp);
    free(b->mtp_active);
    free(b->mtp_logp);
    free(b->mtp_dlogp);
    memset(b, 0, sizeof *b);
}

static bool grow(void **p, size_t elem, int cap)
{
    void *q = realloc(*p, elem * (size_t)cap);
    if (!q) return false;
    *p = q;
    return true;
}

r1_status tokbatch_add(tokbatch *b, const int32_t *prompt, int n_prompt, const int32_t *completion,
                       int n_completion, int max_len, char *err)
{
    int n = n_prompt + n_completion;
    if (n > max_len) n = max_len;
    if (n_prompt < 1 || n < 2)
        return err_set(err, R1_ERR_INVALID_ARG, "a sequence needs a prompt and one more token");
    if (b->n_seqs + 2 > b->cap_seqs) {
        int cap = b->cap_seqs ? 2 * b->cap_seqs : 64;
        if (!grow((void **)&b->seq_start, sizeof(int), cap) ||
            !grow((void **)&b->prompt_len, sizeof(int), cap))
            return err_set(err, R1_ERR_NOMEM, "out of memory");
        b->cap_seqs = cap;
    }
    if (b->n_tok + n > b->cap_tok) {
        int cap = b->cap_tok ? b->cap_tok : 4096;
        while (cap < b->n_tok + n) cap *= 2;
        if (!grow((void **)&b->tokens, sizeof(int32_t), cap) ||
            !grow((void **)&b->active, 1, cap) || !grow((void **)&b->dlogp, sizeof(float), cap) ||
            !grow((void **)&b->logp, sizeof(float), cap) ||
            !grow((void **)&b->mtp_active, 1, cap) ||
            !grow((void **)&b->mtp_logp, sizeof(float), cap) ||
            !grow((void **)&b->mtp_dlogp, sizeof(float), cap))
            return err_set(err, R1_ERR_NOMEM, "out of memory");
        b->cap_tok = cap;
    }
    if (b->n_seqs == 0) b->seq_start[0] = 0;
    int s0 = b->n_tok;
    for (int i = 0; i < n; i++) {
        b->tokens[s0 + i] = i < n_prompt ? prompt[i] : completion[i - n_prompt];
        /* position i predicts token i+1: train where that token is in the completion */
        b->active[s0 + i] = i + 1 < n && i + 1 >= n_prompt;
        b->n_active += b->active[s0 + i];
    }
    b->prompt_len[b->n_seqs] = n_prompt < n ? n_prompt : n;
    b->n_tok += n;
    b->n_seqs++;
    b->seq_start[b->n_seqs] = b->n_tok;
    return R1_OK;
}

tbatch tokbatch_view(const tokbatch *b)
{
    return (tbatch){b->n_seqs, b->seq_start, b->tokens, b->active};
}

r1_status sft_make_batch(const sft_data *d, int64_t index, task_split split, tokbatch *b, char *err)
{
    tokbatch_clear(b);
    char text[4096];
    int32_t ids[4096];
    for (int i = 0; i < d->batch_size; i++) {
        uint64_t x = d->seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)index << 20) ^ (uint64_t)i ^
                     ((uint64_t)split << 62);
        rng r;
        rng_seed(&r, x);
        problem p;
        task_generate_mix(&d->mix, rng_next(&r), split, &p);
        bool suffix = rng_uniform(&r) < d->suffix_prob;
        int prompt_bytes;
        int n_bytes = task_render_chat(&p, suffix, true, text, sizeof text, &prompt_bytes);
        int n_prompt = vocab_encode(text, (size_t)prompt_bytes, ids, 4096);
        int n_all = vocab_encode(text, (size_t)n_bytes, ids, 4096);
        if (n_all > 4096) return err_set(err, R1_ERR_INVALID_ARG, "a chat is too long");
        r1_status st =
            tokbatch_add(b, ids, n_prompt, ids + n_prompt, n_all - n_prompt, d->max_len, err);
        if (st) return st;
    }
    return R1_OK;
}

/* Forward; main loss, and with mtp the MTP loss and accuracy (and b->mtp_active). */
static r1_status forward_loss(tmodel *m, tstate *st, tokbatch *b, bool mtp, sft_stats *out,
                              char *err)
{
    tbatch tb = tokbatch_view(b);
    r1_status s = tmodel_forward(m, st, &tb, b->logp, mtp ? b->mtp_logp : NULL, err);
    if (s) return s;
    double sum = 0;
    for (int t = 0; t < b->n_tok; t++)
        if (b->active[t]) sum -= b->logp[t];
    out->loss = b->n_active ? sum / b->n_active : 0;
    out->mtp_loss = out->mtp_acc = NAN;
    out->n_mtp = 0;
    out->n_tokens = b->n_tok;
    out->n_active = b->n_active;
    if (mtp) {
        int n = tbatch_mtp_mask(&tb, b->mtp_active);
        sum = 0;
        for (int t = 0; t < b->n_tok; t++)
            if (b->mtp_active[t]) sum -= b->mtp_logp[t];
        out->n_mtp = n;
        out->mtp_loss = n ? sum / n : 0;
        out->mtp_acc = n ? (double)tstate_mtp_top1(st) / n : 0;
    }
    return R1_OK;
}

r1_status sft_eval_loss(tmodel *m, tstate *st, tokbatch *b, double *out_loss, char *err)
{
    sft_stats ss;
    r1_status s = forward_loss(m, st, b, false, &ss, err);
    if (!s) *out_loss = ss.loss;
    return s;
}

r1_status sft_eval(tmodel *m, tstate *st, tokbatch *b, sft_stats *out, char *err)
{
    memset(out, 0, sizeof *out);
    return forward_loss(m, st, b, m->cfg.n_mtp > 0, out, err);
}

r1_status sft_step(tmodel *m, tstate *st, adamw *opt, tokbatch *b, float bias_rate,
                   float mtp_lambda, sft_stats *out, char *err)
{
    bool mtp = m->cfg.n_mtp > 0 && mtp_lambda > 0;
    r1_status s = forward_loss(m, st, b, mtp, out, err);
    if (s) return s;
    float w = b->n_active ? 1.0f / (float)b->n_active : 0.0f;
    for (int t = 0; t < b->n_tok; t++) b->dlogp[t] = b->active[t] ? -w : 0.0f;
    if (mtp) { /* L = CE_main + λ·CE_mtp */
        float wm = out->n_mtp ? mtp_lambda / (float)out->n_mtp : 0.0f;
        for (int t = 0; t < b->n_tok; t++) b->mtp_dlogp[t] = b->mtp_active[t] ? -wm : 0.0f;
    }
    tmodel_zero_grad(m);
    tmodel_backward(m, st, b->dlogp, mtp ? b->mtp_dlogp : NULL, false);
    out->grad_norm = adamw_step(opt, m, &out->lr);
    if (bias_rate > 0) tmodel_update_bias(m, st, bias_rate);
    return R1_OK;
}

r1_status tokbatch_slice(const tokbatch *src, int s0, int s1, tokbatch *dst, char *err)
{
    tokbatch_clear(dst);
    for (int q = s0; q < s1; q++) {
        const int32_t *t = src->tokens + src->seq_start[q];
        int n = src->seq_start[q + 1] - src->seq_start[q], np = src->prompt_len[q];
        r1_status s = tokbatch_add(dst, t, np, t + np, n - np, n, err);
        if (s) return s;
    }
    return R1_OK;
}

/* The data-parallel step and evaluation: forward (and backward) of this rank's block. */
static r1_status dp_run(tmodel *m, tstate *st, adamw *opt, tokbatch *b, r1_dist *dist, bool train,
                        bool mtp, float bias_rate, float mtp_lambda, sft_stats *out, char *err)
{
    memset(out, 0, sizeof *out);
    tbatch whole = tokbatch_view(b);
    /* the normalizers: the whole batch's counts, which every rank knows */
    int n_active = b->n_active, n_mtp = mtp ? tbatch_mtp_mask(&whole, b->mtp_active) : 0;
    int s0, s1;
    dp_share_tokens(dist, b->n_seqs, b->seq_start, &s0, &s1);
    tokbatch part = {0};
    r1_status s = tokbatch_slice(b, s0, s1, &part, err);
    if (s) {
        tokbatch_free(&part);
        return s;
    }
    tbatch tb = tokbatch_view(&part);
    bool ran = part.n_seqs > 0;
    double sums[3] = {0, 0, 0}; /* -Σ log p, -Σ log p_mtp, MTP top-1 hits */
    if (ran) {
        s = tmodel_forward(m, st, &tb, part.logp, mtp ? part.mtp_logp : NULL, err);
        if (s) {
            tokbatch_free(&part);
            return s;
        }
        for (int t = 0; t < part.n_tok; t++)
            if (part.active[t]) sums[0] -= part.logp[t];
        if (mtp) {
            tbatch_mtp_mask(&tb, part.mtp_active);
            for (int t = 0; t < part.n_tok; t++)
                if (part.mtp_active[t]) sums[1] -= part.mtp_logp[t];
            sums[2] = tstate_mtp_top1(st);
        }
    }
    bool ok = dp_sum_f64(dist, sums, 3);
    out->loss = n_active ? sums[0] / n_active : 0;
    out->mtp_loss = mtp ? (n_mtp ? sums[1] / n_mtp : 0) : NAN;
    out->mtp_acc = mtp ? (n_mtp ? sums[2] / n_mtp : 0) : NAN;
    out->n_tokens = b->n_tok;
    out->n_active = n_active;
    out->n_mtp = n_mtp;
    if (train && ok) {
        float w = n_active ? 1.0f / (float)n_active : 0.0f;
        for (int t = 0; t < part.n_tok; t++) part.dlogp[t] = part.active[t] ? -w : 0.0f;
        if (mtp) {
            float wm = n_mtp ? mtp_lambda / (float)n_mtp : 0.0f;
            for (int t = 0; t < part.n_tok; t++)
                part.mtp_dlogp[t] = part.mtp_active[t] ? -wm : 0.0f;
        }
        tmodel_zero_grad(m);
        if (ran) tmodel_backward(m, st, part.dlogp, mtp ? part.mtp_dlogp : NULL, false);
        ok = dp_sum_grads(dist, m);
        if (ok) out->grad_norm = adamw_step(opt, m, &out->lr);
        if (ok && bias_rate > 0) {
            const tconfig *c = &m->cfg;
            int *load = malloc((size_t)(c->n_layers + c->n_mtp) *
                               (size_t)(c->n_routed_experts + 1) * sizeof *load);
            ok = load && dp_sum_load(dist, m, st, ran, load);
            if (ok) tmodel_update_bias_load(m, load, c->n_layers + (mtp ? c->n_mtp : 0), bias_rate);
            free(load);
        }
    }
    tokbatch_free(&part);
    if (!ok)
        return err_set(err, R1_ERR_IO, "data parallel: %s",
                       r1_dist_failure(dist) ? r1_dist_failure(dist) : "out of memory");
    return R1_OK;
}

r1_status sft_step_dp(tmodel *m, tstate *st, adamw *opt, tokbatch *b, r1_dist *dist,
                      float bias_rate, float mtp_lambda, sft_stats *out, char *err)
{
    if (r1_dist_size(dist) <= 1) return sft_step(m, st, opt, b, bias_rate, mtp_lambda, out, err);
    bool mtp = m->cfg.n_mtp > 0 && mtp_lambda > 0;
    return dp_run(m, st, opt, b, dist, true, mtp, bias_rate, mtp_lambda, out, err);
}

r1_status sft_eval_dp(tmodel *m, tstate *st, tokbatch *b, r1_dist *dist, sft_stats *out, char *err)
{
    if (r1_dist_size(dist) <= 1) return sft_eval(m, st, b, out, err);
    return dp_run(m, st, NULL, b, dist, false, m->cfg.n_mtp > 0, 0, 0, out, err);
}

void sft_add_data_keys(gguf_writer *w, void *user)
{
    const sft_data_keys *k = user;
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)k->d->seed);
    gguf_writer_set_str(w, "r1train.tasks", k->tasks);
    gguf_writer_set_str(w, "r1train.seed", seed);
    gguf_writer_set_u32(w, "r1train.batch", (uint32_t)k->d->batch_size);
    gguf_writer_set_u32(w, "r1train.max_len", (uint32_t)k->d->max_len);
    gguf_writer_set_f32(w, "r1train.suffix_prob", k->d->suffix_prob);
    gguf_writer_set_f32(w, "r1train.bias_rate", k->bias_rate);
    gguf_writer_set_f32(w, "r1train.mtp_lambda", k->mtp_lambda);
}

bool sft_read_data_keys(const char *path, sft_data *d, char *tasks, size_t cap, float *bias_rate,
                        float *mtp_lambda, char *err)
{
    gguf_file *f;
    char seed[32] = "";
    if (gguf_open(path, true, &f, err)) return false;
    uint32_t batch = 0, max_len = 0;
    bool ok = gguf_get_str(f, "r1train.tasks", tasks, cap, NULL) &&
              gguf_get_str(f, "r1train.seed", seed, sizeof seed, NULL) &&
              gguf_get_u32(f, "r1train.batch", &batch, NULL) &&
              gguf_get_u32(f, "r1train.max_len", &max_len, NULL) &&
              gguf_get_f32(f, "r1train.suffix_prob", &d->suffix_prob, NULL) &&
              gguf_get_f32(f, "r1train.bias_rate", bias_rate, NULL);
    if (!gguf_get_f32(f, "r1train.mtp_lambda", mtp_lambda, NULL)) *mtp_lambda = 0; /* before MTP */
    gguf_close(f);
    if (!ok) {
        if (err)
            snprintf(err, R1_ERR_MAX, "%s has no r1train data settings (not an SFT checkpoint)",
                     path);
        return false;
    }
    d->seed = strtoull(seed, NULL, 10);
    d->batch_size = (int)batch;
    d->max_len = (int)max_len;
    return true;
}
