/* tio.c — GGUF model files and checkpoints of the trainer (see tio.h). */
#include "train/tio.h"

#include "base/err.h"
#include "tensor/quant.h"
#include "train/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH "deepseek2"

static void write_config(gguf_writer *w, const tconfig *c, const char *name)
{
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, ARCH ".%s", s), k)
    gguf_writer_set_str(w, "general.architecture", ARCH);
    gguf_writer_set_str(w, "general.name", name ? name : "r1-tiny");
    /* llama.cpp's convention: the MTP layer counts as the last block */
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)(c->n_layers + c->n_mtp));
    if (c->n_mtp) gguf_writer_set_u32(w, KEY("nextn_predict_layers"), (uint32_t)c->n_mtp);
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)c->max_seq_len);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)c->dim);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)c->inter_dim);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), 1);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->rms_eps);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), c->rope_theta);
    gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)c->n_vocab);
    gguf_writer_set_u32(w, KEY("attention.q_lora_rank"), (uint32_t)c->q_lora_rank);
    gguf_writer_set_u32(w, KEY("attention.kv_lora_rank"), (uint32_t)c->kv_lora_rank);
    /* new-style MLA (as llama.cpp writes it): the cache row is MQA over [c | kpe] */
    gguf_writer_set_u32(w, KEY("attention.key_length"),
                        (uint32_t)(c->kv_lora_rank + c->qk_rope_head_dim));
    gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)c->kv_lora_rank);
    gguf_writer_set_u32(w, KEY("attention.key_length_mla"),
                        (uint32_t)(c->qk_nope_head_dim + c->qk_rope_head_dim));
    gguf_writer_set_u32(w, KEY("attention.value_length_mla"), (uint32_t)c->v_head_dim);
    gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->qk_rope_head_dim);
    /* the MTP layer is MoE when the model has MoE layers; of an all-dense model it is dense, and
     * counts as one more leading dense block */
    int n_dense = c->n_dense_layers == c->n_layers ? c->n_layers + c->n_mtp : c->n_dense_layers;
    gguf_writer_set_u32(w, KEY("leading_dense_block_count"), (uint32_t)n_dense);
    gguf_writer_set_u32(w, KEY("expert_count"), (uint32_t)c->n_routed_experts);
    gguf_writer_set_u32(w, KEY("expert_used_count"), (uint32_t)c->n_activated_experts);
    gguf_writer_set_u32(w, KEY("expert_shared_count"), (uint32_t)c->n_shared_experts);
    gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), (uint32_t)c->moe_inter_dim);
    gguf_writer_set_u32(w, KEY("expert_group_count"), (uint32_t)c->n_expert_groups);
    gguf_writer_set_u32(w, KEY("expert_group_used_count"), (uint32_t)c->n_limited_groups);
    gguf_writer_set_u32(w, KEY("expert_gating_func"), 2); /* sigmoid */
    gguf_writer_set_f32(w, KEY("expert_weights_scale"), c->route_scale);
    gguf_writer_set_bool(w, KEY("expert_weights_norm"), c->norm_topk_prob);
#undef KEY
}

