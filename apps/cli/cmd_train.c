/* cmd_train.c — `r1 train`: train a tiny DeepSeek-architecture model from scratch on generated
 * reasoning chats (SFT), save it as a GGUF the engine runs, plus a checkpoint that resumes
 * exactly; `r1 train gen` prints generated problems; `r1 train eval` scores a model on held-out
 * problems through the inference engine.
 *
 * Files next to -o OUT.gguf: OUT.ckpt (weights + AdamW state + data settings), OUT.sft.tsv (one
 * line per logged step), OUT.svg (the loss curves).
 * The model learns DeepSeek-V3's multi-token-prediction module alongside (--mtp-lambda, default
 * 0.3; 0 = no module), written into the GGUF for the engine's speculative decoding.
 */
#include "cli.h"
#include "common.h"

#include "train/dp.h"
#include "train/evaluate.h"
#include "train/sft.h"
#include "train/svg.h"
#include "train/tio.h"
#include "train/tmath.h"
#include "train/vocab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* OUT.gguf -> OUT + suffix */
static void sibling(const char *out, const char *suffix, char *dst, size_t cap)
{
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) n -= 5;
    snprintf(dst, cap, "%.*s%s", (int)n, out, suffix);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 train - train a tiny DeepSeek-architecture model on reasoning tasks (SFT)\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 train -o OUT.gguf [OPTIONS]                    train from scratch (SFT)\n"
        "    r1 train --resume OUT.ckpt -o OUT.gguf [--stop-after N]\n"
        "    r1 train gen --tasks MIX [-n N] [--split train|test] [--seed S] [--jsonl]\n"
        "    r1 train eval -m MODEL.gguf --tasks MIX [-n N] [--temp T] [-t N] [--suffix]\n"
        "\n"
        "DESCRIPTION\n"
        "    Trains with generated arithmetic and countdown problems in R1's format\n"
        "    (docs/training.md); `gen` prints such problems, `eval` measures a model's\n"
        "    greedy accuracy on them. train/recipe.sh made models/r1-tiny.gguf.\n"
        "    Under `mpirun -np N` the ranks train data parallel: each takes a share of\n"
        "    every batch, -t threads each (docs/distributed.md).\n"
        "\n"
        "OPTIONS\n"
        "  Data\n"
        "    --tasks MIX        task mix (default add:1-3@3,sub:1-3,mul:1-2x1-2@3,countdown:3)\n"
        "                       e.g. add:1-4@2 (digits, weight), mul:2x1-2, countdown:3-4\n"
        "    --batch N          sequences per step (32)\n"
        "    --suffix-prob P    share of prompts with R1's \"Please reason step by step...\" "
        "(0.3)\n"
        "    --max-len N        longest sequence in tokens (512)\n"
        "  Optimization\n"
        "    --steps N          schedule length (1000)   --stop-after N  stop (and checkpoint) "
        "early\n"
        "    --lr X (3e-3)  --warmup N (50)  --min-lr-ratio X (0.1)  --wd X (0.1)  --clip X (1)\n"
        "    --bias-rate X      aux-loss-free balancing step per update (1e-3)\n"
        "    --mtp-lambda X     weight of the multi-token-prediction loss (0.3; 0: no MTP module)\n"
        "    --seed S           weights and data (1)     -t, --threads N (all cores)\n"
        "  Model (defaults: r1-tiny, see docs/training.md)\n"
        "    --dim --layers --heads --q-lora --kv-lora --nope --rope --v-head --inter --dense\n"
        "    --experts --active --shared --moe-inter --groups --groups-used --route-scale --tie\n"
        "  Output\n"
        "    --log-every N (10)  --eval-every N (100, held-out loss)  --ckpt-every N (0: end)\n"
        "    --type f32|f16 (f32)  --name NAME  --eval-tasks MIX  --eval-n N (greedy accuracy "
        "after training)\n"
        "    -h, --help         this help\n");
}

/* ---- gen / eval -------------------------------------------------------------------------------
 */

