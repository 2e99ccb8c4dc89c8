/* synth.c — tools/synth.h: random-weight GGUFs with the exact shapes, tensor names and metadata of
 * real models. Weights: matrices uniform with std 1/sqrt(n_cols) (keeps activations at unit scale
 * through the residual stream), norms 1 ± 0.1, biases ± 0.1; each row is seeded from (seed,
 * tensor, row), so a file does not depend on the thread count. The file is streamed tensor by
 * tensor: memory stays bounded however large the model. */
#include "tools/synth.h"

#include "base/rng.h"
#include "base/threadpool.h"
#include "formats/gguf.h"
#include "model/qmix.h"
#include "tensor/quant.h"
#include "tensor/quant_iq.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct preset {
    const char *name, *arch, *description;
    int dim, n_layers, n_heads, n_kv_heads, head_dim, inter_dim, n_vocab, n_ctx;
    float rope_theta, rms_eps;
    bool tied, llama3_rope;
    /* deepseek2 */
    int q_lora_rank, kv_lora_rank, qk_nope, qk_rope, v_head, n_dense;
    int n_experts, n_used, n_shared, moe_inter, n_groups, n_groups_used, gating;
    bool norm_topk;
    float route_scale, yarn_factor, yarn_log_mul;
    int yarn_orig_ctx;
} preset;

