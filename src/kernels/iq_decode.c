/* iq_decode.c — the lattice types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) decoded
 * on the fly for the multi-token kernels: KERN_DEC_ROWS rows at a time into the KERN_DEC layout
 * (kernels.h), whose integer sums and float steps are the scalar vec_dot's (ref/vec_dot_ref.c).
 *
 * Every type's super-block value is d · c · s_g · v with an integer v (the grid value with its
 * sign, |v| ≤ 62), an odd integer scale s_g = 2u + 1 per 16 or 32 columns, the block's fp16 d and
 * a constant c of the type. IQ1's values are grid ± 1/8: decoded as v = 8·grid ± 1 (|v| ≤ 9),
 * whose integer sum is 8·Σ s·grid·q8 + Σ s·(±1)·q8 — the two sums of the scalar kernel in one,
 * and (float)(8a + b) · 0.125 is exactly (float)a + 0.125 · (float)b (both round the same real
 * number once; scaling by 2⁻³ is exact), so the float result is the same bits.
 *
 * The decoders build 8 values at a time in a uint64 (grid rows are 8 or 2 × 4 bytes): v + 128
 * is g | 0x80 for a positive element and 0x80 − g for a negative one (g < 0x80: no carry or
 * borrow crosses a byte), selected by the row's sign byte expanded to a byte mask. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/iq_tables.h"
#include "tensor/quant.h"

#include <pthread.h>
#include <string.h>

#define B80 0x8080808080808080ull
#define B01 0x0101010101010101ull

/* sign byte -> 8 bytes of 0xFF where the bit is set */
static uint64_t sign_mask[256];
static pthread_once_t sign_once = PTHREAD_ONCE_INIT;

static void sign_init(void)
{
    for (int s = 0; s < 256; s++) {
        uint64_t m = 0;
        for (int j = 0; j < 8; j++)
            if (s >> j & 1) m |= 0xFFull << (8 * j);
        sign_mask[s] = m;
    }
}

/* 8 grid magnitudes (bytes of g, each < 0x80) with signs -> 8 bytes of v + 128 */
static inline uint64_t signed8(uint64_t g, unsigned signs)
{
    const uint64_t m = sign_mask[signs & 255];
    return ((g | B80) & ~m) | ((B80 - g) & m);
}

/* 8 IQ1 lattice values (int8 -1, 0, 1) shifted by ±1/8 -> 8 bytes of 8·g ± 1 + 128 */
static inline uint64_t iq1_8(uint64_t g, bool neg)
{
    const uint64_t one = g & B01, minus = (g >> 7) & B01; /* g = 1 or -1; g = -1 */
    const uint64_t v = (B80 + (one << 3)) - (minus << 4); /* 0x88, 0x80, 0x78 */
    return neg ? v - B01 : v + B01;
}

