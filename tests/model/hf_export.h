/* hf_export.h — test helper: write a Hugging Face folder (config.json, safetensors shards with an
 * index, tokenizer.json) from an F32 fixture GGUF, the inverse of what src/model/hf.c reads, plus a
 * float reference GGUF holding exactly the values the folder stores.
 *
 * Written independently of hf.c from the HF modeling code's conventions: Linear weights [out, in];
 * DeepSeek's kv_b_proj rows per head [nope K rows, v V rows]; Llama q/k rows un-permuted (GGUF row
 * h·d + 2i + k is HF row h·d + k·d/2 + i); experts one tensor each; FP8 E4M3 weights with one
 * weight_scale_inv per 128 × 128 block (amax / 448, edge blocks partial), as DeepSeek-V3 ships:
 * Linear weights of the layers in FP8, embeddings, norms and router in BF16, the bias in F32.
 * The reference GGUF has the fixture's names and layout with each value replaced by what the
 * folder really stores after rounding (bf16, or fp8 × scale in fp32).
 */
#ifndef R1_TESTS_HF_EXPORT_H
#define R1_TESTS_HF_EXPORT_H

#include "formats/gguf.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { HFX_F32 = 0, HFX_BF16 = 1, HFX_FP8 = 2 };

typedef struct hfx_tensor {
    char name[160];
    const char *dtype; /* "F32", "BF16", "F8_E4M3" */
    int n_dims;
    int64_t shape[2];
    uint8_t *bytes;
    size_t n_bytes;
} hfx_tensor;

typedef struct hfx {
    hfx_tensor *v;
    int n, cap;
} hfx;

static hfx_tensor *hfx_push(hfx *x, const char *name, const char *dtype, int n_dims, int64_t s0,
                            int64_t s1, size_t elem_bytes)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->v = realloc(x->v, (size_t)x->cap * sizeof *x->v);
    }
    hfx_tensor *t = &x->v[x->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->n_dims = n_dims;
    t->shape[0] = s0;
    t->shape[1] = s1;
    t->n_bytes = (size_t)(s0 * (n_dims == 2 ? s1 : 1)) * elem_bytes;
    t->bytes = calloc(1, t->n_bytes ? t->n_bytes : 1);
    return t;
}

/* Round to the nearest e4m3fn value (ties to even), saturating at ±448; returns the code. */
static uint8_t hfx_f32_to_e4m3(float x)
{
    uint8_t sign = x < 0 ? 0x80 : 0;
    float a = fabsf(x);
    if (a >= 448.0f) return sign | 0x7E;
    int e;
    frexpf(a, &e); /* a = m · 2^e, m in [0.5, 1) → unit exponent e - 1 */
    int ue = e - 1 < -6 ? -6 : e - 1;
    float step = ldexpf(1.0f, ue - 3);
    float q = nearbyintf(a / step) * step;
    if (q == 0) return sign;
    frexpf(q, &e);
    ue = e - 1;
    if (ue < -6) return sign | (uint8_t)(q / ldexpf(1.0f, -9)); /* subnormal */
    int m = (int)(q / ldexpf(1.0f, ue) * 8.0f) - 8;
    return sign | (uint8_t)(((ue + 7) << 3) | m);
}

static float hfx_e4m3_to_f32(uint8_t v)
{
    int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
    float x = e == 0 ? ldexpf((float)m, -9) : ldexpf((float)(8 + m), e - 10);
    return s ? -x : x;
}

