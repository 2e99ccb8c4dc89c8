/* kernels.h — the compute primitives of the forward pass, over weights kept in their stored type.
 *
 * A `wmat` is a view of a stored tensor as n_mats matrices of n_rows × n_cols (row-major, a row is
 * n_cols elements of `type`, rows row_bytes apart, matrices mat_bytes apart). Expert tensors
 * (ne = {cols, rows, n_experts}) and per-head MLA up-projections are 3D views; plain weights have
 * n_mats = 1.
 *
 * kern_matmul computes Y[t][r] = Σ_c W[r][c] · X[t][c] for t < n_tok, splitting rows across the
 * pool's threads (never a reduction), so results do not depend on the thread count.
 *
 * Two semantics, chosen once per process by kern_backend() (env R1_KERNELS=ref|scalar|avx2|auto):
 * - "ref": fp32 arithmetic over exactly dequantized weights — the mathematical reference.
 * - quantized-activation backends ("scalar", "avx2"): activations are rounded to 8 bits per block
 *   (Q8_0 for 32-element weight blocks, Q8_K for 256-element ones) and dotted with integer
 *   arithmetic, as the GGUF ecosystem does; "scalar" is the spec every SIMD version matches.
 * Weights in F32/F16/BF16 always use the fp32 path: fused multiply-add chains over the R16 layout
 * (kern_gemm_r16_fn), the same bits in every backend.
 */
#ifndef R1_KERNELS_H
#define R1_KERNELS_H

#include "base/threadpool.h"
#include "tensor/dtype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wmat {
    dtype type;
    const uint8_t *data;
    int64_t n_rows, n_cols, n_mats;
    size_t row_bytes, mat_bytes;
    /* The same weights repacked for the backend's gemm_r8[type] (quantized types, R8 layouts) or
     * gemm_r16[type] (float types, R16), see kern_repack_r8; or NULL; matrices r8_mat_bytes
     * apart. Only matmuls read it; data stays the reference. */
    const uint8_t *r8;
    size_t r8_mat_bytes;
    const char *name; /* the file's tensor name (importance statistics), or NULL when built */
} wmat;

/* Dot product of one weight row (n elements, stored type) with activations already quantized to
 * the type's vec_dot_type. */
typedef float (*kern_vec_dot_fn)(const void *w_row, const void *x_q, int64_t n);
/* Quantize n floats (multiple of the block) to a vec_dot type. */
typedef void (*kern_quantize_fn)(const float *x, void *out, int64_t n);

/* The same for 4 activation rows at once (x_q + k·x_stride bytes, k < 4): the weight row is
 * unpacked once for the 4. out[k] must be bit-identical to vec_dot(w_row, x_q + k·x_stride). */
typedef void (*kern_vec_dot_x4_fn)(const void *w_row, const void *x_q, size_t x_stride, int64_t n,
                                   float out[4]);

typedef struct kern_type_ops {
    dtype vec_dot_type;            /* DTYPE_Q8_0 or DTYPE_Q8_K; DTYPE_F32 = no integer path */
    kern_vec_dot_fn vec_dot;       /* NULL = use the fp32 path for this type */
    kern_vec_dot_x4_fn vec_dot_x4; /* NULL = call vec_dot 4 times */
} kern_type_ops;

/* Q8_0 weights repacked 8 rows at a time ("R8"): per group of 8 rows and block of 32 columns,
 * the 8 rows' fp16 scales, then 256 bytes: quants 0-3 of row 0, of row 1, ..., of row 7, quants
 * 4-7 of row 0, ... each stored +128 as unsigned (so a VNNI u8×s8 instruction takes them; the
 * kernel subtracts 128·Σx). One load then feeds 8 rows, and the result of a block is a vector
 * of the 8 rows' sums: no horizontal reductions. */
#define KERN_R8_BLOCK_BYTES 272
/* Q4_0 and Q5_0 the same way, their quants unsigned as stored (offsets 8 and 16): 16 bytes of
 * scales, then 128 bytes of nibbles (vectors 2c and 2c + 1 of the Q8_0 layout in the low and high
 * nibbles of 32-byte chunk c), and for Q5_0 32 bytes of bit 4 (bit g for vector g). */
