/* eval_data.c — dataset items and prompts for `r1 eval` (layouts in eval_data.h). */
#include "eval_data.h"

#include "eval_answer.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *eval_task_name(eval_task t)
{
    switch (t) {
    case EVAL_TASK_MATH:
        return "math";
    case EVAL_TASK_CHOICE:
        return "choice";
    case EVAL_TASK_PERPLEXITY:
        return "perplexity";
    }
    return "?";
}

bool eval_task_from_name(const char *name, eval_task *out)
{
    for (int t = 0; t <= EVAL_TASK_PERPLEXITY; t++)
        if (!strcmp(name, eval_task_name((eval_task)t))) {
            *out = (eval_task)t;
            return true;
        }
    return false;
}

static bool fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, 256, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool eval_fields_set(eval_fields *f, const char *spec, char *err)
{
    const char *eq = strchr(spec, '=');
    if (!eq || !eq[1]) return fail(err, "--field expects ROLE=NAME, got '%s'", spec);
    size_t n = (size_t)(eq - spec);
    const char **slot = n == 8 && !strncmp(spec, "question", n)  ? &f->question
                        : n == 6 && !strncmp(spec, "answer", n)  ? &f->answer
                        : n == 7 && !strncmp(spec, "choices", n) ? &f->choices
                        : n == 2 && !strncmp(spec, "id", n)      ? &f->id
                        : n == 7 && !strncmp(spec, "subject", n) ? &f->subject
                                                                 : NULL;
    if (!slot)
        return fail(err, "--field: unknown role '%.*s' (question, answer, choices, id, subject)",
                    (int)n, spec);
    *slot = eq + 1;
    return true;
}

/* ---- one record -------------------------------------------------------------------------- */

/* A field as text: strings as they are, numbers as their decimal ("204", "0.5"). */
static char *as_text(const cJSON *v)
{
    if (cJSON_IsString(v) && v->valuestring) return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(buf, sizeof buf, "%.0f", d);
        else
            snprintf(buf, sizeof buf, "%.17g", d);
        return strdup(buf);
    }
    return NULL;
}

/* The first of the names present in o (the override alone when given). */
static const cJSON *field(const cJSON *o, const char *override, const char *const *names)
{
    if (override) return cJSON_GetObjectItemCaseSensitive(o, override);
    for (size_t i = 0; names[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        if (v && !cJSON_IsNull(v)) return v;
    }
    return NULL;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool add_choice(eval_item *it, const cJSON *v, char *err)
{
    if (it->n_choices == EVAL_MAX_CHOICES)
        return fail(err, "more than %d choices", EVAL_MAX_CHOICES);
    char *t = as_text(v);
    if (!t) return fail(err, "choice %d is not text", it->n_choices + 1);
    it->choices[it->n_choices++] = t;
    return true;
}

/* Choices from "choices"/"options" (array, object keyed by letters, ARC's {text, label}), keys
 * "A".."J", or GPQA's correct/incorrect answers (sets answer_index). */
static bool read_choices(const cJSON *o, const eval_fields *f, int line, eval_item *it, char *err)
{
    static const char *const names[] = {"choices", "options", "endings", NULL};
    const cJSON *c = field(o, f->choices, names);
    if (c) {
        const cJSON *text = cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "text") : NULL;
        if (cJSON_IsArray(text)) c = text;
        if (cJSON_IsArray(c)) {
            const cJSON *v;
            cJSON_ArrayForEach(v, c) if (!add_choice(it, v, err)) return false;
        } else if (cJSON_IsObject(c)) {
            for (int k = 0; k < EVAL_MAX_CHOICES; k++) {
                char key[2] = {(char)('A' + k), 0};
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
                if (!v) break;
                if (!add_choice(it, v, err)) return false;
            }
        } else {
            return fail(err, "the choices field is neither a list nor an object");
        }
        return true;
    }
    const cJSON *correct = cJSON_GetObjectItemCaseSensitive(o, "Correct Answer");
    if (correct) {
        /* GPQA: the correct answer and up to nine incorrect ones, in a fixed shuffled order */
        const cJSON *all[EVAL_MAX_CHOICES];
        int n = 0;
        all[n++] = correct;
        for (int k = 1; k < EVAL_MAX_CHOICES; k++) {
            char key[32];
            snprintf(key, sizeof key, "Incorrect Answer %d", k);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
            if (!v) break;
            all[n++] = v;
        }
        int perm[EVAL_MAX_CHOICES];
        for (int k = 0; k < n; k++) perm[k] = k;
        uint64_t st = (uint64_t)line * 0x2545F4914F6CDD1Dull;
        for (int k = n - 1; k > 0; k--) {
            int j = (int)(splitmix64(&st) % (uint64_t)(k + 1));
            int t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        for (int k = 0; k < n; k++) {
            if (perm[k] == 0) it->answer_index = k;
            if (!add_choice(it, all[perm[k]], err)) return false;
        }
        return true;
    }
    for (int k = 0; k < EVAL_MAX_CHOICES; k++) {
        char key[2] = {(char)('A' + k), 0};
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!v) break;
        if (!add_choice(it, v, err)) return false;
    }
    if (!it->n_choices) return fail(err, "no choices (choices, options, A..J or GPQA fields)");
    return true;
}

/* The correct choice from an index, a letter, or a choice's text. */
static bool read_choice_answer(const cJSON *o, const eval_fields *f, eval_item *it, char *err)
{
    static const char *const names[] = {"answer",    "Answer", "label", "answer_idx",
                                        "answerKey", "target", "gold",  NULL};
    const cJSON *a = field(o, f->answer, names);
    if (!a) return fail(err, "no answer field (answer, Answer, label, answer_idx, answerKey)");
    int idx = -1;
    if (cJSON_IsNumber(a)) {
        double d = a->valuedouble;
        if (d != floor(d) || d < 0 || d >= it->n_choices)
            return fail(err, "answer index %g is not in [0, %d)", d, it->n_choices);
        idx = (int)d;
    } else if (cJSON_IsString(a) && a->valuestring) {
        const char *s = a->valuestring;
        while (isspace((unsigned char)*s) || *s == '(') s++;
        size_t n = strlen(s);
        while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == ')' || s[n - 1] == '.')) n--;
        if (n == 1 && s[0] >= 'A' && s[0] <= 'Z') {
            idx = s[0] - 'A';
        } else if (n >= 1 && n <= 2 && isdigit((unsigned char)s[0]) &&
                   (n == 1 || isdigit((unsigned char)s[1]))) {
            idx = atoi(s);
        } else {
            for (int k = 0; k < it->n_choices && idx < 0; k++)
                if (!strcmp(it->choices[k], a->valuestring)) idx = k;
            if (idx < 0) return fail(err, "answer \"%.40s\" is not a choice or a letter", s);
        }
        if (idx >= it->n_choices)
            return fail(err, "answer %.*s is beyond the %d choices", (int)n, s, it->n_choices);
    } else {
        return fail(err, "the answer field is neither a number nor text");
    }
    it->answer_index = idx;
    return true;
}

