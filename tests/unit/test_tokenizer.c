/* test_tokenizer.c — the tokenizer against fixtures made by the JS reference (no node needed here;
 * see tests/data/tokenizer/README.md): pre-tokenizer splits, ids of the GGUF vocabularies and of
 * the equivalent tokenizer.json, decode round trips, the streaming detokenizer, invalid UTF-8, and
 * hostile tokenizer.json / GGUF vocabularies that must fail cleanly. The full-vocabulary comparison
 * on a 1.2 MB corpus is tests/e2e/tokenizer_reference.sh. */
#include "test.h"

#include "formats/gguf.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define DATA R1_TEST_DATA "/tokenizer/"

/* ---- helpers ----------------------------------------------------------------------------------
 */

typedef struct docs {
    char *buf;
    size_t n;
    const char *text[256];
    size_t len[256];
} docs;

/* NUL-terminated documents of samples.bin */
static bool load_docs(docs *d)
{
    size_t size;
    d->buf = test_read_file(DATA "samples.bin", &size);
    d->n = 0;
    if (!d->buf) return false;
    size_t start = 0;
    for (size_t i = 0; i < size && d->n < 256; i++) {
        if (d->buf[i] == 0) {
            d->text[d->n] = d->buf + start;
            d->len[d->n++] = i - start;
            start = i + 1;
        }
    }
    return true;
}

/* A whole file, NUL-terminated (test_read_file does not terminate). */
static char *read_text(const char *path, size_t *out_size)
{
    size_t n;
    char *raw = test_read_file(path, &n);
    if (!raw) return NULL;
    char *s = realloc(raw, n + 1);
    if (!s) {
        free(raw);
        return NULL;
    }
    s[n] = 0;
    if (out_size) *out_size = n;
    return s;
}

/* Line `line` of an ids file as an array. */
static int32_t *ids_line(const char *file_text, size_t line, size_t *out_n)
{
    const char *p = file_text;
    for (size_t l = 0; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return NULL;
    int32_t *ids = malloc(sizeof *ids * (strlen(p) / 2 + 1));
    size_t n = 0;
    while (*p && *p != '\n') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        ids[n++] = (int32_t)v;
        p = end;
        while (*p == ' ') p++;
    }
    *out_n = n;
    return ids;
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static tokenizer *load_json_ok(const char *path)
{
    char err[R1_ERR_MAX] = "";
    tokenizer *t = NULL;
    r1_status st = tokenizer_load_json(path, NULL, &t, err);
    CHECKF(st == R1_OK, "%s: %s", path, err);
    return st == R1_OK ? t : NULL;
}

static tokenizer *load_gguf_ok(const char *path)
{
    char err[R1_ERR_MAX] = "";
    tokenizer *t = NULL;
    r1_status st = tokenizer_load_path(path, &t, err);
    CHECKF(st == R1_OK, "%s: %s", path, err);
    return st == R1_OK ? t : NULL;
}

/* ---- pre-tokenizers ---------------------------------------------------------------------------
 */

typedef struct pieces {
    char buf[8192];
    size_t n;
} pieces;

static void collect_piece(void *user, const char *s, size_t n)
{
    pieces *p = user;
    if (p->n + n + 1 < sizeof p->buf) {
        memcpy(p->buf + p->n, s, n);
        p->n += n;
        p->buf[p->n++] = '|';
    }
}

static void test_pretok(void)
{
    size_t size;
    char *json = read_text(DATA "pretok_cases.json", &size);
    CHECK(json != NULL);
    if (!json) return;
    cJSON *root = cJSON_ParseWithLength(json, size);
    CHECK(cJSON_IsArray(root));
    const cJSON *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, root)
    {
        const char *kind_name = cJSON_GetObjectItem(c, "kind")->valuestring;
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        pretok_kind kind = PRETOK_DEEPSEEK_V3;
        if (!strcmp(kind_name, "qwen2")) kind = PRETOK_QWEN2;
        if (!strcmp(kind_name, "llama3")) kind = PRETOK_LLAMA3;
        pieces want = {.n = 0}, got = {.n = 0};
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(c, "pieces"))
        {
            collect_piece(&want, p->valuestring, strlen(p->valuestring));
        }
        pretok_split(kind, text, strlen(text), collect_piece, &got);
        CHECKF(want.n == got.n && memcmp(want.buf, got.buf, want.n) == 0,
               "%s split of \"%s\":\n  want %.*s\n  got  %.*s", kind_name, text, (int)want.n,
               want.buf, (int)got.n, got.buf);
        n_cases++;
    }
    CHECK(n_cases >= 80);
    cJSON_Delete(root);
    free(json);
}

