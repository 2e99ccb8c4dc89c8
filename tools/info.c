/* info.c — tools/info.h: `r1 info`'s report from the GGUF reader (formats/gguf.h) and the loaded
 * model's description, the GGUF header check before loading, and the human units they print. */
#include "tools/info.h"

#include "formats/gguf.h"

#include <stdio.h>
#include <string.h>

/* n scaled into [1, 1000) with one decimal below 100, a ".0" dropped: 1.8, 14.8, 671, 2 */
static const char *fmt_units(double n, double base, const char *const *units, int n_units,
                             char *buf, size_t cap)
{
    int u = 0;
    while (u + 1 < n_units && n >= base * 0.99995) {
        n /= base;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f%s%s", n, units[0][0] ? " " : "", units[0]);
    else
        snprintf(buf, cap, "%.*f %s", n < 99.95 ? 1 : 0, n, units[u]);
    char *dot = strstr(buf, ".0 ");
    if (dot) memmove(dot, dot + 2, strlen(dot + 2) + 1);
    return buf;
}

const char *tools_fmt_count(double n, char *buf, size_t cap)
{
    static const char *const units[] = {"", "K", "M", "B", "T"};
    return fmt_units(n, 1000, units, 5, buf, cap);
}

const char *tools_fmt_bytes(double n, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    return fmt_units(n, 1024, units, 5, buf, cap);
}

r1_status tools_gguf_check(const char *path, char *err)
{
    gguf_file *g = NULL;
    r1_status st = gguf_open_model(path, true, &g, err);
    if (st == R1_OK) gguf_close(g);
    return st;
}

int tools_info(const char *path, const r1_model *model, int n_ctx, bool list)
{
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open_model(path, true, &f, err)) {
        fprintf(stderr, "r1 info: %s\n", err);
        return 1;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    char b0[32];
    printf("file:          %s (GGUF v%u, %lld tensors, %lld metadata keys)\n", path, f->version,
           (long long)f->n_tensors, (long long)f->n_kv);
    /* a split model: each shard and its size (f->tensors span all of them) */
    for (int i = 0; i < f->n_shards; i++)
        printf("  shard %d/%d:   %s (%s, %lld tensors)\n", i + 1, f->n_shards, f->shards[i]->path,
               tools_fmt_bytes((double)f->shards[i]->size, b0, sizeof b0),
               (long long)f->shards[i]->n_tensors);
    printf("architecture:  %s%s%s\n", info.architecture, info.name[0] ? "  name: " : "", info.name);
    char b1[32], b2[32], b3[32];
    printf("parameters:    %s  (%s of weights)\n",
           tools_fmt_count((double)info.n_params, b1, sizeof b1),
           tools_fmt_bytes((double)info.weight_bytes, b2, sizeof b2));
    printf("vocabulary:    %d tokens  bos %d  eos %d\n", info.n_vocab, info.bos_id, info.eos_id);
    printf("layers:        %d  embedding %d  trained context %d\n", info.n_layers, info.n_embd,
           info.n_ctx_train);
    printf("hyperparameters:\n");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", info.architecture);
    for (int64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (strncmp(kv->key, prefix, strlen(prefix)) != 0) continue;
        printf("  %-44s ", kv->key + strlen(prefix));
        switch (kv->type) {
        case GGUF_FLOAT32:
        case GGUF_FLOAT64:
            printf("%g\n", kv->v.f64);
            break;
        case GGUF_STRING:
            printf("%.*s\n", (int)(kv->v.str.len > 60 ? 60 : kv->v.str.len), kv->v.str.data);
            break;
        case GGUF_ARRAY:
            printf("[%llu × %s]\n", (unsigned long long)kv->arr_n, gguf_vtype_name(kv->arr_type));
            break;
        case GGUF_INT8:
        case GGUF_INT16:
        case GGUF_INT32:
        case GGUF_INT64:
            printf("%lld\n", (long long)kv->v.i64);
            break;
        default:
            printf("%llu\n", (unsigned long long)kv->v.u64);
            break;
        }
    }
    /* tensor types: count and bytes per type */
    long long count[DTYPE_COUNT] = {0}, bytes[DTYPE_COUNT] = {0};
    for (int64_t i = 0; i < f->n_tensors; i++) {
        count[f->tensors[i].type]++;
        bytes[f->tensors[i].type] += (long long)f->tensors[i].n_bytes;
    }
    printf("tensor types:\n");
    for (int t = 0; t < DTYPE_COUNT; t++)
        if (count[t])
            printf("  %-8s %5lld tensors  %10s\n", dtype_get((uint32_t)t)->name, count[t],
                   tools_fmt_bytes((double)bytes[t], b1, sizeof b1));
    /* the cache as r1 run sizes it by default; the full trained context besides when larger */
    if (!n_ctx) n_ctx = info.n_ctx_train > 0 && info.n_ctx_train < 4096 ? info.n_ctx_train : 4096;
    double kv_bytes = (double)info.kv_values_per_token_layer * info.n_layers * sizeof(float);
    printf("KV cache:      %d values per token per layer (fp32), %s per token, %s for %d tokens\n",
           info.kv_values_per_token_layer, tools_fmt_bytes(kv_bytes, b1, sizeof b1),
           tools_fmt_bytes(kv_bytes * n_ctx, b2, sizeof b2), n_ctx);
    printf("memory:        %s weights (mmap) + %s KV cache at %d tokens",
           tools_fmt_bytes((double)info.weight_bytes, b1, sizeof b1),
           tools_fmt_bytes(kv_bytes * n_ctx, b2, sizeof b2), n_ctx);
    if (info.n_ctx_train > n_ctx)
        printf(" (%s at the trained %d)",
               tools_fmt_bytes(kv_bytes * info.n_ctx_train, b3, sizeof b3), info.n_ctx_train);
    printf("\n");
    if (list) {
        printf("tensors:\n");
        for (int64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            printf("  %-40s %-7s [%lld", t->name, dtype_get(t->type)->name, (long long)t->ne[0]);
            for (int d = 1; d < t->n_dims; d++) printf(", %lld", (long long)t->ne[d]);
            printf("]  %s\n", tools_fmt_bytes((double)t->n_bytes, b1, sizeof b1));
        }
    }
    gguf_close(f);
    return 0;
}