#define KERN_R8_Q4_0_BYTES 144
#define KERN_R8_Q5_0_BYTES 176
/* Q2_K … Q6_K likewise, per 8 rows and super-block of 256 (layouts in x86/gemm_vnni.c). */
#define KERN_R8_Q4K_BYTES 1184
#define KERN_R8_Q5K_BYTES 1440 /* Q4_K's layout + the fifth bits (x86/gemm_vnni.c) */
#define KERN_R8_Q6K_BYTES 1680
#define KERN_R8_Q3K_BYTES 912    /* 3.56 bits per weight (the file's Q3_K: 3.44) */
#define KERN_R8_Q2K_BYTES 672    /* 2.63, as the file's Q2_K */
#define KERN_R8_IQ4XS_BYTES 1104 /* 4.31 (IQ4_XS: 4.25); IQ4_NL repacks as Q4_0 does */
/* Rows [8g, 8g + 8) of a repacked matrix (group = its first byte) times n_tok activation rows
 * quantized to the type's vec_dot_type (qx + t·qx_stride; Q8_0 also with its per-block quant sums
 * at xsum + t·xsum_stride int16s): y[t·ldy + i] for i < 8. Each (row, token) result is computed
 * by the same operations whatever n_tok is, so batching never changes a result. */
typedef void (*kern_gemm_r8_fn)(const uint8_t *group, int64_t n_cols, const uint8_t *qx,
                                size_t qx_stride, const int16_t *xsum, size_t xsum_stride,
                                int64_t n_tok, float *y, int64_t ldy);
/* The same for two adjacent groups (16 rows; the second group_bytes after the first), y[t·ldy +
 * i] for i < 16, bit-identical with two kern_gemm_r8_fn calls (AVX-512: one broadcast activation
 * feeds 16 rows). */
typedef void (*kern_gemm_r8x2_fn)(const uint8_t *group, size_t group_bytes, int64_t n_cols,
                                  const uint8_t *qx, size_t qx_stride, const int16_t *xsum,
                                  size_t xsum_stride, int64_t n_tok, float *y, int64_t ldy);

/* The lattice types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) are not repacked at
 * load (as int8 they would take 3-5x their bytes: R1's 131 GB IQ1_S file must stay 131 GB).
 * For several tokens, KERN_DEC_ROWS rows at a time are decoded on the fly (kern_dec_rows, one
 * pass over the weights per block of tokens) into the "DEC" layout, per super-block of 256
 * columns (KERN_DEC_BLOCK_BYTES):
 *   the rows' d (float, from the block's fp16);
 *   8 pairs m × rows: the odd scales 2u + 1 of columns [32m, 32m + 16) and [32m + 16, 32m + 32)
 *     as two int16s (low, high);
 *   64 vectors h × rows: the 4 values of columns 4h .. 4h + 3, each v + 128 (unsigned: vpdpbusd).
 * A (row, token) result is then outer · Σ_b (dx_b · d_b) · (inner · (float)Σ_g s_g·Σ v·q) summed
 * over super-blocks in order, multiplies and adds apart: exactly the scalar vec_dot's integers and
 * float steps (iq_decode.c says why IQ1's shift fits), so the same bits as vec_dot — a token's
 * result does not depend on whether its batch took this path. */
#define KERN_DEC_ROWS 16
#define KERN_DEC_BLOCK_BYTES (KERN_DEC_ROWS * (4 + 32 + 256))
typedef struct kern_dec_info {
    float inner, outer; /* IQ1: inner 1/8; IQ2: outer 1/8; IQ3_XXS: outer 1/4; else 1 */
    bool per32;         /* the scales are per 32 columns (both of a pair equal) */
} kern_dec_info;
bool kern_dec_type(dtype t);
kern_dec_info kern_dec_info_of(dtype t);
/* Rows [0, KERN_DEC_ROWS) (row i at rows + i·row_bytes, n_cols a multiple of 256) into dst
 * (n_cols / 256 · KERN_DEC_BLOCK_BYTES bytes). */
