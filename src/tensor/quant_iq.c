/* quant_iq.c — quantization to the lattice types IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
 * IQ3_S (block layouts in blocks.h, dequantization in quant.c).
 *
 * Our own search, exhaustive over each type's lattice. A super-block of 256 is cut into scale
 * groups (16 or 32 elements, one scale code each) made of lattice rows (8 or 4 elements, one grid
 * index each). For a row with targets t_j (IQ2/IQ3: magnitudes, the signs stored apart; IQ1: the
 * values) and importance weights w_j, the error of grid row k at scale d is
 *     E(k, d) = d² · Σ w g_kj² − 2d · Σ w g_kj t_j + const,
 * so both sums are computed once per (row, k) and any number of candidate scales cost one
 * multiply-add per (row, k). Each group takes the best of a sweep of scales plus a least-squares
 * refit; then the group scales are coded against one fp16 super-block scale (odd multiples:
 * every type's group scale is D · c · (2u + 1)) and every row's index is chosen again under its
 * coded scale, which is what the file will hold.
 *
 * Signs: IQ2_XXS, IQ2_XS and IQ3_XXS store 7 sign bits per 8 elements, the 8th is implied by even
 * parity; when the signs of x have odd parity the element cheapest to get wrong (least w · x²)
 * is flipped, so its target becomes −|x| (the lattice is positive: it goes toward the smallest
 * magnitude). IQ2_S and IQ3_S store all 8 sign bits. IQ1 values are −1, 0, 1 shifted by ±1/8:
 * the shift's sign is one more choice (per group for IQ1_S, per row for IQ1_M).
 *
 * Cost: 2 · 8 multiply-adds per (row, grid entry) plus one per (row, entry, scale tried):
 * exhaustive and slow for IQ2_S/IQ1 (1024/2048 entries) — fine for the tiny models the project
 * makes and tests, minutes for a 1.5B model. */
#include "tensor/quant_iq.h"

#include "tensor/blocks.h"
#include "tensor/iq_tables.h"
#include "tensor/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct iq_kind {
    const void *grid; /* uint64_t rows (width 8) or uint32_t rows (width 4) */
    int n_grid, width;
    int group;  /* elements per scale code */
    int umax;   /* scale codes 0..umax */
    float c;    /* group scale = D · c · (2u + 1) */
    int parity; /* 1: 7 stored sign bits per 8 elements (even parity) */
    int iq1;    /* 1: values -1, 0, 1 ± IQ1_DELTA (signs in the grid), 2 = IQ1_M */
} iq_kind;

static bool kind_of(dtype t, iq_kind *k)
{
    switch (t) {
    case DTYPE_IQ2_XXS:
        *k = (iq_kind){iq2xxs_grid, 256, 8, 32, 15, 0.125f, 1, 0};
        return true;
    case DTYPE_IQ2_XS:
        *k = (iq_kind){iq2xs_grid, 512, 8, 16, 15, 0.125f, 1, 0};
        return true;
    case DTYPE_IQ2_S:
        *k = (iq_kind){iq2s_grid, 1024, 8, 16, 15, 0.125f, 0, 0};
        return true;
    case DTYPE_IQ3_XXS:
        *k = (iq_kind){iq3xxs_grid, 256, 4, 32, 15, 0.25f, 1, 0};
        return true;
    case DTYPE_IQ3_S:
        *k = (iq_kind){iq3s_grid, 512, 4, 32, 15, 1.0f, 0, 0};
        return true;
    case DTYPE_IQ1_S:
        *k = (iq_kind){iq1s_grid, 2048, 8, 32, 7, 1.0f, 0, 1};
        return true;
    case DTYPE_IQ1_M:
        *k = (iq_kind){iq1s_grid, 2048, 8, 16, 7, 1.0f, 0, 2};
        return true;
    default:
        return false;
    }
}

