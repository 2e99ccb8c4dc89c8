/* tasks.c — generators, renderers and graders of the synthetic reasoning tasks (see tasks.h). */
#include "train/tasks.h"

#include "base/rng.h"
#include "train/vocab.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"add", "sub", "mul", "countdown"};

const char *task_kind_name(task_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

/* ---- parsing a mix ----------------------------------------------------------------------------
 */

static bool parse_range(const char **s, int *lo, int *hi)
{
    char *end;
    long a = strtol(*s, &end, 10);
    if (end == *s || a < 1 || a > 9) return false;
    long b = a;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p || b < a || b > 9) return false;
    }
    *lo = (int)a;
    *hi = (int)b;
    *s = end;
    return true;
}

bool task_mix_parse(const char *text, task_mix *out, char *err)
{
    memset(out, 0, sizeof *out);
    const char *s = text;
    while (*s) {
        if (out->n == TASK_MAX_SPECS) {
            if (err) snprintf(err, 256, "more than %d tasks in '%s'", TASK_MAX_SPECS, text);
            return false;
        }
        task_spec *t = &out->spec[out->n];
        size_t len = strcspn(s, ":");
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(kind_names[i]) == len && !strncmp(s, kind_names[i], len)) k = i;
        if (k < 0 || s[len] != ':') {
            if (err) snprintf(err, 256, "unknown task at '%s' (add, sub, mul, countdown)", s);
            return false;
        }
        t->kind = (task_kind)k;
        s += len + 1;
        if (!parse_range(&s, &t->lo_a, &t->hi_a)) goto bad;
        t->lo_b = t->lo_a;
        t->hi_b = t->hi_a;
        if (*s == 'x') {
            s++;
            if (t->kind != TASK_MUL || !parse_range(&s, &t->lo_b, &t->hi_b)) goto bad;
        }
        if (t->kind == TASK_COUNTDOWN && (t->lo_a < 2 || t->hi_a > 5)) goto bad;
        t->weight = 1.0f;
        if (*s == '@') {
            char *end;
            t->weight = strtof(s + 1, &end);
            if (end == s + 1 || !(t->weight > 0)) goto bad;
            s = end;
        }
        out->n++;
        if (*s == ',')
            s++;
        else if (*s)
            goto bad;
    }
    if (out->n == 0) {
        if (err) snprintf(err, 256, "empty task mix");
        return false;
    }
    return true;
bad:
    if (err)
        snprintf(err, 256,
                 "bad task spec near '%s' (e.g. add:1-3@2, mul:2x1-2, countdown:3-4; digits 1-9, "
                 "countdown 2-5 numbers)",
                 s);
    return false;
}

/* ---- building text ------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->n >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k > 0) b->n = b->n + (size_t)k < b->cap ? b->n + (size_t)k : b->cap - 1;
}

static int64_t pow10i(int d)
{
    int64_t v = 1;
    while (d-- > 0) v *= 10;
    return v;
}

static int n_digits(int64_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static int64_t draw_digits(rng *r, int lo, int hi)
{
    int d = lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
    int64_t a = d == 1 ? 0 : pow10i(d - 1), b = pow10i(d) - 1;
    return a + (int64_t)(rng_next(r) % (uint64_t)(b - a + 1));
}

static int digit(int64_t v, int i)
{
    return (int)((v / pow10i(i)) % 10);
}

/* Column addition lines of a+b: "x+y+c=s" right to left. */
static void add_lines(sbuf *b, int64_t x, int64_t y)
{
    int n = n_digits(x > y ? x : y), carry = 0;
    for (int i = 0; i < n; i++) {
        int s = digit(x, i) + digit(y, i) + carry;
        sb_printf(b, "%d+%d+%d=%d\n", digit(x, i), digit(y, i), carry, s);
        carry = s / 10;
    }
}

static void gen_add(rng *r, const task_spec *s, problem *p)
{
    int64_t a = draw_digits(r, s->lo_a, s->hi_a), b = draw_digits(r, s->lo_b, s->hi_b);
    snprintf(p->question, sizeof p->question, "Compute %lld+%lld.", (long long)a, (long long)b);
    sbuf sb = {p->scratch, 0, sizeof p->scratch};
    add_lines(&sb, a, b);
    snprintf(p->answer, sizeof p->answer, "%lld", (long long)(a + b));
}

