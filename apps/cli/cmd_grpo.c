/* cmd_grpo.c — `r1 grpo`: improve a model with Group Relative Policy Optimization on generated
 * tasks with verifiable answers (train/grpo.h has the algorithm and its defaults), sampling with
 * the inference engine. Writes OUT.gguf, OUT.grpo.tsv (reward, accuracy, length, KL, MTP loss and
 * accuracy per step) and OUT.svg (these curves, with the SFT loss of the starting model when its
 * .sft.tsv is found). A model's MTP module is trained along on the sampled completions
 * (--mtp-lambda), so the drafter follows the policy.
 */
#include "cli.h"
#include "common.h"

#include "train/dp.h"
#include "train/evaluate.h"
#include "train/grpo.h"
#include "train/svg.h"
#include "train/tio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 grpo - improve a model with GRPO on verifiable-reward tasks\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 grpo -m START.gguf -o OUT.gguf [OPTIONS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Group relative policy optimization (DeepSeek-R1's RL stage) on generated\n"
            "    problems whose answers are checked exactly (docs/training.md). Under\n"
            "    `mpirun -np N` the ranks sample and train a share of every step's prompt\n"
            "    groups, -t threads each (docs/distributed.md).\n"
            "\n"
            "OPTIONS\n"
            "    --tasks MIX        training tasks (default mul:2-3x2@2,add:4-5,countdown:3)\n"
            "    --steps N (100)  --prompts N per step (16)  --group G completions each (8)\n"
            "    --max-new N        longest completion (320)   --temp T sampling temperature (1)\n"
            "    --lr X (2e-4)  --warmup N (5)  --wd X (0)  --clip X (1)\n"
            "    --clip-low X (0.2)  --clip-high X (0.28, DAPO clip-higher)  --epochs N (1)\n"
            "    --kl-coef X        KL(π‖π_ref) penalty, k3 estimator (0: off, still logged)\n"
            "    --agg token|seq|drgrpo  loss averaging (token: DAPO, default)\n"
            "    --no-std           no std normalization of advantages (Dr. GRPO)\n"
            "    --keep-uniform     keep groups whose rewards are all equal (default: dropped)\n"
            "    --format-reward X  bonus for </think> + \\boxed{} + EOS (0.1)\n"
            "    --suffix-prob P    prompts with R1's instruction line (0.3)\n"
            "    --eval-tasks MIX   held-out greedy accuracy every --eval-every N steps (20), on\n"
            "                       --eval-n problems (100)\n"
            "    --sft-log PATH     SFT log to include in the picture (default: START.sft.tsv)\n"
            "    --mtp-lambda X     weight of the MTP module's loss on the sampled completions\n"
            "                       (0.3; 0: leave the module as it is)\n"
            "    --mtp-trunk        let that loss's gradient into the trunk too (default: only\n"
            "                       the MTP module learns from it)\n"
            "    --seed S (1)  -t, --threads N (all cores)\n"
            "    -h, --help         this help\n");
}

/* The options of `r1 grpo` that take a value, to tell a last option missing its value from an
 * unknown one. */
static bool grpo_takes_value(const char *a)
{
    static const char *const names[] = {"-m",
                                        "--model",
                                        "-o",
                                        "--out",
                                        "--tasks",
                                        "--eval-tasks",
                                        "--sft-log",
                                        "--agg",
                                        "--seed",
                                        "--steps",
                                        "--prompts",
                                        "--group",
                                        "--max-new",
                                        "--warmup",
                                        "--epochs",
                                        "--eval-every",
                                        "--eval-n",
                                        "-t",
                                        "--threads",
                                        "--temp",
                                        "--lr",
                                        "--wd",
                                        "--clip",
                                        "--clip-low",
                                        "--clip-high",
                                        "--kl-coef",
                                        "--format-reward",
                                        "--suffix-prob",
                                        "--bias-rate",
                                        "--mtp-lambda"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (!strcmp(a, names[k])) return true;
    return false;
}

static void sibling(const char *out, const char *suffix, char *dst, size_t cap)
{
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) n -= 5;
    snprintf(dst, cap, "%.*s%s", (int)n, out, suffix);
}

