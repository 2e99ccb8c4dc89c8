/* model.c — r1_model_load: open a GGUF, read the architecture's hyperparameters, check them
 * against each other and against every tensor's shape, and bind tensors to layer slots.
 * Supported: deepseek2 (DeepSeek-V2/V2-Lite/V3/R1, both generations of MLA tensors), qwen2
 * (R1-Distill-Qwen), llama (R1-Distill-Llama). Any inconsistency is a clear R1_ERR_FORMAT naming
 * the file and the key or tensor; nothing is trusted before it is checked.
 */
#include "model/model.h"

#include "base/err.h"
#include "base/mmap.h"
#include "dist/dist.h"
#include "grammar/grammar.h"
#include "model/hf.h"
#include "tensor/quant.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 1024
#define MAX_DIM (1 << 17)
#define MAX_HEADS 4096
#define MAX_EXPERTS 4096

r1_model_params r1_model_params_default(void)
{
    return (r1_model_params){.n_threads = 0, .use_mmap = true, .load_type = NULL};
}

void model_log(const r1_model *m, r1_log_level level, const char *fmt, ...)
{
    if (!m->log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    m->log_fn(level, buf, m->log_user);
}

int model_kv_row_floats(const model_config *c)
{
    if (c->arch == ARCH_DEEPSEEK2) return c->kv_lora_rank + c->qk_rope_head_dim;
    return 2 * c->n_kv_heads * c->head_dim;
}

bool model_kv_q8_ok(const model_config *c)
{
    if (c->arch == ARCH_DEEPSEEK2) /* latent (the values) then the rope key */
        return c->kv_lora_rank % 32 == 0 && c->qk_rope_head_dim % 32 == 0;
    return c->head_dim % 32 == 0; /* per-head keys and values */
}

/* ---- loading context ------------------------------------------------------------------------ */

typedef struct loader {
    r1_model *m;
    const gguf_file *f;
    char prefix[40]; /* "deepseek2." */
    char *err;
    unsigned char *used; /* per tensor: bound to a slot */
} loader;

static void *own(r1_model *m, size_t bytes)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **p = realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        m->owned = p;
        m->cap_owned = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) m->owned[m->n_owned++] = p;
    return p;
}

void *model_own(r1_model *m, size_t bytes)
{
    return own(m, bytes);
}

/* Read ARCH.key as u32. required: absent is an error. Values must lie in [lo, hi]. */
static r1_status get_u32(loader *L, const char *key, bool required, uint32_t def, uint32_t lo,
                         uint32_t hi, int *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", L->prefix, key);
    bool is_bad = false;
    uint32_t v = def;
    if (!gguf_get_u32(L->f, full, &v, &is_bad)) {
        if (is_bad)
            return err_set(L->err, R1_ERR_FORMAT, "%s: %s has the wrong type or a negative value",
                           L->f->path, full);
        if (required)
            return err_set(L->err, R1_ERR_FORMAT, "%s: missing hyperparameter %s", L->f->path,
                           full);
    }
    if (v < lo || v > hi)
        return err_set(L->err, R1_ERR_FORMAT, "%s: %s = %u is out of range [%u, %u]", L->f->path,
                       full, v, lo, hi);
    *out = (int)v;
    return R1_OK;
}

static r1_status get_f32(loader *L, const char *key, bool required, float def, float *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", L->prefix, key);
    bool is_bad = false;
    float v = def;
    if (!gguf_get_f32(L->f, full, &v, &is_bad)) {
        if (is_bad)
            return err_set(L->err, R1_ERR_FORMAT, "%s: %s has the wrong type", L->f->path, full);
        if (required)
            return err_set(L->err, R1_ERR_FORMAT, "%s: missing hyperparameter %s", L->f->path,
                           full);
    }
    if (!isfinite(v))
        return err_set(L->err, R1_ERR_FORMAT, "%s: %s is not finite", L->f->path, full);
    *out = v;
    return R1_OK;
}

static r1_status get_bool(loader *L, const char *key, bool def, bool *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", L->prefix, key);
    bool is_bad = false, v = def;
    if (!gguf_get_bool(L->f, full, &v, &is_bad) && is_bad)
        return err_set(L->err, R1_ERR_FORMAT, "%s: %s is not a bool", L->f->path, full);
    *out = v;
    return R1_OK;
}

