/* gguf.c — GGUF reader (v2, v3) and writer. A model file is untrusted input: every count, length,
 * type and offset is checked against the bytes that are really there before it is used.
 *
 * Byte layout (all little-endian):
 *   u32 magic "GGUF" (bytes 47 47 55 46) | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv × { string key | u32 value_type | value }
 *       string = u64 len | len bytes (no NUL); value = scalar | string |
 *       array  = u32 elem_type | u64 n | n elements (no nested arrays)
 *   n_tensors × { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to `general.alignment` (u32, default 32) | tensor data (each offset is relative to
 *   this point and aligned)
 */
#include "formats/gguf.h"

#include "base/err.h"
#include "base/mmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ALIGNMENT (1u << 16)
#define GGUF_MAX_KEY_BYTES 256
#define GGUF_MAX_NAME_BYTES 256
#define GGUF_MAX_COUNT (1ull << 24) /* tensors, kv pairs */

/* ---- bounded cursor -------------------------------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, size;
    const char *name; /* file name for messages */
    char *err;
} cursor;

static size_t cur_left(const cursor *c)
{
    return c->size - c->pos;
}

static r1_status cur_need(cursor *c, size_t n, const char *what)
{
    if (n > cur_left(c))
        return err_set(c->err, R1_ERR_FORMAT,
                       "%s: the file looks truncated: %s needs %zu bytes at offset %zu but only "
                       "%zu remain",
                       c->name, what, n, c->pos, cur_left(c));
    return R1_OK;
}

static r1_status cur_u32(cursor *c, uint32_t *out, const char *what)
{
    r1_status st = cur_need(c, 4, what);
    if (st) return st;
    memcpy(out, c->p + c->pos, 4);
    c->pos += 4;
    return R1_OK;
}

static r1_status cur_u64(cursor *c, uint64_t *out, const char *what)
{
    r1_status st = cur_need(c, 8, what);
    if (st) return st;
    memcpy(out, c->p + c->pos, 8);
    c->pos += 8;
    return R1_OK;
}

static r1_status cur_str(cursor *c, gguf_str *out, const char *what)
{
    uint64_t len;
    r1_status st = cur_u64(c, &len, what);
    if (st) return st;
    if (len > cur_left(c))
        return err_set(c->err, R1_ERR_FORMAT,
                       "%s: the file looks truncated: %s has length %llu at offset %zu, more than "
                       "the %zu bytes left",
                       c->name, what, (unsigned long long)len, c->pos - 8, cur_left(c));
    out->data = (const char *)c->p + c->pos;
    out->len = len;
    c->pos += (size_t)len;
    return R1_OK;
}

static size_t vtype_size(gguf_vtype t)
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

const char *gguf_vtype_name(gguf_vtype type)
{
    static const char *names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)type < GGUF_VTYPE_COUNT ? names[type] : "invalid";
}

/* Read one scalar of type t at p (bounds already checked) into kv's union. */
static void read_scalar(const uint8_t *p, gguf_vtype t, gguf_kv *kv)
{
    switch (t) {
    case GGUF_UINT8:
    case GGUF_BOOL:
        kv->v.u64 = p[0];
        break;
    case GGUF_INT8:
        kv->v.i64 = (int8_t)p[0];
        break;
    case GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        kv->v.u64 = v;
    } break;
    case GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        kv->v.i64 = v;
    } break;
    case GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        kv->v.u64 = v;
    } break;
    case GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        kv->v.i64 = v;
    } break;
    case GGUF_FLOAT32: {
        float v;
        memcpy(&v, p, 4);
        kv->v.f64 = v;
    } break;
    case GGUF_UINT64:
        memcpy(&kv->v.u64, p, 8);
        break;
    case GGUF_INT64:
        memcpy(&kv->v.i64, p, 8);
        break;
    case GGUF_FLOAT64:
        memcpy(&kv->v.f64, p, 8);
        break;
    default:
        break;
    }
}

int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i)
{
    gguf_kv tmp;
    size_t sz = vtype_size(kv->arr_type);
    if (!sz || i >= kv->arr_n) return 0;
    read_scalar((const uint8_t *)kv->arr_data + i * sz, kv->arr_type, &tmp);
    switch (kv->arr_type) {
    case GGUF_INT8:
    case GGUF_INT16:
    case GGUF_INT32:
    case GGUF_INT64:
        return tmp.v.i64;
    case GGUF_FLOAT32:
    case GGUF_FLOAT64: /* saturate: converting NaN or an out-of-range float is undefined */
        if (tmp.v.f64 != tmp.v.f64) return 0;
        if (tmp.v.f64 >= 9223372036854775808.0) return INT64_MAX;
        if (tmp.v.f64 < -9223372036854775808.0) return INT64_MIN;
        return (int64_t)tmp.v.f64;
    default:
        return (int64_t)tmp.v.u64;
    }
}