typedef struct series {
    double *v;
    int n, cap;
} series;

static void push(series *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, (size_t)s->cap * sizeof(double));
        if (!s->v) abort(); /* CLI: a few KB */
    }
    s->v[s->n++] = v;
}

enum {
    C_STEP,
    C_REWARD,
    C_ACC,
    C_FORMAT,
    C_LEN,
    C_KL,
    C_HELD,
    C_MTP_LOSS,
    C_MTP_ACC,
    C_SFT_STEP,
    C_SFT_LOSS,
    C_N
};

static void write_curves(const char *out, const char *grpo_log, const char *sft_log)
{
    series c[C_N] = {{0}};
    char line[1024];
    bool has_mtp = false;
    FILE *f = fopen(grpo_log, "r");
    while (f && fgets(line, sizeof line, f)) {
        double v[12];
        char held[64], ml[64], ma[64];
        int k = sscanf(
            line, "%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf\t%63s\t%63s\t%63s", &v[0],
            &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], held, ml, ma);
        if (k < 12) continue;
        bool mtp = k == 14 && strcmp(ml, "-") != 0;
        push(&c[C_MTP_LOSS], mtp ? atof(ml) : NAN);
        push(&c[C_MTP_ACC], mtp ? atof(ma) : NAN);
        has_mtp = has_mtp || mtp;
        push(&c[C_STEP], v[0]);
        push(&c[C_REWARD], v[1]);
        push(&c[C_ACC], v[2]);
        push(&c[C_FORMAT], v[3]);
        push(&c[C_LEN], v[4]);
        push(&c[C_KL], v[5]);
        push(&c[C_HELD], strcmp(held, "-") ? atof(held) : NAN);
    }
    if (f) fclose(f);
    f = sft_log ? fopen(sft_log, "r") : NULL;
    while (f && fgets(line, sizeof line, f)) {
        double s, l;
        if (sscanf(line, "%lf\t%lf", &s, &l) == 2) {
            push(&c[C_SFT_STEP], s);
            push(&c[C_SFT_LOSS], l);
        }
    }
    if (f) fclose(f);
    int n = c[C_STEP].n;
    svg_series sft = {"train loss", "#1f77b4", c[C_SFT_STEP].v, c[C_SFT_LOSS].v, c[C_SFT_STEP].n};
    svg_series acc[3] = {{"reward (train samples)", "#2ca02c", c[C_STEP].v, c[C_REWARD].v, n},
                         {"accuracy (train samples)", "#1f77b4", c[C_STEP].v, c[C_ACC].v, n},
                         {"held-out accuracy (greedy)", "#d62728", c[C_STEP].v, c[C_HELD].v, n}};
    svg_series len = {"completion tokens", "#9467bd", c[C_STEP].v, c[C_LEN].v, n};
    svg_series kl = {"KL(policy || start), k3", "#8c564b", c[C_STEP].v, c[C_KL].v, n};
    svg_series mtp[2] = {{"MTP loss (nats)", "#9467bd", c[C_STEP].v, c[C_MTP_LOSS].v, n},
                         {"MTP top-1 accuracy", "#2ca02c", c[C_STEP].v, c[C_MTP_ACC].v, n}};
    svg_panel panels[5] = {{"SFT: cross-entropy per assistant token (nats)", &sft, 1},
                           {"GRPO: reward and accuracy", acc, 3},
                           {"GRPO: mean completion length", &len, 1},
                           {"GRPO: KL to the starting model", &kl, 1},
                           {"GRPO: MTP module on the sampled completions", mtp, 2}};
    int first = c[C_SFT_STEP].n ? 0 : 1;
    char svg[1024], err[R1_ERR_MAX];
    sibling(out, ".svg", svg, sizeof svg);
    if (svg_write(svg, "r1 train + r1 grpo", panels + first, (has_mtp ? 5 : 4) - first, err))
        fprintf(stderr, "r1 grpo: %s\n", err);
    for (int i = 0; i < C_N; i++) free(c[i].v);
}