/* ---- ids against the reference ----------------------------------------------------------------
 */

static void check_decode(const tokenizer *t, const char *text, size_t len, const int32_t *ids,
                         size_t n, bool nfc_vocab, const char *what)
{
    char err[R1_ERR_MAX];
    /* decode(encode(x)) == x (after U+FFFD repair; NFC vocabularies may recompose) */
    char *dec;
    size_t dec_len;
    CHECK(tokenizer_decode(t, ids, n, true, &dec, &dec_len, err) == R1_OK);
    size_t fixed_len;
    char *fixed = utf8_repair(text, len, &fixed_len);
    if (!nfc_vocab)
        CHECKF(dec_len == fixed_len && memcmp(dec, fixed, dec_len) == 0,
               "%s: round trip of \"%.60s\"", what, fixed);
    CHECK(utf8_valid_prefix(dec, dec_len) == dec_len);
    /* streaming: same text, every chunk valid UTF-8 */
    detok *d;
    CHECK(detok_new(t, true, &d, err) == R1_OK);
    char *stream = malloc(dec_len + 16);
    size_t o = 0;
    bool chunks_valid = true;
    for (size_t i = 0; i <= n; i++) {
        const char *s;
        size_t sl;
        if (i < n)
            CHECK(detok_feed(d, ids[i], &s, &sl, err) == R1_OK);
        else
            detok_flush(d, &s, &sl);
        if (utf8_valid_prefix(s, sl) != sl) chunks_valid = false;
        if (o + sl <= dec_len) memcpy(stream + o, s, sl);
        o += sl;
    }
    CHECKF(chunks_valid, "%s: a detok chunk is not valid UTF-8", what);
    CHECKF(o == dec_len && memcmp(stream, dec, o) == 0, "%s: detok != decode", what);
    detok_free(d);
    free(stream);
    free(fixed);
    free(dec);
}

static void test_model_ids(const char *model, bool nfc_vocab)
{
    char path[512], json_path[512], ids_path[512];
    snprintf(path, sizeof path, R1_TEST_DATA "/models/%s.gguf", model);
    snprintf(json_path, sizeof json_path, DATA "%s.tokenizer.json", model);
    snprintf(ids_path, sizeof ids_path, DATA "samples.%s.ids", model);
    docs d;
    CHECK(load_docs(&d));
    char *expected = read_text(ids_path, NULL);
    CHECK(expected != NULL);
    tokenizer *tg = load_gguf_ok(path), *tj = load_json_ok(json_path);
    if (!tg || !tj || !expected || !d.buf) goto done;
    CHECK(tokenizer_n_vocab(tg) == tokenizer_n_vocab(tj));
    int n_equal = 0;
    for (size_t i = 0; i < d.n; i++) {
        char err[R1_ERR_MAX];
        int32_t *a, *b;
        size_t na = 0, nb = 0, ne = 0;
        int32_t *want = ids_line(expected, i, &ne);
        CHECK(tokenizer_encode(tg, d.text[i], d.len[i], true, &a, &na, err) == R1_OK);
        CHECK(tokenizer_encode(tj, d.text[i], d.len[i], true, &b, &nb, err) == R1_OK);
        CHECKF(same_ids(a, na, want, ne), "%s (gguf) document %zu \"%.40s\": %zu ids, want %zu",
               model, i, d.text[i], na, ne);
        CHECKF(same_ids(a, na, b, nb), "%s: gguf and tokenizer.json disagree on document %zu",
               model, i);
        if (same_ids(a, na, want, ne)) n_equal++;
        check_decode(tg, d.text[i], d.len[i], a, na, nfc_vocab, model);
        free(a);
        free(b);
        free(want);
    }
    CHECKF(n_equal == (int)d.n && d.n > 40, "%s: %d of %zu documents equal", model, n_equal, d.n);
done:
    tokenizer_free(tg);
    tokenizer_free(tj);
    free(expected);
    free(d.buf);
}