static int cmd_train_gen(int argc, char **argv)
{
    const char *mix_text = "add:3";
    int n = 5;
    uint64_t seed = 1;
    task_split split = SPLIT_TRAIN;
    bool jsonl = false, suffix = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout); /* gen and eval are in r1 train's page */
            return 0;
        }
        if (!strcmp(a, "--tasks")) {
            if (!(mix_text = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-n")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 10000000, &n)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &seed)) return 2;
        } else if (!strcmp(a, "--split")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            split = !strcmp(v, "test") ? SPLIT_TEST : SPLIT_TRAIN;
        } else if (!strcmp(a, "--jsonl")) {
            jsonl = true;
        } else if (!strcmp(a, "--suffix")) {
            suffix = true;
        } else {
            return cli_unknown_option(a);
        }
    }
    task_mix mix;
    char err[256];
    if (!task_mix_parse(mix_text, &mix, err)) {
        fprintf(stderr, "r1 train gen: %s\n", err);
        return 2;
    }
    char text[4096];
    for (int i = 0; i < n; i++) {
        problem p;
        task_generate_mix(&mix, seed + (uint64_t)i, split, &p);
        if (jsonl) {
            /* problem/answer records for `r1 eval --task math` (texts have no quotes/backslashes
             * except the suffix's \boxed{}) */
            task_user_text(&p, false, text, sizeof text);
            printf("{\"problem\": \"%s\", \"answer\": \"%s\"}\n", text, p.answer);
        } else {
            task_render_chat(&p, suffix, true, text, sizeof text, NULL);
            printf("%s\n\n", text);
        }
    }
    return 0;
}

static int cmd_train_eval(int argc, char **argv)
{
    const char *model_path = NULL, *mix_text = "add:3";
    task_eval_params ep = task_eval_params_default();
    int n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout); /* gen and eval are in r1 train's page */
            return 0;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tasks")) {
            if (!(mix_text = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-n")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 1000000, &ep.n_problems))
                return 2;
        } else if (!strcmp(a, "--temp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &ep.temperature))
                return 2;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &ep.top_p)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_u64(a, v, &ep.seed)) return 2;
        } else if (!strcmp(a, "--max-new")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 100000, &ep.max_new))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &n_threads))
                return 2;
        } else if (!strcmp(a, "--suffix")) {
            ep.r1_suffix = true;
        } else {
            return cli_unknown_option(a);
        }
    }
    task_mix mix;
    char err[R1_ERR_MAX];
    if (!model_path || !task_mix_parse(mix_text, &mix, err)) {
        fprintf(stderr, "r1 train eval: %s\n", model_path ? err : "-m MODEL is required");
        return 2;
    }
    if (n_threads == 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    ep.n_threads = n_threads;
    r1_model *model = cli_load_model(model_path, 1, false);
    if (!model) return 1;
    int rc = 0;
    printf("| task | problems | exact | format | mean tokens |\n|---|---|---|---|---|\n");
    for (int k = 0; k < mix.n; k++) {
        task_eval_result r;
        if (task_eval(model, &mix.spec[k], &ep, &r, err)) {
            fprintf(stderr, "r1 train eval: %s\n", err);
            rc = 1;
            break;
        }
        char name[64];
        task_spec_name(&mix.spec[k], name, sizeof name);
        printf("| %s | %d | %.1f%% | %.1f%% | %.1f |\n", name, r.n, 100.0 * r.n_correct / r.n,
               100.0 * r.n_format / r.n, r.mean_len);
        fflush(stdout);
    }
    r1_model_free(model);
    return rc;
}

/* ---- training ---------------------------------------------------------------------------------
 */

/* Columns of OUT.sft.tsv the picture uses. */
enum { K_STEP, K_LOSS, K_HELD, K_MTP_LOSS, K_MTP_ACC, K_MTP_HELD_ACC, K_N };

typedef struct curve {
    double *v[K_N];
    int n, cap;
    bool has_mtp;
} curve;

static void curve_add(curve *c, const double *row)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        for (int k = 0; k < K_N; k++) {
            c->v[k] = realloc(c->v[k], (size_t)c->cap * sizeof(double));
            if (!c->v[k]) abort(); /* CLI: a few KB */
        }
    }
    for (int k = 0; k < K_N; k++) c->v[k][c->n] = row[k];
    c->n++;
}

