/* attn_prefill512.c — the prefill attention block with AVX-512F: 16 queries per register, 2
 * registers for a tile's 32, 8 keys per score tile (the template: attn_prefill.inc). */
#include "kernels/kernels.h"
#include "kernels/x86/exp_simd.h"

#include <immintrin.h>
#include <math.h>

#define V __m512
#define W 16
#define SFX(name) name##_avx512
#define SCORE_KEYS 8 /* 2 × 8 accumulators + 2 query vectors + a key */
#define ACC_OUTS 8   /* 2 × 8 accumulators + 2 weight vectors + a value */
#define vload _mm512_loadu_ps
#define vstore _mm512_storeu_ps
#define vset1 _mm512_set1_ps
#define vzero _mm512_setzero_ps
#define vfma _mm512_fmadd_ps
#define vmul _mm512_mul_ps
#define vadd _mm512_add_ps
#define vsub _mm512_sub_ps
#define vmax _mm512_max_ps
#define vexp exp16_kern

static inline __attribute__((always_inline)) __m512 vmasked(__m512 x, int base, int hi)
{
    __m512i idx =
        _mm512_add_epi32(_mm512_set1_epi32(base),
                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __mmask16 seen = _mm512_cmpgt_epi32_mask(idx, _mm512_set1_epi32(hi));
    return _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), seen, x);
}

#include "kernels/attn_prefill.inc"

void kern_backend_add_prefill_avx512(kern_backend_t *b)
{
    b->attn_prefill_block = prefill_block_avx512;
}
