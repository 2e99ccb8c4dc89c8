/* grpo.c — sampling, rewards, advantages and the clipped policy-gradient update (see grpo.h). */
#include "train/grpo.h"

#include "base/err.h"
#include "base/rng.h"
#include "train/dp.h"
#include "train/rollout.h"
#include "train/sft.h"
#include "train/tio.h"
#include "train/vocab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

grpo_params grpo_params_default(void)
{
    grpo_params p;
    memset(&p, 0, sizeof p);
    p.seed = 1;
    p.suffix_prob = 0.3f;
    p.n_prompts = 16;
    p.group_size = 8;
    p.temperature = 1.0f;
    p.max_new = 320;
    p.clip_low = 0.2f;
    p.clip_high = 0.28f;
    p.kl_coef = 0.0f;
    p.std_norm = true;
    p.agg = GRPO_AGG_TOKEN;
    p.drop_uniform = true;
    p.format_reward = 0.1f;
    p.ppo_epochs = 1;
    p.bias_rate = 1e-3f;
    p.n_threads = 1;
    p.mtp_lambda = 0.3f;
    p.mtp_trunk = false;
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xD1B54A32D192ED03ull ^
                 (c + 1) * 0xBF58476D1CE4E5B9ull;
    return rng_splitmix64(&x);
}

