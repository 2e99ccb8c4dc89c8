/* gbnf.c — parse GBNF text (llama.cpp's grammar format) and compile it to the flat form of
 * grammar_int.h: groups and repetitions become generated rules, undefined rules, left recursion
 * and alternatives that can never finish are found here, before any matching starts. */
#include "grammar/grammar_int.h"

#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES (1 << 16)
#define MAX_ELEMS (1 << 22)
#define MAX_REPEAT 1000 /* {m,n} bounds */
#define MAX_NESTING 200 /* parentheses */

typedef struct balt {
    gelem *e;
    int n, cap;
} balt;

typedef struct brule {
    char *name;
    balt *alts;
    int n_alts, cap;
    bool defined;
    int used_line; /* first line that refers to it */
} brule;

typedef struct builder {
    brule *rules;
    int n_rules, cap;
    grange *ranges;
    int n_ranges, cap_ranges;
    long total_elems;
    const char *s, *end, *text;
    int depth;
    int n_generated;
    r1_status st;
    char *err;
} builder;

static int line_of(const builder *b, const char *p)
{
    int line = 1;
    for (const char *q = b->text; q < p && q < b->end; q++)
        if (*q == '\n') line++;
    return line;
}

static bool fail(builder *b, r1_status st, const char *fmt, ...) R1_PRINTF(3, 4);
static bool fail(builder *b, r1_status st, const char *fmt, ...)
{
    if (b->st != R1_OK) return false;
    char msg[R1_ERR_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->st = err_set(b->err, st, "grammar: %s", msg);
    return false;
}

static bool fail_at(builder *b, const char *p, const char *what)
{
    char near[24];
    size_t k = 0;
    for (const char *q = p; q < b->end && k < 16 && *q != '\n'; q++)
        near[k++] = (*q >= 32 && *q < 127) ? *q : '?';
    near[k] = 0;
    return fail(b, R1_ERR_INVALID_ARG, "line %d: %s (at \"%s\")", line_of(b, p), what, near);
}

static bool alt_push(builder *b, balt *a, gelem e)
{
    if (++b->total_elems > MAX_ELEMS)
        return fail(b, R1_ERR_NOMEM, "more than %d elements (repetition bounds too large?)",
                    MAX_ELEMS);
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        gelem *p = realloc(a->e, (size_t)cap * sizeof *p);
        if (!p) return fail(b, R1_ERR_NOMEM, "out of memory");
        a->e = p;
        a->cap = cap;
    }
    a->e[a->n++] = e;
    return true;
}

/* A new empty alternative of rule r (its index), or -1. */
static int rule_add_alt(builder *b, int r)
{
    brule *R = &b->rules[r];
    if (R->n_alts == R->cap) {
        int cap = R->cap ? R->cap * 2 : 4;
        balt *p = realloc(R->alts, (size_t)cap * sizeof *p);
        if (!p) return fail(b, R1_ERR_NOMEM, "out of memory"), -1;
        R->alts = p;
        R->cap = cap;
    }
    R->alts[R->n_alts] = (balt){0};
    return R->n_alts++;
}

static int rule_new(builder *b, const char *name, size_t len)
{
    if (b->n_rules >= MAX_RULES) return fail(b, R1_ERR_NOMEM, "more than %d rules", MAX_RULES), -1;
    if (b->n_rules == b->cap) {
        int cap = b->cap ? b->cap * 2 : 32;
        brule *p = realloc(b->rules, (size_t)cap * sizeof *p);
        if (!p) return fail(b, R1_ERR_NOMEM, "out of memory"), -1;
        b->rules = p;
        b->cap = cap;
    }
    brule *R = &b->rules[b->n_rules];
    *R = (brule){0};
    if (!(R->name = malloc(len + 1))) return fail(b, R1_ERR_NOMEM, "out of memory"), -1;
    memcpy(R->name, name, len);
    R->name[len] = 0;
    return b->n_rules++;
}