/* Store vals (rows × cols, HF layout) under name in dtype; vals are replaced by what is stored. */
static void hfx_store(hfx *x, const char *name, int n_dims, int64_t rows, int64_t cols, float *vals,
                      int dtype)
{
    int64_t n = rows * cols;
    if (dtype == HFX_F32) {
        hfx_tensor *t = hfx_push(x, name, "F32", n_dims, n_dims == 2 ? rows : cols, cols, 4);
        memcpy(t->bytes, vals, (size_t)n * 4);
    } else if (dtype == HFX_BF16) {
        hfx_tensor *t = hfx_push(x, name, "BF16", n_dims, n_dims == 2 ? rows : cols, cols, 2);
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = f32_to_bf16(vals[i]);
            memcpy(t->bytes + 2 * i, &h, 2);
            vals[i] = bf16_to_f32(h);
        }
    } else {
        int64_t nbr = (rows + 127) / 128, nbc = (cols + 127) / 128;
        hfx_tensor *t = hfx_push(x, name, "F8_E4M3", 2, rows, cols, 1);
        char sname[200];
        snprintf(sname, sizeof sname, "%s_scale_inv", name);
        hfx_tensor *s = hfx_push(x, sname, "F32", 2, nbr, nbc, 4);
        t = &x->v[x->n - 2]; /* the push may have moved it */
        float *scales = (float *)(void *)s->bytes;
        for (int64_t bi = 0; bi < nbr; bi++)
            for (int64_t bj = 0; bj < nbc; bj++) {
                float amax = 0;
                for (int64_t i = bi * 128; i < rows && i < bi * 128 + 128; i++)
                    for (int64_t j = bj * 128; j < cols && j < bj * 128 + 128; j++)
                        amax = fmaxf(amax, fabsf(vals[i * cols + j]));
                float sc = amax > 0 ? amax / 448.0f : 1.0f;
                scales[bi * nbc + bj] = sc;
                for (int64_t i = bi * 128; i < rows && i < bi * 128 + 128; i++)
                    for (int64_t j = bj * 128; j < cols && j < bj * 128 + 128; j++) {
                        uint8_t q = hfx_f32_to_e4m3(vals[i * cols + j] / sc);
                        t->bytes[i * cols + j] = q;
                        vals[i * cols + j] = hfx_e4m3_to_f32(q) * sc;
                    }
            }
    }
}

static bool hfx_write_st(const char *path, const hfx *x, const int *which, int n_which)
{
    size_t cap = 1 << 16, len = 0;
    char *h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int k = 0; k < n_which; k++) {
        const hfx_tensor *t = &x->v[which[k]];
        if (cap - len < 512) h = realloc(h, cap *= 2);
        if (t->n_dims == 2)
            len += (size_t)snprintf(h + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    t->name, t->dtype, (long long)t->shape[0],
                                    (long long)t->shape[1], off, off + t->n_bytes);
        else
            len +=
                (size_t)snprintf(h + len, cap - len,
                                 ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],"
                                 "\"data_offsets\":[%zu,%zu]}",
                                 t->name, t->dtype, (long long)t->shape[0], off, off + t->n_bytes);
        off += t->n_bytes;
    }
    if (cap - len < 16) h = realloc(h, cap += 16);
    h[len++] = '}';
    while (len % 8) h[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return free(h), false;
    uint64_t n = len;
    fwrite(&n, 8, 1, f);
    fwrite(h, 1, len, f);
    for (int k = 0; k < n_which; k++) fwrite(x->v[which[k]].bytes, 1, x->v[which[k]].n_bytes, f);
    free(h);
    return fclose(f) == 0;
}

static double hfx_kv_num(const gguf_file *f, const char *arch, const char *key, double def)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const gguf_kv *kv = gguf_find(f, full);
    if (!kv) return def;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) return kv->v.f64;
    if (kv->type == GGUF_INT32 || kv->type == GGUF_INT64) return (double)kv->v.i64;
    return (double)kv->v.u64;
}

/* The whole export. dtype: HFX_*; n_shards ≥ 1; with_mtp adds a DeepSeek MTP layer copied from the
 * last layer (with its own embed/enorm/hnorm/eh_proj/shared_head). ref_path may be NULL. */
