/* hf.c — Hugging Face folder → GGUF metadata and tensor recipes (see hf.h for the design).
 *
 * config.json is untrusted like any file: every number is range-checked here (and again by
 * model.c when the result is bound); every tensor is looked up by the name HF's modeling code
 * uses, checked for dtype and rank, and every FP8 weight's scale for its block grid
 * [ceil(rows / 128), ceil(cols / 128)]. HF → GGUF names:
 *   model.embed_tokens → token_embd, model.norm → output_norm, lm_head → output,
 *   model.layers.N.{input_layernorm → attn_norm, post_attention_layernorm → ffn_norm,
 *     self_attn.{q,k,v,o}_proj → attn_{q,k,v,output} (+ .bias),
 *     self_attn.{q_a_proj → attn_q_a, q_a_layernorm → attn_q_a_norm, q_b_proj → attn_q_b,
 *       kv_a_proj_with_mqa → attn_kv_a_mqa, kv_a_layernorm → attn_kv_a_norm,
 *       kv_b_proj → attn_kv_b | attn_k_b + attn_v_b},
 *     mlp.{gate,up,down}_proj → ffn_{gate,up,down}, mlp.gate → ffn_gate_inp,
 *     mlp.gate.e_score_correction_bias → exp_probs_b.bias,
 *     mlp.experts.E.{gate,up,down}_proj → ffn_{gate,up,down}_exps (stacked over E),
 *     mlp.shared_experts.{gate,up,down}_proj → ffn_{gate,up,down}_shexp}
 *   MTP layer L = num_hidden_layers: its block as blk.L.*, and {embed_tokens, enorm, hnorm,
 *     eh_proj, shared_head.norm, shared_head.head} → blk.L.nextn.{embed_tokens, enorm, hnorm,
 *     eh_proj, shared_head_norm, shared_head_head}.
 */
#include "model/hf.h"

#include "base/err.h"
#include "base/mmap.h"
#include "base/threadpool.h"
#include "model/qmix.h"
#include "tensor/quant.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HF_MAX_CONFIG_BYTES (16u << 20)
#define HF_MAX_KV 64
#define HF_MAX_LAYERS 1024
#define HF_MAX_DIM (1 << 17)
#define HF_MAX_EXPERTS 4096

