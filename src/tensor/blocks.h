/* blocks.h — the byte layout of every quantized block type (GGUF's definitions), shared by the
 * reference (de)quantizers in quant.c and the dot-product kernels in src/kernels. The sizes are
 * part of the file format: each struct has a static_assert. */
#ifndef R1_TENSOR_BLOCKS_H
#define R1_TENSOR_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#ifndef QK
#define QK 32 /* elements per block of the simple types */
#endif
#ifndef QK_K
#define QK_K 256 /* elements per super-block of the K-quants and IQ4_XS */
#endif

/* ---- block layouts ---------------------------------------------------------------------------
 * "half" is an IEEE fp16 stored little-endian. Element i of a block is x[i]. */

/* Q4_0, 18 bytes: d(half) | qs[16]. x[i] = (q[i] - 8) * d, q in 0..15;
 * qs[j] low nibble = q[j], high nibble = q[j + 16]. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK / 2];
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "Q4_0 block is 18 bytes");

/* Q4_1, 20 bytes: d(half) | m(half) | qs[16]. x[i] = q[i] * d + m; nibbles as Q4_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qs[QK / 2];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "Q4_1 block is 20 bytes");

/* Q5_0, 22 bytes: d(half) | qh[4] | qs[16]. q in 0..31, x[i] = (q[i] - 16) * d. Low 4 bits in the
 * nibbles as Q4_0; bit 4 of q[i] is bit i of qh read as a little-endian uint32. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK / 2];
} block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "Q5_0 block is 22 bytes");

/* Q5_1, 24 bytes: d(half) | m(half) | qh[4] | qs[16]. x[i] = q[i] * d + m; bits as Q5_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK / 2];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "Q5_1 block is 24 bytes");

/* Q8_0, 34 bytes: d(half) | qs[32] (int8). x[i] = qs[i] * d. */
typedef struct {
    uint16_t d;
    int8_t qs[QK];
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "Q8_0 block is 34 bytes");

/* Q2_K, 84 bytes: scales[16] | qs[64] | d(half) | dmin(half). 16 sub-blocks of 16 elements;
 * scales[s] low nibble = scale, high nibble = min of sub-block s (4 bits each);
 * x = (d * scale) * q - (dmin * min), q in 0..3.
 * Position of element i: c = i / 128, j = (i % 128) / 32, l = i % 32: q = (qs[32c + l] >> 2j) & 3,
 * sub-block 8c + 2j + l / 16 (so sub-block s holds elements 16s ... 16s + 15). */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
} block_q2_k;
static_assert(sizeof(block_q2_k) == 84, "Q2_K block is 84 bytes");

/* Q3_K, 110 bytes: hmask[32] | qs[64] | scales[12] | d(half). 16 sub-blocks of 16 elements;
 * x = (d * (sc - 32)) * q, q in -4..3 stored as u = q + 4 (3 bits). Element i at c, j, l as in
 * Q2_K: low 2 bits of u = (qs[32c + l] >> 2j) & 3, bit 2 of u = bit (4c + j) of hmask[l].
 * The 16 6-bit scales sc[s]: low 4 bits in the low nibble of scales[s] for s < 8, in the high
 * nibble of scales[s - 8] for s >= 8; high 2 bits at bit 2 * (s / 4) of scales[8 + s % 4]. */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_k;
static_assert(sizeof(block_q3_k) == 110, "Q3_K block is 110 bytes");

/* Q4_K, 144 bytes: d(half) | dmin(half) | scales[12] | qs[128]. 8 sub-blocks of 32 elements,
 * each with a 6-bit scale sc and 6-bit min mn: x = (d * sc) * q - (dmin * mn), q in 0..15.
 * Element i: c = i / 64, l = i % 64: q = low nibble of qs[32c + l] for l < 32, high nibble of
 * qs[32c + l - 32] otherwise; sub-block i / 32. Packing of sc[s], mn[s] in scales[12]:
 * s < 4: sc = scales[s] & 63, mn = scales[s + 4] & 63;
 * s >= 4: sc = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4,
 *         mn = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_k;
static_assert(sizeof(block_q4_k) == 144, "Q4_K block is 144 bytes");

/* The 6-bit scale and min of sub-block s (0..7) of a Q4_K / Q5_K block's scales[12] (packing
 * above). The one copy: the quantizer (tensor/quant.c), the reference kernels and the NEON ones
 * all read the scales through it. */