/* Find a tensor and check its shape: ne0..ne{n_dims-1}; dims beyond n_dims must be 1. */
static r1_status find(loader *L, const char *name, int n_dims, const int64_t *ne, bool required,
                      const gguf_tensor **out)
{
    *out = NULL;
    const gguf_tensor *t = gguf_find_tensor(L->f, name);
    if (!t) {
        if (required)
            return err_set(L->err, R1_ERR_FORMAT, "%s: missing tensor '%s'", L->f->path, name);
        return R1_OK;
    }
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        int64_t want = d < n_dims ? ne[d] : 1;
        if (t->ne[d] != want) {
            char got[96], exp[96];
            snprintf(got, sizeof got, "[%lld, %lld, %lld, %lld]", (long long)t->ne[0],
                     (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
            snprintf(exp, sizeof exp, "[%lld, %lld, %lld, %lld]", (long long)ne[0],
                     (long long)(n_dims > 1 ? ne[1] : 1), (long long)(n_dims > 2 ? ne[2] : 1),
                     (long long)(n_dims > 3 ? ne[3] : 1));
            return err_set(L->err, R1_ERR_FORMAT,
                           "%s: tensor '%s' has shape %s but the hyperparameters imply %s",
                           L->f->path, name, got, exp);
        }
    }
    L->used[t - L->f->tensors] = 1;
    *out = t;
    return R1_OK;
}

static bool has_tensor(loader *L, const char *fmt, int il)
{
    char name[256];
    snprintf(name, sizeof name, fmt, il);
    return gguf_find_tensor(L->f, name) != NULL;
}

/* Rows [row0, row0 + n_rows) of every matrix of w (fused tensors split into their parts). */
static wmat wmat_rows(const wmat *w, int64_t row0, int64_t n_rows)
{
    wmat v = *w;
    v.data = w->data + (size_t)row0 * w->row_bytes;
    v.n_rows = n_rows;
    return v;
}

/* Bind a 2D (rows = ne1, cols = ne0) or 3D (mats = ne2) weight. */
static r1_status bind_mat(loader *L, wmat *w, bool required, int64_t cols, int64_t rows,
                          int64_t mats, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t ne[3] = {cols, rows, mats};
    const gguf_tensor *t;
    r1_status st = find(L, name, mats > 1 ? 3 : 2, ne, required, &t);
    if (st || !t) return st;
    w->type = t->type;
    w->data = t->data;
    w->name = t->name; /* lives as long as the model's gguf_file */
    w->n_cols = cols;
    w->n_rows = rows;
    w->n_mats = mats;
    w->row_bytes = dtype_row_bytes(t->type, cols);
    w->mat_bytes = w->row_bytes * (size_t)rows;
    return R1_OK;
}

/* Bind a 1D vector of n floats, converted to fp32 (owned). */
static r1_status bind_vec(loader *L, const float **out, bool required, int64_t n, const char *fmt,
                          ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    *out = NULL;
    const gguf_tensor *t;
    r1_status st = find(L, name, 1, &n, required, &t);
    if (st || !t) return st;
    float *v = own(L->m, (size_t)n * sizeof(float));
    if (!v) return err_set(L->err, R1_ERR_NOMEM, "%s: out of memory", L->f->path);
    if (t->type == DTYPE_F32)
        memcpy(v, t->data, (size_t)n * sizeof(float));
    else if (!quant_dequantize_row(t->type, t->data, v, n))
        return err_set(L->err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has an unsupported type",
                       L->f->path, name);
    *out = v;
    return R1_OK;
}

/* ---- hyperparameters ------------------------------------------------------------------------ */

static r1_status read_config(loader *L)
{
    r1_model *m = L->m;
    model_config *c = &m->cfg;
    r1_status st;
    if ((st = get_u32(L, "block_count", true, 0, 1, MAX_LAYERS, &c->n_layers)) ||
        (st = get_u32(L, "embedding_length", true, 0, 1, MAX_DIM, &c->dim)) ||
        (st = get_u32(L, "context_length", true, 0, 1, 1u << 24, &c->n_ctx_train)) ||
        (st = get_u32(L, "attention.head_count", true, 0, 1, MAX_HEADS, &c->n_heads)) ||
        (st = get_u32(L, "attention.head_count_kv", false, (uint32_t)c->n_heads, 1, MAX_HEADS,
                      &c->n_kv_heads)) ||
        (st = get_f32(L, "attention.layer_norm_rms_epsilon", true, 0, &c->rms_eps)) ||
        (st = get_f32(L, "rope.freq_base", false, 10000.0f, &c->rope_theta)))
        return st;
    if (!(c->rms_eps > 0 && c->rms_eps < 1))
        return err_set(L->err, R1_ERR_FORMAT, "%s: layer_norm_rms_epsilon %g is not in (0, 1)",
                       L->f->path, c->rms_eps);
    if (!(c->rope_theta > 0))
        return err_set(L->err, R1_ERR_FORMAT, "%s: rope.freq_base %g must be positive", L->f->path,
                       c->rope_theta);

    /* RoPE scaling */
    char full[128], type[32] = "none";
    snprintf(full, sizeof full, "%srope.scaling.type", L->prefix);
    bool is_bad = false;
    gguf_get_str(L->f, full, type, sizeof type, &is_bad);
    if (is_bad) return err_set(L->err, R1_ERR_FORMAT, "%s: %s is not a string", L->f->path, full);
    float ylm = 0;
    if ((st = get_f32(L, "rope.scaling.factor", false, 1.0f, &c->rope_factor)) ||
        (st = get_u32(L, "rope.scaling.original_context_length", false, (uint32_t)c->n_ctx_train, 1,
                      1u << 24, &c->original_seq_len)) ||
        (st = get_f32(L, "rope.scaling.yarn_log_multiplier", false, 0.0f, &ylm)))
        return st;
    if (!strcmp(type, "none") || !strcmp(type, "")) {
        c->rope_factor = 1.0f;
    } else if (!strcmp(type, "yarn")) {
        c->use_yarn = true;
    } else if (strcmp(type, "linear") != 0) {
        return err_set(L->err, R1_ERR_UNSUPPORTED, "%s: rope scaling type '%s' is not supported",
                       L->f->path, type);
    }
    if (!(c->rope_factor >= 1.0f && c->rope_factor <= 1e4f))
        return err_set(L->err, R1_ERR_FORMAT, "%s: rope.scaling.factor %g out of range", L->f->path,
                       c->rope_factor);
    c->beta_fast = 32.0f; /* DeepSeek's defaults; the file's yarn_beta_* keys are not read by */
    c->beta_slow = 1.0f;  /* the reference engine for deepseek2 either */
    c->mscale = c->use_yarn ? 1.0f + ylm * logf(c->rope_factor) : 1.0f;

    if (c->arch == ARCH_DEEPSEEK2) {
        /* MTP modules: llama.cpp counts them in block_count (the last nextn_predict_layers
         * blocks); files written by r1 convert before 2026-11-28 stored them after it */
        int n_nextn = 0;
        if ((st = get_u32(L, "nextn_predict_layers", false, 0, 0, 16, &n_nextn))) return st;
        if (n_nextn > 0 && n_nextn < c->n_layers &&
            has_tensor(L, "blk.%d.nextn.eh_proj.weight", c->n_layers - n_nextn)) {
            c->n_layers -= n_nextn;
            m->mtp_block = c->n_layers;
            m->n_mtp = 1;
        } else if (n_nextn > 0 && has_tensor(L, "blk.%d.nextn.eh_proj.weight", c->n_layers)) {
            m->mtp_block = c->n_layers;
            m->n_mtp = 1;
        } else if (n_nextn > 0) {
            model_log(m, R1_LOG_WARN, "%s: nextn_predict_layers = %d but no MTP tensors found",
                      L->f->path, n_nextn);
        }
        if (n_nextn > 1)
            model_log(m, R1_LOG_WARN, "%s: %d MTP modules; only the first is used", L->f->path,
                      n_nextn);
        int key_mla = 0, val_mla = 0, key_len = 0, val_len = 0;
        if ((st = get_u32(L, "attention.q_lora_rank", false, 0, 0, MAX_DIM, &c->q_lora_rank)) ||
            (st = get_u32(L, "attention.kv_lora_rank", true, 0, 1, MAX_DIM, &c->kv_lora_rank)) ||
            (st = get_u32(L, "rope.dimension_count", true, 0, 2, 1024, &c->qk_rope_head_dim)) ||
            (st = get_u32(L, "attention.key_length_mla", false, 0, 0, 4096, &key_mla)) ||
            (st = get_u32(L, "attention.value_length_mla", false, 0, 0, 4096, &val_mla)) ||
            (st = get_u32(L, "attention.key_length", false, 0, 0, 8192, &key_len)) ||
            (st = get_u32(L, "attention.value_length", false, 0, 0, 8192, &val_len)) ||
            (st = get_u32(L, "feed_forward_length", false, 0, 0, 1u << 20, &c->inter_dim)) ||
            /* the MTP block counts when every layer, it included, is dense */
            (st = get_u32(L, "leading_dense_block_count", false, 0, 0,
                          (uint32_t)(c->n_layers + m->n_mtp), &c->n_dense_layers)) ||
            (st = get_u32(L, "expert_count", false, 0, 0, MAX_EXPERTS, &c->n_routed_experts)) ||
            (st = get_u32(L, "expert_used_count", false, 0, 0, MAX_EXPERTS,
                          &c->n_activated_experts)) ||
            (st = get_u32(L, "expert_shared_count", false, 0, 0, 64, &c->n_shared_experts)) ||
            (st = get_u32(L, "expert_feed_forward_length", false, 0, 0, 1u << 20,
                          &c->moe_inter_dim)) ||
            (st = get_u32(L, "expert_group_count", false, 1, 0, MODEL_MAX_EXPERT_GROUPS,
                          &c->n_expert_groups)) ||
            (st = get_u32(L, "expert_group_used_count", false, 1, 0, MAX_EXPERTS,
                          &c->n_limited_groups)) ||
            (st = get_bool(L, "expert_weights_norm", false, &c->norm_topk_prob)) ||
            (st = get_f32(L, "expert_weights_scale", false, 1.0f, &c->route_scale)))
            return st;
        int gating = GATING_SOFTMAX;
        if ((st = get_u32(L, "expert_gating_func", false, GATING_SOFTMAX, 0, 16, &gating)))
            return st;
        if (gating == 0) gating = GATING_SOFTMAX; /* "none" in old files: V2 behaviour */
        if (gating != GATING_SOFTMAX && gating != GATING_SIGMOID)
            return err_set(L->err, R1_ERR_UNSUPPORTED,
                           "%s: %sexpert_gating_func %d is not supported (1 softmax, 2 sigmoid)",
                           L->f->path, L->prefix, gating);
        c->score_func = (gating_func)gating;
        if (c->qk_rope_head_dim % 2)
            return err_set(L->err, R1_ERR_FORMAT, "%s: rope.dimension_count %d is odd", L->f->path,
                           c->qk_rope_head_dim);
        c->is_mla_split = key_mla > 0;
        if (c->is_mla_split) {
            /* new layout: key_length = kv_lora + rope, value_length = kv_lora, run as MQA */
            if (key_mla <= c->qk_rope_head_dim || val_mla <= 0)
                return err_set(L->err, R1_ERR_FORMAT,
                               "%s: key_length_mla %d / value_length_mla %d inconsistent with "
                               "rope.dimension_count %d",
                               L->f->path, key_mla, val_mla, c->qk_rope_head_dim);
            c->qk_nope_head_dim = key_mla - c->qk_rope_head_dim;
            c->v_head_dim = val_mla;
            if ((key_len && key_len != c->kv_lora_rank + c->qk_rope_head_dim) ||
                (val_len && val_len != c->kv_lora_rank) || c->n_kv_heads != 1)
                return err_set(L->err, R1_ERR_FORMAT,
                               "%s: MLA file has key_length %d, value_length %d, head_count_kv "
                               "%d; expected %d, %d, 1",
                               L->f->path, key_len, val_len, c->n_kv_heads,
                               c->kv_lora_rank + c->qk_rope_head_dim, c->kv_lora_rank);
        } else {
            if (key_len <= c->qk_rope_head_dim || val_len <= 0)
                return err_set(L->err, R1_ERR_FORMAT,
                               "%s: key_length %d / value_length %d missing or inconsistent with "
                               "rope.dimension_count %d",
                               L->f->path, key_len, val_len, c->qk_rope_head_dim);
            c->qk_nope_head_dim = key_len - c->qk_rope_head_dim;
            c->v_head_dim = val_len;
        }
        c->rope_dim = c->qk_rope_head_dim;
        c->rope_neox = false;
        int n_moe = c->n_layers + m->n_mtp - c->n_dense_layers; /* MTP block included */
        if (n_moe > 0) {
            if (c->n_routed_experts < 1 || c->n_activated_experts < 1 ||
                c->n_activated_experts > c->n_routed_experts || c->moe_inter_dim < 1)
                return err_set(L->err, R1_ERR_FORMAT,
                               "%s: MoE layers need expert_count ≥ expert_used_count ≥ 1 and "
                               "expert_feed_forward_length ≥ 1 (got %d, %d, %d)",
                               L->f->path, c->n_routed_experts, c->n_activated_experts,
                               c->moe_inter_dim);
            if (c->n_expert_groups == 0) c->n_expert_groups = 1;
            if (c->n_limited_groups == 0) c->n_limited_groups = c->n_expert_groups;
            if (c->n_routed_experts % c->n_expert_groups ||
                c->n_limited_groups > c->n_expert_groups ||
                c->n_activated_experts >
                    c->n_limited_groups * (c->n_routed_experts / c->n_expert_groups))
                return err_set(L->err, R1_ERR_FORMAT,
                               "%s: expert groups inconsistent: %d experts, %d groups, %d used "
                               "groups, %d used experts",
                               L->f->path, c->n_routed_experts, c->n_expert_groups,
                               c->n_limited_groups, c->n_activated_experts);
            if (c->score_func == GATING_SIGMOID && c->n_expert_groups > 1 &&
                c->n_routed_experts / c->n_expert_groups < 2)
                return err_set(L->err, R1_ERR_FORMAT, "%s: groups need ≥ 2 experts each",
                               L->f->path);
        }
        if (c->n_dense_layers > 0 && c->inter_dim < 1)
            return err_set(L->err, R1_ERR_FORMAT, "%s: dense layers need feed_forward_length",
                           L->f->path);
        c->kq_scale =
            c->mscale * c->mscale / sqrtf((float)(c->qk_nope_head_dim + c->qk_rope_head_dim));
    } else {
        if ((st = get_u32(L, "feed_forward_length", true, 0, 1, 1u << 20, &c->inter_dim)))
            return st;
        if (c->dim % c->n_heads)
            return err_set(L->err, R1_ERR_FORMAT,
                           "%s: embedding_length %d is not a multiple of head_count %d", L->f->path,
                           c->dim, c->n_heads);
        int key_len = 0, val_len = 0;
        if ((st = get_u32(L, "attention.key_length", false, (uint32_t)(c->dim / c->n_heads), 1,
                          8192, &key_len)) ||
            (st =
                 get_u32(L, "attention.value_length", false, (uint32_t)key_len, 1, 8192, &val_len)))
            return st;
        if (key_len != val_len || key_len % 2)
            return err_set(L->err, R1_ERR_UNSUPPORTED,
                           "%s: key_length %d and value_length %d must be equal and even",
                           L->f->path, key_len, val_len);
        c->head_dim = key_len;
        if ((st = get_u32(L, "rope.dimension_count", false, (uint32_t)c->head_dim, 2,
                          (uint32_t)c->head_dim, &c->rope_dim)))
            return st;
        if (c->rope_dim % 2)
            return err_set(L->err, R1_ERR_FORMAT, "%s: rope.dimension_count is odd", L->f->path);
        if (c->n_heads % c->n_kv_heads)
            return err_set(L->err, R1_ERR_FORMAT,
                           "%s: head_count %d is not a multiple of head_count_kv %d", L->f->path,
                           c->n_heads, c->n_kv_heads);
        c->rope_neox = c->arch == ARCH_QWEN2;
        /* set only by the Hugging Face loader (model/hf.h): Llama q/k rows as HF stores them,
         * rotated by halves, instead of the converter's permuted rows rotated in pairs */
        bool is_bad = false;
        if (gguf_get_bool(L->f, "r1.rope_neox", &c->rope_neox, &is_bad), is_bad)
            return err_set(L->err, R1_ERR_FORMAT, "%s: r1.rope_neox is not a bool", L->f->path);
        c->kq_scale = 1.0f / sqrtf((float)c->head_dim);
    }
    return R1_OK;
}

/* ---- tensors -------------------------------------------------------------------------------- */

/* Old-style deepseek2 files carry one attn_kv_b per layer: (kv_lora, H·(nope+v)), per head the
 * nope K rows then the v V rows. V rows are used in place; K is transposed into an owned fp32
 * (H, kv_lora, nope) so the absorbed q_abs = K_b[h]^T q_nope is a plain row-major matmul. */
static r1_status bind_legacy_kv_b(loader *L, model_layer *ly, int il)
{
    const model_config *c = &L->m->cfg;
    int64_t H = c->n_heads, nope = c->qk_nope_head_dim, v = c->v_head_dim, r = c->kv_lora_rank;
    wmat kv_b = {0};
    r1_status st = bind_mat(L, &kv_b, true, r, H * (nope + v), 1, "blk.%d.attn_kv_b.weight", il);
    if (st) return st;
    float *kb = own(L->m, (size_t)(H * r * nope) * sizeof(float));
    float *row = malloc((size_t)r * sizeof(float));
    if (!kb || !row) {
        free(row);
        return err_set(L->err, R1_ERR_NOMEM, "%s: out of memory", L->f->path);
    }
    for (int64_t h = 0; h < H; h++)
        for (int64_t d = 0; d < nope; d++) {
            kern_get_row(&kv_b, 0, h * (nope + v) + d, row);
            for (int64_t j = 0; j < r; j++) kb[(h * r + j) * nope + d] = row[j];
        }
    free(row);
    ly->k_b = (wmat){.type = DTYPE_F32,
                     .data = (const uint8_t *)kb,
                     .n_rows = r,
                     .n_cols = nope,
                     .n_mats = H,
                     .row_bytes = (size_t)nope * sizeof(float),
                     .mat_bytes = (size_t)(r * nope) * sizeof(float)};
    ly->v_b = (wmat){.type = kv_b.type,
                     .data = kv_b.data + (size_t)nope * kv_b.row_bytes,
                     .n_rows = v,
                     .n_cols = r,
                     .n_mats = H,
                     .row_bytes = kv_b.row_bytes,
                     .mat_bytes = (size_t)(nope + v) * kv_b.row_bytes};
    ly->k_up = kv_b;      /* the K rows of each head, in place */
    ly->k_up.name = NULL; /* per-head views of attn_kv_b: no importance entry of their own */
    ly->k_up.n_rows = nope;
    ly->k_up.n_mats = H;
    ly->k_up.mat_bytes = (size_t)(nope + v) * kv_b.row_bytes;
    return R1_OK;
}

/* New-style files store only k_b = W_UK^T per head; the decompressed form needs W_UK itself
 * (nope rows of kv_lora_rank). Float weights are transposed exactly, in their own type. Quantized
 * ones are dequantized and stored as fp16 (the fp32 FMA path: within 2^-11 of the exact weights),
 * or kept in fp32 for the "ref" backend, whose contract is fp32 arithmetic over exact weights.
 * Not Q8_0: a second 8-bit rounding of weights the absorbed form uses exactly moved the tiled
 * prompt pass off the file's function enough to flip MoE expert choices (ds3 IQ2_XXS fixture:
 * median row error 3.6e-2 with Q8_0, 2.2e-2 with fp16, llama.cpp 2.1e-2). fp16 costs twice Q8_0's
 * bytes: 2 · 128 · 128 · 512 per layer for R1 (16 MiB, 1 GiB over 61 layers). */
static r1_status build_k_up(loader *L, model_layer *ly)
{
    const wmat *kb = &ly->k_b;
    int64_t H = kb->n_mats, r = kb->n_rows, nope = kb->n_cols;
    bool is_float = kb->type == DTYPE_F32 || kb->type == DTYPE_F16 || kb->type == DTYPE_BF16;
    dtype t = is_float                                         ? kb->type
              : !strcmp(kern_backend()->name, "ref") || r % 32 ? DTYPE_F32
                                                               : DTYPE_F16;
    size_t row_bytes = dtype_row_bytes(t, r), mat_bytes = row_bytes * (size_t)nope;
    uint8_t *dst = own(L->m, mat_bytes * (size_t)H);
    float *rows = malloc((size_t)(r * nope) * sizeof(float)),
          *col = malloc((size_t)r * sizeof(float));
    if (!dst || !rows || !col) {
        free(rows);
        free(col);
        return err_set(L->err, R1_ERR_NOMEM, "%s: out of memory", L->f->path);
    }
    size_t esz = kb->type == DTYPE_F32 ? 4 : 2;
    for (int64_t h = 0; h < H; h++) {
        uint8_t *m = dst + (size_t)h * mat_bytes;
        if (is_float) { /* element (j, d) of k_b[h] to (d, j) */
            const uint8_t *src = kb->data + (size_t)h * kb->mat_bytes;
            for (int64_t j = 0; j < r; j++)
                for (int64_t d = 0; d < nope; d++)
                    memcpy(m + (size_t)d * row_bytes + (size_t)j * esz,
                           src + (size_t)j * kb->row_bytes + (size_t)d * esz, esz);
            continue;
        }
        for (int64_t j = 0; j < r; j++) kern_get_row(kb, h, j, rows + j * nope);
        for (int64_t d = 0; d < nope; d++) {
            for (int64_t j = 0; j < r; j++) col[j] = rows[j * nope + d];
            if (t == DTYPE_F32)
                memcpy(m + (size_t)d * row_bytes, col, (size_t)r * sizeof(float));
            else if (t == DTYPE_F16)
                for (int64_t j = 0; j < r; j++) {
                    const uint16_t hv = f32_to_fp16(col[j]);
                    memcpy(m + (size_t)d * row_bytes + 2 * (size_t)j, &hv, 2);
                }
            else
                quant_quantize_row(t, col, m + (size_t)d * row_bytes, r);
        }
    }
    free(rows);
    free(col);
    ly->k_up = (wmat){.type = t,
                      .data = dst,
                      .n_rows = nope,
                      .n_cols = r,
                      .n_mats = H,
                      .row_bytes = row_bytes,
                      .mat_bytes = mat_bytes};
    return R1_OK;
}

/* Layer blk.<il> of the file into ly (the MTP layer is bound to layers[n_layers]). */
static r1_status bind_layer_deepseek2(loader *L, model_layer *ly, int il)
{
    const model_config *c = &L->m->cfg;
    int64_t E = c->dim, H = c->n_heads, nope = c->qk_nope_head_dim, rope = c->qk_rope_head_dim;
    int64_t kvr = c->kv_lora_rank, v = c->v_head_dim;
    r1_status st;
    if ((st = bind_vec(L, &ly->attn_norm, true, E, "blk.%d.attn_norm.weight", il)) ||
        (st = bind_vec(L, &ly->ffn_norm, true, E, "blk.%d.ffn_norm.weight", il)))
        return st;
    if (c->q_lora_rank > 0) {
        if ((st = bind_mat(L, &ly->wq_a, true, E, c->q_lora_rank, 1, "blk.%d.attn_q_a.weight",
                           il)) ||
            (st = bind_vec(L, &ly->q_a_norm, true, c->q_lora_rank, "blk.%d.attn_q_a_norm.weight",
                           il)) ||
            (st = bind_mat(L, &ly->wq_b, true, c->q_lora_rank, H * (nope + rope), 1,
                           "blk.%d.attn_q_b.weight", il)))
            return st;
    } else if ((st = bind_mat(L, &ly->wq_b, true, E, H * (nope + rope), 1, "blk.%d.attn_q.weight",
                              il))) {
        return st;
    }
    if ((st = bind_mat(L, &ly->wkv_a, true, E, kvr + rope, 1, "blk.%d.attn_kv_a_mqa.weight", il)) ||
        (st = bind_vec(L, &ly->kv_a_norm, true, kvr, "blk.%d.attn_kv_a_norm.weight", il)) ||
        (st = bind_mat(L, &ly->wo, true, H * v, E, 1, "blk.%d.attn_output.weight", il)))
        return st;
    if (c->is_mla_split) {
        if ((st = bind_mat(L, &ly->k_b, true, nope, kvr, H, "blk.%d.attn_k_b.weight", il)) ||
            (st = bind_mat(L, &ly->v_b, true, kvr, v, H, "blk.%d.attn_v_b.weight", il)) ||
            (st = build_k_up(L, ly)))
            return st;
    } else if ((st = bind_legacy_kv_b(L, ly, il))) {
        return st;
    }
    if (il < c->n_dense_layers) {
        return (st = bind_mat(L, &ly->ffn_gate, true, E, c->inter_dim, 1, "blk.%d.ffn_gate.weight",
                              il))
                   ? st
               : (st = bind_mat(L, &ly->ffn_up, true, E, c->inter_dim, 1, "blk.%d.ffn_up.weight",
                                il))
                   ? st
                   : bind_mat(L, &ly->ffn_down, true, c->inter_dim, E, 1, "blk.%d.ffn_down.weight",
                              il);
    }
    ly->is_moe = true;
    int64_t X = c->n_routed_experts, F = c->moe_inter_dim;
    if ((st = bind_mat(L, &ly->gate_inp, true, E, X, 1, "blk.%d.ffn_gate_inp.weight", il)) ||
        (st = bind_vec(L, &ly->exp_probs_b, false, X, "blk.%d.exp_probs_b.bias", il)) ||
        (st = bind_mat(L, &ly->down_exps, true, F, E, X, "blk.%d.ffn_down_exps.weight", il)))
        return st;
    if (has_tensor(L, "blk.%d.ffn_gate_up_exps.weight", il)) {
        /* fused: per expert the F gate rows, then the F up rows */
        wmat gu = {0};
        if ((st = bind_mat(L, &gu, true, E, 2 * F, X, "blk.%d.ffn_gate_up_exps.weight", il)))
            return st;
        ly->gate_exps = wmat_rows(&gu, 0, F);
        ly->up_exps = wmat_rows(&gu, F, F);
    } else if ((st = bind_mat(L, &ly->gate_exps, true, E, F, X, "blk.%d.ffn_gate_exps.weight",
                              il)) ||
               (st = bind_mat(L, &ly->up_exps, true, E, F, X, "blk.%d.ffn_up_exps.weight", il))) {
        return st;
    }
    if (c->n_shared_experts > 0) {
        int64_t S = F * c->n_shared_experts;
        if ((st =
                 bind_mat(L, &ly->gate_shexp, true, E, S, 1, "blk.%d.ffn_gate_shexp.weight", il)) ||
            (st = bind_mat(L, &ly->up_shexp, true, E, S, 1, "blk.%d.ffn_up_shexp.weight", il)) ||
            (st = bind_mat(L, &ly->down_shexp, true, S, E, 1, "blk.%d.ffn_down_shexp.weight", il)))
            return st;
    }
    return R1_OK;
}

static r1_status bind_layer_dense(loader *L, int il)
{
    const model_config *c = &L->m->cfg;
    model_layer *ly = &L->m->layers[il];
    int64_t E = c->dim, q = (int64_t)c->n_heads * c->head_dim,
            kv = (int64_t)c->n_kv_heads * c->head_dim;
    bool bias = c->arch == ARCH_QWEN2;
    r1_status st;
    if ((st = bind_vec(L, &ly->attn_norm, true, E, "blk.%d.attn_norm.weight", il)) ||
        (st = bind_vec(L, &ly->ffn_norm, true, E, "blk.%d.ffn_norm.weight", il)) ||
        (st = bind_mat(L, &ly->wo, true, q, E, 1, "blk.%d.attn_output.weight", il)) ||
        (st = bind_mat(L, &ly->ffn_gate, true, E, c->inter_dim, 1, "blk.%d.ffn_gate.weight", il)) ||
        (st = bind_mat(L, &ly->ffn_up, true, E, c->inter_dim, 1, "blk.%d.ffn_up.weight", il)) ||
        (st = bind_mat(L, &ly->ffn_down, true, c->inter_dim, E, 1, "blk.%d.ffn_down.weight", il)))
        return st;
    if (has_tensor(L, "blk.%d.attn_qkv.weight", il)) {
        /* fused projection: q rows, then k rows, then v rows (and the same for the bias) */
        wmat qkv = {0};
        const float *b = NULL;
        if ((st = bind_mat(L, &qkv, true, E, q + 2 * kv, 1, "blk.%d.attn_qkv.weight", il)) ||
            (st = bind_vec(L, &b, bias, q + 2 * kv, "blk.%d.attn_qkv.bias", il)))
            return st;
        ly->wq = wmat_rows(&qkv, 0, q);
        ly->wk = wmat_rows(&qkv, q, kv);
        ly->wv = wmat_rows(&qkv, q + kv, kv);
        if (b) {
            ly->bq = b;
            ly->bk = b + q;
            ly->bv = b + q + kv;
        }
        return R1_OK;
    }
    if ((st = bind_mat(L, &ly->wq, true, E, q, 1, "blk.%d.attn_q.weight", il)) ||
        (st = bind_mat(L, &ly->wk, true, E, kv, 1, "blk.%d.attn_k.weight", il)) ||
        (st = bind_mat(L, &ly->wv, true, E, kv, 1, "blk.%d.attn_v.weight", il)) ||
        (st = bind_vec(L, &ly->bq, bias, q, "blk.%d.attn_q.bias", il)) ||
        (st = bind_vec(L, &ly->bk, bias, kv, "blk.%d.attn_k.bias", il)) ||
        (st = bind_vec(L, &ly->bv, bias, kv, "blk.%d.attn_v.bias", il)))
        return st;
    return R1_OK;
}

/* The MTP module (model.h): its decoder layer and the nextn.* tensors of block mtp_block. The
 * official checkpoint repeats the embedding and head inside the module; files without them use the
 * main model's. */
static r1_status bind_mtp(loader *L)
{
    r1_model *m = L->m;
    const model_config *c = &m->cfg;
    model_mtp *p = &m->mtp;
    int il = m->mtp_block;
    int64_t E = c->dim;
    r1_status st;
    if ((st = bind_layer_deepseek2(L, &m->layers[c->n_layers], il)) ||
        (st = bind_vec(L, &p->enorm, true, E, "blk.%d.nextn.enorm.weight", il)) ||
        (st = bind_vec(L, &p->hnorm, true, E, "blk.%d.nextn.hnorm.weight", il)) ||
        (st = bind_mat(L, &p->eh_proj, true, 2 * E, E, 1, "blk.%d.nextn.eh_proj.weight", il)) ||
        (st = bind_vec(L, &p->head_norm, true, E, "blk.%d.nextn.shared_head_norm.weight", il)) ||
        (st = bind_mat(L, &p->embed, false, E, c->n_vocab, 1, "blk.%d.nextn.embed_tokens.weight",
                       il)) ||
        (st = bind_mat(L, &p->head, false, E, c->n_vocab, 1, "blk.%d.nextn.shared_head_head.weight",
                       il)))
        return st;
    if (!p->embed.data) p->embed = m->tok_embd;
    if (!p->head.data) p->head = m->output;
    return R1_OK;
}

static r1_status bind_tensors(loader *L)
{
    r1_model *m = L->m;
    model_config *c = &m->cfg;
    const gguf_tensor *emb = gguf_find_tensor(L->f, "token_embd.weight");
    if (!emb)
        return err_set(L->err, R1_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", L->f->path);
    if (emb->n_dims != 2 || emb->ne[0] != c->dim || emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return err_set(L->err, R1_ERR_FORMAT,
                       "%s: token_embd.weight has shape [%lld, %lld], expected [%d, n_vocab]",
                       L->f->path, (long long)emb->ne[0], (long long)emb->ne[1], c->dim);
    c->n_vocab = (int)emb->ne[1];
    int vocab_key = 0;
    r1_status st = get_u32(L, "vocab_size", false, (uint32_t)c->n_vocab, 1, 1u << 24, &vocab_key);
    if (st) return st;
    if (vocab_key != c->n_vocab)
        return err_set(L->err, R1_ERR_FORMAT, "%s: %svocab_size %d but token_embd has %d rows",
                       L->f->path, L->prefix, vocab_key, c->n_vocab);
    if ((st = bind_mat(L, &m->tok_embd, true, c->dim, c->n_vocab, 1, "token_embd.weight")) ||
        (st = bind_vec(L, &m->out_norm, true, c->dim, "output_norm.weight")) ||
        (st = bind_mat(L, &m->output, false, c->dim, c->n_vocab, 1, "output.weight")))
        return st;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if (c->arch == ARCH_LLAMA &&
        (st = bind_vec(L, &m->rope_freq_factors, false, c->rope_dim / 2, "rope_freqs.weight")))
        return st;
    if (m->rope_freq_factors)
        for (int i = 0; i < c->rope_dim / 2; i++)
            if (!(m->rope_freq_factors[i] > 0) || !isfinite(m->rope_freq_factors[i]))
                return err_set(L->err, R1_ERR_FORMAT, "%s: rope_freqs.weight[%d] is not positive",
                               L->f->path, i);
    m->layers = own(m, (size_t)(c->n_layers + m->n_mtp) * sizeof *m->layers);
    if (!m->layers) return err_set(L->err, R1_ERR_NOMEM, "%s: out of memory", L->f->path);
    for (int il = 0; il < c->n_layers; il++) {
        st = c->arch == ARCH_DEEPSEEK2 ? bind_layer_deepseek2(L, &m->layers[il], il)
                                       : bind_layer_dense(L, il);
        if (st) return st;
    }
    if (m->n_mtp && (st = bind_mtp(L))) return st;
    int n_unused = 0;
    const char *first_unused = NULL;
    /* bytes a decode step reads: all used tensors, but one embedding row and, of routed experts,
     * the n_activated / n_routed share */
    char mtp_prefix[32];
    snprintf(mtp_prefix, sizeof mtp_prefix, "blk.%d.", m->mtp_block);
    for (int64_t i = 0; i < L->f->n_tensors; i++) {
        const gguf_tensor *t = &L->f->tensors[i];
        if (!L->used[i]) continue;
        if (m->n_mtp && !strncmp(t->name, mtp_prefix, strlen(mtp_prefix)))
            continue; /* read only when drafting */
        if (!strcmp(t->name, "token_embd.weight")) {
            m->active_bytes += t->n_bytes / (size_t)t->ne[1];
            if (m->output.data == m->tok_embd.data) m->active_bytes += t->n_bytes;
        } else if (strstr(t->name, "_exps.")) {
            m->active_bytes +=
                t->n_bytes / (size_t)c->n_routed_experts * (size_t)c->n_activated_experts;
        } else {
            m->active_bytes += t->n_bytes;
        }
    }
    for (int64_t i = 0; i < L->f->n_tensors; i++) {
        m->n_params += (uint64_t)L->f->tensors[i].n_elements;
        m->weight_bytes += L->f->tensors[i].n_bytes;
        if (!L->used[i]) {
            if (!n_unused) first_unused = L->f->tensors[i].name;
            n_unused++;
        }
    }
    if (n_unused)
        model_log(m, R1_LOG_WARN, "%s: %d tensors are not used (first: %s)", L->f->path, n_unused,
                  first_unused);
    return R1_OK;
}

/* Repack the matrices for the backend's kernels (kernels.h: the R8 layouts of the quantized types
 * for the VNNI kernels, KERN_R8_BLOCK_BYTES, and R16 for F32/F16/BF16): a copy in memory, the
 * mapped original kept for embedding lookups. Costs the matrices' size in RAM and a pass over them
 * at load; prompt processing and batched decoding gain most. */
typedef struct repack_job {
    const wmat *w;
    uint8_t *dst;
    size_t per;
} repack_job;

static void repack_worker(void *p, int ith, int nth)
{
    const repack_job *j = p;
    int64_t n_groups = kern_repack_n_groups(j->w);
    long u0, u1; /* units: (matrix, group) pairs */
    threadpool_split((long)(j->w->n_mats * n_groups), ith, nth, &u0, &u1);
    for (long u = u0; u < u1;) {
        int64_t mat = u / n_groups, g0 = u % n_groups;
        int64_t g1 = g0 + (u1 - u) < n_groups ? g0 + (u1 - u) : n_groups;
        kern_repack_r8_groups(j->w, mat, g0, g1, j->dst + (size_t)mat * j->per);
        u += g1 - g0;
    }
}

static r1_status repack_weights(loader *L)
{
    r1_model *m = L->m;
    const kern_backend_t *be = kern_backend();
    int n_lay = m->cfg.n_layers + m->n_mtp;
    uint64_t bytes = 0;
    /* two passes: size the arena, then fill it */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!bytes) return R1_OK;
            /* one arena in huge pages: the decode kernels stream through all of it every
             * token (and the load takes a page fault per 2 MB, not per 4 KB) */
            void *a = mem_huge_alloc((size_t)bytes);
            if (!a) return err_set(L->err, R1_ERR_NOMEM, "%s: out of memory", L->f->path);
            m->repacked = a;
            m->repacked_bytes = (size_t)bytes;
            bytes = 0;
        }
        for (int il = -1; il < n_lay; il++) {
            model_layer *ly = il >= 0 ? &m->layers[il] : NULL;
            wmat *list[] = {
                ly ? &ly->wq : &m->output,
                ly ? &ly->wk : &m->mtp.eh_proj,
                ly ? &ly->wv : (m->mtp.head.data != m->output.data ? &m->mtp.head : NULL),
                ly ? &ly->wo : NULL,
                ly ? &ly->wq_a : NULL,
                ly ? &ly->wq_b : NULL,
                ly ? &ly->wkv_a : NULL,
                ly ? &ly->k_b : NULL,
                ly ? &ly->v_b : NULL,
                ly ? &ly->k_up : NULL,
                ly ? &ly->ffn_gate : NULL,
                ly ? &ly->ffn_up : NULL,
                ly ? &ly->ffn_down : NULL,
                ly ? &ly->gate_exps : NULL,
                ly ? &ly->up_exps : NULL,
                ly ? &ly->down_exps : NULL,
                ly ? &ly->gate_shexp : NULL,
                ly ? &ly->up_shexp : NULL,
                ly ? &ly->down_shexp : NULL,
                ly ? &ly->gate_inp : NULL,
            };
            for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) {
                wmat *w = list[k];
                bool has = w && w->data && (be->gemm_r8[w->type] || be->gemm_r16[w->type]);
                size_t per = has ? kern_r8_mat_bytes(w) : 0;
                if (!per) continue;
                if (pass == 0) {
                    bytes += (per * (size_t)w->n_mats + 63) & ~(size_t)63;
                    continue;
                }
                uint8_t *dst = m->repacked + bytes;
                bytes += (per * (size_t)w->n_mats + 63) & ~(size_t)63;
                repack_job job = {w, dst, per};
                threadpool_run(m->pool, repack_worker, &job);
                /* the mapped original is no longer read: let its pages go */
                for (int64_t mat = 0; mat < w->n_mats; mat++)
                    gguf_release_pages(L->f, w->data + (size_t)mat * w->mat_bytes,
                                       (size_t)w->n_rows * w->row_bytes);
                w->r8 = dst;
                w->r8_mat_bytes = per;
            }
        }
    }
    if (m->n_mtp && m->mtp.head.data == m->output.data) m->mtp.head = m->output; /* shared */
    if (bytes)
        model_log(m, R1_LOG_INFO, "repacked %.1f MiB of weights for the matmul kernels",
                  bytes / 1048576.0);
    return R1_OK;
}