double gguf_arr_f64(const gguf_kv *kv, uint64_t i)
{
    gguf_kv tmp;
    size_t sz = vtype_size(kv->arr_type);
    if (!sz || i >= kv->arr_n) return 0;
    read_scalar((const uint8_t *)kv->arr_data + i * sz, kv->arr_type, &tmp);
    switch (kv->arr_type) {
    case GGUF_FLOAT32:
    case GGUF_FLOAT64:
        return tmp.v.f64;
    case GGUF_INT8:
    case GGUF_INT16:
    case GGUF_INT32:
    case GGUF_INT64:
        return (double)tmp.v.i64;
    default:
        return (double)tmp.v.u64;
    }
}

/* ---- name sets (duplicate detection and lookup) ---------------------------------------------- */

typedef struct name_set {
    uint32_t *slots; /* index+1, 0 = empty */
    size_t cap;      /* power of two */
} name_set;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool name_set_init(name_set *set, size_t n)
{
    set->cap = 16;
    while (set->cap < 2 * n + 1) set->cap *= 2;
    set->slots = calloc(set->cap, sizeof *set->slots);
    return set->slots != NULL;
}

/* Insert names[idx]; returns false when an equal name is already present. `get` maps index->name.
 */
static bool name_set_insert(name_set *set, uint32_t idx, const char *name,
                            const char *(*get)(const void *, uint32_t), const void *ctx)
{
    size_t mask = set->cap - 1, i = hash_str(name) & mask;
    while (set->slots[i]) {
        if (!strcmp(get(ctx, set->slots[i] - 1), name)) return false;
        i = (i + 1) & mask;
    }
    set->slots[i] = idx + 1;
    return true;
}

static int64_t name_set_find(const name_set *set, const char *name,
                             const char *(*get)(const void *, uint32_t), const void *ctx)
{
    if (!set->slots) return -1;
    size_t mask = set->cap - 1, i = hash_str(name) & mask;
    while (set->slots[i]) {
        if (!strcmp(get(ctx, set->slots[i] - 1), name)) return set->slots[i] - 1;
        i = (i + 1) & mask;
    }
    return -1;
}

static const char *kv_name(const void *ctx, uint32_t i)
{
    return ((const gguf_file *)ctx)->kv[i].key;
}

static const char *tensor_name(const void *ctx, uint32_t i)
{
    return ((const gguf_file *)ctx)->tensors[i].name;
}

typedef struct gguf_index {
    name_set kv, tensors;
} gguf_index;

/* ---- reader ---------------------------------------------------------------------------------- */

/* Copy a key/name into a NUL-terminated string, rejecting empty, over-long and embedded-NUL ones.
 */
static r1_status dup_name(cursor *c, gguf_str s, size_t max, const char *what, char **out)
{
    if (s.len == 0) return err_set(c->err, R1_ERR_FORMAT, "%s: empty %s", c->name, what);
    if (s.len > max)
        return err_set(c->err, R1_ERR_FORMAT, "%s: %s of %llu bytes is longer than the %zu allowed",
                       c->name, what, (unsigned long long)s.len, max);
    if (memchr(s.data, 0, (size_t)s.len))
        return err_set(c->err, R1_ERR_FORMAT, "%s: %s contains a NUL byte", c->name, what);
    char *d = malloc((size_t)s.len + 1);
    if (!d) return err_set(c->err, R1_ERR_NOMEM, "%s: out of memory", c->name);
    memcpy(d, s.data, (size_t)s.len);
    d[s.len] = 0;
    *out = d;
    return R1_OK;
}

