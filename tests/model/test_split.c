/* test_split.c — models split into shards the way llama.cpp's gguf-split writes them.
 *
 * Splits fixtures into 2 and 3 shards in a temp folder (first shard: all metadata; every shard:
 * split.no / split.count as u16, split.tensors.count as i32) and checks:
 *  - loading the first shard gives logits bit-identical to the unsplit file (mmap and read), and
 *    gguf_open_model presents one tensor set without the split.* keys;
 *  - errors, each naming what to fix: a non-first shard passed (names the first), a missing shard
 *    (names it), a shard from another split (count or index mismatch), a plain GGUF in a shard's
 *    place, a tensor in two shards, a wrong split.tensors.count;
 *  - hostile split keys (split.count 0 or 65535, split.no >= count, negative or huge tensor counts,
 *    split.no without split.count, a shard with a name that does not match its keys) fail cleanly.
 */
#include "formats/gguf.h"
#include "r1.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>

static char dir[256];

typedef struct split_opts {
    int n;                 /* shards */
    int64_t tensors_count; /* split.tensors.count to write; -1: the true total (any other value is
                              written, -2 included) */
    int count_for[8];      /* split.count written into shard i (0: n) */
    int no_for[8];         /* split.no written into shard i, plus one (0: i) */
    bool dup_first;        /* also put the first tensor into the last shard */
    bool no_count_key;     /* write split.no only */
    bool bare_second;      /* the second shard carries no split.* keys at all */
} split_opts;

static void set_u16(gguf_writer *w, const char *key, uint64_t v)
{
    gguf_kv kv = {0};
    kv.key = (char *)key;
    kv.type = GGUF_UINT16;
    kv.v.u64 = v;
    gguf_writer_copy_kv(w, &kv);
}

static void shard_path(char *out, size_t cap, const char *stem, int i, int n)
{
    snprintf(out, cap, "%s/%s-%05d-of-%05d.gguf", dir, stem, i + 1, n);
}

/* Writes src as o->n shards named STEM-0000i-of-0000n.gguf; tensors are dealt out in order. */
static bool write_split(const gguf_file *src, const char *stem, const split_opts *o)
{
    char err[R1_ERR_MAX], path[512];
    int64_t per = (src->n_tensors + o->n - 1) / o->n;
    int64_t total =
        o->tensors_count != -1 ? o->tensors_count : src->n_tensors + (o->dup_first ? 1 : 0);
    for (int i = 0; i < o->n; i++) {
        gguf_writer *w = gguf_writer_new();
        if (i == 0)
            for (int64_t k = 0; k < src->n_kv; k++) gguf_writer_copy_kv(w, &src->kv[k]);
        if (!(o->bare_second && i == 1)) {
            set_u16(w, "split.no", o->no_for[i] ? (uint64_t)(o->no_for[i] - 1) : (uint64_t)i);
            if (!o->no_count_key)
                set_u16(w, "split.count",
                        o->count_for[i] ? (uint64_t)o->count_for[i] : (uint64_t)o->n);
            gguf_writer_set_i32(w, "split.tensors.count", (int32_t)total);
        }
        bool ok = true;
        for (int64_t t = i * per; ok && t < (i + 1) * per && t < src->n_tensors; t++) {
            const gguf_tensor *x = &src->tensors[t];
            ok = !gguf_writer_add_tensor(w, x->name, x->type, x->n_dims, x->ne, x->data, err);
        }
        if (ok && o->dup_first && i == o->n - 1) {
            const gguf_tensor *x = &src->tensors[0];
            ok = !gguf_writer_add_tensor(w, x->name, x->type, x->n_dims, x->ne, x->data, err);
        }
        shard_path(path, sizeof path, stem, i, o->n);
        ok = ok && !gguf_writer_write_file(w, path, err);
        gguf_writer_free(w);
        if (!ok) {
            fprintf(stderr, "write %s: %s\n", path, err);
            return false;
        }
    }
    return true;
}

static void remove_split(const char *stem, int n)
{
    char path[512];
    for (int i = 0; i < n; i++) {
        shard_path(path, sizeof path, stem, i, n);
        unlink(path);
    }
}

static float *logits(const char *path, bool use_mmap, size_t *out_n, char *err)
{
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 2;
    mp.use_mmap = use_mmap;
    r1_model *m = NULL;
    r1_session *s = NULL;
    float *out = NULL;
    const int32_t ids[] = {1, 2, 3, 4, 5, 6, 7};
    if (r1_model_load(path, &mp, &m, err)) return NULL;
    r1_session_params sp = r1_session_params_default();
    sp.all_logits = true;
    sp.n_ctx = 32;
    if (!r1_session_new(m, &sp, &s, err) && !r1_session_eval(s, ids, 7, err)) {
        r1_model_info info;
        r1_model_get_info(m, &info);
        int rows;
        const float *l = r1_session_logits_all(s, &rows);
        *out_n = (size_t)rows * (size_t)info.n_vocab;
        out = malloc(*out_n * sizeof(float));
        memcpy(out, l, *out_n * sizeof(float));
    }
    r1_session_free(s);
    r1_model_free(m);
    return out;
}

