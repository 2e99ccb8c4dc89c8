/* tmodel.c — forward and backward of the trainable deepseek2 model (see tmodel.h for the math and
 * the contracts). Layer by layer the backward mirrors the forward in reverse.
 *
 * Notation in comments: N tokens in the batch, E = dim, H heads, NOPE/ROPE the per-head q/k
 * parts, R = kv_lora_rank, QL = q_lora_rank, VH = v_head_dim, X routed experts of which K are
 * active, F = moe_inter_dim, S = F·n_shared, FD = inter_dim, V = n_vocab.
 * Linear layers keep W as (out, in) like GGUF rows; the forward multiplies by a transposed copy
 * (st->wt, rebuilt at each forward) so every product is one tm_gemm.
 * Determinism: products split by output tiles, attention by (sequence, head) with per-head
 * gradient buffers summed in head order, reductions over tokens run in token order.
 * The MTP module's layer (index n_layers) runs the same layer code over its own rows — position
 * i < T-1 of each sequence — described by a tgeom; its backward runs first and hands the trunk
 * the gradient w.r.t. the main hidden states (st->dhid).
 */
#include "train/tmodel.h"

#include "base/err.h"
#include "base/rng.h"
#include "train/tmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration --------------------------------------------------------------------------- */

tconfig tconfig_default(void)
{
    return (tconfig){.n_vocab = 262,
                     .dim = 128,
                     .n_layers = 4,
                     .n_heads = 4,
                     .q_lora_rank = 64,
                     .kv_lora_rank = 64,
                     .qk_nope_head_dim = 32,
                     .qk_rope_head_dim = 16,
                     .v_head_dim = 32,
                     .inter_dim = 384,
                     .n_dense_layers = 1,
                     .n_routed_experts = 8,
                     .n_activated_experts = 2,
                     .n_shared_experts = 1,
                     .moe_inter_dim = 128,
                     .n_expert_groups = 1,
                     .n_limited_groups = 1,
                     .route_scale = 1.0f,
                     .norm_topk_prob = true,
                     .tie_embeddings = false,
                     .rope_theta = 10000.0f,
                     .rms_eps = 1e-6f,
                     .max_seq_len = 512,
                     .n_mtp = 1};
}

r1_status tconfig_validate(const tconfig *c, char *err)
{
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) return err_set(err, R1_ERR_INVALID_ARG, __VA_ARGS__);                         \
    } while (0)
    NEED(c->n_vocab >= 8 && c->n_vocab <= (1 << 20), "n_vocab %d out of range", c->n_vocab);
    NEED(c->dim >= 1 && c->dim <= 8192, "dim %d out of range", c->dim);
    NEED(c->n_layers >= 1 && c->n_layers <= 64, "n_layers %d out of range", c->n_layers);
    NEED(c->n_heads >= 1 && c->n_heads <= 256, "n_heads %d out of range", c->n_heads);
    NEED(c->q_lora_rank >= 1 && c->kv_lora_rank >= 1 && c->kv_lora_rank <= 1024,
         "q_lora_rank must be > 0 and kv_lora_rank in 1..1024");
    NEED(c->qk_nope_head_dim >= 1 && c->v_head_dim >= 1, "head dims must be > 0");
    NEED(c->qk_rope_head_dim >= 2 && c->qk_rope_head_dim % 2 == 0,
         "qk_rope_head_dim %d must be even and >= 2", c->qk_rope_head_dim);
    NEED(c->n_dense_layers >= 0 && c->n_dense_layers <= c->n_layers, "n_dense_layers %d",
         c->n_dense_layers);
    NEED(c->n_dense_layers == 0 || c->inter_dim >= 1, "dense layers need inter_dim");
    if (c->n_dense_layers < c->n_layers) {
        NEED(c->n_routed_experts >= 1 && c->n_activated_experts >= 1 &&
                 c->n_activated_experts <= c->n_routed_experts && c->moe_inter_dim >= 1,
             "MoE layers need n_routed_experts >= n_activated_experts >= 1, moe_inter_dim >= 1");
        NEED(c->n_expert_groups >= 1 && c->n_routed_experts % c->n_expert_groups == 0 &&
                 c->n_limited_groups >= 1 && c->n_limited_groups <= c->n_expert_groups &&
                 c->n_activated_experts <=
                     c->n_limited_groups * (c->n_routed_experts / c->n_expert_groups) &&
                 (c->n_expert_groups == 1 || c->n_routed_experts / c->n_expert_groups >= 2),
             "expert groups inconsistent (%d experts, %d groups, %d kept)", c->n_routed_experts,
             c->n_expert_groups, c->n_limited_groups);
        NEED(c->n_shared_experts >= 0 && c->n_shared_experts <= 8, "n_shared_experts %d",
             c->n_shared_experts);
        NEED(c->route_scale > 0, "route_scale must be > 0");
    }
    NEED(c->rope_theta > 0 && c->rms_eps > 0 && c->rms_eps < 1, "rope_theta / rms_eps");
    NEED(c->max_seq_len >= 2 && c->max_seq_len <= 65536, "max_seq_len %d", c->max_seq_len);
    NEED(c->n_mtp == 0 || c->n_mtp == 1, "n_mtp %d (0 or 1 MTP modules)", c->n_mtp);
#undef NEED
    return R1_OK;
}

/* ---- parameters ------------------------------------------------------------------------------ */

bool tconfig_layer_is_moe(const tconfig *c, int il)
{
    /* the MTP layer is of the kind of the MoE layers, or of the last layer when all are dense */
    if (il >= c->n_layers) return c->n_dense_layers < c->n_layers;
    return il >= c->n_dense_layers;
}

static bool is_moe_layer(const tconfig *c, int il)
{
    return tconfig_layer_is_moe(c, il);
}

typedef struct layout {
    tmodel_tensor *t;
    int n, cap;
    size_t total;
} layout;

static bool add_tensor(layout *l, tensor_kind kind, int n_dims, int64_t ne0, int64_t ne1,
                       int64_t ne2, const char *fmt, int il)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        tmodel_tensor *p = realloc(l->t, (size_t)cap * sizeof *p);
        if (!p) return false;
        l->t = p;
        l->cap = cap;
    }
    tmodel_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, fmt, il);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->n = (size_t)(ne0 * ne1 * ne2);
    t->offset = l->total;
    t->kind = kind;
    l->total += (t->n + 15) & ~(size_t)15; /* 64-byte aligned starts */
    return true;
}

/* The tensors of decoder layer il (the MTP layer too: same names at blk.<n_layers>). */
static bool add_layer(const tconfig *c, layout *l, int il)
{
    int64_t E = c->dim, H = c->n_heads, QK = c->qk_nope_head_dim + c->qk_rope_head_dim;
    int64_t R = c->kv_lora_rank, VH = c->v_head_dim, X = c->n_routed_experts, F = c->moe_inter_dim,
            S = F * c->n_shared_experts;
    bool ok =
        add_tensor(l, TK_NORM, 1, E, 1, 1, "blk.%d.attn_norm.weight", il) &&
        add_tensor(l, TK_NORM, 1, E, 1, 1, "blk.%d.ffn_norm.weight", il) &&
        add_tensor(l, TK_MATRIX, 2, E, c->q_lora_rank, 1, "blk.%d.attn_q_a.weight", il) &&
        add_tensor(l, TK_NORM, 1, c->q_lora_rank, 1, 1, "blk.%d.attn_q_a_norm.weight", il) &&
        add_tensor(l, TK_MATRIX, 2, c->q_lora_rank, H * QK, 1, "blk.%d.attn_q_b.weight", il) &&
        add_tensor(l, TK_MATRIX, 2, E, R + c->qk_rope_head_dim, 1, "blk.%d.attn_kv_a_mqa.weight",
                   il) &&
        add_tensor(l, TK_NORM, 1, R, 1, 1, "blk.%d.attn_kv_a_norm.weight", il) &&
        add_tensor(l, TK_MATRIX, 3, c->qk_nope_head_dim, R, H, "blk.%d.attn_k_b.weight", il) &&
        add_tensor(l, TK_MATRIX, 3, R, VH, H, "blk.%d.attn_v_b.weight", il) &&
        add_tensor(l, TK_OUT, 2, H * VH, E, 1, "blk.%d.attn_output.weight", il);
    if (!ok) return false;
    if (!is_moe_layer(c, il))
        return add_tensor(l, TK_MATRIX, 2, E, c->inter_dim, 1, "blk.%d.ffn_gate.weight", il) &&
               add_tensor(l, TK_MATRIX, 2, E, c->inter_dim, 1, "blk.%d.ffn_up.weight", il) &&
               add_tensor(l, TK_OUT, 2, c->inter_dim, E, 1, "blk.%d.ffn_down.weight", il);
    ok = add_tensor(l, TK_MATRIX, 2, E, X, 1, "blk.%d.ffn_gate_inp.weight", il) &&
         add_tensor(l, TK_MATRIX, 3, E, F, X, "blk.%d.ffn_gate_exps.weight", il) &&
         add_tensor(l, TK_MATRIX, 3, E, F, X, "blk.%d.ffn_up_exps.weight", il) &&
         add_tensor(l, TK_OUT, 3, F, E, X, "blk.%d.ffn_down_exps.weight", il);
    if (ok && S > 0)
        ok = add_tensor(l, TK_MATRIX, 2, E, S, 1, "blk.%d.ffn_gate_shexp.weight", il) &&
             add_tensor(l, TK_MATRIX, 2, E, S, 1, "blk.%d.ffn_up_shexp.weight", il) &&
             add_tensor(l, TK_OUT, 2, S, E, 1, "blk.%d.ffn_down_shexp.weight", il);
    return ok;
}

/* Main tensors first, the MTP module's after them (so a model's initialization does not depend on
 * whether it has one). */