static void gen_sub(rng *r, const task_spec *s, problem *p)
{
    int64_t a = draw_digits(r, s->lo_a, s->hi_a), b = draw_digits(r, s->lo_b, s->hi_b);
    snprintf(p->question, sizeof p->question, "Compute %lld-%lld.", (long long)a, (long long)b);
    sbuf sb = {p->scratch, 0, sizeof p->scratch};
    int64_t top = a, bot = b;
    if (a < b) {
        sb_printf(&sb, "swap\n");
        top = b;
        bot = a;
    }
    int n = n_digits(top), borrow = 0;
    for (int i = 0; i < n; i++) {
        int x = digit(top, i), y = digit(bot, i), v = x - y - borrow;
        int bin = borrow;
        borrow = v < 0;
        if (v < 0) v += 10;
        sb_printf(&sb, "%d-%d-%d=%d\n", x + 10 * borrow, y, bin, v);
    }
    snprintf(p->answer, sizeof p->answer, "%lld", (long long)(a - b));
}

static void gen_mul(rng *r, const task_spec *s, problem *p)
{
    int64_t a = draw_digits(r, s->lo_a, s->hi_a), b = draw_digits(r, s->lo_b, s->hi_b);
    snprintf(p->question, sizeof p->question, "Compute %lld*%lld.", (long long)a, (long long)b);
    sbuf sb = {p->scratch, 0, sizeof p->scratch};
    int na = n_digits(a), nb = n_digits(b);
    int64_t acc = 0;
    for (int j = 0; j < nb; j++) {
        int bj = digit(b, j), carry = 0;
        sb_printf(&sb, "%d:", bj);
        for (int i = 0; i < na; i++) {
            int v = digit(a, i) * bj + carry;
            sb_printf(&sb, " %d*%d+%d=%d,", digit(a, i), bj, carry, v);
            carry = v / 10;
        }
        int64_t pp = a * bj * pow10i(j);
        sb_printf(&sb, " %lld\n", (long long)pp);
        if (j > 0) {
            sb_printf(&sb, "%lld+%lld\n", (long long)acc, (long long)pp);
            add_lines(&sb, acc, pp);
        }
        acc += pp;
    }
    snprintf(p->answer, sizeof p->answer, "%lld", (long long)(a * b));
}

/* ---- countdown ------------------------------------------------------------------------------- */

typedef struct chain {
    int order[6]; /* indices into nums */
    char ops[6];  /* ops[i] joins the value so far with nums[order[i]], i >= 1 */
    int n;
    long long value;
} chain;

static void chain_random(rng *r, const int *nums, int n_nums, chain *c)
{
    c->n = n_nums;
    for (int i = 0; i < n_nums; i++) c->order[i] = i;
    for (int i = n_nums - 1; i > 0; i--) {
        int j = (int)(rng_next(r) % (uint64_t)(i + 1)), t = c->order[i];
        c->order[i] = c->order[j];
        c->order[j] = t;
    }
    long long v = nums[c->order[0]];
    for (int i = 1; i < n_nums; i++) {
        int x = nums[c->order[i]];
        char op = "+-*"[rng_next(r) % 3];
        if (op == '-' && v < x) op = '+';
        if (op == '*' && (x == 1 || v == 1)) op = '+';
        c->ops[i] = op;
        v = op == '+' ? v + x : op == '-' ? v - x : v * x;
    }
    c->value = v;
}

static void chain_steps(sbuf *b, const int *nums, const chain *c)
{
    long long v = nums[c->order[0]];
    for (int i = 1; i < c->n; i++) {
        int x = nums[c->order[i]];
        long long w = c->ops[i] == '+' ? v + x : c->ops[i] == '-' ? v - x : v * x;
        sb_printf(b, "%s%lld%c%d=%lld", i > 1 ? ", " : "", v, c->ops[i], x, w);
        v = w;
    }
}