void eval_item_free(eval_item *it)
{
    free(it->id);
    free(it->subject);
    free(it->question);
    free(it->reference);
    for (int k = 0; k < it->n_choices; k++) free(it->choices[k]);
    memset(it, 0, sizeof *it);
}

bool eval_item_from_json(const char *json, size_t n, eval_task task, const eval_fields *f, int line,
                         eval_item *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->line = line;
    cJSON *o = cJSON_ParseWithLength(json, n);
    if (!o) return fail(err, "not valid JSON");
    bool ok = false;
    if (!cJSON_IsObject(o)) {
        fail(err, "not a JSON object");
        goto done;
    }
    static const char *const id_names[] = {"id", "ID", "unique_id", "problem_id", "idx", NULL};
    static const char *const subject_names[] = {"subject", "Subject", "type", "category", NULL};
    const cJSON *v;
    if ((v = field(o, f->id, id_names))) out->id = as_text(v);
    if ((v = field(o, f->subject, subject_names))) out->subject = as_text(v);
    if (task == EVAL_TASK_MATH) {
        static const char *const q_names[] = {"problem", "Problem", "question", "Question",
                                              "prompt",  "input",   NULL};
        static const char *const a_names[] = {"answer",   "Answer", "final_answer", "solution",
                                              "Solution", "target", "output",       NULL};
        if (!(v = field(o, f->question, q_names)) || !(out->question = as_text(v))) {
            fail(err, "no problem text (%s)", f->question ? f->question : "problem, question, ...");
            goto done;
        }
        char *raw;
        if (!(v = field(o, f->answer, a_names)) || !(raw = as_text(v))) {
            fail(err, "no answer (%s)", f->answer ? f->answer : "answer, Answer, solution, ...");
            goto done;
        }
        out->reference = eval_reference_answer(raw);
        free(raw);
        if (!out->reference || !*out->reference) {
            fail(err, "the reference answer is empty");
            goto done;
        }
    } else {
        static const char *const q_names[] = {"question", "Question", "problem",
                                              "input",    "prompt",   NULL};
        if (!(v = field(o, f->question, q_names)) || !(out->question = as_text(v))) {
            fail(err, "no question text (%s)", f->question ? f->question : "question, Question");
            goto done;
        }
        out->answer_index = -1;
        if (!read_choices(o, f, line, out, err)) goto done;
        if (out->n_choices < 2 || out->n_choices > EVAL_MAX_CHOICES) {
            fail(err, "%d choices (2 to %d needed)", out->n_choices, EVAL_MAX_CHOICES);
            goto done;
        }
        if (out->answer_index < 0 && !read_choice_answer(o, f, out, err)) goto done;
        char letter[2] = {(char)('A' + out->answer_index), 0};
        out->reference = strdup(letter);
    }
    ok = out->question && out->reference;
    if (!ok) fail(err, "out of memory");
done:
    cJSON_Delete(o);
    if (!ok) eval_item_free(out);
    return ok;
}

