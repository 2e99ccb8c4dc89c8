/* kernels.h — the compute primitives of the forward pass, over weights kept in their stored type.
 *
 * A `wmat` is a view of a stored tensor as n_mats matrices of n_rows × n_cols (row-major, a row is
 * n_cols elements of `type`, rows row_bytes apart, matrices mat_bytes apart). Expert tensors
 * (ne = {cols, rows, n_experts}) and per-head MLA up-projections are 3D views; plain weights have
 * n_mats = 1.
 *
 * matmul computes Y[t][r] = Σ_c W[r][c] · X[t][c] for t < n_tok, splitting rows across the pool's
 * threads (never a reduction), so results do not depend on the thread count. Arithmetic is fp32
 * over the exactly dequantized weights (the reference semantics; docs/numerics.md). */
#ifndef R1_KERNELS_H
#define R1_KERNELS_H

#include "base/threadpool.h"
#include "tensor/dtype.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wmat {
    dtype type;
    const uint8_t *data;
    int64_t n_rows, n_cols, n_mats;
    size_t row_bytes, mat_bytes;
} wmat;

/* Y (n_tok × n_rows, row stride ldy) = X (n_tok × n_cols, row stride ldx) · W[mat]^T. */
void kern_matmul(threadpool *pool, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                 int64_t n_tok, float *y, int64_t ldy);

/* Dequantize row r of matrix `mat` into dst (n_cols floats). */
void kern_get_row(const wmat *w, int64_t mat, int64_t r, float *dst);

float kern_dot_f32(const float *a, const float *b, int64_t n);

/* dst = rmsnorm(x) * weight, over n elements: x / sqrt(mean(x²) + eps) * weight. */
void kern_rmsnorm(float *dst, const float *x, const float *weight, int64_t n, float eps);

/* In-place softmax over n values. */
void kern_softmax(float *x, int64_t n);

static inline float kern_silu(float x)
{
    return x / (1.0f + __builtin_expf(-x));
}

#endif