static bool hfx_export(const char *gguf_path, const char *dir, int dtype, int n_shards,
                       bool with_mtp, const char *tokenizer_json, const char *ref_path)
{
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open(gguf_path, true, &f, err)) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    mkdir(dir, 0755);
    char arch[32] = "";
    gguf_get_str(f, "general.architecture", arch, sizeof arch, NULL);
    bool ds = !strcmp(arch, "deepseek2"), llama = !strcmp(arch, "llama");
    int n_layers = (int)hfx_kv_num(f, arch, "block_count", 0);
    hfx x = {0};
    gguf_writer *ref = gguf_writer_new();
    for (int64_t i = 0; i < f->n_kv; i++) gguf_writer_copy_kv(ref, &f->kv[i]);
    float **ref_data = calloc((size_t)f->n_tensors, sizeof *ref_data);
    int n_heads = (int)hfx_kv_num(f, arch, "attention.head_count", 0);
    int n_kv_heads = (int)hfx_kv_num(f, arch, "attention.head_count_kv", n_heads);
    int mtp_src = n_layers - 1;
    for (int pass = 0; pass < (with_mtp ? 2 : 1); pass++)
        for (int64_t ti = 0; ti < f->n_tensors; ti++) {
            const gguf_tensor *t = &f->tensors[ti];
            int64_t ne0 = t->ne[0], ne1 = t->ne[1], ne2 = t->ne[2], n = t->n_elements;
            int il = -1;
            char rest[128] = "", hn[200];
            if (sscanf(t->name, "blk.%d.%127s", &il, rest) != 2) il = -1;
            if (pass == 1 && il != mtp_src) continue;
            int out_il = pass == 1 ? n_layers : il;
            float *g = malloc((size_t)n * sizeof *g), *h = malloc((size_t)n * sizeof *h);
            quant_dequantize_row(t->type, t->data, g, n);
            bool is_mat = t->n_dims >= 2;
            int wdt = dtype;
            if (dtype == HFX_FP8 && (il < 0 || strstr(rest, "ffn_gate_inp") || !is_mat))
                wdt = HFX_BF16; /* V3: FP8 only for the layers' Linear weights */
            if (!strcmp(rest, "exp_probs_b.bias")) wdt = HFX_F32;
#define HN(fmt) (snprintf(hn, sizeof hn, "model.layers.%d." fmt, out_il), hn)
            static const char *const simple[][2] = {
                {"attn_norm.weight", "input_layernorm.weight"},
                {"ffn_norm.weight", "post_attention_layernorm.weight"},
                {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
                {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
                {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
                {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
                {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
                {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
                {"attn_output.weight", "self_attn.o_proj.weight"},
                {"attn_v.weight", "self_attn.v_proj.weight"},
                {"attn_q.bias", "self_attn.q_proj.bias"},
                {"attn_k.bias", "self_attn.k_proj.bias"},
                {"attn_v.bias", "self_attn.v_proj.bias"},
                {"ffn_gate.weight", "mlp.gate_proj.weight"},
                {"ffn_up.weight", "mlp.up_proj.weight"},
                {"ffn_down.weight", "mlp.down_proj.weight"},
                {"ffn_gate_inp.weight", "mlp.gate.weight"},
                {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
                {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
                {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
                {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
            };
            const char *hf_name = NULL;
            if (il < 0) {
                hf_name = !strcmp(t->name, "token_embd.weight")    ? "model.embed_tokens.weight"
                          : !strcmp(t->name, "output_norm.weight") ? "model.norm.weight"
                          : !strcmp(t->name, "output.weight")      ? "lm_head.weight"
                                                                   : NULL;
            } else if (!strcmp(rest, "attn_q.weight")) {
                hf_name = HN("self_attn.q_proj.weight");
            } else if (!strcmp(rest, "attn_k.weight")) {
                hf_name = HN("self_attn.k_proj.weight");
            } else {
                for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++)
                    if (!strcmp(rest, simple[k][0])) {
                        snprintf(hn, sizeof hn, "model.layers.%d.%s", out_il, simple[k][1]);
                        hf_name = hn;
                    }
            }
            if (hf_name) {
                bool perm =
                    llama && (!strcmp(rest, "attn_q.weight") || !strcmp(rest, "attn_k.weight"));
                int heads = !strcmp(rest, "attn_q.weight") ? n_heads : n_kv_heads;
                int64_t d = perm ? ne1 / heads : 0;
                /* GGUF row h·d + 2i + k  <->  HF row h·d + k·d/2 + i */
                for (int64_t r = 0; r < ne1; r++) {
                    int64_t hr = r;
                    if (perm) hr = (r / d) * d + (r % 2) * (d / 2) + (r % d) / 2;
                    memcpy(h + hr * ne0, g + r * ne0, (size_t)ne0 * 4);
                }
                hfx_store(&x, hf_name, is_mat ? 2 : 1, is_mat ? ne1 : 1, ne0, h, wdt);
                for (int64_t r = 0; r < ne1; r++) {
                    int64_t hr = r;
                    if (perm) hr = (r / d) * d + (r % 2) * (d / 2) + (r % d) / 2;
                    memcpy(g + r * ne0, h + hr * ne0, (size_t)ne0 * 4);
                }
            } else if (strstr(rest, "_exps.weight")) {
                const char *which = strstr(rest, "gate") ? "gate_proj"
                                    : strstr(rest, "up") ? "up_proj"
                                                         : "down_proj";
                for (int64_t e = 0; e < ne2; e++) {
                    snprintf(hn, sizeof hn, "model.layers.%d.mlp.experts.%lld.%s.weight", out_il,
                             (long long)e, which);
                    hfx_store(&x, hn, 2, ne1, ne0, g + e * ne0 * ne1, wdt);
                }
            } else if (!strcmp(rest, "attn_k_b.weight")) {
                /* with attn_v_b: kv_b_proj [H·(nope+v), kv_lora] */
                char vn[96];
                snprintf(vn, sizeof vn, "blk.%d.attn_v_b.weight", il);
                const gguf_tensor *tv = gguf_find_tensor(f, vn);
                int64_t nope = ne0, kvr = ne1, H = ne2, v = tv->ne[1];
                int64_t vi = tv - f->tensors;
                float *gv = malloc((size_t)tv->n_elements * 4);
                quant_dequantize_row(tv->type, tv->data, gv, tv->n_elements);
                float *kv = malloc((size_t)(H * (nope + v) * kvr) * 4);
                for (int64_t hh = 0; hh < H; hh++) {
                    for (int64_t dd = 0; dd < nope; dd++)
                        for (int64_t j = 0; j < kvr; j++)
                            kv[(hh * (nope + v) + dd) * kvr + j] = g[(hh * kvr + j) * nope + dd];
                    for (int64_t i = 0; i < v; i++)
                        for (int64_t j = 0; j < kvr; j++)
                            kv[(hh * (nope + v) + nope + i) * kvr + j] = gv[(hh * v + i) * kvr + j];
                }
                hfx_store(&x, HN("self_attn.kv_b_proj.weight"), 2, H * (nope + v), kvr, kv, wdt);
                for (int64_t hh = 0; hh < H; hh++) {
                    for (int64_t dd = 0; dd < nope; dd++)
                        for (int64_t j = 0; j < kvr; j++)
                            g[(hh * kvr + j) * nope + dd] = kv[(hh * (nope + v) + dd) * kvr + j];
                    for (int64_t i = 0; i < v; i++)
                        for (int64_t j = 0; j < kvr; j++)
                            gv[(hh * v + i) * kvr + j] = kv[(hh * (nope + v) + nope + i) * kvr + j];
                }
                if (pass == 0) {
                    free(ref_data[vi]);
                    ref_data[vi] = gv;
                } else {
                    free(gv);
                }
                free(kv);
            } else if (!strcmp(rest, "attn_v_b.weight") || !strcmp(t->name, "rope_freqs.weight")) {
                /* written with attn_k_b; rope_freqs come from config.json's rope_scaling */
            } else {
                fprintf(stderr, "hf_export: no HF name for %s\n", t->name);
            }
#undef HN
            if (pass == 0 && !ref_data[ti])
                ref_data[ti] = g;
            else if (pass == 0 && ref_data[ti] != g)
                free(g);
            else if (pass == 1)
                free(g);
            free(h);
        }
    if (with_mtp) { /* the MTP head's own tensors */
        int64_t E = (int64_t)hfx_kv_num(f, arch, "embedding_length", 0);
        const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
        char hn[200];
        float *v = calloc((size_t)(2 * E * E + emb->n_elements), 4);
        for (int64_t i = 0; i < 2 * E * E; i++) v[i] = (float)((i * 37 % 101) - 50) / 500.0f;
        snprintf(hn, sizeof hn, "model.layers.%d.eh_proj.weight", n_layers);
        hfx_store(&x, hn, 2, E, 2 * E, v, dtype);
        for (int64_t i = 0; i < E; i++) v[i] = 1.0f;
        const char *norms[] = {"enorm.weight", "hnorm.weight", "shared_head.norm.weight"};
        for (int k = 0; k < 3; k++) {
            snprintf(hn, sizeof hn, "model.layers.%d.%s", n_layers, norms[k]);
            hfx_store(&x, hn, 1, 1, E, v, HFX_BF16);
        }
        quant_dequantize_row(emb->type, emb->data, v, emb->n_elements);
        snprintf(hn, sizeof hn, "model.layers.%d.embed_tokens.weight", n_layers);
        hfx_store(&x, hn, 2, emb->ne[1], E, v, HFX_BF16);
        snprintf(hn, sizeof hn, "model.layers.%d.shared_head.head.weight", n_layers);
        hfx_store(&x, hn, 2, emb->ne[1], E, v, HFX_BF16);
        free(v);
    }

    /* shards + index */
    int *which = malloc((size_t)x.n * sizeof *which);
    char path[600];
    bool ok = true;
    FILE *idx = NULL;
    if (n_shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        idx = fopen(path, "w");
        fprintf(idx, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
    }
    for (int s = 0; s < n_shards; s++) {
        int nw = 0;
        char fname[64];
        if (n_shards == 1)
            snprintf(fname, sizeof fname, "model.safetensors");
        else
            snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        for (int i = 0; i < x.n; i++)
            if (i % n_shards == s) {
                which[nw++] = i;
                if (idx) fprintf(idx, "%s\"%s\":\"%s\"", i ? "," : "", x.v[i].name, fname);
            }
        snprintf(path, sizeof path, "%s/%s", dir, fname);
        ok = ok && hfx_write_st(path, &x, which, nw);
    }
    if (idx) {
        fprintf(idx, "}}\n");
        fclose(idx);
    }
    free(which);

    /* config.json */
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *c = fopen(path, "w");
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    bool tied = gguf_find_tensor(f, "output.weight") == NULL;
#define NUM(k) hfx_kv_num(f, arch, k, 0)
    fprintf(c, "{\n \"hidden_size\": %d,\n \"num_hidden_layers\": %d,\n",
            (int)NUM("embedding_length"), n_layers);
    fprintf(c, " \"num_attention_heads\": %d,\n \"intermediate_size\": %d,\n", n_heads,
            (int)NUM("feed_forward_length"));
    fprintf(c, " \"max_position_embeddings\": %d,\n \"rms_norm_eps\": %.9g,\n",
            (int)NUM("context_length"), NUM("attention.layer_norm_rms_epsilon"));
    fprintf(c, " \"rope_theta\": %.9g,\n \"vocab_size\": %lld,\n \"tie_word_embeddings\": %s,\n",
            hfx_kv_num(f, arch, "rope.freq_base", 10000), (long long)emb->ne[1],
            tied ? "true" : "false");
    fprintf(c,
            " \"torch_dtype\": \"bfloat16\",\n \"bos_token_id\": 0,\n \"eos_token_id\": [1, 2],\n");
    if (ds) {
        int rope = (int)NUM("rope.dimension_count"),
            gating = (int)hfx_kv_num(f, arch, "expert_gating_func", 1);
        bool is_new = NUM("attention.key_length_mla") > 0;
        int nope = is_new ? (int)NUM("attention.key_length_mla") - rope
                          : (int)NUM("attention.key_length") - rope;
        int v =
            is_new ? (int)NUM("attention.value_length_mla") : (int)NUM("attention.value_length");
        int groups = (int)hfx_kv_num(f, arch, "expert_group_count", 1);
        fprintf(c,
                " \"architectures\": [\"DeepseekV3ForCausalLM\"],\n \"num_key_value_heads\": %d,\n",
                n_heads);
        fprintf(c, " \"moe_intermediate_size\": %d,\n \"n_shared_experts\": %d,\n",
                (int)NUM("expert_feed_forward_length"), (int)NUM("expert_shared_count"));
        fprintf(c, " \"n_routed_experts\": %d,\n \"num_experts_per_tok\": %d,\n",
                (int)NUM("expert_count"), (int)NUM("expert_used_count"));
        fprintf(c, " \"routed_scaling_factor\": %.9g,\n \"kv_lora_rank\": %d,\n",
                hfx_kv_num(f, arch, "expert_weights_scale", 1), (int)NUM("attention.kv_lora_rank"));
        if (NUM("attention.q_lora_rank") > 0)
            fprintf(c, " \"q_lora_rank\": %d,\n", (int)NUM("attention.q_lora_rank"));
        else
            fprintf(c, " \"q_lora_rank\": null,\n");
        fprintf(c, " \"qk_rope_head_dim\": %d,\n \"qk_nope_head_dim\": %d,\n \"v_head_dim\": %d,\n",
                rope, nope, v);
        fprintf(c, " \"topk_method\": \"%s\",\n \"n_group\": %d,\n \"topk_group\": %d,\n",
                gating == 2  ? "noaux_tc"
                : groups > 1 ? "group_limited_greedy"
                             : "greedy",
                groups, (int)hfx_kv_num(f, arch, "expert_group_used_count", 1));
        fprintf(c, " \"moe_layer_freq\": 1,\n \"first_k_dense_replace\": %d,\n",
                (int)NUM("leading_dense_block_count"));
        fprintf(c, " \"norm_topk_prob\": %s,\n \"scoring_func\": \"%s\",\n",
                NUM("expert_weights_norm") ? "true" : "false", gating == 2 ? "sigmoid" : "softmax");
        fprintf(c, " \"num_nextn_predict_layers\": %d,\n", with_mtp ? 1 : 0);
        double ms = NUM("rope.scaling.yarn_log_multiplier") / 0.1;
        fprintf(c,
                " \"rope_scaling\": {\"type\": \"yarn\", \"factor\": %.9g, "
                "\"original_max_position_embeddings\": %d, \"mscale\": %.9g, \"mscale_all_dim\": "
                "%.9g, \"beta_fast\": 32, \"beta_slow\": 1}",
                NUM("rope.scaling.factor"), (int)NUM("rope.scaling.original_context_length"), ms,
                ms);
        if (dtype == HFX_FP8)
            fprintf(c, ",\n \"quantization_config\": {\"activation_scheme\": \"dynamic\", "
                       "\"fmt\": \"e4m3\", \"quant_method\": \"fp8\", "
                       "\"weight_block_size\": [128, 128]}");
        fprintf(c, "\n}\n");
    } else {
        fprintf(c, " \"architectures\": [\"%s\"],\n \"num_key_value_heads\": %d",
                llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM", n_kv_heads);
        if (llama && gguf_find_tensor(f, "rope_freqs.weight"))
            fprintf(c, ",\n \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, "
                       "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, "
                       "\"rope_type\": \"llama3\"}");
        fprintf(c, "\n}\n");
    }
#undef NUM
    ok = fclose(c) == 0 && ok;

    if (tokenizer_json) {
        size_t n = 0;
        FILE *in = fopen(tokenizer_json, "rb");
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        FILE *out = fopen(path, "wb");
        char buf[65536];
        while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
        if (in) fclose(in);
        if (out) fclose(out);
    }
    if (ref_path) {
        for (int64_t i = 0; i < f->n_tensors; i++)
            gguf_writer_add_tensor(ref, f->tensors[i].name, DTYPE_F32, f->tensors[i].n_dims,
                                   f->tensors[i].ne, ref_data[i], err);
        ok = gguf_writer_write_file(ref, ref_path, err) == R1_OK && ok;
    }
    gguf_writer_free(ref);
    for (int64_t i = 0; i < f->n_tensors; i++) free(ref_data[i]);
    free(ref_data);
    for (int i = 0; i < x.n; i++) free(x.v[i].bytes);
    free(x.v);
    gguf_close(f);
    return ok;
}

#endif
