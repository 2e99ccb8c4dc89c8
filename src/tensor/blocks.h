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

/* Q8_K (activations only, never stored in files): d(float) | qs[256] (int8) | bsums[16] (int16,
 * the sums of each 16 consecutive qs). x[i] = qs[i] * d. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_k;
static_assert(sizeof(block_q8_k) == 292, "Q8_K block is 292 bytes");

#endif
