/* cmd_bench.c — `r1 bench`: prompt-processing and generation speed in the ecosystem's familiar
 * table (pp512, tg128, tg128@dN), mean ± stddev over repetitions, plus the memory bandwidth that
 * decoding achieves (weight + KV bytes read per token × tokens/s) against the machine's measured
 * bandwidth (`--roofline`: a STREAM-like triad over arrays much larger than the caches).
 * Tokens are random ids: speed does not depend on which tokens are processed. */
#include "cli.h"
#include "common.h"

#include "tools/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void stats(const double *v, int n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Greedy generation of up to n_gen tokens per prompt (until end of sequence), MTP off and on
 * in alternation; both produce the same tokens, so tokens/s compare directly. */
static int bench_mtp(r1_model *model, const char *prompt_text, int n_gen, int reps, int n_threads)
{
    static const char *questions[] = {"Compute 123+456.", "Compute 47*38.",   "Compute 905-217.",
                                      "Compute 64*27.",   "Compute 318+694.", "Compute 83*91.",
                                      "Compute 777-389.", "Compute 56*44."};
    int n_q = prompt_text ? 1 : (int)(sizeof questions / sizeof questions[0]);
    r1_model_info info;
    r1_model_get_info(model, &info);
    char err[R1_ERR_MAX];
    if (!info.n_mtp_layers) {
        fprintf(stderr, "r1 bench: the model has no MTP module\n");
        return 1;
    }
    r1_session *s[2] = {NULL, NULL};
    r1_sampler *smp = NULL;
    r1_sampler_params gp = r1_sampler_params_default();
    gp.temperature = 0;
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        r1_session_params sp = r1_session_params_default();
        sp.n_ctx = 4096;
        sp.mtp = k ? R1_MTP_ON : R1_MTP_OFF;
        if (r1_session_new(model, &sp, &s[k], err)) rc = 1;
    }
    if (!rc && r1_sampler_new(&gp, info.n_vocab, &smp, err)) rc = 1;
    double *v[2] = {calloc((size_t)reps, sizeof(double)), calloc((size_t)reps, sizeof(double))};
    long n_tokens[2] = {0, 0};
    for (int r = 0; r < reps && !rc; r++)
        for (int k = 0; k < 2 && !rc; k++) {
            double secs = 0;
            long toks = 0;
            for (int q = 0; q < n_q && !rc; q++) {
                char text[512];
                snprintf(text, sizeof text, "<｜User｜>%s<｜Assistant｜><think>\n",
                         prompt_text ? prompt_text : questions[q]);
                int32_t *ids = NULL;
                size_t n_ids = 0;
                if (r1_tokenize(model, text, strlen(text), true, true, &ids, &n_ids, err) ||
                    r1_session_rewind(s[k], 0) || r1_session_eval(s[k], ids, (int)n_ids, err)) {
                    free(ids);
                    rc = 1;
                    break;
                }
                free(ids);
                double t0 = now_s();
                int n = 0;
                bool eos = false;
                while (n < n_gen && !eos && !rc &&
                       r1_session_n_past(s[k]) + 2 < r1_session_n_ctx(s[k])) {
                    int32_t out[2];
                    int n_out = 0;
                    if (r1_session_generate(s[k], smp, out, &n_out, err)) rc = 1;
                    for (int j = 0; j < n_out; j++) eos |= out[j] == info.eos_id;
                    n += n_out;
                }
                secs += now_s() - t0;
                toks += n;
            }
            v[k][r] = toks / secs;
            n_tokens[k] = toks;
        }
    if (!rc) {
        uint64_t drafted = 0, accepted = 0;
        r1_session_mtp_stats(s[1], &drafted, &accepted);
        double m0 = median(v[0], reps), m1 = median(v[1], reps);
        int threads = n_threads;
        if (!threads) threads = tools_default_threads();
        printf("| model | threads | test | tokens | t/s (median of %d) | MTP drafts accepted |\n",
               reps);
        printf("|---|---|---|---|---|---|\n");
        printf("| %s %s | %d | greedy, MTP off | %ld | %.2f | |\n", info.architecture, info.name,
               threads, n_tokens[0], m0);
        printf("| %s %s | %d | greedy, MTP on | %ld | %.2f | %.1f%% (%llu / %llu) |\n",
               info.architecture, info.name, threads, n_tokens[1], m1,
               drafted ? 100.0 * (double)accepted / (double)drafted : 0.0,
               (unsigned long long)accepted, (unsigned long long)drafted);
        printf("\nspeed-up with MTP: %.2fx\n", m1 / m0);
        if (n_tokens[0] != n_tokens[1])
            fprintf(stderr, "r1 bench: MTP changed the number of greedy tokens (%ld vs %ld)\n",
                    n_tokens[0], n_tokens[1]);
    } else {
        fprintf(stderr, "r1 bench: %s\n", err);
    }
    free(v[0]);
    free(v[1]);
    r1_sampler_free(smp);
    r1_session_free(s[0]);
    r1_session_free(s[1]);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 bench - measure prompt and generation speed\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 bench -m MODEL [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Measures prompt processing (ppP: P tokens in batches) and generation (tgN: N\n"
            "    tokens one at a time), both after DEPTH context tokens when -d is given\n"
            "    (ppP@dD, tgN@dD), as tokens/s mean ± stddev over -r repetitions, in a\n"
            "    markdown table.\n"
            "\n"
            "OPTIONS\n"
            "    -m, --model MODEL     GGUF file or Hugging Face folder\n"
            "    -p N                  prompt tokens (default 512; 0 skips the test)\n"
            "    -n N                  generated tokens (default 128; 0 skips the test)\n"
            "    -d DEPTH              context tokens before each test (default 0)\n"
            "    -b, --parallel N      decode N sequences together (batched decoding, as the\n"
            "                          server does) and report the aggregate tokens/s (tgN xN)\n"
            "    -r N                  repetitions (default 3)\n"
            "    -t, --threads N       threads (default: all cores; docs/PERFORMANCE.md)\n"
            "        --roofline        also measure the memory bandwidth and show decode's share\n"
            "        --cache-type T    KV cache: f32 (default), f16, bf16, q8_0\n"
            "        --no-mmap         read the weights into memory instead of mapping the file\n"
            "        --mtp             speculative decoding with the model's MTP module: greedy\n"
            "                          answers to R1-style prompts, up to N tokens each, with MTP\n"
            "                          off and on alternately; prints both, the share of drafts\n"
            "                          accepted and the speed-up (ratio of the medians)\n"
            "        --prompt TEXT     --mtp: answer TEXT instead of eight arithmetic questions\n"
            "    -h, --help            this help\n");
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int n_prompt = 512, n_gen = 128, depth = 0, reps = 3, n_threads = 0, n_seq = 1;
    bool roofline = false, mtp = false;
    const char *spec_prompt = NULL;
    r1_cache_type cache_type = R1_CACHE_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 20, &n_prompt))
                return 2;
        } else if (!strcmp(a, "-n")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 20, &n_gen))
                return 2;
        } else if (!strcmp(a, "-d")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 22, &depth))
                return 2;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--parallel")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 256, &n_seq)) return 2;
        } else if (!strcmp(a, "-r")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1000, &reps)) return 2;
        } else if (!strcmp(a, "--cache-type")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_cache_type(v, &cache_type)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (!strcmp(a, "--roofline")) {
            roofline = true;
        } else if (!strcmp(a, "--mtp")) {
            mtp = true;
        } else if (!strcmp(a, "--prompt")) {
            if (!(spec_prompt = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--no-mmap")) {
            cli_use_mmap = false;
        } else {
            return cli_unknown_option(a);
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    r1_model *model = cli_load_model(path, n_threads, false);
    if (!model) return 1;
    if (mtp) {
        int rc = bench_mtp(model, spec_prompt, n_gen, reps, n_threads);
        r1_model_free(model);
        return rc;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    int threads = n_threads;
    if (!threads) threads = tools_default_threads();
    double bw = roofline ? tools_measure_bandwidth(threads) : 0;
    int n_ctx = depth + (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = n_ctx;
    sp.cache_type = cache_type;
    sp.n_batch = n_prompt > 0 ? (n_prompt < 512 ? n_prompt : 512) : 512;
    r1_session *s = NULL;
    char err[R1_ERR_MAX];
    if (r1_session_new(model, &sp, &s, err)) {
        fprintf(stderr, "r1 bench: %s\n", err);
        r1_model_free(model);
        return 1;
    }
    int n_tok = n_ctx;
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    if (toks) tools_random_tokens(7, info.n_vocab, toks, n_tok);

    printf("| model | size | params | threads | test | t/s |%s\n",
           roofline ? " GB/s | % of roofline |" : "");
    printf("|---|---|---|---|---|---|%s\n", roofline ? "---|---|" : "");
    char name[160];
    snprintf(name, sizeof name, "%s %s", info.architecture, info.name);
    int rc = 0;
    double *v = calloc((size_t)reps, sizeof *v);
    r1_session **seqs = calloc((size_t)n_seq, sizeof *seqs);
    for (int k = 1; k < n_seq && !rc; k++)
        if (r1_session_new(model, &sp, &seqs[k], err)) rc = 1;
    seqs[0] = s;
    /* warm-up, untimed (as llama-bench does): first touches of the weights and scratch */
    if (!rc && (r1_session_eval(s, toks, n_prompt > 0 ? (n_prompt < 64 ? n_prompt : 64) : 1, err) ||
                r1_session_eval(s, toks, 1, err)))
        rc = 1;
    for (int test = 0; test < 2 && rc == 0; test++) {
        int n = test == 0 ? n_prompt : n_gen;
        if (n == 0) continue;
        for (int r = 0; r < reps && rc == 0; r++) {
            r1_session_rewind(s, 0);
            if (depth > 0 && r1_session_eval(s, toks, depth, err)) rc = 1;
            double t0 = now_s();
            if (test == 0) {
                if (r1_session_eval(s, &toks[depth], n, err)) rc = 1;
            } else if (n_seq == 1) {
                for (int i = 0; i < n && !rc; i++)
                    if (r1_session_eval(s, &toks[depth + i], 1, err)) rc = 1;
            } else {
                for (int k = 1; k < n_seq && !rc; k++) {
                    r1_session_rewind(seqs[k], 0);
                    if (depth > 0 && r1_session_eval(seqs[k], toks, depth, err)) rc = 1;
                }
                t0 = now_s();
                int32_t step[256];
                for (int i = 0; i < n && !rc; i++) {
                    for (int k = 0; k < n_seq; k++) step[k] = toks[(depth + i + k) % n_tok];
                    if (r1_session_decode_batch(seqs, step, n_seq, err)) rc = 1;
                }
            }
            v[r] = (double)n * (test == 1 ? n_seq : 1) / (now_s() - t0);
        }
        if (rc) break;
        double mean, sd;
        stats(v, reps, &mean, &sd);
        char tname[32];
        if (test == 0 && depth)
            snprintf(tname, sizeof tname, "pp%d@d%d", n, depth);
        else if (test == 0)
            snprintf(tname, sizeof tname, "pp%d", n);
        else if (depth)
            snprintf(tname, sizeof tname, "tg%d@d%d", n, depth);
        else
            snprintf(tname, sizeof tname, "tg%d", n);
        if (test == 1 && n_seq > 1) {
            size_t l = strlen(tname);
            snprintf(tname + l, sizeof tname - l, " x%d", n_seq);
        }
        char size[32], params[32];
        printf("| %s | %s | %s | %d | %s | %.2f ± %.2f |", name,
               cli_fmt_bytes((double)info.weight_bytes, size, sizeof size),
               cli_fmt_count((double)info.n_params, params, sizeof params), threads, tname, mean,
               sd);
        if (roofline && test == 1) {
            /* KV bytes read per token at the mean depth of the test */
            double kv = (double)info.kv_values_per_token_layer * info.n_layers *
                        (cache_type == R1_CACHE_F32 ? 4 : 2) * (depth + n / 2.0);
            double gbs = (info.active_bytes_per_token + kv) * mean / 1e9;
            printf(" %.1f | %.0f%% of %.1f |", gbs, 100 * gbs / bw, bw);
        } else if (roofline) {
            printf(" | |");
        }
        printf("\n");
        fflush(stdout);
    }
    if (rc) fprintf(stderr, "r1 bench: %s\n", err);
    free(v);
    free(toks);
    for (int k = 1; k < n_seq; k++) r1_session_free(seqs[k]);
    free(seqs);
    r1_session_free(s);
    r1_model_free(model);
    return rc;
}