static bool build_layout(const tconfig *c, layout *l)
{
    int64_t E = c->dim;
    bool ok = add_tensor(l, TK_EMBED, 2, E, c->n_vocab, 1, "token_embd.weight", 0) &&
              add_tensor(l, TK_NORM, 1, E, 1, 1, "output_norm.weight", 0);
    if (!c->tie_embeddings)
        ok = ok && add_tensor(l, TK_MATRIX, 2, E, c->n_vocab, 1, "output.weight", 0);
    for (int il = 0; il < c->n_layers + c->n_mtp && ok; il++) ok = add_layer(c, l, il);
    if (ok && c->n_mtp) {
        int il = c->n_layers;
        ok = add_tensor(l, TK_NORM, 1, E, 1, 1, "blk.%d.nextn.enorm.weight", il) &&
             add_tensor(l, TK_NORM, 1, E, 1, 1, "blk.%d.nextn.hnorm.weight", il) &&
             add_tensor(l, TK_MATRIX, 2, 2 * E, E, 1, "blk.%d.nextn.eh_proj.weight", il) &&
             add_tensor(l, TK_NORM, 1, E, 1, 1, "blk.%d.nextn.shared_head_norm.weight", il);
    }
    return ok;
}

const tmodel_tensor *tmodel_find(const tmodel *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

static float *view(const tmodel *m, float *base, const char *fmt, int il)
{
    char name[64];
    snprintf(name, sizeof name, fmt, il);
    const tmodel_tensor *t = tmodel_find(m, name);
    return t ? base + t->offset : NULL;
}

static void bind_views(const tmodel *m, float *base, tweights *w)
{
    w->tok_embd = view(m, base, "token_embd.weight", 0);
    w->out_norm = view(m, base, "output_norm.weight", 0);
    w->output = m->cfg.tie_embeddings ? w->tok_embd : view(m, base, "output.weight", 0);
    w->mtp_enorm = view(m, base, "blk.%d.nextn.enorm.weight", m->cfg.n_layers);
    w->mtp_hnorm = view(m, base, "blk.%d.nextn.hnorm.weight", m->cfg.n_layers);
    w->mtp_eh_proj = view(m, base, "blk.%d.nextn.eh_proj.weight", m->cfg.n_layers);
    w->mtp_head_norm = view(m, base, "blk.%d.nextn.shared_head_norm.weight", m->cfg.n_layers);
    for (int il = 0; il < m->cfg.n_layers + m->cfg.n_mtp; il++) {
        tlayer *y = &w->layers[il];
        y->attn_norm = view(m, base, "blk.%d.attn_norm.weight", il);
        y->ffn_norm = view(m, base, "blk.%d.ffn_norm.weight", il);
        y->wq_a = view(m, base, "blk.%d.attn_q_a.weight", il);
        y->q_a_norm = view(m, base, "blk.%d.attn_q_a_norm.weight", il);
        y->wq_b = view(m, base, "blk.%d.attn_q_b.weight", il);
        y->wkv_a = view(m, base, "blk.%d.attn_kv_a_mqa.weight", il);
        y->kv_a_norm = view(m, base, "blk.%d.attn_kv_a_norm.weight", il);
        y->k_b = view(m, base, "blk.%d.attn_k_b.weight", il);
        y->v_b = view(m, base, "blk.%d.attn_v_b.weight", il);
        y->wo = view(m, base, "blk.%d.attn_output.weight", il);
        y->ffn_gate = view(m, base, "blk.%d.ffn_gate.weight", il);
        y->ffn_up = view(m, base, "blk.%d.ffn_up.weight", il);
        y->ffn_down = view(m, base, "blk.%d.ffn_down.weight", il);
        y->gate_inp = view(m, base, "blk.%d.ffn_gate_inp.weight", il);
        y->gate_exps = view(m, base, "blk.%d.ffn_gate_exps.weight", il);
        y->up_exps = view(m, base, "blk.%d.ffn_up_exps.weight", il);
        y->down_exps = view(m, base, "blk.%d.ffn_down_exps.weight", il);
        y->gate_shexp = view(m, base, "blk.%d.ffn_gate_shexp.weight", il);
        y->up_shexp = view(m, base, "blk.%d.ffn_up_shexp.weight", il);
        y->down_shexp = view(m, base, "blk.%d.ffn_down_shexp.weight", il);
    }
}

r1_status tmodel_new(const tconfig *cfg, threadpool *pool, tmodel **out_model, char *err)
{
    r1_status st = tconfig_validate(cfg, err);
    if (st) return st;
    if (!pool) return err_set(err, R1_ERR_INVALID_ARG, "tmodel_new needs a thread pool");
    tmodel *m = calloc(1, sizeof *m);
    layout l = {0};
    if (!m || !build_layout(cfg, &l)) {
        free(l.t);
        free(m);
        return err_set(err, R1_ERR_NOMEM, "out of memory for the model layout");
    }
    m->cfg = *cfg;
    m->pool = pool;
    m->tensors = l.t;
    m->n_tensors = l.n;
    m->n_params = l.total;
    m->params = calloc(l.total, sizeof(float));
    m->grads = calloc(l.total, sizeof(float));
    size_t n_all = (size_t)(cfg->n_layers + cfg->n_mtp);
    m->w.layers = calloc(n_all, sizeof(tlayer));
    m->g.layers = calloc(n_all, sizeof(tlayer));
    m->exp_probs_b = calloc(n_all * (size_t)(cfg->n_routed_experts + 1), sizeof(float));
    if (!m->params || !m->grads || !m->w.layers || !m->g.layers || !m->exp_probs_b) {
        tmodel_free(m);
        return err_set(err, R1_ERR_NOMEM, "out of memory for %zu parameters", l.total);
    }
    bind_views(m, m->params, &m->w);
    bind_views(m, m->grads, &m->g);
    *out_model = m;
    return R1_OK;
}

void tmodel_free(tmodel *m)
{
    if (!m) return;
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->w.layers);
    free(m->g.layers);
    free(m->exp_probs_b);
    free(m);
}

static float normal(rng *r)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite */
    float u1 = 1.0f - rng_uniform(r), u2 = rng_uniform(r);
    return (float)(sqrt(-2.0 * log((double)u1)) * cos(2.0 * M_PI * (double)u2));
}

void tmodel_init_random(tmodel *m, uint64_t seed)
{
    const tconfig *c = &m->cfg;
    memset(m->params, 0, m->n_params * sizeof(float));
    for (int i = 0; i < m->n_tensors; i++) {
        const tmodel_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        rng r;
        rng_seed(&r, seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD1B54A32D192ED03ull + 1);
        float std = 1.0f / sqrtf((float)t->ne[0]); /* ne[0] = fan-in */
        if (t->kind == TK_OUT) std /= sqrtf(2.0f * (float)c->n_layers);
        if (t->kind == TK_EMBED) std = c->tie_embeddings ? 1.0f / sqrtf((float)c->dim) : 1.0f;
        for (size_t j = 0; j < t->n; j++) p[j] = t->kind == TK_NORM ? 1.0f : std * normal(&r);
    }
    memset(m->exp_probs_b, 0,
           (size_t)(c->n_layers + c->n_mtp) * (size_t)(c->n_routed_experts + 1) * sizeof(float));
}

