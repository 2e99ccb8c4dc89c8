/* cmd_info.c — `r1 info`: what a model file is (architecture, hyperparameters, tensor types and
 * sizes) and what running it needs (weights, KV cache per token). Reads metadata through the GGUF
 * reader and the loaded model's description. */
#include "cli.h"
#include "common.h"

#include "formats/gguf.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: r1 info -m MODEL [--tensors] [--ctx-size N]\n\n"
               "Prints the architecture, hyperparameters, tensor types and sizes of a GGUF model,\n"
               "and the memory needed to run it (weights + KV cache for N tokens, default 4096).\n"
               "  --tensors   list every tensor\n");
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool list = false;
    int n_ctx = 4096;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tensors")) {
            list = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 24, &n_ctx))
                return 2;
        } else {
            fprintf(stderr, "r1 info: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open(path, true, &f, err)) {
        fprintf(stderr, "r1 info: %s\n", err);
        return 1;
    }
    r1_model *model = cli_load_model(path, 1, false);
    if (!model) {
        gguf_close(f);
        return 1;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    printf("file:          %s (GGUF v%u, %lld tensors, %lld metadata keys)\n", path, f->version,
           (long long)f->n_tensors, (long long)f->n_kv);
    printf("architecture:  %s%s%s\n", info.architecture, info.name[0] ? "  name: " : "", info.name);
    printf("parameters:    %.3f B  (%.2f GiB of weights)\n", info.n_params / 1e9,
           info.weight_bytes / (double)(1ull << 30));
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
            printf("  %-8s %5lld tensors  %10.2f MiB\n", dtype_get((uint32_t)t)->name, count[t],
                   bytes[t] / 1048576.0);
    double kv_bytes = (double)info.kv_values_per_token_layer * info.n_layers * sizeof(float);
    printf("KV cache:      %d values per token per layer (fp32), %.1f KiB per token, "
           "%.1f MiB for %d tokens\n",
           info.kv_values_per_token_layer, kv_bytes / 1024, kv_bytes * n_ctx / 1048576.0, n_ctx);
    printf("memory:        %.2f GiB weights (mmap) + %.2f GiB KV cache at %d tokens\n",
           info.weight_bytes / (double)(1ull << 30), kv_bytes * n_ctx / (double)(1ull << 30),
           n_ctx);
    if (list) {
        printf("tensors:\n");
        for (int64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            printf("  %-40s %-7s [%lld", t->name, dtype_get(t->type)->name, (long long)t->ne[0]);
            for (int d = 1; d < t->n_dims; d++) printf(", %lld", (long long)t->ne[d]);
            printf("]  %.2f MiB\n", t->n_bytes / 1048576.0);
        }
    }
    r1_model_free(model);
    gguf_close(f);
    return 0;
}
