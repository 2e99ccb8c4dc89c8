/* test_quant.c — tests of src/tensor/quant.c, the float32 <-> GGUF element type conversions.
 * 1. Dequantization is bit-exact against golden values from an independent implementation
 *    (fixtures.json "dequant_refs"), and our quantizer's error on those tensors' f32 originals
 *    is no worse than that of the quantizer that made the files.
 * 2. Round trips of synthetic data stay within per-type error bounds; zeros stay zeros; the
 *    simple types are idempotent; odd buffers and unsupported types are handled.
 * 3. fp16 / bf16 conversion edge cases (subnormals, inf, NaN, ties, overflow), exhaustive where
 *    cheap. */
#include "formats/gguf.h"
#include "tensor/iq_tables.h"
#include "tensor/quant.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) /* in (0, 1) */
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(rng_uniform(s))) * cos(6.283185307179586 * rng_uniform(s));
}

/* RMS of (y - x) over RMS of x (0 when both are 0). */
static double rel_rmse(const float *x, const float *y, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        s += (double)x[i] * x[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static const dtype all_types[] = {
    DTYPE_F32,     DTYPE_F16,    DTYPE_BF16,   DTYPE_Q4_0,    DTYPE_Q4_1,   DTYPE_Q5_0,
    DTYPE_Q5_1,    DTYPE_Q8_0,   DTYPE_Q2_K,   DTYPE_Q3_K,    DTYPE_Q4_K,   DTYPE_Q5_K,
    DTYPE_Q6_K,    DTYPE_IQ4_NL, DTYPE_IQ4_XS, DTYPE_IQ2_XXS, DTYPE_IQ2_XS, DTYPE_IQ2_S,
    DTYPE_IQ3_XXS, DTYPE_IQ3_S,  DTYPE_IQ1_S,  DTYPE_IQ1_M,
};
#define N_TYPES (int)(sizeof all_types / sizeof all_types[0])

/* ---- 1. golden dequantization --------------------------------------------------------------- */

/* Quantize a whole tensor (rows of ne0) with our quantizer and return the relative RMSE. */
static double requant_error(dtype type, const float *x, int64_t ne0, int64_t n)
{
    const size_t rb = dtype_row_bytes(type, ne0);
    uint8_t *q = malloc(rb);
    float *y = malloc((size_t)ne0 * sizeof *y);
    double e = 0, s = 0;
    for (int64_t r = 0; r < n / ne0; r++) {
        const float *xr = x + r * ne0;
        CHECK(quant_quantize_row(type, xr, q, ne0));
        CHECK(quant_dequantize_row(type, q, y, ne0));
        for (int64_t i = 0; i < ne0; i++) {
            e += ((double)y[i] - xr[i]) * ((double)y[i] - xr[i]);
            s += (double)xr[i] * xr[i];
        }
    }
    free(q);
    free(y);
    return sqrt(e / s);
}

/* The f32 original of a quantized fixture model ("qwen2-q4_k_m" -> fixture "qwen2-f32"), if any. */
static gguf_file *open_f32_original(const char *dir, const cJSON *fixtures, const char *key)
{
    char name[256];
    const char *dash = strrchr(key, '-');
    if (!dash) return NULL;
    snprintf(name, sizeof name, "%.*s-f32", (int)(dash - key), key);
    const cJSON *fx = cJSON_GetObjectItemCaseSensitive(fixtures, name);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(fx, "model");
    char path[1024], err[R1_ERR_MAX];
    if (cJSON_IsString(model))
        snprintf(path, sizeof path, "%s/%s", dir, model->valuestring);
    else /* the IQ set's originals are the main set's F32 files */
        snprintf(path, sizeof path, "%s/models/%s.gguf", R1_TEST_DATA, name);
    gguf_file *f = NULL;
    if (gguf_open(path, true, &f, err) != R1_OK) return NULL;
    return f;
}

/* One dequant_ref: returns the type checked (or -1). */
static int check_golden_ref(const char *dir, const cJSON *fixtures, const char *key, gguf_file *gf,
                            const cJSON *ref)
{
    const cJSON *jname = cJSON_GetObjectItemCaseSensitive(ref, "name");
    const cJSON *jtype = cJSON_GetObjectItemCaseSensitive(ref, "type");
    const cJSON *jfile = cJSON_GetObjectItemCaseSensitive(ref, "file");
    const cJSON *jne = cJSON_GetObjectItemCaseSensitive(ref, "ne");
    CHECK(cJSON_IsString(jname) && cJSON_IsString(jtype) && cJSON_IsString(jfile) &&
          cJSON_IsArray(jne));
    if (!cJSON_IsString(jname) || !cJSON_IsString(jtype) || !cJSON_IsString(jfile)) return -1;

    const gguf_tensor *t = gguf_find_tensor(gf, jname->valuestring);
    CHECKF(t != NULL, "%s: tensor %s not found", key, jname->valuestring);
    if (!t) return -1;
    const int type = dtype_from_name(jtype->valuestring);
    CHECKF((int)t->type == type, "%s %s: type %d, fixture says %s", key, t->name, (int)t->type,
           jtype->valuestring);
    int64_t n = 1;
    for (int d = 0; d < cJSON_GetArraySize(jne); d++) {
        const int64_t ne = (int64_t)cJSON_GetArrayItem(jne, d)->valuedouble;
        CHECK(t->ne[d] == ne);
        n *= ne;
    }
    CHECK(t->n_elements == n);
    if ((int)t->type != type || t->n_elements != n) return -1;

    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, jfile->valuestring);
    size_t size = 0;
    float *golden = test_read_file(path, &size);
    CHECKF(golden && size == (size_t)n * sizeof(float), "%s: missing or wrong size", path);
    if (!golden || size != (size_t)n * sizeof(float)) {
        free(golden);
        return -1;
    }

    /* Dequantize row by row; every element must have the golden bit pattern, no ulp tolerance:
     * each value is one correctly rounded operation on exact products (fp16 scale x small
     * integers), so it cannot depend on multiplication order or FMA use. */
    const int64_t ne0 = t->ne[0];
    const size_t rb = dtype_row_bytes(t->type, ne0);
    CHECK(rb > 0 && rb * (size_t)(n / ne0) == t->n_bytes);
    float *y = malloc((size_t)n * sizeof *y);
    for (int64_t r = 0; r < n / ne0; r++)
        CHECK(quant_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * rb, y + r * ne0,
                                   ne0));
    int64_t mism = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        if (fbits(y[i]) != fbits(golden[i])) {
            if (first < 0) first = i;
            mism++;
        }
    }
    CHECKF(mism == 0, "%s %s (%s): %lld of %lld values differ, first at %lld: %.9g vs %.9g", key,
           t->name, jtype->valuestring, (long long)mism, (long long)n, (long long)first,
           first >= 0 ? y[first] : 0.0, first >= 0 ? golden[first] : 0.0);

    /* Our quantizer on the f32 original must be about as good as the one that made the file
     * (measured: ratio 0.92 ... 1.001 of its relative RMSE; F16/BF16 are exactly equal). */
    gguf_file *orig = open_f32_original(dir, fixtures, key);
    const gguf_tensor *ot = orig ? gguf_find_tensor(orig, t->name) : NULL;
    /* the same original and type in several fixtures (every file keeps output.weight ...) is
     * requantized once: the lattice types' exhaustive search is slow under sanitizers and qemu */
    static char done[64][96];
    static int n_done;
    char tag[96];
    snprintf(tag, sizeof tag, "%.40s/%.40s/%d", key, t->name, type);
    if (strchr(key, '-')) /* the model family, not the file: "qwen2-iq1_s" -> "qwen2" */
        snprintf(tag, sizeof tag, "%.*s/%.40s/%d", (int)(strchr(key, '-') - key), key, t->name,
                 type);
    bool seen = false;
    for (int i = 0; i < n_done; i++) seen |= !strcmp(done[i], tag);
    if (!seen && n_done < 64) snprintf(done[n_done++], sizeof done[0], "%s", tag);
    if (!seen && ot && ot->type == DTYPE_F32 && ot->n_elements == n) {
        float *x = malloc((size_t)n * sizeof *x);
        memcpy(x, ot->data, (size_t)n * sizeof *x);
        const double theirs = rel_rmse(x, golden, n);
        const double ours = requant_error(t->type, x, ne0, n);
        printf("  %-14s %-26s %-7s file rel.rmse %.5f, ours %.5f\n", key, t->name,
               jtype->valuestring, theirs, ours);
        CHECKF(ours <= theirs * 1.01 + 1e-7, "%s %s: our quantizer %.5f vs the file's %.5f", key,
               t->name, ours, theirs);
        free(x);
    }
    if (orig) gguf_close(orig);
    free(y);
    free(golden);
    return type;
}