void tmodel_zero_grad(tmodel *m)
{
    memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- state: saved activations and scratch --------------------------------------------------- */

typedef struct lacts {
    float *xin;            /* (N, E) residual entering the layer */
    float *hA, *rA;        /* (N, E) attention input rmsnorm(xin)·attn_norm; (N) its 1/rms */
    float *qa, *rqa, *qan; /* (N, QL) pre-norm, (N), normed */
    float *q;              /* (N, H·QK) [nope | rope] per head, rope part rotated */
    float *kvr, *rkv;      /* (N, R+ROPE) raw kv_a output (kpe unrotated), (N) 1/rms of c */
    float *c, *kpe;        /* (N, R) normalized latent, (N, ROPE) rotated shared key */
    float *qabs;           /* (N, H·R) q_nope absorbed through K_b */
    float *P;              /* attention probabilities, packed lower triangles per (seq, head) */
    float *olat, *o;       /* (N, H·R) attended latent, (N, H·VH) after V_b */
    float *xmid;           /* (N, E) residual after attention */
    float *hF, *rF;        /* (N, E) FFN input, (N) */
    float *g, *u;          /* dense: (N, FD) gate and up pre-activations; shared: (N, S) */
    float *score;          /* MoE: (N, X) sigmoid router scores */
    int *ids;              /* (N, K) chosen experts */
    float *wts;            /* (N, K) final routing weights */
    float *wsum;           /* (N) sum of chosen scores (after the 6.1e-5 floor) */
    unsigned char *sum_floored; /* (N) whether the floor applied */
    int *slot;                  /* (N, K) row of assignment (t, k) in the expert-sorted order */
    int *a_tok;                 /* (N·K) token of each assignment row */
    int *e_start;               /* (X + 1) first assignment row of each expert */
    float *eg, *eu;             /* (N·K, F) expert gate/up pre-activations */
    float *eout;                /* (N·K, E) expert outputs before weighting */
} lacts;

/* The tokens a layer runs over: the batch (main layers), or the MTP rows (the MTP layer: position
 * i = 0 .. T-2 of each sequence, the main rows minus each sequence's last). */
typedef struct tgeom {
    int n_tok, n_seqs;
    const int *seq_start; /* (n_seqs + 1) */
    const size_t *p_off;  /* (n_seqs) offset of each sequence's P block */
    const int *pos;       /* (n_tok) position of each token in its sequence */
} tgeom;

struct tstate {
    tconfig cfg;  /* the config the buffers were sized for */
    int cap_tok;  /* N the buffers hold */
    size_t cap_p; /* floats of P per layer */
    int cap_seqs;
    void *arena; /* everything below lives in it */
    lacts *L;    /* (n_layers + n_mtp) */
    tgeom gm[2]; /* main layers, MTP layer */
    float *wt;   /* (n_params) transposed copies of the matrices */
    size_t n_wt;
    float *rope_cos, *rope_sin; /* (max_seq_len, ROPE/2) */
    int *pos;                   /* (N) position of each token in its sequence */
    size_t *p_off;              /* (n_seqs) offset of each sequence's P block */
    float *xfin, *hfin, *rfin;  /* (N, E), (N, E), (N) */
    int *act_rows;              /* (N) active positions */
    int n_act;
    float *hact;   /* (N, E) gathered final hidden of active rows */
    float *logits; /* (N, V) of active rows */
    float *lse;    /* (N) log-sum-exp per active row */
    int *load;     /* (n_layers + n_mtp, X + 1) */
    /* MTP (valid when has_mtp): its rows r = 0 .. gm[1].n_tok-1 are main rows mtp_row[r] */
    bool has_mtp;
    int *mtp_seq_start;           /* (n_seqs + 1) */
    size_t *mtp_p_off;            /* (n_seqs) */
    int *mtp_pos, *mtp_row;       /* (N) */
    float *mcat;                  /* (N, 2E) [enorm(embed(t_{i+1})) | hnorm(h_i)] */
    float *mre, *mrh;             /* (N) 1/rms of the two */
    float *mxfin, *mhfin, *mrfin; /* (N, E) MTP layer output, after shared_head_norm, (N) 1/rms */
    int *mact_rows;               /* (N) MTP-active rows (MTP row indices) */
    int n_mact, n_mtop1;
    float *mhact;   /* (N, E) */
    float *mlogits; /* (N, V) of MTP-active rows */
    float *mlse;    /* (N) */
    float *dhid;    /* (N, E) the MTP term's gradient w.r.t. the main hidden states */
    /* scratch for the backward */
    float *dx, *dh;       /* (N, E) */
    float *s[6];          /* (N, W) */
    float *tbuf;          /* (N, W) transposes */
    float *ea, *eb;       /* (N·K, E) per-assignment output and input grads */
    float *dc_h, *dkpe_h; /* (N, H·R), (N, H·ROPE) per-head attention grads */
    /* the batch of the last forward */
    int n_tok, n_seqs;
    int *seq_start; /* (n_seqs + 1) copy */
    int32_t *tokens;
    bool has_forward;
};

tstate *tstate_new(void)
{
    return calloc(1, sizeof(tstate));
}

void tstate_free(tstate *st)
{
    if (!st) return;
    free(st->arena);
    free(st->L);
    free(st->wt);
    free(st->rope_cos);
    free(st->rope_sin);
    free(st->seq_start);
    free(st->p_off);
    free(st->mtp_seq_start);
    free(st->mtp_p_off);
    free(st->load);
    free(st);
}

static int64_t imax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Size (or carve, when base is not NULL) the arena for N tokens and np floats of P per layer. */
static size_t carve(tstate *st, char *base, int N, size_t np)
{
    const tconfig *c = &st->cfg;
    int64_t E = c->dim, H = c->n_heads, QK = c->qk_nope_head_dim + c->qk_rope_head_dim,
            R = c->kv_lora_rank, ROPE = c->qk_rope_head_dim, QL = c->q_lora_rank,
            VH = c->v_head_dim, X = c->n_routed_experts, K = c->n_activated_experts,
            F = c->moe_inter_dim, S = F * c->n_shared_experts, FD = c->inter_dim, V = c->n_vocab;
    int64_t Kx = K > 0 ? K : 1;
    size_t off = 0;
#define TAKE(ptr, type, count)                                                                     \
    do {                                                                                           \
        size_t bytes_ = (((size_t)(count) * sizeof(type)) + 63) & ~(size_t)63;                     \
        if (base) ptr = (type *)(void *)(base + off);                                              \
        off += bytes_;                                                                             \
    } while (0)
    for (int il = 0; il < c->n_layers + c->n_mtp; il++) {
        lacts *a = base ? &st->L[il] : NULL;
        lacts dummy;
        if (!a) a = &dummy;
        TAKE(a->xin, float, N *E);
        TAKE(a->hA, float, N *E);
        TAKE(a->rA, float, N);
        TAKE(a->qa, float, N *QL);
        TAKE(a->rqa, float, N);
        TAKE(a->qan, float, N *QL);
        TAKE(a->q, float, N *H *QK);
        TAKE(a->kvr, float, N *(R + ROPE));
        TAKE(a->rkv, float, N);
        TAKE(a->c, float, N *R);
        TAKE(a->kpe, float, N *ROPE);
        TAKE(a->qabs, float, N *H *R);
        TAKE(a->P, float, np);
        TAKE(a->olat, float, N *H *R);
        TAKE(a->o, float, N *H *VH);
        TAKE(a->xmid, float, N *E);
        TAKE(a->hF, float, N *E);
        TAKE(a->rF, float, N);
        if (!is_moe_layer(c, il)) {
            TAKE(a->g, float, N *FD);
            TAKE(a->u, float, N *FD);
            continue;
        }
        TAKE(a->g, float, N *S);
        TAKE(a->u, float, N *S);
        TAKE(a->score, float, N *X);
        TAKE(a->ids, int, N *K);
        TAKE(a->wts, float, N *K);
        TAKE(a->wsum, float, N);
        TAKE(a->sum_floored, unsigned char, N);
        TAKE(a->slot, int, N *K);
        TAKE(a->a_tok, int, N *K);
        TAKE(a->e_start, int, X + 1);
        TAKE(a->eg, float, N *K *F);
        TAKE(a->eu, float, N *K *F);
        TAKE(a->eout, float, N *K *E);
    }
    int64_t W = imax(E, H * QK);
    W = imax(W, H * R);
    W = imax(W, H * VH);
    W = imax(W, R + ROPE);
    W = imax(W, QL);
    W = imax(W, FD);
    W = imax(W, S);
    W = imax(W, X);
    W = imax(W, V);
    W = imax(W, F);
    if (c->n_mtp) W = imax(W, 2 * E); /* eh_proj input grads */
    TAKE(st->pos, int, N);
    TAKE(st->tokens, int32_t, N);
    TAKE(st->xfin, float, N *E);
    TAKE(st->hfin, float, N *E);
    TAKE(st->rfin, float, N);
    TAKE(st->act_rows, int, N);
    TAKE(st->hact, float, N *E);
    TAKE(st->logits, float, N *V);
    TAKE(st->lse, float, N);
    TAKE(st->dx, float, N *E);
    TAKE(st->dh, float, N *E);
    for (int i = 0; i < 6; i++) TAKE(st->s[i], float, N *W);
    TAKE(st->tbuf, float, N *W);
    TAKE(st->ea, float, N *Kx *E);
    TAKE(st->eb, float, N *Kx *E);
    TAKE(st->dc_h, float, N *H *R);
    TAKE(st->dkpe_h, float, N *H *ROPE);
    if (c->n_mtp) {
        TAKE(st->mtp_pos, int, N);
        TAKE(st->mtp_row, int, N);
        TAKE(st->mcat, float, N * 2 * E);
        TAKE(st->mre, float, N);
        TAKE(st->mrh, float, N);
        TAKE(st->mxfin, float, N *E);
        TAKE(st->mhfin, float, N *E);
        TAKE(st->mrfin, float, N);
        TAKE(st->mact_rows, int, N);
        TAKE(st->mhact, float, N *E);
        TAKE(st->mlogits, float, N *V);
        TAKE(st->mlse, float, N);
        TAKE(st->dhid, float, N *E);
    }
#undef TAKE
    return off;
}

static bool cfg_equal(const tconfig *a, const tconfig *b)
{
    return !memcmp(a, b, sizeof *a);
}

static r1_status state_reserve(tstate *st, const tmodel *m, int N, size_t np, int n_seqs, char *err)
{
    bool same = st->L && cfg_equal(&st->cfg, &m->cfg);
    if (!same) {
        free(st->arena);
        free(st->L);
        free(st->wt);
        free(st->rope_cos);
        free(st->rope_sin);
        st->arena = NULL;
        st->cap_tok = 0;
        st->cap_p = 0;
        st->cfg = m->cfg;
        free(st->load);
        size_t n_all = (size_t)(m->cfg.n_layers + m->cfg.n_mtp);
        st->L = calloc(n_all, sizeof(lacts));
        st->load = calloc(n_all * (size_t)(m->cfg.n_routed_experts + 1), sizeof(int));
        st->wt = malloc(m->n_params * sizeof(float));
        st->n_wt = m->n_params;
        int half = m->cfg.qk_rope_head_dim / 2, T = m->cfg.max_seq_len;
        st->rope_cos = malloc((size_t)T * (size_t)half * sizeof(float));
        st->rope_sin = malloc((size_t)T * (size_t)half * sizeof(float));
        if (!st->L || !st->load || !st->wt || !st->rope_cos || !st->rope_sin)
            return err_set(err, R1_ERR_NOMEM, "out of memory for the training state");
        /* the engine's RoPE tables (forward.c rope_tables, no scaling): angles in double */
        for (int p = 0; p < T; p++)
            for (int i = 0; i < half; i++) {
                double theta = p * pow(m->cfg.rope_theta, -2.0 * i / (2 * half));
                st->rope_cos[p * half + i] = (float)cos(theta);
                st->rope_sin[p * half + i] = (float)sin(theta);
            }
    }
    if (N > st->cap_tok || np > st->cap_p) {
        int n_cap = N > st->cap_tok ? N + N / 4 : st->cap_tok;
        size_t p_cap = np > st->cap_p ? np + np / 4 : st->cap_p;
        free(st->arena);
        st->arena = NULL;
        size_t bytes = carve(st, NULL, n_cap, p_cap);
        st->arena = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!st->arena) {
            st->cap_tok = 0;
            st->cap_p = 0;
            return err_set(err, R1_ERR_NOMEM, "out of memory for activations of %d tokens", N);
        }
        carve(st, st->arena, n_cap, p_cap);
        st->cap_tok = n_cap;
        st->cap_p = p_cap;
    }
    if (n_seqs + 1 > st->cap_seqs) {
        free(st->seq_start);
        free(st->p_off);
        free(st->mtp_seq_start);
        free(st->mtp_p_off);
        st->seq_start = malloc((size_t)(n_seqs + 1) * sizeof(int));
        st->p_off = malloc((size_t)(n_seqs + 1) * sizeof(size_t));
        st->mtp_seq_start = malloc((size_t)(n_seqs + 1) * sizeof(int));
        st->mtp_p_off = malloc((size_t)(n_seqs + 1) * sizeof(size_t));
        if (!st->seq_start || !st->p_off || !st->mtp_seq_start || !st->mtp_p_off) {
            st->cap_seqs = 0;
            return err_set(err, R1_ERR_NOMEM, "out of memory");
        }
        st->cap_seqs = n_seqs + 1;
    }
    return R1_OK;
}

