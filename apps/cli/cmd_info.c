/* cmd_info.c — `r1 info`: what a model file is (architecture, hyperparameters, tensor types and
 * sizes) and what running it needs (weights, KV cache per token). The options here; the
 * report, from the GGUF reader and the loaded model's description, is tools/info.c. */
#include "cli.h"
#include "common.h"

#include "tools/info.h"

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
    r1_model *model = cli_load_model(path, 1, false);
    if (!model) return 1;
    int rc = tools_info(path, model, n_ctx, list);
    r1_model_free(model);
    return rc;
}
