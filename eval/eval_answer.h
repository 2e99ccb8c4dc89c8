/* eval_answer.h — final answers of model outputs, and whether two math answers are the same.
 *
 * Usage:
 *   eval_extract how;
 *   char *ans = eval_extract_math(content, reasoning, &how);   // malloc'd or NULL
 *   bool ok = ans && eval_math_equal(ans, reference);
 *   int letter = eval_extract_choice(content, reasoning, 4); // 0..3 or -1
 *
 * Math answers (docs/eval.md has the full list): the last complete \boxed{…} of the content after
 * the reasoning, nested braces matched; else, in order, the text after the last "answer is" /
 * "answer:" phrase of the content, the last \boxed{…} of the reasoning, the last number of the
 * content. Equivalence normalizes both sides (LaTeX spacing, \left/\right, \dfrac, \text{},
 * units, degrees, percent, dollars, thousands separators, "x =" prefixes), then compares strings,
 * then element by element for tuples, intervals, sets and matrices, then numerically with a
 * small expression evaluator (fractions, roots, powers, \pi, implicit products; letters are
 * variables checked at fixed sample points), relative tolerance 1e-6.
 * Pure functions over NUL-terminated strings: no globals, thread-safe, never abort on any input. */
#ifndef R1_EVAL_ANSWER_H
#define R1_EVAL_ANSWER_H

#include <stdbool.h>

typedef enum eval_extract {
    EVAL_EXTRACT_NONE = 0,
    EVAL_EXTRACT_BOXED = 1,           /* last \boxed{} of the content */
    EVAL_EXTRACT_PHRASE = 2,          /* "the answer is X" / "Answer: X" in the content */
    EVAL_EXTRACT_REASONING_BOXED = 3, /* last \boxed{} of the reasoning */
    EVAL_EXTRACT_LAST_NUMBER = 4,     /* last number of the content */
    EVAL_EXTRACT_LETTER = 5,          /* choice: "Answer: X" (or a fallback form) */
} eval_extract;

const char *eval_extract_name(eval_extract how);

/* Content of the last complete \boxed{…} (or \fbox{…}, or "\boxed X") in text, nested braces
 * matched and \{ \} skipped; malloc'd, or NULL when there is none. */
char *eval_last_boxed(const char *text);

/* The final answer of a math output split into reasoning (may be NULL) and content (may be NULL),
 * malloc'd, or NULL (*out_how = EVAL_EXTRACT_NONE) when none of the rules finds one. */
char *eval_extract_math(const char *content, const char *reasoning, eval_extract *out_how);

/* The reference answer of a dataset field: GSM8K's "… #### 72" gives "72", a MATH solution's
 * last \boxed{} its content, anything else itself, trimmed. malloc'd (NULL only when out of
 * memory). */
char *eval_reference_answer(const char *field);

/* The letter picked by a multiple-choice output, as an index 0..n_choices-1, or -1: the last
 * "Answer: X" of the content (markdown, parentheses, \boxed and \text around X allowed), else the
 * last \boxed{X}, else a content that is only "X", "(X)", "X." or "X)", else the last
 * "Answer: X" of the reasoning. */
int eval_extract_choice(const char *content, const char *reasoning, int n_choices);

/* Normalized form of a math answer (the form compared first and shown in reports); malloc'd. */
char *eval_math_normalize(const char *s);

/* Whether two math answers are equivalent (symmetric; false when either is empty). */
bool eval_math_equal(const char *a, const char *b);

#endif
