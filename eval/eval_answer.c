/* eval_answer.c — answer extraction and math-answer equivalence for `r1 eval` (see eval_answer.h).
 *
 * Equivalence runs in three stages, each only on the normalized strings (normalize()):
 *   1. equal strings;
 *   2. lists: "(1,2]", "\{1,2\}", "1, 2", pmatrix rows, unions with \cup — element by element
 *      (sets and bare lists in any order, tuples and intervals in order, same brackets);
 *   3. numbers: both sides parsed by a recursive-descent evaluator over the LaTeX subset answers
 *      use; single letters are variables, evaluated at three fixed points, so "2x+3" = "3+2x" and
 *      "\frac{x}{2}" = "x/2"; equal when every point agrees within a relative 1e-6.
 * Every step works on malloc'd copies and fails closed: a parse error means "not equal by this
 * stage", never a crash. */
#include "eval_answer.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- small string helpers -------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_addc(sbuf *b, char c)
{
    sb_addn(b, &c, 1);
}

/* The built string (never NULL unless out of memory); the buffer is handed over. */
static char *sb_take(sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p) return calloc(1, 1);
    return b->p;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *dup_trim(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return dup_n(s, n);
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Case-insensitive search for needle in s[0..n) at or after from; -1 when absent. */
static long find_ci(const char *s, size_t n, size_t from, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = from; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)s[i + j]) == tolower((unsigned char)needle[j])) j++;
        if (j == k) return (long)i;
    }
    return -1;
}

/* Replace every occurrence of `from` by `to`. A `from` that is a LaTeX command (\name) matches
 * only as a whole command: "\right" does not match inside "\rightarrow". Frees s. */
static char *replace_all(char *s, const char *from, const char *to)
{
    if (!s) return NULL;
    size_t k = strlen(from), tk = strlen(to);
    bool is_cmd = k > 1 && from[0] == '\\' && is_alpha(from[k - 1]);
    sbuf b = {0};
    const char *p = s;
    while (*p) {
        if (!strncmp(p, from, k) && !(is_cmd && is_alpha(p[k]))) {
            sb_addn(&b, to, tk);
            p += k;
        } else {
            sb_addc(&b, *p++);
        }
    }
    free(s);
    return sb_take(&b);
}

/* Index just after the group that starts at s[i] == '{' (nested, \{ \} skipped), or 0 when it is
 * not closed. */
static size_t group_end(const char *s, size_t i)
{
    int depth = 0;
    for (; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1]) {
            i++;
            continue;
        }
        if (s[i] == '{') depth++;
        if (s[i] == '}' && --depth == 0) return i + 1;
    }
    return 0;
}

/* ---- extraction ------------------------------------------------------------------------------ */

const char *eval_extract_name(eval_extract how)
{
    switch (how) {
    case EVAL_EXTRACT_BOXED:
        return "boxed";
    case EVAL_EXTRACT_PHRASE:
        return "answer_phrase";
    case EVAL_EXTRACT_REASONING_BOXED:
        return "reasoning_boxed";
    case EVAL_EXTRACT_LAST_NUMBER:
        return "last_number";
    case EVAL_EXTRACT_LETTER:
        return "letter";
    default:
        return "none";
    }
}

char *eval_last_boxed(const char *text)
{
    if (!text) return NULL;
    static const char *names[] = {"\\boxed", "\\fbox"};
    size_t best_at = 0, best_n = 0;
    bool found = false;
    for (size_t i = 0; text[i];) {
        size_t k = 0;
        for (int j = 0; j < 2 && !k; j++)
            if (!strncmp(text + i, names[j], strlen(names[j]))) k = strlen(names[j]);
        if (!k || is_alpha(text[i + k])) {
            i++;
            continue;
        }
        size_t p = i + k;
        while (text[p] == ' ') p++;
        if (text[p] == '{') {
            size_t e = group_end(text, p);
            if (!e) {
                i++;
                continue;
            }
            best_at = p + 1;
            best_n = e - 1 - (p + 1);
            found = true;
            i = e; /* a box inside this one is part of its content */
        } else if (p > i + k && text[p] && text[p] != '$') {
            size_t e = p;
            while (text[e] && !isspace((unsigned char)text[e]) && text[e] != '$') e++;
            best_at = p;
            best_n = e - p;
            found = true;
            i = e;
        } else {
            i++;
        }
    }
    return found ? dup_trim(text + best_at, best_n) : NULL;
}

/* Strip trailing punctuation a sentence puts after an answer. */
static void trim_answer_tail(char *s)
{
    size_t n = strlen(s);
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '.' || s[n - 1] == '*' ||
                 s[n - 1] == '$' || s[n - 1] == ','))
        s[--n] = 0;
}