int cmd_grpo(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *tasks = "mul:2-3x2@2,add:4-5,countdown:3",
               *eval_tasks = NULL, *sft_log = NULL, *agg = "token";
    grpo_params gp = grpo_params_default();
    adamw_params ap = adamw_params_default();
    ap.lr = 2e-4f;
    ap.warmup_steps = 5;
    ap.total_steps = 100;
    ap.weight_decay = 0.0f;
    ap.min_lr_ratio = 1.0f; /* constant after warmup */
    int n_threads = 0, eval_every = 20, eval_n = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-std")) {
            gp.std_norm = false;
            continue;
        }
        if (!strcmp(a, "--keep-uniform")) {
            gp.drop_uniform = false;
            continue;
        }
        if (!strcmp(a, "--mtp-trunk")) {
            gp.mtp_trunk = true;
            continue;
        }
        /* every other option takes a value: one that is last is unknown or misses it */
        if (i + 1 >= argc)
            return grpo_takes_value(a) ? cli_missing_value(a) : cli_unknown_option(a);
        v = argv[++i];
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
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            in = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--tasks"))
            tasks = v;
        else if (!strcmp(a, "--eval-tasks"))
            eval_tasks = v;
        else if (!strcmp(a, "--sft-log"))
            sft_log = v;
        else if (!strcmp(a, "--agg"))
            agg = v;
        else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(a, v, &gp.seed)) return 2;
        }
        INT("--steps", &ap.total_steps, 1, 10000000)
        INT("--prompts", &gp.n_prompts, 1, 100000)
        INT("--group", &gp.group_size, 1, 1024)
        INT("--max-new", &gp.max_new, 1, 65536)
        INT("--warmup", &ap.warmup_steps, 0, 10000000)
        INT("--epochs", &gp.ppo_epochs, 1, 64)
        INT("--eval-every", &eval_every, 0, 10000000)
        INT("--eval-n", &eval_n, 1, 1000000)
        INT("-t", &n_threads, 1, 1024)
        INT("--threads", &n_threads, 1, 1024)
        FLT("--temp", &gp.temperature)
        FLT("--lr", &ap.lr)
        FLT("--wd", &ap.weight_decay)
        FLT("--clip", &ap.clip_norm)
        FLT("--clip-low", &gp.clip_low)
        FLT("--clip-high", &gp.clip_high)
        FLT("--kl-coef", &gp.kl_coef)
        FLT("--format-reward", &gp.format_reward)
        FLT("--suffix-prob", &gp.suffix_prob)
        FLT("--bias-rate", &gp.bias_rate)
        FLT("--mtp-lambda", &gp.mtp_lambda)
        else
        {
            return cli_unknown_option(a);
        }
