/* test_gguf.c — tests of src/formats/gguf.c, the GGUF reader and writer.
 * 1. Reader: every metadata value type (scalars, strings, arrays of each element type, empty
 *    ones), versions 2 and 3, typed getters.
 * 2. Writer round trips: setters + gguf_writer_copy_kv of every type, a tensor of every supported
 *    type, default and non-default general.alignment, read back with and without mmap; the
 *    streaming API; aborted / failed writes leave nothing at the target path; copying every kv and
 *    tensor of a real fixture gives the same file; the writer refuses what the reader would reject.
 * 3. Hostile files: a byte-level serializer (bb_*) builds each malformed file the writer refuses
 *    to write; one negative case per item of issue 2's list, each checked through
 *    gguf_open_memory and gguf_open (mmap and read) for the status and a message naming the file
 *    and the problem; every truncation of valid files fails cleanly.
 * With R1_GGUF_CORPUS_DIR=DIR set, each hostile file is also written to DIR (fuzz seeds). */
#include "formats/gguf.h"
#include "tensor/dtype.h"
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME 256 /* gguf.c's limit on key and tensor name bytes */

static char tmp_dir[64];

/* ---- byte builder ---------------------------------------------------------------------------- */

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static void bb_put(bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) abort();
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void bb_free(bb *b)
{
    free(b->p);
    *b = (bb){0};
}

static void bb_u8(bb *b, uint8_t v)
{
    bb_put(b, &v, 1);
}

static void bb_u16(bb *b, uint16_t v)
{
    bb_put(b, &v, 2);
}

static void bb_u32(bb *b, uint32_t v)
{
    bb_put(b, &v, 4);
}

static void bb_u64(bb *b, uint64_t v)
{
    bb_put(b, &v, 8);
}

static void bb_f32(bb *b, float v)
{
    bb_put(b, &v, 4);
}

static void bb_f64(bb *b, double v)
{
    bb_put(b, &v, 8);
}

static void bb_strn(bb *b, const char *s, size_t n)
{
    bb_u64(b, n);
    bb_put(b, s, n);
}

static void bb_str(bb *b, const char *s)
{
    bb_strn(b, s, strlen(s));
}

static void bb_zeros(bb *b, size_t n)
{
    for (size_t i = 0; i < n; i++) bb_u8(b, 0);
}

static void bb_pad(bb *b, size_t align)
{
    while (b->n % align) bb_u8(b, 0);
}

static void bb_hdr(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bb_put(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}

/* key + value type; the caller appends the value */
static void bb_key(bb *b, const char *key, uint32_t type)
{
    bb_str(b, key);
    bb_u32(b, type);
}

static void bb_kv_u32(bb *b, const char *key, uint32_t v)
{
    bb_key(b, key, GGUF_UINT32);
    bb_u32(b, v);
}

static void bb_tinfo(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                     uint64_t offset)
{
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) bb_u64(b, ne[d]);
    bb_u32(b, type);
    bb_u64(b, offset);
}

/* One scalar of type t (not string/array): integers from iv, floats from fv. */
static void bb_scalar(bb *b, gguf_vtype t, int64_t iv, double fv)
{
    switch (t) {
    case GGUF_UINT8:
    case GGUF_INT8:
    case GGUF_BOOL:
        bb_u8(b, (uint8_t)iv);
        break;
    case GGUF_UINT16:
    case GGUF_INT16:
        bb_u16(b, (uint16_t)iv);
        break;
    case GGUF_UINT32:
    case GGUF_INT32:
        bb_u32(b, (uint32_t)iv);
        break;
    case GGUF_UINT64:
    case GGUF_INT64:
        bb_u64(b, (uint64_t)iv);
        break;
    case GGUF_FLOAT32:
        bb_f32(b, (float)fv);
        break;
    case GGUF_FLOAT64:
        bb_f64(b, fv);
        break;
    default:
        abort();
    }
}

/* ---- files ----------------------------------------------------------------------------------- */

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n)) abort();
    fclose(f);
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp_dir, name);
}

/* ---- comparisons ----------------------------------------------------------------------------- */

static size_t vsize(gguf_vtype t)
{
    switch (t) {
    case GGUF_UINT8:
    case GGUF_INT8:
    case GGUF_BOOL:
        return 1;
    case GGUF_UINT16:
    case GGUF_INT16:
        return 2;
    case GGUF_UINT32:
    case GGUF_INT32:
    case GGUF_FLOAT32:
        return 4;
    case GGUF_UINT64:
    case GGUF_INT64:
    case GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static bool str_eq(gguf_str a, gguf_str b)
{
    return a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, (size_t)a.len));
}

/* Same key, type and value, bit for bit. */
static bool kv_equal(const gguf_kv *a, const gguf_kv *b)
{
    if (strcmp(a->key, b->key) || a->type != b->type) return false;
    switch (a->type) {
    case GGUF_STRING:
        return str_eq(a->v.str, b->v.str);
    case GGUF_FLOAT32:
    case GGUF_FLOAT64:
        return !memcmp(&a->v.f64, &b->v.f64, sizeof(double));
    case GGUF_ARRAY:
        if (a->arr_type != b->arr_type || a->arr_n != b->arr_n) return false;
        if (a->arr_type == GGUF_STRING) {
            for (uint64_t i = 0; i < a->arr_n; i++)
                if (!str_eq(a->arr_str[i], b->arr_str[i])) return false;
            return true;
        }
        return a->arr_n == 0 ||
               !memcmp(a->arr_data, b->arr_data, (size_t)a->arr_n * vsize(a->arr_type));
    default:
        return a->v.u64 == b->v.u64;
    }
}

static bool tensor_equal(const gguf_tensor *a, const gguf_tensor *b)
{
    if (strcmp(a->name, b->name) || a->type != b->type || a->n_dims != b->n_dims ||
        a->n_elements != b->n_elements || a->n_bytes != b->n_bytes)
        return false;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return !memcmp(a->data, b->data, a->n_bytes);
}

/* ---- 1. reader: every value type ------------------------------------------------------------- */

static const gguf_vtype num_types[] = {GGUF_UINT8,  GGUF_INT8,   GGUF_UINT16,  GGUF_INT16,
                                       GGUF_UINT32, GGUF_INT32,  GGUF_FLOAT32, GGUF_UINT64,
                                       GGUF_INT64,  GGUF_FLOAT64};
#define N_NUM_TYPES (sizeof num_types / sizeof num_types[0])

static bool is_float_type(gguf_vtype t)
{
    return t == GGUF_FLOAT32 || t == GGUF_FLOAT64;
}