static r1_status read_value(cursor *c, gguf_kv *kv, const char *key)
{
    uint32_t t;
    r1_status st = cur_u32(c, &t, "value type");
    if (st) return st;
    if (t >= GGUF_VTYPE_COUNT)
        return err_set(c->err, R1_ERR_FORMAT, "%s: key '%s' has invalid value type %u", c->name,
                       key, t);
    kv->type = (gguf_vtype)t;
    if (t == GGUF_STRING) return cur_str(c, &kv->v.str, "string value");
    if (t != GGUF_ARRAY) {
        size_t sz = vtype_size(kv->type);
        if ((st = cur_need(c, sz, "value"))) return st;
        read_scalar(c->p + c->pos, kv->type, kv);
        if (t == GGUF_BOOL && kv->v.u64 > 1)
            return err_set(c->err, R1_ERR_FORMAT, "%s: key '%s' has bool value %llu (not 0 or 1)",
                           c->name, key, (unsigned long long)kv->v.u64);
        c->pos += sz;
        return R1_OK;
    }
    uint32_t et;
    uint64_t n;
    if ((st = cur_u32(c, &et, "array element type"))) return st;
    if ((st = cur_u64(c, &n, "array length"))) return st;
    if (et >= GGUF_VTYPE_COUNT || et == GGUF_ARRAY)
        return err_set(c->err, R1_ERR_FORMAT, "%s: key '%s' is an array of %s (type %u)", c->name,
                       key, et == GGUF_ARRAY ? "arrays (nested arrays are not allowed)" : "invalid",
                       et);
    kv->arr_type = (gguf_vtype)et;
    kv->arr_n = n;
    if (et == GGUF_STRING) {
        /* each string takes at least its 8-byte length */
        if (n > cur_left(c) / 8)
            return err_set(c->err, R1_ERR_FORMAT,
                           "%s: the file looks truncated: key '%s' claims %llu strings, more than "
                           "the %zu bytes left can hold",
                           c->name, key, (unsigned long long)n, cur_left(c));
        kv->arr_str = malloc((n ? n : 1) * sizeof *kv->arr_str);
        if (!kv->arr_str) return err_set(c->err, R1_ERR_NOMEM, "%s: out of memory", c->name);
        for (uint64_t i = 0; i < n; i++)
            if ((st = cur_str(c, &kv->arr_str[i], "array string"))) return st;
        return R1_OK;
    }
    size_t sz = vtype_size(kv->arr_type);
    if (n > cur_left(c) / sz)
        return err_set(c->err, R1_ERR_FORMAT,
                       "%s: the file looks truncated: key '%s' claims %llu elements of %s, more "
                       "than the %zu bytes left",
                       c->name, key, (unsigned long long)n, gguf_vtype_name(kv->arr_type),
                       cur_left(c));
    kv->arr_data = c->p + c->pos;
    if (et == GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (c->p[c->pos + i] > 1)
                return err_set(c->err, R1_ERR_FORMAT, "%s: key '%s' has a bool element of %u",
                               c->name, key, c->p[c->pos + i]);
    c->pos += (size_t)(n * sz);
    return R1_OK;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static r1_status parse(gguf_file *f, char *err)
{
    cursor cc = {.p = f->base, .pos = 0, .size = f->size, .name = f->path, .err = err}, *c = &cc;
    r1_status st;
    if (f->size == 0) return err_set(err, R1_ERR_FORMAT, "%s: empty file", f->path);
    uint32_t magic, version;
    if ((st = cur_u32(c, &magic, "magic"))) return st;
    if (magic != GGUF_MAGIC) {
        if (magic == 0x47475546u)
            return err_set(err, R1_ERR_FORMAT, "%s: byte-swapped GGUF magic (big-endian file?)",
                           f->path);
        return err_set(err, R1_ERR_FORMAT, "%s: not a GGUF file (magic %02x %02x %02x %02x)",
                       f->path, f->base[0], f->size > 1 ? f->base[1] : 0,
                       f->size > 2 ? f->base[2] : 0, f->size > 3 ? f->base[3] : 0);
    }
    if ((st = cur_u32(c, &version, "version"))) return st;
    if (version == 0x02000000u || version == 0x03000000u)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: GGUF version is byte-swapped (big-endian file); only little-endian "
                       "GGUF is supported",
                       f->path);
    if (version != 2 && version != 3)
        return err_set(err, R1_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 or 3)",
                       f->path, version);
    f->version = version;
    uint64_t n_tensors, n_kv;
    if ((st = cur_u64(c, &n_tensors, "tensor count"))) return st;
    if ((st = cur_u64(c, &n_kv, "metadata count"))) return st;
    /* a kv pair takes ≥ 8+1+4+1 bytes, a tensor info ≥ 8+1+4+8+4+8; a plausible count in too
     * few bytes is what a cut-off download looks like, and is said so */
    if ((int64_t)n_tensors < 0 || n_tensors > GGUF_MAX_COUNT)
        return err_set(err, R1_ERR_FORMAT, "%s: tensor count %lld is negative or over the cap",
                       f->path, (long long)n_tensors);
    if ((int64_t)n_kv < 0 || n_kv > GGUF_MAX_COUNT)
        return err_set(err, R1_ERR_FORMAT, "%s: metadata count %lld is negative or over the cap",
                       f->path, (long long)n_kv);
    if (n_tensors > cur_left(c) / 33 || n_kv > cur_left(c) / 14)
        return err_set(err, R1_ERR_FORMAT,
                       "%s: the file looks truncated: its %zu bytes cannot hold the tensor "
                       "count %lld and metadata count %lld of its header",
                       f->path, f->size, (long long)n_tensors, (long long)n_kv);

    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", f->path);

    gguf_index *index = calloc(1, sizeof *index);
    if (!index) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", f->path);
    if (!name_set_init(&index->kv, n_kv) || !name_set_init(&index->tensors, n_tensors)) {
        free(index->kv.slots);
        free(index);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", f->path);
    }
    f->private_index = index;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        gguf_str key;
        if ((st = cur_str(c, &key, "key"))) return st;
        if ((st = dup_name(c, key, GGUF_MAX_KEY_BYTES, "metadata key", &kv->key))) return st;
        f->n_kv = (int64_t)i + 1;
        if (!name_set_insert(&index->kv, (uint32_t)i, kv->key, kv_name, f))
            return err_set(err, R1_ERR_FORMAT, "%s: duplicated metadata key '%s'", f->path,
                           kv->key);
        if ((st = read_value(c, kv, kv->key))) return st;
        if (!strcmp(kv->key, "general.alignment")) {
            if (kv->type != GGUF_UINT32)
                return err_set(err, R1_ERR_FORMAT, "%s: general.alignment has type %s, not u32",
                               f->path, gguf_vtype_name(kv->type));
            uint64_t a = kv->v.u64;
            if (a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT)
                return err_set(err, R1_ERR_FORMAT,
                               "%s: general.alignment %llu is not a power of two in 1..%u", f->path,
                               (unsigned long long)a, GGUF_MAX_ALIGNMENT);
            f->alignment = a;
        }
    }

    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        gguf_str name;
        uint32_t n_dims, type;
        if ((st = cur_str(c, &name, "tensor name"))) return st;
        if ((st = dup_name(c, name, GGUF_MAX_NAME_BYTES, "tensor name", &t->name))) return st;
        f->n_tensors = (int64_t)i + 1;
        if (!name_set_insert(&index->tensors, (uint32_t)i, t->name, tensor_name, f))
            return err_set(err, R1_ERR_FORMAT, "%s: duplicated tensor name '%s'", f->path, t->name);
        if ((st = cur_u32(c, &n_dims, "tensor n_dims"))) return st;
        if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
            return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1..%d allowed)",
                           f->path, t->name, n_dims, GGUF_MAX_DIMS);
        t->n_dims = (int)n_dims;
        int64_t n_el = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) {
            uint64_t ne = 1;
            if ((uint32_t)d < n_dims && (st = cur_u64(c, &ne, "tensor dimension"))) return st;
            if ((int64_t)ne <= 0)
                return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' has dimension %d of %lld",
                               f->path, t->name, d, (long long)(int64_t)ne);
            t->ne[d] = (int64_t)ne;
            if (__builtin_mul_overflow(n_el, t->ne[d], &n_el))
                return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' element count overflows",
                               f->path, t->name);
        }
        t->n_elements = n_el;
        if ((st = cur_u32(c, &type, "tensor type"))) return st;
        const dtype_traits *tr = dtype_get(type);
        if (!tr)
            return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' has unknown or deprecated type %u",
                           f->path, t->name, type);
        if (!tr->is_supported)
            return err_set(err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, not supported",
                           f->path, t->name, tr->name);
        t->type = (dtype)type;
        if (t->ne[0] % tr->block_size)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: tensor '%s' row of %lld elements is not a multiple of the %s "
                           "block size %d",
                           f->path, t->name, (long long)t->ne[0], tr->name, tr->block_size);
        uint64_t bytes;
        if (__builtin_mul_overflow((uint64_t)(n_el / tr->block_size), (uint64_t)tr->block_bytes,
                                   &bytes) ||
            bytes > SIZE_MAX)
            return err_set(err, R1_ERR_FORMAT, "%s: tensor '%s' byte size overflows", f->path,
                           t->name);
        t->n_bytes = (size_t)bytes;
        if ((st = cur_u64(c, &t->offset, "tensor offset"))) return st;
        if (t->offset % f->alignment)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: tensor '%s' offset %llu is not a multiple of the alignment %llu",
                           f->path, t->name, (unsigned long long)t->offset,
                           (unsigned long long)f->alignment);
    }

    size_t data_offset = (c->pos + f->alignment - 1) / f->alignment * f->alignment;
    if (data_offset > f->size) {
        if (n_tensors > 0)
            return err_set(err, R1_ERR_FORMAT,
                           "%s: the file looks truncated: no room for tensor data", f->path);
        data_offset = f->size;
    }
    f->data_offset = data_offset;
    size_t data_size = f->size - data_offset;
    /* the size the file should have: data offset + the end of the last tensor (an overflow is a
     * hostile offset, reported per tensor below) */
    uint64_t want = data_offset;
    bool want_ok = true;
    for (uint64_t i = 0; i < n_tensors && want_ok; i++) {
        uint64_t end;
        want_ok =
            !__builtin_add_overflow(f->tensors[i].offset, (uint64_t)f->tensors[i].n_bytes, &end) &&
            !__builtin_add_overflow(end, (uint64_t)data_offset, &end);
        if (want_ok && end > want) want = end;
    }
    gguf_tensor **order = malloc((n_tensors ? n_tensors : 1) * sizeof *order);
    if (!order) return err_set(err, R1_ERR_NOMEM, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            free(order);
            if (want_ok)
                return err_set(err, R1_ERR_FORMAT,
                               "%s: the file looks truncated: expected %llu bytes, has %zu "
                               "(tensor '%s' (%zu bytes at data offset %llu) extends past the "
                               "end)",
                               f->path, (unsigned long long)want, f->size, t->name, t->n_bytes,
                               (unsigned long long)t->offset);
            return err_set(err, R1_ERR_FORMAT,
                           "%s: tensor '%s' (%zu bytes at data offset %llu) extends past the end "
                           "of the file",
                           f->path, t->name, t->n_bytes, (unsigned long long)t->offset);
        }
        t->data = f->base + data_offset + t->offset;
        order[i] = t;
    }
    qsort(order, n_tensors, sizeof *order, cmp_by_offset);
    for (uint64_t i = 1; i < n_tensors; i++) {
        if (order[i - 1]->offset + order[i - 1]->n_bytes > order[i]->offset) {
            r1_status s = err_set(err, R1_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", f->path,
                                  order[i - 1]->name, order[i]->name);
            free(order);
            return s;
        }
    }
    free(order);
    return R1_OK;
}

