/* test_fuzz_corpus_gguf.c — runs fuzz/fuzz_gguf.c's code path without libFuzzer, so CI replays the
 * seed corpus and every crasher ever found.
 * 1. Every file of fuzz/corpus/gguf goes through fuzz_gguf_one(). Files named model-* must load
 *    and evaluate, valid-* must parse, hostile-* must be rejected by the reader; anything else
 *    (crash-*, minimized inputs) just has to pass through without a sanitizer report.
 * 2. The model seeds are generated here too (tiny qwen2, llama and both deepseek2 generations,
 *    every supported tensor type, one with a real tokenizer) and must reach the forward pass.
 *    `test_fuzz_corpus_gguf --write-seeds DIR` writes them (and valid-writer.gguf) into DIR; the
 *    hostile-* seeds come from test_gguf with R1_GGUF_CORPUS_DIR=DIR. */
#define FUZZ_NO_MAIN
#include "../../fuzz/fuzz_gguf.c"

#include "tensor/quant.h"
#include "test.h"

#include <dirent.h>

#ifndef R1_FUZZ_CORPUS
#define R1_FUZZ_CORPUS R1_TEST_DATA "/../../fuzz/corpus/gguf"
#endif

/* ---- seed models ----------------------------------------------------------------------------- */

typedef struct seed {
    gguf_writer *w;
    uint64_t rng;
    void *owned[128];
    int n_owned;
    bool ok;
} seed;

