/* test_eval_answer.c — `r1 eval`'s answer extraction and math equivalence: tricky pairs that must
 * match and near misses that must not, boxed/phrase/number extraction, choice letters. The table
 * is the specification of docs/eval.md ("Math answers"). */
#include "test.h"

#include "../../eval/eval_answer.c"

typedef struct pair {
    const char *a, *b;
} pair;

/* Must be equivalent (checked both ways). */
static const pair same[] = {
    /* integers, separators, leading zeros (AIME answers are 000–999) */
    {"42", "42"},
    {"1,000", "1000"},
    {"1,234,567", "1234567"},
    {"1{,}000", "1000"},
    {"1\\,000", "1000"},
    {"033", "33"},
    {"007", "7"},
    {"000", "0"},
    {"-5", "-5"},
    {"+5", "5"},
    {"5.", "5"},
    {" 17 ", "17"},
    {"$17$", "17"},
    {"\\(17\\)", "17"},
    {"\\[17\\]", "17"},
    {"\\boxed{17}", "17"},
    /* decimals */
    {"0.5", ".5"},
    {"0.50", "0.5"},
    {"2.0", "2"},
    {"-0.25", "-\\frac{1}{4}"},
    {"3.14159", "3.14159"},
    {"1.25", "\\frac{5}{4}"},
    /* fractions */
    {"\\frac{1}{2}", "0.5"},
    {"\\frac12", "\\frac{1}{2}"},
    {"\\dfrac{3}{4}", "\\frac{3}{4}"},
    {"\\tfrac{3}{4}", "0.75"},
    {"3/4", "\\frac{3}{4}"},
    {"\\frac{6}{8}", "\\frac{3}{4}"},
    {"-\\frac{1}{3}", "\\frac{-1}{3}"},
    {"\\frac{-1}{3}", "-1/3"},
    {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"},
    {"\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2"},
    {"\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"},
    {"2\\frac{1}{2}", "2.5"},
    {"2\\frac{1}{2}", "\\frac{5}{2}"},
    {"\\frac{10}{4}", "2.5"},
    {"\\cfrac{1}{2}", "1/2"},
    {"{1}/{2}", "0.5"},
    /* percentages */
    {"50\\%", "50"},
    {"50%", "0.5"},
    {"12.5\\%", "12.5"},
    {"25 percent", "25"},
    {"100\\%", "1"},
    /* \text, units, degrees, dollars */
    {"\\text{5}", "5"},
    {"5 \\text{ cm}", "5"},
    {"5\\text{cm}", "5"},
    {"5 cm", "5"},
    {"12 square units", "12"},
    {"12 \\text{ square units}", "12"},
    {"30^\\circ", "30"},
    {"30^{\\circ}", "30"},
    {"30\xc2\xb0", "30"},
    {"30 degrees", "30"},
    {"\\$5", "5"},
    {"\\$1,250.50", "1250.5"},
    {"60 km/h", "60"},
    {"30mph", "30"},
    {"10 \\text{ apples}", "10"},
    {"4 \\mbox{ inches}", "4"},
    {"3 \\text{ hours}", "3"},
    {"9\\text{ m}^2", "9"},
    {"5\\ \\text{dollars}", "5"},
    {"\\textbf{7}", "7"},
    {"\\mathrm{7}", "7"},
    /* variable prefixes */
    {"x = 5", "5"},
    {"x=5", "5"},
    {"k = 3", "3"},
    {"x_1 = 2", "2"},
    {"\\theta = 30^\\circ", "30"},
    {"y = 2x + 3", "2x+3"},
    {"x \\in [1, 2]", "[1,2]"},
    /* roots, powers, pi */
    {"\\sqrt{2}", "\\sqrt2"},
    {"2\\sqrt{3}", "\\sqrt{12}"},
    {"\\sqrt{8}", "2\\sqrt{2}"},
    {"\\sqrt[3]{8}", "2"},
    {"\\sqrt[3]{-27}", "-3"},
    {"2^{10}", "1024"},
    {"2^10", "1024"},
    {"x^{2}", "x^2"},
    {"10^{-2}", "0.01"},
    {"3\\pi", "3 \\pi"},
    {"\\frac{\\pi}{2}", "\\frac12\\pi"},
    {"\\pi/2", "\\frac{\\pi}{2}"},
    {"2\\pi r", "2 r\\pi"},
    {"\\pi r^2", "r^2\\pi"},
    {"5!", "120"},
    {"\\binom{5}{2}", "10"},
    {"\\dbinom{6}{3}", "20"},
    {"2 \\times 3", "6"},
    {"2 \\cdot 3", "6"},
    {"6 \\div 3", "2"},
    {"1.5 \\times 10^{3}", "1500"},
    {"\\left(3\\right)", "3"},
    {"(5)", "5"},
    /* algebra: letters are variables */
    {"2x+3", "3+2x"},
    {"\\frac{x}{2}", "x/2"},
    {"\\frac{x}{2}", "0.5x"},
    {"x^2-1", "(x-1)(x+1)"},
    {"(x+1)^2", "x^2+2x+1"},
    {"2(a+b)", "2a+2b"},
    {"\\frac{1}{x}", "x^{-1}"},
    {"ab+1", "ba+1"},
    {"2xy", "2yx"},
    {"\\frac{a+b}{2}", "\\frac{b+a}{2}"},
    {"3\\sqrt{x}", "3x^{1/2}"},
    {"\\alpha+\\beta", "\\beta+\\alpha"},
    {"\\log_2 8", "3"},
    {"\\ln 1", "0"},
    {"e^{2}", "e^2"},
    {"x_1 + x_2", "x_2 + x_1"},
    /* tuples, intervals, sets, matrices */
    {"(1,2)", "(1, 2)"},
    {"(1,2)", "1,2"},
    {"(\\frac{1}{2}, 3)", "(0.5, 3)"},
    {"[1,2)", "[1, 2)"},
    {"(-\\infty, 3]", "(-\\infty,3]"},
    {"(-\\infty,0)\\cup(1,\\infty)", "(-\\infty, 0) \\cup (1, \\infty)"},
    {"\\{1,2,3\\}", "\\{3,2,1\\}"},
    {"1, 2", "2, 1"},
    {"-2, 5", "5, -2"},
    {"x=1, 2", "1,2"},
    {"x = 2, x = -3", "-3, 2"},
    {"(x, y) = (1, 2)", "(x,y)=(1,2)"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)"},
    {"\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "(1, 2)"},
    {"\\left( 1, \\frac{\\pi}{2} \\right)", "(1, \\pi/2)"},
    {"(3, -1)", "(3,-1)"},
    {"(0.5, \\frac{1}{4})", "(\\frac12, 0.25)"},
    /* words and letters */
    {"\\text{Yes}", "yes"},
    {"YES", "yes"},
    {"\\text{(C)}", "C"},
    {"(C)", "C"},
    {"\\text{Monday}", "monday"},
    {"\\textbf{odd}", "Odd"},
    {"\\emptyset", "\\varnothing"},
    /* unicode forms */
    {"\xe2\x88\x92"
     "5",
     "-5"},
    {"2\xcf\x80", "2\\pi"},
    {"3 \xc3\x97 4", "12"},
    {"\xe2\x88\x9a"
     "2",
     "\\sqrt{2}"},
    /* the trainer's arithmetic answers */
    {"1234", "1234"},
    {"-382", "-382"},
    {"3*4+5", "17"},
    {"(2+3)*4", "20"},
    {"20", "4*(2+3)"},
};

/* Must not be equivalent. */
static const pair different[] = {
    {"42", "43"},
    {"42", "420"},
    {"33", "330"},
    {"1,000", "100"},
    {"0.5", "0.55"},
    {"\\frac{1}{3}", "0.33"},
    {"\\frac{1}{3}", "0.333"},
    {"\\frac{1}{2}", "\\frac{1}{3}"},
    {"\\frac{2}{3}", "\\frac{3}{2}"},
    {"\\sqrt{2}", "2"},
    {"\\sqrt{2}", "1.41"},
    {"\\pi", "3.14"},
    {"2\\pi", "\\pi"},
    {"-5", "5"},
    {"x+1", "x-1"},
    {"2x", "2y"},
    {"x^2", "2x"},
    {"(x+1)^2", "x^2+1"},
    {"(1,2)", "(2,1)"},
    {"(1,2)", "[1,2]"},
    {"[1,2)", "[1,2]"},
    {"(1,2)", "(1,2,3)"},
    {"\\{1,2\\}", "\\{1,3\\}"},
    {"(-\\infty, 3)", "(-\\infty, 3]"},
    {"(-\\infty,0)\\cup(1,\\infty)", "(-\\infty,0)"},
    {"(-\\infty,0)\\cup(1,\\infty)", "(-\\infty,1)\\cup(0,\\infty)"},
    {"yes", "no"},
    {"no", "on"},
    {"north", "south"},
    {"A", "B"},
    {"(A)", "(B)"},
    {"5", ""},
    {"", ""},
    {"5", "5x"},
    {"12", "12\\sqrt{2}"},
    {"2\\sqrt{3}", "3\\sqrt{2}"},
    {"2^{10}", "2^{11}"},
    {"5!", "5"},
    {"\\infty", "-\\infty"},
    {"10\\%", "1"},
    {"1/4", "4"},
    {"1", "1,2"},
    {"3", "x=3, y=4"},
    {"x = 2, x = -3", "2, 3"},
    {"x=2", "y=3"},
    {"(1,2)", "\\{1,2\\}"},
    {"1e5", "100000"},
    {"100", "1000"},
    {"25", "0.025"},
    {"\\frac{1}{2}x", "\\frac{1}{2}"},
    {"2.5", "2\\frac{1}{3}"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(2,1)"},
    {"\\sqrt[3]{8}", "\\sqrt{8}"},
    {"7", "\\text{seven}"},
    {"\\log_2 8", "\\log 8"},
};

static void test_equivalence(void)
{
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        CHECKF(eval_math_equal(same[i].a, same[i].b), "\"%s\" = \"%s\"", same[i].a, same[i].b);
        CHECKF(eval_math_equal(same[i].b, same[i].a), "\"%s\" = \"%s\" (swapped)", same[i].b,
               same[i].a);
    }
    for (size_t i = 0; i < sizeof different / sizeof different[0]; i++) {
        CHECKF(!eval_math_equal(different[i].a, different[i].b), "\"%s\" != \"%s\"", different[i].a,
               different[i].b);
        CHECKF(!eval_math_equal(different[i].b, different[i].a), "\"%s\" != \"%s\" (swapped)",
               different[i].b, different[i].a);
    }
    printf("equivalence: %zu equal pairs, %zu different pairs\n", sizeof same / sizeof same[0],
           sizeof different / sizeof different[0]);
}

typedef struct extraction {
    const char *content, *reasoning;
    const char *want; /* NULL: no answer */
    eval_extract how;
} extraction;

static const extraction extractions[] = {
    {"The answer is \\boxed{42}.", NULL, "42", EVAL_EXTRACT_BOXED},
    {"\\boxed{1} then \\boxed{2}", NULL, "2", EVAL_EXTRACT_BOXED},
    {"$\\boxed{\\frac{1}{2}}$", NULL, "\\frac{1}{2}", EVAL_EXTRACT_BOXED},
    {"\\boxed{\\left\\{ 1, 2 \\right\\}}", NULL, "\\left\\{ 1, 2 \\right\\}", EVAL_EXTRACT_BOXED},
    {"\\boxed{(1,\\frac{\\pi}{2})}", NULL, "(1,\\frac{\\pi}{2})", EVAL_EXTRACT_BOXED},
    {"\\boxed{\\boxed{7}}", NULL, "\\boxed{7}", EVAL_EXTRACT_BOXED},
    {"so \\boxed 5 is it", NULL, "5", EVAL_EXTRACT_BOXED},
    {"\\fbox{9}", NULL, "9", EVAL_EXTRACT_BOXED},
    {"\\boxed{3} and \\boxed{unclosed", NULL, "3", EVAL_EXTRACT_BOXED},
    {"\\boxed{}", NULL, NULL, EVAL_EXTRACT_NONE},
    {"Final answer: 12", NULL, "12", EVAL_EXTRACT_PHRASE},
    {"So the answer is 7. Done.", NULL, "7", EVAL_EXTRACT_PHRASE},
    {"**Answer:** $x = 3$", NULL, "x = 3", EVAL_EXTRACT_PHRASE},
    {"The final answer is $\\frac{3}{4}$.", NULL, "\\frac{3}{4}", EVAL_EXTRACT_PHRASE},
    {"The answer is 3.5.", NULL, "3.5", EVAL_EXTRACT_PHRASE},
    {"", "we get \\boxed{8}", "8", EVAL_EXTRACT_REASONING_BOXED},
    {NULL, "we get \\boxed{8} hmm", "8", EVAL_EXTRACT_REASONING_BOXED},
    {"It is 5 or maybe 6", "\\boxed{8}", "8", EVAL_EXTRACT_REASONING_BOXED},
    {"It is 5 or maybe 6", NULL, "6", EVAL_EXTRACT_LAST_NUMBER},
    {"total 1,250 dollars.", NULL, "1,250", EVAL_EXTRACT_LAST_NUMBER},
    {"we owe -3 now", NULL, "-3", EVAL_EXTRACT_LAST_NUMBER},
    {"ratio 3/4", NULL, "3/4", EVAL_EXTRACT_LAST_NUMBER},
    {"x2 only", NULL, NULL, EVAL_EXTRACT_NONE},
    {"no numbers here", "nor here", NULL, EVAL_EXTRACT_NONE},
    {NULL, NULL, NULL, EVAL_EXTRACT_NONE},
};

static void test_extraction(void)
{
    for (size_t i = 0; i < sizeof extractions / sizeof extractions[0]; i++) {
        const extraction *x = &extractions[i];
        eval_extract how;
        char *got = eval_extract_math(x->content, x->reasoning, &how);
        bool ok = x->want ? got && !strcmp(got, x->want) : got == NULL;
        CHECKF(ok && how == x->how, "extract \"%s\" / \"%s\": got \"%s\" by %s, want \"%s\" by %s",
               x->content ? x->content : "(null)", x->reasoning ? x->reasoning : "(null)",
               got ? got : "(null)", eval_extract_name(how), x->want ? x->want : "(null)",
               eval_extract_name(x->how));
        free(got);
    }
    /* references */
    struct {
        const char *field, *want;
    } refs[] = {
        {"Natalia sold 48 clips... #### 72", "72"},
        {"step one\n#### 1,000", "1,000"},
        {"So the total is $\\boxed{\\frac{14}{3}}$.", "\\frac{14}{3}"},
        {"  204 ", "204"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        char *got = eval_reference_answer(refs[i].field);
        CHECKF(got && !strcmp(got, refs[i].want), "reference \"%s\": got \"%s\"", refs[i].field,
               got ? got : "(null)");
        free(got);
    }
}

typedef struct choice_case {
    const char *content, *reasoning;
    int n, want;
} choice_case;

static const choice_case choices[] = {
    {"Answer: B", NULL, 4, 1},
    {"Thinking...\nAnswer: D", NULL, 4, 3},
    {"answer: c", NULL, 4, -1},
    {"**Answer: C**", NULL, 4, 2},
    {"**Answer:** A", NULL, 4, 0},
    {"Answer: (B)", NULL, 4, 1},
    {"Answer: $\\boxed{C}$", NULL, 4, 2},
    {"Answer: \\text{D}", NULL, 4, 3},
    {"The answer is B.", NULL, 4, 1},
    {"Answer: A\nWait, Answer: C", NULL, 4, 2},
    {"Answer: E", NULL, 4, -1},
    {"Answer: E", NULL, 5, 4},
    {"Answer: J", NULL, 10, 9},
    {"Answer: Both", NULL, 4, -1},
    {"\\boxed{B}", NULL, 4, 1},
    {"\\boxed{\\text{(D)}}", NULL, 4, 3},
    {"B", NULL, 4, 1},
    {" (C) ", NULL, 4, 2},
    {"A.", NULL, 4, 0},
    {"A cat", NULL, 4, -1},
    {"", "so Answer: B", 4, 1},
    {NULL, NULL, 4, -1},
    {"Answer:B", NULL, 2, 1},
    {"Answer: C", NULL, 2, -1},
};

static void test_choice(void)
{
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        const choice_case *c = &choices[i];
        int got = eval_extract_choice(c->content, c->reasoning, c->n);
        CHECKF(got == c->want, "choice \"%s\" (%d choices): got %d want %d",
               c->content ? c->content : "(null)", c->n, got, c->want);
    }
}

/* Hostile inputs: nothing crashes, deep nesting is refused cleanly. */
static void test_hostile(void)
{
    char deep[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 1000; i++) deep[n++] = ')';
    deep[n] = 0;
    CHECK(!eval_math_equal(deep, "2"));
    const char *junk[] = {"\\",
                          "{",
                          "}",
                          "\\frac",
                          "\\frac{",
                          "\\sqrt[",
                          "^",
                          "x^",
                          "((",
                          "\\boxed{",
                          "$$",
                          "\\left",
                          "1,",
                          ",",
                          "\\{",
                          "\\}",
                          "_",
                          "x_{",
                          "\\begin{pmatrix}",
                          "\\cup",
                          "%",
                          "\xff\xfe",
                          "2\\frac{1}{0}"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) eval_math_equal(junk[i], junk[j]);
        free(eval_math_normalize(junk[i]));
        free(eval_last_boxed(junk[i]));
        eval_extract_choice(junk[i], junk[i], 4);
    }
    CHECK(eval_math_equal("\\frac{1}{0}", "\\infty") || true); /* defined either way, no crash */
}

int main(void)
{
    test_equivalence();
    test_extraction();
    test_choice();
    test_hostile();
    return test_finish();
}
