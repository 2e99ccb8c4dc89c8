/* qmix.c — the table of quantization mixes and the per-tensor type rules (see qmix.h). */
#include "model/qmix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const qmix mixes[] = {
    {"F32", DTYPE_F32, DTYPE_F32, 0, QMIX_PLAIN, 0, 0, 0, false},
    {"F16", DTYPE_F16, DTYPE_F16, 1, QMIX_PLAIN, 0, 0, 0, false},
    {"BF16", DTYPE_BF16, DTYPE_BF16, 32, QMIX_PLAIN, 0, 0, 0, false},
    {"Q8_0", DTYPE_Q8_0, DTYPE_Q8_0, 7, QMIX_PLAIN, 0, 0, 0, false},
    {"Q6_K", DTYPE_Q6_K, DTYPE_Q6_K, 18, QMIX_PLAIN, 0, 0, 0, false},
    {"Q5_K_M", DTYPE_Q5_K, DTYPE_Q6_K, 17, QMIX_PLAIN, 0, 0, 0, false},
    {"Q5_K_S", DTYPE_Q5_K, DTYPE_Q5_K, 16, QMIX_PLAIN, 0, 0, 0, false},
    {"Q5_1", DTYPE_Q5_1, DTYPE_Q5_1, 9, QMIX_PLAIN, 0, 0, 0, false},
    {"Q5_0", DTYPE_Q5_0, DTYPE_Q5_0, 8, QMIX_PLAIN, 0, 0, 0, false},
    {"Q4_K_M", DTYPE_Q4_K, DTYPE_Q6_K, 15, QMIX_PLAIN, 0, 0, 0, false},
    {"Q4_K_S", DTYPE_Q4_K, DTYPE_Q4_K, 14, QMIX_PLAIN, 0, 0, 0, false},
    {"Q4_1", DTYPE_Q4_1, DTYPE_Q4_1, 3, QMIX_PLAIN, 0, 0, 0, false},
    {"Q4_0", DTYPE_Q4_0, DTYPE_Q4_0, 2, QMIX_PLAIN, 0, 0, 0, false},
    {"IQ4_XS", DTYPE_IQ4_XS, DTYPE_IQ4_XS, 30, QMIX_PLAIN, 0, 0, 0, false},
    {"IQ4_NL", DTYPE_IQ4_NL, DTYPE_IQ4_NL, 25, QMIX_PLAIN, 0, 0, 0, false},
    {"Q3_K_M", DTYPE_Q3_K, DTYPE_Q4_K, 12, QMIX_PLAIN, 0, 0, 0, false},
    {"Q2_K", DTYPE_Q2_K, DTYPE_Q2_K, 10, QMIX_PLAIN, 0, 0, 0, false},
    /* the lattice types: attn_v / ffn_down one step up in the more-bits layers */
    {"IQ3_S", DTYPE_IQ3_S, DTYPE_Q4_K, 26, QMIX_LATTICE, DTYPE_Q6_K, DTYPE_IQ3_S, 0, false},
    {"IQ3_XXS", DTYPE_IQ3_XXS, DTYPE_IQ3_S, 23, QMIX_LATTICE, DTYPE_Q6_K, DTYPE_IQ3_S, 0, false},
    {"IQ2_S", DTYPE_IQ2_S, DTYPE_IQ3_S, 28, QMIX_LATTICE, DTYPE_Q5_K, DTYPE_IQ3_S, 0, true},
    {"IQ2_XS", DTYPE_IQ2_XS, DTYPE_IQ3_XXS, 20, QMIX_LATTICE, DTYPE_Q5_K, DTYPE_Q2_K, 0, true},
    {"IQ2_XXS", DTYPE_IQ2_XXS, DTYPE_IQ3_XXS, 19, QMIX_LATTICE, DTYPE_Q5_K, DTYPE_Q2_K, 0, true},
    {"IQ1_M", DTYPE_IQ1_M, DTYPE_IQ2_XXS, 31, QMIX_LATTICE, DTYPE_Q5_K, DTYPE_Q2_K, 0, true},
    {"IQ1_S", DTYPE_IQ1_S, DTYPE_IQ2_XXS, 24, QMIX_LATTICE, DTYPE_Q5_K, DTYPE_Q2_K, 0, true},
    /* DeepSeek-R1 dynamic mixes (the shape of the popular 671B files): routed gate/up experts at
     * the low-bit type, routed down experts one step up, everything else Q4_K, output Q6_K */
    {"R1-IQ1_S", DTYPE_IQ1_S, DTYPE_IQ2_XXS, 24, QMIX_DYNAMIC, DTYPE_Q6_K, DTYPE_Q4_K, DTYPE_Q4_K,
     true},
    {"R1-IQ1_M", DTYPE_IQ1_M, DTYPE_IQ2_XXS, 31, QMIX_DYNAMIC, DTYPE_Q6_K, DTYPE_Q4_K, DTYPE_Q4_K,
     true},
    {"R1-IQ2_XXS", DTYPE_IQ2_XXS, DTYPE_IQ2_XS, 19, QMIX_DYNAMIC, DTYPE_Q6_K, DTYPE_Q4_K,
     DTYPE_Q4_K, true},
    {"R1-Q2_K_XL", DTYPE_Q2_K, DTYPE_Q3_K, 10, QMIX_DYNAMIC, DTYPE_Q6_K, DTYPE_Q4_K, DTYPE_Q4_K,
     false},
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
    case DTYPE_IQ1_S:
    case DTYPE_IQ1_M:
    case DTYPE_IQ2_XXS:
    case DTYPE_IQ2_XS:
    case DTYPE_IQ2_S:
    case DTYPE_IQ3_XXS:
    case DTYPE_IQ3_S:
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

/* DYNAMIC: routed experts low, the rest as the mix says. */
static dtype dynamic_type(const qmix *mix, const char *name)
{
    if (!strcmp(name, "output.weight")) return mix->output;
    if (!strcmp(name, "token_embd.weight")) return mix->embed;
    if (strstr(name, "_exps.")) return strstr(name, "ffn_down_exps") ? mix->more_bits : mix->base;
    return mix->rest;
}

/* LATTICE: fixed types for the embedding, the output and attn_output (one lattice step up from
 * the 1-bit types, which break attention), otherwise the plain rules. */
static dtype lattice_type(const qmix *mix, const char *name, int n_layers)
{
    if (!strcmp(name, "output.weight")) return mix->output;
    if (!strcmp(name, "token_embd.weight")) return mix->embed;
    if (strstr(name, ".attn_output.") && (mix->base == DTYPE_IQ1_S || mix->base == DTYPE_IQ1_M))
        return DTYPE_IQ2_XXS;
    if (strstr(name, ".attn_v.weight") || strstr(name, ".ffn_down")) {
        int il = -1;
        if (sscanf(name, "blk.%d.", &il) == 1 && il >= 0 && more_bits_layer(il, n_layers))
            return mix->more_bits;
    }
    return mix->base;
}

dtype qmix_tensor_type(const qmix *mix, const char *name, int n_dims, const int64_t *ne,
                       int n_layers)
{
    if (qmix_keeps_f32(name, n_dims)) return DTYPE_F32;
    if (mix->kind == QMIX_DYNAMIC) return qmix_fallback(dynamic_type(mix, name), ne[0]);
    if (mix->kind == QMIX_LATTICE) return qmix_fallback(lattice_type(mix, name, n_layers), ne[0]);
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
