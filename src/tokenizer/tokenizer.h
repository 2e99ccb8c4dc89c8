/* tokenizer.h — byte-level BPE tokenizer of the R1 family: load, encode, decode, stream-decode.
 *
 * Usage:
 *   tokenizer *tok; char err[R1_ERR_MAX];
 *   if (tokenizer_load_json("tokenizer.json", "tokenizer_config.json", &tok, err) != R1_OK) ...
 *   int32_t *ids; size_t n;
 *   tokenizer_encode(tok, text, strlen(text), true, &ids, &n, err);   // ids: malloc'd, caller
 * frees detok *d; detok_new(tok, false, &d, err); for each id: detok_feed(d, id, &s, &len, err);
 * fwrite(s, 1, len, stdout); detok_flush(d, &s, &len); ...; detok_free(d); free(ids);
 * tokenizer_free(tok);
 *
 * Owns: the vocabulary (token texts, types, decoded bytes), the merge table, the added-token
 * matcher, special ids and the chat template text. Encoding follows Hugging Face `tokenizers`
 * exactly (checked against @huggingface/tokenizers, see tests/tokenizer/): added tokens are
 * matched first (leftmost-longest; tokens marked `normalized` after normalization), the rest is
 * NFC-normalized when the tokenizer asks for it, pre-tokenized (pretok.h), then BPE-merged by rank.
 *
 * Invalid UTF-8 in the input text is replaced, before anything else, by U+FFFD per maximal invalid
 * subpart (the WHATWG/TextDecoder rule, also Python's errors="replace"), so the ids are those the
 * reference gives for the text as a browser or Python would decode it. decode() and detok produce
 * only valid UTF-8: bytes of a character split over several tokens are held back until complete;
 * an incomplete or invalid byte sequence becomes U+FFFD (at an added token or at flush).
 *
 * Thread-safety: a loaded tokenizer is immutable; encode/decode may run on many threads at once.
 * A detok is used by one thread at a time. Errors: r1_status + message in `err` (may be NULL);
 * on failure out-params are unchanged. Nothing here prints or exits. */
#ifndef R1_TOKENIZER_TOKENIZER_H
#define R1_TOKENIZER_TOKENIZER_H

#include "r1.h"
#include "formats/gguf.h"
#include "tokenizer/pretok.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tokenizer tokenizer;

/* Token types, numbered as GGUF's tokenizer.ggml.token_type. */
typedef enum token_type {
    TOKEN_TYPE_UNDEFINED = 0,
    TOKEN_TYPE_NORMAL = 1,  /* byte-level BPE token: text is in the byte-to-unicode alphabet */
    TOKEN_TYPE_UNKNOWN = 2, /* <unk> */
    TOKEN_TYPE_CONTROL = 3, /* special token (BOS, EOS, <｜place▁holder…｜>): text is raw */
    TOKEN_TYPE_USER_DEFINED = 4, /* added, not special (<think>, <｜User｜>): text is raw */
    TOKEN_TYPE_UNUSED = 5,       /* padding slot / id absent from tokenizer.json */
    TOKEN_TYPE_BYTE = 6,
} token_type;

/* ---- loading ----------------------------------------------------------------------------------
 */

/* From a GGUF file's tokenizer.ggml.* keys (model must be "gpt2"). The tokenizer copies what it
 * needs: the file may be closed afterwards. */
r1_status tokenizer_load_gguf(const gguf_file *file, tokenizer **out_tok, char *err);

/* From a Hugging Face tokenizer.json and, optionally, its tokenizer_config.json (bos/eos tokens,
 * add_bos_token, chat_template). */
r1_status tokenizer_load_json(const char *tokenizer_json_path, const char *config_path_or_null,
                              tokenizer **out_tok, char *err);

/* Same from memory (config may be NULL). Used by tests and the fuzzer. */
r1_status tokenizer_load_json_memory(const char *json, size_t json_bytes, const char *config_json,
                                     size_t config_bytes, tokenizer **out_tok, char *err);

/* Convenience for tools: PATH ending in ".json" loads tokenizer.json (+ tokenizer_config.json
 * next to it if present), anything else is opened as GGUF. */