/* Text after the last "answer is" / "answer:" phrase, to the end of its line. */
static char *answer_phrase(const char *text)
{
    if (!text) return NULL;
    size_t n = strlen(text);
    static const char *phrases[] = {"answer is", "answer:", "answer**:", "answer is:"};
    long best = -1;
    size_t best_k = 0;
    for (size_t j = 0; j < sizeof phrases / sizeof phrases[0]; j++) {
        for (long at = find_ci(text, n, 0, phrases[j]); at >= 0;
             at = find_ci(text, n, (size_t)at + 1, phrases[j])) {
            if (at > best || (at == best && strlen(phrases[j]) > best_k)) {
                best = at;
                best_k = strlen(phrases[j]);
            }
        }
    }
    if (best < 0) return NULL;
    const char *p = text + best + best_k;
    while (*p == ' ' || *p == '*' || *p == ':' || *p == '\t' || *p == '$') p++;
    const char *e = p;
    while (*e && *e != '\n') e++;
    char *line = dup_trim(p, (size_t)(e - p));
    if (!line) return NULL;
    char *boxed = eval_last_boxed(line);
    if (boxed) {
        free(line);
        line = boxed;
    }
    /* "… is 42. Then" → "42": a period followed by a space ends the sentence */
    for (char *q = line; *q; q++)
        if (q[0] == '.' && q[1] == ' ' && (q == line || !is_digit(q[-1]) || !is_digit(q[2]))) {
            *q = 0;
            break;
        }
    trim_answer_tail(line);
    if (!*line) {
        free(line);
        return NULL;
    }
    return line;
}

/* The last number of text: -?digits with thousands commas, a decimal part, or a/b. */
static char *last_number(const char *text)
{
    if (!text) return NULL;
    const char *best = NULL;
    size_t best_n = 0;
    for (const char *p = text; *p;) {
        if (!is_digit(*p) || (p > text && (is_digit(p[-1]) || is_alpha(p[-1])))) {
            p++;
            continue;
        }
        const char *s = p, *e = p;
        if (s > text && s[-1] == '-') s--;
        while (is_digit(*e) || ((*e == ',' || *e == '.' || *e == '/') && is_digit(e[1]))) e++;
        best = s;
        best_n = (size_t)(e - s);
        p = e;
    }
    return best ? dup_n(best, best_n) : NULL;
}

char *eval_extract_math(const char *content, const char *reasoning, eval_extract *out_how)
{
    char *a;
    eval_extract how = EVAL_EXTRACT_NONE;
    if ((a = eval_last_boxed(content)) && *a) {
        how = EVAL_EXTRACT_BOXED;
    } else if ((free(a), a = answer_phrase(content))) {
        how = EVAL_EXTRACT_PHRASE;
    } else if ((a = eval_last_boxed(reasoning)) && *a) {
        how = EVAL_EXTRACT_REASONING_BOXED;
    } else if ((free(a), a = last_number(content))) {
        how = EVAL_EXTRACT_LAST_NUMBER;
    }
    if (out_how) *out_how = how;
    return a;
}

char *eval_reference_answer(const char *field)
{
    if (!field) return calloc(1, 1);
    const char *hash = NULL;
    for (const char *p = strstr(field, "####"); p; p = strstr(p + 1, "####")) hash = p;
    if (hash) return dup_trim(hash + 4, strlen(hash + 4));
    char *boxed = eval_last_boxed(field);
    if (boxed) return boxed;
    return dup_trim(field, strlen(field));
}

/* A letter A.. within n choices, not part of a word. */
static int letter_at(const char *p, int n_choices)
{
    if (*p < 'A' || *p >= 'A' + n_choices) return -1;
    if (is_alpha(p[1]) || is_digit(p[1])) return -1;
    return *p - 'A';
}

/* Last "Answer: X" (or "answer is X") of text; -1 when none. */
static int answer_letter(const char *text, int n_choices)
{
    if (!text) return -1;
    size_t n = strlen(text);
    int found = -1;
    for (long at = find_ci(text, n, 0, "answer"); at >= 0;
         at = find_ci(text, n, (size_t)at + 1, "answer")) {
        if (at > 0 && is_alpha(text[at - 1])) continue;
        const char *p = text + at + 6;
        while (*p == ' ' || *p == '*' || *p == '_') p++;
        if (*p == ':') {
            p++;
        } else if ((p[0] == 'i' || p[0] == 'I') && p[1] == 's' && !is_alpha(p[2])) {
            p += 2;
            if (*p == ':') p++;
        } else {
            continue;
        }
        for (bool more = true; more;) {
            more = false;
            static const char *skip[] = {" ",        "*",       "$",         "(",         "{",
                                         "\\boxed{", "\\text{", "\\textbf{", "\\mathrm{", "\\("};
            for (size_t j = 0; j < sizeof skip / sizeof skip[0]; j++)
                if (!strncmp(p, skip[j], strlen(skip[j]))) {
                    p += strlen(skip[j]);
                    more = true;
                }
        }
        int l = letter_at(p, n_choices);
        if (l >= 0) found = l;
    }
    return found;
}

/* "B", "(B)", "B.", "B)", "**B**" as the whole text; -1 otherwise. */
static int lone_letter(const char *text, int n_choices)
{
    if (!text) return -1;
    const char *p = text;
    while (*p && (isspace((unsigned char)*p) || *p == '*' || *p == '(' || *p == '$')) p++;
    int l = letter_at(p, n_choices);
    if (l < 0) return -1;
    p++;
    while (*p && (isspace((unsigned char)*p) || *p == '*' || *p == ')' || *p == '.' || *p == '$'))
        p++;
    return *p ? -1 : l;
}

int eval_extract_choice(const char *content, const char *reasoning, int n_choices)
{
    if (n_choices < 1 || n_choices > 26) return -1;
    int l = answer_letter(content, n_choices);
    if (l >= 0) return l;
    char *boxed = eval_last_boxed(content);
    if (boxed) {
        char *t = replace_all(boxed, "\\text{", "");
        t = replace_all(t, "}", "");
        l = lone_letter(t, n_choices);
        free(t);
        if (l >= 0) return l;
    }
    if ((l = lone_letter(content, n_choices)) >= 0) return l;
    return answer_letter(reasoning, n_choices);
}

