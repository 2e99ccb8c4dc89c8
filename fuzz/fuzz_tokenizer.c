/* fuzz_tokenizer.c — libFuzzer target for the tokenizer (clang -fsanitize=fuzzer).
 *
 * First input byte picks the job:
 *   even: the rest is a tokenizer.json; loading must succeed or fail with a message, and a loaded
 *         tokenizer must encode and decode a fixed text;
 *   odd:  the rest is text, encoded with the fixture vocabularies (tests/data/tokenizer/
 *         *.tokenizer.json, found via R1_FUZZ_DATA or the source tree); invariants: ids in range,
 *         decode gives valid UTF-8, streaming decode == decode, and for the vocabularies without
 *         NFC, decode(encode(x)) == x with invalid UTF-8 replaced by U+FFFD. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef R1_FUZZ_DATA
#define R1_FUZZ_DATA "tests/data/tokenizer"
#endif

static tokenizer *fixtures[3];
static const bool fixture_nfc[3] = {false, false, true};

static void load_fixtures(void)
{
    static bool done;
    if (done) return;
    done = true;
    const char *dir = getenv("R1_FUZZ_DATA") ? getenv("R1_FUZZ_DATA") : R1_FUZZ_DATA;
    const char *names[3] = {"ds3-new-f32", "llama3-f32", "qwen2-f32"};
    for (int i = 0; i < 3; i++) {
        char path[1024], err[R1_ERR_MAX];
        snprintf(path, sizeof path, "%s/%s.tokenizer.json", dir, names[i]);
        if (tokenizer_load_json(path, NULL, &fixtures[i], err) != R1_OK) fixtures[i] = NULL;
    }
}

static void check_text(const tokenizer *t, bool nfc, const char *text, size_t n)
{
    char err[R1_ERR_MAX];
    int32_t *ids;
    size_t n_ids;
    if (tokenizer_encode(t, text, n, true, &ids, &n_ids, err) != R1_OK) abort();
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t)) abort();
    char *dec;
    size_t dec_len;
    if (tokenizer_decode(t, ids, n_ids, true, &dec, &dec_len, err) != R1_OK) abort();
    if (utf8_valid_prefix(dec, dec_len) != dec_len) abort();
    if (!nfc) {
        size_t fixed_len;
        char *fixed = utf8_repair(text, n, &fixed_len);
        if (!fixed) abort();
        if (fixed_len != dec_len || memcmp(fixed, dec, dec_len) != 0) abort();
        free(fixed);
    }
    detok *d;
    if (detok_new(t, true, &d, err) != R1_OK) abort();
    size_t o = 0;
    for (size_t i = 0; i <= n_ids; i++) {
        const char *s;
        size_t len;
        if (i < n_ids) {
            if (detok_feed(d, ids[i], &s, &len, err) != R1_OK) abort();
        } else {
            detok_flush(d, &s, &len);
        }
        if (o + len > dec_len || memcmp(dec + o, s, len) != 0) abort();
        o += len;
    }
    if (o != dec_len) abort();
    detok_free(d);
    free(dec);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        char err[R1_ERR_MAX] = "";
        tokenizer *t = NULL;
        if (tokenizer_load_json_memory(rest, n, NULL, 0, &t, err) == R1_OK) {
            check_text(t, true, "Hello world! 123 <think>x</think> \xE4\xBD\xA0\xFF", 24);
            tokenizer_free(t);
        } else if (err[0] == 0 || t != NULL) {
            abort(); /* a failure must explain itself and leave the out-param alone */
        }
        return 0;
    }
    load_fixtures();
    for (int i = 0; i < 3; i++)
        if (fixtures[i]) check_text(fixtures[i], fixture_nfc[i], rest, n);
    return 0;
}