/* ---- public --------------------------------------------------------------------------------- */

/* The ranks of a split model must load the same file: compare whether each opened it, its size
 * and a hash of its header (metadata and tensor table, FNV-1a). open_st: this rank's result. */
static r1_status check_same_file(r1_model *m, const char *path, r1_status open_st, char *err)
{
    uint64_t mine[3] = {open_st == R1_OK, 0, 14695981039346656037ull};
    if (open_st == R1_OK) {
        mine[1] = m->file->size;
        for (size_t i = 0; i < m->file->data_offset && i < m->file->size; i++)
            mine[2] = (mine[2] ^ m->file->base[i]) * 1099511628211ull;
    }
    int size = m->dist->size;
    uint64_t *all = calloc((size_t)size * 3, sizeof *all);
    if (!all) return err_set(err, R1_ERR_NOMEM, "out of memory");
    if (!dist_allgather_u64(m->dist, mine, 3, all)) {
        free(all);
        return err_set(err, R1_ERR_IO, "%s", r1_dist_failure(m->dist));
    }
    r1_status st = open_st;
    for (int r = 0; r < size && !st; r++) {
        const uint64_t *o = all + 3 * r;
        if (!o[0])
            st = err_set(err, R1_ERR_IO, "%s: rank %d could not open the model file", path, r);
        else if (o[1] != all[1] || o[2] != all[2])
            st = err_set(err, R1_ERR_FORMAT,
                         "%s: rank %d has another file (%llu bytes, header hash %016llx) than rank "
                         "0 (%llu bytes, %016llx): every rank must load the same model",
                         path, r, (unsigned long long)o[1], (unsigned long long)o[2],
                         (unsigned long long)all[1], (unsigned long long)all[2]);
    }
    free(all);
    return st;
}