static const preset presets[] = {
    {.name = "deepseek-r1",
     .arch = "deepseek2",
     .description = "DeepSeek-R1 / V3 671B",
     .dim = 7168,
     .n_layers = 61,
     .n_heads = 128,
     .inter_dim = 18432,
     .n_vocab = 129280,
     .n_ctx = 163840,
     .rope_theta = 10000,
     .rms_eps = 1e-6f,
     .q_lora_rank = 1536,
     .kv_lora_rank = 512,
     .qk_nope = 128,
     .qk_rope = 64,
     .v_head = 128,
     .n_dense = 3,
     .n_experts = 256,
     .n_used = 8,
     .n_shared = 1,
     .moe_inter = 2048,
     .n_groups = 8,
     .n_groups_used = 4,
     .gating = 2,
     .norm_topk = true,
     .route_scale = 2.5f,
     .yarn_factor = 40,
     .yarn_log_mul = 0.1f,
     .yarn_orig_ctx = 4096},
    {.name = "deepseek-v2-lite",
     .arch = "deepseek2",
     .description = "DeepSeek-V2-Lite 16B",
     .dim = 2048,
     .n_layers = 27,
     .n_heads = 16,
     .inter_dim = 10944,
     .n_vocab = 102400,
     .n_ctx = 163840,
     .rope_theta = 10000,
     .rms_eps = 1e-6f,
     .q_lora_rank = 0,
     .kv_lora_rank = 512,
     .qk_nope = 128,
     .qk_rope = 64,
     .v_head = 128,
     .n_dense = 1,
     .n_experts = 64,
     .n_used = 6,
     .n_shared = 2,
     .moe_inter = 1408,
     .n_groups = 1,
     .n_groups_used = 1,
     .gating = 1,
     .norm_topk = false,
     .route_scale = 1.0f,
     .yarn_factor = 40,
     .yarn_log_mul = 0.0707f,
     .yarn_orig_ctx = 4096},
    {.name = "deepseek2-mini",
     .arch = "deepseek2",
     .description = "DeepSeek-V3 layout at 2048 hidden, 12 layers, 64 experts (benchmarks)",
     .dim = 2048,
     .n_layers = 12,
     .n_heads = 16,
     .inter_dim = 10944,
     .n_vocab = 129280,
     .n_ctx = 163840,
     .rope_theta = 10000,
     .rms_eps = 1e-6f,
     .q_lora_rank = 1536,
     .kv_lora_rank = 512,
     .qk_nope = 128,
     .qk_rope = 64,
     .v_head = 128,
     .n_dense = 1,
     .n_experts = 64,
     .n_used = 6,
     .n_shared = 2,
     .moe_inter = 1408,
     .n_groups = 8,
     .n_groups_used = 4,
     .gating = 2,
     .norm_topk = true,
     .route_scale = 2.5f,
     .yarn_factor = 40,
     .yarn_log_mul = 0.1f,
     .yarn_orig_ctx = 4096},
    {.name = "r1-distill-qwen-1.5b",
     .arch = "qwen2",
     .description = "R1-Distill-Qwen-1.5B",
     .dim = 1536,
     .n_layers = 28,
     .n_heads = 12,
     .n_kv_heads = 2,
     .head_dim = 128,
     .inter_dim = 8960,
     .n_vocab = 151936,
     .n_ctx = 131072,
     .rope_theta = 10000,
     .rms_eps = 1e-6f},
    {.name = "r1-distill-qwen-7b",
     .arch = "qwen2",
     .description = "R1-Distill-Qwen-7B",
     .dim = 3584,
     .n_layers = 28,
     .n_heads = 28,
     .n_kv_heads = 4,
     .head_dim = 128,
     .inter_dim = 18944,
     .n_vocab = 152064,
     .n_ctx = 131072,
     .rope_theta = 10000,
     .rms_eps = 1e-6f},
    {.name = "r1-distill-llama-8b",
     .arch = "llama",
     .description = "R1-Distill-Llama-8B",
     .dim = 4096,
     .n_layers = 32,
     .n_heads = 32,
     .n_kv_heads = 8,
     .head_dim = 128,
     .inter_dim = 14336,
     .n_vocab = 128256,
     .n_ctx = 131072,
     .rope_theta = 500000,
     .rms_eps = 1e-5f,
     .llama3_rope = true},
    {.name = "tiny-deepseek2",
     .arch = "deepseek2",
     .description = "tiny V3 layout for tests",
     .dim = 64,
     .n_layers = 3,
     .n_heads = 4,
     .inter_dim = 128,
     .n_vocab = 1024,
     .n_ctx = 4096,
     .rope_theta = 10000,
     .rms_eps = 1e-6f,
     .q_lora_rank = 32,
     .kv_lora_rank = 32,
     .qk_nope = 16,
     .qk_rope = 8,
     .v_head = 16,
     .n_dense = 1,
     .n_experts = 8,
     .n_used = 2,
     .n_shared = 1,
     .moe_inter = 32,
     .n_groups = 4,
     .n_groups_used = 2,
     .gating = 2,
     .norm_topk = true,
     .route_scale = 2.5f,
     .yarn_factor = 40,
     .yarn_log_mul = 0.1f,
     .yarn_orig_ctx = 4096},
    {.name = "tiny-qwen2",
     .arch = "qwen2",
     .description = "tiny R1-Distill-Qwen layout",
     .dim = 64,
     .n_layers = 2,
     .n_heads = 4,
     .n_kv_heads = 2,
     .head_dim = 16,
     .inter_dim = 128,
     .n_vocab = 1024,
     .n_ctx = 4096,
     .rope_theta = 10000,
     .rms_eps = 1e-6f},
    {.name = "tiny-llama",
     .arch = "llama",
     .description = "tiny R1-Distill-Llama layout",
     .dim = 64,
     .n_layers = 2,
     .n_heads = 4,
     .n_kv_heads = 2,
     .head_dim = 16,
     .inter_dim = 128,
     .n_vocab = 1024,
     .n_ctx = 4096,
     .rope_theta = 500000,
     .rms_eps = 1e-5f,
     .llama3_rope = true},
};

typedef enum tkind { T_MATRIX, T_NORM, T_BIAS, T_ROUTER, T_EMBED, T_ROPE_FREQS } tkind;

typedef struct tspec {
    char name[96];
    int n_dims;
    int64_t ne[3];
    tkind kind;
    dtype type;
} tspec;

typedef struct tlist {
    tspec *v;
    int n, cap;
} tlist;

