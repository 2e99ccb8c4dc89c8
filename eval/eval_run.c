/* eval_run.c — running `r1 eval`: score a model on math, multiple-choice and perplexity benchmarks
 * with DeepSeek-R1's protocol (docs/eval.md).
 *
 * Generation tasks put every (item, sample) pair in a queue and keep up to --parallel sequences
 * decoding together: one r1_session_decode_batch per step appends a token to every live sequence,
 * so the weights are read once per step for all of them. A sequence's tokens depend only on its
 * prompt and its seed (seed = f(--seed, line, sample); batched decoding is bit-identical to
 * decoding alone), never on which other sequences share its steps: that is what makes --resume and
 * --parallel give the same results as one uninterrupted run. Each item's record is appended to
 * the results file and flushed as soon as its last sample ends; the report is always computed
 * from that file. */
#include "eval.h"
#include "eval_answer.h"
#include "eval_data.h"
#include "eval_report.h"
#include "eval_stats.h"

#include "tokenizer/chat_template.h"
#include "tokenizer/reasoning.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t g_stop;

/* v rounded to the given number of decimals (0.012 s, not 0.012003917000000001) */
static double round_to(double v, int decimals)
{
    double scale = pow(10, decimals);
    return round(v * scale) / scale;
}

static char *json_print(char *(*print)(const cJSON *), const cJSON *item)
{
    return print ? print(item) : cJSON_Print(item);
}

void eval_request_stop(void)
{
    g_stop = 1;
}

/* ---- model and prompts ------------------------------------------------------------------- */

static r1_status load_tokenizer(const char *path, tokenizer **out, char *err)
{
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
        char json[PATH_MAX + 32];
        snprintf(json, sizeof json, "%s/tokenizer.json", path);
        return tokenizer_load_path(json, out, err);
    }
    return tokenizer_load_path(path, out, err);
}

typedef struct engine {
    r1_model *model;
    r1_model_info info;
    tokenizer *tok;
    chat_template_params tmpl;
    int32_t think_end; /* "</think>" token id or -1 */
} engine;

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* The chat prompt of one user turn, as tokens; *out_in_reasoning when it leaves the model inside
 * <think> (R1 templates: the generation prompt is forced to end with "<think>\n"). */
static r1_status prompt_tokens(const engine *e, const char *user, int32_t **out_ids, int *out_n,
                               bool *out_in_reasoning, char *err)
{
    chat_message m = {.role = "user", .content = user};
    char *text = NULL;
    size_t len = 0;
    r1_status st = chat_template_render(&e->tmpl, e->tok, &m, 1, &text, &len, err);
    if (st) return st;
    bool r1 = e->tmpl.kind == CHAT_TEMPLATE_DEEPSEEK_R1 ||
              e->tmpl.kind == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL;
    if (r1 && !ends_with(text, len, "<think>\n")) {
        char *t = realloc(text, len + 9);
        if (!t) {
            free(text);
            return R1_ERR_NOMEM;
        }
        text = t;
        memcpy(text + len, "<think>\n", 9);
        len += 8;
    }
    *out_in_reasoning = ends_with(text, len, "<think>\n") || ends_with(text, len, "<think>");
    int32_t *ids = NULL;
    size_t n = 0;
    st = tokenizer_encode(e->tok, text, len, true, &ids, &n, err);
    free(text);
    if (st) return st;
    *out_ids = ids;
    *out_n = (int)n;
    return R1_OK;
}

/* Tokens that end a reply: EOS and the templates' end-of-turn tokens. */
static bool is_stop_token(const engine *e, int32_t id)
{
    if (id == e->info.eos_id || id == tokenizer_eos(e->tok)) return true;
    size_t len;
    const char *text = tokenizer_token_text(e->tok, id, &len);
    if (!text || !tokenizer_is_special(e->tok, id)) return false;
    static const char *ends[] = {"<\xEF\xBD\x9C"
                                 "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                                 "<|eot_id|>", "<|im_end|>", "<|end_of_text|>"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (len == strlen(ends[i]) && !memcmp(text, ends[i], len)) return true;
    return false;
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A sample's seed: a function of the run's seed, the item's line and the sample number only. */
static uint64_t sample_seed(uint64_t base, int line, int sample)
{
    return mix64(mix64(base ^ mix64((uint64_t)line)) + (uint64_t)sample);
}

/* ---- results ----------------------------------------------------------------------------- */

typedef struct sample_result {
    uint64_t seed;
    char *answer; /* NULL = none found */
    eval_extract how;
    bool correct;
    const char *finish; /* "stop", "length", "context" */
    int n_tokens, n_reasoning;
    char *reasoning, *content;
    cJSON *logprobs; /* --score logprob */
} sample_result;

typedef struct item_state {
    int n_done;
    int32_t *prompt; /* tokens */
    int n_prompt;
    bool in_reasoning;
    sample_result *res; /* (samples) */
} item_state;

static bool same_text(const char *a, const char *b)
{
    return !strcmp(a, b);
}

static cJSON *item_record(const eval_options *o, const eval_item *it, item_state *st)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", "item");
    cJSON_AddNumberToObject(r, "line", it->line);
    if (it->id) cJSON_AddStringToObject(r, "id", it->id);
    if (it->subject) cJSON_AddStringToObject(r, "subject", it->subject);
    cJSON_AddStringToObject(r, "reference", it->reference);
    cJSON_AddNumberToObject(r, "n_prompt_tokens", st->n_prompt);
    const char *answers[1024];
    int n_correct = 0;
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < o->samples; k++) {
        sample_result *s = &st->res[k];
        answers[k] = s->answer;
        n_correct += s->correct;
        cJSON *j = cJSON_CreateObject();
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
        cJSON_AddStringToObject(j, "seed", seed);
        cJSON_AddItemToObject(j, "answer",
                              s->answer ? cJSON_CreateString(s->answer) : cJSON_CreateNull());
        cJSON_AddStringToObject(j, "extracted_by", eval_extract_name(s->how));
        cJSON_AddBoolToObject(j, "correct", s->correct);
        cJSON_AddStringToObject(j, "finish", s->finish);
        cJSON_AddNumberToObject(j, "n_tokens", s->n_tokens);
        cJSON_AddNumberToObject(j, "n_reasoning_tokens", s->n_reasoning);
        cJSON_AddNumberToObject(j, "n_answer_tokens", s->n_tokens - s->n_reasoning);
        if (s->logprobs) {
            cJSON_AddItemToObject(j, "logprobs", s->logprobs);
            s->logprobs = NULL;
        }
        if (!o->no_text) {
            cJSON_AddStringToObject(j, "reasoning", s->reasoning ? s->reasoning : "");
            cJSON_AddStringToObject(j, "content", s->content ? s->content : "");
        }
        cJSON_AddItemToArray(arr, j);
    }
    int w =
        eval_majority(answers, o->samples, o->task == EVAL_TASK_MATH ? eval_math_equal : same_text);
    cJSON_AddNumberToObject(r, "n_samples", o->samples);
    cJSON_AddNumberToObject(r, "n_correct", n_correct);
    cJSON_AddItemToObject(r, "cons_answer",
                          w >= 0 ? cJSON_CreateString(answers[w]) : cJSON_CreateNull());
    cJSON_AddBoolToObject(r, "cons_correct", w >= 0 && st->res[w].correct);
    cJSON_AddItemToObject(r, "samples", arr);
    return r;
}

