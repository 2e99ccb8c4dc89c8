/* test_imatrix.c — importance matrices in llama.cpp's format, both directions.
 *
 * 1. llama-imatrix's files (tests/data/iq/models/NAME.gguf-imatrix) load, and saving what was
 *    loaded and loading it again gives the same importances for every entry and matrix.
 * 2. r1's own statistics (the matmul observer of the public API, accumulated as r1 imatrix does)
 *    over this repository's README, saved: the file has exactly llama.cpp's entries for the same
 *    model (names, tensor shapes, count shapes; r1 adds output.weight), and each entry's
 *    per-column importances rank-correlate with llama.cpp's (Spearman), although its calibration
 *    text was another: the importances are mostly the model's own (norm weights, which
 *    directions activations take), measured 0.70-0.85 on qwen2. Bar: > 0.4 on average. */
#include "formats/gguf.h"
#include "model/imatrix.h"
#include "r1.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void observe(void *user, const char *tensor, int64_t mat, int64_t n_mats, int64_t n_cols,
                    const float *x, int64_t ldx, int64_t n_tok)
{
    CHECK(imatrix_accumulate(user, tensor, n_mats, mat, n_cols, x, ldx, n_tok) == R1_OK);
}

static const float *sort_vals;
static int cmp_idx(const void *a, const void *b)
{
    float x = sort_vals[*(const int *)a], y = sort_vals[*(const int *)b];
    return (x > y) - (x < y);
}

/* Spearman rank correlation of a and b (n values; ties broken by position) */
static double spearman(const float *a, const float *b, int n)
{
    int *ia = malloc((size_t)n * sizeof *ia), *ib = malloc((size_t)n * sizeof *ib);
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    for (int i = 0; i < n; i++) ia[i] = ib[i] = i;
    sort_vals = a;
    qsort(ia, (size_t)n, sizeof *ia, cmp_idx);
    sort_vals = b;
    qsort(ib, (size_t)n, sizeof *ib, cmp_idx);
    for (int i = 0; i < n; i++) {
        ra[ia[i]] = i;
        rb[ib[i]] = i;
    }
    double m = (n - 1) / 2.0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - m) * (rb[i] - m);
        saa += (ra[i] - m) * (ra[i] - m);
        sbb += (rb[i] - m) * (rb[i] - m);
    }
    free(ia);
    free(ib);
    free(ra);
    free(rb);
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

static void round_trip(const char *path)
{
    char err[R1_ERR_MAX], tmp[256];
    imatrix *a = NULL, *b = NULL;
    CHECKF(imatrix_load(path, &a, err) == R1_OK, "%s", err);
    snprintf(tmp, sizeof tmp, "/tmp/r1_test_imatrix_rt_%d.gguf", (int)getpid());
    CHECKF(a && imatrix_save(a, tmp, err) == R1_OK, "save: %s", err);
    CHECKF(imatrix_load(tmp, &b, err) == R1_OK, "reload: %s", err);
    gguf_file *f = NULL;
    CHECK(gguf_open(path, true, &f, err) == R1_OK);
    int checked = 0;
    for (int64_t i = 0; f && b && i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const char *dot = strstr(t->name, ".in_sum2");
        if (!dot) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(dot - t->name), t->name);
        const int64_t n_cols = t->ne[0], n_mats = t->n_dims > 1 ? t->ne[1] : 1;
        for (int64_t m = 0; m < n_mats; m++) {
            const float *x = imatrix_get(a, name, m, n_cols), *y = imatrix_get(b, name, m, n_cols);
            CHECKF((x == NULL) == (y == NULL), "%s[%lld]: present in one only", name, (long long)m);
            if (x && y) {
                int bad = 0;
                for (int64_t c = 0; c < n_cols; c++)
                    bad += fabsf(x[c] - y[c]) > 1e-6f * fabsf(x[c]);
                CHECKF(bad == 0, "%s[%lld]: %d values differ after a round trip", name,
                       (long long)m, bad);
                checked++;
            }
        }
    }
    CHECKF(checked > 0, "%s: nothing checked", path);
    unlink(tmp);
    gguf_close(f);
    imatrix_free(a);
    imatrix_free(b);
}

