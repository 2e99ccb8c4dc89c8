/* fuzz_reasoning.c — libFuzzer target for the streaming reasoning splitter (reasoning.h).
 * Byte 0: bit 0 mode (deepseek / none), bit 1 start_in_reasoning, bits 2-7 a chunk size; the
 * rest is model output. Promises: the split does not depend on chunking (whole, the chunk size
 * from byte 0, one byte at a time, and cuts at the positions of '<' and '>' all agree); mode none
 * gives the input back byte for byte as content; deepseek never emits more bytes than it got and
 * never emits reasoning after content (only the first block is split out); no empty emits. */
#include "tokenizer/reasoning.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    char *part[2];
    size_t n[2];
    bool content_seen, reasoning_after_content, empty_emit;
} acc;

static void collect(void *user, reasoning_part part, const char *s, size_t n)
{
    acc *a = user;
    if (n == 0) a->empty_emit = true;
    if (part == REASONING_PART_CONTENT) a->content_seen = true;
    if (part == REASONING_PART_REASONING && a->content_seen) a->reasoning_after_content = true;
    char *p = realloc(a->part[part], a->n[part] + n + 1);
    if (!p) abort();
    if (n) memcpy(p + a->n[part], s, n);
    a->part[part] = p;
    a->n[part] += n;
}

/* cut: 0 = at every '<' and after every '>', else fixed chunks of that many bytes */
static void split(reasoning_mode mode, bool start_in, const char *s, size_t n, size_t cut, acc *out)
{
    memset(out, 0, sizeof *out);
    reasoning_parser p;
    reasoning_init(&p, mode, start_in, collect, out);
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        if (cut)
            j = i + cut < n ? i + cut : n;
        else
            while (j < n && s[j] != '<' && s[j - 1] != '>') j++;
        reasoning_feed(&p, s + i, j - i);
        i = j;
    }
    reasoning_finish(&p);
}

static void same(const acc *a, const acc *b)
{
    for (int k = 0; k < 2; k++) {
        if (a->n[k] != b->n[k]) abort();
        if (a->n[k] && memcmp(a->part[k], b->part[k], a->n[k]) != 0) abort();
    }
}

static void acc_free(acc *a)
{
    free(a->part[0]);
    free(a->part[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    reasoning_mode mode = (data[0] & 1) ? REASONING_DEEPSEEK : REASONING_NONE;
    bool start_in = data[0] & 2;
    size_t step = 1 + (data[0] >> 2);
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    acc whole, chunked, bytes, tags;
    split(mode, start_in, s, n, n ? n : 1, &whole);
    split(mode, start_in, s, n, step, &chunked);
    split(mode, start_in, s, n, 1, &bytes);
    split(mode, start_in, s, n, 0, &tags);
    same(&whole, &chunked);
    same(&whole, &bytes);
    same(&whole, &tags);
    if (whole.empty_emit || chunked.empty_emit || bytes.empty_emit || tags.empty_emit) abort();
    if (whole.n[0] + whole.n[1] > n) abort();
    if (mode == REASONING_NONE) {
        if (whole.n[REASONING_PART_REASONING] || whole.n[REASONING_PART_CONTENT] != n) abort();
        if (n && memcmp(whole.part[REASONING_PART_CONTENT], s, n) != 0) abort();
    } else if (whole.reasoning_after_content || bytes.reasoning_after_content) {
        abort();
    }
    acc_free(&whole);
    acc_free(&chunked);
    acc_free(&bytes);
    acc_free(&tags);
    return 0;
}