r1_status tokenizer_load_path(const char *path, tokenizer **out_tok, char *err);

void tokenizer_free(tokenizer *tok);

/* ---- vocabulary -------------------------------------------------------------------------------
 */

int32_t tokenizer_n_vocab(const tokenizer *tok);
int32_t tokenizer_bos(const tokenizer *tok); /* -1 when the tokenizer has none */
int32_t tokenizer_eos(const tokenizer *tok); /* -1 when none */
int32_t tokenizer_pad(const tokenizer *tok); /* -1 when none */
/* Whether prompts should start with BOS (add_bos_token). encode() never adds it by itself. */
bool tokenizer_add_bos(const tokenizer *tok);
pretok_kind tokenizer_pre(const tokenizer *tok);
/* tokenizer.chat_template / tokenizer_config.json's chat_template, or NULL. */
const char *tokenizer_chat_template(const tokenizer *tok);

/* Type of token id; TOKEN_TYPE_UNDEFINED for an id out of range. */
token_type tokenizer_token_type(const tokenizer *tok, int32_t id);
/* CONTROL tokens: BOS/EOS, place-holders — what "special" means in HF and llama.cpp. */
bool tokenizer_is_control(const tokenizer *tok, int32_t id);
/* Added tokens, special or not (matched as a whole before BPE): control and user-defined. */
bool tokenizer_is_special(const tokenizer *tok, int32_t id);

/* The token's vocabulary text (byte-level form for normal tokens, raw for added ones), not
 * NUL-terminated; NULL for an id out of range. Valid as long as the tokenizer. */
const char *tokenizer_token_text(const tokenizer *tok, int32_t id, size_t *out_len);
/* The bytes the token decodes to (may be a partial UTF-8 character); NULL for an id out of range.
 */
const char *tokenizer_token_piece(const tokenizer *tok, int32_t id, size_t *out_len);
/* Id of the token whose vocabulary text is exactly text[0..len) ("<think>", "Ġthe"), or -1. */
int32_t tokenizer_token_id(const tokenizer *tok, const char *text, size_t len);

/* The merges in rank order as pairs of token ids (for writing the vocabulary to a GGUF file):
 * *out_left and *out_right are malloc'd arrays of *out_n ids (free() them). */
r1_status tokenizer_merges(const tokenizer *tok, int32_t **out_left, int32_t **out_right,
                           int32_t *out_n, char *err);

/* ---- encode / decode --------------------------------------------------------------------------
 */

/* Encode text (n_bytes, any bytes). parse_special: also match CONTROL tokens written in the text
 * ("<｜end▁of▁sentence｜>"); user-defined added tokens (<think>) are always matched, as in HF and
 * llama.cpp. On success *out_ids is malloc'd (free() it; non-NULL even when *out_n_ids is 0). */
r1_status tokenizer_encode(const tokenizer *tok, const char *text, size_t n_bytes,
                           bool parse_special, int32_t **out_ids, size_t *out_n_ids, char *err);

/* Decode ids to text (malloc'd, NUL-terminated; free() it). render_special=false drops CONTROL and
 * UNUSED tokens (HF skip_special_tokens). Equals detok over all ids followed by a flush. */
r1_status tokenizer_decode(const tokenizer *tok, const int32_t *ids, size_t n_ids,
                           bool render_special, char **out_text, size_t *out_len, char *err);

/* ---- streaming decode -------------------------------------------------------------------------
 */

typedef struct detok detok;

r1_status detok_new(const tokenizer *tok, bool render_special, detok **out_detok, char *err);
void detok_free(detok *d);
/* Feed one id; *out_text and *out_len receive the newly completed text (valid UTF-8, possibly
 * empty), valid until the next call on d. An id out of range is R1_ERR_INVALID_ARG (state
 * unchanged). */
r1_status detok_feed(detok *d, int32_t id, const char **out_text, size_t *out_len, char *err);
/* End of stream: returns held-back bytes (an incomplete character becomes U+FFFD) and resets. */
void detok_flush(detok *d, const char **out_text, size_t *out_len);

#endif
