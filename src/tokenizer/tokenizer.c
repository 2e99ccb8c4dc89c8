/* tokenizer.c — vocabulary tables, BPE encoding, decoding and the streaming detokenizer.
 *
 * Encoding pipeline (what HF `tokenizers` does, see tokenizer.h):
 *   repair UTF-8 -> match raw added tokens -> per remaining section: NFC (if asked) -> match
 *   normalized added tokens -> pre-tokenize -> BPE each piece.
 * BPE works on token ids, not strings: a piece starts as one symbol per byte (byte_id[]), and the
 * adjacent pair with the lowest merge rank is merged, leftmost first on ties, until no pair has a
 * merge. Short pieces use a linear scan; long ones a heap keyed by (rank, original position) —
 * the same order, so the same result. */
#include "tokenizer/tokenizer_int.h"

#include "base/err.h"
#include "tokenizer/unicode.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define NO_RANK INT32_MAX
#define BPE_LINEAR_MAX 48 /* pieces up to this many bytes use the linear-scan BPE */

/* ---- hashing ----------------------------------------------------------------------------------
 */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001B3ULL;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline uint32_t hash_pair(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

static uint32_t pow2_at_least(size_t n)
{
    uint32_t c = 16;
    while (c < n && c < (1u << 30)) c <<= 1;
    return c;
}

/* ---- byte-level alphabet ----------------------------------------------------------------------
 */

static inline bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t tok_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b)) return b;
    uint32_t n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!byte_is_printable(c)) n++;
    return 256 + n;
}

/* Inverse map (code point -> byte, -1 outside the alphabet), built per load: no shared state. */
typedef struct byte_map {
    int16_t byte[324];
} byte_map;

static void byte_map_init(byte_map *m)
{
    for (int i = 0; i < 324; i++) m->byte[i] = -1;
    for (int b = 0; b < 256; b++) m->byte[tok_byte_to_cp((uint8_t)b)] = (int16_t)b;
}

static int cp_to_byte(const byte_map *m, uint32_t cp)
{
    return cp < 324 ? m->byte[cp] : -1;
}

/* ---- construction -----------------------------------------------------------------------------
 */

tokenizer *tok_new(int32_t n_vocab)
{
    if (n_vocab <= 0 || n_vocab > TOK_MAX_VOCAB) return NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n_vocab = n_vocab;
    t->types = calloc((size_t)n_vocab, 1);
    t->added = calloc((size_t)n_vocab, 1);
    t->text_off = calloc((size_t)n_vocab, sizeof *t->text_off);
    t->text_len = calloc((size_t)n_vocab, sizeof *t->text_len);
    t->bos = t->eos = t->pad = -1;
    if (!t->types || !t->added || !t->text_off || !t->text_len) {
        tokenizer_free(t);
        return NULL;
    }
    memset(t->types, TOKEN_TYPE_UNUSED, (size_t)n_vocab);
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    return t;
}

static void trie_free(trie *tr)
{
    free(tr->nodes);
    memset(tr, 0, sizeof *tr);
}

void tokenizer_free(tokenizer *t)
{
    if (!t) return;
    free(t->types);
    free(t->added);
    free(t->text_off);
    free(t->text_len);
    free(t->text_buf);
    free(t->piece_off);
    free(t->piece_buf);
    free(t->str_slots);
    free(t->merge_keys);
    free(t->merge_rank);
    free(t->merge_id);
    trie_free(&t->trie_raw);
    trie_free(&t->trie_norm);
    free(t->chat_template);
    free(t);
}

r1_status tok_set_token(tokenizer *t, int32_t id, const char *text, size_t len, token_type type,
                        uint8_t added_flags, char *err)
{
    if (id < 0 || id >= t->n_vocab)
        return err_set(err, R1_ERR_FORMAT, "token id %ld out of range (n_vocab %d)", (long)id,
                       t->n_vocab);
    if (len > TOK_MAX_TOKEN_BYTES)
        return err_set(err, R1_ERR_FORMAT, "token %d is %zu bytes long (max %d)", id, len,
                       TOK_MAX_TOKEN_BYTES);
    if (t->text_bytes + len > UINT32_MAX)
        return err_set(err, R1_ERR_FORMAT, "vocabulary text too large");
    if (t->text_bytes + len > t->text_cap) {
        size_t cap = t->text_cap ? t->text_cap : 1 << 16;
        while (cap < t->text_bytes + len) cap *= 2;
        char *nb = realloc(t->text_buf, cap);
        if (!nb) return err_set(err, R1_ERR_NOMEM, "out of memory for vocabulary text");
        t->text_buf = nb;
        t->text_cap = cap;
    }
    if (len) memcpy(t->text_buf + t->text_bytes, text, len);
    t->text_off[id] = (uint32_t)t->text_bytes;
    t->text_len[id] = (uint32_t)len;
    t->text_bytes += len;
    t->types[id] = (uint8_t)type;
    t->added[id] = added_flags;
    return R1_OK;
}