static void add(tlist *l, tkind kind, dtype wtype, int n_dims, int64_t ne0, int64_t ne1,
                int64_t ne2, const char *fmt, int il)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (!l->v) abort(); /* CLI tool: out of memory for a few hundred names */
    }
    tspec *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, fmt, il);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->kind = kind;
    t->type = (kind == T_MATRIX || kind == T_EMBED) ? qmix_fallback(wtype, ne0) : DTYPE_F32;
}

/* n_mtp: DeepSeek-V3 multi-token-prediction modules after the main layers (llama.cpp layout:
 * counted in block_count, a full MoE layer plus blk.N.nextn.*; embedding and head shared). */
static void list_tensors(const preset *p, dtype wt, int n_mtp, tlist *l)
{
    bool ds = !strcmp(p->arch, "deepseek2");
    int64_t E = p->dim, V = p->n_vocab;
    add(l, T_EMBED, wt, 2, E, V, 1, "token_embd.weight", 0);
    add(l, T_NORM, wt, 1, E, 1, 1, "output_norm.weight", 0);
    if (!p->tied)
        add(l, T_MATRIX, wt == DTYPE_Q4_K ? DTYPE_Q6_K : wt, 2, E, V, 1, "output.weight", 0);
    if (p->llama3_rope) add(l, T_ROPE_FREQS, wt, 1, p->head_dim / 2, 1, 1, "rope_freqs.weight", 0);
    for (int il = 0; il < p->n_layers + n_mtp; il++) {
        if (il >= p->n_layers) {
            add(l, T_NORM, wt, 1, E, 1, 1, "blk.%d.nextn.enorm.weight", il);
            add(l, T_NORM, wt, 1, E, 1, 1, "blk.%d.nextn.hnorm.weight", il);
            add(l, T_MATRIX, wt, 2, 2 * E, E, 1, "blk.%d.nextn.eh_proj.weight", il);
            add(l, T_NORM, wt, 1, E, 1, 1, "blk.%d.nextn.shared_head_norm.weight", il);
        }
        add(l, T_NORM, wt, 1, E, 1, 1, "blk.%d.attn_norm.weight", il);
        add(l, T_NORM, wt, 1, E, 1, 1, "blk.%d.ffn_norm.weight", il);
        if (ds) {
            int64_t H = p->n_heads, qk = p->qk_nope + p->qk_rope;
            if (p->q_lora_rank) {
                add(l, T_MATRIX, wt, 2, E, p->q_lora_rank, 1, "blk.%d.attn_q_a.weight", il);
                add(l, T_NORM, wt, 1, p->q_lora_rank, 1, 1, "blk.%d.attn_q_a_norm.weight", il);
                add(l, T_MATRIX, wt, 2, p->q_lora_rank, H * qk, 1, "blk.%d.attn_q_b.weight", il);
            } else {
                add(l, T_MATRIX, wt, 2, E, H * qk, 1, "blk.%d.attn_q.weight", il);
            }
            add(l, T_MATRIX, wt, 2, E, p->kv_lora_rank + p->qk_rope, 1,
                "blk.%d.attn_kv_a_mqa.weight", il);
            add(l, T_NORM, wt, 1, p->kv_lora_rank, 1, 1, "blk.%d.attn_kv_a_norm.weight", il);
            add(l, T_MATRIX, wt, 3, p->qk_nope, p->kv_lora_rank, H, "blk.%d.attn_k_b.weight", il);
            add(l, T_MATRIX, wt, 3, p->kv_lora_rank, p->v_head, H, "blk.%d.attn_v_b.weight", il);
            add(l, T_MATRIX, wt, 2, H * p->v_head, E, 1, "blk.%d.attn_output.weight", il);
            if (il < p->n_dense) {
                add(l, T_MATRIX, wt, 2, E, p->inter_dim, 1, "blk.%d.ffn_gate.weight", il);
                add(l, T_MATRIX, wt, 2, E, p->inter_dim, 1, "blk.%d.ffn_up.weight", il);
                add(l, T_MATRIX, wt, 2, p->inter_dim, E, 1, "blk.%d.ffn_down.weight", il);
                continue;
            }
            int64_t X = p->n_experts, F = p->moe_inter, S = F * p->n_shared;
            add(l, T_ROUTER, wt, 2, E, X, 1, "blk.%d.ffn_gate_inp.weight", il);
            if (p->gating == 2) add(l, T_BIAS, wt, 1, X, 1, 1, "blk.%d.exp_probs_b.bias", il);
            add(l, T_MATRIX, wt, 3, E, F, X, "blk.%d.ffn_gate_exps.weight", il);
            add(l, T_MATRIX, wt, 3, E, F, X, "blk.%d.ffn_up_exps.weight", il);
            add(l, T_MATRIX, wt, 3, F, E, X, "blk.%d.ffn_down_exps.weight", il);
            if (S) {
                add(l, T_MATRIX, wt, 2, E, S, 1, "blk.%d.ffn_gate_shexp.weight", il);
                add(l, T_MATRIX, wt, 2, E, S, 1, "blk.%d.ffn_up_shexp.weight", il);
                add(l, T_MATRIX, wt, 2, S, E, 1, "blk.%d.ffn_down_shexp.weight", il);
            }
        } else {
            int64_t q = (int64_t)p->n_heads * p->head_dim,
                    kv = (int64_t)p->n_kv_heads * p->head_dim;
            add(l, T_MATRIX, wt, 2, E, q, 1, "blk.%d.attn_q.weight", il);
            add(l, T_MATRIX, wt, 2, E, kv, 1, "blk.%d.attn_k.weight", il);
            add(l, T_MATRIX, wt, 2, E, kv, 1, "blk.%d.attn_v.weight", il);
            if (!strcmp(p->arch, "qwen2")) {
                add(l, T_BIAS, wt, 1, q, 1, 1, "blk.%d.attn_q.bias", il);
                add(l, T_BIAS, wt, 1, kv, 1, 1, "blk.%d.attn_k.bias", il);
                add(l, T_BIAS, wt, 1, kv, 1, 1, "blk.%d.attn_v.bias", il);
            }
            add(l, T_MATRIX, wt, 2, q, E, 1, "blk.%d.attn_output.weight", il);
            add(l, T_MATRIX, wt, 2, E, p->inter_dim, 1, "blk.%d.ffn_gate.weight", il);
            add(l, T_MATRIX, wt, 2, E, p->inter_dim, 1, "blk.%d.ffn_up.weight", il);
            add(l, T_MATRIX, wt, 2, p->inter_dim, E, 1, "blk.%d.ffn_down.weight", il);
        }
    }
}