void kern_dec_rows(dtype t, const uint8_t *rows, size_t row_bytes, int64_t n_cols, uint8_t *dst);
/* The decoded rows times n_tok Q8_K activation rows (qx + t·qx_stride): y[t·ldy + i], i < 16. */
typedef void (*kern_gemm_dec_fn)(const uint8_t *dec, int64_t n_cols, const kern_dec_info *info,
                                 const uint8_t *qx, size_t qx_stride, int64_t n_tok, float *y,
                                 int64_t ldy);

/* Float weights (F32, F16, BF16) repacked 16 rows at a time ("R16"): per group of 16 rows, for
 * each column k the 16 rows' values in their stored type (rows past n_rows are zeros). One vector
 * load then feeds 16 rows and each output is a plain chain of fused multiply-adds:
 *   y[t][r] = fma(w[r][n-1], x[t][n-1], ... fma(w[r][1], x[t][1], w[r][0]·x[t][0]))
 * in column order, so every backend and every tiling of rows and tokens gives the same bits.
 * kern_gemm_r16_fn: groups [0, n_groups) starting at `w` (group_bytes = 16·n_cols·element
 * size apart) times n_tok fp32 activation rows (x + t·ldx): y[t·ldy + i] for the n_rows valid
 * rows i < 16·n_groups (the last group may be partial). */
#define KERN_R16_ROWS 16
typedef void (*kern_gemm_r16_fn)(const uint8_t *w, int64_t n_cols, int64_t n_groups, int64_t n_rows,
                                 const float *x, int64_t ldx, int64_t n_tok, float *y, int64_t ldy);

/* Bytes of one repacked matrix of w, or 0 when w cannot be repacked (type without an R8 or R16
 * layout, n_rows not a multiple of 8 for R8). */
size_t kern_r8_mat_bytes(const wmat *w);
/* Repack matrix `mat` of w into dst (kern_r8_mat_bytes(w) bytes); the _groups form only its
 * groups of 8 rows [g0, g1) (to split the work between threads). */
void kern_repack_r8(const wmat *w, int64_t mat, uint8_t *dst);
void kern_repack_r8_groups(const wmat *w, int64_t mat, int64_t g0, int64_t g1, uint8_t *dst);
/* Row groups of a repacked matrix of w: n_rows / 8 (R8), or n_rows / 16 rounded up (R16). */
int64_t kern_repack_n_groups(const wmat *w);
/* Whether w's type repacks as R16 (F32, F16, BF16). */
bool kern_is_r16_type(dtype t);

