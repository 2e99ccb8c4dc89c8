/* cmd_run.c — `r1 run`: chat with a model in the terminal, or answer one prompt for a script.
 *
 * Interactive (no -p and stdin is a terminal): chat_repl.c. Scriptable (-p, or the prompt on
 * stdin): the answer streams to stdout, the reasoning to stderr (--think show) or nowhere
 * (hide/off), or everything as one JSON object (--json); the exit status says how it went. Both go
 * through chat.c, which renders the conversation with the model's chat template, reuses the KV
 * cache for the shared prefix, and splits the reasoning from the answer. */
#include "chat.h"
#include "chat_repl.h"
#include "chat_store.h"
#include "cli.h"
#include "common.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 run - chat with a DeepSeek-R1-family model, or answer one prompt\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 run [-m MODEL] [OPTIONS]                 chat in the terminal\n"
        "    r1 run [-m MODEL] -p PROMPT [OPTIONS]       print one answer to stdout\n"
        "    COMMAND | r1 run [-m MODEL] [OPTIONS]       the prompt is read from stdin\n"
        "\n"
        "DESCRIPTION\n"
        "    With no -p and a terminal on stdin, r1 run starts a chat: the model's reasoning\n"
        "    streams dimmed under \"Thinking...\", then the answer. The conversation is\n"
        "    re-rendered with the model's chat template every turn (earlier reasoning dropped,\n"
        "    as DeepSeek's template does) and only the tokens that changed are processed again.\n"
        "    Type /help in the chat for its commands; Ctrl-C stops a reply, Ctrl-D exits.\n"
        "\n"
        "    Otherwise r1 run answers one prompt: the answer goes to stdout, the reasoning to\n"
        "    stderr (--think show, the default), or nowhere (--think hide).\n"
        "\n"
        "MODEL\n"
        "    -m accepts a GGUF file, a Hugging Face model folder, or the name of a model in\n"
        "    the store (`r1 list`; `r1 pull deepseek-r1:1.5b` downloads one). Without -m, r1\n"
        "    uses $R1_HOME/models/default.gguf, then models/r1-tiny.gguf of the source tree.\n"
        "\n"
        "OPTIONS\n"
        "    -m, --model MODEL     file, folder or stored model name\n"
        "    -p, --prompt TEXT     answer TEXT and exit\n"
        "        --system TEXT     system prompt (DeepSeek recommends none for R1)\n"
        "        --think MODE      show: reasoning shown (stderr when scripted); hide: the\n"
        "                          model reasons but only the answer is shown; off: the reply\n"
        "                          starts with an empty <think></think> (no reasoning)\n"
        "        --json            print one JSON object: reasoning, content, finish_reason,\n"
        "                          token counts and timings (scriptable mode)\n"
        "        --chat-template NAME\n"
        "                          render prompts with NAME instead of the model's template:\n"
        "                          %s\n"
        "        --raw             no template: the prompt is given to the model as is and\n"
        "                          the output is not split into reasoning and answer\n"
        "    -n, --max-tokens N    stop a reply after N tokens (default: at end of sequence or\n"
        "                          when the context is full)\n"
        "    -c, --ctx-size N      context size in tokens (default min(model, 4096))\n"
        "        --temp T          temperature, 0-2 (default 0.6, R1's recommendation; 0 =\n"
        "                          greedy)\n"
        "        --top-p P         nucleus sampling, 0-1 (default 0.95)\n"
        "        --top-k K         keep the K most likely tokens (default 0 = off)\n"
        "        --min-p P         drop tokens below P x the top probability, 0-1 (default 0)\n"
        "        --seed S          sampling seed (default: a fresh one every run, shown by -v;\n"
        "                          the same S, prompt and options give the same text)\n"
        "    -t, --threads N       threads (default: all cores)\n"
        "        --no-mmap         read the weights into memory instead of mapping the file\n"
        "        --load-type T     Hugging Face FP8 weights become T at load (default Q8_0)\n"
        "        --cache-type T    KV cache element type: f32 (default), f16, bf16, q8_0\n"
        "        --mtp on|off      speculative decoding with the model's multi-token-prediction\n"
        "                          module (default: on when the model has one)\n"
        "    -v, --verbose         on stderr: the seed, then timings: prompt tokens processed\n"
        "                          (and reused from the cache) with tok/s, generated tokens\n"
        "                          with tok/s, and the share of MTP drafts accepted\n"
        "    -h, --help            this help\n"
        "\n"
        "EXIT STATUS\n"
        "    0 answered (also when -n cut the answer), 1 runtime error or the context filled\n"
        "    up, 2 bad usage, 130 interrupted with Ctrl-C.\n"
        "\n"
        "ENVIRONMENT\n"
        "    R1_HOME     the store: models/ and the chat history (default ~/.local/share/r1)\n"
        "    NO_COLOR    no dimming or bold in the chat\n"
        "\n"
        "EXAMPLES\n"
        "    r1 run -m deepseek-r1:1.5b\n"
        "    r1 run -m model.gguf -p 'What is 17*23?' --think hide\n"
        "    echo 'Summarize: ...' | r1 run -m model.gguf --json | jq -r .content\n",
        chat_template_names());
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- loading with a progress bar -------------------------------------------------------------
 * r1_model_load reports no progress, so the bar estimates it: the bytes of the file this process
 * has read (/proc/self/io rchar, for --no-mmap) or that sit in the page cache (mincore of a
 * sampled mapping, for mmap), whichever is more. It appears only after a second. */

