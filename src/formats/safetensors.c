/* safetensors.c — safetensors reader (single file or sharded with an index). A checkpoint is
 * untrusted input: the header length, the JSON, every dtype, shape and offset are checked against
 * the bytes really present before anything is used.
 *
 * Byte layout of one file:
 *   u64 N (little-endian) | N bytes of UTF-8 JSON, possibly right-padded with spaces | data
 *   JSON = { "__metadata__": {str: str, ...} (optional),
 *            NAME: {"dtype": "BF16", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
 *   offsets are relative to the start of the data section (byte 8 + N).
 * Checks: 8 ≤ file size; N ≤ 100 MiB and N ≤ size - 8; the JSON parses, is an object and nothing
 * but spaces follows it; names are non-empty, NUL-free, ≤ 1024 bytes and unique (across shards
 * too); dtype is known; shape has ≤ 8 non-negative integer dims whose product × dtype size does
 * not overflow; 0 ≤ begin ≤ end ≤ data size; end - begin == product(shape) × dtype size; no two
 * tensors' ranges overlap.
 * Index (model.safetensors.index.json): {"metadata": {...}, "weight_map": {NAME: "shard file"}};
 * shard names are plain file names in the same folder (no '/', no ".."); every shard must open,
 * and every name in the weight_map must be in the shard it names.
 */
#include "formats/safetensors.h"

#include "base/err.h"
#include "base/mmap.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_NAME_BYTES 1024
#define ST_MAX_INDEX_BYTES (64u << 20)

static const struct {
    const char *name;
    size_t size;
} dtypes[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},           [ST_I8] = {"I8", 1},
    [ST_U16] = {"U16", 2},   [ST_I16] = {"I16", 2},         [ST_U32] = {"U32", 4},
    [ST_I32] = {"I32", 4},   [ST_U64] = {"U64", 8},         [ST_I64] = {"I64", 8},
    [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2},       [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},   [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *st_dtype_name(st_dtype d)
{
    return (unsigned)d < ST_DTYPE_COUNT ? dtypes[d].name : "invalid";
}

size_t st_dtype_size(st_dtype d)
{
    return (unsigned)d < ST_DTYPE_COUNT ? dtypes[d].size : 0;
}

bool st_dtype_is_float(st_dtype d)
{
    return d == ST_F16 || d == ST_BF16 || d == ST_F32 || d == ST_F64 || d == ST_F8_E4M3 ||
           d == ST_F8_E5M2;
}

/* ---- 8-bit floats -------------------------------------------------------------------------- */

/* e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; exponent 0 is subnormal (m/8 · 2^-6);
 * S.1111.111 is NaN; there is no infinity (max 448). */
float st_fp8_e4m3_to_f32(uint8_t v)
{
    uint32_t sign = (uint32_t)(v & 0x80) << 24, e = (v >> 3) & 15, m = v & 7, bits;
    float x;
    if (e == 15 && m == 7) return sign ? -NAN : NAN;
    if (e == 0) {
        x = (float)m * 0x1p-9f; /* m/8 · 2^-6, exact */
        return sign ? -x : x;
    }
    bits = sign | (e + 120) << 23 | m << 20; /* (1 + m/8) · 2^(e-7): rebias 7 -> 127 */
    memcpy(&x, &bits, 4);
    return x;
}

/* e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits: the top byte of an IEEE fp16. */
float st_fp8_e5m2_to_f32(uint8_t v)
{
    int s = v >> 7, e = (v >> 2) & 31, m = v & 3;
    float x;
    if (e == 31)
        x = m ? NAN : INFINITY;
    else if (e == 0)
        x = ldexpf((float)m, -16); /* m/4 · 2^-14 */
    else
        x = ldexpf((float)(4 + m), e - 17); /* (1 + m/4) · 2^(e-15) */
    return s ? -x : x;
}

static float half_to_f32(uint16_t h, bool is_bf16)
{
    if (is_bf16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float x;
    if (e == 31)
        x = m ? NAN : INFINITY;
    else if (e == 0)
        x = ldexpf((float)m, -24);
    else
        x = ldexpf((float)(1024 + m), e - 25);
    return s ? -x : x;
}

bool st_read_f32(const st_tensor *t, int64_t first, int64_t n, float *dst)
{
    if (!st_dtype_is_float(t->dtype) || first < 0 || n < 0 || first > t->n_elements ||
        n > t->n_elements - first)
        return false;
    const uint8_t *p = (const uint8_t *)t->data + (size_t)first * dtypes[t->dtype].size;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, p, (size_t)n * 4);
        break;
    case ST_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    case ST_F16:
    case ST_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = half_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8), t->dtype == ST_BF16);
        break;
    case ST_F8_E4M3:
        for (int64_t i = 0; i < n; i++) dst[i] = st_fp8_e4m3_to_f32(p[i]);
        break;
    case ST_F8_E5M2:
        for (int64_t i = 0; i < n; i++) dst[i] = st_fp8_e5m2_to_f32(p[i]);
        break;
    default:
        return false;
    }
    return true;
}

