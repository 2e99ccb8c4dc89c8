/* imatrix.c — importance matrices in llama.cpp's imatrix GGUF layout (see imatrix.h). */
#include "model/imatrix.h"

#include "base/err.h"
#include "formats/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct im_entry {
    char *name; /* the weight tensor's name ("blk.0.attn_q.weight") */
    int64_t n_cols, n_mats;
    double *sum2;   /* n_mats × n_cols (building) */
    int64_t *count; /* n_mats (building) */
    float *value;   /* n_mats × n_cols importances (loaded), NAN rows: no activations */
} im_entry;

struct imatrix {
    im_entry *e;
    int64_t n, cap;
    int64_t n_chunks, chunk_size;
    char dataset[256];
};

static im_entry *find(const imatrix *im, const char *name)
{
    for (int64_t i = 0; i < im->n; i++)
        if (!strcmp(im->e[i].name, name)) return &im->e[i];
    return NULL;
}

static im_entry *add(imatrix *im, const char *name, size_t name_len)
{
    if (im->n == im->cap) {
        int64_t cap = im->cap ? 2 * im->cap : 64;
        im_entry *e = realloc(im->e, (size_t)cap * sizeof *e);
        if (!e) return NULL;
        im->e = e;
        im->cap = cap;
    }
    im_entry *e = &im->e[im->n];
    memset(e, 0, sizeof *e);
    e->name = malloc(name_len + 1);
    if (!e->name) return NULL;
    memcpy(e->name, name, name_len);
    e->name[name_len] = 0;
    im->n++;
    return e;
}

imatrix *imatrix_new(void)
{
    return calloc(1, sizeof(imatrix));
}

void imatrix_free(imatrix *im)
{
    if (!im) return;
    for (int64_t i = 0; i < im->n; i++) {
        free(im->e[i].name);
        free(im->e[i].sum2);
        free(im->e[i].count);
        free(im->e[i].value);
    }
    free(im->e);
    free(im);
}

static const char SUM2[] = ".in_sum2", COUNTS[] = ".counts";

static bool ends_with(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n <= m || strcmp(s + n - m, suffix)) return false;
    *stem = n - m;
    return true;
}

r1_status imatrix_load(const char *path, imatrix **out, char *err)
{
    *out = NULL;
    gguf_file *f = NULL;
    r1_status st = gguf_open(path, true, &f, err);
    if (st) return st;
    char type[32] = "";
    if (!gguf_get_str(f, "general.type", type, sizeof type, NULL) || strcmp(type, "imatrix")) {
        gguf_close(f);
        return err_set(err, R1_ERR_FORMAT,
                       "%s: not an importance matrix (general.type is \"%s\", not \"imatrix\")",
                       path, type);
    }
    imatrix *im = imatrix_new();
    if (!im) {
        gguf_close(f);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    uint32_t u = 0;
    if (gguf_get_u32(f, "imatrix.chunk_count", &u, NULL)) im->n_chunks = u;
    if (gguf_get_u32(f, "imatrix.chunk_size", &u, NULL)) im->chunk_size = u;
    st = R1_OK;
    for (int64_t i = 0; i < f->n_tensors && !st; i++) {
        const gguf_tensor *s = &f->tensors[i];
        size_t stem;
        if (!ends_with(s->name, SUM2, &stem)) continue;
        char cname[512];
        snprintf(cname, sizeof cname, "%.*s%s", (int)stem, s->name, COUNTS);
        const gguf_tensor *c = gguf_find_tensor(f, cname);
        if (!c) {
            st = err_set(err, R1_ERR_FORMAT, "%s: %s has no %s", path, s->name, cname);
            break;
        }
        const int64_t n_cols = s->ne[0], n_mats = s->n_dims > 1 ? s->ne[1] : 1;
        if (s->type != DTYPE_F32 || c->type != DTYPE_F32 || s->n_dims > 2 || n_cols <= 0 ||
            s->n_elements != n_cols * n_mats || c->n_elements != n_mats) {
            st = err_set(err, R1_ERR_FORMAT,
                         "%s: %s: expected F32 sums of n_cols x n_mats and %lld F32 counts", path,
                         s->name, (long long)n_mats);
            break;
        }
        im_entry *e = add(im, s->name, stem);
        float *v = e ? malloc((size_t)(n_cols * n_mats) * sizeof *v) : NULL;
        if (!v) {
            st = err_set(err, R1_ERR_NOMEM, "out of memory");
            break;
        }
        e->value = v;
        e->n_cols = n_cols;
        e->n_mats = n_mats;
        for (int64_t m = 0; m < n_mats && !st; m++) {
            float cnt;
            memcpy(&cnt, (const uint8_t *)c->data + 4 * m, 4);
            for (int64_t j = 0; j < n_cols; j++) {
                float s2;
                memcpy(&s2, (const uint8_t *)s->data + 4 * (m * n_cols + j), 4);
                if (!isfinite(s2) || s2 < 0 || !isfinite(cnt) || cnt < 0) {
                    st = err_set(err, R1_ERR_FORMAT, "%s: %s: value %g / count %g", path, s->name,
                                 (double)s2, (double)cnt);
                    break;
                }
                v[m * n_cols + j] = cnt > 0 ? s2 / cnt : NAN;
            }
        }
    }
    gguf_close(f);
    if (!st && im->n == 0) st = err_set(err, R1_ERR_FORMAT, "%s: no entries", path);
    if (st) {
        imatrix_free(im);
        return st;
    }
    *out = im;
    return R1_OK;
}

const float *imatrix_get(const imatrix *im, const char *name, int64_t mat, int64_t n_cols)
{
    const im_entry *e = im ? find(im, name) : NULL;
    if (!e || !e->value || mat < 0 || n_cols <= 0) return NULL;
    const float *v;
    if (e->n_cols == n_cols && mat < e->n_mats)
        v = e->value + mat * n_cols;
    else if (e->n_mats == 1 && e->n_cols % n_cols == 0 && mat < e->n_cols / n_cols)
        v = e->value + mat * n_cols; /* a per-head tensor's heads side by side (attn_k_b) */
    else
        return NULL;
    return isnan(v[0]) ? NULL : v;
}

int64_t imatrix_n_entries(const imatrix *im)
{
    return im ? im->n : 0;
}

int64_t imatrix_n_chunks(const imatrix *im)
{
    return im ? im->n_chunks : 0;
}

r1_status imatrix_accumulate(imatrix *im, const char *name, int64_t n_mats, int64_t mat,
                             int64_t n_cols, const float *x, int64_t ldx, int64_t n_tok)
{
    im_entry *e = find(im, name);
    if (!e) {
        e = add(im, name, strlen(name));
        if (!e) return R1_ERR_NOMEM;
        e->n_cols = n_cols;
        e->n_mats = n_mats;
        e->sum2 = calloc((size_t)(n_cols * n_mats), sizeof *e->sum2);
        e->count = calloc((size_t)n_mats, sizeof *e->count);
        if (!e->sum2 || !e->count) return R1_ERR_NOMEM;
    }
    if (e->n_cols != n_cols || e->n_mats != n_mats || mat < 0 || mat >= n_mats)
        return R1_ERR_INVALID_ARG;
    double *s = e->sum2 + mat * n_cols;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t j = 0; j < n_cols; j++) s[j] += (double)x[t * ldx + j] * x[t * ldx + j];
    e->count[mat] += n_tok;
    return R1_OK;
}