static r1_status open_common(gguf_file *f, char *err)
{
    r1_status st = parse(f, err);
    if (st) {
        gguf_close(f);
        return st;
    }
    return R1_OK;
}

r1_status gguf_open(const char *path, bool use_mmap, gguf_file **out_file, char *err)
{
    file_map *map;
    r1_status st = file_map_open(path, use_mmap, &map, err);
    if (st) return st;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        file_map_close(map);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    }
    f->map_handle = map;
    f->base = map->data;
    f->size = map->size;
    if ((st = open_common(f, err))) return st;
    *out_file = f;
    return R1_OK;
}

r1_status gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out_file,
                           char *err)
{
    gguf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name ? name : "<memory>"))) {
        free(f);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    static const uint8_t empty[1];
    f->base = size ? data : empty;
    f->size = size;
    r1_status st = open_common(f, err);
    if (st) return st;
    *out_file = f;
    return R1_OK;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    for (int64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].arr_str);
    }
    for (int64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    gguf_index *index = f->private_index;
    if (index) {
        free(index->kv.slots);
        free(index->tensors.slots);
        free(index);
    }
    file_map_close(f->map_handle);
    for (int i = 0; i < f->n_shards; i++) gguf_close(f->shards[i]);
    free(f->shards);
    free(f->path);
    free(f);
}