/* ---- name index ---------------------------------------------------------------------------- */

typedef struct st_index {
    int64_t *slots; /* tensor index + 1, 0 = empty */
    size_t cap;     /* power of two */
} st_index;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int64_t index_find(const st_checkpoint *ck, const char *name)
{
    const st_index *ix = ck->private_index;
    if (!ix || !ix->slots) return -1;
    size_t mask = ix->cap - 1;
    for (size_t i = hash_str(name) & mask; ix->slots[i]; i = (i + 1) & mask)
        if (!strcmp(ck->tensors[ix->slots[i] - 1].name, name)) return ix->slots[i] - 1;
    return -1;
}

/* Build the index over all tensors; reports the first duplicated name. */
static r1_status index_build(st_checkpoint *ck, char *err)
{
    st_index *ix = calloc(1, sizeof *ix);
    if (!ix) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", ck->path);
    ck->private_index = ix;
    ix->cap = 16;
    while (ix->cap < 2 * (size_t)ck->n_tensors + 1) ix->cap *= 2;
    ix->slots = calloc(ix->cap, sizeof *ix->slots);
    if (!ix->slots) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", ck->path);
    size_t mask = ix->cap - 1;
    for (int64_t t = 0; t < ck->n_tensors; t++) {
        const st_tensor *x = &ck->tensors[t];
        size_t i = hash_str(x->name) & mask;
        for (; ix->slots[i]; i = (i + 1) & mask) {
            const st_tensor *y = &ck->tensors[ix->slots[i] - 1];
            if (!strcmp(y->name, x->name)) {
                if (x->shard == y->shard)
                    return err_set(err, R1_ERR_FORMAT, "%s: duplicated tensor name '%s'",
                                   ck->shard_paths[x->shard], x->name);
                return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' is in two shards: %s and %s",
                               ck->path, x->name, ck->shard_paths[y->shard],
                               ck->shard_paths[x->shard]);
            }
        }
        ix->slots[i] = t + 1;
    }
    return R1_OK;
}

const st_tensor *st_find(const st_checkpoint *ck, const char *name)
{
    int64_t i = index_find(ck, name);
    return i >= 0 ? &ck->tensors[i] : NULL;
}

/* ---- one file ------------------------------------------------------------------------------ */

/* A JSON number that is an exact non-negative integer below 2^53 (cJSON stores doubles). */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static int cmp_by_range(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    const uint8_t *xb = x->data, *yb = y->data;
    if (xb != yb) return xb < yb ? -1 : 1;
    return x->n_bytes < y->n_bytes ? -1 : x->n_bytes > y->n_bytes;
}

static r1_status add_tensors(st_checkpoint *ck, int64_t n)
{
    st_tensor *t = realloc(ck->tensors, (size_t)(ck->n_tensors + n + 1) * sizeof *t);
    if (!t) return R1_ERR_NOMEM;
    ck->tensors = t;
    return R1_OK;
}

