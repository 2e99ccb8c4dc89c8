/* common.c — helpers shared by the subcommands (see common.h). */
#include "common.h"

#include "tools/info.h"

#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *cli_cmd = "r1";

bool cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s expects an integer in [%ld, %ld], got '%s'\n", cli_cmd, opt, lo, hi,
                s);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cli_parse_float(const char *opt, const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || v != v) {
        fprintf(stderr, "%s: %s expects a number, got '%s'\n", cli_cmd, opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float_range(const char *opt, const char *s, float lo, float hi, float *out)
{
    float v;
    if (!cli_parse_float(opt, s, &v)) return false;
    if (v < lo || v > hi) {
        fprintf(stderr, "%s: %s expects a number from %g to %g, got '%s'\n", cli_cmd, opt,
                (double)lo, (double)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "%s: %s expects a non-negative integer, got '%s'\n", cli_cmd, opt, s);
        return false;
    }
    *out = v;
    return true;
}

int cli_missing_value(const char *opt)
{
    fprintf(stderr, "%s: option %s needs a value (see `%s --help`)\n", cli_cmd, opt, cli_cmd);
    return 2;
}

int cli_unknown_option(const char *arg)
{
    if (arg[0] == '-' && arg[1])
        fprintf(stderr, "%s: unknown option %s (see `%s --help`)\n", cli_cmd, arg, cli_cmd);
    else
        fprintf(stderr, "%s: unexpected argument '%s' (see `%s --help`)\n", cli_cmd, arg, cli_cmd);
    return 2;
}

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_missing_value(argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

void cli_log(r1_log_level level, const char *msg, void *user)
{
    bool verbose = user != NULL;
    if (level >= R1_LOG_WARN || verbose)
        fprintf(stderr, "%s%s\n",
                level >= R1_LOG_ERROR  ? "error: "
                : level == R1_LOG_WARN ? "warning: "
                                       : "",
                msg);
}

const char *cli_load_type = NULL;
r1_dist *cli_dist = NULL;
bool cli_use_mmap = true;

/* A loader message, with what to do when the file was cut short (a broken download). */
static void print_load_error(const char *err)
{
    fprintf(stderr, "%s: cannot load model: %s\n", cli_cmd, err);
    if (strstr(err, "looks truncated"))
        fprintf(stderr,
                "%s: the download was probably cut short: download it again with `r1 pull` "
                "(add --force if it is in the store)\n",
                cli_cmd);
}

static bool not_a_model(const char *path)
{
    fprintf(stderr, "%s: %s is not a model: expected a GGUF file or a Hugging Face folder\n",
            cli_cmd, path);
    return false;
}

bool cli_check_model(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "%s: cannot open model '%s': %s\n", cli_cmd, path, strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        char cfg[PATH_MAX + 16];
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        return access(cfg, F_OK) == 0 ? true : not_a_model(path);
    }
    if (!S_ISREG(st.st_mode)) return true; /* pipes, devices: the loader says what it thinks */
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (!f) {
        fprintf(stderr, "%s: cannot open model '%s': %s\n", cli_cmd, path, strerror(errno));
        return false;
    }
    if (n < 4 || memcmp(magic, "GGUF", 4)) return not_a_model(path);
    /* the header (mapped, not read whole) says whether the file is complete */
    char err[R1_ERR_MAX];
    if (tools_gguf_check(path, err)) {
        print_load_error(err);
        return false;
    }
    return true;
}

r1_model *cli_load_model(const char *path, int n_threads, bool verbose)
{
    if (!cli_check_model(path)) return NULL;
    r1_model_params mp = r1_model_params_default();
    mp.load_type = cli_load_type ? cli_load_type : getenv("R1_LOAD_TYPE");
    mp.n_threads = n_threads;
    mp.use_mmap = cli_use_mmap;
    mp.log_fn = cli_log;
    mp.log_user = verbose ? (void *)1 : NULL;
    r1_model *model = NULL;
    char err[R1_ERR_MAX];
    mp.dist = r1_dist_size(cli_dist) > 1 ? cli_dist : NULL;
    r1_status st = r1_model_load(path, &mp, &model, err);
    if (st != R1_OK) {
        if (r1_dist_rank(cli_dist) == 0) print_load_error(err);
        if (r1_dist_size(cli_dist) > 1) { /* the other ranks failed the same way, or wait */
            r1_dist_finalize(cli_dist);
            exit(1);
        }
        return NULL;
    }
    if (r1_dist_rank(cli_dist) > 0) {
        /* a worker: take part in rank 0's forward passes until it frees the model */
        st = r1_dist_worker_run(model, err);
        if (st) fprintf(stderr, "%s: %s\n", cli_cmd, err);
        r1_model_free(model);
        r1_dist_finalize(cli_dist);
        exit(st ? 1 : 0);
    }
    return model;
}

uint64_t cli_random_seed(void)
{
    /* 32 bits, as llama.cpp's: short enough to retype, exact in a JSON number (/save) */
    uint32_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed) return seed;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec * 2654435761u ^
                      (uint64_t)getpid() << 16);
}