static bool is_signed_type(gguf_vtype t)
{
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

/* element i of the test array of type t */
static int64_t arr_ival(gguf_vtype t, int i)
{
    static const int64_t u[] = {0, 1, 100, 127, 255};
    static const int64_t s[] = {0, -1, 100, -128, 127};
    return is_signed_type(t) ? s[i] : u[i];
}

static double arr_fval(int i)
{
    static const double f[] = {0.0, -0.0, 1.5, -2.25, 65504.0};
    return f[i];
}

static char long_key[MAX_NAME + 1]; /* exactly 256 bytes: the longest allowed */

/* A file with one key per scalar type, arrays of every element type, empty string/arrays and a
 * key of the maximum length; no tensors. */
static void build_all_types(bb *b, uint32_t version)
{
    memset(long_key, 'k', MAX_NAME);
    long_key[MAX_NAME] = 0;
    size_t n_kv = 14 + N_NUM_TYPES + 6;
    bb_hdr(b, version, 0, n_kv);
    bb_key(b, "t.u8", GGUF_UINT8), bb_u8(b, 200);
    bb_key(b, "t.i8", GGUF_INT8), bb_u8(b, (uint8_t)-100);
    bb_key(b, "t.u16", GGUF_UINT16), bb_u16(b, 60000);
    bb_key(b, "t.i16", GGUF_INT16), bb_u16(b, (uint16_t)-30000);
    bb_key(b, "t.u32", GGUF_UINT32), bb_u32(b, 4000000000u);
    bb_key(b, "t.i32", GGUF_INT32), bb_u32(b, (uint32_t)-2000000000);
    bb_key(b, "t.f32", GGUF_FLOAT32), bb_f32(b, -1.5f);
    bb_key(b, "t.bool0", GGUF_BOOL), bb_u8(b, 0);
    bb_key(b, "t.bool1", GGUF_BOOL), bb_u8(b, 1);
    bb_key(b, "t.str", GGUF_STRING), bb_str(b, "hello, w\xc3\xb6rld");
    bb_key(b, "t.str_empty", GGUF_STRING), bb_str(b, "");
    bb_key(b, "t.u64", GGUF_UINT64), bb_u64(b, 0xFEDCBA9876543210ull);
    bb_key(b, "t.i64", GGUF_INT64), bb_u64(b, (uint64_t)INT64_MIN);
    bb_key(b, "t.f64", GGUF_FLOAT64), bb_f64(b, -1e300);
    for (size_t k = 0; k < N_NUM_TYPES; k++) {
        gguf_vtype t = num_types[k];
        char key[64];
        snprintf(key, sizeof key, "t.arr.%s", gguf_vtype_name(t));
        bb_key(b, key, GGUF_ARRAY);
        bb_u32(b, t);
        bb_u64(b, 5);
        for (int i = 0; i < 5; i++) bb_scalar(b, t, arr_ival(t, i), arr_fval(i));
    }
    bb_key(b, "t.arr.bool", GGUF_ARRAY), bb_u32(b, GGUF_BOOL), bb_u64(b, 4);
    bb_u8(b, 0), bb_u8(b, 1), bb_u8(b, 1), bb_u8(b, 0);
    bb_key(b, "t.arr.string", GGUF_ARRAY), bb_u32(b, GGUF_STRING), bb_u64(b, 3);
    bb_str(b, "a"), bb_str(b, ""), bb_str(b, "ccc");
    bb_key(b, "t.arr.empty_u32", GGUF_ARRAY), bb_u32(b, GGUF_UINT32), bb_u64(b, 0);
    bb_key(b, "t.arr.empty_str", GGUF_ARRAY), bb_u32(b, GGUF_STRING), bb_u64(b, 0);
    bb_key(b, long_key, GGUF_UINT8), bb_u8(b, 7);
    bb_key(b, "t.utf8.\xe6\xb7\xb1\xe5\xba\xa6", GGUF_STRING), bb_str(b, "\xf0\x9f\x90\xb3");
}

static const gguf_kv *need_kv(const gguf_file *f, const char *key, gguf_vtype type)
{
    const gguf_kv *kv = gguf_find(f, key);
    CHECKF(kv && kv->type == type, "key %s missing or of type %s", key,
           kv ? gguf_vtype_name(kv->type) : "-");
    return kv && kv->type == type ? kv : NULL;
}

static bool str_is(gguf_str s, const char *want)
{
    return s.len == strlen(want) && !memcmp(s.data, want, s.len);
}

/* Check the values of build_all_types in a parsed file. */
static void check_all_types(const gguf_file *f)
{
    const gguf_kv *kv;
    if ((kv = need_kv(f, "t.u8", GGUF_UINT8))) CHECK(kv->v.u64 == 200);
    if ((kv = need_kv(f, "t.i8", GGUF_INT8))) CHECK(kv->v.i64 == -100);
    if ((kv = need_kv(f, "t.u16", GGUF_UINT16))) CHECK(kv->v.u64 == 60000);
    if ((kv = need_kv(f, "t.i16", GGUF_INT16))) CHECK(kv->v.i64 == -30000);
    if ((kv = need_kv(f, "t.u32", GGUF_UINT32))) CHECK(kv->v.u64 == 4000000000u);
    if ((kv = need_kv(f, "t.i32", GGUF_INT32))) CHECK(kv->v.i64 == -2000000000);
    if ((kv = need_kv(f, "t.f32", GGUF_FLOAT32))) CHECK(kv->v.f64 == -1.5);
    if ((kv = need_kv(f, "t.bool0", GGUF_BOOL))) CHECK(kv->v.u64 == 0);
    if ((kv = need_kv(f, "t.bool1", GGUF_BOOL))) CHECK(kv->v.u64 == 1);
    if ((kv = need_kv(f, "t.str", GGUF_STRING))) CHECK(str_is(kv->v.str, "hello, w\xc3\xb6rld"));
    if ((kv = need_kv(f, "t.str_empty", GGUF_STRING))) CHECK(kv->v.str.len == 0);
    if ((kv = need_kv(f, "t.u64", GGUF_UINT64))) CHECK(kv->v.u64 == 0xFEDCBA9876543210ull);
    if ((kv = need_kv(f, "t.i64", GGUF_INT64))) CHECK(kv->v.i64 == INT64_MIN);
    if ((kv = need_kv(f, "t.f64", GGUF_FLOAT64))) CHECK(kv->v.f64 == -1e300);
    for (size_t k = 0; k < N_NUM_TYPES; k++) {
        gguf_vtype t = num_types[k];
        char key[64];
        snprintf(key, sizeof key, "t.arr.%s", gguf_vtype_name(t));
        if (!(kv = need_kv(f, key, GGUF_ARRAY))) continue;
        CHECKF(kv->arr_type == t && kv->arr_n == 5, "%s: %s x %llu", key,
               gguf_vtype_name(kv->arr_type), (unsigned long long)kv->arr_n);
        for (int i = 0; i < 5; i++) {
            if (is_float_type(t)) {
                CHECKF(gguf_arr_f64(kv, (uint64_t)i) == arr_fval(i), "%s[%d]", key, i);
                CHECKF(gguf_arr_i64(kv, (uint64_t)i) == (int64_t)arr_fval(i), "%s[%d]", key, i);
            } else {
                CHECKF(gguf_arr_i64(kv, (uint64_t)i) == arr_ival(t, i), "%s[%d] = %lld", key, i,
                       (long long)gguf_arr_i64(kv, (uint64_t)i));
                CHECKF(gguf_arr_f64(kv, (uint64_t)i) == (double)arr_ival(t, i), "%s[%d]", key, i);
            }
        }
        CHECK(gguf_arr_i64(kv, 5) == 0 && gguf_arr_f64(kv, 99) == 0); /* out of range: 0 */
    }
    if ((kv = need_kv(f, "t.arr.bool", GGUF_ARRAY))) {
        CHECK(kv->arr_type == GGUF_BOOL && kv->arr_n == 4);
        CHECK(gguf_arr_i64(kv, 0) == 0 && gguf_arr_i64(kv, 1) == 1 && gguf_arr_i64(kv, 2) == 1);
    }
    if ((kv = need_kv(f, "t.arr.string", GGUF_ARRAY))) {
        CHECK(kv->arr_type == GGUF_STRING && kv->arr_n == 3);
        if (kv->arr_n == 3)
            CHECK(str_is(kv->arr_str[0], "a") && str_is(kv->arr_str[1], "") &&
                  str_is(kv->arr_str[2], "ccc"));
        CHECK(gguf_arr_i64(kv, 0) == 0); /* numeric access to a string array: 0 */
    }
    if ((kv = need_kv(f, "t.arr.empty_u32", GGUF_ARRAY)))
        CHECK(kv->arr_type == GGUF_UINT32 && kv->arr_n == 0);
    if ((kv = need_kv(f, "t.arr.empty_str", GGUF_ARRAY)))
        CHECK(kv->arr_type == GGUF_STRING && kv->arr_n == 0);
    if ((kv = need_kv(f, long_key, GGUF_UINT8))) CHECK(kv->v.u64 == 7);
    if ((kv = need_kv(f, "t.utf8.\xe6\xb7\xb1\xe5\xba\xa6", GGUF_STRING)))
        CHECK(str_is(kv->v.str, "\xf0\x9f\x90\xb3"));
    CHECK(gguf_find(f, "t.absent") == NULL && gguf_find_tensor(f, "t.u8") == NULL);
}

static void test_reader_all_types(void)
{
    for (uint32_t version = 2; version <= 3; version++) {
        bb b = {0};
        build_all_types(&b, version);
        gguf_file *f = NULL;
        char err[R1_ERR_MAX] = "";
        r1_status st = gguf_open_memory(b.p, b.n, "all-types.gguf", &f, err);
        CHECKF(st == R1_OK, "v%u: %s", version, err);
        if (st == R1_OK) {
            CHECK(f->version == version && f->n_kv == (int64_t)(14 + N_NUM_TYPES + 6));
            CHECK(f->n_tensors == 0 && f->alignment == 32 && f->data_offset <= f->size);
            check_all_types(f);
            gguf_close(f);
        }
        bb_free(&b);
    }
}

static void test_getters(void)
{
    bb b = {0};
    build_all_types(&b, 3);
    gguf_file *f = NULL;
    char err[R1_ERR_MAX] = "";
    if (gguf_open_memory(b.p, b.n, "getters.gguf", &f, err) != R1_OK) {
        CHECKF(0, "%s", err);
        bb_free(&b);
        return;
    }
    uint32_t u = 0;
    float x = 0;
    bool v = false, is_bad = false;
    char s[8];
    CHECK(gguf_get_u32(f, "t.u8", &u, &is_bad) && u == 200 && !is_bad);
    CHECK(gguf_get_u32(f, "t.u32", &u, &is_bad) && u == 4000000000u && !is_bad);
    CHECK(gguf_get_u32(f, "t.u16", &u, NULL) && u == 60000);
    CHECK(!gguf_get_u32(f, "t.absent", &u, &is_bad) && !is_bad);
    CHECK(!gguf_get_u32(f, "t.i8", &u, &is_bad) && is_bad); /* negative */
    is_bad = false;
    CHECK(!gguf_get_u32(f, "t.u64", &u, &is_bad) && is_bad); /* over u32 */
    is_bad = false;
    CHECK(!gguf_get_u32(f, "t.str", &u, &is_bad) && is_bad);
    is_bad = false;
    CHECK(!gguf_get_u32(f, "t.f32", &u, &is_bad) && is_bad);
    is_bad = false;
    CHECK(!gguf_get_u32(f, "t.arr.u32", &u, &is_bad) && is_bad);
    is_bad = false;
    CHECK(gguf_get_f32(f, "t.f32", &x, &is_bad) && x == -1.5f);
    CHECK(gguf_get_f32(f, "t.i16", &x, &is_bad) && x == -30000.0f);
    CHECK(!gguf_get_f32(f, "t.str", &x, &is_bad) && is_bad);
    is_bad = false;
    CHECK(gguf_get_bool(f, "t.bool1", &v, &is_bad) && v);
    CHECK(gguf_get_bool(f, "t.bool0", &v, &is_bad) && !v);
    CHECK(!gguf_get_bool(f, "t.u8", &v, &is_bad) && is_bad); /* 200 is not a bool */
    is_bad = false;
    CHECK(gguf_get_str(f, "t.str", s, sizeof s, &is_bad) && !strcmp(s, "hello, ")); /* truncated */
    CHECK(gguf_get_str(f, "t.str_empty", s, sizeof s, &is_bad) && !strcmp(s, ""));
    CHECK(!gguf_get_str(f, "t.u32", s, sizeof s, &is_bad) && is_bad);
    gguf_close(f);
    bb_free(&b);

    /* integer access to float arrays saturates (NaN, infinities and huge values included) */
    bb_hdr(&b, 3, 0, 2);
    bb_key(&b, "f32", GGUF_ARRAY), bb_u32(&b, GGUF_FLOAT32), bb_u64(&b, 6);
    bb_f32(&b, NAN), bb_f32(&b, INFINITY), bb_f32(&b, -INFINITY), bb_f32(&b, 1e30f);
    bb_f32(&b, -1e30f), bb_f32(&b, -3.9f);
    bb_key(&b, "f64", GGUF_ARRAY), bb_u32(&b, GGUF_FLOAT64), bb_u64(&b, 4);
    bb_f64(&b, 9223372036854775808.0), bb_f64(&b, -9223372036854775808.0), bb_f64(&b, -1e300);
    bb_f64(&b, 9223372036854774784.0); /* largest double below 2^63 */
    if (gguf_open_memory(b.p, b.n, "floats.gguf", &f, err) != R1_OK) {
        CHECKF(0, "%s", err);
    } else {
        const gguf_kv *a = gguf_find(f, "f32"), *d = gguf_find(f, "f64");
        CHECK(gguf_arr_i64(a, 0) == 0 && gguf_arr_i64(a, 1) == INT64_MAX);
        CHECK(gguf_arr_i64(a, 2) == INT64_MIN && gguf_arr_i64(a, 3) == INT64_MAX);
        CHECK(gguf_arr_i64(a, 4) == INT64_MIN && gguf_arr_i64(a, 5) == -3);
        CHECK(isnan(gguf_arr_f64(a, 0)) && gguf_arr_f64(a, 1) == INFINITY);
        CHECK(gguf_arr_i64(d, 0) == INT64_MAX && gguf_arr_i64(d, 1) == INT64_MIN);
        CHECK(gguf_arr_i64(d, 2) == INT64_MIN && gguf_arr_i64(d, 3) == 9223372036854774784);
        gguf_close(f);
    }
    bb_free(&b);
}

/* ---- 2. writer ------------------------------------------------------------------------------- */

#define MAX_TENSORS 64

typedef struct tspec {
    char name[32];
    dtype type;
    int n_dims;
    int64_t ne[4];
    size_t n_bytes;
    uint8_t *data;
} tspec;

/* One tensor of every supported type, with 1..4 dims and rows of 1..3 blocks. */
static int make_tensors(tspec *ts)
{
    int n = 0;
    for (uint32_t id = 0; id < DTYPE_COUNT; id++) {
        const dtype_traits *tr = dtype_get(id);
        if (!tr || !tr->is_supported) continue;
        tspec *t = &ts[n++];
        snprintf(t->name, sizeof t->name, "t%u.%s", id, tr->name);
        t->type = (dtype)id;
        t->n_dims = 1 + (int)(id % 4);
        int64_t rows = 1;
        for (int d = 0; d < 4; d++) {
            t->ne[d] = d == 0          ? tr->block_size * (1 + id % 3)
                       : d < t->n_dims ? 1 + (id + d) % 3
                                       : 1;
            if (d) rows *= t->ne[d];
        }
        t->n_bytes = dtype_row_bytes(t->type, t->ne[0]) * (size_t)rows;
        t->data = malloc(t->n_bytes);
        for (size_t i = 0; i < t->n_bytes; i++) t->data[i] = (uint8_t)(i * 131 + id * 7 + 1);
    }
    return n;
}

static void free_tensors(tspec *ts, int n)
{
    for (int i = 0; i < n; i++) free(ts[i].data);
}

/* Check a read-back file against the specs: shapes, types, bytes, aligned offsets in order. */
static void check_tensors(const gguf_file *f, const tspec *ts, int n, uint64_t align)
{
    CHECKF(f->n_tensors == n, "%lld tensors, want %d", (long long)f->n_tensors, n);
    CHECKF(f->alignment == align && f->data_offset % align == 0, "alignment %llu, data at %zu",
           (unsigned long long)f->alignment, f->data_offset);
    uint64_t off = 0;
    for (int i = 0; i < n && i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        CHECKF(!strcmp(t->name, ts[i].name), "tensor %d is %s, want %s", i, t->name, ts[i].name);
        CHECK(gguf_find_tensor(f, ts[i].name) == t);
        CHECKF(t->type == ts[i].type && t->n_dims == ts[i].n_dims, "%s: type %d dims %d", t->name,
               t->type, t->n_dims);
        int64_t n_el = 1;
        for (int d = 0; d < 4; d++) {
            CHECKF(t->ne[d] == ts[i].ne[d], "%s: ne[%d] = %lld", t->name, d, (long long)t->ne[d]);
            n_el *= ts[i].ne[d];
        }
        CHECK(t->n_elements == n_el);
        CHECKF(t->offset == off, "%s: offset %llu, want %llu", t->name,
               (unsigned long long)t->offset, (unsigned long long)off);
        CHECK(t->data == f->base + f->data_offset + t->offset);
        CHECKF(t->n_bytes == ts[i].n_bytes && !memcmp(t->data, ts[i].data, t->n_bytes),
               "%s: %zu bytes differ", t->name, t->n_bytes);
        off = (off + ts[i].n_bytes + align - 1) / align * align;
    }
}

static const char *const arr_strs[] = {"a", "bb", "", "\xe2\x96\x81x"};
static const int32_t arr_i32[] = {-1, 0, 1, INT32_MAX, INT32_MIN};
static const float arr_f32[] = {0.5f, -0.0f, 1e-38f, 3e38f};

/* Writer filled with: every kv of the all-types file (copy_kv), the setters, one tensor per
 * type; align 0 = default. Returns the source file (to compare kvs), caller closes. */
static gguf_file *fill_writer(gguf_writer *w, bb *src, tspec *ts, int n_ts, uint32_t align,
                              bool with_data)
{
    build_all_types(src, 3);
    gguf_file *sf = NULL;
    char err[R1_ERR_MAX] = "";
    if (gguf_open_memory(src->p, src->n, "src.gguf", &sf, err)) {
        CHECKF(0, "%s", err);
        return NULL;
    }
    if (align) gguf_writer_set_u32(w, "general.alignment", align);
    for (int64_t i = 0; i < sf->n_kv; i++) gguf_writer_copy_kv(w, &sf->kv[i]);
    gguf_writer_set_u32(w, "w.u32", 1);
    gguf_writer_set_u32(w, "w.u32", 4294967295u); /* replaces */
    gguf_writer_set_i32(w, "w.i32", -7);
    gguf_writer_set_f32(w, "w.f32", 0.25f);
    gguf_writer_set_bool(w, "w.bool", true);
    gguf_writer_set_str(w, "w.str", "x y");
    gguf_writer_set_str(w, "w.str_empty", "");
    gguf_writer_set_arr_str(w, "w.arr_str", arr_strs, 4);
    gguf_writer_set_arr_str(w, "w.arr_str_empty", arr_strs, 0);
    gguf_writer_set_arr_i32(w, "w.arr_i32", arr_i32, 5);
    gguf_writer_set_arr_i32(w, "w.arr_i32_empty", arr_i32, 0);
    gguf_writer_set_arr_f32(w, "w.arr_f32", arr_f32, 4);
    gguf_writer_set_arr_f32(w, "w.arr_f32_empty", arr_f32, 0);
    for (int i = 0; i < n_ts; i++) {
        r1_status st = gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne,
                                              with_data ? ts[i].data : NULL, err);
        CHECKF(st == R1_OK, "add %s: %s", ts[i].name, err);
    }
    return sf;
}

