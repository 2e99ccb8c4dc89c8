/* evaluate.c — held-out accuracy through r1 sessions (see evaluate.h). */
#include "train/evaluate.h"

#include "base/err.h"
#include "train/rollout.h"
#include "train/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

task_eval_params task_eval_params_default(void)
{
    return (task_eval_params){.n_problems = 200,
                              .seed = 1000003,
                              .r1_suffix = false,
                              .temperature = 0.0f,
                              .top_p = 1.0f,
                              .max_new = 384,
                              .n_threads = 1};
}

void task_spec_name(const task_spec *s, char *out, size_t cap)
{
    char a[16], b[16];
    if (s->lo_a == s->hi_a)
        snprintf(a, sizeof a, "%d", s->lo_a);
    else
        snprintf(a, sizeof a, "%d-%d", s->lo_a, s->hi_a);
    if (s->lo_b == s->hi_b)
        snprintf(b, sizeof b, "%d", s->lo_b);
    else
        snprintf(b, sizeof b, "%d-%d", s->lo_b, s->hi_b);
    if (s->kind == TASK_MUL)
        snprintf(out, cap, "%s:%sx%s", task_kind_name(s->kind), a, b);
    else
        snprintf(out, cap, "%s:%s", task_kind_name(s->kind), a);
}

r1_status task_eval(r1_model *model, const task_spec *spec, const task_eval_params *p,
                    task_eval_result *out, char *err)
{
    int n = p->n_problems;
    problem *probs = calloc((size_t)n, sizeof *probs);
    int32_t *ids = calloc((size_t)n * 512, sizeof(int32_t));
    rollout_req *reqs = calloc((size_t)n, sizeof *reqs);
    rollout_out *outs = calloc((size_t)n, sizeof *outs);
    r1_status st = R1_OK;
    if (!probs || !ids || !reqs || !outs) {
        st = err_set(err, R1_ERR_NOMEM, "out of memory");
        goto done;
    }
    char text[4096];
    for (int i = 0; i < n; i++) {
        task_generate(spec, p->seed + (uint64_t)i, SPLIT_TEST, &probs[i]);
        int len = task_render_chat(&probs[i], p->r1_suffix, false, text, sizeof text, NULL);
        int k = vocab_encode(text, (size_t)len, ids + (size_t)i * 512, 512);
        reqs[i] = (rollout_req){ids + (size_t)i * 512, k < 512 ? k : 512, p->seed + (uint64_t)i};
    }
    if ((st = rollout_generate(model, p->n_threads, reqs, n, p->temperature, p->top_p, p->max_new,
                               outs, err)))
        goto done;
    memset(out, 0, sizeof *out);
    out->n = n;
    double len = 0;
    for (int i = 0; i < n; i++) {
        vocab_decode(outs[i].tokens, outs[i].n_tokens, text, sizeof text);
        bool fmt;
        out->n_correct += task_check(&probs[i], text, &fmt);
        out->n_format += fmt && outs[i].hit_eos;
        len += outs[i].n_tokens;
    }
    out->mean_len = n ? len / n : 0;
    rollout_free(outs, n);
done:
    free(probs);
    free(ids);
    free(reqs);
    free(outs);
    return st;
}
