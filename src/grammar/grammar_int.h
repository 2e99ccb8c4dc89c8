/* grammar_int.h — the compiled grammar shared by gbnf.c (which builds it) and matcher.c (which runs
 * it). Not part of the module's interface.
 *
 * Every alternative of every rule is a run of elements in one array, closed by a GE_END element;
 * a rule is the list of its alternatives' start positions. A position in the element array is
 * what a matcher stack holds. */
#ifndef R1_GRAMMAR_GRAMMAR_INT_H
#define R1_GRAMMAR_GRAMMAR_INT_H

#include "grammar/grammar.h"

enum { GE_END = 0, GE_CHAR = 1, GE_REF = 2 };

typedef struct grange {
    uint32_t lo, hi; /* code points lo..hi inclusive */
} grange;

typedef struct gelem {
    uint8_t type; /* GE_* */
    uint8_t neg;  /* GE_CHAR: matches code points outside the ranges */
    uint32_t a;   /* GE_CHAR: first range; GE_REF: rule id */
    uint32_t n;   /* GE_CHAR: number of ranges (sorted, merged, not adjacent) */
} gelem;

struct grammar {
    gelem *elems; /* (n_elems) */
    int n_elems;
    grange *ranges; /* (n_ranges) */
    int n_ranges;
    int n_rules;
    int *rule_alt0;   /* (n_rules + 1): rule r's alternatives are alt_pos[rule_alt0[r] ..
                         rule_alt0[r + 1]) */
    int *alt_pos;     /* start position in elems of each alternative */
    uint32_t *suffix; /* (n_elems) fewest characters that finish the alternative from here
                         (saturating at GRAMMAR_FAR) */
    int root;
};

/* Whether code point c is matched by the GE_CHAR element e. */
static inline bool gelem_match(const grammar *g, const gelem *e, uint32_t c)
{
    const grange *r = g->ranges + e->a;
    uint32_t lo = 0, hi = e->n;
    while (lo < hi) { /* ranges are sorted: binary search */
        uint32_t mid = (lo + hi) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return !e->neg;
    }
    return e->neg;
}

/* Whether some code point in lo..hi is matched by e. */
static inline bool gelem_match_any(const grammar *g, const gelem *e, uint32_t lo, uint32_t hi)
{
    const grange *r = g->ranges + e->a;
    if (!e->neg) {
        for (uint32_t i = 0; i < e->n; i++)
            if (r[i].lo <= hi && r[i].hi >= lo) return true;
        return false;
    }
    /* negated: unless one merged range covers all of lo..hi, something is left */
    for (uint32_t i = 0; i < e->n; i++)
        if (r[i].lo <= lo && r[i].hi >= hi) return false;
    return true;
}

#endif
