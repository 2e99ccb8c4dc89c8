/* test_train_tasks.c — the synthetic tasks: every generated answer is right (checked by
 * arithmetic here, and the countdown expression by the grader), the scratchpads are consistent
 * with the answer, grading accepts the reference completion and rejects wrong or malformed ones,
 * train and test splits never share a problem, generation is a pure function of the seed, and
 * mix strings parse (and bad ones are refused). */
#include "test.h"

#include "train/tasks.h"
#include "train/vocab.h"

#include <stdlib.h>

static void completion_of(const problem *p, char *out, size_t cap)
{
    char chat[4096];
    int prompt;
    task_render_chat(p, false, true, chat, sizeof chat, &prompt);
    snprintf(out, cap, "%s", chat + prompt);
}

int main(void)
{
    task_mix mix;
    char err[256];
    CHECK(task_mix_parse("add:1-3@2,sub:2,mul:1-2x2,countdown:3-4", &mix, err));
    CHECK(mix.n == 4 && mix.spec[0].weight == 2 && mix.spec[2].lo_b == 2 && mix.spec[3].hi_a == 4);
    CHECK(!task_mix_parse("add:0", &mix, err));
    CHECK(!task_mix_parse("div:2", &mix, err));
    CHECK(!task_mix_parse("add:3x2", &mix, err));
    CHECK(!task_mix_parse("countdown:9", &mix, err));
    CHECK(!task_mix_parse("add:2@-1", &mix, err));
    CHECK(!task_mix_parse("", &mix, err));

    const char *specs[] = {"add:1-6", "sub:1-6", "mul:1-3x1-3", "countdown:2-5"};
    int n_bad = 0;
    for (int k = 0; k < 4; k++) {
        CHECK(task_mix_parse(specs[k], &mix, err));
        for (int i = 0; i < 400; i++) {
            for (int split = 0; split < 2; split++) {
                problem p, q;
                task_generate(&mix.spec[0], (uint64_t)i, (task_split)split, &p);
                task_generate(&mix.spec[0], (uint64_t)i, (task_split)split, &q);
                CHECK(!memcmp(&p, &q, sizeof p));
                long long a, b;
                char op;
                if (p.kind != TASK_COUNTDOWN &&
                    sscanf(p.question, "Compute %lld%c%lld.", &a, &op, &b) == 3) {
                    long long want = op == '+' ? a + b : op == '-' ? a - b : a * b;
                    n_bad += atoll(p.answer) != want;
                }
                char comp[4096];
                completion_of(&p, comp, sizeof comp);
                bool fmt;
                n_bad += !task_check(&p, comp, &fmt) || !fmt;
                /* a wrong answer and a missing box are wrong */
                char wrong[4096];
                snprintf(wrong, sizeof wrong, "x</think>\n\n\\boxed{%s1}", p.answer);
                n_bad += task_check(&p, wrong, NULL);
                n_bad += task_check(&p, "no answer", &fmt) || fmt;
            }
        }
    }
    CHECKF(n_bad == 0, "%d generated problems failed their own checks", n_bad);

    /* the split: 3-digit additions never repeat across train and test */
    task_spec add3 = {TASK_ADD, 3, 3, 3, 3, 1};
    int n = 3000;
    char(*train)[160] = calloc((size_t)n, 160);
    int n_test_in_train = 0;
    for (int i = 0; i < n; i++) {
        problem p;
        task_generate(&add3, (uint64_t)i, SPLIT_TRAIN, &p);
        memcpy(train[i], p.question, 160);
    }
    for (int i = 0; i < 500; i++) {
        problem p;
        task_generate(&add3, 777777 + (uint64_t)i, SPLIT_TEST, &p);
        for (int j = 0; j < n; j++) n_test_in_train += !strcmp(train[j], p.question);
    }
    free(train);
    CHECK(n_test_in_train == 0);

    /* known formats */
    problem p;
    memset(&p, 0, sizeof p);
    p.kind = TASK_COUNTDOWN;
    p.n_nums = 3;
    p.nums[0] = 25, p.nums[1] = 3, p.nums[2] = 7;
    p.target = 68;
    CHECK(task_check(&p, "</think>\n\n\\boxed{25*3-7}", NULL));
    CHECK(task_check(&p, "</think>\\boxed{ 3*25 - 7 }", NULL));
    CHECK(!task_check(&p, "</think>\\boxed{25*3-7+0}", NULL));   /* 0 is not given */
    CHECK(!task_check(&p, "</think>\\boxed{25*3-7-7+7}", NULL)); /* 7 used thrice */
    CHECK(!task_check(&p, "</think>\\boxed{25*3}", NULL));
    CHECK(!task_check(&p, "</think>\\boxed{(25*3-7}", NULL));
    char ans[64];
    CHECK(task_extract_answer("a \\boxed{1} </think> b \\boxed{\\frac{1}{2}}", ans, sizeof ans) &&
          !strcmp(ans, "\\frac{1}{2}"));

    /* chat rendering and the vocabulary */
    task_generate(&add3, 1, SPLIT_TRAIN, &p);
    char chat[4096];
    int prompt;
    int len = task_render_chat(&p, true, true, chat, sizeof chat, &prompt);
    CHECK(!strncmp(chat, "<｜begin▁of▁sentence｜><｜User｜>Compute ", 40));
    CHECK(strstr(chat, "Please reason step by step") != NULL);
    CHECK(!strcmp(chat + prompt - strlen("<｜Assistant｜><think>\n"), "<｜Assistant｜><think>\n") ||
          !strncmp(chat + prompt - strlen("<｜Assistant｜><think>\n"), "<｜Assistant｜><think>\n",
                   strlen("<｜Assistant｜><think>\n")));
    int32_t ids[1024];
    int k = vocab_encode(chat, (size_t)len, ids, 1024);
    CHECK(ids[0] == VOCAB_BOS && ids[1] == VOCAB_USER && ids[k - 1] == VOCAB_EOS);
    char back[4096];
    CHECK(vocab_decode(ids, k, back, sizeof back) == (size_t)len && !strcmp(back, chat));
    return test_finish();
}
