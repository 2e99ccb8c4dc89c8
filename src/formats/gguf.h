/* gguf.h — read and write GGUF files (versions 2 and 3).
 *
 * The reader validates the whole header up front (see gguf.c for the byte layout and the list of
 * checks) and then exposes metadata and tensor infos as plain structs. Strings and numeric array
 * payloads point into the mapped file (not NUL-terminated: use the length); keys and tensor names
 * are copied and NUL-terminated. Everything returned stays valid until gguf_close().
 *
 * The writer collects metadata and tensor infos in memory, then streams the file: header first,
 * then each tensor's bytes in the order they were added, so a model larger than RAM can be written
 * one tensor at a time (gguf_writer_begin / gguf_writer_write_tensor / gguf_writer_finish).
 */
#ifndef R1_FORMATS_GGUF_H
#define R1_FORMATS_GGUF_H

#include "r1.h"
#include "tensor/dtype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gguf_vtype {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_VTYPE_COUNT = 13,
} gguf_vtype;

typedef struct gguf_str {
    const char *data; /* not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    char *key;       /* NUL-terminated copy */
    gguf_vtype type; /* value type; GGUF_ARRAY for arrays */
    union {
        uint64_t u64; /* all unsigned integer types and bool, widened */
        int64_t i64;  /* all signed integer types, widened */
        double f64;   /* float32 / float64, widened */
        gguf_str str;
    } v;
    /* arrays */
    gguf_vtype arr_type;  /* element type (never GGUF_ARRAY: nested arrays are rejected) */
    uint64_t arr_n;       /* element count */
    const void *arr_data; /* numeric elements, little-endian, possibly unaligned: use gguf_arr_* */
    gguf_str *arr_str;    /* string elements (arr_n of them), allocated */
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    char *name; /* NUL-terminated copy */
    dtype type;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* elements per dimension, ne[0] fastest; unused dims are 1 */
    int64_t n_elements;
    uint64_t offset;  /* from the start of the data section */
    size_t n_bytes;   /* bytes in the file */
    const void *data; /* into the mapping */
} gguf_tensor;

typedef struct gguf_file {
    char *path;
    uint32_t version;
    uint64_t alignment;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
    const uint8_t *base; /* start of the file bytes */
    size_t size;         /* file size */
    size_t data_offset;  /* start of the tensor data section */
    /* a split model opened with gguf_open_model: the shards (each a complete gguf_file, owned and
     * closed with this one), in order; tensors point into their mappings. 0/NULL otherwise. */
    int n_shards;
    struct gguf_file **shards;
    /* private */
    void *map_handle;    /* base/mmap.h mapping, or NULL for gguf_open_memory */
    void *private_index; /* name hash sets for lookups */
} gguf_file;

/* Open and validate a GGUF file. use_mmap=false reads it into memory instead. */
r1_status gguf_open(const char *path, bool use_mmap, gguf_file **out_file, char *err);
/* Parse a GGUF image already in memory (borrowed: must outlive the gguf_file). For fuzzing/tests.
 */
r1_status gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out_file,
                           char *err);
void gguf_close(gguf_file *file);
/* Open a model file that may be the first shard of a split model (llama.cpp's gguf-split:
 * PREFIX-00001-of-0000N.gguf ... with split.no / split.count / split.tensors.count). A plain file
 * is opened as by gguf_open. For a split model every shard is opened (mapped, lazily) and checked,
 * and the result is one gguf_file: the first shard's metadata without the split.* keys, and all
 * tensors of all shards, so that callers need not know the model was split. */
r1_status gguf_open_model(const char *path, bool use_mmap, gguf_file **out_file, char *err);
/* Let the mapped pages of [p, p+n) go (the bytes were copied elsewhere); a no-op for memory that
 * is not part of the file's (or its shards') mapping. */
void gguf_release_pages(const gguf_file *file, const void *p, size_t n);
/* Assemble a gguf_file from parts built in memory (the Hugging Face folder loader, so that the
 * model binds it exactly like a file). Takes ownership of the malloc'd arrays kv[n_kv] and
 * tensors[n_tensors] and of their malloc'd keys/names and arr_str arrays (what gguf_close frees);
 * string/array payloads and tensor data stay borrowed and must outlive the file. Checks
 * keys and names for duplicates. On failure everything passed in is freed. */
r1_status gguf_open_parts(const char *path, gguf_kv *kv, int64_t n_kv, gguf_tensor *tensors,
                          int64_t n_tensors, gguf_file **out_file, char *err);

const gguf_kv *gguf_find(const gguf_file *file, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *file, const char *name);

/* Typed getters. They return false when the key is absent; when it is present with a type that
 * cannot represent the request (a string asked as u32, a negative value as unsigned, a value over
 * the target's range), they return false and set *out_bad = true if out_bad is not NULL. */
bool gguf_get_u32(const gguf_file *file, const char *key, uint32_t *out, bool *out_bad);
bool gguf_get_f32(const gguf_file *file, const char *key, float *out, bool *out_bad);
bool gguf_get_bool(const gguf_file *file, const char *key, bool *out, bool *out_bad);
/* Copies a string value into out (NUL-terminated, truncated to cap). */
bool gguf_get_str(const gguf_file *file, const char *key, char *out, size_t cap, bool *out_bad);

/* Array element access (numeric arrays; i < kv->arr_n). */
int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i);
double gguf_arr_f64(const gguf_kv *kv, uint64_t i);

const char *gguf_vtype_name(gguf_vtype type);

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);

/* Metadata setters copy their arguments. Setting a key twice replaces the value. */
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
void gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
void gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
/* Copy a key/value (any type) from a file being read. */
void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);

/* Declare a tensor. `data` (may be NULL) is borrowed until the file is written: with data given,
 * gguf_writer_write_file writes everything; without, use begin / write_tensor / finish. */
r1_status gguf_writer_add_tensor(gguf_writer *w, const char *name, dtype type, int n_dims,
                                 const int64_t *ne, const void *data, char *err);

r1_status gguf_writer_write_file(gguf_writer *w, const char *path, char *err);

/* Streaming: begin writes header + tensor infos; write_tensor must be called for each tensor in
 * declaration order with exactly its byte size; finish flushes and closes (atomic: the file
 * appears under `path` only on success — it is written to path.tmp and renamed). */
r1_status gguf_writer_begin(gguf_writer *w, const char *path, char *err);
r1_status gguf_writer_write_tensor(gguf_writer *w, const void *data, size_t n_bytes, char *err);
r1_status gguf_writer_finish(gguf_writer *w, char *err);
/* Like write_tensor, but the current tensor's bytes may arrive in several calls. */
r1_status gguf_writer_write_tensor_part(gguf_writer *w, const void *data, size_t n_bytes,
                                        char *err);
/* Number of tensors declared so far, and the byte size of tensor i. */
size_t gguf_writer_n_tensors(const gguf_writer *w);
size_t gguf_writer_tensor_bytes(const gguf_writer *w, size_t i);

#endif