static inline const char *tok_text(const tokenizer *t, int32_t id)
{
    return t->text_buf ? t->text_buf + t->text_off[id] : "";
}

static int32_t str_lookup(const tokenizer *t, const char *s, size_t n)
{
    if (!t->str_slots) return -1;
    uint32_t h = hash_bytes(s, n) & t->str_mask;
    for (;;) {
        int32_t id = t->str_slots[h];
        if (id < 0) return -1;
        if (t->text_len[id] == n && memcmp(tok_text(t, id), s, n) == 0) return id;
        h = (h + 1) & t->str_mask;
    }
}

r1_status tok_index(tokenizer *t, size_t n_merges, char *err)
{
    t->str_mask = pow2_at_least((size_t)t->n_vocab * 2) - 1;
    t->str_slots = malloc(((size_t)t->str_mask + 1) * sizeof *t->str_slots);
    uint32_t mcap = pow2_at_least(n_merges * 2);
    t->merge_mask = mcap - 1;
    t->merge_keys = malloc((size_t)mcap * sizeof *t->merge_keys);
    t->merge_rank = malloc((size_t)mcap * sizeof *t->merge_rank);
    t->merge_id = malloc((size_t)mcap * sizeof *t->merge_id);
    if (!t->str_slots || !t->merge_keys || !t->merge_rank || !t->merge_id)
        return err_set(err, R1_ERR_NOMEM, "out of memory for the vocabulary index");
    memset(t->str_slots, 0xFF, ((size_t)t->str_mask + 1) * sizeof *t->str_slots);
    memset(t->merge_keys, 0xFF, (size_t)mcap * sizeof *t->merge_keys);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->types[id] == TOKEN_TYPE_UNUSED && t->text_len[id] == 0) continue;
        const char *s = tok_text(t, id);
        size_t n = t->text_len[id];
        uint32_t h = hash_bytes(s, n) & t->str_mask;
        for (;;) {
            int32_t other = t->str_slots[h];
            if (other < 0) {
                t->str_slots[h] = id;
                break;
            }
            if (t->text_len[other] == n && memcmp(tok_text(t, other), s, n) == 0) {
                /* same text twice: an added token wins (it is what the text matches) */
                if ((t->added[id] & ADDED_YES) && !(t->added[other] & ADDED_YES))
                    t->str_slots[h] = id;
                break;
            }
            h = (h + 1) & t->str_mask;
        }
    }
    return R1_OK;
}

static inline int32_t merge_lookup(const tokenizer *t, int32_t a, int32_t b, int32_t *out_id)
{
    if (a < 0 || b < 0) return NO_RANK;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t h = hash_pair(key) & t->merge_mask;
    for (;;) {
        uint64_t k = t->merge_keys[h];
        if (k == key) {
            *out_id = t->merge_id[h];
            return t->merge_rank[h];
        }
        if (k == UINT64_MAX) return NO_RANK;
        h = (h + 1) & t->merge_mask;
    }
}

bool tok_can_merge(const tokenizer *t, const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len + b_len > TOK_MAX_TOKEN_BYTES || str_lookup(t, a, a_len) < 0 ||
        str_lookup(t, b, b_len) < 0)
        return false;
    char small[512];
    char *buf = a_len + b_len <= sizeof small ? small : malloc(a_len + b_len);
    if (!buf) return false;
    memcpy(buf, a, a_len);
    memcpy(buf + a_len, b, b_len);
    const bool ok = str_lookup(t, buf, a_len + b_len) >= 0;
    if (buf != small) free(buf);
    return ok;
}

