/* pretok.c — hand-written pre-tokenizer splitters (see pretok.h for the regexes they implement).
 *
 * Each `match_*_at(i)` returns the end of the regex match starting at byte i, or 0 when no
 * alternative matches there (the engine would then retry one character later, and the skipped
 * characters become an unmatched piece). Comments name the alternative (A1..A6 / B1..B7) in
 * pattern order; the order matters because the first alternative that matches wins. */
#include "tokenizer/pretok.h"

#include "tokenizer/unicode.h"

#include <string.h>

typedef struct splitter {
    const uint8_t *s;
    size_t n;
    const uint8_t *bmp;
    pretok_emit_fn emit;
    void *user;
} splitter;

static inline uint8_t cls_at(const splitter *sp, size_t i, uint32_t *cp, int *len)
{
    uint32_t c = utf8_decode(sp->s, i, len);
    *cp = c;
    return c <= 0xFFFF ? sp->bmp[c] : unicode_class(c);
}

/* First byte after the run of characters from i whose class has a bit of `mask`. */
static inline size_t run_of(const splitter *sp, size_t i, uint8_t mask)
{
    while (i < sp->n) {
        uint32_t cp;
        int len;
        if (!(cls_at(sp, i, &cp, &len) & mask)) break;
        i += (size_t)len;
    }
    return i;
}

/* Same, for characters whose class has no bit of `mask` (and are not excluded code points). */
static inline size_t run_of_not(const splitter *sp, size_t i, uint8_t mask)
{
    while (i < sp->n) {
        uint32_t cp;
        int len;
        if (cls_at(sp, i, &cp, &len) & mask) break;
        i += (size_t)len;
    }
    return i;
}

static inline size_t crlf_run(const splitter *sp, size_t i)
{
    while (i < sp->n && (sp->s[i] == '\r' || sp->s[i] == '\n')) i++;
    return i;
}

/* The whitespace alternatives shared by all patterns: \s*[\r\n]+ | \s+(?!\S) | \s+ at i, where
 * the character at i is whitespace. */
static size_t match_ws(const splitter *sp, size_t i)
{
    size_t q = i, last_nl = (size_t)-1, last_start = i;
    while (q < sp->n) {
        uint32_t cp;
        int len;
        if (!(cls_at(sp, q, &cp, &len) & UCLASS_WS)) break;
        if (cp == '\r' || cp == '\n') last_nl = q;
        last_start = q;
        q += (size_t)len;
    }
    /* \s*[\r\n]+ : backtracks to the last CR/LF of the run; [\r\n]+ cannot extend past it */
    if (last_nl != (size_t)-1) return last_nl + 1;
    /* \s+(?!\S) : the whole run at the end of the text, else all but its last character */
    if (q == sp->n) return q;
    if (last_start > i) return last_start;
    /* \s+ */
    return q;
}

static inline bool is_ascii_punct(uint32_t c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

static inline bool is_ascii_alpha(uint8_t c)
{
    return (uint8_t)((c | 0x20) - 'a') < 26;
}

static size_t match_ds3_at(const splitter *sp, size_t i)
{
    uint32_t c0, c1 = 0;
    int l0, l1 = 0;
    uint8_t f0 = cls_at(sp, i, &c0, &l0), f1 = 0;
    size_t j = i + (size_t)l0;
    bool has1 = j < sp->n;
    if (has1) f1 = cls_at(sp, j, &c1, &l1);

    /* A1: [!"#...~][A-Za-z]+ */
    if (is_ascii_punct(c0) && has1 && c1 < 0x80 && is_ascii_alpha((uint8_t)c1)) {
        size_t k = j;
        while (k < sp->n && is_ascii_alpha(sp->s[k])) k++;
        return k;
    }
    /* A2: [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ */
    if (c0 != '\r' && c0 != '\n' && !(f0 & (UCLASS_L | UCLASS_P | UCLASS_S)) && has1 &&
        (f1 & (UCLASS_L | UCLASS_M)))
        return run_of(sp, j + (size_t)l1, UCLASS_L | UCLASS_M);
    if (f0 & (UCLASS_L | UCLASS_M)) return run_of(sp, j, UCLASS_L | UCLASS_M);
    /* A3:  ?[\p{P}\p{S}]+[\r\n]* */
    if (c0 == ' ' && has1 && (f1 & (UCLASS_P | UCLASS_S)))
        return crlf_run(sp, run_of(sp, j + (size_t)l1, UCLASS_P | UCLASS_S));
    if (f0 & (UCLASS_P | UCLASS_S)) return crlf_run(sp, run_of(sp, j, UCLASS_P | UCLASS_S));
    /* A4-A6 */
    if (f0 & UCLASS_WS) return match_ws(sp, i);
    return 0;
}

static size_t match_qwen_at(const splitter *sp, size_t i, int max_digits)
{
    uint32_t c0, c1 = 0;
    int l0, l1 = 0;
    uint8_t f0 = cls_at(sp, i, &c0, &l0), f1 = 0;
    size_t j = i + (size_t)l0;
    bool has1 = j < sp->n;
    if (has1) f1 = cls_at(sp, j, &c1, &l1);

    /* B1: (?i:'s|'t|'re|'ve|'m|'ll|'d), ASCII case folding only */
    if (c0 == '\'' && has1 && c1 < 0x80) {
        uint8_t a = (uint8_t)(c1 | 0x20);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return j + 1;
        if (j + 1 < sp->n) {
            uint8_t b = (uint8_t)(sp->s[j + 1] | 0x20);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return j + 2;
        }
    }
    /* B2: [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c0 != '\r' && c0 != '\n' && !(f0 & (UCLASS_L | UCLASS_N)) && has1 && (f1 & UCLASS_L))
        return run_of(sp, j + (size_t)l1, UCLASS_L);
    if (f0 & UCLASS_L) return run_of(sp, j, UCLASS_L);
    /* B3: \p{N} (qwen2) or \p{N}{1,3} (llama3) */
    if (f0 & UCLASS_N) {
        size_t k = j;
        for (int d = 1; d < max_digits && k < sp->n; d++) {
            uint32_t cp;
            int len;
            if (!(cls_at(sp, k, &cp, &len) & UCLASS_N)) break;
            k += (size_t)len;
        }
        return k;
    }
    /* B4:  ?[^\s\p{L}\p{N}]+[\r\n]* */
    const uint8_t other = UCLASS_WS | UCLASS_L | UCLASS_N;
    if (c0 == ' ' && has1 && !(f1 & other))
        return crlf_run(sp, run_of_not(sp, j + (size_t)l1, other));
    if (!(f0 & other)) return crlf_run(sp, run_of_not(sp, j, other));
    /* B5-B7 */
    if (f0 & UCLASS_WS) return match_ws(sp, i);
    return 0;
}

/* Run a matcher over [0, n) of sp: emit matches and the unmatched text between them. */
static void split_generic(const splitter *sp, int kind)
{
    size_t i = 0, gap = 0;
    while (i < sp->n) {
        size_t end = kind == PRETOK_DEEPSEEK_V3
                         ? match_ds3_at(sp, i)
                         : match_qwen_at(sp, i, kind == PRETOK_LLAMA3 ? 3 : 1);
        if (end) {
            if (gap < i) sp->emit(sp->user, (const char *)sp->s + gap, i - gap);
            sp->emit(sp->user, (const char *)sp->s + i, end - i);
            i = gap = end;
        } else {
            uint32_t cp;
            int len;
            cls_at(sp, i, &cp, &len);
            i += (size_t)len;
        }
    }
    if (gap < sp->n) sp->emit(sp->user, (const char *)sp->s + gap, sp->n - gap);
}

static inline bool is_ds3_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF);
}

