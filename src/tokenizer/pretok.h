/* pretok.h — pre-tokenizers: split (valid UTF-8) text into the pieces BPE runs on.
 *
 * Hand-written equivalents of the regex Split pre-tokenizers the R1 family ships (regexes in
 * docs: deepseek2-gguf-reference.md, and in each tokenizer.json). Each splitter reproduces the
 * backtracking regex engine's result exactly (leftmost match, first alternative wins, unmatched
 * text kept as its own piece: HF's "Isolated" behaviour), with \s meaning \p{White_Space} and
 * (?i:'s|...) folding ASCII case only, as the reference tokenizers do. The regexes:
 *   deepseek-v3: \p{N}{1,3} ; [一-龥぀-ゟ゠-ヿ]+ ; then
 *     [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *     ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *           \s*[\r\n]+|\s+(?!\S)|\s+
 *   llama3: the qwen2 regex with \p{N}{1,3} in place of \p{N}.
 * Pieces are emitted in order and cover the input exactly. */
#ifndef R1_TOKENIZER_PRETOK_H
#define R1_TOKENIZER_PRETOK_H

#include <stdbool.h>
#include <stddef.h>

typedef enum pretok_kind {
    PRETOK_DEEPSEEK_V3 = 0,
    PRETOK_QWEN2 = 1,
    PRETOK_LLAMA3 = 2,
} pretok_kind;

typedef void (*pretok_emit_fn)(void *user, const char *piece, size_t n_bytes);

/* Split s (valid UTF-8, n bytes) and call emit for each piece. */
void pretok_split(pretok_kind kind, const char *s, size_t n, pretok_emit_fn emit, void *user);

/* "deepseek-v3", "qwen2", "llama3". */
const char *pretok_name(pretok_kind kind);

/* Map a GGUF tokenizer.ggml.pre value to a splitter; false if unknown. */
bool pretok_from_gguf_name(const char *name, pretok_kind *out_kind);

#endif