r1_status tok_add_merge(tokenizer *t, const char *a, size_t a_len, const char *b, size_t b_len,
                        char *err)
{
    int32_t rank = t->n_merges;
    if ((uint32_t)rank * 2 > t->merge_mask)
        return err_set(err, R1_ERR_FORMAT, "more merges than announced");
    int32_t ia = str_lookup(t, a, a_len), ib = str_lookup(t, b, b_len);
    if (ia < 0 || ib < 0) {
        const char *bad = ia < 0 ? a : b;
        size_t bad_len = ia < 0 ? a_len : b_len;
        return err_set(err, R1_ERR_FORMAT, "merge %d names an unknown token \"%.*s\"", rank,
                       (int)(bad_len > 64 ? 64 : bad_len), bad);
    }
    if (a_len + b_len > TOK_MAX_TOKEN_BYTES)
        return err_set(err, R1_ERR_FORMAT, "merge %d result too long", rank);
    char buf[512];
    char *cat = a_len + b_len <= sizeof buf ? buf : malloc(a_len + b_len);
    if (!cat) return err_set(err, R1_ERR_NOMEM, "out of memory");
    memcpy(cat, a, a_len);
    memcpy(cat + a_len, b, b_len);
    int32_t ic = str_lookup(t, cat, a_len + b_len);
    if (cat != buf) free(cat);
    if (ic < 0)
        return err_set(err, R1_ERR_FORMAT,
                       "merge %d (\"%.*s\" \"%.*s\"): the merged token is not in the vocabulary",
                       rank, (int)(a_len > 64 ? 64 : a_len), a, (int)(b_len > 64 ? 64 : b_len), b);
    uint64_t key = ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib;
    uint32_t h = hash_pair(key) & t->merge_mask;
    while (t->merge_keys[h] != UINT64_MAX && t->merge_keys[h] != key) h = (h + 1) & t->merge_mask;
    /* a repeated pair takes its last rank, as both reference implementations do */
    t->merge_keys[h] = key;
    t->merge_rank[h] = rank;
    t->merge_id[h] = ic;
    t->n_merges++;
    return R1_OK;
}

static r1_status trie_insert(trie *tr, const char *s, size_t n, int32_t id)
{
    if (n == 0) return R1_OK;
    if (!tr->nodes) {
        tr->cap = 64;
        tr->nodes = malloc((size_t)tr->cap * sizeof *tr->nodes);
        if (!tr->nodes) return R1_ERR_NOMEM;
        tr->nodes[0] = (trie_node){-1, -1, -1, 0};
        tr->n_nodes = 1;
        for (int i = 0; i < 256; i++) tr->root_child[i] = -1;
    }
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        int32_t child = tr->nodes[node].first_child;
        while (child >= 0 && tr->nodes[child].byte != c) child = tr->nodes[child].next_sibling;
        if (child < 0) {
            if (tr->n_nodes == tr->cap) {
                trie_node *nn = realloc(tr->nodes, (size_t)tr->cap * 2 * sizeof *nn);
                if (!nn) return R1_ERR_NOMEM;
                tr->nodes = nn;
                tr->cap *= 2;
            }
            child = tr->n_nodes++;
            tr->nodes[child] = (trie_node){-1, tr->nodes[node].first_child, -1, c};
            tr->nodes[node].first_child = child;
            if (node == 0) tr->root_child[c] = child;
        }
        node = child;
    }
    tr->nodes[node].token = id;
    return R1_OK;
}

/* NFC of s into a malloc'd buffer (NULL on failure). */
static char *nfc_dup(const char *s, size_t n, size_t *out_len)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0) return NULL;
    *out_len = (size_t)r;
    return (char *)dst;
}

/* Does NFC possibly change s? Only code points >= U+0300 (lead byte >= 0xCC) can. */
static bool may_need_nfc(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] >= 0xCC) return true;
    return false;
}

static bool is_byte_level_token(const tokenizer *t, int32_t id)
{
    return t->types[id] == TOKEN_TYPE_NORMAL && !(t->added[id] & ADDED_YES);
}

