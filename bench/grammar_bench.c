/* grammar_bench.c — what the token mask of constrained decoding costs per step, on a real
 * vocabulary (one thread).
 *
 *   grammar_bench TOKENIZER [SCHEMA_FILE]
 * TOKENIZER is a tokenizer.json or a .gguf. Without SCHEMA_FILE a typical structured-output schema
 * is used (nested object, array of objects, enums, strings, numbers, booleans). Builds the
 * vocabulary trie (timed), then runs 20 walks of at most 400 tokens from a fixed seed: at each
 * step the mask is computed (timed), then a token is chosen among the allowed ones — half of the
 * time uniformly, half of the time the allowed token that moves furthest out of a string or
 * number (a stand-in for a model that writes short values), so the walks visit every part of the
 * schema. Reports the trie build, the mask time per step (mean, median, p99, max), the share of
 * steps served from the per-state cache, and the first (uncached) mask inside a string body,
 * where every token but a few is allowed — the worst case. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static const char DEFAULT_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},"
    "\"age\":{\"type\":\"integer\"},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "\"role\":{\"enum\":[\"admin\",\"user\",\"guest\"]},"
    "\"active\":{\"type\":\"boolean\"},"
    "\"address\":{\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
    "\"city\":{\"type\":\"string\"},\"zip\":{\"type\":\"string\",\"maxLength\":10}},"
    "\"required\":[\"street\",\"city\",\"zip\"],\"additionalProperties\":false},"
    "\"scores\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"maxItems\":5},"
    "\"friends\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"since\":{\"type\":\"string\",\"format\":\"date\"}},"
    "\"required\":[\"name\",\"since\"],\"additionalProperties\":false},\"maxItems\":3}},"
    "\"required\":[\"name\",\"age\",\"email\",\"role\",\"active\",\"address\",\"scores\","
    "\"friends\"],\"additionalProperties\":false}";

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: grammar_bench TOKENIZER [SCHEMA_FILE]\n");
        return 2;
    }
    char err[R1_ERR_MAX];
    tokenizer *tok;
    if (tokenizer_load_path(argv[1], &tok, err) != R1_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char *schema = (char *)DEFAULT_SCHEMA;
    if (argc > 2) {
        FILE *f = fopen(argv[2], "rb");
        if (!f) return perror(argv[2]), 1;
        schema = calloc(1, 1 << 20);
        if (!schema || fread(schema, 1, (1 << 20) - 1, f) == 0) return fclose(f), 1;
        fclose(f);
    }
    int n = tokenizer_n_vocab(tok);
    const char **pieces = calloc((size_t)n, sizeof *pieces);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    bool *is_end = calloc((size_t)n, sizeof *is_end);
    int32_t eos = tokenizer_eos(tok);
    for (int i = 0; i < n; i++) {
        token_type t = tokenizer_token_type(tok, i);
        is_end[i] = i == eos;
        if (t == TOKEN_TYPE_NORMAL || t == TOKEN_TYPE_BYTE)
            pieces[i] = tokenizer_token_piece(tok, i, &lens[i]);
    }
    double t0 = now_ms();
    gvocab *v;
    if (gvocab_new(n, pieces, lens, is_end, &v, err) != R1_OK)
        return fprintf(stderr, "%s\n", err), 1;
    double t_trie = now_ms() - t0;
    grammar *g;
    t0 = now_ms();
    if (grammar_from_json_schema(schema, strlen(schema), &g, err) != R1_OK)
        return fprintf(stderr, "%s\n", err), 1;
    double t_grammar = now_ms() - t0;

    int words = (n + 31) / 32;
    uint32_t *bits = malloc((size_t)words * sizeof *bits);
    int32_t *allowed = malloc((size_t)n * sizeof *allowed);
    int cap = 20 * 400;
    double *times = malloc((size_t)cap * sizeof *times);
    int n_steps = 0, n_cached = 0, n_done = 0;
    uint64_t rng = 42;
    double worst_string = 0;
    for (int walk = 0; walk < 20; walk++) {
        gmatch *m;
        if (gmatch_new(g, v, &m, err) != R1_OK) return fprintf(stderr, "%s\n", err), 1;
        for (int step = 0; step < 400; step++) {
            int masks_before;
            gmatch_stats(m, NULL, NULL, &masks_before);
            double a = now_ms();
            if (gmatch_mask(m, bits, err) != R1_OK) return fprintf(stderr, "%s\n", err), 1;
            double dt = now_ms() - a;
            int masks_after;
            gmatch_stats(m, NULL, NULL, &masks_after);
            times[n_steps++] = dt;
            n_cached += masks_after == masks_before; /* no walk: from the cache */
            int k = 0;
            for (int i = 0; i < n; i++)
                if (bits[i >> 5] >> (i & 31) & 1) allowed[k++] = i;
            if (walk == 0 && k > n / 2 && dt > worst_string) worst_string = dt;
            if (k == 0) break;
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            int32_t id = allowed[(rng >> 33) % (uint64_t)k];
            if (rng >> 63) {
                /* a token that leaves the value: contains '"' , ']' or '}' and is short */
                for (int j = 0; j < k; j++) {
                    size_t len;
                    const char *p = tokenizer_token_piece(tok, allowed[j], &len);
                    if (is_end[allowed[j]]) {
                        id = allowed[j];
                        break;
                    }
                    if (p && len <= 3 &&
                        (memchr(p, '"', len) || memchr(p, '}', len) || memchr(p, ']', len) ||
                         memchr(p, ',', len))) {
                        id = allowed[j];
                        break;
                    }
                }
            }
            if (is_end[id]) {
                n_done++;
                break;
            }
            if (!gmatch_accept_token(m, id)) return fprintf(stderr, "allowed token refused\n"), 1;
        }
        gmatch_free(m);
    }
    double sum = 0;
    for (int i = 0; i < n_steps; i++) sum += times[i];
    qsort(times, (size_t)n_steps, sizeof *times, cmp_d);
    printf("vocabulary: %d tokens from %s\n", n, argv[1]);
    printf("trie build: %.1f ms; schema → grammar: %.2f ms\n", t_trie, t_grammar);
    printf("mask per step over %d steps (%d walks, %d ended): mean %.3f ms, median %.3f ms, p99 "
           "%.3f ms, max %.3f ms; %.0f%% from the cache\n",
           n_steps, 20, n_done, sum / n_steps, times[n_steps / 2], times[n_steps * 99 / 100],
           times[n_steps - 1], 100.0 * n_cached / n_steps);
    printf("first mask in a string body (uncached, most tokens allowed): %.3f ms\n", worst_string);
    gvocab_free(v);
    grammar_free(g);
    tokenizer_free(tok);
    return 0;
}