static inline void k4_scale_min(const uint8_t *sc, int s, int *out_scale, int *out_min)
{
    if (s < 4) {
        *out_scale = sc[s] & 63;
        *out_min = sc[s + 4] & 63;
    } else {
        *out_scale = (sc[s + 4] & 15) | ((sc[s - 4] >> 6) << 4);
        *out_min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
    }
}

/* Q5_K, 176 bytes: d(half) | dmin(half) | scales[12] | qh[32] | qs[128]. As Q4_K with q in 0..31:
 * the low 4 bits as in Q4_K, bit 4 of element i = bit (i / 32) of qh[i % 32]. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_k;
static_assert(sizeof(block_q5_k) == 176, "Q5_K block is 176 bytes");

/* Q6_K, 210 bytes: ql[128] | qh[64] | scales[16] (int8) | d(half). 16 sub-blocks of 16 elements;
 * x = (d * scales[s]) * q, q in -32..31 stored as u = q + 32 (6 bits). Element i: c = i / 128,
 * g = (i % 128) / 32, l = i % 32: low 4 bits of u = low nibble (g = 0, 1) or high nibble (g = 2, 3)
 * of ql[64c + l + 32 * (g & 1)]; high 2 bits of u = (qh[32c + l] >> 2g) & 3; sub-block i / 16. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_k;
static_assert(sizeof(block_q6_k) == 210, "Q6_K block is 210 bytes");

/* IQ4_NL, 18 bytes: d(half) | qs[16]. x[i] = d * iq4_values[k[i]], k in 0..15, nibbles as Q4_0. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK / 2];
} block_iq4_nl;
static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block is 18 bytes");

/* IQ4_XS, 136 bytes: d(half) | scales_h(uint16) | scales_l[4] | qs[128]. 8 sub-blocks of 32; each
 * 6-bit scale ls[s] = ((scales_l[s / 2] >> 4 * (s % 2)) & 15) | ((scales_h >> 2s) & 3) << 4;
 * x = (d * (ls - 32)) * iq4_values[k]; sub-block s has its 32 codes in qs[16s ... 16s + 15] as
 * nibbles like Q4_0. */
typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs;
static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block is 136 bytes");

/* The 16 levels of the non-linear 4-bit types (ascending). */
static const int8_t iq4_values[16] __attribute__((unused)) = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* ---- the IQ1/IQ2/IQ3 types: 256-element super-blocks whose values are rows of a fixed lattice
 * ("grid", src/tensor/iq_tables.h) times a sign and a scale. Within a super-block, element i is in
 * 32-element sub-block i / 32; grids hold 8 (IQ1/IQ2) or 4 (IQ3) magnitudes per index, element j
 * of a row in byte j. ksigns7(k) = k | parity(k) << 7: the 8 signs of a row from 7 stored bits
 * (the 8th makes the count of minus signs even); sign bit j set = element j negative. */

/* IQ2_XXS, 66 bytes (2.06 bits per weight): d(half) | qs[32] (uint16, read as 8 pairs of uint32
 * a0, a1 per sub-block). Sub-block s: a0 = 4 bytes, each an iq2xxs_grid index for 8 elements;
 * a1 bits 7l .. 7l + 6 = the ksigns7 code of row l (l < 4), bits 28-31 = scale u:
 * x = d · (0.5 + u) · 0.25 · grid · sign. */
typedef struct {
    uint16_t d;
    uint16_t qs[QK_K / 8];
} block_iq2_xxs;
static_assert(sizeof(block_iq2_xxs) == 66, "IQ2_XXS block is 66 bytes");

/* IQ2_XS, 74 bytes (2.31 bpw): d(half) | qs[32] (uint16) | scales[8]. qs[4s + l]: bits 0-8 =
 * iq2xs_grid index of row l of sub-block s, bits 9-15 = its ksigns7 code. Scale u of the 16
 * elements 16h .. 16h + 15 = nibble h % 2 of scales[h / 2]: x = d · (0.5 + u) · 0.25 · grid · sign.
 */
