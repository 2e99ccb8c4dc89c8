/* cmd_pull.c — `r1 pull`, `r1 list`, `r1 rm`: the local model store (chat_store.h).
 *
 * pull downloads with libcurl into models/NAME.gguf.part, resuming from the part's size with an
 * HTTP Range request (a server that ignores the range sends 200 and the part restarts at 0), and
 * hashes the bytes with SHA-256 as they arrive. Only when the transfer is complete, the file starts
 * with the GGUF magic and the hash matches (when one is known: --sha256, or the X-Linked-Etag that
 * Hugging Face sends for stored files) is the part renamed to NAME.gguf: a file with the final name
 * is always complete. A wrong hash deletes the part, since its bytes cannot be trusted to resume.
 *
 * SHA-256 comes from OpenSSL's libcrypto, which libcurl already loads for HTTPS: it uses the
 * SHA-NI/AVX2 code paths (about 2 GB/s, several times a portable C version), which matters when
 * a resumed multi-GB part is re-hashed before the rest arrives. */
#include "chat_store.h"
#include "cli.h"
#include "common.h"

#include "tools/merge.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void human_bytes(double b, char *out, size_t n)
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) {
        b /= 1000;
        i++;
    }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* ---- one download ------------------------------------------------------------------------------
 */

typedef struct download {
    const char *part_path;
    FILE *f;
    EVP_MD_CTX *sha;
    long long offset;      /* bytes in the part file before this transfer */
    long long written;     /* bytes written by this transfer */
    long long total;       /* expected size of the whole file, -1 if unknown */
    char linked_etag[65];  /* X-Linked-Etag (Hugging Face's SHA-256 of the file), or "" */
    long long linked_size; /* X-Linked-Size, or -1 */
    bool tty;
    long long announced_resume; /* the offset "resuming at" was last printed for */
    double t_start, t_last_draw;
    char io_error[256];
} download;

static bool is_hex64(const char *s, size_t n)
{
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

static size_t on_header(char *buf, size_t size, size_t n, void *user)
{
    download *d = user;
    size_t len = size * n;
    const char *k = "x-linked-etag:", *ks = "x-linked-size:";
    if (len > strlen(k) && !strncasecmp(buf, k, strlen(k))) {
        const char *v = buf + strlen(k);
        while (*v == ' ' || *v == 'W' || *v == '/' || *v == '"') v++;
        size_t m = 0;
        while (v + m < buf + len && v[m] != '"' && v[m] != '\r' && v[m] != '\n') m++;
        if (is_hex64(v, m)) {
            for (size_t i = 0; i < 64; i++) d->linked_etag[i] = (char)(v[i] | 0x20);
            d->linked_etag[64] = 0;
        }
    } else if (len > strlen(ks) && !strncasecmp(buf, ks, strlen(ks))) {
        d->linked_size = strtoll(buf + strlen(ks), NULL, 10);
    }
    return len;
}

/* Hash the first `bytes` of the part file into a fresh context. */
static bool hash_part(download *d, long long bytes)
{
    EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL);
    FILE *f = fopen(d->part_path, "rb");
    if (!f) return bytes == 0;
    static unsigned char buf[1 << 20];
    long long left = bytes;
    while (left > 0) {
        size_t want = left < (long long)sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (!got) break;
        EVP_DigestUpdate(d->sha, buf, got);
        left -= (long long)got;
    }
    fclose(f);
    return left == 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *user)
{
    download *d = user;
    size_t len = size * n;
    if (fwrite(buf, 1, len, d->f) != len) {
        snprintf(d->io_error, sizeof d->io_error, "cannot write %s: %s", d->part_path,
                 strerror(errno));
        return 0;
    }
    EVP_DigestUpdate(d->sha, buf, len);
    d->written += (long long)len;
    return len;
}

