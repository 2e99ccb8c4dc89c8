/* cmd_eval.c — `r1 eval`: the command over the eval library (eval/eval.h): options, the model
 * name resolved through the local store, Ctrl-C, then eval_run or eval_summarize. */
#include "chat_store.h"
#include "cli.h"
#include "common.h"
#include "r1_chat.h"

#include "eval/eval.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 eval - score a model on math, multiple-choice or perplexity benchmarks\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 eval -m MODEL --task math|choice|perplexity --data FILE [OPTIONS]\n"
        "    r1 eval --summarize RESULTS.jsonl [--json]\n"
        "\n"
        "DESCRIPTION\n"
        "    Scores a model with DeepSeek-R1's protocol (docs/eval.md): math answers are the last\n"
        "    \\boxed{} after the reasoning, checked by a normalizing equivalence; choice items "
        "use\n"
        "    simple-evals' zero-shot prompt and its \"Answer: X\" line; perplexity slides a "
        "window\n"
        "    over a text file. Each finished item is appended to the results file at once; "
        "--resume\n"
        "    continues an interrupted run. The report (markdown on stdout, JSON in --report) has\n"
        "    pass@1 ± standard error, pass@k, cons@k, lengths, truncation and throughput.\n"
        "\n"
        "OPTIONS\n"
        "  Tasks and data\n"
        "    --task NAME         math, choice or perplexity\n"
        "    --data FILE         JSONL (or a JSON array); perplexity: a text file\n"
        "    --field ROLE=NAME   read ROLE (question, answer, choices, id, subject) from field "
        "NAME\n"
        "    --limit N           only the first N items (perplexity: the first N tokens)\n"
        "    --strict            a malformed line is an error (default: reported and skipped)\n"
        "    --score gen|logprob choice: the letter of a generated answer (default), or the most\n"
        "                        likely letter after \"Answer:\" without generating\n"
        "  Protocol\n"
        "    --samples K         generations per item (default 1); pass@k and cons@k over them\n"
        "    --temp T            temperature (default 0.6)\n"
        "    --top-p P           nucleus sampling (default 0.95)\n"
        "    --greedy            temperature 0, one sample: a quick deterministic check\n"
        "    --seed S            base seed (default 1); each sample's seed is recorded\n"
        "    --max-tokens N      generation limit per sample (default 32768, capped by the "
        "context)\n"
        "    --ctx N             context size (default: the model's; perplexity: the window, "
        "4096)\n"
        "    --stride N          perplexity: tokens the window advances (default: half the "
        "window)\n"
        "    --template NAME     chat template (default: detected; %s)\n"
        "  Running\n"
        "    -m, --model MODEL   GGUF file, Hugging Face folder or stored model name\n"
        "    -o, --out FILE      per-item results JSONL (default: DATA-STEM.TASK.jsonl)\n"
        "    --report FILE       JSON report (default: the results file with .report.json)\n"
        "    --resume            continue the results file: finished items are not redone\n"
        "    --overwrite         start the results file over\n"
        "    --parallel N        sequences decoded together (default: as many as fit, up to 64)\n"
        "    --cache-type T      KV cache: f32 (default), f16, bf16, q8_0\n"
        "    --mtp on|off        speculative decoding with the model's MTP module (default: on\n"
        "                        when it has one; the same answers with greedy decoding)\n"
        "    --no-text           leave the generated text out of the results file\n"
        "    --json              print the JSON report instead of the markdown table\n"
        "    -t, --threads N     worker threads (default: all cores)\n"
        "    -v, --verbose       timings and progress on stderr\n"
        "    -h, --help          this help\n",
        r1_chat_template_names());
}

static volatile sig_atomic_t g_stopping;

/* the first Ctrl-C stops after the steps in flight (finished items are kept), the second at once */
static void on_sigint(int sig)
{
    (void)sig;
    if (g_stopping) _exit(130);
    g_stopping = 1;
    eval_request_stop();
}