static void item_state_clear(item_state *st, int samples)
{
    free(st->prompt);
    if (st->res)
        for (int k = 0; k < samples; k++) {
            free(st->res[k].answer);
            free(st->res[k].reasoning);
            free(st->res[k].content);
            cJSON_Delete(st->res[k].logprobs);
        }
    free(st->res);
    memset(st, 0, sizeof *st);
}

static bool write_line(FILE *f, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (!s) return false;
    /* one write per record, then flush: an interruption leaves at most one partial line, which
     * --resume drops */
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    if (!s) return false;
    s[n] = '\n';
    s[n + 1] = 0;
    bool ok = fwrite(s, 1, n + 1, f) == n + 1 && fflush(f) == 0;
    free(s);
    return ok;
}

/* Score a finished sample of a generation task. */
static void score_sample(const eval_options *o, const eval_item *it, sample_result *s)
{
    if (o->task == EVAL_TASK_MATH) {
        s->answer = eval_extract_math(s->content, s->reasoning, &s->how);
        s->correct = s->answer && eval_math_equal(s->answer, it->reference);
    } else {
        int l = eval_extract_choice(s->content, s->reasoning, it->n_choices);
        if (l >= 0) {
            char letter[2] = {(char)('A' + l), 0};
            s->answer = strdup(letter);
            s->how = EVAL_EXTRACT_LETTER;
        }
        s->correct = l == it->answer_index;
    }
}

/* ---- generation: all items × samples, decoded together ----------------------------------- */

typedef struct text_buf {
    char *p;
    size_t n, cap;
} text_buf;

