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
    fprintf(f, "NAME\n"
               "    r1 info - what a model is and what running it needs\n"
               "\n"
               "SYNOPSIS\n"
               "    r1 info -m MODEL [OPTIONS]\n"
               "\n"
               "DESCRIPTION\n"
               "    Prints the architecture, parameter count, hyperparameters, tensor types and\n"
               "    sizes of a GGUF model, and the memory needed to run it: the weights plus the\n"
               "    KV cache at the context r1 run uses by default, min(trained context, 4096).\n"
               "\n"
               "OPTIONS\n"
               "    -m, --model MODEL     GGUF file\n"
               "    -c, --ctx-size N      size the KV cache for N tokens instead\n"
               "        --tensors         list every tensor\n"
               "    -h, --help            this help\n");
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool list = false;
    int n_ctx = 0; /* 0: as r1 run would use it, min(trained context, 4096) */
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
            return cli_unknown_option(a);
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (!cli_check_model(path)) return 1;
    gguf_file *f = NULL;
    char err[R1_ERR_MAX];
    if (gguf_open_model(path, true, &f, err)) {
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
    char b0[32];
    printf("file:          %s (GGUF v%u, %lld tensors, %lld metadata keys)\n", path, f->version,
           (long long)f->n_tensors, (long long)f->n_kv);
    /* a split model: each shard and its size (f->tensors span all of them) */
    for (int i = 0; i < f->n_shards; i++)
        printf("  shard %d/%d:   %s (%s, %lld tensors)\n", i + 1, f->n_shards, f->shards[i]->path,
               cli_fmt_bytes((double)f->shards[i]->size, b0, sizeof b0),
               (long long)f->shards[i]->n_tensors);
    printf("architecture:  %s%s%s\n", info.architecture, info.name[0] ? "  name: " : "", info.name);
    char b1[32], b2[32], b3[32];
    printf("parameters:    %s  (%s of weights)\n",
           cli_fmt_count((double)info.n_params, b1, sizeof b1),
           cli_fmt_bytes((double)info.weight_bytes, b2, sizeof b2));
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
                   cli_fmt_bytes((double)bytes[t], b1, sizeof b1));
    /* the cache as r1 run sizes it by default; the full trained context besides when larger */
    if (!n_ctx) n_ctx = info.n_ctx_train > 0 && info.n_ctx_train < 4096 ? info.n_ctx_train : 4096;
    double kv_bytes = (double)info.kv_values_per_token_layer * info.n_layers * sizeof(float);
    printf("KV cache:      %d values per token per layer (fp32), %s per token, %s for %d tokens\n",
           info.kv_values_per_token_layer, cli_fmt_bytes(kv_bytes, b1, sizeof b1),
           cli_fmt_bytes(kv_bytes * n_ctx, b2, sizeof b2), n_ctx);
    printf("memory:        %s weights (mmap) + %s KV cache at %d tokens",
           cli_fmt_bytes((double)info.weight_bytes, b1, sizeof b1),
           cli_fmt_bytes(kv_bytes * n_ctx, b2, sizeof b2), n_ctx);
    if (info.n_ctx_train > n_ctx)
        printf(" (%s at the trained %d)", cli_fmt_bytes(kv_bytes * info.n_ctx_train, b3, sizeof b3),
               info.n_ctx_train);
    printf("\n");
    if (list) {
        printf("tensors:\n");
        for (int64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            printf("  %-40s %-7s [%lld", t->name, dtype_get(t->type)->name, (long long)t->ne[0]);
            for (int d = 1; d < t->n_dims; d++) printf(", %lld", (long long)t->ne[d]);
            printf("]  %s\n", cli_fmt_bytes((double)t->n_bytes, b1, sizeof b1));
        }
    }
    r1_model_free(model);
    gguf_close(f);
    return 0;
}