/* ---- products -------------------------------------------------------------------------------- */

/* The transposed copy of parameter w (any pointer into m->params). */
static const float *wt_of(const tmodel *m, const tstate *st, const float *w)
{
    return st->wt + (w - m->params);
}

/* Y (n, out; ldy) = X (n, in; ldx) · Wᵀ, W (out, in) given by its transposed copy WT (in, out). */
static void linear(threadpool *p, int n, int in, int out, const float *X, int ldx, const float *WT,
                   float *Y, int ldy)
{
    tm_gemm(p, n, out, in, X, ldx, WT, out, Y, ldy, false);
}

/* dX (n, in; ldx) (+)= dY (n, out; ldy) · W (out, in). */
static void linear_dx(threadpool *p, int n, int in, int out, const float *dY, int ldy,
                      const float *W, float *dX, int ldx, bool accumulate)
{
    tm_gemm(p, n, in, out, dY, ldy, W, in, dX, ldx, accumulate);
}

/* dW (out, in) += dYᵀ · X; tmp holds out·n floats. */
static void linear_dw(threadpool *p, int n, int in, int out, const float *dY, int ldy,
                      const float *X, int ldx, float *dW, float *tmp)
{
    if (n <= 0) return;
    tm_transpose(dY, n, out, ldy, tmp);
    tm_gemm(p, out, in, n, tmp, n, X, ldx, dW, in, true);
}

static void transpose_weights(const tmodel *m, tstate *st)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const tmodel_tensor *t = &m->tensors[i];
        if (t->n_dims < 2) continue;
        int rows = (int)t->ne[1], cols = (int)t->ne[0];
        for (int64_t k = 0; k < t->ne[2]; k++) {
            size_t off = t->offset + (size_t)k * (size_t)rows * (size_t)cols;
            tm_transpose(m->params + off, rows, cols, cols, st->wt + off);
        }
    }
}

/* ---- RoPE ------------------------------------------------------------------------------------ */

/* Rotate pairs (2i, 2i+1) of the ROPE values at v + t·ld + h·stride + offset for each token (at
 * position pos[t]) and head; inverse = the transposed rotation (backward). */
static void rope_apply(const tstate *st, const int *pos, float *v, int64_t ld, int n_tok,
                       int n_heads, int64_t stride, int64_t offset, bool inverse)
{
    int half = st->cfg.qk_rope_head_dim / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *cs = st->rope_cos + (size_t)pos[t] * half;
        const float *sn = st->rope_sin + (size_t)pos[t] * half;
        for (int h = 0; h < n_heads; h++) {
            float *p = v + t * ld + h * stride + offset;
            for (int i = 0; i < half; i++) {
                float x0 = p[2 * i], x1 = p[2 * i + 1];
                if (!inverse) {
                    p[2 * i] = x0 * cs[i] - x1 * sn[i];
                    p[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
                } else {
                    p[2 * i] = x0 * cs[i] + x1 * sn[i];
                    p[2 * i + 1] = -x0 * sn[i] + x1 * cs[i];
                }
            }
        }
    }
}

/* ---- attention core -------------------------------------------------------------------------- */

typedef struct attn_job {
    const tconfig *c;
    const tstate *st;
    const tgeom *g;
    lacts *a;
    float scale;
    /* backward */
    const float *dolat; /* (N, H·R) */
    float *dqabs;       /* (N, H·R) */
    float *dq;          /* (N, H·QK): rope parts written */
} attn_job;

static size_t tri(int64_t T)
{
    return (size_t)(T * (T + 1) / 2);
}

static float dot(const float *a, const float *b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void attn_forward_worker(void *p, int ith, int nth)
{
    const attn_job *j = p;
    const tconfig *c = j->c;
    const tgeom *g = j->g;
    lacts *a = j->a;
    int H = c->n_heads, R = c->kv_lora_rank, NOPE = c->qk_nope_head_dim, ROPE = c->qk_rope_head_dim,
        QK = NOPE + ROPE;
    long b, e;
    threadpool_split((long)g->n_seqs * H, ith, nth, &b, &e);
    for (long item = b; item < e; item++) {
        int s = (int)(item / H), h = (int)(item % H);
        int s0 = g->seq_start[s], T = g->seq_start[s + 1] - s0;
        float *P = a->P + g->p_off[s] + (size_t)h * tri(T);
        for (int t = 0; t < T; t++) {
            float *row = P + tri(t);
            const float *qa = a->qabs + ((int64_t)(s0 + t) * H + h) * R;
            const float *qpe = a->q + ((int64_t)(s0 + t) * H + h) * QK + NOPE;
            float mx = -INFINITY;
            for (int u = 0; u <= t; u++) {
                row[u] = (dot(qa, a->c + (int64_t)(s0 + u) * R, R) +
                          dot(qpe, a->kpe + (int64_t)(s0 + u) * ROPE, ROPE)) *
                         j->scale;
                mx = row[u] > mx ? row[u] : mx;
            }
            double sum = 0; /* kern_softmax */
            for (int u = 0; u <= t; u++) {
                row[u] = expf(row[u] - mx);
                sum += row[u];
            }
            float inv = (float)(1.0 / sum);
            for (int u = 0; u <= t; u++) row[u] *= inv;
            float *o = a->olat + ((int64_t)(s0 + t) * H + h) * R;
            memset(o, 0, (size_t)R * sizeof(float));
            for (int u = 0; u <= t; u++) {
                const float *cu = a->c + (int64_t)(s0 + u) * R;
                float pu = row[u];
                for (int d = 0; d < R; d++) o[d] += pu * cu[d];
            }
        }
    }
}

/* Given dolat, writes dqabs and the rope part of dq, and adds into the per-head dc_h, dkpe_h
 * (zeroed by the caller). */
static void attn_backward_worker(void *p, int ith, int nth)
{
    const attn_job *j = p;
    const tconfig *c = j->c;
    const tstate *st = j->st;
    const tgeom *g = j->g;
    const lacts *a = j->a;
    int H = c->n_heads, R = c->kv_lora_rank, NOPE = c->qk_nope_head_dim, ROPE = c->qk_rope_head_dim,
        QK = NOPE + ROPE;
    float *dp = malloc((size_t)c->max_seq_len * sizeof(float));
    if (!dp) abort(); /* a few KB: nothing sensible to do without them */
    long b, e;
    threadpool_split((long)g->n_seqs * H, ith, nth, &b, &e);
    for (long item = b; item < e; item++) {
        int s = (int)(item / H), h = (int)(item % H);
        int s0 = g->seq_start[s], T = g->seq_start[s + 1] - s0;
        const float *P = a->P + g->p_off[s] + (size_t)h * tri(T);
        for (int t = 0; t < T; t++) {
            const float *row = P + tri(t);
            int64_t th = (int64_t)(s0 + t) * H + h;
            const float *dol = j->dolat + th * R, *qa = a->qabs + th * R,
                        *qpe = a->q + th * QK + NOPE;
            double sum = 0;
            for (int u = 0; u <= t; u++) {
                dp[u] = dot(dol, a->c + (int64_t)(s0 + u) * R, R);
                sum += (double)row[u] * dp[u];
            }
            float *dqa = j->dqabs + th * R, *dqpe = j->dq + th * QK + NOPE;
            memset(dqa, 0, (size_t)R * sizeof(float));
            memset(dqpe, 0, (size_t)ROPE * sizeof(float));
            for (int u = 0; u <= t; u++) {
                float ds = row[u] * (dp[u] - (float)sum) * j->scale;
                const float *cu = a->c + (int64_t)(s0 + u) * R;
                const float *ku = a->kpe + (int64_t)(s0 + u) * ROPE;
                int64_t uh = (int64_t)(s0 + u) * H + h;
                float *dcu = st->dc_h + uh * R, *dku = st->dkpe_h + uh * ROPE;
                for (int d = 0; d < R; d++) {
                    dqa[d] += ds * cu[d];
                    dcu[d] += row[u] * dol[d] + ds * qa[d];
                }
                for (int d = 0; d < ROPE; d++) {
                    dqpe[d] += ds * ku[d];
                    dku[d] += ds * qpe[d];
                }
            }
        }
    }
    free(dp);
}

/* ---- routing (src/model/deepseek2.c route(), sigmoid scores) -------------------------------- */

static void route(const tconfig *c, const float *bias, const float *logits, float *score,
                  float *biased, int *ids, float *w, float *out_sum, unsigned char *out_floored)
{
    int X = c->n_routed_experts, K = c->n_activated_experts;
    for (int e = 0; e < X; e++) score[e] = 1.0f / (1.0f + expf(-logits[e]));
    for (int e = 0; e < X; e++) biased[e] = score[e] + bias[e];
    int G = c->n_expert_groups, per = X / G;
    if (G > 1 && c->n_limited_groups < G) {
        float gscore[256];
        bool kept[256] = {false};
        for (int g = 0; g < G; g++) {
            const float *s = biased + g * per;
            float a = -INFINITY, b2 = -INFINITY;
            for (int i = 0; i < per; i++) {
                if (s[i] > a) {
                    b2 = a;
                    a = s[i];
                } else if (s[i] > b2) {
                    b2 = s[i];
                }
            }
            gscore[g] = a + b2;
        }
        for (int n = 0; n < c->n_limited_groups; n++) {
            int best = -1;
            for (int g = 0; g < G; g++)
                if (!kept[g] && (best < 0 || gscore[g] > gscore[best])) best = g;
            kept[best] = true;
        }
        for (int g = 0; g < G; g++)
            if (!kept[g])
                for (int i = 0; i < per; i++) biased[g * per + i] = -INFINITY;
    }
    float sum = 0;
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < X; e++)
            if (biased[e] != -INFINITY && (best < 0 || biased[e] > biased[best])) best = e;
        if (best < 0) best = 0;
        biased[best] = -INFINITY;
        ids[k] = best;
        w[k] = score[best];
        sum += w[k];
    }
    *out_floored = 0;
    if (c->norm_topk_prob) {
        if (sum < 6.103515625e-5f) {
            sum = 6.103515625e-5f;
            *out_floored = 1;
        }
        for (int k = 0; k < K; k++) w[k] /= sum;
    }
    for (int k = 0; k < K; k++) w[k] *= c->route_scale;
    *out_sum = sum;
}