static void draw_progress(download *d, bool final)
{
    double t = now_s();
    if (!d->tty || (!final && t - d->t_last_draw < 0.2)) return;
    d->t_last_draw = t;
    long long have = d->offset + d->written;
    double el = t - d->t_start, rate = el > 0 ? (double)d->written / el : 0;
    char a[32], b[32], r[32];
    human_bytes((double)have, a, sizeof a);
    human_bytes(rate, r, sizeof r);
    if (d->total > 0) {
        double frac = (double)have / (double)d->total;
        if (frac > 1) frac = 1;
        char bar[26];
        int w = (int)(frac * 25);
        for (int i = 0; i < 25; i++) bar[i] = i < w ? '#' : '.';
        bar[25] = 0;
        human_bytes((double)d->total, b, sizeof b);
        double eta = rate > 0 ? (double)(d->total - have) / rate : 0;
        fprintf(stderr, "\r%3d%% [%s] %s / %s  %s/s  ETA %d:%02d:%02d \033[K", (int)(frac * 100),
                bar, a, b, r, (int)eta / 3600, (int)eta / 60 % 60, (int)eta % 60);
    } else {
        fprintf(stderr, "\r%s  %s/s \033[K", a, r);
    }
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    download *d = user;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (dltotal > 0 && d->total < 0) d->total = d->offset + dltotal;
    draw_progress(d, false);
    return g_interrupted ? 1 : 0; /* non-zero: libcurl stops with CURLE_ABORTED_BY_CALLBACK */
}

/* "\r" and "erase to the end of the line" only where they mean something: on a terminal. */
static const char *cr(const download *d)
{
    return d->tty ? "\r" : "";
}

static const char *erase(const download *d)
{
    return d->tty ? "\033[K" : "";
}

typedef enum attempt_result {
    ATTEMPT_DONE,        /* the part holds the whole file */
    ATTEMPT_RETRY,       /* the connection broke: resume later */
    ATTEMPT_UNREACHABLE, /* no connection at all (refused, no such host): a few quick tries */
    ATTEMPT_INTERRUPTED, /* Ctrl-C */
    ATTEMPT_FATAL,       /* HTTP error or local error: stop */
    ATTEMPT_RESTART,     /* the part was dropped (no range support): go again at once */
} attempt_result;

static attempt_result attempt(download *d, const char *url, char *err, size_t err_size)
{
    struct stat st;
    d->offset = stat(d->part_path, &st) == 0 ? (long long)st.st_size : 0;
    d->written = 0;
    d->total = -1;
    d->io_error[0] = 0;
    if (!hash_part(d, d->offset)) {
        snprintf(err, err_size, "cannot read %s", d->part_path);
        return ATTEMPT_FATAL;
    }
    if (d->offset > 0 && d->offset != d->announced_resume) {
        char have[32];
        human_bytes((double)d->offset, have, sizeof have);
        fprintf(stderr, "%sresuming at %s%s\n", cr(d), have, erase(d));
        d->announced_resume = d->offset;
    }
    d->f = fopen(d->part_path, "ab");
    if (!d->f) {
        snprintf(err, err_size, "cannot write %s: %s", d->part_path, strerror(errno));
        return ATTEMPT_FATAL;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        fclose(d->f);
        snprintf(err, err_size, "cannot initialize libcurl");
        return ATTEMPT_FATAL;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    const char *token = getenv("HF_TOKEN");
    if (token && token[0] && strstr(url, "huggingface.co/")) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "r1/0.1 (libcurl)");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a stalled connection (under 1 byte/s for a minute) counts as broken */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (d->offset > 0) curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->offset);

    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    bool close_ok = fflush(d->f) == 0 && fsync(fileno(d->f)) == 0;
    close_ok = fclose(d->f) == 0 && close_ok;
    d->f = NULL;
    draw_progress(d, false);

    if (rc == CURLE_ABORTED_BY_CALLBACK && g_interrupted) return ATTEMPT_INTERRUPTED;
    if (d->io_error[0]) {
        snprintf(err, err_size, "%s", d->io_error);
        return ATTEMPT_FATAL;
    }
    if (!close_ok) {
        snprintf(err, err_size, "cannot write %s: %s", d->part_path, strerror(errno));
        return ATTEMPT_FATAL;
    }
    if (rc == CURLE_OK) return ATTEMPT_DONE;
    if (rc == CURLE_RANGE_ERROR && d->offset > 0) {
        /* the server answered a range request with the whole file: start again from 0 */
        if (unlink(d->part_path) && errno != ENOENT) {
            snprintf(err, err_size, "cannot remove %s: %s", d->part_path, strerror(errno));
            return ATTEMPT_FATAL;
        }
        fprintf(stderr, "%sthe server cannot resume downloads; starting over%s\n", cr(d), erase(d));
        return ATTEMPT_RESTART;
    }
    if (code == 416 && d->offset > 0) {
        /* the range starts at the end: the part already holds the whole file */
        return ATTEMPT_DONE;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        snprintf(err, err_size, "the server answered HTTP %ld", code); /* the URL is shown once */
        bool transient = code == 408 || code == 429 || code >= 500;
        return transient ? ATTEMPT_RETRY : ATTEMPT_FATAL;
    }
    snprintf(err, err_size, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
        return ATTEMPT_UNREACHABLE;
    bool broken = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
                  rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
                  rc == CURLE_SEND_ERROR || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
    return broken ? ATTEMPT_RETRY : ATTEMPT_FATAL;
}