/* ---- API details ------------------------------------------------------------------------------
 */

static void test_api(void)
{
    char err[R1_ERR_MAX];
    tokenizer *t = load_gguf_ok(R1_TEST_DATA "/models/ds3-new-f32.gguf");
    if (!t) return;
    CHECK(tokenizer_n_vocab(t) == 516);
    CHECK(tokenizer_bos(t) == 0 && tokenizer_eos(t) == 1);
    CHECK(tokenizer_add_bos(t));
    CHECK(tokenizer_pre(t) == PRETOK_DEEPSEEK_V3);
    int32_t think = tokenizer_token_id(t, "<think>", 7);
    CHECK(think == 514);
    CHECK(tokenizer_token_id(t, "</think>", 8) == 515);
    CHECK(tokenizer_token_id(t, "no such token", 13) == -1);
    CHECK(tokenizer_is_special(t, think) && !tokenizer_is_control(t, think));
    CHECK(tokenizer_is_control(t, 0) && tokenizer_is_special(t, 0));
    CHECK(!tokenizer_is_special(t, 100) && tokenizer_token_type(t, 100) == TOKEN_TYPE_NORMAL);
    CHECK(tokenizer_token_type(t, -1) == TOKEN_TYPE_UNDEFINED);
    CHECK(tokenizer_token_type(t, 516) == TOKEN_TYPE_UNDEFINED);
    size_t len;
    CHECK(tokenizer_token_piece(t, 516, &len) == NULL);

    /* parse_special: control tokens only when asked; user-defined ones always */
    const char *eos = "<\xEF\xBD\x9C"
                      "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C><think>";
    int32_t *ids;
    size_t n;
    CHECK(tokenizer_encode(t, eos, strlen(eos), true, &ids, &n, err) == R1_OK);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == think);
    free(ids);
    CHECK(tokenizer_encode(t, eos, strlen(eos), false, &ids, &n, err) == R1_OK);
    CHECK(n > 2 && ids[0] != 1 && ids[n - 1] == think);
    free(ids);

    /* invalid UTF-8 is encoded as U+FFFD, per maximal subpart */
    int32_t *a, *b;
    size_t na, nb;
    CHECK(tokenizer_encode(t, "x\xE2\x82y\xFF", 5, true, &a, &na, err) == R1_OK);
    CHECK(tokenizer_encode(t, "x\xEF\xBF\xBDy\xEF\xBF\xBD", 8, true, &b, &nb, err) == R1_OK);
    CHECK(same_ids(a, na, b, nb));
    free(a);
    free(b);
    CHECK(tokenizer_encode(t, "", 0, true, &a, &na, err) == R1_OK && na == 0);
    free(a);

    /* detok: a character split over byte tokens comes out whole; render_special=false drops BOS */
    detok *d;
    CHECK(detok_new(t, false, &d, err) == R1_OK);
    int32_t e4 = tokenizer_token_id(t, "\xC3\xA4", 2); /* byte 0xE4 is written as U+00E4 */
    int32_t bd = tokenizer_token_id(t, "\xC2\xBD", 2); /* 0xBD */
    int32_t a0 = tokenizer_token_id(t, "\xC5\x82", 2); /* 0xA0 is written as U+0142 */
    CHECK(e4 >= 0 && bd >= 0 && a0 >= 0);
    const char *s;
    size_t sl;
    CHECK(detok_feed(d, 0, &s, &sl, err) == R1_OK && sl == 0);
    CHECK(detok_feed(d, e4, &s, &sl, err) == R1_OK && sl == 0);
    CHECK(detok_feed(d, bd, &s, &sl, err) == R1_OK && sl == 0);
    CHECK(detok_feed(d, a0, &s, &sl, err) == R1_OK && sl == 3 && !memcmp(s, "\xE4\xBD\xA0", 3));
    CHECK(detok_feed(d, e4, &s, &sl, err) == R1_OK && sl == 0);
    /* an added token arrives before the character completes: U+FFFD, then the token */
    CHECK(detok_feed(d, think, &s, &sl, err) == R1_OK && sl == 10 &&
          !memcmp(s, "\xEF\xBF\xBD<think>", 10));
    CHECK(detok_feed(d, e4, &s, &sl, err) == R1_OK && sl == 0);
    detok_flush(d, &s, &sl);
    CHECK(sl == 3 && !memcmp(s, "\xEF\xBF\xBD", 3));
    CHECK(detok_feed(d, 516, &s, &sl, err) == R1_ERR_INVALID_ARG);
    CHECK(detok_feed(d, -5, &s, &sl, err) == R1_ERR_INVALID_ARG);
    detok_free(d);
    char *text;
    int32_t bad[2] = {5, 9999};
    CHECK(tokenizer_decode(t, bad, 2, true, &text, &sl, err) == R1_ERR_INVALID_ARG);
    tokenizer_free(t);
}

