/* common.c — helpers shared by the subcommands (see common.h). */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "r1: %s expects an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
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
        fprintf(stderr, "r1: %s expects a number, got '%s'\n", opt, s);
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
        fprintf(stderr, "r1: %s expects a non-negative integer, got '%s'\n", opt, s);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "r1: option %s needs a value\n", argv[*i]);
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
bool cli_use_mmap = true;

r1_model *cli_load_model(const char *path, int n_threads, bool verbose)
{
    r1_model_params mp = r1_model_params_default();
    mp.load_type = cli_load_type ? cli_load_type : getenv("R1_LOAD_TYPE");
    mp.n_threads = n_threads;
    mp.use_mmap = cli_use_mmap;
    mp.log_fn = cli_log;
    mp.log_user = verbose ? (void *)1 : NULL;
    r1_model *model = NULL;
    char err[R1_ERR_MAX];
    r1_status st = r1_model_load(path, &mp, &model, err);
    if (st != R1_OK) {
        fprintf(stderr, "r1: cannot load model: %s\n", err);
        return NULL;
    }
    return model;
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
            fprintf(stderr, "r1: bad token id list near '%s'\n", p);
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
        fprintf(stderr, "r1: empty token id list\n");
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
        fprintf(stderr, "r1: --cache-type expects f32, f16, bf16 or q8_0, got '%s'\n", s);
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
        fprintf(stderr, "r1: --mtp expects on, off or auto, got '%s'\n", s);
        return false;
    }
    return true;
}
