/* matmul.c — the matrix multiply driver and the small fp32 helpers of the forward pass.
 * kern_matmul quantizes the activations once (when the backend has an integer kernel for the
 * weight type), then splits the weight rows across the pool: each thread walks its rows and dots
 * each row with every token, so a row is read from memory once per call whatever the batch. */
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool kern_ctx_init(kern_ctx *kc, threadpool *pool, int64_t max_floats)
{
    memset(kc, 0, sizeof *kc);
    kc->pool = pool;
    kc->backend = kern_backend();
    /* Q8_K takes 292 bytes per 256 values, Q8_0 34 per 32: at most 1.15 bytes per value, plus
     * rounding up to whole blocks per row */
    kc->qx_cap = (size_t)max_floats * 125 / 100 + 4096; /* + Q8_0 block sums (R8 path) */
    kc->qx = malloc(kc->qx_cap);
    return kc->qx != NULL;
}

void kern_ctx_free(kern_ctx *kc)
{
    free(kc->qx);
    memset(kc, 0, sizeof *kc);
}

void kern_get_row(const wmat *w, int64_t mat, int64_t r, float *dst)
{
    const uint8_t *row = w->data + (size_t)mat * w->mat_bytes + (size_t)r * w->row_bytes;
    if (w->type == DTYPE_F32)
        memcpy(dst, row, (size_t)w->n_cols * sizeof(float));
    else
        quant_dequantize_row(w->type, row, dst, w->n_cols);
}

float kern_dot_f32(const float *a, const float *b, int64_t n)
{
    return kern_backend()->dot_f32(a, b, n);
}

#define MAX_MM 1024 /* matmuls per group: R1 has 128 heads × (K, V) up-projections */

typedef struct mm_plan {
    const uint8_t *qx;   /* quantized activations, or NULL for the fp32 path */
    size_t qx_stride;    /* bytes per token in qx */
    const int16_t *xsum; /* repacked Q8_0: per token and block, Σ of the block's quants */
    bool r8;             /* use w->r8 and the backend's gemm_r8 */
    bool dec;            /* a lattice type decoded 16 rows at a time (gemm_dec) */
} mm_plan;

typedef struct multi_job {
    const kern_backend_t *be;
    const kern_mm *mm;
    const mm_plan *plan;
    int n_mm;
} multi_job;

static void rows_quantized(const kern_backend_t *be, const kern_mm *mm, const mm_plan *pl, long r0,
                           long r1)
{
    const wmat *w = mm->w;
    const uint8_t *base = w->data + (size_t)mm->mat * w->mat_bytes;
    kern_vec_dot_fn dot = be->ops[w->type].vec_dot;
    kern_vec_dot_x4_fn dot4 = be->ops[w->type].vec_dot_x4;
    for (long r = r0; r < r1; r++) {
        const uint8_t *wr = base + (size_t)r * w->row_bytes;
        int64_t t = 0;
        if (dot4) /* prompt batches: unpack each weight block once for 4 tokens */
            for (; t + 4 <= mm->n_tok; t += 4) {
                float out[4];
                dot4(wr, pl->qx + (size_t)t * pl->qx_stride, pl->qx_stride, w->n_cols, out);
                for (int k = 0; k < 4; k++) mm->y[(t + k) * mm->ldy + r] = out[k];
            }
        for (; t < mm->n_tok; t++)
            mm->y[t * mm->ldy + r] = dot(wr, pl->qx + (size_t)t * pl->qx_stride, w->n_cols);
    }
}

/* Quantized weights without an integer kernel (the "ref" backend, or activations past the
 * scratch): each row dequantized exactly, then fp32 dot products. */
static void rows_f32(const kern_backend_t *be, const kern_mm *mm, long r0, long r1)
{
    const wmat *w = mm->w;
    const uint8_t *base = w->data + (size_t)mm->mat * w->mat_bytes;
    float stackbuf[4096];
    float *row = w->n_cols <= 4096 ? stackbuf : malloc((size_t)w->n_cols * sizeof(float));
    if (!row) return; /* cannot happen for realistic widths; leaves rows untouched */
    for (long r = r0; r < r1; r++) {
        quant_dequantize_row(w->type, base + (size_t)r * w->row_bytes, row, w->n_cols);
        for (int64_t t = 0; t < mm->n_tok; t++)
            mm->y[t * mm->ldy + r] = be->dot_f32(row, mm->x + t * mm->ldx, w->n_cols);
    }
    if (row != stackbuf) free(row);
}

/* Bytes per value of an R16 type (F32, F16, BF16). */
static size_t r16_elem_bytes(dtype t)
{
    return t == DTYPE_F32 ? 4 : 2;
}