r1_status tok_finish(tokenizer *t, char *err)
{
    /* decoded bytes of every token */
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    t->piece_buf = malloc(t->text_bytes ? t->text_bytes : 1);
    if (!t->piece_off || !t->piece_buf) return err_set(err, R1_ERR_NOMEM, "out of memory");
    byte_map bm;
    byte_map_init(&bm);
    size_t o = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        t->piece_off[id] = (uint32_t)o;
        const uint8_t *s = (const uint8_t *)tok_text(t, id);
        size_t n = t->text_len[id];
        bool raw = !is_byte_level_token(t, id) || utf8_valid_prefix((const char *)s, n) != n;
        if (!raw) {
            size_t start = o;
            for (size_t i = 0; i < n;) {
                int len;
                int b = cp_to_byte(&bm, utf8_decode(s, i, &len));
                if (b < 0) {
                    /* a character outside the byte alphabet: the whole token decodes to its raw
                     * text (what the Rust reference does) */
                    raw = true;
                    o = start;
                    break;
                }
                t->piece_buf[o++] = (char)b;
                i += (size_t)len;
            }
        }
        if (raw) {
            memcpy(t->piece_buf + o, s, n);
            o += n;
        }
    }
    t->piece_off[t->n_vocab] = (uint32_t)o;

    /* the single-byte symbols BPE starts from */
    for (int b = 0; b < 256; b++) {
        char u[4];
        int len = utf8_encode(tok_byte_to_cp((uint8_t)b), u); /* code points < 324: 1-2 bytes */
        memcpy(t->byte_char[b], u, 2);
        t->byte_char_len[b] = (uint8_t)len;
        int32_t id = str_lookup(t, u, (size_t)len);
        t->byte_id[b] = id >= 0 && is_byte_level_token(t, id) ? id : -1;
    }

    /* added tokens */
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!(t->added[id] & ADDED_YES) || t->text_len[id] == 0) continue;
        const char *s = tok_text(t, id);
        size_t n = t->text_len[id];
        if (utf8_valid_prefix(s, n) != n)
            return err_set(err, R1_ERR_FORMAT, "added token %d is not valid UTF-8", id);
        r1_status st;
        if ((t->added[id] & ADDED_NORMALIZED) && t->use_nfc) {
            size_t nn;
            char *ns = nfc_dup(s, n, &nn);
            if (!ns) return err_set(err, R1_ERR_NOMEM, "out of memory");
            st = trie_insert(&t->trie_norm, ns, nn, id);
            free(ns);
        } else {
            st = trie_insert((t->added[id] & ADDED_NORMALIZED) ? &t->trie_norm : &t->trie_raw, s, n,
                             id);
        }
        if (st != R1_OK) return err_set(err, st, "out of memory for added tokens");
    }

    int32_t *special[3] = {&t->bos, &t->eos, &t->pad};
    const char *names[3] = {"bos", "eos", "padding"};
    for (int i = 0; i < 3; i++) {
        if (*special[i] >= t->n_vocab || *special[i] < -1)
            return err_set(err, R1_ERR_FORMAT, "%s token id %ld out of range (n_vocab %d)",
                           names[i], (long)*special[i], t->n_vocab);
    }
    return R1_OK;
}

/* ---- accessors --------------------------------------------------------------------------------
 */

int32_t tokenizer_n_vocab(const tokenizer *t)
{
    return t->n_vocab;
}
int32_t tokenizer_bos(const tokenizer *t)
{
    return t->bos;
}
int32_t tokenizer_eos(const tokenizer *t)
{
    return t->eos;
}
int32_t tokenizer_pad(const tokenizer *t)
{
    return t->pad;
}
bool tokenizer_add_bos(const tokenizer *t)
{
    return t->add_bos;
}
pretok_kind tokenizer_pre(const tokenizer *t)
{
    return t->pre;
}
const char *tokenizer_chat_template(const tokenizer *t)
{
    return t->chat_template;
}

token_type tokenizer_token_type(const tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab) return TOKEN_TYPE_UNDEFINED;
    return (token_type)t->types[id];
}

bool tokenizer_is_control(const tokenizer *t, int32_t id)
{
    return tokenizer_token_type(t, id) == TOKEN_TYPE_CONTROL;
}

bool tokenizer_is_special(const tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab) return false;
    return (t->added[id] & ADDED_YES) || t->types[id] == TOKEN_TYPE_CONTROL ||
           t->types[id] == TOKEN_TYPE_USER_DEFINED;
}