#undef INT
#undef FLT
    }
    char err[R1_ERR_MAX];
    task_mix eval_mix = {0};
    if (!in || !out) {
        fprintf(stderr, "r1 grpo: -m START.gguf and -o OUT.gguf are required\n");
        usage(stderr);
        return 2;
    }
    if (!task_mix_parse(tasks, &gp.mix, err) ||
        (eval_tasks && !task_mix_parse(eval_tasks, &eval_mix, err))) {
        fprintf(stderr, "r1 grpo: %s\n", err);
        return 2;
    }
    if (!strcmp(agg, "token"))
        gp.agg = GRPO_AGG_TOKEN;
    else if (!strcmp(agg, "seq"))
        gp.agg = GRPO_AGG_SEQ;
    else if (!strcmp(agg, "drgrpo"))
        gp.agg = GRPO_AGG_DRGRPO;
    else {
        fprintf(stderr, "r1 grpo: --agg is token, seq or drgrpo\n");
        return 2;
    }
    if (!(gp.mtp_lambda >= 0)) {
        fprintf(stderr, "r1 grpo: --mtp-lambda must be >= 0\n");
        return 2;
    }
    if (n_threads == 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    gp.n_threads = n_threads;
    /* under mpirun: data parallel (train/grpo.h); rank 0 alone prints and writes the files */
    int n_ranks = r1_dist_size(cli_dist), rank = r1_dist_rank(cli_dist);
    bool root = rank == 0;
    gp.dist = n_ranks > 1 ? cli_dist : NULL;
    char log_path[1024], scratch[1100], sft_default[1024];
    sibling(out, ".grpo.tsv", log_path, sizeof log_path);
    if (n_ranks > 1) /* every rank writes its own copy of the weights for its sampler */
        snprintf(scratch, sizeof scratch, "%s.scratch.%d.gguf", log_path, rank);
    else
        snprintf(scratch, sizeof scratch, "%s.scratch.gguf", log_path);
    sibling(in, ".sft.tsv", sft_default, sizeof sft_default);
    if (!sft_log && access(sft_default, R_OK) == 0) sft_log = sft_default;

    threadpool *pool = threadpool_new(n_threads);
    tmodel *m = NULL, *ref = NULL;
    tstate *st = tstate_new(), *ref_st = tstate_new();
    adamw opt = {0};
    int rc = 1;
    if (!pool || !st || !ref_st) goto done;
    if (tio_load(in, pool, &m, NULL, err) || tio_load(in, pool, &ref, NULL, err) ||
        adamw_init(&opt, m, &ap, err)) {
        fprintf(stderr, "r1 grpo: %s\n", err);
        goto done;
    }
    FILE *log = root ? fopen(log_path, "w") : fopen("/dev/null", "w"); /* ranks > 0 log nowhere */
    if (!log) {
        fprintf(stderr, "r1 grpo: cannot write %s\n", log_path);
        goto done;
    }
    fprintf(log, "step\treward\taccuracy\tformat\tlength\tkl\tloss\tclip_frac\tgrad_norm\tt_sample"
                 "\tt_train\theldout_acc\tmtp_loss\tmtp_acc\n");
    if (root)
        fprintf(stderr, "r1 grpo: %s, %d prompts x %d samples per step, %d threads%s", in,
                gp.n_prompts, gp.group_size, n_threads,
                m->cfg.n_mtp && gp.mtp_lambda > 0 ? ", MTP module trained along" : "");
    if (root && n_ranks > 1)
        fprintf(stderr, "; data parallel over %d ranks (%d threads each)", n_ranks, n_threads);
    if (root) fprintf(stderr, "\n");
    bool ok = true;
    for (int64_t step = 0; step < ap.total_steps && ok; step++) {
        grpo_stats gs;
        if (grpo_step(m, st, &opt, ref, ref_st, &gp, step, scratch, &gs, err)) {
            fprintf(stderr, "r1 grpo: step %lld: %s\n", (long long)step, err);
            ok = false;
            break;
        }
        double held = NAN;
        bool last = step + 1 == ap.total_steps;
        /* held-out accuracy: rank 0 alone, on the whole model (the others wait for it in the
         * next step's first collective, which has no timeout) */
        if (root && eval_tasks && eval_every && ((step + 1) % eval_every == 0 || last)) {
            tio_save_params sp = {"r1-tiny", DTYPE_F32, NULL, NULL, NULL};
            r1_model *em = NULL;
            r1_model_params mp = r1_model_params_default();
            mp.n_threads = 1;
            if (tio_save(m, scratch, &sp, err) || r1_model_load(scratch, &mp, &em, err)) {
                fprintf(stderr, "r1 grpo: %s\n", err);
                ok = false;
                break;
            }
            task_eval_params ep = task_eval_params_default();
            ep.n_problems = eval_n;
            ep.n_threads = n_threads;
            int correct = 0, total = 0;
            for (int k = 0; k < eval_mix.n && ok; k++) {
                task_eval_result r;
                if (task_eval(em, &eval_mix.spec[k], &ep, &r, err)) {
                    fprintf(stderr, "r1 grpo: %s\n", err);
                    ok = false;
                }
                correct += r.n_correct;
                total += r.n;
            }
            r1_model_free(em);
            held = total ? (double)correct / total : NAN;
        }
        if (!root) continue;
        char mtp_text[64] = "";
        if (!isnan(gs.mtp_loss))
            snprintf(mtp_text, sizeof mtp_text, "  mtp %.3f acc %.3f", gs.mtp_loss, gs.mtp_acc);
        fprintf(stderr,
                "step %4lld  reward %.3f  acc %.3f  format %.2f  len %.1f  kl %.4f  clip %.3f  "
                "groups %d/%d%s  |g| %.3f  sample %.1fs train %.1fs%s",
                (long long)step + 1, gs.reward, gs.accuracy, gs.format, gs.mean_len, gs.kl,
                gs.clip_frac, gs.n_groups_kept, gp.n_prompts, mtp_text, gs.grad_norm, gs.t_sample,
                gs.t_train, isnan(held) ? "\n" : "");
        if (!isnan(held)) fprintf(stderr, "  held-out %.3f\n", held);
        fprintf(log, "%lld\t%.4f\t%.4f\t%.4f\t%.2f\t%.5f\t%.8f\t%.4f\t%.8f\t%.2f\t%.2f\t",
                (long long)step + 1, gs.reward, gs.accuracy, gs.format, gs.mean_len,
                isnan(gs.kl) ? 0.0 : gs.kl, gs.loss, gs.clip_frac, gs.grad_norm, gs.t_sample,
                gs.t_train);
        if (isnan(held))
            fprintf(log, "-");
        else
            fprintf(log, "%.4f", held);
        if (isnan(gs.mtp_loss))
            fprintf(log, "\t-\t-\n");
        else
            fprintf(log, "\t%.5f\t%.4f\n", gs.mtp_loss, gs.mtp_acc);
        fflush(log);
    }
    fclose(log);
    unlink(scratch);
    if (!ok) goto done;
    if (n_ranks > 1) { /* the ranks applied the same updates: their weights must be the same bits */
        uint64_t hash;
        int bad;
        if (!dp_check_identical(cli_dist, m, &opt, &hash, &bad)) {
            if (bad >= 0 && root)
                fprintf(stderr, "r1 grpo: rank %d's weights differ from rank 0's\n", bad);
            goto done;
        }
        if (root)
            fprintf(stderr,
                    "r1 grpo: %d ranks, weights and optimizer state identical (hash %016llx)\n",
                    n_ranks, (unsigned long long)hash);
    }
    if (!root) {
        rc = 0;
        goto done;
    }
    tio_save_params sp = {"r1-tiny", DTYPE_F32, NULL, NULL, NULL};
    if (tio_save(m, out, &sp, err)) {
        fprintf(stderr, "r1 grpo: %s\n", err);
        goto done;
    }
    write_curves(out, log_path, sft_log);
    fprintf(stderr, "r1 grpo: wrote %s\n", out);
    rc = 0;
done:
    /* the other ranks may wait for this one in a collective without a timeout: end the job */
    if (rc && n_ranks > 1) dp_mark_failed(cli_dist, "r1 grpo failed on this rank");
    adamw_free(&opt);
    tstate_free(st);
    tstate_free(ref_st);
    tmodel_free(m);
    tmodel_free(ref);
    if (pool) threadpool_free(pool);
    return rc;
}