typedef struct kern_backend_t {
    const char *name;                         /* "ref", "scalar", "avx2", "neon" */
    kern_type_ops ops[DTYPE_COUNT];           /* by weight type */
    kern_gemm_r8_fn gemm_r8[DTYPE_COUNT];     /* by weight type; NULL: no repacked path */
    kern_gemm_r8x2_fn gemm_r8x2[DTYPE_COUNT]; /* optional 16-row form of gemm_r8 */
    kern_gemm_r16_fn gemm_r16[DTYPE_COUNT];   /* F32, F16, BF16 (every backend) */
    kern_gemm_dec_fn gemm_dec;                /* the lattice types decoded (DEC layout), or NULL */
    kern_quantize_fn quantize_q8_0;
    kern_quantize_fn quantize_q8_k;
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n); /* y += a·x */
    /* the same with the second operand stored as fp16 / bf16 (KV caches), same summation order */
    float (*dot_f16)(const float *a, const uint16_t *b, int64_t n);
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int64_t n);
    float (*dot_bf16)(const float *a, const uint16_t *b, int64_t n);
    void (*axpy_bf16)(float *y, float a, const uint16_t *x, int64_t n);
    /* and Q8_0 blocks (n a multiple of 32): exactly dot_f32 / axpy_f32 over the dequantized
     * values d·q (each a float product), so bit-identical across backends too */
    float (*dot_q8)(const float *a, const void *b, int64_t n);
    void (*axpy_q8)(float *y, float a, const void *x, int64_t n);
    void (*scale_f32)(float *y, float a, int64_t n); /* y *= a */
    /* y = e^x elementwise (y may be x), by the polynomial of kern_expf: within 2 ulp of expf,
     * 0 below -87.3, e^88 above 88; the same bits in every backend */
    void (*exp_f32)(float *y, const float *x, int64_t n);
    /* The inner loops of kern_attention over a block of n_k cached rows of type t (F32, F16,
     * BF16, Q8_0), rows k_stride / v_stride bytes apart, for n_h query heads at once:
     *   attn_scores: s[h·ld_s + j] = q_h · k_j (q_h = q + h·q_stride, dk values), each summed in
     *     the attention order: 8 partial sums (lane = element index mod 8) by fused multiply-add,
     *     elements past dk counting as zeros, then (l0+l4, l1+l5, l2+l6, l3+l7) -> (a0+a2, a1+a3)
     *     -> b0+b1;
     *   attn_accum: o_h += Σ_j p[h·ld_p + j] · v_j, one fused multiply-add per element for
     *     j = 0, 1, ..., n_k - 1 (o_h = o + h·o_stride, dv values).
     * Cached Q8_0 values are d·q (one float product). Every backend gives the same bits however
     * it tiles heads and rows, so results depend on neither the backend nor the batch. */
    void (*attn_scores)(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
                        size_t k_stride, int n_k, int dk, float *s, int ld_s);
    void (*attn_accum)(dtype t, float *o, int64_t o_stride, int n_h, const float *p, int ld_p,
                       const void *v, size_t v_stride, int n_k, int dv);
    /* One block of kern_attention_prefill (spec: kern_attn_prefill_block_ref): n_q ≤
     * KERN_PREFILL_Q queries of one head, transposed (query i's element d at
     * qt[d·KERN_PREFILL_Q + i]), against n_k ≤ KERN_PREFILL_Q fp32 keys and values (key j at
     * k + j·kv_stride, value j at v + j·kv_stride); query i sees key j when j < vis + i. Updates
     * each query's running max m[i], sum l[i] and its outputs, transposed too (output x of query
     * i at ot[x·KERN_PREFILL_Q + i], dv of them); s: KERN_PREFILL_Q² floats of scratch. Lanes
     * i ≥ n_q of qt, m, l and ot may be computed on but mean nothing. */
    void (*attn_prefill_block)(const float *qt, int n_q, int dk, const float *k, const float *v,
                               int64_t kv_stride, int n_k, int dv, float scale, int vis, float *m,
                               float *l, float *ot, float *s);
    /* Attention over a BF16 cache with bf16 dot products, NULL where the CPU has none (AVX512-
     * BF16's vdpbf16ps: twice fp32's multiply-adds per instruction); kern_attention then takes
     * them for a BF16 cache. Spec: kern_attn_scores_bf16_ref / kern_attn_accum_bf16_ref. */
    void (*attn_scores_bf16)(const uint32_t *qp, int n_h, const void *k, size_t k_stride, int n_k,
                             int dk, float *s, int ld_s);
    void (*attn_accum_bf16)(float *o, int64_t o_stride, int n_h, const uint32_t *pp, int ld_pp,
                            const void *v, size_t v_stride, int n_k, int dv);
    /* kern_attn_pack_q_bf16's and kern_attn_pack_p_bf16's bits (the latter for n_k ≤ 32) */
    void (*attn_pack_q_bf16)(const float *q, int64_t q_stride, int n_h, int dk, uint32_t *qp);
    void (*attn_pack_p_bf16)(const float *p, int ld_p, int n_h, int n_k, uint32_t *pp, int ld_pp);
} kern_backend_t;

/* The backend in use (chosen at first call from CPU features and R1_KERNELS; thread-safe). */
const kern_backend_t *kern_backend(void);
/* Every backend this CPU can run, for tests and benchmarks; returns the count. */
int kern_backends_available(const kern_backend_t **out, int cap);

/* Per-session scratch for kern_matmul (quantized activations). Not shared between threads that
 * call kern_matmul concurrently. */
/* Sees the input of every matmul before it runs (r1 imatrix): x is n_tok rows of w->n_cols
 * floats, ldx apart, multiplied by matrix `mat` of w. Called on the calling thread. */
typedef void (*kern_observer)(void *ud, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                              int64_t n_tok);