/* Check a file written by fill_writer. */
static void check_filled(const gguf_file *f, const gguf_file *sf, const tspec *ts, int n_ts,
                         uint32_t align)
{
    int64_t want_kv = sf->n_kv + 12 + (align ? 1 : 0);
    CHECKF(f->n_kv == want_kv, "%lld kvs, want %lld", (long long)f->n_kv, (long long)want_kv);
    CHECK(f->version == 3);
    for (int64_t i = 0; i < sf->n_kv; i++) {
        const gguf_kv *kv = gguf_find(f, sf->kv[i].key);
        CHECKF(kv && kv_equal(kv, &sf->kv[i]), "copied kv %s differs", sf->kv[i].key);
    }
    check_all_types(f);
    const gguf_kv *kv;
    if (align && (kv = need_kv(f, "general.alignment", GGUF_UINT32))) CHECK(kv->v.u64 == align);
    if ((kv = need_kv(f, "w.u32", GGUF_UINT32))) CHECK(kv->v.u64 == 4294967295u);
    if ((kv = need_kv(f, "w.i32", GGUF_INT32))) CHECK(kv->v.i64 == -7);
    if ((kv = need_kv(f, "w.f32", GGUF_FLOAT32))) CHECK(kv->v.f64 == 0.25);
    if ((kv = need_kv(f, "w.bool", GGUF_BOOL))) CHECK(kv->v.u64 == 1);
    if ((kv = need_kv(f, "w.str", GGUF_STRING))) CHECK(str_is(kv->v.str, "x y"));
    if ((kv = need_kv(f, "w.str_empty", GGUF_STRING))) CHECK(kv->v.str.len == 0);
    if ((kv = need_kv(f, "w.arr_str", GGUF_ARRAY)) && kv->arr_type == GGUF_STRING &&
        kv->arr_n == 4) {
        for (int i = 0; i < 4; i++) CHECK(str_is(kv->arr_str[i], arr_strs[i]));
    } else {
        CHECK(0);
    }
    if ((kv = need_kv(f, "w.arr_str_empty", GGUF_ARRAY)))
        CHECK(kv->arr_type == GGUF_STRING && kv->arr_n == 0);
    if ((kv = need_kv(f, "w.arr_i32", GGUF_ARRAY)) && kv->arr_type == GGUF_INT32 &&
        kv->arr_n == 5) {
        for (int i = 0; i < 5; i++) CHECK(gguf_arr_i64(kv, (uint64_t)i) == arr_i32[i]);
    } else {
        CHECK(0);
    }
    if ((kv = need_kv(f, "w.arr_i32_empty", GGUF_ARRAY)))
        CHECK(kv->arr_type == GGUF_INT32 && kv->arr_n == 0);
    if ((kv = need_kv(f, "w.arr_f32", GGUF_ARRAY)) && kv->arr_type == GGUF_FLOAT32 &&
        kv->arr_n == 4) {
        CHECK(!memcmp(kv->arr_data, arr_f32, sizeof arr_f32));
    } else {
        CHECK(0);
    }
    if ((kv = need_kv(f, "w.arr_f32_empty", GGUF_ARRAY)))
        CHECK(kv->arr_type == GGUF_FLOAT32 && kv->arr_n == 0);
    check_tensors(f, ts, n_ts, align ? align : 32);
}