/* Every dequant_ref of one fixture set (DIR/fixtures.json); marks the types checked. */
static int golden_set(const char *dir, bool *covered)
{
    char ipath[1024];
    snprintf(ipath, sizeof ipath, "%s/fixtures.json", dir);
    size_t size = 0;
    char *json = test_read_file(ipath, &size);
    CHECKF(json != NULL, "cannot read %s", ipath);
    if (!json) return 0;
    cJSON *fixtures = cJSON_ParseWithLength(json, size);
    free(json);
    CHECK(fixtures != NULL);
    int n_refs = 0;
    const cJSON *fx;
    cJSON_ArrayForEach(fx, fixtures)
    {
        const cJSON *refs = cJSON_GetObjectItemCaseSensitive(fx, "dequant_refs");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(fx, "model");
        if (!cJSON_IsArray(refs) || !cJSON_IsString(model)) continue;
        char path[1024], err[R1_ERR_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, model->valuestring);
        gguf_file *gf = NULL;
        const r1_status st = gguf_open(path, true, &gf, err);
        CHECKF(st == R1_OK, "%s: %s", path, err);
        if (st != R1_OK) continue;
        const cJSON *ref;
        cJSON_ArrayForEach(ref, refs)
        {
            const int type = check_golden_ref(dir, fixtures, fx->string, gf, ref);
            if (type >= 0) covered[type] = true;
            n_refs++;
        }
        gguf_close(gf);
    }
    cJSON_Delete(fixtures);
    return n_refs;
}

