/* quantize.c — tools/quantize.h: every tensor of a GGUF dequantized exactly and quantized again to
 * its type in a mix (model/qmix.h), in chunks of rows on the library's pool, streamed to the
 * output through the GGUF writer; the input's pages are dropped after each tensor. */
#include "tools/quantize.h"

#include "base/threadpool.h"
#include "formats/gguf.h"
#include "model/imatrix.h"
#include "model/qmix.h"
#include "tensor/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_FLOATS (4u << 20)

const char *tools_quant_mix(int i)
{
    const qmix *m;
    int n = qmix_all(&m);
    return i >= 0 && i < n ? m[i].name : NULL;
}

bool tools_quant_mix_known(const char *name)
{
    return name && qmix_find(name) != NULL;
}

typedef struct q_job {
    const gguf_tensor *t;
    const imatrix *im;
    dtype type;
    int64_t row0, n_rows;
    size_t in_row_bytes, out_row_bytes;
    uint8_t *out;
    float *rows;
    bool failed;
} q_job;

static void q_worker(void *p, int ith, int nth)
{
    q_job *j = p;
    int64_t cols = j->t->ne[0];
    long b, e;
    threadpool_split((long)j->n_rows, ith, nth, &b, &e);
    const uint8_t *in = (const uint8_t *)j->t->data + (size_t)j->row0 * j->in_row_bytes;
    for (long r = b; r < e; r++) {
        float *x = j->rows + r * cols;
        /* an expert tensor's rows belong to matrix (row / rows per expert), each with its own
         * statistics */
        const int64_t mat = j->t->n_dims == 3 ? (j->row0 + r) / j->t->ne[1] : 0;
        const float *w = imatrix_get(j->im, j->t->name, mat, cols);
        if (!quant_dequantize_row(j->t->type, in + (size_t)r * j->in_row_bytes, x, cols) ||
            !quant_quantize_row_imatrix(j->type, x, j->out + (size_t)r * j->out_row_bytes, cols, w))
            __atomic_store_n(&j->failed, true, __ATOMIC_RELAXED);
    }
}

static void release_pages(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)p & ~(uintptr_t)(page - 1), e = (uintptr_t)p + n;
    if (n) madvise((void *)b, e - b, MADV_DONTNEED);
}

