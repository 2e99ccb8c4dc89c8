/* attn_prefill.c — the prefill attention block (kern_backend_t.attn_prefill_block) with AVX2 +
 * FMA: 8 queries per register, 4 registers for a tile's 32 (the template: attn_prefill.inc). */
#include "kernels/kernels.h"
#include "kernels/x86/exp_simd.h"

#include <immintrin.h>
#include <math.h>

#define V __m256
#define W 8
#define SFX(name) name##_avx2
#define SCORE_KEYS 2 /* 4 × 2 accumulators + 4 query vectors + a key */
#define ACC_OUTS 2   /* 4 × 2 accumulators + 4 weight vectors + a value */
#define vload _mm256_loadu_ps
#define vstore _mm256_storeu_ps
#define vset1 _mm256_set1_ps
#define vzero _mm256_setzero_ps
#define vfma _mm256_fmadd_ps
#define vmul _mm256_mul_ps
#define vadd _mm256_add_ps
#define vsub _mm256_sub_ps
#define vmax _mm256_max_ps
#define vexp exp8_kern

/* x where lane index base + lane > hi, else -inf */
static inline __attribute__((always_inline)) __m256 vmasked(__m256 x, int base, int hi)
{
    __m256i idx =
        _mm256_add_epi32(_mm256_set1_epi32(base), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 seen = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(hi)));
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, seen);
}

#include "kernels/attn_prefill.inc"

void kern_backend_add_prefill_avx2(kern_backend_t *b)
{
    b->attn_prefill_block = prefill_block_avx2;
}