/* Loading path must fail with `status` and a message containing `needle`. */
static void expect_error(const char *path, r1_status status, const char *needle)
{
    char err[R1_ERR_MAX] = "";
    r1_model *m = NULL;
    r1_status st = r1_model_load(path, NULL, &m, err);
    CHECKF(st == status && !m && strstr(err, needle), "%s: status %d (want %d), '%s' (want '%s')",
           path, (int)st, (int)status, err, needle);
    r1_model_free(m);
    gguf_file *f = NULL;
    st = gguf_open_model(path, true, &f, err);
    CHECKF(st == status && !f, "%s: gguf_open_model status %d", path, (int)st);
    gguf_close(f);
}

static void test_identical(const char *model)
{
    char src[512], err[R1_ERR_MAX], first[512];
    snprintf(src, sizeof src, "%s/models/%s.gguf", R1_TEST_DATA, model);
    gguf_file *f = NULL;
    if (gguf_open(src, true, &f, err)) {
        CHECKF(0, "%s", err);
        return;
    }
    size_t n_ref = 0, n_got = 0;
    float *ref = logits(src, true, &n_ref, err);
    CHECKF(ref, "%s: %s", src, err);
    for (int n = 2; ref && n <= 3; n++) {
        split_opts o = {.n = n, .tensors_count = -1};
        if (!write_split(f, model, &o)) {
            CHECK(0);
            continue;
        }
        shard_path(first, sizeof first, model, 0, n);
        gguf_file *g = NULL;
        CHECKF(!gguf_open_model(first, true, &g, err), "%s", err);
        if (g) {
            CHECK(g->n_shards == n && g->n_tensors == f->n_tensors);
            CHECK(g->n_kv == f->n_kv && !gguf_find(g, "split.count") && !gguf_find(g, "split.no"));
            for (int64_t t = 0; t < f->n_tensors; t++) {
                const gguf_tensor *a = &f->tensors[t], *b = gguf_find_tensor(g, a->name);
                CHECKF(b && b->n_bytes == a->n_bytes && !memcmp(a->data, b->data, a->n_bytes),
                       "%s: tensor %s", model, a->name);
            }
            gguf_close(g);
        }
        for (int mm = 1; mm >= 0; mm--) {
            float *got = logits(first, mm, &n_got, err);
            CHECKF(got && n_got == n_ref && !memcmp(got, ref, n_ref * sizeof(float)),
                   "%s in %d shards (mmap %d): logits differ from the unsplit file (%s)", model, n,
                   mm, got ? "" : err);
            free(got);
        }
        /* the second shard is not a model: say which file is */
        char second[512], want[1024];
        shard_path(second, sizeof second, model, 1, n);
        snprintf(want, sizeof want, "pass the first shard, %s", first);
        expect_error(second, R1_ERR_INVALID_ARG, want);
        /* a missing last shard is named */
        char last[512];
        shard_path(last, sizeof last, model, n - 1, n);
        unlink(last);
        expect_error(first, R1_ERR_IO, last);
        remove_split(model, n);
    }
    free(ref);

    /* a shard from another split: the 3-way split's second shard says it is 2 of 2 */
    split_opts o = {.n = 3, .tensors_count = -1, .count_for = {0, 2, 0}};
    char stem[128];
    snprintf(stem, sizeof stem, "%s-mix", model);
    shard_path(first, sizeof first, stem, 0, 3);
    CHECK(write_split(f, stem, &o));
    expect_error(first, R1_ERR_FORMAT, "another split");
    remove_split(stem, 3);
    /* a shard that says it is another index */
    o = (split_opts){.n = 3, .tensors_count = -1, .no_for = {0, 3, 0}};
    CHECK(write_split(f, stem, &o));
    expect_error(first, R1_ERR_FORMAT, "another split");
    remove_split(stem, 3);
    /* a plain GGUF in a shard's place */
    o = (split_opts){.n = 3, .tensors_count = -1, .bare_second = true};
    CHECK(write_split(f, stem, &o));
    expect_error(first, R1_ERR_FORMAT, "no split.* keys");
    remove_split(stem, 3);
    /* the same tensor in two shards */
    o = (split_opts){.n = 3, .tensors_count = -1, .dup_first = true};
    CHECK(write_split(f, stem, &o));
    expect_error(first, R1_ERR_FORMAT, "is in both");
    remove_split(stem, 3);
    /* split.tensors.count that does not add up: one short, huge, negative */
    int64_t counts[] = {f->n_tensors - 1, f->n_tensors + 1, INT32_MAX, -2};
    const char *why[] = {"tensors but", "tensors but", "tensors but", "split.tensors.count"};
    for (int k = 0; k < 4; k++) {
        o = (split_opts){.n = 2, .tensors_count = counts[k]};
        shard_path(first, sizeof first, stem, 0, 2);
        CHECK(write_split(f, stem, &o));
        expect_error(first, R1_ERR_FORMAT, why[k]);
        remove_split(stem, 2);
    }
    gguf_close(f);
}