static r1_status parse_entry(const char *fname, const cJSON *e, size_t data_size,
                             const uint8_t *data, st_tensor *t, char *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", fname, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return err_set(err, R1_ERR_FORMAT,
                       "%s: tensor '%s' needs \"dtype\" (string), \"shape\" and \"data_offsets\" "
                       "(arrays)",
                       fname, name);
    int d;
    for (d = 0; d < ST_DTYPE_COUNT; d++)
        if (!strcmp(dt->valuestring, dtypes[d].name)) break;
    if (d == ST_DTYPE_COUNT)
        return err_set(err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has unknown dtype \"%.32s\"",
                       fname, name, dt->valuestring);
    t->dtype = (st_dtype)d;
    int n_dims = cJSON_GetArraySize(sh);
    if (n_dims > ST_MAX_DIMS)
        return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' has %d dimensions (at most %d)", fname,
                       name, n_dims, ST_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_el = 1;
    int i = 0;
    for (const cJSON *x = sh->child; x; x = x->next, i++) {
        uint64_t v;
        if (!json_uint(x, &v) || v > INT64_MAX)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: tensor '%s' dimension %d is not a non-negative integer", fname,
                           name, i);
        t->shape[i] = (int64_t)v;
        if (__builtin_mul_overflow(n_el, v, &n_el) || n_el > INT64_MAX)
            return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' element count overflows", fname,
                           name);
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(n_el, (uint64_t)dtypes[d].size, &bytes) || bytes > SIZE_MAX)
        return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' byte size overflows", fname, name);
    t->n_elements = (int64_t)n_el;
    t->n_bytes = (size_t)bytes;
    uint64_t begin, end;
    if (cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &begin) ||
        !json_uint(off->child->next, &end))
        return err_set(err, R1_ERR_FORMAT,
                       "%s: tensor '%s' data_offsets must be two non-negative integers", fname,
                       name);
    if (begin > end)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: tensor '%s' data_offsets [%llu, %llu] end before "
                       "they begin",
                       fname, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: tensor '%s' data_offsets [%llu, %llu] extend past the end of the data "
                       "(%zu bytes)",
                       fname, name, (unsigned long long)begin, (unsigned long long)end, data_size);
    if (end - begin != bytes)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: tensor '%s' has %llu bytes but its shape and dtype %s need %llu", fname,
                       name, (unsigned long long)(end - begin), dtypes[d].name,
                       (unsigned long long)bytes);
    t->data = data + begin;
    return R1_OK;
}

/* Parse one shard image and append its tensors to ck. */
static r1_status parse_file(st_checkpoint *ck, int shard, const uint8_t *p, size_t size, char *err)
{
    const char *fname = ck->shard_paths[shard];
    if (size < 8)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: not a safetensors file: %zu bytes, less than the 8-byte header length",
                       fname, size);
    uint64_t n;
    memcpy(&n, p, 8);
    if (n > ST_MAX_HEADER_BYTES)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: header length %llu is over the %u-byte cap (not a safetensors file?)",
                       fname, (unsigned long long)n, ST_MAX_HEADER_BYTES);
    if (n > size - 8)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: truncated file: header length %llu but only %zu bytes follow", fname,
                       (unsigned long long)n, size - 8);
    if (n < 2 || p[8] != '{')
        return err_set(err, R1_ERR_FORMAT, "%s: header is not a JSON object", fname);
    const char *json = (const char *)p + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, false);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t pos = at && at >= json && at <= json + n ? (size_t)(at - json) : 0;
        return err_set(err, R1_ERR_FORMAT, "%s: header JSON does not parse (near byte %zu)", fname,
                       pos + 8);
    }
    r1_status st = R1_OK;
    for (const char *q = end; q && q < json + n; q++)
        if (*q != ' ' && *q != 0) {
            st = err_set(err, R1_ERR_FORMAT, "%s: junk after the header JSON at byte %zu", fname,
                         (size_t)(q - json) + 8);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        st = err_set(err, R1_ERR_FORMAT, "%s: header is not a JSON object", fname);
        goto done;
    }
    const uint8_t *data = p + 8 + n;
    size_t data_size = size - 8 - (size_t)n;
    int64_t n_entries = cJSON_GetArraySize(root), first = ck->n_tensors;
    if (add_tensors(ck, n_entries)) {
        st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", fname);
        goto done;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        const char *name = e->string;
        if (!name || !*name) {
            st = err_set(err, R1_ERR_FORMAT, "%s: empty tensor name", fname);
            goto done;
        }
        if (!strcmp(name, "__metadata__")) {
            if (!cJSON_IsObject(e)) {
                st = err_set(err, R1_ERR_FORMAT, "%s: __metadata__ is not an object", fname);
                goto done;
            }
            continue;
        }
        if (strlen(name) > ST_MAX_NAME_BYTES) {
            st = err_set(err, R1_ERR_FORMAT, "%s: tensor name of %zu bytes (at most %d)", fname,
                         strlen(name), ST_MAX_NAME_BYTES);
            goto done;
        }
        st_tensor *t = &ck->tensors[ck->n_tensors];
        memset(t, 0, sizeof *t);
        if (!(t->name = strdup(name))) {
            st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", fname);
            goto done;
        }
        t->shard = shard;
        ck->n_tensors++;
        if ((st = parse_entry(fname, e, data_size, data, t, err))) goto done;
    }
    /* overlapping ranges: sort this shard's tensors by start */
    int64_t n_here = ck->n_tensors - first;
    const st_tensor **order = malloc((size_t)(n_here ? n_here : 1) * sizeof *order);
    if (!order) {
        st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", fname);
        goto done;
    }
    for (int64_t i = 0; i < n_here; i++) order[i] = &ck->tensors[first + i];
    qsort(order, (size_t)n_here, sizeof *order, cmp_by_range);
    for (int64_t i = 1; i < n_here; i++) {
        const uint8_t *prev_end = (const uint8_t *)order[i - 1]->data + order[i - 1]->n_bytes;
        if (prev_end > (const uint8_t *)order[i]->data) {
            st = err_set(err, R1_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", fname,
                         order[i - 1]->name, order[i]->name);
            break;
        }
    }
    free(order);
