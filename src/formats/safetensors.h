/* safetensors.h — read Hugging Face safetensors checkpoints: one file or a sharded set described
 * by model.safetensors.index.json, mapped read-only.
 *
 * Every shard is validated completely at open (see safetensors.c for the byte layout and the list
 * of checks); afterwards the checkpoint is a flat, name-indexed list of tensors whose `data` points
 * into the mappings. Shapes are in the file's (numpy) order: shape[n_dims-1] varies fastest, so a
 * PyTorch Linear weight [out, in] is `in`-contiguous rows — the same bytes as a GGUF tensor with
 * ne = {in, out}. Everything stays valid until st_close().
 *
 * Usage:
 *   st_checkpoint *ck; char err[R1_ERR_MAX];
 *   if (st_open("DeepSeek-R1/", true, &ck, err)) ...     // dir, index .json or .safetensors
 *   const st_tensor *t = st_find(ck, "model.embed_tokens.weight");
 *   st_read_f32(t, 0, t->n_elements, buf);               // any float dtype, FP8 included
 *   st_close(ck);
 */
#ifndef R1_FORMATS_SAFETENSORS_H
#define R1_FORMATS_SAFETENSORS_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum st_dtype {
    ST_BOOL = 0,
    ST_U8,
    ST_I8,
    ST_U16,
    ST_I16,
    ST_U32,
    ST_I32,
    ST_U64,
    ST_I64,
    ST_F16,
    ST_BF16,
    ST_F32,
    ST_F64,
    ST_F8_E4M3, /* "F8_E4M3": e4m3fn (no infinities, S.1111.111 is NaN), DeepSeek-V3's weights */
    ST_F8_E5M2, /* "F8_E5M2": IEEE-like, with infinities */
    ST_DTYPE_COUNT,
} st_dtype;

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER_BYTES (100u << 20) /* same cap as the reference implementation */
#define ST_MAX_SHARDS 4096

typedef struct st_tensor {
    char *name; /* NUL-terminated copy */
    st_dtype dtype;
    int n_dims;                 /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS]; /* numpy order: the last dimension is contiguous */
    int64_t n_elements;         /* product of shape (1 for a scalar) */
    size_t n_bytes;             /* n_elements × dtype size */
    const void *data;           /* into the shard's mapping; no alignment is guaranteed */
    int shard;                  /* index into st_checkpoint.shard_paths */
} st_tensor;

typedef struct st_checkpoint {
    char *path; /* what was opened (for messages) */
    int n_shards;
    char **shard_paths; /* (n_shards) */
    int64_t n_tensors;
    st_tensor *tensors; /* (n_tensors), shard by shard in file order */
    /* private */
    void **maps; /* (n_shards) base/mmap.h mappings, NULL entries for st_open_memory */
    void *private_index;
} st_checkpoint;

/* Open a checkpoint. path: a directory (model.safetensors.index.json, else model.safetensors), an
 * index .json, or one .safetensors file. use_mmap=false reads the shards into memory. */
r1_status st_open(const char *path, bool use_mmap, st_checkpoint **out_ck, char *err);
/* Parse one safetensors image already in memory (borrowed: must outlive the checkpoint). */
r1_status st_open_memory(const void *data, size_t size, const char *name, st_checkpoint **out_ck,
                         char *err);
void st_close(st_checkpoint *ck);

const st_tensor *st_find(const st_checkpoint *ck, const char *name);

const char *st_dtype_name(st_dtype dtype);
size_t st_dtype_size(st_dtype dtype);
/* F16, BF16, F32, F64, F8_E4M3, F8_E5M2 */
bool st_dtype_is_float(st_dtype dtype);

/* Exact decoding of the 8-bit float formats (every code is representable in fp32). */
float st_fp8_e4m3_to_f32(uint8_t v);
float st_fp8_e5m2_to_f32(uint8_t v);

/* Convert elements [first, first + n) of a float tensor to fp32. False for non-float dtypes or a
 * range outside the tensor. */
bool st_read_f32(const st_tensor *t, int64_t first, int64_t n, float *dst);

/* Tell the OS this process is done with the tensor's pages for now (a mapped shard's pages leave
 * the resident set; the page cache keeps them). Lets a converter stream a checkpoint larger than
 * RAM with bounded RSS. A no-op for shards read into memory. */
void st_release(const st_checkpoint *ck, const st_tensor *t);

#endif