static int rule_find(builder *b, const char *name, size_t len)
{
    for (int i = 0; i < b->n_rules; i++)
        if (strlen(b->rules[i].name) == len && memcmp(b->rules[i].name, name, len) == 0) return i;
    return -1;
}

/* A generated rule for a group or repetition inside rule `parent`, named after it. */
static int rule_generated(builder *b, int parent)
{
    char name[160];
    int k = snprintf(name, sizeof name, "%.100s_%d", b->rules[parent].name, ++b->n_generated);
    int r = rule_new(b, name, (size_t)k);
    if (r >= 0) b->rules[r].defined = true;
    return r;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static const char *skip_space(builder *b, const char *p)
{
    while (p < b->end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
        } else if (*p == '#') {
            while (p < b->end && *p != '\n') p++;
        } else {
            break;
        }
    }
    return p;
}

/* Whether p starts `name ::=` (the next rule). */
static bool at_rule_start(builder *b, const char *p)
{
    const char *q = p;
    while (q < b->end && is_name_char(*q)) q++;
    if (q == p) return false;
    q = skip_space(b, q);
    return b->end - q >= 3 && memcmp(q, "::=", 3) == 0;
}

/* One code point of UTF-8 text at *pp, or -1 on invalid UTF-8. */
static int32_t utf8_next(builder *b, const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)b->end;
    uint32_t c = *p, need, min;
    if (c < 0x80) {
        *pp += 1;
        return (int32_t)c;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, c &= 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, c &= 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, c &= 0x07, min = 0x10000;
    else
        return -1;
    if ((size_t)(e - p) <= need) return -1;
    for (uint32_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80) return -1;
        c = c << 6 | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *pp += need + 1;
    return (int32_t)c;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class at *pp (an escape or UTF-8), or -1 after fail(). */
static int32_t parse_char(builder *b, const char **pp)
{
    const char *p = *pp;
    if (p >= b->end) return fail_at(b, p, "unexpected end of text"), -1;
    if (*p != '\\') {
        int32_t c = utf8_next(b, pp);
        if (c < 0) fail_at(b, p, "invalid UTF-8");
        return c;
    }
    if (b->end - p < 2) return fail_at(b, p, "unfinished escape"), -1;
    char e = p[1];
    int hex = 0;
    switch (e) {
    case 'n':
        *pp = p + 2;
        return '\n';
    case 'r':
        *pp = p + 2;
        return '\r';
    case 't':
        *pp = p + 2;
        return '\t';
    case '0':
        *pp = p + 2;
        return 0;
    case '\\':
    case '"':
    case '\'':
    case '[':
    case ']':
    case '-':
    case '^':
    case '/':
        *pp = p + 2;
        return (unsigned char)e;
    case 'x':
        hex = 2;
        break;
    case 'u':
        hex = 4;
        break;
    case 'U':
        hex = 8;
        break;
    default:
        return fail_at(b, p, "unknown escape"), -1;
    }
    if (b->end - p < 2 + hex) return fail_at(b, p, "unfinished escape"), -1;
    uint32_t c = 0;
    for (int i = 0; i < hex; i++) {
        int v = hexval(p[2 + i]);
        if (v < 0) return fail_at(b, p, "bad hex digit in escape"), -1;
        c = c << 4 | (uint32_t)v;
    }
    if (c > 0x10FFFF) return fail_at(b, p, "code point above U+10FFFF"), -1;
    *pp = p + 2 + hex;
    return (int32_t)c;
}

static int cmp_range(const void *x, const void *y)
{
    const grange *a = x, *c = y;
    return a->lo < c->lo ? -1 : a->lo > c->lo;
}

/* Store ranges tmp[0..n) sorted and merged; the element matching them. */
static bool class_elem(builder *b, grange *tmp, int n, bool neg, gelem *out)
{
    if (n > 1) qsort(tmp, (size_t)n, sizeof *tmp, cmp_range);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && tmp[i].lo <= tmp[m - 1].hi + 1) {
            if (tmp[i].hi > tmp[m - 1].hi) tmp[m - 1].hi = tmp[i].hi;
        } else {
            tmp[m++] = tmp[i];
        }
    }
    if (b->n_ranges + m > b->cap_ranges) {
        int cap = b->cap_ranges ? b->cap_ranges : 64;
        while (cap < b->n_ranges + m) cap *= 2;
        grange *p = realloc(b->ranges, (size_t)cap * sizeof *p);
        if (!p) return fail(b, R1_ERR_NOMEM, "out of memory");
        b->ranges = p;
        b->cap_ranges = cap;
    }
    if (m) memcpy(b->ranges + b->n_ranges, tmp, (size_t)m * sizeof *tmp);
    *out = (gelem){.type = GE_CHAR, .neg = neg, .a = (uint32_t)b->n_ranges, .n = (uint32_t)m};
    b->n_ranges += m;
    return true;
}

