/* attn_avx512.c — the kernels of attn_avx2.c EVEX-encoded (AVX-512F + VL, still 256-bit
 * vectors): 32 registers hold 4 heads × 4 rows of accumulators. */
#define R1_ATTN_EVEX 1
#include "attn_avx2.c"