/* ---- normalization --------------------------------------------------------------------------- */

/* Replace \name{X} by X for formatting commands (nested braces kept). Frees s. */
static char *unwrap_command(char *s, const char *name)
{
    size_t k = strlen(name);
    for (int guard = 0; s && guard < 1000; guard++) {
        char *at = NULL;
        for (char *p = strstr(s, name); p; p = strstr(p + 1, name))
            if (!is_alpha(p[k])) {
                at = p;
                break;
            }
        if (!at) break;
        size_t i = (size_t)(at - s) + k;
        while (s[i] == ' ') i++;
        sbuf b = {0};
        sb_addn(&b, s, (size_t)(at - s));
        if (s[i] == '{') {
            size_t e = group_end(s, i);
            if (!e) {
                /* unclosed: drop the command and the brace */
                sb_addn(&b, s + i + 1, strlen(s + i + 1));
            } else {
                sb_addn(&b, s + i + 1, e - i - 2);
                sb_addn(&b, s + e, strlen(s + e));
            }
        } else {
            sb_addn(&b, s + i, strlen(s + i));
        }
        free(s);
        s = sb_take(&b);
    }
    return s;
}

/* Remove thousands separators: "1,234,567" → "1234567" (groups of exactly three digits). */
static char *drop_thousands(char *s)
{
    if (!s) return NULL;
    sbuf b = {0};
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        bool starts = is_digit(s[i]) && (i == 0 || (!is_digit(s[i - 1]) && s[i - 1] != '.' &&
                                                    s[i - 1] != ',' && !is_alpha(s[i - 1])));
        if (!starts) {
            sb_addc(&b, s[i++]);
            continue;
        }
        size_t j = i;
        while (j < n && is_digit(s[j])) j++;
        size_t lead = j - i, e = j;
        int groups = 0;
        while (lead <= 3 && e + 4 <= n && s[e] == ',' && is_digit(s[e + 1]) && is_digit(s[e + 2]) &&
               is_digit(s[e + 3]) && (e + 4 == n || !is_digit(s[e + 4]))) {
            e += 4;
            groups++;
        }
        if (groups == 0) {
            sb_addn(&b, s + i, j - i);
            i = j;
            continue;
        }
        for (size_t q = i; q < e; q++)
            if (s[q] != ',') sb_addc(&b, s[q]);
        i = e;
    }
    free(s);
    return sb_take(&b);
}

/* A leading "x =", "x_1 =", "\theta =" or "x \in" is dropped when what follows has no '='. */
static char *drop_variable_prefix(char *s)
{
    if (!s) return NULL;
    const char *p = s;
    while (*p == ' ') p++;
    if (*p == '\\') {
        p++;
        if (!is_alpha(*p)) return s;
        while (is_alpha(*p)) p++;
    } else if (is_alpha(*p)) {
        p++;
        if (*p == '_') {
            p++;
            if (*p == '{') {
                while (*p && *p != '}') p++;
                if (*p) p++;
            } else if (*p) {
                p++;
            }
        }
    } else {
        return s;
    }
    while (*p == ' ') p++;
    if (*p == '=')
        p++;
    else if (!strncmp(p, "\\in", 3) && !is_alpha(p[3]))
        p += 3;
    else
        return s;
    while (*p == ' ') p++;
    if (!*p || strchr(p, '=')) return s;
    char *r = strdup(p);
    if (!r) return s;
    free(s);
    return r;
}

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncasecmp(w, list[i], n)) return true;
    return false;
}

/* Drop trailing unit words: "5 cm" → "5", "12 square units" → "12", "30mph" → "30". A word
 * attached to the number must be a known unit; a separated word of two or more letters is
 * dropped unless it is a math word (pi, sqrt, ...). What remains must contain a digit. */
static char *drop_units(char *s)
{
    static const char *const units[] = {
        "cm",      "mm",      "km",      "meters",  "meter",  "metres",  "metre",   "inches",
        "inch",    "ft",      "feet",    "foot",    "yards",  "yard",    "yd",      "miles",
        "mile",    "mph",     "kg",      "grams",   "gram",   "pounds",  "pound",   "lbs",
        "lb",      "oz",      "ounces",  "seconds", "second", "sec",     "minutes", "minute",
        "min",     "hours",   "hour",    "hrs",     "hr",     "days",    "day",     "weeks",
        "week",    "years",   "year",    "cents",   "cent",   "dollars", "dollar",  "units",
        "unit",    "degrees", "degree",  "deg",     "liters", "litres",  "liter",   "ml",
        "gallons", "gallon",  "percent", "sq",      "square", "cubic",   "kmh",     NULL};
    static const char *const math_words[] = {"pi", "sqrt", "sin", "cos",   "tan", "log",
                                             "ln", "exp",  "inf", "infty", "i",   NULL};
    /* one-letter units count only after a space: "9 m^2", not "9m" (a product) */
    static const char *const single_units[] = {"m", "g", "s", "h", "L", NULL};
    if (!s) return NULL;
    for (;;) {
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '.')) n--;
        size_t e = n;
        /* optional ^2 / ^{3} */
        if (e >= 2 && is_digit(s[e - 1]) && s[e - 2] == '^')
            e -= 2;
        else if (e >= 4 && s[e - 1] == '}' && is_digit(s[e - 2]) && s[e - 3] == '{' &&
                 s[e - 4] == '^')
            e -= 4;
        size_t j = e;
        while (j && is_alpha(s[j - 1])) j--;
        size_t len = e - j;
        if (!len || (j && s[j - 1] == '\\')) break;
        bool sep = j && s[j - 1] == ' ';
        bool known = word_in(s + j, len, units);
        /* "km/h": the word after a '/' that follows a known unit */
        bool per = false;
        if (j >= 2 && s[j - 1] == '/') {
            size_t w = j - 1;
            while (w && is_alpha(s[w - 1])) w--;
            per = word_in(s + w, j - 1 - w, units);
        }
        bool loose = sep && (len >= 2 ? !word_in(s + j, len, math_words)
                                      : word_in(s + j, len, single_units));
        if (!known && !per && !loose) break;
        size_t k = j;
        while (k && (s[k - 1] == ' ' || s[k - 1] == '/')) k--;
        bool digit = false;
        for (size_t q = 0; q < k; q++) digit |= is_digit(s[q]);
        if (!digit || !k) break;
        s[k] = 0;
    }
    return s;
}