/* Value j of grid row r as a float (IQ1: the int8 lattice value, without the shift). */
static float grid_value(const iq_kind *k, int r, int j)
{
    if (k->width == 8) {
        const uint64_t g = ((const uint64_t *)k->grid)[r];
        return k->iq1 ? (float)(int8_t)(g >> (8 * j)) : (float)(uint8_t)(g >> (8 * j));
    }
    return (float)(uint8_t)(((const uint32_t *)k->grid)[r] >> (8 * j));
}

/* Scratch for one super-block: the grid as floats and, per row and shift, the two sums. */
typedef struct iq_scratch {
    float *g;     /* the grid transposed: g[j · n_grid + q] = value j of row q */
    float *a, *b; /* [n_shift][n_rows][n_grid]: Σ w h², Σ w h t (h = g + shift) */
    int n_rows, n_shift;
} iq_scratch;

typedef float v4f __attribute__((vector_size(16))); /* native SSE2 / NEON operations */
typedef int32_t v4i __attribute__((vector_size(16)));

/* Sums for every row of the super-block (targets t, weights w) and each shift: with h = g + δ,
 * Σ w h² = Σ w g² + 2δ Σ w g + δ² Σ w and Σ w h t = Σ w g t + δ Σ w t, so three sums over the
 * lattice serve both shifts. Vectorized over grid entries (4 at a time). */
static void row_sums(const iq_kind *k, const iq_scratch *s, const float *t, const float *w)
{
    const int W = k->width, N = k->n_grid;
    for (int r = 0; r < s->n_rows; r++) {
        const float *tr = t + r * W, *wr = w + r * W;
        float sw = 0, swt = 0;
        for (int j = 0; j < W; j++) {
            sw += wr[j];
            swt += wr[j] * tr[j];
        }
        float *a0 = s->a + (size_t)r * N, *b0 = s->b + (size_t)r * N;
        float *a1 = s->n_shift > 1 ? s->a + ((size_t)s->n_rows + r) * N : NULL;
        float *b1 = s->n_shift > 1 ? s->b + ((size_t)s->n_rows + r) * N : NULL;
        const float dl = k->iq1 ? IQ1_DELTA : 0.0f;
        for (int q = 0; q < N; q += 4) {
            v4f saa = {0, 0, 0, 0}, sg = saa, sgt = saa;
            for (int j = 0; j < W; j++) {
                v4f g;
                memcpy(&g, s->g + (size_t)j * N + q, sizeof g);
                const v4f wj = {wr[j], wr[j], wr[j], wr[j]};
                const v4f wt = {wr[j] * tr[j], wr[j] * tr[j], wr[j] * tr[j], wr[j] * tr[j]};
                const v4f wg = wj * g;
                saa += wg * g;
                sg += wg;
                sgt += wt * g;
            }
            if (!k->iq1) {
                memcpy(a0 + q, &saa, sizeof saa);
                memcpy(b0 + q, &sgt, sizeof sgt);
                continue;
            }
            /* shift 0 is +δ, shift 1 is −δ */
            const v4f two_d = {2 * dl, 2 * dl, 2 * dl, 2 * dl};
            const v4f c = {dl * dl * sw, dl * dl * sw, dl * dl * sw, dl * dl * sw};
            const v4f e = {dl * swt, dl * swt, dl * swt, dl * swt};
            const v4f ap = saa + two_d * sg + c, am = saa - two_d * sg + c;
            const v4f bp = sgt + e, bm = sgt - e;
            memcpy(a0 + q, &ap, sizeof ap);
            memcpy(b0 + q, &bp, sizeof bp);
            memcpy(a1 + q, &am, sizeof am);
            memcpy(b1 + q, &bm, sizeof bm);
        }
    }
}

/* Best grid row (and shift, for IQ1_M; IQ1_S passes a fixed shift) of row r at scale d: returns
 * the error up to the constant Σ w t². */
