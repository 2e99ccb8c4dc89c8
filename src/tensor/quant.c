/* quant.c — scalar reference conversion between float32 and every GGUF element type we support.
 * Dequantization is bit-exact with the GGUF/ggml block definitions: each value is one correctly
 * rounded operation on exact products (fp16 scale x small integers), so neither multiplication
 * order nor FMA contraction can change it. Quantization is our own: max-abs / min-max scales for
 * the simple 32-element types; for the K-quants and IQ4 types a bounded search over candidate
 * scales per sub-block with weighted least-squares refinement, then the sub-scales are quantized
 * against an fp16 super-block scale that is refit too. Blocks are memcpy'd through local structs
 * (callers' buffers need no alignment); fields are little-endian. Tables are const; no global
 * state. */
#include "tensor/quant.h"
#include "tensor/iq_tables.h"
#include "tensor/quant_iq.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "quant.c assumes a little-endian host (GGUF block fields are little-endian)"
#endif

#define QK 32    /* elements per block of the simple types (Q4_0 ... Q8_0, IQ4_NL) */
#define QK_K 256 /* elements per super-block of the K-quants and IQ4_XS */

/* ---- fp16 / bf16 ---------------------------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16: sign(1) exponent(5, bias 15) mantissa(10). Every half is exactly representable
 * as a float, so this direction is exact. */
float fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf / NaN */
    if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign);
    /* subnormal: mant * 2^-24; normalise the mantissa into a float */
    int e = -1;
    do {
        mant <<= 1;
        e++;
    } while ((mant & 0x400) == 0);
    return bits_f32(sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13));
}

uint16_t f32_to_fp16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    /* 65520 is halfway between the largest half (65504) and 2^16; it ties to the even one, inf */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);
    if (a >= 0x38800000u) { /* normal half: rebias 127 -> 15 and round the 13 dropped bits */
        a -= 112u << 23;
        a += 0x0fffu + ((a >> 13) & 1u);
        return (uint16_t)(sign | (a >> 13));
    }
    if (a <= 0x33000000u) return sign; /* at most 2^-25 (half the smallest subnormal): zero */
    /* subnormal half: value / 2^-24 = mantissa_with_hidden_bit >> (126 - exponent) */
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14 ... 24 */
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++; /* r == 0x400 is the smallest normal: fine */
    return (uint16_t)(sign | r);
}

/* bfloat16 is the top half of a float. */
float bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even; overflow carries into inf */
    return (uint16_t)(u >> 16);
}

static float fp16_round(float f)
{
    return fp16_to_f32(f32_to_fp16(f));
}

#include "tensor/blocks.h"

/* ---- dequantization ------------------------------------------------------------------------- */

static void dequant_q4_0(const block_q4_0 *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)((b->qs[j] & 0x0f) - 8) * d;
        y[j + QK / 2] = (float)((b->qs[j] >> 4) - 8) * d;
    }
}

static void dequant_q4_1(const block_q4_1 *b, float *y)
{
    const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)(b->qs[j] & 0x0f) * d + m;
        y[j + QK / 2] = (float)(b->qs[j] >> 4) * d + m;
    }
}

static uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_q5_0(const block_q5_0 *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    const uint32_t qh = load_u32le(b->qh);
    for (int j = 0; j < QK / 2; j++) {
        int lo = (b->qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)(lo - 16) * d;
        y[j + QK / 2] = (float)(hi - 16) * d;
    }
}

static void dequant_q5_1(const block_q5_1 *b, float *y)
{
    const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
    const uint32_t qh = load_u32le(b->qh);
    for (int j = 0; j < QK / 2; j++) {
        int lo = (b->qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)lo * d + m;
        y[j + QK / 2] = (float)hi * d + m;
    }
}

static void dequant_q8_0(const block_q8_0 *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int j = 0; j < QK; j++) y[j] = (float)b->qs[j] * d;
}

static void dequant_q2_k(const block_q2_k *b, float *y)
{
    const float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, j = (i % 128) / 32, l = i % 32;
        int q = (b->qs[32 * c + l] >> (2 * j)) & 3;
        uint8_t sc = b->scales[8 * c + 2 * j + l / 16];
        const float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
        y[i] = dl * (float)q - ml;
    }
}

static void q3_k_unpack_scales(const uint8_t *scales, int *sc)
{
    for (int s = 0; s < 16; s++) {
        int lo = s < 8 ? (scales[s] & 0x0f) : (scales[s - 8] >> 4);
        int hi = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
        sc[s] = (lo | hi << 4) - 32;
    }
}

static void dequant_q3_k(const block_q3_k *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    int sc[16];
    q3_k_unpack_scales(b->scales, sc);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, j = (i % 128) / 32, l = i % 32;
        int q = (b->qs[32 * c + l] >> (2 * j)) & 3;
        if (!((b->hmask[l] >> (4 * c + j)) & 1)) q -= 4;
        const float dl = d * (float)sc[8 * c + 2 * j + l / 16];
        y[i] = dl * (float)q;
    }
}

static void dequant_q4_k(const block_q4_k *b, float *y)
{
    const float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
    for (int s = 0; s < 8; s++) {
        int sc, mn;
        k4_scale_min(b->scales, s, &sc, &mn);
        const float dl = d * (float)sc, ml = dmin * (float)mn;
        const uint8_t *qs = b->qs + 32 * (s / 2);
        for (int l = 0; l < 32; l++) {
            int q = (s & 1) ? qs[l] >> 4 : qs[l] & 0x0f;
            y[32 * s + l] = dl * (float)q - ml;
        }
    }
}