/* GPT-2 byte-level alphabet: byte b is written as one code point. */
static int byte_to_codepoint(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

static void utf8_put(char *out, int cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    } else {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        out[3] = 0;
    }
}

/* A minimal byte-level vocabulary of the preset's size: specials, the 256 byte tokens, then
 * unused placeholders. Enough to tokenize any text (one token per byte) and to chat. */
static void write_min_tokenizer(gguf_writer *w, const preset *p)
{
    bool ds = !strcmp(p->arch, "deepseek2");
    static const char *ds_special[] = {"<｜begin▁of▁sentence｜>",
                                       "<｜end▁of▁sentence｜>",
                                       "<｜User｜>",
                                       "<｜Assistant｜>",
                                       "<think>",
                                       "</think>"};
    static const char *qwen_special[] = {"<｜begin▁of▁sentence｜>",
                                         "<｜end▁of▁sentence｜>",
                                         "<｜User｜>",
                                         "<｜Assistant｜>",
                                         "<think>",
                                         "</think>"};
    static const char *llama_special[] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
        "<|end_header_id|>", "<|eot_id|>",      "<think>",
        "</think>"};
    const char **sp = ds ? ds_special : !strcmp(p->arch, "qwen2") ? qwen_special : llama_special;
    int n_sp = ds || !strcmp(p->arch, "qwen2") ? 6 : 7;
    int n = p->n_vocab;
    char **tokens = calloc((size_t)n, sizeof *tokens);
    int32_t *types = calloc((size_t)n, sizeof *types);
    if (!tokens || !types) abort();
    for (int i = 0; i < n; i++) {
        char buf[64];
        if (i < n_sp) {
            snprintf(buf, sizeof buf, "%s", sp[i]);
            types[i] = (i < 2 || !ds) ? 3 : 3; /* control */
            if (!strcmp(sp[i], "<think>") || !strcmp(sp[i], "</think>")) types[i] = 4;
        } else if (i < n_sp + 256) {
            utf8_put(buf, byte_to_codepoint(i - n_sp));
            types[i] = 1;
        } else {
            snprintf(buf, sizeof buf, "<｜place▁holder▁no▁%d｜>", i);
            types[i] = 5; /* unused */
        }
        tokens[i] = strdup(buf);
        if (!tokens[i]) abort();
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre",
                        ds                          ? "deepseek-v3"
                        : !strcmp(p->arch, "qwen2") ? "deepseek-r1-qwen"
                                                    : "llama-bpe");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (uint64_t)n);
    gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", ds || !strcmp(p->arch, "qwen2") ? 1 : 4);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    for (int i = 0; i < n; i++) free(tokens[i]);
    free(tokens);
    free(types);
}

