/* quant.h — conversion between float32 and every stored element type (scalar reference code).
 * These are "the spec": dequantization is bit-exact with the GGUF ecosystem's definition of each
 * block layout; quantization produces valid blocks with bounded error (asserted per type in
 * tests/unit/test_quant.c). Fast kernels live in src/kernels and are tested against these.
 * n is always a multiple of the type's block size. */
#ifndef R1_TENSOR_QUANT_H
#define R1_TENSOR_QUANT_H

#include "tensor/dtype.h"

#include <stddef.h>
#include <stdint.h>

/* fp16 / bf16 scalar conversions (round-to-nearest-even for the float -> half direction). */
float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

/* Dequantize n elements stored as `type` at src into dst. Returns false for unsupported types. */
bool quant_dequantize_row(dtype type, const void *src, float *dst, int64_t n);

/* Quantize n floats into dst (dequant rows are dtype_row_bytes(type, n) bytes). Returns false for
 * unsupported types. Thread-safe, no global state (lookup tables are const). */
bool quant_quantize_row(dtype type, const float *src, void *dst, int64_t n);

/* The same with an importance per column (n floats, e.g. from an imatrix; NULL = none). The
 * lattice types (IQ1_S ... IQ3_S) weigh each element's error by it; the other types ignore it. */
bool quant_quantize_row_imatrix(dtype type, const float *src, void *dst, int64_t n,
                                const float *imatrix);

#endif
