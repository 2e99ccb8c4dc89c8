/* cmd_quantize.c — `r1 quantize IN.gguf OUT.gguf TYPE`: requantize every tensor of a GGUF to a mix
 * (Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, IQ4_XS, ...; the per-tensor rules are in src/model/qmix.h).
 *
 * Each tensor is dequantized exactly and quantized again in chunks of rows on all cores (rows are
 * independent, so the file does not depend on the thread count); a tensor already in its target
 * type is copied byte for byte. The output is streamed and the input's pages are dropped from the
 * resident set after each tensor, so memory stays bounded for models larger than RAM. The options
 * and help are here; the work is tools/quantize.c.
 */
#include "cli.h"
#include "common.h"

#include "tools/quantize.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 quantize - requantize a GGUF with a per-tensor mix\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 quantize IN.gguf OUT.gguf TYPE [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Norms, biases, the MoE router and exp_probs_b stay F32; output.weight gets Q6_K\n"
            "    in the lower mixes; the *_M mixes give attn_v and ffn_down more bits in some\n"
            "    layers; rows a type's block does not divide fall back to a compatible type.\n"
            "    The IQ mixes keep output, token_embd and attn_output higher; the R1-* mixes\n"
            "    (the shape of the popular DeepSeek-R1 671B files) put only the routed experts\n"
            "    at the low-bit type and everything else at Q4_K/Q6_K. docs/quantization.md\n"
            "    has the per-tensor tables. TYPE is one of:\n"
            "   ");
    const char *m;
    for (int i = 0; (m = tools_quant_mix(i)); i++)
        fprintf(f, "%s%s", i && i % 9 == 0 ? "\n    " : " ", m);
    fprintf(f, "\n"
               "\n"
               "OPTIONS\n"
               "        --imatrix FILE    importance matrix in llama.cpp's imatrix GGUF format\n"
               "                          (llama-imatrix writes it); the IQ1/IQ2 and R1-IQ*\n"
               "                          mixes need one, the lattice types use it\n"
               "    -t, --threads N       threads (default: all cores)\n"
               "    -h, --help            this help\n");
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {0};
    int n_pos = 0, n_threads = 0;
    const char *im_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--imatrix")) {
            if (!(im_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (a[0] == '-' || n_pos == 3) {
            return cli_unknown_option(a);
        } else {
            pos[n_pos++] = a;
        }
    }
    if (n_pos != 3 || !tools_quant_mix_known(pos[2])) {
        if (n_pos == 3) fprintf(stderr, "r1 quantize: unknown type '%s'\n", pos[2]);
        usage(stderr);
        return 2;
    }
    tools_quantize_options qo = {pos[0], pos[1], pos[2], im_path, n_threads};
    return tools_quantize(&qo);
}