/* Every truncation of a valid image must fail cleanly (exact-size copies so ASan sees overreads).
 */
static void check_truncations(const uint8_t *p, size_t size, const char *name)
{
    int n_bad = 0;
    for (size_t len = 0; len < size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, p, len);
        gguf_file *f = NULL;
        char err[R1_ERR_MAX] = "";
        r1_status st = gguf_open_memory(copy, len, name, &f, err);
        if (st != R1_ERR_FORMAT || f != NULL || !strstr(err, name)) {
            if (n_bad++ < 5)
                CHECKF(0, "%s truncated to %zu of %zu bytes: status %d: %s", name, len, size, st,
                       err);
            if (st == R1_OK) gguf_close(f);
        }
        free(copy);
    }
    CHECKF(n_bad == 0, "%s: %d truncations not rejected", name, n_bad);
}

static void test_writer_roundtrip(uint32_t align)
{
    tspec ts[MAX_TENSORS];
    int n_ts = make_tensors(ts);
    CHECK(n_ts >= 15); /* every type of issue 2's list */
    gguf_writer *w = gguf_writer_new();
    bb src = {0};
    gguf_file *sf = fill_writer(w, &src, ts, n_ts, align, true);
    char path[256], err[R1_ERR_MAX] = "";
    snprintf(path, sizeof path, "%s/roundtrip-%u.gguf", tmp_dir, align);
    r1_status st = sf ? gguf_writer_write_file(w, path, err) : R1_ERR_FORMAT;
    CHECKF(st == R1_OK, "align %u: %s", align, err);
    gguf_writer_free(w);
    for (int mm = 0; st == R1_OK && mm < 2; mm++) {
        gguf_file *f = NULL;
        r1_status s2 = gguf_open(path, mm == 1, &f, err);
        CHECKF(s2 == R1_OK, "align %u mmap %d: %s", align, mm, err);
        if (s2) continue;
        check_filled(f, sf, ts, n_ts, align);
        if (align == 0 && mm == 0) check_truncations(f->base, f->size, "roundtrip.gguf");
        gguf_close(f);
    }
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!file_exists(tmp));
    unlink(path);
    gguf_close(sf);
    bb_free(&src);
    free_tensors(ts, n_ts);
}