typedef struct load_job {
    const char *path;
    int n_threads;
    bool verbose;
    r1_model *model;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} load_job;

static void *load_thread(void *arg)
{
    load_job *j = arg;
    r1_model *m = cli_load_model(j->path, j->n_threads, j->verbose);
    pthread_mutex_lock(&j->mu);
    j->model = m;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static unsigned long long proc_rchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    unsigned long long v = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %llu", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

/* Bytes of the mapped file in the page cache, estimated from up to 4096 sampled pages. */
static double resident_fraction(const unsigned char *map, size_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t n_pages = (bytes + (size_t)page - 1) / (size_t)page, step = n_pages / 4096 + 1, hit = 0,
           n = 0;
    for (size_t i = 0; i < n_pages; i += step, n++) {
        unsigned char v = 0;
        if (mincore((void *)(map + i * (size_t)page), (size_t)page, &v) == 0 && (v & 1)) hit++;
    }
    return n ? (double)hit / (double)n : 0;
}

static void draw_bar(const char *name, double frac, double bytes, double elapsed)
{
    char bar[31];
    int w = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
    bar[30] = 0;
    fprintf(stderr, "\rloading %s [%s] %3d%%  %.1f/%.1f GB  %.0f s ", name, bar, (int)(frac * 100),
            frac * bytes / 1e9, bytes / 1e9, elapsed);
    fflush(stderr);
}

static r1_model *load_model_with_progress(const char *path, int n_threads, bool verbose)
{
    struct stat st;
    if (!isatty(STDERR_FILENO) || stat(path, &st) || !S_ISREG(st.st_mode))
        return cli_load_model(path, n_threads, verbose);
    load_job j = {.path = path, .n_threads = n_threads, .verbose = verbose};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, load_thread, &j)) return cli_load_model(path, n_threads, verbose);
    double t0 = now_s();
    unsigned long long r0 = proc_rchar();
    int fd = open(path, O_RDONLY);
    void *map = fd >= 0 && st.st_size > 0
                    ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)
                    : MAP_FAILED;
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    bool drawn = false;
    pthread_mutex_lock(&j.mu);
    while (!j.done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j.cv, &j.mu, &ts);
        double el = now_s() - t0;
        if (j.done || el < 1.0) continue;
        pthread_mutex_unlock(&j.mu);
        double frac = (double)(proc_rchar() - r0) / (double)st.st_size;
        if (map != MAP_FAILED) {
            double res = resident_fraction(map, (size_t)st.st_size);
            if (res > frac) frac = res;
        }
        draw_bar(name, frac > 0.99 ? 0.99 : frac, (double)st.st_size, el);
        drawn = true;
        pthread_mutex_lock(&j.mu);
    }
    pthread_mutex_unlock(&j.mu);
    pthread_join(th, NULL);
    if (drawn) fprintf(stderr, "\r\033[K");
    if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
    if (fd >= 0) close(fd);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
    return j.model;
}

static r1_status load_tokenizer(const char *path, tokenizer **out, char *err)
{
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
        char json[PATH_MAX + 32];
        snprintf(json, sizeof json, "%s/tokenizer.json", path);
        return tokenizer_load_path(json, out, err);
    }
    return tokenizer_load_path(path, out, err);
}

/* ---- scriptable mode --------------------------------------------------------------------------
 */

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    if (g_stop) _exit(130);
    g_stop = 1;
}

typedef struct script_out {
    chat_think think;
    bool json;
    bool reasoning_nl; /* the reasoning printed so far does not end with a newline */
    char last;         /* last byte written to stdout */
} script_out;