/* deepseek-v3 stage 2: isolate runs of U+4E00-9FA5 / U+3040-30FF; each piece goes on to stage 3. */
static void split_ds3_cjk(const splitter *parent, const uint8_t *s, size_t n)
{
    splitter sp = *parent;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        int len;
        bool cjk = is_ds3_cjk(utf8_decode(s, i, &len));
        while (i < n && is_ds3_cjk(utf8_decode(s, i, &len)) == cjk) i += (size_t)len;
        sp.s = s + start;
        sp.n = i - start;
        split_generic(&sp, PRETOK_DEEPSEEK_V3);
    }
}

/* deepseek-v3 stage 1: \p{N}{1,3} isolated. Digit groups contain nothing the later stages split,
 * so they are emitted directly; the text between them continues to stage 2. */
static void split_ds3(const splitter *sp)
{
    size_t i = 0, gap = 0;
    while (i < sp->n) {
        uint32_t cp;
        int len;
        if (cls_at(sp, i, &cp, &len) & UCLASS_N) {
            if (gap < i) split_ds3_cjk(sp, sp->s + gap, i - gap);
            size_t k = i + (size_t)len;
            for (int d = 1; d < 3 && k < sp->n; d++) {
                if (!(cls_at(sp, k, &cp, &len) & UCLASS_N)) break;
                k += (size_t)len;
            }
            sp->emit(sp->user, (const char *)sp->s + i, k - i);
            i = gap = k;
        } else {
            i += (size_t)len;
        }
    }
    if (gap < sp->n) split_ds3_cjk(sp, sp->s + gap, sp->n - gap);
}

void pretok_split(pretok_kind kind, const char *s, size_t n, pretok_emit_fn emit, void *user)
{
    splitter sp = {(const uint8_t *)s, n, unicode_class_bmp(), emit, user};
    if (n == 0) return;
    if (kind == PRETOK_DEEPSEEK_V3)
        split_ds3(&sp);
    else
        split_generic(&sp, kind);
}

const char *pretok_name(pretok_kind kind)
{
    switch (kind) {
    case PRETOK_DEEPSEEK_V3:
        return "deepseek-v3";
    case PRETOK_QWEN2:
        return "qwen2";
    case PRETOK_LLAMA3:
        return "llama3";
    }
    return "?";
}

bool pretok_from_gguf_name(const char *name, pretok_kind *out_kind)
{
    static const struct {
        const char *name;
        pretok_kind kind;
    } names[] = {
        {"deepseek-v3", PRETOK_DEEPSEEK_V3},
        {"deepseek-r1-qwen", PRETOK_QWEN2},
        {"qwen2", PRETOK_QWEN2},
        {"llama3", PRETOK_LLAMA3},
        {"llama-bpe", PRETOK_LLAMA3},
        {"llama-v3", PRETOK_LLAMA3},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out_kind = names[i].kind;
            return true;
        }
    }
    return false;
}