const char *cli_fmt_count(double n, char *buf, size_t cap)
{
    return tools_fmt_count(n, buf, cap);
}

const char *cli_fmt_bytes(double n, char *buf, size_t cap)
{
    return tools_fmt_bytes(n, buf, cap);
}

char *cli_json_print(const cJSON *item)
{
    char *text = cJSON_Print(item);
    if (!text) return NULL;
    /* cJSON indents with tabs and puts one after each colon; strings carry tabs escaped, so
     * every raw tab is layout */
    size_t n_tabs = 0;
    for (const char *p = text; *p; p++) n_tabs += *p == '\t';
    char *out = malloc(strlen(text) + n_tabs + 1);
    if (!out) {
        free(text);
        return NULL;
    }
    char *o = out;
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (*p == '\t') {
            *o++ = ' ';
            if (line_start) *o++ = ' ';
            continue;
        }
        line_start = *p == '\n';
        *o++ = *p;
    }
    *o = 0;
    free(text);
    return out;
}

double cli_round(double v, int decimals)
{
    double scale = pow(10, decimals);
    return round(v * scale) / scale;
}

int32_t *cli_parse_ids(const char *s, int *out_n)
{
    int cap = 16, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    const char *p = s;
    while (ids && *p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',' && *end != ' ')) {
            fprintf(stderr, "%s: bad token id list near '%s'\n", cli_cmd, p);
            free(ids);
            return NULL;
        }
        if (n == cap) {
            cap *= 2;
            int32_t *t = realloc(ids, (size_t)cap * sizeof *ids);
            if (!t) {
                free(ids);
                return NULL;
            }
            ids = t;
        }
        ids[n++] = (int32_t)v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    if (ids && n == 0) {
        fprintf(stderr, "%s: empty token id list\n", cli_cmd);
        free(ids);
        return NULL;
    }
    *out_n = n;
    return ids;
}

bool cli_parse_cache_type(const char *s, r1_cache_type *out)
{
    if (!strcmp(s, "f32") || !strcmp(s, "F32")) {
        *out = R1_CACHE_F32;
    } else if (!strcmp(s, "f16") || !strcmp(s, "F16")) {
        *out = R1_CACHE_F16;
    } else if (!strcmp(s, "bf16") || !strcmp(s, "BF16")) {
        *out = R1_CACHE_BF16;
    } else if (!strcmp(s, "q8_0") || !strcmp(s, "Q8_0")) {
        *out = R1_CACHE_Q8_0;
    } else {
        fprintf(stderr, "%s: --cache-type expects f32, f16, bf16 or q8_0, got '%s'\n", cli_cmd, s);
        return false;
    }
    return true;
}

bool cli_parse_mtp(const char *s, r1_mtp_mode *out)
{
    if (!strcmp(s, "on"))
        *out = R1_MTP_ON;
    else if (!strcmp(s, "off"))
        *out = R1_MTP_OFF;
    else if (!strcmp(s, "auto"))
        *out = R1_MTP_AUTO;
    else {
        fprintf(stderr, "%s: --mtp expects on, off or auto, got '%s'\n", cli_cmd, s);
        return false;
    }
    return true;
}