/* ---- forward --------------------------------------------------------------------------------- */

/* The tokens layer il runs over. */
static const tgeom *geom_of(const tstate *st, int il)
{
    return &st->gm[il >= st->cfg.n_layers];
}

static void layer_forward(tmodel *m, tstate *st, int il, float *xout)
{
    const tconfig *c = &m->cfg;
    const tlayer *w = &m->w.layers[il];
    lacts *a = &st->L[il];
    const tgeom *gm = geom_of(st, il);
    threadpool *pool = m->pool;
    int N = gm->n_tok, E = c->dim, H = c->n_heads, NOPE = c->qk_nope_head_dim,
        ROPE = c->qk_rope_head_dim, QK = NOPE + ROPE, R = c->kv_lora_rank, QL = c->q_lora_rank,
        VH = c->v_head_dim;
    float eps = c->rms_eps;

    /* attention */
    for (int t = 0; t < N; t++)
        a->rA[t] =
            tm_rmsnorm(a->hA + (int64_t)t * E, a->xin + (int64_t)t * E, w->attn_norm, E, eps);
    linear(pool, N, E, QL, a->hA, E, wt_of(m, st, w->wq_a), a->qa, QL);
    for (int t = 0; t < N; t++)
        a->rqa[t] =
            tm_rmsnorm(a->qan + (int64_t)t * QL, a->qa + (int64_t)t * QL, w->q_a_norm, QL, eps);
    linear(pool, N, QL, H * QK, a->qan, QL, wt_of(m, st, w->wq_b), a->q, H * QK);
    rope_apply(st, gm->pos, a->q, H * QK, N, H, QK, NOPE, false);
    linear(pool, N, E, R + ROPE, a->hA, E, wt_of(m, st, w->wkv_a), a->kvr, R + ROPE);
    for (int t = 0; t < N; t++) {
        const float *kv = a->kvr + (int64_t)t * (R + ROPE);
        a->rkv[t] = tm_rmsnorm(a->c + (int64_t)t * R, kv, w->kv_a_norm, R, eps);
        memcpy(a->kpe + (int64_t)t * ROPE, kv + R, (size_t)ROPE * sizeof(float));
    }
    rope_apply(st, gm->pos, a->kpe, ROPE, N, 1, 0, 0, false);
    for (int h = 0; h < H; h++)
        linear(pool, N, NOPE, R, a->q + h * QK, H * QK,
               wt_of(m, st, w->k_b + (int64_t)h * R * NOPE), a->qabs + h * R, H * R);
    attn_job job = {c, st, gm, a, 1.0f / sqrtf((float)QK), NULL, NULL, NULL};
    threadpool_run(pool, attn_forward_worker, &job);
    for (int h = 0; h < H; h++)
        linear(pool, N, R, VH, a->olat + h * R, H * R, wt_of(m, st, w->v_b + (int64_t)h * VH * R),
               a->o + h * VH, H * VH);
    float *tmp = st->s[0];
    linear(pool, N, H * VH, E, a->o, H * VH, wt_of(m, st, w->wo), tmp, E);
    for (int64_t i = 0; i < (int64_t)N * E; i++) a->xmid[i] = a->xin[i] + tmp[i];

    /* feed-forward */
    for (int t = 0; t < N; t++)
        a->rF[t] =
            tm_rmsnorm(a->hF + (int64_t)t * E, a->xmid + (int64_t)t * E, w->ffn_norm, E, eps);
    if (!is_moe_layer(c, il)) {
        int FD = c->inter_dim;
        float *act = st->s[1], *out = st->s[2];
        linear(pool, N, E, FD, a->hF, E, wt_of(m, st, w->ffn_gate), a->g, FD);
        linear(pool, N, E, FD, a->hF, E, wt_of(m, st, w->ffn_up), a->u, FD);
        for (int64_t i = 0; i < (int64_t)N * FD; i++) act[i] = tm_silu(a->g[i]) * a->u[i];
        linear(pool, N, FD, E, act, FD, wt_of(m, st, w->ffn_down), out, E);
        for (int64_t i = 0; i < (int64_t)N * E; i++) xout[i] = a->xmid[i] + out[i];
        return;
    }
    int X = c->n_routed_experts, K = c->n_activated_experts, F = c->moe_inter_dim,
        S = F * c->n_shared_experts;
    float *logit = st->s[0], *biased = st->s[1];
    const float *bias = m->exp_probs_b + (size_t)il * (size_t)(X + 1);
    linear(pool, N, E, X, a->hF, E, wt_of(m, st, w->gate_inp), logit, X);
    int *load = st->load + (size_t)il * (size_t)(X + 1);
    memset(load, 0, (size_t)(X + 1) * sizeof(int));
    for (int t = 0; t < N; t++) {
        route(c, bias, logit + (int64_t)t * X, a->score + (int64_t)t * X, biased,
              a->ids + (int64_t)t * K, a->wts + (int64_t)t * K, &a->wsum[t], &a->sum_floored[t]);
        for (int k = 0; k < K; k++) load[a->ids[(int64_t)t * K + k]]++;
    }
    /* assignments sorted by expert, then token (the engine's gather order) */
    a->e_start[0] = 0;
    for (int e = 0; e < X; e++) a->e_start[e + 1] = a->e_start[e] + load[e];
    {
        int row = 0;
        for (int e = 0; e < X; e++)
            for (int t = 0; t < N; t++)
                for (int k = 0; k < K; k++)
                    if (a->ids[(int64_t)t * K + k] == e) {
                        a->slot[(int64_t)t * K + k] = row;
                        a->a_tok[row] = t * K + k;
                        row++;
                    }
    }
    float *acc = st->s[2], *xe = st->s[3], *act = st->s[4], *d = st->s[5];
    memset(acc, 0, (size_t)N * (size_t)E * sizeof(float));
    for (int e = 0; e < X; e++) {
        int r0 = a->e_start[e], n = a->e_start[e + 1] - r0;
        if (!n) continue;
        for (int i = 0; i < n; i++)
            memcpy(xe + (int64_t)i * E, a->hF + (int64_t)(a->a_tok[r0 + i] / K) * E,
                   (size_t)E * sizeof(float));
        float *eg = a->eg + (int64_t)r0 * F, *eu = a->eu + (int64_t)r0 * F;
        float *eo = a->eout + (int64_t)r0 * E;
        linear(pool, n, E, F, xe, E, wt_of(m, st, w->gate_exps + (int64_t)e * F * E), eg, F);
        linear(pool, n, E, F, xe, E, wt_of(m, st, w->up_exps + (int64_t)e * F * E), eu, F);
        for (int64_t i = 0; i < (int64_t)n * F; i++) act[i] = tm_silu(eg[i]) * eu[i];
        linear(pool, n, F, E, act, F, wt_of(m, st, w->down_exps + (int64_t)e * E * F), eo, E);
        for (int i = 0; i < n; i++) {
            int ai = a->a_tok[r0 + i];
            float wk = a->wts[ai], *dst = acc + (int64_t)(ai / K) * E;
            for (int j = 0; j < E; j++) dst[j] += wk * eo[(int64_t)i * E + j];
        }
    }
    if (S > 0) {
        linear(pool, N, E, S, a->hF, E, wt_of(m, st, w->gate_shexp), a->g, S);
        linear(pool, N, E, S, a->hF, E, wt_of(m, st, w->up_shexp), a->u, S);
        for (int64_t i = 0; i < (int64_t)N * S; i++) act[i] = tm_silu(a->g[i]) * a->u[i];
        linear(pool, N, S, E, act, S, wt_of(m, st, w->down_shexp), d, E);
        for (int64_t i = 0; i < (int64_t)N * E; i++) acc[i] += d[i];
    }
    for (int64_t i = 0; i < (int64_t)N * E; i++) xout[i] = a->xmid[i] + acc[i];
}

int tbatch_mtp_mask(const tbatch *b, uint8_t *out_mask)
{
    int n = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int s0 = b->seq_start[s], T = b->seq_start[s + 1] - s0;
        for (int i = 0; i < T; i++) {
            /* position i+1 active: it is not the last, and the mask (if any) says so */
            bool on = i + 2 < T && (!b->active || b->active[s0 + i + 1]);
            out_mask[s0 + i] = on;
            n += on;
        }
    }
    return n;
}

/* log Σ exp(l_j) of one row of logits (max-shifted, the sum in double). */
static float row_lse(const float *l, int V)
{
    float mx = -INFINITY;
    for (int j = 0; j < V; j++) mx = l[j] > mx ? l[j] : mx;
    double sum = 0;
    for (int j = 0; j < V; j++) sum += exp((double)l[j] - mx);
    return (float)(mx + log(sum));
}

/* The MTP module over the batch of the last main forward (tmodel.h): rows r are the positions
 * i < T-1 of each sequence; needs st->hfin. */