static void test_writer_streaming(void)
{
    tspec ts[MAX_TENSORS];
    int n_ts = make_tensors(ts);
    gguf_writer *w = gguf_writer_new();
    bb src = {0};
    gguf_file *sf = fill_writer(w, &src, ts, n_ts, 64, false);
    char path[256], tmp[300], err[R1_ERR_MAX] = "";
    tmp_path(path, sizeof path, "stream.gguf");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(gguf_writer_write_tensor(w, ts[0].data, ts[0].n_bytes, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_finish(w, err) == R1_ERR_INVALID_ARG); /* not started */
    r1_status st = gguf_writer_begin(w, path, err);
    CHECKF(st == R1_OK, "%s", err);
    CHECK(gguf_writer_begin(w, path, err) == R1_ERR_INVALID_ARG); /* already started */
    CHECK(!file_exists(path) && file_exists(tmp));
    CHECK(gguf_writer_write_tensor(w, ts[0].data, ts[0].n_bytes + 1, err) == R1_ERR_INVALID_ARG);
    CHECK(strstr(err, ts[0].name) != NULL);
    for (int i = 0; i < n_ts && st == R1_OK; i++) {
        st = gguf_writer_write_tensor(w, ts[i].data, ts[i].n_bytes, err);
        CHECKF(st == R1_OK, "%s", err);
        if (i == 2) {
            CHECK(gguf_writer_finish(w, err) == R1_ERR_INVALID_ARG); /* 3 of n written */
            CHECK(strstr(err, "3 of") != NULL);
            CHECK(!file_exists(path));
        }
    }
    CHECK(gguf_writer_write_tensor(w, ts[0].data, ts[0].n_bytes, err) == R1_ERR_INVALID_ARG);
    st = gguf_writer_finish(w, err);
    CHECKF(st == R1_OK, "%s", err);
    CHECK(file_exists(path) && !file_exists(tmp));
    gguf_writer_free(w);
    gguf_file *f = NULL;
    if (st == R1_OK && sf && (st = gguf_open(path, true, &f, err)) == R1_OK) {
        check_filled(f, sf, ts, n_ts, 64);
        gguf_close(f);
    }
    CHECKF(st == R1_OK, "%s", err);
    unlink(path);
    gguf_close(sf);
    bb_free(&src);
    free_tensors(ts, n_ts);
}

/* A writer with two tensors (the second without data when `second_data` is false). */
static gguf_writer *small_writer(const float *data, bool second_data)
{
    gguf_writer *w = gguf_writer_new();
    char err[R1_ERR_MAX];
    int64_t ne[2] = {4, 2};
    gguf_writer_set_str(w, "general.architecture", "test");
    CHECK(gguf_writer_add_tensor(w, "a", DTYPE_F32, 2, ne, data, err) == R1_OK);
    CHECK(gguf_writer_add_tensor(w, "b", DTYPE_F32, 2, ne, second_data ? data : NULL, err) ==
          R1_OK);
    return w;
}

static void test_writer_aborted(void)
{
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char path[256], tmp[300], err[R1_ERR_MAX] = "";
    tmp_path(path, sizeof path, "aborted.gguf");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* streaming abandoned half way: nothing at the path, temp file removed */
    gguf_writer *w = small_writer(data, false);
    CHECK(gguf_writer_begin(w, path, err) == R1_OK);
    CHECK(gguf_writer_write_tensor(w, data, sizeof data, err) == R1_OK);
    gguf_writer_free(w);
    CHECK(!file_exists(path) && !file_exists(tmp));

    /* write_file with a tensor that has no data */
    w = small_writer(data, false);
    CHECK(gguf_writer_write_file(w, path, err) == R1_ERR_INVALID_ARG);
    CHECK(strstr(err, "'b'") != NULL);
    gguf_writer_free(w);
    CHECK(!file_exists(path) && !file_exists(tmp));

    /* an existing file is left untouched by a failed write */
    write_bytes(path, "old", 3);
    w = small_writer(data, false);
    CHECK(gguf_writer_write_file(w, path, err) == R1_ERR_INVALID_ARG);
    gguf_writer_free(w);
    size_t n = 0;
    char *old = test_read_file(path, &n);
    CHECK(old && n == 3 && !memcmp(old, "old", 3) && !file_exists(tmp));
    free(old);
    /* ... and replaced by a successful one */
    w = small_writer(data, true);
    CHECK(gguf_writer_write_file(w, path, err) == R1_OK);
    gguf_writer_free(w);
    gguf_file *f = NULL;
    CHECK(gguf_open(path, false, &f, err) == R1_OK && f->n_tensors == 2 &&
          !memcmp(f->tensors[1].data, data, sizeof data));
    gguf_close(f);
    unlink(path);

    /* directory that does not exist: I/O error naming the path */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.gguf", tmp_dir);
    w = small_writer(data, true);
    CHECK(gguf_writer_write_file(w, bad, err) == R1_ERR_IO && strstr(err, "no/such/dir"));
    gguf_writer_free(w);
    CHECK(!file_exists(bad));

    /* the final rename fails (target is a directory): error, temp file removed */
    char dir[256];
    tmp_path(dir, sizeof dir, "a_dir.gguf");
    mkdir(dir, 0700);
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    w = small_writer(data, true);
    CHECK(gguf_writer_write_file(w, dir, err) == R1_ERR_IO);
    gguf_writer_free(w);
    CHECK(!file_exists(tmp));
    rmdir(dir);
}

/* The writer refuses what the reader would reject, and writes nothing. */
static void test_writer_refuses(void)
{
    char err[R1_ERR_MAX], path[256];
    tmp_path(path, sizeof path, "refused.gguf");
    float data[64] = {0};
    int64_t ne[5] = {4, 2, 1, 1, 1};
    gguf_writer *w = gguf_writer_new();
    CHECK(gguf_writer_add_tensor(w, "x", DTYPE_F32, 0, ne, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "x", DTYPE_F32, 5, ne, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "", DTYPE_F32, 1, ne, data, err) == R1_ERR_INVALID_ARG);
    char name[MAX_NAME + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0; /* 257 bytes */
    CHECK(gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne, data, err) == R1_ERR_INVALID_ARG);
    name[MAX_NAME] = 0; /* 256: allowed */
    CHECK(gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne, data, err) == R1_OK);
    CHECK(gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne, data, err) == R1_ERR_INVALID_ARG);
    int64_t zero[2] = {4, 0}, neg[2] = {-4, 2}, q[1] = {100};
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_F32, 2, zero, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_F32, 2, neg, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_Q4_K, 1, q, data, err) == R1_ERR_INVALID_ARG);
    CHECK(strstr(err, "Q4_K") != NULL);
    CHECK(gguf_writer_add_tensor(w, "z", (dtype)99, 1, ne, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "z", (dtype)4, 1, ne, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_Q8_K, 1, (int64_t[]){256}, data, err) ==
          R1_ERR_INVALID_ARG); /* the reader does not load this type */
    int64_t huge[4] = {1ll << 32, 1ll << 32, 1, 1}, big[4] = {1ll << 31, 1ll << 31, 1, 1};
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_F32, 2, huge, data, err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "z", DTYPE_F32, 2, big, data, err) == R1_ERR_INVALID_ARG);
    gguf_writer_free(w);

    /* general.alignment the reader would reject; over-long or empty keys */
    static const uint32_t bad_align[] = {0, 48, 1u << 20};
    for (int i = 0; i < 4 + 2; i++) {
        w = gguf_writer_new();
        CHECK(gguf_writer_add_tensor(w, "x", DTYPE_F32, 1, ne, data, err) == R1_OK);
        char key[300];
        if (i < 3) {
            gguf_writer_set_u32(w, "general.alignment", bad_align[i]);
        } else if (i == 3) {
            gguf_writer_set_str(w, "general.alignment", "64");
        } else if (i == 4) {
            gguf_writer_set_u32(w, "", 1);
        } else {
            memset(key, 'k', 257);
            key[257] = 0;
            gguf_writer_set_u32(w, key, 1);
        }
        CHECKF(gguf_writer_write_file(w, path, err) == R1_ERR_INVALID_ARG, "case %d: %s", i, err);
        gguf_writer_free(w);
        CHECK(!file_exists(path));
    }

    /* setting general.alignment twice: the last value is the one used for the layout */
    w = gguf_writer_new();
    gguf_writer_set_u32(w, "general.alignment", 64);
    gguf_writer_set_u32(w, "general.alignment", 128);
    CHECK(gguf_writer_add_tensor(w, "x", DTYPE_F32, 1, ne, data, err) == R1_OK);
    CHECK(gguf_writer_add_tensor(w, "y", DTYPE_F32, 1, ne, data, err) == R1_OK);
    r1_status st = gguf_writer_write_file(w, path, err);
    CHECKF(st == R1_OK, "%s", err);
    gguf_writer_free(w);
    gguf_file *f = NULL;
    st = st ? st : gguf_open(path, true, &f, err);
    CHECKF(st == R1_OK, "%s", err);
    if (!st) {
        CHECK(f->alignment == 128 && f->data_offset % 128 == 0 && f->tensors[1].offset == 128);
        gguf_close(f);
    }
    unlink(path);
}

