/* grammar.c — r1.h's constrained decoding: r1_grammar is a matcher (grammar/grammar.h) over the
 * model's vocabulary, plus the wait for </think> of reasoning models. The vocabulary trie is built
 * once per model, on first use, and freed with the model. */
#include "r1.h"

#include "base/err.h"
#include "grammar/grammar.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct r1_grammar {
    grammar *g;
    gmatch *m;
    const gvocab *v;
    int n_vocab;
    uint32_t *bits; /* (n_vocab bits) */
    bool after_think, thinking;
    int32_t think_end; /* id of </think>, or -1 */
    int32_t *ends;     /* the end-of-generation ids */
    int n_ends;
    int max_tokens, n_accepted; /* the budget (0: none) and the tokens taken */
    uint32_t start_dist;        /* fewest characters of a complete answer */
};

static pthread_mutex_t vocab_mu = PTHREAD_MUTEX_INITIALIZER;

/* The model's grammar vocabulary, built on first use. */
static r1_status model_vocab(const r1_model *model, const gvocab **out, char *err)
{
    if (!model || !model->tok)
        return err_set(err, R1_ERR_UNSUPPORTED, "grammar: the model has no vocabulary");
    r1_model *mm = (r1_model *)model; /* the lazily built cache is the only thing written */
    r1_status st = R1_OK;
    pthread_mutex_lock(&vocab_mu);
    if (!mm->grammar_vocab) {
        int n = mm->cfg.n_vocab, nt = tokenizer_n_vocab(mm->tok);
        const char **pieces = calloc((size_t)n, sizeof *pieces);
        size_t *lens = calloc((size_t)n, sizeof *lens);
        bool *is_end = calloc((size_t)n, sizeof *is_end);
        if (!pieces || !lens || !is_end) {
            st = err_set(err, R1_ERR_NOMEM, "out of memory");
        } else {
            for (int i = 0; i < n && i < nt; i++) {
                is_end[i] = r1_token_is_eog(model, i);
                token_type t = tokenizer_token_type(mm->tok, i);
                /* added and control tokens are markup, never text of the grammar */
                if (is_end[i] || t == TOKEN_TYPE_CONTROL || t == TOKEN_TYPE_USER_DEFINED ||
                    t == TOKEN_TYPE_UNUSED || t == TOKEN_TYPE_UNKNOWN)
                    continue;
                pieces[i] = tokenizer_token_piece(mm->tok, i, &lens[i]);
            }
            st = gvocab_new(n, pieces, lens, is_end, &mm->grammar_vocab, err);
        }
        free(pieces);
        free(lens);
        free(is_end);
    }
    if (st == R1_OK) *out = mm->grammar_vocab;
    pthread_mutex_unlock(&vocab_mu);
    return st;
}

r1_grammar_params r1_grammar_params_default(void)
{
    return (r1_grammar_params){.root = NULL, .after_think = false};
}

void r1_grammar_free(r1_grammar *gr)
{
    if (!gr) return;
    gmatch_free(gr->m);
    grammar_free(gr->g);
    free(gr->bits);
    free(gr->ends);
    free(gr);
}

/* Wrap a built grammar g (taken over) for the model. */
static r1_status wrap(const r1_model *model, grammar *g, const r1_grammar_params *params,
                      r1_grammar **out, char *err)
{
    const gvocab *v = NULL;
    r1_status st = model_vocab(model, &v, err);
    r1_grammar *gr = st == R1_OK ? calloc(1, sizeof *gr) : NULL;
    if (st == R1_OK && !gr) st = err_set(err, R1_ERR_NOMEM, "out of memory");
    if (st != R1_OK) {
        grammar_free(g);
        return st;
    }
    gr->g = g;
    gr->v = v;
    gr->n_vocab = gvocab_n_vocab(v);
    gr->bits = malloc((size_t)(gr->n_vocab + 31) / 32 * sizeof *gr->bits);
    gr->ends = malloc((size_t)gr->n_vocab * sizeof *gr->ends);
    if (!gr->bits || !gr->ends) {
        r1_grammar_free(gr);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < gr->n_vocab; i++)
        if (r1_token_is_eog(model, i)) gr->ends[gr->n_ends++] = i;
    gr->think_end = tokenizer_token_id(model->tok, "</think>", 8);
    gr->after_think = params && params->after_think && gr->think_end >= 0;
    gr->thinking = gr->after_think;
    gr->max_tokens = params && params->max_tokens > 0 ? params->max_tokens : 0;
    if ((st = gmatch_new(g, v, &gr->m, err)) != R1_OK) {
        r1_grammar_free(gr);
        return st;
    }
    gr->start_dist = gmatch_distance(gr->m);
    *out = gr;
    return R1_OK;
}

