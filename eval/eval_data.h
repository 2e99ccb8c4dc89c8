/* eval_data.h — benchmark items for `r1 eval`: read JSONL (or a JSON array) in the common dataset
 * layouts, and write the user prompt of each item.
 *
 *   math    question: problem | Problem | question | Question | prompt | input
 *           answer:   answer | Answer | final_answer | solution | Solution | target | output
 *                     (a number is written as its decimal; GSM8K "#### 72" and a MATH solution's
 *                     \boxed{} are reduced to the answer: eval_reference_answer)
 *   choice  question: question | Question | problem | input | prompt
 *           choices:  choices | options (an array, an object keyed by letters, or ARC's
 *                     {"text": [...], "label": [...]}), else keys "A".."J"; GPQA: "Correct Answer"
 *                     + "Incorrect Answer 1..3", shuffled by a fixed function of the line number
 *           answer:   answer | Answer | label | answer_idx | answerKey | target: an integer index
 *                     (0-based, as cais/mmlu), a letter, or the text of one choice
 * `--field ROLE=NAME` (roles question, answer, choices, id, subject) names a field instead.
 * Items keep their 1-based line number (array element number for a JSON array file): it is their
 * identity in results files. Malformed lines are reported as "PATH:LINE: why" and skipped, or
 * fail the load when strict. */
#ifndef R1_EVAL_DATA_H
#define R1_EVAL_DATA_H

#include <stdbool.h>
#include <stdio.h>

#define EVAL_MAX_CHOICES 10

typedef enum eval_task {
    EVAL_TASK_MATH = 0,
    EVAL_TASK_CHOICE = 1,
    EVAL_TASK_PERPLEXITY = 2,
} eval_task;

const char *eval_task_name(eval_task t);
bool eval_task_from_name(const char *name, eval_task *out);

typedef struct eval_fields {
    const char *question, *answer, *choices, *id, *subject; /* NULL = the usual names */
} eval_fields;

/* Apply "ROLE=NAME"; false (with a message in err, 256 bytes) for an unknown role. The NAME
 * points into spec, which must outlive the fields. */
bool eval_fields_set(eval_fields *f, const char *spec, char *err);

typedef struct eval_item {
    int line;        /* 1-based line (or array element) in the data file */
    char *id;        /* the dataset's id, or NULL */
    char *subject;   /* MMLU subject etc., or NULL */
    char *question;  /* the problem / question text */
    char *reference; /* math: the reference answer; choice: the correct letter ("B") */
    int n_choices;   /* choice: 2..EVAL_MAX_CHOICES */
    char *choices[EVAL_MAX_CHOICES];
    int answer_index; /* choice: 0-based */
} eval_item;

typedef struct eval_dataset {
    eval_item *items;
    int n_items;
    int n_bad; /* malformed lines skipped */
} eval_dataset;

/* Parse one JSON record into *out (zeroed first). False with the reason in err (256 bytes). */
bool eval_item_from_json(const char *json, size_t n, eval_task task, const eval_fields *f, int line,
                         eval_item *out, char *err);
void eval_item_free(eval_item *it);

/* Load a dataset. Problems go to diag ("PATH:LINE: why (skipped)"; may be NULL); strict makes
 * the first one fatal. Returns false with a message in err (256 bytes) when the file cannot be
 * read, is strict-failed, or has no valid item. */
bool eval_dataset_load(const char *path, eval_task task, const eval_fields *f, bool strict,
                       FILE *diag, eval_dataset *out, char *err);
void eval_dataset_free(eval_dataset *d);

/* The user turn of an item (malloc'd): math appends the R1 instruction "Please reason step by
 * step, and put your final answer within \boxed{}."; choice uses simple-evals' zero-shot
 * template ending in the lettered choices and asking for "Answer: $LETTER". */
char *eval_user_prompt(const eval_item *it, eval_task task);

#endif
