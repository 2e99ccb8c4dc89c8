/* cmd_imatrix.c — `r1 imatrix -m MODEL -f TEXT -o FILE`: the importance matrix of a model over a
 * calibration text, in llama.cpp's imatrix GGUF format (src/model/imatrix.h), for
 * `r1 quantize --imatrix` (or llama-quantize).
 *
 * The text is tokenized once and run in chunks of --chunk tokens, each a fresh sequence starting
 * with BOS (as llama-imatrix does); every weight matrix product's input rows are squared and
 * summed per column, per matrix (an expert sees only the tokens routed to it): tools/imatrix.c.
 * This command reads the options and the text and loads the model. */
#include "cli.h"
#include "common.h"

#include "tools/imatrix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 imatrix - activation statistics of a model over a text, for quantization\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 imatrix -m MODEL -f TEXT -o OUT.gguf [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Runs TEXT through the model in chunks and writes, for every weight matrix, the\n"
            "    mean square of the activation each of its columns multiplies, in llama.cpp's\n"
            "    imatrix GGUF format (r1 quantize --imatrix and llama-quantize read it). The\n"
            "    IQ1/IQ2 quantization mixes need one. See docs/quantization.md.\n"
            "\n"
            "OPTIONS\n"
            "    -m, --model MODEL     GGUF file (the model to quantize, at any precision)\n"
            "    -f, --file TEXT       calibration text (UTF-8)\n"
            "    -o, --out OUT.gguf    where the matrix goes\n"
            "        --chunk N         tokens per chunk (default 512)\n"
            "        --chunks N        use at most N chunks (default: all of the text)\n"
            "    -t, --threads N       threads (default: all cores)\n"
            "    -h, --help            this help\n");
}

int cmd_imatrix(int argc, char **argv)
{
    const char *model_path = NULL, *text_path = NULL, *out = NULL;
    int n_threads = 0, chunk = 512, max_chunks = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(text_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!(out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--chunk")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 8, 65536, &chunk))
                return 2;
        } else if (!strcmp(a, "--chunks")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 30, &max_chunks))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else {
            return cli_unknown_option(a);
        }
    }
    if (!model_path || !text_path || !out) {
        usage(stderr);
        return 2;
    }
    FILE *tf = fopen(text_path, "rb");
    if (!tf) {
        fprintf(stderr, "r1 imatrix: cannot open %s\n", text_path);
        return 1;
    }
    size_t cap = 1 << 20, len = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + len, 1, cap - len, tf)) > 0) {
        len += got;
        if (len == cap) {
            char *t = cap < ((size_t)1 << 31) ? realloc(text, cap *= 2) : NULL;
            if (!t) {
                free(text);
                text = NULL;
            }
            text = t;
        }
    }
    fclose(tf);
    if (!text) {
        fprintf(stderr, "r1 imatrix: %s: out of memory (or over 2 GiB)\n", text_path);
        return 1;
    }
    if (r1_dist_size(cli_dist) > 1) {
        /* the matmul observer would see only rank 0's shard of each split weight's inputs */
        if (r1_dist_rank(cli_dist) == 0)
            fprintf(stderr, "r1 imatrix: not under mpirun: run it as one process\n");
        free(text);
        return 2;
    }
    r1_model *model = cli_load_model(model_path, n_threads, false);
    if (!model) {
        free(text);
        return 1;
    }
    tools_imatrix_options io = {text_path, out, chunk, max_chunks};
    int rc = tools_imatrix(model, text, len, &io);
    free(text);
    r1_model_free(model);
    return rc;
}
