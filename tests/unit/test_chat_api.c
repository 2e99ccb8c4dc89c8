/* test_chat_api.c — the public chat-text API (r1_chat.h) and the metadata/version/end-of-generation
 * functions of r1.h: templates rendered by name and from the model, the reasoning/answer split and
 * the stop-string matcher under every way of cutting their input, the streaming detokenizer's
 * pieces (whole UTF-8 characters only, summing to r1_detokenize), and a greedy chat turn of the
 * default model (models/r1-tiny.gguf) through the public headers alone, reasoning and answer apart.
 */
#include "r1.h"
#include "r1_chat.h"
#include "test.h"

#include <stdbool.h>
#include <stdint.h>

#define TINY_MODEL R1_TEST_DATA "/../../models/r1-tiny.gguf"

/* ---- text without a model ------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static void test_version(void)
{
    CHECK(r1_api_version() == R1_API_VERSION);
    int a = -1, b = -1, c = -1;
    CHECKF(sscanf(r1_version(), "%d.%d.%d", &a, &b, &c) == 3 && a >= 0 && b >= 0 && c >= 0,
           "version '%s'", r1_version());
    /* the backend dispatch.c chose: one of the known names, the same on every call */
    const char *k = r1_kernel_backend();
    CHECKF(k && (!strcmp(k, "ref") || !strcmp(k, "scalar") || !strcmp(k, "avx2") ||
                 !strcmp(k, "neon")),
           "backend '%s'", k ? k : "(null)");
    CHECK(r1_kernel_backend() == k);
}

/* Every name the list gives renders a prompt; a name not in it is refused. */
static void test_template_names(void)
{
    char list[256], err[R1_ERR_MAX];
    snprintf(list, sizeof list, "%s", r1_chat_template_names());
    int n = 0;
    r1_chat_message msg = {"user", "Hi"};
    r1_chat_params cp = r1_chat_params_default();
    for (char *save = NULL, *name = strtok_r(list, ", ", &save); name;
         name = strtok_r(NULL, ", ", &save), n++) {
        char *text = NULL;
        size_t len = 0;
        cp.template_name = name;
        CHECKF(r1_chat_apply_template(NULL, &cp, &msg, 1, &text, &len, NULL, err) == R1_OK &&
                   strstr(text, "Hi"),
               "template '%s': %s", name, err);
        free(text);
    }
    CHECKF(n == 5, "%d names in '%s'", n, r1_chat_template_names());
    cp.template_name = "no-such-template";
    char *text = NULL;
    size_t len = 0;
    CHECK(r1_chat_apply_template(NULL, &cp, &msg, 1, &text, &len, NULL, err) == R1_ERR_INVALID_ARG);
    CHECK(!text);
}

static void test_templates_by_name(void)
{
    char err[R1_ERR_MAX];
    r1_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    r1_chat_params cp = r1_chat_params_default();
    CHECK(cp.add_generation_prompt && cp.think == R1_THINK_ON && !cp.template_name);
    char *text = NULL;
    size_t len = 0;
    bool in_think = false;

    cp.template_name = "deepseek-r1";
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &text, &len, &in_think, err) == R1_OK);
    CHECKF(text && !strcmp(text,
                           "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜><think>\n"),
           "got '%s'", text ? text : "(null)");
    CHECK(text && len == strlen(text) && in_think);
    free(text);

    cp.think = R1_THINK_OFF;
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &text, &len, &in_think, err) == R1_OK);
    CHECKF(ends_with(text, "<｜Assistant｜><think>\n\n</think>\n\n") && !in_think, "got '%s'",
           text);
    free(text);

    cp.think = R1_THINK_TEMPLATE;
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &text, &len, &in_think, err) == R1_OK);
    CHECKF(ends_with(text, "<｜User｜>Hi<｜Assistant｜>") && !in_think, "got '%s'", text);
    free(text);

    cp = r1_chat_params_default();
    cp.template_name = "deepseek-r1";
    cp.add_generation_prompt = false;
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &text, &len, &in_think, err) == R1_OK);
    CHECKF(ends_with(text, "<｜User｜>Hi") && !in_think, "got '%s'", text);
    free(text);

    cp = r1_chat_params_default();
    cp.template_name = "chatml";
    CHECK(r1_chat_apply_template(NULL, &cp, msgs + 1, 1, &text, &len, &in_think, err) == R1_OK);
    CHECKF(!strcmp(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") && !in_think,
           "got '%s'", text);
    free(text);

    /* errors leave the out-params alone and say why */
    char *untouched = (char *)"x";
    cp.template_name = "jinja-anything";
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &untouched, &len, NULL, err) ==
          R1_ERR_INVALID_ARG);
    CHECKF(strstr(err, "jinja-anything") && strstr(err, "deepseek-r1"), "err '%s'", err);
    CHECK(!strcmp(untouched, "x"));
    cp.template_name = NULL;
    CHECK(r1_chat_apply_template(NULL, &cp, msgs, 2, &untouched, &len, NULL, err) ==
          R1_ERR_INVALID_ARG);
    cp.template_name = "deepseek-r1";
    r1_chat_message bad[] = {{NULL, "no role"}};
    CHECK(r1_chat_apply_template(NULL, &cp, bad, 1, &untouched, &len, NULL, err) ==
          R1_ERR_INVALID_ARG);
    CHECK(!strcmp(untouched, "x"));
}