/* Copy every kv and tensor of a real file: the result reads back identical. */
static void test_copy_fixture(const char *rel)
{
    char src[512], path[256], err[R1_ERR_MAX] = "";
    snprintf(src, sizeof src, "%s/%s", R1_TEST_DATA, rel);
    tmp_path(path, sizeof path, "copy.gguf");
    gguf_file *a = NULL, *b = NULL;
    if (gguf_open(src, true, &a, err) != R1_OK) {
        CHECKF(0, "%s", err);
        return;
    }
    gguf_writer *w = gguf_writer_new();
    for (int64_t i = 0; i < a->n_kv; i++) gguf_writer_copy_kv(w, &a->kv[i]);
    for (int64_t i = 0; i < a->n_tensors; i++) {
        const gguf_tensor *t = &a->tensors[i];
        CHECK(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, err) == R1_OK);
    }
    r1_status st = gguf_writer_write_file(w, path, err);
    CHECKF(st == R1_OK, "%s", err);
    gguf_writer_free(w);
    if (!st && (st = gguf_open(path, false, &b, err)) == R1_OK) {
        CHECK(b->n_kv == a->n_kv && b->n_tensors == a->n_tensors && b->alignment == a->alignment);
        for (int64_t i = 0; i < a->n_kv && i < b->n_kv; i++)
            CHECKF(kv_equal(&a->kv[i], &b->kv[i]), "%s: kv %s differs", rel, a->kv[i].key);
        for (int64_t i = 0; i < a->n_tensors && i < b->n_tensors; i++)
            CHECKF(tensor_equal(&a->tensors[i], &b->tensors[i]), "%s: tensor %s differs", rel,
                   a->tensors[i].name);
        gguf_close(b);
    }
    CHECKF(st == R1_OK, "%s", err);
    unlink(path);
    gguf_close(a);
}

/* ---- 3. hostile files ------------------------------------------------------------------------ */

/* Open b three ways (memory with an exact-size copy, file with mmap, file read into memory):
 * each must fail with `want`, leave the out-param alone, and say which file and `what`. */
static void expect_fail_at(const bb *b, r1_status want, const char *what, const char *label,
                           int line)
{
    char name[128], path[256];
    snprintf(name, sizeof name, "hostile-%s.gguf", label);
    tmp_path(path, sizeof path, name);
    write_bytes(path, b->p, b->n);
    const char *corpus = getenv("R1_GGUF_CORPUS_DIR"); /* seeds for fuzz/fuzz_gguf.c */
    if (corpus) {
        char seed[512];
        snprintf(seed, sizeof seed, "%s/%s", corpus, name);
        write_bytes(seed, b->p, b->n);
    }
    for (int way = 0; way < 3; way++) {
        static gguf_file sentinel;
        gguf_file *f = &sentinel;
        char err[R1_ERR_MAX] = "";
        r1_status st;
        const char *who = way == 0 ? name : path;
        if (way == 0) {
            uint8_t *copy = malloc(b->n ? b->n : 1);
            if (b->n) memcpy(copy, b->p, b->n);
            st = gguf_open_memory(copy, b->n, name, &f, err);
            if (st == R1_OK) gguf_close(f);
            free(copy);
        } else {
            st = gguf_open(path, way == 1, &f, err);
            if (st == R1_OK) gguf_close(f);
        }
        CHECKF(st == want, "line %d, %s, way %d: status %d (%s), want %d: %s", line, label, way, st,
               r1_status_str(st), want, err);
        CHECKF(st == R1_OK || f == &sentinel, "line %d, %s: out-param changed", line, label);
        CHECKF(strstr(err, who) != NULL, "line %d, %s: message does not name the file: %s", line,
               label, err);
        CHECKF(strstr(err, what) != NULL, "line %d, %s: message lacks \"%s\": %s", line, label,
               what, err);
    }
    unlink(path);
}

#define EXPECT_FAIL(b, st, what, label) expect_fail_at(b, st, what, label, __LINE__)

static void hostile_header(void)
{
    bb b = {0};
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "empty file", "empty");

    bb_put(&b, "GG", 2);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "magic needs 4 bytes", "short-magic");
    bb_free(&b);

    bb_put(&b, "GGML", 4), bb_u32(&b, 3), bb_u64(&b, 0), bb_u64(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "not a GGUF file (magic 47 47 4d 4c)", "bad-magic");
    bb_free(&b);

    bb_put(&b, "FUGG", 4), bb_u32(&b, 3), bb_u64(&b, 0), bb_u64(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "byte-swapped GGUF magic", "swapped-magic");
    bb_free(&b);

    /* a big-endian GGUF: magic bytes as usual, version and counts big-endian */
    bb_put(&b, "GGUF", 4), bb_put(&b, "\0\0\0\3", 4), bb_zeros(&b, 16);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "version is byte-swapped", "big-endian-v3");
    bb_free(&b);
    bb_put(&b, "GGUF", 4), bb_put(&b, "\0\0\0\2", 4), bb_zeros(&b, 16);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "version is byte-swapped", "big-endian-v2");
    bb_free(&b);

    bb_hdr(&b, 1, 0, 0);
    EXPECT_FAIL(&b, R1_ERR_UNSUPPORTED, "GGUF version 1 is not supported", "version-1");
    bb_free(&b);
    bb_hdr(&b, 4, 0, 0);
    EXPECT_FAIL(&b, R1_ERR_UNSUPPORTED, "GGUF version 4 is not supported", "version-4");
    bb_free(&b);

    /* counts: negative (high bit), larger than the bytes left */
    bb_hdr(&b, 3, 1ull << 63, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor count -9223372036854775808", "n-tensors-negative");
    bb_free(&b);
    bb_hdr(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor count -1 ", "n-tensors-minus-1");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1ull << 63);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "metadata count -9223372036854775808", "n-kv-negative");
    bb_free(&b);
    bb_hdr(&b, 3, 3, 0), bb_zeros(&b, 3 * 33 - 1);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor count 3 ", "n-tensors-over-bytes");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1000), bb_zeros(&b, 100);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "metadata count 1000 ", "n-kv-over-bytes");
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "looks truncated", "n-kv-over-bytes-truncated");
    bb_free(&b);
}

/* Counts over the cap in a file large enough to hold them (sparse, mapped): rejected before
 * anything is allocated for them. */