r1_status tio_save(const tmodel *m, const char *path, const tio_save_params *p, char *err)
{
    const tconfig *c = &m->cfg;
    dtype wtype = p->opt ? DTYPE_F32 : p->type;
    if (wtype != DTYPE_F32 && wtype != DTYPE_F16)
        return err_set(err, R1_ERR_INVALID_ARG, "%s: weights can be saved as F32 or F16", path);
    gguf_writer *w = gguf_writer_new();
    if (!w) return err_set(err, R1_ERR_NOMEM, "out of memory");
    write_config(w, c, p->name);
    vocab_write_gguf(w);
    if (p->opt) {
        const adamw_params *a = &p->opt->p;
        gguf_writer_set_u32(w, "r1train.step", (uint32_t)p->opt->step);
        gguf_writer_set_f32(w, "r1train.adam.lr", a->lr);
        gguf_writer_set_f32(w, "r1train.adam.min_lr_ratio", a->min_lr_ratio);
        gguf_writer_set_u32(w, "r1train.adam.warmup_steps", (uint32_t)a->warmup_steps);
        gguf_writer_set_u32(w, "r1train.adam.total_steps", (uint32_t)a->total_steps);
        gguf_writer_set_f32(w, "r1train.adam.beta1", a->beta1);
        gguf_writer_set_f32(w, "r1train.adam.beta2", a->beta2);
        gguf_writer_set_f32(w, "r1train.adam.eps", a->eps);
        gguf_writer_set_f32(w, "r1train.adam.weight_decay", a->weight_decay);
        gguf_writer_set_f32(w, "r1train.adam.clip_norm", a->clip_norm);
    }
    if (p->add_keys) p->add_keys(w, p->user);

    /* tensors: converted copies for F16 (freed at the end), moments for checkpoints */
    int n_conv = 0;
    void **conv = calloc((size_t)m->n_tensors + 1, sizeof *conv);
    r1_status st = conv ? R1_OK : err_set(err, R1_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_tensors && !st; i++) {
        const tmodel_tensor *t = &m->tensors[i];
        const float *src = m->params + t->offset;
        dtype ty = t->n_dims >= 2 ? wtype : DTYPE_F32;
        const void *data = src;
        if (ty != DTYPE_F32) {
            size_t row = dtype_row_bytes(ty, t->ne[0]);
            uint8_t *buf = malloc(row * (size_t)(t->n / (size_t)t->ne[0]));
            if (!buf) {
                st = err_set(err, R1_ERR_NOMEM, "out of memory");
                break;
            }
            for (size_t r = 0; r < t->n / (size_t)t->ne[0]; r++)
                quant_quantize_row(ty, src + r * (size_t)t->ne[0], buf + r * row, t->ne[0]);
            conv[n_conv++] = buf;
            data = buf;
        }
        st = gguf_writer_add_tensor(w, t->name, ty, t->n_dims, t->ne, data, err);
    }
    char name[96];
    for (int il = 0; il < c->n_layers + c->n_mtp && !st; il++) {
        if (!tconfig_layer_is_moe(c, il)) continue;
        snprintf(name, sizeof name, "blk.%d.exp_probs_b.bias", il);
        int64_t ne[1] = {c->n_routed_experts};
        st = gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne,
                                    m->exp_probs_b + (size_t)il * (size_t)(c->n_routed_experts + 1),
                                    err);
    }
    for (int pass = 0; pass < 2 && p->opt && !st; pass++)
        for (int i = 0; i < m->n_tensors && !st; i++) {
            const tmodel_tensor *t = &m->tensors[i];
            snprintf(name, sizeof name, "%s.%s", pass ? "adam_v" : "adam_m", t->name);
            st = gguf_writer_add_tensor(w, name, DTYPE_F32, t->n_dims, t->ne,
                                        (pass ? p->opt->v : p->opt->m) + t->offset, err);
        }
    if (!st) st = gguf_writer_write_file(w, path, err);
    for (int i = 0; i < n_conv; i++) free(conv[i]);
    free(conv);
    gguf_writer_free(w);
    return st;
}

/* ---- loading --------------------------------------------------------------------------------- */

static r1_status need_u32(const gguf_file *f, const char *key, int *out, char *err)
{
    char full[128];
    snprintf(full, sizeof full, ARCH ".%s", key);
    uint32_t v;
    if (!gguf_get_u32(f, full, &v, NULL) || v > (1u << 24))
        return err_set(err, R1_ERR_FORMAT, "%s: missing or bad %s", f->path, full);
    *out = (int)v;
    return R1_OK;
}

static int opt_u32(const gguf_file *f, const char *key, int def)
{
    char full[128];
    snprintf(full, sizeof full, ARCH ".%s", key);
    uint32_t v;
    return gguf_get_u32(f, full, &v, NULL) && v <= (1u << 24) ? (int)v : def;
}

static float opt_f32(const gguf_file *f, const char *key, float def)
{
    float v;
    return gguf_get_f32(f, key, &v, NULL) ? v : def;
}

