/* quantize.h — `r1 quantize` as a library: requantize every tensor of a GGUF to a per-tensor mix
 * (Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, IQ4_XS, R1-*, ...; the rules are src/model/qmix.h), with an
 * optional importance matrix. Each tensor is dequantized exactly and quantized again in chunks of
 * rows on all cores (the file does not depend on the thread count); a tensor already in its
 * target type is copied byte for byte; memory stays bounded for models larger than RAM. Messages
 * and the progress bar go to stderr as "r1 quantize: ...". */
#ifndef R1_TOOLS_QUANTIZE_H
#define R1_TOOLS_QUANTIZE_H

#include <stdbool.h>

/* The name of mix i (in the order help texts list them), NULL past the last. */
const char *tools_quant_mix(int i);
bool tools_quant_mix_known(const char *name);

typedef struct tools_quantize_options {
    const char *in, *out; /* GGUF files (in: a split model's first shard too) */
    const char *type;     /* a mix name */
    const char *imatrix;  /* llama.cpp's imatrix GGUF, or NULL (the 1-2-bit mixes need one) */
    int n_threads;        /* 0: all cores */
} tools_quantize_options;

/* Returns the command's exit status: 0; 1 after a message (I/O, a tensor it cannot convert, no
 * statistics for a 1-2-bit tensor); 2 for an unknown mix or a mix that needs an imatrix without
 * one. */
int tools_quantize(const tools_quantize_options *o);

#endif