typedef struct kern_ctx {
    threadpool *pool;
    const kern_backend_t *backend;
    uint8_t *qx; /* quantized activations */
    size_t qx_cap;
    kern_observer observe; /* NULL: none */
    void *observe_ud;
} kern_ctx;

/* Make a context able to run matmul groups whose activations total up to max_floats floats
 * (kern_matmul_multi quantizes each matmul's activations separately; a group over the limit
 * runs in fp32, correct but slow). */
bool kern_ctx_init(kern_ctx *kc, threadpool *pool, int64_t max_floats);
void kern_ctx_free(kern_ctx *kc);

/* Y (n_tok × n_rows, row stride ldy) = X (n_tok × n_cols, row stride ldx) · W[mat]^T. */
void kern_matmul(kern_ctx *kc, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                 int64_t n_tok, float *y, int64_t ldy);

/* Several independent matmuls as one parallel job (one wake-up of the pool instead of one per
 * matmul: q/k/v, gate/up, every head's MLA up-projection, every routed expert of a layer). Each
 * thread takes its share of every matmul's rows, so results equal separate kern_matmul calls. */
typedef struct kern_mm {
    const wmat *w;
    int64_t mat;
    const float *x;
    int64_t ldx, n_tok;
    float *y;
    int64_t ldy;
} kern_mm;

void kern_matmul_multi(kern_ctx *kc, const kern_mm *mm, int n_mm);

/* Dequantize row r of matrix `mat` into dst (n_cols floats). */
void kern_get_row(const wmat *w, int64_t mat, int64_t r, float *dst);

float kern_dot_f32(const float *a, const float *b, int64_t n);

/* dst = rmsnorm(x) * weight, over n elements: x / sqrt(mean(x²) + eps) * weight. */
void kern_rmsnorm(float *dst, const float *x, const float *weight, int64_t n, float eps);

/* Causal attention of n_heads query heads against n_keys cached keys, fused and tiled: scores are
 * computed a block of keys at a time with an online softmax, so nothing of size n_heads × n_keys
 * is materialized, and each key block is read once for all the heads of the call (MLA: all heads
 * share one latent cache row; GQA: the query heads of one KV head).
 *   q:   n_heads rows of dk floats, q_stride apart
 *   k:   key u at k + u·kv_stride elements (dk values); v: value u at v + u·kv_stride (dv
 *        values); keys and values are stored as kv_type (F32, F16, BF16, or Q8_0 with dk, dv
 *        and kv_stride multiples of 32)
 *   out: n_heads rows of dv floats, out_stride apart = Σ_u softmax(scale · q·k_u) v_u
 * scratch: kern_attention_scratch_floats(n_heads, dk, dv) floats. Sequential: call it from one
 * thread per (token, head group); results do not depend on how tasks are spread over threads. */
void kern_attention(const float *q, int n_heads, int64_t q_stride, int dk, const void *k,
                    const void *v, dtype kv_type, int64_t kv_stride, int n_keys, int dv,
                    float scale, float *out, int64_t out_stride, float *scratch);
int64_t kern_attention_scratch_floats(int n_heads, int dk, int dv);
/* A long cache in parts ("split-K", as flash decoding does): kern_attention_part attends over
 * keys [0, n_keys) of its k/v (n_keys > 0) and leaves out unnormalized, Σ_u e^(s_u − mx[h]) v_u,
 * with each head's max score mx[h] and sum of exponentials sum[h]; kern_attention_merge combines
 * n_parts of them in order (part c of head h at part + c·part_stride + h·head_stride, its
 * statistics at mx/sum + c·stat_stride + h) into the normalized out. Parts of one cache can run
 * on different threads; the result depends only on where the parts are cut. */
void kern_attention_part(const float *q, int n_heads, int64_t q_stride, int dk, const void *k,
                         const void *v, dtype kv_type, int64_t kv_stride, int n_keys, int dv,
                         float scale, float *out, int64_t out_stride, float *mx, float *sum,
                         float *scratch);
void kern_attention_merge(const float *part, int n_parts, int64_t part_stride, int64_t head_stride,
                          const float *mx, const float *sum, int64_t stat_stride, int n_heads,
                          int dv, float *out, int64_t out_stride);
