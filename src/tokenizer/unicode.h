/* unicode.h — the Unicode facts the tokenizer needs: UTF-8 validation/repair, code-point
 * decoding, and the character classes the pre-tokenizer patterns use.
 *
 * Classes come from unicode_table.inc, generated from the ICU tables of the JS reference
 * (tests/tokenizer/gen_unicode_table.mjs), so \p{L}, \p{N}, ... and \s (= \p{White_Space}, which is
 * how the reference translates Oniguruma's \s) mean exactly what they mean there.
 * Invariant: every function here that decodes assumes valid UTF-8 (run utf8_repair first). */
#ifndef R1_TOKENIZER_UNICODE_H
#define R1_TOKENIZER_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    UCLASS_L = 1,  /* \p{L} letter */
    UCLASS_N = 2,  /* \p{N} number */
    UCLASS_P = 4,  /* \p{P} punctuation */
    UCLASS_S = 8,  /* \p{S} symbol */
    UCLASS_M = 16, /* \p{M} mark */
    UCLASS_WS = 32 /* \p{White_Space} */
};

/* Class flags (UCLASS_*) of a code point. Thread-safe; the first call builds a BMP table. */
uint8_t unicode_class(uint32_t cp);

/* The BMP part of the table (65536 entries), for hot loops; never NULL. */
const uint8_t *unicode_class_bmp(void);

/* Length of the longest prefix of s that is valid UTF-8 (WHATWG / Unicode "maximal subpart"
 * rules: no overlongs, no surrogates, nothing above U+10FFFF). */
size_t utf8_valid_prefix(const char *s, size_t n);

/* Length in bytes of the invalid sequence at s[0] that WHATWG replaces with one U+FFFD: the
 * maximal subpart of a well-formed sequence, or 1. Only meaningful where s is invalid. */
size_t utf8_invalid_len(const char *s, size_t n);

/* Length of a well-formed but truncated sequence at the end of s (0..3): the bytes a streaming
 * decoder keeps waiting for more. 0 if s ends on a complete character or on invalid bytes. */
size_t utf8_incomplete_tail(const char *s, size_t n);

/* Copy s into a new buffer with every invalid sequence replaced by U+FFFD (EF BF BD), exactly as
 * TextDecoder / Python's errors="replace" do. Returns NULL on allocation failure. */
char *utf8_repair(const char *s, size_t n, size_t *out_len);

/* Decode the code point at s[i] (valid UTF-8), store its byte length in *len. */
static inline uint32_t utf8_decode(const uint8_t *s, size_t i, int *len)
{
    uint8_t c = s[i];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
               (s[i + 2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
           ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

/* Encode cp as UTF-8 into out (>= 4 bytes); returns the byte count. */
int utf8_encode(uint32_t cp, char *out);

#endif