/* Hostile split keys on a one-tensor file: each must fail cleanly, with no shard opened past the
 * first when the keys already say the split is impossible. */
static void test_hostile(void)
{
    char src[512], err[R1_ERR_MAX], path[512];
    snprintf(src, sizeof src, "%s/models/qwen2-q4_k_m.gguf", R1_TEST_DATA);
    gguf_file *f = NULL;
    if (gguf_open(src, true, &f, err)) {
        CHECKF(0, "%s", err);
        return;
    }
    struct {
        int count, no_plus1; /* count written into shard 0 (name says 1-of-1... see below) */
        const char *name_tail, *needle;
        r1_status st;
    } cases[] = {
        {0, 0, "-00001-of-00000.gguf", "must be 1..65535", R1_ERR_FORMAT},
        {65535, 0, "-00001-of-65535.gguf", "-00002-of-65535.gguf", R1_ERR_IO},
        {65535, 0, "-00001-of-00002.gguf", "does not end in", R1_ERR_FORMAT},
        {3, 4, "-00004-of-00003.gguf", "split.no' is 3", R1_ERR_FORMAT},
        {3, 65536, "-00001-of-00003.gguf", "split.no' is 65535", R1_ERR_FORMAT},
        {2, 0, "x.gguf", "does not end in", R1_ERR_FORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gguf_writer *w = gguf_writer_new();
        for (int64_t k = 0; k < f->n_kv; k++) gguf_writer_copy_kv(w, &f->kv[k]);
        set_u16(w, "split.count", (uint64_t)cases[c].count);
        set_u16(w, "split.no", cases[c].no_plus1 ? (uint64_t)(cases[c].no_plus1 - 1) : 0);
        gguf_writer_set_i32(w, "split.tensors.count", INT32_MAX);
        for (int64_t t = 0; t < f->n_tensors; t++) {
            const gguf_tensor *x = &f->tensors[t];
            gguf_writer_add_tensor(w, x->name, x->type, x->n_dims, x->ne, x->data, err);
        }
        snprintf(path, sizeof path, "%s/hostile%s", dir, cases[c].name_tail);
        CHECKF(!gguf_writer_write_file(w, path, err), "%s", err);
        gguf_writer_free(w);
        expect_error(path, cases[c].st, cases[c].needle);
        unlink(path);
    }
    /* split.no without split.count */
    split_opts o = {.n = 2, .tensors_count = -1, .no_count_key = true};
    CHECK(write_split(f, "nocount", &o));
    shard_path(path, sizeof path, "nocount", 0, 2);
    expect_error(path, R1_ERR_FORMAT, "has 'split.no' but not 'split.count'");
    remove_split("nocount", 2);
    /* split.count 1: a model that fit in one file loads as a plain file */
    gguf_writer *w = gguf_writer_new();
    for (int64_t k = 0; k < f->n_kv; k++) gguf_writer_copy_kv(w, &f->kv[k]);
    set_u16(w, "split.count", 1);
    set_u16(w, "split.no", 0);
    gguf_writer_set_i32(w, "split.tensors.count", (int32_t)f->n_tensors);
    for (int64_t t = 0; t < f->n_tensors; t++) {
        const gguf_tensor *x = &f->tensors[t];
        gguf_writer_add_tensor(w, x->name, x->type, x->n_dims, x->ne, x->data, err);
    }
    snprintf(path, sizeof path, "%s/one-00001-of-00001.gguf", dir);
    CHECKF(!gguf_writer_write_file(w, path, err), "%s", err);
    gguf_writer_free(w);
    r1_model *m = NULL;
    CHECKF(!r1_model_load(path, NULL, &m, err), "%s", err);
    r1_model_free(m);
    unlink(path);
    gguf_close(f);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/r1-split-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_identical("qwen2-q4_k_m");
    test_identical("ds3-new-q4_k_m");
    test_hostile();
    rmdir(dir);
    return test_finish();
}