/* ---- hostile tokenizer.json -------------------------------------------------------------------
 */

/* The deepseek-v3 pre_tokenizer object, built with cJSON (regexes as in the real file). */
static char *pre_ds3_json(void)
{
    static const char *const rx[3] = {
        "\\p{N}{1,3}",
        "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+",
        ("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
         "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
    };
    cJSON *pre = cJSON_CreateObject();
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
    for (int i = 0; i < 3; i++) {
        cJSON *sp = cJSON_CreateObject();
        cJSON_AddStringToObject(sp, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(sp, "pattern"), "Regex", rx[i]);
        cJSON_AddStringToObject(sp, "behavior", "Isolated");
        cJSON_AddFalseToObject(sp, "invert");
        cJSON_AddItemToArray(list, sp);
    }
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToArray(list, bl);
    char *out = cJSON_PrintUnformatted(pre);
    cJSON_Delete(pre);
    return out;
}

/* Replace "PRE" in a case with `"pre_tokenizer": {...}`. */
static char *with_pre(const char *tmpl, const char *pre)
{
    const char *at = strstr(tmpl, "PRE");
    size_t n = strlen(tmpl) + strlen(pre) + 32;
    char *out = malloc(n);
    if (!at) {
        snprintf(out, n, "%s", tmpl);
    } else {
        snprintf(out, n, "%.*s\"pre_tokenizer\":%s%s", (int)(at - tmpl), tmpl, pre, at + 3);
    }
    return out;
}

static void test_bad_json(void)
{
    /* a valid minimal tokenizer first, so the bad ones fail for their own reason */
    char *pre = pre_ds3_json();
    char *good = with_pre("{\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"special\":true}],PRE"
                          ",\"normalizer\":null,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,"
                          "\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}",
                          pre);
    char err[R1_ERR_MAX] = "";
    tokenizer *t = NULL;
    CHECKF(tokenizer_load_json_memory(good, strlen(good), NULL, 0, &t, err) == R1_OK, "%s", err);
    if (t) {
        int32_t *ids;
        size_t n;
        CHECK(tokenizer_encode(t, "ab<s>abx", 8, true, &ids, &n, err) == R1_OK);
        /* "x" is not in this vocabulary: dropped, as the reference does without an unk token */
        CHECK(n == 3 && ids[0] == 2 && ids[1] == 3 && ids[2] == 2);
        free(ids);
        tokenizer_free(t);
    }
    const char *cfg_bad_bos = "{\"bos_token\":\"<nope>\"}";
    CHECK(tokenizer_load_json_memory(good, strlen(good), cfg_bad_bos, strlen(cfg_bad_bos), &t,
                                     err) == R1_ERR_FORMAT);

    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"model\":{}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1.5},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999999},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a q\"]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"ab\"]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\"]]}}",
        "{PRE,\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"a\":0},"
        "\"merges\":[]}}",
        "{PRE,\"added_tokens\":{},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},"
        "\"merges\":[]}}",
        "{PRE,\"added_tokens\":[{\"id\":\"x\",\"content\":\"<s>\"}],\"model\":{\"type\":"
        "\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{PRE,\"added_tokens\":[{\"id\":1,\"content\":\"\"}],\"model\":{\"type\":\"BPE\","
        "\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{PRE,\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":3}],\"model\":{"
        "\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{PRE,\"added_tokens\":[{\"id\":1,\"content\":\"x\"},{\"id\":1,\"content\":\"y\"}],"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{PRE,\"normalizer\":{\"type\":\"Lowercase\"},\"model\":{\"type\":\"BPE\","
        "\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":"
        "0},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":true},\"model\":{\"type\":"
        "\"BPE\","
        "\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
        "\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\","
        "\"use_regex\":false}]},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
        "{\"pre_tokenizer\":null,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        t = NULL;
        char *json = with_pre(bad[i], pre);
        r1_status st = tokenizer_load_json_memory(json, strlen(json), NULL, 0, &t, err);
        CHECKF(st != R1_OK && t == NULL && err[0] != 0, "bad tokenizer.json %zu loaded: %s", i,
               json);
        tokenizer_free(t);
        free(json);
    }
    free(good);
    free(pre);
    CHECK(tokenizer_load_json("/nonexistent/tokenizer.json", NULL, &t, err) == R1_ERR_IO);
}