/* Feed `text` cut at `cut` (and at `cut2` >= cut) to a fresh splitter; the parts, summed. */
static void split(const char *text, bool in_think, size_t cut, size_t cut2, char *reasoning,
                  char *answer)
{
    r1_reasoning *rs = NULL;
    char err[R1_ERR_MAX];
    *reasoning = *answer = 0;
    if (r1_reasoning_new(in_think, &rs, err) != R1_OK) return;
    size_t n = strlen(text), at[4] = {0, cut, cut2, n};
    r1_reasoning_parts p;
    for (int i = 0; i < 4; i++) {
        r1_status st = i < 3 ? r1_reasoning_feed(rs, text + at[i], at[i + 1] - at[i], &p, err)
                             : r1_reasoning_finish(rs, &p, err);
        if (st) break;
        strncat(reasoning, p.reasoning, p.n_reasoning);
        strncat(answer, p.answer, p.n_answer);
    }
    r1_reasoning_free(rs);
}

static void check_split(const char *text, bool in_think, const char *want_reasoning,
                        const char *want_answer)
{
    size_t n = strlen(text);
    int n_bad = 0;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i; j <= n; j++) {
            char r[256], a[256];
            split(text, in_think, i, j, r, a);
            if (strcmp(r, want_reasoning) || strcmp(a, want_answer)) {
                if (!n_bad++)
                    fprintf(stderr, "split '%s' cut at %zu,%zu: reasoning '%s' answer '%s'\n", text,
                            i, j, r, a);
            }
        }
    CHECKF(n_bad == 0, "'%s': %d cuttings split it wrong", text, n_bad);
}

static void test_reasoning(void)
{
    check_split("Let me think.</think>\n\nThe answer is 4.", true, "Let me think.",
                "The answer is 4.");
    check_split(" \n<think>\nabc</think> x <think>y</think>", false, "\nabc", "x <think>y</think>");
    check_split("No tags <think>here</think>", false, "", "No tags <think>here</think>");
    check_split("cut off inside </thi", true, "cut off inside </thi", "");
    check_split("<thin", false, "", "<thin");

    char err[R1_ERR_MAX];
    r1_reasoning *rs = NULL;
    r1_reasoning_parts p;
    CHECK(r1_reasoning_new(true, &rs, err) == R1_OK);
    CHECK(r1_reasoning_is_open(rs));
    CHECK(r1_reasoning_feed(rs, "a</th", 5, &p, err) == R1_OK);
    CHECK(p.n_reasoning == 1 && p.reasoning[0] == 'a' && p.n_answer == 0);
    CHECK(r1_reasoning_is_open(rs));
    CHECK(r1_reasoning_feed(rs, "ink>b", 5, &p, err) == R1_OK);
    CHECK(p.n_reasoning == 0 && p.n_answer == 1 && p.answer[0] == 'b');
    CHECK(!r1_reasoning_is_open(rs));
    /* finish starts over, inside the reasoning again */
    CHECK(r1_reasoning_finish(rs, &p, err) == R1_OK && p.n_reasoning == 0 && p.n_answer == 0);
    CHECK(r1_reasoning_is_open(rs));
    r1_reasoning_free(rs);
}

/* Feed text cut at i and j to a fresh stop matcher; returns the text shown, summed (flush
 * included), and whether / which stop string was found. */
