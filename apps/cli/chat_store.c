/* chat_store.c — the model store's paths and name resolution (see chat_store.h). */
#include "chat_store.h"
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Q4_K_M files of the R1 distills from bartowski's GGUF repositories (a common source that
 * ollama-style tools point at). Hugging Face publishes each file's SHA-256 in the X-Linked-Etag
 * header of the resolve URL, which `r1 pull` checks, so no hash is written down here. */
const store_builtin store_builtins[] = {
    {"deepseek-r1:1.5b", "bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF",
     "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf", "R1-Distill-Qwen-1.5B, Q4_K_M (1.1 GB)"},
    {"deepseek-r1:7b", "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF",
     "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", "R1-Distill-Qwen-7B, Q4_K_M (4.7 GB)"},
    {"deepseek-r1:8b", "bartowski/DeepSeek-R1-Distill-Llama-8B-GGUF",
     "DeepSeek-R1-Distill-Llama-8B-Q4_K_M.gguf", "R1-Distill-Llama-8B, Q4_K_M (4.9 GB)"},
    {"deepseek-r1:14b", "bartowski/DeepSeek-R1-Distill-Qwen-14B-GGUF",
     "DeepSeek-R1-Distill-Qwen-14B-Q4_K_M.gguf", "R1-Distill-Qwen-14B, Q4_K_M (9.0 GB)"},
    {"deepseek-r1:32b", "bartowski/DeepSeek-R1-Distill-Qwen-32B-GGUF",
     "DeepSeek-R1-Distill-Qwen-32B-Q4_K_M.gguf", "R1-Distill-Qwen-32B, Q4_K_M (19.9 GB)"},
};
const size_t store_n_builtins = sizeof store_builtins / sizeof store_builtins[0];

const store_builtin *store_builtin_find(const char *name)
{
    for (size_t i = 0; i < store_n_builtins; i++)
        if (!strcmp(store_builtins[i].name, name)) return &store_builtins[i];
    /* "deepseek-r1" alone means the smallest, as `ollama run deepseek-r1` would pick a default */
    if (!strcmp(name, "deepseek-r1")) return &store_builtins[0];
    return NULL;
}

const char *store_home(void)
{
    static char buf[PATH_MAX];
    const char *h = getenv("R1_HOME");
    if (h && h[0]) {
        snprintf(buf, sizeof buf, "%s", h);
    } else {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0])
            snprintf(buf, sizeof buf, "%s/r1", xdg);
        else
            snprintf(buf, sizeof buf, "%s/.local/share/r1", home && home[0] ? home : ".");
    }
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    return buf;
}

const char *store_models_dir(void)
{
    static char buf[PATH_MAX + 8];
    snprintf(buf, sizeof buf, "%s/models", store_home());
    return buf;
}

bool store_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return false;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return false;
        *p = '/';
    }
    return !mkdir(tmp, 0755) || errno == EEXIST;
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

bool store_file_name(const char *name, char *out, size_t out_size)
{
    const char *start = name, *end = name + strlen(name);
    if (is_url(name)) {
        const char *q = strpbrk(name, "?#");
        if (q) end = q;
        while (end > name && end[-1] == '/') end--;
        start = end;
        while (start > name && start[-1] != '/') start--;
    }
    size_t n = 0;
    for (const char *p = start; p < end && n + 6 < out_size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[n++] = ok ? c : '-';
    }
    out[n] = 0;
    while (n && (out[0] == '.' || out[0] == '-')) memmove(out, out + 1, n--);
    if (!n) return false;
    if (n < 5 || strcmp(out + n - 5, ".gguf")) {
        if (n + 6 > out_size) return false;
        memcpy(out + n, ".gguf", 6);
    }
    return true;
}

