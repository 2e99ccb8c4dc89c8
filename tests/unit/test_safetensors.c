/* test_safetensors.c — the safetensors reader: valid files (every float dtype, scalars, empty
 * tensors, sharded checkpoints), exact decoding of all 256 codes of both FP8 formats, and one
 * hand-made hostile file per check of safetensors.c, each rejected with a message naming the
 * file and the problem. With R1_ST_CORPUS_DIR=DIR the hostile and valid images are also written
 * to DIR as fuzz seeds (fuzz/corpus/safetensors/). */
#include "formats/safetensors.h"
#include "tensor/quant.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

/* u64 header length + header + data */
static uint8_t *image(const char *header, const void *data, size_t data_bytes, size_t *out_size)
{
    size_t n = strlen(header);
    uint8_t *p = malloc(8 + n + data_bytes + 1);
    uint64_t len = n;
    memcpy(p, &len, 8);
    memcpy(p + 8, header, n);
    if (data_bytes) memcpy(p + 8 + n, data, data_bytes);
    *out_size = 8 + n + data_bytes;
    return p;
}

static void save_seed(const char *name, const uint8_t *p, size_t n)
{
    const char *dir = getenv("R1_ST_CORPUS_DIR");
    if (!dir) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Expect rejection with a message containing `want`. */
static void hostile(const char *name, const char *header, size_t data_bytes, const char *want)
{
    uint8_t zeros[256] = {0};
    size_t n;
    uint8_t *p = image(header, zeros, data_bytes, &n);
    st_checkpoint *ck = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = st_open_memory(p, n, name, &ck, err);
    CHECKF(st != R1_OK && ck == NULL, "%s: accepted", name);
    CHECKF(strstr(err, name) && strstr(err, want), "%s: message '%s' lacks '%s'", name, err, want);
    save_seed(name, p, n);
    free(p);
}

static void raw_hostile(const char *name, const uint8_t *p, size_t n, const char *want)
{
    st_checkpoint *ck = NULL;
    char err[R1_ERR_MAX] = "";
    CHECKF(st_open_memory(p, n, name, &ck, err) != R1_OK, "%s: accepted", name);
    CHECKF(strstr(err, want), "%s: message '%s' lacks '%s'", name, err, want);
    save_seed(name, p, n);
}

static void test_fp8(void)
{
    /* e4m3fn from its definition, in double: S.EEEE.MMM, bias 7, no inf, S.1111.111 NaN */
    int n_nan = 0;
    for (int c = 0; c < 256; c++) {
        int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
        float got = st_fp8_e4m3_to_f32((uint8_t)c);
        if (e == 15 && m == 7) {
            n_nan++;
            CHECKF(isnan(got), "e4m3 0x%02x should be NaN", c);
            continue;
        }
        double want = e ? (1 + m / 8.0) * pow(2, e - 7) : m / 8.0 * pow(2, -6);
        if (s) want = -want;
        CHECKF(got == (float)want && !!signbit(got) == (s != 0), "e4m3 0x%02x: %g, want %g", c, got,
               want);
    }
    CHECK(n_nan == 2);
    CHECK(st_fp8_e4m3_to_f32(0x7E) == 448.0f && st_fp8_e4m3_to_f32(0x01) == 0x1p-9f);
    /* e5m2 is the top byte of an IEEE half: compare with the fp16 decoder */
    for (int c = 0; c < 256; c++) {
        float got = st_fp8_e5m2_to_f32((uint8_t)c), want = fp16_to_f32((uint16_t)(c << 8));
        CHECKF((isnan(got) && isnan(want)) || (got == want && signbit(got) == signbit(want)),
               "e5m2 0x%02x: %g, want %g", c, got, want);
    }
}

static void test_valid(void)
{
    /* one tensor of each float dtype, an int tensor, a scalar, an empty tensor */
    uint8_t data[128] = {0};
    float f32[2] = {1.5f, -2.0f};
    memcpy(data, f32, 8);
    uint16_t f16[2] = {0x3C00, 0xC000}, bf16[2] = {0x3FC0, 0xBF80};
    memcpy(data + 8, f16, 4);
    memcpy(data + 12, bf16, 4);
    double f64 = 0.25;
    memcpy(data + 16, &f64, 8);
    data[24] = 0x38; /* e4m3 1.0 */
    data[25] = 0x3C; /* e5m2 1.0 */
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
                    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[12,16]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[16,24]},"
                    "\"e\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[24,25]},"
                    "\"f\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[25,26]},"
                    "\"g\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[32,40]},"
                    "\"z\":{\"dtype\":\"BF16\",\"shape\":[0,4],\"data_offsets\":[40,40]}}   ";
    size_t n;
    uint8_t *p = image(h, data, 40, &n);
    st_checkpoint *ck = NULL;
    char err[R1_ERR_MAX];
    CHECKF(st_open_memory(p, n, "valid", &ck, err) == R1_OK, "%s", err);
    save_seed("valid-dtypes", p, n);
    if (ck) {
        float v[2];
        CHECK(ck->n_tensors == 8);
        const st_tensor *t = st_find(ck, "a");
        CHECK(t && t->dtype == ST_F32 && st_read_f32(t, 0, 2, v) && v[0] == 1.5f && v[1] == -2);
        t = st_find(ck, "b");
        CHECK(t && t->n_dims == 2 && st_read_f32(t, 0, 2, v) && v[0] == 1 && v[1] == -2);
        t = st_find(ck, "c");
        CHECK(t && st_read_f32(t, 0, 2, v) && v[0] == 1.5f && v[1] == -1);
        t = st_find(ck, "d");
        CHECK(t && t->n_dims == 0 && t->n_elements == 1 && st_read_f32(t, 0, 1, v) && v[0] == .25f);
        t = st_find(ck, "e");
        CHECK(t && st_read_f32(t, 0, 1, v) && v[0] == 1);
        t = st_find(ck, "f");
        CHECK(t && st_read_f32(t, 0, 1, v) && v[0] == 1);
        t = st_find(ck, "g");
        CHECK(t && t->dtype == ST_I64 && !st_read_f32(t, 0, 1, v));
        t = st_find(ck, "z");
        CHECK(t && t->n_elements == 0 && t->n_bytes == 0);
        CHECK(st_find(ck, "__metadata__") == NULL && st_find(ck, "nope") == NULL);
        CHECK(!st_read_f32(st_find(ck, "a"), 1, 2, v)); /* past the end */
    }
    st_close(ck);
    free(p);
}