static void dequant_q5_k(const block_q5_k *b, float *y)
{
    const float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
    for (int s = 0; s < 8; s++) {
        int sc, mn;
        k4_scale_min(b->scales, s, &sc, &mn);
        const float dl = d * (float)sc, ml = dmin * (float)mn;
        const uint8_t *qs = b->qs + 32 * (s / 2);
        for (int l = 0; l < 32; l++) {
            int q = (s & 1) ? qs[l] >> 4 : qs[l] & 0x0f;
            q |= ((b->qh[l] >> s) & 1) << 4;
            y[32 * s + l] = dl * (float)q - ml;
        }
    }
}

static void dequant_q6_k(const block_q6_k *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, g = (i % 128) / 32, l = i % 32;
        uint8_t lo = b->ql[64 * c + l + 32 * (g & 1)];
        int q = (g < 2 ? lo & 0x0f : lo >> 4) | ((b->qh[32 * c + l] >> (2 * g)) & 3) << 4;
        y[i] = d * (float)b->scales[i / 16] * (float)(q - 32);
    }
}

static void dequant_iq4_nl(const block_iq4_nl *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)iq4_values[b->qs[j] & 0x0f];
        y[j + QK / 2] = d * (float)iq4_values[b->qs[j] >> 4];
    }
}

static void dequant_iq4_xs(const block_iq4_xs *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++) {
        const int lo = (b->scales_l[s / 2] >> (4 * (s % 2))) & 0x0f;
        const int ls = lo | ((b->scales_h >> (2 * s)) & 3) << 4;
        const float dl = d * (float)(ls - 32);
        const uint8_t *qs = b->qs + 16 * s;
        for (int j = 0; j < 16; j++) {
            y[32 * s + j] = dl * (float)iq4_values[qs[j] & 0x0f];
            y[32 * s + j + 16] = dl * (float)iq4_values[qs[j] >> 4];
        }
    }
}

/* The IQ1/IQ2/IQ3 types (layouts in blocks.h). Every value is exact in float (an fp16 scale times
 * small integers and eighths), so the order of the products does not matter. */
static uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* y[0..7] = db · grid row (8 bytes of g) with the signs of the bits of `signs` */
static void grid8(float *y, float db, uint64_t g, unsigned signs)
{
    for (int j = 0; j < 8; j++) {
        const float v = db * (float)(uint8_t)(g >> (8 * j));
        y[j] = (signs >> j) & 1 ? -v : v;
    }
}

static void dequant_iq2_xxs(const block_iq2_xxs *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32) {
        const uint32_t a0 = load_u32(b->qs + 4 * s), a1 = load_u32(b->qs + 4 * s + 2);
        const float db = d * (0.5f + (float)(a1 >> 28)) * 0.25f;
        for (int l = 0; l < 4; l++)
            grid8(y + 8 * l, db, iq2xxs_grid[(a0 >> (8 * l)) & 255], iq_ksigns7(a1 >> (7 * l)));
    }
}

static void dequant_iq2_xs(const block_iq2_xs *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32)
        for (int l = 0; l < 4; l++) {
            const int u = (b->scales[s] >> (4 * (l / 2))) & 15;
            const float db = d * (0.5f + (float)u) * 0.25f;
            const uint16_t q = b->qs[4 * s + l];
            grid8(y + 8 * l, db, iq2xs_grid[q & 511], iq_ksigns7(q >> 9));
        }
}

static void dequant_iq2_s(const block_iq2_s *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32)
        for (int l = 0; l < 4; l++) {
            const int u = (b->scales[s] >> (4 * (l / 2))) & 15;
            const float db = d * (0.5f + (float)u) * 0.25f;
            const int idx = b->qs[4 * s + l] | ((b->qh[s] >> (2 * l)) & 3) << 8;
            grid8(y + 8 * l, db, iq2s_grid[idx], b->qs[32 + 4 * s + l]);
        }
}

/* y[0..3] = db · grid row (4 bytes of g) with sign bits j0 .. j0 + 3 of `signs` */
static void grid4(float *y, float db, uint32_t g, unsigned signs, int j0)
{
    for (int j = 0; j < 4; j++) {
        const float v = db * (float)(uint8_t)(g >> (8 * j));
        y[j] = (signs >> (j0 + j)) & 1 ? -v : v;
    }
}

static void dequant_iq3_xxs(const block_iq3_xxs *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32) {
        const uint32_t a = load_u32(b->qs + 64 + 4 * s);
        const float db = d * (0.5f + (float)(a >> 28)) * 0.5f;
        for (int l = 0; l < 4; l++) {
            const unsigned sg = iq_ksigns7(a >> (7 * l));
            grid4(y + 8 * l, db, iq3xxs_grid[b->qs[8 * s + 2 * l]], sg, 0);
            grid4(y + 8 * l + 4, db, iq3xxs_grid[b->qs[8 * s + 2 * l + 1]], sg, 4);
        }
    }
}

static void dequant_iq3_s(const block_iq3_s *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32) {
        const float db = d * (float)(1 + 2 * ((b->scales[s / 2] >> (4 * (s % 2))) & 15));
        for (int k = 0; k < 8; k++) {
            const int idx = b->qs[8 * s + k] | ((b->qh[s] >> k) & 1) << 8;
            grid4(y + 4 * k, db, iq3s_grid[idx], b->signs[4 * s + k / 2], 4 * (k % 2));
        }
    }
}

/* y[0..7] = dl · (grid row + delta), the grid's int8 values -1, 0, 1 */
static void grid8_iq1(float *y, float dl, uint64_t g, float delta)
{
    for (int j = 0; j < 8; j++) y[j] = dl * ((float)(int8_t)(g >> (8 * j)) + delta);
}

static void dequant_iq1_s(const block_iq1_s *b, float *y)
{
    const float d = fp16_to_f32(b->d);
    for (int s = 0; s < 8; s++, y += 32) {
        const unsigned qh = b->qh[s];
        const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
        const float delta = qh & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
        for (int l = 0; l < 4; l++)
            grid8_iq1(y + 8 * l, dl, iq1s_grid[b->qs[4 * s + l] | ((qh >> (3 * l)) & 7) << 8],
                      delta);
    }
}