static float best_row(const iq_kind *k, const iq_scratch *s, int r, float d, int sh0, int sh1,
                      int *q_out, int *sh_out)
{
    float best = INFINITY;
    int bq = 0, bs = sh0;
    for (int sh = sh0; sh <= sh1; sh++) {
        const float *a = s->a + ((size_t)sh * s->n_rows + r) * k->n_grid;
        const float *b = s->b + ((size_t)sh * s->n_rows + r) * k->n_grid;
        /* 8 running minima (entry q in lane q % 8), as two 4-lane GCC/clang vectors (native
         * SSE2 / NEON operations, no dependency chain); then the smallest, ties to the lowest
         * index, as one sequential scan would give */
        const v4f dv = {d, d, d, d}, two = {2, 2, 2, 2};
        v4f b0 = {INFINITY, INFINITY, INFINITY, INFINITY}, b1 = b0;
        v4i q0v = {0, 1, 2, 3}, q1v = {4, 5, 6, 7}, c0 = q0v, c1 = q1v;
        const v4i eight = {8, 8, 8, 8};
        for (int q0 = 0; q0 < k->n_grid; q0 += 8, c0 += eight, c1 += eight) {
            v4f a0, a1, g0, g1;
            memcpy(&a0, a + q0, sizeof a0);
            memcpy(&a1, a + q0 + 4, sizeof a1);
            memcpy(&g0, b + q0, sizeof g0);
            memcpy(&g1, b + q0 + 4, sizeof g1);
            const v4f e0 = dv * (dv * a0 - two * g0), e1 = dv * (dv * a1 - two * g1);
            const v4i l0 = e0 < b0, l1 = e1 < b1; /* -1 where smaller */
            b0 = (v4f)((l0 & (v4i)e0) | (~l0 & (v4i)b0));
            b1 = (v4f)((l1 & (v4i)e1) | (~l1 & (v4i)b1));
            q0v = (l0 & c0) | (~l0 & q0v);
            q1v = (l1 & c1) | (~l1 & q1v);
        }
        float lb[8];
        int32_t lq[8];
        memcpy(lb, &b0, sizeof b0);
        memcpy(lb + 4, &b1, sizeof b1);
        memcpy(lq, &q0v, sizeof q0v);
        memcpy(lq + 4, &q1v, sizeof q1v);
        for (int l = 0; l < 8; l++)
            if (lb[l] < best || (lb[l] == best && sh == bs && lq[l] < bq)) {
                best = lb[l];
                bq = lq[l];
                bs = sh;
            }
    }
    *q_out = bq;
    *sh_out = bs;
    return best;
}

/* Error of a whole group (rows r0 .. r0 + nr - 1) at scale d, choosing each row's index (and the
 * shift: per group for IQ1_S, per row for IQ1_M). Fills q[] and sh[] for those rows. */
static float group_error(const iq_kind *k, const iq_scratch *s, int r0, int nr, float d, int *q,
                         int *sh)
{
    if (k->iq1 == 1) { /* one shift for the group: try both */
        float best = INFINITY;
        int bq[8] = {0}, bs = 0;
        for (int c = 0; c < 2; c++) {
            float e = 0;
            int qq[8] = {0}, ss;
            for (int r = 0; r < nr; r++) e += best_row(k, s, r0 + r, d, c, c, &qq[r], &ss);
            if (c == 0 || e < best) { /* the first always: a NaN sum must not leave bq unset */
                best = e;
                bs = c;
                memcpy(bq, qq, sizeof bq);
            }
        }
        for (int r = 0; r < nr; r++) {
            q[r0 + r] = bq[r];
            sh[r0 + r] = bs;
        }
        return best;
    }
    float e = 0;
    const int sh1 = k->iq1 == 2 ? 1 : 0;
    for (int r = 0; r < nr; r++) e += best_row(k, s, r0 + r, d, 0, sh1, &q[r0 + r], &sh[r0 + r]);
    return e;
}

/* Least-squares scale for fixed indices and shifts: Σ b / Σ a over the group's rows. */
static float group_lsq(const iq_kind *k, const iq_scratch *s, int r0, int nr, const int *q,
                       const int *sh)
{
    float num = 0, den = 0;
    for (int r = r0; r < r0 + nr; r++) {
        const size_t o = ((size_t)sh[r] * s->n_rows + r) * k->n_grid + q[r];
        num += s->b[o];
        den += s->a[o];
    }
    return den > 0 ? num / den : 0.0f;
}

