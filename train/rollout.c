/* rollout.c — parallel sampling with r1 sessions (see rollout.h). */
#include "train/rollout.h"

#include "base/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shared {
    r1_model *model;
    const rollout_req *reqs;
    int n;
    float temperature, top_p;
    int max_new, n_ctx, eos;
    rollout_out *outs;
    atomic_int next;
    atomic_int failed;
    char err[R1_ERR_MAX];
    pthread_mutex_t mu;
} shared;

static void fail(shared *s, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->failed)) snprintf(s->err, sizeof s->err, "%s", msg);
    atomic_store(&s->failed, 1);
    pthread_mutex_unlock(&s->mu);
}

static void *worker(void *p)
{
    shared *s = p;
    char err[R1_ERR_MAX];
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = s->n_ctx;
    sp.mtp = R1_MTP_OFF; /* sampling token by token: the MTP layer would run for nothing */
    r1_session *ses = NULL;
    if (r1_session_new(s->model, &sp, &ses, err)) {
        fail(s, err);
        return NULL;
    }
    int n_vocab;
    {
        r1_model_info info;
        r1_model_get_info(s->model, &info);
        n_vocab = info.n_vocab;
    }
    for (;;) {
        int i = atomic_fetch_add(&s->next, 1);
        if (i >= s->n || atomic_load(&s->failed)) break;
        const rollout_req *q = &s->reqs[i];
        rollout_out *o = &s->outs[i];
        r1_sampler_params smp = r1_sampler_params_default();
        smp.temperature = s->temperature;
        smp.top_p = s->top_p;
        smp.top_k = 0;
        smp.min_p = 0;
        smp.seed = q->seed;
        r1_sampler *sam = NULL;
        o->tokens = malloc((size_t)(s->max_new > 0 ? s->max_new : 1) * sizeof(int32_t));
        if (!o->tokens || r1_sampler_new(&smp, n_vocab, &sam, err) || r1_session_rewind(ses, 0) ||
            r1_session_eval(ses, q->prompt, q->n_prompt, err)) {
            if (!o->tokens) snprintf(err, sizeof err, "out of memory");
            r1_sampler_free(sam);
            fail(s, err);
            break;
        }
        while (o->n_tokens < s->max_new) {
            int32_t tok = r1_sampler_sample(sam, r1_session_logits(ses));
            o->tokens[o->n_tokens++] = tok;
            if (tok == s->eos) {
                o->hit_eos = true;
                break;
            }
            if (o->n_tokens == s->max_new || r1_session_n_past(ses) >= s->n_ctx) break;
            if (r1_session_eval(ses, &tok, 1, err)) {
                fail(s, err);
                break;
            }
        }
        r1_sampler_free(sam);
    }
    r1_session_free(ses);
    return NULL;
}

r1_status rollout_generate(r1_model *model, int n_threads, const rollout_req *reqs, int n,
                           float temperature, float top_p, int max_new, rollout_out *outs,
                           char *err)
{
    memset(outs, 0, (size_t)n * sizeof *outs);
    r1_model_info info;
    r1_model_get_info(model, &info);
    int longest = 0;
    for (int i = 0; i < n; i++) longest = reqs[i].n_prompt > longest ? reqs[i].n_prompt : longest;
    int n_ctx = longest + max_new;
    if (n_ctx > info.n_ctx_train) n_ctx = info.n_ctx_train;
    if (longest >= n_ctx)
        return err_set(err, R1_ERR_INVALID_ARG, "a prompt of %d tokens leaves no room (context %d)",
                       longest, info.n_ctx_train);
    shared s = {.model = model,
                .reqs = reqs,
                .n = n,
                .temperature = temperature,
                .top_p = top_p,
                .max_new = max_new,
                .n_ctx = n_ctx,
                .eos = info.eos_id,
                .outs = outs};
    atomic_init(&s.next, 0);
    atomic_init(&s.failed, 0);
    pthread_mutex_init(&s.mu, NULL);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > n) n_threads = n > 0 ? n : 1;
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    if (!th) {
        pthread_mutex_destroy(&s.mu);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    int started = 0;
    for (int i = 1; i < n_threads; i++)
        if (!pthread_create(&th[i], NULL, worker, &s))
            started = i;
        else
            break;
    worker(&s);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&s.mu);
    if (atomic_load(&s.failed)) {
        rollout_free(outs, n);
        return err_set(err, R1_ERR_IO, "sampling failed: %s", s.err);
    }
    return R1_OK;
}

void rollout_free(rollout_out *outs, int n)
{
    for (int i = 0; i < n; i++) {
        free(outs[i].tokens);
        outs[i].tokens = NULL;
        outs[i].n_tokens = 0;
    }
}