static void test_golden(void)
{
    bool covered[DTYPE_COUNT] = {false};
    /* tests/data: every type of the common downloads; tests/data/iq: the 1-3-bit IQ types */
    int n_refs = golden_set(R1_TEST_DATA, covered) + golden_set(R1_TEST_DATA "/iq", covered);
    /* every type the fixtures are meant to cover was checked at least once */
    static const dtype expect[] = {
        DTYPE_Q2_K,   DTYPE_Q3_K,   DTYPE_Q4_K,    DTYPE_Q5_K,   DTYPE_Q6_K,  DTYPE_Q4_0,
        DTYPE_Q4_1,   DTYPE_Q5_0,   DTYPE_Q5_1,    DTYPE_Q8_0,   DTYPE_F16,   DTYPE_BF16,
        DTYPE_IQ4_NL, DTYPE_IQ4_XS, DTYPE_IQ2_XXS, DTYPE_IQ2_XS, DTYPE_IQ2_S, DTYPE_IQ3_XXS,
        DTYPE_IQ3_S,  DTYPE_IQ1_S,  DTYPE_IQ1_M};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        CHECKF(covered[expect[i]], "no golden reference checked for %s",
               dtype_get(expect[i])->name);
    printf("golden: %d dequant refs checked\n", n_refs);
}

/* The IQ lattices are format data (src/tensor/iq_grids.inc): each must hold only the values its
 * type allows, have no repeated row, and match a checksum (FNV-1a 64 over the int8 values, row
 * by row) computed from gguf-py's independent encoding of the same grid (2 or 3 bits per value,
 * decoded through its value map), not from the C tables. ksigns7 is derived. */
static uint64_t fnv_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void check_grid(const char *name, const void *grid, int rows, int width, const int *allowed,
                       int n_allowed, uint64_t want)
{
    const uint8_t *g = grid; /* little-endian rows: element j in byte j */
    int bad = 0, dup = 0;
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < width; j++) {
            bool ok = false;
            for (int k = 0; k < n_allowed; k++)
                ok |= (int8_t)g[r * width + j] == allowed[k] || g[r * width + j] == allowed[k];
            bad += !ok;
        }
        for (int q = 0; q < r; q++) dup += !memcmp(g + r * width, g + q * width, (size_t)width);
    }
    const uint64_t h = fnv_bytes(0xcbf29ce484222325ull, g, (size_t)rows * (size_t)width);
    CHECKF(bad == 0 && dup == 0, "%s: %d values outside the type's set, %d repeated rows", name,
           bad, dup);
    CHECKF(h == want, "%s: checksum %016llx, gguf-py's grid gives %016llx", name,
           (unsigned long long)h, (unsigned long long)want);
}