r1_status grpo_step(tmodel *m, tstate *st, adamw *opt, tmodel *ref, tstate *ref_st,
                    const grpo_params *p, int64_t step, const char *scratch_path, grpo_stats *out,
                    char *err)
{
    memset(out, 0, sizeof *out);
    if (p->kl_coef > 0 && !ref)
        return err_set(err, R1_ERR_INVALID_ARG, "a KL penalty needs a reference model");
    int P = p->n_prompts, G = p->group_size, n = P * G;
    double t0 = now_s();
    problem *probs = calloc((size_t)P, sizeof *probs);
    int32_t *prompt_ids = calloc((size_t)P * 512, sizeof(int32_t));
    int *n_prompt = calloc((size_t)P, sizeof(int));
    rollout_req *reqs = calloc((size_t)n, sizeof *reqs);
    rollout_out *outs = calloc((size_t)n, sizeof *outs);
    float *reward = calloc((size_t)n, sizeof(float)), *adv = calloc((size_t)n, sizeof(float));
    unsigned char *keep = calloc((size_t)n, 1);
    float *logp_old = NULL, *logp_ref = NULL;
    tokbatch b = {0}, part = {0};
    r1_model *em = NULL;
    r1_status s = R1_OK;
    if (!probs || !prompt_ids || !n_prompt || !reqs || !outs || !reward || !adv || !keep) {
        s = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* 1. sample with the engine from the current weights; data parallel: this rank's groups
     * [i0, i1), then every rank gets every sample */
    r1_dist *dist = p->dist;
    int i0, i1;
    dp_share(dist, P, &i0, &i1);
    tio_save_params sp = {"grpo-scratch", DTYPE_F32, NULL, NULL, NULL};
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    if (i1 > i0) {
        if ((s = tio_save(m, scratch_path, &sp, err))) goto done;
        if ((s = r1_model_load(scratch_path, &mp, &em, err))) goto done;
    }
    char text[4096];
    for (int i = 0; i < P; i++) {
        rng r;
        rng_seed(&r, mix3(p->seed, (uint64_t)step, (uint64_t)i));
        task_generate_mix(&p->mix, rng_next(&r), SPLIT_TRAIN, &probs[i]);
        bool suffix = rng_uniform(&r) < p->suffix_prob;
        int len = task_render_chat(&probs[i], suffix, false, text, sizeof text, NULL);
        int k = vocab_encode(text, (size_t)len, prompt_ids + (size_t)i * 512, 512);
        n_prompt[i] = k < 512 ? k : 512;
        for (int g = 0; g < G; g++)
            reqs[i * G + g] =
                (rollout_req){prompt_ids + (size_t)i * 512, n_prompt[i],
                              mix3(p->seed ^ 0xA5A5A5A5ull, (uint64_t)step, (uint64_t)(i * G + g))};
    }
    int max_new = p->max_new;
    if (max_new > m->cfg.max_seq_len - 64) max_new = m->cfg.max_seq_len - 64;
    if (i1 > i0 && (s = rollout_generate(em, p->n_threads, reqs + i0 * G, (i1 - i0) * G,
                                         p->temperature, 1.0f, max_new, outs + i0 * G, err)))
        goto done;
    if (em) r1_model_free(em);
    em = NULL;
    out->t_sample = now_s() - t0;
    if (!dp_allgather_rollouts(dist, P, G, max_new, outs)) {
        s = err_set(err, R1_ERR_IO, "data parallel: gathering the samples: %s",
                    r1_dist_failure(dist) ? r1_dist_failure(dist) : "out of memory");
        goto done;
    }

    /* 2. rewards and group-relative advantages */
    double len_sum = 0;
    for (int i = 0; i < n; i++) {
        vocab_decode(outs[i].tokens, outs[i].n_tokens, text, sizeof text);
        bool fmt;
        bool ok = task_check(&probs[i / G], text, &fmt);
        fmt = fmt && outs[i].hit_eos;
        reward[i] = (ok ? 1.0f : 0.0f) + (fmt ? p->format_reward : 0.0f);
        out->accuracy += ok;
        out->format += fmt;
        out->reward += reward[i];
        len_sum += outs[i].n_tokens;
    }
    out->accuracy /= n;
    out->format /= n;
    out->reward /= n;
    out->mean_len = len_sum / n;
    for (int i = 0; i < P; i++) {
        double mean = 0, var = 0;
        for (int g = 0; g < G; g++) mean += reward[i * G + g];
        mean /= G;
        for (int g = 0; g < G; g++) var += (reward[i * G + g] - mean) * (reward[i * G + g] - mean);
        double sd = G > 1 ? sqrt(var / (G - 1)) : 0;
        bool uniform = sd < 1e-6;
        if (!(uniform && p->drop_uniform)) out->n_groups_kept++;
        for (int g = 0; g < G; g++) {
            int k = i * G + g;
            adv[k] = (float)(p->std_norm ? (reward[k] - mean) / (sd + 1e-4) : reward[k] - mean);
            keep[k] = !(uniform && p->drop_uniform) && outs[k].n_tokens > 0;
        }
    }

    /* 3. the batch: prompt + completion, trained on the completion */
    int *seq_of = calloc((size_t)n, sizeof(int)); /* batch sequence -> sample */
    if (!seq_of) {
        s = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }
    int n_seq = 0;
    for (int k = 0; k < n; k++) {
        if (!keep[k]) continue;
        int i = k / G;
        if ((s = tokbatch_add(&b, prompt_ids + (size_t)i * 512, n_prompt[i], outs[k].tokens,
                              outs[k].n_tokens, m->cfg.max_seq_len, err))) {
            free(seq_of);
            goto done;
        }
        seq_of[n_seq++] = k;
    }
    out->n_seqs_trained = n_seq;
    out->n_tokens = b.n_active;
    out->kl = NAN;
    out->mtp_loss = out->mtp_acc = NAN;
    if (n_seq == 0) { /* nothing to learn from: no update, the schedule still advances */
        opt->step++;
        free(seq_of);
        out->t_train = now_s() - t0 - out->t_sample;
        goto done;
    }
    /* data parallel: this rank trains its block of the batch's sequences [q0, q1) (all of them
     * alone); the weights below are the whole batch's */
    int q0 = 0, q1 = n_seq;
    tokbatch *pb = &b;
    if (r1_dist_size(dist) > 1) {
        dp_share_tokens(dist, b.n_seqs, b.seq_start, &q0, &q1);
        if ((s = tokbatch_slice(&b, q0, q1, &part, err))) {
            free(seq_of);
            goto done;
        }
        pb = &part;
    }
    tbatch tb = tokbatch_view(pb);
    logp_old = malloc((size_t)(pb->n_tok > 0 ? pb->n_tok : 1) * sizeof(float));
    logp_ref = malloc((size_t)(pb->n_tok > 0 ? pb->n_tok : 1) * sizeof(float));
    if (!logp_old || !logp_ref) {
        free(seq_of);
        s = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* per-token weight of each sequence's terms */
    float *wseq = malloc((size_t)n_seq * sizeof(float));
    if (!wseq) {
        free(seq_of);
        s = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int q = 0; q < n_seq; q++) {
        int len = 0;
        for (int t = b.seq_start[q]; t < b.seq_start[q + 1]; t++) len += b.active[t];
        wseq[q] = p->agg == GRPO_AGG_TOKEN ? 1.0f / (float)(b.n_active > 0 ? b.n_active : 1)
                  : p->agg == GRPO_AGG_SEQ ? 1.0f / ((float)n_seq * (float)(len > 0 ? len : 1))
                                           : 1.0f / ((float)n_seq * (float)max_new);
    }
    bool ran = pb->n_seqs > 0;
    if (ref && ran) {
        if ((s = tmodel_forward(ref, ref_st, &tb, logp_ref, NULL, err))) {
            free(seq_of);
            free(wseq);
            goto done;
        }
    }
    bool mtp = m->cfg.n_mtp > 0 && p->mtp_lambda > 0;
    tbatch whole = tokbatch_view(&b);
    int n_mtp = mtp ? tbatch_mtp_mask(&whole, b.mtp_active) : 0; /* the whole batch's count */
    if (mtp && pb != &b && ran) tbatch_mtp_mask(&tb, pb->mtp_active);
    for (int t = 0; t < pb->n_tok && mtp; t++)
        pb->mtp_dlogp[t] = pb->mtp_active[t] ? -p->mtp_lambda / (float)(n_mtp ? n_mtp : 1) : 0.0f;
    const tconfig *c = &m->cfg;
    int *load =
        malloc((size_t)(c->n_layers + c->n_mtp) * (size_t)(c->n_routed_experts + 1) * sizeof *load);
    if (!load) {
        free(seq_of);
        free(wseq);
        s = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int epoch = 0; epoch < (p->ppo_epochs > 0 ? p->ppo_epochs : 1); epoch++) {
        double mtp_sum = 0, mtp_top1 = 0;
        if (ran) {
            if ((s = tmodel_forward(m, st, &tb, pb->logp, mtp ? pb->mtp_logp : NULL, err))) break;
            if (epoch == 0 && mtp) {
                for (int t = 0; t < pb->n_tok; t++)
                    if (pb->mtp_active[t]) mtp_sum -= pb->mtp_logp[t];
                mtp_top1 = tstate_mtp_top1(st);
            }
            if (epoch == 0) memcpy(logp_old, pb->logp, (size_t)pb->n_tok * sizeof(float));
        }
        double loss = 0, kl = 0;
        int n_clip = 0, n_act = 0;
        for (int q = 0; q < q1 - q0; q++) {
            float A = adv[seq_of[q0 + q]], w = wseq[q0 + q];
            for (int t = pb->seq_start[q]; t < pb->seq_start[q + 1]; t++) {
                pb->dlogp[t] = 0;
                if (!pb->active[t]) continue;
                float lp = pb->logp[t];
                float ratio = expf(lp - logp_old[t]);
                float rc = fminf(fmaxf(ratio, 1 - p->clip_low), 1 + p->clip_high);
                float unc = ratio * A, clp = rc * A;
                float g_obj = unc <= clp ? ratio * A : 0.0f;
                n_clip += unc > clp;
                double obj = fmin(unc, clp), k3 = 0, dk3 = 0;
                if (ref) {
                    double dr = (double)logp_ref[t] - lp; /* log π_ref/π */
                    k3 = exp(dr) - dr - 1;
                    dk3 = 1 - exp(dr); /* d k3 / d logp */
                    kl += k3;
                }
                loss -= w * (obj - p->kl_coef * k3);
                pb->dlogp[t] = -w * (g_obj - p->kl_coef * (float)dk3);
                n_act++;
            }
        }
        /* the whole batch's sums (data parallel: over the ranks) */
        double sums[6] = {loss, kl, n_clip, n_act, mtp_sum, mtp_top1};
        bool ok = dp_sum_f64(dist, sums, 6);
        if (epoch == 0) {
            out->loss = sums[0];
            out->kl = ref ? sums[1] / (sums[3] > 0 ? sums[3] : 1) : NAN;
            if (mtp) {
                out->mtp_loss = n_mtp ? sums[4] / n_mtp : 0;
                out->mtp_acc = n_mtp ? sums[5] / n_mtp : 0;
            }
        }
        out->clip_frac = sums[3] > 0 ? sums[2] / sums[3] : 0;
        tmodel_zero_grad(m);
        if (ran) tmodel_backward(m, st, pb->dlogp, mtp ? pb->mtp_dlogp : NULL, !p->mtp_trunk);
        ok = ok && dp_sum_grads(dist, m);
        if (ok) out->grad_norm = adamw_step(opt, m, &out->lr);
        if (ok && epoch == 0 && p->bias_rate > 0) {
            ok = dp_sum_load(dist, m, st, ran, load);
            if (ok)
                tmodel_update_bias_load(m, load, c->n_layers + (mtp ? c->n_mtp : 0), p->bias_rate);
        }
        if (!ok) {
            s = err_set(err, R1_ERR_IO, "data parallel: %s",
                        r1_dist_failure(dist) ? r1_dist_failure(dist) : "out of memory");
            break;
        }
    }
    free(load);
    free(seq_of);
    free(wseq);
    out->t_train = now_s() - t0 - out->t_sample;
done:
    if (em) r1_model_free(em);
    if (outs) rollout_free(outs, n);
    free(probs);
    free(prompt_ids);
    free(n_prompt);
    free(reqs);
    free(outs);
    free(reward);
    free(adv);
    free(keep);
    free(logp_old);
    free(logp_ref);
    tokbatch_free(&b);
    tokbatch_free(&part);
    return s;
}
