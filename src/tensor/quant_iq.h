/* quant_iq.h — quantization to the lattice types IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
 * IQ3_S (quant_iq.c says how). quant_quantize_row calls it without an importance matrix. */
#ifndef R1_TENSOR_QUANT_IQ_H
#define R1_TENSOR_QUANT_IQ_H

#include "tensor/dtype.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether type is one of the seven lattice types. */
bool quant_iq_is_lattice(dtype type);
/* Quantize n floats (a multiple of 256) into dst. imatrix: n per-column importances (the mean
 * squared activation each weight column sees, as llama.cpp's imatrix files hold), or NULL for
 * none. Returns false for other types or when out of memory. */
bool quant_iq_quantize_row(dtype type, const float *x, void *dst, int64_t n, const float *imatrix);

/* Random valid blocks for synthetic models (r1 synth): random lattice indices, signs and scale
 * codes, each block's fp16 scale set so its values have root mean square `rms`. Orders of
 * magnitude faster than quantizing random floats with the lattice search. Deterministic in seed. */
bool quant_iq_random_row(dtype type, uint64_t seed, float rms, void *dst, int64_t n);

#endif