static void test_iq_tables(void)
{
    static const int v2[] = {8, 25, 43}, v3x[] = {4, 12, 20, 28, 36, 44, 52, 62},
                     v3s[] = {1, 3, 5, 7, 9, 11, 13, 15}, v1[] = {-1, 0, 1};
    check_grid("iq2xxs_grid", iq2xxs_grid, 256, 8, v2, 3, 0xbb4ee025b5ac6e8eull);
    check_grid("iq2xs_grid", iq2xs_grid, 512, 8, v2, 3, 0xc9b1ee61e79909bdull);
    check_grid("iq2s_grid", iq2s_grid, 1024, 8, v2, 3, 0x123edd38a3b62b90ull);
    check_grid("iq3xxs_grid", iq3xxs_grid, 256, 4, v3x, 8, 0xdfa5dc83d6a155d5ull);
    check_grid("iq3s_grid", iq3s_grid, 512, 4, v3s, 8, 0xfa37020c25b44829ull);
    check_grid("iq1s_grid", iq1s_grid, 2048, 8, v1, 3, 0x6703ed863501ae2eull);
    for (unsigned k = 0; k < 128; k++)
        CHECKF(iq_ksigns7(k) == (k | (unsigned)(__builtin_popcount(k) & 1) << 7),
               "ksigns7(%u) = %u", k, iq_ksigns7(k));
}

/* ---- 2. round trips -------------------------------------------------------------------------- */

enum { DIST_GAUSS, DIST_UNIFORM, DIST_OUTLIERS, DIST_ZERO, DIST_CONST, DIST_COUNT };
static const char *const dist_names[DIST_COUNT] = {"gauss", "uniform", "outliers", "zero", "const"};

static void fill(int dist, float *x, int64_t n, uint64_t *rng)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dist) {
        case DIST_GAUSS:
            x[i] = (float)(0.02 * rng_gauss(rng));
            break;
        case DIST_UNIFORM:
            x[i] = (float)(2.0 * rng_uniform(rng) - 1.0);
            break;
        case DIST_OUTLIERS: /* gaussian with ~1% of values 30x larger */
            x[i] = (float)(rng_gauss(rng) * (rng_uniform(rng) < 0.01 ? 30.0 : 1.0));
            break;
        case DIST_ZERO:
            x[i] = 0;
            break;
        default:
            x[i] = -0.3712f;
            break;
        }
    }
}

/* Per-type bounds on the relative RMSE (RMSE / RMS of the data) of a quantize -> dequantize round
 * trip: one for the smooth distributions (gauss, uniform), one for the outlier set (one large value
 * stretches its block's scale, so most types do worse there), one for a constant (reproduced up
 * to the fp16 rounding of the scales, <= 2^-11 per value). All-zero data must come back exactly.
 * "measured" = worst over the distributions and the 1/3/17-block sizes (x86-64, this seed); the
 * bounds leave ~15% margin. Sanity: a uniform quantizer with step Δ has RMS error Δ/√12, where Δ is
 * the block's range over its number of levels, so each extra bit roughly halves the error, e.g.
 * Q8_0 on gaussians: range ≈ 2·2.1σ over 254 steps -> 0.5% (measured 0.6%, fp16 scale included).
 *   type     smooth(meas.)  bound   outliers(meas.)  bound   notes
 *   F32      0              0       0                0       copy
 *   F16      2.2e-4         4.9e-4  2.4e-4           4.9e-4  RNE to 11 bits: <= 2^-11 per value
 *   BF16     1.7e-3         3.9e-3  1.7e-3           3.9e-3  RNE to 8 bits: <= 2^-8 per value
 *   Q8_0     0.0060         0.007   0.0119           0.014   255 levels per 32
 *   Q4_0     0.0966         0.11    0.179            0.21    16 levels, symmetric scale
 *   Q4_1     0.088          0.10    0.119            0.14    16 levels, min/max
 *   Q5_0     0.0469         0.054   0.099            0.115
 *   Q5_1     0.0396         0.046   0.0561           0.065
 *   Q2_K     0.285          0.32    0.204            0.24    4 levels per 16, 4-bit sub-scales
 *   Q3_K     0.152          0.175   0.161            0.19    8 levels per 16
 *   Q4_K     0.075          0.086   0.104            0.12    16 levels per 32 + min
 *   Q5_K     0.0372         0.043   0.0537           0.062
 *   Q6_K     0.0175         0.020   0.033            0.038   64 levels per 16
 *   IQ4_NL   0.0835         0.096   0.130            0.15    16 non-uniform levels per 32
 *   IQ4_XS   0.0778         0.09    0.129            0.15    same with 6-bit sub-scales
 *   IQ3_S    0.135          0.155   0.295            0.34    rows of 4 from a 512-point lattice
 *   IQ3_XXS  0.179          0.21    0.331            0.38    256 points, signs with parity
 *   IQ2_S    0.247          0.285   0.635            0.73    rows of 8 from 1024 points (3 levels)
 *   IQ2_XS   0.288          0.33    0.637            0.73    512 points, signs with parity
 *   IQ2_XXS  0.343          0.395   0.838            0.96    256 points, one scale per 32
 *   IQ1_M    0.432          0.50    0.453            0.52    values -1, 0, 1 ± 1/8, 2048 rows
 *   IQ1_S    0.464          0.535   0.614            0.71    same, one scale and shift per 32
 * (the lattice types' outliers: one large value in a group of 8 forces the others to the lattice's
 * smallest magnitudes; a flat constant is a lattice row, so it keeps CONST_BOUND) */