r1_status r1_grammar_new_gbnf(const r1_model *model, const char *gbnf,
                              const r1_grammar_params *params, r1_grammar **out, char *err)
{
    if (!model || !gbnf || !out) return err_set(err, R1_ERR_INVALID_ARG, "grammar: bad arguments");
    grammar *g;
    r1_status st = grammar_parse_gbnf(gbnf, strlen(gbnf), params ? params->root : NULL, &g, err);
    if (st != R1_OK) return st;
    return wrap(model, g, params, out, err);
}

r1_status r1_grammar_new_json_schema(const r1_model *model, const char *schema,
                                     const r1_grammar_params *params, r1_grammar **out, char *err)
{
    if (!model || !out) return err_set(err, R1_ERR_INVALID_ARG, "grammar: bad arguments");
    grammar *g;
    r1_status st = grammar_from_json_schema(schema, schema ? strlen(schema) : 0, &g, err);
    if (st != R1_OK) return st;
    return wrap(model, g, params, out, err);
}

r1_status r1_gbnf_check(const char *gbnf, const char *root, char *err)
{
    if (!gbnf) return err_set(err, R1_ERR_INVALID_ARG, "grammar: no text");
    grammar *g;
    r1_status st = grammar_parse_gbnf(gbnf, strlen(gbnf), root, &g, err);
    grammar_free(st == R1_OK ? g : NULL);
    return st;
}

r1_status r1_json_schema_to_gbnf(const char *schema, char **out_gbnf, char *err)
{
    return grammar_json_schema_to_gbnf(schema, schema ? strlen(schema) : 0, out_gbnf, err);
}

void r1_grammar_reset(r1_grammar *gr)
{
    if (!gr) return;
    gmatch_reset(gr->m);
    gr->thinking = gr->after_think;
    gr->n_accepted = 0;
}

r1_status r1_grammar_apply(r1_grammar *gr, float *logits, char *err)
{
    if (!gr || !logits) return err_set(err, R1_ERR_INVALID_ARG, "grammar: bad arguments");
    long left = gr->max_tokens ? (long)gr->max_tokens - gr->n_accepted : -1;
    if (gr->thinking) { /* the reasoning is free, but must be closed before the reply ends */
        if (left >= 0 && left <= (long)gr->start_dist + 3) {
            /* out of time: close the reasoning now (the shortest answer plus an end token and
             * </think> itself still fit) */
            float keep = logits[gr->think_end];
            for (int i = 0; i < gr->n_vocab; i++) logits[i] = -INFINITY;
            logits[gr->think_end] = isfinite(keep) ? keep : 0;
            return R1_OK;
        }
        for (int k = 0; k < gr->n_ends; k++) logits[gr->ends[k]] = -INFINITY;
        return R1_OK;
    }
    r1_status st = gmatch_mask(gr->m, gr->bits, err);
    if (st != R1_OK) return st;
    int words = (gr->n_vocab + 31) / 32;
    uint32_t dist = gmatch_distance(gr->m);
    if (left >= 0 && dist > 0 && left <= (long)dist + 2 && dist < GRAMMAR_FAR) {
        /* closing: keep only the tokens that shorten the way to the end; a byte-level vocabulary
         * always has one (the next character of a shortest completion) */
        for (int w = 0; w < words; w++)
            for (uint32_t b = gr->bits[w]; b; b &= b - 1) {
                int32_t id = w * 32 + __builtin_ctz(b);
                if (gmatch_token_distance(gr->m, id) >= dist) gr->bits[w] &= ~(1u << (id & 31));
            }
    }
    bool any = false;
    for (int w = 0; w < words; w++) {
        uint32_t b = gr->bits[w];
        any |= b != 0;
        if (b == 0xffffffffu) continue;
        int i0 = w * 32, i1 = i0 + 32 < gr->n_vocab ? i0 + 32 : gr->n_vocab;
        for (int i = i0; i < i1; i++)
            if (!(b >> (i - i0) & 1)) logits[i] = -INFINITY;
    }
    if (!any) /* the grammar's next character is in no token: stop rather than write garbage */
        for (int k = 0; k < gr->n_ends; k++) logits[gr->ends[k]] = 0;
    return R1_OK;
}

bool r1_grammar_accept(r1_grammar *gr, int32_t token)
{
    if (!gr || token < 0 || token >= gr->n_vocab) return false;
    if (gr->thinking) {
        for (int k = 0; k < gr->n_ends; k++)
            if (gr->ends[k] == token) return false;
        if (token == gr->think_end) gr->thinking = false;
        gr->n_accepted++;
        return true;
    }
    if (!gmatch_accept_token(gr->m, token)) return false;
    gr->n_accepted++;
    return true;
}

bool r1_grammar_is_complete(const r1_grammar *gr)
{
    return gr && !gr->thinking && gmatch_can_end(gr->m);
}