static void mtp_forward(tmodel *m, tstate *st, const tbatch *b, float *out_mtp_logp)
{
    const tconfig *c = &m->cfg;
    const tweights *w = &m->w;
    int il = c->n_layers, E = c->dim, V = c->n_vocab;
    float eps = c->rms_eps;
    int n = 0, n_act = 0;
    size_t off = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int s0 = b->seq_start[s], T = b->seq_start[s + 1] - s0;
        st->mtp_seq_start[s] = n;
        st->mtp_p_off[s] = off;
        off += (size_t)c->n_heads * tri(T - 1);
        for (int i = 0; i + 1 < T; i++) {
            st->mtp_pos[n] = i;
            st->mtp_row[n] = s0 + i;
            if (i + 2 < T && (!b->active || b->active[s0 + i + 1])) st->mact_rows[n_act++] = n;
            n++;
        }
    }
    st->mtp_seq_start[b->n_seqs] = n;
    st->gm[1] = (tgeom){n, b->n_seqs, st->mtp_seq_start, st->mtp_p_off, st->mtp_pos};
    st->n_mact = n_act;
    st->n_mtop1 = 0;
    st->has_mtp = true;
    if (n == 0) return;
    for (int r = 0; r < n; r++) {
        int t = st->mtp_row[r];
        float *cat = st->mcat + (int64_t)r * 2 * E;
        st->mre[r] =
            tm_rmsnorm(cat, w->tok_embd + (int64_t)b->tokens[t + 1] * E, w->mtp_enorm, E, eps);
        st->mrh[r] = tm_rmsnorm(cat + E, st->hfin + (int64_t)t * E, w->mtp_hnorm, E, eps);
    }
    linear(m->pool, n, 2 * E, E, st->mcat, 2 * E, wt_of(m, st, w->mtp_eh_proj), st->L[il].xin, E);
    layer_forward(m, st, il, st->mxfin);
    for (int r = 0; r < n; r++)
        st->mrfin[r] = tm_rmsnorm(st->mhfin + (int64_t)r * E, st->mxfin + (int64_t)r * E,
                                  w->mtp_head_norm, E, eps);
    for (int i = 0; i < n_act; i++)
        memcpy(st->mhact + (int64_t)i * E, st->mhfin + (int64_t)st->mact_rows[i] * E,
               (size_t)E * sizeof(float));
    linear(m->pool, n_act, E, V, st->mhact, E, wt_of(m, st, w->output), st->mlogits, V);
    for (int i = 0; i < n_act; i++) {
        const float *l = st->mlogits + (int64_t)i * V;
        int t = st->mtp_row[st->mact_rows[i]], y = b->tokens[t + 2], best = 0;
        st->mlse[i] = row_lse(l, V);
        out_mtp_logp[t] = l[y] - st->mlse[i];
        for (int j = 1; j < V; j++) best = l[j] > l[best] ? j : best;
        st->n_mtop1 += best == y;
    }
}

r1_status tmodel_forward(tmodel *m, tstate *st, const tbatch *b, float *out_logp,
                         float *out_mtp_logp, char *err)
{
    const tconfig *c = &m->cfg;
    if (b->n_seqs < 1 || !b->seq_start || b->seq_start[0] != 0)
        return err_set(err, R1_ERR_INVALID_ARG, "empty batch");
    size_t np = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int T = b->seq_start[s + 1] - b->seq_start[s];
        if (T < 1 || T > c->max_seq_len)
            return err_set(err, R1_ERR_INVALID_ARG, "sequence %d has %d tokens (1..%d allowed)", s,
                           T, c->max_seq_len);
        np += (size_t)c->n_heads * tri(T);
    }
    int N = b->seq_start[b->n_seqs];
    for (int t = 0; t < N; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= c->n_vocab)
            return err_set(err, R1_ERR_INVALID_ARG, "token %d at %d is out of the vocabulary",
                           b->tokens[t], t);
    r1_status rs = state_reserve(st, m, N, np, b->n_seqs, err);
    if (rs) return rs;
    st->has_forward = false;
    st->has_mtp = false;
    st->n_tok = N;
    st->n_seqs = b->n_seqs;
    memcpy(st->seq_start, b->seq_start, (size_t)(b->n_seqs + 1) * sizeof(int));
    memcpy(st->tokens, b->tokens, (size_t)N * sizeof(int32_t));
    size_t off = 0;
    st->n_act = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int s0 = b->seq_start[s], T = b->seq_start[s + 1] - s0;
        st->p_off[s] = off;
        off += (size_t)c->n_heads * tri(T);
        for (int t = 0; t < T; t++) {
            st->pos[s0 + t] = t;
            bool on = t < T - 1 && (!b->active || b->active[s0 + t]);
            if (on) st->act_rows[st->n_act++] = s0 + t;
        }
    }
    st->gm[0] = (tgeom){N, b->n_seqs, st->seq_start, st->p_off, st->pos};
    if (c->n_mtp) /* the MTP layer's loads stay 0 unless it runs */
        memset(st->load + (size_t)c->n_layers * (size_t)(c->n_routed_experts + 1), 0,
               (size_t)(c->n_routed_experts + 1) * sizeof(int));
    transpose_weights(m, st);

    int E = c->dim, V = c->n_vocab;
    for (int t = 0; t < N; t++)
        memcpy(st->L[0].xin + (int64_t)t * E, m->w.tok_embd + (int64_t)b->tokens[t] * E,
               (size_t)E * sizeof(float));
    for (int il = 0; il < c->n_layers; il++)
        layer_forward(m, st, il, il + 1 < c->n_layers ? st->L[il + 1].xin : st->xfin);
    for (int t = 0; t < N; t++)
        st->rfin[t] = tm_rmsnorm(st->hfin + (int64_t)t * E, st->xfin + (int64_t)t * E,
                                 m->w.out_norm, E, c->rms_eps);
    int n_act = st->n_act;
    for (int i = 0; i < n_act; i++)
        memcpy(st->hact + (int64_t)i * E, st->hfin + (int64_t)st->act_rows[i] * E,
               (size_t)E * sizeof(float));
    linear(m->pool, n_act, E, V, st->hact, E, wt_of(m, st, m->w.output), st->logits, V);
    if (out_logp) memset(out_logp, 0, (size_t)N * sizeof(float));
    for (int i = 0; i < n_act; i++) {
        const float *l = st->logits + (int64_t)i * V;
        st->lse[i] = row_lse(l, V);
        int t = st->act_rows[i];
        if (out_logp) out_logp[t] = l[b->tokens[t + 1]] - st->lse[i];
    }
    if (out_mtp_logp) {
        memset(out_mtp_logp, 0, (size_t)N * sizeof(float));
        if (c->n_mtp) mtp_forward(m, st, b, out_mtp_logp);
    }
    st->has_forward = true;
    return R1_OK;
}

const float *tstate_logits(const tstate *st, int *out_n)
{
    *out_n = st->has_forward ? st->n_act : 0;
    return st->logits;
}

const float *tstate_mtp_logits(const tstate *st, int *out_n)
{
    *out_n = st->has_forward && st->has_mtp ? st->n_mact : 0;
    return st->mlogits;
}

int tstate_mtp_top1(const tstate *st)
{
    return st->has_forward && st->has_mtp ? st->n_mtop1 : 0;
}

const int *tstate_expert_load(const tstate *st)
{
    return st->load;
}

/* Layers the last forward ran: the main ones, and the MTP layer when it ran. */
static int layers_run(const tstate *st)
{
    return st->cfg.n_layers + (st->has_mtp ? st->cfg.n_mtp : 0);
}

uint64_t tstate_routing_hash(const tstate *st)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the chosen expert ids */
    const tconfig *c = &st->cfg;
    for (int il = 0; il < layers_run(st) && st->has_forward; il++) {
        if (!is_moe_layer(c, il)) continue;
        for (int64_t i = 0; i < (int64_t)geom_of(st, il)->n_tok * c->n_activated_experts; i++) {
            h ^= (uint64_t)st->L[il].ids[i];
            h *= 1099511628211ull;
        }
    }
    return h;
}

/* ---- backward -------------------------------------------------------------------------------- */

/* dx (+)= rmsnorm backward of rows; dw += gain grads (token order). */
static void rmsnorm_rows_backward(float *dx, float *dw, const float *dy, const float *x,
                                  const float *w, const float *r, int N, int n, int ld_x,
                                  bool accumulate)
{
    for (int t = 0; t < N; t++)
        tm_rmsnorm_backward(dx + (int64_t)t * n, dw, dy + (int64_t)t * n, x + (int64_t)t * ld_x, w,
                            r[t], n, accumulate);
}

