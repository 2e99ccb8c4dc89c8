/* eval_report.c — results file reading and the report of `r1 eval` (see eval_report.h). */
#include "eval_report.h"

#include "eval_stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int get_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static bool get_bool(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int by_line(const void *a, const void *b)
{
    int la = get_int(*(cJSON *const *)a, "line"), lb = get_int(*(cJSON *const *)b, "line");
    return (la > lb) - (la < lb);
}

void eval_report_compute(cJSON *const *items, int n_items, eval_report *out)
{
    memset(out, 0, sizeof *out);
    cJSON **sorted = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *sorted);
    double *p1 = calloc((size_t)(n_items > 0 ? n_items : 1), sizeof *p1);
    if (!sorted || !p1) {
        free(sorted);
        free(p1);
        return;
    }
    if (n_items > 0) memcpy(sorted, items, (size_t)n_items * sizeof *sorted);
    qsort(sorted, (size_t)n_items, sizeof *sorted, by_line);
    /* keep the last record of each line (qsort is not stable: use the input order) */
    int n = 0;
    for (int i = 0; i < n_items; i++) {
        if (n && get_int(sorted[n - 1], "line") == get_int(sorted[i], "line")) {
            const cJSON *a = sorted[n - 1], *b = sorted[i];
            int ia = 0, ib = 0;
            for (int j = 0; j < n_items; j++) {
                if (items[j] == a) ia = j;
                if (items[j] == b) ib = j;
            }
            if (ib > ia) sorted[n - 1] = sorted[i];
            continue;
        }
        sorted[n++] = sorted[i];
    }
    int min_samples = 0;
    for (int i = 0; i < n; i++) {
        int s = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sorted[i], "samples"));
        if (i == 0 || s < min_samples) min_samples = s;
    }
    out->n_items = n;
    out->n_samples = min_samples;
    for (int k = 1; min_samples > 0 && out->n_k < EVAL_MAX_K; k *= 2) {
        out->k[out->n_k++] = k < min_samples ? k : min_samples;
        if (k >= min_samples) break;
    }
    double reasoning = 0, answer = 0, tokens = 0;
    long truncated = 0, no_answer = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(sorted[i], "samples");
        int ns = cJSON_GetArraySize(samples), c = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, samples)
        {
            c += get_bool(s, "correct");
            tokens += get_int(s, "n_tokens");
            reasoning += get_int(s, "n_reasoning_tokens");
            answer += get_int(s, "n_answer_tokens");
            const cJSON *fin = cJSON_GetObjectItemCaseSensitive(s, "finish");
            if (cJSON_IsString(fin) && strcmp(fin->valuestring, "stop")) truncated++;
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "answer"))) no_answer++;
        }
        out->n_total += ns;
        out->n_correct += c;
        p1[i] = ns ? (double)c / ns : 0;
        for (int j = 0; j < out->n_k; j++) {
            double v = eval_pass_at_k(ns, c, out->k[j]);
            out->pass_k[j] += isnan(v) ? 0 : v;
        }
        out->cons += get_bool(sorted[i], "cons_correct");
    }
    eval_mean_se(p1, n, &out->pass1, &out->pass1_se);
    if (n) {
        for (int j = 0; j < out->n_k; j++) out->pass_k[j] /= n;
        out->cons /= n;
    }
    if (out->n_total) {
        out->mean_tokens = tokens / (double)out->n_total;
        out->mean_reasoning = reasoning / (double)out->n_total;
        out->mean_answer = answer / (double)out->n_total;
        out->truncation_rate = (double)truncated / (double)out->n_total;
        out->no_answer_rate = (double)no_answer / (double)out->n_total;
    }
    out->generated_tokens = (long)tokens;
    free(sorted);
    free(p1);
}

/* Round to 6 significant decimals so that the JSON is stable and readable. */
static double r6(double x)
{
    return round(x * 1e6) / 1e6;
}