static r1_status load(r1_model *m, const char *path, const r1_model_params *p, char *err)
{
    r1_status st;
    if (hf_is_folder(path)) {
        /* a Hugging Face folder: FP8 weights become load_type (default Q8_0), the rest is mapped */
        int load_type = dtype_from_name(p->load_type ? p->load_type : "Q8_0");
        if (load_type < 0 || !dtype_get((uint32_t)load_type)->is_supported)
            return err_set(err, R1_ERR_INVALID_ARG, "load type '%s' is not a supported type",
                           p->load_type);
        if (!(st = hf_open(path, HF_FOR_LOAD, p->use_mmap, m->log_fn, m->log_user, &m->hf, err)))
            st = hf_build_file(m->hf, (dtype)load_type, p->n_threads, &m->file, err);
    } else {
        st = gguf_open_model(path, p->use_mmap, &m->file, err);
    }
    /* every rank opens the file, failing or not, before they compare what they opened */
    if (dist_is_split(m->dist) && (st = check_same_file(m, path, st, err))) return st;
    if (st) return st;
    loader L = {.m = m, .f = m->file, .err = err};
    bool is_bad = false;
    if (!gguf_get_str(m->file, "general.architecture", m->arch_name, sizeof m->arch_name, &is_bad))
        return err_set(err, R1_ERR_FORMAT, "%s: missing general.architecture", path);
    if (!strcmp(m->arch_name, "deepseek2"))
        m->cfg.arch = ARCH_DEEPSEEK2;
    else if (!strcmp(m->arch_name, "qwen2"))
        m->cfg.arch = ARCH_QWEN2;
    else if (!strcmp(m->arch_name, "llama"))
        m->cfg.arch = ARCH_LLAMA;
    else
        return err_set(err, R1_ERR_UNSUPPORTED,
                       "%s: architecture '%s' is not supported (deepseek2, qwen2, llama)", path,
                       m->arch_name);
    gguf_get_str(m->file, "general.name", m->name, sizeof m->name, NULL);
    snprintf(L.prefix, sizeof L.prefix, "%s.", m->arch_name);
    L.used = calloc((size_t)(m->file->n_tensors ? m->file->n_tensors : 1), 1);
    if (!L.used) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    st = read_config(&L);
    if (!st) st = bind_tensors(&L);
    free(L.used);
    if (st) return st;

    m->bos_id = m->eos_id = -1;
    uint32_t id;
    is_bad = false;
    /* ids over INT32_MAX must not wrap to negative values that pass the check below */
    if (gguf_get_u32(m->file, "tokenizer.ggml.bos_token_id", &id, &is_bad))
        m->bos_id = id > INT32_MAX ? INT32_MAX : (int)id;
    if (gguf_get_u32(m->file, "tokenizer.ggml.eos_token_id", &id, &is_bad))
        m->eos_id = id > INT32_MAX ? INT32_MAX : (int)id;
    if (is_bad || m->bos_id >= m->cfg.n_vocab || m->eos_id >= m->cfg.n_vocab)
        return err_set(err, R1_ERR_FORMAT, "%s: bos/eos token id invalid or ≥ n_vocab %d", path,
                       m->cfg.n_vocab);
    if (m->hf && m->hf->has_tokenizer) {
        const char *cfg = m->hf->tokenizer_config_path[0] ? m->hf->tokenizer_config_path : NULL;
        if ((st = tokenizer_load_json(m->hf->tokenizer_path, cfg, &m->tok, err))) {
            if (err && strncmp(err, path, strlen(path))) err_prefix(err, "%s", path);
            return st;
        }
        /* HF pads the embedding past the vocabulary (Qwen: 151936 rows, 151665 tokens) */
        if (tokenizer_n_vocab(m->tok) > m->cfg.n_vocab)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: tokenizer.json has %d tokens but the embedding only %d rows", path,
                           tokenizer_n_vocab(m->tok), m->cfg.n_vocab);
        if (tokenizer_bos(m->tok) >= 0) m->bos_id = tokenizer_bos(m->tok);
        if (tokenizer_eos(m->tok) >= 0) m->eos_id = tokenizer_eos(m->tok);
    } else if (gguf_find(m->file, "tokenizer.ggml.tokens")) {
        if ((st = tokenizer_load_gguf(m->file, &m->tok, err))) {
            if (err && strncmp(err, path, strlen(path))) err_prefix(err, "%s", path); /* once */
            return st;
        }
        if (tokenizer_n_vocab(m->tok) != m->cfg.n_vocab)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: the vocabulary has %d tokens but token_embd has %d rows", path,
                           tokenizer_n_vocab(m->tok), m->cfg.n_vocab);
    }
    pthread_mutex_init(&m->forward_mu, NULL);
    m->has_mutex = true;
    m->pool = threadpool_new(p->n_threads);
    if (!m->pool) return err_set(err, R1_ERR_NOMEM, "cannot start threads");
    if ((st = model_shard_weights(m, err)) || (st = repack_weights(&L))) return st;
    /* loads take different times: the first forward pass's collectives must not time out */
    if (!dist_barrier(m->dist)) return err_set(err, R1_ERR_IO, "%s", r1_dist_failure(m->dist));
    m->is_loaded = true;
    return R1_OK;
}

