/* matmul.c — the matrix multiply driver and the small fp32 helpers of the forward pass.
 * kern_matmul quantizes the activations once (when the backend has an integer kernel for the
 * weight type), then splits the weight rows across the pool: each thread walks its rows and dots
 * each row with every token, so a row is read from memory once per call whatever the batch. */
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool kern_ctx_init(kern_ctx *kc, threadpool *pool, int64_t max_tok, int64_t max_cols)
{
    memset(kc, 0, sizeof *kc);
    kc->pool = pool;
    kc->backend = kern_backend();
    /* a token's row of activations as Q8_0 (34 bytes per 32) or Q8_K (292 per 256) */
    size_t q8_0 = (size_t)(max_cols / 32 + 1) * 34, q8_k = (size_t)(max_cols / 256 + 1) * 292;
    kc->qx_cap = (size_t)max_tok * (q8_0 > q8_k ? q8_0 : q8_k) + 64;
    kc->qx = malloc(kc->qx_cap);
    return kc->qx != NULL;
}

void kern_ctx_free(kern_ctx *kc)
{
    free(kc->qx);
    memset(kc, 0, sizeof *kc);
}

void kern_get_row(const wmat *w, int64_t mat, int64_t r, float *dst)
{
    const uint8_t *row = w->data + (size_t)mat * w->mat_bytes + (size_t)r * w->row_bytes;
    if (w->type == DTYPE_F32)
        memcpy(dst, row, (size_t)w->n_cols * sizeof(float));
    else
        quant_dequantize_row(w->type, row, dst, w->n_cols);
}

float kern_dot_f32(const float *a, const float *b, int64_t n)
{
    return kern_backend()->dot_f32(a, b, n);
}

typedef struct matmul_job {
    const kern_backend_t *be;
    const wmat *w;
    int64_t mat;
    const float *x;
    int64_t ldx, n_tok;
    const uint8_t *qx; /* quantized activations, or NULL for the fp32 path */
    size_t qx_stride;  /* bytes per token in qx */
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
    const uint8_t *base = w->data + (size_t)job->mat * w->mat_bytes;
    if (job->qx) {
        kern_vec_dot_fn dot = job->be->ops[w->type].vec_dot;
        kern_vec_dot_x4_fn dot4 = job->be->ops[w->type].vec_dot_x4;
        for (long r = r0; r < r1; r++) {
            const uint8_t *wr = base + (size_t)r * w->row_bytes;
            int64_t t = 0;
            if (dot4) /* prompt batches: unpack each weight block once for 4 tokens */
                for (; t + 4 <= job->n_tok; t += 4) {
                    float out[4];
                    dot4(wr, job->qx + (size_t)t * job->qx_stride, job->qx_stride, w->n_cols, out);
                    for (int k = 0; k < 4; k++) job->y[(t + k) * job->ldy + r] = out[k];
                }
            for (; t < job->n_tok; t++)
                job->y[t * job->ldy + r] = dot(wr, job->qx + (size_t)t * job->qx_stride, w->n_cols);
        }
        return;
    }
    float stackbuf[4096];
    float *row = w->n_cols <= 4096 ? stackbuf : malloc((size_t)w->n_cols * sizeof(float));
    if (!row) return; /* cannot happen for realistic widths; leaves rows untouched */
    for (long r = r0; r < r1; r++) {
        const float *wr;
        if (w->type == DTYPE_F32) {
            wr = (const float *)(const void *)(base + (size_t)r * w->row_bytes);
        } else {
            quant_dequantize_row(w->type, base + (size_t)r * w->row_bytes, row, w->n_cols);
            wr = row;
        }
        for (int64_t t = 0; t < job->n_tok; t++)
            job->y[t * job->ldy + r] = job->be->dot_f32(wr, job->x + t * job->ldx, w->n_cols);
    }
    if (row != stackbuf) free(row);
}

void kern_matmul(kern_ctx *kc, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                 int64_t n_tok, float *y, int64_t ldy)
{
    const kern_backend_t *be = kc->backend;
    matmul_job job = {be, w, mat, x, ldx, n_tok, NULL, 0, y, ldy};
    const kern_type_ops *ops = &be->ops[w->type];
    if (ops->vec_dot) {
        size_t row =
            dtype_row_bytes(ops->vec_dot_type == DTYPE_Q8_0 ? DTYPE_Q8_0 : DTYPE_Q8_0, w->n_cols);
        if (ops->vec_dot_type == DTYPE_Q8_K) row = (size_t)(w->n_cols / 256) * 292;
        if (row * (size_t)n_tok <= kc->qx_cap) {
            kern_quantize_fn q =
                ops->vec_dot_type == DTYPE_Q8_K ? be->quantize_q8_k : be->quantize_q8_0;
            for (int64_t t = 0; t < n_tok; t++) q(x + t * ldx, kc->qx + (size_t)t * row, w->n_cols);
            job.qx = kc->qx;
            job.qx_stride = row;
        }
    }
    if (n_tok * w->n_rows * w->n_cols < 32768)
        matmul_worker(&job, 0, 1); /* too small to be worth waking the pool */
    else
        threadpool_run(kc->pool, matmul_worker, &job);
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
