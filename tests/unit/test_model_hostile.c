/* test_model_hostile.c — model-level checks of hostile files (issue 2): a GGUF that parses but
 * whose metadata or tensors do not make a model. Each case copies every kv and tensor of a small
 * real fixture with the GGUF writer, changes one thing, and checks that r1_model_load fails with
 * the right status and a message naming the file and the problem. Unchanged copies load. */
#include "formats/gguf.h"
#include "r1.h"
#include "test.h"

#include <unistd.h>

#define QWEN2 "models/qwen2-q2_k.gguf"
#define DS3 "models/ds3-new-q4_k_m.gguf"

typedef struct mutation {
    const char *label;
    const char *model;       /* fixture under R1_TEST_DATA */
    const char *drop_kv;     /* key left out of the copy */
    const char *drop_tensor; /* tensor left out of the copy ... */
    int64_t ne1;             /* ... or, when > 0, written with this many rows instead */
    void (*edit)(gguf_writer *w, const gguf_file *src);
    r1_status want;
    const char *what; /* distinctive part of the message */
} mutation;

/* ---- edits ----------------------------------------------------------------------------------- */

static void arch_unknown(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_str(w, "general.architecture", "gpt5");
}

static void arch_wrong_type(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "general.architecture", 2);
}

static void blocks_zero(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.block_count", 0);
}

static void blocks_string(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_str(w, "qwen2.block_count", "2");
}

static void blocks_negative(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_i32(w, "qwen2.block_count", -1);
}

static void blocks_huge(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.block_count", 1u << 20);
}

static void blocks_more(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.block_count", 3);
}

static void embd_wrong(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.embedding_length", 512); /* head_dim 128 */
}

static void ff_wrong(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.feed_forward_length", 384);
}

static void eps_zero(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", 0);
}

static void eps_nan(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", NAN);
}

static void heads_zero(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.attention.head_count", 0);
}

static void kv_heads_3(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "qwen2.attention.head_count_kv", 3);
}

static void bos_big(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 518); /* n_vocab = 518 */
}

static void eos_max(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", UINT32_MAX);
}

static void bos_string(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_str(w, "tokenizer.ggml.bos_token_id", "1");
}

/* Replace an i32 array with its first n_keep elements (n_keep < 0: drop that many). */
static void shorten_i32(gguf_writer *w, const gguf_file *s, const char *key, int64_t drop)
{
    const gguf_kv *kv = gguf_find(s, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_INT32 || kv->arr_n < 2) abort();
    uint64_t n = kv->arr_n - (uint64_t)drop;
    int32_t *v = malloc(n * sizeof *v);
    memcpy(v, kv->arr_data, n * sizeof *v);
    gguf_writer_set_arr_i32(w, key, v, n);
    free(v);
}