static void hostile_counts_over_cap(void)
{
    for (int which = 0; which < 2; which++) {
        char path[256], err[R1_ERR_MAX] = "";
        tmp_path(path, sizeof path, which ? "cap-kv.gguf" : "cap-tensors.gguf");
        bb b = {0};
        uint64_t over = (1ull << 24) + 1;
        bb_hdr(&b, 3, which ? 0 : over, which ? over : 0);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        bool ok = fd >= 0 && write(fd, b.p, b.n) == (ssize_t)b.n && ftruncate(fd, 1ll << 30) == 0;
        if (fd >= 0) close(fd);
        CHECK(ok);
        gguf_file *f = NULL;
        r1_status st = gguf_open(path, true, &f, err);
        CHECKF(st == R1_ERR_FORMAT && strstr(err, path) &&
                   strstr(err, which ? "metadata count 16777217" : "tensor count 16777217"),
               "%d %s", st, err);
        if (st == R1_OK) gguf_close(f);
        unlink(path);
        bb_free(&b);
    }
}

static void hostile_keys_values(void)
{
    bb b = {0};
    char key[300];

    bb_hdr(&b, 3, 0, 1), bb_kv_u32(&b, "", 1);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "empty metadata key", "key-empty");
    bb_free(&b);

    memset(key, 'k', 257), key[257] = 0;
    bb_hdr(&b, 3, 0, 1), bb_kv_u32(&b, key, 1);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "metadata key of 257 bytes is longer than the 256 allowed",
                "key-long");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_strn(&b, "a.b\0c", 5), bb_u32(&b, GGUF_UINT32), bb_u32(&b, 1);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "metadata key contains a NUL byte", "key-nul");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 3), bb_kv_u32(&b, "a.b", 1), bb_kv_u32(&b, "a.c", 1);
    bb_key(&b, "a.b", GGUF_STRING), bb_str(&b, "x");
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "duplicated metadata key 'a.b'", "key-duplicated");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_u64(&b, 1000), bb_put(&b, "abcdefgh", 8);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key has length 1000", "key-past-eof");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_u64(&b, UINT64_MAX), bb_put(&b, "abcdefgh", 8);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key has length 18446744073709551615", "key-len-max");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", 13), bb_u32(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' has invalid value type 13", "vtype-13");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", UINT32_MAX), bb_u32(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "invalid value type 4294967295", "vtype-max");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, 13), bb_u64(&b, 1), bb_u32(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' is an array of invalid (type 13)", "arr-type-13");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_ARRAY), bb_u64(&b, 1);
    bb_u32(&b, GGUF_UINT8), bb_u64(&b, 1), bb_u8(&b, 0);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "nested arrays are not allowed", "arr-nested");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_STRING), bb_u64(&b, 100), bb_put(&b, "abc", 3);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "string value has length 100", "str-past-eof");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_STRING), bb_u64(&b, 2);
    bb_str(&b, "ok"), bb_u64(&b, 50), bb_put(&b, "abc", 3);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "array string has length 50", "arr-str-past-eof");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_UINT32), bb_u64(&b, 1000);
    bb_zeros(&b, 40);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' claims 1000 elements of u32", "arr-past-eof");
    bb_free(&b);

    /* n × 4 wraps around to 4: must still be rejected */
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_UINT32);
    bb_u64(&b, (1ull << 62) + 1), bb_zeros(&b, 40);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "claims 4611686018427387905 elements", "arr-len-wrap");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_STRING), bb_u64(&b, 1000);
    bb_zeros(&b, 40);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' claims 1000 strings", "arr-str-count");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_BOOL), bb_u8(&b, 2);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' has bool value 2", "bool-2");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_ARRAY), bb_u32(&b, GGUF_BOOL), bb_u64(&b, 3);
    bb_u8(&b, 1), bb_u8(&b, 0), bb_u8(&b, 255);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "key 'k' has a bool element of 255", "bool-arr-255");
    bb_free(&b);

    bb_hdr(&b, 3, 0, 1), bb_key(&b, "k", GGUF_UINT64), bb_u32(&b, 0); /* scalar past EOF */
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "value needs 8 bytes", "scalar-past-eof");
    bb_free(&b);

    /* general.alignment */
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "general.alignment", GGUF_UINT64), bb_u64(&b, 32);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "general.alignment has type u64, not u32", "align-u64");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "general.alignment", GGUF_STRING), bb_str(&b, "32");
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "general.alignment has type string, not u32", "align-string");
    bb_free(&b);
    bb_hdr(&b, 3, 0, 1), bb_key(&b, "general.alignment", GGUF_ARRAY), bb_u32(&b, GGUF_UINT32);
    bb_u64(&b, 1), bb_u32(&b, 32);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "general.alignment has type array, not u32", "align-array");
    bb_free(&b);
    static const struct {
        uint32_t a;
        const char *what, *label;
    } aligns[] = {
        {0, "general.alignment 0 is not a power of two", "align-0"},
        {48, "general.alignment 48 is not a power of two", "align-48"},
        {1u << 20, "general.alignment 1048576 is not a power of two in 1..65536", "align-huge"},
        {UINT32_MAX, "general.alignment 4294967295", "align-max"}};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        bb_hdr(&b, 3, 0, 1), bb_kv_u32(&b, "general.alignment", aligns[i].a);
        EXPECT_FAIL(&b, R1_ERR_FORMAT, aligns[i].what, aligns[i].label);
        bb_free(&b);
    }
}

/* A file with one tensor info (n_dims, ne, type, offset) and `data` bytes of tensor data. */
static void one_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                       uint64_t offset, size_t data)
{
    bb_hdr(b, 3, 1, 0);
    bb_tinfo(b, name, n_dims, ne, type, offset);
    bb_pad(b, 32);
    bb_zeros(b, data);
}