done:
    cJSON_Delete(root);
    return st;
}

/* ---- opening ------------------------------------------------------------------------------- */

static st_checkpoint *ck_new(const char *path)
{
    st_checkpoint *ck = calloc(1, sizeof *ck);
    if (ck && !(ck->path = strdup(path))) {
        free(ck);
        ck = NULL;
    }
    return ck;
}

static r1_status add_shard(st_checkpoint *ck, const char *path, char *err)
{
    char **p = realloc(ck->shard_paths, (size_t)(ck->n_shards + 1) * sizeof *p);
    if (p) ck->shard_paths = p;
    void **m = realloc(ck->maps, (size_t)(ck->n_shards + 1) * sizeof *m);
    if (m) ck->maps = m;
    if (!p || !m || !(ck->shard_paths[ck->n_shards] = strdup(path)))
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", ck->path);
    ck->maps[ck->n_shards++] = NULL;
    return R1_OK;
}

static r1_status open_shard(st_checkpoint *ck, int shard, bool use_mmap, char *err)
{
    file_map *map = NULL;
    r1_status st = file_map_open(ck->shard_paths[shard], use_mmap, &map, err);
    if (st) return st;
    ck->maps[shard] = map;
    return parse_file(ck, shard, map->data, map->size, err);
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *read_small_file(const char *path, size_t cap, size_t *out_n, char *err)
{
    FILE *f = file_fopen_regular(path, err);
    if (!f) return NULL;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (!buf) {
        err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (n > cap) {
        free(buf);
        err_set(err, R1_ERR_FORMAT, "%s: larger than the %zu-byte cap", path, cap);
        return NULL;
    }
    buf[n] = 0;
    *out_n = n;
    return buf;
}

/* Sharded checkpoint: read the index, open each distinct shard once, then check the map. */
static r1_status open_index(st_checkpoint *ck, const char *index_path, bool use_mmap, char *err)
{
    size_t n;
    char *text = read_small_file(index_path, ST_MAX_INDEX_BYTES, &n, err);
    if (!text) return R1_ERR_IO;
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!root) return err_set(err, R1_ERR_FORMAT, "%s: not valid JSON", index_path);
    r1_status st = R1_OK;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    char dir[4096];
    const char *slash = strrchr(index_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - index_path) : 1,
             slash ? index_path : ".");
    if (!cJSON_IsObject(wm)) {
        st = err_set(err, R1_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
        goto done;
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/') ||
            !strcmp(e->valuestring, "..") || !strcmp(e->valuestring, ".")) {
            st = err_set(err, R1_ERR_FORMAT,
                         "%s: weight_map entry '%s' must name a file in the same folder",
                         index_path, e->string ? e->string : "");
            goto done;
        }
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        int s;
        for (s = 0; s < ck->n_shards; s++)
            if (!strcmp(ck->shard_paths[s], path)) break;
        if (s < ck->n_shards) continue;
        if (ck->n_shards >= ST_MAX_SHARDS) {
            st = err_set(err, R1_ERR_FORMAT, "%s: more than %d shards", index_path, ST_MAX_SHARDS);
            goto done;
        }
        if (!is_file(path)) {
            st = err_set(err, R1_ERR_IO, "%s: shard '%s' (holding '%s') is missing", index_path,
                         e->valuestring, e->string);
            goto done;
        }
        if ((st = add_shard(ck, path, err)) || (st = open_shard(ck, s, use_mmap, err))) goto done;
    }
    if (ck->n_shards == 0) {
        st = err_set(err, R1_ERR_FORMAT, "%s: weight_map is empty", index_path);
        goto done;
    }
    if ((st = index_build(ck, err))) goto done;
    for (const cJSON *e = wm->child; e; e = e->next) {
        const st_tensor *t = st_find(ck, e->string);
        const char *want = e->valuestring;
        const char *got = t ? strrchr(ck->shard_paths[t->shard], '/') : NULL;
        got = got ? got + 1 : t ? ck->shard_paths[t->shard] : NULL;
        if (!t || strcmp(got, want)) {
            st = err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' is listed in shard '%s' but %s",
                         index_path, e->string, want,
                         t ? "found in another shard" : "no shard holds it");
            goto done;
        }
    }
