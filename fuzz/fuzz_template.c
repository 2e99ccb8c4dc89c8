/* fuzz_template.c — libFuzzer target for chat templates and the reasoning parser.
 * The input is parsed as messages JSON and, when that works, rendered with every template kind;
 * it is also given to template detection as template text, and fed to the reasoning parser whole
 * and in chunks cut at a point taken from the input: both splits must be identical. */
#include "tokenizer/chat_template.h"
#include "tokenizer/reasoning.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    char *part[2];
    size_t n[2];
} acc;

static void collect(void *user, reasoning_part part, const char *s, size_t n)
{
    acc *a = user;
    char *p = realloc(a->part[part], a->n[part] + n + 1);
    if (!p) abort();
    memcpy(p + a->n[part], s, n);
    a->part[part] = p;
    a->n[part] += n;
}

static void split(const char *s, size_t n, size_t step, bool start_in, acc *out)
{
    memset(out, 0, sizeof *out);
    reasoning_parser p;
    reasoning_init(&p, REASONING_DEEPSEEK, start_in, collect, out);
    for (size_t i = 0; i < n; i += step) reasoning_feed(&p, s + i, n - i < step ? n - i : step);
    reasoning_finish(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[R1_ERR_MAX];
    chat_messages msgs;
    if (chat_messages_parse_json((const char *)data, size, &msgs, err) == R1_OK) {
        for (int kind = 0; kind <= CHAT_TEMPLATE_CHATML; kind++) {
            for (int gen = 0; gen < 2; gen++) {
                chat_template_params p = {(chat_template_kind)kind, gen == 1, kind & 1};
                char *out = NULL;
                size_t len;
                if (chat_template_render(&p, NULL, msgs.items, msgs.n, &out, &len, err) == R1_OK) {
                    if (strlen(out) > len) abort();
                    free(out);
                }
            }
        }
        chat_messages_free(&msgs);
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    chat_template_params p = chat_template_params_default();
    const char *warning;
    chat_template_detect(text, &p, &warning);

    size_t step = size ? 1 + data[0] % 7 : 1;
    bool start_in = size && (data[size - 1] & 1);
    acc whole, chunked;
    split(text, size, size ? size : 1, start_in, &whole);
    split(text, size, step, start_in, &chunked);
    for (int k = 0; k < 2; k++) {
        if (whole.n[k] != chunked.n[k]) abort();
        if (whole.n[k] && memcmp(whole.part[k], chunked.part[k], whole.n[k]) != 0) abort();
        free(whole.part[k]);
        free(chunked.part[k]);
    }
    free(text);
    return 0;
}