static void pull_usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 pull - download a GGUF model into the local store\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 pull NAME|USER/REPO[:QUANT]|URL [--sha256 HEX] [--retries N] [--force]\n"
            "\n"
            "DESCRIPTION\n"
            "    Downloads to %s (set R1_HOME to move the store) as\n"
            "    NAME.gguf.part, with a progress bar; an interrupted download resumes where it\n"
            "    stopped when the same command runs again. The file is checked (GGUF magic,\n"
            "    SHA-256 when known) and only then renamed to NAME.gguf.\n"
            "\n"
            "    NAME is one of:\n",
            store_models_dir());
    for (size_t i = 0; i < store_n_builtins; i++)
        fprintf(f, "      %-18s %s\n", store_builtins[i].name, store_builtins[i].description);
    fprintf(f, "    or a Hugging Face GGUF repository as hf.co/USER/REPO[:QUANT] or\n"
               "    USER/REPO[:QUANT] (QUANT defaults to Q4_K_M; the repository's file of that\n"
               "    quantization is found in its listing, a split one is fetched shard by shard\n"
               "    and joined into one GGUF; `r1 run -m USER/REPO:QUANT` then runs it),\n"
               "    or any http(s) URL of a .gguf file (stored under the URL's file name).\n"
               "\n"
               "OPTIONS\n"
               "    --sha256 HEX    expected SHA-256 of the file; without it the X-Linked-Etag of\n"
               "                    Hugging Face is used when the server sends one\n"
               "    --retries N     resume automatically after a broken connection up to N times\n"
               "                    (default 5)\n"
               "    --force         download again even if the model is already stored\n"
               "\n"
               "ENVIRONMENT\n"
               "    R1_HOME         the store (default ~/.local/share/r1)\n"
               "    HF_ENDPOINT     Hugging Face mirror for the built-in names "
               "(default https://huggingface.co)\n"
               "    HF_TOKEN        sent to huggingface.co for gated repositories\n"
               "\n"
               "EXIT STATUS\n"
               "    0 stored (or already there), 1 download or verification failed (an\n"
               "    interrupted download keeps its .part to resume), 2 bad usage.\n"
               "\n"
               "SEE ALSO\n"
               "    r1 list, r1 rm, r1 run -m NAME\n");
}

static int remove_part(const char *part)
{
    return unlink(part) == 0 || errno == ENOENT;
}

/* ---- Hugging Face repositories: USER/REPO:QUANT -> the file(s) of that quantization ---------- */

typedef struct membuf {
    char *data;
    size_t n, cap;
    bool oom;
} membuf;

static size_t on_mem(char *buf, size_t size, size_t n, void *user)
{
    membuf *m = user;
    size_t len = size * n;
    if (m->n + len + 1 > m->cap) {
        size_t cap = (m->n + len + 1) * 2;
        char *t = cap <= (64u << 20) ? realloc(m->data, cap) : NULL; /* a listing, not a model */
        if (!t) {
            m->oom = true;
            return 0;
        }
        m->data = t;
        m->cap = cap;
    }
    memcpy(m->data + m->n, buf, len);
    m->n += len;
    m->data[m->n] = 0;
    return len;
}

/* GET url into memory (HF_TOKEN sent to Hugging Face); NULL and err on failure. */
static char *http_get(const char *url, char *err, size_t err_size)
{
    membuf m = {0};
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, err_size, "cannot initialize libcurl");
        return NULL;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    const char *token = getenv("HF_TOKEN");
    if (token && token[0]) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "r1/0.1 (libcurl)");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_mem);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK && !m.oom && m.data) return m.data;
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        snprintf(err, err_size, "the server answered HTTP %ld%s", code,
                 code == 401 || code == 403 ? " (a gated or private repository: set HF_TOKEN)"
                 : code == 404              ? " (no such repository)"
                                            : "");
    else
        snprintf(err, err_size, "%s",
                 m.oom         ? "the listing is too large"
                 : curl_err[0] ? curl_err
                               : curl_easy_strerror(rc));
    free(m.data);
    return NULL;
}