/* Remove spaces, keeping one between a command name and a letter ("\pi r"). */
static char *drop_spaces(char *s)
{
    if (!s) return NULL;
    sbuf b = {0};
    bool in_cmd = false;
    for (const char *p = s; *p; p++) {
        if (isspace((unsigned char)*p)) {
            const char *q = p;
            while (isspace((unsigned char)*q)) q++;
            if (in_cmd && is_alpha(*q)) sb_addc(&b, ' ');
            in_cmd = false;
            p = q - 1;
            continue;
        }
        if (*p == '\\' && is_alpha(p[1]))
            in_cmd = true;
        else if (!is_alpha(*p))
            in_cmd = false;
        sb_addc(&b, *p);
    }
    free(s);
    return sb_take(&b);
}

/* Copy one argument of \frac / \sqrt at s[*i] into b as "{…}": a group as is, a command (\pi),
 * or a single character. */
static void brace_arg(sbuf *b, const char *s, size_t *i)
{
    size_t p = *i;
    if (s[p] == '{') {
        size_t e = group_end(s, p);
        if (!e) e = strlen(s);
        sb_addn(b, s + p, e - p);
        *i = e;
        return;
    }
    if (!s[p]) return;
    sb_addc(b, '{');
    if (s[p] == '\\' && is_alpha(s[p + 1])) {
        size_t e = p + 1;
        while (is_alpha(s[e])) e++;
        sb_addn(b, s + p, e - p);
        *i = e;
    } else {
        sb_addc(b, s[p]);
        *i = p + 1;
    }
    sb_addc(b, '}');
}

/* "\frac12" → "\frac{1}{2}", "\sqrt2" → "\sqrt{2}", "x^{2}" → "x^2". */
static char *canonical_braces(char *s)
{
    if (!s) return NULL;
    sbuf b = {0};
    for (size_t i = 0; s[i];) {
        if (!strncmp(s + i, "\\frac", 5) && !is_alpha(s[i + 5])) {
            sb_addn(&b, "\\frac", 5);
            i += 5;
            brace_arg(&b, s, &i);
            brace_arg(&b, s, &i);
        } else if (!strncmp(s + i, "\\sqrt", 5) && !is_alpha(s[i + 5])) {
            sb_addn(&b, "\\sqrt", 5);
            i += 5;
            if (s[i] == '[') {
                size_t e = i;
                while (s[e] && s[e] != ']') e++;
                if (s[e]) e++;
                sb_addn(&b, s + i, e - i);
                i = e;
            }
            brace_arg(&b, s, &i);
        } else if ((s[i] == '^' || s[i] == '_') && s[i + 1] == '{' && s[i + 2] && s[i + 2] != '}' &&
                   s[i + 2] != '\\' && s[i + 3] == '}') {
            sb_addc(&b, s[i]);
            sb_addc(&b, s[i + 2]);
            i += 4;
        } else {
            sb_addc(&b, s[i++]);
        }
    }
    free(s);
    return sb_take(&b);
}

