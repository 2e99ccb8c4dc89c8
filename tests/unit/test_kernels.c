/* test_kernels.c — every kernel variant against the scalar reference, on odd sizes.
 * - activation quantizers: every backend produces the same bytes as the scalar one;
 * - vec_dot of every weight type: each backend equals the scalar integer kernel up to float
 *   summation order (relative 1e-5), and the scalar kernel equals the fp32 dot over exactly
 *   dequantized values up to the 8-bit activation rounding (relative 3e-2 of |w|·|x|);
 * - kern_matmul: outputs NaN-poisoned first, all written, identical for 1 and 3 threads;
 * - repacked Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K (R8, VNNI): equal the scalar kernels up to float
 * summation order (relative 1e-5 of Σ|w·x|), bit-identical whatever the number of tokens per call
 * and the thread count, through kern_matmul too;
 * - R16 float matmul (F32, F16, BF16 weights): bit-identical with a plain fmaf chain in every
 *   backend, vector width, tiling and thread count; within fp32 rounding of the exact product. */
#include "base/rng.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_iq.h"
#include "test.h"

static void fill(rng *g, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) x[i] = scale * (2.0f * rng_uniform(g) - 1.0f);
}

/* Largest |out − exact| of kern_attention's output against a plain two-pass softmax in double:
 * H heads of q (dk values each, dk apart), n_keys rows of kv (stride floats apart: key at 0, value
 * at 8), scale 0.3, outputs dv apart. sc: n_keys doubles of scratch. */
static double attention_error_at(const float *q, int H, int dk, const float *kv, int stride,
                                 int v_off, int n_keys, int dv, const float *out, double *sc);
static double attention_error(const float *q, int H, int dk, const float *kv, int stride,
                              int n_keys, int dv, const float *out, double *sc)
{
    return attention_error_at(q, H, dk, kv, stride, 8, n_keys, dv, out, sc);
}

/* The same with values at v_off floats after each key. */
static double attention_error_at(const float *q, int H, int dk, const float *kv, int stride,
                                 int v_off, int n_keys, int dv, const float *out, double *sc)
{
    double worst = 0;
    for (int h = 0; h < H; h++) {
        double mx = -1e300, sum = 0;
        for (int u = 0; u < n_keys; u++) {
            double d = 0;
            for (int j = 0; j < dk; j++) d += (double)q[h * dk + j] * kv[u * stride + j];
            sc[u] = 0.3 * d;
            mx = fmax(mx, sc[u]);
        }
        for (int u = 0; u < n_keys; u++) sum += (sc[u] = exp(sc[u] - mx));
        for (int j = 0; j < dv; j++) {
            double o = 0;
            for (int u = 0; u < n_keys; u++) o += sc[u] / sum * kv[u * stride + v_off + j];
            worst = fmax(worst, fabs(o - out[h * dv + j]));
        }
    }
    return worst;
}