static double field(const char *s)
{
    return strcmp(s, "-") && strcmp(s, "nan") ? atof(s) : NAN;
}

/* Read OUT.sft.tsv back (all runs of a resumed training) for the picture: step, loss, held-out
 * (columns 1-3) and, when present, the MTP columns 8-10. */
static void curve_read(const char *path, curve *c)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        double row[K_N], x;
        char hs[64], ml[64], ma[64], mh[64];
        int k = sscanf(line, "%lf\t%lf\t%63s\t%lf\t%lf\t%lf\t%lf\t%63s\t%63s\t%63s", &row[K_STEP],
                       &row[K_LOSS], hs, &x, &x, &x, &x, ml, ma, mh);
        if (k < 3) continue;
        row[K_HELD] = field(hs);
        row[K_MTP_LOSS] = k == 10 ? field(ml) : NAN;
        row[K_MTP_ACC] = k == 10 ? field(ma) : NAN;
        row[K_MTP_HELD_ACC] = k == 10 ? field(mh) : NAN;
        c->has_mtp = c->has_mtp || !isnan(row[K_MTP_LOSS]);
        curve_add(c, row);
    }
    fclose(f);
}

static void write_curves(const char *out, const char *log_path)
{
    curve c = {0};
    curve_read(log_path, &c);
    char svg[1024], err[R1_ERR_MAX];
    sibling(out, ".svg", svg, sizeof svg);
    double *x = c.v[K_STEP];
    svg_series s[2] = {{"train loss", "#1f77b4", x, c.v[K_LOSS], c.n},
                       {"held-out loss", "#d62728", x, c.v[K_HELD], c.n}};
    svg_series ms[3] = {{"MTP loss (train)", "#9467bd", x, c.v[K_MTP_LOSS], c.n},
                        {"MTP top-1 accuracy (train)", "#2ca02c", x, c.v[K_MTP_ACC], c.n},
                        {"MTP top-1 accuracy (held-out)", "#d62728", x, c.v[K_MTP_HELD_ACC], c.n}};
    svg_panel p[2] = {
        {"SFT: cross-entropy per assistant token (nats)", s, 2},
        {"MTP module: cross-entropy (nats) and top-1 accuracy, token after next", ms, 3}};
    if (svg_write(svg, "r1 train", p, c.has_mtp ? 2 : 1, err))
        fprintf(stderr, "r1 train: %s\n", err);
    for (int k = 0; k < K_N; k++) free(c.v[k]);
}

typedef struct train_opts {
    const char *out, *resume, *name, *eval_tasks;
    char tasks[512];
    sft_data d;
    adamw_params ap;
    tconfig cfg;
    uint64_t seed;
    int n_threads, stop_after, log_every, eval_every, ckpt_every, eval_n;
    float bias_rate, mtp_lambda;
    dtype type;
} train_opts;

static int parse_model_flag(const char *a, const char *v, tconfig *c, bool *handled)
{
    struct {
        const char *name;
        int *field;
        int lo, hi;
    } ints[] = {{"--dim", &c->dim, 1, 8192},
                {"--layers", &c->n_layers, 1, 64},
                {"--heads", &c->n_heads, 1, 256},
                {"--q-lora", &c->q_lora_rank, 1, 8192},
                {"--kv-lora", &c->kv_lora_rank, 1, 1024},
                {"--nope", &c->qk_nope_head_dim, 1, 1024},
                {"--rope", &c->qk_rope_head_dim, 2, 1024},
                {"--v-head", &c->v_head_dim, 1, 1024},
                {"--inter", &c->inter_dim, 1, 65536},
                {"--dense", &c->n_dense_layers, 0, 64},
                {"--experts", &c->n_routed_experts, 1, 256},
                {"--active", &c->n_activated_experts, 1, 256},
                {"--shared", &c->n_shared_experts, 0, 8},
                {"--moe-inter", &c->moe_inter_dim, 1, 65536},
                {"--groups", &c->n_expert_groups, 1, 256},
                {"--groups-used", &c->n_limited_groups, 1, 256}};
    *handled = false;
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        if (!strcmp(a, ints[k].name)) {
            *handled = true;
            return v && cli_parse_int(a, v, ints[k].lo, ints[k].hi, ints[k].field) ? 0 : 2;
        }
    if (!strcmp(a, "--route-scale")) {
        *handled = true;
        return v && cli_parse_float(a, v, &c->route_scale) ? 0 : 2;
    }
    return 0;
}