/* A real vocabulary (tokenizer.json or a GGUF's) written as GGUF tokenizer keys, padded with
 * unused tokens up to the preset's n_vocab (embedding rows are often padded the same way). */
static bool write_real_tokenizer(gguf_writer *w, const preset *p, const char *path)
{
    char err[R1_ERR_MAX];
    tokenizer *tok = NULL;
    if (tokenizer_load_path(path, &tok, err)) {
        fprintf(stderr, "r1 synth: %s\n", err);
        return false;
    }
    int n = tokenizer_n_vocab(tok);
    if (n > p->n_vocab) {
        fprintf(stderr, "r1 synth: %s has %d tokens, more than the %d rows of %s\n", path, n,
                p->n_vocab, p->name);
        tokenizer_free(tok);
        return false;
    }
    int32_t *left = NULL, *right = NULL, n_merges = 0;
    char **tokens = calloc((size_t)p->n_vocab, sizeof *tokens);
    char **merges = NULL;
    int32_t *types = calloc((size_t)p->n_vocab, sizeof *types);
    bool ok = tokens && types && !tokenizer_merges(tok, &left, &right, &n_merges, err);
    if (ok) merges = calloc((size_t)n_merges + 1, sizeof *merges);
    ok = ok && merges;
    for (int i = 0; ok && i < p->n_vocab; i++) {
        size_t len = 0;
        const char *t = i < n ? tokenizer_token_text(tok, i, &len) : NULL;
        char pad[64];
        if (!t) {
            len = (size_t)snprintf(pad, sizeof pad, "<｜place▁holder▁no▁%d｜>", i);
            t = pad;
        }
        ok = (tokens[i] = strndup(t, len)) != NULL;
        types[i] = i < n ? (int32_t)tokenizer_token_type(tok, i) : 5;
    }
    for (int32_t i = 0; ok && i < n_merges; i++) {
        size_t la, lb;
        const char *a = tokenizer_token_text(tok, left[i], &la),
                   *b = tokenizer_token_text(tok, right[i], &lb);
        ok = (merges[i] = malloc(la + lb + 2)) != NULL;
        if (ok) {
            memcpy(merges[i], a, la);
            merges[i][la] = ' ';
            memcpy(merges[i] + la + 1, b, lb);
            merges[i][la + 1 + lb] = 0;
        }
    }
    if (ok) {
        pretok_kind pk = tokenizer_pre(tok);
        gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_set_str(w, "tokenizer.ggml.pre",
                            pk == PRETOK_DEEPSEEK_V3 ? "deepseek-v3"
                            : pk == PRETOK_QWEN2     ? "qwen2"
                                                     : "llama-bpe");
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens,
                                (uint64_t)p->n_vocab);
        gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)p->n_vocab);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges,
                                (uint64_t)n_merges);
        if (tokenizer_bos(tok) >= 0)
            gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tokenizer_bos(tok));
        if (tokenizer_eos(tok) >= 0)
            gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tokenizer_eos(tok));
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", tokenizer_add_bos(tok));
        if (tokenizer_chat_template(tok))
            gguf_writer_set_str(w, "tokenizer.chat_template", tokenizer_chat_template(tok));
    } else {
        fprintf(stderr, "r1 synth: out of memory copying the vocabulary\n");
    }
    for (int i = 0; tokens && i < p->n_vocab; i++) free(tokens[i]);
    for (int32_t i = 0; merges && i < n_merges; i++) free(merges[i]);
    free(tokens);
    free(merges);
    free(types);
    free(left);
    free(right);
    tokenizer_free(tok);
    return ok;
}

