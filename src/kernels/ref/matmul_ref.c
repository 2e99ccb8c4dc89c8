/* matmul_ref.c — scalar reference kernels: "the spec" every fast kernel must match.
 * matmul dequantizes one weight row at a time into a per-call stack/heap buffer and dots it with
 * every activation row, so a row is decoded once per call whatever the batch size. */
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float kern_dot_f32(const float *a, const float *b, int64_t n)
{
    /* 8 independent partial sums: a fixed summation order the compiler can vectorize */
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0;
    for (; i < n; i++) s += a[i] * b[i];
    return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void kern_get_row(const wmat *w, int64_t mat, int64_t r, float *dst)
{
    const uint8_t *row = w->data + (size_t)mat * w->mat_bytes + (size_t)r * w->row_bytes;
    if (w->type == DTYPE_F32)
        memcpy(dst, row, (size_t)w->n_cols * sizeof(float));
    else
        quant_dequantize_row(w->type, row, dst, w->n_cols);
}

typedef struct matmul_job {
    const wmat *w;
    int64_t mat;
    const float *x;
    int64_t ldx, n_tok;
    float *y;
    int64_t ldy;
} matmul_job;

static void matmul_worker(void *p, int ith, int nth)
{
    const matmul_job *job = p;
    const wmat *w = job->w;
    long r0, r1;
    threadpool_split((long)w->n_rows, ith, nth, &r0, &r1);
    if (r0 >= r1) return;
    float stackbuf[4096];
    float *row = w->n_cols <= 4096 ? stackbuf : malloc((size_t)w->n_cols * sizeof(float));
    if (!row) return; /* cannot happen for realistic widths; leaves rows untouched */
    const uint8_t *base = w->data + (size_t)job->mat * w->mat_bytes;
    for (long r = r0; r < r1; r++) {
        const float *wr;
        if (w->type == DTYPE_F32) {
            wr = (const float *)(const void *)(base + (size_t)r * w->row_bytes);
        } else {
            quant_dequantize_row(w->type, base + (size_t)r * w->row_bytes, row, w->n_cols);
            wr = row;
        }
        for (int64_t t = 0; t < job->n_tok; t++)
            job->y[t * job->ldy + r] = kern_dot_f32(wr, job->x + t * job->ldx, w->n_cols);
    }
    if (row != stackbuf) free(row);
}

void kern_matmul(threadpool *pool, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                 int64_t n_tok, float *y, int64_t ldy)
{
    matmul_job job = {w, mat, x, ldx, n_tok, y, ldy};
    if (n_tok * w->n_rows * w->n_cols < 32768)
        matmul_worker(&job, 0, 1); /* too small to be worth waking the pool */
    else
        threadpool_run(pool, matmul_worker, &job);
}

void kern_rmsnorm(float *dst, const float *x, const float *weight, int64_t n, float eps)
{
    double ss = 0; /* double: a 7168-wide sum of squares in float loses ~4 digits */
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) dst[i] = x[i] * scale * weight[i];
}

void kern_softmax(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}