void gguf_release_pages(const gguf_file *f, const void *p, size_t n)
{
    /* file_map_release ignores ranges outside the map, so asking every shard is safe */
    file_map_release(f->map_handle, p, n);
    for (int i = 0; i < f->n_shards; i++) file_map_release(f->shards[i]->map_handle, p, n);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    const gguf_index *index = f->private_index;
    int64_t i = index ? name_set_find(&index->kv, key, kv_name, f) : -1;
    return i >= 0 ? &f->kv[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    const gguf_index *index = f->private_index;
    int64_t i = index ? name_set_find(&index->tensors, name, tensor_name, f) : -1;
    return i >= 0 ? &f->tensors[i] : NULL;
}

static bool is_unsigned(gguf_vtype t)
{
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}

static bool is_signed(gguf_vtype t)
{
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

static bool bad(bool *out_bad)
{
    if (out_bad) *out_bad = true;
    return false;
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, bool *out_bad)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (is_unsigned(kv->type) && kv->v.u64 <= UINT32_MAX) {
        *out = (uint32_t)kv->v.u64;
        return true;
    }
    if (is_signed(kv->type) && kv->v.i64 >= 0 && kv->v.i64 <= (int64_t)UINT32_MAX) {
        *out = (uint32_t)kv->v.i64;
        return true;
    }
    return bad(out_bad);
}

bool gguf_get_f32(const gguf_file *f, const char *key, float *out, bool *out_bad)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = (float)kv->v.f64;
        return true;
    }
    if (is_unsigned(kv->type)) {
        *out = (float)kv->v.u64;
        return true;
    }
    if (is_signed(kv->type)) {
        *out = (float)kv->v.i64;
        return true;
    }
    return bad(out_bad);
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out, bool *out_bad)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (kv->type == GGUF_BOOL || (is_unsigned(kv->type) && kv->v.u64 <= 1)) {
        *out = kv->v.u64 != 0;
        return true;
    }
    return bad(out_bad);
}

bool gguf_get_str(const gguf_file *f, const char *key, char *out, size_t cap, bool *out_bad)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (kv->type != GGUF_STRING || cap == 0) return bad(out_bad);
    size_t n = kv->v.str.len < cap - 1 ? (size_t)kv->v.str.len : cap - 1;
    memcpy(out, kv->v.str.data, n);
    out[n] = 0;
    return true;
}

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct wkv {
    char *key;
    gguf_vtype type;
    uint8_t *bytes; /* serialized value (after the type field), without key */
    size_t n_bytes;
} wkv;

typedef struct wtensor {
    char *name;
    dtype type;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    size_t n_bytes;
    uint64_t offset;
    const void *data;
} wtensor;

struct gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    uint64_t alignment;
    /* streaming state */
    FILE *fp;
    char *path, *tmp_path;
    size_t next_tensor;
    size_t part_bytes; /* bytes of the current tensor written so far */
    uint64_t data_pos;
    bool failed;
};

gguf_writer *gguf_writer_new(void)
{
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].bytes);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    if (w->fp) {
        fclose(w->fp);
        unlink(w->tmp_path);
    }
    free(w->path);
    free(w->tmp_path);
    free(w->kv);
    free(w->tensors);
    free(w);
}

