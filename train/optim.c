/* optim.c — AdamW, its schedule and gradient clipping (see optim.h). */
#include "train/optim.h"

#include "base/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

adamw_params adamw_params_default(void)
{
    return (adamw_params){.lr = 3e-3f,
                          .min_lr_ratio = 0.1f,
                          .warmup_steps = 50,
                          .total_steps = 1000,
                          .beta1 = 0.9f,
                          .beta2 = 0.95f,
                          .eps = 1e-8f,
                          .weight_decay = 0.1f,
                          .clip_norm = 1.0f};
}

r1_status adamw_init(adamw *opt, const tmodel *model, const adamw_params *p, char *err)
{
    memset(opt, 0, sizeof *opt);
    opt->p = *p;
    opt->n = model->n_params;
    opt->m = calloc(opt->n, sizeof(float));
    opt->v = calloc(opt->n, sizeof(float));
    if (!opt->m || !opt->v) {
        adamw_free(opt);
        return err_set(err, R1_ERR_NOMEM, "out of memory for the optimizer state");
    }
    return R1_OK;
}

void adamw_free(adamw *opt)
{
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

float adamw_lr(const adamw_params *p, int64_t step)
{
    if (step < p->warmup_steps) return p->lr * (float)(step + 1) / (float)p->warmup_steps;
    int64_t span = p->total_steps - p->warmup_steps;
    double frac = span > 0 ? (double)(step - p->warmup_steps) / (double)span : 1.0;
    if (frac > 1) frac = 1;
    double floor = p->min_lr_ratio;
    return (float)(p->lr * (floor + (1 - floor) * 0.5 * (1 + cos(M_PI * frac))));
}

double adamw_grad_norm(const tmodel *model)
{
    enum { BLOCK = 4096 };
    double total = 0;
    for (size_t b = 0; b < model->n_params; b += BLOCK) {
        size_t e = b + BLOCK < model->n_params ? b + BLOCK : model->n_params;
        double s = 0;
        for (size_t i = b; i < e; i++) s += (double)model->grads[i] * model->grads[i];
        total += s;
    }
    return sqrt(total);
}

typedef struct step_job {
    adamw *opt;
    tmodel *model;
    float lr, gscale;
    float bc1, bc2;
} step_job;

static void step_worker(void *p, int ith, int nth)
{
    step_job *j = p;
    const adamw_params *ap = &j->opt->p;
    tmodel *m = j->model;
    long b, e;
    threadpool_split(m->n_tensors, ith, nth, &b, &e);
    for (long ti = b; ti < e; ti++) {
        const tmodel_tensor *t = &m->tensors[ti];
        float wd = t->kind != TK_NORM ? ap->weight_decay : 0.0f;
        float *w = m->params + t->offset, *g = m->grads + t->offset;
        float *mm = j->opt->m + t->offset, *vv = j->opt->v + t->offset;
        for (size_t i = 0; i < t->n; i++) {
            float gi = g[i] * j->gscale;
            mm[i] = ap->beta1 * mm[i] + (1 - ap->beta1) * gi;
            vv[i] = ap->beta2 * vv[i] + (1 - ap->beta2) * gi * gi;
            float mh = mm[i] / j->bc1, vh = vv[i] / j->bc2;
            w[i] -= j->lr * (mh / (sqrtf(vh) + ap->eps) + wd * w[i]);
        }
    }
}

double adamw_step(adamw *opt, tmodel *model, float *out_lr)
{
    double norm = adamw_grad_norm(model);
    float gscale = 1.0f;
    if (opt->p.clip_norm > 0 && norm > opt->p.clip_norm) gscale = (float)(opt->p.clip_norm / norm);
    if (!isfinite(norm)) gscale = 0.0f; /* skip a poisoned step rather than destroy the weights */
    float lr = adamw_lr(&opt->p, opt->step);
    double t = (double)opt->step + 1;
    step_job j = {opt,
                  model,
                  isfinite(norm) ? lr : 0.0f,
                  gscale,
                  (float)(1 - pow(opt->p.beta1, t)),
                  (float)(1 - pow(opt->p.beta2, t))};
    threadpool_run(model->pool, step_worker, &j);
    opt->step++;
    if (out_lr) *out_lr = lr;
    return norm;
}