/* IQ1_M's fp16 super-block scale, spread over the top nibbles of its four scale words. */
static float iq1_m_scale(const uint16_t *sc)
{
    return fp16_to_f32((uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                  ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)));
}

static void dequant_iq1_m(const block_iq1_m *b, float *y)
{
    uint16_t sc[4];
    memcpy(sc, b->scales, sizeof sc);
    const float d = iq1_m_scale(sc);
    for (int s = 0; s < 8; s++, y += 32)
        for (int l = 0; l < 4; l++) {
            const int h = 2 * s + l / 2; /* 16-element group */
            const float dl = d * (float)(2 * ((sc[h / 4] >> (3 * (h % 4))) & 7) + 1);
            const unsigned nib = b->qh[2 * s + l / 2] >> (4 * (l % 2));
            const float delta = nib & 8 ? -IQ1_DELTA : IQ1_DELTA;
            grid8_iq1(y + 8 * l, dl, iq1s_grid[b->qs[4 * s + l] | (nib & 7) << 8], delta);
        }
}

/* Copy each block from p into an aligned local (the source may be unaligned) and decode it. */
#define DEQUANT_BLOCKS(T, fn, per)                                                                 \
    do {                                                                                           \
        for (int64_t i = 0; i < n / (per); i++) {                                                  \
            T blk;                                                                                 \
            memcpy(&blk, p + i * (int64_t)sizeof blk, sizeof blk);                                 \
            fn(&blk, dst + i * (per));                                                             \
        }                                                                                          \
    } while (0)

bool quant_dequantize_row(dtype type, const void *src, float *dst, int64_t n)
{
    const dtype_traits *t = dtype_get((uint32_t)type);
    if (!t || !t->is_supported || n < 0 || n % t->block_size != 0) return false;
    const uint8_t *p = src;
    switch (type) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return true;
    case DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = fp16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return true;
    case DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return true;
    case DTYPE_Q4_0:
        DEQUANT_BLOCKS(block_q4_0, dequant_q4_0, QK);
        return true;
    case DTYPE_Q4_1:
        DEQUANT_BLOCKS(block_q4_1, dequant_q4_1, QK);
        return true;
    case DTYPE_Q5_0:
        DEQUANT_BLOCKS(block_q5_0, dequant_q5_0, QK);
        return true;
    case DTYPE_Q5_1:
        DEQUANT_BLOCKS(block_q5_1, dequant_q5_1, QK);
        return true;
    case DTYPE_Q8_0:
        DEQUANT_BLOCKS(block_q8_0, dequant_q8_0, QK);
        return true;
    case DTYPE_Q2_K:
        DEQUANT_BLOCKS(block_q2_k, dequant_q2_k, QK_K);
        return true;
    case DTYPE_Q3_K:
        DEQUANT_BLOCKS(block_q3_k, dequant_q3_k, QK_K);
        return true;
    case DTYPE_Q4_K:
        DEQUANT_BLOCKS(block_q4_k, dequant_q4_k, QK_K);
        return true;
    case DTYPE_Q5_K:
        DEQUANT_BLOCKS(block_q5_k, dequant_q5_k, QK_K);
        return true;
    case DTYPE_Q6_K:
        DEQUANT_BLOCKS(block_q6_k, dequant_q6_k, QK_K);
        return true;
    case DTYPE_IQ4_NL:
        DEQUANT_BLOCKS(block_iq4_nl, dequant_iq4_nl, QK);
        return true;
    case DTYPE_IQ4_XS:
        DEQUANT_BLOCKS(block_iq4_xs, dequant_iq4_xs, QK_K);
        return true;
    case DTYPE_IQ2_XXS:
        DEQUANT_BLOCKS(block_iq2_xxs, dequant_iq2_xxs, QK_K);
        return true;
    case DTYPE_IQ2_XS:
        DEQUANT_BLOCKS(block_iq2_xs, dequant_iq2_xs, QK_K);
        return true;
    case DTYPE_IQ2_S:
        DEQUANT_BLOCKS(block_iq2_s, dequant_iq2_s, QK_K);
        return true;
    case DTYPE_IQ3_XXS:
        DEQUANT_BLOCKS(block_iq3_xxs, dequant_iq3_xxs, QK_K);
        return true;
    case DTYPE_IQ3_S:
        DEQUANT_BLOCKS(block_iq3_s, dequant_iq3_s, QK_K);
        return true;
    case DTYPE_IQ1_S:
        DEQUANT_BLOCKS(block_iq1_s, dequant_iq1_s, QK_K);
        return true;
    case DTYPE_IQ1_M:
        DEQUANT_BLOCKS(block_iq1_m, dequant_iq1_m, QK_K);
        return true;
    default:
        return false;
    }
}

/* ---- quantization helpers ------------------------------------------------------------------- */

/* round(v) clamped to [lo, hi]; NaN gives lo. Ties go to even (the float add below rounds to
 * nearest even and, for |v| < 2^22, leaves round(v) in the low mantissa bits of the sum). */
static int round_clamp(float v, int lo, int hi)
{
    v = v > (float)lo ? v : (float)lo; /* NaN gives lo; compiles to max/min, no branch */
    v = v < (float)hi ? v : (float)hi;
    const float t = v + 12582912.0f; /* 1.5 * 2^23 */
    return (int)(f32_bits(t) & 0x7fffffu) - 0x400000;
}

/* Importance weights for the least-squares fits: every element counts, larger magnitudes count
 * more (they dominate dot products), w = rms(sub-block) + |x|. */