static void chain_expr(const int *nums, const chain *c, char *out, size_t cap)
{
    char a[64], t[64];
    snprintf(a, sizeof a, "%d", nums[c->order[0]]);
    bool low = false; /* the expression so far ends in + or - at the top level */
    for (int i = 1; i < c->n; i++) {
        int x = nums[c->order[i]], k;
        if (c->ops[i] == '*' && low)
            k = snprintf(t, sizeof t, "(%s)*%d", a, x);
        else
            k = snprintf(t, sizeof t, "%s%c%d", a, c->ops[i], x);
        if (k < 0 || k >= (int)sizeof t) break; /* cannot happen: ≤ 5 numbers below 21 */
        low = c->ops[i] != '*';
        memcpy(a, t, sizeof a);
    }
    snprintf(out, cap, "%s", a);
}

static void gen_countdown(rng *r, const task_spec *s, problem *p)
{
    int n = s->lo_a + (int)(rng_next(r) % (uint64_t)(s->hi_a - s->lo_a + 1));
    chain sol;
    for (;;) {
        for (int i = 0; i < n; i++) p->nums[i] = 1 + (int)(rng_next(r) % 20);
        chain_random(r, p->nums, n, &sol);
        if (sol.value >= 1 && sol.value <= 999) break;
    }
    p->n_nums = n;
    p->target = (int)sol.value;
    sbuf q = {p->question, 0, sizeof p->question};
    sb_printf(&q, "Make %d from", p->target);
    for (int i = 0; i < n; i++) sb_printf(&q, " %d", p->nums[i]);
    sb_printf(&q, " with + - *.");
    sbuf sb = {p->scratch, 0, sizeof p->scratch};
    int dead = (int)(rng_next(r) % 3);
    for (int k = 0; k < dead; k++) {
        chain c;
        chain_random(r, p->nums, n, &c);
        if (c.value == sol.value) continue;
        sb_printf(&sb, "try ");
        chain_steps(&sb, p->nums, &c);
        sb_printf(&sb, ", no\n");
    }
    sb_printf(&sb, "try ");
    chain_steps(&sb, p->nums, &sol);
    sb_printf(&sb, ", yes\n");
    chain_expr(p->nums, &sol, p->answer, sizeof p->answer);
}

/* ---- generation and split ------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static task_split split_of(const problem *p)
{
    uint64_t h = fnv1a(p->question);
    h ^= h >> 29; /* mix before the modulus: FNV's low bits follow the last bytes closely */
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h % 10 == 0 ? SPLIT_TEST : SPLIT_TRAIN;
}

void task_generate(const task_spec *s, uint64_t seed, task_split split, problem *out)
{
    rng r;
    rng_seed(&r, seed);
    for (int tries = 0;; tries++) {
        memset(out, 0, sizeof *out);
        out->kind = s->kind;
        switch (s->kind) {
        case TASK_ADD:
            gen_add(&r, s, out);
            break;
        case TASK_SUB:
            gen_sub(&r, s, out);
            break;
        case TASK_MUL:
            gen_mul(&r, s, out);
            break;
        case TASK_COUNTDOWN:
            gen_countdown(&r, s, out);
            break;
        }
        /* one-digit spaces are tiny (100 problems): they have no held-out part */
        if (split_of(out) == split || tries > 1000) return;
    }
}

void task_generate_mix(const task_mix *mix, uint64_t seed, task_split split, problem *out)
{
    rng r;
    rng_seed(&r, seed ^ 0x5851F42D4C957F2Dull);
    float total = 0;
    for (int i = 0; i < mix->n; i++) total += mix->spec[i].weight;
    float u = rng_uniform(&r) * total;
    int k = 0;
    while (k < mix->n - 1 && u >= mix->spec[k].weight) u -= mix->spec[k++].weight;
    task_generate(&mix->spec[k], rng_next(&r), split, out);
}

/* ---- rendering ------------------------------------------------------------------------------- */

#define R1_SUFFIX "Please reason step by step, and put your final answer within \\boxed{}."

int task_user_text(const problem *p, bool r1_suffix, char *out, size_t cap)
{
    return snprintf(out, cap, "%s%s", p->question, r1_suffix ? "\n" R1_SUFFIX : "");
}