static bool char_elem(builder *b, uint32_t c, gelem *out)
{
    grange r = {c, c};
    return class_elem(b, &r, 1, false, out);
}

/* [...] at p (after the '['); *pp past the ']'. */
static bool parse_class(builder *b, const char **pp, gelem *out)
{
    const char *p = *pp;
    bool neg = false;
    if (p < b->end && *p == '^') neg = true, p++;
    int n = 0, cap = 8;
    grange *tmp = malloc((size_t)cap * sizeof *tmp);
    if (!tmp) return fail(b, R1_ERR_NOMEM, "out of memory");
    for (;;) {
        if (p >= b->end) {
            free(tmp);
            return fail_at(b, *pp - 1, "unclosed character class");
        }
        if (*p == ']') {
            p++;
            break;
        }
        int32_t lo = parse_char(b, &p), hi = lo;
        if (lo < 0) break;
        if (p + 1 < b->end && *p == '-' && p[1] != ']') {
            p++;
            hi = parse_char(b, &p);
            if (hi < 0) break;
            if (hi < lo) {
                fail_at(b, p, "character range with its end before its start");
                break;
            }
        }
        if (n == cap) {
            grange *q = realloc(tmp, (size_t)(cap *= 2) * sizeof *q);
            if (!q) {
                fail(b, R1_ERR_NOMEM, "out of memory");
                break;
            }
            tmp = q;
        }
        tmp[n++] = (grange){(uint32_t)lo, (uint32_t)hi};
    }
    bool ok = b->st == R1_OK && class_elem(b, tmp, n, neg, out);
    free(tmp);
    *pp = p;
    return ok;
}

static bool parse_alternates(builder *b, const char **pp, int r, bool nested);

/* Make the elements items[from..n) of alternative a one element: themselves when a single
 * element, else a reference to a new rule with them as its one alternative. */
static bool wrap_item(builder *b, int r, int ai, int from, gelem *out)
{
    balt *a = &b->rules[r].alts[ai];
    if (a->n - from == 1) {
        *out = a->e[from];
        a->n = from;
        return true;
    }
    int g = rule_generated(b, r);
    if (g < 0) return false;
    int gi = rule_add_alt(b, g);
    if (gi < 0) return false;
    a = &b->rules[r].alts[ai]; /* rules may have moved */
    balt *ga = &b->rules[g].alts[gi];
    for (int i = from; i < a->n; i++)
        if (!alt_push(b, ga, a->e[i])) return false;
    b->total_elems -= a->n - from;
    a->n = from;
    *out = (gelem){.type = GE_REF, .a = (uint32_t)g};
    return true;
}

/* Rule R ::= x R | ε (x*), a reference to it in *out. */
static bool star_rule(builder *b, int r, gelem x, gelem *out)
{
    int g = rule_generated(b, r);
    if (g < 0) return false;
    int a0 = rule_add_alt(b, g), a1 = rule_add_alt(b, g);
    if (a0 < 0 || a1 < 0) return false;
    gelem self = {.type = GE_REF, .a = (uint32_t)g};
    if (!alt_push(b, &b->rules[g].alts[a0], x) || !alt_push(b, &b->rules[g].alts[a0], self))
        return false;
    *out = self;
    return true;
}