static void make_weights(const float *x, int n, float *w)
{
    float s2 = 0;
    for (int i = 0; i < n; i++) s2 += x[i] * x[i];
    const float rms = sqrtf(s2 / (float)n);
    for (int i = 0; i < n; i++) w[i] = rms + fabsf(x[i]);
}

/* Affine fit of one sub-block (n <= 32): x ≈ s * q - m with q in 0..nmax, s >= 0, m >= 0 (the
 * K-quant mins are subtracted and non-negative), minimising sum w (x - s q + m)^2.
 * Tries the inverse scales (nmax + t) / (max - min) for t in [-1, 1] (FIT_STEPS + 1 candidates),
 * solves the 2x2 weighted least-squares problem for (s, m) given each candidate's codes, keeps
 * the best, then alternates re-rounding and refitting while the error drops. */
#define FIT_STEPS 16
#define FIT_REFINE 4

static void affine_lsq(const float *x, const float *w, const uint8_t *q, int n, float *s, float *m,
                       double *err)
{
    float sw = 0, swx = 0, swxx = 0, swq = 0, swqq = 0, swxq = 0;
    for (int i = 0; i < n; i++) {
        const float wq = w[i] * (float)q[i];
        sw += w[i];
        swx += w[i] * x[i];
        swxx += w[i] * x[i] * x[i];
        swq += wq;
        swqq += wq * (float)q[i];
        swxq += wq * x[i];
    }
    /* minimise over (s, b) with b = -m: [swqq swq; swq sw] [s; b] = [swxq; swx] */
    double det = (double)sw * swqq - (double)swq * swq;
    double ss, bb;
    if (det > 1e-30 * (double)sw * swqq && swqq > 0) {
        ss = ((double)sw * swxq - (double)swq * swx) / det;
        bb = ((double)swqq * swx - (double)swq * swxq) / det;
    } else {
        ss = 0;
        bb = swx / (double)sw; /* all codes equal: the best is a constant */
    }
    if (bb > 0) { /* the offset must be <= 0: best with b = 0 */
        bb = 0;
        ss = swqq > 0 ? swxq / (double)swqq : 0;
    }
    if (ss < 0) { /* cannot happen for codes rounded from an increasing map; keep it safe */
        ss = 0;
        bb = fmin(swx / (double)sw, 0);
    }
    *s = (float)ss;
    *m = (float)-bb;
    *err = swxx + ss * ss * swqq + bb * bb * sw - 2 * ss * swxq - 2 * bb * swx + 2 * ss * bb * swq;
}

static void fit_affine(const float *x, const float *w, int n, int nmax, float *out_s, float *out_m,
                       uint8_t *q)
{
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    if (lo > 0) lo = 0;
    if (!(hi > lo)) { /* constant sub-block (<= 0): all codes 0, x = -m */
        memset(q, 0, (size_t)n);
        *out_s = 0;
        *out_m = -lo;
        return;
    }
    uint8_t cand[32];
    double best = INFINITY;
    float best_s = 0, best_m = 0;
    memset(q, 0, (size_t)n); /* stays defined even if every error is NaN (non-finite input) */
    for (int k = 0; k <= FIT_STEPS; k++) {
        const float iscale = ((float)nmax - 1.0f + 2.0f * (float)k / FIT_STEPS) / (hi - lo);
        for (int i = 0; i < n; i++) cand[i] = (uint8_t)round_clamp(iscale * (x[i] - lo), 0, nmax);
        float s, m;
        double err;
        affine_lsq(x, w, cand, n, &s, &m, &err);
        if (err < best) {
            best = err;
            best_s = s;
            best_m = m;
            memcpy(q, cand, (size_t)n);
        }
    }
    for (int it = 0; it < FIT_REFINE && best_s > 0; it++) {
        const float inv = 1.0f / best_s;
        int changed = 0;
        for (int i = 0; i < n; i++) {
            cand[i] = (uint8_t)round_clamp((x[i] + best_m) * inv, 0, nmax);
            changed |= cand[i] != q[i];
        }
        if (!changed) break;
        float s, m;
        double err;
        affine_lsq(x, w, cand, n, &s, &m, &err);
        if (!(err < best)) break;
        best = err;
        best_s = s;
        best_m = m;
        memcpy(q, cand, (size_t)n);
    }
    *out_s = best_s;
    *out_m = best_m;
}

/* Symmetric fit of one sub-block (n <= 32): x ≈ s * q with q in -nq .. nq - 1. The element of
 * largest magnitude is mapped near -nq (the longer side) by inverse scales -(nq + t) / xmax for t
 * in [-1, 1]; each candidate's codes get the least-squares scale sum wxq / sum wqq and the one
 * explaining most of the weighted energy wins; then re-round / refit while it improves. Returns
 * s (any sign); s = 0 for an all-zero sub-block. */
static float fit_symmetric(const float *x, const float *w, int n, int nq, int8_t *q)
{
    float amax = 0, xmax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            xmax = x[i];
        }
    }
    if (!(amax > 0)) {
        memset(q, 0, (size_t)n);
        return 0;
    }
    int8_t cand[32];
    float best_score = -1, best_s = 0;
    memset(q, 0, (size_t)n); /* stays defined even if every score is NaN (non-finite input) */
    for (int k = 0; k <= FIT_STEPS; k++) {
        const float iscale = -((float)nq - 1.0f + 2.0f * (float)k / FIT_STEPS) / xmax;
        float swxq = 0, swqq = 0;
        for (int i = 0; i < n; i++) {
            const int l = round_clamp(iscale * x[i], -nq, nq - 1);
            cand[i] = (int8_t)l;
            swxq += w[i] * x[i] * (float)l;
            swqq += w[i] * (float)(l * l);
        }
        if (!(swqq > 0)) continue;
        const float score = swxq * swxq / swqq; /* weighted energy explained */
        if (score > best_score) {
            best_score = score;
            best_s = swxq / swqq;
            memcpy(q, cand, (size_t)n);
        }
    }
    for (int it = 0; it < FIT_REFINE && best_s != 0; it++) {
        const float inv = 1.0f / best_s;
        float swxq = 0, swqq = 0;
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const int l = round_clamp(x[i] * inv, -nq, nq - 1);
            cand[i] = (int8_t)l;
            changed |= l != q[i];
            swxq += w[i] * x[i] * (float)l;
            swqq += w[i] * (float)(l * l);
        }
        if (!changed || !(swqq > 0)) break;
        const float score = swxq * swxq / swqq;
        if (!(score > best_score)) break;
        best_score = score;
        best_s = swxq / swqq;
        memcpy(q, cand, (size_t)n);
    }
    return best_s;
}