/* Float weights: groups of 16 rows [g0, g1) by the backend's R16 kernel, over the repacked
 * matrix when there is one, else over each group transposed into a scratch R16 copy in fp32
 * (exact for F16 / BF16, so the same bits). */
static void rows_r16(const kern_backend_t *be, const kern_mm *mm, long g0, long g1)
{
    const wmat *w = mm->w;
    int64_t K = w->n_cols;
    if (w->r8) {
        size_t group_bytes = (size_t)K * KERN_R16_ROWS * r16_elem_bytes(w->type);
        const uint8_t *base = w->r8 + (size_t)mm->mat * w->r8_mat_bytes;
        be->gemm_r16[w->type](base + (size_t)g0 * group_bytes, K, g1 - g0,
                              w->n_rows - g0 * KERN_R16_ROWS, mm->x, mm->ldx, mm->n_tok,
                              mm->y + g0 * KERN_R16_ROWS, mm->ldy);
        return;
    }
    float stackbuf[4096];
    size_t need = (size_t)K * KERN_R16_ROWS;
    float *tmp = need <= 4096 ? stackbuf : malloc(need * sizeof(float));
    float *row = malloc((size_t)K * sizeof(float));
    if (!tmp || !row) { /* cannot happen for realistic widths; leaves rows untouched */
        if (tmp != stackbuf) free(tmp);
        free(row);
        return;
    }
    for (long g = g0; g < g1; g++) {
        int64_t nr = w->n_rows - g * KERN_R16_ROWS;
        nr = nr < KERN_R16_ROWS ? nr : KERN_R16_ROWS;
        memset(tmp, 0, need * sizeof(float));
        for (int64_t i = 0; i < nr; i++) {
            kern_get_row(w, mm->mat, g * KERN_R16_ROWS + i, row);
            for (int64_t k = 0; k < K; k++) tmp[k * KERN_R16_ROWS + i] = row[k];
        }
        be->gemm_r16[DTYPE_F32]((const uint8_t *)tmp, K, 1, nr, mm->x, mm->ldx, mm->n_tok,
                                mm->y + g * KERN_R16_ROWS, mm->ldy);
    }
    if (tmp != stackbuf) free(tmp);
    free(row);
}

#define R8_TOKEN_BLOCK 64
#ifndef DEC_MIN_TOK
#define DEC_MIN_TOK 4
#endif

static void rows_r8(const kern_backend_t *be, const kern_mm *mm, const mm_plan *pl, long g0,
                    long g1)
{
    const wmat *w = mm->w;
    size_t group_bytes = w->r8_mat_bytes / (size_t)(w->n_rows / 8);
    const uint8_t *base = w->r8 + (size_t)mm->mat * w->r8_mat_bytes;
    /* 16 rows at once pays when several tokens share each broadcast (prefill: 1.47x on a Q8_0
     * model); one token is bound by memory, so decode keeps the single-group path. The K-quants
     * unpack more per block, and for 2–3 tokens (an MTP verification, a few sequences decoded
     * together) their 16-row kernels cost more than the 8-row ones — qwen-1.5B Q4_K_M, 2 threads,
     * r1_session_eval of 2 / 3 / 4 tokens: 29.2 / 33.4 / 38.4 ms with 16 rows, 24.5 / 31.0 / 37.9
     * with 8 (Q5_K alike); Q8_0 breaks even at 2 tokens and gains from 3. Either way gives the
     * same bits. */
    int x2_min_tok = w->type == DTYPE_Q4_K || w->type == DTYPE_Q5_K || w->type == DTYPE_Q6_K ||
                             w->type == DTYPE_Q3_K || w->type == DTYPE_Q2_K ||
                             w->type == DTYPE_IQ4_XS
                         ? 4
                         : 2;
    kern_gemm_r8x2_fn x2 = mm->n_tok >= x2_min_tok ? be->gemm_r8x2[w->type] : NULL;
    size_t nb = (size_t)(w->n_cols / 32);
    /* tokens in blocks that stay in L2 while every row group passes over them (row-outer order
     * would stream all the activations from L3 once per 16 rows); a (row, token) result does not
     * depend on how tokens are chunked */
    for (int64_t t0 = 0; t0 < mm->n_tok; t0 += R8_TOKEN_BLOCK) {
        int64_t nt = mm->n_tok - t0 < R8_TOKEN_BLOCK ? mm->n_tok - t0 : R8_TOKEN_BLOCK;
        const uint8_t *qx = pl->qx + (size_t)t0 * pl->qx_stride;
        const int16_t *xs = pl->xsum ? pl->xsum + (size_t)t0 * nb : NULL;
        float *y = mm->y + t0 * mm->ldy;
        for (long g = g0; g < g1; g++) {
            if (x2 && g + 1 < g1) {
                x2(base + (size_t)g * group_bytes, group_bytes, w->n_cols, qx, pl->qx_stride, xs,
                   nb, nt, y + 8 * g, mm->ldy);
                g++;
                continue;
            }
            be->gemm_r8[w->type](base + (size_t)g * group_bytes, w->n_cols, qx, pl->qx_stride, xs,
                                 nb, nt, y + 8 * g, mm->ldy);
        }
    }
}

