/* gemm_r16_ref.c — the spec of the R16 float matmul (kernels.h, kern_gemm_r16_fn): for each row of
 * a 16-row group and each token, one fused multiply-add per column in column order. The inner
 * loop runs over the group's 16 rows, which compilers vectorize; the SIMD versions
 * (x86/gemm_float.c) only tile rows and tokens differently, which cannot change a result. */
#include "kernels/kernels.h"
#include "tensor/quant.h"

#include <math.h>
#include <string.h>

#define DEFINE_GEMM_R16(name, T, CONV)                                                             \
    static void name(const uint8_t *w_, int64_t n_cols, int64_t n_groups, int64_t n_rows,          \
                     const float *x, int64_t ldx, int64_t n_tok, float *y, int64_t ldy)            \
    {                                                                                              \
        const T *w = (const T *)(const void *)w_;                                                  \
        for (int64_t g = 0; g < n_groups; g++) {                                                   \
            const T *wg = w + (size_t)g * (size_t)n_cols * KERN_R16_ROWS;                          \
            int64_t nr = n_rows - g * KERN_R16_ROWS;                                               \
            nr = nr < KERN_R16_ROWS ? nr : KERN_R16_ROWS;                                          \
            for (int64_t t = 0; t < n_tok; t++) {                                                  \
                const float *xt = x + t * ldx;                                                     \
                float acc[KERN_R16_ROWS] = {0};                                                    \
                for (int64_t k = 0; k < n_cols; k++)                                               \
                    for (int i = 0; i < KERN_R16_ROWS; i++)                                        \
                        acc[i] = fmaf(CONV(wg[k * KERN_R16_ROWS + i]), xt[k], acc[i]);             \
                memcpy(y + t * ldy + g * KERN_R16_ROWS, acc, (size_t)nr * sizeof(float));          \
            }                                                                                      \
        }                                                                                          \
    }

#define AS_IS(v) (v)
DEFINE_GEMM_R16(gemm_r16_f32, float, AS_IS)
DEFINE_GEMM_R16(gemm_r16_f16, uint16_t, fp16_to_f32)
DEFINE_GEMM_R16(gemm_r16_bf16, uint16_t, bf16_to_f32)

void kern_backend_add_gemm_r16_ref(kern_backend_t *b)
{
    b->gemm_r16[DTYPE_F32] = gemm_r16_f32;
    b->gemm_r16[DTYPE_F16] = gemm_r16_f16;
    b->gemm_r16[DTYPE_BF16] = gemm_r16_bf16;
}