/* Replace or append key with a serialized value (takes ownership of bytes). */
static void w_put(gguf_writer *w, const char *key, gguf_vtype type, uint8_t *bytes, size_t n)
{
    if (!bytes && n) {
        w->failed = true;
        return;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].bytes);
            w->kv[i].type = type;
            w->kv[i].bytes = bytes;
            w->kv[i].n_bytes = n;
            return;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(bytes);
            w->failed = true;
            return;
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(bytes);
        w->failed = true;
        return;
    }
    w->kv[w->n_kv++] = (wkv){k, type, bytes, n};
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (b) memcpy(b, p, n);
    return b;
}

void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    w_put(w, key, GGUF_UINT32, dup_bytes(&v, 4), 4);
}

void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    w_put(w, key, GGUF_INT32, dup_bytes(&v, 4), 4);
}

void gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    w_put(w, key, GGUF_FLOAT32, dup_bytes(&v, 4), 4);
}

void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v;
    w_put(w, key, GGUF_BOOL, dup_bytes(&b, 1), 1);
}

static uint8_t *ser_str(const char *s, uint64_t len, size_t *out_n)
{
    uint8_t *b = malloc(8 + len);
    if (!b) return NULL;
    memcpy(b, &len, 8);
    memcpy(b + 8, s, len);
    *out_n = 8 + len;
    return b;
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    size_t n = 0;
    uint8_t *b = ser_str(v, strlen(v), &n);
    w_put(w, key, GGUF_STRING, b, n);
}

static uint8_t *ser_arr_head(gguf_vtype et, uint64_t n, size_t payload)
{
    uint8_t *b = malloc(12 + payload);
    if (!b) return NULL;
    uint32_t t = et;
    memcpy(b, &t, 4);
    memcpy(b + 4, &n, 8);
    return b;
}

void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    size_t payload = 0;
    for (uint64_t i = 0; i < n; i++) payload += 8 + strlen(v[i]);
    uint8_t *b = ser_arr_head(GGUF_STRING, n, payload);
    if (b) {
        size_t pos = 12;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t len = strlen(v[i]);
            memcpy(b + pos, &len, 8);
            memcpy(b + pos + 8, v[i], len);
            pos += 8 + len;
        }
    }
    w_put(w, key, GGUF_ARRAY, b, 12 + payload);
}

void gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n)
{
    uint8_t *b = ser_arr_head(GGUF_INT32, n, 4 * n);
    if (b) memcpy(b + 12, v, 4 * n);
    w_put(w, key, GGUF_ARRAY, b, 12 + 4 * n);
}

void gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n)
{
    uint8_t *b = ser_arr_head(GGUF_FLOAT32, n, 4 * n);
    if (b) memcpy(b + 12, v, 4 * n);
    w_put(w, key, GGUF_ARRAY, b, 12 + 4 * n);
}

void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv)
{
    if (kv->type == GGUF_STRING) {
        size_t n = 0;
        uint8_t *b = ser_str(kv->v.str.data, kv->v.str.len, &n);
        w_put(w, kv->key, GGUF_STRING, b, n);
    } else if (kv->type != GGUF_ARRAY) {
        size_t sz = vtype_size(kv->type);
        uint8_t tmp[8];
        /* the union holds the value widened; narrow it back little-endian */
        uint64_t u = kv->v.u64;
        if (kv->type == GGUF_FLOAT32) {
            float f = (float)kv->v.f64;
            memcpy(tmp, &f, 4);
        } else if (kv->type == GGUF_FLOAT64) {
            memcpy(tmp, &kv->v.f64, 8);
        } else {
            memcpy(tmp, &u, 8); /* little-endian host: low bytes first */
        }
        w_put(w, kv->key, kv->type, dup_bytes(tmp, sz), sz);
    } else if (kv->arr_type == GGUF_STRING) {
        size_t payload = 0;
        for (uint64_t i = 0; i < kv->arr_n; i++) payload += 8 + kv->arr_str[i].len;
        uint8_t *b = ser_arr_head(GGUF_STRING, kv->arr_n, payload);
        if (b) {
            size_t pos = 12;
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                uint64_t len = kv->arr_str[i].len;
                memcpy(b + pos, &len, 8);
                memcpy(b + pos + 8, kv->arr_str[i].data, len);
                pos += 8 + len;
            }
        }
        w_put(w, kv->key, GGUF_ARRAY, b, 12 + payload);
    } else {
        size_t payload = kv->arr_n * vtype_size(kv->arr_type);
        uint8_t *b = ser_arr_head(kv->arr_type, kv->arr_n, payload);
        if (b) memcpy(b + 12, kv->arr_data, payload);
        w_put(w, kv->key, GGUF_ARRAY, b, 12 + payload);
    }
}