const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *out_len)
{
    if (id < 0 || id >= t->n_vocab) return NULL;
    *out_len = t->text_len[id];
    return tok_text(t, id);
}

const char *tokenizer_token_piece(const tokenizer *t, int32_t id, size_t *out_len)
{
    if (id < 0 || id >= t->n_vocab) return NULL;
    *out_len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece_buf + t->piece_off[id];
}

int32_t tokenizer_token_id(const tokenizer *t, const char *text, size_t len)
{
    return str_lookup(t, text, len);
}

/* ---- encoding ---------------------------------------------------------------------------------
 */

typedef struct heap_entry {
    int32_t rank, pos;
} heap_entry;

typedef struct enc {
    const tokenizer *t;
    bool parse_special;
    bool oom;
    int32_t *ids; /* (cap) output */
    size_t n_ids, cap;
    /* BPE scratch, (sym_cap) each */
    int32_t *sym, *rank, *merged, *prev, *next;
    size_t sym_cap;
    heap_entry *heap;
    size_t heap_cap;
    char *scratch; /* byte-level form of a piece, for ignore_merges */
    size_t scratch_cap;
} enc;

static void enc_push(enc *e, int32_t id)
{
    if (e->n_ids == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        int32_t *ni = realloc(e->ids, cap * sizeof *ni);
        if (!ni) {
            e->oom = true;
            return;
        }
        e->ids = ni;
        e->cap = cap;
    }
    e->ids[e->n_ids++] = id;
}

static bool enc_reserve_syms(enc *e, size_t n)
{
    if (n <= e->sym_cap) return true;
    size_t cap = e->sym_cap ? e->sym_cap : 64;
    while (cap < n) cap *= 2;
    int32_t **arrays[5] = {&e->sym, &e->rank, &e->merged, &e->prev, &e->next};
    for (int i = 0; i < 5; i++) {
        int32_t *na = realloc(*arrays[i], cap * sizeof *na);
        if (!na) return false;
        *arrays[i] = na;
    }
    heap_entry *nh = realloc(e->heap, cap * 3 * sizeof *nh);
    if (!nh) return false;
    e->heap = nh;
    e->heap_cap = cap * 3;
    e->sym_cap = cap;
    return true;
}

static inline bool heap_less(heap_entry a, heap_entry b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(heap_entry *h, size_t *n, heap_entry x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static heap_entry heap_pop(heap_entry *h, size_t *n)
{
    heap_entry top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = x;
    return top;
}

/* BPE with a linear scan for the lowest-rank pair (short pieces). */
static void bpe_linear(enc *e, size_t n)
{
    const tokenizer *t = e->t;
    int32_t *sym = e->sym, *rank = e->rank, *merged = e->merged;
    for (size_t i = 0; i + 1 < n; i++) rank[i] = merge_lookup(t, sym[i], sym[i + 1], &merged[i]);
    size_t m = n;
    while (m > 1) {
        int32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rank[i] < best) {
                best = rank[i];
                bi = i;
            }
        }
        if (best == NO_RANK) break;
        sym[bi] = merged[bi];
        memmove(sym + bi + 1, sym + bi + 2, (m - bi - 2) * sizeof *sym);
        if (bi + 2 < m) {
            memmove(rank + bi + 1, rank + bi + 2, (m - bi - 3) * sizeof *rank);
            memmove(merged + bi + 1, merged + bi + 2, (m - bi - 3) * sizeof *merged);
        }
        m--;
        if (bi + 1 < m) rank[bi] = merge_lookup(t, sym[bi], sym[bi + 1], &merged[bi]);
        if (bi > 0) rank[bi - 1] = merge_lookup(t, sym[bi - 1], sym[bi], &merged[bi - 1]);
    }
    for (size_t i = 0; i < m; i++)
        if (sym[i] >= 0) enc_push(e, sym[i]);
}

