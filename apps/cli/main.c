/* main.c — the r1 command: dispatches `r1 SUBCOMMAND ...` to apps/cli/cmd_*.c. */
#include "cli.h"
#include "common.h"
#include "r1_git.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static int cmd_version(int argc, char **argv);

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt, or chat"},
    {"logits", cmd_logits, "write the logits of every position for given token ids"},
    {"pull", cmd_pull,
     "download a model (deepseek-r1:1.5b, USER/REPO:QUANT, a GGUF URL) into the store"},
    {"list", cmd_list, "show the downloaded models and their sizes"},
    {"rm", cmd_rm, "delete a downloaded model"},
    {"info", cmd_info, "show a model's architecture, hyperparameters and tensors"},
    {"serve", cmd_serve, "serve the model over HTTP (OpenAI/DeepSeek API) with a chat page"},
    {"bench", cmd_bench, "measure prompt and generation speed (pp512, tg128, roofline)"},
    {"synth", cmd_synth, "write a random-weight GGUF with the shapes of a real model"},
    {"tokenize", cmd_tokenize, "text -> token ids with a model's or a tokenizer.json's vocabulary"},
    {"detokenize", cmd_detokenize, "token ids -> text"},
    {"template", cmd_template, "render a chat (messages JSON on stdin) with a model's template"},
    {"convert", cmd_convert, "convert a Hugging Face model folder (safetensors) to GGUF"},
    {"imatrix", cmd_imatrix, "activation statistics over a text, for quantizing (imatrix GGUF)"},
    {"quantize", cmd_quantize, "requantize a GGUF to Q4_K_M, Q8_0, ... (per-tensor mixes)"},
    {"eval", cmd_eval, "score a model on math, multiple-choice or perplexity benchmarks"},
    {"train", cmd_train, "train a tiny DeepSeek-architecture model on reasoning tasks (SFT)"},
    {"grpo", cmd_grpo, "improve a model with GRPO on verifiable-reward tasks"},
    {"version", cmd_version, "the version, build and the kernels this CPU runs"},
};

/* `r1 version` / `r1 --version`: what a bug report needs. The kernels are the ones dispatch.c
 * chose at run time (R1_KERNELS can override), the features those CPUID reports. */
static int cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf(
                "NAME\n    r1 version - the version, build and kernels of this r1\n\n"
                "SYNOPSIS\n    r1 version\n    r1 --version\n\n"
                "DESCRIPTION\n    Prints the version, the git commit and build type it was built\n"
                "    from, the kernel backend chosen for this CPU "
                "(R1_KERNELS=ref|scalar|avx2|neon\n"
                "    overrides it) and the CPU features that choice looks at.\n");
            return 0;
        }
        return cli_unknown_option(argv[i]);
    }
    printf("r1 %s\n", R1_VERSION_STRING);
    printf("commit:   %s\n", R1_GIT_COMMIT);
#if defined(__clang__)
    printf("build:    %s, clang %s\n", R1_BUILD_TYPE, __clang_version__);
#else
    printf("build:    %s, gcc %s\n", R1_BUILD_TYPE, __VERSION__);
#endif
    printf("kernels:  %s\n", r1_kernel_backend());
    printf("cpu:     ");
#if defined(__x86_64__)
    __builtin_cpu_init();
    int n = 0; /* __builtin_cpu_supports takes a literal, hence the macro */
#define FEAT(s)                                                                                    \
    if (__builtin_cpu_supports(s)) printf(" %s", s), n++
    FEAT("sse4.2");
    FEAT("avx");
    FEAT("avx2");
    FEAT("fma");
    FEAT("f16c");
    FEAT("avx512f");
    FEAT("avx512bw");
    FEAT("avx512vl");
    FEAT("avx512vnni");
    FEAT("avxvnni");
#undef FEAT
    if (!n) printf(" (none of sse4.2 avx avx2 fma f16c avx512*)");
#elif defined(__aarch64__)
    printf(" aarch64 (neon)");
#else
    printf(" (unknown architecture)");
#endif
    printf("\n");
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "NAME\n"
               "    r1 - run DeepSeek-R1-family models on the CPU\n"
               "\n"
               "SYNOPSIS\n"
               "    r1 COMMAND [OPTIONS]\n"
               "    r1 --version\n"
               "\n"
               "DESCRIPTION\n"
               "    `r1 run` chats with a model (the default one without -m); `r1 pull` downloads\n"
               "    one. `r1 COMMAND --help` gives the options of a command.\n"
               "\n"
               "COMMANDS\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "    %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cli_cmd = "r1";
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) argv[1] = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        static char prefix[32];
        snprintf(prefix, sizeof prefix, "r1 %s", commands[i].name);
        cli_cmd = prefix;
        char err[R1_ERR_MAX];
        if (r1_dist_init(&argc, &argv, &cli_dist, err)) {
            fprintf(stderr, "r1: %s\n", err);
            return 1;
        }
        int rc = commands[i].fn(argc - 1, argv + 1);
        /* a failed rank is reported here unless the command already failed with its message */
        if (r1_dist_failure(cli_dist) && rc == 0) {
            fprintf(stderr, "%s: %s\n", prefix, r1_dist_failure(cli_dist));
            rc = 1;
        }
        r1_dist_finalize(cli_dist); /* aborts the job after a failed rank */
        return rc;
    }
    if (argv[1][0] == '-')
        fprintf(stderr, "r1: unknown option %s (see `r1 --help`)\n", argv[1]);
    else
        fprintf(stderr, "r1: unknown command '%s' (see `r1 --help`)\n", argv[1]);
    return 2;
}