typedef struct rt_bound {
    dtype type;
    double smooth, outliers;
} rt_bound;

#define CONST_BOUND 1e-3 /* measured <= 3.1e-4 for every type */

static const rt_bound rt_bounds[] = {
    {DTYPE_F32, 0, 0},          {DTYPE_F16, 4.9e-4, 4.9e-4},  {DTYPE_BF16, 3.9e-3, 3.9e-3},
    {DTYPE_Q8_0, 0.007, 0.014}, {DTYPE_Q4_0, 0.11, 0.21},     {DTYPE_Q4_1, 0.10, 0.14},
    {DTYPE_Q5_0, 0.054, 0.115}, {DTYPE_Q5_1, 0.046, 0.065},   {DTYPE_Q2_K, 0.32, 0.24},
    {DTYPE_Q3_K, 0.175, 0.19},  {DTYPE_Q4_K, 0.086, 0.12},    {DTYPE_Q5_K, 0.043, 0.062},
    {DTYPE_Q6_K, 0.020, 0.038}, {DTYPE_IQ4_NL, 0.096, 0.15},  {DTYPE_IQ4_XS, 0.09, 0.15},
    {DTYPE_IQ3_S, 0.155, 0.34}, {DTYPE_IQ3_XXS, 0.21, 0.38},  {DTYPE_IQ2_S, 0.285, 0.73},
    {DTYPE_IQ2_XS, 0.33, 0.73}, {DTYPE_IQ2_XXS, 0.395, 0.96}, {DTYPE_IQ1_M, 0.50, 0.52},
    {DTYPE_IQ1_S, 0.535, 0.71},
};

static double rt_bound_for(const rt_bound *b, int dist)
{
    switch (dist) {
    case DIST_OUTLIERS:
        return b->outliers;
    case DIST_ZERO:
        return 0;
    case DIST_CONST: /* BF16 keeps only 8 bits of the constant */
        return b->type == DTYPE_F32 ? 0 : b->type == DTYPE_BF16 ? b->smooth : CONST_BOUND;
    default:
        return b->smooth;
    }
}

static void test_round_trips(void)
{
    static const int64_t blocks[] = {1, 3, 17};
    printf("round trips: relative RMSE, worst over sizes 1/3/17 blocks\n%-7s", "type");
    for (int d = 0; d < DIST_COUNT; d++) printf(" %9s", dist_names[d]);
    printf("   bounds (smooth, outliers)\n");
    for (size_t ti = 0; ti < sizeof rt_bounds / sizeof rt_bounds[0]; ti++) {
        const dtype type = rt_bounds[ti].type;
        const dtype_traits *tr = dtype_get(type);
        printf("%-7s", tr->name);
        for (int d = 0; d < DIST_COUNT; d++) {
            double worst = 0;
            for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
                const int64_t n = blocks[bi] * tr->block_size * (tr->block_size == 1 ? 256 : 1);
                uint64_t rng = 1234 + 7 * (uint64_t)d + 1000 * bi;
                float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
                const size_t nb = dtype_row_bytes(type, n);
                uint8_t *q = malloc(nb);
                fill(d, x, n, &rng);
                CHECK(quant_quantize_row(type, x, q, n));
                CHECK(quant_dequantize_row(type, q, y, n));
                bool finite = true, zero = true;
                for (int64_t i = 0; i < n; i++) {
                    finite &= isfinite(y[i]) != 0;
                    zero &= y[i] == 0.0f;
                }
                CHECKF(finite, "%s %s: non-finite output", tr->name, dist_names[d]);
                if (d == DIST_ZERO) CHECKF(zero, "%s: zeros do not stay zeros", tr->name);
                const double e = rel_rmse(x, y, n);
                if (e > worst) worst = e;
                const double bound = rt_bound_for(&rt_bounds[ti], d);
                CHECKF(e <= bound, "%s %s %lld: relative RMSE %.3g > %.3g", tr->name, dist_names[d],
                       (long long)n, e, bound);
                free(x);
                free(y);
                free(q);
            }
            printf(" %9.3g", worst);
        }
        printf("   %.3g, %.3g\n", rt_bounds[ti].smooth, rt_bounds[ti].outliers);
    }
}

