/* matcher.c — the pushdown matcher over a compiled grammar, its caches, and the token mask.
 *
 * A stack is a chain of nodes (position in the element array, parent node); nodes are hash-consed,
 * so a stack is one node id and equal stacks are equal ids. A state is the sorted set of stacks
 * whose top is a character element, whether the text so far is complete, and a partly decoded
 * UTF-8 character. States are interned too; each has a lazily filled table byte → next state.
 *
 * The mask walks a trie of the vocabulary's bytes once, carrying the state of each prefix: a dead
 * prefix skips its whole subtree, and every step is usually one table lookup. Masks are cached per
 * state. When the caches pass their caps they are dropped and the current state rebuilt. */
#include "grammar/grammar_int.h"

#include "base/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES (1 << 21)
#define MAX_STATES (1 << 15)
#define MAX_MASKS 128
#define MAX_DEPTH 20000 /* nodes popped or pushed in one closure (recursion) */

#define T_UNKNOWN (-2)
#define T_DEAD (-1)

struct gvocab {
    int n_vocab;
    int n_nodes;       /* trie nodes in preorder */
    uint8_t *byte;     /* (n_nodes) the byte that leads to the node */
    uint16_t *depth;   /* (n_nodes) 1 for children of the root */
    int32_t *skip;     /* (n_nodes) index after the node's subtree */
    int32_t *tok;      /* (n_nodes) first token whose bytes end here, or -1 */
    int32_t *tok_next; /* (n_vocab) next token with the same bytes, or -1 */
    int max_depth;
    /* per token: its bytes (for accept_token) */
    uint32_t *off; /* (n_vocab + 1) */
    char *bytes;
    bool *is_end;  /* (n_vocab) */
    int32_t *ends; /* the end tokens */
    int n_ends;
};

typedef struct gnode {
    uint32_t pos;
    int32_t parent; /* -1: bottom */
    uint32_t dist;  /* fewest characters that empty this stack */
} gnode;

typedef struct gstate {
    uint32_t off, n; /* node ids in m->ids[off .. off + n) */
    uint32_t cp;     /* partial character: bits so far */
    uint8_t need;    /* continuation bytes still expected */
    uint8_t len;     /* length of the character being decoded */
    bool accept;     /* the text so far is complete */
    int32_t mask;    /* slot in the mask cache, or -1 */
    int32_t *tr;     /* (256) next state per byte, T_UNKNOWN until computed; NULL until needed */
} gstate;

struct gmatch {
    const grammar *g;
    const gvocab *v;
    gnode *nodes;
    int n_nodes, cap_nodes;
    int32_t *node_hash; /* open addressing, -1 empty */
    uint32_t node_hash_cap;
    uint32_t *stamp; /* (cap_nodes) closure visit marks */
    uint32_t gen;

    gstate *states;
    int n_states, cap_states;
    uint32_t *ids; /* the node ids of all states */
    size_t n_ids, cap_ids;
    int32_t *state_hash;
    uint32_t state_hash_cap;

    uint32_t *masks; /* MAX_MASKS × words */
    int32_t mask_owner[MAX_MASKS];
    int n_masks, next_mask, words;

    uint32_t *tmp; /* leaves of the closure being built */
    int n_tmp, cap_tmp;
    bool accept_tmp, overflow;
    int depth;

    int start, cur;
    uint64_t n_hits, n_walks; /* masks served from the cache / computed */
    int32_t *walk;            /* (max_depth + 1) trie walk states */
};

/* ---- vocabulary -------------------------------------------------------------------------------
 */

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *sort_bytes;
static const uint32_t *sort_off;

static int cmp_tok(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    uint32_t la = sort_off[a + 1] - sort_off[a], lb = sort_off[b + 1] - sort_off[b];
    int c = memcmp(sort_bytes + sort_off[a], sort_bytes + sort_off[b], la < lb ? la : lb);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return a < b ? -1 : 1;
}

