/* cmd_logits.c — `r1 logits`: the logits of every position for given token ids, as raw
 * little-endian float32, n_tokens × n_vocab, row-major, no header. Other tools rely on exactly
 * this format (docs/formats.md). */
#include "cli.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 logits - the logits of every position for given token ids\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 logits -m MODEL --tokens ID,ID,... -o FILE [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Runs the token ids through the model as one sequence and writes the logits of\n"
            "    every position to FILE as little-endian float32, n_tokens x n_vocab, row-major,\n"
            "    without a header (docs/formats.md).\n"
            "\n"
            "OPTIONS\n"
            "    -m, --model MODEL     GGUF file or Hugging Face folder\n"
            "        --tokens IDS      token ids, separated by commas\n"
            "    -o, --out FILE        where the logits go\n"
            "    -t, --threads N       threads (default: all cores)\n"
            "        --cache-type T    KV cache element type: f32 (default), f16, bf16, q8_0\n"
            "        --load-type T     Hugging Face FP8 weights become T at load (default Q8_0)\n"
            "    -h, --help            this help\n");
}

int cmd_logits(int argc, char **argv)
{
    const char *model_path = NULL, *tokens = NULL, *out = NULL;
    int n_threads = 0;
    r1_cache_type cache_type = R1_CACHE_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tokens")) {
            if (!(tokens = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!(out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--load-type")) {
            if (!(cli_load_type = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--cache-type")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_cache_type(v, &cache_type)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else {
            return cli_unknown_option(a);
        }
    }
    if (!model_path || !tokens || !out) {
        usage(stderr);
        return 2;
    }
    int n = 0;
    int32_t *ids = cli_parse_ids(tokens, &n);
    if (!ids) return 2;
    r1_model *model = cli_load_model(model_path, n_threads, false);
    if (!model) {
        free(ids);
        return 1;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    r1_session_params sp = r1_session_params_default();
    sp.all_logits = true;
    sp.cache_type = cache_type;
    sp.n_batch = n;
    sp.n_ctx = n > info.n_ctx_train ? n : info.n_ctx_train < 4096 ? info.n_ctx_train : 4096;
    if (sp.n_ctx < n) sp.n_ctx = n;
    r1_session *s = NULL;
    char err[R1_ERR_MAX];
    int rc = 1;
    if (r1_session_new(model, &sp, &s, err) || r1_session_eval(s, ids, n, err)) {
        fprintf(stderr, "r1 logits: %s\n", err);
        goto done;
    }
    int rows = 0;
    const float *logits = r1_session_logits_all(s, &rows);
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        goto done;
    }
    size_t count = (size_t)rows * (size_t)info.n_vocab;
    if (fwrite(logits, sizeof(float), count, f) != count || fclose(f) != 0) {
        fprintf(stderr, "r1 logits: write to %s failed\n", out);
        goto done;
    }
    rc = 0;
done:
    r1_session_free(s);
    r1_model_free(model);
    free(ids);
    return rc;
}