static void install_sigint(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int parse_options(int argc, char **argv, eval_options *o)
{
    *o = (eval_options){
        .samples = 1, .temperature = 0.6f, .top_p = 0.95f, .seed = 1, .max_tokens = 32768};
    char err[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model_arg = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--task")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            if (!eval_task_from_name(v, &o->task)) {
                fprintf(stderr, "r1 eval: unknown task '%s' (math, choice, perplexity)\n", v);
                return 2;
            }
            o->has_task = true;
        } else if (!strcmp(a, "--data")) {
            if (!(o->data = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--field")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            if (!eval_fields_set(&o->fields, v, err)) {
                fprintf(stderr, "r1 eval: %s\n", err);
                return 2;
            }
        } else if (!strcmp(a, "--limit")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, INT_MAX, &o->limit))
                return 2;
        } else if (!strcmp(a, "--strict")) {
            o->strict = true;
        } else if (!strcmp(a, "--score")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            if (strcmp(v, "gen") && strcmp(v, "logprob")) {
                fprintf(stderr, "r1 eval: --score is gen or logprob, got '%s'\n", v);
                return 2;
            }
            o->logprob = !strcmp(v, "logprob");
        } else if (!strcmp(a, "--samples") || !strcmp(a, "-k")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &o->samples))
                return 2;
        } else if (!strcmp(a, "--temp") || !strcmp(a, "--temperature")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o->temperature))
                return 2;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o->top_p)) return 2;
        } else if (!strcmp(a, "--greedy")) {
            o->greedy = true;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &o->seed)) return 2;
        } else if (!strcmp(a, "--max-tokens") || !strcmp(a, "-n")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 1 << 22, &o->max_tokens))
                return 2;
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 8, 1 << 22, &o->ctx))
                return 2;
        } else if (!strcmp(a, "--stride")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 22, &o->stride))
                return 2;
        } else if (!strcmp(a, "--template")) {
            if (!(o->template_name = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!(o->out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--report")) {
            if (!(o->report = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--summarize")) {
            if (!(o->summarize = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--resume")) {
            o->resume = true;
        } else if (!strcmp(a, "--overwrite")) {
            o->overwrite = true;
        } else if (!strcmp(a, "--mtp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_mtp(v, &o->mtp)) return 2;
        } else if (!strcmp(a, "--cache-type")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_cache_type(v, &o->cache_type))
                return 2;
        } else if (!strcmp(a, "--parallel")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 512, &o->parallel))
                return 2;
        } else if (!strcmp(a, "--no-text")) {
            o->no_text = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 4096, &o->n_threads))
                return 2;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = true;
        } else {
            return cli_unknown_option(a);
        }
    }
    if (o->summarize) return -1;
    if (!o->has_task || !o->data) {
        fprintf(stderr, "r1 eval: --task and --data are required (see `r1 eval --help`)\n");
        return 2;
    }
    if (o->logprob && o->task != EVAL_TASK_CHOICE) {
        fprintf(stderr, "r1 eval: --score logprob applies to --task choice only\n");
        return 2;
    }
    if (o->resume && o->overwrite) {
        fprintf(stderr, "r1 eval: --resume and --overwrite contradict each other\n");
        return 2;
    }
    if (o->greedy) o->temperature = 0;
    if (o->temperature <= 0) o->greedy = true;
    if ((o->greedy || o->logprob) && o->samples > 1) {
        fprintf(stderr, "r1 eval: %s gives one answer per item: --samples %d ignored\n",
                o->logprob ? "--score logprob" : "greedy decoding", o->samples);
        o->samples = 1;
    }
    if (o->temperature < 0 || o->top_p <= 0 || o->top_p > 1) {
        fprintf(stderr, "r1 eval: --temp must be >= 0 and --top-p in (0, 1]\n");
        return 2;
    }
    return -1;
}

int cmd_eval(int argc, char **argv)
{
    eval_options o;
    int prc = parse_options(argc, argv, &o);
    if (prc >= 0) return prc;
    if (o.summarize) {
        char *rp = o.report ? strdup(o.report) : NULL;
        int rc = eval_summarize(o.summarize, rp, o.json, cli_json_print);
        free(rp);
        return rc;
    }

    char model_path[PATH_MAX];
    if (o.model_arg) {
        if (!store_resolve_model(o.model_arg, model_path, sizeof model_path)) return 1;
    } else if (!store_default_model(model_path, sizeof model_path)) {
        fprintf(stderr, "r1 eval: no model given (-m MODEL) and no default model found\n");
        return 2;
    }
    o.model_path = model_path;
    o.load_model = cli_load_model;
    o.json_print = cli_json_print;
    o.on_loaded = install_sigint;
    return eval_run(&o);
}