int task_render_chat(const problem *p, bool r1_suffix, bool with_answer, char *out, size_t cap,
                     int *out_prompt_len)
{
    char user[256];
    task_user_text(p, r1_suffix, user, sizeof user);
    sbuf b = {out, 0, cap};
    sb_printf(&b, "%s%s%s%s%s\n", vocab_special_text(VOCAB_BOS), vocab_special_text(VOCAB_USER),
              user, vocab_special_text(VOCAB_ASSISTANT), vocab_special_text(VOCAB_THINK));
    if (out_prompt_len) *out_prompt_len = (int)b.n;
    if (with_answer)
        sb_printf(&b, "%s%s\n\n\\boxed{%s}%s", p->scratch, vocab_special_text(VOCAB_END_THINK),
                  p->answer, vocab_special_text(VOCAB_EOS));
    return (int)b.n;
}

/* ---- grading --------------------------------------------------------------------------------- */

static const char *rfind(const char *s, const char *needle)
{
    const char *last = NULL;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) last = p;
    return last;
}

bool task_extract_answer(const char *completion, char *out, size_t cap)
{
    const char *after = rfind(completion, "</think>");
    const char *s = after ? after : completion;
    const char *box = rfind(s, "\\boxed{");
    if (!box) return false;
    const char *p = box + 7;
    int depth = 1;
    const char *q = p;
    for (; *q && depth; q++) {
        if (*q == '{') depth++;
        if (*q == '}') depth--;
    }
    if (depth) return false;
    size_t n = (size_t)(q - 1 - p);
    /* strip spaces */
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        if (p[i] != ' ') out[k++] = p[i];
    out[k] = 0;
    return true;
}

typedef struct parser {
    const char *s;
    int used[6], n_used;
    bool bad;
} parser;

static long long p_expr(parser *p, int depth);

static long long p_factor(parser *p, int depth)
{
    if (depth > 16) {
        p->bad = true;
        return 0;
    }
    if (*p->s == '(') {
        p->s++;
        long long v = p_expr(p, depth + 1);
        if (*p->s != ')')
            p->bad = true;
        else
            p->s++;
        return v;
    }
    if (*p->s < '0' || *p->s > '9') {
        p->bad = true;
        return 0;
    }
    long long v = 0;
    while (*p->s >= '0' && *p->s <= '9' && v < 100000) v = v * 10 + (*p->s++ - '0');
    if (p->n_used == 6)
        p->bad = true;
    else
        p->used[p->n_used++] = (int)v;
    return v;
}

static long long p_term(parser *p, int depth)
{
    long long v = p_factor(p, depth);
    while (*p->s == '*' && !p->bad) {
        p->s++;
        long long w = p_factor(p, depth);
        if (v > 1000000000LL || w > 1000000000LL || v < -1000000000LL)
            p->bad = true;
        else
            v *= w;
    }
    return v;
}

static long long p_expr(parser *p, int depth)
{
    long long v = p_term(p, depth);
    while ((*p->s == '+' || *p->s == '-') && !p->bad) {
        char op = *p->s++;
        long long w = p_term(p, depth);
        v = op == '+' ? v + w : v - w;
    }
    return v;
}

static bool check_countdown(const problem *pr, const char *expr)
{
    parser p = {expr, {0}, 0, false};
    long long v = p_expr(&p, 0);
    if (p.bad || *p.s) return false;
    bool taken[6] = {false};
    for (int i = 0; i < p.n_used; i++) {
        int k = -1;
        for (int j = 0; j < pr->n_nums && k < 0; j++)
            if (!taken[j] && pr->nums[j] == p.used[i]) k = j;
        if (k < 0) return false;
        taken[k] = true;
    }
    return v == pr->target;
}

bool task_check(const problem *p, const char *completion, bool *out_format)
{
    char ans[128];
    bool has = task_extract_answer(completion, ans, sizeof ans);
    if (out_format) {
        const char *end = strstr(completion, "</think>");
        bool ok = end && rfind(completion, "</think>") == end && has;
        if (ok) {
            const char *q = end + 8;
            while (*q == ' ' || *q == '\n') q++;
            ok = !strncmp(q, "\\boxed{", 7);
        }
        *out_format = ok;
    }
    if (!has) return false;
    if (p->kind == TASK_COUNTDOWN) return check_countdown(p, ans);
    return !strcmp(ans, p->answer);
}