r1_status r1_model_load(const char *path, const r1_model_params *params, r1_model **out_model,
                        char *err)
{
    r1_model_params def = r1_model_params_default();
    if (!params) params = &def;
    if (!path || !out_model) return err_set(err, R1_ERR_INVALID_ARG, "model path is NULL");
    r1_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(err, R1_ERR_NOMEM, "out of memory");
    m->log_fn = params->log_fn;
    m->log_user = params->log_user;
    m->dist = params->dist;
    r1_status st = load(m, path, params, err);
    if (st) {
        r1_model_free(m);
        return st;
    }
    *out_model = m;
    return R1_OK;
}

void r1_model_free(r1_model *m)
{
    if (!m) return;
    if (m->is_loaded && dist_is_split(m->dist) && m->dist->rank == 0) {
        dist_cmd quit = {.op = DIST_CMD_QUIT};
        dist_bcast(m->dist, &quit, sizeof quit, false);
    }
    if (m->pool) threadpool_free(m->pool);
    if (m->has_mutex) pthread_mutex_destroy(&m->forward_mu);
    if (m->tok) tokenizer_free(m->tok);
    gvocab_free(m->grammar_vocab);
    mem_huge_free(m->repacked, m->repacked_bytes);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    gguf_close(m->file);
    hf_close(m->hf); /* after the file: its tensors point into the folder's mappings */
    free(m);
}

