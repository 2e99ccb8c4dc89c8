/* qmix.c — the table of quantization mixes and the per-tensor type rules (see qmix.h). */
#include "model/qmix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const qmix mixes[] = {
    {"F32", DTYPE_F32, DTYPE_F32, 0},           {"F16", DTYPE_F16, DTYPE_F16, 1},
    {"BF16", DTYPE_BF16, DTYPE_BF16, 32},       {"Q8_0", DTYPE_Q8_0, DTYPE_Q8_0, 7},
    {"Q6_K", DTYPE_Q6_K, DTYPE_Q6_K, 18},       {"Q5_K_M", DTYPE_Q5_K, DTYPE_Q6_K, 17},
    {"Q5_K_S", DTYPE_Q5_K, DTYPE_Q5_K, 16},     {"Q5_1", DTYPE_Q5_1, DTYPE_Q5_1, 9},
    {"Q5_0", DTYPE_Q5_0, DTYPE_Q5_0, 8},        {"Q4_K_M", DTYPE_Q4_K, DTYPE_Q6_K, 15},
    {"Q4_K_S", DTYPE_Q4_K, DTYPE_Q4_K, 14},     {"Q4_1", DTYPE_Q4_1, DTYPE_Q4_1, 3},
    {"Q4_0", DTYPE_Q4_0, DTYPE_Q4_0, 2},        {"IQ4_XS", DTYPE_IQ4_XS, DTYPE_IQ4_XS, 30},
    {"IQ4_NL", DTYPE_IQ4_NL, DTYPE_IQ4_NL, 25}, {"Q3_K_M", DTYPE_Q3_K, DTYPE_Q4_K, 12},
    {"Q2_K", DTYPE_Q2_K, DTYPE_Q2_K, 10},
};

#define N_MIXES (int)(sizeof mixes / sizeof mixes[0])

const qmix *qmix_find(const char *name)
{
    for (int i = 0; i < N_MIXES; i++)
        if (!strcasecmp(mixes[i].name, name)) return &mixes[i];
    return NULL;
}

int qmix_all(const qmix **out)
{
    *out = mixes;
    return N_MIXES;
}

dtype qmix_fallback(dtype t, int64_t n_cols)
{
    const dtype_traits *tr = dtype_get((uint32_t)t);
    if (tr && n_cols % tr->block_size == 0) return t;
    dtype f;
    switch (t) {
    case DTYPE_Q4_K:
        f = DTYPE_Q5_0;
        break;
    case DTYPE_Q5_K:
        f = DTYPE_Q5_1;
        break;
    case DTYPE_Q6_K:
        f = DTYPE_Q8_0;
        break;
    case DTYPE_Q2_K:
    case DTYPE_Q3_K:
    case DTYPE_IQ4_XS:
        f = DTYPE_IQ4_NL;
        break;
    default:
        f = DTYPE_Q8_0;
        break;
    }
    return n_cols % 32 == 0 ? f : DTYPE_F16;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

bool qmix_keeps_f32(const char *name, int n_dims)
{
    return n_dims < 2 || strstr(name, "ffn_gate_inp") || strstr(name, "exp_probs_b") ||
           strstr(name, "rope_freqs") || ends_with(name, "_norm.weight") ||
           ends_with(name, ".bias");
}

/* The ecosystem's "use more bits" layers: first and last eighth, and every third in between. */
static bool more_bits_layer(int il, int n)
{
    return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
}

dtype qmix_tensor_type(const qmix *mix, const char *name, int n_dims, const int64_t *ne,
                       int n_layers)
{
    if (qmix_keeps_f32(name, n_dims)) return DTYPE_F32;
    dtype t = mix->base;
    bool is_float = t == DTYPE_F32 || t == DTYPE_F16 || t == DTYPE_BF16;
    if (!is_float && !strcmp(name, "output.weight")) {
        if (t != DTYPE_Q8_0 && t != DTYPE_Q6_K) t = DTYPE_Q6_K;
    } else if (mix->more_bits != mix->base &&
               (strstr(name, ".attn_v.weight") || strstr(name, ".ffn_down"))) {
        int il = -1;
        if (sscanf(name, "blk.%d.", &il) == 1 && il >= 0 && more_bits_layer(il, n_layers))
            t = mix->more_bits;
    }
    return qmix_fallback(t, ne[0]);
}