/* The options of `r1 train` that take a value besides the model's (parse_model_flag), to tell a
 * last option that misses its value from an unknown one. */
static bool train_takes_value(const char *a)
{
    static const char *const names[] = {"-o",          "--out",        "--resume",
                                        "--name",      "--eval-tasks", "--tasks",
                                        "--seed",      "--type",       "--batch",
                                        "--max-len",   "--steps",      "--stop-after",
                                        "--warmup",    "-t",           "--threads",
                                        "--log-every", "--eval-every", "--ckpt-every",
                                        "--eval-n",    "--lr",         "--min-lr-ratio",
                                        "--wd",        "--clip",       "--suffix-prob",
                                        "--bias-rate", "--mtp-lambda"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (!strcmp(a, names[k])) return true;
    return false;
}

static int parse_train(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->tasks, sizeof o->tasks, "add:1-3@3,sub:1-3,mul:1-2x1-2@3,countdown:3");
    o->d = (sft_data){.seed = 1, .suffix_prob = 0.3f, .batch_size = 32, .max_len = 512};
    o->ap = adamw_params_default();
    o->cfg = tconfig_default();
    o->seed = 1;
    o->log_every = 10;
    o->eval_every = 100;
    o->eval_n = 200;
    o->bias_rate = 1e-3f;
    o->mtp_lambda = 0.3f;
    o->type = DTYPE_F32;
    int max_len = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--tie")) {
            o->cfg.tie_embeddings = true;
            continue;
        }
        /* every other option takes a value: v is NULL when a is last, and a known option then
         * says it needs one, an unknown one that it is unknown */
        v = i + 1 < argc ? argv[++i] : NULL;
        bool handled;
        int rc = parse_model_flag(a, v, &o->cfg, &handled);
        if (handled) {
            if (!v) return cli_missing_value(a);
            if (rc) return rc;
            continue;
        }
#define INT(flag, field, lo, hi)                                                                   \
    else if (!strcmp(a, flag))                                                                     \
    {                                                                                              \
        if (!cli_parse_int(a, v, lo, hi, field)) return 2;                                         \
    }
#define FLT(flag, field)                                                                           \
    else if (!strcmp(a, flag))                                                                     \
    {                                                                                              \
        if (!cli_parse_float(a, v, field)) return 2;                                               \
    }
        if (a[0] != '-' || !strcmp(a, "-") || !strcmp(a, "--"))
            return cli_unknown_option(a);
        else if (!v && train_takes_value(a))
            return cli_missing_value(a);
        else if (!v)
            return cli_unknown_option(a);
        else if (!strcmp(a, "-o") || !strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--resume"))
            o->resume = v;
        else if (!strcmp(a, "--name"))
            o->name = v;
        else if (!strcmp(a, "--eval-tasks"))
            o->eval_tasks = v;
        else if (!strcmp(a, "--tasks"))
            snprintf(o->tasks, sizeof o->tasks, "%s", v);
        else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(a, v, &o->seed)) return 2;
            o->d.seed = o->seed;
        } else if (!strcmp(a, "--type")) {
            if (!strcmp(v, "f32") || !strcmp(v, "F32"))
                o->type = DTYPE_F32;
            else if (!strcmp(v, "f16") || !strcmp(v, "F16"))
                o->type = DTYPE_F16;
            else {
                fprintf(stderr, "r1 train: --type is f32 or f16\n");
                return 2;
            }
        }
        INT("--batch", &o->d.batch_size, 1, 100000)
        INT("--max-len", &max_len, 8, 65536)
        INT("--steps", &o->ap.total_steps, 1, 100000000)
        INT("--stop-after", &o->stop_after, 1, 100000000)
        INT("--warmup", &o->ap.warmup_steps, 0, 100000000)
        INT("-t", &o->n_threads, 1, 1024)
        INT("--threads", &o->n_threads, 1, 1024)
        INT("--log-every", &o->log_every, 1, 100000000)
        INT("--eval-every", &o->eval_every, 0, 100000000)
        INT("--ckpt-every", &o->ckpt_every, 0, 100000000)
        INT("--eval-n", &o->eval_n, 1, 1000000)
        FLT("--lr", &o->ap.lr)
        FLT("--min-lr-ratio", &o->ap.min_lr_ratio)
        FLT("--wd", &o->ap.weight_decay)
        FLT("--clip", &o->ap.clip_norm)
        FLT("--suffix-prob", &o->d.suffix_prob)
        FLT("--bias-rate", &o->bias_rate)
        FLT("--mtp-lambda", &o->mtp_lambda)
        else return cli_unknown_option(a);