static void own_vs_llama(const char *model, const char *theirs_path)
{
    char err[R1_ERR_MAX], out[256];
    size_t text_len = 0;
    char *text = test_read_file(R1_TEST_DATA "/../../README.md", &text_len);
    CHECK(text != NULL);
    r1_model *m = NULL;
    r1_session *s = NULL;
    CHECKF(r1_model_load(model, NULL, &m, err) == R1_OK, "%s", err);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK(m && text && r1_tokenize(m, text, text_len, false, false, &ids, &n_ids, err) == R1_OK);
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = 64;
    sp.n_batch = 64;
    imatrix *im = imatrix_new();
    CHECK(m && r1_session_new(m, &sp, &s, err) == R1_OK);
    if (s) r1_session_set_matmul_observer(s, observe, im);
    int n_chunks = 0;
    for (size_t i = 0; s && i + 64 <= n_ids && n_chunks < 24; i += 64, n_chunks++) {
        CHECK(r1_session_rewind(s, 0) == R1_OK);
        CHECK(r1_session_eval(s, ids + i, 64, err) == R1_OK);
    }
    imatrix_set_meta(im, n_chunks, 64, "README.md");
    snprintf(out, sizeof out, "/tmp/r1_test_imatrix_own_%d.gguf", (int)getpid());
    CHECKF(imatrix_save(im, out, err) == R1_OK, "%s", err);

    /* same entries and shapes as llama.cpp's file */
    gguf_file *ours = NULL, *theirs = NULL;
    CHECK(gguf_open(out, true, &ours, err) == R1_OK);
    CHECK(gguf_open(theirs_path, true, &theirs, err) == R1_OK);
    imatrix *ti = NULL, *oi = NULL;
    CHECK(imatrix_load(theirs_path, &ti, err) == R1_OK && imatrix_load(out, &oi, err) == R1_OK);
    double corr_sum = 0;
    int n_corr = 0;
    for (int64_t i = 0; theirs && ours && i < theirs->n_tensors; i++) {
        const gguf_tensor *t = &theirs->tensors[i], *o = gguf_find_tensor(ours, t->name);
        CHECKF(o != NULL, "%s: r1's imatrix lacks %s", model, t->name);
        if (!o) continue;
        bool same = o->n_dims == t->n_dims;
        for (int d = 0; same && d < t->n_dims; d++) same = o->ne[d] == t->ne[d];
        CHECKF(same, "%s: %s has another shape", model, t->name);
        const char *dot = strstr(t->name, ".in_sum2");
        if (!dot || !same) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(dot - t->name), t->name);
        const int64_t n_cols = t->ne[0], n_mats = t->n_dims > 1 ? t->ne[1] : 1;
        for (int64_t mm = 0; mm < n_mats; mm++) {
            const float *a = imatrix_get(oi, name, mm, n_cols),
                        *b = imatrix_get(ti, name, mm, n_cols);
            if (!a || !b) continue; /* an expert one of the texts never reached */
            corr_sum += spearman(a, b, (int)n_cols);
            n_corr++;
        }
    }
    for (int64_t i = 0; ours && i < ours->n_tensors; i++) {
        const char *n = ours->tensors[i].name;
        CHECKF(gguf_find_tensor(theirs, n) || !strncmp(n, "output.weight.", 14),
               "%s: r1 has %s, llama.cpp not", model, n);
    }
    const double mean = n_corr ? corr_sum / n_corr : 0;
    printf("%s: %d chunks, %d matrices compared, mean rank correlation with llama.cpp's %.3f\n",
           model, n_chunks, n_corr, mean);
    CHECKF(n_corr > 0 && mean > 0.4, "%s: mean rank correlation %.3f", model, mean);
    unlink(out);
    imatrix_free(im);
    imatrix_free(ti);
    imatrix_free(oi);
    gguf_close(ours);
    gguf_close(theirs);
    free(ids);
    free(text);
    r1_session_free(s);
    r1_model_free(m);
}

int main(void)
{
    /* the absorbed MLA form multiplies by attn_k_b itself (as r1 imatrix arranges) */
    setenv("R1_PREFILL_ATTN", "tokenwise", 1);
    round_trip(R1_TEST_DATA "/iq/models/qwen2.gguf-imatrix");
    round_trip(R1_TEST_DATA "/iq/models/ds3-new.gguf-imatrix");
    own_vs_llama(R1_TEST_DATA "/models/qwen2-f32.gguf",
                 R1_TEST_DATA "/iq/models/qwen2.gguf-imatrix");
    own_vs_llama(R1_TEST_DATA "/models/ds3-new-f32.gguf",
                 R1_TEST_DATA "/iq/models/ds3-new.gguf-imatrix");
    /* not an imatrix */
    char err[R1_ERR_MAX];
    imatrix *x = NULL;
    CHECK(imatrix_load(R1_TEST_DATA "/models/qwen2-f32.gguf", &x, err) == R1_ERR_FORMAT && !x &&
          strstr(err, "not an importance matrix"));
    return test_finish();
}