/* Re-quantizing a dequantized row reproduces it exactly for the max-abs types: the largest value
 * is d * (-8 | -16 | +-127) exactly, so the same fp16 scale and the same codes come back. */
static void test_idempotence(void)
{
    static const dtype types[] = {DTYPE_Q4_0, DTYPE_Q5_0, DTYPE_Q8_0, DTYPE_F16, DTYPE_BF16};
    const int64_t n = 17 * 256;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z);
    uint8_t *q = malloc(dtype_row_bytes(DTYPE_F32, n));
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        for (int d = 0; d < DIST_COUNT; d++) {
            uint64_t rng = 99 + (uint64_t)d;
            fill(d, x, n, &rng);
            CHECK(quant_quantize_row(types[ti], x, q, n));
            CHECK(quant_dequantize_row(types[ti], q, y, n));
            CHECK(quant_quantize_row(types[ti], y, q, n));
            CHECK(quant_dequantize_row(types[ti], q, z, n));
            CHECKF(memcmp(y, z, n * sizeof *y) == 0, "%s %s: not idempotent",
                   dtype_get(types[ti])->name, dist_names[d]);
        }
    }
    free(x);
    free(y);
    free(z);
    free(q);
}

/* Unsupported types and ragged lengths are refused; unaligned buffers work (UBSan watches). */
static void test_api_edges(void)
{
    float x[512], y[512], y2[512];
    uint8_t buf[4096 + 1];
    uint64_t rng = 5;
    fill(DIST_GAUSS, x, 512, &rng);
    static const uint32_t bad[] = {DTYPE_Q8_1, DTYPE_Q8_K, DTYPE_I8, DTYPE_I16,
                                   DTYPE_I32,  4,          5,        39};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!quant_quantize_row((dtype)bad[i], x, buf, 256));
        CHECK(!quant_dequantize_row((dtype)bad[i], buf, y, 256));
    }
    for (int ti = 0; ti < N_TYPES; ti++) {
        const dtype type = all_types[ti];
        const dtype_traits *tr = dtype_get(type);
        if (tr->block_size > 1) {
            CHECK(!quant_quantize_row(type, x, buf, tr->block_size + 1));
            CHECK(!quant_dequantize_row(type, buf, y, tr->block_size / 2));
        }
        CHECK(quant_quantize_row(type, x, buf, 0));
        /* the same bytes at an odd address decode the same */
        const size_t nb = dtype_row_bytes(type, 512);
        CHECK(nb > 0 && nb <= 4096);
        CHECK(quant_quantize_row(type, x, buf + 1, 512));
        CHECK(quant_dequantize_row(type, buf + 1, y, 512));
        CHECK(quant_quantize_row(type, x, buf, 512));
        CHECK(quant_dequantize_row(type, buf, y2, 512));
        CHECKF(memcmp(y, y2, sizeof y) == 0, "%s: unaligned buffers differ", tr->name);
        /* non-finite and huge inputs: defined behaviour (UBSan), whatever the values */
        float w[512];
        memcpy(w, x, sizeof w);
        w[3] = INFINITY;
        w[300] = NAN;
        w[301] = -3e38f;
        CHECK(quant_quantize_row(type, w, buf, 512));
        CHECK(quant_dequantize_row(type, buf, y, 512));
    }
}

/* ---- 3. fp16 / bf16 -------------------------------------------------------------------------- */

