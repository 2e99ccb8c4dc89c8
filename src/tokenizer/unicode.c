/* unicode.c — UTF-8 validation/repair and the code-point class table (see unicode.h). */
#include "tokenizer/unicode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct urange {
    uint32_t first, last;
    uint8_t flags;
} urange;

static const urange unicode_ranges[] = {
#include "tokenizer/unicode_table.inc"
};

#define N_RANGES (sizeof unicode_ranges / sizeof unicode_ranges[0])

static uint8_t bmp_table[65536];
static pthread_once_t bmp_once = PTHREAD_ONCE_INIT;

static void bmp_build(void)
{
    for (size_t i = 0; i < N_RANGES; i++) {
        if (unicode_ranges[i].first > 0xFFFF) break;
        uint32_t last = unicode_ranges[i].last > 0xFFFF ? 0xFFFF : unicode_ranges[i].last;
        for (uint32_t c = unicode_ranges[i].first; c <= last; c++)
            bmp_table[c] = unicode_ranges[i].flags;
    }
}

const uint8_t *unicode_class_bmp(void)
{
    pthread_once(&bmp_once, bmp_build);
    return bmp_table;
}

uint8_t unicode_class(uint32_t cp)
{
    if (cp <= 0xFFFF) return unicode_class_bmp()[cp];
    size_t lo = 0, hi = N_RANGES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (unicode_ranges[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < N_RANGES && unicode_ranges[lo].first <= cp) return unicode_ranges[lo].flags;
    return 0;
}

/* Bytes the sequence led by c needs (0 = c cannot start one), and the allowed range of the second
 * byte (Unicode Table 3-7). */
static int utf8_seq_info(uint8_t c, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return 2;
    if (c < 0xF0) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c < 0xF5) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* Number of bytes of s (from 0) that form a valid (possibly incomplete) prefix of one sequence. */
static size_t utf8_seq_prefix(const uint8_t *s, size_t n, int *need)
{
    uint8_t lo, hi;
    int k = utf8_seq_info(s[0], &lo, &hi);
    *need = k;
    if (k == 0) return 0;
    size_t i = 1;
    while (i < (size_t)k && i < n) {
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
        i++;
    }
    return i;
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int need;
        size_t got = utf8_seq_prefix(u + i, n - i, &need);
        if (need == 0 || got < (size_t)need) return i;
        i += got;
    }
    return n;
}

size_t utf8_invalid_len(const char *s, size_t n)
{
    if (n == 0) return 0;
    int need;
    size_t got = utf8_seq_prefix((const uint8_t *)s, n, &need);
    return got == 0 ? 1 : got;
}

size_t utf8_incomplete_tail(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    /* a truncated sequence starts at most 3 bytes before the end */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        size_t i = n - back;
        if ((u[i] & 0xC0) == 0x80) continue; /* continuation: look further back */
        int need;
        size_t got = utf8_seq_prefix(u + i, back, &need);
        if (need > 1 && got == back && (size_t)need > back) return back;
        return 0;
    }
    return 0;
}

int utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *utf8_repair(const char *s, size_t n, size_t *out_len)
{
    /* worst case: every byte becomes a 3-byte U+FFFD */
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    while (i < n) {
        size_t ok = utf8_valid_prefix(s + i, n - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i < n) {
            i += utf8_invalid_len(s + i, n - i);
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}