/* ---- hostile GGUF vocabularies ----------------------------------------------------------------
 */

typedef struct gguf_case {
    const char *what;
    const char *model; /* tokenizer.ggml.model */
    const char *pre;   /* NULL = absent */
    int n_tokens;      /* tokens written */
    int n_types;       /* token_type entries written (-1 = absent) */
    const char *merge; /* one merge */
    int bos;           /* bos id */
} gguf_case;

static r1_status try_gguf(const gguf_case *c, char *err)
{
    const char *tokens[4] = {"a", "b", "ab", "<s>"};
    int32_t types[4] = {1, 1, 1, 3};
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "deepseek2");
    gguf_writer_set_str(w, "tokenizer.ggml.model", c->model);
    if (c->pre) gguf_writer_set_str(w, "tokenizer.ggml.pre", c->pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, (uint64_t)c->n_tokens);
    if (c->n_types >= 0)
        gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)c->n_types);
    const char *merges[1] = {c->merge};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)c->bos);
    const char *path = "/tmp/r1_test_tokenizer_vocab.gguf";
    r1_status st = gguf_writer_write_file(w, path, err);
    gguf_writer_free(w);
    if (st != R1_OK) return R1_ERR_IO;
    tokenizer *t = NULL;
    st = tokenizer_load_path(path, &t, err);
    tokenizer_free(t);
    remove(path);
    return st;
}

static void test_bad_gguf(void)
{
    static const gguf_case cases[] = {
        {"valid", "gpt2", "deepseek-v3", 4, 4, "a b", 3},
        {"model llama", "llama", "deepseek-v3", 4, 4, "a b", 3},
        {"no pre", "gpt2", NULL, 4, 4, "a b", 3},
        {"unknown pre", "gpt2", "tekken", 4, 4, "a b", 3},
        {"types shorter", "gpt2", "deepseek-v3", 4, 3, "a b", 3},
        {"merge of unknown token", "gpt2", "deepseek-v3", 4, 4, "a z", 3},
        {"merge without space", "gpt2", "deepseek-v3", 4, 4, "ab", 3},
        {"merge result missing", "gpt2", "deepseek-v3", 2, 2, "a b", 1},
        {"bos out of range", "gpt2", "deepseek-v3", 4, 4, "a b", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[R1_ERR_MAX] = "";
        r1_status st = try_gguf(&cases[i], err);
        /* a merge that cannot apply (not "a b", or naming a token the vocabulary lacks) is
         * skipped, as llama.cpp does: files it wrote have them (tests/data/iq) */
        if (i == 0 || strstr(cases[i].what, "merge"))
            CHECKF(st == R1_OK, "%s: %s", cases[i].what, err);
        else
            CHECKF(st != R1_OK && st != R1_ERR_IO && err[0], "%s: status %d", cases[i].what, st);
    }
}

int main(void)
{
    test_pretok();
    test_model_ids("ds3-new-f32", false);
    test_model_ids("llama3-f32", false);
    test_model_ids("qwen2-f32", true);
    test_api();
    test_bad_json();
    test_bad_gguf();
    return test_finish();
}
