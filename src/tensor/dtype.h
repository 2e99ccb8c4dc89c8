/* dtype.h — tensor element types as numbered in the GGUF format, with their block geometry.
 * Values are GGUF's (ggml_type) ids: they are written to and read from files, never renumber.
 * A row of n elements of type t occupies (n / block_size) * block_bytes bytes; n must be a
 * multiple of block_size. */
#ifndef R1_TENSOR_DTYPE_H
#define R1_TENSOR_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dtype {
    DTYPE_F32 = 0,
    DTYPE_F16 = 1,
    DTYPE_Q4_0 = 2,
    DTYPE_Q4_1 = 3,
    DTYPE_Q5_0 = 6,
    DTYPE_Q5_1 = 7,
    DTYPE_Q8_0 = 8,
    DTYPE_Q8_1 = 9,
    DTYPE_Q2_K = 10,
    DTYPE_Q3_K = 11,
    DTYPE_Q4_K = 12,
    DTYPE_Q5_K = 13,
    DTYPE_Q6_K = 14,
    DTYPE_Q8_K = 15,
    DTYPE_IQ2_XXS = 16,
    DTYPE_IQ2_XS = 17,
    DTYPE_IQ3_XXS = 18,
    DTYPE_IQ1_S = 19,
    DTYPE_IQ4_NL = 20,
    DTYPE_IQ3_S = 21,
    DTYPE_IQ2_S = 22,
    DTYPE_IQ4_XS = 23,
    DTYPE_I8 = 24,
    DTYPE_I16 = 25,
    DTYPE_I32 = 26,
    DTYPE_IQ1_M = 29,
    DTYPE_BF16 = 30,
    DTYPE_COUNT = 40, /* one past the largest id we know of */
} dtype;

typedef struct dtype_traits {
    const char *name;  /* "Q4_K" */
    int block_size;    /* elements per block */
    int block_bytes;   /* bytes per block */
    bool is_supported; /* we can dequantize it (weights of this type load) */
} dtype_traits;

/* Traits of a type id read from a file; NULL for ids that are unknown or deprecated. */
const dtype_traits *dtype_get(uint32_t type);
/* Type by name, case-insensitive ("q4_k", "F16"); returns -1 when unknown. */
int dtype_from_name(const char *name);
/* Bytes of a row of n elements; 0 if n is not a multiple of the block size. */
size_t dtype_row_bytes(dtype type, int64_t n);

#endif