bool store_parse_hf_ref(const char *arg, store_hf_ref *out)
{
    static const char *const prefixes[] = {"hf.co/", "huggingface.co/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(arg, prefixes[i], strlen(prefixes[i]))) arg += strlen(prefixes[i]);
    const char *slash = strchr(arg, '/'), *colon = strchr(arg, ':');
    if (!slash || strchr(slash + 1, '/') || (colon && colon < slash)) return false;
    const char *repo_end = colon ? colon : arg + strlen(arg);
    size_t n_user = (size_t)(slash - arg), n_repo = (size_t)(repo_end - slash - 1);
    size_t n_quant = colon ? strlen(colon + 1) : 0;
    if (!n_user || !n_repo || n_user >= sizeof out->user || n_repo >= sizeof out->repo ||
        (colon && !n_quant) || n_quant >= sizeof out->quant)
        return false;
    if (n_repo >= 5 && !strncasecmp(repo_end - 5, ".gguf", 5)) return false; /* a path */
    /* Hugging Face's own name rules: letters, digits, '-', '_', '.' */
    for (const char *p = arg; p < repo_end; p++)
        if (p != slash && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return false;
    memcpy(out->user, arg, n_user);
    out->user[n_user] = 0;
    memcpy(out->repo, slash + 1, n_repo);
    out->repo[n_repo] = 0;
    snprintf(out->quant, sizeof out->quant, "%s", colon ? colon + 1 : "Q4_K_M");
    for (char *p = out->quant; *p; p++) {
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    }
    snprintf(out->name, sizeof out->name, "%s/%s:%s", out->user, out->repo, out->quant);
    return true;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool store_resolve_model(const char *arg, char *out, size_t out_size)
{
    if (exists(arg)) {
        snprintf(out, out_size, "%s", arg);
        return true;
    }
    char file[256];
    store_hf_ref hf;
    if (store_parse_hf_ref(arg, &hf)) { /* pulled from a Hugging Face repository */
        if (store_file_name(hf.name, file, sizeof file) &&
            snprintf(out, out_size, "%s/%s", store_models_dir(), file) < (int)out_size &&
            exists(out))
            return true;
        fprintf(stderr,
                "%s: no file or folder '%s', and no model pulled under that name; if it names a "
                "Hugging Face repository, get it with\n  r1 pull %s\n",
                cli_cmd, arg, arg);
        out[0] = 0;
        return false;
    }
    if (!is_url(arg) && store_file_name(arg, file, sizeof file)) {
        const store_builtin *b = store_builtin_find(arg);
        if (b) store_file_name(b->name, file, sizeof file);
        if (snprintf(out, out_size, "%s/%s", store_models_dir(), file) < (int)out_size &&
            exists(out))
            return true;
        if (b) {
            fprintf(stderr,
                    "%s: model '%s' is not downloaded yet. Get it with\n"
                    "  r1 pull %s\n",
                    cli_cmd, arg, b->name);
            return false;
        }
    }
    if (strchr(arg, '/') && !is_url(arg))
        fprintf(stderr, "%s: cannot open model '%s': no such file or folder\n", cli_cmd, arg);
    else if (is_url(arg))
        fprintf(stderr, "%s: '%s' is a URL: download it first with `r1 pull %s`\n", cli_cmd, arg,
                arg);
    else
        fprintf(stderr,
                "%s: no file or stored model named '%s' (stored models: `r1 list`; "
                "downloadable names: `r1 pull --help`)\n",
                cli_cmd, arg);
    out[0] = 0;
    return false;
}

/* The directory holding the running binary (for models/r1-tiny.gguf of its source tree). */
static bool exe_dir(char *out, size_t out_size)
{
    ssize_t n = readlink("/proc/self/exe", out, out_size - 1);
    if (n <= 0) return false;
    out[n] = 0;
    char *slash = strrchr(out, '/');
    if (!slash) return false;
    *slash = 0;
    return true;
}

bool store_default_model(char *out, size_t out_size)
{
    char dir[PATH_MAX];
    snprintf(out, out_size, "%s/default.gguf", store_models_dir());
    if (exists(out)) return true;
    if (exe_dir(dir, sizeof dir)) {
        /* build/r1 -> ../models/r1-tiny.gguf; installed next to models/ also works */
        const char *rel[] = {"/../models/r1-tiny.gguf", "/models/r1-tiny.gguf"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(out, out_size, "%s%s", dir, rel[i]);
            if (exists(out)) return true;
        }
    }
    snprintf(out, out_size, "models/r1-tiny.gguf");
    if (exists(out)) return true;
    out[0] = 0;
    return false;
}
