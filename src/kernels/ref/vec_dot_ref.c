/* vec_dot_ref.c — the two reference backends.
 * "ref":    fp32 over exactly dequantized weights (no vec_dot: kern_matmul dequantizes rows).
 * "scalar": activations quantized to 8 bits per block (Q8_0 / Q8_K) and integer dot products,
 *           written plainly: the spec every SIMD kernel (x86/) must reproduce. Integer sums are
 *           exact, so SIMD versions differ only in the order of the final float additions.
 */
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/iq_tables.h"
#include "tensor/quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- activation quantizers ------------------------------------------------------------------ */

static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    block_q8_0 *b = out;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        b[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK; j++) b[i].qs[j] = (int8_t)lrintf(x[j] * id);
    }
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    block_q8_k *b = out;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0;
        for (int j = 0; j < QK_K; j++) amax = fmaxf(amax, fabsf(x[j]));
        /* llama.cpp's order (127 / amax, then its inverse), so both round the same activations
         * to the same integers; a block too small for that (127 / amax overflows) is zeros */
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        if (!(id <= FLT_MAX)) id = 0;
        const float d = id > 0 ? 1.0f / id : 0.0f;
        b[i].d = d;
        for (int j = 0; j < QK_K; j++) b[i].qs[j] = (int8_t)lrintf(x[j] * id);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += b[i].qs[16 * g + j];
            b[i].bsums[g] = (int16_t)s;
        }
    }
}

/* ---- 32-element weight blocks × Q8_0 ------------------------------------------------------- */

static int dot32(const int8_t *q, const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < QK; j++) s += q[j] * y[j];
    return s;
}

static int sum32(const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < QK; j++) s += y[j];
    return s;
}

/* nibble layout shared by Q4_0/Q4_1/Q5_x/IQ4_NL: low nibbles are elements 0..15 */
static void nibbles32(const uint8_t *qs, int8_t *q)
{
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (int8_t)(qs[j] & 15);
        q[j + QK / 2] = (int8_t)(qs[j] >> 4);
    }
}

static void add_high_bit32(const uint8_t *qh, int8_t *q)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    for (int j = 0; j < QK; j++) q[j] = (int8_t)(q[j] | (((h >> j) & 1) << 4));
}

static float vec_dot_q8_0(const void *w, const void *x, int64_t n)
{
    const block_q8_0 *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK; i++)
        s += fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d) * (float)dot32(a[i].qs, b[i].qs);
    return s;
}

static float vec_dot_q4_0(const void *w, const void *x, int64_t n)
{
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float s = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        nibbles32(a[i].qs, q);
        for (int j = 0; j < QK; j++) q[j] -= 8;
        s += fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d) * (float)dot32(q, b[i].qs);
    }
    return s;
}

static float vec_dot_q4_1(const void *w, const void *x, int64_t n)
{
    const block_q4_1 *a = w;
    const block_q8_0 *b = x;
    float s = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        nibbles32(a[i].qs, q);
        float dy = fp16_to_f32(b[i].d);
        s += fp16_to_f32(a[i].d) * dy * (float)dot32(q, b[i].qs) +
             fp16_to_f32(a[i].m) * dy * (float)sum32(b[i].qs);
    }
    return s;
}

static float vec_dot_q5_0(const void *w, const void *x, int64_t n)
{
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float s = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        nibbles32(a[i].qs, q);
        add_high_bit32(a[i].qh, q);
        for (int j = 0; j < QK; j++) q[j] -= 16;
        s += fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d) * (float)dot32(q, b[i].qs);
    }
    return s;
}

static float vec_dot_q5_1(const void *w, const void *x, int64_t n)
{
    const block_q5_1 *a = w;
    const block_q8_0 *b = x;
    float s = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        nibbles32(a[i].qs, q);
        add_high_bit32(a[i].qh, q);
        float dy = fp16_to_f32(b[i].d);
        s += fp16_to_f32(a[i].d) * dy * (float)dot32(q, b[i].qs) +
             fp16_to_f32(a[i].m) * dy * (float)sum32(b[i].qs);
    }
    return s;
}