static void write_metadata(gguf_writer *w, const preset *p, int n_layers, int n_mtp, dtype wt,
                           const char *type_label)
{
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", p->arch, s), k)
    gguf_writer_set_str(w, "general.architecture", p->arch);
    char name[128];
    snprintf(name, sizeof name, "synth %s (%s, random weights)", p->name,
             type_label ? type_label : dtype_get(wt)->name);
    gguf_writer_set_str(w, "general.name", name);
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)(n_layers + n_mtp));
    if (n_mtp) gguf_writer_set_u32(w, KEY("nextn_predict_layers"), (uint32_t)n_mtp);
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)p->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)p->dim);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)p->inter_dim);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)p->n_heads);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), p->rms_eps);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), p->rope_theta);
    gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)p->n_vocab);
    if (!strcmp(p->arch, "deepseek2")) {
        gguf_writer_set_u32(w, KEY("attention.head_count_kv"), 1);
        if (p->q_lora_rank)
            gguf_writer_set_u32(w, KEY("attention.q_lora_rank"), (uint32_t)p->q_lora_rank);
        gguf_writer_set_u32(w, KEY("attention.kv_lora_rank"), (uint32_t)p->kv_lora_rank);
        gguf_writer_set_u32(w, KEY("attention.key_length"),
                            (uint32_t)(p->kv_lora_rank + p->qk_rope));
        gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)p->kv_lora_rank);
        gguf_writer_set_u32(w, KEY("attention.key_length_mla"),
                            (uint32_t)(p->qk_nope + p->qk_rope));
        gguf_writer_set_u32(w, KEY("attention.value_length_mla"), (uint32_t)p->v_head);
        gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)p->qk_rope);
        int n_dense = p->n_dense < n_layers ? p->n_dense : n_layers;
        gguf_writer_set_u32(w, KEY("leading_dense_block_count"), (uint32_t)n_dense);
        gguf_writer_set_u32(w, KEY("expert_count"), (uint32_t)p->n_experts);
        gguf_writer_set_u32(w, KEY("expert_used_count"), (uint32_t)p->n_used);
        gguf_writer_set_u32(w, KEY("expert_shared_count"), (uint32_t)p->n_shared);
        gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), (uint32_t)p->moe_inter);
        gguf_writer_set_u32(w, KEY("expert_group_count"), (uint32_t)p->n_groups);
        gguf_writer_set_u32(w, KEY("expert_group_used_count"), (uint32_t)p->n_groups_used);
        gguf_writer_set_u32(w, KEY("expert_gating_func"), (uint32_t)p->gating);
        gguf_writer_set_f32(w, KEY("expert_weights_scale"), p->route_scale);
        gguf_writer_set_bool(w, KEY("expert_weights_norm"), p->norm_topk);
        gguf_writer_set_str(w, KEY("rope.scaling.type"), "yarn");
        gguf_writer_set_f32(w, KEY("rope.scaling.factor"), p->yarn_factor);
        gguf_writer_set_u32(w, KEY("rope.scaling.original_context_length"),
                            (uint32_t)p->yarn_orig_ctx);
        gguf_writer_set_f32(w, KEY("rope.scaling.yarn_log_multiplier"), p->yarn_log_mul);
    } else {
        gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_kv_heads);
        gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)p->head_dim);
    }