static void script_text(void *user, reasoning_part part, const char *text, size_t n)
{
    script_out *o = user;
    if (o->json || !n) return;
    if (part == REASONING_PART_REASONING) {
        if (o->think != CHAT_THINK_SHOW) return;
        fwrite(text, 1, n, stderr);
        o->reasoning_nl = text[n - 1] != '\n';
        fflush(stderr);
    } else {
        fwrite(text, 1, n, stdout);
        o->last = text[n - 1];
        fflush(stdout);
    }
}

static void script_reasoning_end(void *user, int n_tokens, double seconds, chat_finish why)
{
    script_out *o = user;
    (void)n_tokens;
    (void)seconds;
    (void)why;
    if (!o->json && o->think == CHAT_THINK_SHOW && o->reasoning_nl) fputc('\n', stderr);
    o->reasoning_nl = false;
}

static void print_json(const chat *c, const char *model, const chat_stats *s)
{
    const chat_msg *m = chat_last_reply(c);
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "template", c->raw ? "none" : chat_template_name(c->tmpl.kind));
    cJSON_AddStringToObject(o, "think", chat_think_name(c->think));
    if (m && m->reasoning)
        cJSON_AddStringToObject(o, "reasoning", m->reasoning);
    else
        cJSON_AddNullToObject(o, "reasoning");
    cJSON_AddStringToObject(o, "content", m ? m->content : "");
    cJSON_AddStringToObject(o, "finish_reason", chat_finish_name(s->finish));
    cJSON_AddNumberToObject(o, "prompt_tokens", s->n_prompt);
    cJSON_AddNumberToObject(o, "cached_tokens", s->n_reused);
    cJSON_AddNumberToObject(o, "completion_tokens", s->n_generated);
    cJSON_AddNumberToObject(o, "reasoning_tokens", s->n_reasoning);
    /* durations to the millisecond, rates to 0.01 tok/s: what the measurement resolves */
    cJSON_AddNumberToObject(o, "prompt_seconds", cli_round(s->prompt_s, 3));
    cJSON_AddNumberToObject(o, "prompt_tokens_per_second",
                            cli_round(s->prompt_s > 0 ? s->n_processed / s->prompt_s : 0, 2));
    cJSON_AddNumberToObject(o, "generation_seconds", cli_round(s->gen_s, 3));
    cJSON_AddNumberToObject(o, "generation_tokens_per_second",
                            cli_round(s->gen_s > 0 ? s->n_generated / s->gen_s : 0, 2));
    char *text = cli_json_print(o);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static char *read_stdin(void)
{
    size_t cap = 4096, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *t = realloc(buf, cap *= 2);
            if (!t) free(buf);
            buf = t;
        }
    }
    if (buf) buf[len] = 0;
    return buf;
}

static int run_script(chat *c, const char *model, const char *prompt, bool json, bool verbose)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    c->stop = &g_stop;
    script_out so = {.think = c->think, .json = json, .last = '\n'};
    chat_callbacks cb = {script_text, NULL, script_reasoning_end, &so};
    chat_stats s;
    char err[R1_ERR_MAX];
    r1_status st = chat_reply(c, prompt, &cb, &s, err);
    if (st) {
        fprintf(stderr, "r1 run: %s\n", err);
        if (st == R1_ERR_CONTEXT_FULL) fprintf(stderr, "(raise --ctx-size)\n");
        return 1;
    }
    if (json)
        print_json(c, model, &s);
    else if (so.last != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    if (verbose) chat_print_stats(&s);
    if (s.finish == CHAT_FINISH_CONTEXT) {
        fprintf(stderr,
                "r1 run: the context filled up (%d tokens) before the answer ended; "
                "raise --ctx-size\n",
                r1_session_n_ctx(c->session));
        return 1;
    }
    return s.finish == CHAT_FINISH_INTERRUPTED ? 130 : 0;
}

/* ---- the command ----------------------------------------------------------------------------- */

