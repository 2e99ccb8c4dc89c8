/* test_fused.c — files that store fused projections (blk.N.attn_qkv for qwen2/llama,
 * blk.N.ffn_gate_up_exps for deepseek2) give exactly the logits of the same weights stored split.
 * The fused files are written here from the split fixtures with the GGUF writer. */
#include "formats/gguf.h"
#include "r1.h"
#include "test.h"

#include <unistd.h>

static float *logits_of(const char *path, const int32_t *ids, int n, int *n_vocab)
{
    r1_model *m = NULL;
    r1_session *s = NULL;
    char err[R1_ERR_MAX];
    float *out = NULL;
    r1_session_params sp = r1_session_params_default();
    sp.all_logits = true;
    sp.n_ctx = 64;
    if (r1_model_load(path, NULL, &m, err) || r1_session_new(m, &sp, &s, err) ||
        r1_session_eval(s, ids, n, err)) {
        fprintf(stderr, "%s: %s\n", path, err);
    } else {
        r1_model_info info;
        r1_model_get_info(m, &info);
        *n_vocab = info.n_vocab;
        out = malloc((size_t)n * (size_t)info.n_vocab * sizeof(float));
        memcpy(out, r1_session_logits_all(s, NULL), (size_t)n * (size_t)info.n_vocab * 4);
    }
    r1_session_free(s);
    r1_model_free(m);
    return out;
}

/* Concatenate per matrix: for each of n_mats, the rows of a, then b, then c (c may be NULL). */
static void *concat_rows(const gguf_tensor *a, const gguf_tensor *b, const gguf_tensor *c,
                         int64_t n_mats)
{
    size_t ma = a->n_bytes / (size_t)n_mats, mb = b->n_bytes / (size_t)n_mats,
           mc = c ? c->n_bytes / (size_t)n_mats : 0;
    uint8_t *out = malloc(a->n_bytes + b->n_bytes + (c ? c->n_bytes : 0)), *p = out;
    for (int64_t e = 0; e < n_mats; e++) {
        memcpy(p, (const uint8_t *)a->data + e * ma, ma), p += ma;
        memcpy(p, (const uint8_t *)b->data + e * mb, mb), p += mb;
        if (c) memcpy(p, (const uint8_t *)c->data + e * mc, mc), p += mc;
    }
    return out;
}

/* Rewrite src into dst with the named triples/pairs fused. */
static bool write_fused(const char *src, const char *dst, bool experts)
{
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open(src, true, &f, err)) return false;
    gguf_writer *w = gguf_writer_new();
    for (int64_t i = 0; i < f->n_kv; i++) gguf_writer_copy_kv(w, &f->kv[i]);
    void *owned[256];
    int n_owned = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char base[128], name[160];
        const char *q = strstr(t->name, experts ? ".ffn_gate_exps." : ".attn_q.");
        if (q) {
            snprintf(base, sizeof base, "%.*s", (int)(q - t->name), t->name);
            const char *suffix = strrchr(t->name, '.'); /* ".weight" or ".bias" */
            const gguf_tensor *a = t, *b, *c = NULL;
            if (experts) {
                snprintf(name, sizeof name, "%s.ffn_up_exps%s", base, suffix);
                b = gguf_find_tensor(f, name);
            } else {
                snprintf(name, sizeof name, "%s.attn_k%s", base, suffix);
                b = gguf_find_tensor(f, name);
                snprintf(name, sizeof name, "%s.attn_v%s", base, suffix);
                c = gguf_find_tensor(f, name);
            }
            int64_t ne[4] = {a->ne[0], a->ne[1] + b->ne[1] + (c ? c->ne[1] : 0), a->ne[2], 1};
            if (a->n_dims == 1) ne[0] = a->ne[0] + b->ne[0] + c->ne[0];
            void *data = a->n_dims == 1 ? concat_rows(a, b, c, 1) : concat_rows(a, b, c, a->ne[2]);
            owned[n_owned++] = data;
            snprintf(name, sizeof name, "%s.%s%s", base, experts ? "ffn_gate_up_exps" : "attn_qkv",
                     suffix);
            gguf_writer_add_tensor(w, name, a->type, a->n_dims, ne, data, err);
            continue;
        }
        if (strstr(t->name, experts ? ".ffn_up_exps." : ".attn_k.") ||
            (!experts && strstr(t->name, ".attn_v.")))
            continue;
        gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, err);
    }
    bool ok = gguf_writer_write_file(w, dst, err) == R1_OK;
    if (!ok) fprintf(stderr, "%s\n", err);
    gguf_writer_free(w);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    gguf_close(f);
    return ok;
}

int main(void)
{
    const int32_t ids[8] = {0, 300, 17, 450, 259, 8, 99, 3};
    struct {
        const char *model;
        bool experts;
    } cases[] = {{"qwen2-f32", false}, {"llama3-q8_0", false}, {"ds3-new-q4_k_m", true}};
    for (int k = 0; k < 3; k++) {
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/models/%s.gguf", R1_TEST_DATA, cases[k].model);
        snprintf(dst, sizeof dst, "/tmp/r1_test_fused_%d_%s.gguf", (int)getpid(), cases[k].model);
        CHECKF(write_fused(src, dst, cases[k].experts), "writing fused %s", cases[k].model);
        int nv = 0, nv2 = 0;
        float *a = logits_of(src, ids, 8, &nv), *b = logits_of(dst, ids, 8, &nv2);
        CHECK(a && b && nv == nv2);
        if (a && b)
            CHECKF(!memcmp(a, b, (size_t)8 * (size_t)nv * sizeof(float)),
                   "%s: fused and split logits differ", cases[k].model);
        free(a);
        free(b);
        unlink(dst);
    }
    return test_finish();
}
