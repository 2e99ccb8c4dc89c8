/* shard.c — which part of the weights this rank keeps when a model is split across processes
 * (docs/distributed.md), as narrowed views of the bound tensors; repacking then copies only them
 * and the rest of the mapped file is never read.
 *
 *   attention  query heads split (GQA: whole KV groups, so each KV head lives on one rank); a rank
 *              holds its heads' rows of q_b / q / k / v, its heads' k_b, v_b matrices and the
 *              columns of W_o for its heads; q_a and kv_a (small, shared by all heads) and the
 *              MLA latent cache are replicated
 *   FFN        dense layers and shared experts by columns of gate/up (rows) and rows of down
 *              (columns), routed experts in contiguous ranges; the router is replicated
 *   output     by vocabulary rows
 * A split point inside a row of W_o or ffn_down must fall on a quantization block, so heads and
 * FFN columns are dealt in units that keep it there; with more ranks than units some ranks get
 * none of that part (they still take part in the allreduce, adding zeros).
 */
#include "base/err.h"
#include "dist/dist.h"
#include "model/model.h"
#include "tensor/dtype.h"

#include <string.h>

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int64_t lcm64(int64_t a, int64_t b)
{
    return a / gcd64(a, b) * b;
}

/* Elements [*e0, *e0 + *n) of `total` for `rank`: units of `unit` elements dealt in contiguous,
 * balanced ranges (the first total/unit % size ranks one more). */
static void split(int64_t total, int64_t unit, int size, int rank, int64_t *e0, int64_t *n)
{
    int64_t units = (total + unit - 1) / unit, base = units / size, extra = units % size;
    int64_t u0 = rank * base + (rank < extra ? rank : extra), nu = base + (rank < extra ? 1 : 0);
    int64_t lo = u0 * unit, hi = (u0 + nu) * unit;
    lo = lo < total ? lo : total;
    hi = hi < total ? hi : total;
    *e0 = lo;
    *n = hi - lo;
}

static int64_t block_of(const wmat *w)
{
    return w->data ? dtype_get(w->type)->block_size : 1;
}

static void narrow_rows(wmat *w, int64_t r0, int64_t n)
{
    if (!w->data) return;
    w->data += (size_t)r0 * w->row_bytes;
    w->n_rows = n;
}

/* Columns [c0, c0 + n): rows keep their stride (row_bytes), so the view is strided. */
static void narrow_cols(wmat *w, int64_t c0, int64_t n)
{
    if (!w->data) return;
    w->data += dtype_row_bytes(w->type, c0);
    w->n_cols = n;
}

static void narrow_mats(wmat *w, int64_t m0, int64_t n)
{
    if (!w->data) return;
    w->data += (size_t)m0 * w->mat_bytes;
    w->n_mats = n;
}

/* gate/up rows and down columns [f0, f0 + nf) of a SwiGLU FFN. */
static void narrow_ffn(wmat *gate, wmat *up, wmat *down, int size, int rank)
{
    if (!gate->data) return;
    int64_t f0, nf, unit = lcm64(block_of(down), 16);
    split(gate->n_rows, unit, size, rank, &f0, &nf);
    narrow_rows(gate, f0, nf);
    narrow_rows(up, f0, nf);
    narrow_cols(down, f0, nf);
}