/* Index of the iq4 level nearest to v (a tie goes to the upper level; NaN gives 0): the number of
 * midpoints between consecutive levels that v reaches. Branch-free on purpose: this is the inner
 * loop of the IQ4 scale search. */
static const float iq4_mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                  7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};

static int iq4_nearest(float v)
{
    int k = 0;
    for (int j = 0; j < 15; j++) k += v >= iq4_mid[j];
    return k;
}

/* Non-linear fit of one 32-element sub-block: x ≈ s * iq4_values[k]. Candidate inverse scales map
 * the largest-magnitude element to -127 + t or 113 + t (t in -8 .. 8, both polarities since the
 * level set is asymmetric); per candidate the best s for its codes is least squares; the best
 * candidate is refined by re-rounding and refitting. Returns s; 0 for an all-zero sub-block. */
#define IQ4_STEPS 8

static float fit_iq4(const float *x, const float *w, int n, uint8_t *k)
{
    float amax = 0, xmax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            xmax = x[i];
        }
    }
    if (!(amax > 0)) {
        for (int i = 0; i < n; i++) k[i] = 8; /* level 1: with s = 0 every value decodes to 0 */
        return 0;
    }
    uint8_t cand[32];
    float best_score = -1, best_s = 0;
    memset(k, 8, (size_t)n); /* stays defined even if every score is NaN (non-finite input) */
    for (int pol = 0; pol < 2; pol++) {
        const float end = pol ? iq4_values[15] : iq4_values[0];
        for (int t = -IQ4_STEPS; t <= IQ4_STEPS; t += 2) {
            const float iscale = (end + (float)t) / xmax;
            float swxv = 0, swvv = 0;
            for (int i = 0; i < n; i++) {
                const int l = iq4_nearest(iscale * x[i]);
                const float v = iq4_values[l];
                cand[i] = (uint8_t)l;
                swxv += w[i] * x[i] * v;
                swvv += w[i] * v * v;
            }
            const float score = swxv * swxv / swvv;
            if (score > best_score) {
                best_score = score;
                best_s = swxv / swvv;
                memcpy(k, cand, (size_t)n);
            }
        }
    }
    for (int it = 0; it < FIT_REFINE && best_s != 0; it++) {
        const float inv = 1.0f / best_s;
        float swxv = 0, swvv = 0;
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const int l = iq4_nearest(x[i] * inv);
            const float v = iq4_values[l];
            cand[i] = (uint8_t)l;
            changed |= cand[i] != k[i];
            swxv += w[i] * x[i] * v;
            swvv += w[i] * v * v;
        }
        if (!changed) break;
        const float score = swxv * swxv / swvv;
        if (!(score > best_score)) break;
        best_score = score;
        best_s = swxv / swvv;
        memcpy(k, cand, (size_t)n);
    }
    return best_s;
}

/* ---- super-block assembly ------------------------------------------------------------------ */

/* Affine K-quant super-block (Q2_K, Q4_K, Q5_K): nsub sub-blocks of len elements, codes 0..nmax,
 * per-sub-block scale/min as integers 0..lmax times the fp16 super-scales d / dmin.
 * Given the per-sub-block float fits (s, m), picks d = max s / lmax, dmin = max m / lmax, rounds
 * the sub-scales, requantizes; then refits (d, dmin) jointly by least squares over the whole
 * super-block for the chosen integers and keeps that if it lowers the error. Outputs the integer
 * scales/mins, the codes q (QK_K of them) and the fp16 bits of d and dmin. */
typedef struct kq_affine {
    int nsub, len, nmax, lmax;
} kq_affine;

static double affine_requant(const kq_affine *g, const float *x, const float *w, float dh,
                             float dminh, const int *ls, const int *lm, uint8_t *q)
{
    double err = 0;
    for (int j = 0; j < g->nsub; j++) {
        const float dl = dh * (float)ls[j], ml = dminh * (float)lm[j];
        const float inv = dl > 0 ? 1.0f / dl : 0;
        for (int i = j * g->len; i < (j + 1) * g->len; i++) {
            q[i] = (uint8_t)round_clamp((x[i] + ml) * inv, 0, g->nmax);
            const float e = dl * (float)q[i] - ml - x[i];
            err += w[i] * e * e;
        }
    }
    return err;
}