static r1_status read_config(const gguf_file *f, tconfig *c, char *err)
{
    char arch[32] = "";
    gguf_get_str(f, "general.architecture", arch, sizeof arch, NULL);
    if (strcmp(arch, ARCH) != 0)
        return err_set(err, R1_ERR_UNSUPPORTED, "%s: architecture '%s', the trainer needs " ARCH,
                       f->path, arch);
    *c = tconfig_default();
    int key_mla = 0, gating = 0;
    r1_status st;
    c->n_mtp = 0;
    if ((st = need_u32(f, "block_count", &c->n_layers, err)) ||
        (st = need_u32(f, "embedding_length", &c->dim, err)) ||
        (st = need_u32(f, "context_length", &c->max_seq_len, err)) ||
        (st = need_u32(f, "attention.head_count", &c->n_heads, err)) ||
        (st = need_u32(f, "attention.q_lora_rank", &c->q_lora_rank, err)) ||
        (st = need_u32(f, "attention.kv_lora_rank", &c->kv_lora_rank, err)) ||
        (st = need_u32(f, "attention.key_length_mla", &key_mla, err)) ||
        (st = need_u32(f, "attention.value_length_mla", &c->v_head_dim, err)) ||
        (st = need_u32(f, "rope.dimension_count", &c->qk_rope_head_dim, err)))
        return st;
    c->qk_nope_head_dim = key_mla - c->qk_rope_head_dim;
    /* an MTP module counts in block_count (llama.cpp); the trainer handles one */
    int n_nextn = opt_u32(f, "nextn_predict_layers", 0);
    if (n_nextn > 0) {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.nextn.eh_proj.weight", c->n_layers - n_nextn);
        if (n_nextn > 1 || n_nextn >= c->n_layers || !gguf_find_tensor(f, name))
            return err_set(err, R1_ERR_UNSUPPORTED,
                           "%s: %d MTP modules (the trainer handles one, stored as the last block)",
                           f->path, n_nextn);
        c->n_layers -= 1;
        c->n_mtp = 1;
    }
    c->inter_dim = opt_u32(f, "feed_forward_length", 0);
    c->n_dense_layers = opt_u32(f, "leading_dense_block_count", 0);
    if (c->n_dense_layers > c->n_layers) c->n_dense_layers = c->n_layers; /* all dense + MTP */
    c->n_routed_experts = opt_u32(f, "expert_count", 0);
    c->n_activated_experts = opt_u32(f, "expert_used_count", 0);
    c->n_shared_experts = opt_u32(f, "expert_shared_count", 0);
    c->moe_inter_dim = opt_u32(f, "expert_feed_forward_length", 0);
    c->n_expert_groups = opt_u32(f, "expert_group_count", 1);
    c->n_limited_groups = opt_u32(f, "expert_group_used_count", c->n_expert_groups);
    gating = opt_u32(f, "expert_gating_func", 0);
    c->route_scale = opt_f32(f, ARCH ".expert_weights_scale", 1.0f);
    c->rope_theta = opt_f32(f, ARCH ".rope.freq_base", 10000.0f);
    c->rms_eps = opt_f32(f, ARCH ".attention.layer_norm_rms_epsilon", 1e-6f);
    bool b = false;
    c->norm_topk_prob = gguf_get_bool(f, ARCH ".expert_weights_norm", &b, NULL) && b;
    char scaling[32] = "none";
    gguf_get_str(f, ARCH ".rope.scaling.type", scaling, sizeof scaling, NULL);
    if (strcmp(scaling, "none") != 0 && scaling[0])
        return err_set(err, R1_ERR_UNSUPPORTED,
                       "%s: RoPE scaling '%s' (the trainer runs plain RoPE)", f->path, scaling);
    if (c->n_dense_layers < c->n_layers && gating != 2)
        return err_set(err, R1_ERR_UNSUPPORTED, "%s: the trainer needs sigmoid routing", f->path);
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return err_set(err, R1_ERR_FORMAT, "%s: no token_embd.weight", f->path);
    c->n_vocab = (int)emb->ne[1];
    c->tie_embeddings = gguf_find_tensor(f, "output.weight") == NULL;
    return tconfig_validate(c, err);
}