static float seed_rand(seed *s) /* uniform in [-1, 1) */
{
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((s->rng >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* A tensor of random values (offset + scale·uniform), stored as `type`. */
static void seed_tensor(seed *s, const char *name, dtype type, int64_t ne0, int64_t ne1,
                        int64_t ne2, float offset, float scale)
{
    int64_t ne[3] = {ne0, ne1, ne2}, rows = ne1 * ne2;
    int n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    size_t row_bytes = dtype_row_bytes(type, ne0);
    uint8_t *data = malloc(row_bytes * (size_t)rows);
    float *row = malloc((size_t)ne0 * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < ne0; i++) row[i] = offset + scale * seed_rand(s);
        if (!quant_quantize_row(type, row, data + (size_t)r * row_bytes, ne0)) s->ok = false;
    }
    free(row);
    s->owned[s->n_owned++] = data;
    char err[R1_ERR_MAX];
    if (gguf_writer_add_tensor(s->w, name, type, n_dims, ne, data, err) != R1_OK) {
        fprintf(stderr, "%s\n", err);
        s->ok = false;
    }
}

static void seed_mat(seed *s, const char *name, dtype type, int64_t cols, int64_t rows)
{
    seed_tensor(s, name, type, cols, rows, 1, 0, 1.0f / sqrtf((float)cols));
}

static void seed_norm(seed *s, const char *name, int64_t n)
{
    seed_tensor(s, name, DTYPE_F32, n, 1, 1, 1, 0.1f);
}

static void seed_begin(seed *s, const char *arch, uint64_t rng)
{
    *s = (seed){.w = gguf_writer_new(), .rng = rng, .ok = true};
    gguf_writer_set_str(s->w, "general.architecture", arch);
    gguf_writer_set_str(s->w, "general.name", "fuzz seed");
}

static bool seed_finish(seed *s, const char *path)
{
    char err[R1_ERR_MAX];
    if (s->ok && gguf_writer_write_file(s->w, path, err) != R1_OK) {
        fprintf(stderr, "%s\n", err);
        s->ok = false;
    }
    gguf_writer_free(s->w);
    for (int i = 0; i < s->n_owned; i++) free(s->owned[i]);
    return s->ok;
}

/* "ARCH.k" and "blk.IL.x" in the local buffers key / name */
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", arch, k), key)
#define N(x) (snprintf(name, sizeof name, "blk.%d." x, il), name)

/* qwen2 / llama. dim·heads·head_dim given; types per role. */
typedef struct dense_spec {
    const char *arch;
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ff, n_vocab;
    dtype embd, out, q, k, v, o, gate, up, down;
    bool tied, rope_freqs, tokenizer;
} dense_spec;

static void copy_tokenizer(seed *s)
{
    char path[512], err[R1_ERR_MAX];
    snprintf(path, sizeof path, "%s/models/qwen2-f32.gguf", R1_TEST_DATA);
    gguf_file *f = NULL;
    if (gguf_open(path, true, &f, err) != R1_OK) {
        fprintf(stderr, "%s\n", err);
        s->ok = false;
        return;
    }
    for (int64_t i = 0; i < f->n_kv; i++)
        if (!strncmp(f->kv[i].key, "tokenizer.", 10)) gguf_writer_copy_kv(s->w, &f->kv[i]);
    gguf_close(f);
}

static bool seed_dense(const dense_spec *p, const char *path)
{
    seed s;
    char key[128], name[128];
    const char *arch = p->arch;
    seed_begin(&s, arch, 42 + (uint64_t)p->dim);
    gguf_writer_set_u32(s.w, KEY("block_count"), (uint32_t)p->n_layers);
    gguf_writer_set_u32(s.w, KEY("context_length"), 64);
    gguf_writer_set_u32(s.w, KEY("embedding_length"), (uint32_t)p->dim);
    gguf_writer_set_u32(s.w, KEY("feed_forward_length"), (uint32_t)p->ff);
    gguf_writer_set_u32(s.w, KEY("attention.head_count"), (uint32_t)p->n_heads);
    gguf_writer_set_u32(s.w, KEY("attention.head_count_kv"), (uint32_t)p->n_kv_heads);
    gguf_writer_set_u32(s.w, KEY("attention.key_length"), (uint32_t)p->head_dim);
    gguf_writer_set_u32(s.w, KEY("attention.value_length"), (uint32_t)p->head_dim);
    gguf_writer_set_f32(s.w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    gguf_writer_set_f32(s.w, KEY("rope.freq_base"), 10000.0f);
    if (p->tokenizer) {
        copy_tokenizer(&s);
    } else {
        gguf_writer_set_u32(s.w, "tokenizer.ggml.bos_token_id", 1);
        gguf_writer_set_u32(s.w, "tokenizer.ggml.eos_token_id", (uint32_t)p->n_vocab - 1);
    }
    int q = p->n_heads * p->head_dim, kv = p->n_kv_heads * p->head_dim;
    seed_tensor(&s, "token_embd.weight", p->embd, p->dim, p->n_vocab, 1, 0, 1);
    seed_norm(&s, "output_norm.weight", p->dim);
    if (!p->tied) seed_mat(&s, "output.weight", p->out, p->dim, p->n_vocab);
    if (p->rope_freqs) seed_tensor(&s, "rope_freqs.weight", DTYPE_F32, p->head_dim / 2, 1, 1, 2, 1);
    for (int il = 0; il < p->n_layers; il++) {
        seed_norm(&s, N("attn_norm.weight"), p->dim);
        seed_norm(&s, N("ffn_norm.weight"), p->dim);
        seed_mat(&s, N("attn_q.weight"), p->q, p->dim, q);
        seed_mat(&s, N("attn_k.weight"), p->k, p->dim, kv);
        seed_mat(&s, N("attn_v.weight"), p->v, p->dim, kv);
        if (!strcmp(arch, "qwen2")) {
            seed_tensor(&s, N("attn_q.bias"), DTYPE_F32, q, 1, 1, 0, 0.1f);
            seed_tensor(&s, N("attn_k.bias"), DTYPE_F32, kv, 1, 1, 0, 0.1f);
            seed_tensor(&s, N("attn_v.bias"), DTYPE_F32, kv, 1, 1, 0, 0.1f);
        }
        seed_mat(&s, N("attn_output.weight"), p->o, q, p->dim);
        seed_mat(&s, N("ffn_gate.weight"), p->gate, p->dim, p->ff);
        seed_mat(&s, N("ffn_up.weight"), p->up, p->dim, p->ff);
        seed_mat(&s, N("ffn_down.weight"), p->down, p->ff, p->dim);
    }
    return seed_finish(&s, path);
}

/* deepseek2: new (attn_k_b / attn_v_b, q_lora, sigmoid, groups, yarn) or old (attn_kv_b, plain
 * attn_q, softmax, no groups). */
static bool seed_deepseek2(bool is_new, const char *path)
{
    seed s;
    char key[128], name[128];
    const char *arch = "deepseek2";
    const int E = 16, H = 2, nope = 4, rope = 4, v = 4, kvr = 8, ql = 8, F = 8, X = 4, V = 16;
    seed_begin(&s, arch, is_new ? 7 : 8);
    gguf_writer_set_u32(s.w, KEY("block_count"), 2);
    gguf_writer_set_u32(s.w, KEY("context_length"), 64);
    gguf_writer_set_u32(s.w, KEY("embedding_length"), E);
    gguf_writer_set_u32(s.w, KEY("feed_forward_length"), 32);
    gguf_writer_set_u32(s.w, KEY("attention.head_count"), H);
    gguf_writer_set_f32(s.w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    gguf_writer_set_u32(s.w, KEY("attention.kv_lora_rank"), kvr);
    gguf_writer_set_u32(s.w, KEY("rope.dimension_count"), rope);
    gguf_writer_set_u32(s.w, KEY("leading_dense_block_count"), 1);
    gguf_writer_set_u32(s.w, KEY("expert_count"), X);
    gguf_writer_set_u32(s.w, KEY("expert_used_count"), 2);
    gguf_writer_set_u32(s.w, KEY("expert_shared_count"), 1);
    gguf_writer_set_u32(s.w, KEY("expert_feed_forward_length"), F);
    gguf_writer_set_u32(s.w, "tokenizer.ggml.bos_token_id", 0);
    gguf_writer_set_u32(s.w, "tokenizer.ggml.eos_token_id", 1);
    if (is_new) {
        gguf_writer_set_u32(s.w, KEY("attention.q_lora_rank"), ql);
        gguf_writer_set_u32(s.w, KEY("attention.head_count_kv"), 1);
        gguf_writer_set_u32(s.w, KEY("attention.key_length"), kvr + rope);
        gguf_writer_set_u32(s.w, KEY("attention.value_length"), kvr);
        gguf_writer_set_u32(s.w, KEY("attention.key_length_mla"), nope + rope);
        gguf_writer_set_u32(s.w, KEY("attention.value_length_mla"), v);
        gguf_writer_set_u32(s.w, KEY("expert_gating_func"), 2);
        gguf_writer_set_f32(s.w, KEY("expert_weights_scale"), 2.5f);
        gguf_writer_set_bool(s.w, KEY("expert_weights_norm"), true);
        gguf_writer_set_u32(s.w, KEY("expert_group_count"), 2);
        gguf_writer_set_u32(s.w, KEY("expert_group_used_count"), 1);
        gguf_writer_set_str(s.w, KEY("rope.scaling.type"), "yarn");
        gguf_writer_set_f32(s.w, KEY("rope.scaling.factor"), 4);
        gguf_writer_set_u32(s.w, KEY("rope.scaling.original_context_length"), 16);
        gguf_writer_set_f32(s.w, KEY("rope.scaling.yarn_log_multiplier"), 0.1f);
    } else {
        gguf_writer_set_u32(s.w, KEY("attention.key_length"), nope + rope);
        gguf_writer_set_u32(s.w, KEY("attention.value_length"), v);
        gguf_writer_set_u32(s.w, KEY("expert_gating_func"), 1);
    }
    dtype a = is_new ? DTYPE_F16 : DTYPE_BF16;
    seed_tensor(&s, "token_embd.weight", DTYPE_F32, E, V, 1, 0, 1);
    seed_norm(&s, "output_norm.weight", E);
    seed_mat(&s, "output.weight", a, E, V);
    for (int il = 0; il < 2; il++) {
        seed_norm(&s, N("attn_norm.weight"), E);
        seed_norm(&s, N("ffn_norm.weight"), E);
        if (is_new) {
            seed_mat(&s, N("attn_q_a.weight"), a, E, ql);
            seed_norm(&s, N("attn_q_a_norm.weight"), ql);
            seed_mat(&s, N("attn_q_b.weight"), DTYPE_F32, ql, H * (nope + rope));
            seed_tensor(&s, N("attn_k_b.weight"), a, nope, kvr, H, 0, 0.5f);
            seed_tensor(&s, N("attn_v_b.weight"), DTYPE_F32, kvr, v, H, 0, 0.35f);
        } else {
            seed_mat(&s, N("attn_q.weight"), a, E, H * (nope + rope));
            seed_mat(&s, N("attn_kv_b.weight"), a, kvr, H * (nope + v));
        }
        seed_mat(&s, N("attn_kv_a_mqa.weight"), DTYPE_F32, E, kvr + rope);
        seed_norm(&s, N("attn_kv_a_norm.weight"), kvr);
        seed_mat(&s, N("attn_output.weight"), a, H * v, E);
        if (il == 0) {
            seed_mat(&s, N("ffn_gate.weight"), DTYPE_F32, E, 32);
            seed_mat(&s, N("ffn_up.weight"), a, E, 32);
            seed_mat(&s, N("ffn_down.weight"), DTYPE_F32, 32, E);
            continue;
        }
        seed_mat(&s, N("ffn_gate_inp.weight"), DTYPE_F32, E, X);
        if (is_new) seed_tensor(&s, N("exp_probs_b.bias"), DTYPE_F32, X, 1, 1, 0, 0.1f);
        seed_tensor(&s, N("ffn_gate_exps.weight"), a, E, F, X, 0, 0.25f);
        seed_tensor(&s, N("ffn_up_exps.weight"), DTYPE_F32, E, F, X, 0, 0.25f);
        seed_tensor(&s, N("ffn_down_exps.weight"), a, F, E, X, 0, 0.35f);
        seed_mat(&s, N("ffn_gate_shexp.weight"), DTYPE_F32, E, F);
        seed_mat(&s, N("ffn_up_shexp.weight"), a, E, F);
        seed_mat(&s, N("ffn_down_shexp.weight"), DTYPE_F32, F, E);
    }
    return seed_finish(&s, path);
}

/* Not a model: one tensor of every supported type and kvs of every setter. */
static bool seed_valid_writer(const char *path)
{
    seed s;
    s = (seed){.w = gguf_writer_new(), .rng = 3, .ok = true};
    static const char *const strs[] = {"x", "", "yz"};
    static const int32_t ints[] = {-1, 0, 7};
    static const float floats[] = {0.5f, -2.0f};
    gguf_writer_set_u32(s.w, "general.alignment", 16);
    gguf_writer_set_i32(s.w, "a.i32", -5);
    gguf_writer_set_f32(s.w, "a.f32", 1.25f);
    gguf_writer_set_bool(s.w, "a.bool", true);
    gguf_writer_set_str(s.w, "a.str", "text");
    gguf_writer_set_arr_str(s.w, "a.strs", strs, 3);
    gguf_writer_set_arr_i32(s.w, "a.ints", ints, 3);
    gguf_writer_set_arr_f32(s.w, "a.floats", floats, 2);
    for (uint32_t id = 0; id < DTYPE_COUNT; id++) {
        const dtype_traits *tr = dtype_get(id);
        if (!tr || !tr->is_supported) continue;
        char name[32];
        snprintf(name, sizeof name, "t.%s", tr->name);
        seed_tensor(&s, name, (dtype)id, tr->block_size, 1 + id % 2, 1, 0, 1);
    }
    return seed_finish(&s, path);
}

typedef struct seed_file {
    const char *name;
    const dense_spec *dense; /* or deepseek2 (is_new from ds_new) */
    int kind;                /* 0 dense, 1 deepseek2 new, 2 deepseek2 old, 3 valid-writer */
} seed_file;

static const dense_spec qwen2_f32 = {"qwen2",   8,         1,           2,         1,
                                     4,         16,        16,          DTYPE_F32, DTYPE_F32,
                                     DTYPE_F32, DTYPE_F32, DTYPE_F32,   DTYPE_F32, DTYPE_F32,
                                     DTYPE_F32, DTYPE_F32, .tied = true};
/* every 32-block type */
static const dense_spec llama_q = {
    "llama",    32,           1,          4,          2,          8,
    256,        24,           DTYPE_Q8_0, DTYPE_Q5_1, DTYPE_Q4_0, DTYPE_Q4_1,
    DTYPE_Q5_0, DTYPE_IQ4_NL, DTYPE_Q8_0, DTYPE_Q4_0, DTYPE_Q4_K, .rope_freqs = true};
/* every 256-block type: rows of 256 with a small head dimension */
static const dense_spec qwen2_k = {"qwen2",    256,
                                   1,          2,
                                   1,          8,
                                   16,         16,
                                   DTYPE_Q2_K, DTYPE_IQ4_XS,
                                   DTYPE_Q6_K, DTYPE_Q4_K,
                                   DTYPE_Q5_K, DTYPE_BF16,
                                   DTYPE_Q3_K, DTYPE_Q5_K,
                                   DTYPE_F16,  .tied = false};
/* the real tokenizer of the qwen2 fixture (518 tokens) */
static const dense_spec qwen2_tok = {"qwen2",
                                     32,
                                     1,
                                     2,
                                     1,
                                     16,
                                     32,
                                     518,
                                     DTYPE_Q4_0,
                                     DTYPE_Q4_0,
                                     DTYPE_Q8_0,
                                     DTYPE_Q8_0,
                                     DTYPE_Q8_0,
                                     DTYPE_F16,
                                     DTYPE_Q4_0,
                                     DTYPE_Q4_0,
                                     DTYPE_F16,
                                     .tied = true,
                                     .tokenizer = true};

static const seed_file seeds[] = {
    {"model-qwen2-f32.gguf", &qwen2_f32, 0},
    {"model-llama-q32.gguf", &llama_q, 0},
    {"model-qwen2-kquants.gguf", &qwen2_k, 0},
    {"model-qwen2-tokenizer.gguf", &qwen2_tok, 0},
    {"model-deepseek2-new.gguf", NULL, 1},
    {"model-deepseek2-old.gguf", NULL, 2},
    {"valid-writer.gguf", NULL, 3},
};

static bool write_seed(const seed_file *sf, const char *path)
{
    switch (sf->kind) {
    case 0:
        return seed_dense(sf->dense, path);
    case 1:
        return seed_deepseek2(true, path);
    case 2:
        return seed_deepseek2(false, path);
    default:
        return seed_valid_writer(path);
    }
}

/* ---- replay ---------------------------------------------------------------------------------- */

static int run_file(const char *path, size_t *out_size)
{
    size_t n = 0;
    void *p = test_read_file(path, &n);
    if (!p) return -1;
    uint8_t *exact = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
    memcpy(exact, p, n);
    free(p);
    int stage = fuzz_gguf_one(exact, n);
    free(exact);
    if (out_size) *out_size = n;
    return stage;
}

static int replay_corpus(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    CHECKF(dir != NULL, "cannot open the corpus %s", dir_path);
    if (!dir) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        size_t size = 0;
        int stage = run_file(path, &size);
        n++;
        CHECKF(stage >= 0, "%s: cannot read", path);
        CHECKF(size <= 50 * 1024, "%s: %zu bytes, seeds stay under 50 KB", e->d_name, size);
        if (!strncmp(e->d_name, "model-", 6))
            CHECKF(stage == 3, "%s: reached stage %d, want a model that evaluates", e->d_name,
                   stage);
        else if (!strncmp(e->d_name, "valid-", 6))
            CHECKF(stage >= 1, "%s: rejected by the reader", e->d_name);
        else if (!strncmp(e->d_name, "hostile-", 8))
            CHECKF(stage == 0, "%s: accepted by the reader (stage %d)", e->d_name, stage);
    }
    closedir(dir);
    return n;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-seeds")) {
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", argv[2], seeds[i].name);
            if (!write_seed(&seeds[i], path)) return 1;
            printf("%s\n", path);
        }
        return 0;
    }
    /* the generated seeds reach the forward pass */
    char dir[64] = "/tmp/r1_test_fuzz_corpus_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        CHECKF(write_seed(&seeds[i], path), "%s: not written", seeds[i].name);
        size_t size = 0;
        int stage = run_file(path, &size);
        int want = seeds[i].kind == 3 ? 1 : 3;
        CHECKF(stage == want, "%s: stage %d, want %d", seeds[i].name, stage, want);
        CHECKF(size <= 50 * 1024, "%s: %zu bytes", seeds[i].name, size);
        unlink(path);
    }
    rmdir(dir);
    /* the committed corpus */
    int n = replay_corpus(argc == 2 ? argv[1] : R1_FUZZ_CORPUS);
    CHECKF(n >= 10, "only %d corpus files", n);
    printf("replayed %d corpus files\n", n);
    return test_finish();
}