static void shorten_str(gguf_writer *w, const gguf_file *s, const char *key, int64_t drop)
{
    const gguf_kv *kv = gguf_find(s, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || kv->arr_n < 2) abort();
    uint64_t n = kv->arr_n - (uint64_t)drop;
    char **v = malloc(n * sizeof *v);
    for (uint64_t i = 0; i < n; i++) v[i] = strndup(kv->arr_str[i].data, kv->arr_str[i].len);
    gguf_writer_set_arr_str(w, key, (const char *const *)v, n);
    for (uint64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void token_type_short(gguf_writer *w, const gguf_file *s)
{
    shorten_i32(w, s, "tokenizer.ggml.token_type", 1);
}

static void tokens_short(gguf_writer *w, const gguf_file *s)
{
    shorten_str(w, s, "tokenizer.ggml.tokens", 1);
}

static void vocab_both_short(gguf_writer *w, const gguf_file *s)
{
    shorten_str(w, s, "tokenizer.ggml.tokens", 1);
    shorten_i32(w, s, "tokenizer.ggml.token_type", 1);
}

static void ds_vocab_size(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.vocab_size", 515);
}

static void ds_groups_3(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.expert_group_count", 3); /* 16 experts */
}

static void ds_used_32(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.expert_used_count", 32);
}

static void ds_used_groups_5(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.expert_group_used_count", 5); /* 4 groups */
}

static void ds_experts_0(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.expert_count", 0);
}

static void ds_dense_4(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.leading_dense_block_count", 4); /* 3 blocks */
}

static void ds_kv_lora(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.attention.kv_lora_rank", 32);
}

static void ds_q_lora(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.attention.q_lora_rank", 64);
}

static void ds_key_mla(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.attention.key_length_mla", 16); /* = rope dims */
}

static void ds_kv_heads(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.attention.head_count_kv", 2);
}

static void ds_gating(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.expert_gating_func", 3);
}

static void ds_rope_odd(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_u32(w, "deepseek2.rope.dimension_count", 15);
}

static void ds_scaling(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_str(w, "deepseek2.rope.scaling.type", "weird");
}

static void ds_scaling_factor(gguf_writer *w, const gguf_file *s)
{
    gguf_writer_set_f32(w, "deepseek2.rope.scaling.factor", -1);
}

/* ---- driver ---------------------------------------------------------------------------------- */

static const mutation cases[] = {
    {"baseline-qwen2", QWEN2, .want = R1_OK},
    {"baseline-ds3", DS3, .want = R1_OK},
    {"arch-missing", QWEN2, .drop_kv = "general.architecture", .want = R1_ERR_FORMAT,
     .what = "missing general.architecture"},
    {"arch-unknown", QWEN2, .edit = arch_unknown, .want = R1_ERR_UNSUPPORTED,
     .what = "architecture 'gpt5' is not supported"},
    {"arch-wrong-type", QWEN2, .edit = arch_wrong_type, .want = R1_ERR_FORMAT,
     .what = "general.architecture"},
    {"blocks-missing", QWEN2, .drop_kv = "qwen2.block_count", .want = R1_ERR_FORMAT,
     .what = "missing hyperparameter qwen2.block_count"},
    {"blocks-zero", QWEN2, .edit = blocks_zero, .want = R1_ERR_FORMAT,
     .what = "qwen2.block_count = 0 is out of range"},
    {"blocks-string", QWEN2, .edit = blocks_string, .want = R1_ERR_FORMAT,
     .what = "qwen2.block_count has the wrong type"},
    {"blocks-negative", QWEN2, .edit = blocks_negative, .want = R1_ERR_FORMAT,
     .what = "qwen2.block_count has the wrong type or a negative value"},
    {"blocks-huge", QWEN2, .edit = blocks_huge, .want = R1_ERR_FORMAT,
     .what = "qwen2.block_count = 1048576 is out of range"},
    {"blocks-more-than-tensors", QWEN2, .edit = blocks_more, .want = R1_ERR_FORMAT,
     .what = "missing tensor 'blk.2."},
    {"embd-inconsistent", QWEN2, .edit = embd_wrong, .want = R1_ERR_FORMAT,
     .what = "token_embd.weight has shape [256, 518], expected [512, n_vocab]"},
    {"ff-inconsistent", QWEN2, .edit = ff_wrong, .want = R1_ERR_FORMAT,
     .what = "'blk.0.ffn_gate.weight' has shape [256, 512, 1, 1] but the hyperparameters imply "
             "[256, 384, 1, 1]"},
    {"tensor-shape", QWEN2, .drop_tensor = "blk.1.attn_k.weight", .ne1 = 64, .want = R1_ERR_FORMAT,
     .what = "'blk.1.attn_k.weight' has shape [256, 64, 1, 1] but the hyperparameters imply "
             "[256, 128, 1, 1]"},
    {"tensor-missing", QWEN2, .drop_tensor = "blk.1.ffn_down.weight", .want = R1_ERR_FORMAT,
     .what = "missing tensor 'blk.1.ffn_down.weight'"},
    {"tensor-missing-norm", QWEN2, .drop_tensor = "output_norm.weight", .want = R1_ERR_FORMAT,
     .what = "missing tensor 'output_norm.weight'"},
    {"tensor-missing-embd", QWEN2, .drop_tensor = "token_embd.weight", .want = R1_ERR_FORMAT,
     .what = "missing tensor 'token_embd.weight'"},
    {"eps-zero", QWEN2, .edit = eps_zero, .want = R1_ERR_FORMAT,
     .what = "layer_norm_rms_epsilon 0 is not in (0, 1)"},
    {"eps-nan", QWEN2, .edit = eps_nan, .want = R1_ERR_FORMAT,
     .what = "qwen2.attention.layer_norm_rms_epsilon is not finite"},
    {"heads-zero", QWEN2, .edit = heads_zero, .want = R1_ERR_FORMAT,
     .what = "qwen2.attention.head_count = 0 is out of range"},
    {"kv-heads-not-dividing", QWEN2, .edit = kv_heads_3, .want = R1_ERR_FORMAT,
     .what = "head_count 4 is not a multiple of head_count_kv 3"},
    {"bos-ge-n-vocab", QWEN2, .edit = bos_big, .want = R1_ERR_FORMAT,
     .what = "bos/eos token id invalid or \xe2\x89\xa5 n_vocab 518"},
    {"eos-max", QWEN2, .edit = eos_max, .want = R1_ERR_FORMAT,
     .what = "bos/eos token id invalid or \xe2\x89\xa5 n_vocab 518"},
    {"bos-string", QWEN2, .edit = bos_string, .want = R1_ERR_FORMAT,
     .what = "bos/eos token id invalid"},
    {"token-type-length", QWEN2, .edit = token_type_short, .want = R1_ERR_FORMAT,
     .what = "token_type has 517 entries, tokens 518"},
    {"tokens-length", QWEN2, .edit = tokens_short, .want = R1_ERR_FORMAT,
     .what = "token_type has 518 entries, tokens 517"},
    {"vocab-vs-embd", QWEN2, .edit = vocab_both_short, .want = R1_ERR_FORMAT,
     .what = "the vocabulary has 517 tokens but token_embd has 518 rows"},
    {"ds-vocab-size", DS3, .edit = ds_vocab_size, .want = R1_ERR_FORMAT,
     .what = "deepseek2.vocab_size 515 but token_embd has 516 rows"},
    {"ds-groups-not-dividing", DS3, .edit = ds_groups_3, .want = R1_ERR_FORMAT,
     .what = "expert groups inconsistent: 16 experts, 3 groups"},
    {"ds-used-gt-experts", DS3, .edit = ds_used_32, .want = R1_ERR_FORMAT,
     .what = "expert_count \xe2\x89\xa5 expert_used_count \xe2\x89\xa5 1"},
    {"ds-used-groups-gt-groups", DS3, .edit = ds_used_groups_5, .want = R1_ERR_FORMAT,
     .what = "expert groups inconsistent: 16 experts, 4 groups, 5 used groups"},
    {"ds-experts-zero", DS3, .edit = ds_experts_0, .want = R1_ERR_FORMAT, .what = "(got 0, 4, 64)"},
    {"ds-dense-gt-blocks", DS3, .edit = ds_dense_4, .want = R1_ERR_FORMAT,
     .what = "deepseek2.leading_dense_block_count = 4 is out of range [0, 3]"},
    {"ds-kv-lora-inconsistent", DS3, .edit = ds_kv_lora, .want = R1_ERR_FORMAT,
     .what = "MLA file has key_length 80, value_length 64, head_count_kv 1; expected 48, 32, 1"},
    {"ds-q-lora-inconsistent", DS3, .edit = ds_q_lora, .want = R1_ERR_FORMAT,
     .what = "'blk.0.attn_q_a.weight' has shape [256, 128, 1, 1] but the hyperparameters "
             "imply [256, 64, 1, 1]"},
    {"ds-key-length-mla", DS3, .edit = ds_key_mla, .want = R1_ERR_FORMAT,
     .what = "key_length_mla 16 / value_length_mla 32 inconsistent"},
    {"ds-mla-kv-heads", DS3, .edit = ds_kv_heads, .want = R1_ERR_FORMAT,
     .what = "head_count_kv 2; expected 80, 64, 1"},
    {"ds-gating", DS3, .edit = ds_gating, .want = R1_ERR_UNSUPPORTED,
     .what = "expert_gating_func 3 is not supported"},
    {"ds-rope-odd", DS3, .edit = ds_rope_odd, .want = R1_ERR_FORMAT,
     .what = "rope.dimension_count 15 is odd"},
    {"ds-rope-scaling-type", DS3, .edit = ds_scaling, .want = R1_ERR_UNSUPPORTED,
     .what = "rope scaling type 'weird' is not supported"},
    {"ds-rope-scaling-factor", DS3, .edit = ds_scaling_factor, .want = R1_ERR_FORMAT,
     .what = "rope.scaling.factor -1 out of range"},
    {"ds-missing-expert-tensor", DS3, .drop_tensor = "blk.2.ffn_down_exps.weight",
     .want = R1_ERR_FORMAT, .what = "missing tensor 'blk.2.ffn_down_exps.weight'"},
};

/* Write the mutated copy of the fixture to dst. */
static bool write_mutation(const mutation *mu, const char *dst)
{
    char src[512], err[R1_ERR_MAX] = "";
    snprintf(src, sizeof src, "%s/%s", R1_TEST_DATA, mu->model);
    gguf_file *f = NULL;
    if (gguf_open(src, true, &f, err)) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    gguf_writer *w = gguf_writer_new();
    for (int64_t i = 0; i < f->n_kv; i++)
        if (!mu->drop_kv || strcmp(f->kv[i].key, mu->drop_kv)) gguf_writer_copy_kv(w, &f->kv[i]);
    if (mu->edit) mu->edit(w, f);
    bool ok = true, found = !mu->drop_tensor;
    for (int64_t i = 0; i < f->n_tensors && ok; i++) {
        const gguf_tensor *t = &f->tensors[i];
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        if (mu->drop_tensor && !strcmp(t->name, mu->drop_tensor)) {
            found = true;
            if (mu->ne1 <= 0) continue;
            ne[1] = mu->ne1; /* fewer rows: the original bytes cover them */
        }
        ok = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, ne, t->data, err) == R1_OK;
    }
    if (ok) ok = gguf_writer_write_file(w, dst, err) == R1_OK;
    if (!ok) fprintf(stderr, "%s: %s\n", mu->label, err);
    gguf_writer_free(w);
    gguf_close(f);
    return ok && found;
}

int main(void)
{
    char dir[64] = "/tmp/r1_test_model_hostile_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const mutation *mu = &cases[k];
        char path[256], err[R1_ERR_MAX] = "";
        snprintf(path, sizeof path, "%s/%s.gguf", dir, mu->label);
        if (!write_mutation(mu, path)) {
            CHECKF(0, "%s: cannot write the test file", mu->label);
            continue;
        }
        for (int mm = 0; mm < 2; mm++) {
            static char token;
            r1_model *sentinel = (r1_model *)&token, *m = sentinel;
            mp.use_mmap = mm == 0;
            r1_status st = r1_model_load(path, &mp, &m, err);
            CHECKF(st == mu->want, "%s: status %d (%s), want %d: %s", mu->label, st,
                   r1_status_str(st), mu->want, st ? err : "");
            if (st == R1_OK) {
                r1_model_free(m);
                continue;
            }
            CHECKF(m == sentinel, "%s: out-param changed on failure", mu->label);
            const char *at = strstr(err, path);
            CHECKF(at && !strstr(at + 1, path), "%s: message does not name the file once: %s",
                   mu->label, err);
            CHECKF(mu->what && strstr(err, mu->what) != NULL, "%s: message lacks \"%s\": %s",
                   mu->label, mu->what, err);
        }
        unlink(path);
    }
    rmdir(dir);
    return test_finish();
}
