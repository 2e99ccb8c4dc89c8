/* gemm_vnni512.c — the kernels of gemm_vnni.c EVEX-encoded (AVX512-VNNI + AVX512-VL, still
 * 256-bit vectors): 32 vector registers let more tokens share each weight load. */
#define R1_VNNI_EVEX 1
#include "gemm_vnni.c"