static void affine_superblock(const kq_affine *g, const float *x, const float *w, const float *s,
                              const float *m, int *ls, int *lm, uint8_t *q, uint16_t *d_out,
                              uint16_t *dmin_out)
{
    float smax = 0, mmax = 0;
    for (int j = 0; j < g->nsub; j++) {
        smax = fmaxf(smax, s[j]);
        mmax = fmaxf(mmax, m[j]);
    }
    float d = fp16_round(smax / (float)g->lmax), dmin = fp16_round(mmax / (float)g->lmax);
    const float id = d > 0 ? 1.0f / d : 0, imin = dmin > 0 ? 1.0f / dmin : 0;
    for (int j = 0; j < g->nsub; j++) {
        ls[j] = round_clamp(s[j] * id, 0, g->lmax);
        lm[j] = round_clamp(m[j] * imin, 0, g->lmax);
    }
    double err = affine_requant(g, x, w, d, dmin, ls, lm, q);

    uint8_t q2[QK_K];
    for (int it = 0; it < 2; it++) {
        /* x ≈ d * (ls q) - dmin * lm: least squares in (d, dmin) for the current integers */
        double saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
        for (int j = 0; j < g->nsub; j++) {
            for (int i = j * g->len; i < (j + 1) * g->len; i++) {
                const double a = (double)ls[j] * q[i], b = lm[j];
                saa += w[i] * a * a;
                sab += w[i] * a * b;
                sbb += w[i] * b * b;
                sxa += w[i] * x[i] * a;
                sxb += w[i] * x[i] * b;
            }
        }
        double nd, nm; /* solve [saa -sab; -sab sbb] [d; dmin] = [sxa; -sxb] */
        const double det = saa * sbb - sab * sab;
        if (sbb > 0 && det > 1e-12 * saa * sbb) {
            nd = (sbb * sxa - sab * sxb) / det;
            nm = (sab * sxa - saa * sxb) / det;
        } else {
            nd = saa > 0 ? sxa / saa : 0;
            nm = dmin;
        }
        if (nm < 0) {
            nm = 0;
            nd = saa > 0 ? sxa / saa : 0;
        }
        if (!(nd > 0)) break;
        const float d2 = fp16_round((float)nd), dmin2 = fp16_round((float)nm);
        const double err2 = affine_requant(g, x, w, d2, dmin2, ls, lm, q2);
        if (!(err2 < err)) break;
        err = err2;
        d = d2;
        dmin = dmin2;
        memcpy(q, q2, QK_K);
    }
    *d_out = f32_to_fp16(d);
    *dmin_out = f32_to_fp16(dmin);
}

/* Symmetric super-block (Q3_K, Q6_K, IQ4_XS): x ≈ (d * ls[j]) * level(code), ls in lmin..lmax.
 * level() is the integer itself (codes -nq .. nq-1) or the iq4 table (codes 0..15). */
typedef struct kq_sym {
    int nsub, len, lmin, lmax;
    int nq; /* 0 for the iq4 table */
} kq_sym;

static float sym_level(const kq_sym *g, int code)
{
    return g->nq ? (float)code : (float)iq4_values[code];
}

static double sym_requant(const kq_sym *g, const float *x, const float *w, float dh, const int *ls,
                          int8_t *q)
{
    double err = 0;
    for (int j = 0; j < g->nsub; j++) {
        const float dl = dh * (float)ls[j];
        const float inv = dl != 0 ? 1.0f / dl : 0;
        for (int i = j * g->len; i < (j + 1) * g->len; i++) {
            if (g->nq)
                q[i] = (int8_t)round_clamp(x[i] * inv, -g->nq, g->nq - 1);
            else
                q[i] = (int8_t)(dl != 0 ? iq4_nearest(x[i] * inv) : 8);
            const float e = dl * sym_level(g, q[i]) - x[i];
            err += w[i] * e * e;
        }
    }
    return err;
}

static void sym_superblock(const kq_sym *g, const float *x, const float *w, const float *s, int *ls,
                           int8_t *q, uint16_t *d_out)
{
    float amax = 0, smax = 0;
    for (int j = 0; j < g->nsub; j++) {
        if (fabsf(s[j]) > amax) {
            amax = fabsf(s[j]);
            smax = s[j];
        }
    }
    /* the largest sub-scale maps to lmin (the longer side of the signed range) */
    float d = fp16_round(smax / (float)g->lmin);
    const float id = d != 0 ? 1.0f / d : 0;
    for (int j = 0; j < g->nsub; j++) ls[j] = round_clamp(s[j] * id, g->lmin, g->lmax);
    double err = sym_requant(g, x, w, d, ls, q);

    int8_t q2[QK_K];
    for (int it = 0; it < 2 && d != 0; it++) {
        double saa = 0, sxa = 0;
        for (int j = 0; j < g->nsub; j++) {
            for (int i = j * g->len; i < (j + 1) * g->len; i++) {
                const double a = (double)ls[j] * sym_level(g, q[i]);
                saa += w[i] * a * a;
                sxa += w[i] * x[i] * a;
            }
        }
        if (!(saa > 0)) break;
        const float d2 = fp16_round((float)(sxa / saa));
        if (d2 == 0) break;
        const double err2 = sym_requant(g, x, w, d2, ls, q2);
        if (!(err2 < err)) break;
        err = err2;
        d = d2;
        memcpy(q, q2, QK_K);
    }
    *d_out = f32_to_fp16(d);
}

/* ---- quantizers, one block each ------------------------------------------------------------ */

static void quant_q4_0(const float *x, block_q4_0 *b)
{
    float amax = 0, xmax = 0; /* the value of largest magnitude, with its sign, maps to -8 */
    for (int i = 0; i < QK; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            xmax = x[i];
        }
    }
    b->d = f32_to_fp16(xmax / -8.0f);
    const float d = fp16_to_f32(b->d), id = d != 0 ? 1.0f / d : 0;
    for (int j = 0; j < QK / 2; j++) {
        const int lo = round_clamp(x[j] * id + 8.0f, 0, 15);
        const int hi = round_clamp(x[j + QK / 2] * id + 8.0f, 0, 15);
        b->qs[j] = (uint8_t)(lo | hi << 4);
    }
}

static void quant_q4_1(const float *x, block_q4_1 *b)
{
    float lo = x[0], hi = x[0];
    for (int i = 1; i < QK; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    b->d = f32_to_fp16((hi - lo) / 15.0f);
    b->m = f32_to_fp16(lo);
    const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m), id = d != 0 ? 1.0f / d : 0;
    for (int j = 0; j < QK / 2; j++) {
        const int q0 = round_clamp((x[j] - m) * id, 0, 15);
        const int q1 = round_clamp((x[j + QK / 2] - m) * id, 0, 15);
        b->qs[j] = (uint8_t)(q0 | q1 << 4);
    }
}