r1_status model_shard_weights(r1_model *m, char *err)
{
    model_config *c = &m->cfg;
    model_shard *sh = &m->shard;
    int size = r1_dist_size(m->dist), rank = r1_dist_rank(m->dist);
    int n_lay = c->n_layers + m->n_mtp;
    sh->n_heads_total = c->n_heads;
    sh->n_kv_heads_total = c->n_kv_heads;
    sh->expert0 = 0;
    sh->n_experts = c->n_routed_experts;
    /* two int64 arrays in one owned block */
    int64_t *v = model_own(m, 2 * (size_t)size * sizeof(int64_t));
    if (!v) return err_set(err, R1_ERR_NOMEM, "out of memory");
    sh->vocab0 = v;
    sh->n_vocab_rows = v + size;
    for (int r = 0; r < size; r++)
        split(c->n_vocab, 16, size, r, &sh->vocab0[r], &sh->n_vocab_rows[r]);
    if (size == 1) return R1_OK;

    /* attention: units of heads that keep every W_o split on a block boundary */
    int64_t H = c->n_heads, h0 = 0, nh = 0;
    if (c->arch == ARCH_DEEPSEEK2) {
        int64_t V = c->v_head_dim, unit = 1;
        for (int il = 0; il < n_lay; il++) {
            int64_t b = block_of(&m->layers[il].wo);
            unit = lcm64(unit, b / gcd64(b, V));
        }
        split(H, unit, size, rank, &h0, &nh);
        int64_t qh = c->qk_nope_head_dim + c->qk_rope_head_dim;
        for (int il = 0; il < n_lay; il++) {
            model_layer *ly = &m->layers[il];
            narrow_rows(&ly->wq_b, h0 * qh, nh * qh);
            narrow_mats(&ly->k_b, h0, nh);
            narrow_mats(&ly->v_b, h0, nh);
            narrow_mats(&ly->k_up, h0, nh);
            narrow_cols(&ly->wo, h0 * V, nh * V);
        }
    } else {
        int64_t KV = c->n_kv_heads, group = H / KV, D = c->head_dim, unit = 1, k0, nk;
        for (int il = 0; il < n_lay; il++) {
            int64_t b = block_of(&m->layers[il].wo);
            unit = lcm64(unit, b / gcd64(b, group * D));
        }
        split(KV, unit, size, rank, &k0, &nk);
        h0 = k0 * group;
        nh = nk * group;
        for (int il = 0; il < n_lay; il++) {
            model_layer *ly = &m->layers[il];
            narrow_rows(&ly->wq, h0 * D, nh * D);
            narrow_rows(&ly->wk, k0 * D, nk * D);
            narrow_rows(&ly->wv, k0 * D, nk * D);
            if (ly->bq) ly->bq += h0 * D;
            if (ly->bk) ly->bk += k0 * D;
            if (ly->bv) ly->bv += k0 * D;
            narrow_cols(&ly->wo, h0 * D, nh * D);
        }
        c->n_kv_heads = (int)nk;
    }
    c->n_heads = (int)nh;
    sh->head0 = (int)h0;

    /* FFN: routed experts by ranges, dense and shared ones by columns */
    int64_t e0 = 0, ne = 0;
    split(c->n_routed_experts, 1, size, rank, &e0, &ne);
    sh->expert0 = (int)e0;
    sh->n_experts = (int)ne;
    for (int il = 0; il < n_lay; il++) {
        model_layer *ly = &m->layers[il];
        narrow_ffn(&ly->ffn_gate, &ly->ffn_up, &ly->ffn_down, size, rank);
        narrow_ffn(&ly->gate_shexp, &ly->up_shexp, &ly->down_shexp, size, rank);
        if (ly->is_moe) {
            narrow_mats(&ly->gate_exps, e0, ne);
            narrow_mats(&ly->up_exps, e0, ne);
            narrow_mats(&ly->down_exps, e0, ne);
        }
    }

    /* output head (and the MTP module's, shared or its own) by vocabulary rows */
    bool mtp_shares_head = m->n_mtp && m->mtp.head.data == m->output.data;
    narrow_rows(&m->output, sh->vocab0[rank], sh->n_vocab_rows[rank]);
    if (mtp_shares_head)
        m->mtp.head = m->output;
    else if (m->n_mtp)
        narrow_rows(&m->mtp.head, sh->vocab0[rank], sh->n_vocab_rows[rank]);
    model_log(m, R1_LOG_INFO,
              "rank %d of %d: heads [%lld, %lld), experts [%lld, %lld), vocabulary rows [%lld, "
              "%lld)",
              rank, size, (long long)h0, (long long)(h0 + nh), (long long)e0, (long long)(e0 + ne),
              (long long)sh->vocab0[rank], (long long)(sh->vocab0[rank] + sh->n_vocab_rows[rank]));
    return R1_OK;
}