static void stop_run(const char *const *stops, size_t n_stops, const char *text, size_t i, size_t j,
                     char *shown, int *which)
{
    char err[R1_ERR_MAX];
    r1_stop *st = NULL;
    *shown = 0;
    *which = -2;
    if (r1_stop_new(stops, n_stops, &st, err) != R1_OK) return;
    size_t n = strlen(text), at[4] = {0, i, j, n};
    const char *out;
    size_t len;
    bool stopped = false;
    for (int k = 0; k < 3; k++) {
        if (r1_stop_feed(st, text + at[k], at[k + 1] - at[k], &out, &len, &stopped, err)) return;
        strncat(shown, out, len);
    }
    *which = r1_stop_which(st);
    if (stopped != (*which >= 0)) *which = -3;
    r1_stop_flush(st, &out, &len);
    strncat(shown, out, len);
    r1_stop_free(st);
}

static void check_stop(const char *const *stops, size_t n_stops, const char *text, const char *want,
                       int want_which)
{
    size_t n = strlen(text);
    int n_bad = 0;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i; j <= n; j++) {
            char shown[256];
            int which;
            stop_run(stops, n_stops, text, i, j, shown, &which);
            if (strcmp(shown, want) || which != want_which) {
                if (!n_bad++)
                    fprintf(stderr, "stop '%s' cut at %zu,%zu: shown '%s' which %d\n", text, i, j,
                            shown, which);
            }
        }
    CHECKF(n_bad == 0, "'%s': %d cuttings wrong", text, n_bad);
}

static void test_stop(void)
{
    const char *stops[] = {"</s>", "STOP", "", "aab"};
    check_stop(stops, 4, "hello STOP world", "hello ", 1);
    check_stop(stops, 4, "x</s>STOP", "x", 0);
    check_stop(stops, 4, "aaab and more", "a", 3);
    check_stop(stops, 4, "no stop here: </ ST aa", "no stop here: </ ST aa", -1);
    check_stop(stops, 0, "anything STOP", "anything STOP", -1);

    /* text that might start a stop string is held back, then shown when it turns out not to */
    char err[R1_ERR_MAX];
    r1_stop *st = NULL;
    const char *out;
    size_t len;
    bool stopped;
    CHECK(r1_stop_new(stops, 4, &st, err) == R1_OK);
    CHECK(r1_stop_feed(st, "abc</", 5, &out, &len, &stopped, err) == R1_OK);
    CHECK(len == 3 && !memcmp(out, "abc", 3) && !stopped);
    CHECK(r1_stop_feed(st, "p>", 2, &out, &len, &stopped, err) == R1_OK);
    CHECK(len == 4 && !memcmp(out, "</p>", 4) && !stopped);
    CHECK(r1_stop_feed(st, "ST", 2, &out, &len, &stopped, err) == R1_OK && len == 0);
    CHECK(r1_stop_feed(st, "OP tail", 7, &out, &len, &stopped, err) == R1_OK);
    CHECK(len == 0 && stopped && r1_stop_which(st) == 1);
    CHECK(r1_stop_feed(st, "more", 4, &out, &len, &stopped, err) == R1_OK && len == 0 && stopped);
    r1_stop_free(st);
}

/* ---- with the default model ----------------------------------------------------------------- */

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

static void test_detok(r1_model *m)
{
    char err[R1_ERR_MAX];
    const char *text = "héllo 世界 🙂🦙 — ok";
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(r1_tokenize(m, text, strlen(text), false, false, &ids, &n, err) == R1_OK);
    r1_detok *dt = NULL;
    CHECK(r1_detok_new(m, false, &dt, err) == R1_OK);
    if (!dt || !ids) return;
    char all[256] = "";
    int n_empty = 0;
    for (size_t i = 0; i < n; i++) {
        const char *piece;
        size_t len;
        CHECK(r1_detok_feed(dt, ids[i], &piece, &len, err) == R1_OK);
        CHECKF(valid_utf8((const unsigned char *)piece, len), "piece %zu is not whole UTF-8", i);
        n_empty += len == 0;
        strncat(all, piece, len);
    }
    const char *piece;
    size_t len;
    r1_detok_flush(dt, &piece, &len);
    strncat(all, piece, len);
    CHECKF(!strcmp(all, text), "streamed '%s'", all);
    /* byte-level BPE cuts the emoji into byte tokens: some pieces must have been held back */
    CHECKF(n_empty > 0, "%zu ids, none held back", n);
    const char *untouched = "u";
    CHECK(r1_detok_feed(dt, 1 << 30, &untouched, &len, err) == R1_ERR_INVALID_ARG);
    CHECK(!strcmp(untouched, "u"));
    r1_detok_free(dt);
    free(ids);
}