#define IQ_SCALE_STEPS 8

/* Quantize one super-block of 256 values x (weights w) of kind k into the type's block. */
static void quantize_superblock(dtype type, const iq_kind *k, const iq_scratch *s, const float *x,
                                const float *w, void *out)
{
    const int W = k->width, R = 256 / W, rows_per_group = k->group / W, G = 256 / k->group;
    float t[256];
    uint8_t neg[256]; /* element stored with a minus sign (IQ2/IQ3) */
    for (int i = 0; i < 256; i++) {
        neg[i] = !k->iq1 && x[i] < 0;
        t[i] = k->iq1 ? x[i] : fabsf(x[i]);
    }
    if (k->parity) /* even count of minus signs per 8: flip the cheapest element if odd */
        for (int i0 = 0; i0 < 256; i0 += 8) {
            int cnt = 0, cheap = i0;
            for (int i = i0; i < i0 + 8; i++) {
                cnt += neg[i];
                if (w[i] * x[i] * x[i] < w[cheap] * x[cheap] * x[cheap]) cheap = i;
            }
            if (cnt & 1) {
                neg[cheap] ^= 1;
                t[cheap] = -t[cheap];
            }
        }
    row_sums(k, s, t, w);

    /* 1. the best float scale of each group */
    /* the sweep spans from the largest target on the largest lattice value to the largest
     * target on the smallest nonzero one (a flat group wants the smallest row) */
    float gmax = 0, gmin = INFINITY;
    for (int q = 0; q < k->n_grid * W; q++) {
        gmax = fmaxf(gmax, fabsf(s->g[q]));
        if (s->g[q] != 0) gmin = fminf(gmin, fabsf(s->g[q]));
    }
    if (k->iq1) {
        gmax = 1.0f + IQ1_DELTA;
        gmin = 1.0f - IQ1_DELTA;
    }
    const float span = logf(1.1f * gmax / (0.6f * gmin));
    float dg[32];
    int q[64], sh[64];
    for (int g = 0; g < G; g++) {
        const int r0 = g * rows_per_group;
        float amax = 0;
        for (int i = g * k->group; i < (g + 1) * k->group; i++) amax = fmaxf(amax, fabsf(t[i]));
        dg[g] = 0;
        if (amax == 0) continue;
        float best = INFINITY;
        for (int st = 0; st <= IQ_SCALE_STEPS; st++) {
            const float d = 0.6f * amax / gmax * expf(span * (float)st / IQ_SCALE_STEPS);
            const float e = group_error(k, s, r0, rows_per_group, d, q, sh);
            if (e < best) {
                best = e;
                dg[g] = d;
            }
            /* refit the scale to the indices this candidate chose */
            const float d2 = group_lsq(k, s, r0, rows_per_group, q, sh);
            if (d2 > 0) {
                const float e2 = group_error(k, s, r0, rows_per_group, d2, q, sh);
                if (e2 < best) {
                    best = e2;
                    dg[g] = d2;
                }
            }
        }
    }

    /* 2. code the group scales: dg ≈ D' · (2u + 1), D' = D · c with D stored as fp16 */
    float dmax = 0;
    for (int g = 0; g < G; g++) dmax = fmaxf(dmax, dg[g]);
    const uint16_t dh = f32_to_fp16(dmax / (float)(2 * k->umax + 1) / k->c);
    const float dp = fp16_to_f32(dh) * k->c;
    int u[32];
    for (int g = 0; g < G; g++) {
        int v = dp > 0 ? (int)lrintf((dg[g] / dp - 1.0f) * 0.5f) : 0;
        u[g] = v < 0 ? 0 : v > k->umax ? k->umax : v;
        /* 3. the indices under the coded scale */
        group_error(k, s, g * rows_per_group, rows_per_group, dp * (float)(2 * u[g] + 1), q, sh);
    }

    /* 4. pack */
    switch (type) {
    case DTYPE_IQ2_XXS: {
        block_iq2_xxs b = {.d = dh};
        for (int g = 0; g < 8; g++) {
            uint32_t a0 = 0, a1 = (uint32_t)u[g] << 28;
            for (int l = 0; l < 4; l++) {
                a0 |= (uint32_t)q[4 * g + l] << (8 * l);
                unsigned sg = 0;
                for (int j = 0; j < 7; j++) sg |= (unsigned)neg[32 * g + 8 * l + j] << j;
                a1 |= (uint32_t)sg << (7 * l);
            }
            memcpy(&b.qs[4 * g], &a0, 4);
            memcpy(&b.qs[4 * g + 2], &a1, 4);
        }
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ2_XS: {
        block_iq2_xs b = {.d = dh};
        for (int r = 0; r < 32; r++) {
            unsigned sg = 0;
            for (int j = 0; j < 7; j++) sg |= (unsigned)neg[8 * r + j] << j;
            b.qs[r] = (uint16_t)(q[r] | sg << 9);
        }
        for (int h = 0; h < 16; h++) b.scales[h / 2] |= (uint8_t)(u[h] << (4 * (h % 2)));
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ2_S: {
        block_iq2_s b = {.d = dh};
        for (int r = 0; r < 32; r++) {
            b.qs[r] = (uint8_t)q[r];
            b.qh[r / 4] |= (uint8_t)((q[r] >> 8) << (2 * (r % 4)));
            unsigned sg = 0;
            for (int j = 0; j < 8; j++) sg |= (unsigned)neg[8 * r + j] << j;
            b.qs[32 + r] = (uint8_t)sg;
        }
        for (int h = 0; h < 16; h++) b.scales[h / 2] |= (uint8_t)(u[h] << (4 * (h % 2)));
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ3_XXS: {
        block_iq3_xxs b = {.d = dh};
        for (int r = 0; r < 64; r++) b.qs[r] = (uint8_t)q[r];
        for (int g = 0; g < 8; g++) {
            uint32_t a = (uint32_t)u[g] << 28;
            for (int l = 0; l < 4; l++) {
                unsigned sg = 0;
                for (int j = 0; j < 7; j++) sg |= (unsigned)neg[32 * g + 8 * l + j] << j;
                a |= (uint32_t)sg << (7 * l);
            }
            memcpy(&b.qs[64 + 4 * g], &a, 4);
        }
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ3_S: {
        block_iq3_s b = {.d = dh};
        for (int r = 0; r < 64; r++) {
            b.qs[r] = (uint8_t)q[r];
            b.qh[r / 8] |= (uint8_t)((q[r] >> 8) << (r % 8));
        }
        for (int i = 0; i < 256; i++) b.signs[i / 8] |= (uint8_t)(neg[i] << (i % 8));
        for (int g = 0; g < 8; g++) b.scales[g / 2] |= (uint8_t)(u[g] << (4 * (g % 2)));
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ1_S: {
        block_iq1_s b = {.d = dh};
        for (int g = 0; g < 8; g++) {
            unsigned qh = (unsigned)u[g] << 12 | (unsigned)sh[4 * g] << 15;
            for (int l = 0; l < 4; l++) {
                b.qs[4 * g + l] = (uint8_t)q[4 * g + l];
                qh |= (unsigned)(q[4 * g + l] >> 8) << (3 * l);
            }
            b.qh[g] = (uint16_t)qh;
        }
        memcpy(out, &b, sizeof b);
        break;
    }
    case DTYPE_IQ1_M: {
        block_iq1_m b;
        memset(&b, 0, sizeof b);
        uint16_t sc[4] = {0};
        for (int r = 0; r < 32; r++) {
            b.qs[r] = (uint8_t)q[r];
            const unsigned nib = (unsigned)(q[r] >> 8) | (unsigned)sh[r] << 3;
            b.qh[r / 2] |= (uint8_t)(nib << (4 * (r % 2)));
        }
        for (int h = 0; h < 16; h++) sc[h / 4] |= (uint16_t)(u[h] << (3 * (h % 4)));
        sc[0] |= (uint16_t)((dh & 0x000f) << 12);
        sc[1] |= (uint16_t)((dh & 0x00f0) << 8);
        sc[2] |= (uint16_t)((dh & 0x0f00) << 4);
        sc[3] |= (uint16_t)(dh & 0xf000);
        memcpy(b.scales, sc, sizeof sc);
        memcpy(out, &b, sizeof b);
        break;
    }
    default:
        break;
    }
    (void)R;
}

bool quant_iq_is_lattice(dtype type)
{
    iq_kind k;
    return kind_of(type, &k);
}

bool quant_iq_quantize_row(dtype type, const float *x, void *dst, int64_t n, const float *imatrix)
{
    iq_kind k;
    if (!kind_of(type, &k) || n % 256 != 0) return false;
    iq_scratch s = {.n_rows = 256 / k.width, .n_shift = k.iq1 ? 2 : 1};
    const size_t per = (size_t)s.n_shift * (size_t)s.n_rows * (size_t)k.n_grid;
    s.g = malloc((size_t)k.n_grid * (size_t)k.width * sizeof(float));
    s.a = malloc(per * sizeof(float));
    s.b = malloc(per * sizeof(float));
    if (!s.g || !s.a || !s.b) {
        free(s.g);
        free(s.a);
        free(s.b);
        return false;
    }
    for (int r = 0; r < k.n_grid; r++)
        for (int j = 0; j < k.width; j++) s.g[(size_t)j * k.n_grid + r] = grid_value(&k, r, j);
    const size_t bb = (size_t)dtype_get((uint32_t)type)->block_bytes;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *xb = x + 256 * i;
        /* importance: the activation statistics of each column where given (imatrix), times how
         * much the element matters in its own row (rms of the super-block + |x|) */
        float w[256], s2 = 0;
        for (int j = 0; j < 256; j++) s2 += xb[j] * xb[j];
        const float rms = sqrtf(s2 / 256.0f);
        for (int j = 0; j < 256; j++) {
            const float im = imatrix ? imatrix[256 * i + j] : 1.0f;
            w[j] = (im > 0 ? im : 0) * (rms + fabsf(xb[j])) + 1e-30f;
        }
        quantize_superblock(type, &k, &s, xb, w, (uint8_t *)dst + (size_t)i * bb);
    }
    free(s.g);
    free(s.a);
    free(s.b);
    return true;
}

/* splitmix64: a tiny, well-mixed generator for random blocks (no global state) */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Where a block keeps its fp16 scale: one uint16 at offset 0, or IQ1_M's four top nibbles. */
static void set_block_scale(dtype type, uint8_t *blk, uint16_t dh)
{
    if (type != DTYPE_IQ1_M) {
        memcpy(blk, &dh, 2);
        return;
    }
    uint16_t sc[4];
    memcpy(sc, blk + 48, sizeof sc);
    for (int i = 0; i < 4; i++) sc[i] = (uint16_t)((sc[i] & 0x0fff) | ((dh >> (4 * i)) & 15) << 12);
    memcpy(blk + 48, sc, sizeof sc);
}

bool quant_iq_random_row(dtype type, uint64_t seed, float rms, void *dst, int64_t n)
{
    iq_kind k;
    if (!kind_of(type, &k) || n % 256 != 0 || !(rms >= 0)) return false;
    const size_t bb = (size_t)dtype_get((uint32_t)type)->block_bytes;
    uint64_t st = seed;
    float y[256];
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t *blk = (uint8_t *)dst + (size_t)i * bb;
        for (size_t o = 0; o < bb; o += 8) {
            const uint64_t r = splitmix(&st);
            memcpy(blk + o, &r, bb - o < 8 ? bb - o : 8);
        }
        set_block_scale(type, blk, 0x3c00); /* 1.0: measure the block's own spread */
        quant_dequantize_row(type, blk, y, 256);
        double s2 = 0;
        for (int j = 0; j < 256; j++) s2 += (double)y[j] * y[j];
        const double r = sqrt(s2 / 256);
        set_block_scale(type, blk, f32_to_fp16(r > 0 ? (float)(rms / r) : 0.0f));
    }
    return true;
}
