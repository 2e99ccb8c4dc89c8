/* fuzz_grammar.c — libFuzzer target for the grammar module (grammar.h).
 * Byte 0: bit 0 chooses what the rest is — GBNF text (0) or a JSON Schema (1); bits 1-7 seed the
 * random walks. Promises, checked with abort():
 *   - bad text is an error with a message, never a crash or hang;
 *   - on random walks over a small vocabulary (every single byte, so that any text can be
 *     written; multi-byte pieces; split UTF-8 characters; an end token), the mask equals
 * gmatch_allows_token for every token, a refused token leaves the state unchanged, and the mask is
 * never empty before the grammar is done (every accepted prefix can be completed);
 *   - a JSON Schema walk that ends (end token chosen) has written text that an independent JSON
 *     parser (cJSON) accepts in full. */
#include "grammar/grammar.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ids 0..255: the single bytes; then these */
static const char *const MULTI[] = {"{",
                                    "}",
                                    "[",
                                    "]",
                                    "\"",
                                    ":",
                                    ",",
                                    " ",
                                    "\n",
                                    "\\",
                                    "0",
                                    "1",
                                    "9",
                                    "-",
                                    ".",
                                    "e",
                                    "+",
                                    "a",
                                    "t",
                                    "true",
                                    "false",
                                    "null",
                                    "\":",
                                    "\",",
                                    "{\"",
                                    "\"}",
                                    "},",
                                    "],",
                                    "[{",
                                    "\\n",
                                    "\\u00e9",
                                    "\xC3",
                                    "\xA9",
                                    "\xC3\xA9",
                                    "\xE2\x9C",
                                    "\x93",
                                    "\xF0\x9F\x98",
                                    "\x80",
                                    "\xFF",
                                    "ab",
                                    "12",
                                    "0.5",
                                    "\"a\"",
                                    "x",
                                    "<end>"};
#define N_PIECES (256 + (int)(sizeof MULTI / sizeof *MULTI))
#define END_ID (N_PIECES - 1)

static char BYTES[256];
static const char *PIECES[N_PIECES];
static size_t LENS[N_PIECES];

static gvocab *vocab(void)
{
    static gvocab *v;
    if (v) return v;
    bool is_end[N_PIECES] = {0};
    for (int i = 0; i < N_PIECES; i++) {
        if (i < 256) BYTES[i] = (char)i;
        PIECES[i] = i < 256 ? &BYTES[i] : MULTI[i - 256];
        LENS[i] = i < 256 ? 1 : strlen(PIECES[i]);
    }
    is_end[END_ID] = true;
    if (gvocab_new(N_PIECES, PIECES, LENS, is_end, &v, NULL) != R1_OK) abort();
    return v;
}

static uint32_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

/* One random walk; returns whether it ended with the end token, the text in out. */
static bool walk(gmatch *m, uint64_t *seed, char *out, size_t cap, size_t *out_n)
{
    uint32_t bits[(N_PIECES + 31) / 32];
    size_t n = 0;
    gmatch_reset(m);
    for (int step = 0; step < 200; step++) {
        if (gmatch_mask(m, bits, NULL) != R1_OK) return false; /* too ambiguous: allowed */
        int allowed[N_PIECES], k = 0;
        for (int id = 0; id < N_PIECES; id++) {
            bool in = bits[id >> 5] >> (id & 31) & 1;
            if (in != gmatch_allows_token(m, id)) abort();
            if (in) allowed[k++] = id;
        }
        if (k == 0) abort(); /* a dead end: an accepted prefix that cannot be completed */
        if ((bits[END_ID >> 5] >> (END_ID & 31) & 1) != gmatch_can_end(m)) abort();
        /* prefer ending, then closing characters, so that walks finish */
        int id = allowed[next_rand(seed) % (uint32_t)k];
        uint32_t r = next_rand(seed) % 8;
        if (step > 20 && r < 5) {
            for (int j = 0; j < k; j++) {
                const char *p = PIECES[allowed[j]];
                if (allowed[j] == END_ID ||
                    (LENS[allowed[j]] == 1 && p[0] && strchr("\"}]0", p[0]))) {
                    id = allowed[j];
                    if (allowed[j] == END_ID) break;
                }
            }
        }
        /* a refused token leaves the state as it was */
        int bad = (int)(next_rand(seed) % N_PIECES);
        if (!gmatch_allows_token(m, bad)) {
            if (gmatch_accept_token(m, bad)) abort();
            if (!gmatch_allows_token(m, id)) abort();
        }
        if (id == END_ID) {
            if (!gmatch_accept_token(m, id)) abort();
            *out_n = n;
            return true;
        }
        size_t len = LENS[id];
        if (n + len >= cap) return false;
        memcpy(out + n, PIECES[id], len);
        n += len;
        if (!gmatch_accept_token(m, id)) abort();
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) return 0;
    bool schema = data[0] & 1;
    uint64_t seed = data[0] >> 1;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    grammar *g = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = schema ? grammar_from_json_schema(text, n, &g, err)
                          : grammar_parse_gbnf(text, n, NULL, &g, err);
    if (st != R1_OK) {
        if (g || err[0] == 0)
            fprintf(stderr, "st %d [%s]\n", st, err), abort(); /* an error always says why */
        return 0;
    }
    gmatch *m;
    if (gmatch_new(g, vocab(), &m, NULL) == R1_OK) {
        char out[8192];
        for (int w = 0; w < 4; w++) {
            size_t len = 0;
            if (walk(m, &seed, out, sizeof out - 1, &len) && schema) {
                out[len] = 0;
                const char *end = NULL;
                cJSON *j = cJSON_ParseWithOpts(out, &end, true);
                if (!j)
                    fprintf(stderr, "not JSON: [%s]\n", out),
                        abort(); /* the grammar let through text that is not JSON */
                cJSON_Delete(j);
#ifdef FUZZ_GRAMMAR_VERBOSE
                fprintf(stderr, "JSON ok: %s\n", out);
#endif
            }
        }
        gmatch_free(m);
    }
    grammar_free(g);
    return 0;
}