int main(void)
{
    const kern_backend_t *bes[8];
    int n_be = kern_backends_available(bes, 8);
    const kern_backend_t *scalar = NULL;
    for (int i = 0; i < n_be; i++)
        if (!strcmp(bes[i]->name, "scalar")) scalar = bes[i];
    CHECK(scalar != NULL);
    printf("backends:");
    for (int i = 0; i < n_be; i++) printf(" %s", bes[i]->name);
    printf("\n");
    rng g;
    rng_seed(&g, 1234);
    const int blocks[] = {1, 3, 7, 17, 33};
    static float w[256 * 33], x[256 * 33], wd[256 * 33];
    static uint8_t wq[256 * 33 * 2], xq[2][256 * 33 * 2];
    for (int t = 0; t < DTYPE_COUNT; t++) {
        if (!scalar || !scalar->ops[t].vec_dot) continue;
        const dtype_traits *tr = dtype_get((uint32_t)t);
        int vt = scalar->ops[t].vec_dot_type;
        int bs = vt == DTYPE_Q8_K ? 256 : 32;
        for (int k = 0; k < 5; k++) {
            int64_t n = (int64_t)blocks[k] * (bs > tr->block_size ? bs : tr->block_size);
            fill(&g, w, n, 1.0f);
            fill(&g, x, n, 3.0f);
            CHECK(quant_quantize_row((dtype)t, w, wq, n));
            quant_dequantize_row((dtype)t, wq, wd, n);
            double exact = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)wd[i] * x[i];
                mag += fabs((double)wd[i] * x[i]);
            }
            (vt == DTYPE_Q8_K ? scalar->quantize_q8_k : scalar->quantize_q8_0)(x, xq[0], n);
            float ref = scalar->ops[t].vec_dot(wq, xq[0], n);
            CHECKF(fabs(ref - exact) <= 3e-2 * mag, "%s n=%lld: scalar %g vs exact %g", tr->name,
                   (long long)n, ref, exact);
            size_t qbytes = vt == DTYPE_Q8_K ? (size_t)(n / 256) * 292 : (size_t)(n / 32) * 34;
            for (int b = 0; b < n_be; b++) {
                if (!bes[b]->ops[t].vec_dot) continue;
                kern_quantize_fn q =
                    vt == DTYPE_Q8_K ? bes[b]->quantize_q8_k : bes[b]->quantize_q8_0;
                memset(xq[1], 0xAB, qbytes);
                q(x, xq[1], n);
                CHECKF(!memcmp(xq[0], xq[1], qbytes), "%s: %s quantizer differs from scalar",
                       bes[b]->name, vt == DTYPE_Q8_K ? "Q8_K" : "Q8_0");
                float got = bes[b]->ops[t].vec_dot(wq, xq[1], n);
                CHECKF(fabs(got - ref) <= 1e-5 * mag + 1e-6, "%s %s n=%lld: %g vs scalar %g",
                       bes[b]->name, tr->name, (long long)n, got, ref);
                /* the lattice types' kernels sum a super-block as integers and then follow the
                 * scalar's float expression: the same bits */
                if (quant_iq_is_lattice((dtype)t))
                    CHECKF(!memcmp(&got, &ref, sizeof got), "%s %s n=%lld: %.9g, scalar %.9g",
                           bes[b]->name, tr->name, (long long)n, got, ref);
                if (bes[b]->ops[t].vec_dot_x4) {
                    /* 4 activation rows at once: bit-identical with 4 single calls */
                    static uint8_t x4[4][256 * 33 * 2];
                    static float xr[256 * 33];
                    float out[4];
                    for (int k = 0; k < 4; k++) {
                        fill(&g, xr, n, 2.0f);
                        q(xr, x4[k], n);
                    }
                    bes[b]->ops[t].vec_dot_x4(wq, x4[0], sizeof x4[0], n, out);
                    for (int k = 0; k < 4; k++) {
                        float one = bes[b]->ops[t].vec_dot(wq, x4[k], n);
                        CHECKF(!memcmp(&one, &out[k], sizeof one), "%s %s x4 row %d: %g vs %g",
                               bes[b]->name, tr->name, k, out[k], one);
                    }
                }
            }
        }
    }
    /* fp32 dot on odd sizes */
    for (int n = 1; n < 300; n += 7) {
        fill(&g, w, n, 1.0f);
        fill(&g, x, n, 1.0f);
        double exact = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            exact += (double)w[i] * x[i];
            mag += fabs((double)w[i] * x[i]);
        }
        float first = bes[0]->dot_f32(w, x, n);
        for (int b = 0; b < n_be; b++) {
            float got = bes[b]->dot_f32(w, x, n);
            CHECKF(fabs(got - exact) <= 1e-6 * mag + 1e-7, "%s dot_f32 n=%d", bes[b]->name, n);
            /* the fp32 helpers' summation order is part of the spec: same bits everywhere */
            CHECKF(!memcmp(&got, &first, sizeof got), "%s dot_f32 n=%d not bit-identical",
                   bes[b]->name, n);
            float y0[300], y1[300];
            memcpy(y0, x, sizeof(float) * (size_t)n);
            memcpy(y1, x, sizeof(float) * (size_t)n);
            bes[0]->axpy_f32(y0, 0.37f, w, n);
            bes[b]->axpy_f32(y1, 0.37f, w, n);
            CHECKF(!memcmp(y0, y1, sizeof(float) * (size_t)n), "%s axpy n=%d", bes[b]->name, n);
            /* fp16 / bf16 operands: identical to fp32 over the converted values, every backend */
            uint16_t h[300], bh[300];
            float hf[300], bf[300];
            for (int i = 0; i < n; i++) {
                h[i] = f32_to_fp16(w[i]);
                hf[i] = fp16_to_f32(h[i]);
                bh[i] = f32_to_bf16(w[i]);
                bf[i] = bf16_to_f32(bh[i]);
            }
            /* Q8_0 operand: identical to fp32 over the dequantized values d·q */
            if (n % 32 == 0) {
                static uint8_t q8[10 * 34];
                float qf[320];
                quant_quantize_row(DTYPE_Q8_0, w, q8, n);
                for (int i = 0; i < n; i++) {
                    const uint8_t *blk = q8 + (i / 32) * 34;
                    uint16_t dh;
                    memcpy(&dh, blk, 2);
                    qf[i] = fp16_to_f32(dh) * (float)(int8_t)blk[2 + i % 32];
                }
                float dq = bes[b]->dot_q8(x, q8, n), df = bes[b]->dot_f32(x, qf, n);
                CHECKF(!memcmp(&dq, &df, 4), "%s dot_q8 n=%d", bes[b]->name, n);
                memcpy(y0, x, sizeof(float) * (size_t)n);
                memcpy(y1, x, sizeof(float) * (size_t)n);
                bes[b]->axpy_q8(y0, 0.37f, q8, n);
                bes[b]->axpy_f32(y1, 0.37f, qf, n);
                CHECKF(!memcmp(y0, y1, sizeof(float) * (size_t)n), "%s axpy_q8 n=%d", bes[b]->name,
                       n);
            }
            float d16 = bes[b]->dot_f16(x, h, n), d32 = bes[b]->dot_f32(x, hf, n);
            float db16 = bes[b]->dot_bf16(x, bh, n), db32 = bes[b]->dot_f32(x, bf, n);
            CHECKF(!memcmp(&d16, &d32, 4) && !memcmp(&db16, &db32, 4), "%s dot_f16/bf16 n=%d",
                   bes[b]->name, n);
            memcpy(y0, x, sizeof(float) * (size_t)n);
            memcpy(y1, x, sizeof(float) * (size_t)n);
            bes[b]->axpy_f16(y0, 0.37f, h, n);
            bes[b]->axpy_f32(y1, 0.37f, hf, n);
            CHECKF(!memcmp(y0, y1, sizeof(float) * (size_t)n), "%s axpy_f16 n=%d", bes[b]->name, n);
        }
    }
    /* repacked Q8_0 and Q4_K: the backend's VNNI kernels on odd sizes */
    const kern_backend_t *be = kern_backend();
    const dtype r8_types[10] = {DTYPE_Q8_0, DTYPE_Q4_0, DTYPE_Q5_0, DTYPE_Q4_K,   DTYPE_Q5_K,
                                DTYPE_Q6_K, DTYPE_Q3_K, DTYPE_Q2_K, DTYPE_IQ4_XS, DTYPE_IQ4_NL};
    for (int ti = 0; ti < 10; ti++) {
        dtype ty = r8_types[ti];
        if (!be->gemm_r8[ty]) {
            printf("no AVX-VNNI: repacked %s kernel not tested\n", dtype_get(ty)->name);
            continue;
        }
        bool k = ty == DTYPE_Q4_K || ty == DTYPE_Q5_K || ty == DTYPE_Q6_K || ty == DTYPE_Q3_K ||
                 ty == DTYPE_Q2_K || ty == DTYPE_IQ4_XS; /* Q8_K activations */
        int bsz = k ? 256 : 32;
        kern_quantize_fn quant = k ? scalar->quantize_q8_k : scalar->quantize_q8_0;
        size_t xblk = k ? 292 : 34;
        for (int shape = 0; shape < 6; shape++) {
            enum { T = 70 }; /* past the 16-row kernels' 8-token tiles and 64-token calls */
            int64_t rows = shape % 2 ? 24 : 8, cols = bsz * (shape < 2 ? 1 : shape < 4 ? 3 : 7);
            int64_t nb = cols / 32, nbl = cols / bsz;
            size_t row_bytes = dtype_row_bytes(ty, cols), xrow = (size_t)nbl * xblk;
            wmat w = {.type = ty,
                      .n_rows = rows,
                      .n_cols = cols,
                      .n_mats = 1,
                      .row_bytes = row_bytes,
                      .mat_bytes = (size_t)rows * row_bytes};
            size_t r8_bytes = kern_r8_mat_bytes(&w);
            CHECK(r8_bytes > 0);
            uint8_t *wq8 = malloc((size_t)rows * row_bytes), *r8 = malloc(r8_bytes);
            uint8_t *xq8 = malloc(T * xrow);
            int16_t *xs = malloc(T * (size_t)nb * sizeof *xs);
            float *wr = malloc((size_t)cols * sizeof *wr), *xf = malloc(T * (size_t)cols * 4);
            float *yb = malloc(T * (size_t)rows * 4), *y1 = malloc(T * (size_t)rows * 4);
            for (int64_t r = 0; r < rows; r++) {
                fill(&g, wr, cols, 1.0f);
                quant_quantize_row(ty, wr, wq8 + (size_t)r * row_bytes, cols);
            }
            w.data = wq8;
            fill(&g, xf, T * cols, 2.0f);
            for (int t = 0; t < T; t++) {
                quant(xf + t * cols, xq8 + (size_t)t * xrow, cols);
                for (int64_t b = 0; b < nb && !k; b++) {
                    const int8_t *q = (const int8_t *)(xq8 + (size_t)t * xrow + b * 34 + 2);
                    int sum = 0;
                    for (int j = 0; j < 32; j++) sum += q[j];
                    xs[t * nb + b] = (int16_t)sum;
                }
            }
            kern_repack_r8(&w, 0, r8);
            size_t gb = r8_bytes / (size_t)(rows / 8);
            for (int64_t gr = 0; gr < rows / 8; gr++) {
                const uint8_t *grp = r8 + (size_t)gr * gb;
                be->gemm_r8[ty](grp, cols, xq8, xrow, xs, (size_t)nb, T, yb + 8 * gr, rows);
                for (int t = 0; t < T; t++)
                    be->gemm_r8[ty](grp, cols, xq8 + (size_t)t * xrow, xrow, xs + t * nb,
                                    (size_t)nb, 1, y1 + t * rows + 8 * gr, rows);
            }
            CHECKF(!memcmp(yb, y1, T * (size_t)rows * sizeof *yb),
                   "R8 %s %lldx%lld: 70 tokens per call differ from one at a time",
                   dtype_get(ty)->name, (long long)rows, (long long)cols);
            /* 16 rows at once: the same bits, for batches of every size (the kernels switch
             * loop orders at 16 tokens) */
            const int x2_tokens[] = {1, 5, 9, 15, 16, 23, 64, T};
            for (int xi = 0; xi < 8 && be->gemm_r8x2[ty] && rows >= 16; xi++) {
                int nt = x2_tokens[xi];
                for (int64_t i = 0; i < T * rows; i++) y1[i] = NAN;
                be->gemm_r8x2[ty](r8, gb, cols, xq8, xrow, xs, (size_t)nb, nt, y1, rows);
                int bad = 0;
                for (int t = 0; t < nt; t++)
                    bad += memcmp(y1 + t * rows, yb + t * rows, 16 * sizeof *yb) != 0;
                CHECKF(!bad, "R8x2 %s %lldx%lld, %d tokens, differs from two R8 calls",
                       dtype_get(ty)->name, (long long)rows, (long long)cols, nt);
            }
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int64_t r = 0; r < rows; r++) {
                    const uint8_t *wrow = wq8 + (size_t)r * row_bytes;
                    float ref = scalar->ops[ty].vec_dot(wrow, xq8 + (size_t)t * xrow, cols);
                    quant_dequantize_row(ty, wrow, wr, cols);
                    double mag = 0;
                    for (int64_t c = 0; c < cols; c++)
                        mag += fabs((double)wr[c] * xf[t * cols + c]);
                    double e = fabs(yb[t * rows + r] - ref) / (mag + 1e-30);
                    if (e > worst) worst = e;
                }
            CHECKF(worst <= 1e-5, "R8 %s %lldx%lld vs scalar: relative %.2e", dtype_get(ty)->name,
                   (long long)rows, (long long)cols, worst);
            /* through kern_matmul, 1 and 3 threads, equal to the calls above */
            threadpool *p1 = threadpool_new(1), *p3 = threadpool_new(3);
            kern_ctx c1, c3;
            CHECK(kern_ctx_init(&c1, p1, T * cols) && kern_ctx_init(&c3, p3, T * cols));
            w.r8 = r8;
            w.r8_mat_bytes = r8_bytes;
            float *ym1 = malloc(T * (size_t)rows * 4), *ym3 = malloc(T * (size_t)rows * 4);
            for (int64_t i = 0; i < T * rows; i++) ym1[i] = ym3[i] = NAN;
            kern_matmul(&c1, &w, 0, xf, cols, T, ym1, rows);
            kern_matmul(&c3, &w, 0, xf, cols, T, ym3, rows);
            CHECKF(!memcmp(ym1, yb, T * (size_t)rows * 4) && !memcmp(ym3, yb, T * (size_t)rows * 4),
                   "R8 %s through kern_matmul", dtype_get(ty)->name);
            kern_ctx_free(&c1);
            kern_ctx_free(&c3);
            threadpool_free(p1);
            threadpool_free(p3);
            free(ym1);
            free(ym3);
            free(wq8);
            free(r8);
            free(xq8);
            free(xs);
            free(wr);
            free(xf);
            free(yb);
            free(y1);
        }
    }
    /* the lattice types decoded 16 rows at a time (gemm_dec): the same bits as the scalar
     * vec_dot for every (row, token), whatever the tokens per call; through kern_matmul too
     * (rows past the last whole group of 16 go to vec_dot), on 1 and 3 threads */
    if (!be->gemm_dec) printf("no AVX512-VNNI: decoded lattice kernel not tested\n");
    const dtype dec_types[7] = {DTYPE_IQ1_S, DTYPE_IQ1_M,   DTYPE_IQ2_XXS, DTYPE_IQ2_XS,
                                DTYPE_IQ2_S, DTYPE_IQ3_XXS, DTYPE_IQ3_S};
    for (int ti = 0; ti < 7 && be->gemm_dec; ti++) {
        dtype ty = dec_types[ti];
        CHECK(kern_dec_type(ty));
        for (int shape = 0; shape < 3; shape++) {
            enum { T = 37 }; /* past the 8-token tiles, not a multiple of them */
            int64_t rows = shape == 1 ? 40 : 16, cols = 256 * (shape == 0 ? 1 : shape == 1 ? 3 : 7);
            size_t row_bytes = dtype_row_bytes(ty, cols), xrow = (size_t)(cols / 256) * 292;
            uint8_t *wq = malloc((size_t)rows * row_bytes), *xq = malloc(T * xrow);
            uint8_t *dec = malloc((size_t)(cols / 256) * KERN_DEC_BLOCK_BYTES);
            float *xf = malloc(T * (size_t)cols * 4), *yd = malloc(T * (size_t)rows * 4);
            float *yr = malloc(T * (size_t)rows * 4), *ym = malloc(T * (size_t)rows * 4);
            for (int64_t r = 0; r < rows; r++)
                CHECK(quant_iq_random_row(ty, 1000u * (uint64_t)ti + 17u * (uint64_t)r + 3u, 0.05f,
                                          wq + (size_t)r * row_bytes, cols));
            fill(&g, xf, T * cols, 2.0f);
            for (int t = 0; t < T; t++) scalar->quantize_q8_k(xf + t * cols, xq + t * xrow, cols);
            for (int t = 0; t < T; t++)
                for (int64_t r = 0; r < rows; r++)
                    yr[t * rows + r] =
                        scalar->ops[ty].vec_dot(wq + (size_t)r * row_bytes, xq + t * xrow, cols);
            const kern_dec_info info = kern_dec_info_of(ty);
            const int per_call[] = {1, 3, 8, 9, T};
            for (int pc = 0; pc < 5; pc++) {
                for (int64_t i = 0; i < T * rows; i++) yd[i] = NAN;
                for (int64_t gr = 0; gr < rows / 16; gr++) {
                    kern_dec_rows(ty, wq + (size_t)(16 * gr) * row_bytes, row_bytes, cols, dec);
                    for (int t0 = 0; t0 < T; t0 += per_call[pc]) {
                        int nt = T - t0 < per_call[pc] ? T - t0 : per_call[pc];
                        be->gemm_dec(dec, cols, &info, xq + t0 * xrow, xrow, nt,
                                     yd + t0 * rows + 16 * gr, rows);
                    }
                }
                int bad = 0;
                for (int t = 0; t < T; t++)
                    bad += memcmp(yd + t * rows, yr + t * rows, (size_t)(rows / 16) * 64) != 0;
                CHECKF(!bad,
                       "decoded %s %lldx%lld, %d tokens per call: %d tokens differ from "
                       "the scalar vec_dot (first: %.9g vs %.9g)",
                       dtype_get(ty)->name, (long long)rows, (long long)cols, per_call[pc], bad,
                       yd[0], yr[0]);
            }
            wmat w = {.type = ty,
                      .data = wq,
                      .n_rows = rows,
                      .n_cols = cols,
                      .n_mats = 1,
                      .row_bytes = row_bytes,
                      .mat_bytes = (size_t)rows * row_bytes};
            for (int nth = 1; nth <= 3; nth += 2) {
                threadpool *p = threadpool_new(nth);
                kern_ctx c;
                CHECK(p && kern_ctx_init(&c, p, T * cols));
                for (int64_t i = 0; i < T * rows; i++) ym[i] = NAN;
                kern_matmul(&c, &w, 0, xf, cols, T, ym, rows);
                /* the backend's own vec_dot has the scalar's bits (checked above) */
                CHECKF(!memcmp(ym, yr, T * (size_t)rows * 4),
                       "decoded %s %lldx%lld through kern_matmul, %d threads", dtype_get(ty)->name,
                       (long long)rows, (long long)cols, nth);
                kern_ctx_free(&c);
                threadpool_free(p);
            }
            free(wq);
            free(xq);
            free(dec);
            free(xf);
            free(yd);
            free(yr);
            free(ym);
        }
    }
    /* exp_f32: every backend gives kern_expf's bits; kern_expf is within 2 ulp of e^x where the
     * result is normal, 0 below the range, e^88 above it */
    {
        enum { N = 20011 };
        static float ex[N], ey[N];
        for (int i = 0; i < N; i++) ex[i] = -100.0f + 200.0f * (float)i / (N - 1);
        ex[0] = -INFINITY, ex[1] = INFINITY, ex[2] = NAN, ex[3] = 0.0f, ex[4] = -0.0f;
        ex[5] = KERN_EXP_LO, ex[6] = KERN_EXP_HI, ex[7] = 1e-30f;
        double worst = 0;
        for (int i = 0; i < N; i++) {
            float y = kern_expf(ex[i]);
            double e = exp((double)ex[i]);
            if (ex[i] >= KERN_EXP_LO && ex[i] <= KERN_EXP_HI) {
                double ulp = ldexp(1.0, ilogb(e) - 23), err = fabs(y - e) / ulp;
                worst = err > worst ? err : worst;
            } else if (ex[i] < KERN_EXP_LO || isnan(ex[i])) {
                CHECKF(y == 0.0f, "kern_expf(%g) = %g, want 0", ex[i], y);
            } else {
                CHECKF(y == kern_expf(KERN_EXP_HI), "kern_expf(%g) = %g", ex[i], y);
            }
        }
        CHECKF(worst <= 2.0, "kern_expf is %.2f ulp from exp", worst);
        for (int b = 0; b < n_be; b++) {
            for (int n = 1; n <= N; n += n < 20 ? 1 : 4999) {
                memset(ey, 0xAB, sizeof ey);
                bes[b]->exp_f32(ey, ex, n);
                int bad = 0;
                for (int i = 0; i < n; i++) {
                    float want = kern_expf(ex[i]);
                    bad += memcmp(&ey[i], &want, 4) != 0;
                }
                CHECKF(!bad, "%s exp_f32 n=%d: %d values differ from kern_expf", bes[b]->name, n,
                       bad);
            }
        }
    }

    /* attention block kernels: every backend (and on x86 both register tilings) gives the
     * reference's bits, for every cache type, head count, row count and width around the tile
     * sizes; and the reference is the exact dot product / sum up to fp32 rounding */
    {
        const kern_backend_t *abes[10];
        int n_abe = 0;
        for (int b = 0; b < n_be; b++) abes[n_abe++] = bes[b];
#if defined(__x86_64__)
        kern_backend_t extra[3];
        for (int b = 0; b < n_be; b++)
            if (!strcmp(bes[b]->name, "avx2")) { /* the tiling this CPU does not pick, too */
                extra[0] = *bes[b];
                kern_backend_add_attn_avx2(&extra[0]);
                abes[n_abe++] = &extra[0];
                extra[1] = *bes[b];
                if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
                    kern_backend_add_attn_evex(&extra[1]);
                    abes[n_abe++] = &extra[1];
                    extra[2] = *bes[b];
                    kern_backend_add_attn_avx512(&extra[2]);
                    abes[n_abe++] = &extra[2];
                }
            }