/* The normalized string, and whether a percent sign was removed. */
static char *normalize(const char *in, bool *out_percent)
{
    *out_percent = false;
    if (!in) return calloc(1, 1);
    char *s = dup_trim(in, strlen(in));
    /* Unicode forms of common symbols */
    static const char *const uni[][2] = {
        {"\xe2\x88\x92", "-"},
        {"\xc3\x97", "\\times "},
        {"\xc2\xb7", "\\cdot "},
        {"\xcf\x80", "\\pi "},
        {"\xe2\x88\x9e", "\\infty "},
        {"\xe2\x88\x9a", "\\sqrt"},
        {"\xc2\xb0", ""},
        {"\xc2\xa0", " "},
        {"\xe2\x80\x89", ""},
        {"\xe2\x88\xaa", "\\cup "},
    };
    for (size_t i = 0; i < sizeof uni / sizeof uni[0]; i++)
        s = replace_all(s, uni[i][0], uni[i][1]);
    /* math delimiters and dollars */
    static const char *const drop[] = {"\\$", "$", "\\(", "\\)", "\\[", "\\]"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) s = replace_all(s, drop[i], "");
    /* formatting commands whose argument is the answer */
    static const char *const wrappers[] = {"\\boxed",  "\\text",         "\\textbf",     "\\textit",
                                           "\\textrm", "\\mathrm",       "\\mathbf",     "\\mathit",
                                           "\\mbox",   "\\operatorname", "\\textnormal", "\\hbox",
                                           "\\fbox",   "\\textsf",       "\\mathsf"};
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
        s = unwrap_command(s, wrappers[i]);
    /* matrices become tuples: rows and cells separated by commas */
    static const char *const matrix[][2] = {
        {"\\begin{pmatrix}", "("}, {"\\end{pmatrix}", ")"}, {"\\begin{bmatrix}", "["},
        {"\\end{bmatrix}", "]"},   {"\\\\", ","},           {"&", ","},
    };
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++)
        s = replace_all(s, matrix[i][0], matrix[i][1]);
    static const char *const repl[][2] = {
        {"\\left.", ""},
        {"\\right.", ""},
        {"\\left", ""},
        {"\\right", ""},
        {"\\bigl", ""},
        {"\\bigr", ""},
        {"\\Bigl", ""},
        {"\\Bigr", ""},
        {"\\big", ""},
        {"\\Big", ""},
        {"\\!", ""},
        {"\\,", ""},
        {"\\;", ""},
        {"\\:", ""},
        {"\\ ", " "},
        {"\\quad", " "},
        {"\\qquad", " "},
        {"~", " "},
        {"\\displaystyle", ""},
        {"\\dfrac", "\\frac"},
        {"\\tfrac", "\\frac"},
        {"\\cfrac", "\\frac"},
        {"\\dbinom", "\\binom"},
        {"\\tbinom", "\\binom"},
        {"{,}", ""},
        {"^{\\circ}", ""},
        {"^\\circ", ""},
        {"\\circ", ""},
        {"\\degree", ""},
        {"\\textdegree", ""},
        {"\\lbrace", "\\{"},
        {"\\rbrace", "\\}"},
        {"\\varnothing", "\\emptyset"},
        {"\\infin", "\\infty"},
        {"\\le", "\\leq"},
        {"\\ge", "\\geq"},
        {"\\lvert", "|"},
        {"\\rvert", "|"},
        {"\\vert", "|"},
        {"\\colon", ":"},
    };
    for (size_t i = 0; i < sizeof repl / sizeof repl[0]; i++)
        s = replace_all(s, repl[i][0], repl[i][1]);
    if (s && (strstr(s, "%") || strstr(s, "percent"))) {
        *out_percent = true;
        s = replace_all(s, "\\%", "");
        s = replace_all(s, "%", "");
    }
    if (!s) return NULL;
    if (s[0] != '(' && s[0] != '[' && strncmp(s, "\\{", 2)) s = drop_thousands(s);
    s = drop_variable_prefix(s);
    s = drop_units(s);
    s = drop_spaces(s);
    s = canonical_braces(s);
    if (!s) return NULL;
    /* a sentence's period, a leading plus */
    size_t n = strlen(s);
    while (n && s[n - 1] == '.') s[--n] = 0;
    if (s[0] == '+' && s[1]) memmove(s, s + 1, n--);
    /* "(C)" → "C"; plain words compare case-insensitively */
    if (n == 3 && s[0] == '(' && is_alpha(s[1]) && s[2] == ')') {
        s[0] = s[1];
        s[1] = 0;
        n = 1;
    }
    bool word = n >= 2;
    for (size_t i = 0; i < n && word; i++) word = is_alpha(s[i]);
    if (word)
        for (size_t i = 0; i < n; i++) s[i] = (char)tolower((unsigned char)s[i]);
    return s;
}

char *eval_math_normalize(const char *s)
{
    bool pct;
    return normalize(s, &pct);
}

/* ---- expression evaluator -------------------------------------------------------------------- */

#define N_POINTS 3

typedef struct expr {
    const char *s;
    size_t i;
    bool fail;
    bool allow_words; /* a run of letters is a product of variables ("xy"), not a word */
    int point;        /* which sample point the variables take */
    int depth;
} expr;

static double ex_expr(expr *e);
static double ex_unary(expr *e);
static double ex_power(expr *e);

static char ex_peek(expr *e)
{
    while (e->s[e->i] == ' ') e->i++;
    return e->s[e->i];
}

static bool ex_accept(expr *e, const char *tok)
{
    ex_peek(e);
    size_t k = strlen(tok);
    if (strncmp(e->s + e->i, tok, k)) return false;
    if (tok[0] == '\\' && is_alpha(tok[k - 1]) && is_alpha(e->s[e->i + k])) return false;
    e->i += k;
    return true;
}

/* The value a variable takes at the current point: spread-out, non-integer, positive, and
 * different for different names. */
static double ex_variable(const expr *e, const char *name, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    h ^= (uint64_t)(e->point + 1) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return 0.35 + (double)(h % 1000003) / 1000003.0 * 2.1;
}

static double ex_fail(expr *e)
{
    e->fail = true;
    return NAN;
}

/* One argument of \frac, \sqrt, \binom: a {group}, or a single digit, letter or command. */
static double ex_arg(expr *e)
{
    char c = ex_peek(e);
    if (c == '{') {
        e->i++;
        double v = ex_expr(e);
        if (ex_peek(e) != '}') return ex_fail(e);
        e->i++;
        return v;
    }
    if (is_digit(c)) {
        e->i++;
        return c - '0';
    }
    if (is_alpha(c)) {
        e->i++;
        return ex_variable(e, &c, 1);
    }
    if (c == '\\') return ex_power(e);
    return ex_fail(e);
}