static void tb_add(text_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return; /* the text is a record, not the result: drop what does not fit */
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

typedef struct slot {
    r1_session *s;
    r1_sampler *sampler;
    detok *dt;
    reasoning_parser rp;
    text_buf reasoning, content;
    bool active;
    int item, sample;
    int n_gen, max_gen, n_reasoning;
    bool ctx_limited; /* max_gen comes from the context, not --max-tokens */
} slot;

static void slot_emit(void *user, reasoning_part part, const char *text, size_t n)
{
    slot *sl = user;
    if (part == REASONING_PART_CONTENT) {
        if (sl->n_reasoning < 0) sl->n_reasoning = sl->n_gen - 1;
        tb_add(&sl->content, text, n);
    } else {
        tb_add(&sl->reasoning, text, n);
    }
}

typedef struct runner {
    const eval_options *o;
    engine *e;
    eval_dataset *data;
    item_state *items; /* (data->n_items) */
    int *pending;      /* item indices still to run */
    int n_pending;
    FILE *out;
    int n_ctx;
    /* progress */
    double t0, last_draw;
    long gen_tokens, prompt_tokens;
    int items_done, samples_done, n_samples_total;
    bool tty;
} runner;

static void progress(runner *r, bool force)
{
    double t = now_s();
    if (!force && t - r->last_draw < (r->tty ? 0.5 : 30)) return;
    r->last_draw = t;
    double el = t - r->t0, rate = el > 0 ? r->gen_tokens / el : 0;
    char eta[32] = "?";
    if (r->samples_done > 0) {
        double left = el / r->samples_done * (r->n_samples_total - r->samples_done);
        snprintf(eta, sizeof eta, "%dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    }
    fprintf(stderr, "%s[eval] items %d/%d  samples %d/%d  %.1f tok/s  ETA %s%s",
            r->tty ? "\r\033[K" : "", r->items_done, r->n_pending, r->samples_done,
            r->n_samples_total, rate, eta, r->tty ? "" : "\n");
}

/* Finish the sample in a slot: score it; when it was the item's last, write the item. */
static bool slot_finish(runner *r, slot *sl, const char *finish, char *err)
{
    const char *piece;
    size_t n_piece;
    detok_flush(sl->dt, &piece, &n_piece);
    if (n_piece) reasoning_feed(&sl->rp, piece, n_piece);
    reasoning_finish(&sl->rp);
    item_state *st = &r->items[sl->item];
    const eval_item *it = &r->data->items[sl->item];
    sample_result *s = &st->res[sl->sample];
    s->finish = finish;
    s->n_tokens = sl->n_gen;
    s->n_reasoning = sl->n_reasoning >= 0 ? sl->n_reasoning : sl->reasoning.n ? sl->n_gen : 0;
    if (s->n_reasoning > s->n_tokens) s->n_reasoning = s->n_tokens;
    s->reasoning = sl->reasoning.p ? sl->reasoning.p : strdup("");
    s->content = sl->content.p ? sl->content.p : strdup("");
    memset(&sl->reasoning, 0, sizeof sl->reasoning);
    memset(&sl->content, 0, sizeof sl->content);
    score_sample(r->o, it, s);
    sl->active = false;
    r->samples_done++;
    if (++st->n_done < r->o->samples) return true;
    cJSON *rec = item_record(r->o, it, st);
    bool ok = rec && write_line(r->out, rec);
    cJSON_Delete(rec);
    item_state_clear(st, r->o->samples);
    r->items_done++;
    if (!ok) snprintf(err, R1_ERR_MAX, "cannot write the results file: %s", strerror(errno));
    return ok;
}

/* Put (item, sample) in a free slot: prefill its prompt; the first token is sampled next step. */
static r1_status slot_start(runner *r, slot *sl, int item, int sample, char *err)
{
    item_state *st = &r->items[item];
    const eval_item *it = &r->data->items[item];
    uint64_t seed = sample_seed(r->o->seed, it->line, sample);
    st->res[sample].seed = seed;
    r1_sampler_params sp = r1_sampler_params_default();
    sp.temperature = r->o->greedy ? 0 : r->o->temperature;
    sp.top_p = r->o->top_p;
    sp.seed = seed;
    r1_sampler_free(sl->sampler);
    sl->sampler = NULL;
    r1_status s = r1_sampler_new(&sp, r->e->info.n_vocab, &sl->sampler, err);
    if (s) return s;
    sl->item = item;
    sl->sample = sample;
    sl->n_gen = 0;
    sl->n_reasoning = -1;
    sl->active = true;
    reasoning_init(&sl->rp, REASONING_DEEPSEEK, st->in_reasoning, slot_emit, sl);
    int room = r->n_ctx - st->n_prompt;
    sl->max_gen = room < r->o->max_tokens ? room : r->o->max_tokens;
    sl->ctx_limited = room < r->o->max_tokens;
    if (st->n_prompt >= r->n_ctx || st->n_prompt == 0) {
        /* no room to generate anything */
        sl->max_gen = 0;
        return slot_finish(r, sl, "context", err) ? R1_OK : R1_ERR_IO;
    }
    r1_session_rewind(sl->s, 0);
    if ((s = r1_session_eval(sl->s, st->prompt, st->n_prompt, err))) return s;
    r->prompt_tokens += st->n_prompt;
    return R1_OK;
}

static int run_generation(runner *r)
{
    const eval_options *o = r->o;
    char err[R1_ERR_MAX];
    int n_jobs = r->n_pending * o->samples;
    int n_slots = o->parallel > 0 ? o->parallel : 0;
    if (!n_slots) {
        /* as many sequences as half the memory holds with full KV caches, up to 64 */
        double kv_bytes = (double)r->n_ctx * r->e->info.n_layers *
                          r->e->info.kv_values_per_token_layer * sizeof(float);
        double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
        double room = mem * 0.5 - (double)r->e->info.weight_bytes;
        n_slots = kv_bytes > 0 && room > 0 ? (int)(room / kv_bytes) : 1;
        if (n_slots > 64) n_slots = 64;
        if (n_slots < 1) n_slots = 1;
    }
    if (n_slots > n_jobs) n_slots = n_jobs;
    if (n_slots > r->n_ctx) n_slots = r->n_ctx;
    slot *slots = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *slots);
    r1_session **batch_s = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *batch_s);
    size_t n_alloc = (size_t)(n_slots > 0 ? n_slots : 1);
    int32_t *batch_t = calloc(2 * n_alloc, sizeof *batch_t);
    r1_sampler **batch_smp = calloc(n_alloc, sizeof *batch_smp);
    int *batch_n = calloc(n_alloc, sizeof *batch_n), *batch_i = calloc(n_alloc, sizeof *batch_i);
    int rc = 1;
    if (!slots || !batch_s || !batch_t || !batch_smp || !batch_n || !batch_i) {
        fprintf(stderr, "r1 eval: out of memory\n");
        goto done;
    }
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = r->n_ctx;
    sp.n_batch = 2 * n_slots > 512 ? 2 * n_slots : 512; /* room for every sequence's draft */
    sp.mtp = o->mtp;
    sp.cache_type = o->cache_type;
    for (int i = 0; i < n_slots; i++) {
        if (r1_session_new(r->e->model, &sp, &slots[i].s, err) ||
            detok_new(r->e->tok, false, &slots[i].dt, err)) {
            fprintf(stderr, "r1 eval: cannot create sequence %d of %d: %s\n", i + 1, n_slots, err);
            goto done;
        }
    }
    if (o->verbose)
        fprintf(stderr, "r1 eval: %d jobs, %d sequences decoded together, context %d\n", n_jobs,
                n_slots, r->n_ctx);
    int next_job = 0;
    while (!g_stop) {
        /* fill the free slots */
        for (int i = 0; i < n_slots && next_job < n_jobs && !g_stop; i++) {
            if (slots[i].active) continue;
            int item = r->pending[next_job / o->samples], sample = next_job % o->samples;
            next_job++;
            if (slot_start(r, &slots[i], item, sample, err)) {
                fprintf(stderr, "\nr1 eval: %s\n", err);
                goto done;
            }
            if (!slots[i].active) i--; /* finished at once (no room): reuse the slot */
            progress(r, false);
        }
        /* one step for every live sequence: a token each, two where an MTP draft is accepted */
        int n = 0;
        for (int i = 0; i < n_slots; i++)
            if (slots[i].active) {
                batch_s[n] = slots[i].s;
                batch_smp[n] = slots[i].sampler;
                batch_i[n++] = i;
            }
        if (n > 0 && r1_session_generate_batch(batch_s, batch_smp, n, batch_t, batch_n, err)) {
            fprintf(stderr, "\nr1 eval: decoding failed: %s\n", err);
            goto done;
        }
        for (int b = 0; b < n; b++) {
            slot *sl = &slots[batch_i[b]];
            for (int k = 0; k < batch_n[b] && sl->active; k++) {
                int32_t id = batch_t[2 * b + k];
                const char *fin = NULL;
                if (is_stop_token(r->e, id)) {
                    fin = "stop";
                } else {
                    sl->n_gen++;
                    r->gen_tokens++;
                    const char *piece;
                    size_t n_piece;
                    if (detok_feed(sl->dt, id, &piece, &n_piece, NULL) == R1_OK && n_piece)
                        reasoning_feed(&sl->rp, piece, n_piece);
                    /* the reasoning ends at </think> when there is a reasoning to end */
                    if (id == r->e->think_end && sl->n_reasoning < 0 &&
                        (r->items[sl->item].in_reasoning || sl->reasoning.n))
                        sl->n_reasoning = sl->n_gen;
                    if (sl->n_gen >= sl->max_gen) fin = sl->ctx_limited ? "context" : "length";
                }
                if (fin && !slot_finish(r, sl, fin, err)) {
                    fprintf(stderr, "\nr1 eval: %s\n", err);
                    goto done;
                }
            }
        }
        progress(r, false);
        if (n == 0 && next_job >= n_jobs) {
            bool any = false;
            for (int i = 0; i < n_slots; i++) any |= slots[i].active;
            if (!any) break;
        }
    }
    rc = g_stop ? 130 : 0;
done:
    if (r->tty || rc) progress(r, true);
    if (r->tty) fputc('\n', stderr);
    uint64_t drafted = 0, accepted = 0;
    for (int i = 0; slots && i < n_slots; i++) {
        uint64_t d = 0, a = 0;
        if (slots[i].s) r1_session_mtp_stats(slots[i].s, &d, &a);
        drafted += d;
        accepted += a;
    }
    if (o->verbose && drafted)
        fprintf(stderr, "r1 eval: MTP drafts accepted: %llu of %llu (%.1f%%)\n",
                (unsigned long long)accepted, (unsigned long long)drafted,
                100.0 * (double)accepted / (double)drafted);
    for (int i = 0; slots && i < n_slots; i++) {
        r1_session_free(slots[i].s);
        r1_sampler_free(slots[i].sampler);
        detok_free(slots[i].dt);
        free(slots[i].reasoning.p);
        free(slots[i].content.p);
    }
    free(slots);
    free(batch_s);
    free(batch_t);
    free(batch_smp);
    free(batch_n);
    free(batch_i);
    return rc;
}

/* ---- choice by log-probability ----------------------------------------------------------- */

/* The token of a choice letter after "Answer:": " X" when that is one token, else "X". */
static int32_t letter_token(const tokenizer *tok, char letter)
{
    char text[3] = {' ', letter, 0};
    for (int k = 0; k < 2; k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (tokenizer_encode(tok, text + k, strlen(text + k), false, &ids, &n, NULL) == R1_OK &&
            n == 1) {
            int32_t id = ids[0];
            free(ids);
            return id;
        }
        free(ids);
    }
    return -1;
}

static int run_logprob(runner *r)
{
    const eval_options *o = r->o;
    char err[R1_ERR_MAX];
    int32_t letters[EVAL_MAX_CHOICES];
    for (int k = 0; k < EVAL_MAX_CHOICES; k++)
        letters[k] = letter_token(r->e->tok, (char)('A' + k));
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = r->n_ctx;
    r1_session *s = NULL;
    if (r1_session_new(r->e->model, &sp, &s, err)) {
        fprintf(stderr, "r1 eval: %s\n", err);
        return 1;
    }
    int n_vocab = r->e->info.n_vocab, rc = 0;
    for (int p = 0; p < r->n_pending && !g_stop; p++) {
        int idx = r->pending[p];
        item_state *st = &r->items[idx];
        const eval_item *it = &r->data->items[idx];
        sample_result *res = &st->res[0];
        res->seed = sample_seed(o->seed, it->line, 0);
        res->finish = "stop";
        res->reasoning = strdup("");
        res->content = strdup("");
        if (st->n_prompt > r->n_ctx || st->n_prompt == 0) {
            res->finish = "context";
        } else {
            r1_session_rewind(s, 0);
            if (r1_session_eval(s, st->prompt, st->n_prompt, err)) {
                fprintf(stderr, "r1 eval: line %d: %s\n", it->line, err);
                rc = 1;
                break;
            }
            r->prompt_tokens += st->n_prompt;
            const float *lg = r1_session_logits(s);
            double mx = -INFINITY, sum = 0;
            for (int v = 0; v < n_vocab; v++) mx = lg[v] > mx ? lg[v] : mx;
            for (int v = 0; v < n_vocab; v++) sum += exp((double)lg[v] - mx);
            double lse = mx + log(sum);
            int best = -1;
            double best_lp = -INFINITY;
            res->logprobs = cJSON_CreateObject();
            for (int k = 0; k < it->n_choices; k++) {
                if (letters[k] < 0 || letters[k] >= n_vocab) continue;
                double lp = (double)lg[letters[k]] - lse;
                char key[2] = {(char)('A' + k), 0};
                cJSON_AddNumberToObject(res->logprobs, key, round(lp * 1e4) / 1e4);
                if (lp > best_lp) {
                    best_lp = lp;
                    best = k;
                }
            }
            if (best >= 0) {
                char letter[2] = {(char)('A' + best), 0};
                res->answer = strdup(letter);
                res->how = EVAL_EXTRACT_LETTER;
                res->correct = best == it->answer_index;
            }
        }
        st->n_done = 1;
        cJSON *rec = item_record(o, it, st);
        bool ok = rec && write_line(r->out, rec);
        cJSON_Delete(rec);
        item_state_clear(st, 1);
        r->items_done++;
        r->samples_done++;
        if (!ok) {
            fprintf(stderr, "r1 eval: cannot write the results file: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        progress(r, false);
    }
    if (r->tty) {
        progress(r, true);
        fputc('\n', stderr);
    }
    r1_session_free(s);
    return rc ? rc : g_stop ? 130 : 0;
}

/* ---- perplexity -------------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *out_n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) *out_n = n;
    return buf;
}

static int run_perplexity(const eval_options *o, engine *e, const char *report_path)
{
    char err[R1_ERR_MAX];
    size_t n_text = 0;
    char *text = read_all(o->data, &n_text);
    if (!text) {
        fprintf(stderr, "r1 eval: cannot read %s: %s\n", o->data, strerror(errno));
        return 1;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    r1_status st = tokenizer_encode(e->tok, text, n_text, false, &ids, &n_ids, err);
    free(text);
    if (st) {
        fprintf(stderr, "r1 eval: cannot tokenize %s: %s\n", o->data, err);
        return 1;
    }
    int32_t bos = tokenizer_bos(e->tok);
    if (tokenizer_add_bos(e->tok) && bos >= 0) {
        int32_t *t = realloc(ids, (n_ids + 1) * sizeof *t);
        if (!t) {
            free(ids);
            return 1;
        }
        ids = t;
        memmove(ids + 1, ids, n_ids * sizeof *ids);
        ids[0] = bos;
        n_ids++;
    }
    if (o->limit > 0 && (size_t)o->limit < n_ids) n_ids = (size_t)o->limit;
    if (n_ids < 2) {
        fprintf(stderr, "r1 eval: %s has fewer than 2 tokens\n", o->data);
        free(ids);
        return 1;
    }
    int window = o->ctx > 0 ? o->ctx : 4096;
    if (window > e->info.n_ctx_train && e->info.n_ctx_train > 0) window = e->info.n_ctx_train;
    if ((size_t)window > n_ids) window = (int)n_ids;
    int stride = o->stride > 0 ? o->stride : window / 2;
    if (stride < 1) stride = 1;
    if (stride > window) stride = window;
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = window;
    sp.n_batch = window < 512 ? window : 512;
    sp.all_logits = true;
    r1_session *s = NULL;
    if (r1_session_new(e->model, &sp, &s, err)) {
        fprintf(stderr, "r1 eval: %s\n", err);
        free(ids);
        return 1;
    }
    int n_vocab = e->info.n_vocab;
    double n = 0, sum = 0, sum_sq = 0, t0 = now_s(), last = 0;
    long processed = 0;
    bool tty = isatty(STDERR_FILENO);
    int rc = 0;
    size_t scored_to = 1; /* tokens [1, scored_to) already have their NLL */
    for (size_t begin = 0; !g_stop; begin += (size_t)stride) {
        size_t end = begin + (size_t)window < n_ids ? begin + (size_t)window : n_ids;
        r1_session_rewind(s, 0);
        for (size_t cs = begin; cs < end;) {
            int nb = end - cs < (size_t)sp.n_batch ? (int)(end - cs) : sp.n_batch;
            if (r1_session_eval(s, ids + cs, nb, err)) {
                fprintf(stderr, "r1 eval: %s\n", err);
                rc = 1;
                goto done;
            }
            processed += nb;
            int rows = 0;
            const float *lg = r1_session_logits_all(s, &rows);
            for (int row = 0; row < rows; row++) {
                size_t target = cs + (size_t)row + 1;
                if (target < scored_to || target >= end) continue;
                const float *l = lg + (size_t)row * (size_t)n_vocab;
                double mx = -INFINITY, z = 0;
                for (int v = 0; v < n_vocab; v++) mx = l[v] > mx ? l[v] : mx;
                for (int v = 0; v < n_vocab; v++) z += exp((double)l[v] - mx);
                double nll = mx + log(z) - (double)l[ids[target]];
                n++;
                sum += nll;
                sum_sq += nll * nll;
            }
            cs += (size_t)nb;
        }
        if (end > scored_to) scored_to = end;
        double t = now_s();
        if (tty && t - last > 0.5) {
            last = t;
            fprintf(stderr, "\r\033[K[eval] tokens %zu/%zu  ppl %.4f  %.1f tok/s", scored_to, n_ids,
                    exp(sum / (n > 0 ? n : 1)), processed / (t - t0));
        }
        if (end == n_ids) break;
    }
    if (tty) fprintf(stderr, "\r\033[K");
    double ppl, lo, hi, se;
    eval_perplexity(n, sum, sum_sq, &ppl, &lo, &hi, &se);
    double wall = now_s() - t0;
    cJSON *rep = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(rep, "config");
    cJSON_AddStringToObject(cfg, "task", "perplexity");
    cJSON_AddStringToObject(cfg, "data", o->data);
    cJSON_AddStringToObject(cfg, "model", o->model_arg ? o->model_arg : "");
    cJSON_AddNumberToObject(cfg, "window", window);
    cJSON_AddNumberToObject(cfg, "stride", stride);
    cJSON_AddNumberToObject(rep, "n_tokens", n);
    cJSON_AddNumberToObject(rep, "mean_nll", round_to(sum / (n > 0 ? n : 1), 6));
    cJSON_AddNumberToObject(rep, "nll_stderr", round_to(se, 6));
    cJSON_AddNumberToObject(rep, "ppl", round_to(ppl, 6));
    cJSON *ci = cJSON_AddArrayToObject(rep, "ppl_ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(round_to(lo, 6)));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(round_to(hi, 6)));
    cJSON *tm = cJSON_AddObjectToObject(rep, "timing");
    cJSON_AddNumberToObject(tm, "wall_s", round_to(wall, 3));
    cJSON_AddNumberToObject(tm, "processed_tokens", (double)processed);
    cJSON_AddNumberToObject(tm, "tokens_per_s", round_to(wall > 0 ? processed / wall : 0, 2));
    if (g_stop) cJSON_AddBoolToObject(rep, "interrupted", true);
    if (o->json) {
        char *js = json_print(o->json_print, rep);
        if (js) puts(js);
        free(js);
    } else {
        printf("| metric | value |\n|---|---|\n| task | perplexity |\n| data | %s |\n", o->data);
        printf("| window / stride | %d / %d |\n| tokens scored | %.0f |\n", window, stride, n);
        printf("| perplexity | %.4f (95%% CI %.4f – %.4f) |\n", ppl, lo, hi);
        printf("| mean NLL | %.5f ± %.5f nats |\n", sum / (n > 0 ? n : 1), se);
        printf("| throughput | %.1f tok/s (%.1f s) |\n", wall > 0 ? processed / wall : 0, wall);
    }
    if (report_path) {
        FILE *f = fopen(report_path, "w");
        char *js = json_print(o->json_print, rep);
        if (!f || !js || fprintf(f, "%s\n", js) < 0) {
            fprintf(stderr, "r1 eval: cannot write %s\n", report_path);
            rc = 1;
        }
        if (f) fclose(f);
        free(js);
    }
    cJSON_Delete(rep);
    if (g_stop && !rc) rc = 130;
done:
    r1_session_free(s);
    free(ids);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------ */

/* Compute and print the report from the results file; write the JSON to report_path. */
static int report(const char *results, const char *report_path, bool json,
                  char *(*print)(const cJSON *), const cJSON *timing)
{
    cJSON *header = NULL, **items = NULL;
    int n = 0;
    long good = 0;
    char err[256];
    if (!eval_results_read(results, &header, &items, &n, &good, err)) {
        fprintf(stderr, "r1 eval: %s\n", err);
        return 1;
    }
    eval_report rep;
    eval_report_compute(items, n, &rep);
    cJSON *j = eval_report_json(&rep, header, timing);
    int rc = 0;
    if (json) {
        char *s = json_print(print, j);
        if (s) puts(s);
        free(s);
    } else {
        eval_report_markdown(stdout, &rep, header, timing);
    }
    if (report_path) {
        FILE *f = fopen(report_path, "w");
        char *s = json_print(print, j);
        if (!f || !s || fprintf(f, "%s\n", s) < 0) {
            fprintf(stderr, "r1 eval: cannot write %s: %s\n", report_path, strerror(errno));
            rc = 1;
        }
        if (f) fclose(f);
        free(s);
    }
    cJSON_Delete(j);
    cJSON_Delete(header);
    for (int i = 0; i < n; i++) cJSON_Delete(items[i]);
    free(items);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------- */

static char *default_out(const char *data, eval_task task)
{
    const char *base = strrchr(data, '/');
    base = base ? base + 1 : data;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) n = (size_t)(dot - base);
    char *s = malloc(n + 32);
    if (s) snprintf(s, n + 32, "%.*s.%s.jsonl", (int)n, base, eval_task_name(task));
    return s;
}

static char *default_report(const char *out)
{
    size_t n = strlen(out);
    if (n > 6 && !strcmp(out + n - 6, ".jsonl")) n -= 6;
    char *s = malloc(n + 16);
    if (s) snprintf(s, n + 16, "%.*s.report.json", (int)n, out);
    return s;
}

static cJSON *make_header(const eval_options *o, const engine *e, int ctx_cap)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "header");
    cJSON_AddNumberToObject(h, "version", 1);
    cJSON_AddStringToObject(h, "task", eval_task_name(o->task));
    cJSON_AddStringToObject(h, "score", o->logprob ? "logprob" : "gen");
    cJSON_AddStringToObject(h, "data", o->data);
    cJSON_AddStringToObject(h, "model", o->model_arg ? o->model_arg : "");
    cJSON_AddStringToObject(h, "model_name", e->info.name ? e->info.name : "");
    cJSON_AddStringToObject(h, "template", chat_template_name(e->tmpl.kind));
    cJSON_AddNumberToObject(h, "samples", o->samples);
    cJSON_AddBoolToObject(h, "greedy", o->greedy);
    cJSON_AddNumberToObject(h, "temperature", o->greedy ? 0 : round(o->temperature * 1e6) / 1e6);
    cJSON_AddNumberToObject(h, "top_p", round(o->top_p * 1e6) / 1e6);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(h, "seed", seed);
    cJSON_AddNumberToObject(h, "max_tokens", o->max_tokens);
    cJSON_AddNumberToObject(h, "ctx", ctx_cap);
    cJSON_AddStringToObject(h, "seed_rule",
                            "sample seed = f(seed, line, sample), see eval/eval_run.c");
    return h;
}

/* The settings that decide a run's results must match to resume it. */
static bool header_matches(const cJSON *old, const cJSON *now, char *what, size_t n)
{
    static const char *const keys[] = {"task",  "score", "samples",    "greedy", "temperature",
                                       "top_p", "seed",  "max_tokens", "ctx",    "template"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(old, keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(now, keys[i]);
        if (!a || !b || !cJSON_Compare(a, b, true)) {
            char *sa = a ? cJSON_PrintUnformatted(a) : NULL, *sb = cJSON_PrintUnformatted(b);
            snprintf(what, n, "%s was %s, now %s", keys[i], sa ? sa : "absent", sb ? sb : "?");
            free(sa);
            free(sb);
            return false;
        }
    }
    return true;
}
int eval_summarize(const char *results, const char *report_path, bool json,
                   char *(*print)(const cJSON *))
{
    return report(results, report_path, json, print, NULL);
}

int eval_run(const eval_options *o)
{
    const char *model_path = o->model_path;
    int rc = 1;
    char err[R1_ERR_MAX];
    engine e = {0};
    eval_dataset data = {0};
    item_state *items = NULL;
    int *pending = NULL;
    char *out_path = NULL, *report_path = NULL;
    cJSON *header = NULL, *old_header = NULL, **old_items = NULL;
    int n_old = 0;
    FILE *out = NULL;
    bool *done_line = NULL; /* (max line + 1): items already in the results file */

    /* the data first: a bad file should not wait for a model to load */
    if (o->task != EVAL_TASK_PERPLEXITY) {
        char derr[256];
        if (!eval_dataset_load(o->data, o->task, &o->fields, o->strict, stderr, &data, derr)) {
            fprintf(stderr, "r1 eval: %s\n", derr);
            return 1;
        }
        if (data.n_bad)
            fprintf(stderr, "r1 eval: %d malformed line%s skipped, %d items\n", data.n_bad,
                    data.n_bad == 1 ? "" : "s", data.n_items);
    }
    if (load_tokenizer(model_path, &e.tok, err)) {
        fprintf(stderr, "r1 eval: cannot load the tokenizer of %s: %s\n", model_path, err);
        goto done;
    }
    if (!(e.model = o->load_model(model_path, o->n_threads, o->verbose))) goto done;
    r1_model_get_info(e.model, &e.info);
    e.tmpl = chat_template_params_default();
    if (o->template_name) {
        if (!chat_template_from_name(o->template_name, &e.tmpl.kind)) {
            fprintf(stderr, "r1 eval: unknown chat template '%s' (known: %s)\n", o->template_name,
                    chat_template_names());
            rc = 2;
            goto done;
        }
        /* R1 templates get "<think>\n" in prompt_tokens(); others are used as they are */
        e.tmpl.force_think = false;
    } else {
        const char *warning = NULL;
        chat_template_detect(tokenizer_chat_template(e.tok), &e.tmpl, &warning);
        if (warning && o->verbose) fprintf(stderr, "r1 eval: %s\n", warning);
    }
    e.think_end = tokenizer_token_id(e.tok, "</think>", 8);
    if (o->on_loaded) o->on_loaded();

    if (o->task == EVAL_TASK_PERPLEXITY) {
        rc = run_perplexity(o, &e, o->report);
        goto done;
    }

    out_path = o->out ? strdup(o->out) : default_out(o->data, o->task);
    report_path = o->report ? strdup(o->report) : default_report(out_path);
    int ctx_cap = o->ctx > 0 ? o->ctx : e.info.n_ctx_train;
    if (e.info.n_ctx_train > 0 && ctx_cap > e.info.n_ctx_train) ctx_cap = e.info.n_ctx_train;
    if (ctx_cap <= 0) ctx_cap = 4096;
    header = make_header(o, &e, ctx_cap);

    /* prompts of every item (their lengths size the context, whatever is left to run) */
    items = calloc((size_t)data.n_items, sizeof *items);
    pending = calloc((size_t)data.n_items, sizeof *pending);
    if (!items || !pending || !header) {
        fprintf(stderr, "r1 eval: out of memory\n");
        goto done;
    }
    int max_prompt = 0;
    for (int i = 0; i < data.n_items; i++) {
        char *user = eval_user_prompt(&data.items[i], o->task);
        if (!user) goto done;
        r1_status st = prompt_tokens(&e, user, &items[i].prompt, &items[i].n_prompt,
                                     &items[i].in_reasoning, err);
        free(user);
        if (st) {
            fprintf(stderr, "r1 eval: line %d: cannot build the prompt: %s\n", data.items[i].line,
                    err);
            goto done;
        }
        if (o->logprob) {
            /* the answer line after the (closed) reasoning: compare the letters' next-token
             * log-probabilities */
            const char *tail = items[i].in_reasoning ? "\n</think>\n\nAnswer:" : "Answer:";
            int32_t *t = NULL;
            size_t nt = 0;
            if (tokenizer_encode(e.tok, tail, strlen(tail), true, &t, &nt, err)) goto done;
            int32_t *p =
                realloc(items[i].prompt, (size_t)(items[i].n_prompt + (int)nt) * sizeof *p);
            if (!p) {
                free(t);
                goto done;
            }
            memcpy(p + items[i].n_prompt, t, nt * sizeof *t);
            items[i].prompt = p;
            items[i].n_prompt += (int)nt;
            free(t);
        }
        if (items[i].n_prompt > max_prompt) max_prompt = items[i].n_prompt;
    }
    long want_ctx = (long)max_prompt + (o->logprob ? 1 : o->max_tokens);
    int n_ctx = want_ctx < ctx_cap ? (int)want_ctx : ctx_cap;

    /* the results file: resume it, or start it */
    struct stat stt;
    bool exists = !stat(out_path, &stt) && stt.st_size > 0;
    if (exists && !o->resume && !o->overwrite) {
        fprintf(stderr,
                "r1 eval: %s exists: --resume continues it, --overwrite starts over, -o FILE "
                "writes elsewhere\n",
                out_path);
        rc = 2;
        goto done;
    }
    int max_line = 0;
    for (int i = 0; i < data.n_items; i++)
        if (data.items[i].line > max_line) max_line = data.items[i].line;
    done_line = calloc((size_t)max_line + 1, 1);
    if (!done_line) goto done;
    if (exists && o->resume) {
        long good = 0;
        char rerr[256];
        if (!eval_results_read(out_path, &old_header, &old_items, &n_old, &good, rerr)) {
            fprintf(stderr, "r1 eval: %s\n", rerr);
            goto done;
        }
        char what[256];
        if (!old_header || !header_matches(old_header, header, what, sizeof what)) {
            fprintf(stderr, "r1 eval: cannot resume %s: %s\n", out_path,
                    old_header ? what : "it has no header line");
            rc = 2;
            goto done;
        }
        for (int j = 0; j < n_old; j++) {
            int line =
                (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(old_items[j], "line"));
            const char *ref =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(old_items[j], "reference"));
            const eval_item *it = NULL;
            for (int i = 0; i < data.n_items && !it; i++)
                if (data.items[i].line == line) it = &data.items[i];
            if (!it || !ref || strcmp(ref, it->reference)) {
                fprintf(stderr,
                        "r1 eval: cannot resume %s: its line %d does not match %s (another "
                        "dataset?)\n",
                        out_path, line, o->data);
                rc = 2;
                goto done;
            }
            done_line[line] = true;
        }
        if (truncate(out_path, good)) {
            fprintf(stderr, "r1 eval: cannot truncate %s: %s\n", out_path, strerror(errno));
            goto done;
        }
        if (good < stt.st_size)
            fprintf(stderr, "r1 eval: dropped an incomplete last record of %s\n", out_path);
    }
    out = fopen(out_path, exists && o->resume ? "a" : "w");
    if (!out) {
        fprintf(stderr, "r1 eval: cannot write %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    if (!(exists && o->resume) && !write_line(out, header)) {
        fprintf(stderr, "r1 eval: cannot write %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    int n_pending = 0,
        n_selected = o->limit > 0 && o->limit < data.n_items ? o->limit : data.n_items;
    for (int i = 0; i < n_selected; i++) {
        if (done_line[data.items[i].line]) continue;
        pending[n_pending++] = i;
        items[i].res = calloc((size_t)o->samples, sizeof *items[i].res);
        if (!items[i].res) goto done;
    }
    if (o->resume && exists)
        fprintf(stderr, "r1 eval: resuming %s: %d items done, %d to run\n", out_path,
                n_selected - n_pending, n_pending);

    runner r = {.o = o,
                .e = &e,
                .data = &data,
                .items = items,
                .pending = pending,
                .n_pending = n_pending,
                .out = out,
                .n_ctx = n_ctx,
                .n_samples_total = n_pending * o->samples,
                .tty = isatty(STDERR_FILENO)};
    r.t0 = r.last_draw = now_s();
    int run_rc = n_pending == 0 ? 0 : o->logprob ? run_logprob(&r) : run_generation(&r);
    double wall = now_s() - r.t0;
    fclose(out);
    out = NULL;
    if (run_rc == 130) {
        fprintf(stderr,
                "r1 eval: interrupted; %d finished items are in %s: add --resume to continue\n",
                r.items_done, out_path);
        rc = 130;
        goto done;
    }
    if (run_rc) goto done;
    cJSON *timing = cJSON_CreateObject();
    cJSON_AddNumberToObject(timing, "wall_s", round(wall * 1000) / 1000);
    cJSON_AddNumberToObject(timing, "items_run", r.items_done);
    cJSON_AddNumberToObject(timing, "generated_tokens", (double)r.gen_tokens);
    cJSON_AddNumberToObject(timing, "prompt_tokens", (double)r.prompt_tokens);
    cJSON_AddNumberToObject(timing, "tokens_per_s",
                            wall > 0 ? round(r.gen_tokens / wall * 100) / 100 : 0);
    rc = report(out_path, report_path, o->json, o->json_print, timing);
    cJSON_Delete(timing);
done:
    free(done_line);
    if (out) fclose(out);
    if (items)
        for (int i = 0; i < data.n_items; i++) item_state_clear(&items[i], o->samples);
    free(items);
    free(pending);
    cJSON_Delete(header);
    cJSON_Delete(old_header);
    for (int j = 0; j < n_old; j++) cJSON_Delete(old_items[j]);
    free(old_items);
    free(out_path);
    free(report_path);
    eval_dataset_free(&data);
    r1_model_free(e.model);
    tokenizer_free(e.tok);
    return rc;
}