#endif
        enum { NH = 11, NK = 11, DMAX = 160 };
        static float aq[NH * DMAX], av[NK * DMAX], p[NH * 16], o_ref[NH * DMAX], o[NH * DMAX];
        static float s_ref[NH * 16], s_b[NH * 16];
        static uint8_t cache[NK * (DMAX * 4 + 64)];
        const int dks[] = {5, 8, 13, 32, 64, 100, 160};
        const dtype kts[] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_Q8_0};
        for (int ti = 0; ti < 4; ti++)
            for (int di = 0; di < 7; di++) {
                dtype t = kts[ti];
                int d = dks[di];
                if (t == DTYPE_Q8_0 && d % 32) continue;
                size_t rb = dtype_row_bytes(t, d), stride = rb + 64; /* rows not packed */
                fill(&g, aq, NH * d, 1.0f);
                fill(&g, av, NK * d, 2.0f);
                fill(&g, p, NH * 16, 1.0f);
                for (int j = 0; j < NK; j++) {
                    CHECK(quant_quantize_row(t, av + j * d, cache + j * stride, d));
                    quant_dequantize_row(t, cache + j * stride, av + j * d, d); /* as cached */
                }
                for (int nh = 1; nh <= NH; nh++) /* every tail of the 8-head, 2-head tiles */
                    for (int nk = 1; nk <= NK; nk += 3) {
                        kern_attn_scores_ref(t, aq, d, nh, cache, stride, nk, d, s_ref, 16);
                        for (int h = 0; h < nh; h++)
                            for (int j = 0; j < nk; j++) {
                                double e = 0, m = 0;
                                for (int i = 0; i < d; i++) {
                                    e += (double)aq[h * d + i] * av[j * d + i];
                                    m += fabs((double)aq[h * d + i] * av[j * d + i]);
                                }
                                CHECKF(fabs(s_ref[h * 16 + j] - e) <= 1e-6 * m + 1e-30,
                                       "attn score %s d=%d: %g vs %g", dtype_get(t)->name, d,
                                       s_ref[h * 16 + j], e);
                            }
                        for (int i = 0; i < nh * d; i++) o_ref[i] = (float)(i % 7) - 3.0f;
                        kern_attn_accum_ref(t, o_ref, d, nh, p, 16, cache, stride, nk, d);
                        for (int b = 0; b < n_abe; b++) {
                            for (int i = 0; i < NH * 16; i++) s_b[i] = NAN;
                            abes[b]->attn_scores(t, aq, d, nh, cache, stride, nk, d, s_b, 16);
                            int bad = 0;
                            for (int h = 0; h < nh; h++)
                                bad +=
                                    memcmp(s_b + h * 16, s_ref + h * 16, nk * sizeof(float)) != 0;
                            for (int i = 0; i < nh * d; i++) o[i] = (float)(i % 7) - 3.0f;
                            abes[b]->attn_accum(t, o, d, nh, p, 16, cache, stride, nk, d);
                            bad += memcmp(o, o_ref, (size_t)(nh * d) * sizeof(float)) != 0;
                            CHECKF(!bad,
                                   "attn blocks (%s #%d) %s d=%d heads=%d rows=%d differ from the "
                                   "reference",
                                   abes[b]->name, b, dtype_get(t)->name, d, nh, nk);
                        }
                    }
            }
    }

    /* long contexts (many blocks, the cache past L2): the double-precision softmax within 1e-5 */
    {
        enum { H = 3, DK = 40, DV = 24, STRIDE = 48, NMAX = 17000 };
        static float q[H * DK], kv[NMAX * STRIDE], out[H * DV], scratch[4096];
        static double sc[NMAX];
        CHECK(kern_attention_scratch_floats(H, DK, DV) <= 4096);
        fill(&g, q, H * DK, 0.5f);
        fill(&g, kv, NMAX * STRIDE, 1.0f);
        const int lens[] = {1024, 1025, 3000, 17000};
        for (int li = 0; li < 4; li++) {
            int n_keys = lens[li];
            kern_attention(q, H, DK, DK, kv, kv + 8, DTYPE_F32, STRIDE, n_keys, DV, 0.3f, out, DV,
                           scratch);
            double worst = attention_error(q, H, DK, kv, STRIDE, n_keys, DV, out, sc);
            CHECKF(worst < 1e-5, "attention n_keys=%d differs by %.3e", n_keys, worst);
        }
    }

    /* fused attention vs a plain two-pass softmax in double, across block boundaries */
    for (int n_keys = 1; n_keys <= 200; n_keys += 13) {
        enum { H = 3, DK = 40, DV = 24, STRIDE = 48 };
        static float q[H * DK], kv[200 * STRIDE], out[H * DV], scratch[4096];
        fill(&g, q, H * DK, 1.0f);
        fill(&g, kv, 200 * STRIDE, 1.0f);
        for (int i = 0; i < H * DV; i++) out[i] = NAN;
        kern_attention(q, H, DK, DK, kv, kv + 8, DTYPE_F32, STRIDE, n_keys, DV, 0.3f, out, DV,
                       scratch);
        CHECK(kern_attention_scratch_floats(H, DK, DV) <= 4096);
        double sc[200];
        double worst = attention_error(q, H, DK, kv, STRIDE, n_keys, DV, out, sc);
        CHECKF(worst < 1e-5, "attention n_keys=%d differs by %.3e", n_keys, worst);
        /* fp16 / bf16 caches: the same attention over the rounded keys and values */
        for (int ti = 0; ti < 2; ti++) {
            dtype t = ti ? DTYPE_BF16 : DTYPE_F16;
            static uint16_t kv16[200 * STRIDE];
            static float kvr[200 * STRIDE], ref[H * DV];
            for (int i = 0; i < 200 * STRIDE; i++) {
                kv16[i] = ti ? f32_to_bf16(kv[i]) : f32_to_fp16(kv[i]);
                kvr[i] = ti ? bf16_to_f32(kv16[i]) : fp16_to_f32(kv16[i]);
            }
            kern_attention(q, H, DK, DK, kvr, kvr + 8, DTYPE_F32, STRIDE, n_keys, DV, 0.3f, ref, DV,
                           scratch);
            kern_attention(q, H, DK, DK, kv16, kv16 + 8, t, STRIDE, n_keys, DV, 0.3f, out, DV,
                           scratch);
            CHECKF(!memcmp(ref, out, sizeof ref),
                   "%s attention n_keys=%d differs from fp32 over "
                   "the same rounded values",
                   ti ? "bf16" : "f16", n_keys);
        }
    }

    /* bf16 dot products (a BF16 cache on a CPU with AVX512-BF16): each backend that has them gives
     * the spec's bits (ref/attn_bf16_ref.c) for heads around the 16 lanes, odd key counts, a
     * row of MLA's width, and bf16 denormals among the values */
    {
        enum { NH = 33, NK = 32, DKM = 576, DVM = 512 };
        static uint16_t kv16[NK * DKM];
        static float q[NH * DKM], p[NH * NK], s_ref[NH * NK], s_b[NH * NK], o_ref[NH * DVM],
            o_b[NH * DVM];
        static uint32_t qp[3 * 16 * DKM / 2], pp_ref[NH * NK / 2], pp_b[NH * NK / 2];
        int n_bf = 0;
        for (int b = 0; b < n_be; b++) {
            if (!bes[b]->attn_scores_bf16) continue;
            n_bf++;
            const int nhs[] = {1, 7, 16, 17, 33}, nks[] = {1, 2, 15, 16, 17, 31, 32},
                      dks[] = {2, 64, 576}, dvs[] = {32, 512};
            for (int a = 0; a < 5; a++)
                for (int c = 0; c < 7; c++)
                    for (int e = 0; e < 3; e++)
                        for (int f = 0; f < 2; f++) {
                            int nh = nhs[a], nk = nks[c], dk = dks[e], dv = dvs[f];
                            if (dv > dk && dk != 576) dv = 32;
                            for (int i = 0; i < NK * DKM; i++) {
                                float x = 2.0f * rng_uniform(&g) - 1.0f;
                                kv16[i] = i % 97 == 5 ? (uint16_t)(i % 2 ? 0x0003 : 0x8040)
                                                      : f32_to_bf16(x);
                            }
                            fill(&g, q, NH * DKM, 1.0f);
                            for (int i = 0; i < NH * NK; i++) p[i] = rng_uniform(&g);
                            /* a denormal, two ties (to even: down, up), a carry into the exponent
                             */
                            q[1] = 1e-40f;
                            q[3] = 1.00390625f;
                            q[dk - 1] = -1.01171875f;
                            q[dk] = 1.9999999f;
                            kern_attn_pack_q_bf16(q, dk, nh, dk, qp);
                            static uint32_t qp_b[3 * 16 * DKM / 2];
                            memset(qp_b, 0xee, sizeof qp_b);
                            bes[b]->attn_pack_q_bf16(q, dk, nh, dk, qp_b);
                            int bad_q = memcmp(qp_b, qp,
                                               (size_t)(nh + 15) / 16 * 16 * (dk / 2) *
                                                   sizeof(uint32_t)) != 0;
                            kern_attn_scores_bf16_ref(qp, nh, kv16, (size_t)dk * 2, nk, dk, s_ref,
                                                      NK);
                            for (int i = 0; i < NH * NK; i++) s_b[i] = NAN;
                            bes[b]->attn_scores_bf16(qp, nh, kv16, (size_t)dk * 2, nk, dk, s_b, NK);
                            int bad = bad_q;
                            for (int h = 0; h < nh; h++)
                                bad +=
                                    memcmp(s_b + h * NK, s_ref + h * NK, nk * sizeof(float)) != 0;
                            memset(pp_ref, 0xee, sizeof pp_ref);
                            memset(pp_b, 0xee, sizeof pp_b);
                            kern_attn_pack_p_bf16(p, NK, nh, nk, pp_ref, NK / 2);
                            bes[b]->attn_pack_p_bf16(p, NK, nh, nk, pp_b, NK / 2);
                            for (int h = 0; h < nh; h++)
                                bad += memcmp(pp_b + h * NK / 2, pp_ref + h * NK / 2,
                                              (size_t)(nk + 1) / 2 * 4) != 0;
                            fill(&g, o_ref, NH * DVM, 1.0f);
                            memcpy(o_b, o_ref, sizeof o_b);
                            kern_attn_accum_bf16_ref(o_ref, dv, nh, pp_ref, NK / 2, kv16,
                                                     (size_t)dk * 2, nk, dv);
                            bes[b]->attn_accum_bf16(o_b, dv, nh, pp_ref, NK / 2, kv16,
                                                    (size_t)dk * 2, nk, dv);
                            bad += memcmp(o_b, o_ref, (size_t)nh * dv * sizeof(float)) != 0;
                            CHECKF(!bad,
                                   "bf16 attention blocks (%s) heads=%d rows=%d dk=%d dv=%d "
                                   "differ from the spec",
                                   bes[b]->name, nh, nk, dk, dv);
                        }
        }
        if (!n_bf) printf("# skipped: no backend with bf16 dot products (AVX512-BF16) here\n");
    }

    /* kern_attention over a BF16 cache with bf16 dot products, MLA's shape (16 heads, rows of
     * 576 with the first 512 as values): within 4e-3 of the exact attention over the same
     * bf16 values (measured 8e-4 here). Why that bound: rounding the query to bf16 moves each
     * product by ≤ 2^-9 of itself, so a score (scale 0.3, |q| ≤ 0.2, |k| ≤ 1, 576 terms of
     * random sign) by about 0.3 · 2^-9 · 0.2 · 0.5 · √576 ≈ 1.4e-3 (≤ 0.034 at worst), the
     * probabilities by as much relatively, and rounding them adds 2^-9 relatively; an output
     * (values in [-1, 1]) is a weighted mean, so it moves by about that much. The fp32
     * arithmetic over the same cache is within 1e-5 (the test above). */
    if (kern_backend()->attn_scores_bf16) {
        enum { H = 16, DK = 576, DV = 512 };
        static float q[H * DK], kvr[1100 * DK], out[H * DV], scratch[65536];
        static uint16_t kv16[1100 * DK];
        static double sc[1100];
        CHECK(kern_attention_scratch_floats(H, DK, DV) <= 65536);
        fill(&g, q, H * DK, 0.2f);
        for (int i = 0; i < 1100 * DK; i++) {
            kv16[i] = f32_to_bf16(2.0f * rng_uniform(&g) - 1.0f);
            kvr[i] = bf16_to_f32(kv16[i]);
        }
        const int lens[] = {1, 31, 33, 700, 1100};
        double worst_all = 0;
        for (int li = 0; li < 5; li++) {
            kern_attention(q, H, DK, DK, kv16, kv16, DTYPE_BF16, DK, lens[li], DV, 0.3f, out, DV,
                           scratch);
            double worst = attention_error_at(q, H, DK, kvr, DK, 0, lens[li], DV, out, sc);
            worst_all = worst > worst_all ? worst : worst_all;
            CHECKF(worst < 4e-3, "bf16-dot attention n_keys=%d differs by %.3e", lens[li], worst);
        }
        printf("# bf16-dot attention: largest error %.2e (bound 4e-3)\n", worst_all);
    }

    /* split-K: a cache attended in parts (kern_attention_part) and merged equals the whole
     * attention within 1e-5 of the exact one, for cuts at, inside and around blocks */
    {
        enum { H = 5, DK = 40, DV = 24, STRIDE = 48, N = 1500 };
        static float q[H * DK], kv[N * STRIDE], out[H * DV], part[4 * H * DV], mx[4 * H],
            sum[4 * H], scratch[4096];
        static double sc[N];
        fill(&g, q, H * DK, 1.0f);
        fill(&g, kv, N * STRIDE, 1.0f);
        const int cuts[][4] = {{1, 2, 3, 1500},
                               {32, 64, 96, 1500},
                               {31, 700, 701, 1500},
                               {500, 1000, 1499, 1500},
                               {1, 1, 1, 2}};
        for (int ci = 0; ci < 5; ci++) {
            int u0 = 0;
            for (int c = 0; c < 4; c++) {
                int u1 = cuts[ci][c];
                kern_attention_part(q, H, DK, DK, kv + (int64_t)u0 * STRIDE,
                                    kv + (int64_t)u0 * STRIDE + 8, DTYPE_F32, STRIDE, u1 - u0, DV,
                                    0.3f, part + c * H * DV, DV, mx + c * H, sum + c * H, scratch);
                u0 = u1;
            }
            for (int i = 0; i < H * DV; i++) out[i] = NAN;
            kern_attention_merge(part, 4, H * DV, DV, mx, sum, H, H, DV, out, DV);
            double worst = attention_error(q, H, DK, kv, STRIDE, u0, DV, out, sc);
            CHECKF(worst < 1e-5, "split attention (cuts %d) differs by %.3e", ci, worst);
        }
    }

    /* prefill attention (MLA's decompressed form): every backend's block kernel (and on x86
     * the AVX2 one where the CPU picks AVX-512) gives the reference's bits for query counts,
     * key counts, widths and visibility around the 16-lane vectors and tiles, from a fresh or
     * a running softmax state; and kern_attention_prefill is the causal softmax attention within
     * 1e-5 (double-precision reference over each query's own keys) */
    {
        enum { Q = KERN_PREFILL_Q, DKM = 200, DVM = 136, ST = 352 };
        const kern_backend_t *pbes[10];
        int n_pbe = 0;
        for (int b = 0; b < n_be; b++) pbes[n_pbe++] = bes[b];
#if defined(__x86_64__)
        kern_backend_t pextra[1];
        for (int b = 0; b < n_be; b++)
            if (!strcmp(bes[b]->name, "avx2") &&
                bes[b]->attn_prefill_block != kern_attn_prefill_block_ref) {
                pextra[0] = *bes[b];
                kern_backend_add_prefill_avx2(&pextra[0]);
                if (pextra[0].attn_prefill_block != bes[b]->attn_prefill_block)
                    pbes[n_pbe++] = &pextra[0];
            }
#endif
        static float qt[DKM * Q], kv[Q * ST], o_ref[DVM * Q], o_b[DVM * Q], ob[DVM * Q],
            s_ref[Q * Q], s_b[Q * Q];
        float m0[Q], l0[Q], m_ref[Q], l_ref[Q], m_b[Q], l_b[Q];
        const int nqs[] = {1, 5, 16, 17, 31, 32}, nks[] = {1, 7, 16, 32},
                  dks[] = {1, 7, 16, 40, 192}, dvs[] = {1, 15, 16, 33, 128},
                  viss[] = {-40, 0, 1, 9, 32};
        int n_cases = 0;
        for (int a = 0; a < 6; a++)
            for (int b2 = 0; b2 < 4; b2++)
                for (int c2 = 0; c2 < 5; c2++)
                    for (int e = 0; e < 5; e++)
                        for (int f = 0; f < 5; f++)
                            for (int fresh = 0; fresh < 2; fresh++) {
                                int n_q = nqs[a], n_k = nks[b2], dk = dks[c2], dv = dvs[e],
                                    vis = viss[f];
                                if ((a + b2 + c2 + e + f + fresh) % 3) continue; /* a third */
                                n_cases++;
                                fill(&g, qt, DKM * Q, 1.0f);
                                fill(&g, kv, Q * ST, 1.0f);
                                fill(&g, o_ref, DVM * Q, 1.0f);
                                for (int i = 0; i < Q; i++) {
                                    m0[i] = fresh ? -INFINITY : 2.0f * rng_uniform(&g) - 0.5f;
                                    l0[i] = fresh ? 0.0f : 1.0f + rng_uniform(&g);
                                }
                                memcpy(o_b, o_ref, sizeof o_b);
                                memcpy(m_ref, m0, sizeof m0);
                                memcpy(l_ref, l0, sizeof l0);
                                kern_attn_prefill_block_ref(qt, n_q, dk, kv, kv + dk, ST, n_k, dv,
                                                            0.3f, vis, m_ref, l_ref, o_ref, s_ref);
                                for (int b = 0; b < n_pbe; b++) {
                                    memcpy(ob, o_b, sizeof ob);
                                    memcpy(m_b, m0, sizeof m0);
                                    memcpy(l_b, l0, sizeof l0);
                                    pbes[b]->attn_prefill_block(qt, n_q, dk, kv, kv + dk, ST, n_k,
                                                                dv, 0.3f, vis, m_b, l_b, ob, s_b);
                                    int bad = 0;
                                    for (int i = 0; i < n_q; i++) {
                                        bad += memcmp(&m_b[i], &m_ref[i], 4) != 0;
                                        bad += memcmp(&l_b[i], &l_ref[i], 4) != 0;
                                        for (int x = 0; x < dv; x++)
                                            bad +=
                                                memcmp(&ob[x * Q + i], &o_ref[x * Q + i], 4) != 0;
                                    }
                                    /* outputs past dv untouched */
                                    bad += memcmp(ob + dv * Q, o_b + dv * Q,
                                                  (size_t)(DVM - dv) * Q * 4) != 0;
                                    CHECKF(!bad,
                                           "prefill block (%s #%d) n_q=%d n_k=%d dk=%d dv=%d "
                                           "vis=%d %s: %d differ from the reference",
                                           pbes[b]->name, b, n_q, n_k, dk, dv, vis,
                                           fresh ? "fresh" : "running", bad);
                                }
                            }
        CHECK(n_cases > 100);

        enum { NMAX = 300, DK = 40, DV = 24, STRIDE = 64 };
        static float q[Q * DK], kvl[NMAX * STRIDE], out[Q * DV];
        static float scratch[(DK + DV + Q + 2) * Q];
        double sc[NMAX];
        CHECK(kern_attention_prefill_scratch_floats(DK, DV) <= (int64_t)(sizeof scratch / 4));
        fill(&g, q, Q * DK, 1.0f);
        fill(&g, kvl, NMAX * STRIDE, 1.0f);
        const int pq[] = {1, 5, 31, 32}, pk[] = {1, 20, 32, 33, 64, 69, 300};
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 7; b++) {
                int n_q = pq[a], n_keys = pk[b];
                if (n_q > n_keys) continue;
                for (int i = 0; i < Q * DV; i++) out[i] = NAN;
                kern_attention_prefill(q, n_q, DK, DK, kvl, kvl + DK, STRIDE, n_keys, DV, 0.3f, out,
                                       DV, scratch);
                double worst = 0;
                for (int i = 0; i < n_q; i++) {
                    int own = n_keys - n_q + 1 + i; /* the keys query i sees */
                    double w = attention_error_at(q + i * DK, 1, DK, kvl, STRIDE, DK, own, DV,
                                                  out + i * DV, sc);
                    worst = w > worst ? w : worst;
                }
                CHECKF(worst < 1e-5, "prefill attention n_q=%d n_keys=%d differs by %.3e", n_q,
                       n_keys, worst);
            }
    }

    /* matmul: every output written, thread count does not matter */
    threadpool *p1 = threadpool_new(1), *p3 = threadpool_new(3);
    kern_ctx c1, c3;
    CHECK(kern_ctx_init(&c1, p1, 5 * 512) && kern_ctx_init(&c3, p3, 5 * 512));

    /* R16 float matmul (F32, F16, BF16 weights): every backend (and on x86 both vector widths)
     * gives exactly the chain of fmaf in column order written out here, for row counts around
     * the 16-row groups and the 8-group decode tile, token counts around the 6-token tile and the
     * 64-token block; through kern_matmul too, with and without the repacked copy, 1 or 3
     * threads. And that chain is the exact dot product up to fp32 rounding: |err| <= n_cols ·
     * 2^-24 · Σ|w·x| (each of n_cols roundings at most half an ulp of a partial sum bounded by
     * Σ|w·x|, times 2 for slack). */
    {
        const kern_backend_t *fbes[10];
        int n_fbe = 0;
        for (int b = 0; b < n_be; b++) fbes[n_fbe++] = bes[b];
#if defined(__x86_64__)
        kern_backend_t fx[2];
        for (int b = 0; b < n_be; b++)
            if (!strcmp(bes[b]->name, "avx2")) { /* the width this CPU does not pick, too */
                fx[0] = *bes[b];
                kern_backend_add_gemm_float_avx2(&fx[0]);
                fbes[n_fbe++] = &fx[0];
                if (__builtin_cpu_supports("avx512f")) {
                    fx[1] = *bes[b];
                    kern_backend_add_gemm_float_avx512(&fx[1]);
                    fbes[n_fbe++] = &fx[1];
                }
            }
#endif
        enum { RMAX = 200, CMAX = 131, TMAX = 70 };
        static float fw[RMAX * CMAX], fwv[RMAX * CMAX], fxs[TMAX * CMAX];
        static float fy_ref[TMAX * RMAX], fy[TMAX * RMAX], fy2[TMAX * RMAX];
        static uint8_t fwb[RMAX * CMAX * 4], fpack[(RMAX + 15) / 16 * 16 * CMAX * 4];
        const int rows_l[] = {1, 15, 16, 17, 67, 130, 200}, cols_l[] = {1, 5, 64, 131};
        const int toks_l[] = {1, 2, 3, 5, 7, 13, 70};
        const dtype ftypes[] = {DTYPE_F32, DTYPE_F16, DTYPE_BF16};
        threadpool *fp1 = threadpool_new(1), *fp3 = threadpool_new(3);
        for (int ti = 0; ti < 3; ti++)
            for (int ri = 0; ri < 7; ri++)
                for (int ci = 0; ci < 4; ci++) {
                    dtype t = ftypes[ti];
                    int R = rows_l[ri], C = cols_l[ci];
                    size_t es = t == DTYPE_F32 ? 4 : 2, rb = (size_t)C * es;
                    fill(&g, fw, (int64_t)R * C, 1.0f);
                    for (int i = 0; i < R * C; i++) {
                        if (t == DTYPE_F32) {
                            memcpy(fwb + 4 * (size_t)i, &fw[i], 4);
                            fwv[i] = fw[i];
                        } else {
                            uint16_t h = t == DTYPE_F16 ? f32_to_fp16(fw[i]) : f32_to_bf16(fw[i]);
                            memcpy(fwb + 2 * (size_t)i, &h, 2);
                            fwv[i] = t == DTYPE_F16 ? fp16_to_f32(h) : bf16_to_f32(h);
                        }
                    }
                    wmat m = {.type = t,
                              .data = fwb,
                              .n_rows = R,
                              .n_cols = C,
                              .n_mats = 1,
                              .row_bytes = rb,
                              .mat_bytes = rb * (size_t)R};
                    size_t pb = kern_r8_mat_bytes(&m);
                    CHECKF(pb == (size_t)(R + 15) / 16 * 16 * rb && pb <= sizeof fpack,
                           "R16 size %zu", pb);
                    kern_repack_r8(&m, 0, fpack);
                    for (int tj = 0; tj < 7; tj++) {
                        int T = toks_l[tj];
                        fill(&g, fxs, (int64_t)T * C, 1.0f);
                        double worst = 0;
                        for (int tt = 0; tt < T; tt++)
                            for (int r = 0; r < R; r++) {
                                float acc = 0;
                                double exact = 0, mag = 0;
                                for (int c = 0; c < C; c++) {
                                    acc = fmaf(fwv[r * C + c], fxs[tt * C + c], acc);
                                    exact += (double)fwv[r * C + c] * fxs[tt * C + c];
                                    mag += fabs((double)fwv[r * C + c] * fxs[tt * C + c]);
                                }
                                fy_ref[tt * R + r] = acc;
                                double e = fabs(acc - exact) / (C * 2 * 0x1p-24 * mag + 1e-30);
                                worst = e > worst ? e : worst;
                            }
                        CHECKF(worst <= 1.0, "R16 spec vs exact: %.2f of the bound", worst);
                        for (int b = 0; b < n_fbe; b++) {
                            for (int i = 0; i < T * R; i++) fy[i] = NAN;
                            fbes[b]->gemm_r16[t](fpack, C, (R + 15) / 16, R, fxs, C, T, fy, R);
                            CHECKF(!memcmp(fy, fy_ref, sizeof(float) * (size_t)(T * R)),
                                   "%s gemm_r16 %s rows=%d cols=%d tokens=%d", fbes[b]->name,
                                   dtype_get(t)->name, R, C, T);
                        }
                        /* through kern_matmul (this process's backend): the repacked copy and
                         * the transposing fallback, 1 and 3 threads */
                        for (int rp = 0; rp < 2; rp++)
                            for (int th = 0; th < 2; th++) {
                                kern_ctx kc;
                                CHECK(kern_ctx_init(&kc, th ? fp3 : fp1, TMAX * CMAX));
                                m.r8 = rp ? fpack : NULL;
                                m.r8_mat_bytes = rp ? pb : 0;
                                for (int i = 0; i < T * R; i++) fy2[i] = NAN;
                                kern_matmul(&kc, &m, 0, fxs, C, T, fy2, R);
                                CHECKF(!memcmp(fy2, fy_ref, sizeof(float) * (size_t)(T * R)),
                                       "kern_matmul %s rows=%d cols=%d tokens=%d repacked=%d "
                                       "threads=%d",
                                       dtype_get(t)->name, R, C, T, rp, th ? 3 : 1);
                                kern_ctx_free(&kc);
                            }
                    }
                }
        threadpool_free(fp1);
        threadpool_free(fp3);
    }
    dtype types[] = {DTYPE_F32, DTYPE_Q8_0, DTYPE_Q4_K, DTYPE_Q6_K, DTYPE_Q5_0, DTYPE_IQ4_XS};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        int64_t rows = 67, cols = 512;
        static float wf[67 * 512], xs[5 * 512], y1[5 * 67], y3[5 * 67];
        static uint8_t wb[67 * 512 * 4];
        fill(&g, wf, rows * cols, 1.0f);
        fill(&g, xs, 5 * cols, 1.0f);
        size_t rb = dtype_row_bytes(types[k], cols);
        for (int64_t r = 0; r < rows; r++)
            quant_quantize_row(types[k], wf + r * cols, wb + r * rb, cols);
        wmat m = {.type = types[k],
                  .data = wb,
                  .n_rows = rows,
                  .n_cols = cols,
                  .n_mats = 1,
                  .row_bytes = rb,
                  .mat_bytes = rb * (size_t)rows};
        for (int i = 0; i < 5 * 67; i++) y1[i] = y3[i] = NAN;
        kern_matmul(&c1, &m, 0, xs, cols, 5, y1, rows);
        kern_matmul(&c3, &m, 0, xs, cols, 5, y3, rows);
        int nan = 0;
        for (int i = 0; i < 5 * 67; i++) nan += isnan(y1[i]);
        CHECKF(nan == 0, "%s matmul left %d outputs unwritten", dtype_get(types[k])->name, nan);
        CHECKF(!memcmp(y1, y3, sizeof y1), "%s matmul differs between 1 and 3 threads",
               dtype_get(types[k])->name);
    }
    kern_ctx_free(&c1);
    kern_ctx_free(&c3);
    threadpool_free(p1);
    threadpool_free(p3);
    return test_finish();
}