/* Causal attention of n_q ≤ KERN_PREFILL_Q queries of one head at consecutive positions over fp32
 * keys and values (key u at k + u·kv_stride, value u at v + u·kv_stride; prompt chunks: MLA's
 * decompressed form in deepseek2.c, a KV head's cached rows in llama.c): query i sees keys
 * [0, n_keys − n_q + 1 + i), the last one all n_keys; out: n_q rows of dv, out_stride apart. A tile
 * of queries against a block of keys is a small matrix product, vectorized across the queries: each
 * score is one chain of fused multiply-adds in element order (not kern_attention's 8 partial sums),
 * and the online softmax runs as in kern_attention, one block of KERN_PREFILL_Q keys at a time. The
 * same bits in every backend. Scratch: kern_attention_prefill_scratch_floats(dk, dv) floats. */
#define KERN_PREFILL_Q 32
void kern_attention_prefill(const float *q, int n_q, int64_t q_stride, int dk, const float *k,
                            const float *v, int64_t kv_stride, int n_keys, int dv, float scale,
                            float *out, int64_t out_stride, float *scratch);
int64_t kern_attention_prefill_scratch_floats(int dk, int dv);

/* In-place softmax over n values. */
void kern_softmax(float *x, int64_t n);

/* g[i] = silu(g[i]) · u[i] = g / (1 + e^-g) · u, with the backend's exp_f32. */
void kern_swiglu(float *g, const float *u, int64_t n);

/* e^x in fp32 (Cephes' range reduction and polynomial, one fused multiply-add per step), written
 * so that the SIMD versions (exp_f32) give the same bits: n = rint(x·log2 e), r = x − n·ln 2 in
 * two steps, p(r) ≈ (e^r − 1 − r)/r², e^x = (p·r² + r + 1)·2^n. */
#define KERN_EXP_HI 88.0f
#define KERN_EXP_LO -87.33654f /* 2^-126: the smallest normal scale */
static inline float kern_expf(float x)
{
    float xc = x < KERN_EXP_HI ? x : KERN_EXP_HI; /* NaN: HI */
    xc = xc > KERN_EXP_LO ? xc : KERN_EXP_LO;     /* so n always fits an int */
    float n = __builtin_rintf(xc * 1.44269504088896341f);
    float r = __builtin_fmaf(n, -0.693359375f, xc);
    r = __builtin_fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = __builtin_fmaf(p, r, 1.3981999507e-3f);
    p = __builtin_fmaf(p, r, 8.3334519073e-3f);
    p = __builtin_fmaf(p, r, 4.1665795894e-2f);
    p = __builtin_fmaf(p, r, 1.6666665459e-1f);
    p = __builtin_fmaf(p, r, 5.0000001201e-1f);
    float y = __builtin_fmaf(p, r * r, r) + 1.0f;
    union {
        uint32_t u;
        float f;
    } e = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return x >= KERN_EXP_LO ? y * e.f : 0.0f; /* NaN: 0 too */
}

/* Backends (defined in ref/ and x86/). */
void kern_backend_init_ref(kern_backend_t *b);
void kern_backend_init_scalar(kern_backend_t *b);
void kern_backend_init_avx2(kern_backend_t *b);
/* The AVX2 dot products of the lattice types IQ1_S ... IQ3_S (x86/vec_dot_iq_avx2.c). */
void kern_backend_add_iq_avx2(kern_backend_t *b);
/* AArch64 (arm/neon.c): the scalar backend with NEON fp32 helpers, attention, R16 matmul, and
 * Q8_0/Q4_0/Q4_K/Q5_K/Q6_K dot products, each with the scalar backend's bits. */
void kern_backend_init_neon(kern_backend_t *b);
/* VNNI additions to the avx2 backend (x86/gemm_vnni*.c): the repacked Q8_0, Q4_0, Q5_0, Q4_K,
 * Q5_K and Q6_K paths, with AVX-VNNI (VEX) or AVX512-VNNI+VL (EVEX, 32 registers). */