/* Lattice types for several tokens: groups of KERN_DEC_ROWS rows [g0, g1) decoded once per
 * block of tokens into scratch, then multiplied with the block's tokens by gemm_dec (the same
 * bits as vec_dot per row and token, so the batch never changes a result). The decoded group
 * (292 bytes per row per 256 columns: 164 KB for 8960 columns) stays in L2 while the block's
 * tokens pass over it. */
#define DEC_TOKEN_BLOCK 256
static void rows_dec(const kern_backend_t *be, const kern_mm *mm, const mm_plan *pl, long g0,
                     long g1)
{
    const wmat *w = mm->w;
    const uint8_t *base = w->data + (size_t)mm->mat * w->mat_bytes;
    const size_t bytes = (size_t)(w->n_cols / 256) * KERN_DEC_BLOCK_BYTES;
    uint8_t *dec = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!dec) { /* the one-token kernels need no scratch */
        rows_quantized(be, mm, pl, g0 * KERN_DEC_ROWS, g1 * KERN_DEC_ROWS);
        return;
    }
    const kern_dec_info info = kern_dec_info_of(w->type);
    for (int64_t t0 = 0; t0 < mm->n_tok; t0 += DEC_TOKEN_BLOCK) {
        int64_t nt = mm->n_tok - t0 < DEC_TOKEN_BLOCK ? mm->n_tok - t0 : DEC_TOKEN_BLOCK;
        for (long g = g0; g < g1; g++) {
            kern_dec_rows(w->type, base + (size_t)g * KERN_DEC_ROWS * w->row_bytes, w->row_bytes,
                          w->n_cols, dec);
            be->gemm_dec(dec, w->n_cols, &info, pl->qx + (size_t)t0 * pl->qx_stride, pl->qx_stride,
                         nt, mm->y + t0 * mm->ldy + g * KERN_DEC_ROWS, mm->ldy);
        }
    }
    free(dec);
}

static void multi_worker(void *p, int ith, int nth)
{
    const multi_job *job = p;
    for (int i = 0; i < job->n_mm; i++) {
        const kern_mm *mm = &job->mm[i];
        if (mm->n_tok <= 0) continue;
        long r0, r1;
        if (kern_is_r16_type(mm->w->type) && job->be->gemm_r16[mm->w->type]) {
            threadpool_split((long)kern_repack_n_groups(mm->w), ith, nth, &r0, &r1);
            if (r0 < r1) rows_r16(job->be, mm, r0, r1);
            continue;
        }
        if (job->plan[i].dec) { /* decoded: whole groups of 16 rows, the rest one by one */
            long n_groups = (long)(mm->w->n_rows / KERN_DEC_ROWS);
            threadpool_split(n_groups, ith, nth, &r0, &r1);
            if (r0 < r1) rows_dec(job->be, mm, &job->plan[i], r0, r1);
            if (ith == nth - 1 && n_groups * KERN_DEC_ROWS < mm->w->n_rows)
                rows_quantized(job->be, mm, &job->plan[i], n_groups * KERN_DEC_ROWS,
                               (long)mm->w->n_rows);
            continue;
        }
        if (job->plan[i].r8) { /* repacked: split whole groups of 8 rows */
            threadpool_split((long)mm->w->n_rows / 8, ith, nth, &r0, &r1);
            if (r0 < r1) rows_r8(job->be, mm, &job->plan[i], r0, r1);
            continue;
        }
        threadpool_split((long)mm->w->n_rows, ith, nth, &r0, &r1);
        if (r0 >= r1) continue;
        if (job->plan[i].qx)
            rows_quantized(job->be, mm, &job->plan[i], r0, r1);
        else
            rows_f32(job->be, mm, r0, r1);
    }
}