cJSON *eval_report_json(const eval_report *r, const cJSON *header, const cJSON *timing)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n_items", r->n_items);
    cJSON_AddNumberToObject(o, "samples_per_item", r->n_samples);
    cJSON_AddNumberToObject(o, "n_samples", (double)r->n_total);
    cJSON_AddNumberToObject(o, "n_correct", (double)r->n_correct);
    cJSON_AddNumberToObject(o, "accuracy", r6(r->pass1));
    cJSON *p1 = cJSON_AddObjectToObject(o, "pass@1");
    cJSON_AddNumberToObject(p1, "mean", r6(r->pass1));
    cJSON_AddNumberToObject(p1, "stderr", r6(r->pass1_se));
    cJSON *pk = cJSON_AddObjectToObject(o, "pass@k");
    for (int j = 0; j < r->n_k; j++) {
        char key[16];
        snprintf(key, sizeof key, "%d", r->k[j]);
        cJSON_AddNumberToObject(pk, key, r6(r->pass_k[j]));
    }
    char key[32];
    snprintf(key, sizeof key, "cons@%d", r->n_samples);
    cJSON_AddNumberToObject(o, key, r6(r->cons));
    cJSON_AddNumberToObject(o, "mean_tokens", r6(r->mean_tokens));
    cJSON_AddNumberToObject(o, "mean_reasoning_tokens", r6(r->mean_reasoning));
    cJSON_AddNumberToObject(o, "mean_answer_tokens", r6(r->mean_answer));
    cJSON_AddNumberToObject(o, "truncation_rate", r6(r->truncation_rate));
    cJSON_AddNumberToObject(o, "no_answer_rate", r6(r->no_answer_rate));
    cJSON_AddNumberToObject(o, "generated_tokens", (double)r->generated_tokens);
    if (header) cJSON_AddItemToObject(o, "config", cJSON_Duplicate(header, true));
    if (timing) cJSON_AddItemToObject(o, "timing", cJSON_Duplicate(timing, true));
    return o;
}

static const char *hstr(const cJSON *h, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double hnum(const cJSON *h, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void eval_report_markdown(FILE *f, const eval_report *r, const cJSON *header, const cJSON *timing)
{
    fprintf(f, "| metric | value |\n|---|---|\n");
    if (header) {
        fprintf(f, "| task | %s (%s) |\n", hstr(header, "task"), hstr(header, "score"));
        fprintf(f, "| data | %s |\n", hstr(header, "data"));
        fprintf(f, "| model | %s |\n", hstr(header, "model"));
        if (get_bool(header, "greedy"))
            fprintf(f, "| sampling | greedy, seed %s |\n", hstr(header, "seed"));
        else
            fprintf(f, "| sampling | temperature %g, top-p %g, seed %s |\n",
                    hnum(header, "temperature"), hnum(header, "top_p"), hstr(header, "seed"));
        fprintf(f, "| max tokens | %.0f |\n", hnum(header, "max_tokens"));
    }
    fprintf(f, "| items | %d |\n", r->n_items);
    fprintf(f, "| samples per item | %d |\n", r->n_samples);
    fprintf(f, "| pass@1 | %.2f%% ± %.2f |\n", 100 * r->pass1, 100 * r->pass1_se);
    for (int j = 1; j < r->n_k; j++)
        fprintf(f, "| pass@%d | %.2f%% |\n", r->k[j], 100 * r->pass_k[j]);
    if (r->n_samples > 1) fprintf(f, "| cons@%d | %.2f%% |\n", r->n_samples, 100 * r->cons);
    fprintf(f, "| correct samples | %ld / %ld |\n", r->n_correct, r->n_total);
    fprintf(f, "| mean reasoning tokens | %.1f |\n", r->mean_reasoning);
    fprintf(f, "| mean answer tokens | %.1f |\n", r->mean_answer);
    fprintf(f, "| truncated | %.2f%% |\n", 100 * r->truncation_rate);
    fprintf(f, "| no answer found | %.2f%% |\n", 100 * r->no_answer_rate);
    if (timing) {
        fprintf(f, "| generated tokens (this run) | %.0f |\n", hnum(timing, "generated_tokens"));
        fprintf(f, "| throughput (this run) | %.1f tok/s |\n", hnum(timing, "tokens_per_s"));
        fprintf(f, "| wall time (this run) | %.1f s |\n", hnum(timing, "wall_s"));
    }
}

bool eval_results_read(const char *path, cJSON **out_header, cJSON ***out_items, int *out_n,
                       long *out_good_bytes, char *err)
{
    *out_header = NULL;
    *out_items = NULL;
    *out_n = 0;
    *out_good_bytes = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (err) snprintf(err, 256, "cannot open %s", path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long good = 0;
    int n_items = 0, cap_items = 0;
    cJSON **items = NULL;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        /* a line without its newline was cut by an interruption: drop it and what follows */
        if (n == 0 || line[n - 1] != '\n') break;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            break;
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        bool is_item = cJSON_IsString(type) && !strcmp(type->valuestring, "item");
        bool is_header = cJSON_IsString(type) && !strcmp(type->valuestring, "header");
        if (is_header && !*out_header) {
            *out_header = o;
        } else if (is_item) {
            if (n_items == cap_items) {
                int nc = cap_items ? cap_items * 2 : 64;
                cJSON **p = realloc(items, (size_t)nc * sizeof *p);
                if (!p) {
                    cJSON_Delete(o);
                    break;
                }
                items = p;
                cap_items = nc;
            }
            items[n_items++] = o;
        } else {
            cJSON_Delete(o);
        }
        good += (long)n;
    }
    free(line);
    fclose(fp);
    *out_items = items;
    *out_n = n_items;
    *out_good_bytes = good;
    return true;
}