bool hf_is_folder(const char *path)
{
    struct stat sb;
    char buf[4096 + 32];
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return false;
    snprintf(buf, sizeof buf, "%s/config.json", path);
    return stat(buf, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void *own(hf_model *hf, size_t bytes)
{
    if (hf->n_owned == hf->cap_owned) {
        int cap = hf->cap_owned ? 2 * hf->cap_owned : 64;
        void **p = realloc(hf->owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        hf->owned = p;
        hf->cap_owned = cap;
    }
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64); /* 64: any kernel may load rows with aligned SIMD */
    if (p) hf->owned[hf->n_owned++] = p;
    return p;
}

/* ---- config.json ----------------------------------------------------------------------------- */

typedef struct cfg {
    const cJSON *root;
    const char *path;
    char *err;
} cfg;

static const cJSON *cfg_item(const cJSON *obj, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(j) ? NULL : j;
}

/* An integer in [lo, hi]; absent (or null) gives def, or an error when required. */
static r1_status cfg_int(const cfg *c, const cJSON *obj, const char *key, bool required, long def,
                         long lo, long hi, int *out)
{
    const cJSON *j = cfg_item(obj, key);
    if (!j) {
        if (required) return err_set(c->err, R1_ERR_FORMAT, "%s: missing \"%s\"", c->path, key);
        *out = (int)def;
        return R1_OK;
    }
    double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return err_set(c->err, R1_ERR_FORMAT, "%s: \"%s\" must be an integer in [%ld, %ld]",
                       c->path, key, lo, hi);
    *out = (int)d;
    return R1_OK;
}

static r1_status cfg_float(const cfg *c, const cJSON *obj, const char *key, bool required,
                           double def, float *out)
{
    const cJSON *j = cfg_item(obj, key);
    if (!j) {
        if (required) return err_set(c->err, R1_ERR_FORMAT, "%s: missing \"%s\"", c->path, key);
        *out = (float)def;
        return R1_OK;
    }
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || fabs(j->valuedouble) > 1e30)
        return err_set(c->err, R1_ERR_FORMAT, "%s: \"%s\" must be a finite number", c->path, key);
    *out = (float)j->valuedouble;
    return R1_OK;
}

static r1_status cfg_bool(const cfg *c, const cJSON *obj, const char *key, bool def, bool *out)
{
    const cJSON *j = cfg_item(obj, key);
    if (!j) {
        *out = def;
        return R1_OK;
    }
    if (!cJSON_IsBool(j))
        return err_set(c->err, R1_ERR_FORMAT, "%s: \"%s\" must be true or false", c->path, key);
    *out = cJSON_IsTrue(j);
    return R1_OK;
}

static const char *cfg_str(const cJSON *obj, const char *key)
{
    const cJSON *j = cfg_item(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* ---- metadata ------------------------------------------------------------------------------ */

static hf_kv *kv_add(hf_model *hf, const char *key, hf_kv_type type)
{
    if (hf->n_kv >= HF_MAX_KV) return NULL; /* cannot happen: HF_MAX_KV exceeds every arch's set */
    hf_kv *kv = &hf->kv[hf->n_kv++];
    memset(kv, 0, sizeof *kv);
    if (!strncmp(key, "general.", 8) || !strncmp(key, "r1.", 3) || !strncmp(key, "tokenizer.", 10))
        snprintf(kv->key, sizeof kv->key, "%s", key);
    else
        snprintf(kv->key, sizeof kv->key, "%s.%s", hf->arch, key);
    kv->type = type;
    return kv;
}

static void kv_u32(hf_model *hf, const char *key, long v)
{
    hf_kv *kv = kv_add(hf, key, HF_KV_U32);
    if (kv) kv->u32 = (uint32_t)v;
}

static void kv_f32(hf_model *hf, const char *key, float v)
{
    hf_kv *kv = kv_add(hf, key, HF_KV_F32);
    if (kv) kv->f32 = v;
}

static void kv_bool(hf_model *hf, const char *key, bool v)
{
    hf_kv *kv = kv_add(hf, key, HF_KV_BOOL);
    if (kv) kv->b = v;
}

static bool kv_str(hf_model *hf, const char *key, const char *v)
{
    hf_kv *kv = kv_add(hf, key, HF_KV_STR);
    return kv && (kv->str = strdup(v)) != NULL;
}

void hf_write_metadata(const hf_model *hf, gguf_writer *w)
{
    for (int i = 0; i < hf->n_kv; i++) {
        const hf_kv *kv = &hf->kv[i];
        if (!strncmp(kv->key, "r1.", 3)) continue; /* load-time only, never written */
        switch (kv->type) {
        case HF_KV_U32:
            gguf_writer_set_u32(w, kv->key, kv->u32);
            break;
        case HF_KV_F32:
            gguf_writer_set_f32(w, kv->key, kv->f32);
            break;
        case HF_KV_BOOL:
            gguf_writer_set_bool(w, kv->key, kv->b);
            break;
        case HF_KV_STR:
            gguf_writer_set_str(w, kv->key, kv->str);
            break;
        }
    }
}

/* ---- tensor mapping ------------------------------------------------------------------------ */

typedef struct mapper {
    hf_model *hf;
    hf_purpose purpose;
    unsigned char *used; /* per checkpoint tensor */
    int cap_tensors;
    char *err;
} mapper;

static r1_status find_src(mapper *M, const char *name, bool required, int n_dims,
                          const st_tensor **out)
{
    *out = NULL;
    const st_tensor *t = st_find(M->hf->ck, name);
    if (!t) {
        if (required)
            return err_set(M->err, R1_ERR_FORMAT, "%s: missing tensor '%s'", M->hf->dir, name);
        return R1_OK;
    }
    if (!st_dtype_is_float(t->dtype))
        return err_set(M->err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (not a float)",
                       M->hf->ck->shard_paths[t->shard], name, st_dtype_name(t->dtype));
    if (t->n_dims != n_dims)
        return err_set(M->err, R1_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected %d",
                       M->hf->ck->shard_paths[t->shard], name, t->n_dims, n_dims);
    if (t->n_elements == 0)
        return err_set(M->err, R1_ERR_FORMAT, "%s: tensor '%s' is empty",
                       M->hf->ck->shard_paths[t->shard], name);
    M->used[t - M->hf->ck->tensors] = 1;
    *out = t;
    return R1_OK;
}

/* FP8 weights carry NAME_scale_inv (DeepSeek: ".weight" → ".weight_scale_inv"), one float per
 * block_rows × block_cols block. Absent: scale 1. */
static r1_status find_scale(mapper *M, const char *name, const st_tensor *w, const st_tensor **out)
{
    *out = NULL;
    if (w->dtype != ST_F8_E4M3 && w->dtype != ST_F8_E5M2) return R1_OK;
    M->hf->is_fp8 = true;
    char sname[512];
    snprintf(sname, sizeof sname, "%s_scale_inv", name);
    const st_tensor *s;
    r1_status st = find_src(M, sname, false, 2, &s);
    if (st || !s) return st;
    int64_t rows = w->n_dims == 2 ? w->shape[0] : 1, cols = w->shape[w->n_dims - 1];
    int64_t br = M->hf->block_rows, bc = M->hf->block_cols;
    int64_t want0 = (rows + br - 1) / br, want1 = (cols + bc - 1) / bc;
    if (w->n_dims != 2 || s->shape[0] != want0 || s->shape[1] != want1 || s->dtype == ST_F8_E4M3 ||
        s->dtype == ST_F8_E5M2)
        return err_set(M->err, R1_ERR_FORMAT,
                       "%s: '%s' has shape [%lld, %lld] but a [%lld, %lld] weight in %lld×%lld "
                       "blocks needs [%lld, %lld] scales (F32/BF16/F16)",
                       M->hf->ck->shard_paths[s->shard], sname, (long long)s->shape[0],
                       (long long)s->shape[1], (long long)rows, (long long)cols, (long long)br,
                       (long long)bc, (long long)want0, (long long)want1);
    *out = s;
    return R1_OK;
}

static hf_tensor *push(mapper *M, const char *gguf_name, int n_src)
{
    hf_model *hf = M->hf;
    if (hf->n_tensors == M->cap_tensors) {
        int cap = M->cap_tensors ? 2 * M->cap_tensors : 256;
        hf_tensor *p = realloc(hf->tensors, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        hf->tensors = p;
        M->cap_tensors = cap;
    }
    const st_tensor **src = own(hf, 2 * (size_t)n_src * sizeof *src);
    if (!src) return NULL;
    hf_tensor *t = &hf->tensors[hf->n_tensors++];
    memset(t, 0, sizeof *t);
    memset(src, 0, 2 * (size_t)n_src * sizeof *src);
    snprintf(t->name, sizeof t->name, "%s", gguf_name);
    t->src = src;
    t->scale = src + n_src;
    t->n_src = n_src;
    t->native = DTYPE_COUNT;
    return t;
}

static dtype native_of(st_dtype d)
{
    return d == ST_F32    ? DTYPE_F32
           : d == ST_F16  ? DTYPE_F16
           : d == ST_BF16 ? DTYPE_BF16
                          : DTYPE_COUNT;
}

static r1_status nomem(mapper *M)
{
    return err_set(M->err, R1_ERR_NOMEM, "%s: out of memory", M->hf->dir);
}

/* A 1D or 2D tensor copied (or permuted) under a GGUF name. */
static r1_status add_one(mapper *M, const char *gguf_name, const char *hf_name, int n_dims,
                         bool required, hf_op op, int n_head)
{
    const st_tensor *s, *sc;
    r1_status st = find_src(M, hf_name, required, n_dims, &s);
    if (st || !s) return st;
    if ((st = find_scale(M, hf_name, s, &sc))) return st;
    hf_tensor *t = push(M, gguf_name, 1);
    if (!t) return nomem(M);
    t->src[0] = s;
    t->scale[0] = sc;
    t->op = op;
    t->n_dims = n_dims;
    t->ne[0] = s->shape[n_dims - 1];
    t->ne[1] = n_dims == 2 ? s->shape[0] : 1;
    t->ne[2] = 1;
    t->n_head = n_head;
    if (op == HF_OP_PERMUTE) {
        if (n_head < 1 || t->ne[1] % n_head || (t->ne[1] / n_head) % 2)
            return err_set(M->err, R1_ERR_FORMAT,
                           "%s: '%s' has %lld rows, not %d heads of an even size", M->hf->dir,
                           hf_name, (long long)t->ne[1], n_head);
    } else if (!sc) {
        t->native = native_of(s->dtype);
    }
    return R1_OK;
}

static r1_status add_mat(mapper *M, const char *gguf_name, const char *hf_name, bool required)
{
    return add_one(M, gguf_name, hf_name, 2, required, HF_OP_COPY, 0);
}

static r1_status add_vec(mapper *M, const char *gguf_name, const char *hf_name, bool required)
{
    return add_one(M, gguf_name, hf_name, 1, required, HF_OP_COPY, 0);
}

/* ffn_{gate,up,down}_exps: n_exp HF tensors "PREFIX.E.WHICH.weight" stacked as matrices. */
static r1_status add_experts(mapper *M, const char *gguf_name, const char *prefix,
                             const char *which, int n_exp)
{
    hf_tensor *t = push(M, gguf_name, n_exp);
    if (!t) return nomem(M);
    hf_tensor *keep = t;
    int idx = (int)(keep - M->hf->tensors);
    bool all_native = true;
    for (int e = 0; e < n_exp; e++) {
        char name[256];
        snprintf(name, sizeof name, "%s.%d.%s.weight", prefix, e, which);
        const st_tensor *s, *sc;
        r1_status st = find_src(M, name, true, 2, &s);
        if (!st) st = find_scale(M, name, s, &sc);
        if (st) return st;
        t = &M->hf->tensors[idx];
        if (e > 0 && (s->shape[0] != t->src[0]->shape[0] || s->shape[1] != t->src[0]->shape[1] ||
                      s->dtype != t->src[0]->dtype))
            return err_set(M->err, R1_ERR_FORMAT,
                           "%s: '%s' is %s [%lld, %lld] but expert 0 is %s [%lld, %lld]",
                           M->hf->dir, name, st_dtype_name(s->dtype), (long long)s->shape[0],
                           (long long)s->shape[1], st_dtype_name(t->src[0]->dtype),
                           (long long)t->src[0]->shape[0], (long long)t->src[0]->shape[1]);
        t->src[e] = s;
        t->scale[e] = sc;
        if (sc) all_native = false;
    }
    t->op = HF_OP_COPY;
    t->n_dims = 3;
    t->ne[0] = t->src[0]->shape[1];
    t->ne[1] = t->src[0]->shape[0];
    t->ne[2] = n_exp;
    if (all_native) t->native = native_of(t->src[0]->dtype);
    return R1_OK;
}

/* kv_b_proj [H·(nope+v), kv_lora] → attn_k_b {nope, kv_lora, H} and attn_v_b {kv_lora, v, H}. */
static r1_status add_kv_b_split(mapper *M, int il, const char *hf_name, int H, int nope, int v)
{
    const st_tensor *s, *sc;
    r1_status st = find_src(M, hf_name, true, 2, &s);
    if (!st) st = find_scale(M, hf_name, s, &sc);
    if (st) return st;
    if (s->shape[0] != (int64_t)H * (nope + v))
        return err_set(M->err, R1_ERR_FORMAT,
                       "%s: '%s' has %lld rows but %d heads × (%d + %d) are configured", M->hf->dir,
                       hf_name, (long long)s->shape[0], H, nope, v);
    int64_t kvr = s->shape[1];
    for (int k = 0; k < 2; k++) {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, k ? "attn_v_b" : "attn_k_b");
        hf_tensor *t = push(M, name, 1);
        if (!t) return nomem(M);
        t->src[0] = s;
        t->scale[0] = sc;
        t->op = k ? HF_OP_KV_B_V : HF_OP_KV_B_K;
        t->n_dims = 3;
        t->ne[0] = k ? kvr : nope;
        t->ne[1] = k ? v : kvr;
        t->ne[2] = H;
        t->n_head = H;
        t->nope = nope;
        t->v = v;
    }
    return R1_OK;
}

/* ---- architectures ------------------------------------------------------------------------- */

typedef struct ds_cfg {
    int dim, n_layers, n_heads, inter, moe_inter, n_shared, n_routed, n_used, q_lora, kv_lora;
    int rope, nope, v, n_group, topk_group, first_dense, moe_freq, n_nextn;
} ds_cfg;

#define P(fmt) (snprintf(hn, sizeof hn, "model.layers.%d." fmt, il), hn)
#define G(fmt) (snprintf(gn, sizeof gn, "blk.%d." fmt, il), gn)

static r1_status map_deepseek_layer(mapper *M, const ds_cfg *d, int il, bool required)
{
    char hn[256], gn[96];
    r1_status st;
    if ((st = add_vec(M, G("attn_norm.weight"), P("input_layernorm.weight"), required)) ||
        (st = add_vec(M, G("ffn_norm.weight"), P("post_attention_layernorm.weight"), required)))
        return st;
    if (d->q_lora > 0) {
        if ((st = add_mat(M, G("attn_q_a.weight"), P("self_attn.q_a_proj.weight"), required)) ||
            (st = add_vec(M, G("attn_q_a_norm.weight"), P("self_attn.q_a_layernorm.weight"),
                          required)) ||
            (st = add_mat(M, G("attn_q_b.weight"), P("self_attn.q_b_proj.weight"), required)))
            return st;
    } else if ((st = add_mat(M, G("attn_q.weight"), P("self_attn.q_proj.weight"), required))) {
        return st;
    }
    if ((st = add_mat(M, G("attn_kv_a_mqa.weight"), P("self_attn.kv_a_proj_with_mqa.weight"),
                      required)) ||
        (st = add_vec(M, G("attn_kv_a_norm.weight"), P("self_attn.kv_a_layernorm.weight"),
                      required)) ||
        (st = add_mat(M, G("attn_output.weight"), P("self_attn.o_proj.weight"), required)))
        return st;
    if (M->purpose == HF_FOR_LOAD)
        st = add_mat(M, G("attn_kv_b.weight"), P("self_attn.kv_b_proj.weight"), required);
    else if (required || st_find(M->hf->ck, P("self_attn.kv_b_proj.weight")))
        st = add_kv_b_split(M, il, P("self_attn.kv_b_proj.weight"), d->n_heads, d->nope, d->v);
    if (st) return st;
    bool is_moe = d->n_routed > 0 && il >= d->first_dense && il % d->moe_freq == 0;
    if (!is_moe)
        return (st = add_mat(M, G("ffn_gate.weight"), P("mlp.gate_proj.weight"), required)) ? st
               : (st = add_mat(M, G("ffn_up.weight"), P("mlp.up_proj.weight"), required))
                   ? st
                   : add_mat(M, G("ffn_down.weight"), P("mlp.down_proj.weight"), required);
    if ((st = add_mat(M, G("ffn_gate_inp.weight"), P("mlp.gate.weight"), required)) ||
        (st = add_vec(M, G("exp_probs_b.bias"), P("mlp.gate.e_score_correction_bias"), false)))
        return st;
    if (!required && !st_find(M->hf->ck, P("mlp.experts.0.gate_proj.weight"))) return R1_OK;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "model.layers.%d.mlp.experts", il);
    if ((st = add_experts(M, G("ffn_gate_exps.weight"), prefix, "gate_proj", d->n_routed)) ||
        (st = add_experts(M, G("ffn_up_exps.weight"), prefix, "up_proj", d->n_routed)) ||
        (st = add_experts(M, G("ffn_down_exps.weight"), prefix, "down_proj", d->n_routed)))
        return st;
    if (d->n_shared > 0 && ((st = add_mat(M, G("ffn_gate_shexp.weight"),
                                          P("mlp.shared_experts.gate_proj.weight"), required)) ||
                            (st = add_mat(M, G("ffn_up_shexp.weight"),
                                          P("mlp.shared_experts.up_proj.weight"), required)) ||
                            (st = add_mat(M, G("ffn_down_shexp.weight"),
                                          P("mlp.shared_experts.down_proj.weight"), required))))
        return st;
    return R1_OK;
}

static r1_status map_deepseek(mapper *M, const cfg *c)
{
    hf_model *hf = M->hf;
    const cJSON *r = c->root;
    ds_cfg d = {0};
    int n_ctx = 0;
    float eps, theta, route_scale;
    bool norm_topk;
    r1_status st;
    if ((st = cfg_int(c, r, "hidden_size", true, 0, 1, HF_MAX_DIM, &d.dim)) ||
        (st = cfg_int(c, r, "num_hidden_layers", true, 0, 1, HF_MAX_LAYERS, &d.n_layers)) ||
        (st = cfg_int(c, r, "num_attention_heads", true, 0, 1, 4096, &d.n_heads)) ||
        (st = cfg_int(c, r, "intermediate_size", true, 0, 1, 1 << 20, &d.inter)) ||
        (st = cfg_int(c, r, "moe_intermediate_size", false, 0, 0, 1 << 20, &d.moe_inter)) ||
        (st = cfg_int(c, r, "n_shared_experts", false, 0, 0, 64, &d.n_shared)) ||
        (st = cfg_int(c, r, "n_routed_experts", false, 0, 0, HF_MAX_EXPERTS, &d.n_routed)) ||
        (st = cfg_int(c, r, "num_experts_per_tok", false, 0, 0, HF_MAX_EXPERTS, &d.n_used)) ||
        (st = cfg_int(c, r, "q_lora_rank", false, 0, 0, HF_MAX_DIM, &d.q_lora)) ||
        (st = cfg_int(c, r, "kv_lora_rank", true, 0, 1, HF_MAX_DIM, &d.kv_lora)) ||
        (st = cfg_int(c, r, "qk_rope_head_dim", true, 0, 2, 1024, &d.rope)) ||
        (st = cfg_int(c, r, "qk_nope_head_dim", true, 0, 1, 4096, &d.nope)) ||
        (st = cfg_int(c, r, "v_head_dim", true, 0, 1, 4096, &d.v)) ||
        (st = cfg_int(c, r, "n_group", false, 1, 1, 256, &d.n_group)) ||
        (st = cfg_int(c, r, "topk_group", false, 1, 1, 256, &d.topk_group)) ||
        (st = cfg_int(c, r, "first_k_dense_replace", false, 0, 0, HF_MAX_LAYERS, &d.first_dense)) ||
        (st = cfg_int(c, r, "moe_layer_freq", false, 1, 1, HF_MAX_LAYERS, &d.moe_freq)) ||
        (st = cfg_int(c, r, "num_nextn_predict_layers", false, 0, 0, 16, &d.n_nextn)) ||
        (st = cfg_int(c, r, "max_position_embeddings", true, 0, 1, 1 << 24, &n_ctx)) ||
        (st = cfg_float(c, r, "rms_norm_eps", true, 0, &eps)) ||
        (st = cfg_float(c, r, "rope_theta", false, 10000, &theta)) ||
        (st = cfg_float(c, r, "routed_scaling_factor", false, 1, &route_scale)) ||
        (st = cfg_bool(c, r, "norm_topk_prob", false, &norm_topk)))
        return st;
    if (d.moe_freq != 1)
        return err_set(c->err, R1_ERR_UNSUPPORTED,
                       "%s: moe_layer_freq %d is not supported (every layer after "
                       "first_k_dense_replace must be MoE)",
                       c->path, d.moe_freq);
    if (d.first_dense > d.n_layers) d.first_dense = d.n_layers;
    const char *scoring = cfg_str(r, "scoring_func"), *topk = cfg_str(r, "topk_method");
    int gating = 1;
    if (!scoring || !strcmp(scoring, "softmax"))
        gating = 1;
    else if (!strcmp(scoring, "sigmoid"))
        gating = 2;
    else
        return err_set(c->err, R1_ERR_UNSUPPORTED, "%s: scoring_func \"%s\" is not supported",
                       c->path, scoring);
    /* greedy: plain top-k (groups ignored); group_limited_greedy (V2) and noaux_tc (V3, with the
     * selection bias) keep the best topk_group groups first */
    if (!topk || !strcmp(topk, "greedy")) {
        d.n_group = d.topk_group = 1;
    } else if (strcmp(topk, "group_limited_greedy") && strcmp(topk, "noaux_tc")) {
        return err_set(c->err, R1_ERR_UNSUPPORTED, "%s: topk_method \"%s\" is not supported",
                       c->path, topk);
    }

    /* MTP modules present in the tensors; llama.cpp's layout counts them in block_count */
    int n_mtp = 0;
    for (int il = d.n_layers; il < d.n_layers + d.n_nextn; il++) {
        char hn[256];
        snprintf(hn, sizeof hn, "model.layers.%d.eh_proj.weight", il);
        if (st_find(hf->ck, hn)) n_mtp++;
    }
    kv_u32(hf, "block_count", d.n_layers + n_mtp);
    kv_u32(hf, "context_length", n_ctx);
    kv_u32(hf, "embedding_length", d.dim);
    kv_u32(hf, "feed_forward_length", d.inter);
    kv_u32(hf, "attention.head_count", d.n_heads);
    kv_f32(hf, "attention.layer_norm_rms_epsilon", eps);
    kv_f32(hf, "rope.freq_base", theta);
    if (d.q_lora > 0) kv_u32(hf, "attention.q_lora_rank", d.q_lora);
    kv_u32(hf, "attention.kv_lora_rank", d.kv_lora);
    if (M->purpose == HF_FOR_LOAD) { /* legacy layout: attn_kv_b, split by model.c */
        kv_u32(hf, "attention.head_count_kv", d.n_heads);
        kv_u32(hf, "attention.key_length", d.nope + d.rope);
        kv_u32(hf, "attention.value_length", d.v);
    } else { /* what the ecosystem writes today: MLA run as MQA over the latent */
        kv_u32(hf, "attention.head_count_kv", 1);
        kv_u32(hf, "attention.key_length", d.kv_lora + d.rope);
        kv_u32(hf, "attention.value_length", d.kv_lora);
        kv_u32(hf, "attention.key_length_mla", d.nope + d.rope);
        kv_u32(hf, "attention.value_length_mla", d.v);
    }
    kv_u32(hf, "rope.dimension_count", d.rope);
    kv_u32(hf, "leading_dense_block_count", d.first_dense);
    if (d.n_routed > 0) {
        kv_u32(hf, "expert_count", d.n_routed);
        kv_u32(hf, "expert_used_count", d.n_used);
        kv_u32(hf, "expert_shared_count", d.n_shared);
        kv_u32(hf, "expert_feed_forward_length", d.moe_inter);
        kv_f32(hf, "expert_weights_scale", route_scale);
        kv_bool(hf, "expert_weights_norm", norm_topk);
        kv_u32(hf, "expert_gating_func", gating);
        kv_u32(hf, "expert_group_count", d.n_group);
        kv_u32(hf, "expert_group_used_count", d.topk_group);
    }
    const cJSON *rs = cfg_item(r, "rope_scaling");
    if (rs) {
        const char *type = cfg_str(rs, "type");
        if (!type) type = cfg_str(rs, "rope_type");
        if (!type || strcmp(type, "yarn"))
            return err_set(c->err, R1_ERR_UNSUPPORTED,
                           "%s: rope_scaling type \"%s\" is not supported for DeepSeek (yarn)",
                           c->path, type ? type : "");
        float factor, mscale, mscale_all, beta_fast, beta_slow;
        int orig;
        if ((st = cfg_float(c, rs, "factor", true, 1, &factor)) ||
            (st = cfg_int(c, rs, "original_max_position_embeddings", true, 0, 1, 1 << 24, &orig)) ||
            (st = cfg_float(c, rs, "mscale", false, 1, &mscale)) ||
            (st = cfg_float(c, rs, "mscale_all_dim", false, 0, &mscale_all)) ||
            (st = cfg_float(c, rs, "beta_fast", false, 32, &beta_fast)) ||
            (st = cfg_float(c, rs, "beta_slow", false, 1, &beta_slow)))
            return st;
        /* HF scales cos/sin by mscale(factor, mscale) / mscale(factor, mscale_all_dim); the
         * engine (like llama.cpp) assumes 1, true for every released DeepSeek config */
        if (factor > 1 && fabsf(mscale - mscale_all) > 1e-6f && mscale_all != 0)
            return err_set(c->err, R1_ERR_UNSUPPORTED,
                           "%s: rope_scaling mscale %g ≠ mscale_all_dim %g is not supported",
                           c->path, mscale, mscale_all);
        if (beta_fast != 32 || beta_slow != 1)
            return err_set(c->err, R1_ERR_UNSUPPORTED,
                           "%s: yarn beta_fast/beta_slow %g/%g are not supported (32/1)", c->path,
                           beta_fast, beta_slow);
        kv_str(hf, "rope.scaling.type", "yarn");
        kv_f32(hf, "rope.scaling.factor", factor);
        kv_u32(hf, "rope.scaling.original_context_length", orig);
        kv_f32(hf, "rope.scaling.yarn_beta_fast", beta_fast);
        kv_f32(hf, "rope.scaling.yarn_beta_slow", beta_slow);
        kv_f32(hf, "rope.scaling.yarn_log_multiplier", 0.1f * mscale_all);
    }

    for (int il = 0; il < d.n_layers; il++)
        if ((st = map_deepseek_layer(M, &d, il, true))) return st;
    /* MTP: layers n_layers .. n_layers + n_nextn - 1 */
    for (int il = d.n_layers; il < d.n_layers + d.n_nextn; il++) {
        char hn[256], gn[96];
        if (!st_find(hf->ck, P("eh_proj.weight"))) continue;
        static const char *const nextn[][2] = {
            {"embed_tokens.weight", "nextn.embed_tokens.weight"},
            {"enorm.weight", "nextn.enorm.weight"},
            {"hnorm.weight", "nextn.hnorm.weight"},
            {"eh_proj.weight", "nextn.eh_proj.weight"},
            {"shared_head.norm.weight", "nextn.shared_head_norm.weight"},
            {"shared_head.head.weight", "nextn.shared_head_head.weight"},
        };
        for (int k = 0; k < 6; k++) {
            snprintf(hn, sizeof hn, "model.layers.%d.%s", il, nextn[k][0]);
            snprintf(gn, sizeof gn, "blk.%d.%s", il, nextn[k][1]);
            const st_tensor *s = st_find(hf->ck, hn);
            if (s && (st = add_one(M, gn, hn, s->n_dims == 1 ? 1 : 2, false, HF_OP_COPY, 0)))
                return st;
        }
        if ((st = map_deepseek_layer(M, &d, il, false))) return st;
        hf->n_nextn++;
    }
    if (hf->n_nextn) kv_u32(hf, "nextn_predict_layers", hf->n_nextn);
    hf->n_layers = d.n_layers;
    return R1_OK;
}

/* Llama 3 "rope_type": "llama3": per rotated pair i, the factor its frequency is divided by
 * (what the ecosystem stores as rope_freqs.weight). */
static r1_status llama3_freqs(mapper *M, const cfg *c, const cJSON *rs, float theta, int head_dim)
{
    float factor, lo, hi;
    int orig;
    r1_status st;
    if ((st = cfg_float(c, rs, "factor", true, 1, &factor)) ||
        (st = cfg_float(c, rs, "low_freq_factor", false, 1, &lo)) ||
        (st = cfg_float(c, rs, "high_freq_factor", false, 4, &hi)) ||
        (st = cfg_int(c, rs, "original_max_position_embeddings", false, 8192, 1, 1 << 24, &orig)))
        return st;
    if (!(factor >= 1) || !(lo > 0) || !(hi > lo))
        return err_set(c->err, R1_ERR_FORMAT,
                       "%s: llama3 rope_scaling needs factor ≥ 1 and 0 < low_freq_factor < "
                       "high_freq_factor",
                       c->path);
    int n = head_dim / 2;
    float *f = own(M->hf, (size_t)n * sizeof *f);
    hf_tensor *t = f ? push(M, "rope_freqs.weight", 1) : NULL;
    if (!t) return nomem(M);
    for (int i = 0; i < n; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim); /* fp32, as HF */
        double wavelen = 2 * M_PI / freq, lo_wl = orig / lo, hi_wl = orig / hi;
        if (wavelen < hi_wl)
            f[i] = 1.0f;
        else if (wavelen > lo_wl)
            f[i] = factor;
        else {
            double smooth = (orig / wavelen - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
    t->op = HF_OP_GENERATED;
    t->n_src = 0;
    t->n_dims = 1;
    t->ne[0] = n;
    t->ne[1] = t->ne[2] = 1;
    t->generated = f;
    return R1_OK;
}

static r1_status map_dense(mapper *M, const cfg *c, bool is_qwen2)
{
    hf_model *hf = M->hf;
    const cJSON *r = c->root;
    int dim, n_layers, n_heads, n_kv, inter, n_ctx, head_dim;
    float eps, theta;
    r1_status st;
    if ((st = cfg_int(c, r, "hidden_size", true, 0, 1, HF_MAX_DIM, &dim)) ||
        (st = cfg_int(c, r, "num_hidden_layers", true, 0, 1, HF_MAX_LAYERS, &n_layers)) ||
        (st = cfg_int(c, r, "num_attention_heads", true, 0, 1, 4096, &n_heads)) ||
        (st = cfg_int(c, r, "num_key_value_heads", false, n_heads, 1, 4096, &n_kv)) ||
        (st = cfg_int(c, r, "intermediate_size", true, 0, 1, 1 << 20, &inter)) ||
        (st = cfg_int(c, r, "max_position_embeddings", true, 0, 1, 1 << 24, &n_ctx)) ||
        (st = cfg_int(c, r, "head_dim", false, dim / n_heads, 2, 8192, &head_dim)) ||
        (st = cfg_float(c, r, "rms_norm_eps", true, 0, &eps)) ||
        (st = cfg_float(c, r, "rope_theta", false, 10000, &theta)))
        return st;
    if (!(theta > 0)) return err_set(c->err, R1_ERR_FORMAT, "%s: rope_theta ≤ 0", c->path);
    kv_u32(hf, "block_count", n_layers);
    kv_u32(hf, "context_length", n_ctx);
    kv_u32(hf, "embedding_length", dim);
    kv_u32(hf, "feed_forward_length", inter);
    kv_u32(hf, "attention.head_count", n_heads);
    kv_u32(hf, "attention.head_count_kv", n_kv);
    kv_f32(hf, "attention.layer_norm_rms_epsilon", eps);
    kv_f32(hf, "rope.freq_base", theta);
    kv_u32(hf, "rope.dimension_count", head_dim);
    if (head_dim * n_heads != dim) {
        kv_u32(hf, "attention.key_length", head_dim);
        kv_u32(hf, "attention.value_length", head_dim);
    }
    const cJSON *rs = cfg_item(r, "rope_scaling");
    if (rs) {
        const char *type = cfg_str(rs, "rope_type");
        if (!type) type = cfg_str(rs, "type");
        float factor;
        if (!type) type = "";
        if (!strcmp(type, "llama3")) {
            if ((st = llama3_freqs(M, c, rs, theta, head_dim))) return st;
        } else if (!strcmp(type, "linear") || !strcmp(type, "yarn")) {
            if ((st = cfg_float(c, rs, "factor", true, 1, &factor))) return st;
            kv_str(hf, "rope.scaling.type", type);
            kv_f32(hf, "rope.scaling.factor", factor);
            if (!strcmp(type, "yarn")) {
                int orig;
                if ((st = cfg_int(c, rs, "original_max_position_embeddings", false, n_ctx, 1,
                                  1 << 24, &orig)))
                    return st;
                kv_u32(hf, "rope.scaling.original_context_length", orig);
            }
        } else if (strcmp(type, "default")) {
            return err_set(c->err, R1_ERR_UNSUPPORTED,
                           "%s: rope_scaling type \"%s\" is not supported", c->path, type);
        }
    }
    /* Llama: HF rotates halves (rotate_half); GGUF files permute q/k rows so that interleaved
     * pairs give the same result. Running, we keep HF's rows and rotate halves (NEOX) instead. */
    bool permute = !is_qwen2 && M->purpose == HF_FOR_GGUF;
    if (!is_qwen2 && M->purpose == HF_FOR_LOAD) kv_bool(hf, "r1.rope_neox", true);
    for (int il = 0; il < n_layers; il++) {
        char hn[256], gn[96];
        hf_op qk = permute ? HF_OP_PERMUTE : HF_OP_COPY;
        if ((st = add_vec(M, G("attn_norm.weight"), P("input_layernorm.weight"), true)) ||
            (st = add_vec(M, G("ffn_norm.weight"), P("post_attention_layernorm.weight"), true)) ||
            (st = add_one(M, G("attn_q.weight"), P("self_attn.q_proj.weight"), 2, true, qk,
                          n_heads)) ||
            (st =
                 add_one(M, G("attn_k.weight"), P("self_attn.k_proj.weight"), 2, true, qk, n_kv)) ||
            (st = add_mat(M, G("attn_v.weight"), P("self_attn.v_proj.weight"), true)) ||
            (st = add_mat(M, G("attn_output.weight"), P("self_attn.o_proj.weight"), true)) ||
            (st = add_mat(M, G("ffn_gate.weight"), P("mlp.gate_proj.weight"), true)) ||
            (st = add_mat(M, G("ffn_up.weight"), P("mlp.up_proj.weight"), true)) ||
            (st = add_mat(M, G("ffn_down.weight"), P("mlp.down_proj.weight"), true)))
            return st;
        if (is_qwen2 && ((st = add_vec(M, G("attn_q.bias"), P("self_attn.q_proj.bias"), true)) ||
                         (st = add_vec(M, G("attn_k.bias"), P("self_attn.k_proj.bias"), true)) ||
                         (st = add_vec(M, G("attn_v.bias"), P("self_attn.v_proj.bias"), true))))
            return st;
    }
    hf->n_layers = n_layers;
    return R1_OK;
}

#undef P
#undef G

static r1_status read_config(const char *path, char *err, cJSON **out)
{
    FILE *f = file_fopen_regular(path, err);
    if (!f) return R1_ERR_IO;
    char *buf = malloc(HF_MAX_CONFIG_BYTES + 1);
    size_t n = buf ? fread(buf, 1, HF_MAX_CONFIG_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    if (n > HF_MAX_CONFIG_BYTES) {
        free(buf);
        return err_set(err, R1_ERR_FORMAT, "%s: larger than %u bytes", path, HF_MAX_CONFIG_BYTES);
    }
    *out = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        return err_set(err, R1_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return R1_OK;
}

static r1_status map_all(mapper *M, const char *config_path, r1_log_fn log_fn, void *log_user)
{
    hf_model *hf = M->hf;
    cJSON *root = NULL;
    r1_status st = read_config(config_path, M->err, &root);
    if (st) return st;
    cfg c = {root, config_path, M->err};
    const cJSON *archs = cfg_item(root, "architectures");
    const char *a =
        cJSON_IsArray(archs) && cJSON_IsString(archs->child) ? archs->child->valuestring : NULL;
    int kind = -1;
    if (a && (!strcmp(a, "DeepseekV3ForCausalLM") || !strcmp(a, "DeepseekV2ForCausalLM")))
        kind = 0;
    else if (a && !strcmp(a, "Qwen2ForCausalLM"))
        kind = 1;
    else if (a && !strcmp(a, "LlamaForCausalLM"))
        kind = 2;
    if (kind < 0) {
        st = err_set(M->err, R1_ERR_UNSUPPORTED,
                     "%s: architecture \"%s\" is not supported (DeepseekV3ForCausalLM, "
                     "DeepseekV2ForCausalLM, Qwen2ForCausalLM, LlamaForCausalLM)",
                     config_path, a ? a : "(no \"architectures\")");
        goto done;
    }
    snprintf(hf->arch, sizeof hf->arch, "%s",
             kind == 0   ? "deepseek2"
             : kind == 1 ? "qwen2"
                         : "llama");
    const cJSON *qc = cfg_item(root, "quantization_config");
    hf->block_rows = hf->block_cols = 128;
    if (qc) {
        const char *method = cfg_str(qc, "quant_method");
        const cJSON *bs = cfg_item(qc, "weight_block_size");
        if (method && strcmp(method, "fp8")) {
            st = err_set(M->err, R1_ERR_UNSUPPORTED,
                         "%s: quantization_config.quant_method \"%s\" is not supported (fp8)",
                         config_path, method);
            goto done;
        }
        if (bs) {
            uint64_t b0 = 0, b1 = 0;
            if (!cJSON_IsArray(bs) || cJSON_GetArraySize(bs) != 2 || !cJSON_IsNumber(bs->child) ||
                !cJSON_IsNumber(bs->child->next) ||
                !(bs->child->valuedouble >= 1 && bs->child->valuedouble <= 65536) ||
                !(bs->child->next->valuedouble >= 1 && bs->child->next->valuedouble <= 65536)) {
                st = err_set(M->err, R1_ERR_FORMAT,
                             "%s: weight_block_size must be two integers in [1, 65536]",
                             config_path);
                goto done;
            }
            b0 = (uint64_t)bs->child->valuedouble;
            b1 = (uint64_t)bs->child->next->valuedouble;
            hf->block_rows = (int)b0;
            hf->block_cols = (int)b1;
        }
    }
    char name[256];
    snprintf(name, sizeof name, "%s", hf->dir);
    for (size_t nl = strlen(name); nl > 1 && name[nl - 1] == '/'; nl--) name[nl - 1] = 0;
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    kv_str(hf, "general.architecture", hf->arch);
    kv_str(hf, "general.name", base);

    int n_vocab;
    bool tied;
    if ((st = cfg_int(&c, root, "vocab_size", false, 0, 0, 1 << 24, &n_vocab)) ||
        (st = cfg_bool(&c, root, "tie_word_embeddings", false, &tied)))
        goto done;
    if ((st = add_mat(M, "token_embd.weight", "model.embed_tokens.weight", true)) ||
        (st = add_vec(M, "output_norm.weight", "model.norm.weight", true)) ||
        (st = add_mat(M, "output.weight", "lm_head.weight", !tied)))
        goto done;
    if (n_vocab) kv_u32(hf, "vocab_size", n_vocab);
    const cJSON *bos = cfg_item(root, "bos_token_id"), *eos = cfg_item(root, "eos_token_id");
    if (cJSON_IsArray(eos)) eos = eos->child; /* Llama 3.1: several; the first is end of text */
    if (cJSON_IsNumber(bos) && bos->valuedouble >= 0 && bos->valuedouble < (1 << 24))
        kv_u32(hf, "tokenizer.ggml.bos_token_id", (long)bos->valuedouble);
    if (cJSON_IsNumber(eos) && eos->valuedouble >= 0 && eos->valuedouble < (1 << 24))
        kv_u32(hf, "tokenizer.ggml.eos_token_id", (long)eos->valuedouble);
    st = kind == 0 ? map_deepseek(M, &c) : map_dense(M, &c, kind == 1);
    if (st) goto done;

    int n_unused = 0;
    const char *first = NULL;
    for (int64_t i = 0; i < hf->ck->n_tensors; i++)
        if (!M->used[i] && !strstr(hf->ck->tensors[i].name, "rotary_emb.inv_freq")) {
            if (!n_unused++) first = hf->ck->tensors[i].name;
        }
    if (n_unused && log_fn) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %d tensors are not used (first: %s)", hf->dir, n_unused,
                 first);
        log_fn(R1_LOG_WARN, msg, log_user);
    }
done:
    cJSON_Delete(root);
    return st;
}

r1_status hf_open(const char *dir, hf_purpose purpose, bool use_mmap, r1_log_fn log_fn,
                  void *log_user, hf_model **out_hf, char *err)
{
    hf_model *hf = calloc(1, sizeof *hf);
    if (!hf || !(hf->dir = strdup(dir)) || !(hf->kv = calloc(HF_MAX_KV, sizeof *hf->kv))) {
        hf_close(hf);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", dir);
    }
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/config.json", dir);
    r1_status st = st_open(dir, use_mmap, &hf->ck, err);
    mapper M = {.hf = hf, .purpose = purpose, .err = err};
    if (!st && !(M.used = calloc((size_t)hf->ck->n_tensors + 1, 1)))
        st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", dir);
    if (!st) st = map_all(&M, path, log_fn, log_user);
    free(M.used);
    if (st) {
        hf_close(hf);
        return st;
    }
    struct stat sb;
    snprintf(hf->tokenizer_path, sizeof hf->tokenizer_path, "%s/tokenizer.json", dir);
    hf->has_tokenizer = stat(hf->tokenizer_path, &sb) == 0;
    snprintf(hf->tokenizer_config_path, sizeof hf->tokenizer_config_path,
             "%s/tokenizer_config.json", dir);
    if (stat(hf->tokenizer_config_path, &sb) != 0) hf->tokenizer_config_path[0] = 0;
    *out_hf = hf;
    return R1_OK;
}

void hf_close(hf_model *hf)
{
    if (!hf) return;
    for (int i = 0; hf->kv && i < hf->n_kv; i++) free(hf->kv[i].str);
    free(hf->kv);
    free(hf->tensors);
    for (int i = 0; i < hf->n_owned; i++) free(hf->owned[i]);
    free(hf->owned);
    st_close(hf->ck);
    free(hf->dir);
    free(hf);
}

/* ---- producing rows ------------------------------------------------------------------------ */

/* Row r of source e as fp32, FP8 blocks multiplied by their scale. */
static void src_row(const hf_model *hf, const hf_tensor *t, int e, int64_t r, float *dst)
{
    const st_tensor *s = t->src[e];
    int64_t cols = s->shape[s->n_dims - 1];
    st_read_f32(s, r * cols, cols, dst);
    const st_tensor *sc = t->scale[e];
    if (!sc) return;
    int64_t nbc = sc->shape[1], rb = r / hf->block_rows;
    for (int64_t jb = 0; jb < nbc; jb++) {
        float f;
        st_read_f32(sc, rb * nbc + jb, 1, &f);
        int64_t j0 = jb * hf->block_cols,
                j1 = j0 + hf->block_cols < cols ? j0 + hf->block_cols : cols;
        for (int64_t j = j0; j < j1; j++) dst[j] *= f;
    }
}

void hf_read_rows(const hf_model *hf, const hf_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    int64_t cols = t->ne[0], rows_per_mat = t->ne[1];
    float *tmp = NULL; /* KV_B_K: the nope × kv_lora K rows of one head */
    int64_t tmp_head = -1;
    for (int64_t k = 0; k < n_rows; k++) {
        int64_t r = row0 + k, mat = r / rows_per_mat, i = r % rows_per_mat;
        float *out = dst + k * cols;
        switch (t->op) {
        case HF_OP_COPY:
            src_row(hf, t, t->n_src > 1 ? (int)mat : 0, t->n_src > 1 ? i : r, out);
            break;
        case HF_OP_PERMUTE: {
            int64_t d = rows_per_mat / t->n_head, h = i / d, w = i % d;
            src_row(hf, t, 0, h * d + (w % 2) * (d / 2) + w / 2, out);
        } break;
        case HF_OP_KV_B_V:
            src_row(hf, t, 0, mat * (t->nope + t->v) + t->nope + i, out);
            break;
        case HF_OP_KV_B_K: {
            int64_t kvr = rows_per_mat;
            if (!tmp) tmp = malloc((size_t)(t->nope * kvr) * sizeof *tmp);
            if (!tmp) { /* out of memory for a few KiB: leave a recognizable poison */
                for (int64_t j = 0; j < cols; j++) out[j] = NAN;
                break;
            }
            if (tmp_head != mat) {
                for (int d = 0; d < t->nope; d++)
                    src_row(hf, t, 0, mat * (t->nope + t->v) + d, tmp + d * kvr);
                tmp_head = mat;
            }
            for (int d = 0; d < t->nope; d++) out[d] = tmp[d * kvr + i];
        } break;
        case HF_OP_GENERATED:
            memcpy(out, t->generated, (size_t)cols * sizeof *out);
            break;
        }
    }
    free(tmp);
}

void hf_release(const hf_model *hf, const hf_tensor *t)
{
    for (int e = 0; e < t->n_src; e++) {
        st_release(hf->ck, t->src[e]);
        if (t->scale[e]) st_release(hf->ck, t->scale[e]);
    }
}

/* ---- running: assemble a gguf_file ------------------------------------------------------------
 */

typedef struct convert_job {
    const hf_model *hf;
    const hf_tensor *t;
    dtype type;
    uint8_t *out;
    size_t row_bytes;
    int64_t n_rows;
    bool failed;
} convert_job;

static void convert_worker(void *p, int ith, int nth)
{
    convert_job *j = p;
    int64_t cols = j->t->ne[0];
    long b, e;
    threadpool_split((long)j->n_rows, ith, nth, &b, &e);
    float *row = malloc((size_t)cols * sizeof *row);
    if (!row) {
        if (b < e) __atomic_store_n(&j->failed, true, __ATOMIC_RELAXED);
        return;
    }
    for (long r = b; r < e; r++) {
        hf_read_rows(j->hf, j->t, r, 1, row);
        quant_quantize_row(j->type, row, j->out + (size_t)r * j->row_bytes, cols);
    }
    free(row);
}

static bool is_aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

r1_status hf_build_file(hf_model *hf, dtype fp8_type, int n_threads, gguf_file **out_file,
                        char *err)
{
    gguf_kv *kv = calloc((size_t)hf->n_kv + 1, sizeof *kv);
    gguf_tensor *ts = calloc((size_t)hf->n_tensors + 1, sizeof *ts);
    threadpool *pool = NULL;
    r1_status st = R1_OK;
    int n_kv = 0, n_t = 0;
    if (!kv || !ts) {
        st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", hf->dir);
        goto fail;
    }
    for (; n_kv < hf->n_kv; n_kv++) {
        const hf_kv *h = &hf->kv[n_kv];
        gguf_kv *g = &kv[n_kv];
        if (!(g->key = strdup(h->key))) {
            st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", hf->dir);
            goto fail;
        }
        switch (h->type) {
        case HF_KV_U32:
            g->type = GGUF_UINT32;
            g->v.u64 = h->u32;
            break;
        case HF_KV_F32:
            g->type = GGUF_FLOAT32;
            g->v.f64 = h->f32;
            break;
        case HF_KV_BOOL:
            g->type = GGUF_BOOL;
            g->v.u64 = h->b;
            break;
        case HF_KV_STR:
            g->type = GGUF_STRING;
            g->v.str = (gguf_str){h->str, strlen(h->str)};
            break;
        }
    }
    for (; n_t < hf->n_tensors; n_t++) {
        const hf_tensor *t = &hf->tensors[n_t];
        gguf_tensor *g = &ts[n_t];
        if (!(g->name = strdup(t->name))) {
            st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", hf->dir);
            goto fail;
        }
        g->n_dims = t->n_dims;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) g->ne[d] = d < 3 ? t->ne[d] : 1;
        g->n_elements = t->ne[0] * t->ne[1] * t->ne[2];
        int64_t rows = t->ne[1] * t->ne[2];
        if (t->native != DTYPE_COUNT && t->op == HF_OP_COPY) {
            g->type = t->native;
            g->n_bytes = dtype_row_bytes(t->native, t->ne[0]) * (size_t)rows;
            const void *d0 = t->src[0]->data;
            if (t->n_src == 1 && is_aligned(d0, t->native == DTYPE_F32 ? 4 : 2)) {
                g->data = d0; /* mapped in place */
                continue;
            }
            uint8_t *buf = own(hf, g->n_bytes);
            if (!buf) {
                st = err_set(err, R1_ERR_NOMEM, "%s: out of memory for '%s'", hf->dir, t->name);
                goto fail;
            }
            size_t off = 0;
            for (int e = 0; e < t->n_src; e++) {
                memcpy(buf + off, t->src[e]->data, t->src[e]->n_bytes);
                off += t->src[e]->n_bytes;
            }
            hf_release(hf, t);
            g->data = buf;
            continue;
        }
        bool is_fp8 =
            t->n_src > 0 && (t->src[0]->dtype == ST_F8_E4M3 || t->src[0]->dtype == ST_F8_E5M2);
        dtype type = DTYPE_F32;
        if (is_fp8 && !qmix_keeps_f32(t->name, t->n_dims)) type = qmix_fallback(fp8_type, t->ne[0]);
        size_t row_bytes = dtype_row_bytes(type, t->ne[0]);
        g->type = type;
        g->n_bytes = row_bytes * (size_t)rows;
        uint8_t *buf = own(hf, g->n_bytes);
        if (!pool && buf) pool = threadpool_new(n_threads);
        if (!buf || !pool) {
            st = err_set(err, R1_ERR_NOMEM, "%s: out of memory for '%s'", hf->dir, t->name);
            goto fail;
        }
        convert_job job = {hf, t, type, buf, row_bytes, rows, false};
        threadpool_run(pool, convert_worker, &job);
        if (job.failed) {
            st = err_set(err, R1_ERR_NOMEM, "%s: out of memory converting '%s'", hf->dir, t->name);
            goto fail;
        }
        hf_release(hf, t);
        g->data = buf;
    }
    threadpool_free(pool);
    return gguf_open_parts(hf->dir, kv, n_kv, ts, n_t, out_file, err);
fail:
    threadpool_free(pool);
    for (int i = 0; i < n_kv; i++) free(kv[i].key);
    for (int i = 0; i <= n_t && i < hf->n_tensors; i++) free(ts[i].name);
    free(kv);
    free(ts);
    return st;
}
