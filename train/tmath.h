/* tmath.h — the fp32 dense kernels of the trainer: one matrix product C (+)= A·B, transposes, and
 * the element-wise pieces forward and backward share (RMSNorm, SiLU).
 *
 * Every form the trainer needs is one C = A·B with row-major operands (transposing the other
 * operand first): forward Y = X·Wᵀ, input grads dX = dY·W, weight grads dW = dYᵀ·X.
 * Invariant: each C element is Σ_k A[i][k]·B[k][j] accumulated in increasing k, starting from 0,
 * whichever tile or thread computes it (AVX2 tiles and scalar edges both use one FMA per k), so
 * results do not depend on the thread count.
 */
#ifndef R1_TRAIN_TMATH_H
#define R1_TRAIN_TMATH_H

#include "base/threadpool.h"

#include <stdbool.h>
#include <stdint.h>

/* C (M×N, row stride ldc) = A (M×K, lda) · B (K×N, ldb); with accumulate, C += A·B (the product
 * is formed first, then added). pool may be NULL (one thread). */
void tm_gemm(threadpool *pool, int M, int N, int K, const float *A, int lda, const float *B,
             int ldb, float *C, int ldc, bool accumulate);

/* out (cols×rows, row stride rows) = transpose of A (rows×cols, row stride lda). */
void tm_transpose(const float *A, int rows, int cols, int lda, float *out);

/* Name of the gemm path in use ("avx2+fma" or "generic"). */
const char *tm_gemm_path(void);

/* RMSNorm of one row: y = x · r · w with r = 1/sqrt(mean(x²) + eps) (sum of squares in double,
 * as the engine's kern_rmsnorm). Returns r. y may alias x. */
float tm_rmsnorm(float *y, const float *x, const float *w, int n, float eps);

/* Backward of y = x·r·w for one row: dx (=, or += with accumulate) from dy; dw += dy·x·r. */
void tm_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         float r, int n, bool accumulate);

static inline float tm_sigmoid(float x)
{
    return 1.0f / (1.0f + __builtin_expf(-x));
}

static inline float tm_silu(float x)
{
    return x / (1.0f + __builtin_expf(-x));
}

/* d silu(x) / dx */
static inline float tm_silu_grad(float x)
{
    float s = tm_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

#endif