static inline uint32_t u32_at(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

bool kern_dec_type(dtype t)
{
    return t == DTYPE_IQ1_S || t == DTYPE_IQ1_M || t == DTYPE_IQ2_XXS || t == DTYPE_IQ2_XS ||
           t == DTYPE_IQ2_S || t == DTYPE_IQ3_XXS || t == DTYPE_IQ3_S;
}

kern_dec_info kern_dec_info_of(dtype t)
{
    kern_dec_info info = {1.0f, 1.0f, true};
    switch (t) {
    case DTYPE_IQ2_XXS:
        info.outer = 0.125f;
        break;
    case DTYPE_IQ2_XS:
    case DTYPE_IQ2_S:
        info.outer = 0.125f;
        info.per32 = false;
        break;
    case DTYPE_IQ3_XXS:
        info.outer = 0.25f;
        break;
    case DTYPE_IQ1_S:
        info.inner = 0.125f;
        break;
    case DTYPE_IQ1_M:
        info.inner = 0.125f;
        info.per32 = false;
        break;
    default:
        break; /* IQ3_S: d · (2u + 1) · grid */
    }
    return info;
}

/* One super-block of one row: v + 128 as 32 uint64s (columns 8i .. 8i + 7 in word i), the 16
 * scales 2u + 1 (per 16 columns), returns d. */
static float dec_block(dtype t, const uint8_t *raw, uint64_t v[32], uint16_t sc[16])
{
    switch (t) {
    case DTYPE_IQ2_XXS: {
        const block_iq2_xxs *a = (const block_iq2_xxs *)(const void *)raw;
        for (int sb = 0; sb < 8; sb++) {
            const uint32_t a0 = u32_at(a->qs + 4 * sb), a1 = u32_at(a->qs + 4 * sb + 2);
            for (int l = 0; l < 4; l++)
                v[4 * sb + l] =
                    signed8(iq2xxs_grid[(a0 >> (8 * l)) & 255], iq_ksigns7(a1 >> (7 * l)));
            sc[2 * sb] = sc[2 * sb + 1] = (uint16_t)(2 * (a1 >> 28) + 1);
        }
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ2_XS: {
        const block_iq2_xs *a = (const block_iq2_xs *)(const void *)raw;
        for (int r = 0; r < 32; r++)
            v[r] = signed8(iq2xs_grid[a->qs[r] & 511], iq_ksigns7(a->qs[r] >> 9));
        for (int h = 0; h < 16; h++)
            sc[h] = (uint16_t)(2 * ((a->scales[h / 2] >> (4 * (h % 2))) & 15) + 1);
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ2_S: {
        const block_iq2_s *a = (const block_iq2_s *)(const void *)raw;
        for (int r = 0; r < 32; r++) {
            const int idx = a->qs[r] | ((a->qh[r / 4] >> (2 * (r % 4))) & 3) << 8;
            v[r] = signed8(iq2s_grid[idx], a->qs[32 + r]);
        }
        for (int h = 0; h < 16; h++)
            sc[h] = (uint16_t)(2 * ((a->scales[h / 2] >> (4 * (h % 2))) & 15) + 1);
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ3_XXS: {
        const block_iq3_xxs *a = (const block_iq3_xxs *)(const void *)raw;
        for (int sb = 0; sb < 8; sb++) {
            const uint32_t s = u32_at(a->qs + 64 + 4 * sb);
            for (int l = 0; l < 4; l++) {
                const uint64_t g = (uint64_t)iq3xxs_grid[a->qs[8 * sb + 2 * l]] |
                                   (uint64_t)iq3xxs_grid[a->qs[8 * sb + 2 * l + 1]] << 32;
                v[4 * sb + l] = signed8(g, iq_ksigns7(s >> (7 * l)));
            }
            sc[2 * sb] = sc[2 * sb + 1] = (uint16_t)(2 * (s >> 28) + 1);
        }
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ3_S: {
        const block_iq3_s *a = (const block_iq3_s *)(const void *)raw;
        for (int sb = 0; sb < 8; sb++) {
            for (int k = 0; k < 8; k += 2) {
                const int i0 = a->qs[8 * sb + k] | ((a->qh[sb] >> k) & 1) << 8;
                const int i1 = a->qs[8 * sb + k + 1] | ((a->qh[sb] >> (k + 1)) & 1) << 8;
                const uint64_t g = (uint64_t)iq3s_grid[i0] | (uint64_t)iq3s_grid[i1] << 32;
                v[4 * sb + k / 2] = signed8(g, a->signs[4 * sb + k / 2]);
            }
            sc[2 * sb] = sc[2 * sb + 1] =
                (uint16_t)(2 * ((a->scales[sb / 2] >> (4 * (sb % 2))) & 15) + 1);
        }
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ1_S: {
        const block_iq1_s *a = (const block_iq1_s *)(const void *)raw;
        for (int sb = 0; sb < 8; sb++) {
            const unsigned qh = a->qh[sb];
            for (int l = 0; l < 4; l++)
                v[4 * sb + l] =
                    iq1_8(iq1s_grid[a->qs[4 * sb + l] | ((qh >> (3 * l)) & 7) << 8], qh & 0x8000);
            sc[2 * sb] = sc[2 * sb + 1] = (uint16_t)(2 * ((qh >> 12) & 7) + 1);
        }
        return fp16_to_f32(a->d);
    }
    case DTYPE_IQ1_M: {
        const block_iq1_m *a = (const block_iq1_m *)(const void *)raw;
        uint16_t s[4];
        memcpy(s, a->scales, sizeof s);
        const uint16_t dh = (uint16_t)((s[0] >> 12) | ((s[1] >> 8) & 0x00f0) |
                                       ((s[2] >> 4) & 0x0f00) | (s[3] & 0xf000));
        for (int r = 0; r < 32; r++) {
            const unsigned nib = a->qh[r / 2] >> (4 * (r % 2));
            v[r] = iq1_8(iq1s_grid[a->qs[r] | (nib & 7) << 8], nib & 8);
        }
        for (int h = 0; h < 16; h++) sc[h] = (uint16_t)(2 * ((s[h / 4] >> (3 * (h % 4))) & 7) + 1);
        return fp16_to_f32(dh);
    }
    default:
        return 0.0f;
    }
}

void kern_dec_rows(dtype t, const uint8_t *rows, size_t row_bytes, int64_t n_cols, uint8_t *dst)
{
    pthread_once(&sign_once, sign_init);
    const size_t blk_bytes = dtype_row_bytes(t, 256);
    const int64_t nsb = n_cols / 256;
    enum { R = KERN_DEC_ROWS };
    for (int64_t b = 0; b < nsb; b++) {
        uint8_t *out = dst + (size_t)b * KERN_DEC_BLOCK_BYTES;
        float *d = (float *)(void *)out;
        uint8_t *pairs = out + 4 * R, *vals = out + 36 * R;
        for (int r = 0; r < R; r++) {
            uint64_t v[32];
            uint16_t sc[16];
            d[r] = dec_block(t, rows + (size_t)r * row_bytes + (size_t)b * blk_bytes, v, sc);
            for (int m = 0; m < 8; m++) {
                memcpy(pairs + 4 * (m * R + r), &sc[2 * m], 2);
                memcpy(pairs + 4 * (m * R + r) + 2, &sc[2 * m + 1], 2);
            }
            for (int i = 0; i < 32; i++) { /* columns 8i .. 8i + 7: vectors 2i and 2i + 1 */
                memcpy(vals + 4 * ((2 * i) * R + r), &v[i], 4);
                memcpy(vals + 4 * ((2 * i + 1) * R + r), (const uint8_t *)&v[i] + 4, 4);
            }
        }
    }
}