static void pack_q5(const int *q, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + QK / 2] & 0x0f) << 4);
        h |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + QK / 2] >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static void quant_q5_0(const float *x, block_q5_0 *b)
{
    float amax = 0, xmax = 0; /* the value of largest magnitude maps to -16 */
    for (int i = 0; i < QK; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            xmax = x[i];
        }
    }
    b->d = f32_to_fp16(xmax / -16.0f);
    const float d = fp16_to_f32(b->d), id = d != 0 ? 1.0f / d : 0;
    int q[QK];
    for (int i = 0; i < QK; i++) q[i] = round_clamp(x[i] * id + 16.0f, 0, 31);
    pack_q5(q, b->qs, b->qh);
}

static void quant_q5_1(const float *x, block_q5_1 *b)
{
    float lo = x[0], hi = x[0];
    for (int i = 1; i < QK; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    b->d = f32_to_fp16((hi - lo) / 31.0f);
    b->m = f32_to_fp16(lo);
    const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m), id = d != 0 ? 1.0f / d : 0;
    int q[QK];
    for (int i = 0; i < QK; i++) q[i] = round_clamp((x[i] - m) * id, 0, 31);
    pack_q5(q, b->qs, b->qh);
}

static void quant_q8_0(const float *x, block_q8_0 *b)
{
    float amax = 0;
    for (int i = 0; i < QK; i++) amax = fmaxf(amax, fabsf(x[i]));
    b->d = f32_to_fp16(amax / 127.0f);
    const float d = fp16_to_f32(b->d), id = d != 0 ? 1.0f / d : 0;
    for (int i = 0; i < QK; i++) b->qs[i] = (int8_t)round_clamp(x[i] * id, -127, 127);
}

static void quant_q2_k(const float *x, block_q2_k *b)
{
    static const kq_affine g = {16, 16, 3, 15};
    float w[QK_K], s[16], m[16];
    uint8_t q[QK_K];
    int ls[16], lm[16];
    for (int j = 0; j < 16; j++) {
        make_weights(x + 16 * j, 16, w + 16 * j);
        fit_affine(x + 16 * j, w + 16 * j, 16, 3, &s[j], &m[j], q + 16 * j);
    }
    affine_superblock(&g, x, w, s, m, ls, lm, q, &b->d, &b->dmin);
    for (int j = 0; j < 16; j++) b->scales[j] = (uint8_t)(ls[j] | lm[j] << 4);
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, j = (i % 128) / 32, l = i % 32;
        b->qs[32 * c + l] |= (uint8_t)(q[i] << (2 * j));
    }
}

static void quant_q3_k(const float *x, block_q3_k *b)
{
    static const kq_sym g = {16, 16, -32, 31, 4};
    float w[QK_K], s[16];
    int8_t q[QK_K];
    int ls[16];
    for (int j = 0; j < 16; j++) {
        make_weights(x + 16 * j, 16, w + 16 * j);
        s[j] = fit_symmetric(x + 16 * j, w + 16 * j, 16, 4, q + 16 * j);
    }
    sym_superblock(&g, x, w, s, ls, q, &b->d);
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 16; j++) {
        const int u = ls[j] + 32;
        if (j < 8)
            b->scales[j] |= (uint8_t)(u & 0x0f);
        else
            b->scales[j - 8] |= (uint8_t)((u & 0x0f) << 4);
        b->scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
    }
    memset(b->qs, 0, sizeof b->qs);
    memset(b->hmask, 0, sizeof b->hmask);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, j = (i % 128) / 32, l = i % 32;
        const int u = q[i] + 4;
        b->qs[32 * c + l] |= (uint8_t)((u & 3) << (2 * j));
        b->hmask[l] |= (uint8_t)((u >> 2) << (4 * c + j));
    }
}

static void pack_k4_scales(const int *ls, const int *lm, uint8_t *scales)
{
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(ls[j] | (ls[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)(lm[j] | (lm[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((ls[j + 4] & 0x0f) | (lm[j + 4] & 0x0f) << 4);
    }
}

static void quant_q4_k(const float *x, block_q4_k *b)
{
    static const kq_affine g = {8, 32, 15, 63};
    float w[QK_K], s[8], m[8];
    uint8_t q[QK_K];
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        make_weights(x + 32 * j, 32, w + 32 * j);
        fit_affine(x + 32 * j, w + 32 * j, 32, 15, &s[j], &m[j], q + 32 * j);
    }
    affine_superblock(&g, x, w, s, m, ls, lm, q, &b->d, &b->dmin);
    pack_k4_scales(ls, lm, b->scales);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}

static void quant_q5_k(const float *x, block_q5_k *b)
{
    static const kq_affine g = {8, 32, 31, 63};
    float w[QK_K], s[8], m[8];
    uint8_t q[QK_K];
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        make_weights(x + 32 * j, 32, w + 32 * j);
        fit_affine(x + 32 * j, w + 32 * j, 32, 31, &s[j], &m[j], q + 32 * j);
    }
    affine_superblock(&g, x, w, s, m, ls, lm, q, &b->d, &b->dmin);
    pack_k4_scales(ls, lm, b->scales);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * c + l] =
                (uint8_t)((q[64 * c + l] & 0x0f) | (q[64 * c + 32 + l] & 0x0f) << 4);
    for (int i = 0; i < QK_K; i++) b->qh[i % 32] |= (uint8_t)((q[i] >> 4) << (i / 32));
}

static void quant_q6_k(const float *x, block_q6_k *b)
{
    static const kq_sym g = {16, 16, -128, 127, 32};
    float w[QK_K], s[16];
    int8_t q[QK_K];
    int ls[16];
    for (int j = 0; j < 16; j++) {
        make_weights(x + 16 * j, 16, w + 16 * j);
        s[j] = fit_symmetric(x + 16 * j, w + 16 * j, 16, 32, q + 16 * j);
    }
    sym_superblock(&g, x, w, s, ls, q, &b->d);
    for (int j = 0; j < 16; j++) b->scales[j] = (int8_t)ls[j];
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int i = 0; i < QK_K; i++) {
        int c = i / 128, gg = (i % 128) / 32, l = i % 32;
        const int u = q[i] + 32;
        b->ql[64 * c + l + 32 * (gg & 1)] |= (uint8_t)((u & 0x0f) << (gg < 2 ? 0 : 4));
        b->qh[32 * c + l] |= (uint8_t)((u >> 4) << (2 * gg));
    }
}