static void test_meta(r1_model *m)
{
    char err[R1_ERR_MAX];
    char *v = NULL;
    CHECK(r1_model_meta(m, "general.architecture", &v, err) == R1_OK);
    CHECKF(v && !strcmp(v, "deepseek2"), "architecture '%s'", v ? v : "(null)");
    free(v);
    v = NULL;
    r1_model_info info;
    r1_model_get_info(m, &info);
    CHECK(r1_model_meta(m, "deepseek2.block_count", &v, err) == R1_OK);
    CHECKF(v && atoi(v) == info.n_layers + info.n_mtp_layers, "block_count '%s'", v ? v : "");
    free(v);
    v = NULL;
    CHECK(r1_model_meta(m, "no.such.key", &v, err) == R1_ERR_INVALID_ARG && !v);
    CHECK(strstr(err, "no.such.key") != NULL);
    CHECK(r1_model_meta(m, "tokenizer.ggml.tokens", &v, err) == R1_ERR_UNSUPPORTED && !v);
    CHECKF(strstr(err, "array"), "err '%s'", err);
    int n_keys = r1_model_meta_count(m);
    CHECK(n_keys > 5);
    bool seen = false;
    for (int i = 0; i < n_keys; i++)
        seen |= r1_model_meta_key(m, i) && !strcmp(r1_model_meta_key(m, i), "general.architecture");
    CHECK(seen);
    CHECK(r1_model_meta_key(m, -1) == NULL && r1_model_meta_key(m, n_keys) == NULL);

    CHECK(info.eos_id >= 0 && r1_token_is_eog(m, info.eos_id));
    CHECK(!r1_token_is_eog(m, -1) && !r1_token_is_eog(m, info.n_vocab));
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(r1_tokenize(m, "Hello", 5, false, false, &ids, &n, err) == R1_OK && n > 0);
    if (n) CHECK(!r1_token_is_eog(m, ids[0]));
    free(ids);

    bool recognized = false;
    const char *name = r1_chat_template_name(m, &recognized);
    CHECKF(!strcmp(name, "deepseek-r1") && recognized, "template %s (%d)", name, recognized);
}

/* Append n bytes of s to the NUL-terminated text in dst (cap bytes), cutting what does not fit. */
static void append(char *dst, size_t cap, const char *s, size_t n)
{
    size_t have = strlen(dst);
    if (n > cap - 1 - have) n = cap - 1 - have;
    memcpy(dst + have, s, n);
    dst[have + n] = 0;
}

/* What `r1 run -p "Compute 47*38." --temp 0` answers (tests/cross/aarch64.sh compares the same). */
static void test_chat_turn(r1_model *m)
{
    char err[R1_ERR_MAX];
    r1_chat_message msgs[] = {{"user", "Compute 47*38."}};
    char *prompt = NULL;
    size_t n_prompt = 0;
    bool in_think = false;
    CHECK(r1_chat_apply_template(m, NULL, msgs, 1, &prompt, &n_prompt, &in_think, err) == R1_OK);
    CHECK(in_think);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK(r1_tokenize(m, prompt, n_prompt, false, true, &ids, &n_ids, err) == R1_OK);
    free(prompt);
    r1_model_info info;
    r1_model_get_info(m, &info);
    CHECK(n_ids > 2 && ids[0] == info.bos_id);

    r1_session *s = NULL;
    r1_sampler *smp = NULL;
    r1_sampler_params spp = r1_sampler_params_default();
    spp.temperature = 0;
    r1_detok *dt = NULL;
    r1_reasoning *rs = NULL;
    CHECK(r1_session_new(m, NULL, &s, err) == R1_OK);
    CHECK(r1_sampler_new(&spp, info.n_vocab, &smp, err) == R1_OK);
    CHECK(r1_detok_new(m, false, &dt, err) == R1_OK);
    CHECK(r1_reasoning_new(in_think, &rs, err) == R1_OK);
    if (!s || !smp || !dt || !rs) return;
    CHECK(r1_session_eval(s, ids, (int)n_ids, err) == R1_OK);
    char reasoning[4096] = "", answer[1024] = "";
    r1_reasoning_parts p;
    bool done = false;
    int n_gen = 0;
    while (!done && n_gen < 400) {
        int32_t out[2];
        int n_out = 0;
        if (r1_session_generate(s, smp, out, &n_out, err) != R1_OK) break;
        for (int i = 0; i < n_out && !done; i++, n_gen++) {
            if (r1_token_is_eog(m, out[i])) {
                done = true;
                break;
            }
            const char *piece;
            size_t len;
            CHECK(r1_detok_feed(dt, out[i], &piece, &len, err) == R1_OK);
            CHECK(r1_reasoning_feed(rs, piece, len, &p, err) == R1_OK);
            append(reasoning, sizeof reasoning, p.reasoning, p.n_reasoning);
            append(answer, sizeof answer, p.answer, p.n_answer);
        }
    }
    CHECKF(done, "no end of generation in %d tokens", n_gen);
    const char *piece;
    size_t len;
    r1_detok_flush(dt, &piece, &len);
    CHECK(r1_reasoning_feed(rs, piece, len, &p, err) == R1_OK);
    append(answer, sizeof answer, p.answer, p.n_answer);
    CHECK(r1_reasoning_finish(rs, &p, err) == R1_OK);
    append(answer, sizeof answer, p.answer, p.n_answer);
    CHECKF(!strcmp(answer, "\\boxed{1786}"), "answer '%s'", answer);
    CHECKF(strstr(reasoning, "376") && !strstr(reasoning, "think>"), "reasoning '%s'", reasoning);
    r1_reasoning_free(rs);
    r1_detok_free(dt);
    r1_sampler_free(smp);
    r1_session_free(s);
    free(ids);
}

