/* cmd_convert.c — `r1 convert HF_DIR -o OUT.gguf [--type T]`: a Hugging Face folder (config.json,
 * safetensors shards, tokenizer.json) to a GGUF laid out as the ecosystem's converter writes it:
 * deepseek2 with split attn_k_b/attn_v_b and the MTP layer under blk.L.nextn.*, Llama q/k rows
 * permuted, the tokenizer as tokenizer.ggml.* keys.
 *
 * Streaming: tensors are written one at a time, in chunks of rows converted on all cores; the
 * source pages of a tensor are dropped from the resident set once it is written (st_release), so
 * peak RSS is about one tensor (when copied unchanged) or one 16 MiB chunk plus its output, plus
 * a constant, whatever the checkpoint's size. The options and help are here; the conversion is
 * tools/convert.c.
 */
#include "cli.h"
#include "common.h"

#include "tools/convert.h"
#include "tools/quantize.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 convert - convert a Hugging Face model folder to GGUF\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 convert HF_DIR -o OUT.gguf [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Converts a Hugging Face model folder (DeepseekV3/V2, Qwen2, Llama; BF16/F16/F32\n"
            "    or DeepSeek's FP8 safetensors) to GGUF, tensor by tensor (memory stays bounded).\n"
            "\n"
            "OPTIONS\n"
            "    -o, --out OUT.gguf    the GGUF to write\n"
            "        --type TYPE       auto (default: F32/F16/BF16 weights as stored, FP8 to\n"
            "                          BF16) or a mix:\n"
            "                         ");
    const char *m;
    for (int i = 0; (m = tools_quant_mix(i)); i++)
        fprintf(f, "%s%s", i && i % 8 == 0 ? "\n                          " : " ", m);
    fprintf(f, "\n"
               "    -t, --threads N       threads (default: all cores)\n"
               "    -h, --help            this help\n");
}

int cmd_convert(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *type_name = "auto";
    int n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!(out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--type")) {
            if (!(type_name = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (a[0] == '-' || dir) {
            return cli_unknown_option(a);
        } else {
            dir = a;
        }
    }
    const bool known = !strcmp(type_name, "auto") || tools_quant_mix_known(type_name);
    if (!dir || !out || !known) {
        if (!known) fprintf(stderr, "r1 convert: unknown type '%s'\n", type_name);
        usage(stderr);
        return 2;
    }
    tools_convert_options co = {dir, out, type_name, n_threads, cli_log, NULL};
    return tools_convert(&co);
}