static bool fp16_is_nan(uint16_t h)
{
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

static void test_fp16(void)
{
    /* decoding: specific values */
    CHECK(fp16_to_f32(0x0000) == 0.0f && !signbit(fp16_to_f32(0x0000)));
    CHECK(fp16_to_f32(0x8000) == 0.0f && signbit(fp16_to_f32(0x8000)));
    CHECK(fp16_to_f32(0x0001) == ldexpf(1, -24)); /* smallest subnormal */
    CHECK(fp16_to_f32(0x8001) == -ldexpf(1, -24));
    CHECK(fp16_to_f32(0x03ff) == ldexpf(1023, -24)); /* largest subnormal */
    CHECK(fp16_to_f32(0x0200) == ldexpf(1, -15));
    CHECK(fp16_to_f32(0x0400) == ldexpf(1, -14)); /* smallest normal */
    CHECK(fp16_to_f32(0x3c00) == 1.0f);
    CHECK(fp16_to_f32(0x3c01) == 1.0f + ldexpf(1, -10));
    CHECK(fp16_to_f32(0xc000) == -2.0f);
    CHECK(fp16_to_f32(0x7bff) == 65504.0f); /* max finite */
    CHECK(fp16_to_f32(0x7c00) == INFINITY);
    CHECK(fp16_to_f32(0xfc00) == -INFINITY);
    CHECK(isnan(fp16_to_f32(0x7e00)) && isnan(fp16_to_f32(0x7c01)) && isnan(fp16_to_f32(0xfe00)));

    /* encoding: specific values */
    CHECK(f32_to_fp16(0.0f) == 0x0000);
    CHECK(f32_to_fp16(-0.0f) == 0x8000);
    CHECK(f32_to_fp16(1.0f) == 0x3c00);
    CHECK(f32_to_fp16(-2.0f) == 0xc000);
    CHECK(f32_to_fp16(65504.0f) == 0x7bff);
    CHECK(f32_to_fp16(65519.996f) == 0x7bff); /* just under the tie: max finite */
    CHECK(f32_to_fp16(65520.0f) == 0x7c00);   /* tie between 65504 (odd) and 2^16: even = inf */
    CHECK(f32_to_fp16(-65520.0f) == 0xfc00);
    CHECK(f32_to_fp16(1e6f) == 0x7c00); /* overflow */
    CHECK(f32_to_fp16(3.4e38f) == 0x7c00);
    CHECK(f32_to_fp16(INFINITY) == 0x7c00);
    CHECK(f32_to_fp16(-INFINITY) == 0xfc00);
    CHECK(fp16_is_nan(f32_to_fp16(NAN)) && (f32_to_fp16(NAN) & 0x0200)); /* quiet */
    CHECK(
        fp16_is_nan(f32_to_fp16(bitsf(0x7f800001)))); /* signalling NaN, payload only in low bits */
    CHECK(fp16_is_nan(f32_to_fp16(bitsf(0xff800001))) && (f32_to_fp16(bitsf(0xff800001)) & 0x8000));
    CHECK(f32_to_fp16(ldexpf(1, -24)) == 0x0001);
    CHECK(f32_to_fp16(ldexpf(1, -25)) == 0x0000); /* tie between 0 and 2^-24: even = 0 */
    CHECK(f32_to_fp16(-ldexpf(1, -25)) == 0x8000);
    CHECK(f32_to_fp16(nextafterf(ldexpf(1, -25), 1)) == 0x0001);
    CHECK(f32_to_fp16(ldexpf(3, -25)) == 0x0002);    /* tie between 1 and 2 ulps: 2 */
    CHECK(f32_to_fp16(ldexpf(5, -25)) == 0x0002);    /* tie between 2 and 3 ulps: 2 */
    CHECK(f32_to_fp16(ldexpf(1, -30)) == 0x0000);    /* underflow */
    CHECK(f32_to_fp16(bitsf(0x00000001)) == 0x0000); /* float subnormal */
    CHECK(f32_to_fp16(ldexpf(2047, -25)) == 0x0400); /* tie 1023.5 ulps: up to smallest normal */
    CHECK(f32_to_fp16(1.0f + ldexpf(1, -11)) == 0x3c00); /* tie: even */
    CHECK(f32_to_fp16(1.0f + ldexpf(3, -11)) == 0x3c02); /* tie: even */
    CHECK(f32_to_fp16(nextafterf(1.0f + ldexpf(1, -11), 2)) == 0x3c01);
    CHECK(f32_to_fp16(2047.5f) == 0x67ff + 1); /* 2047.5 -> 2048 (tie at 2^11 - 0.5, odd) */

    /* exhaustive: every half round-trips; every midpoint between neighbours goes to the even one,
     * and the floats right next to it to the nearer one */
    int bad_rt = 0, bad_mid = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = fp16_to_f32((uint16_t)h);
        if (fp16_is_nan((uint16_t)h)) {
            bad_rt += !isnan(f) || !fp16_is_nan(f32_to_fp16(f)) ||
                      (f32_to_fp16(f) & 0x8000) != (h & 0x8000);
            continue;
        }
        bad_rt += f32_to_fp16(f) != h;
        if ((h & 0x7fff) >= 0x7bff) continue; /* no finite upper neighbour */
        const float up = fp16_to_f32((uint16_t)(h + 1));
        const float mid = (f + up) / 2; /* exact: 12 significant bits */
        const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        bad_mid += f32_to_fp16(mid) != even;
        bad_mid += f32_to_fp16(nextafterf(mid, 0)) != h;
        bad_mid += f32_to_fp16(nextafterf(mid, 2 * up)) != h + 1;
    }
    CHECKF(bad_rt == 0, "%d halves do not round-trip", bad_rt);
    CHECKF(bad_mid == 0, "%d midpoints round wrongly", bad_mid);

    /* random floats in the half range land on the nearest half (ties excluded above) */
    uint64_t rng = 77;
    int bad_near = 0;
    for (int i = 0; i < 200000; i++) {
        const float f =
            bitsf((uint32_t)(rng_next(&rng) % 0x477ff000u) | (uint32_t)(rng_next(&rng) & 1) << 31);
        const uint16_t h = f32_to_fp16(f);
        const double e = fabs((double)fp16_to_f32(h) - f);
        const uint16_t lo = (h & 0x7fff) ? (uint16_t)(h - 1) : h;
        const uint16_t hi = (h & 0x7fff) < 0x7bff ? (uint16_t)(h + 1) : h;
        bad_near += e > fabs((double)fp16_to_f32(lo) - f) || e > fabs((double)fp16_to_f32(hi) - f);
    }
    CHECKF(bad_near == 0, "%d floats not rounded to the nearest half", bad_near);
}

