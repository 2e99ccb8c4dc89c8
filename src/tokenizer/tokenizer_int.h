/* tokenizer_int.h — the tokenizer struct and the builder the two loaders share (internal).
 *
 * A loader calls tok_new(n_vocab), tok_set_token() for each id it knows, tok_index(),
 * tok_add_merge() for each merge in rank order, then tok_finish(); every step validates and
 * reports a clear error. Ids never set stay TOKEN_TYPE_UNUSED with empty text. */
#ifndef R1_TOKENIZER_TOKENIZER_INT_H
#define R1_TOKENIZER_TOKENIZER_INT_H

#include "tokenizer/tokenizer.h"

/* Added-token flags (tokenizer.json's added_tokens attributes). */
enum {
    ADDED_YES = 1,        /* matched as a whole before BPE */
    ADDED_NORMALIZED = 2, /* matched after normalization (second pass) */
    ADDED_LSTRIP = 4,     /* eats whitespace on its left */
    ADDED_RSTRIP = 8,     /* eats whitespace on its right */
};

#define TOK_MAX_VOCAB (1 << 24) /* sanity cap on n_vocab */
#define TOK_MAX_TOKEN_BYTES 65536

typedef struct trie_node {
    int32_t first_child, next_sibling; /* node indices, -1 = none */
    int32_t token;                     /* token id ending here, -1 = none */
    uint8_t byte;
} trie_node;

typedef struct trie {
    trie_node *nodes; /* node 0 is the root */
    int32_t n_nodes, cap;
    int32_t root_child[256]; /* fast first-byte dispatch */
} trie;

struct tokenizer {
    int32_t n_vocab;
    uint8_t *types;     /* (n_vocab) token_type */
    uint8_t *added;     /* (n_vocab) ADDED_* flags */
    uint32_t *text_off; /* (n_vocab) offset of the token text in text_buf */
    uint32_t *text_len; /* (n_vocab) */
    char *text_buf;     /* all token texts, back to back */
    size_t text_bytes, text_cap;
    uint32_t *piece_off; /* (n_vocab + 1) decoded bytes of token i: piece_buf[off[i], off[i+1]) */
    char *piece_buf;

    int32_t *str_slots; /* open addressing: token text -> id, -1 = empty */
    uint32_t str_mask;

    uint64_t *merge_keys; /* open addressing: (left << 32 | right) -> rank, merged id */
    int32_t *merge_rank;
    int32_t *merge_id;
    uint32_t merge_mask;
    int32_t n_merges;

    int32_t byte_id[256];   /* id of the single-byte token for each byte, -1 if absent */
    char byte_char[256][2]; /* UTF-8 of each byte's code point in the byte-level alphabet */
    uint8_t byte_char_len[256];

    trie trie_raw;  /* added tokens matched on the raw text */
    trie trie_norm; /* added tokens matched after normalization */

    pretok_kind pre;
    bool use_nfc;
    bool ignore_merges; /* a piece that is itself a token skips BPE (llama3) */
    int32_t bos, eos, pad;
    bool add_bos;
    char *chat_template;
};

tokenizer *tok_new(int32_t n_vocab);
r1_status tok_set_token(tokenizer *t, int32_t id, const char *text, size_t len, token_type type,
                        uint8_t added_flags, char *err);
/* Build the text -> id index once all tokens are set; reserve room for n_merges merges. */
r1_status tok_index(tokenizer *t, size_t n_merges, char *err);
/* Add merge "a b" with the next rank; both parts and their concatenation must be tokens. */
r1_status tok_add_merge(tokenizer *t, const char *a, size_t a_len, const char *b, size_t b_len,
                        char *err);
/* Whether tok_add_merge would accept "a b" (both parts and their concatenation are tokens). */
bool tok_can_merge(const tokenizer *t, const char *a, size_t a_len, const char *b, size_t b_len);
/* Decoded pieces, byte table, added-token tries, special-id checks. */
r1_status tok_finish(tokenizer *t, char *err);

/* GPT-2's byte <-> unicode alphabet: byte b is written as code point byte_to_cp(b). */
uint32_t tok_byte_to_cp(uint8_t b);

#endif