/* BPE with a heap of (rank, position of the left symbol); stale entries are skipped on pop. */
static void bpe_heap(enc *e, size_t n)
{
    const tokenizer *t = e->t;
    int32_t *sym = e->sym, *prev = e->prev, *next = e->next, *alive = e->rank;
    size_t hn = 0;
    int32_t mid = -1;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        alive[i] = 1;
        if (i + 1 < n) {
            int32_t r = merge_lookup(t, sym[i], sym[i + 1], &mid);
            if (r != NO_RANK) heap_push(e->heap, &hn, (heap_entry){r, (int32_t)i});
        }
    }
    while (hn > 0) {
        heap_entry top = heap_pop(e->heap, &hn);
        int32_t p = top.pos, q = next[p];
        if (!alive[p] || q < 0) continue;
        if (merge_lookup(t, sym[p], sym[q], &mid) != top.rank) continue;
        sym[p] = mid;
        alive[q] = 0;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        int32_t r;
        if (prev[p] >= 0 && (r = merge_lookup(t, sym[prev[p]], sym[p], &mid)) != NO_RANK)
            heap_push(e->heap, &hn, (heap_entry){r, prev[p]});
        if (next[p] >= 0 && (r = merge_lookup(t, sym[p], sym[next[p]], &mid)) != NO_RANK)
            heap_push(e->heap, &hn, (heap_entry){r, p});
    }
    for (int32_t i = 0; i >= 0; i = next[i])
        if (sym[i] >= 0) enc_push(e, sym[i]);
}

static void bpe_piece(void *user, const char *s, size_t n)
{
    enc *e = user;
    const tokenizer *t = e->t;
    if (n == 0 || e->oom) return;
    if (t->ignore_merges) {
        if (e->scratch_cap < n * 2) {
            char *ns = realloc(e->scratch, n * 2);
            if (!ns) {
                e->oom = true;
                return;
            }
            e->scratch = ns;
            e->scratch_cap = n * 2;
        }
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t b = (uint8_t)s[i];
            memcpy(e->scratch + o, t->byte_char[b], 2);
            o += t->byte_char_len[b];
        }
        int32_t id = str_lookup(t, e->scratch, o);
        if (id >= 0) {
            enc_push(e, id);
            return;
        }
    }
    if (n == 1) {
        if (t->byte_id[(uint8_t)s[0]] >= 0) enc_push(e, t->byte_id[(uint8_t)s[0]]);
        return;
    }
    if (!enc_reserve_syms(e, n)) {
        e->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) e->sym[i] = t->byte_id[(uint8_t)s[i]];
    if (n <= BPE_LINEAR_MAX)
        bpe_linear(e, n);
    else
        bpe_heap(e, n);
}

static void enc_final(enc *e, const char *s, size_t n)
{
    pretok_split(e->t->pre, s, n, bpe_piece, e);
}

/* Longest allowed added token at s[0..n): its length, 0 if none. */
static size_t trie_match(const enc *e, const trie *tr, const char *s, size_t n, int32_t *out_id)
{
    int32_t node = tr->root_child[(uint8_t)s[0]];
    size_t best = 0;
    for (size_t i = 1; node >= 0; i++) {
        int32_t id = tr->nodes[node].token;
        if (id >= 0 && (e->parse_special || e->t->types[id] == TOKEN_TYPE_USER_DEFINED ||
                        e->t->types[id] == TOKEN_TYPE_NORMAL)) {
            best = i;
            *out_id = id;
        }
        if (i >= n) break;
        uint8_t c = (uint8_t)s[i];
        int32_t child = tr->nodes[node].first_child;
        while (child >= 0 && tr->nodes[child].byte != c) child = tr->nodes[child].next_sibling;
        node = child;
    }
    return best;
}

static bool ws_at(const char *s, size_t i, int *len)
{
    return unicode_class(utf8_decode((const uint8_t *)s, i, len)) & UCLASS_WS;
}