void r1_model_get_info(const r1_model *m, r1_model_info *out)
{
    const model_config *c = &m->cfg;
    *out = (r1_model_info){
        .architecture = m->arch_name,
        .name = m->name,
        .n_vocab = c->n_vocab,
        .n_layers = c->n_layers,
        .n_embd = c->dim,
        .n_ctx_train = c->n_ctx_train,
        .kv_values_per_token_layer = model_kv_row_floats(c),
        .n_params = m->n_params,
        .weight_bytes = m->weight_bytes,
        .active_bytes_per_token = m->active_bytes,
        .bos_id = m->bos_id,
        .eos_id = m->eos_id,
        .n_mtp_layers = m->n_mtp,
    };
}

r1_status r1_tokenize(const r1_model *m, const char *text, size_t n_bytes, bool add_bos,
                      bool parse_special, int32_t **out_ids, size_t *out_n_ids, char *err)
{
    if (!m->tok) return err_set(err, R1_ERR_UNSUPPORTED, "the model file has no vocabulary");
    int32_t *ids = NULL;
    size_t n = 0;
    r1_status st = tokenizer_encode(m->tok, text, n_bytes, parse_special, &ids, &n, err);
    if (st) return st;
    int32_t bos = tokenizer_bos(m->tok);
    if (add_bos && tokenizer_add_bos(m->tok) && bos >= 0 && !(n > 0 && ids[0] == bos)) {
        int32_t *with = realloc(ids, (n + 1) * sizeof *ids);
        if (!with) {
            free(ids);
            return err_set(err, R1_ERR_NOMEM, "out of memory");
        }
        memmove(with + 1, with, n * sizeof *with);
        with[0] = bos;
        ids = with;
        n++;
    }
    *out_ids = ids;
    *out_n_ids = n;
    return R1_OK;
}

r1_status r1_detokenize(const r1_model *m, const int32_t *ids, size_t n_ids, char **out_text,
                        char *err)
{
    if (!m->tok) return err_set(err, R1_ERR_UNSUPPORTED, "the model file has no vocabulary");
    size_t len = 0;
    return tokenizer_decode(m->tok, ids, n_ids, false, out_text, &len, err);
}