void kern_matmul_multi(kern_ctx *kc, const kern_mm *mm, int n_mm)
{
    const kern_backend_t *be = kc->backend;
    mm_plan plan_stack[16], *plan = n_mm <= 16 ? plan_stack : NULL;
    mm_plan plan_heap[MAX_MM];
    if (!plan) plan = plan_heap;
    if (n_mm > MAX_MM) { /* split oversized groups */
        for (int i = 0; i < n_mm; i += MAX_MM)
            kern_matmul_multi(kc, mm + i, n_mm - i < MAX_MM ? n_mm - i : MAX_MM);
        return;
    }
    if (kc->observe)
        for (int i = 0; i < n_mm; i++)
            kc->observe(kc->observe_ud, mm[i].w, mm[i].mat, mm[i].x, mm[i].ldx, mm[i].n_tok);
    /* quantize each matmul's activations into its own region of the scratch, once per distinct
     * input: matmuls of one input (q/k/v, gate/up, every head's MLA up-projections of the same
     * latent rows) share the quantized copy; the few most recent inputs are remembered */
    enum { N_SEEN = 8 };
    int seen[N_SEEN], n_seen = 0;
    size_t used = 0;
    int64_t work = 0;
    for (int i = 0; i < n_mm; i++) {
        const wmat *w = mm[i].w;
        const kern_type_ops *ops = &be->ops[w->type];
        plan[i] = (mm_plan){NULL, 0, NULL, false, false};
        work += mm[i].n_tok * w->n_rows * w->n_cols;
        if (!ops->vec_dot || mm[i].n_tok <= 0) continue;
        bool want_r8 = w->r8 && be->gemm_r8[w->type];
        /* the decoded lattice path pays once a block's decoding is shared by a few tokens */
        bool want_dec = be->gemm_dec && kern_dec_type(w->type) && mm[i].n_tok >= DEC_MIN_TOK &&
                        w->n_cols % 256 == 0 && w->n_rows >= KERN_DEC_ROWS;
        bool shared = false;
        for (int k = 0; k < n_seen && !shared; k++) {
            const kern_mm *o = &mm[seen[k]];
            const mm_plan *op = &plan[seen[k]];
            if (o->x == mm[i].x && o->ldx == mm[i].ldx && o->n_tok == mm[i].n_tok &&
                o->w->n_cols == w->n_cols &&
                be->ops[o->w->type].vec_dot_type == ops->vec_dot_type &&
                (!want_r8 || ops->vec_dot_type != DTYPE_Q8_0 || op->xsum)) {
                plan[i] = (mm_plan){op->qx, op->qx_stride, op->xsum, want_r8, want_dec};
                shared = true;
            }
        }
        if (shared) continue;
        size_t row = ops->vec_dot_type == DTYPE_Q8_K ? (size_t)(w->n_cols / 256) * 292
                                                     : (size_t)(w->n_cols / 32) * 34;
        if (used + row * (size_t)mm[i].n_tok > kc->qx_cap) continue; /* fp32 path */
        kern_quantize_fn q =
            ops->vec_dot_type == DTYPE_Q8_K ? be->quantize_q8_k : be->quantize_q8_0;
        uint8_t *dst = kc->qx + used;
        for (int64_t t = 0; t < mm[i].n_tok; t++)
            q(mm[i].x + t * mm[i].ldx, dst + (size_t)t * row, w->n_cols);
        plan[i] = (mm_plan){dst, row, NULL, want_r8, want_dec};
        used += row * (size_t)mm[i].n_tok;
        if (n_seen < N_SEEN)
            seen[n_seen++] = i;
        else
            seen[i % N_SEEN] = i;
        if (plan[i].r8 && ops->vec_dot_type == DTYPE_Q8_0) {
            /* the repacked kernel also needs each block's quant sum */
            size_t nb = (size_t)(w->n_cols / 32), need = nb * sizeof(int16_t) * mm[i].n_tok;
            used = (used + 1) & ~(size_t)1;
            if (used + need <= kc->qx_cap) {
                int16_t *xs = (int16_t *)(void *)(kc->qx + used);
                for (int64_t t = 0; t < mm[i].n_tok; t++)
                    for (size_t b = 0; b < nb; b++) {
                        const int8_t *q = (const int8_t *)(dst + (size_t)t * row + b * 34 + 2);
                        int s = 0;
                        for (int j = 0; j < 32; j++) s += q[j];
                        xs[t * nb + b] = (int16_t)s;
                    }
                plan[i].xsum = xs;
                used += need;
            } else {
                plan[i].r8 = false;
            }
        }
    }
    multi_job job = {be, mm, plan, n_mm};
    /* a pool wake-up and barrier cost about what 2^18 fp32 multiply-adds do (r1-tiny decodes
     * 11% faster on 2 threads with this bound than with 2^15) */
    if (work < 262144)
        multi_worker(&job, 0, 1); /* too small to be worth waking the pool */
    else
        threadpool_run(kc->pool, multi_worker, &job);
}