#undef INT
#undef FLT
    }
    o->d.max_len = max_len;
    o->cfg.max_seq_len = max_len;
    if (!(o->mtp_lambda >= 0)) {
        fprintf(stderr, "r1 train: --mtp-lambda must be >= 0\n");
        return 2;
    }
    o->cfg.n_mtp = o->mtp_lambda > 0;
    if (!o->out) {
        fprintf(stderr, "r1 train: -o OUT.gguf is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "gen") || !strcmp(argv[1], "eval"))) {
        static char prefix[32];
        snprintf(prefix, sizeof prefix, "r1 train %s", argv[1]);
        cli_cmd = prefix;
        return argv[1][0] == 'g' ? cmd_train_gen(argc - 1, argv + 1)
                                 : cmd_train_eval(argc - 1, argv + 1);
    }
    train_opts o;
    int rc = parse_train(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    char err[R1_ERR_MAX], ckpt[1024], log_path[1024];
    sibling(o.out, ".ckpt", ckpt, sizeof ckpt);
    sibling(o.out, ".sft.tsv", log_path, sizeof log_path);
    if (o.n_threads == 0) o.n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* under mpirun: data parallel (train/dp.h); rank 0 alone prints and writes the files */
    int n_ranks = r1_dist_size(cli_dist);
    bool root = r1_dist_rank(cli_dist) == 0;
    threadpool *pool = threadpool_new(o.n_threads);
    tmodel *m = NULL;
    adamw opt = {0};
    tstate *st = tstate_new();
    tokbatch batch = {0}, heldout = {0};
    rc = 1;
    if (!pool || !st) {
        fprintf(stderr, "r1 train: out of memory\n");
        goto done;
    }
    if (o.resume) {
        int total = o.ap.total_steps;
        bool steps_given = false;
        for (int i = 1; i < argc; i++) steps_given = steps_given || !strcmp(argv[i], "--steps");
        if (!sft_read_data_keys(o.resume, &o.d, o.tasks, sizeof o.tasks, &o.bias_rate,
                                &o.mtp_lambda, err)) {
            fprintf(stderr, "r1 train: %s\n", err);
            goto done;
        }
        if (tio_load(o.resume, pool, &m, &opt, err)) {
            fprintf(stderr, "r1 train: %s\n", err);
            goto done;
        }
        if (steps_given) opt.p.total_steps = total;
        if (root)
            fprintf(stderr, "r1 train: resuming %s at step %lld of %d\n", o.resume,
                    (long long)opt.step, opt.p.total_steps);
    } else {
        if (tmodel_new(&o.cfg, pool, &m, err) || adamw_init(&opt, m, &o.ap, err)) {
            fprintf(stderr, "r1 train: %s\n", err);
            goto done;
        }
        tmodel_init_random(m, o.seed);
    }
    if (!task_mix_parse(o.tasks, &o.d.mix, err)) {
        fprintf(stderr, "r1 train: --tasks: %s\n", err);
        goto done;
    }
    FILE *log = root ? fopen(log_path, o.resume ? "a" : "w")
                     : fopen("/dev/null", "w"); /* ranks > 0 log nowhere */
    if (!log) {
        fprintf(stderr, "r1 train: cannot write %s\n", log_path);
        goto done;
    }
    if (!o.resume && root)
        fprintf(log, "step\tloss\theldout\tlr\tgrad_norm\ttok_per_s\tgflops\tmtp_loss\tmtp_acc"
                     "\theldout_mtp_acc\n");
    const tconfig *c = &m->cfg;
    bool mtp = c->n_mtp > 0 && o.mtp_lambda > 0;
    if (root) {
        fprintf(stderr,
                "r1 train: %zu parameters (dim %d, %d layers, %d heads, %d experts top-%d + %d "
                "shared",
                m->n_params, c->dim, c->n_layers, c->n_heads, c->n_routed_experts,
                c->n_activated_experts, c->n_shared_experts);
        if (c->n_mtp) fprintf(stderr, "; MTP module, lambda %g", (double)o.mtp_lambda);
        fprintf(stderr, "), %d threads, gemm %s", o.n_threads, tm_gemm_path());
        if (n_ranks > 1)
            fprintf(stderr, "; data parallel over %d ranks (%d threads each)", n_ranks,
                    o.n_threads);
        fprintf(stderr, "\n");
    }
    sft_data hd = o.d;
    hd.batch_size = o.d.batch_size > 64 ? o.d.batch_size : 64;
    if (sft_make_batch(&hd, 0, SPLIT_TEST, &heldout, err)) {
        fprintf(stderr, "r1 train: %s\n", err);
        fclose(log);
        goto done;
    }
    sft_data_keys keys = {&o.d, o.tasks, o.bias_rate, o.mtp_lambda};
    tio_save_params ckpt_params = {o.name ? o.name : "r1-tiny", DTYPE_F32, &opt, sft_add_data_keys,
                                   &keys};
    int64_t end = opt.p.total_steps;
    if (o.stop_after && opt.step + o.stop_after < end) end = opt.step + o.stop_after;
    double t0 = now_s(), t_int = t0, loss_sum = 0, flops = 0, mtp_loss_sum = 0, mtp_acc_sum = 0;
    long tok_int = 0;
    int n_int = 0;
    bool ok = true;
    while (opt.step < end) {
        int64_t s = opt.step;
        sft_stats ss;
        tbatch tb;
        if (sft_make_batch(&o.d, s, SPLIT_TRAIN, &batch, err) ||
            sft_step_dp(m, st, &opt, &batch, cli_dist, o.bias_rate, o.mtp_lambda, &ss, err)) {
            fprintf(stderr, "r1 train: step %lld: %s\n", (long long)s, err);
            ok = false;
            break;
        }
        tb = tokbatch_view(&batch);
        flops += 3 * tmodel_forward_flops(m, &tb);
        loss_sum += ss.loss;
        if (mtp) {
            mtp_loss_sum += ss.mtp_loss;
            mtp_acc_sum += ss.mtp_acc;
        }
        tok_int += ss.n_tokens;
        n_int++;
        bool last = opt.step == end;
        if (opt.step % o.log_every == 0 || last) {
            double held = NAN, held_mtp_acc = NAN;
            if ((o.eval_every && opt.step % o.eval_every == 0) || last) {
                sft_stats hs;
                if (sft_eval_dp(m, st, &heldout, cli_dist, &hs, err) == R1_OK) {
                    held = hs.loss;
                    held_mtp_acc = mtp ? hs.mtp_acc : NAN;
                }
            }
            double t = now_s(), dt = t - t_int;
            char held_text[32] = "     -", mtp_text[96] = "";
            if (!isnan(held)) snprintf(held_text, sizeof held_text, "%.4f", held);
            if (mtp)
                snprintf(mtp_text, sizeof mtp_text, "  mtp %.4f acc %.3f", mtp_loss_sum / n_int,
                         mtp_acc_sum / n_int);
            if (mtp && !isnan(held_mtp_acc))
                snprintf(mtp_text + strlen(mtp_text), sizeof mtp_text - strlen(mtp_text),
                         " (held-out %.3f)", held_mtp_acc);
            if (root)
                fprintf(stderr,
                        "step %6lld  loss %.4f  held-out %s%s  lr %.2e  |g| %.3f  %.0f tok/s  %.2f "
                        "GFLOP/s  %.0fs\n",
                        (long long)opt.step, loss_sum / n_int, held_text, mtp_text, ss.lr,
                        ss.grad_norm, tok_int / dt, flops / dt * 1e-9, t - t0);
            fprintf(log, "%lld\t%.8f\t", (long long)opt.step, loss_sum / n_int);
            if (isnan(held))
                fprintf(log, "-");
            else
                fprintf(log, "%.5f", held);
            fprintf(log, "\t%.3e\t%.4f\t%.1f\t%.3f", ss.lr, ss.grad_norm, tok_int / dt,
                    flops / dt * 1e-9);
            if (mtp)
                fprintf(log, "\t%.5f\t%.4f\t", mtp_loss_sum / n_int, mtp_acc_sum / n_int);
            else
                fprintf(log, "\t-\t-\t");
            if (isnan(held_mtp_acc))
                fprintf(log, "-\n");
            else
                fprintf(log, "%.4f\n", held_mtp_acc);
            fflush(log);
            t_int = t;
            loss_sum = 0;
            mtp_loss_sum = 0;
            mtp_acc_sum = 0;
            flops = 0;
            tok_int = 0;
            n_int = 0;
        }
        if (o.ckpt_every && opt.step % o.ckpt_every == 0 && !last && root &&
            tio_save(m, ckpt, &ckpt_params, err))
            fprintf(stderr, "r1 train: %s\n", err);
    }
    fclose(log);
    if (!ok) goto done;
    if (n_ranks > 1) { /* the ranks applied the same updates: their weights must be the same bits */
        uint64_t hash;
        int bad;
        if (!dp_check_identical(cli_dist, m, &opt, &hash, &bad)) {
            if (bad >= 0 && root)
                fprintf(stderr, "r1 train: rank %d's weights differ from rank 0's\n", bad);
            goto done;
        }
        if (root)
            fprintf(stderr,
                    "r1 train: %d ranks, weights and optimizer state identical (hash %016llx)\n",
                    n_ranks, (unsigned long long)hash);
    }
    if (!root) { /* rank 0 writes the files */
        rc = 0;
        goto done;
    }
    if (tio_save(m, ckpt, &ckpt_params, err)) {
        fprintf(stderr, "r1 train: %s\n", err);
        goto done;
    }
    tio_save_params mp = {o.name ? o.name : "r1-tiny", o.type, NULL, NULL, NULL};
    if (tio_save(m, o.out, &mp, err)) {
        fprintf(stderr, "r1 train: %s\n", err);
        goto done;
    }
    write_curves(o.out, log_path);
    fprintf(stderr, "r1 train: wrote %s and %s (step %lld) in %.0fs\n", o.out, ckpt,
            (long long)opt.step, now_s() - t0);
    rc = 0;
    if (o.eval_tasks) {
        char n_text[32], t_text[32];
        snprintf(n_text, sizeof n_text, "%d", o.eval_n);
        snprintf(t_text, sizeof t_text, "%d", o.n_threads);
        char *args[] = {"eval", "-m",   (char *)o.out, "--tasks", (char *)o.eval_tasks,
                        "-n",   n_text, "-t",          t_text,    NULL};
        /* rank 0 alone: the model whole in this process, not split over the ranks */
        r1_dist *dist = cli_dist;
        cli_dist = NULL;
        rc = cmd_train_eval(9, args);
        cli_dist = dist;
    }
done:
    /* the other ranks may wait for this one in a collective without a timeout: end the job */
    if (rc && n_ranks > 1) dp_mark_failed(cli_dist, "r1 train failed on this rank");
    tokbatch_free(&batch);
    tokbatch_free(&heldout);
    tstate_free(st);
    adamw_free(&opt);
    tmodel_free(m);
    if (pool) threadpool_free(pool);
    return rc;
}