/* Apply the postfix operator at *pp to the item items[from..) of alternative ai of rule r. */
static bool parse_postfix(builder *b, const char **pp, int r, int ai, int from)
{
    const char *p = *pp;
    char op = *p;
    long m = 0, n = -1; /* n = -1: unbounded */
    if (op == '*') {
        m = 0, p++;
    } else if (op == '+') {
        m = 1, p++;
    } else if (op == '?') {
        m = 0, n = 1, p++;
    } else { /* {m}, {m,}, {m,n} */
        const char *start = p++;
        p = skip_space(b, p);
        if (p >= b->end || *p < '0' || *p > '9') return fail_at(b, start, "expected a count");
        while (p < b->end && *p >= '0' && *p <= '9' && m <= MAX_REPEAT) m = m * 10 + (*p++ - '0');
        p = skip_space(b, p);
        if (p < b->end && *p == ',') {
            p = skip_space(b, p + 1);
            if (p < b->end && *p >= '0' && *p <= '9') {
                n = 0;
                while (p < b->end && *p >= '0' && *p <= '9' && n <= MAX_REPEAT)
                    n = n * 10 + (*p++ - '0');
                p = skip_space(b, p);
            }
        } else {
            n = m;
        }
        if (p >= b->end || *p != '}') return fail_at(b, start, "expected '}' after the count");
        p++;
        if (m > MAX_REPEAT || n > MAX_REPEAT)
            return fail_at(b, start, "repetition count above 1000");
        if (n >= 0 && n < m) return fail_at(b, start, "repetition {m,n} with n < m");
    }
    *pp = p;
    gelem x;
    if (!wrap_item(b, r, ai, from, &x)) return false;
    for (long i = 0; i < m; i++)
        if (!alt_push(b, &b->rules[r].alts[ai], x)) return false;
    if (n < 0) {
        gelem star;
        if (!star_rule(b, r, x, &star)) return false;
        return alt_push(b, &b->rules[r].alts[ai], star);
    }
    if (n == m) return true;
    /* (n - m) optional copies, nested so that the count is bounded: R1 ::= x | ε, Rk ::= x Rk-1 | ε
     */
    int prev = -1;
    for (long k = 0; k < n - m; k++) {
        int g = rule_generated(b, r);
        if (g < 0) return false;
        int a0 = rule_add_alt(b, g), a1 = rule_add_alt(b, g);
        if (a0 < 0 || a1 < 0) return false;
        (void)a1;
        if (!alt_push(b, &b->rules[g].alts[a0], x)) return false;
        if (prev >= 0 &&
            !alt_push(b, &b->rules[g].alts[a0], (gelem){.type = GE_REF, .a = (uint32_t)prev}))
            return false;
        prev = g;
    }
    return alt_push(b, &b->rules[r].alts[ai], (gelem){.type = GE_REF, .a = (uint32_t)prev});
}

