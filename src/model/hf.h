/* hf.h — a Hugging Face model folder (config.json, safetensors shards, tokenizer.json) seen as the
 * GGUF metadata and tensors the engine binds, for running it directly and for `r1 convert`.
 *
 * Why this shape: model.c knows one model description, the GGUF one (ARCH.* keys, blk.N.* names,
 * ne = {cols, rows, mats}). Rather than teach every binder a second naming scheme, hf_open maps
 * config.json to the same keys a converted file would carry and each HF tensor to its GGUF name,
 * with a recipe (hf_tensor) that produces its rows: a plain copy (HF [out, in] row-major is the
 * same bytes as GGUF ne {in, out}), a stack of per-expert tensors, DeepSeek's kv_b_proj split into
 * attn_k_b (transposed per head) / attn_v_b, Llama's q/k row permutation, or FP8 block-scaled
 * weights dequantized as W[i][j] = fp8[i][j] · scale_inv[i / 128][j / 128]. For running,
 * hf_build_file assembles a gguf_file (gguf_open_parts) that model.c binds unchanged; for
 * converting, cmd_convert streams the recipes into a GGUF one tensor at a time.
 *
 * Differences between the two purposes (each keeps the engine's math identical to HF's):
 * - HF_FOR_LOAD maps deepseek2 kv_b_proj to the legacy attn_kv_b (model.c already splits it, no
 *   copy), and runs Llama q/k unpermuted with NEOX-style RoPE (key r1.rope_neox) instead of
 *   permuting rows: the same attention scores without copying q/k. It skips the MTP layer.
 * - HF_FOR_GGUF writes what the ecosystem's converter writes: split attn_k_b/attn_v_b with the
 *   *_mla keys, permuted Llama q/k, and the MTP layer as blk.L.* + blk.L.nextn.* tensors.
 * Per-expert HF tensors are stacked into one owned block at load (hf_build_file): the official
 * V3/R1 release is FP8, which is converted at load anyway, so the stack costs nothing there, and
 * the kernels keep one contiguous layout (BF16 MoE checkpoints pay one copy of their experts).
 */
#ifndef R1_MODEL_HF_H
#define R1_MODEL_HF_H

#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "r1.h"
#include "tensor/dtype.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum hf_purpose {
    HF_FOR_LOAD = 0,
    HF_FOR_GGUF = 1,
} hf_purpose;

typedef enum hf_op {
    HF_OP_COPY = 0,      /* rows of src[0], or of src[0..n_src) stacked as matrices */
    HF_OP_KV_B_K = 1,    /* attn_k_b: matrix h is the transpose of kv_b rows [h·(nope+v), +nope) */
    HF_OP_KV_B_V = 2,    /* attn_v_b: matrix h is kv_b rows [h·(nope+v) + nope, +v) */
    HF_OP_PERMUTE = 3,   /* Llama q/k: GGUF row h·d + 2i + k is HF row h·d + k·d/2 + i */
    HF_OP_GENERATED = 4, /* values computed from config.json (Llama-3 rope_freqs) */
} hf_op;

typedef struct hf_tensor {
    char name[96]; /* GGUF name */
    int n_dims;
    int64_t ne[3]; /* GGUF order: ne[0] = row length */
    hf_op op;
    int n_src;
    const st_tensor **src;   /* (n_src) HF weights */
    const st_tensor **scale; /* (n_src) FP8 weight_scale_inv, entries NULL when unscaled */
    int n_head;              /* PERMUTE: heads; KV_B_*: heads */
    int nope, v;             /* KV_B_*: per-head K and V rows of kv_b_proj */
    dtype
        native; /* F32/F16/BF16 when the rows are the sources' bytes unchanged, else DTYPE_COUNT */
    const float *generated; /* GENERATED: ne[0] values */
} hf_tensor;

typedef enum hf_kv_type {
    HF_KV_U32 = 0,
    HF_KV_F32 = 1,
    HF_KV_BOOL = 2,
    HF_KV_STR = 3,
} hf_kv_type;

typedef struct hf_kv {
    char key[96];
    hf_kv_type type;
    uint32_t u32;
    float f32;
    bool b;
    char *str; /* owned */
} hf_kv;

typedef struct hf_model {
    char *dir;
    char arch[16]; /* "deepseek2", "qwen2", "llama" */
    st_checkpoint *ck;
    int n_layers; /* num_hidden_layers (MTP layers excluded) */
    int n_nextn;  /* MTP layers present in the tensors (HF_FOR_GGUF only) */
    int n_kv;
    hf_kv *kv; /* general.* and ARCH.* metadata */
    int n_tensors;
    hf_tensor *tensors;
    bool is_fp8;                /* some weights are FP8 */
    int block_rows, block_cols; /* FP8 scale blocks (weight_block_size), default 128 × 128 */
    bool has_tokenizer;         /* tokenizer.json present */
    char tokenizer_path[4096 + 32], tokenizer_config_path[4096 + 32]; /* config "" when absent */
    /* private */
    void **owned;
    int n_owned, cap_owned;
} hf_model;

/* True when path is a directory holding a config.json. */
bool hf_is_folder(const char *path);

/* Read config.json and the checkpoint, map every tensor. log_fn (may be NULL) receives warnings
 * (unused HF tensors, a skipped MTP layer). */
r1_status hf_open(const char *dir, hf_purpose purpose, bool use_mmap, r1_log_fn log_fn,
                  void *log_user, hf_model **out_hf, char *err);
void hf_close(hf_model *hf);

/* Rows [row0, row0 + n_rows) of t, rows counted across matrices (ne[1]·ne[2] in all), as fp32
 * into dst (n_rows × ne[0]). Thread-safe. */
void hf_read_rows(const hf_model *hf, const hf_tensor *t, int64_t row0, int64_t n_rows, float *dst);

/* Drop t's source pages from the resident set (st_release) once they have been consumed. */
void hf_release(const hf_model *hf, const hf_tensor *t);

/* For HF_FOR_LOAD: a gguf_file the model binds like a GGUF. Tensors already in F32/F16/BF16 point
 * into the mapped shards (copied only when stacked or misaligned); FP8 matrices are converted to
 * `fp8_type` (with qmix_fallback for rows its block does not divide), vectors to F32, on n_threads
 * threads (0 = all cores). The file borrows from hf: close it before hf_close. */
r1_status hf_build_file(hf_model *hf, dtype fp8_type, int n_threads, gguf_file **out_file,
                        char *err);

/* Write hf's metadata (general.*, ARCH.*) to a GGUF writer. */
void hf_write_metadata(const hf_model *hf, gguf_writer *w);

#endif