static bool is_digits_group(const char *s, size_t i, size_t *out_end)
{
    if (s[i] != '{' || !is_digit(s[i + 1])) return false;
    size_t j = i + 1;
    while (is_digit(s[j])) j++;
    if (s[j] != '}') return false;
    *out_end = j + 1;
    return true;
}

static double factorial(double v, expr *e)
{
    if (v < 0 || v > 170 || v != floor(v)) return ex_fail(e);
    double r = 1;
    for (int k = 2; k <= (int)v; k++) r *= k;
    return r;
}

static const char *const greek[] = {
    "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",  "eta",   "theta",
    "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",    "rho",   "sigma",
    "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega", "Gamma", "Delta",
    "Theta",    "Lambda",  "Xi",    "Sigma",  "Phi",     "Psi",        "Omega", NULL};

static double ex_primary(expr *e)
{
    if (++e->depth > 200) return ex_fail(e);
    double v;
    char c = ex_peek(e);
    const char *s = e->s;
    if (is_digit(c) || (c == '.' && is_digit(s[e->i + 1]))) {
        size_t st = e->i;
        bool integer = true;
        while (is_digit(s[e->i])) e->i++;
        if (s[e->i] == '.' && is_digit(s[e->i + 1])) {
            integer = false;
            e->i++;
            while (is_digit(s[e->i])) e->i++;
        }
        v = strtod(s + st, NULL);
        /* a mixed number: 2\frac{1}{2} = 2.5 (only with integer literals throughout) */
        size_t a_end, b_end;
        if (integer && !strncmp(s + e->i, "\\frac", 5) && is_digits_group(s, e->i + 5, &a_end) &&
            is_digits_group(s, a_end, &b_end)) {
            double num = strtod(s + e->i + 6, NULL), den = strtod(s + a_end + 1, NULL);
            e->i = b_end;
            v += num / den;
        }
    } else if (c == '(' || c == '{') {
        char close = c == '(' ? ')' : '}';
        e->i++;
        v = ex_expr(e);
        if (e->fail || ex_peek(e) != close) return ex_fail(e);
        e->i++;
    } else if (is_alpha(c)) {
        size_t st = e->i;
        while (is_alpha(s[e->i])) e->i++;
        size_t n = e->i - st;
        static const char *const funcs[] = {"sin", "cos", "tan", "ln", "log", "exp", "sqrt", NULL};
        if (n >= 2 && word_in(s + st, n, funcs)) {
            double a = ex_power(e);
            v = !strncmp(s + st, "sin", 3)    ? sin(a)
                : !strncmp(s + st, "cos", 3)  ? cos(a)
                : !strncmp(s + st, "tan", 3)  ? tan(a)
                : !strncmp(s + st, "exp", 3)  ? exp(a)
                : !strncmp(s + st, "sqrt", 4) ? sqrt(a)
                : !strncmp(s + st, "log", 3)  ? log10(a)
                                              : log(a);
        } else if (n == 2 && !strncmp(s + st, "pi", 2)) {
            v = M_PI;
        } else if (n >= 2 && !e->allow_words) {
            v = ex_fail(e);
        } else {
            /* variables, the last one with an optional subscript: x_1, x_{12} */
            v = 1;
            for (size_t k = 0; k + 1 < n; k++) v *= ex_variable(e, s + st + k, 1);
            size_t vs = e->i - 1;
            if (s[e->i] == '_') {
                e->i++;
                if (s[e->i] == '{') {
                    size_t g = group_end(s, e->i);
                    e->i = g ? g : strlen(s);
                } else if (s[e->i]) {
                    e->i++;
                }
            }
            v *= ex_variable(e, s + vs, e->i - vs);
        }
    } else if (c == '\\') {
        size_t st = ++e->i;
        while (is_alpha(s[e->i])) e->i++;
        size_t n = e->i - st;
        const char *name = s + st;
#define IS(lit) (n == sizeof(lit) - 1 && !strncmp(name, lit, n))
        if (IS("frac")) {
            double a = ex_arg(e), b = ex_arg(e);
            v = a / b;
        } else if (IS("binom")) {
            double a = ex_arg(e), b = ex_arg(e);
            if (a != floor(a) || b != floor(b) || b < 0 || a < b || a > 170) return ex_fail(e);
            v = factorial(a, e) / (factorial(b, e) * factorial(a - b, e));
        } else if (IS("sqrt")) {
            double root = 2;
            if (ex_peek(e) == '[') {
                e->i++;
                root = ex_expr(e);
                if (ex_peek(e) != ']') return ex_fail(e);
                e->i++;
            }
            double a = ex_arg(e);
            v = root == 2 ? sqrt(a)
                          : (a < 0 && fmod(root, 2) == 1 ? -pow(-a, 1 / root) : pow(a, 1 / root));
        } else if (IS("pi")) {
            v = M_PI;
        } else if (IS("infty")) {
            v = INFINITY;
        } else if (IS("sin") || IS("cos") || IS("tan") || IS("ln") || IS("exp") || IS("log")) {
            double base = 10;
            bool is_log = IS("log");
            if (is_log && s[e->i] == '_') {
                e->i++;
                base = ex_arg(e);
            }
            double a = ex_power(e);
            v = IS("sin")   ? sin(a)
                : IS("cos") ? cos(a)
                : IS("tan") ? tan(a)
                : IS("exp") ? exp(a)
                : IS("ln")  ? log(a)
                            : log(a) / log(base);
        } else if (word_in(name, n, greek)) {
            v = ex_variable(e, name, n);
        } else {
            v = ex_fail(e);
        }
#undef IS
    } else {
        v = ex_fail(e);
    }
    while (!e->fail && ex_peek(e) == '!') {
        e->i++;
        v = factorial(v, e);
    }
    e->depth--;
    return v;
}

