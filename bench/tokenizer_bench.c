/* tokenizer_bench.c — encoding throughput (MB/s, one thread) on a fixed 10 MB text.
 *
 *   tokenizer_bench TOKENIZER [TEXT_FILE]
 *   tokenizer_bench --write-text FILE     (write the generated text, e.g. to time the JS reference)
 * TOKENIZER is a tokenizer.json or a .gguf; without TEXT_FILE the text is generated here,
 * deterministically: 10,000,000 bytes of about 80% English-like prose (a 200-word list, with
 * capitals, punctuation, numbers and paragraphs), 10% C-like code with indentation and 10% Chinese
 * sentences, so runs on different machines measure the same input. Reports the best of 5 runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tokenizer/tokenizer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_BYTES 10000000

static const char *const words[] = {
    "the",       "of",      "and",     "to",        "in",        "is",       "that",
    "it",        "was",     "for",     "on",        "are",       "as",       "with",
    "his",       "they",    "at",      "be",        "this",      "from",     "have",
    "or",        "by",      "one",     "had",       "not",       "but",      "what",
    "all",       "were",    "when",    "we",        "there",     "can",      "an",
    "your",      "which",   "their",   "said",      "if",        "do",       "will",
    "each",      "about",   "how",     "up",        "out",       "them",     "then",
    "she",       "many",    "some",    "so",        "these",     "would",    "other",
    "into",      "has",     "more",    "her",       "two",       "like",     "him",
    "see",       "time",    "could",   "no",        "make",      "than",     "first",
    "been",      "its",     "who",     "now",       "people",    "my",       "made",
    "over",      "did",     "down",    "only",      "way",       "find",     "use",
    "may",       "water",   "long",    "little",    "very",      "after",    "words",
    "called",    "just",    "where",   "most",      "know",      "get",      "through",
    "back",      "much",    "before",  "go",        "good",      "new",      "write",
    "our",       "used",    "me",      "man",       "too",       "any",      "day",
    "same",      "right",   "look",    "think",     "also",      "around",   "another",
    "came",      "come",    "work",    "three",     "word",      "must",     "because",
    "does",      "part",    "even",    "place",     "well",      "such",     "here",
    "take",      "why",     "things",  "help",      "put",       "years",    "different",
    "away",      "again",   "off",     "went",      "old",       "number",   "great",
    "tell",      "men",     "say",     "small",     "every",     "found",    "still",
    "between",   "name",    "should",  "home",      "big",       "give",     "air",
    "line",      "set",     "own",     "under",     "read",      "last",     "never",
    "us",        "left",    "end",     "along",     "while",     "might",    "next",
    "sound",     "below",   "saw",     "something", "thought",   "both",     "few",
    "those",     "always",  "looked",  "show",      "large",     "often",    "together",
    "asked",     "house",   "don't",   "world",     "going",     "want",     "school",
    "important", "until",   "form",    "food",      "keep",      "children", "feet",
    "land",      "side",    "without", "boy",       "reasoning", "model",    "token",
    "inference", "mixture", "experts", "attention", "latent",
};

static const char *const code[] = {
    "    for (int i = 0; i < n; i++) {\n        sum += x[i] * w[i];\n    }\n",
    "static int parse(const char *s, size_t n, int *out)\n{\n    if (!s || n == 0) return -1;\n",
    "    if (err != R1_OK) return err_set(err, R1_ERR_FORMAT, \"bad value %d\", v);\n",
    "def forward(self, x):\n    h = self.norm(x)\n    return x + self.attn(h, mask=None)\n",
};

static const char *const zh[] = {
    "深度求索发布了新的推理模型，在数学和代码任务上表现出色。",
    "我们使用混合专家架构和多头潜在注意力来降低推理成本。",
    "这个分词器必须与参考实现逐字节一致。",
};

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static char *make_text(size_t n)
{
    char *t = malloc(n + 64);
    size_t o = 0;
    int sentence_start = 1;
    while (o < n) {
        uint32_t k = rnd(100);
        const char *s;
        char tmp[64];
        if (k < 10) {
            s = code[rnd(4)];
        } else if (k < 20) {
            s = zh[rnd(3)];
        } else if (k < 23) {
            snprintf(tmp, sizeof tmp, " %u", rnd(100000));
            s = tmp;
        } else {
            const char *w = words[rnd(sizeof words / sizeof words[0])];
            snprintf(tmp, sizeof tmp, " %s", w);
            if (sentence_start && tmp[1] >= 'a' && tmp[1] <= 'z') tmp[1] = (char)(tmp[1] - 32);
            sentence_start = 0;
            uint32_t p = rnd(20);
            if (p == 0)
                strcat(tmp, ".\n\n"), sentence_start = 1;
            else if (p < 3)
                strcat(tmp, "."), sentence_start = 1;
            else if (p < 5)
                strcat(tmp, ",");
            s = tmp;
        }
        size_t len = strlen(s);
        if (o + len > n) len = n - o;
        memcpy(t + o, s, len);
        o += len;
    }
    return t;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-text") == 0) {
        char *text = make_text(BENCH_BYTES);
        FILE *f = fopen(argv[2], "wb");
        bool ok = f && fwrite(text, 1, BENCH_BYTES, f) == BENCH_BYTES;
        if (f && fclose(f) != 0) ok = false;
        free(text);
        return ok ? 0 : 1;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: tokenizer_bench TOKENIZER(.json|.gguf) [TEXT_FILE]\n");
        return 2;
    }
    char err[R1_ERR_MAX];
    tokenizer *tok;
    double t0 = now();
    if (tokenizer_load_path(argv[1], &tok, err) != R1_OK) {
        fprintf(stderr, "tokenizer_bench: %s\n", err);
        return 1;
    }
    double t_load = now() - t0;
    size_t n = BENCH_BYTES;
    char *text;
    if (argc > 2) {
        FILE *f = fopen(argv[2], "rb");
        if (!f) {
            fprintf(stderr, "tokenizer_bench: cannot open %s\n", argv[2]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc(n + 1);
        if (!text || fread(text, 1, n, f) != n) return 1;
        fclose(f);
    } else {
        text = make_text(n);
    }
    double best = 1e30;
    size_t n_ids = 0;
    for (int rep = 0; rep < 5; rep++) {
        int32_t *ids;
        double t1 = now();
        if (tokenizer_encode(tok, text, n, true, &ids, &n_ids, err) != R1_OK) {
            fprintf(stderr, "tokenizer_bench: %s\n", err);
            return 1;
        }
        double dt = now() - t1;
        if (dt < best) best = dt;
        free(ids);
    }
    printf("load %.3f s | %zu bytes -> %zu tokens (%.2f bytes/token) | encode %.3f s = %.1f MB/s\n",
           t_load, n, n_ids, (double)n / (double)n_ids, best, (double)n / best / 1e6);
    free(text);
    tokenizer_free(tok);
    return 0;
}