/* Gradient of the FFN (dense or MoE) of layer il: dy = dL/d(ffn output) (N, E) -> dhF (N, E). */
static void ffn_backward(tmodel *m, tstate *st, int il, const float *dy, float *dhF)
{
    const tconfig *c = &m->cfg;
    const tlayer *w = &m->w.layers[il];
    tlayer *g = &m->g.layers[il];
    lacts *a = &st->L[il];
    threadpool *pool = m->pool;
    int N = geom_of(st, il)->n_tok, E = c->dim;
    float *tb = st->tbuf;
    if (!is_moe_layer(c, il)) {
        int FD = c->inter_dim;
        float *act = st->s[0], *dact = st->s[1], *du = st->s[2];
        for (int64_t i = 0; i < (int64_t)N * FD; i++) act[i] = tm_silu(a->g[i]) * a->u[i];
        linear_dw(pool, N, FD, E, dy, E, act, FD, g->ffn_down, tb);
        linear_dx(pool, N, FD, E, dy, E, w->ffn_down, dact, FD, false);
        for (int64_t i = 0; i < (int64_t)N * FD; i++) {
            float gs = a->g[i];
            du[i] = dact[i] * tm_silu(gs);
            dact[i] = dact[i] * a->u[i] * tm_silu_grad(gs); /* now d gate */
        }
        linear_dx(pool, N, E, FD, dact, FD, w->ffn_gate, dhF, E, false);
        linear_dx(pool, N, E, FD, du, FD, w->ffn_up, dhF, E, true);
        linear_dw(pool, N, E, FD, dact, FD, a->hF, E, g->ffn_gate, tb);
        linear_dw(pool, N, E, FD, du, FD, a->hF, E, g->ffn_up, tb);
        return;
    }
    int X = c->n_routed_experts, K = c->n_activated_experts, F = c->moe_inter_dim,
        S = F * c->n_shared_experts;
    int NK = N * K;
    float *deout = st->ea, *dxe_all = st->eb;
    float *dwk = st->s[5]; /* (N, K) dL/d(routing weight) */
    for (int r = 0; r < NK; r++) {
        int ai = a->a_tok[r], t = ai / K;
        const float *dyt = dy + (int64_t)t * E, *eo = a->eout + (int64_t)r * E;
        dwk[ai] = dot(dyt, eo, E);
        float wk = a->wts[ai];
        for (int j = 0; j < E; j++) deout[(int64_t)r * E + j] = wk * dyt[j];
    }
    float *xe = st->s[0], *act = st->s[1], *dact = st->s[2], *du = st->s[3];
    for (int e = 0; e < X; e++) {
        int r0 = a->e_start[e], n = a->e_start[e + 1] - r0;
        if (!n) continue;
        for (int i = 0; i < n; i++)
            memcpy(xe + (int64_t)i * E, a->hF + (int64_t)(a->a_tok[r0 + i] / K) * E,
                   (size_t)E * sizeof(float));
        const float *eg = a->eg + (int64_t)r0 * F, *eu = a->eu + (int64_t)r0 * F;
        const float *de = deout + (int64_t)r0 * E;
        int64_t fe = (int64_t)e * F * E;
        for (int64_t i = 0; i < (int64_t)n * F; i++) act[i] = tm_silu(eg[i]) * eu[i];
        linear_dw(pool, n, F, E, de, E, act, F, g->down_exps + fe, tb);
        linear_dx(pool, n, F, E, de, E, w->down_exps + fe, dact, F, false);
        for (int64_t i = 0; i < (int64_t)n * F; i++) {
            du[i] = dact[i] * tm_silu(eg[i]);
            dact[i] = dact[i] * eu[i] * tm_silu_grad(eg[i]);
        }
        float *dxe = dxe_all + (int64_t)r0 * E;
        linear_dx(pool, n, E, F, dact, F, w->gate_exps + fe, dxe, E, false);
        linear_dx(pool, n, E, F, du, F, w->up_exps + fe, dxe, E, true);
        linear_dw(pool, n, E, F, dact, F, xe, E, g->gate_exps + fe, tb);
        linear_dw(pool, n, E, F, du, F, xe, E, g->up_exps + fe, tb);
    }
    /* router: w_k = scale · s_k / Σ_j s_j (normalized) or scale · s_k; s = sigmoid(logit) */
    float *dlogit = st->s[4];
    memset(dlogit, 0, (size_t)N * (size_t)X * sizeof(float));
    for (int t = 0; t < N; t++) {
        const int *ids = a->ids + (int64_t)t * K;
        const float *dw_t = dwk + (int64_t)t * K, *sc = a->score + (int64_t)t * X;
        float rs = c->route_scale, sum = a->wsum[t], cross = 0;
        if (c->norm_topk_prob && !a->sum_floored[t])
            for (int k = 0; k < K; k++) cross += dw_t[k] * sc[ids[k]];
        for (int k = 0; k < K; k++) {
            float s = sc[ids[k]], ds;
            if (c->norm_topk_prob)
                ds = rs * (dw_t[k] / sum - cross / (sum * sum));
            else
                ds = rs * dw_t[k];
            dlogit[(int64_t)t * X + ids[k]] = ds * s * (1.0f - s);
        }
    }
    linear_dx(pool, N, E, X, dlogit, X, w->gate_inp, dhF, E, false);
    linear_dw(pool, N, E, X, dlogit, X, a->hF, E, g->gate_inp, tb);
    if (S > 0) {
        float *sact = st->s[0], *sdact = st->s[1], *sdu = st->s[2];
        for (int64_t i = 0; i < (int64_t)N * S; i++) sact[i] = tm_silu(a->g[i]) * a->u[i];
        linear_dw(pool, N, S, E, dy, E, sact, S, g->down_shexp, tb);
        linear_dx(pool, N, S, E, dy, E, w->down_shexp, sdact, S, false);
        for (int64_t i = 0; i < (int64_t)N * S; i++) {
            sdu[i] = sdact[i] * tm_silu(a->g[i]);
            sdact[i] = sdact[i] * a->u[i] * tm_silu_grad(a->g[i]);
        }
        linear_dx(pool, N, E, S, sdact, S, w->gate_shexp, dhF, E, true);
        linear_dx(pool, N, E, S, sdu, S, w->up_shexp, dhF, E, true);
        linear_dw(pool, N, E, S, sdact, S, a->hF, E, g->gate_shexp, tb);
        linear_dw(pool, N, E, S, sdu, S, a->hF, E, g->up_shexp, tb);
    }
    for (int t = 0; t < N; t++)
        for (int k = 0; k < K; k++) {
            const float *src = dxe_all + (int64_t)a->slot[(int64_t)t * K + k] * E;
            float *dst = dhF + (int64_t)t * E;
            for (int j = 0; j < E; j++) dst[j] += src[j];
        }
}

/* Gradient of the attention of layer il: dy = dL/d(attention output) (N, E) -> dhA (N, E). */
static void attn_backward(tmodel *m, tstate *st, int il, const float *dy, float *dhA)
{
    const tconfig *c = &m->cfg;
    const tlayer *w = &m->w.layers[il];
    tlayer *g = &m->g.layers[il];
    lacts *a = &st->L[il];
    const tgeom *gm = geom_of(st, il);
    threadpool *pool = m->pool;
    int N = gm->n_tok, E = c->dim, H = c->n_heads, NOPE = c->qk_nope_head_dim,
        ROPE = c->qk_rope_head_dim, QK = NOPE + ROPE, R = c->kv_lora_rank, QL = c->q_lora_rank,
        VH = c->v_head_dim;
    float *tb = st->tbuf;
    float *dO = st->s[0], *dolat = st->s[1], *dqabs = st->s[2], *dq = st->s[3], *dkvr = st->s[4],
          *dqa = st->s[5];
    linear_dw(pool, N, H * VH, E, dy, E, a->o, H * VH, g->wo, tb);
    linear_dx(pool, N, H * VH, E, dy, E, w->wo, dO, H * VH, false);
    for (int h = 0; h < H; h++) {
        int64_t vb = (int64_t)h * VH * R;
        linear_dw(pool, N, R, VH, dO + h * VH, H * VH, a->olat + h * R, H * R, g->v_b + vb, tb);
        linear_dx(pool, N, R, VH, dO + h * VH, H * VH, w->v_b + vb, dolat + h * R, H * R, false);
    }
    memset(st->dc_h, 0, (size_t)N * (size_t)H * (size_t)R * sizeof(float));
    memset(st->dkpe_h, 0, (size_t)N * (size_t)H * (size_t)ROPE * sizeof(float));
    attn_job job = {c, st, gm, a, 1.0f / sqrtf((float)QK), dolat, dqabs, dq};
    threadpool_run(pool, attn_backward_worker, &job);
    for (int h = 0; h < H; h++) {
        int64_t kb = (int64_t)h * R * NOPE;
        linear_dw(pool, N, NOPE, R, dqabs + h * R, H * R, a->q + h * QK, H * QK, g->k_b + kb, tb);
        linear_dx(pool, N, NOPE, R, dqabs + h * R, H * R, w->k_b + kb, dq + h * QK, H * QK, false);
    }
    /* sum the per-head latent/key grads in head order */
    for (int t = 0; t < N; t++) {
        float *dk = dkvr + (int64_t)t * (R + ROPE);
        memset(dk, 0, (size_t)(R + ROPE) * sizeof(float));
        for (int h = 0; h < H; h++) {
            const float *sc = st->dc_h + ((int64_t)t * H + h) * R;
            const float *sk = st->dkpe_h + ((int64_t)t * H + h) * ROPE;
            for (int d = 0; d < R; d++) dk[d] += sc[d];
            for (int d = 0; d < ROPE; d++) dk[R + d] += sk[d];
        }
    }
    rope_apply(st, gm->pos, dkvr, R + ROPE, N, 1, 0, R, true);
    rope_apply(st, gm->pos, dq, H * QK, N, H, QK, NOPE, true);
    /* c = rmsnorm(kvr[:R]) · kv_a_norm, in place over dkvr[:R] (dx computed from a copy) */
    for (int t = 0; t < N; t++) {
        float *dk = dkvr + (int64_t)t * (R + ROPE), tmp[1024];
        float *dc = R <= 1024 ? tmp : NULL;
        if (!dc) abort(); /* kv_lora_rank is validated small enough for the trainer's sizes */
        memcpy(dc, dk, (size_t)R * sizeof(float));
        tm_rmsnorm_backward(dk, g->kv_a_norm, dc, a->kvr + (int64_t)t * (R + ROPE), w->kv_a_norm,
                            a->rkv[t], R, false);
    }
    linear_dw(pool, N, E, R + ROPE, dkvr, R + ROPE, a->hA, E, g->wkv_a, tb);
    linear_dx(pool, N, E, R + ROPE, dkvr, R + ROPE, w->wkv_a, dhA, E, false);
    /* q path */
    float *dqan = dkvr; /* reuse: dkvr no longer needed */
    linear_dw(pool, N, QL, H * QK, dq, H * QK, a->qan, QL, g->wq_b, tb);
    linear_dx(pool, N, QL, H * QK, dq, H * QK, w->wq_b, dqan, QL, false);
    rmsnorm_rows_backward(dqa, g->q_a_norm, dqan, a->qa, w->q_a_norm, a->rqa, N, QL, QL, false);
    linear_dw(pool, N, E, QL, dqa, QL, a->hA, E, g->wq_a, tb);
    linear_dx(pool, N, E, QL, dqa, QL, w->wq_a, dhA, E, true);
}

