/* fuzz_gguf.c — libFuzzer target: arbitrary bytes as a GGUF file, then as a model.
 *
 * 1. gguf_open_memory parses the bytes. When it accepts them, every kv, array element, string
 *    and tensor byte is read (summed into a sink) and the reader's promises are checked: lookups
 *    find each key and tensor, every tensor lies inside the data section, aligned, with the byte
 *    size its type and shape imply, and no two tensors overlap. A broken promise aborts.
 * 2. When the file names an architecture, the same bytes go to r1_model_load through a memfd (a
 *    file in memory: no disk I/O), and a model that loads evaluates two tokens.
 *
 * Build and run: docs/fuzzing.md. tests/unit/test_fuzz_corpus_gguf.c includes this file and
 * replays fuzz/corpus/gguf through fuzz_gguf_one() in CI, without libFuzzer.
 */
#include "formats/gguf.h"
#include "r1.h"
#include "tensor/dtype.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint64_t fuzz_sink;

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gguf: broken promise: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t sum_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) h = h * 31 + b[i];
    return h;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Read everything the parsed file exposes and check the reader's promises. */
static uint64_t fuzz_touch(const gguf_file *f)
{
    uint64_t h = f->version + f->alignment + f->data_offset;
    FUZZ_ASSERT(f->alignment >= 1 && (f->alignment & (f->alignment - 1)) == 0);
    FUZZ_ASSERT(f->data_offset <= f->size &&
                (f->n_tensors == 0 || f->data_offset % f->alignment == 0));
    for (int64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        size_t klen = strlen(kv->key);
        FUZZ_ASSERT(klen >= 1 && klen <= 256);
        FUZZ_ASSERT(gguf_find(f, kv->key) == kv);
        FUZZ_ASSERT((unsigned)kv->type < GGUF_VTYPE_COUNT);
        h += sum_bytes(kv->key, klen) + kv->type;
        uint32_t u;
        float x;
        bool b, bad = false;
        char s[16];
        if (gguf_get_u32(f, kv->key, &u, &bad)) h += u;
        if (gguf_get_f32(f, kv->key, &x, &bad)) h += f64_bits(x);
        if (gguf_get_bool(f, kv->key, &b, &bad)) h += b;
        if (gguf_get_str(f, kv->key, s, sizeof s, &bad)) h += sum_bytes(s, strlen(s));
        h += bad;
        if (kv->type == GGUF_STRING) {
            h += sum_bytes(kv->v.str.data, (size_t)kv->v.str.len);
        } else if (kv->type != GGUF_ARRAY) {
            h += kv->v.u64;
        } else if (kv->arr_type == GGUF_STRING) {
            for (uint64_t j = 0; j < kv->arr_n; j++)
                h += sum_bytes(kv->arr_str[j].data, (size_t)kv->arr_str[j].len);
        } else {
            FUZZ_ASSERT(kv->arr_type != GGUF_ARRAY && (unsigned)kv->arr_type < GGUF_VTYPE_COUNT);
            for (uint64_t j = 0; j < kv->arr_n; j++)
                h += (uint64_t)gguf_arr_i64(kv, j) + f64_bits(gguf_arr_f64(kv, j));
            h += (uint64_t)gguf_arr_i64(kv, kv->arr_n); /* out of range: 0 */
        }
    }
    const uint8_t *data = f->base + f->data_offset;
    size_t data_size = f->size - f->data_offset;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        FUZZ_ASSERT(gguf_find_tensor(f, t->name) == t);
        const dtype_traits *tr = dtype_get(t->type);
        FUZZ_ASSERT(tr && tr->is_supported && t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
        int64_t n_el = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) {
            FUZZ_ASSERT(t->ne[d] >= 1 && (d < t->n_dims || t->ne[d] == 1));
            n_el *= t->ne[d];
        }
        FUZZ_ASSERT(n_el == t->n_elements && t->ne[0] % tr->block_size == 0);
        FUZZ_ASSERT(t->n_bytes == dtype_row_bytes(t->type, t->ne[0]) * (size_t)(n_el / t->ne[0]));
        FUZZ_ASSERT(t->offset % f->alignment == 0 && t->offset <= data_size &&
                    t->n_bytes <= data_size - t->offset);
        FUZZ_ASSERT((const uint8_t *)t->data == data + t->offset);
        h += sum_bytes(t->data, t->n_bytes);
        for (int64_t j = 0; j < i; j++) { /* no overlap (files here are small) */
            const gguf_tensor *o = &f->tensors[j];
            FUZZ_ASSERT(o->offset + o->n_bytes <= t->offset || t->offset + t->n_bytes <= o->offset);
        }
    }
    return h;
}

/* A memfd holding the current input, so r1_model_load can open it by path. */
static int fuzz_memfd = -1;

static bool fuzz_put_file(const uint8_t *data, size_t size, char *path, size_t cap)
{
    if (fuzz_memfd < 0 && (fuzz_memfd = memfd_create("fuzz_gguf", 0)) < 0) return false;
    if (ftruncate(fuzz_memfd, 0) != 0) return false;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fuzz_memfd, data + done, size - done, (off_t)done);
        if (n <= 0) return false;
        done += (size_t)n;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fuzz_memfd);
    return true;
}

/* Returns how far the input got: 0 rejected by the reader, 1 parsed, 2 loaded as a model,
 * 3 a model that also evaluated two tokens. */
static int fuzz_gguf_one(const uint8_t *data, size_t size)
{
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open_memory(data, size, "fuzz.gguf", &f, err) != R1_OK) {
        FUZZ_ASSERT(memchr(err, 0, sizeof err) && strstr(err, "fuzz.gguf"));
        return 0;
    }
    fuzz_sink += fuzz_touch(f);
    bool has_arch = gguf_find(f, "general.architecture") != NULL;
    gguf_close(f);
    char path[64];
    if (!has_arch || !fuzz_put_file(data, size, path, sizeof path)) return 1;

    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    r1_model *m = NULL;
    if (r1_model_load(path, &mp, &m, err) != R1_OK) {
        FUZZ_ASSERT(memchr(err, 0, sizeof err) && strstr(err, path));
        return 1;
    }
    int stage = 2;
    r1_model_info info;
    r1_model_get_info(m, &info);
    FUZZ_ASSERT(info.n_vocab >= 1 && info.n_layers >= 1 && info.n_embd >= 1);
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = 4;
    r1_session *s = NULL;
    if (r1_session_new(m, &sp, &s, err) == R1_OK) {
        const int32_t ids[2] = {0, info.n_vocab - 1};
        if (r1_session_eval(s, ids, 2, err) == R1_OK) {
            const float *logits = r1_session_logits(s);
            fuzz_sink += sum_bytes(logits, (size_t)info.n_vocab * sizeof(float));
            stage = 3;
        }
        r1_session_free(s);
    }
    r1_model_free(m);
    return stage;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_gguf_one(data, size);
    return 0;
}
#endif