static double ex_power(expr *e)
{
    double b = ex_primary(e);
    if (e->fail) return b;
    if (ex_peek(e) == '^') {
        e->i++;
        double x;
        if (ex_peek(e) == '{') {
            x = ex_arg(e);
        } else {
            x = ex_unary(e);
        }
        return pow(b, x);
    }
    return b;
}

static double ex_unary(expr *e)
{
    if (ex_accept(e, "-")) return -ex_unary(e);
    if (ex_accept(e, "+")) return ex_unary(e);
    if (ex_accept(e, "\\pm")) return ex_fail(e);
    return ex_power(e);
}

/* Whether the next token starts an operand (for implicit multiplication: "2x", "3\sqrt{2}"). */
static bool ex_starts_operand(expr *e)
{
    char c = ex_peek(e);
    if (is_digit(c) || is_alpha(c) || c == '(' || c == '{' ||
        (c == '.' && is_digit(e->s[e->i + 1])))
        return true;
    if (c != '\\') return false;
    static const char *const binary[] = {"cdot", "times", "div", "cup", "cap", "leq",      "geq",
                                         "neq",  "pm",    "mp",  "in",  "to",  "setminus", NULL};
    size_t st = e->i + 1, en = st;
    while (is_alpha(e->s[en])) en++;
    return en > st && !word_in(e->s + st, en - st, binary);
}

static double ex_term(expr *e)
{
    double v = ex_unary(e);
    while (!e->fail) {
        if (ex_accept(e, "*") || ex_accept(e, "\\cdot") || ex_accept(e, "\\times")) {
            v *= ex_unary(e);
        } else if (ex_accept(e, "/") || ex_accept(e, "\\div")) {
            v /= ex_unary(e);
        } else if (ex_starts_operand(e)) {
            v *= ex_power(e);
        } else {
            break;
        }
    }
    return v;
}

static double ex_expr(expr *e)
{
    if (++e->depth > 200) return ex_fail(e);
    double v = ex_term(e);
    while (!e->fail) {
        if (ex_accept(e, "+"))
            v += ex_term(e);
        else if (ex_accept(e, "-"))
            v -= ex_term(e);
        else
            break;
    }
    e->depth--;
    return v;
}

/* Evaluate s at the sample points; false when it does not parse as a whole. */
static bool evaluate(const char *s, double out[N_POINTS])
{
    bool words = false;
    for (const char *p = s; *p; p++) words |= is_digit(*p) || strchr("+-*/^()\\", *p) != NULL;
    for (int k = 0; k < N_POINTS; k++) {
        expr e = {.s = s, .allow_words = words, .point = k};
        out[k] = ex_expr(&e);
        if (e.fail || ex_peek(&e) != 0) return false;
    }
    return true;
}

static bool close_enough(double a, double b)
{
    if (isnan(a) || isnan(b)) return false;
    if (isinf(a) || isinf(b)) return a == b;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= 1e-6 * m || d < 1e-12;
}

/* Every point where both are defined agrees, and there is at least one. */
static bool values_equal(const double *x, const double *y, double sx, double sy)
{
    int n_ok = 0;
    for (int k = 0; k < N_POINTS; k++) {
        double a = x[k] * sx, b = y[k] * sy;
        if (isnan(a) && isnan(b)) continue;
        if (!close_enough(a, b)) return false;
        n_ok++;
    }
    return n_ok > 0;
}

/* ---- comparison ------------------------------------------------------------------------------ */

/* Past a "x=" / "x_1=" at the start of a normalized list element ("x=2,x=-3" → "2", "-3"). */
static const char *skip_assignment(const char *s)
{
    const char *p = s;
    if (!is_alpha(*p++)) return s;
    if (*p == '_') {
        p++;
        if (*p == '{') {
            while (*p && *p != '}') p++;
            if (*p) p++;
        } else if (*p) {
            p++;
        }
    }
    if (*p != '=' || !p[1] || strchr(p + 1, '=')) return s;
    return p + 1;
}

static bool scalar_equal(const char *x, const char *y, bool px, bool py)
{
    x = skip_assignment(x);
    y = skip_assignment(y);
    if (!*x || !*y) return false;
    if (!strcmp(x, y)) return true;
    double vx[N_POINTS], vy[N_POINTS];
    if (!evaluate(x, vx) || !evaluate(y, vy)) return false;
    /* a percentage equals its number and its fraction: 50% = 50 = 0.5 */
    double sx[2] = {1, 0.01}, sy[2] = {1, 0.01};
    for (int i = 0; i < (px ? 2 : 1); i++)
        for (int j = 0; j < (py ? 2 : 1); j++)
            if (values_equal(vx, vy, sx[i], sy[j])) return true;
    return false;
}

typedef struct list {
    char open[3], close[3]; /* "(", "[", "\{" or "" for a bare list */
    char *items[64];
    int n;
} list;

static void list_free(list *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    l->n = 0;
}

static bool is_open(const char *s, size_t i, size_t *len)
{
    if (s[i] == '(' || s[i] == '[' || s[i] == '{') return *len = 1, true;
    if (s[i] == '\\' && s[i + 1] == '{') return *len = 2, true;
    return false;
}