/* Whether path names the quantization q (upper case): q appears with no letter or digit before
 * it and none of letter, digit or '_' after it, so Q4_K does not match Q4_K_M nor IQ4_K. */
static bool names_quant(const char *path, const char *q)
{
    size_t n = strlen(q);
    for (const char *p = path; *p; p++) {
        if (strncasecmp(p, q, n)) continue;
        char before = p > path ? p[-1] : '/', after = p[n];
        bool alnum_before =
            (before >= '0' && before <= '9') || ((before | 0x20) >= 'a' && (before | 0x20) <= 'z');
        bool word_after = after == '_' || (after >= '0' && after <= '9') ||
                          ((after | 0x20) >= 'a' && (after | 0x20) <= 'z');
        if (!alnum_before && !word_after) return true;
    }
    return false;
}

/* "...-00002-of-00005.gguf": shard 2 of 5 (1-based); false for a file that is not split. */
static bool split_index(const char *path, int *out_k, int *out_n, size_t *out_stem)
{
    size_t len = strlen(path);
    const char *tail = "-00000-of-00000.gguf";
    if (len < strlen(tail)) return false;
    const char *t = path + len - strlen(tail);
    int k, n;
    char of[3];
    if (sscanf(t, "-%5d-%2[of]-%5d.gguf", &k, of, &n) != 3 || strcmp(of, "of") || k < 1 || n < 2 ||
        k > n)
        return false;
    *out_k = k;
    *out_n = n;
    *out_stem = (size_t)(t - path);
    return true;
}

static bool ends_with_gguf(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && !strcasecmp(s + n - 5, ".gguf");
}

/* The repository's files for ref->quant, in order (one file, or every shard of a split one);
 * malloc'd strings in *out_files. Returns their count, 0 after printing why there is none. */
static int hf_resolve(const char *endpoint, const store_hf_ref *ref, char ***out_files)
{
    char url[1024 + sizeof ref->user + sizeof ref->repo + 16], err[512];
    snprintf(url, sizeof url, "%s/api/models/%s/%s", endpoint, ref->user, ref->repo);
    char *body = http_get(url, err, sizeof err);
    if (!body) {
        fprintf(stderr, "r1 pull: cannot list %s/%s on %s: %s\n", ref->user, ref->repo, endpoint,
                err);
        return 0;
    }
    cJSON *root = cJSON_Parse(body);
    free(body);
    cJSON *sib = cJSON_GetObjectItem(root, "siblings");
    int n_sib = cJSON_IsArray(sib) ? cJSON_GetArraySize(sib) : 0;
    const char **match = calloc((size_t)n_sib + 1, sizeof *match);
    int n_match = 0, n_gguf = 0;
    for (int i = 0; match && i < n_sib; i++) {
        cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(sib, i), "rfilename");
        if (!cJSON_IsString(f) || !ends_with_gguf(f->valuestring)) continue;
        const char *base =
            strrchr(f->valuestring, '/') ? strrchr(f->valuestring, '/') + 1 : f->valuestring;
        if (!strncasecmp(base, "mmproj", 6)) continue; /* vision projectors, not the model */
        n_gguf++;
        if (names_quant(f->valuestring, ref->quant)) match[n_match++] = f->valuestring;
    }
    int n_out = 0;
    char **files = NULL;
    if (!cJSON_IsArray(sib)) {
        fprintf(stderr, "r1 pull: %s did not answer with a model listing\n", url);
    } else if (n_match == 0) {
        fprintf(stderr, "r1 pull: %s/%s has no %s GGUF file; its GGUF files:%s", ref->user,
                ref->repo, ref->quant, n_gguf ? "\n" : " none\n");
        for (int i = 0, shown = 0; i < n_sib && shown < 40; i++) {
            cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(sib, i), "rfilename");
            int k, n;
            size_t stem;
            if (!cJSON_IsString(f) || !ends_with_gguf(f->valuestring) ||
                (split_index(f->valuestring, &k, &n, &stem) && k != 1))
                continue;
            fprintf(stderr, "  %s\n", f->valuestring);
            shown++;
        }
        fprintf(stderr, "Name one with r1 pull %s/%s:QUANT\n", ref->user, ref->repo);
    } else {
        /* a single file wins; else the shards of the first split file, all of them in order */
        const char *single = NULL, *first = NULL;
        int k, n = 0;
        size_t stem = 0;
        for (int i = 0; i < n_match && !single; i++) {
            if (!split_index(match[i], &k, &n, &stem))
                single = match[i];
            else if (!first)
                first = match[i];
        }
        if (single) {
            files = malloc(sizeof *files);
            if (files && (files[0] = strdup(single))) n_out = 1;
        } else {
            split_index(first, &k, &n, &stem);
            files = calloc((size_t)n, sizeof *files);
            for (int i = 0; files && i < n_match; i++) {
                int ki, ni;
                size_t si;
                if (split_index(match[i], &ki, &ni, &si) && ni == n && si == stem &&
                    !strncmp(match[i], first, stem) && !files[ki - 1])
                    files[ki - 1] = strdup(match[i]);
            }
            n_out = n;
            for (int i = 0; files && i < n; i++)
                if (!files[i]) {
                    fprintf(stderr, "r1 pull: %s/%s lists shard %d of %d of %.*s missing\n",
                            ref->user, ref->repo, i + 1, n, (int)stem, first);
                    n_out = 0;
                }
        }
        if (!n_out && files) {
            for (int i = 0; i < n; i++) free(files[i]);
            free(files);
            files = NULL;
        }
    }
    free(match);
    cJSON_Delete(root);
    *out_files = files;
    return files ? n_out : 0;
}