static float vec_dot_iq4_nl(const void *w, const void *x, int64_t n)
{
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    float s = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        nibbles32(a[i].qs, q);
        for (int j = 0; j < QK; j++) q[j] = iq4_values[(int)q[j]];
        s += fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d) * (float)dot32(q, b[i].qs);
    }
    return s;
}

/* ---- 256-element weight blocks × Q8_K -------------------------------------------------------- */

static int dot_n(const int8_t *q, const int8_t *y, int n)
{
    int s = 0;
    for (int j = 0; j < n; j++) s += q[j] * y[j];
    return s;
}

static void q4k_values(const uint8_t *qs, int8_t *q)
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 15);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
}

static float vec_dot_q4_k(const void *w, const void *x, int64_t n)
{
    const block_q4_k *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        q4k_values(a[i].qs, q);
        int sumi = 0, summ = 0;
        for (int sb = 0; sb < 8; sb++) {
            int sc, mn;
            k4_scale_min(a[i].scales, sb, &sc, &mn);
            sumi += sc * dot_n(q + 32 * sb, b[i].qs + 32 * sb, 32);
            summ += mn * (b[i].bsums[2 * sb] + b[i].bsums[2 * sb + 1]);
        }
        s += b[i].d * (fp16_to_f32(a[i].d) * (float)sumi - fp16_to_f32(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q5_k(const void *w, const void *x, int64_t n)
{
    const block_q5_k *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        q4k_values(a[i].qs, q);
        for (int j = 0; j < QK_K; j++)
            q[j] = (int8_t)(q[j] | (((a[i].qh[j % 32] >> (j / 32)) & 1) << 4));
        int sumi = 0, summ = 0;
        for (int sb = 0; sb < 8; sb++) {
            int sc, mn;
            k4_scale_min(a[i].scales, sb, &sc, &mn);
            sumi += sc * dot_n(q + 32 * sb, b[i].qs + 32 * sb, 32);
            summ += mn * (b[i].bsums[2 * sb] + b[i].bsums[2 * sb + 1]);
        }
        s += b[i].d * (fp16_to_f32(a[i].d) * (float)sumi - fp16_to_f32(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q6_k(const void *w, const void *x, int64_t n)
{
    const block_q6_k *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        for (int c = 0; c < 2; c++)
            for (int g = 0; g < 4; g++)
                for (int l = 0; l < 32; l++) {
                    uint8_t lo = a[i].ql[64 * c + l + 32 * (g & 1)];
                    int low = g < 2 ? lo & 15 : lo >> 4;
                    int high = (a[i].qh[32 * c + l] >> (2 * g)) & 3;
                    q[128 * c + 32 * g + l] = (int8_t)((low | high << 4) - 32);
                }
        int sumi = 0;
        for (int sb = 0; sb < 16; sb++)
            sumi += a[i].scales[sb] * dot_n(q + 16 * sb, b[i].qs + 16 * sb, 16);
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return s;
}

static float vec_dot_q2_k(const void *w, const void *x, int64_t n)
{
    const block_q2_k *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        for (int c = 0; c < 2; c++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++)
                    q[128 * c + 32 * j + l] = (int8_t)((a[i].qs[32 * c + l] >> (2 * j)) & 3);
        int sumi = 0, summ = 0;
        for (int sb = 0; sb < 16; sb++) {
            sumi += (a[i].scales[sb] & 15) * dot_n(q + 16 * sb, b[i].qs + 16 * sb, 16);
            summ += (a[i].scales[sb] >> 4) * b[i].bsums[sb];
        }
        s += b[i].d * (fp16_to_f32(a[i].d) * (float)sumi - fp16_to_f32(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q3_k(const void *w, const void *x, int64_t n)
{
    const block_q3_k *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        for (int c = 0; c < 2; c++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    int u = (a[i].qs[32 * c + l] >> (2 * j)) & 3;
                    u |= ((a[i].hmask[l] >> (4 * c + j)) & 1) << 2;
                    q[128 * c + 32 * j + l] = (int8_t)(u - 4);
                }
        int sumi = 0;
        for (int sb = 0; sb < 16; sb++) {
            int lo = sb < 8 ? a[i].scales[sb] & 15 : a[i].scales[sb - 8] >> 4;
            int hi = (a[i].scales[8 + sb % 4] >> (2 * (sb / 4))) & 3;
            sumi += ((lo | hi << 4) - 32) * dot_n(q + 16 * sb, b[i].qs + 16 * sb, 16);
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return s;
}

static float vec_dot_iq4_xs(const void *w, const void *x, int64_t n)
{
    const block_iq4_xs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    int8_t q[32];
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int sb = 0; sb < 8; sb++) {
            nibbles32(a[i].qs + 16 * sb, q);
            for (int j = 0; j < 32; j++) q[j] = iq4_values[(int)q[j]];
            int ls = ((a[i].scales_l[sb / 2] >> (4 * (sb % 2))) & 15) |
                     (((a[i].scales_h >> (2 * sb)) & 3) << 4);
            sumi += (ls - 32) * dot_n(q, b[i].qs + 32 * sb, 32);
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return s;
}

/* ---- the IQ lattice types × Q8_K -------------------------------------------------------------
 * Integer sums of grid value × sign × q8 per scale group, weighted by the odd scale code 2u + 1,
 * then one float product per super-block; the types' constant factors (IQ2: 1/8, IQ3_XXS: 1/4)
 * are applied once at the end. IQ1: the ±1/8 shift multiplies the sums of q8 (as integers too). */

/* Σ_j g_j · (sign bit j ? -y_j : y_j) over a row of 8 (grid bytes of g) */
static int grid_dot8(uint64_t g, unsigned signs, const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < 8; j++) {
        const int v = (int)(uint8_t)(g >> (8 * j)) * y[j];
        s += (signs >> j) & 1 ? -v : v;
    }
    return s;
}

static int grid_dot4(uint32_t g, unsigned signs, const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < 4; j++) {
        const int v = (int)(uint8_t)(g >> (8 * j)) * y[j];
        s += (signs >> j) & 1 ? -v : v;
    }
    return s;
}

static uint32_t u32_at(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static float vec_dot_iq2_xxs(const void *w, const void *x, int64_t n)
{
    const block_iq2_xxs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int sb = 0; sb < 8; sb++) {
            const uint32_t a0 = u32_at(a[i].qs + 4 * sb), a1 = u32_at(a[i].qs + 4 * sb + 2);
            const int8_t *y = b[i].qs + 32 * sb;
            int g = 0;
            for (int l = 0; l < 4; l++)
                g += grid_dot8(iq2xxs_grid[(a0 >> (8 * l)) & 255], iq_ksigns7(a1 >> (7 * l)),
                               y + 8 * l);
            sumi += (int)(2 * (a1 >> 28) + 1) * g;
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return 0.125f * s;
}

static float vec_dot_iq2_xs(const void *w, const void *x, int64_t n)
{
    const block_iq2_xs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int h = 0; h < 16; h++) {
            int g = 0;
            for (int l = 0; l < 2; l++) {
                const uint16_t q = a[i].qs[2 * h + l];
                g += grid_dot8(iq2xs_grid[q & 511], iq_ksigns7(q >> 9), b[i].qs + 16 * h + 8 * l);
            }
            sumi += (2 * ((a[i].scales[h / 2] >> (4 * (h % 2))) & 15) + 1) * g;
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return 0.125f * s;
}

static float vec_dot_iq2_s(const void *w, const void *x, int64_t n)
{
    const block_iq2_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int h = 0; h < 16; h++) {
            int g = 0;
            for (int l = 0; l < 2; l++) {
                const int r = 2 * h + l;
                const int idx = a[i].qs[r] | ((a[i].qh[r / 4] >> (2 * (r % 4))) & 3) << 8;
                g += grid_dot8(iq2s_grid[idx], a[i].qs[32 + r], b[i].qs + 8 * r);
            }
            sumi += (2 * ((a[i].scales[h / 2] >> (4 * (h % 2))) & 15) + 1) * g;
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return 0.125f * s;
}

static float vec_dot_iq3_xxs(const void *w, const void *x, int64_t n)
{
    const block_iq3_xxs *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int sb = 0; sb < 8; sb++) {
            const uint32_t sc = u32_at(a[i].qs + 64 + 4 * sb);
            const int8_t *y = b[i].qs + 32 * sb;
            int g = 0;
            for (int l = 0; l < 4; l++) {
                const unsigned sg = iq_ksigns7(sc >> (7 * l));
                g += grid_dot4(iq3xxs_grid[a[i].qs[8 * sb + 2 * l]], sg, y + 8 * l) +
                     grid_dot4(iq3xxs_grid[a[i].qs[8 * sb + 2 * l + 1]], sg >> 4, y + 8 * l + 4);
            }
            sumi += (int)(2 * (sc >> 28) + 1) * g;
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return 0.25f * s;
}

static float vec_dot_iq3_s(const void *w, const void *x, int64_t n)
{
    const block_iq3_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int sb = 0; sb < 8; sb++) {
            int g = 0;
            for (int k = 0; k < 8; k++) {
                const int idx = a[i].qs[8 * sb + k] | ((a[i].qh[sb] >> k) & 1) << 8;
                g += grid_dot4(iq3s_grid[idx], a[i].signs[4 * sb + k / 2] >> (4 * (k % 2)),
                               b[i].qs + 32 * sb + 4 * k);
            }
            sumi += (2 * ((a[i].scales[sb / 2] >> (4 * (sb % 2))) & 15) + 1) * g;
        }
        s += b[i].d * fp16_to_f32(a[i].d) * (float)sumi;
    }
    return s;
}

/* Σ_j g_j · y_j over a row of 8 of the IQ1 lattice (int8 values -1, 0, 1) */
static int grid_dot8_iq1(uint64_t g, const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < 8; j++) s += (int8_t)(g >> (8 * j)) * y[j];
    return s;
}

static float vec_dot_iq1_s(const void *w, const void *x, int64_t n)
{
    const block_iq1_s *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, sumd = 0; /* Σ (2u+1)·lattice·q8 and Σ (2u+1)·(±1)·q8 */
        for (int sb = 0; sb < 8; sb++) {
            const unsigned qh = a[i].qh[sb];
            const int ls = (int)(2 * ((qh >> 12) & 7) + 1);
            int g = 0;
            for (int l = 0; l < 4; l++)
                g += grid_dot8_iq1(iq1s_grid[a[i].qs[4 * sb + l] | ((qh >> (3 * l)) & 7) << 8],
                                   b[i].qs + 32 * sb + 8 * l);
            const int ysum = b[i].bsums[2 * sb] + b[i].bsums[2 * sb + 1];
            sumi += ls * g;
            sumd += ls * (qh & 0x8000 ? -ysum : ysum);
        }
        s += b[i].d * fp16_to_f32(a[i].d) * ((float)sumi + IQ1_DELTA * (float)sumd);
    }
    return s;
}

static float vec_dot_iq1_m(const void *w, const void *x, int64_t n)
{
    const block_iq1_m *a = w;
    const block_q8_k *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint16_t sc[4];
        memcpy(sc, a[i].scales, sizeof sc);
        const uint16_t dh = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                       ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        int sumi = 0, sumd = 0;
        for (int h = 0; h < 16; h++) {
            const int ls = 2 * ((sc[h / 4] >> (3 * (h % 4))) & 7) + 1;
            int g = 0, dsum = 0;
            for (int l = 0; l < 2; l++) {
                const int r = 2 * h + l;
                const unsigned nib = a[i].qh[r / 2] >> (4 * (r % 2));
                const int8_t *y = b[i].qs + 8 * r;
                g += grid_dot8_iq1(iq1s_grid[a[i].qs[r] | (nib & 7) << 8], y);
                int ys = 0;
                for (int j = 0; j < 8; j++) ys += y[j];
                dsum += nib & 8 ? -ys : ys;
            }
            sumi += ls * g;
            sumd += ls * dsum;
        }
        s += b[i].d * fp16_to_f32(dh) * ((float)sumi + IQ1_DELTA * (float)sumd);
    }
    return s;
}

/* The fp32 dot product's summation order is part of the spec, so every backend gives the same
 * bits: 32 partial sums (element i goes to sum i % 32; multiply, then add: no fused
 * multiply-add), combined as (s[j] + s[j+8]) + (s[j+16] + s[j+24]) per j < 8, then
 * ((t0 + t4) + (t1 + t5)) + ((t2 + t6) + (t3 + t7)), then the tail added in order. */
static float dot_f32_scalar(const float *a, const float *b, int64_t n)
{
    float acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 32; k++) {
            float p = a[i + k] * b[i + k];
            acc[k] = acc[k] + p;
        }
    float t[8];
    for (int j = 0; j < 8; j++) t[j] = (acc[j] + acc[j + 8]) + (acc[j + 16] + acc[j + 24]);
    float s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
    for (; i < n; i++) {
        float p = a[i] * b[i];
        s = s + p;
    }
    return s;
}

/* fp16 / bf16 second operand (KV caches): converted exactly to float, then the fp32 order above. */
#define DEFINE_DOT_16(name, conv)                                                                  \
    static float name(const float *a, const uint16_t *b, int64_t n)                                \
    {                                                                                              \
        float acc[32] = {0};                                                                       \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32)                                                               \
            for (int k = 0; k < 32; k++) {                                                         \
                float p = a[i + k] * conv(b[i + k]);                                               \
                acc[k] = acc[k] + p;                                                               \
            }                                                                                      \
        float t[8];                                                                                \
        for (int j = 0; j < 8; j++) t[j] = (acc[j] + acc[j + 8]) + (acc[j + 16] + acc[j + 24]);    \
        float s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));               \
        for (; i < n; i++) {                                                                       \
            float p = a[i] * conv(b[i]);                                                           \
            s = s + p;                                                                             \
        }                                                                                          \
        return s;                                                                                  \
    }