static void quant_iq4_nl(const float *x, block_iq4_nl *b)
{
    float w[QK];
    uint8_t k[QK];
    make_weights(x, QK, w);
    const float s = fit_iq4(x, w, QK, k);
    /* store the fp16 scale and re-pick the levels for exactly that scale */
    b->d = f32_to_fp16(s);
    const float d = fp16_to_f32(b->d), id = d != 0 ? 1.0f / d : 0;
    for (int i = 0; i < QK; i++) k[i] = (uint8_t)(d != 0 ? iq4_nearest(x[i] * id) : 8);
    for (int j = 0; j < QK / 2; j++) b->qs[j] = (uint8_t)(k[j] | k[j + QK / 2] << 4);
}

static void quant_iq4_xs(const float *x, block_iq4_xs *b)
{
    static const kq_sym g = {8, 32, -32, 31, 0};
    float w[QK_K], s[8];
    uint8_t k[QK_K];
    int8_t q[QK_K];
    int ls[8];
    for (int j = 0; j < 8; j++) {
        make_weights(x + 32 * j, 32, w + 32 * j);
        s[j] = fit_iq4(x + 32 * j, w + 32 * j, 32, k + 32 * j);
    }
    sym_superblock(&g, x, w, s, ls, q, &b->d);
    b->scales_h = 0;
    memset(b->scales_l, 0, sizeof b->scales_l);
    for (int j = 0; j < 8; j++) {
        const int u = ls[j] + 32;
        b->scales_l[j / 2] |= (uint8_t)((u & 0x0f) << (4 * (j % 2)));
        b->scales_h |= (uint16_t)((u >> 4) << (2 * j));
    }
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 16; l++)
            b->qs[16 * j + l] = (uint8_t)(q[32 * j + l] | q[32 * j + 16 + l] << 4);
}

/* Quantize each block into an aligned local, then copy it out to p (may be unaligned). */
#define QUANT_BLOCKS(T, fn, per)                                                                   \
    do {                                                                                           \
        for (int64_t i = 0; i < n / (per); i++) {                                                  \
            T blk;                                                                                 \
            fn(src + i * (per), &blk);                                                             \
            memcpy(p + i * (int64_t)sizeof blk, &blk, sizeof blk);                                 \
        }                                                                                          \
    } while (0)

bool quant_quantize_row(dtype type, const float *src, void *dst, int64_t n)
{
    const dtype_traits *t = dtype_get((uint32_t)type);
    if (!t || !t->is_supported || n < 0 || n % t->block_size != 0) return false;
    if (quant_iq_is_lattice(type)) return quant_iq_quantize_row(type, src, dst, n, NULL);
    uint8_t *p = dst;
    switch (type) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return true;
    case DTYPE_F16:
    case DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            const uint16_t h = type == DTYPE_F16 ? f32_to_fp16(src[i]) : f32_to_bf16(src[i]);
            p[2 * i] = (uint8_t)h;
            p[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return true;
    case DTYPE_Q4_0:
        QUANT_BLOCKS(block_q4_0, quant_q4_0, QK);
        return true;
    case DTYPE_Q4_1:
        QUANT_BLOCKS(block_q4_1, quant_q4_1, QK);
        return true;
    case DTYPE_Q5_0:
        QUANT_BLOCKS(block_q5_0, quant_q5_0, QK);
        return true;
    case DTYPE_Q5_1:
        QUANT_BLOCKS(block_q5_1, quant_q5_1, QK);
        return true;
    case DTYPE_Q8_0:
        QUANT_BLOCKS(block_q8_0, quant_q8_0, QK);
        return true;
    case DTYPE_Q2_K:
        QUANT_BLOCKS(block_q2_k, quant_q2_k, QK_K);
        return true;
    case DTYPE_Q3_K:
        QUANT_BLOCKS(block_q3_k, quant_q3_k, QK_K);
        return true;
    case DTYPE_Q4_K:
        QUANT_BLOCKS(block_q4_k, quant_q4_k, QK_K);
        return true;
    case DTYPE_Q5_K:
        QUANT_BLOCKS(block_q5_k, quant_q5_k, QK_K);
        return true;
    case DTYPE_Q6_K:
        QUANT_BLOCKS(block_q6_k, quant_q6_k, QK_K);
        return true;
    case DTYPE_IQ4_NL:
        QUANT_BLOCKS(block_iq4_nl, quant_iq4_nl, QK);
        return true;
    case DTYPE_IQ4_XS:
        QUANT_BLOCKS(block_iq4_xs, quant_iq4_xs, QK_K);
        return true;
    default:
        return false;
    }
}

bool quant_quantize_row_imatrix(dtype type, const float *src, void *dst, int64_t n,
                                const float *imatrix)
{
    if (imatrix && quant_iq_is_lattice(type))
        return n >= 0 && quant_iq_quantize_row(type, src, dst, n, imatrix);
    return quant_quantize_row(type, src, dst, n);
}