#undef KEY
}

typedef struct gen_job {
    const tspec *t;
    uint64_t seed;
    int tensor_index;
    int64_t row0, n_rows;
    uint8_t *out;
    size_t row_bytes;
} gen_job;

static void gen_worker(void *p, int ith, int nth)
{
    const gen_job *j = p;
    const tspec *t = j->t;
    int64_t cols = t->ne[0];
    float *row = malloc((size_t)cols * sizeof(float));
    if (!row) return;
    long b, e;
    threadpool_split((long)j->n_rows, ith, nth, &b, &e);
    for (long r = b; r < e; r++) {
        int64_t gr = j->row0 + r;
        rng g;
        rng_seed(&g, j->seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)j->tensor_index << 40) ^
                         (uint64_t)gr);
        float scale = 1.0f;
        switch (t->kind) {
        case T_MATRIX:
        case T_ROUTER:
            scale = sqrtf(3.0f / (float)cols);
            break;
        case T_EMBED:
            scale = sqrtf(3.0f);
            break;
        default:
            break;
        }
        for (int64_t c = 0; c < cols; c++) {
            float u = 2.0f * rng_uniform(&g) - 1.0f; /* uniform [-1, 1): std 1/sqrt(3) */
            switch (t->kind) {
            case T_NORM:
                row[c] = 1.0f + 0.1f * u;
                break;
            case T_BIAS:
                row[c] = 0.1f * u;
                break;
            case T_ROPE_FREQS: {
                /* Llama-3.1 rope scaling: factor 8, low/high frequency factors 1/4, 8192 ctx */
                double freq = pow(500000.0, -2.0 * (double)c / (2.0 * (double)cols));
                double wavelen = 2 * M_PI / freq, lo = 8192.0 / 1, hi = 8192.0 / 4;
                if (wavelen < hi)
                    row[c] = 1.0f;
                else if (wavelen > lo)
                    row[c] = 8.0f;
                else {
                    double smooth = (8192.0 / wavelen - 1) / (4 - 1);
                    row[c] = (float)(1.0 / ((1 - smooth) / 8 + smooth));
                }
            } break;
            default:
                row[c] = scale * u;
                break;
            }
        }
        if (quant_iq_is_lattice(t->type)) /* the lattice search is far too slow for 671B */
            quant_iq_random_row(t->type, g.s[0] ^ g.s[1], scale / sqrtf(3.0f),
                                j->out + (size_t)r * j->row_bytes, cols);
        else
            quant_quantize_row(t->type, row, j->out + (size_t)r * j->row_bytes, cols);
    }
    free(row);
}

bool tools_synth_preset(int i, const char **out_name, const char **out_description)
{
    if (i < 0 || (size_t)i >= sizeof presets / sizeof presets[0]) return false;
    *out_name = presets[i].name;
    *out_description = presets[i].description;
    return true;
}

bool tools_synth_has_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name)) return true;
    return false;
}

bool tools_synth_type_ok(const char *name)
{
    int type = dtype_from_name(name);
    const qmix *mix = type < 0 ? qmix_find(name) : NULL;
    if (mix) type = (int)mix->base;
    return type >= 0 && dtype_get((uint32_t)type)->is_supported;
}