#define DEFINE_AXPY_16(name, conv)                                                                 \
    static void name(float *y, float a, const uint16_t *x, int64_t n)                              \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float p = a * conv(x[i]);                                                              \
            y[i] = y[i] + p;                                                                       \
        }                                                                                          \
    }

DEFINE_DOT_16(dot_f16_scalar, fp16_to_f32)
DEFINE_DOT_16(dot_bf16_scalar, bf16_to_f32)
DEFINE_AXPY_16(axpy_f16_scalar, fp16_to_f32)
DEFINE_AXPY_16(axpy_bf16_scalar, bf16_to_f32)

static void axpy_f32_scalar(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float p = a * x[i]; /* multiply, then add: no fused multiply-add (same bits everywhere) */
        y[i] = y[i] + p;
    }
}

/* Q8_0 second operand: the value of element i of block b is d_b · q_i (one float product). */
static float dot_q8_scalar(const float *a, const void *b_, int64_t n)
{
    const block_q8_0 *b = b_;
    float acc[32] = {0};
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        float d = fp16_to_f32(b[i / 32].d);
        for (int k = 0; k < 32; k++) {
            float p = a[i + k] * (d * (float)b[i / 32].qs[k]);
            acc[k] = acc[k] + p;
        }
    }
    float t[8];
    for (int j = 0; j < 8; j++) t[j] = (acc[j] + acc[j + 8]) + (acc[j + 16] + acc[j + 24]);
    return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