static bool is_close(const char *s, size_t i, size_t *len)
{
    if (s[i] == ')' || s[i] == ']' || s[i] == '}') return *len = 1, true;
    if (s[i] == '\\' && s[i + 1] == '}') return *len = 2, true;
    return false;
}

/* Split s at top-level commas (or at top-level "\cup" when sep is "\cup"); brackets around the
 * whole are taken off and recorded. False for too many items or unbalanced brackets. */
static bool split_list(const char *s, const char *sep, list *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(s), b = 0, e = n, k;
    if (!strcmp(sep, ",") && n >= 2 && is_open(s, 0, &k)) {
        /* outer brackets only if they enclose everything */
        size_t ko = k, kc = 0;
        int depth = 0;
        size_t i = 0, end = 0;
        for (; i < n; i++) {
            size_t l;
            if (s[i] == '\\' && !is_open(s, i, &l) && !is_close(s, i, &l)) {
                i++;
                continue;
            }
            if (is_open(s, i, &l)) {
                depth++;
                i += l - 1;
            } else if (is_close(s, i, &l)) {
                if (--depth == 0) {
                    end = i;
                    kc = l;
                    break;
                }
                i += l - 1;
            }
        }
        if (depth == 0 && end + kc == n && s[0] != '{') {
            memcpy(out->open, s, ko);
            memcpy(out->close, s + end, kc);
            b = ko;
            e = end;
        }
    }
    size_t sl = strlen(sep);
    int depth = 0;
    size_t start = b;
    for (size_t i = b; i <= e; i++) {
        size_t l;
        bool at_sep = i < e && depth == 0 && !strncmp(s + i, sep, sl);
        if (i == e || at_sep) {
            if (out->n == 64) {
                list_free(out);
                return false;
            }
            out->items[out->n] = dup_n(s + start, i - start);
            if (!out->items[out->n]) {
                list_free(out);
                return false;
            }
            out->n++;
            if (at_sep) {
                i += sl - 1;
                start = i + 1;
            }
            continue;
        }
        if (s[i] == '\\' && !is_open(s, i, &l) && !is_close(s, i, &l)) continue;
        if (is_open(s, i, &l)) {
            depth++;
            i += l - 1;
        } else if (is_close(s, i, &l)) {
            depth--;
            i += l - 1;
        }
    }
    if (depth != 0) {
        list_free(out);
        return false;
    }
    return true;
}

static bool equal_norm(const char *x, const char *y, bool px, bool py, int depth);

static bool lists_equal(list *a, list *b, bool px, bool py, int depth)
{
    if (a->n != b->n) return false;
    bool a_set = !strcmp(a->open, "\\{") || !a->open[0];
    bool b_set = !strcmp(b->open, "\\{") || !b->open[0];
    if (a->open[0] && b->open[0] && (strcmp(a->open, b->open) || strcmp(a->close, b->close)))
        return false;
    if (a_set && b_set) {
        /* any order: match each item of a to a distinct item of b */
        bool used[64] = {false};
        for (int i = 0; i < a->n; i++) {
            bool found = false;
            for (int j = 0; j < b->n && !found; j++)
                if (!used[j] && equal_norm(a->items[i], b->items[j], px, py, depth + 1))
                    used[j] = found = true;
            if (!found) return false;
        }
        return true;
    }
    for (int i = 0; i < a->n; i++)
        if (!equal_norm(a->items[i], b->items[i], px, py, depth + 1)) return false;
    return true;
}

static bool equal_norm(const char *x, const char *y, bool px, bool py, int depth)
{
    if (!*x || !*y) return false;
    if (!strcmp(x, y)) return true;
    if (depth > 8) return false;
    /* unions of intervals */
    if (strstr(x, "\\cup") || strstr(y, "\\cup")) {
        list a, b;
        bool ok = false;
        if (split_list(x, "\\cup", &a)) {
            if (split_list(y, "\\cup", &b)) {
                if (a.n > 1 || b.n > 1) {
                    ok = a.n == b.n;
                    for (int i = 0; ok && i < a.n; i++)
                        ok = equal_norm(a.items[i], b.items[i], px, py, depth + 1);
                    list_free(&a);
                    list_free(&b);
                    return ok;
                }
                list_free(&b);
            }
            list_free(&a);
        }
    }
    list a, b;
    if (split_list(x, ",", &a)) {
        if (split_list(y, ",", &b)) {
            bool ok = false, decided = false;
            if (a.n >= 2 || b.n >= 2) {
                ok = lists_equal(&a, &b, px, py, depth);
                decided = true;
            } else if (a.open[0] || b.open[0]) {
                /* "(5)" vs "5", "\{3\}" vs "3"; but "(1" is not stripped */
                if (a.open[0] && b.open[0] && (strcmp(a.open, b.open) || strcmp(a.close, b.close)))
                    decided = true;
                else if (strcmp(a.items[0], x) || strcmp(b.items[0], y)) {
                    ok = equal_norm(a.items[0], b.items[0], px, py, depth + 1);
                    decided = true;
                }
            }
            list_free(&a);
            list_free(&b);
            if (decided) return ok;
        } else {
            list_free(&a);
        }
    }
    return scalar_equal(x, y, px, py);
}

bool eval_math_equal(const char *a, const char *b)
{
    bool pa, pb;
    char *na = normalize(a, &pa), *nb = normalize(b, &pb);
    bool r = na && nb && equal_norm(na, nb, pa, pb, 0);
    free(na);
    free(nb);
    return r;
}
