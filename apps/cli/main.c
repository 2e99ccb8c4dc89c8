/* main.c — the r1 command: dispatches `r1 SUBCOMMAND ...` to apps/cli/cmd_*.c. */
#include "cli.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt, or chat"},
    {"logits", cmd_logits, "write the logits of every position for given token ids"},
    {"pull", cmd_pull, "download a model (deepseek-r1:1.5b, ... or a GGUF URL) into the store"},
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
    {"quantize", cmd_quantize, "requantize a GGUF to Q4_K_M, Q8_0, ... (per-tensor mixes)"},
    {"eval", cmd_eval, "score a model on math, multiple-choice or perplexity benchmarks"},
    {"train", cmd_train, "train a tiny DeepSeek-architecture model on reasoning tasks (SFT)"},
    {"grpo", cmd_grpo, "improve a model with GRPO on verifiable-reward tasks"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: r1 COMMAND [options]\n\nr1 runs DeepSeek-R1-family models on the CPU.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun `r1 COMMAND --help` for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        static char prefix[32];
        snprintf(prefix, sizeof prefix, "r1 %s", commands[i].name);
        cli_cmd = prefix;
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "r1: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