/* Split s at added tokens of tr; sections between them go to `section`. */
static void enc_added(enc *e, const trie *tr, const char *s, size_t n,
                      void (*section)(enc *, const char *, size_t))
{
    if (!tr->nodes) {
        section(e, s, n);
        return;
    }
    size_t sec = 0, i = 0;
    while (i < n) {
        int32_t id = -1;
        size_t m = tr->root_child[(uint8_t)s[i]] >= 0 ? trie_match(e, tr, s + i, n - i, &id) : 0;
        if (!m) {
            i++;
            continue;
        }
        size_t end = i;
        if (e->t->added[id] & ADDED_LSTRIP) {
            while (end > sec) {
                size_t k = end - 1;
                while (k > sec && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
                int len;
                if (!ws_at(s, k, &len)) break;
                end = k;
            }
        }
        if (end > sec) section(e, s + sec, end - sec);
        enc_push(e, id);
        i += m;
        if (e->t->added[id] & ADDED_RSTRIP) {
            int len;
            while (i < n && ws_at(s, i, &len)) i += (size_t)len;
        }
        sec = i;
    }
    if (sec < n) section(e, s + sec, n - sec);
}

static void enc_normalized(enc *e, const char *s, size_t n)
{
    enc_added(e, &e->t->trie_norm, s, n, enc_final);
}

static void enc_section(enc *e, const char *s, size_t n)
{
    if (e->t->use_nfc && may_need_nfc(s, n)) {
        size_t nn;
        char *ns = nfc_dup(s, n, &nn);
        if (!ns) {
            e->oom = true;
            return;
        }
        enc_normalized(e, ns, nn);
        free(ns);
    } else {
        enc_normalized(e, s, n);
    }
}

r1_status tokenizer_encode(const tokenizer *t, const char *text, size_t n_bytes, bool parse_special,
                           int32_t **out_ids, size_t *out_n_ids, char *err)
{
    if (!t || (!text && n_bytes) || !out_ids || !out_n_ids)
        return err_set(err, R1_ERR_INVALID_ARG, "tokenizer_encode: NULL argument");
    char *fixed = NULL;
    if (utf8_valid_prefix(text, n_bytes) != n_bytes) {
        fixed = utf8_repair(text, n_bytes, &n_bytes);
        if (!fixed) return err_set(err, R1_ERR_NOMEM, "out of memory");
        text = fixed;
    }
    enc e = {.t = t, .parse_special = parse_special};
    e.ids = malloc(256 * sizeof *e.ids);
    e.cap = e.ids ? 256 : 0;
    e.oom = !e.ids;
    if (n_bytes && !e.oom) enc_added(&e, &t->trie_raw, text, n_bytes, enc_section);
    free(fixed);
    free(e.sym);
    free(e.rank);
    free(e.merged);
    free(e.prev);
    free(e.next);
    free(e.heap);
    free(e.scratch);
    if (e.oom) {
        free(e.ids);
        return err_set(err, R1_ERR_NOMEM, "out of memory while encoding %zu bytes", n_bytes);
    }
    *out_ids = e.ids;
    *out_n_ids = e.n_ids;
    return R1_OK;
}

/* ---- decoding ---------------------------------------------------------------------------------
 */

struct detok {
    const tokenizer *t;
    bool render_special;
    char pend[4]; /* a character's leading bytes waiting for the rest */
    size_t n_pend;
    char *buf; /* output, (cap) */
    size_t cap;
    char *stage; /* held-back bytes + new piece, (stage_cap) */
    size_t stage_cap;
};

r1_status detok_new(const tokenizer *t, bool render_special, detok **out, char *err)
{
    detok *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, R1_ERR_NOMEM, "out of memory");
    d->t = t;
    d->render_special = render_special;
    *out = d;
    return R1_OK;
}

void detok_free(detok *d)
{
    if (!d) return;
    free(d->buf);
    free(d->stage);
    free(d);
}

static bool detok_reserve(detok *d, size_t n)
{
    if (n <= d->cap) return true;
    size_t cap = d->cap ? d->cap : 256;
    while (cap < n) cap *= 2;
    char *nb = realloc(d->buf, cap);
    if (!nb) return false;
    d->buf = nb;
    d->cap = cap;
    return true;
}

static bool detok_reserve_stage(detok *d, size_t n)
{
    if (n <= d->stage_cap) return true;
    size_t cap = d->stage_cap ? d->stage_cap : 256;
    while (cap < n) cap *= 2;
    char *nb = realloc(d->stage, cap);
    if (!nb) return false;
    d->stage = nb;
    d->stage_cap = cap;
    return true;
}