void imatrix_set_meta(imatrix *im, int64_t n_chunks, int64_t chunk_size, const char *dataset)
{
    im->n_chunks = n_chunks;
    im->chunk_size = chunk_size;
    snprintf(im->dataset, sizeof im->dataset, "%s", dataset ? dataset : "");
}

r1_status imatrix_save(const imatrix *im, const char *path, char *err)
{
    gguf_writer *w = gguf_writer_new();
    if (!w) return err_set(err, R1_ERR_NOMEM, "out of memory");
    gguf_writer_set_str(w, "general.type", "imatrix");
    const char *ds = im->dataset;
    gguf_writer_set_arr_str(w, "imatrix.datasets", &ds, 1);
    gguf_writer_set_u32(w, "imatrix.chunk_count", (uint32_t)im->n_chunks);
    gguf_writer_set_u32(w, "imatrix.chunk_size", (uint32_t)im->chunk_size);
    /* the data must outlive gguf_writer_write_file: one buffer for every entry's two tensors */
    size_t total = 0;
    for (int64_t i = 0; i < im->n; i++)
        total += (size_t)(im->e[i].n_cols * im->e[i].n_mats + im->e[i].n_mats);
    float *buf = malloc((total ? total : 1) * sizeof *buf);
    r1_status st = buf ? R1_OK : err_set(err, R1_ERR_NOMEM, "out of memory");
    float *p = buf;
    for (int64_t i = 0; i < im->n && !st; i++) {
        const im_entry *e = &im->e[i];
        char name[512];
        const int64_t nv = e->n_cols * e->n_mats;
        /* a loaded entry is written as its means with counts of 1 (0 where none) */
        for (int64_t k = 0; k < nv; k++)
            p[k] = e->sum2 ? (float)e->sum2[k] : isnan(e->value[k]) ? 0.0f : e->value[k];
        for (int64_t m = 0; m < e->n_mats; m++)
            p[nv + m] = e->count                         ? (float)e->count[m]
                        : isnan(e->value[m * e->n_cols]) ? 0.0f
                                                         : 1.0f;
        /* llama.cpp's layout: experts (one matrix per expert, each its own tokens) as
         * {n_cols, n_experts} sums with {1, n_experts} counts; the heads of a per-head tensor
         * (attn_k_b, attn_v_b: every head sees every token) side by side as one row with one
         * count */
        const bool experts = e->n_mats > 1 && strstr(e->name, "_exps") != NULL;
        int64_t ne[2] = {e->n_cols, e->n_mats}, nc[2] = {1, e->n_mats}, n_counts = e->n_mats;
        int sum_dims = experts ? 2 : 1, count_dims = experts ? 2 : 1;
        if (!experts && e->n_mats > 1) {
            ne[0] = nv;
            n_counts = nc[0] = 1;
        } else if (!experts) {
            nc[0] = 1;
        }
        snprintf(name, sizeof name, "%s%s", e->name, SUM2);
        st = gguf_writer_add_tensor(w, name, DTYPE_F32, sum_dims, ne, p, err);
        snprintf(name, sizeof name, "%s%s", e->name, COUNTS);
        if (!st) st = gguf_writer_add_tensor(w, name, DTYPE_F32, count_dims, nc, p + nv, err);
        p += nv + n_counts;
    }
    if (!st) st = gguf_writer_write_file(w, path, err);
    gguf_writer_free(w);
    free(buf);
    return st;
}