static bool parse_sequence(builder *b, const char **pp, int r, int ai, bool nested)
{
    const char *p = *pp;
    for (;;) {
        p = skip_space(b, p);
        if (p >= b->end || *p == '|' || *p == ')') break;
        if (at_rule_start(b, p)) {
            if (nested) return fail_at(b, p, "a new rule inside parentheses (missing ')'?)");
            break;
        }
        int from = b->rules[r].alts[ai].n;
        if (*p == '"') {
            const char *start = p++;
            for (;;) {
                if (p >= b->end) return fail_at(b, start, "unclosed string literal");
                if (*p == '"') {
                    p++;
                    break;
                }
                int32_t c = parse_char(b, &p);
                gelem e;
                if (c < 0 || !char_elem(b, (uint32_t)c, &e) ||
                    !alt_push(b, &b->rules[r].alts[ai], e))
                    return false;
            }
            if (b->rules[r].alts[ai].n == from) { /* "" matches the empty string */
                p = skip_space(b, p);
                continue;
            }
        } else if (*p == '[') {
            p++;
            gelem e;
            if (!parse_class(b, &p, &e) || !alt_push(b, &b->rules[r].alts[ai], e)) return false;
        } else if (*p == '.') {
            p++;
            gelem e;
            if (!class_elem(b, NULL, 0, true, &e) || !alt_push(b, &b->rules[r].alts[ai], e))
                return false;
        } else if (*p == '(') {
            if (++b->depth > MAX_NESTING) return fail_at(b, p, "parentheses nested too deep");
            const char *start = p++;
            int g = rule_generated(b, r);
            if (g < 0 || !parse_alternates(b, &p, g, true)) return false;
            p = skip_space(b, p);
            if (p >= b->end || *p != ')') return fail_at(b, start, "unclosed '('");
            p++;
            b->depth--;
            if (!alt_push(b, &b->rules[r].alts[ai], (gelem){.type = GE_REF, .a = (uint32_t)g}))
                return false;
        } else if (is_name_char(*p)) {
            const char *s = p;
            while (p < b->end && is_name_char(*p)) p++;
            int ref = rule_find(b, s, (size_t)(p - s));
            if (ref < 0) {
                ref = rule_new(b, s, (size_t)(p - s));
                if (ref < 0) return false;
                b->rules[ref].used_line = line_of(b, s);
            }
            if (!alt_push(b, &b->rules[r].alts[ai], (gelem){.type = GE_REF, .a = (uint32_t)ref}))
                return false;
        } else {
            return fail_at(b, p, "unexpected character");
        }
        /* postfix operators (several may follow: x?* is (x?)*) */
        for (;;) {
            const char *q = skip_space(b, p);
            if (q < b->end && (*q == '*' || *q == '+' || *q == '?' || *q == '{')) {
                p = q;
                if (!parse_postfix(b, &p, r, ai, from)) return false;
                from = b->rules[r].alts[ai].n - 1;
            } else {
                break;
            }
        }
    }
    *pp = p;
    return true;
}

static bool parse_alternates(builder *b, const char **pp, int r, bool nested)
{
    const char *p = *pp;
    for (;;) {
        int ai = rule_add_alt(b, r);
        if (ai < 0 || !parse_sequence(b, &p, r, ai, nested)) return false;
        p = skip_space(b, p);
        if (p < b->end && *p == '|') {
            p++;
            continue;
        }
        break;
    }
    *pp = p;
    return true;
}

static bool parse_rules(builder *b)
{
    const char *p = b->s;
    for (;;) {
        p = skip_space(b, p);
        if (p >= b->end) break;
        const char *s = p;
        while (p < b->end && is_name_char(*p)) p++;
        if (p == s) return fail_at(b, s, "expected a rule name");
        const char *q = skip_space(b, p);
        if (b->end - q < 3 || memcmp(q, "::=", 3) != 0) return fail_at(b, q, "expected '::='");
        int r = rule_find(b, s, (size_t)(p - s));
        if (r >= 0 && b->rules[r].defined) return fail_at(b, s, "rule defined twice");
        if (r < 0 && (r = rule_new(b, s, (size_t)(p - s))) < 0) return false;
        b->rules[r].defined = true;
        p = q + 3;
        if (!parse_alternates(b, &p, r, false)) return false;
        p = skip_space(b, p);
        if (p < b->end && *p == ')') return fail_at(b, p, "unmatched ')'");
    }
    if (b->n_rules == 0) return fail(b, R1_ERR_INVALID_ARG, "no rules");
    return true;
}

/* ---- compile ----------------------------------------------------------------------------------
 */

static bool elem_productive(const builder *b, const gelem *e, const bool *prod)
{
    if (e->type == GE_REF) return prod[e->a];
    if (!e->neg) return e->n > 0;
    const grange *r = b->ranges + e->a;
    return !(e->n == 1 && r[0].lo == 0 && r[0].hi >= 0x10FFFF);
}