typedef struct {
    uint16_t d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
} block_iq2_xs;
static_assert(sizeof(block_iq2_xs) == 74, "IQ2_XS block is 74 bytes");

/* IQ2_S, 82 bytes (2.56 bpw): d(half) | qs[64] | qh[8] | scales[8]. Row l of sub-block s: index
 * (10 bits) = qs[4s + l] | ((qh[s] >> 2l) & 3) << 8 into iq2s_grid; its 8 sign bits = qs[32 + 4s
 * + l] (no parity rule). Scales as IQ2_XS. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
} block_iq2_s;
static_assert(sizeof(block_iq2_s) == 82, "IQ2_S block is 82 bytes");

/* IQ3_XXS, 98 bytes (3.06 bpw): d(half) | qs[96]. qs[8s + k] (k < 8) = iq3xxs_grid index of the
 * 4 elements 32s + 4k ...; qs[64 + 4s ...] read as a uint32 a: bits 7l .. 7l + 6 = ksigns7 code of
 * the 8 elements 32s + 8l ..., bits 28-31 = scale u: x = d · (0.5 + u) · 0.5 · grid · sign. */
typedef struct {
    uint16_t d;
    uint8_t qs[3 * QK_K / 8];
} block_iq3_xxs;
static_assert(sizeof(block_iq3_xxs) == 98, "IQ3_XXS block is 98 bytes");

/* IQ3_S, 110 bytes (3.44 bpw): d(half) | qs[64] | qh[8] | signs[32] | scales[4]. Index (9 bits) of
 * the 4 elements 32s + 4k ... = qs[8s + k] | ((qh[s] >> k) & 1) << 8 into iq3s_grid; sign of
 * element 32s + j = bit j % 8 of signs[4s + j / 8]; scale u = nibble s % 2 of scales[s / 2]:
 * x = d · (1 + 2u) · grid · sign. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
} block_iq3_s;
static_assert(sizeof(block_iq3_s) == 110, "IQ3_S block is 110 bytes");

/* IQ1_S, 50 bytes (1.56 bpw): d(half) | qs[32] | qh[8] (uint16). Row l of sub-block s: index (11
 * bits) = qs[4s + l] | ((qh[s] >> 3l) & 7) << 8 into iq1s_grid (values -1, 0, 1); scale u = bits
 * 12-14 of qh[s], bit 15 = sign of the shift: x = d · (2u + 1) · (grid ± 0.125) (+ when clear). */
typedef struct {
    uint16_t d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
} block_iq1_s;
static_assert(sizeof(block_iq1_s) == 50, "IQ1_S block is 50 bytes");

/* IQ1_M, 56 bytes (1.75 bpw): qs[32] | qh[16] | scales[8] (read as 4 uint16 sc[4]). Row l of
 * sub-block s: index = qs[4s + l] | ((qh[2s + l / 2] >> 4 (l % 2)) & 7) << 8 into iq1s_grid, its
 * shift's sign = bit 3 of that nibble. The fp16 super-block scale d is spread over the top nibbles:
 * bits = sc[0] >> 12 | (sc[1] >> 8 & 0xf0) | (sc[2] >> 4 & 0xf00) | (sc[3] & 0xf000). The 3-bit
 * scale u of the 16 elements 16h ... = (sc[h / 4] >> 3 (h % 4)) & 7:
 * x = d · (2u + 1) · (grid ± 0.125). */
typedef struct {
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint8_t scales[QK_K / 32];
} block_iq1_m;
static_assert(sizeof(block_iq1_m) == 56, "IQ1_M block is 56 bytes");

#define IQ1_DELTA 0.125f /* the shift of IQ1_S / IQ1_M values off the {-1, 0, 1} lattice */

/* Q8_K (activations only, never stored in files): d(float) | qs[256] (int8) | bsums[16] (int16,
 * the sums of each 16 consecutive qs). x[i] = qs[i] * d. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_k;
static_assert(sizeof(block_q8_k) == 292, "Q8_K block is 292 bytes");

#endif