r1_status gguf_writer_add_tensor(gguf_writer *w, const char *name, dtype type, int n_dims,
                                 const int64_t *ne, const void *data, char *err)
{
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': %d dims", name, n_dims);
    if (strlen(name) == 0 || strlen(name) > GGUF_MAX_NAME_BYTES)
        return err_set(err, R1_ERR_INVALID_ARG, "tensor name '%s' is empty or too long", name);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s' added twice", name);
    const dtype_traits *tr = dtype_get((uint32_t)type);
    if (!tr || !tr->is_supported) /* the reader would refuse the file */
        return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': type %d is not a supported type",
                       name, (int)type);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data};
    int64_t n_el = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0 || __builtin_mul_overflow(n_el, t.ne[d], &n_el))
            return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': bad shape", name);
    }
    size_t row = dtype_row_bytes(type, t.ne[0]);
    if (!row)
        return err_set(err, R1_ERR_INVALID_ARG,
                       "tensor '%s': %lld elements per row is not a multiple of the block of %s",
                       name, (long long)t.ne[0], tr->name);
    if (__builtin_mul_overflow(row, (size_t)(n_el / t.ne[0]), &t.n_bytes) ||
        t.n_bytes > (size_t)INT64_MAX)
        return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': byte size overflows", name);
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        wtensor *nt = realloc(w->tensors, cap * sizeof *nt);
        if (!nt) return err_set(err, R1_ERR_NOMEM, "out of memory");
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    if (!(t.name = strdup(name))) return err_set(err, R1_ERR_NOMEM, "out of memory");
    w->tensors[w->n_tensors++] = t;
    return R1_OK;
}

static bool w_write(gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n) w->failed = true;
    return !w->failed;
}

static bool w_pad(gguf_writer *w, uint64_t pos)
{
    static const uint8_t zeros[GGUF_MAX_ALIGNMENT];
    uint64_t pad = (w->alignment - pos % w->alignment) % w->alignment;
    return w_write(w, zeros, (size_t)pad);
}

r1_status gguf_writer_begin(gguf_writer *w, const char *path, char *err)
{
    if (w->failed) return err_set(err, R1_ERR_NOMEM, "%s: out of memory building metadata", path);
    if (w->fp) return err_set(err, R1_ERR_INVALID_ARG, "%s: writer already started", path);
    /* refuse what the reader would reject; the last general.alignment set decides the layout */
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        size_t len = strlen(kv->key);
        if (len == 0 || len > GGUF_MAX_KEY_BYTES)
            return err_set(err, R1_ERR_INVALID_ARG, "%s: metadata key of %zu bytes (1..%d allowed)",
                           path, len, GGUF_MAX_KEY_BYTES);
        if (!strcmp(kv->key, "general.alignment")) {
            uint32_t a = 0;
            if (kv->type == GGUF_UINT32) memcpy(&a, kv->bytes, 4);
            if (kv->type != GGUF_UINT32 || a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT)
                return err_set(err, R1_ERR_INVALID_ARG,
                               "%s: general.alignment must be a u32 power of two in 1..%u", path,
                               GGUF_MAX_ALIGNMENT);
            w->alignment = a;
        }
    }
    free(w->path);
    free(w->tmp_path);
    w->path = strdup(path);
    w->tmp_path = malloc(strlen(path) + 5);
    if (!w->path || !w->tmp_path) return err_set(err, R1_ERR_NOMEM, "out of memory");
    sprintf(w->tmp_path, "%s.tmp", path);
    w->fp = fopen(w->tmp_path, "wb");
    if (!w->fp)
        return err_set(err, R1_ERR_IO, "%s: cannot create: %s", w->tmp_path, strerror(errno));
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = pos;
        pos += w->tensors[i].n_bytes;
        pos = (pos + w->alignment - 1) / w->alignment * w->alignment;
    }
    uint32_t magic = GGUF_MAGIC, version = 3;
    uint64_t n_t = w->n_tensors, n_kv = w->n_kv, hdr = 0;
    w_write(w, &magic, 4);
    w_write(w, &version, 4);
    w_write(w, &n_t, 8);
    w_write(w, &n_kv, 8);
    hdr = 24;
    for (size_t i = 0; i < w->n_kv; i++) {
        uint64_t len = strlen(w->kv[i].key);
        uint32_t t = w->kv[i].type;
        w_write(w, &len, 8);
        w_write(w, w->kv[i].key, len);
        w_write(w, &t, 4);
        w_write(w, w->kv[i].bytes, w->kv[i].n_bytes);
        hdr += 8 + len + 4 + w->kv[i].n_bytes;
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims, ty = t->type;
        w_write(w, &len, 8);
        w_write(w, t->name, len);
        w_write(w, &nd, 4);
        for (int d = 0; d < t->n_dims; d++) {
            uint64_t ne = (uint64_t)t->ne[d];
            w_write(w, &ne, 8);
        }
        w_write(w, &ty, 4);
        w_write(w, &t->offset, 8);
        hdr += 8 + len + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    w_pad(w, hdr);
    w->next_tensor = 0;
    w->part_bytes = 0;
    w->data_pos = 0;
    if (w->failed) return err_set(err, R1_ERR_IO, "%s: write failed", w->tmp_path);
    return R1_OK;
}