bool kern_is_r16_type(dtype t)
{
    return t == DTYPE_F32 || t == DTYPE_F16 || t == DTYPE_BF16;
}

int64_t kern_repack_n_groups(const wmat *w)
{
    return kern_is_r16_type(w->type) ? (w->n_rows + KERN_R16_ROWS - 1) / KERN_R16_ROWS
                                     : w->n_rows / 8;
}

size_t kern_r8_mat_bytes(const wmat *w)
{
    if (kern_is_r16_type(w->type))
        return (size_t)kern_repack_n_groups(w) * KERN_R16_ROWS * (size_t)w->n_cols *
               r16_elem_bytes(w->type);
    if (w->n_rows % 8) return 0;
    if (w->type == DTYPE_Q8_0 && w->n_cols % 32 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 32) * KERN_R8_BLOCK_BYTES;
    if ((w->type == DTYPE_Q4_0 || w->type == DTYPE_IQ4_NL) && w->n_cols % 32 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 32) * KERN_R8_Q4_0_BYTES;
    if (w->type == DTYPE_IQ4_XS && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_IQ4XS_BYTES;
    if (w->type == DTYPE_Q5_0 && w->n_cols % 32 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 32) * KERN_R8_Q5_0_BYTES;
    if (w->type == DTYPE_Q4_K && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_Q4K_BYTES;
    if (w->type == DTYPE_Q5_K && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_Q5K_BYTES;
    if (w->type == DTYPE_Q6_K && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_Q6K_BYTES;
    if (w->type == DTYPE_Q3_K && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_Q3K_BYTES;
    if (w->type == DTYPE_Q2_K && w->n_cols % 256 == 0)
        return (size_t)(w->n_rows / 8) * (size_t)(w->n_cols / 256) * KERN_R8_Q2K_BYTES;
    return 0;
}

/* Q4_K's 6-bit scale and min of sub-block s (blocks.h). */
static void q4k_scale_min(const uint8_t *q, int s, uint8_t *sc, uint8_t *mn)
{
    if (s < 4) {
        *sc = q[s] & 63;
        *mn = q[s + 4] & 63;
    } else {
        *sc = (uint8_t)((q[s + 4] & 15) | (q[s - 4] >> 6) << 4);
        *mn = (uint8_t)((q[s + 4] >> 4) | (q[s] >> 6) << 4);
    }
}

void kern_repack_r8(const wmat *w, int64_t mat, uint8_t *dst)
{
    kern_repack_r8_groups(w, mat, 0, kern_repack_n_groups(w), dst);
}

void kern_repack_r8_groups(const wmat *w, int64_t mat, int64_t g0, int64_t g1, uint8_t *dst)
{
    const uint8_t *src = w->data + (size_t)mat * w->mat_bytes;
    if (kern_is_r16_type(w->type)) { /* column k of group g: its 16 rows' values, zero-padded */
        size_t es = r16_elem_bytes(w->type), K = (size_t)w->n_cols;
        for (int64_t g = g0; g < g1; g++) {
            uint8_t *out = dst + (size_t)g * K * KERN_R16_ROWS * es;
            int64_t nr = w->n_rows - g * KERN_R16_ROWS;
            nr = nr < KERN_R16_ROWS ? nr : KERN_R16_ROWS;
            if (nr < KERN_R16_ROWS) memset(out, 0, K * KERN_R16_ROWS * es);
            for (int64_t i = 0; i < nr; i++) {
                const uint8_t *row = src + (size_t)(g * KERN_R16_ROWS + i) * w->row_bytes;
                if (es == 4)
                    for (size_t k = 0; k < K; k++)
                        memcpy(out + (k * KERN_R16_ROWS + (size_t)i) * 4, row + 4 * k, 4);
                else
                    for (size_t k = 0; k < K; k++)
                        memcpy(out + (k * KERN_R16_ROWS + (size_t)i) * 2, row + 2 * k, 2);
            }
        }
        return;
    }
    if (w->type == DTYPE_Q8_0) {
        int64_t nb = w->n_cols / 32;
        for (int64_t g = g0; g < g1; g++)
            for (int64_t b = 0; b < nb; b++) {
                uint8_t *out = dst + ((size_t)g * (size_t)nb + (size_t)b) * KERN_R8_BLOCK_BYTES;
                for (int r = 0; r < 8; r++) {
                    const block_q8_0 *blk =
                        (const block_q8_0 *)(const void *)(src +
                                                           (size_t)(8 * g + r) * w->row_bytes) +
                        b;
                    memcpy(out + 2 * r, &blk->d, 2);
                    for (int k = 0; k < 8; k++) { /* quants 4k..4k+3 of row r, + 128 */
                        uint32_t v;
                        memcpy(&v, blk->qs + 4 * k, 4);
                        v ^= 0x80808080u; /* q + 128 as unsigned = q with its top bit flipped */
                        memcpy(out + 16 + 32 * k + 4 * r, &v, 4);
                    }
                }
            }
        return;
    }
    /* IQ4_NL: Q4_0's block (d, then 16 bytes of nibbles in the same order) with other values */
    if (w->type == DTYPE_Q4_0 || w->type == DTYPE_Q5_0 || w->type == DTYPE_IQ4_NL) {
        bool five = w->type == DTYPE_Q5_0;
        size_t bb = five ? KERN_R8_Q5_0_BYTES : KERN_R8_Q4_0_BYTES;
        int64_t nb = w->n_cols / 32;
        for (int64_t g = g0; g < g1; g++)
            for (int64_t b = 0; b < nb; b++) {
                uint8_t *out = dst + ((size_t)g * (size_t)nb + (size_t)b) * bb;
                memset(out, 0, bb);
                for (int r = 0; r < 8; r++) {
                    const uint8_t *row = src + (size_t)(8 * g + r) * w->row_bytes;
                    uint16_t d;
                    const uint8_t *qs;
                    uint32_t qh = 0;
                    if (five) {
                        const block_q5_0 *blk = (const block_q5_0 *)(const void *)row + b;
                        d = blk->d;
                        qs = blk->qs;
                        qh = (uint32_t)blk->qh[0] | (uint32_t)blk->qh[1] << 8 |
                             (uint32_t)blk->qh[2] << 16 | (uint32_t)blk->qh[3] << 24;
                    } else {
                        const block_q4_0 *blk = (const block_q4_0 *)(const void *)row + b;
                        d = blk->d;
                        qs = blk->qs;
                    }
                    memcpy(out + 2 * r, &d, 2);
                    /* chunk c holds vectors 2c and 2c + 1: quants 8c + j (low nibbles) and
                     * 8c + 4 + j (high), j < 4; quant e is the low nibble of qs[e] for e < 16,
                     * the high nibble of qs[e - 16] after; four bytes at a time */
                    for (int c = 0; c < 4; c++) {
                        uint32_t a, b, v;
                        if (c < 2) {
                            memcpy(&a, qs + 8 * c, 4);
                            memcpy(&b, qs + 8 * c + 4, 4);
                            v = (a & 0x0F0F0F0Fu) | ((b << 4) & 0xF0F0F0F0u);
                        } else {
                            memcpy(&a, qs + 8 * c - 16, 4);
                            memcpy(&b, qs + 8 * c - 12, 4);
                            v = ((a >> 4) & 0x0F0F0F0Fu) | (b & 0xF0F0F0F0u);
                        }
                        memcpy(out + 16 + 32 * c + 4 * r, &v, 4);
                    }
                    if (five) /* bit vg of byte j: bit 4 of quant 4·vg + j */
                        for (int j = 0; j < 4; j++) {
                            uint8_t hb = 0;
                            for (int vg = 0; vg < 8; vg++)
                                hb |= (uint8_t)(((qh >> (4 * vg + j)) & 1u) << vg);
                            out[144 + 4 * r + j] = hb;
                        }
                }
            }
        return;
    }
    int64_t nsb = w->n_cols / 256;
    if (w->type == DTYPE_IQ4_XS) { /* layout: x86/gemm_vnni.c */
        for (int64_t g = g0; g < g1; g++)
            for (int64_t b = 0; b < nsb; b++) {
                uint8_t *out = dst + ((size_t)g * (size_t)nsb + (size_t)b) * KERN_R8_IQ4XS_BYTES;
                for (int r = 0; r < 8; r++) {
                    const block_iq4_xs *blk =
                        (const block_iq4_xs *)(const void *)(src +
                                                             (size_t)(8 * g + r) * w->row_bytes) +
                        b;
                    memcpy(out + 2 * r, &blk->d, 2);
                    for (int sb = 0; sb < 8; sb++) {
                        int ls = ((blk->scales_l[sb / 2] >> (4 * (sb % 2))) & 15) |
                                 (((blk->scales_h >> (2 * sb)) & 3) << 4);
                        out[16 + 8 * sb + r] = (uint8_t)(int8_t)(ls - 32);
                        /* elements 4h + e (low nibble of qs[16sb + 4h + e]) and 16 + 4h + e
                         * (its high nibble) share a byte already: whole 4-byte groups */
                        for (int h = 0; h < 4; h++)
                            memcpy(out + 80 + 32 * (4 * sb + h) + 4 * r, blk->qs + 16 * sb + 4 * h,
                                   4);
                    }
                }
            }
        return;
    }
    if (w->type == DTYPE_Q3_K || w->type == DTYPE_Q2_K) { /* layouts: x86/gemm_vnni.c */
        bool q3 = w->type == DTYPE_Q3_K;
        size_t blk_bytes = q3 ? sizeof(block_q3_k) : sizeof(block_q2_k);
        size_t out_bytes = q3 ? KERN_R8_Q3K_BYTES : KERN_R8_Q2K_BYTES;
        size_t codes = q3 ? 144 : 160; /* offset of the 2-bit codes */
        for (int64_t g = g0; g < g1; g++)
            for (int64_t b = 0; b < nsb; b++) {
                uint8_t *out = dst + ((size_t)g * (size_t)nsb + (size_t)b) * out_bytes;
                memset(out + codes, 0, out_bytes - codes);
                for (int r = 0; r < 8; r++) {
                    const uint8_t *raw =
                        src + (size_t)(8 * g + r) * w->row_bytes + (size_t)b * blk_bytes;
                    uint8_t u[256]; /* the codes (blocks.h): Q3_K's u = q + 4, Q2_K's q */
                    for (int i = 0; i < 256; i++) {
                        int c = i / 128, j = (i % 128) / 32, l = i % 32;
                        const uint8_t *qs = q3 ? ((const block_q3_k *)(const void *)raw)->qs
                                               : ((const block_q2_k *)(const void *)raw)->qs;
                        u[i] = (uint8_t)((qs[32 * c + l] >> (2 * j)) & 3);
                        if (q3)
                            u[i] |= (uint8_t)(((((const block_q3_k *)(const void *)raw)->hmask[l] >>
                                                (4 * c + j)) &
                                               1)
                                              << 2);
                    }
                    if (q3) {
                        const block_q3_k *blk = (const block_q3_k *)(const void *)raw;
                        memcpy(out + 2 * r, &blk->d, 2);
                        for (int sb = 0; sb < 16; sb++) {
                            int lo = sb < 8 ? blk->scales[sb] & 15 : blk->scales[sb - 8] >> 4;
                            int hi = (blk->scales[8 + sb % 4] >> (2 * (sb / 4))) & 3;
                            out[16 + 8 * sb + r] = (uint8_t)(int8_t)((lo | hi << 4) - 32);
                        }
                    } else {
                        const block_q2_k *blk = (const block_q2_k *)(const void *)raw;
                        memcpy(out + 2 * r, &blk->d, 2);
                        memcpy(out + 16 + 2 * r, &blk->dmin, 2);
                        for (int sb = 0; sb < 16; sb++) out[32 + 8 * sb + r] = blk->scales[sb];
                    }
                    for (int q = 0; q < 2; q++) /* chunk 4q + j in bits 2j, 2j + 1 */
                        for (int h = 0; h < 8; h++)
                            for (int e = 0; e < 4; e++)
                                for (int j = 0; j < 4; j++)
                                    out[codes + 32 * (8 * q + h) + 4 * r + e] |=
                                        (uint8_t)((u[32 * (4 * q + j) + 4 * h + e] & 3) << (2 * j));
                    for (int h = 0; q3 && h < 8; h++) /* Q3_K's third bits: chunk c in bit c */
                        for (int e = 0; e < 4; e++)
                            for (int c = 0; c < 8; c++)
                                out[144 + 512 + 32 * h + 4 * r + e] |=
                                    (uint8_t)((u[32 * c + 4 * h + e] >> 2) << c);
                }
            }
        return;
    }
    if (w->type == DTYPE_Q6_K) { /* layout: x86/gemm_vnni.c */
        for (int64_t g = g0; g < g1; g++)
            for (int64_t b = 0; b < nsb; b++) {
                uint8_t *out = dst + ((size_t)g * (size_t)nsb + (size_t)b) * KERN_R8_Q6K_BYTES;
                memset(out + 144 + 1024, 0, 512);
                for (int r = 0; r < 8; r++) {
                    const block_q6_k *blk =
                        (const block_q6_k *)(const void *)(src +
                                                           (size_t)(8 * g + r) * w->row_bytes) +
                        b;
                    memcpy(out + 2 * r, &blk->d, 2);
                    for (int sb = 0; sb < 16; sb++) out[16 + 8 * sb + r] = (uint8_t)blk->scales[sb];
                    uint8_t u[256]; /* the 6-bit codes (blocks.h) */
                    for (int i = 0; i < 256; i++) {
                        int c = i / 128, gg = (i % 128) / 32, l = i % 32;
                        uint8_t qlb = blk->ql[64 * c + l + 32 * (gg & 1)];
                        uint8_t low = gg < 2 ? qlb & 15 : qlb >> 4;
                        u[i] = (uint8_t)(low | ((blk->qh[32 * c + l] >> (2 * gg)) & 3) << 4);
                    }
                    for (int p = 0; p < 4; p++)
                        for (int h = 0; h < 8; h++)
                            for (int e = 0; e < 4; e++) {
                                int i0 = 64 * p + 4 * h + e, i1 = i0 + 32; /* chunks 2p, 2p+1 */
                                out[144 + 32 * (8 * p + h) + 4 * r + e] =
                                    (uint8_t)((u[i0] & 15) | (u[i1] & 15) << 4);
                            }
                    for (int q = 0; q < 2; q++)
                        for (int h = 0; h < 8; h++)
                            for (int e = 0; e < 4; e++) {
                                uint8_t v = 0;
                                for (int j = 0; j < 4; j++) /* chunk 4q + j */
                                    v |= (uint8_t)((u[32 * (4 * q + j) + 4 * h + e] >> 4)
                                                   << (2 * j));
                                out[144 + 1024 + 32 * (8 * q + h) + 4 * r + e] = v;
                            }
                }
            }
        return;
    }
    /* Q4_K and Q5_K (layouts: x86/gemm_vnni.c); a Q5_K block is Q4_K's fields with qh[32]
     * before qs */
    bool q5 = w->type == DTYPE_Q5_K;
    size_t blk_bytes = q5 ? sizeof(block_q5_k) : sizeof(block_q4_k);
    size_t out_bytes = q5 ? KERN_R8_Q5K_BYTES : KERN_R8_Q4K_BYTES;
    for (int64_t g = g0; g < g1; g++)
        for (int64_t b = 0; b < nsb; b++) {
            uint8_t *out = dst + ((size_t)g * (size_t)nsb + (size_t)b) * out_bytes;
            for (int r = 0; r < 8; r++) {
                const uint8_t *raw =
                    src + (size_t)(8 * g + r) * w->row_bytes + (size_t)b * blk_bytes;
                const block_q4_k *blk = (const block_q4_k *)(const void *)raw; /* d, dmin, scales */
                const uint8_t *qs = q5 ? ((const block_q5_k *)(const void *)raw)->qs : blk->qs;
                memcpy(out + 2 * r, &blk->d, 2);
                memcpy(out + 16 + 2 * r, &blk->dmin, 2);
                for (int s = 0; s < 8; s++)
                    q4k_scale_min(blk->scales, s, &out[32 + 8 * s + r], &out[96 + 8 * s + r]);
                /* elements 4h..4h+3 of sub-blocks 2c (low nibbles of qs[32c + 4h ..]) and 2c + 1
                 * (high nibbles of the same bytes): whole 4-byte groups */
                for (int c = 0; c < 4; c++)
                    for (int h = 0; h < 8; h++)
                        memcpy(out + 160 + 32 * (8 * c + h) + 4 * r, qs + 32 * c + 4 * h, 4);
                /* Q5_K: the fifth bits of elements 4h..4h+3 of every sub-block, qh[4h ..] */
                for (int h = 0; q5 && h < 8; h++)
                    memcpy(out + KERN_R8_Q4K_BYTES + 32 * h + 4 * r,
                           ((const block_q5_k *)(const void *)raw)->qh + 4 * h, 4);
            }
        }
}

void kern_matmul(kern_ctx *kc, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                 int64_t n_tok, float *y, int64_t ldy)
{
    kern_mm mm = {w, mat, x, ldx, n_tok, y, ldy};
    kern_matmul_multi(kc, &mm, 1);
}

void kern_rmsnorm(float *dst, const float *x, const float *weight, int64_t n, float eps)
{
    double ss = 0; /* double: a 7168-wide sum of squares in float loses ~4 digits */
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) dst[i] = x[i] * scale * weight[i];
}

void kern_swiglu(float *g, const float *u, int64_t n)
{
    const kern_backend_t *be = kern_backend();
    float t[256];
    for (int64_t i0 = 0; i0 < n; i0 += 256) {
        int64_t m = n - i0 < 256 ? n - i0 : 256;
        for (int64_t i = 0; i < m; i++) t[i] = -g[i0 + i];
        be->exp_f32(t, t, m);
        for (int64_t i = 0; i < m; i++) g[i0 + i] = g[i0 + i] / (1.0f + t[i]) * u[i0 + i];
    }
}

void kern_softmax(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}
