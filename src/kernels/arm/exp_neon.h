/* exp_neon.h — kern_expf (kernels.h) four lanes at a time with NEON: the same clamps, rounding
 * (to nearest even), fused steps and scale, so the same bits. AArch64 only. */
#ifndef R1_KERNELS_ARM_EXP_NEON_H
#define R1_KERNELS_ARM_EXP_NEON_H

#include "kernels/kernels.h"

#include <arm_neon.h>

static inline __attribute__((always_inline)) float32x4_t exp4_kern(float32x4_t v)
{
    /* as x < HI ? x : HI (NaN: HI), then xc > LO ? xc : LO */
    float32x4_t xc = vbslq_f32(vcltq_f32(v, vdupq_n_f32(KERN_EXP_HI)), v, vdupq_n_f32(KERN_EXP_HI));
    xc = vbslq_f32(vcgtq_f32(xc, vdupq_n_f32(KERN_EXP_LO)), xc, vdupq_n_f32(KERN_EXP_LO));
    float32x4_t nn = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmaq_f32(xc, nn, vdupq_n_f32(-0.693359375f));
    r = vfmaq_f32(r, nn, vdupq_n_f32(2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    float32x4_t e = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    int32x4_t k = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(nn), vdupq_n_s32(127)), 23);
    e = vmulq_f32(e, vreinterpretq_f32_s32(k));
    uint32x4_t ok = vcgeq_f32(v, vdupq_n_f32(KERN_EXP_LO)); /* NaN: 0 */
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), ok));
}

#endif
