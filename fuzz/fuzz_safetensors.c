/* fuzz_safetensors.c — libFuzzer target for the safetensors reader (src/formats/safetensors.c).
 *
 * Arbitrary bytes go to st_open_memory. When they parse, the target checks what the reader
 * promises: every tensor is found by name, lies inside the data section, has n_bytes = product of
 * its shape × dtype size, no two tensors overlap, and every element of a float tensor converts
 * (st_read_f32 reads each byte, so ASan sees any range the checks missed).
 * Build and run: docs/fuzzing.md. Replayed as a test by tests/unit/test_fuzz_corpus_safetensors.c
 * (define FUZZ_NO_MAIN to include this file without the libFuzzer entry point). */
#include "formats/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_safetensors: broken promise: %s\n", #c);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Returns 1 when the bytes parsed, 0 when the reader rejected them. */
static int fuzz_safetensors_one(const uint8_t *data, size_t size)
{
    st_checkpoint *ck = NULL;
    char err[R1_ERR_MAX];
    if (st_open_memory(data, size, "fuzz", &ck, err) != R1_OK) {
        FUZZ_ASSERT(memchr(err, 0, R1_ERR_MAX) != NULL && err[0] != 0);
        return 0;
    }
    uint64_t n_header;
    memcpy(&n_header, data, 8);
    const uint8_t *lo = data + 8 + n_header, *hi = data + size;
    float buf[256];
    for (int64_t i = 0; i < ck->n_tensors; i++) {
        const st_tensor *t = &ck->tensors[i];
        FUZZ_ASSERT(st_find(ck, t->name) == t);
        const uint8_t *p = t->data;
        FUZZ_ASSERT(p >= lo && p <= hi && t->n_bytes <= (size_t)(hi - p));
        int64_t n = 1;
        for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
        FUZZ_ASSERT(n == t->n_elements && t->n_bytes == (size_t)n * st_dtype_size(t->dtype));
        for (int64_t j = 0; j < ck->n_tensors; j++) {
            const st_tensor *u = &ck->tensors[j];
            const uint8_t *q = u->data;
            if (j != i && t->n_bytes && u->n_bytes)
                FUZZ_ASSERT(p + t->n_bytes <= q || q + u->n_bytes <= p);
        }
        if (st_dtype_is_float(t->dtype))
            for (int64_t k = 0; k < t->n_elements; k += 256) {
                int64_t m = t->n_elements - k < 256 ? t->n_elements - k : 256;
                FUZZ_ASSERT(st_read_f32(t, k, m, buf));
            }
        else
            FUZZ_ASSERT(!st_read_f32(t, 0, t->n_elements, buf));
    }
    st_close(ck);
    return 1;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_safetensors_one(data, size);
    return 0;
}
#endif