static const char FFFD[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

r1_status detok_feed(detok *d, int32_t id, const char **out_text, size_t *out_len, char *err)
{
    const tokenizer *t = d->t;
    if (id < 0 || id >= t->n_vocab)
        return err_set(err, R1_ERR_INVALID_ARG, "token id %ld out of range (n_vocab %d)", (long)id,
                       t->n_vocab);
    *out_text = "";
    *out_len = 0;
    uint8_t type = t->types[id];
    bool byte_level = is_byte_level_token(t, id);
    /* control, unused and unknown tokens vanish unless asked for (HF skip_special_tokens) */
    if (!byte_level && !d->render_special && type != TOKEN_TYPE_USER_DEFINED) return R1_OK;
    size_t plen = 0; /* gcc -O2 with sanitizers cannot see that the call always sets it */
    const char *piece = tokenizer_token_piece(t, id, &plen);
    size_t n = d->n_pend + plen;
    if (!detok_reserve(d, n * 3 + 8) || (byte_level && !detok_reserve_stage(d, n)))
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    size_t o = 0;
    if (!byte_level) {
        /* raw text of an added token: what is held back can no longer complete */
        if (d->n_pend) {
            memcpy(d->buf, FFFD, 3);
            o = 3;
            d->n_pend = 0;
        }
        memcpy(d->buf + o, piece, plen);
        *out_text = d->buf;
        *out_len = o + plen;
        return R1_OK;
    }
    /* join held-back bytes and the new piece, emit what is complete */
    char *data = d->stage;
    memcpy(data, d->pend, d->n_pend);
    memcpy(data + d->n_pend, piece, plen);
    d->n_pend = 0;
    size_t i = 0;
    while (i < n) {
        size_t ok = utf8_valid_prefix(data + i, n - i);
        memcpy(d->buf + o, data + i, ok);
        o += ok;
        i += ok;
        if (i == n) break;
        if (utf8_incomplete_tail(data + i, n - i) == n - i) {
            memcpy(d->pend, data + i, n - i);
            d->n_pend = n - i;
            break;
        }
        i += utf8_invalid_len(data + i, n - i);
        memcpy(d->buf + o, FFFD, 3);
        o += 3;
    }
    *out_text = d->buf;
    *out_len = o;
    return R1_OK;
}

void detok_flush(detok *d, const char **out_text, size_t *out_len)
{
    *out_text = "";
    *out_len = 0;
    if (d->n_pend) {
        d->n_pend = 0;
        *out_text = FFFD;
        *out_len = 3;
    }
}

r1_status tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n_ids,
                           bool render_special, char **out_text, size_t *out_len, char *err)
{
    detok *d = NULL;
    r1_status st = detok_new(t, render_special, &d, err);
    if (st != R1_OK) return st;
    size_t cap = 256, n = 0;
    char *out = malloc(cap);
    if (!out) {
        detok_free(d);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i <= n_ids; i++) {
        const char *s;
        size_t len;
        if (i < n_ids) {
            st = detok_feed(d, ids[i], &s, &len, err);
            if (st != R1_OK) break;
        } else {
            detok_flush(d, &s, &len);
        }
        if (n + len + 1 > cap) {
            while (n + len + 1 > cap) cap *= 2;
            char *no = realloc(out, cap);
            if (!no) {
                st = err_set(err, R1_ERR_NOMEM, "out of memory");
                break;
            }
            out = no;
        }
        memcpy(out + n, s, len);
        n += len;
    }
    detok_free(d);
    if (st != R1_OK) {
        free(out);
        return st;
    }
    out[n] = 0;
    *out_text = out;
    *out_len = n;
    return R1_OK;
}

r1_status tokenizer_merges(const tokenizer *t, int32_t **out_left, int32_t **out_right,
                           int32_t *out_n, char *err)
{
    int32_t n = t->n_merges;
    int32_t *l = malloc(((size_t)n + 1) * sizeof *l), *r = malloc(((size_t)n + 1) * sizeof *r);
    if (!l || !r) {
        free(l);
        free(r);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++) l[i] = -1;
    if (t->merge_keys)
        for (uint32_t h = 0; h <= t->merge_mask; h++) {
            if (t->merge_keys[h] == UINT64_MAX) continue;
            int32_t rank = t->merge_rank[h];
            l[rank] = (int32_t)(t->merge_keys[h] >> 32);
            r[rank] = (int32_t)(uint32_t)t->merge_keys[h];
        }
    /* a pair listed twice kept its last rank: drop the empty earlier slots */
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (l[i] >= 0) {
            l[m] = l[i];
            r[m] = r[i];
            m++;
        }
    *out_left = l;
    *out_right = r;
    *out_n = m;
    return R1_OK;
}