/* Download url to final_path (through final_path.part, resumed when it exists), verified as the
 * file comment says. Returns 0 (stored; hex gets the SHA-256, *verified whether a published or
 * given one matched), 1 (failed, said why), 130 (Ctrl-C; the part is kept). */
static int fetch(const char *what, const char *url, const char *final_path, const char *sha_arg,
                 int retries, char hex[65], bool *verified)
{
    char part_path[PATH_MAX + 8];
    snprintf(part_path, sizeof part_path, "%s.part", final_path);
    struct stat st;
    download d = {.part_path = part_path,
                  .sha = EVP_MD_CTX_new(),
                  .linked_size = -1,
                  .tty = isatty(STDERR_FILENO),
                  .t_start = now_s()};
    int rc = 1;
    char err[512] = "";
    if (!d.sha) {
        fprintf(stderr, "r1 pull: cannot initialize SHA-256\n");
        goto out;
    }
    if (strcmp(what, url))
        fprintf(stderr, "pulling %s\n  from %s\n", what, url);
    else
        fprintf(stderr, "pulling %s\n", url);
    /* Ctrl-C stops the transfer between two chunks; the part stays for the next run */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    attempt_result ar = ATTEMPT_FATAL;
    /* a broken transfer resumes after 1, 2, 4... s; a server that cannot be reached at all is
     * tried UNREACHABLE_TRIES times, half a second apart, then the reason is given */
    enum { UNREACHABLE_TRIES = 3 };
    int n_unreachable = 0;
    for (int i = 0; i <= retries && !g_interrupted; i++) {
        ar = attempt(&d, url, err, sizeof err);
        if (ar == ATTEMPT_RESTART) ar = attempt(&d, url, err, sizeof err);
        if (ar == ATTEMPT_UNREACHABLE && ++n_unreachable < UNREACHABLE_TRIES) {
            struct timespec half = {0, 500000000L};
            nanosleep(&half, NULL);
            i--; /* not one of --retries, which are for broken transfers */
            continue;
        }
        if (ar != ATTEMPT_RETRY) break;
        if (i < retries) {
            unsigned delay = i < 5 ? 1u << i : 30u;
            fprintf(stderr, "%s%s; trying again in %u s%s\n", cr(&d), err, delay, erase(&d));
            for (unsigned k = 0; k < 10 * delay && !g_interrupted; k++) {
                struct timespec tenth = {0, 100000000L};
                nanosleep(&tenth, NULL);
            }
        }
    }
    if (g_interrupted) ar = ATTEMPT_INTERRUPTED;
    if (ar != ATTEMPT_DONE) {
        if (stat(part_path, &st) == 0 && st.st_size == 0) remove_part(part_path);
        if (ar == ATTEMPT_INTERRUPTED) {
            char have[32];
            human_bytes(stat(part_path, &st) == 0 ? (double)st.st_size : 0, have, sizeof have);
            fprintf(stderr,
                    "%sr1 pull: interrupted with %s received — run the same command to "
                    "resume\n",
                    d.tty ? "\n" : "", have);
            rc = 130;
        } else if (ar == ATTEMPT_UNREACHABLE) {
            fprintf(stderr, "r1 pull: cannot reach the server (%d tries): %s\n", n_unreachable,
                    err);
        } else if (ar == ATTEMPT_RETRY && stat(part_path, &st) == 0) {
            char have[32];
            human_bytes((double)st.st_size, have, sizeof have);
            fprintf(stderr,
                    "%sr1 pull: the connection broke (%s) with %s received — run the same "
                    "command to resume\n",
                    d.tty ? "\n" : "", err, have);
        } else {
            fprintf(stderr, "%sr1 pull: %s\n", d.tty ? "\n" : "", err);
        }
        goto out;
    }
    draw_progress(&d, true);

    /* verify: GGUF magic, expected size, SHA-256 */
    char magic[4] = {0};
    FILE *f = fopen(part_path, "rb");
    size_t got = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    stat(part_path, &st);
    if (got != 4 || memcmp(magic, "GGUF", 4)) {
        remove_part(part_path);
        fprintf(stderr,
                "r1 pull: %s did not send a GGUF file (it starts with \"%.4s\"); nothing was "
                "stored. Check the URL (a Hugging Face link must use /resolve/, not /blob/).\n",
                url, got ? magic : "");
        goto out;
    }
    if (d.linked_size >= 0 && (long long)st.st_size != d.linked_size) {
        remove_part(part_path);
        fprintf(stderr,
                "r1 pull: the file has %lld bytes but the server announced %lld; the download "
                "was deleted, try again\n",
                (long long)st.st_size, d.linked_size);
        goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(d.sha, md, &md_len);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char expected[65] = "";
    const char *source = NULL;
    if (sha_arg) {
        for (int i = 0; i < 64; i++) expected[i] = (char)(sha_arg[i] | 0x20);
        expected[64] = 0;
        source = "--sha256";
    } else if (d.linked_etag[0]) {
        memcpy(expected, d.linked_etag, 65);
        source = "the server (X-Linked-Etag)";
    }
    if (source && strcmp(expected, hex)) {
        remove_part(part_path);
        fprintf(stderr,
                "r1 pull: checksum mismatch: SHA-256 %s, but %s expects %s. The download was "
                "deleted; run the command again to download it afresh.\n",
                hex, source, expected);
        goto out;
    }
    if (rename(part_path, final_path)) {
        fprintf(stderr, "r1 pull: cannot rename %s to %s: %s\n", part_path, final_path,
                strerror(errno));
        goto out;
    }
    *verified = source != NULL;
    rc = 0;
out:
    EVP_MD_CTX_free(d.sha);
    return rc;
}

int cmd_pull(int argc, char **argv)
{
    const char *what = NULL, *sha_arg = NULL;
    int retries = 5;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            pull_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--sha256")) {
            if (!(sha_arg = cli_value(argc, argv, &i))) return 2;
            if (!is_hex64(sha_arg, strlen(sha_arg))) {
                fprintf(stderr, "r1 pull: --sha256 expects 64 hex digits\n");
                return 2;
            }
        } else if (!strcmp(a, "--retries")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1000, &retries))
                return 2;
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (a[0] == '-') {
            return cli_unknown_option(a);
        } else if (what) {
            fprintf(stderr, "r1 pull: one model at a time ('%s' and '%s')\n", what, a);
            return 2;
        } else {
            what = a;
        }
    }
    if (!what) {
        pull_usage(stderr);
        return 2;
    }

    char url[4096], file[256], ep[1024];
    snprintf(ep, sizeof ep, "%s",
             getenv("HF_ENDPOINT") && getenv("HF_ENDPOINT")[0] ? getenv("HF_ENDPOINT")
                                                               : "https://huggingface.co");
    for (size_t n = strlen(ep); n && ep[n - 1] == '/';) ep[--n] = 0;
    const store_builtin *b = store_builtin_find(what);
    store_hf_ref hf;
    bool is_hf = false;
    if (b) {
        snprintf(url, sizeof url, "%s/%s/resolve/main/%s", ep, b->hf_repo, b->hf_file);
        store_file_name(b->name, file, sizeof file);
    } else if (store_parse_hf_ref(what, &hf)) {
        is_hf = true; /* the file (or shards) of hf.quant, found in the repository's listing */
        store_file_name(hf.name, file, sizeof file);
    } else if (!strncmp(what, "http://", 7) || !strncmp(what, "https://", 8)) {
        snprintf(url, sizeof url, "%s", what);
        if (!store_file_name(what, file, sizeof file)) {
            fprintf(stderr, "r1 pull: cannot make a file name from '%s'\n", what);
            return 2;
        }
    } else {
        fprintf(stderr, "r1 pull: unknown model name '%s'. Known names:", what);
        for (size_t i = 0; i < store_n_builtins; i++)
            fprintf(stderr, "%s %s", i ? "," : "", store_builtins[i].name);
        fprintf(stderr, "\n(or USER/REPO[:QUANT] of a Hugging Face GGUF repository, or the http(s) "
                        "URL of a .gguf file)\n");
        return 2;
    }

    const char *dir = store_models_dir();
    if (!store_mkdirs(dir)) {
        fprintf(stderr, "r1 pull: cannot create %s: %s (set R1_HOME to another folder)\n", dir,
                strerror(errno));
        return 1;
    }
    char final_path[PATH_MAX];
    snprintf(final_path, sizeof final_path, "%s/%s", dir, file);
    struct stat st;
    if (!force && stat(final_path, &st) == 0) {
        char sz[32];
        human_bytes((double)st.st_size, sz, sizeof sz);
        printf("%s is already stored (%s, %s); `r1 rm %s` removes it, --force downloads it "
               "again\n",
               what, final_path, sz, b ? b->name : file);
        return 0;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    char hex[65] = "";
    bool verified = false;
    int rc = 1, n_files = 1;
    char **files = NULL;
    if (!is_hf) {
        rc = fetch(what, url, final_path, sha_arg, retries, hex, &verified);
    } else if ((n_files = hf_resolve(ep, &hf, &files)) == 1) {
        snprintf(url, sizeof url, "%s/%s/%s/resolve/main/%s", ep, hf.user, hf.repo, files[0]);
        rc = fetch(hf.name, url, final_path, sha_arg, retries, hex, &verified);
    } else if (n_files > 1) {
        /* a split model: every shard (each verified against Hugging Face's checksum, resumable,
         * kept until all are in), then joined into the one file r1 loads */
        char **paths = calloc((size_t)n_files, sizeof *paths);
        rc = paths ? 0 : 1;
        verified = true;
        for (int k = 0; !rc && k < n_files; k++) {
            char label[320], shard_hex[65];
            bool shard_verified = false;
            paths[k] = malloc(PATH_MAX + 64);
            if (!paths[k]) {
                rc = 1;
                break;
            }
            snprintf(paths[k], PATH_MAX + 64, "%s.shard-%d-of-%d", final_path, k + 1, n_files);
            if (stat(paths[k], &st) == 0) continue; /* from an earlier, interrupted run */
            snprintf(label, sizeof label, "%s (shard %d of %d)", hf.name, k + 1, n_files);
            snprintf(url, sizeof url, "%s/%s/%s/resolve/main/%s", ep, hf.user, hf.repo, files[k]);
            rc = fetch(label, url, paths[k], NULL, retries, shard_hex, &shard_verified);
            verified = verified && shard_verified;
        }
        if (!rc) {
            fprintf(stderr, "joining %d shards into %s\n", n_files, final_path);
            rc = tools_merge_shards((const char *const *)paths, n_files, final_path) ? 0 : 1;
        }
        for (int k = 0; paths && k < n_files; k++) {
            if (!rc && paths[k]) unlink(paths[k]);
            free(paths[k]);
        }
        free(paths);
        if (!rc && sha_arg) fprintf(stderr, "r1 pull: --sha256 is not checked for a split model\n");
    }
    for (int i = 0; files && i < n_files; i++) free(files[i]);
    free(files);
    curl_global_cleanup();
    if (rc) return rc;
    stat(final_path, &st);
    char sz[32];
    human_bytes((double)st.st_size, sz, sizeof sz);
    printf("stored %s (%s) as %s\n", is_hf ? hf.name : what, sz, final_path);
    if (hex[0] && n_files == 1)
        printf("sha256 %s%s\n", hex,
               verified ? " (verified)" : " (no published checksum to compare)");
    else
        printf("joined from %d shards, %s\n", n_files,
               verified ? "each verified" : "not all with a published checksum to compare");
    printf("chat with it: r1 run -m %s\n", b ? b->name : is_hf ? hf.name : file);
    return 0;
}

