/* test_eval_data.c — `r1 eval`'s dataset reader: the AIME / MATH-500 / GSM8K / trainer math
 * layouts, MMLU (cais/mmlu), GPQA, ARC and lettered-key choice layouts, --field overrides, and a
 * corpus of malformed lines, each reported with its line number and skipped (or fatal with
 * strict), never a crash. Also the prompts: the R1 instruction and simple-evals' template. */
#include "test.h"

#include "../../eval/eval_answer.c"
#include "../../eval/eval_data.c"

#include <unistd.h>

static const eval_fields no_fields;

static bool item(const char *json, eval_task task, const eval_fields *f, eval_item *it, char *why)
{
    return eval_item_from_json(json, strlen(json), task, f ? f : &no_fields, 7, it, why);
}

static void test_math_layouts(void)
{
    struct {
        const char *json, *question, *reference;
    } ok[] = {
        {"{\"problem\": \"2+3?\", \"answer\": \"5\"}", "2+3?", "5"}, /* trainer, MATH-500 */
        {"{\"ID\": \"2024-I-1\", \"Problem\": \"P\", \"Answer\": 204}", "P", "204"}, /* AIME */
        {"{\"question\": \"Q\", \"answer\": \"a\\nb\\n#### 1,000\"}", "Q", "1,000"}, /* GSM8K */
        {"{\"problem\": \"P\", \"solution\": \"so $\\\\boxed{\\\\frac{1}{2}}$\"}", "P",
         "\\frac{1}{2}"}, /* MATH solution only */
        {"{\"problem\": \"P\", \"solution\": \"long\", \"answer\": \"7\"}", "P", "7"},
        {"{\"Question\": \"Q\", \"Answer\": 0.25}", "Q", "0.25"},
        {"{\"prompt\": \"Q\", \"target\": \"-3\"}", "Q", "-3"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        eval_item it;
        char why[256] = "";
        bool r = item(ok[i].json, EVAL_TASK_MATH, NULL, &it, why);
        CHECKF(r && !strcmp(it.question, ok[i].question) && !strcmp(it.reference, ok[i].reference),
               "%s: %s / %s", ok[i].json, r ? it.reference : why, ok[i].reference);
        CHECK(!r || it.line == 7);
        if (r) eval_item_free(&it);
    }
    eval_item it;
    char why[256];
    CHECK(item("{\"ID\": \"x\", \"Problem\": \"P\", \"Answer\": 3}", EVAL_TASK_MATH, NULL, &it,
               why) &&
          it.id && !strcmp(it.id, "x"));
    eval_item_free(&it);
    /* --field overrides */
    eval_fields f = {0};
    char ferr[256];
    CHECK(eval_fields_set(&f, "question=text", ferr));
    CHECK(eval_fields_set(&f, "answer=gold", ferr));
    CHECK(!eval_fields_set(&f, "nonsense=x", ferr) && strstr(ferr, "unknown role"));
    CHECK(!eval_fields_set(&f, "question", ferr));
    CHECK(item("{\"text\": \"T\", \"gold\": \"9\", \"problem\": \"no\"}", EVAL_TASK_MATH, &f, &it,
               why) &&
          !strcmp(it.question, "T") && !strcmp(it.reference, "9"));
    eval_item_free(&it);
    CHECK(!item("{\"problem\": \"P\", \"answer\": \"9\"}", EVAL_TASK_MATH, &f, &it, why));
}

static void test_choice_layouts(void)
{
    eval_item it;
    char why[256];
    /* cais/mmlu: index answer */
    CHECK(item("{\"question\":\"Q\",\"subject\":\"law\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],"
               "\"answer\":2}",
               EVAL_TASK_CHOICE, NULL, &it, why));
    CHECK(it.n_choices == 4 && it.answer_index == 2 && !strcmp(it.reference, "C") &&
          !strcmp(it.subject, "law"));
    eval_item_free(&it);
    /* letter answer, options object */
    CHECK(item("{\"question\":\"Q\",\"options\":{\"A\":\"x\",\"B\":\"y\",\"C\":\"z\"},"
               "\"answer\":\"(B)\"}",
               EVAL_TASK_CHOICE, NULL, &it, why) &&
          it.n_choices == 3 && it.answer_index == 1);
    eval_item_free(&it);
    /* answer given as the choice's text; keys A..D */
    CHECK(item("{\"question\":\"Q\",\"A\":\"x\",\"B\":\"y\",\"C\":\"z\",\"D\":\"w\","
               "\"answer\":\"w\"}",
               EVAL_TASK_CHOICE, NULL, &it, why) &&
          it.n_choices == 4 && it.answer_index == 3);
    eval_item_free(&it);
    /* ARC */
    CHECK(item("{\"question\":\"Q\",\"choices\":{\"text\":[\"a\",\"b\"],\"label\":[\"A\",\"B\"]},"
               "\"answerKey\":\"B\"}",
               EVAL_TASK_CHOICE, NULL, &it, why) &&
          it.answer_index == 1);
    eval_item_free(&it);
    /* GPQA: shuffled by line, the correct one tracked */
    const char *gpqa = "{\"Question\":\"Q\",\"Correct Answer\":\"right\",\"Incorrect Answer 1\":"
                       "\"w1\",\"Incorrect Answer 2\":\"w2\",\"Incorrect Answer 3\":\"w3\"}";
    int positions[4] = {0};
    for (int line = 1; line <= 40; line++) {
        bool r =
            eval_item_from_json(gpqa, strlen(gpqa), EVAL_TASK_CHOICE, &no_fields, line, &it, why);
        CHECK(r && it.n_choices == 4 && !strcmp(it.choices[it.answer_index], "right"));
        if (r) positions[it.answer_index]++;
        eval_item other;
        eval_item_from_json(gpqa, strlen(gpqa), EVAL_TASK_CHOICE, &no_fields, line, &other, why);
        CHECK(other.answer_index == it.answer_index); /* fixed per line */
        eval_item_free(&other);
        eval_item_free(&it);
    }
    CHECK(positions[0] && positions[1] && positions[2] && positions[3]);
    /* ten choices, letter J */
    CHECK(item("{\"question\":\"Q\",\"choices\":[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
               "\"8\",\"9\"],\"answer\":\"J\"}",
               EVAL_TASK_CHOICE, NULL, &it, why) &&
          it.n_choices == 10 && it.answer_index == 9);
    char *p = eval_user_prompt(&it, EVAL_TASK_CHOICE);
    CHECK(p && strstr(p, "where LETTER is one of ABCDEFGHIJ") && strstr(p, "\nJ) 9") &&
          strstr(p, "'Answer: $LETTER'"));
    free(p);
    eval_item_free(&it);
}

/* Each malformed record: rejected with a reason, no crash, no leak. */
static void test_malformed(void)
{
    struct {
        eval_task task;
        const char *json, *why;
    } bad[] = {
        {EVAL_TASK_MATH, "not json", "not valid JSON"},
        {EVAL_TASK_MATH, "{\"problem\": \"cut", "not valid JSON"},
        {EVAL_TASK_MATH, "[1, 2]", "not a JSON object"},
        {EVAL_TASK_MATH, "\"text\"", "not a JSON object"},
        {EVAL_TASK_MATH, "{}", "no problem"},
        {EVAL_TASK_MATH, "{\"problem\": {\"a\": 1}, \"answer\": \"1\"}", "no problem"},
        {EVAL_TASK_MATH, "{\"problem\": \"P\"}", "no answer"},
        {EVAL_TASK_MATH, "{\"problem\": \"P\", \"answer\": \"  \"}", "empty"},
        {EVAL_TASK_MATH, "{\"problem\": \"P\", \"answer\": [1]}", "no answer"},
        {EVAL_TASK_MATH, "{\"problem\": null, \"answer\": \"1\"}", "no problem"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"answer\": 0}", "no choices"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\"], \"answer\": 0}",
         "1 choices"},
        {EVAL_TASK_CHOICE,
         "{\"question\": \"Q\", \"choices\": [1,2,3,4,5,6,7,8,9,10,11], \"answer\": 0}",
         "more than 10"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": 2}",
         "not in [0, 2)"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": -1}",
         "not in"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": 0.5}",
         "not in"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": \"C\"}",
         "beyond"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": \"zz\"}",
         "not a choice"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"]}", "no answer"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",{}], \"answer\": 0}",
         "not text"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": 3, \"answer\": 0}", "neither"},
        {EVAL_TASK_CHOICE, "{\"choices\": [\"a\",\"b\"], \"answer\": 0}", "no question"},
        {EVAL_TASK_CHOICE, "{\"question\": \"Q\", \"choices\": [\"a\",\"b\"], \"answer\": true}",
         "neither a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eval_item it;
        char why[256] = "";
        bool r = item(bad[i].json, bad[i].task, NULL, &it, why);
        CHECKF(!r && (!bad[i].why || strstr(why, bad[i].why)), "%s: accepted=%d why=\"%s\"",
               bad[i].json, r, why);
        if (r) eval_item_free(&it);
    }
    /* every prefix of a valid record, and embedded NULs, fail cleanly or parse */
    const char *good = "{\"question\":\"Q\",\"choices\":[\"a\",\"b\",\"c\"],\"answer\":\"B\"}";
    for (size_t n = 0; n <= strlen(good); n++) {
        eval_item it;
        char why[256];
        if (eval_item_from_json(good, n, EVAL_TASK_CHOICE, &no_fields, 1, &it, why))
            eval_item_free(&it);
    }
    CHECK(1);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_eval_data_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return NULL;
    }
    close(fd);
    return path;
}

static void test_files(void)
{
    const char *text = "{\"problem\": \"a\", \"answer\": \"1\"}\n"
                       "broken\n"
                       "\n"
                       "   \n"
                       "{\"problem\": \"b\"}\n"
                       "{\"problem\": \"c\", \"answer\": \"3\"}\r\n"
                       "{\"problem\": \"d\", \"answer\": \"4\"}"; /* no final newline */
    char *path = write_tmp(text);
    CHECK(path != NULL);
    if (!path) return;
    FILE *diag = tmpfile();
    eval_dataset d;
    char err[256];
    CHECK(eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, false, diag, &d, err));
    CHECK(d.n_items == 3 && d.n_bad == 2);
    CHECK(d.items[0].line == 1 && d.items[1].line == 6 && d.items[2].line == 7);
    CHECK(!strcmp(d.items[2].reference, "4"));
    char msgs[1024] = {0};
    rewind(diag);
    size_t got = fread(msgs, 1, sizeof msgs - 1, diag);
    msgs[got] = 0;
    CHECKF(strstr(msgs, ":2: not valid JSON (skipped)") && strstr(msgs, ":5: no answer"), "%s",
           msgs);
    fclose(diag);
    eval_dataset_free(&d);
    /* strict: the first bad line is fatal and named */
    CHECK(!eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, true, NULL, &d, err));
    CHECKF(strstr(err, ":2: not valid JSON") != NULL, "%s", err);
    unlink(path);
    /* a JSON array file; elements numbered from 1 */
    path = write_tmp(
        "  [{\"problem\": \"a\", \"answer\": 1}, 5, {\"problem\": \"c\", \"answer\": 3}]");
    CHECK(eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, false, NULL, &d, err));
    CHECK(d.n_items == 2 && d.n_bad == 1 && d.items[1].line == 3);
    eval_dataset_free(&d);
    unlink(path);
    /* nothing valid; a missing file; an empty file */
    path = write_tmp("x\ny\n");
    CHECK(!eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, false, NULL, &d, err) &&
          strstr(err, "no valid item"));
    unlink(path);
    CHECK(!eval_dataset_load("/nonexistent/data.jsonl", EVAL_TASK_MATH, &no_fields, false, NULL, &d,
                             err) &&
          strstr(err, "cannot open"));
    path = write_tmp("");
    CHECK(!eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, false, NULL, &d, err));
    unlink(path);
    path = write_tmp("[broken");
    CHECK(!eval_dataset_load(path, EVAL_TASK_MATH, &no_fields, false, NULL, &d, err));
    unlink(path);
}

static void test_prompts(void)
{
    eval_item it;
    char why[256];
    CHECK(
        item("{\"problem\": \"What is 2+3?\", \"answer\": \"5\"}", EVAL_TASK_MATH, NULL, &it, why));
    char *p = eval_user_prompt(&it, EVAL_TASK_MATH);
    CHECK(p && !strcmp(p, "What is 2+3?\nPlease reason step by step, and put your final answer "
                          "within \\boxed{}."));
    free(p);
    eval_item_free(&it);
    eval_task t;
    CHECK(eval_task_from_name("choice", &t) && t == EVAL_TASK_CHOICE);
    CHECK(!eval_task_from_name("mmlu", &t));
}

int main(void)
{
    test_math_layouts();
    test_choice_layouts();
    test_malformed();
    test_files();
    test_prompts();
    return test_finish();
}
