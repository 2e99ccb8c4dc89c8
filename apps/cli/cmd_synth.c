/* cmd_synth.c — `r1 synth`: write a GGUF with random weights but the exact shapes, tensor names and
 * metadata of a real model (DeepSeek-R1 671B, V2-Lite, the R1 distills, and tiny test presets), so
 * loaders and kernels can be tested and benchmarked on real shapes without downloading weights.
 *
 * Weights: matrices uniform with std 1/sqrt(n_cols) (keeps activations at unit scale through the
 * residual stream), norms 1 ± 0.1, biases ± 0.1; each row is seeded from (seed, tensor, row), so a
 * file does not depend on the thread count. The file is streamed tensor by tensor: memory stays
 * bounded however large the model. Rows whose length is not a multiple of the requested type's
 * block fall back to a compatible type (as the ecosystem's quantizer does). The options and help
 * are here; the presets and the writer are tools/synth.c.
 */
#include "cli.h"
#include "common.h"

#include "tools/synth.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 synth - write a random-weight GGUF with the shapes of a real model\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 synth --preset NAME [OPTIONS] -o OUT.gguf\n"
        "\n"
        "DESCRIPTION\n"
        "    Writes a GGUF with random weights and the exact shapes and metadata of a real\n"
        "    model: for benchmarks and tests of models too large to download.\n"
        "\n"
        "OPTIONS\n"
        "        --preset NAME     the model (below)\n"
        "    -o, --out OUT.gguf    the GGUF to write\n"
        "        --type TYPE       a tensor type (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K\n"
        "                          Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS) or a mix of `r1 quantize`\n"
        "                          (Q4_K_M, Q5_K_S, ...); default Q8_0\n"
        "        --layers N        override the layer count\n"
        "        --mtp N           add N multi-token-prediction modules (deepseek2 only; R1\n"
        "                          has 1)\n"
        "        --tokenizer FILE  include a real vocabulary (tokenizer.json or a GGUF),\n"
        "                          padded to the preset's vocabulary size; without it a\n"
        "                          minimal byte-level one is written\n"
        "        --seed S          random weights from seed S (default 1)\n"
        "    -t, --threads N       threads (default: all cores)\n"
        "    -h, --help            this help\n"
        "\n"
        "PRESETS\n");
    const char *name, *description;
    for (int i = 0; tools_synth_preset(i, &name, &description); i++)
        fprintf(f, "    %-22s %s\n", name, description);
}

int cmd_synth(int argc, char **argv)
{
    const char *preset_name = NULL, *out = NULL, *type_name = "Q8_0", *tok_path = NULL;
    int n_layers = 0, n_threads = 0, n_mtp = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--preset")) {
            if (!(preset_name = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(tok_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--type")) {
            if (!(type_name = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!(out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--layers")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_layers))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (!strcmp(a, "--mtp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 4, &n_mtp)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &seed)) return 2;
        } else {
            return cli_unknown_option(a);
        }
    }
    const bool known_preset = preset_name && tools_synth_has_preset(preset_name);
    const bool known_type = tools_synth_type_ok(type_name);
    if (!known_preset || !out || !known_type) {
        if (preset_name && !known_preset)
            fprintf(stderr, "r1 synth: unknown preset '%s'\n", preset_name);
        if (!known_type)
            fprintf(stderr,
                    "r1 synth: unknown or unsupported type '%s' (a tensor type or a mix of `r1 "
                    "quantize --help`)\n",
                    type_name);
        usage(stderr);
        return 2;
    }
    tools_synth_options so = {preset_name, out,       type_name, tok_path,
                              n_layers,    n_threads, n_mtp,     seed};
    return tools_synth(&so);
}
