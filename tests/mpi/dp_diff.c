/* dp_diff.c — how far apart two trainer models are (tests/mpi/train_dp.sh): loads A and B (GGUF
 * models or checkpoints of the same shape, train/tio.h) and prints, over all tensors, the largest
 * max|a - b| / max|a| of a tensor and the largest difference of a balancing bias.
 * Usage: dp_diff A.gguf B.gguf [TOL]  — exit 1 when the relative difference exceeds TOL.
 */
#include "train/tio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dp_diff A.gguf B.gguf [TOL]\n");
        return 2;
    }
    char err[R1_ERR_MAX];
    threadpool *pool = threadpool_new(1);
    tmodel *a = NULL, *b = NULL;
    if (tio_load(argv[1], pool, &a, NULL, err) || tio_load(argv[2], pool, &b, NULL, err)) {
        fprintf(stderr, "dp_diff: %s\n", err);
        return 2;
    }
    if (a->n_params != b->n_params || a->n_tensors != b->n_tensors) {
        fprintf(stderr, "dp_diff: the models have different shapes\n");
        return 2;
    }
    double worst = 0, bias = 0;
    const char *worst_name = "-";
    for (int k = 0; k < a->n_tensors; k++) {
        const tmodel_tensor *t = &a->tensors[k];
        const float *x = a->params + t->offset, *y = b->params + t->offset;
        double amax = 0, dmax = 0;
        for (size_t i = 0; i < t->n; i++) {
            amax = fmax(amax, fabs(x[i]));
            dmax = fmax(dmax, fabs((double)x[i] - y[i]));
        }
        double rel = amax > 0 ? dmax / amax : dmax;
        if (rel > worst) {
            worst = rel;
            worst_name = t->name;
        }
    }
    const tconfig *c = &a->cfg;
    size_t nb = (size_t)(c->n_layers + c->n_mtp) * (size_t)(c->n_routed_experts + 1);
    for (size_t i = 0; i < nb; i++)
        bias = fmax(bias, fabs((double)a->exp_probs_b[i] - b->exp_probs_b[i]));
    printf("max relative difference %.3e (%s), bias difference %.3e\n", worst, worst_name, bias);
    tmodel_free(a);
    tmodel_free(b);
    threadpool_free(pool);
    return argc > 3 && !(worst <= atof(argv[3])) ? 1 : 0;
}