static void hostile_tensors(void)
{
    bb b = {0};
    char name[300];
    const uint64_t ne1[1] = {32}, ne2[2] = {32, 2};

    one_tensor(&b, "", 1, ne1, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "empty tensor name", "tname-empty");
    bb_free(&b);

    memset(name, 't', 257), name[257] = 0;
    one_tensor(&b, name, 1, ne1, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor name of 257 bytes is longer than the 256 allowed",
                "tname-long");
    bb_free(&b);

    bb_hdr(&b, 3, 1, 0), bb_strn(&b, "w\0x", 3), bb_u32(&b, 1), bb_u64(&b, 32);
    bb_u32(&b, DTYPE_F32), bb_u64(&b, 0), bb_pad(&b, 32), bb_zeros(&b, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor name contains a NUL byte", "tname-nul");
    bb_free(&b);

    bb_hdr(&b, 3, 3, 0);
    bb_tinfo(&b, "w", 1, ne1, DTYPE_F32, 0);
    bb_tinfo(&b, "v", 1, ne1, DTYPE_F32, 128);
    bb_tinfo(&b, "w", 1, ne1, DTYPE_F32, 256);
    bb_pad(&b, 32), bb_zeros(&b, 384);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "duplicated tensor name 'w'", "tname-duplicated");
    bb_free(&b);

    bb_hdr(&b, 3, 1, 0), bb_u64(&b, 400), bb_zeros(&b, 40);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor name has length 400", "tname-past-eof");
    bb_free(&b);

    static const struct {
        uint32_t n_dims;
        const char *what, *label;
    } dims[] = {{0, "tensor 'w' has 0 dimensions (1..4 allowed)", "ndims-0"},
                {5, "tensor 'w' has 5 dimensions (1..4 allowed)", "ndims-5"},
                {UINT32_MAX, "has 4294967295 dimensions", "ndims-max"}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        const uint64_t ne5[5] = {32, 1, 1, 1, 1};
        if (dims[i].n_dims == UINT32_MAX) {
            bb_hdr(&b, 3, 1, 0), bb_str(&b, "w"), bb_u32(&b, UINT32_MAX), bb_zeros(&b, 64);
        } else {
            one_tensor(&b, "w", dims[i].n_dims, ne5, DTYPE_F32, 0, 128);
        }
        EXPECT_FAIL(&b, R1_ERR_FORMAT, dims[i].what, dims[i].label);
        bb_free(&b);
    }

    const uint64_t neg[2] = {32, (uint64_t)-5}, zero[2] = {0, 2};
    one_tensor(&b, "w", 2, neg, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' has dimension 1 of -5", "dim-negative");
    bb_free(&b);
    one_tensor(&b, "w", 2, zero, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' has dimension 0 of 0", "dim-zero");
    bb_free(&b);

    const uint64_t ovf[2] = {1ull << 32, 1ull << 32},
                   ovf4[4] = {1u << 16, 1u << 16, 1u << 16, 1u << 15};
    one_tensor(&b, "w", 2, ovf, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' element count overflows", "n-elements-overflow");
    bb_free(&b);
    one_tensor(&b, "w", 4, ovf4, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' element count overflows", "n-elements-overflow4");
    bb_free(&b);
    const uint64_t big[2] = {1ull << 31, 1ull << 31}; /* 2^62 floats: 2^64 bytes */
    one_tensor(&b, "w", 2, big, DTYPE_F32, 0, 128);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' byte size overflows", "n-bytes-overflow");
    bb_free(&b);

    static const struct {
        uint32_t type;
        r1_status st;
        const char *what, *label;
    } types[] = {
        {99, R1_ERR_FORMAT, "tensor 'w' has unknown or deprecated type 99", "type-99"},
        {4, R1_ERR_FORMAT, "tensor 'w' has unknown or deprecated type 4", "type-q4_2"},
        {5, R1_ERR_FORMAT, "tensor 'w' has unknown or deprecated type 5", "type-q4_3"},
        {DTYPE_COUNT, R1_ERR_FORMAT, "unknown or deprecated type 40", "type-40"},
        {UINT32_MAX, R1_ERR_FORMAT, "unknown or deprecated type 4294967295", "type-max"},
        {DTYPE_Q8_1, R1_ERR_UNSUPPORTED, "tensor 'w' has type Q8_1, not supported", "type-q8_1"},
        {DTYPE_Q8_K, R1_ERR_UNSUPPORTED, "tensor 'w' has type Q8_K, not supported", "type-q8_k"},
        {DTYPE_I32, R1_ERR_UNSUPPORTED, "tensor 'w' has type I32, not supported", "type-i32"},
    };
    const uint64_t ne256[1] = {256};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        one_tensor(&b, "w", 1, ne256, types[i].type, 0, 2048);
        EXPECT_FAIL(&b, types[i].st, types[i].what, types[i].label);
        bb_free(&b);
    }

    const uint64_t ne100[2] = {100, 2};
    one_tensor(&b, "w", 2, ne100, DTYPE_Q4_K, 0, 1024);
    EXPECT_FAIL(&b, R1_ERR_FORMAT,
                "tensor 'w' row of 100 elements is not a multiple of the Q4_K block size 256",
                "row-not-block");
    bb_free(&b);

    one_tensor(&b, "w", 1, ne1, DTYPE_F32, 4, 256);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' offset 4 is not a multiple of the alignment 32",
                "offset-unaligned");
    bb_free(&b);
    bb_hdr(&b, 3, 1, 1), bb_kv_u32(&b, "general.alignment", 64);
    bb_tinfo(&b, "w", 1, ne1, DTYPE_F32, 32), bb_pad(&b, 64), bb_zeros(&b, 256);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "offset 32 is not a multiple of the alignment 64",
                "offset-unaligned-64");
    bb_free(&b);

    one_tensor(&b, "w", 2, ne2, DTYPE_F32, 1ull << 40, 256);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' (256 bytes at data offset 1099511627776) extends",
                "offset-past-eof");
    bb_free(&b);
    one_tensor(&b, "w", 2, ne2, DTYPE_F32, UINT64_MAX - 31, 256);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "extends past the end of the file", "offset-max");
    bb_free(&b);
    one_tensor(&b, "w", 2, ne2, DTYPE_F32, 0, 255);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "tensor 'w' (256 bytes at data offset 0) extends past the end",
                "tensor-past-eof");
    /* a cut-off download: the message gives the size the file should have */
    char want[128];
    snprintf(want, sizeof want, "the file looks truncated: expected %zu bytes, has %zu", b.n + 1,
             b.n);
    EXPECT_FAIL(&b, R1_ERR_FORMAT, want, "tensor-past-eof-sizes");
    bb_free(&b);
    one_tensor(&b, "w", 2, ne2, DTYPE_F32, 0, 0);
    b.n--; /* end inside the padding before the data */
    EXPECT_FAIL(&b, R1_ERR_FORMAT, "looks truncated: no room for tensor data", "no-data-section");
    bb_free(&b);

    /* overlaps: partial, identical offsets, one inside another; declared out of order */
    static const struct {
        uint64_t off_a, off_b;
        const char *what, *label;
    } ov[] = {{0, 96, "tensors 'a' and 'b' overlap", "overlap-partial"},
              {64, 64, "overlap", "overlap-same-offset"},
              {128, 0, "tensors 'b' and 'a' overlap", "overlap-reversed"}};
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
        const uint64_t ne_a[1] = {32}, ne_b[1] = {64}; /* 128 and 256 bytes */
        bb_hdr(&b, 3, 2, 0);
        bb_tinfo(&b, "a", 1, ne_a, DTYPE_F32, ov[i].off_a);
        bb_tinfo(&b, "b", 1, ne_b, DTYPE_F32, ov[i].off_b);
        bb_pad(&b, 32), bb_zeros(&b, 1024);
        EXPECT_FAIL(&b, R1_ERR_FORMAT, ov[i].what, ov[i].label);
        bb_free(&b);
    }
}

/* A small valid file: every truncation of it must fail cleanly. */
static void hostile_truncations(void)
{
    bb b = {0};
    const uint64_t ne_a[1] = {5}, ne_b[2] = {32, 2};
    bb_hdr(&b, 3, 2, 4);
    bb_key(&b, "general.architecture", GGUF_STRING), bb_str(&b, "llama");
    bb_kv_u32(&b, "general.alignment", 16);
    bb_key(&b, "a.strs", GGUF_ARRAY), bb_u32(&b, GGUF_STRING), bb_u64(&b, 2);
    bb_str(&b, "x"), bb_str(&b, "yz");
    bb_key(&b, "a.f64", GGUF_ARRAY), bb_u32(&b, GGUF_FLOAT64), bb_u64(&b, 2);
    bb_f64(&b, 1), bb_f64(&b, 2);
    bb_tinfo(&b, "a", 1, ne_a, DTYPE_F32, 0);
    bb_tinfo(&b, "b", 2, ne_b, DTYPE_Q8_0, 32);
    bb_pad(&b, 16);
    for (int i = 0; i < 32 + 68; i++) bb_u8(&b, (uint8_t)i);
    gguf_file *f = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = gguf_open_memory(b.p, b.n, "small.gguf", &f, err);
    CHECKF(st == R1_OK, "%s", err);
    if (!st) {
        CHECK(f->n_tensors == 2 && f->alignment == 16 && f->tensors[1].n_bytes == 68);
        CHECK(f->data_offset + 100 == f->size);
        gguf_close(f);
    }
    check_truncations(b.p, b.n, "small.gguf");
    /* appending bytes is fine (trailing data after the last tensor) */
    bb_zeros(&b, 7);
    st = gguf_open_memory(b.p, b.n, "small.gguf", &f, err);
    CHECKF(st == R1_OK, "%s", err);
    if (!st) gguf_close(f);
    bb_free(&b);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/r1_test_gguf_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_reader_all_types();
    test_getters();
    test_writer_roundtrip(0);
    test_writer_roundtrip(64);
    test_writer_roundtrip(1);
    test_writer_roundtrip(4096);
    test_writer_streaming();
    test_writer_aborted();
    test_writer_refuses();
    test_copy_fixture("models/ds3-new-q4_k_m.gguf");
    test_copy_fixture("models/qwen2-q2_k.gguf");
    hostile_header();
    hostile_counts_over_cap();
    hostile_keys_values();
    hostile_tensors();
    hostile_truncations();
    rmdir(tmp_dir);
    return test_finish();
}