/* Left recursion: a rule reached again before any character is consumed. */
static bool check_left(builder *b, int r, uint8_t *color, const bool *nullable)
{
    if (color[r] == 2) return true;
    if (color[r] == 1)
        return fail(b, R1_ERR_INVALID_ARG, "left recursion through rule '%s'", b->rules[r].name);
    color[r] = 1;
    const brule *R = &b->rules[r];
    for (int ai = 0; ai < R->n_alts; ai++)
        for (int i = 0; i < R->alts[ai].n; i++) {
            const gelem *e = &R->alts[ai].e[i];
            if (e->type != GE_REF) break;
            if (!check_left(b, (int)e->a, color, nullable)) return false;
            if (!nullable[e->a]) break;
        }
    color[r] = 2;
    return true;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a + b >= GRAMMAR_FAR ? GRAMMAR_FAR : a + b;
}

/* g->suffix: the fewest characters that finish each alternative from each position, from the
 * shortest string of every rule (a least fixpoint; every rule left is productive). What lets a
 * generation running out of tokens close its value. */
static bool shortest(builder *b, grammar *g)
{
    uint32_t *len = malloc((size_t)g->n_rules * sizeof *len);
    g->suffix = malloc((size_t)(g->n_elems ? g->n_elems : 1) * sizeof *g->suffix);
    if (!len || !g->suffix) {
        free(len);
        return fail(b, R1_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < g->n_rules; r++) len[r] = GRAMMAR_FAR;
    for (bool changed = true; changed;) {
        changed = false;
        for (int r = 0; r < g->n_rules; r++)
            for (int a = g->rule_alt0[r]; a < g->rule_alt0[r + 1]; a++) {
                uint32_t sum = 0;
                for (int p = g->alt_pos[a]; g->elems[p].type != GE_END; p++)
                    sum = sat_add(sum, g->elems[p].type == GE_CHAR ? 1 : len[g->elems[p].a]);
                if (sum < len[r]) len[r] = sum, changed = true;
            }
    }
    for (int p = g->n_elems - 1; p >= 0; p--) {
        const gelem *e = &g->elems[p];
        g->suffix[p] =
            e->type == GE_END ? 0 : sat_add(e->type == GE_CHAR ? 1 : len[e->a], g->suffix[p + 1]);
    }
    free(len);
    return true;
}

static bool compile(builder *b, const char *root, grammar *g)
{
    int n = b->n_rules;
    for (int r = 0; r < n; r++)
        if (!b->rules[r].defined)
            return fail(b, R1_ERR_INVALID_ARG, "line %d: rule '%s' is used but not defined",
                        b->rules[r].used_line, b->rules[r].name);
    g->root = rule_find(b, root, strlen(root));
    if (g->root < 0)
        return fail(b, R1_ERR_INVALID_ARG, "no rule named '%s' (the start rule)", root);

    bool *prod = calloc((size_t)n, sizeof *prod), *nullable = calloc((size_t)n, sizeof *nullable);
    uint8_t *color = calloc((size_t)n, 1);
    bool ok = prod && nullable && color;
    if (!ok) fail(b, R1_ERR_NOMEM, "out of memory");
    /* productive: some alternative whose elements all can finish (least fixpoint) */
    for (bool changed = ok; changed;) {
        changed = false;
        for (int r = 0; r < n; r++) {
            if (prod[r]) continue;
            for (int ai = 0; ai < b->rules[r].n_alts && !prod[r]; ai++) {
                const balt *a = &b->rules[r].alts[ai];
                bool all = true;
                for (int i = 0; i < a->n && all; i++) all = elem_productive(b, &a->e[i], prod);
                if (all) prod[r] = changed = true;
            }
        }
    }
    if (ok && !prod[g->root]) {
        ok = fail(b, R1_ERR_INVALID_ARG, "rule '%s' matches no finite text", root);
    }
    /* drop alternatives that can never finish, so every accepted prefix can be completed */
    for (int r = 0; ok && r < n; r++) {
        brule *R = &b->rules[r];
        int k = 0;
        for (int ai = 0; ai < R->n_alts; ai++) {
            bool all = true;
            for (int i = 0; i < R->alts[ai].n && all; i++)
                all = elem_productive(b, &R->alts[ai].e[i], prod);
            if (all)
                R->alts[k++] = R->alts[ai];
            else
                free(R->alts[ai].e);
        }
        R->n_alts = k;
    }
    for (bool changed = ok; changed;) {
        changed = false;
        for (int r = 0; r < n; r++) {
            if (nullable[r]) continue;
            for (int ai = 0; ai < b->rules[r].n_alts && !nullable[r]; ai++) {
                const balt *a = &b->rules[r].alts[ai];
                bool all = true;
                for (int i = 0; i < a->n && all; i++)
                    all = a->e[i].type == GE_REF && nullable[a->e[i].a];
                if (all) nullable[r] = changed = true;
            }
        }
    }
    for (int r = 0; ok && r < n; r++) ok = check_left(b, r, color, nullable);

    if (ok) { /* flatten */
        int n_alts = 0;
        long n_elems = 0;
        for (int r = 0; r < n; r++) {
            n_alts += b->rules[r].n_alts;
            for (int ai = 0; ai < b->rules[r].n_alts; ai++) n_elems += b->rules[r].alts[ai].n + 1;
        }
        g->elems = malloc((size_t)n_elems * sizeof *g->elems);
        g->rule_alt0 = malloc((size_t)(n + 1) * sizeof *g->rule_alt0);
        g->alt_pos = malloc((size_t)(n_alts ? n_alts : 1) * sizeof *g->alt_pos);
        g->ranges = malloc((size_t)(b->n_ranges ? b->n_ranges : 1) * sizeof *g->ranges);
        if (!g->elems || !g->rule_alt0 || !g->alt_pos || !g->ranges) {
            ok = fail(b, R1_ERR_NOMEM, "out of memory");
        } else {
            int ea = 0, pos = 0;
            for (int r = 0; r < n; r++) {
                g->rule_alt0[r] = ea;
                for (int ai = 0; ai < b->rules[r].n_alts; ai++) {
                    const balt *a = &b->rules[r].alts[ai];
                    g->alt_pos[ea++] = pos;
                    if (a->n) memcpy(g->elems + pos, a->e, (size_t)a->n * sizeof *a->e);
                    pos += a->n;
                    g->elems[pos++] = (gelem){.type = GE_END};
                }
            }
            g->rule_alt0[n] = ea;
            g->n_elems = pos;
            g->n_rules = n;
            if (b->n_ranges) memcpy(g->ranges, b->ranges, (size_t)b->n_ranges * sizeof *b->ranges);
            g->n_ranges = b->n_ranges;
            ok = shortest(b, g);
        }
    }
    free(prod);
    free(nullable);
    free(color);
    return ok;
}

void grammar_free(grammar *g)
{
    if (!g) return;
    free(g->suffix);
    free(g->elems);
    free(g->ranges);
    free(g->rule_alt0);
    free(g->alt_pos);
    free(g);
}

r1_status grammar_parse_gbnf(const char *text, size_t n, const char *root, grammar **out, char *err)
{
    if (!text || !out) return err_set(err, R1_ERR_INVALID_ARG, "grammar: no text");
    if (n > GRAMMAR_MAX_TEXT)
        return err_set(err, R1_ERR_INVALID_ARG, "grammar: text over %d bytes", GRAMMAR_MAX_TEXT);
    builder b = {.s = text, .text = text, .end = text + n, .err = err};
    grammar *g = calloc(1, sizeof *g);
    if (!g) return err_set(err, R1_ERR_NOMEM, "out of memory");
    if (parse_rules(&b)) compile(&b, root ? root : "root", g);
    for (int r = 0; r < b.n_rules; r++) {
        for (int ai = 0; ai < b.rules[r].n_alts; ai++) free(b.rules[r].alts[ai].e);
        free(b.rules[r].alts);
        free(b.rules[r].name);
    }
    free(b.rules);
    free(b.ranges);
    if (b.st != R1_OK) {
        grammar_free(g);
        return b.st;
    }
    *out = g;
    return R1_OK;
}