int cmd_run(int argc, char **argv)
{
    const char *model_arg = NULL, *prompt = NULL, *template_name = NULL, *system = NULL;
    int n_predict = 0, n_ctx = 0, n_threads = 0;
    bool verbose = false, json = false, raw = false, have_seed = false;
    r1_mtp_mode mtp = R1_MTP_AUTO;
    r1_cache_type cache_type = R1_CACHE_F32;
    chat_think think = CHAT_THINK_SHOW;
    r1_sampler_params spar = r1_sampler_params_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model_arg = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--system")) {
            if (!(system = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--think")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            if (!chat_think_from_name(v, &think)) {
                fprintf(stderr, "r1 run: --think expects show, hide or off, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--chat-template")) {
            if (!(template_name = cli_value(argc, argv, &i))) return 2;
            chat_template_kind k;
            if (!chat_template_from_name(template_name, &k)) {
                fprintf(stderr, "r1 run: unknown chat template '%s' (known: %s)\n", template_name,
                        chat_template_names());
                return 2;
            }
        } else if (!strcmp(a, "--raw")) {
            raw = true;
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
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_float_range(a, v, 0, 2, &spar.temperature))
                return 2;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float_range(a, v, 0, 1, &spar.top_p))
                return 2;
        } else if (!strcmp(a, "--top-k")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 24, &spar.top_k))
                return 2;
        } else if (!strcmp(a, "--min-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float_range(a, v, 0, 1, &spar.min_p))
                return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &spar.seed)) return 2;
            have_seed = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--mtp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_mtp(v, &mtp)) return 2;
        } else if (!strcmp(a, "--cache-type")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_cache_type(v, &cache_type)) return 2;
        } else {
            return cli_unknown_option(a);
        }
    }

    char model_path[PATH_MAX];
    if (model_arg) {
        if (!store_resolve_model(model_arg, model_path, sizeof model_path)) return 1;
    } else if (!store_default_model(model_path, sizeof model_path)) {
        fprintf(stderr,
                "r1 run: no model given and no default model found (looked for\n"
                "  %s/default.gguf and models/r1-tiny.gguf of the source tree).\n"
                "Pass one with -m FILE.gguf, or download one and chat with it:\n"
                "  r1 pull deepseek-r1:1.5b && r1 run -m deepseek-r1:1.5b\n"
                "A random-weight test model: r1 synth --preset tiny-deepseek2 -o tiny.gguf\n",
                store_models_dir());
        return 2;
    }

    /* A fresh seed per run, as Ollama, llama.cpp and r1 serve do: with a fixed default every run
     * of the same prompt at a temperature above 0 would print the same "random" text. */
    if (!have_seed) spar.seed = cli_random_seed();

    if (json && !prompt && isatty(STDIN_FILENO)) {
        fprintf(stderr, "r1 run: --json answers one prompt: pass it with -p or on stdin\n");
        return 2;
    }
    bool interactive = !prompt && isatty(STDIN_FILENO);
    char *stdin_text = NULL;
    if (!prompt && !interactive) {
        if (!(stdin_text = read_stdin())) {
            fprintf(stderr, "r1 run: cannot read the prompt from stdin\n");
            return 1;
        }
        prompt = stdin_text;
    }

    int rc = 1;
    char err[R1_ERR_MAX];
    tokenizer *tok = NULL;
    r1_model *model = NULL;
    chat c = {0};
    bool have_chat = false;
    if (!cli_check_model(model_path)) goto done;
    if (load_tokenizer(model_path, &tok, err)) {
        fprintf(stderr, "r1 run: cannot load the tokenizer of %s: %s\n", model_path, err);
        goto done;
    }
    if (!(model = load_model_with_progress(model_path, n_threads, verbose))) goto done;
    const char *warning = NULL;
    if (chat_init(&c, model, tok, n_ctx, mtp, cache_type, template_name, &spar, &warning, err)) {
        fprintf(stderr, "r1 run: %s\n", err);
        goto done;
    }
    have_chat = true;
    c.max_tokens = n_predict;
    c.think = think;
    c.raw = raw;
    if (system) c.system = strdup(system);
    if (warning && !raw && (verbose || interactive)) fprintf(stderr, "r1 run: %s\n", warning);
    if (verbose)
        fprintf(stderr, "seed %llu (--seed %llu repeats this run)\n", (unsigned long long)spar.seed,
                (unsigned long long)spar.seed);

    if (interactive) {
        r1_model_info info;
        r1_model_get_info(model, &info);
        char label[512];
        const char *base = strrchr(model_path, '/') ? strrchr(model_path, '/') + 1 : model_path;
        snprintf(label, sizeof label, "%.200s%s%.200s%s", model_arg ? model_arg : base,
                 info.name[0] ? " (" : "", info.name, info.name[0] ? ")" : "");
        const char *nc = getenv("NO_COLOR");
        chat_repl_opts ro = {.model_label = label,
                             .verbose = verbose,
                             .color = isatty(STDOUT_FILENO) && !(nc && nc[0])};
        rc = chat_repl(&c, &ro);
    } else {
        rc = run_script(&c, model_arg ? model_arg : model_path, prompt, json, verbose);
    }
done:
    if (have_chat) chat_free(&c);
    r1_model_free(model);
    tokenizer_free(tok);
    free(stdin_text);
    return rc;
}
