/* test_reasoning.c — the <think> splitter gives the same reasoning/content whatever the chunking:
 * every input is fed whole, byte by byte, split at every single point and at every pair of points.
 */
#include "test.h"

#include "tokenizer/reasoning.h"

typedef struct split {
    char part[2][512]; /* [REASONING_PART_*] */
    size_t n[2];
    int n_calls;
} split;

static void collect(void *user, reasoning_part part, const char *s, size_t n)
{
    split *sp = user;
    if (sp->n[part] + n < sizeof sp->part[part]) {
        memcpy(sp->part[part] + sp->n[part], s, n);
        sp->n[part] += n;
        sp->part[part][sp->n[part]] = 0;
    }
    sp->n_calls++;
}

/* Feed text cut at the given points (sorted, may be empty). */
static void run(reasoning_mode mode, bool start_in, const char *text, const size_t *cuts,
                int n_cuts, split *out)
{
    memset(out, 0, sizeof *out);
    reasoning_parser p;
    reasoning_init(&p, mode, start_in, collect, out);
    size_t len = strlen(text), prev = 0;
    for (int i = 0; i <= n_cuts; i++) {
        size_t at = i < n_cuts ? cuts[i] : len;
        reasoning_feed(&p, text + prev, at - prev);
        prev = at;
    }
    reasoning_finish(&p);
}

static void check_case(reasoning_mode mode, bool start_in, const char *text, const char *reasoning,
                       const char *content)
{
    split whole, s;
    run(mode, start_in, text, NULL, 0, &whole);
    CHECKF(!strcmp(whole.part[0], reasoning) && !strcmp(whole.part[1], content),
           "\"%s\": reasoning \"%s\" content \"%s\" (want \"%s\" / \"%s\")", text, whole.part[0],
           whole.part[1], reasoning, content);
    size_t len = strlen(text);
    int bad = 0;
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            run(mode, start_in, text, cuts, 2, &s);
            if (strcmp(s.part[0], whole.part[0]) || strcmp(s.part[1], whole.part[1])) bad++;
        }
    }
    /* byte by byte */
    memset(&s, 0, sizeof s);
    reasoning_parser p;
    reasoning_init(&p, mode, start_in, collect, &s);
    for (size_t i = 0; i < len; i++) reasoning_feed(&p, text + i, 1);
    reasoning_finish(&p);
    if (strcmp(s.part[0], whole.part[0]) || strcmp(s.part[1], whole.part[1])) bad++;
    CHECKF(bad == 0, "\"%s\": %d chunkings disagree", text, bad);
}

int main(void)
{
    const reasoning_mode DS = REASONING_DEEPSEEK;
    check_case(DS, false, "<think>\nLet me see.\n</think>\n\nThe answer is 4.", "\nLet me see.\n",
               "The answer is 4.");
    check_case(DS, false, "\n <think>x</think>y", "x", "y");
    check_case(DS, true, "\nstill thinking</think>\n\ndone", "\nstill thinking", "done");
    check_case(DS, true, "cut off mid-thought </thi", "cut off mid-thought </thi", "");
    check_case(DS, false, "No reasoning at all.", "", "No reasoning at all.");
    check_case(DS, false, "  <thinking>not a tag</thinking>", "", "<thinking>not a tag</thinking>");
    check_case(DS, false, "<think>a </th</think> b <think>c</think>", "a </th",
               "b <think>c</think>");
    check_case(DS, false, "<think><</</think>z", "<</", "z");
    check_case(DS, false, "<thin", "", "<thin");
    check_case(DS, false, "<think>", "", "");
    check_case(DS, false, "<think>\xE4\xBD\xA0</think>\xF0\x9F\x99\x8F", "\xE4\xBD\xA0",
               "\xF0\x9F\x99\x8F");
    check_case(DS, false, "", "", "");
    check_case(REASONING_NONE, false, "<think>r</think>\n\nc", "", "<think>r</think>\n\nc");
    check_case(REASONING_NONE, true, "r</think>c", "", "r</think>c");
    reasoning_mode m;
    CHECK(reasoning_mode_from_name("deepseek", &m) && m == REASONING_DEEPSEEK);
    CHECK(reasoning_mode_from_name("none", &m) && m == REASONING_NONE);
    CHECK(!reasoning_mode_from_name("raw", &m));
    return test_finish();
}