static void axpy_q8_scalar(float *y, float a, const void *x_, int64_t n)
{
    const block_q8_0 *x = x_;
    for (int64_t i = 0; i < n; i++) {
        float p = a * (fp16_to_f32(x[i / 32].d) * (float)x[i / 32].qs[i % 32]);
        y[i] = y[i] + p;
    }
}

static void scale_f32_scalar(float *y, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

static void exp_f32_scalar(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = kern_expf(x[i]);
}

void kern_backend_init_ref(kern_backend_t *b)
{
    memset(b, 0, sizeof *b);
    b->name = "ref";
    for (int t = 0; t < DTYPE_COUNT; t++) b->ops[t].vec_dot_type = DTYPE_F32;
    b->quantize_q8_0 = quantize_q8_0;
    b->quantize_q8_k = quantize_q8_k;
    b->dot_f32 = dot_f32_scalar;
    b->axpy_f32 = axpy_f32_scalar;
    b->dot_f16 = dot_f16_scalar;
    b->axpy_f16 = axpy_f16_scalar;
    b->dot_bf16 = dot_bf16_scalar;
    b->axpy_bf16 = axpy_bf16_scalar;
    b->dot_q8 = dot_q8_scalar;
    b->axpy_q8 = axpy_q8_scalar;
    b->scale_f32 = scale_f32_scalar;
    b->exp_f32 = exp_f32_scalar;
    b->attn_scores = kern_attn_scores_ref;
    b->attn_accum = kern_attn_accum_ref;
    b->attn_prefill_block = kern_attn_prefill_block_ref;
    b->attn_pack_q_bf16 = kern_attn_pack_q_bf16;
    b->attn_pack_p_bf16 = kern_attn_pack_p_bf16;
    kern_backend_add_gemm_r16_ref(b);
}

void kern_backend_init_scalar(kern_backend_t *b)
{
    kern_backend_init_ref(b);
    b->name = "scalar";
    struct {
        dtype t, vt;
        kern_vec_dot_fn fn;
    } table[] = {
        {DTYPE_Q8_0, DTYPE_Q8_0, vec_dot_q8_0},       {DTYPE_Q4_0, DTYPE_Q8_0, vec_dot_q4_0},
        {DTYPE_Q4_1, DTYPE_Q8_0, vec_dot_q4_1},       {DTYPE_Q5_0, DTYPE_Q8_0, vec_dot_q5_0},
        {DTYPE_Q5_1, DTYPE_Q8_0, vec_dot_q5_1},       {DTYPE_IQ4_NL, DTYPE_Q8_0, vec_dot_iq4_nl},
        {DTYPE_Q2_K, DTYPE_Q8_K, vec_dot_q2_k},       {DTYPE_Q3_K, DTYPE_Q8_K, vec_dot_q3_k},
        {DTYPE_Q4_K, DTYPE_Q8_K, vec_dot_q4_k},       {DTYPE_Q5_K, DTYPE_Q8_K, vec_dot_q5_k},
        {DTYPE_Q6_K, DTYPE_Q8_K, vec_dot_q6_k},       {DTYPE_IQ4_XS, DTYPE_Q8_K, vec_dot_iq4_xs},
        {DTYPE_IQ2_XXS, DTYPE_Q8_K, vec_dot_iq2_xxs}, {DTYPE_IQ2_XS, DTYPE_Q8_K, vec_dot_iq2_xs},
        {DTYPE_IQ2_S, DTYPE_Q8_K, vec_dot_iq2_s},     {DTYPE_IQ3_XXS, DTYPE_Q8_K, vec_dot_iq3_xxs},
        {DTYPE_IQ3_S, DTYPE_Q8_K, vec_dot_iq3_s},     {DTYPE_IQ1_S, DTYPE_Q8_K, vec_dot_iq1_s},
        {DTYPE_IQ1_M, DTYPE_Q8_K, vec_dot_iq1_m},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        b->ops[table[i].t].vec_dot_type = table[i].vt;
        b->ops[table[i].t].vec_dot = table[i].fn;
    }
}