int tools_quantize(const tools_quantize_options *o)
{
    const qmix *mix = qmix_find(o->type);
    if (!mix) {
        fprintf(stderr, "r1 quantize: unknown type '%s'\n", o->type ? o->type : "");
        return 2;
    }
    const char *pos[2] = {o->in, o->out}, *im_path = o->imatrix;
    const int n_threads = o->n_threads;
    char err[R1_ERR_MAX];
    imatrix *im = NULL;
    if (im_path && imatrix_load(im_path, &im, err)) {
        fprintf(stderr, "r1 quantize: %s\n", err);
        return 1;
    }
    if (mix->needs_imatrix && !im) {
        fprintf(stderr,
                "r1 quantize: %s needs an importance matrix: its 1-2-bit types lose too much "
                "without\none. Make one with llama.cpp's llama-imatrix on a calibration text "
                "and pass\n--imatrix FILE.\n",
                mix->name);
        return 2;
    }
    gguf_file *f = NULL;
    if (gguf_open_model(pos[0], true, &f, err)) {
        imatrix_free(im);
        fprintf(stderr, "r1 quantize: %s\n", err);
        return 1;
    }
    char arch[32] = "", key[64];
    uint32_t n_layers = 0;
    gguf_get_str(f, "general.architecture", arch, sizeof arch, NULL);
    snprintf(key, sizeof key, "%s.block_count", arch);
    gguf_get_u32(f, key, &n_layers, NULL);

    gguf_writer *w = gguf_writer_new();
    threadpool *pool = threadpool_new(n_threads);
    float *rows = malloc(CHUNK_FLOATS * sizeof *rows);
    uint8_t *obuf = malloc(CHUNK_FLOATS * sizeof(float));
    dtype *types = calloc((size_t)f->n_tensors + 1, sizeof *types);
    int rc = 1;
    if (!w || !pool || !rows || !obuf || !types) {
        fprintf(stderr, "r1 quantize: out of memory\n");
        goto done;
    }
    for (int64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, "general.file_type") &&
            strcmp(f->kv[i].key, "general.quantization_version"))
            gguf_writer_copy_kv(w, &f->kv[i]);
    gguf_writer_set_u32(w, "general.file_type", (uint32_t)mix->file_type);
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    int counts[DTYPE_COUNT] = {0};
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        types[i] = qmix_tensor_type(mix, t->name, t->n_dims, t->ne, (int)n_layers);
        counts[types[i]]++;
        /* a 1-2-bit tensor without statistics would be quantized blind: refuse, naming it */
        const dtype ty = types[i];
        const bool low = ty == DTYPE_IQ1_S || ty == DTYPE_IQ1_M || ty == DTYPE_IQ2_XXS ||
                         ty == DTYPE_IQ2_XS || ty == DTYPE_IQ2_S;
        bool any = false;
        for (int64_t m = 0; im && m < (t->n_dims == 3 ? t->ne[2] : 1) && !any; m++)
            any = imatrix_get(im, t->name, m, t->ne[0]) != NULL;
        if (low && t->type != ty && im && !any) {
            fprintf(stderr,
                    "r1 quantize: %s: the importance matrix has no statistics for this tensor "
                    "(was it made\nfrom this model?); %s needs them\n",
                    t->name, dtype_get(ty)->name);
            goto done;
        }
        if (t->ne[0] > (int64_t)CHUNK_FLOATS) {
            fprintf(stderr, "r1 quantize: %s: rows of %lld elements are too long\n", t->name,
                    (long long)t->ne[0]);
            goto done;
        }
        if (gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne, NULL, err)) {
            fprintf(stderr, "r1 quantize: %s\n", err);
            goto done;
        }
    }
    if (gguf_writer_begin(w, pos[1], err)) {
        fprintf(stderr, "r1 quantize: %s\n", err);
        goto done;
    }
    uint64_t in_bytes = 0, out_bytes = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (isatty(2)) {
            int width = 30, done_w = (int)(width * i / (f->n_tensors ? f->n_tensors : 1));
            fprintf(stderr, "\r[%.*s%*s] %lld/%lld %-40.40s", done_w,
                    "##############################", width - done_w, "", (long long)i,
                    (long long)f->n_tensors, t->name);
        }
        in_bytes += t->n_bytes;
        if (t->type == types[i]) {
            if (gguf_writer_write_tensor(w, t->data, t->n_bytes, err)) {
                fprintf(stderr, "r1 quantize: %s\n", err);
                goto done;
            }
            out_bytes += t->n_bytes;
        } else {
            int64_t cols = t->ne[0], n_rows = t->n_elements / cols;
            size_t in_rb = dtype_row_bytes(t->type, cols), out_rb = dtype_row_bytes(types[i], cols);
            int64_t per = (int64_t)(CHUNK_FLOATS / (uint64_t)cols);
            for (int64_t r0 = 0; r0 < n_rows; r0 += per) {
                int64_t n = n_rows - r0 < per ? n_rows - r0 : per;
                q_job job = {t, im, types[i], r0, n, in_rb, out_rb, obuf, rows, false};
                threadpool_run(pool, q_worker, &job);
                if (job.failed) {
                    fprintf(stderr, "r1 quantize: %s: cannot convert %s to %s\n", t->name,
                            dtype_get(t->type)->name, dtype_get(types[i])->name);
                    goto done;
                }
                if (gguf_writer_write_tensor_part(w, obuf, (size_t)n * out_rb, err)) {
                    fprintf(stderr, "r1 quantize: %s\n", err);
                    goto done;
                }
                out_bytes += (uint64_t)n * out_rb;
            }
        }
        release_pages(t->data, t->n_bytes);
    }
    if (gguf_writer_finish(w, err)) {
        fprintf(stderr, "r1 quantize: %s\n", err);
        goto done;
    }
    if (isatty(2)) fputc('\n', stderr);
    fprintf(stderr, "r1 quantize: wrote %s (%s): %.2f GiB -> %.2f GiB;", pos[1], mix->name,
            in_bytes / (double)(1ull << 30), out_bytes / (double)(1ull << 30));
    for (int t = 0; t < DTYPE_COUNT; t++)
        if (counts[t]) fprintf(stderr, " %s×%d", dtype_get((uint32_t)t)->name, counts[t]);
    fputc('\n', stderr);
    rc = 0;
done:
    free(types);
    free(rows);
    free(obuf);
    threadpool_free(pool);
    gguf_writer_free(w);
    gguf_close(f);
    imatrix_free(im);
    return rc;
}