static void test_hostile(void)
{
    uint8_t small[4] = {1, 0, 0, 0};
    raw_hostile("hostile-short", small, 4, "8-byte header length");
    uint8_t big[16] = {0};
    uint64_t huge = (uint64_t)ST_MAX_HEADER_BYTES + 1;
    memcpy(big, &huge, 8);
    memcpy(big + 8, "{}      ", 8);
    raw_hostile("hostile-header-cap", big, 16, "cap");
    uint64_t over = 100;
    memcpy(big, &over, 8);
    raw_hostile("hostile-header-past-end", big, 16, "truncated");
    hostile("hostile-not-object", "[1, 2]", 0, "not a JSON object");
    hostile("hostile-bad-json", "{\"a\": {\"dtype\": }", 0, "does not parse");
    hostile("hostile-junk", "{} x", 0, "junk");
    hostile("hostile-entry-not-object", "{\"a\": 3}", 0, "not a JSON object");
    hostile("hostile-missing-fields", "{\"a\": {\"dtype\": \"F32\"}}", 0, "needs");
    hostile("hostile-unknown-dtype",
            "{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    hostile("hostile-negative-dim",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
            "non-negative integer");
    hostile("hostile-fractional-dim",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
            "non-negative integer");
    hostile("hostile-too-many-dims",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
            "dimensions");
    hostile("hostile-count-overflow",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
            "\"data_offsets\":[0,4]}}",
            4, "overflows");
    hostile("hostile-byte-overflow",
            "{\"a\":{\"dtype\":\"F64\",\"shape\":[1125899906842624,4096],\"data_offsets\":[0,8]}}",
            8, "overflows");
    hostile("hostile-offsets-reversed",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "before");
    hostile("hostile-offsets-past-end",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "past the end");
    hostile("hostile-offsets-not-two",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "two");
    hostile("hostile-size-mismatch",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need 12");
    hostile("hostile-overlap",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12, "overlap");
    hostile("hostile-duplicate",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            8, "duplicated");
    hostile("hostile-metadata-not-object", "{\"__metadata__\": 1}", 0, "__metadata__");
    hostile("hostile-empty-name", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            4, "empty tensor name");
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

/* Sharded checkpoints on disk: good, then each index problem. */
static void test_sharded(void)
{
    char dir[256], path[512], err[R1_ERR_MAX];
    snprintf(dir, sizeof dir, "/tmp/r1_test_st_%d", (int)getpid());
    mkdir(dir, 0755);
    float v[2] = {3, 4};
    size_t n;
    uint8_t *a =
        image("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", v, 4, &n);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_file(path, a, n);
    free(a);
    a = image("{\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", v + 1, 4, &n);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_file(path, a, n);
    free(a);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    const char *good =
        "{\"metadata\":{},\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
        "\"y\":\"model-00002-of-00002.safetensors\"}}";
    write_file(path, good, strlen(good));
    st_checkpoint *ck = NULL;
    CHECKF(st_open(dir, true, &ck, err) == R1_OK, "%s", err);
    if (ck) {
        float x;
        CHECK(ck->n_shards == 2 && ck->n_tensors == 2);
        CHECK(st_read_f32(st_find(ck, "y"), 0, 1, &x) && x == 4);
        st_release(ck, st_find(ck, "y")); /* pages come back on the next touch */
        CHECK(st_read_f32(st_find(ck, "y"), 0, 1, &x) && x == 4);
        st_close(ck);
    }
    CHECK(st_open(path, false, &ck, err) == R1_OK); /* the index path itself, read not mapped */
    st_close(ck);
    struct {
        const char *index, *want;
    } bad[] = {
        {"{\"weight_map\":{\"x\":\"model-00003-of-00002.safetensors\"}}", "is missing"},
        {"{\"weight_map\":{\"x\":\"../model-00001-of-00002.safetensors\"}}", "same folder"},
        {"{\"weight_map\":{\"x\":\"model-00002-of-00002.safetensors\"}}", "no shard holds it"},
        {"{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
         "\"y\":\"model-00001-of-00002.safetensors\",\"z\":\"model-00002-of-00002.safetensors\"}}",
         "found in another shard"},
        {"{\"weight_map\":{}}", "empty"},
        {"{\"weight_map\": 3}", "weight_map"},
        {"{\"weight_map\":{\"x\":", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i].index, strlen(bad[i].index));
        ck = NULL;
        err[0] = 0;
        CHECKF(st_open(dir, true, &ck, err) != R1_OK && !ck, "bad index %zu accepted", i);
        CHECKF(strstr(err, bad[i].want) && strstr(err, "index.json"), "index %zu: '%s'", i, err);
    }
    /* the same tensor in two shards (both listed) */
    a = image("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", v, 4, &n);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_file(path, a, n);
    free(a);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, good, strlen(good));
    CHECK(st_open(dir, true, &ck, err) != R1_OK && strstr(err, "two shards"));
    /* a folder without either file */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    mkdir(dir, 0755);
    CHECK(st_open(dir, true, &ck, err) != R1_OK && strstr(err, "no model.safetensors"));
    CHECK(st_open("/nonexistent/x.safetensors", true, &ck, err) != R1_OK);
    rmdir(dir);
}

int main(void)
{
    test_fp8();
    test_valid();
    test_hostile();
    test_sharded();
    return test_finish();
}
