/* dtype.c — the table of element types and their block geometry (see dtype.h). */
#include "tensor/dtype.h"

#include <strings.h>

static const dtype_traits traits[DTYPE_COUNT] = {
    [DTYPE_F32] = {"F32", 1, 4, true},
    [DTYPE_F16] = {"F16", 1, 2, true},
    [DTYPE_BF16] = {"BF16", 1, 2, true},
    [DTYPE_Q4_0] = {"Q4_0", 32, 18, true},
    [DTYPE_Q4_1] = {"Q4_1", 32, 20, true},
    [DTYPE_Q5_0] = {"Q5_0", 32, 22, true},
    [DTYPE_Q5_1] = {"Q5_1", 32, 24, true},
    [DTYPE_Q8_0] = {"Q8_0", 32, 34, true},
    [DTYPE_Q8_1] = {"Q8_1", 32, 36, false},
    [DTYPE_Q2_K] = {"Q2_K", 256, 84, true},
    [DTYPE_Q3_K] = {"Q3_K", 256, 110, true},
    [DTYPE_Q4_K] = {"Q4_K", 256, 144, true},
    [DTYPE_Q5_K] = {"Q5_K", 256, 176, true},
    [DTYPE_Q6_K] = {"Q6_K", 256, 210, true},
    [DTYPE_Q8_K] = {"Q8_K", 256, 292, false},
    [DTYPE_IQ4_NL] = {"IQ4_NL", 32, 18, true},
    [DTYPE_IQ4_XS] = {"IQ4_XS", 256, 136, true},
    [DTYPE_I8] = {"I8", 1, 1, false},
    [DTYPE_I16] = {"I16", 1, 2, false},
    [DTYPE_I32] = {"I32", 1, 4, false},
    [DTYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66, true},
    [DTYPE_IQ2_XS] = {"IQ2_XS", 256, 74, true},
    [DTYPE_IQ2_S] = {"IQ2_S", 256, 82, true},
    [DTYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98, true},
    [DTYPE_IQ3_S] = {"IQ3_S", 256, 110, true},
    [DTYPE_IQ1_S] = {"IQ1_S", 256, 50, true},
    [DTYPE_IQ1_M] = {"IQ1_M", 256, 56, true},
};

const dtype_traits *dtype_get(uint32_t type)
{
    if (type >= DTYPE_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}

int dtype_from_name(const char *name)
{
    for (int i = 0; i < DTYPE_COUNT; i++)
        if (traits[i].name && strcasecmp(traits[i].name, name) == 0) return i;
    return -1;
}

size_t dtype_row_bytes(dtype type, int64_t n)
{
    const dtype_traits *t = dtype_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * (size_t)t->block_bytes;
}
