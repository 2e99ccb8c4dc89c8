/* tasks.h — synthetic reasoning tasks with verifiable answers, written as R1 chats.
 *
 * Kinds and their worked scratchpads (the text inside <think>…</think>):
 *   add  a+b      one line per column, right to left: "7+8+0=15" (digits and carry in)
 *   sub  a-b      one line per column with borrows: "17-8-0=9" (a 1 in front = borrowed); a < b
 *                 first says "swap" and negates
 *   mul  a*b      per digit of b: the digit products with carries ("8: 7*8=56, 4*8+5=37, 376"),
 *                 then the partial products (shifted) summed with the add lines
 *   countdown     reach a target from given numbers with + - *: a few tried chains ("no"), then
 *                 the one that works ("yes"); the answer is the expression
 * The final answer follows </think> as "\boxed{…}". Difficulty: operand digit counts (add, sub,
 * mul) or the count of numbers and dead ends (countdown).
 * Held-out split: a problem is in the test split when a hash of its canonical form falls in the
 * lowest 10%; training draws only train problems, evaluation only test problems, so evaluation
 * problems are never seen in training.
 */
#ifndef R1_TRAIN_TASKS_H
#define R1_TRAIN_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum task_kind {
    TASK_ADD = 0,
    TASK_SUB = 1,
    TASK_MUL = 2,
    TASK_COUNTDOWN = 3,
} task_kind;

/* One entry of a task mix. Digits: a has lo_a..hi_a digits, b lo_b..hi_b (add/sub: b as a);
 * countdown: lo_a..hi_a numbers. weight: relative frequency in a mix. */
typedef struct task_spec {
    task_kind kind;
    int lo_a, hi_a, lo_b, hi_b;
    float weight;
} task_spec;

#define TASK_MAX_SPECS 16

typedef struct task_mix {
    task_spec spec[TASK_MAX_SPECS];
    int n;
} task_mix;

/* Parse "add:1-3@2,sub:1-3,mul:1-2x1-2,countdown:3-4" (ranges "N" or "LO-HI", mul "AxB",
 * "@W" weights, default 1). Returns false with a message in err (may be NULL, 256 bytes). */
bool task_mix_parse(const char *text, task_mix *out, char *err);

typedef enum task_split {
    SPLIT_TRAIN = 0,
    SPLIT_TEST = 1,
} task_split;

typedef struct problem {
    task_kind kind;
    char question[160];          /* the user turn */
    char scratch[1536];          /* inside <think>…</think> */
    char answer[64];             /* the reference answer (countdown: one valid expression) */
    int nums[6], n_nums, target; /* countdown */
} problem;

/* Draw a problem from the spec (uniform over its digit ranges) in the given split; the same
 * (spec, seed, split) always gives the same problem. */
void task_generate(const task_spec *s, uint64_t seed, task_split split, problem *out);
/* Draw from a mix: the spec is chosen by weight from seed. */
void task_generate_mix(const task_mix *mix, uint64_t seed, task_split split, problem *out);

/* The user turn as a prompt, and optionally the R1 evaluation instruction after it. */
int task_user_text(const problem *p, bool r1_suffix, char *out, size_t cap);

/* The whole chat "BOS<｜User｜>q<｜Assistant｜><think>\n" (prompt) and, with with_answer,
 * "scratch\n</think>\n\n\boxed{answer}<｜end▁of▁sentence｜>" after it. Returns the byte length;
 * *out_prompt_len (may be NULL) gets the prompt's byte length. */
int task_render_chat(const problem *p, bool r1_suffix, bool with_answer, char *out, size_t cap,
                     int *out_prompt_len);

/* Grade a completion (the text after the prompt). The answer is the last \boxed{…} (nested
 * braces) after the last </think> (or anywhere when there is none). *out_format: a </think>, then
 * a \boxed{}, nothing but whitespace around it. Returns true when the answer is right
 * (countdown: the expression uses each given number at most once and evaluates to the target). */
bool task_check(const problem *p, const char *completion, bool *out_format);

/* Extract the boxed answer of a completion into out (cap bytes); false when there is none. */
bool task_extract_answer(const char *completion, char *out, size_t cap);

const char *task_kind_name(task_kind k);

#endif
