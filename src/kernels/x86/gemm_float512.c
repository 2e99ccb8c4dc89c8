/* gemm_float512.c — gemm_float.c with AVX-512F: a 16-row group is one 16-lane vector, and 32
 * registers hold 4 groups × 6 tokens of accumulators. */
#define R1_GEMMF_512 1
#include "gemm_float.c"