/* ---- a whole file ------------------------------------------------------------------------ */

static bool push_item(eval_dataset *d, const eval_item *it, int *cap)
{
    if (d->n_items == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        eval_item *p = realloc(d->items, (size_t)nc * sizeof *p);
        if (!p) return false;
        d->items = p;
        *cap = nc;
    }
    d->items[d->n_items++] = *it;
    return true;
}

/* One record: add it, or report it. False when the load must stop (strict, out of memory). */
static bool take(eval_dataset *d, int *cap, const char *path, const char *text, size_t n, int line,
                 eval_task task, const eval_fields *f, bool strict, FILE *diag, char *err)
{
    eval_item it;
    char why[256];
    if (eval_item_from_json(text, n, task, f, line, &it, why)) {
        if (!push_item(d, &it, cap)) {
            eval_item_free(&it);
            return fail(err, "out of memory");
        }
        return true;
    }
    d->n_bad++;
    if (strict) return fail(err, "%s:%d: %s", path, line, why);
    if (diag) fprintf(diag, "r1 eval: %s:%d: %s (skipped)\n", path, line, why);
    return true;
}

bool eval_dataset_load(const char *path, eval_task task, const eval_fields *f, bool strict,
                       FILE *diag, eval_dataset *out, char *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return fail(err, "cannot open %s", path);
    int cap = 0;
    bool ok = true;
    /* a JSON array file instead of JSONL */
    int c;
    while ((c = fgetc(fp)) != EOF && isspace(c)) {
    }
    if (c == '[') {
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
            free(buf);
            fclose(fp);
            return fail(err, "cannot read %s", path);
        }
        cJSON *arr = cJSON_ParseWithLength(buf, (size_t)size);
        free(buf);
        if (!arr) {
            fclose(fp);
            return fail(err, "%s: starts with '[' but is not a valid JSON array", path);
        }
        int k = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            k++;
            char *t = cJSON_PrintUnformatted(e);
            ok = t && take(out, &cap, path, t, strlen(t), k, task, f, strict, diag, err);
            if (!t) fail(err, "out of memory");
            free(t);
            if (!ok) break;
        }
        cJSON_Delete(arr);
    } else {
        rewind(fp);
        char *line = NULL;
        size_t line_cap = 0;
        ssize_t n;
        int no = 0;
        while (ok && (n = getline(&line, &line_cap, fp)) >= 0) {
            no++;
            size_t len = (size_t)n;
            while (len && isspace((unsigned char)line[len - 1])) len--;
            size_t st = 0;
            while (st < len && isspace((unsigned char)line[st])) st++;
            if (st == len) continue; /* blank lines are not records */
            ok = take(out, &cap, path, line + st, len - st, no, task, f, strict, diag, err);
        }
        free(line);
    }
    fclose(fp);
    if (ok && !out->n_items) ok = fail(err, "%s has no valid item", path);
    if (!ok) eval_dataset_free(out);
    return ok;
}

void eval_dataset_free(eval_dataset *d)
{
    for (int i = 0; i < d->n_items; i++) eval_item_free(&d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* ---- prompts ----------------------------------------------------------------------------- */

char *eval_user_prompt(const eval_item *it, eval_task task)
{
    static const char r1_suffix[] =
        "\nPlease reason step by step, and put your final answer within \\boxed{}.";
    size_t n = strlen(it->question) + 512;
    for (int k = 0; k < it->n_choices; k++) n += strlen(it->choices[k]) + 8;
    char *s = malloc(n);
    if (!s) return NULL;
    if (task == EVAL_TASK_MATH) {
        snprintf(s, n, "%s%s", it->question, r1_suffix);
        return s;
    }
    /* simple-evals' QUERY_TEMPLATE_MULTICHOICE, with as many letters as choices */
    char letters[EVAL_MAX_CHOICES + 1] = {0};
    for (int k = 0; k < it->n_choices; k++) letters[k] = (char)('A' + k);
    size_t w = (size_t)snprintf(s, n,
                                "Answer the following multiple choice question. The last line of "
                                "your response should be of the following format: 'Answer: "
                                "$LETTER' (without quotes) where LETTER is one of %s. Think step "
                                "by step before answering.\n\n%s\n",
                                letters, it->question);
    for (int k = 0; k < it->n_choices && w < n; k++)
        w += (size_t)snprintf(s + w, n - w, "\n%c) %s", 'A' + k, it->choices[k]);
    return s;
}