int tools_synth(const tools_synth_options *o)
{
    const preset *p = NULL;
    for (size_t i = 0; o->preset && i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, o->preset)) p = &presets[i];
    int type = dtype_from_name(o->type);
    /* a mix of `r1 quantize` (Q4_K_M, ...): its base type, then each tensor as the mix says */
    const qmix *mix = type < 0 ? qmix_find(o->type) : NULL;
    if (mix) type = (int)mix->base;
    if (!p || !o->out || type < 0 || !dtype_get((uint32_t)type)->is_supported) {
        fprintf(stderr, "r1 synth: unknown preset '%s' or type '%s'\n", o->preset ? o->preset : "",
                o->type ? o->type : "");
        return 2;
    }
    const char *out = o->out, *tok_path = o->tokenizer;
    const int n_layers = o->n_layers, n_threads = o->n_threads, n_mtp = o->n_mtp;
    const uint64_t seed = o->seed;
    if (n_mtp && strcmp(p->arch, "deepseek2")) {
        fprintf(stderr, "r1 synth: --mtp needs a deepseek2 preset\n");
        return 2;
    }
    preset pp = *p;
    if (n_layers) pp.n_layers = n_layers;
    if (pp.n_dense > pp.n_layers) pp.n_dense = pp.n_layers;
    tlist l = {0};
    list_tensors(&pp, (dtype)type, n_mtp, &l);
    for (int i = 0; mix && i < l.n; i++)
        if (l.v[i].kind == T_MATRIX || l.v[i].kind == T_EMBED)
            l.v[i].type =
                qmix_tensor_type(mix, l.v[i].name, l.v[i].n_dims, l.v[i].ne, pp.n_layers + n_mtp);
    gguf_writer *w = gguf_writer_new();
    write_metadata(w, &pp, pp.n_layers, n_mtp, (dtype)type, mix ? mix->name : NULL);
    char err[R1_ERR_MAX];
    int rc = 1;
    if (!tok_path)
        write_min_tokenizer(w, &pp);
    else if (!write_real_tokenizer(w, &pp, tok_path))
        goto done;
    for (int i = 0; i < l.n; i++)
        if (gguf_writer_add_tensor(w, l.v[i].name, l.v[i].type, l.v[i].n_dims, l.v[i].ne, NULL,
                                   err)) {
            fprintf(stderr, "r1 synth: %s\n", err);
            goto done;
        }
    if (gguf_writer_begin(w, out, err)) {
        fprintf(stderr, "r1 synth: %s\n", err);
        goto done;
    }
    threadpool *pool = threadpool_new(n_threads);
    size_t chunk_cap = 64u << 20;
    uint8_t *chunk = malloc(chunk_cap);
    uint64_t total = 0;
    for (int i = 0; i < l.n && pool && chunk; i++) {
        const tspec *t = &l.v[i];
        size_t row_bytes = dtype_row_bytes(t->type, t->ne[0]);
        int64_t rows = t->ne[1] * t->ne[2];
        int64_t per = (int64_t)(chunk_cap / row_bytes);
        if (per < 1) per = 1;
        for (int64_t r0 = 0; r0 < rows; r0 += per) {
            int64_t n = rows - r0 < per ? rows - r0 : per;
            gen_job job = {t, seed, i, r0, n, chunk, row_bytes};
            threadpool_run(pool, gen_worker, &job);
            if (gguf_writer_write_tensor_part(w, chunk, (size_t)n * row_bytes, err)) {
                fprintf(stderr, "r1 synth: %s\n", err);
                goto fail;
            }
        }
        total += (uint64_t)rows * row_bytes;
        if (isatty(2) && (i % 16 == 0 || i == l.n - 1))
            fprintf(stderr, "\rr1 synth: %d/%d tensors, %.2f GiB", i + 1, l.n,
                    total / (double)(1ull << 30));
    }
    if (!pool || !chunk) {
        fprintf(stderr, "r1 synth: out of memory\n");
        goto fail;
    }
    if (gguf_writer_finish(w, err)) {
        fprintf(stderr, "r1 synth: %s\n", err);
        goto fail;
    }
    if (isatty(2)) fputc('\n', stderr);
    fprintf(stderr, "r1 synth: wrote %s (%s, %d layers%s, %d tensors, %.2f GiB)\n", out, pp.name,
            pp.n_layers, n_mtp ? " + MTP" : "", l.n, total / (double)(1ull << 30));
    rc = 0;
fail:
    free(chunk);
    threadpool_free(pool);
done:
    gguf_writer_free(w);
    free(l.v);
    return rc;
}
