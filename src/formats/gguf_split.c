/* gguf_split.c — load a model split into shards by llama.cpp's gguf-split.
 *
 * The format: shard i (0-based) of n is named PREFIX-%05d-of-%05d.gguf with i+1 and n, and is a
 * complete GGUF file holding some of the tensors. Each carries split.no = i and split.count = n
 * (u16), and split.tensors.count (i32) = the number of tensors over all shards. The first shard
 * holds the model's metadata; the others may hold only the split.* keys.
 *
 * gguf_open_model opens every shard (each mapped on its own, so nothing is read until used) and
 * builds one gguf_file over them with gguf_open_parts: metadata copied from the first shard minus
 * the split.* keys (so a file written from it, e.g. by quantize, is not taken for a shard), tensor
 * infos copied from all shards with their data pointers into the shards' mappings. The shards are
 * owned by the result and closed with it.
 */
#include "base/err.h"
#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_NO "split.no"
#define SPLIT_COUNT "split.count"
#define SPLIT_TENSORS "split.tensors.count"

/* "-00001-of-00003.gguf": the name's tail for shard `no` (0-based) of `count` */
static void split_postfix(char *out, size_t cap, uint32_t no, uint32_t count)
{
    snprintf(out, cap, "-%05u-of-%05u.gguf", no + 1, count);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

/* Reads split.no and split.count. Returns false if the file is not a shard (no split.count, or
 * a count of 1 with no 0, which gguf-split writes for a model that fits one file). */
static r1_status read_split(const gguf_file *f, bool *is_split, uint32_t *no, uint32_t *count,
                            char *err)
{
    bool bad = false;
    *is_split = false;
    *no = 0;
    *count = 0;
    bool has_count = gguf_get_u32(f, SPLIT_COUNT, count, &bad);
    if (bad) return err_set(err, R1_ERR_FORMAT, "%s: bad '" SPLIT_COUNT "' value", f->path);
    bool has_no = gguf_get_u32(f, SPLIT_NO, no, &bad);
    if (bad) return err_set(err, R1_ERR_FORMAT, "%s: bad '" SPLIT_NO "' value", f->path);
    if (!has_count && !has_no) return R1_OK;
    if (!has_count || !has_no)
        return err_set(err, R1_ERR_FORMAT, "%s: has '%s' but not '%s'", f->path,
                       has_no ? SPLIT_NO : SPLIT_COUNT, has_no ? SPLIT_COUNT : SPLIT_NO);
    /* gguf-split stores both as u16 */
    if (*count == 0 || *count > 65535)
        return err_set(err, R1_ERR_FORMAT, "%s: '" SPLIT_COUNT "' is %u (must be 1..65535)",
                       f->path, *count);
    if (*no >= *count)
        return err_set(err, R1_ERR_FORMAT, "%s: '" SPLIT_NO "' is %u but '" SPLIT_COUNT "' is %u",
                       f->path, *no, *count);
    *is_split = *count > 1;
    return R1_OK;
}

static bool is_split_key(const char *key)
{
    return !strcmp(key, SPLIT_NO) || !strcmp(key, SPLIT_COUNT) || !strcmp(key, SPLIT_TENSORS);
}

static r1_status merge(const char *path, gguf_file **shards, int n, gguf_file **out, char *err)
{
    gguf_file *first = shards[0];
    int64_t n_tensors = 0;
    for (int i = 0; i < n; i++) n_tensors += shards[i]->n_tensors;
    gguf_kv *kv = calloc((size_t)first->n_kv + 1, sizeof *kv);
    gguf_tensor *tensors = calloc((size_t)n_tensors + 1, sizeof *tensors);
    int64_t n_kv = 0, nt = 0;
    bool ok = kv && tensors;
    for (int64_t i = 0; ok && i < first->n_kv; i++) {
        const gguf_kv *src = &first->kv[i];
        if (is_split_key(src->key)) continue;
        gguf_kv *d = &kv[n_kv];
        *d = *src; /* payloads stay borrowed from the first shard's mapping */
        d->arr_str = NULL;
        if (!(d->key = strdup(src->key))) ok = false;
        if (ok && src->arr_str) {
            if (!(d->arr_str = malloc(src->arr_n * sizeof *d->arr_str)))
                ok = false;
            else
                memcpy(d->arr_str, src->arr_str, src->arr_n * sizeof *d->arr_str);
        }
        n_kv++;
    }
    for (int s = 0; ok && s < n; s++)
        for (int64_t i = 0; ok && i < shards[s]->n_tensors; i++) {
            tensors[nt] = shards[s]->tensors[i];
            if (!(tensors[nt].name = strdup(shards[s]->tensors[i].name))) ok = false;
            nt++;
        }
    if (!ok) {
        for (int64_t i = 0; kv && i < n_kv; i++) free(kv[i].key), free(kv[i].arr_str);
        for (int64_t i = 0; tensors && i < nt; i++) free(tensors[i].name);
        free(kv);
        free(tensors);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    }
    r1_status st = gguf_open_parts(path, kv, n_kv, tensors, nt, out, err);
    if (st) return st;
    (*out)->version = first->version;
    (*out)->alignment = first->alignment;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += shards[i]->size;
    (*out)->size = total;
    (*out)->shards = shards;
    (*out)->n_shards = n;
    return R1_OK;
}

r1_status gguf_open_model(const char *path, bool use_mmap, gguf_file **out_file, char *err)
{
    gguf_file *first = NULL;
    r1_status st = gguf_open(path, use_mmap, &first, err);
    if (st) return st;
    bool is_split;
    uint32_t no, count;
    if ((st = read_split(first, &is_split, &no, &count, err))) {
        gguf_close(first);
        return st;
    }
    if (!is_split) {
        *out_file = first;
        return R1_OK;
    }
    char tail[64];
    split_postfix(tail, sizeof tail, no, count);
    if (!ends_with(path, tail)) {
        gguf_close(first);
        return err_set(err, R1_ERR_FORMAT,
                       "%s: shard %u of a model split in %u, but its name does not end in '%s' "
                       "(split files must keep the names gguf-split gave them)",
                       path, no + 1, count, tail);
    }
    size_t prefix_len = strlen(path) - strlen(tail);
    if (no != 0) {
        char tail0[64];
        split_postfix(tail0, sizeof tail0, 0, count);
        err_set(err, R1_ERR_INVALID_ARG,
                "%s is shard %u of %u of a split model: pass the first shard, %.*s%s", path, no + 1,
                count, (int)prefix_len, path, tail0);
        gguf_close(first);
        return R1_ERR_INVALID_ARG;
    }
    bool bad = false;
    uint32_t want_tensors = 0;
    if (!gguf_get_u32(first, SPLIT_TENSORS, &want_tensors, &bad) || bad) {
        gguf_close(first);
        return err_set(err, R1_ERR_FORMAT, "%s: split model without a valid '" SPLIT_TENSORS "'",
                       path);
    }
    gguf_file **shards = calloc(count, sizeof *shards);
    size_t cap = prefix_len + sizeof tail;
    char *name = malloc(cap);
    if (!shards || !name) {
        free(shards);
        free(name);
        gguf_close(first);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    }
    shards[0] = first;
    int64_t total = first->n_tensors;
    for (uint32_t i = 1; !st && i < count; i++) {
        memcpy(name, path, prefix_len);
        split_postfix(name + prefix_len, cap - prefix_len, i, count);
        char sub[R1_ERR_MAX];
        if ((st = gguf_open(name, use_mmap, &shards[i], sub))) {
            err_set(err, st, "split model %s: cannot open shard %u of %u: %s", path, i + 1, count,
                    sub);
            break;
        }
        gguf_file *sh = shards[i];
        uint32_t sno, scount;
        bool sis; /* unused: scount says it all */
        if ((st = read_split(sh, &sis, &sno, &scount, err))) break;
        if (scount == 0) {
            st = err_set(err, R1_ERR_FORMAT,
                         "split model %s: %s has no split.* keys (not a gguf-split shard)", path,
                         name);
            break;
        }
        if (scount != count || sno != i) {
            st = err_set(err, R1_ERR_FORMAT,
                         "split model %s: %s is not its shard %u of %u (it says shard %u of %u: "
                         "a file from another split?)",
                         path, name, i + 1, count, sno + 1, scount);
            break;
        }
        /* no tensor may be in two shards: which one would the model use? */
        for (int64_t t = 0; !st && t < sh->n_tensors; t++)
            for (uint32_t j = 0; j < i; j++)
                if (gguf_find_tensor(shards[j], sh->tensors[t].name)) {
                    st = err_set(err, R1_ERR_FORMAT,
                                 "split model %s: tensor '%s' is in both %s and %s", path,
                                 sh->tensors[t].name, shards[j]->path, sh->path);
                    break;
                }
        total += sh->n_tensors;
    }
    free(name);
    if (!st && total != (int64_t)want_tensors)
        st = err_set(err, R1_ERR_FORMAT,
                     "split model %s: '" SPLIT_TENSORS "' says %u tensors but the %u shards hold "
                     "%lld",
                     path, want_tensors, count, (long long)total);
    if (!st && (st = merge(path, shards, (int)count, out_file, err)) == R1_OK) return R1_OK;
    for (uint32_t i = 0; i < count; i++) gguf_close(shards[i]);
    free(shards);
    return st;
}