static r1_status read_tensor(const gguf_file *f, const char *name, const tmodel_tensor *shape,
                             float *dst, char *err)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) return err_set(err, R1_ERR_FORMAT, "%s: missing tensor %s", f->path, name);
    for (int d = 0; d < 3; d++)
        if (t->ne[d] != (d < shape->n_dims ? shape->ne[d] : 1))
            return err_set(err, R1_ERR_FORMAT, "%s: tensor %s has the wrong shape", f->path, name);
    if (t->type == DTYPE_F32) {
        memcpy(dst, t->data, shape->n * sizeof(float));
        return R1_OK;
    }
    size_t row = dtype_row_bytes(t->type, t->ne[0]);
    for (size_t r = 0; r < shape->n / (size_t)t->ne[0]; r++)
        if (!quant_dequantize_row(t->type, (const uint8_t *)t->data + r * row,
                                  dst + r * (size_t)t->ne[0], t->ne[0]))
            return err_set(err, R1_ERR_UNSUPPORTED, "%s: tensor %s has an unsupported type",
                           f->path, name);
    return R1_OK;
}

r1_status tio_load(const char *path, threadpool *pool, tmodel **out_model, adamw *opt, char *err)
{
    gguf_file *f;
    r1_status st = gguf_open(path, true, &f, err);
    if (st) return st;
    tconfig c;
    tmodel *m = NULL;
    if ((st = read_config(f, &c, err)) || (st = tmodel_new(&c, pool, &m, err))) goto done;
    for (int i = 0; i < m->n_tensors && !st; i++)
        st = read_tensor(f, m->tensors[i].name, &m->tensors[i], m->params + m->tensors[i].offset,
                         err);
    char name[96];
    for (int il = 0; il < c.n_layers + c.n_mtp && !st; il++) {
        if (!tconfig_layer_is_moe(&c, il)) continue;
        snprintf(name, sizeof name, "blk.%d.exp_probs_b.bias", il);
        tmodel_tensor shape = {.n_dims = 1, .ne = {c.n_routed_experts, 1, 1}};
        shape.n = (size_t)c.n_routed_experts;
        if (gguf_find_tensor(f, name))
            st = read_tensor(f, name, &shape,
                             m->exp_probs_b + (size_t)il * (size_t)(c.n_routed_experts + 1), err);
    }
    if (!st && opt) {
        uint32_t step, warm, total;
        if (!gguf_get_u32(f, "r1train.step", &step, NULL) ||
            !gguf_get_u32(f, "r1train.adam.warmup_steps", &warm, NULL) ||
            !gguf_get_u32(f, "r1train.adam.total_steps", &total, NULL)) {
            st = err_set(err, R1_ERR_FORMAT, "%s: not a checkpoint (no r1train.step)", path);
            goto done;
        }
        adamw_params ap = {.lr = opt_f32(f, "r1train.adam.lr", 0),
                           .min_lr_ratio = opt_f32(f, "r1train.adam.min_lr_ratio", 0),
                           .warmup_steps = (int)warm,
                           .total_steps = (int)total,
                           .beta1 = opt_f32(f, "r1train.adam.beta1", 0.9f),
                           .beta2 = opt_f32(f, "r1train.adam.beta2", 0.95f),
                           .eps = opt_f32(f, "r1train.adam.eps", 1e-8f),
                           .weight_decay = opt_f32(f, "r1train.adam.weight_decay", 0),
                           .clip_norm = opt_f32(f, "r1train.adam.clip_norm", 0)};
        if ((st = adamw_init(opt, m, &ap, err))) goto done;
        opt->step = step;
        for (int pass = 0; pass < 2 && !st; pass++)
            for (int i = 0; i < m->n_tensors && !st; i++) {
                snprintf(name, sizeof name, "%s.%s", pass ? "adam_v" : "adam_m",
                         m->tensors[i].name);
                st = read_tensor(f, name, &m->tensors[i],
                                 (pass ? opt->v : opt->m) + m->tensors[i].offset, err);
            }
        if (st) adamw_free(opt);
    }
done:
    gguf_close(f);
    if (st) {
        tmodel_free(m);
        return st;
    }
    *out_model = m;
    return R1_OK;
}