r1_status gguf_writer_write_tensor_part(gguf_writer *w, const void *data, size_t n_bytes, char *err)
{
    if (!w->fp || w->next_tensor >= w->n_tensors)
        return err_set(err, R1_ERR_INVALID_ARG, "gguf writer: no tensor left to write");
    const wtensor *t = &w->tensors[w->next_tensor];
    if (n_bytes > t->n_bytes - w->part_bytes)
        return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': %zu more bytes exceed its %zu",
                       t->name, n_bytes, t->n_bytes);
    w_write(w, data, n_bytes);
    w->part_bytes += n_bytes;
    if (w->part_bytes == t->n_bytes) {
        w->data_pos += t->n_bytes;
        w->part_bytes = 0;
        w->next_tensor++;
        if (w->next_tensor < w->n_tensors) {
            w_pad(w, w->data_pos);
            w->data_pos = w->tensors[w->next_tensor].offset;
        }
    }
    if (w->failed) return err_set(err, R1_ERR_IO, "%s: write failed", w->tmp_path);
    return R1_OK;
}

r1_status gguf_writer_write_tensor(gguf_writer *w, const void *data, size_t n_bytes, char *err)
{
    if (w->fp && w->next_tensor < w->n_tensors &&
        (w->part_bytes != 0 || n_bytes != w->tensors[w->next_tensor].n_bytes))
        return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s': %zu bytes given, %zu expected",
                       w->tensors[w->next_tensor].name, n_bytes,
                       w->tensors[w->next_tensor].n_bytes);
    return gguf_writer_write_tensor_part(w, data, n_bytes, err);
}

r1_status gguf_writer_finish(gguf_writer *w, char *err)
{
    if (!w->fp) return err_set(err, R1_ERR_INVALID_ARG, "gguf writer: not started");
    if (w->next_tensor != w->n_tensors)
        return err_set(err, R1_ERR_INVALID_ARG, "gguf writer: %zu of %zu tensors written",
                       w->next_tensor, w->n_tensors);
    if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0) w->failed = true;
    if (fclose(w->fp) != 0) w->failed = true;
    w->fp = NULL;
    if (w->failed || rename(w->tmp_path, w->path) != 0) {
        unlink(w->tmp_path);
        return err_set(err, R1_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    }
    return R1_OK;
}

r1_status gguf_writer_write_file(gguf_writer *w, const char *path, char *err)
{
    r1_status st = gguf_writer_begin(w, path, err);
    if (st) return st;
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (!w->tensors[i].data)
            return err_set(err, R1_ERR_INVALID_ARG, "tensor '%s' has no data", w->tensors[i].name);
        if ((st = gguf_writer_write_tensor(w, w->tensors[i].data, w->tensors[i].n_bytes, err)))
            return st;
    }
    return gguf_writer_finish(w, err);
}

size_t gguf_writer_n_tensors(const gguf_writer *w)
{
    return w->n_tensors;
}

size_t gguf_writer_tensor_bytes(const gguf_writer *w, size_t i)
{
    return i < w->n_tensors ? w->tensors[i].n_bytes : 0;
}

/* ---- files assembled in memory --------------------------------------------------------------- */

r1_status gguf_open_parts(const char *path, gguf_kv *kv, int64_t n_kv, gguf_tensor *tensors,
                          int64_t n_tensors, gguf_file **out_file, char *err)
{
    gguf_file *f = calloc(1, sizeof *f);
    gguf_index *index = calloc(1, sizeof *index);
    if (!f || !index || !(f->path = strdup(path))) {
        free(index);
        free(f);
        for (int64_t i = 0; i < n_kv; i++) free(kv[i].key), free(kv[i].arr_str);
        for (int64_t i = 0; i < n_tensors; i++) free(tensors[i].name);
        free(kv);
        free(tensors);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    }
    f->version = 3;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    f->kv = kv;
    f->n_kv = n_kv;
    f->tensors = tensors;
    f->n_tensors = n_tensors;
    f->private_index = index;
    static const uint8_t empty[1];
    f->base = empty;
    r1_status st = R1_OK;
    if (!name_set_init(&index->kv, (size_t)n_kv) ||
        !name_set_init(&index->tensors, (size_t)n_tensors))
        st = err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; !st && i < n_kv; i++)
        if (!name_set_insert(&index->kv, (uint32_t)i, kv[i].key, kv_name, f))
            st = err_set(err, R1_ERR_FORMAT, "%s: duplicated metadata key '%s'", path, kv[i].key);
    for (int64_t i = 0; !st && i < n_tensors; i++)
        if (!name_set_insert(&index->tensors, (uint32_t)i, tensors[i].name, tensor_name, f))
            st = err_set(err, R1_ERR_FORMAT, "%s: duplicated tensor name '%s'", path,
                         tensors[i].name);
    if (st) {
        gguf_close(f);
        return st;
    }
    *out_file = f;
    return R1_OK;
}