/* UTF-8 checks: the longest valid prefix and the repair, WHATWG's replacement counts (one U+FFFD
 * per maximal subpart). */
static void test_utf8(void)
{
    static const struct {
        const char *in;
        size_t n, valid;
        const char *repaired;
    } cases[] = {
        {"", 0, 0, ""},
        {"plain ascii", 11, 11, "plain ascii"},
        {"\xC3\xA9t\xC3\xA9", 5, 5, "\xC3\xA9t\xC3\xA9"},               /* été */
        {"ab\xE2\x82", 4, 2, "ab\xEF\xBF\xBD"},                         /* € cut: one U+FFFD */
        {"\xC0\xAFx", 3, 0, "\xEF\xBF\xBD\xEF\xBF\xBDx"},               /* overlong: two */
        {"\xED\xA0\x80", 3, 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
        {"\xF4\x90\x80\x80", 4, 0,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* above U+10FFFF */
        {"a\0b", 3, 3, "a"},                                  /* NUL is valid text */
    };
    char err[R1_ERR_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECKF(r1_utf8_valid_prefix(cases[i].in, cases[i].n) == cases[i].valid, "case %zu: %zu", i,
               r1_utf8_valid_prefix(cases[i].in, cases[i].n));
        char *out = NULL;
        size_t len = 99;
        CHECK(r1_utf8_repair(cases[i].in, cases[i].n, &out, &len, err) == R1_OK);
        size_t want = i == 7 ? 3 : strlen(cases[i].repaired);
        CHECKF(out && len == want && !memcmp(out, i == 7 ? "a\0b" : cases[i].repaired, want) &&
                   out[len] == 0 && r1_utf8_valid_prefix(out, len) == len,
               "case %zu: repaired to %zu bytes", i, len);
        r1_free(out);
    }
    CHECK(r1_utf8_valid_prefix(NULL, 5) == 0);
    char *out = NULL;
    size_t len = 0;
    CHECK(r1_utf8_repair(NULL, 0, &out, &len, err) == R1_OK && out && len == 0 && !out[0]);
    r1_free(out);
    out = NULL;
    CHECK(r1_utf8_repair(NULL, 3, &out, &len, err) == R1_ERR_INVALID_ARG && !out);
    CHECK(r1_utf8_repair("x", 1, NULL, &len, err) == R1_ERR_INVALID_ARG);
}

int main(void)
{
    test_version();
    test_template_names();
    test_utf8();
    test_templates_by_name();
    test_reasoning();
    test_stop();

    char err[R1_ERR_MAX];
    r1_model *m = NULL;
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 2;
    CHECKF(r1_model_load(TINY_MODEL, &mp, &m, err) == R1_OK, "%s", err);
    if (m) {
        test_detok(m);
        test_meta(m);
        test_chat_turn(m);
        r1_model_free(m);
    }
    return test_finish();
}