/* dlog (n, V) = dLoss/dlogits of rows whose logp = logits[y] - lse were weighted by d. */
static void head_dlogits(float *dl, const float *l, float lse, int y, float d, int V)
{
    for (int j = 0; j < V; j++) dl[j] = -d * expf(l[j] - lse);
    dl[y] += d;
}

/* Backward of the MTP module from dmtp_logp: its own gradients, and unless detach the shared head's
 * and embedding's, and st->dhid = dLoss/d(main hidden states) (N, E). */
static void mtp_backward(tmodel *m, tstate *st, const float *dmtp_logp, bool detach)
{
    const tconfig *c = &m->cfg;
    const tweights *w = &m->w;
    tweights *gw = &m->g;
    threadpool *pool = m->pool;
    int il = c->n_layers, n = st->gm[1].n_tok, E = c->dim, V = c->n_vocab, n_act = st->n_mact;
    float *dlog = st->s[0], *dhact = st->s[1], *dh = st->dh, *dx = st->dx;
    for (int i = 0; i < n_act; i++) {
        int t = st->mtp_row[st->mact_rows[i]];
        head_dlogits(dlog + (int64_t)i * V, st->mlogits + (int64_t)i * V, st->mlse[i],
                     st->tokens[t + 2], dmtp_logp[t], V);
    }
    if (!detach) linear_dw(pool, n_act, E, V, dlog, V, st->mhact, E, gw->output, st->tbuf);
    linear_dx(pool, n_act, E, V, dlog, V, w->output, dhact, E, false);
    memset(dh, 0, (size_t)n * (size_t)E * sizeof(float));
    for (int i = 0; i < n_act; i++)
        memcpy(dh + (int64_t)st->mact_rows[i] * E, dhact + (int64_t)i * E,
               (size_t)E * sizeof(float));
    rmsnorm_rows_backward(dx, gw->mtp_head_norm, dh, st->mxfin, w->mtp_head_norm, st->mrfin, n, E,
                          E, false);
    const tlayer *wl = &w->layers[il];
    tlayer *gl = &gw->layers[il];
    lacts *a = &st->L[il];
    ffn_backward(m, st, il, dx, dh);
    rmsnorm_rows_backward(dx, gl->ffn_norm, dh, a->xmid, wl->ffn_norm, a->rF, n, E, E, true);
    attn_backward(m, st, il, dx, dh);
    rmsnorm_rows_backward(dx, gl->attn_norm, dh, a->xin, wl->attn_norm, a->rA, n, E, E, true);
    /* x = eh_proj · cat: dx is dLoss/dx (n, E) */
    float *dcat = st->s[2];
    linear_dw(pool, n, 2 * E, E, dx, E, st->mcat, 2 * E, gw->mtp_eh_proj, st->tbuf);
    linear_dx(pool, n, 2 * E, E, dx, E, w->mtp_eh_proj, dcat, 2 * E, false);
    memset(st->dhid, 0, (size_t)st->n_tok * (size_t)E * sizeof(float));
    for (int r = 0; r < n; r++) {
        int t = st->mtp_row[r];
        const float *emb = w->tok_embd + (int64_t)st->tokens[t + 1] * E;
        float *de = dh + (int64_t)r * E; /* dh is free again */
        tm_rmsnorm_backward(de, gw->mtp_enorm, dcat + (int64_t)r * 2 * E, emb, w->mtp_enorm,
                            st->mre[r], E, false);
        tm_rmsnorm_backward(st->dhid + (int64_t)t * E, gw->mtp_hnorm, dcat + (int64_t)r * 2 * E + E,
                            st->hfin + (int64_t)t * E, w->mtp_hnorm, st->mrh[r], E, false);
    }
    if (detach) return;
    for (int r = 0; r < n; r++) { /* the shared embedding, in row order */
        float *ge = gw->tok_embd + (int64_t)st->tokens[st->mtp_row[r] + 1] * E;
        const float *d = dh + (int64_t)r * E;
        for (int j = 0; j < E; j++) ge[j] += d[j];
    }
}

void tmodel_backward(tmodel *m, tstate *st, const float *dlogp, const float *dmtp_logp,
                     bool mtp_detach)
{
    if (!st->has_forward) return;
    const tconfig *c = &m->cfg;
    threadpool *pool = m->pool;
    int N = st->n_tok, E = c->dim, V = c->n_vocab, n_act = st->n_act;
    /* the MTP term first: its gradient w.r.t. the main hidden states joins the head's below */
    bool mtp = dmtp_logp && st->has_mtp && st->gm[1].n_tok > 0;
    if (mtp) mtp_backward(m, st, dmtp_logp, mtp_detach);
    float *dlog = st->s[0], *dhact = st->s[1];
    /* head: logp = logit[y] - lse  =>  dlogit_j = dlogp · (δ_jy - softmax_j) */
    for (int i = 0; i < n_act; i++) {
        int t = st->act_rows[i];
        head_dlogits(dlog + (int64_t)i * V, st->logits + (int64_t)i * V, st->lse[i],
                     st->tokens[t + 1], dlogp[t], V);
    }
    linear_dw(pool, n_act, E, V, dlog, V, st->hact, E, m->g.output, st->tbuf);
    linear_dx(pool, n_act, E, V, dlog, V, m->w.output, dhact, E, false);
    float *dh = st->dh, *dx = st->dx;
    if (mtp && !mtp_detach)
        memcpy(dh, st->dhid, (size_t)N * (size_t)E * sizeof(float));
    else
        memset(dh, 0, (size_t)N * (size_t)E * sizeof(float));
    for (int i = 0; i < n_act; i++) {
        float *d = dh + (int64_t)st->act_rows[i] * E;
        const float *src = dhact + (int64_t)i * E;
        for (int j = 0; j < E; j++) d[j] += src[j];
    }
    rmsnorm_rows_backward(dx, m->g.out_norm, dh, st->xfin, m->w.out_norm, st->rfin, N, E, E, false);
    for (int il = c->n_layers - 1; il >= 0; il--) {
        const tlayer *w = &m->w.layers[il];
        tlayer *g = &m->g.layers[il];
        lacts *a = &st->L[il];
        ffn_backward(m, st, il, dx, dh);
        rmsnorm_rows_backward(dx, g->ffn_norm, dh, a->xmid, w->ffn_norm, a->rF, N, E, E, true);
        attn_backward(m, st, il, dx, dh);
        rmsnorm_rows_backward(dx, g->attn_norm, dh, a->xin, w->attn_norm, a->rA, N, E, E, true);
    }
    for (int t = 0; t < N; t++) {
        float *ge = m->g.tok_embd + (int64_t)st->tokens[t] * E;
        const float *d = dx + (int64_t)t * E;
        for (int j = 0; j < E; j++) ge[j] += d[j];
    }
}

/* ---- balancing and accounting ---------------------------------------------------------------- */

void tmodel_update_bias(tmodel *m, const tstate *st, float rate)
{
    if (!st->has_forward) return;
    tmodel_update_bias_load(m, st->load, layers_run(st), rate);
}

void tmodel_update_bias_load(tmodel *m, const int *loads, int n_layers_run, float rate)
{
    const tconfig *c = &m->cfg;
    int X = c->n_routed_experts;
    for (int il = 0; il < n_layers_run; il++) {
        if (!is_moe_layer(c, il)) continue;
        const int *load = loads + (size_t)il * (size_t)(X + 1);
        float *bias = m->exp_probs_b + (size_t)il * (size_t)(X + 1);
        double mean = 0;
        for (int e = 0; e < X; e++) mean += load[e];
        mean /= X;
        for (int e = 0; e < X; e++) {
            if (load[e] < mean)
                bias[e] += rate;
            else if (load[e] > mean)
                bias[e] -= rate;
        }
    }
}

double tmodel_forward_flops(const tmodel *m, const tbatch *b)
{
    const tconfig *c = &m->cfg;
    double E = c->dim, H = c->n_heads, QK = c->qk_nope_head_dim + c->qk_rope_head_dim,
           R = c->kv_lora_rank, ROPE = c->qk_rope_head_dim, QL = c->q_lora_rank, VH = c->v_head_dim,
           F = c->moe_inter_dim, K = c->n_activated_experts, S = F * c->n_shared_experts,
           X = c->n_routed_experts;
    double N = b->seq_start[b->n_seqs], pairs = 0, n_act = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        double T = b->seq_start[s + 1] - b->seq_start[s];
        pairs += T * (T + 1) / 2;
        n_act += T - 1;
    }
    if (b->active) {
        n_act = 0;
        for (int t = 0; t < (int)N; t++) n_act += b->active[t] != 0;
    }
    double attn = N * (E * QL + QL * H * QK + E * (R + ROPE) + H * c->qk_nope_head_dim * R +
                       H * R * VH + H * VH * E) +
                  pairs * H * (2 * R + ROPE);
    double total = 0;
    for (int il = 0; il < c->n_layers; il++) {
        total += attn;
        total += is_moe_layer(c, il) ? N * (E * X + (K * F + S) * 3 * E) : N * 3 * E * c->inter_dim;
    }
    total += n_act * E * c->n_vocab;
    if (c->n_mtp) { /* N' = N - n_seqs rows, T-1 per sequence; about as many MTP targets */
        double Nm = N - b->n_seqs, pm = 0;
        for (int s = 0; s < b->n_seqs; s++) {
            double T = b->seq_start[s + 1] - b->seq_start[s] - 1;
            pm += T * (T + 1) / 2;
        }
        total += Nm * (E * QL + QL * H * QK + E * (R + ROPE) + H * c->qk_nope_head_dim * R +
                       H * R * VH + H * VH * E) +
                 pm * H * (2 * R + ROPE);
        total += is_moe_layer(c, c->n_layers) ? Nm * (E * X + (K * F + S) * 3 * E)
                                              : Nm * 3 * E * c->inter_dim;
        total += Nm * 2 * E * E + n_act * E * c->n_vocab;
    }
    return 2 * total; /* multiply-adds -> FLOPs */
}
