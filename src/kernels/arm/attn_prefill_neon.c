/* attn_prefill_neon.c — the prefill attention block (kern_backend_t.attn_prefill_block) with
 * NEON: 4 queries per register, 8 registers for a tile's 32 (the template: attn_prefill.inc).
 * AArch64 only; elsewhere this file compiles to nothing. */
#if defined(__aarch64__)
#include "kernels/arm/exp_neon.h"
#include "kernels/kernels.h"

#include <arm_neon.h>
#include <math.h>

#define V float32x4_t
#define W 4
#define SFX(name) name##_neon
#define SCORE_KEYS 2 /* 8 × 2 accumulators + 8 query vectors + a key, of 32 registers */
#define ACC_OUTS 2   /* 8 × 2 accumulators + 8 weight vectors + a value */
#define vload vld1q_f32
#define vstore vst1q_f32
#define vset1 vdupq_n_f32
#define vzero() vdupq_n_f32(0.0f)
#define vfma(a, b, c) vfmaq_f32(c, a, b)
#define vmul vmulq_f32
#define vadd vaddq_f32
#define vsub vsubq_f32
#define vexp exp4_kern

/* a > b ? a : b exactly (vmaxq_f32 would order -0 below +0) */
static inline __attribute__((always_inline)) float32x4_t vmax(float32x4_t a, float32x4_t b)
{
    return vbslq_f32(vcgtq_f32(a, b), a, b);
}

static inline __attribute__((always_inline)) float32x4_t vmasked(float32x4_t x, int base, int hi)
{
    static const int32_t lane[4] = {0, 1, 2, 3};
    int32x4_t idx = vaddq_s32(vdupq_n_s32(base), vld1q_s32(lane));
    return vbslq_f32(vcgtq_s32(idx, vdupq_n_s32(hi)), x, vdupq_n_f32(-INFINITY));
}

#include "kernels/attn_prefill.inc"

void kern_backend_add_prefill_neon(kern_backend_t *b)
{
    b->attn_prefill_block = prefill_block_neon;
}
#endif