void kern_backend_add_vnni_vex(kern_backend_t *b);
void kern_backend_add_vnni_evex(kern_backend_t *b);
/* Attention block kernels (x86/attn_avx2.c) with 16 registers, or with AVX-512VL's 32. */
void kern_backend_add_attn_avx2(kern_backend_t *b);
void kern_backend_add_attn_evex(kern_backend_t *b);
/* The same with 512-bit registers where they pay (x86/attn_avx512.c), over the EVEX ones. */
void kern_backend_add_attn_avx512(kern_backend_t *b);
/* The R16 float matmul spec (ref/gemm_r16_ref.c), set by kern_backend_init_ref. */
void kern_backend_add_gemm_r16_ref(kern_backend_t *b);
/* R16 float matmul kernels (x86/gemm_float.c): AVX2 (two 8-row vectors per group) or AVX-512F
 * (one 16-row vector). */
void kern_backend_add_gemm_float_avx2(kern_backend_t *b);
void kern_backend_add_gemm_float_avx512(kern_backend_t *b);
/* The scalar attention block kernels (ref/attn_ref.c), the spec of the SIMD ones. */
void kern_attn_scores_ref(dtype t, const float *q, int64_t q_stride, int n_h, const void *k,
                          size_t k_stride, int n_k, int dk, float *s, int ld_s);
void kern_attn_accum_ref(dtype t, float *o, int64_t o_stride, int n_h, const float *p, int ld_p,
                         const void *v, size_t v_stride, int n_k, int dv);
void kern_attn_prefill_block_ref(const float *qt, int n_q, int dk, const float *k, const float *v,
                                 int64_t kv_stride, int n_k, int dv, float scale, int vis, float *m,
                                 float *l, float *ot, float *s);
/* Attention with bf16 dot products (a BF16 cache on a CPU with AVX512-BF16). The query and the
 * probabilities are rounded to bf16 (kern_f32_to_bf16_ne: to nearest even, denormals to zero, as
 * vcvtneps2bf16 does) and packed in pairs of elements:
 *   qp: heads in groups of 16, pair p of head 16g + l at qp[(g·dk/2 + p)·16 + l] (low half
 *       element 2p, high half 2p + 1; heads past n_h zero); dk even;
 *   pp: pair j of head h at pp[h·ld_pp + j] (low half key 2j, high half key 2j + 1; past n_k zero).
 * scores: s[h·ld_s + j] = one sum per (head, key) from 0 over the pairs p = 0, 1, ...: +
 * k[2p+1]·q[2p+1], then + k[2p]·q[2p] (products exact, sums rounded to nearest even, denormal sums
 * flushed to zero, bf16 denormals read as zero). accum: o_h[c] over the pairs j of keys: +
 * v[2j+1][c]·p[2j+1], then + v[2j][c]·p[2j], the same way (a missing key 2j + 1 adds +0). dv a
 * multiple of 32. */
static inline uint16_t kern_f32_to_bf16_ne(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {.f = x};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40); /* quiet NaN */
    if (!(v.u & 0x7f800000u)) return (uint16_t)((v.u >> 16) & 0x8000); /* denormal: ±0 */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}
void kern_attn_pack_q_bf16(const float *q, int64_t q_stride, int n_h, int dk, uint32_t *qp);
void kern_attn_pack_p_bf16(const float *p, int ld_p, int n_h, int n_k, uint32_t *pp, int ld_pp);
void kern_attn_scores_bf16_ref(const uint32_t *qp, int n_h, const void *k, size_t k_stride, int n_k,
                               int dk, float *s, int ld_s);
void kern_attn_accum_bf16_ref(float *o, int64_t o_stride, int n_h, const uint32_t *pp, int ld_pp,
                              const void *v, size_t v_stride, int n_k, int dv);
/* The AVX512-BF16 kernels (x86/attn_bf16.c); R1_ATTN_BF16=0 leaves them out. */
void kern_backend_add_attn_bf16(kern_backend_t *b);
/* AVX2 / AVX-512 forms of attn_prefill_block (x86/attn_prefill.c, x86/attn_prefill512.c). */
void kern_backend_add_prefill_avx2(kern_backend_t *b);
void kern_backend_add_prefill_avx512(kern_backend_t *b);
/* And with NEON (arm/attn_prefill_neon.c), part of the neon backend. */
void kern_backend_add_prefill_neon(kern_backend_t *b);

#endif