void gvocab_free(gvocab *v)
{
    if (!v) return;
    free(v->byte);
    free(v->depth);
    free(v->skip);
    free(v->tok);
    free(v->tok_next);
    free(v->off);
    free(v->bytes);
    free(v->is_end);
    free(v->ends);
    free(v);
}

int gvocab_n_vocab(const gvocab *v)
{
    return v ? v->n_vocab : 0;
}

r1_status gvocab_new(int n_vocab, const char *const *pieces, const size_t *lens, const bool *is_end,
                     gvocab **out, char *err)
{
    if (n_vocab <= 0 || !pieces || !lens || !is_end || !out)
        return err_set(err, R1_ERR_INVALID_ARG, "grammar vocabulary: bad arguments");
    gvocab *v = calloc(1, sizeof *v);
    if (!v) return err_set(err, R1_ERR_NOMEM, "out of memory");
    v->n_vocab = n_vocab;
    size_t total = 0;
    for (int i = 0; i < n_vocab; i++)
        if (pieces[i] && !is_end[i]) total += lens[i] > 65535 ? 0 : lens[i];
    v->off = malloc((size_t)(n_vocab + 1) * sizeof *v->off);
    v->bytes = malloc(total + 1);
    v->is_end = malloc((size_t)n_vocab * sizeof *v->is_end);
    v->ends = malloc((size_t)n_vocab * sizeof *v->ends);
    v->tok_next = malloc((size_t)n_vocab * sizeof *v->tok_next);
    int32_t *order = malloc((size_t)n_vocab * sizeof *order);
    /* at most one node per byte */
    v->byte = malloc(total + 1);
    v->depth = malloc((total + 1) * sizeof *v->depth);
    v->skip = malloc((total + 1) * sizeof *v->skip);
    v->tok = malloc((total + 1) * sizeof *v->tok);
    if (!v->off || !v->bytes || !v->is_end || !v->ends || !v->tok_next || !order || !v->byte ||
        !v->depth || !v->skip || !v->tok) {
        free(order);
        gvocab_free(v);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    size_t o = 0;
    int n_order = 0;
    for (int i = 0; i < n_vocab; i++) {
        v->off[i] = (uint32_t)o;
        v->is_end[i] = is_end[i];
        v->tok_next[i] = -1;
        if (is_end[i]) v->ends[v->n_ends++] = i;
        if (pieces[i] && !is_end[i] && lens[i] > 0 && lens[i] <= 65535) {
            memcpy(v->bytes + o, pieces[i], lens[i]);
            o += lens[i];
            order[n_order++] = i;
        }
    }
    v->off[n_vocab] = (uint32_t)o;
    /* qsort has no context argument in C11: the comparison reads these, one build at a time */
    pthread_mutex_lock(&sort_mu);
    sort_bytes = v->bytes;
    sort_off = v->off;
    qsort(order, (size_t)n_order, sizeof *order, cmp_tok);
    pthread_mutex_unlock(&sort_mu);
    /* preorder trie from the sorted pieces: path[d] = node at depth d + 1 of the current piece */
    int32_t *path = malloc(65536 * sizeof *path);
    if (!path) {
        free(order);
        gvocab_free(v);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    int path_n = 0, nn = 0;
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int k = 0; k < n_order; k++) {
        int32_t id = order[k];
        const char *s = v->bytes + v->off[id];
        uint32_t len = v->off[id + 1] - v->off[id];
        uint32_t lcp = 0;
        while (prev && lcp < len && lcp < prev_len && s[lcp] == prev[lcp]) lcp++;
        while ((uint32_t)path_n > lcp) v->skip[path[--path_n]] = nn;
        for (uint32_t d = lcp; d < len; d++) {
            v->byte[nn] = (uint8_t)s[d];
            v->depth[nn] = (uint16_t)(d + 1);
            v->tok[nn] = -1;
            path[path_n++] = nn++;
        }
        int32_t node = path[len - 1];
        /* same bytes as an earlier token: chain it */
        v->tok_next[id] = v->tok[node];
        v->tok[node] = id;
        if ((int)len > v->max_depth) v->max_depth = (int)len;
        prev = s;
        prev_len = len;
    }
    while (path_n > 0) v->skip[path[--path_n]] = nn;
    v->n_nodes = nn;
    free(path);
    free(order);
    *out = v;
    return R1_OK;
}

/* ---- nodes and states -------------------------------------------------------------------------
 */

static uint32_t hash32(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* The id of node (pos, parent), or -1 when over the cap. */
static int32_t node_intern(gmatch *m, uint32_t pos, int32_t parent)
{
    uint32_t mask = m->node_hash_cap - 1;
    uint32_t h = hash32((uint64_t)pos << 32 | (uint32_t)parent) & mask;
    for (;; h = (h + 1) & mask) {
        int32_t id = m->node_hash[h];
        if (id < 0) break;
        if (m->nodes[id].pos == pos && m->nodes[id].parent == parent) return id;
    }
    if (m->n_nodes >= MAX_NODES) {
        m->overflow = true;
        return -1;
    }
    if (m->n_nodes == m->cap_nodes) {
        int cap = m->cap_nodes * 2;
        gnode *p = realloc(m->nodes, (size_t)cap * sizeof *p);
        uint32_t *st = p ? realloc(m->stamp, (size_t)cap * sizeof *st) : NULL;
        if (p) m->nodes = p;
        if (!st) {
            m->overflow = true;
            return -1;
        }
        memset(st + m->cap_nodes, 0, (size_t)(cap - m->cap_nodes) * sizeof *st);
        m->stamp = st;
        m->cap_nodes = cap;
    }
    if ((uint32_t)m->n_nodes * 2 >= m->node_hash_cap) {
        uint32_t cap = m->node_hash_cap * 2;
        int32_t *t = malloc((size_t)cap * sizeof *t);
        if (!t) {
            m->overflow = true;
            return -1;
        }
        memset(t, 0xff, (size_t)cap * sizeof *t);
        for (int i = 0; i < m->n_nodes; i++) {
            uint32_t k =
                hash32((uint64_t)m->nodes[i].pos << 32 | (uint32_t)m->nodes[i].parent) & (cap - 1);
            while (t[k] >= 0) k = (k + 1) & (cap - 1);
            t[k] = i;
        }
        free(m->node_hash);
        m->node_hash = t;
        m->node_hash_cap = cap;
        mask = cap - 1;
        h = hash32((uint64_t)pos << 32 | (uint32_t)parent) & mask;
        while (m->node_hash[h] >= 0) h = (h + 1) & mask;
    }
    int32_t id = m->n_nodes++;
    uint32_t d = m->g->suffix[pos] + (parent >= 0 ? m->nodes[parent].dist : 0);
    m->nodes[id] = (gnode){pos, parent, d < GRAMMAR_FAR ? d : GRAMMAR_FAR};
    m->node_hash[h] = id;
    return id;
}

static void tmp_add(gmatch *m, uint32_t id)
{
    if (m->n_tmp >= GRAMMAR_MAX_STACKS) {
        m->overflow = true;
        return;
    }
    m->tmp[m->n_tmp++] = id;
}

/* Add to m->tmp the stacks reached from node (pos, parent) without consuming a character. */
static void closure(gmatch *m, uint32_t pos, int32_t parent)
{
    int32_t id = node_intern(m, pos, parent);
    if (id < 0) return;
    if (m->stamp[id] == m->gen) return;
    m->stamp[id] = m->gen;
    if (++m->depth > MAX_DEPTH) {
        m->overflow = true;
        m->depth--;
        return;
    }
    const grammar *g = m->g;
    const gelem *e = &g->elems[pos];
    if (e->type == GE_CHAR) {
        tmp_add(m, (uint32_t)id);
    } else if (e->type == GE_END) {
        if (parent < 0)
            m->accept_tmp = true;
        else
            closure(m, m->nodes[parent].pos, m->nodes[parent].parent);
    } else {
        /* a reference that ends its alternative returns straight to the parent: right recursion
         * (x*, lists) runs in constant stack */
        int32_t cont = parent;
        if (g->elems[pos + 1].type != GE_END) cont = node_intern(m, pos + 1, parent);
        if (!m->overflow)
            for (int a = g->rule_alt0[e->a]; a < g->rule_alt0[e->a + 1]; a++)
                closure(m, (uint32_t)g->alt_pos[a], cont);
    }
    m->depth--;
}

static void begin(gmatch *m)
{
    m->n_tmp = 0;
    m->accept_tmp = false;
    m->overflow = false;
    if (++m->gen == 0) { /* wrapped: clear the marks */
        memset(m->stamp, 0, (size_t)m->cap_nodes * sizeof *m->stamp);
        m->gen = 1;
    }
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static uint32_t state_hash_of(const uint32_t *ids, uint32_t n, uint32_t cp, int need, int len,
                              bool accept)
{
    uint64_t h = 1469598103934665603ULL ^
                 ((uint64_t)cp << 8 | (uint64_t)need << 4 | (uint64_t)len << 1 | accept);
    for (uint32_t i = 0; i < n; i++) h = (h ^ ids[i]) * 1099511628211ULL;
    return hash32(h);
}

/* The state made of m->tmp[0..n_tmp) (sorted here) and the given flags; -1 when over a cap. */
static int state_intern(gmatch *m, uint32_t cp, int need, int len, bool accept)
{
    if (m->overflow) return -1;
    qsort(m->tmp, (size_t)m->n_tmp, sizeof *m->tmp, cmp_u32);
    uint32_t n = (uint32_t)m->n_tmp;
    uint32_t hm = m->state_hash_cap - 1;
    uint32_t h = state_hash_of(m->tmp, n, cp, need, len, accept) & hm;
    for (;; h = (h + 1) & hm) {
        int32_t s = m->state_hash[h];
        if (s < 0) break;
        const gstate *S = &m->states[s];
        if (S->n == n && S->cp == cp && S->need == need && S->len == len && S->accept == accept &&
            memcmp(m->ids + S->off, m->tmp, n * sizeof *m->tmp) == 0)
            return s;
    }
    if (m->n_states >= MAX_STATES) {
        m->overflow = true;
        return -1;
    }
    if (m->n_states == m->cap_states) {
        int cap = m->cap_states * 2;
        gstate *p = realloc(m->states, (size_t)cap * sizeof *p);
        if (!p) {
            m->overflow = true;
            return -1;
        }
        m->states = p;
        m->cap_states = cap;
    }
    if (m->n_ids + n > m->cap_ids) {
        size_t cap = m->cap_ids * 2;
        while (cap < m->n_ids + n) cap *= 2;
        uint32_t *p = realloc(m->ids, cap * sizeof *p);
        if (!p) {
            m->overflow = true;
            return -1;
        }
        m->ids = p;
        m->cap_ids = cap;
    }
    if ((uint32_t)m->n_states * 2 >= m->state_hash_cap) {
        uint32_t cap = m->state_hash_cap * 2;
        int32_t *t = malloc((size_t)cap * sizeof *t);
        if (!t) {
            m->overflow = true;
            return -1;
        }
        memset(t, 0xff, (size_t)cap * sizeof *t);
        for (int i = 0; i < m->n_states; i++) {
            const gstate *S = &m->states[i];
            uint32_t k =
                state_hash_of(m->ids + S->off, S->n, S->cp, S->need, S->len, S->accept) & (cap - 1);
            while (t[k] >= 0) k = (k + 1) & (cap - 1);
            t[k] = i;
        }
        free(m->state_hash);
        m->state_hash = t;
        m->state_hash_cap = cap;
        hm = cap - 1;
        h = state_hash_of(m->tmp, n, cp, need, len, accept) & hm;
        while (m->state_hash[h] >= 0) h = (h + 1) & hm;
    }
    int s = m->n_states++;
    memcpy(m->ids + m->n_ids, m->tmp, n * sizeof *m->tmp);
    m->states[s] = (gstate){.off = (uint32_t)m->n_ids,
                            .n = n,
                            .cp = cp,
                            .need = (uint8_t)need,
                            .len = (uint8_t)len,
                            .accept = accept,
                            .mask = -1,
                            .tr = NULL};
    m->n_ids += n;
    m->state_hash[h] = s;
    return s;
}

static int start_state(gmatch *m)
{
    begin(m);
    const grammar *g = m->g;
    for (int a = g->rule_alt0[g->root]; a < g->rule_alt0[g->root + 1]; a++)
        closure(m, (uint32_t)g->alt_pos[a], -1);
    return state_intern(m, 0, 0, 0, m->accept_tmp);
}

/* Code points a UTF-8 character of `len` bytes may encode (strict: no overlong forms). */
static const uint32_t utf8_min[5] = {0, 0, 0x80, 0x800, 0x10000};
static const uint32_t utf8_max[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

/* Whether e matches some valid character in lo..hi (surrogates excluded). */
static bool match_interval(const grammar *g, const gelem *e, uint32_t lo, uint32_t hi)
{
    if (lo > hi) return false;
    if (hi < 0xD800 || lo > 0xDFFF) return gelem_match_any(g, e, lo, hi);
    return (lo < 0xD800 && gelem_match_any(g, e, lo, 0xD7FF)) ||
           (hi > 0xDFFF && gelem_match_any(g, e, 0xE000, hi));
}

/* The state after byte b from state s: a state id, T_DEAD, or -3 when over a cap. Not cached. */
static int step_compute(gmatch *m, int s, uint8_t b)
{
    gstate S = m->states[s];
    uint32_t cp;
    int need, len;
    if (S.need == 0) {
        if (b < 0x80)
            cp = b, need = 0, len = 1;
        else if (b >= 0xC2 && b <= 0xDF)
            cp = b & 0x1F, need = 1, len = 2;
        else if (b >= 0xE0 && b <= 0xEF)
            cp = b & 0x0F, need = 2, len = 3;
        else if (b >= 0xF0 && b <= 0xF4)
            cp = b & 0x07, need = 3, len = 4;
        else
            return T_DEAD;
    } else {
        if ((b & 0xC0) != 0x80) return T_DEAD;
        cp = S.cp << 6 | (b & 0x3F);
        need = S.need - 1;
        len = S.len;
    }
    const grammar *g = m->g;
    begin(m);
    if (need > 0) {
        /* a partial character: keep the stacks that some completion of it can continue */
        uint32_t lo = cp << (6 * need), hi = lo | ((1u << (6 * need)) - 1);
        if (lo < utf8_min[len]) lo = utf8_min[len];
        if (hi > utf8_max[len]) hi = utf8_max[len];
        for (uint32_t i = 0; i < S.n; i++) {
            uint32_t id = m->ids[S.off + i];
            if (match_interval(g, &g->elems[m->nodes[id].pos], lo, hi)) tmp_add(m, id);
        }
        if (m->n_tmp == 0) return T_DEAD;
        int t = state_intern(m, cp, need, len, false);
        return t < 0 ? -3 : t;
    }
    if (cp < utf8_min[len] || cp > utf8_max[len] || (cp >= 0xD800 && cp <= 0xDFFF)) return T_DEAD;
    for (uint32_t i = 0; i < S.n; i++) {
        uint32_t id = m->ids[S.off + i];
        gnode nd = m->nodes[id];
        if (gelem_match(g, &g->elems[nd.pos], cp)) closure(m, nd.pos + 1, nd.parent);
    }
    if (m->overflow) return -3;
    if (m->n_tmp == 0 && !m->accept_tmp) return T_DEAD;
    int t = state_intern(m, 0, 0, 0, m->accept_tmp);
    return t < 0 ? -3 : t;
}

/* Cached step; -3 when a cap was hit (the caller flushes and retries). */
static inline int step(gmatch *m, int s, uint8_t b)
{
    int32_t *tr = m->states[s].tr;
    if (tr && tr[b] != T_UNKNOWN) return tr[b];
    if (!tr) {
        tr = malloc(256 * sizeof *tr);
        if (!tr) return -3;
        for (int i = 0; i < 256; i++) tr[i] = T_UNKNOWN;
        m->states[s].tr = tr;
    }
    int t = step_compute(m, s, b);
    if (t == -3) return -3;
    m->states[s].tr[b] = t; /* states may have moved, the table has not */
    return t;
}

/* ---- caches -----------------------------------------------------------------------------------
 */

static void clear_all(gmatch *m)
{
    for (int i = 0; i < m->n_states; i++) free(m->states[i].tr);
    m->n_states = 0;
    m->n_ids = 0;
    memset(m->state_hash, 0xff, (size_t)m->state_hash_cap * sizeof *m->state_hash);
    m->n_nodes = 0;
    memset(m->node_hash, 0xff, (size_t)m->node_hash_cap * sizeof *m->node_hash);
    memset(m->stamp, 0, (size_t)m->cap_nodes * sizeof *m->stamp);
    m->gen = 0;
    for (int i = 0; i < MAX_MASKS; i++) m->mask_owner[i] = -1;
    m->n_masks = m->next_mask = 0;
    m->overflow = false;
}

/* Drop every cache and rebuild the start and current states. False when even that fails. */
static bool flush(gmatch *m)
{
    const gstate S = m->states[m->cur];
    /* the current stacks as position lists, bottom last */
    size_t n_pos = 0, cap = 64;
    uint32_t *pos = malloc(cap * sizeof *pos);
    uint32_t *len = malloc((S.n + 1) * sizeof *len);
    if (!pos || !len) {
        free(pos);
        free(len);
        return false;
    }
    for (uint32_t i = 0; i < S.n; i++) {
        size_t before = n_pos;
        for (int32_t id = (int32_t)m->ids[S.off + i]; id >= 0; id = m->nodes[id].parent) {
            if (n_pos == cap) {
                uint32_t *p = realloc(pos, (cap *= 2) * sizeof *p);
                if (!p) {
                    free(pos);
                    free(len);
                    return false;
                }
                pos = p;
            }
            pos[n_pos++] = m->nodes[id].pos;
        }
        len[i] = (uint32_t)(n_pos - before);
    }
    clear_all(m);
    m->start = start_state(m);
    begin(m);
    size_t at = 0;
    for (uint32_t i = 0; i < S.n; i++) {
        int32_t parent = -1;
        for (uint32_t k = len[i]; k-- > 0;) parent = node_intern(m, pos[at + k], parent);
        at += len[i];
        if (parent >= 0) tmp_add(m, (uint32_t)parent);
    }
    free(pos);
    free(len);
    m->cur = state_intern(m, S.cp, S.need, S.len, S.accept);
    return m->start >= 0 && m->cur >= 0;
}

/* ---- the matcher ------------------------------------------------------------------------------
 */

void gmatch_free(gmatch *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_states; i++) free(m->states[i].tr);
    free(m->nodes);
    free(m->node_hash);
    free(m->stamp);
    free(m->states);
    free(m->ids);
    free(m->state_hash);
    free(m->masks);
    free(m->tmp);
    free(m->walk);
    free(m);
}

r1_status gmatch_new(const grammar *g, const gvocab *v, gmatch **out, char *err)
{
    if (!g || !out) return err_set(err, R1_ERR_INVALID_ARG, "grammar matcher: no grammar");
    gmatch *m = calloc(1, sizeof *m);
    if (!m) return err_set(err, R1_ERR_NOMEM, "out of memory");
    m->g = g;
    m->v = v;
    m->cap_nodes = 1024;
    m->node_hash_cap = 4096;
    m->cap_states = 256;
    m->state_hash_cap = 1024;
    m->cap_ids = 1024;
    m->nodes = malloc((size_t)m->cap_nodes * sizeof *m->nodes);
    m->stamp = calloc((size_t)m->cap_nodes, sizeof *m->stamp);
    m->node_hash = malloc((size_t)m->node_hash_cap * sizeof *m->node_hash);
    m->states = malloc((size_t)m->cap_states * sizeof *m->states);
    m->state_hash = malloc((size_t)m->state_hash_cap * sizeof *m->state_hash);
    m->ids = malloc(m->cap_ids * sizeof *m->ids);
    m->tmp = malloc(GRAMMAR_MAX_STACKS * sizeof *m->tmp);
    if (v) {
        m->words = (v->n_vocab + 31) / 32;
        m->masks = malloc((size_t)MAX_MASKS * (size_t)m->words * sizeof *m->masks);
        m->walk = malloc((size_t)(v->max_depth + 1) * sizeof *m->walk);
    }
    if (!m->nodes || !m->stamp || !m->node_hash || !m->states || !m->state_hash || !m->ids ||
        !m->tmp || (v && (!m->masks || !m->walk))) {
        gmatch_free(m);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    clear_all(m);
    m->start = m->cur = start_state(m);
    if (m->start < 0) {
        gmatch_free(m);
        return err_set(err, R1_ERR_UNSUPPORTED,
                       "grammar: too ambiguous (over %d alternatives alive at the start)",
                       GRAMMAR_MAX_STACKS);
    }
    *out = m;
    return R1_OK;
}

void gmatch_reset(gmatch *m)
{
    m->cur = m->start;
}

/* step with one flush-and-retry; T_DEAD also when the grammar is too ambiguous here */
static int step_safe(gmatch *m, int s, uint8_t b, int *cur_of)
{
    int t = step(m, s, b);
    if (t != -3) return t;
    /* over a cap: rebuild from the state the caller holds, then retry once */
    int keep = m->cur;
    m->cur = *cur_of;
    if (!flush(m)) {
        m->cur = keep;
        return T_DEAD;
    }
    *cur_of = m->cur;
    t = step(m, m->cur, b);
    return t < 0 ? T_DEAD : t;
}

bool gmatch_accept_bytes(gmatch *m, const char *bytes, size_t n)
{
    int s = m->cur;
    for (size_t i = 0; i < n; i++) {
        int base = s;
        int t = step(m, s, (uint8_t)bytes[i]);
        if (t == -3) {
            /* caches full mid-way: restart the whole feed from a flushed current state */
            (void)base;
            if (!flush(m)) return false;
            s = m->cur;
            for (size_t k = 0; k <= i && s >= 0; k++) s = step(m, s, (uint8_t)bytes[k]);
            if (s < 0) return false;
            continue;
        }
        if (t < 0) return false;
        s = t;
    }
    m->cur = s;
    return true;
}

bool gmatch_can_end(const gmatch *m)
{
    return m->states[m->cur].accept;
}

bool gmatch_allows_byte(gmatch *m, uint8_t b)
{
    int cur = m->cur;
    int t = step_safe(m, cur, b, &cur);
    return t >= 0;
}

bool gmatch_is_done(gmatch *m)
{
    if (!m->states[m->cur].accept) return false;
    for (int b = 0; b < 256; b++)
        if (gmatch_allows_byte(m, (uint8_t)b)) return false;
    return true;
}

/* The walk over the trie; false when a cap was hit (the caller flushes and retries). */
static bool walk(gmatch *m, int s, uint32_t *bits)
{
    const gvocab *v = m->v;
    memset(bits, 0, (size_t)m->words * sizeof *bits);
    int32_t *st = m->walk;
    st[0] = s;
    for (int i = 0; i < v->n_nodes;) {
        int t = step(m, st[v->depth[i] - 1], v->byte[i]);
        if (t == -3) return false;
        if (t < 0) {
            i = v->skip[i];
            continue;
        }
        st[v->depth[i]] = t;
        for (int32_t id = v->tok[i]; id >= 0; id = v->tok_next[id])
            bits[id >> 5] |= 1u << (id & 31);
        i++;
    }
    if (m->states[s].accept)
        for (int k = 0; k < v->n_ends; k++) bits[v->ends[k] >> 5] |= 1u << (v->ends[k] & 31);
    return true;
}

r1_status gmatch_mask(gmatch *m, uint32_t *bits, char *err)
{
    if (!m->v) return err_set(err, R1_ERR_INVALID_ARG, "grammar matcher: no vocabulary");
    gstate *S = &m->states[m->cur];
    if (S->mask >= 0) {
        m->n_hits++;
        memcpy(bits, m->masks + (size_t)S->mask * m->words, (size_t)m->words * sizeof *bits);
        return R1_OK;
    }
    if (!walk(m, m->cur, bits)) {
        if (!flush(m) || !walk(m, m->cur, bits))
            return err_set(err, R1_ERR_UNSUPPORTED,
                           "grammar: too ambiguous or too deep here (over %d stacks or %d "
                           "states)",
                           GRAMMAR_MAX_STACKS, MAX_STATES);
    }
    m->n_walks++;
    /* cache it, replacing the oldest */
    int slot = m->next_mask;
    m->next_mask = (m->next_mask + 1) % MAX_MASKS;
    if (m->mask_owner[slot] >= 0) m->states[m->mask_owner[slot]].mask = -1;
    m->mask_owner[slot] = m->cur;
    m->states[m->cur].mask = slot;
    if (m->n_masks < MAX_MASKS) m->n_masks++;
    memcpy(m->masks + (size_t)slot * m->words, bits, (size_t)m->words * sizeof *bits);
    return R1_OK;
}

static bool token_state(gmatch *m, int32_t id, int *out)
{
    const gvocab *v = m->v;
    if (!v || id < 0 || id >= v->n_vocab) return false;
    if (v->is_end[id]) {
        *out = m->cur;
        return m->states[m->cur].accept;
    }
    uint32_t a = v->off[id], e = v->off[id + 1];
    if (a == e) return false;
    int cur = m->cur, s = cur;
    for (uint32_t i = a; i < e; i++) {
        int t = step(m, s, (uint8_t)v->bytes[i]);
        if (t == -3) {
            if (!flush(m)) return false;
            cur = s = m->cur;
            for (uint32_t k = a; k <= i && s >= 0; k++) s = step(m, s, (uint8_t)v->bytes[k]);
            if (s < 0) return false;
            continue;
        }
        if (t < 0) return false;
        s = t;
    }
    (void)cur;
    *out = s;
    return true;
}

bool gmatch_allows_token(gmatch *m, int32_t id)
{
    int s;
    return token_state(m, id, &s);
}

bool gmatch_accept_token(gmatch *m, int32_t id)
{
    int s;
    if (!token_state(m, id, &s)) return false;
    m->cur = s;
    return true;
}

static uint32_t state_dist(const gmatch *m, int s)
{
    const gstate *S = &m->states[s];
    if (S->accept) return 0;
    uint32_t d = GRAMMAR_FAR;
    for (uint32_t i = 0; i < S->n; i++) {
        uint32_t x = m->nodes[m->ids[S->off + i]].dist;
        if (x < d) d = x;
    }
    return d;
}

uint32_t gmatch_distance(const gmatch *m)
{
    return state_dist(m, m->cur);
}

uint32_t gmatch_token_distance(gmatch *m, int32_t id)
{
    int s;
    if (!token_state(m, id, &s)) return UINT32_MAX;
    return state_dist(m, s);
}

void gmatch_stats(const gmatch *m, int *out_states, int *out_nodes, int *out_masks)
{
    if (out_masks) *out_masks = (int)m->n_walks; /* masks computed, not served from the cache */
    if (out_states) *out_states = m->n_states;
    if (out_nodes) *out_nodes = m->n_nodes;
}
