/* qmix.h — quantization mixes: which stored type each tensor of a model gets when it is quantized
 * to "Q4_K_M", "Q8_0", ... (r1 quantize, r1 convert --type, FP8 weights converted at load).
 *
 * The rules follow the GGUF ecosystem's quantizer so files look like their peers: vectors (norms,
 * biases, exp_probs_b, rope_freqs) and the MoE router stay F32; output.weight gets Q6_K unless the
 * mix is already Q6_K or better; the *_M mixes give attn_v and ffn_down (dense, shared and expert)
 * more bits in the first/last eighth of the layers and every third layer between; a row whose
 * length is not a multiple of the chosen type's block falls back to a compatible type. */
#ifndef R1_MODEL_QMIX_H
#define R1_MODEL_QMIX_H

#include "tensor/dtype.h"

#include <stdbool.h>
#include <stdint.h>

/* How a mix assigns types beyond base / more_bits. */
typedef enum qmix_kind {
    QMIX_PLAIN,   /* the K-quant / legacy rules above */
    QMIX_LATTICE, /* IQ1_S ... IQ3_S: output.weight, token_embd and attn_output get fixed types
                     (docs/quantization.md) */
    QMIX_DYNAMIC, /* DeepSeek-R1 "dynamic" mixes: only the routed experts at the low-bit type,
                     attention, shared experts, dense layers and output higher */
} qmix_kind;

typedef struct qmix {
    const char *name; /* "Q4_K_M" */
    dtype base;       /* most matrices (dynamic mixes: routed gate/up experts) */
    dtype more_bits;  /* attn_v / ffn_down in the layers that get more (= base when none);
                         dynamic mixes: routed down experts */
    int file_type;    /* general.file_type (the ecosystem's llama_ftype number) */
    qmix_kind kind;
    dtype output, embed; /* output.weight and token_embd.weight (LATTICE and DYNAMIC) */
    dtype rest;          /* DYNAMIC: every other matrix (attention, shared experts, dense FFN) */
    bool needs_imatrix;  /* its low-bit types are unusable without one (IQ1, IQ2) */
} qmix;

/* Mix by name, case-insensitive ("q4_k_m", "Q8_0", "f16"); NULL when unknown. */
const qmix *qmix_find(const char *name);
/* All mixes (for usage messages); returns the count. */
int qmix_all(const qmix **out);

/* Stored type for tensor `name` with n_dims dims (ne[0] = row length) in a model of n_layers. */
dtype qmix_tensor_type(const qmix *mix, const char *name, int n_dims, const int64_t *ne,
                       int n_layers);

/* t itself when rows of n_cols fit its block, else the ecosystem's fallback (Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K/IQ4_XS -> IQ4_NL), and F16 when even 32 does not divide
 * n_cols. F32/F16/BF16 always fit. */
dtype qmix_fallback(dtype t, int64_t n_cols);

/* True for tensors kept in F32 whatever the mix (vectors, router). */
bool qmix_keeps_f32(const char *name, int n_dims);

#endif