static void test_bf16(void)
{
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
    CHECK(bf16_to_f32(0xc000) == -2.0f);
    CHECK(bf16_to_f32(0x7f80) == INFINITY && bf16_to_f32(0xff80) == -INFINITY);
    CHECK(isnan(bf16_to_f32(0x7fc0)));
    CHECK(bf16_to_f32(0x0001) == bitsf(0x00010000)); /* subnormal */
    CHECK(bf16_to_f32(0x7f7f) == bitsf(0x7f7f0000)); /* max finite */

    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(f32_to_bf16(-0.0f) == 0x8000);
    CHECK(f32_to_bf16(bitsf(0x3f808000)) == 0x3f80); /* tie: even */
    CHECK(f32_to_bf16(bitsf(0x3f818000)) == 0x3f82); /* tie: even */
    CHECK(f32_to_bf16(bitsf(0x3f808001)) == 0x3f81);
    CHECK(f32_to_bf16(bitsf(0x3f807fff)) == 0x3f80);
    CHECK(f32_to_bf16(bitsf(0x00008000)) == 0x0000); /* subnormal tie */
    CHECK(f32_to_bf16(bitsf(0x00018000)) == 0x0002);
    CHECK(f32_to_bf16(bitsf(0x00008001)) == 0x0001);
    CHECK(f32_to_bf16(bitsf(0x7f7f0000)) == 0x7f7f); /* max finite bf16 */
    CHECK(f32_to_bf16(bitsf(0x7f7f8000)) == 0x7f80); /* tie above max (odd): inf */
    CHECK(f32_to_bf16(bitsf(0x7f7fffff)) == 0x7f80); /* FLT_MAX overflows to inf */
    CHECK(f32_to_bf16(-bitsf(0x7f7fffff)) == 0xff80);
    CHECK(f32_to_bf16(INFINITY) == 0x7f80 && f32_to_bf16(-INFINITY) == 0xff80);
    /* NaN stays NaN (never rounds to inf), quiet, sign kept */
    static const uint32_t nans[] = {0x7f800001, 0x7fc00000, 0x7fffffff, 0xff800001, 0x7f80ffff};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        const uint16_t h = f32_to_bf16(bitsf(nans[i]));
        CHECKF((h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0 && (h & 0x0040) != 0 &&
                   (h >> 15) == (nans[i] >> 31),
               "NaN %08x -> %04x", nans[i], h);
    }
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = bf16_to_f32((uint16_t)h);
        bad += isnan(f) ? !isnan(bf16_to_f32(f32_to_bf16(f))) : f32_to_bf16(f) != h;
    }
    CHECKF(bad == 0, "%d bf16 values do not round-trip", bad);
}

int main(void)
{
    test_fp16();
    test_bf16();
    test_api_edges();
    test_idempotence();
    test_iq_tables();
    test_golden();
    test_round_trips();
    return test_finish();
}
