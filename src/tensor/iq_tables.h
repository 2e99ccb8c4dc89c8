/* iq_tables.h — the lattices of the IQ1/IQ2/IQ3 types (see blocks.h for the block layouts).
 * Part of the file format, so constant data (iq_grids.inc says where the values come from and how
 * tests/unit/test_quant.c checks them). */
#ifndef R1_TENSOR_IQ_TABLES_H
#define R1_TENSOR_IQ_TABLES_H

#include <stdint.h>

extern const uint64_t iq2xxs_grid[256]; /* values 8, 25, 43 */
extern const uint64_t iq2xs_grid[512];  /* values 8, 25, 43 */
extern const uint64_t iq2s_grid[1024];  /* values 8, 25, 43 */
extern const uint32_t iq3xxs_grid[256]; /* values 4, 12, ..., 52, 62 */
extern const uint32_t iq3s_grid[512];   /* values 1, 3, ..., 15 */
extern const uint64_t iq1s_grid[2048];  /* values -1, 0, 1 (int8) */
/* ksigns7(k) for k < 128: k | parity(k) << 7, the sign byte of a row of IQ2_XXS/IQ2_XS/IQ3_XXS. */
extern const uint8_t iq_ksigns[128];

static inline uint8_t iq_ksigns7(uint32_t k)
{
    return iq_ksigns[k & 127];
}

#endif
