/* cmd_run.c — `r1 run`: generate text with a model, streaming it to stdout as it is decoded.
 * One-shot with -p (or a prompt on stdin). The prompt is tokenized with the model's own vocabulary
 * (BOS added when the file asks for it) and the continuation is sampled with R1's defaults
 * (temperature 0.6, top-p 0.95) until EOS or -n tokens. */
#include "cli.h"
#include "common.h"

#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The model's tokenizer is reached through the model file; r1.h exposes no tokenizer yet, so the
 * CLI loads it from the same GGUF (cheap: metadata only). */
static r1_status load_tokenizer(const char *path, tokenizer **out, char *err)
{
    gguf_file *f = NULL;
    r1_status st = gguf_open(path, true, &f, err);
    if (st) return st;
    st = tokenizer_load_gguf(f, out, err);
    gguf_close(f);
    return st;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: r1 run -m MODEL [-p PROMPT] [options]\n\n"
               "Generates text from PROMPT (or from standard input when -p is absent) and streams\n"
               "it to standard output.\n\n"
               "options:\n"
               "  -m, --model FILE      GGUF model (DeepSeek-R1/V3/V2, R1-Distill-Qwen/Llama)\n"
               "  -p, --prompt TEXT     the prompt\n"
               "  -n, --max-tokens N    stop after N generated tokens (default 512)\n"
               "  -c, --ctx-size N      context size in tokens (default min(model, 4096))\n"
               "  -t, --threads N       threads (default: all cores)\n"
               "      --no-mmap         read the weights into memory instead of mapping the file\n"
               "  --load-type T         Hugging Face FP8 weights become T at load (Q8_0)\n"
               "      --temp T          temperature (default 0.6; 0 = greedy)\n"
               "      --top-p P         nucleus sampling (default 0.95)\n"
               "      --top-k K         keep the K most likely tokens (default 0 = off)\n"
               "      --min-p P         drop tokens below P x the top probability (default 0)\n"
               "      --seed S          sampling seed (default 0)\n"
               "  -v, --verbose         print timings to stderr\n");
}

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *prompt = NULL;
    int n_predict = 512, n_ctx = 0, n_threads = 0;
    bool verbose = false;
    r1_sampler_params spar = r1_sampler_params_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 24, &n_predict))
                return 2;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 22, &n_ctx))
                return 2;
        } else if (!strcmp(a, "--no-mmap")) {
            cli_use_mmap = false;
        } else if (!strcmp(a, "--load-type")) {
            if (!(cli_load_type = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (!strcmp(a, "--temp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &spar.temperature))
                return 2;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &spar.top_p)) return 2;
        } else if (!strcmp(a, "--top-k")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 24, &spar.top_k))
                return 2;
        } else if (!strcmp(a, "--min-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &spar.min_p)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &spar.seed)) return 2;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else {
            fprintf(stderr, "r1 run: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "r1 run: no model given, and r1 has no default model yet.\n"
                        "Pass one with -m, e.g. make a small test model with\n"
                        "  r1 synth --preset tiny-deepseek2 -o tiny.gguf && r1 run -m tiny.gguf "
                        "-p hello\n");
        return 2;
    }
    char *stdin_text = NULL;
    if (!prompt) { /* prompt from standard input */
        size_t cap = 4096, len = 0;
        stdin_text = malloc(cap);
        size_t got;
        while (stdin_text && (got = fread(stdin_text + len, 1, cap - len - 1, stdin)) > 0) {
            len += got;
            if (cap - len < 2) {
                char *t = realloc(stdin_text, cap *= 2);
                if (!t) {
                    free(stdin_text);
                    stdin_text = NULL;
                }
                stdin_text = t;
            }
        }
        if (!stdin_text) return 1;
        stdin_text[len] = 0;
        prompt = stdin_text;
    }

    int rc = 1;
    char err[R1_ERR_MAX];
    tokenizer *tok = NULL;
    r1_model *model = NULL;
    r1_session *s = NULL;
    r1_sampler *sampler = NULL;
    detok *dt = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (load_tokenizer(model_path, &tok, err)) {
        fprintf(stderr, "r1 run: %s\n", err);
        goto done;
    }
    if (!(model = cli_load_model(model_path, n_threads, verbose))) goto done;
    r1_model_info info;
    r1_model_get_info(model, &info);
    {
        int32_t *text_ids = NULL;
        size_t n_text = 0;
        if (tokenizer_encode(tok, prompt, strlen(prompt), false, &text_ids, &n_text, err)) {
            fprintf(stderr, "r1 run: %s\n", err);
            goto done;
        }
        bool bos = tokenizer_add_bos(tok) && tokenizer_bos(tok) >= 0;
        ids = malloc((n_text + 1) * sizeof *ids);
        if (!ids) {
            free(text_ids);
            goto done;
        }
        if (bos) ids[n_ids++] = tokenizer_bos(tok);
        memcpy(ids + n_ids, text_ids, n_text * sizeof *ids);
        n_ids += n_text;
        free(text_ids);
    }
    if (n_ids == 0) {
        fprintf(stderr, "r1 run: the prompt is empty\n");
        goto done;
    }
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = n_ctx;
    if (r1_session_new(model, &sp, &s, err) || r1_sampler_new(&spar, info.n_vocab, &sampler, err) ||
        detok_new(tok, false, &dt, err)) {
        fprintf(stderr, "r1 run: %s\n", err);
        goto done;
    }
    if ((int)n_ids >= r1_session_n_ctx(s)) {
        fprintf(stderr,
                "r1 run: the prompt has %zu tokens, more than the context size %d "
                "(raise --ctx-size)\n",
                n_ids, r1_session_n_ctx(s));
        goto done;
    }
    double t0 = now_s();
    if (r1_session_eval(s, ids, (int)n_ids, err)) {
        fprintf(stderr, "r1 run: %s\n", err);
        goto done;
    }
    double t1 = now_s();
    int n_gen = 0;
    const char *text;
    size_t len;
    while (n_gen < n_predict) {
        int32_t id = r1_sampler_sample(sampler, r1_session_logits(s));
        n_gen++;
        if (id == info.eos_id || id == tokenizer_eos(tok)) break;
        if (detok_feed(dt, id, &text, &len, err) == R1_OK && len) {
            fwrite(text, 1, len, stdout);
            fflush(stdout);
        }
        if (r1_session_n_past(s) >= r1_session_n_ctx(s)) {
            fprintf(stderr, "\nr1 run: context full (%d tokens); stopping\n", r1_session_n_ctx(s));
            break;
        }
        if (r1_session_eval(s, &id, 1, err)) {
            fprintf(stderr, "\nr1 run: %s\n", err);
            goto done;
        }
    }
    detok_flush(dt, &text, &len);
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    double t2 = now_s();
    if (verbose)
        fprintf(stderr, "prompt: %zu tokens, %.2f tok/s | generated: %d tokens, %.2f tok/s\n",
                n_ids, n_ids / (t1 - t0), n_gen, n_gen / (t2 - t1));
    rc = 0;
done:
    detok_free(dt);
    r1_sampler_free(sampler);
    r1_session_free(s);
    r1_model_free(model);
    tokenizer_free(tok);
    free(ids);
    free(stdin_text);
    return rc;
}
