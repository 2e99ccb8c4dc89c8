/* exp_simd.h — kern_expf (kernels.h) 8 and 16 lanes at a time: the same operations in the same
 * order, so the same bits. For the x86 kernel files (AVX2 + FMA; the 16-lane form needs
 * AVX-512F, compiled only where the file enables it). */
#ifndef R1_KERNELS_X86_EXP_SIMD_H
#define R1_KERNELS_X86_EXP_SIMD_H

#include "kernels/kernels.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) __m256 exp8_kern(__m256 v)
{
    __m256 xc = _mm256_min_ps(v, _mm256_set1_ps(KERN_EXP_HI)); /* as x < HI ? x : HI */
    xc = _mm256_max_ps(xc, _mm256_set1_ps(KERN_EXP_LO));
    __m256 nn = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(nn, _mm256_set1_ps(-0.693359375f), xc);
    r = _mm256_fmadd_ps(nn, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i k =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nn), _mm256_set1_epi32(127)), 23);
    e = _mm256_mul_ps(e, _mm256_castsi256_ps(k));
    __m256 ok = _mm256_cmp_ps(v, _mm256_set1_ps(KERN_EXP_LO), _CMP_GE_OQ); /* NaN: 0 */
    return _mm256_and_ps(e, ok);
}

#ifdef __AVX512F__
static inline __attribute__((always_inline)) __m512 exp16_kern(__m512 v)
{
    __m512 xc = _mm512_min_ps(v, _mm512_set1_ps(KERN_EXP_HI));
    xc = _mm512_max_ps(xc, _mm512_set1_ps(KERN_EXP_LO));
    __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(nn, _mm512_set1_ps(-0.693359375f), xc);
    r = _mm512_fmadd_ps(nn, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i k =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(nn), _mm512_set1_epi32(127)), 23);
    e = _mm512_mul_ps(e, _mm512_castsi512_ps(k));
    __mmask16 ok = _mm512_cmp_ps_mask(v, _mm512_set1_ps(KERN_EXP_LO), _CMP_GE_OQ);
    return _mm512_maskz_mov_ps(ok, e);
}
#endif

#endif