done:
    cJSON_Delete(root);
    return st;
}

r1_status st_open(const char *path, bool use_mmap, st_checkpoint **out_ck, char *err)
{
    st_checkpoint *ck = ck_new(path);
    if (!ck) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    r1_status st;
    size_t len = strlen(path);
    char buf[4096 + 64];
    if (is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", path);
        if (is_file(buf)) {
            st = open_index(ck, buf, use_mmap, err);
        } else {
            snprintf(buf, sizeof buf, "%s/model.safetensors", path);
            if (!is_file(buf)) {
                st_close(ck);
                return err_set(err, R1_ERR_IO,
                               "%s: no model.safetensors.index.json or model.safetensors in the "
                               "folder",
                               path);
            }
            st = add_shard(ck, buf, err);
            if (!st) st = open_shard(ck, 0, use_mmap, err);
            if (!st) st = index_build(ck, err);
        }
    } else if (len > 5 && !strcmp(path + len - 5, ".json")) {
        st = open_index(ck, path, use_mmap, err);
    } else {
        st = add_shard(ck, path, err);
        if (!st) st = open_shard(ck, 0, use_mmap, err);
        if (!st) st = index_build(ck, err);
    }
    if (st) {
        st_close(ck);
        return st;
    }
    *out_ck = ck;
    return R1_OK;
}

r1_status st_open_memory(const void *data, size_t size, const char *name, st_checkpoint **out_ck,
                         char *err)
{
    if (!name) name = "<memory>";
    st_checkpoint *ck = ck_new(name);
    if (!ck) return err_set(err, R1_ERR_NOMEM, "out of memory");
    static const uint8_t empty[1];
    r1_status st = add_shard(ck, name, err);
    if (!st) st = parse_file(ck, 0, size ? data : empty, size, err);
    if (!st) st = index_build(ck, err);
    if (st) {
        st_close(ck);
        return st;
    }
    *out_ck = ck;
    return R1_OK;
}

void st_close(st_checkpoint *ck)
{
    if (!ck) return;
    for (int64_t i = 0; i < ck->n_tensors; i++) free(ck->tensors[i].name);
    free(ck->tensors);
    for (int s = 0; s < ck->n_shards; s++) {
        file_map_close(ck->maps[s]);
        free(ck->shard_paths[s]);
    }
    free(ck->maps);
    free(ck->shard_paths);
    st_index *ix = ck->private_index;
    if (ix) free(ix->slots);
    free(ix);
    free(ck->path);
    free(ck);
}

void st_release(const st_checkpoint *ck, const st_tensor *t)
{
    const file_map *map = ck->maps ? ck->maps[t->shard] : NULL;
    if (!map || !map->is_mapped || t->n_bytes == 0) return;
    /* Also drop a margin on both sides: the kernel's readahead around this tensor pulled in pages
     * of its neighbours in the file, and a neighbour already written (tensors are converted in
     * GGUF order, not file order) would otherwise keep them resident to the end — measured:
     * +12 MiB of peak RSS per GB of checkpoint. Dropping pages of a tensor not yet processed
     * only costs a re-read. */
    const size_t margin = 4u << 20;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)map->data, hi = lo + map->size;
    uintptr_t b = (uintptr_t)t->data, e = (uintptr_t)t->data + t->n_bytes;
    b = b - lo > margin ? b - margin : lo;
    e = hi - e > margin ? e + margin : hi;
    b &= ~(uintptr_t)(page - 1);
    madvise((void *)b, e - b, MADV_DONTNEED);
}