/* ---- list and rm --------------------------------------------------------------------------------
 */

/* The name `r1 run -m` takes for a stored file: the built-in name or the file name's stem. */
static void display_name(const char *file, char *out, size_t n)
{
    for (size_t i = 0; i < store_n_builtins; i++) {
        char f[256];
        if (store_file_name(store_builtins[i].name, f, sizeof f) && !strcmp(f, file)) {
            snprintf(out, n, "%s", store_builtins[i].name);
            return;
        }
    }
    size_t len = strlen(file);
    if (len > 5 && !strcmp(file + len - 5, ".gguf")) len -= 5;
    snprintf(out, n, "%.*s", (int)len, file);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_list(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("NAME\n    r1 list - show the models in the store\n\nSYNOPSIS\n    r1 list\n\n"
                   "DESCRIPTION\n    Lists the GGUF files in %s with their sizes; downloads\n"
                   "    still in progress are marked partial. Pass a NAME to `r1 run -m`.\n",
                   store_models_dir());
            return 0;
        }
        return cli_unknown_option(argv[i]);
    }
    const char *dir = store_models_dir();
    DIR *dp = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        bool gguf = len > 5 && !strcmp(e->d_name + len - 5, ".gguf");
        bool part = len > 10 && !strcmp(e->d_name + len - 10, ".gguf.part");
        if (!gguf && !part) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **t = realloc(names, cap * sizeof *t);
            if (!t) break;
            names = t;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    if (dp) closedir(dp);
    if (!n) {
        printf("No models in %s yet. Download one with\n  r1 pull deepseek-r1:1.5b\n", dir);
        free(names);
        return 0;
    }
    qsort(names, n, sizeof *names, cmp_str);
    printf("%-24s %10s  %-16s  %s\n", "NAME", "SIZE", "MODIFIED", "FILE");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], name[256], sz[32], when[32] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st)) continue;
        size_t len = strlen(names[i]);
        bool part = len > 10 && !strcmp(names[i] + len - 10, ".gguf.part");
        if (part) names[i][len - 5] = 0; /* name of the file it will become */
        display_name(names[i], name, sizeof name);
        if (part) strncat(name, " (partial)", sizeof name - strlen(name) - 1);
        human_bytes((double)st.st_size, sz, sizeof sz);
        struct tm tm;
        localtime_r(&st.st_mtime, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        printf("%-24s %10s  %-16s  %s\n", name, sz, when, path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return 0;
}

int cmd_rm(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: r1 rm NAME... (names as `r1 list` shows them)\n");
        return 2;
    }
    /* options first, so that a mistyped one deletes nothing */
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && strcmp(argv[i], "-h") && strcmp(argv[i], "--help"))
            return cli_unknown_option(argv[i]);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("NAME\n    r1 rm - delete models from the store\n\nSYNOPSIS\n    r1 rm "
                   "NAME...\n\nDESCRIPTION\n    Deletes %s/NAME.gguf and any partial download "
                   "of it.\n    Only files in the store are touched.\n",
                   store_models_dir());
            return 0;
        }
        char file[256], path[PATH_MAX], part[PATH_MAX + 8];
        const store_builtin *b = store_builtin_find(a);
        if (strchr(a, '/') || !store_file_name(b ? b->name : a, file, sizeof file)) {
            fprintf(stderr, "r1 rm: '%s' is not a stored model name (see `r1 list`)\n", a);
            rc = 1;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", store_models_dir(), file);
        snprintf(part, sizeof part, "%s.part", path);
        bool removed = unlink(path) == 0;
        bool removed_part = unlink(part) == 0;
        if (removed || removed_part) {
            printf("deleted %s%s\n", a, removed ? "" : " (partial download)");
        } else {
            fprintf(stderr, "r1 rm: no stored model '%s' (see `r1 list`)\n", a);
            rc = 1;
        }
    }
    return rc;
}
