/* session.c — one sequence: its KV cache, the forward-pass workspace and the logits of the last
 * evaluation. Prompts are run in chunks of n_batch tokens; nothing is allocated per token.
 *
 * With the model's MTP module (model.h) the session also keeps the MTP layer's KV rows and drafts
 * one token per generation step (speculative decoding, r1_session_generate_batch): the MTP row of
 * position p needs the main model's hidden state of p and the token at p + 1, so rows lag the main
 * cache; `hq` holds the hidden states of positions [mtp_n, n_past) not yet run through the MTP
 * layer (normally one or two), `ids` the tokens of the cache. */
#include "model/forward.h"

#include "base/err.h"
#include "base/mmap.h"
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

struct r1_session {
    r1_model *model;
    r1_session_params params;
    r1_matmul_observer observer; /* r1_session_set_matmul_observer */
    void *observer_user;
    kv_cache kv;
    size_t kv_bytes; /* kv.data's size (mem_huge_alloc) */
    workspace ws;
    int n_past;
    float *logits; /* (n_batch or 1, n_vocab) */
    int n_logit_rows;
    float *batch_logits; /* (batch_cap, n_vocab): decode_batch output when this session leads */
    int batch_cap;
    /* MTP (see the top of the file); all NULL / 0 when off */
    bool mtp;
    int32_t *ids;        /* (n_ctx) tokens at positions [0, n_past) */
    float *hq;           /* (hq_cap, dim) hidden states of positions [mtp_n, mtp_n + hq_n) */
    int hq_cap, hq_n;    /* hq_n == n_past - mtp_n, or 0 with h_missing */
    int mtp_n;           /* MTP rows valid for positions [0, mtp_n) */
    bool h_missing;      /* after a rewind: position n_past - 1 must be run again for its state */
    int32_t pending;     /* token already chosen for position n_past by a rejected draft, or -1 */
    float *hbuf;         /* (n_batch, dim) hidden states out of a forward pass */
    float *batch_hidden; /* (batch_cap, dim): hidden states of a batch this session leads */
    float *step_logits;  /* (2, n_vocab): what out[0] and out[1] of the last step were drawn from */
    uint64_t n_drafted, n_accepted;
};

r1_session_params r1_session_params_default(void)
{
    return (r1_session_params){.n_ctx = 0, .n_batch = 0, .all_logits = false};
}

r1_status r1_session_new(r1_model *model, const r1_session_params *params, r1_session **out_session,
                         char *err)
{
    r1_session_params p = params ? *params : r1_session_params_default();
    const model_config *c = &model->cfg;
    if ((unsigned)p.cache_type > R1_CACHE_Q8_0)
        return err_set(err, R1_ERR_INVALID_ARG, "unknown KV cache type %d", (int)p.cache_type);
    if (p.n_ctx < 0 || p.n_batch < 0)
        return err_set(err, R1_ERR_INVALID_ARG, "n_ctx and n_batch must not be negative");
    if (p.n_ctx == 0) p.n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    if (p.n_ctx > (1 << 22))
        return err_set(err, R1_ERR_INVALID_ARG, "n_ctx %d is too large", p.n_ctx);
    if (p.n_batch == 0) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    r1_session *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, R1_ERR_NOMEM, "out of memory");
    s->model = model;
    s->params = p;
    s->kv.dist_id = -1;
    s->kv.n_ctx = p.n_ctx;
    s->kv.row_floats = model_kv_row_floats(c);
    s->kv.type = p.cache_type == R1_CACHE_F16    ? DTYPE_F16
                 : p.cache_type == R1_CACHE_BF16 ? DTYPE_BF16
                 : p.cache_type == R1_CACHE_Q8_0 ? DTYPE_Q8_0
                                                 : DTYPE_F32;
    if (s->kv.type == DTYPE_Q8_0 && !model_kv_q8_ok(c)) {
        free(s);
        return err_set(err, R1_ERR_UNSUPPORTED,
                       "a Q8_0 KV cache needs the cached vectors in whole blocks of 32 values");
    }
    s->kv.row_bytes = kv_cache_bytes(&s->kv, s->kv.row_floats);
    if ((unsigned)p.mtp > R1_MTP_ON)
        return err_set(err, R1_ERR_INVALID_ARG, "unknown MTP mode %d", (int)p.mtp);
    if (p.mtp == R1_MTP_ON && !model->n_mtp)
        return err_set(err, R1_ERR_UNSUPPORTED, "the model has no multi-token-prediction module");
    /* all_logits sessions score text; drafting is for generation */
    s->mtp = model->n_mtp && p.mtp != R1_MTP_OFF && !p.all_logits;
    s->pending = -1;
    int n_cache_layers = c->n_layers + (s->mtp ? 1 : 0);
    size_t kv_bytes = (size_t)n_cache_layers * (size_t)p.n_ctx * s->kv.row_bytes;
    if (!kv_bytes) kv_bytes = 1;           /* a rank of a split model without KV heads */
    s->kv.data = mem_huge_alloc(kv_bytes); /* read whole every token: huge pages */
    s->kv_bytes = kv_bytes;
    int rows = p.all_logits ? p.n_batch : 1;
    s->logits = malloc((size_t)rows * (size_t)c->n_vocab * sizeof(float));
    s->step_logits = malloc(2 * (size_t)c->n_vocab * sizeof(float));
    bool ok = s->kv.data && s->logits && s->step_logits;
    if (ok && s->mtp) {
        s->hq_cap = p.n_batch + 2;
        s->ids = malloc((size_t)p.n_ctx * sizeof *s->ids);
        s->hq = malloc((size_t)s->hq_cap * (size_t)c->dim * sizeof(float));
        s->hbuf = malloc((size_t)p.n_batch * (size_t)c->dim * sizeof(float));
        ok = s->ids && s->hq && s->hbuf;
    }
    r1_status st = R1_OK;
    if (!ok)
        st = err_set(err, R1_ERR_NOMEM, "cannot allocate a KV cache of %zu MiB for %d tokens",
                     kv_bytes >> 20, p.n_ctx);
    else
        st = workspace_init(&s->ws, model, p.n_batch, p.n_ctx, err);
    if (st) {
        mem_huge_free(s->kv.data, kv_bytes);
        free(s->logits);
        free(s->step_logits);
        free(s->ids);
        free(s->hq);
        free(s->hbuf);
        free(s);
        return st;
    }
    if (dist_is_split(model->dist) && model->dist->rank == 0) {
        /* the workers create the same session, under the same id */
        pthread_mutex_lock(&model->forward_mu);
        s->kv.dist_id = s->ws.dist_id = model->next_session_id++;
        dist_cmd cmd = {.op = DIST_CMD_SESSION_NEW,
                        .id = s->kv.dist_id,
                        .a = p.n_ctx,
                        .b = p.n_batch,
                        .c = (int32_t)p.cache_type,
                        .d = p.all_logits,
                        .e = (int32_t)p.mtp};
        bool ok = dist_bcast(model->dist, &cmd, sizeof cmd, false);
        pthread_mutex_unlock(&model->forward_mu);
        if (!ok) {
            r1_session_free(s);
            return err_set(err, R1_ERR_IO, "%s", r1_dist_failure(model->dist));
        }
    }
    *out_session = s;
    return R1_OK;
}

void r1_session_free(r1_session *s)
{
    if (!s) return;
    r1_model *m = s->model;
    if (dist_is_split(m->dist) && m->dist->rank == 0 && s->kv.dist_id >= 0) {
        pthread_mutex_lock(&m->forward_mu);
        dist_cmd cmd = {.op = DIST_CMD_SESSION_FREE, .id = s->kv.dist_id};
        dist_bcast(m->dist, &cmd, sizeof cmd, false);
        pthread_mutex_unlock(&m->forward_mu);
    }
    workspace_free(&s->ws);
    mem_huge_free(s->kv.data, s->kv_bytes);
    free(s->logits);
    free(s->batch_logits);
    free(s->hbuf);
    free(s->batch_hidden);
    free(s->step_logits);
    free(s->ids);
    free(s->hq);
    free(s);
}

/* ---- MTP bookkeeping ------------------------------------------------------------------------ */

/* Run the MTP layer over the pairs of positions [mtp_n, n_past − 1) (hidden state from hq, the
 * token after it from ids), keeping the state of n_past − 1, whose next token is not known yet.
 * Caller holds the forward mutex. */
static void mtp_flush(r1_session *s)
{
    const r1_model *m = s->model;
    int64_t E = m->cfg.dim;
    int end = s->n_past - 1;
    while (s->mtp_n < end) {
        int n = end - s->mtp_n < s->params.n_batch ? end - s->mtp_n : s->params.n_batch;
        int pos[n];
        int32_t tok[n];
        kv_cache *kv[n];
        for (int i = 0; i < n; i++) {
            pos[i] = s->mtp_n + i;
            tok[i] = s->ids[s->mtp_n + i + 1];
            kv[i] = &s->kv;
        }
        model_forward_mtp(m, kv, pos, &s->ws, s->hq, tok, n, NULL);
        s->mtp_n += n;
        s->hq_n -= n;
        memmove(s->hq, s->hq + (size_t)n * E, (size_t)s->hq_n * (size_t)E * sizeof(float));
    }
}

/* Append the hidden states of n new tokens (positions n_past − n ..) to hq, flushing to the MTP
 * layer when hq would overflow. Caller holds the forward mutex and has advanced n_past. */
static void mtp_push(r1_session *s, const float *hidden, int n)
{
    int64_t E = s->model->cfg.dim;
    while (n > 0) {
        if (s->hq_n == s->hq_cap) {
            /* flush what the next pairs' tokens allow: everything but the newest state */
            int n_past = s->n_past;
            s->n_past = s->mtp_n + s->hq_n;
            mtp_flush(s);
            s->n_past = n_past;
        }
        int k = s->hq_cap - s->hq_n < n ? s->hq_cap - s->hq_n : n;
        memcpy(s->hq + (size_t)s->hq_n * E, hidden, (size_t)k * (size_t)E * sizeof(float));
        s->hq_n += k;
        hidden += (size_t)k * E;
        n -= k;
    }
}

static void observe_matmul(void *ud, const wmat *w, int64_t mat, const float *x, int64_t ldx,
                           int64_t n_tok)
{
    const r1_session *s = ud;
    if (w->name) s->observer(s->observer_user, w->name, mat, w->n_mats, w->n_cols, x, ldx, n_tok);
}

void r1_session_set_matmul_observer(r1_session *s, r1_matmul_observer observer, void *user)
{
    s->observer = observer;
    s->observer_user = user;
    s->ws.kc.observe = observer ? observe_matmul : NULL;
    s->ws.kc.observe_ud = observer ? s : NULL;
}

/* After a forward pass of a split model: whether every rank took part (dist/dist.h). */
static r1_status dist_status(const r1_model *m, char *err)
{
    const char *failure = r1_dist_failure(m->dist);
    return failure ? err_set(err, R1_ERR_IO, "%s", failure) : R1_OK;
}

r1_status r1_session_eval(r1_session *s, const int32_t *tokens, int n_tokens, char *err)
{
    const model_config *c = &s->model->cfg;
    if (n_tokens <= 0 || !tokens) return err_set(err, R1_ERR_INVALID_ARG, "no tokens to evaluate");
    if (s->params.all_logits && n_tokens > s->params.n_batch)
        return err_set(err, R1_ERR_INVALID_ARG, "all_logits: %d tokens exceed the batch size %d",
                       n_tokens, s->params.n_batch);
    if (n_tokens > s->kv.n_ctx - s->n_past)
        return err_set(err, R1_ERR_CONTEXT_FULL,
                       "context full: %d tokens cached + %d new exceed the context size %d",
                       s->n_past, n_tokens, s->kv.n_ctx);
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
            return err_set(err, R1_ERR_INVALID_ARG, "token id %d at index %d is outside [0, %d)",
                           tokens[i], i, c->n_vocab);
    s->pending = -1;
    if (s->mtp) {
        memmove(s->ids + s->n_past, tokens, (size_t)n_tokens * sizeof *tokens);
        if (s->h_missing) {
            /* the state of the last kept position was dropped by a rewind: run it again (its KV
             * rows come out the same) */
            s->h_missing = false;
            s->n_past--;
            return r1_session_eval(s, s->ids + s->n_past, n_tokens + 1, err);
        }
    }
    for (int done = 0; done < n_tokens;) {
        int n = n_tokens - done < s->params.n_batch ? n_tokens - done : s->params.n_batch;
        bool last = done + n == n_tokens;
        int n_out = s->params.all_logits ? n : 1;
        /* only the last chunk's logits are kept */
        pthread_mutex_lock(&s->model->forward_mu);
        model_forward(s->model, &s->kv, &s->ws, tokens + done, n, s->n_past, s->logits,
                      last ? n_out : 1, s->mtp ? s->hbuf : NULL);
        s->n_past += n;
        if (s->mtp) mtp_push(s, s->hbuf, n);
        pthread_mutex_unlock(&s->model->forward_mu);
        s->n_logit_rows = last ? n_out : 1;
        done += n;
    }
    return dist_status(s->model, err);
}

const float *r1_session_logits(const r1_session *s)
{
    return s->logits + (size_t)(s->n_logit_rows - 1) * (size_t)s->model->cfg.n_vocab;
}

const float *r1_session_logits_all(const r1_session *s, int *out_n_rows)
{
    if (out_n_rows) *out_n_rows = s->n_logit_rows;
    return s->logits;
}

int r1_session_n_past(const r1_session *s)
{
    return s->n_past;
}

int r1_session_n_ctx(const r1_session *s)
{
    return s->kv.n_ctx;
}

r1_status r1_session_rewind(r1_session *s, int n_keep)
{
    if (n_keep < 0 || n_keep > s->n_past) return R1_ERR_INVALID_ARG;
    if (n_keep < s->n_past) s->pending = -1;
    if (s->mtp && n_keep < s->n_past) {
        /* MTP row p depends on the token at p + 1: rows from n_keep − 1 on may change */
        int keep_rows = n_keep > 0 ? n_keep - 1 : 0;
        if (s->mtp_n <= keep_rows) {
            s->hq_n = n_keep - s->mtp_n; /* hq still covers [mtp_n, n_keep) */
        } else {
            s->mtp_n = keep_rows;
            s->hq_n = 0;
            s->h_missing = n_keep > 0;
        }
    }
    s->n_past = n_keep;
    return R1_OK;
}

/* Grow the batch buffers of the leading session to `rows` rows. */
static r1_status batch_reserve(r1_session *s0, int rows, char *err)
{
    const model_config *c = &s0->model->cfg;
    if (s0->batch_cap >= rows) return R1_OK;
    float *b = realloc(s0->batch_logits, (size_t)rows * (size_t)c->n_vocab * sizeof(float));
    if (b) s0->batch_logits = b;
    float *h = b ? realloc(s0->batch_hidden, (size_t)rows * (size_t)c->dim * sizeof(float)) : NULL;
    if (h) s0->batch_hidden = h;
    if (!b || !h) return err_set(err, R1_ERR_NOMEM, "out of memory for %d rows of logits", rows);
    s0->batch_cap = rows;
    return R1_OK;
}

/* Check a batch of sessions: distinct, one model, room for `need` more tokens, and more than
 * n_batch of sessions[0] tokens in all. */
static r1_status batch_check(r1_session *const *sessions, int n, int need, char *err)
{
    if (n <= 0 || !sessions) return err_set(err, R1_ERR_INVALID_ARG, "batch: no sessions");
    const r1_model *m = sessions[0] ? sessions[0]->model : NULL;
    if (n > sessions[0]->params.n_batch)
        return err_set(err, R1_ERR_INVALID_ARG, "batch: %d sessions exceed n_batch %d", n,
                       sessions[0]->params.n_batch);
    for (int i = 0; i < n; i++) {
        const r1_session *s = sessions[i];
        if (!s || s->model != m)
            return err_set(err, R1_ERR_INVALID_ARG, "batch: session %d has another model", i);
        for (int j = 0; j < i; j++)
            if (sessions[j] == s)
                return err_set(err, R1_ERR_INVALID_ARG, "batch: session %d given twice", i);
        if (s->n_past + need > s->kv.n_ctx)
            return err_set(err, R1_ERR_CONTEXT_FULL, "context full: session %d holds %d tokens", i,
                           s->n_past);
    }
    return R1_OK;
}

/* After the main model ran tokens[0..k) at positions n_past..: advance, and keep their hidden
 * states for the MTP layer. Caller holds the forward mutex. */
static void after_main(r1_session *s, const int32_t *tokens, int k, const float *hidden)
{
    if (!s->mtp) {
        s->n_past += k;
        return;
    }
    memcpy(s->ids + s->n_past, tokens, (size_t)k * sizeof *tokens);
    s->n_past += k;
    if (s->h_missing) {
        /* the state before these tokens was dropped by a rewind: the MTP row of position
         * n_past − k − 1 stays stale (this only lowers acceptance; verification is exact) */
        s->h_missing = false;
        s->mtp_n = s->n_past - k;
        s->hq_n = 0;
    }
    mtp_push(s, hidden, k);
}

r1_status r1_session_decode_batch(r1_session *const *sessions, const int32_t *tokens, int n,
                                  char *err)
{
    r1_status st;
    if (!tokens) return err_set(err, R1_ERR_INVALID_ARG, "decode_batch: no tokens");
    if ((st = batch_check(sessions, n, 1, err))) return st;
    r1_session *s0 = sessions[0];
    const r1_model *m = s0->model;
    int n_vocab = m->cfg.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return err_set(err, R1_ERR_INVALID_ARG, "token id %d at index %d is outside [0, %d)",
                           tokens[i], i, n_vocab);
    if ((st = batch_reserve(s0, n, err))) return st;
    kv_cache *kvs[n];
    int pos[n];
    bool any_mtp = false;
    for (int i = 0; i < n; i++) {
        kvs[i] = &sessions[i]->kv;
        pos[i] = sessions[i]->n_past;
        any_mtp |= sessions[i]->mtp;
    }
    pthread_mutex_lock(&s0->model->forward_mu);
    model_forward_batch(m, kvs, pos, &s0->ws, tokens, n, s0->batch_logits,
                        any_mtp ? s0->batch_hidden : NULL);
    for (int i = 0; i < n; i++) {
        r1_session *s = sessions[i];
        memcpy(s->logits, s0->batch_logits + (size_t)i * (size_t)n_vocab,
               (size_t)n_vocab * sizeof(float));
        s->n_logit_rows = 1;
        s->pending = -1;
        after_main(s, &tokens[i], 1, s0->batch_hidden + (size_t)i * (size_t)m->cfg.dim);
    }
    pthread_mutex_unlock(&s0->model->forward_mu);
    return dist_status(m, err);
}

static int32_t argmax_row(const float *v, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

r1_status r1_session_generate_batch(r1_session *const *sessions, r1_sampler *const *samplers, int n,
                                    int32_t *out, int *n_out, char *err)
{
    r1_status st;
    if (!samplers || !out || !n_out) return err_set(err, R1_ERR_INVALID_ARG, "generate: no output");
    if ((st = batch_check(sessions, n, 1, err))) return st;
    r1_session *s0 = sessions[0];
    const r1_model *m = s0->model;
    int n_vocab = m->cfg.n_vocab;
    int64_t E = m->cfg.dim;
    for (int i = 0; i < n; i++)
        if (sessions[i]->n_past == 0 || !samplers[i])
            return err_set(err, R1_ERR_INVALID_ARG, "generate: session %d has no prompt", i);
    if ((st = batch_reserve(s0, 2 * n, err))) return st;

    /* 1. the next token of each sequence, and whether it gets a draft */
    int32_t tok[2 * n];
    bool draft[n];
    int n_mtp_rows = 0, n_drafts = 0, n_batch = s0->params.n_batch;
    pthread_mutex_lock(&s0->model->forward_mu);
    for (int i = 0; i < n; i++) {
        r1_session *s = sessions[i];
        const float *cur = r1_session_logits(s);
        memcpy(s->step_logits, cur, (size_t)n_vocab * sizeof(float));
        tok[2 * i] = s->pending >= 0 ? s->pending : r1_sampler_sample(samplers[i], cur);
        s->pending = -1;
        /* rows of the passes below: n + n_drafts tokens, ≤ 2 MTP pairs per draft */
        draft[i] = s->mtp && !s->h_missing && s->n_past + 2 <= s->kv.n_ctx &&
                   n + n_drafts + 1 <= n_batch && 2 * (n_drafts + 1) <= n_batch;
        n_drafts += draft[i];
        if (draft[i] && s->hq_n > 2) {
            /* after a prompt or plain decoding steps: bring the MTP rows up to date first */
            mtp_flush(s);
        }
        if (draft[i]) n_mtp_rows += s->hq_n;
    }

    /* 2. draft: the MTP layer over every sequence's pending pairs, the last with the new token */
    if (n_mtp_rows > 0) {
        kv_cache *kvs[n_mtp_rows];
        int pos[n_mtp_rows];
        int32_t ids[n_mtp_rows];
        float *hid = s0->batch_hidden; /* (n_mtp_rows ≤ 2n, dim) */
        int r = 0;
        for (int i = 0; i < n; i++) {
            r1_session *s = sessions[i];
            if (!draft[i]) continue;
            for (int k = 0; k < s->hq_n; k++, r++) {
                int p = s->mtp_n + k;
                kvs[r] = &s->kv;
                pos[r] = p;
                ids[r] = p == s->n_past - 1 ? tok[2 * i] : s->ids[p + 1];
                memcpy(hid + (size_t)r * E, s->hq + (size_t)k * E, (size_t)E * sizeof(float));
            }
        }
        model_forward_mtp(m, kvs, pos, &s0->ws, hid, ids, n_mtp_rows, s0->batch_logits);
        r = 0;
        for (int i = 0; i < n; i++) {
            r1_session *s = sessions[i];
            if (!draft[i]) continue;
            r += s->hq_n;
            tok[2 * i + 1] = argmax_row(s0->batch_logits + (size_t)(r - 1) * n_vocab, n_vocab);
            s->mtp_n = s->n_past;
            s->hq_n = 0;
        }
    }

    /* 3. verify: each sequence's token and its draft in one forward pass of the main model */
    int n_rows = 0;
    kv_cache *kvs[2 * n];
    int pos[2 * n], row0[n];
    int32_t toks[2 * n];
    for (int i = 0; i < n; i++) {
        r1_session *s = sessions[i];
        row0[i] = n_rows;
        for (int k = 0; k < (draft[i] ? 2 : 1); k++, n_rows++) {
            kvs[n_rows] = &s->kv;
            pos[n_rows] = s->n_past + k;
            toks[n_rows] = tok[2 * i + k];
        }
    }
    model_forward_batch(m, kvs, pos, &s0->ws, toks, n_rows, s0->batch_logits, s0->batch_hidden);

    /* 4. accept or reject each draft by the rule that keeps the sampler's distribution */
    for (int i = 0; i < n; i++) {
        r1_session *s = sessions[i];
        const float *l0 = s0->batch_logits + (size_t)row0[i] * n_vocab;
        const float *h0 = s0->batch_hidden + (size_t)row0[i] * E;
        int k = 1;
        out[2 * i] = tok[2 * i];
        if (draft[i]) {
            bool ok;
            int32_t next = r1_sampler_sample_draft(samplers[i], l0, tok[2 * i + 1], &ok);
            s->n_drafted++;
            memcpy(s->step_logits + n_vocab, l0, (size_t)n_vocab * sizeof(float));
            if (ok) {
                s->n_accepted++;
                out[2 * i + 1] = next;
                k = 2;
            } else {
                s->pending = next; /* drawn from p without the draft: the next step emits it */
            }
        }
        after_main(s, &toks[row0[i]], k, h0);
        memcpy(s->logits, l0 + (size_t)(k - 1) * n_vocab, (size_t)n_vocab * sizeof(float));
        s->n_logit_rows = 1;
        n_out[i] = k;
    }
    pthread_mutex_unlock(&s0->model->forward_mu);
    return dist_status(m, err);
}

r1_status r1_session_generate(r1_session *s, r1_sampler *sampler, int32_t out[2], int *n_out,
                              char *err)
{
    return r1_session_generate_batch(&s, &sampler, 1, out, n_out, err);
}

const float *r1_session_step_logits(const r1_session *s, int i)
{
    return s->step_logits + (size_t)(i ? 1 : 0) * (size_t)s->model->cfg.n_vocab;
}

void r1_session_mtp_stats(const r1_session *s, uint64_t *n_drafted, uint64_t *n_accepted)
{
    if (n_drafted) *n_drafted = s->n_drafted;
    if (n_accepted) *n_accepted = s->n_accepted;
}

bool r1_session_has_mtp(const r1_session *s)
{
    return s->mtp;
}

/* ---- the worker loop of a split model ------------------------------------------------------- */

r1_status r1_dist_worker_run(r1_model *m, char *err)
{
    r1_dist *d = m->dist;
    if (!dist_is_split(d) || d->rank == 0)
        return err_set(err, R1_ERR_INVALID_ARG,
                       "r1_dist_worker_run: not a worker of a split model");
    r1_session **by_id = NULL; /* rank 0's sessions, by the id it gave them */
    int n_ids = 0;
    float *hidden = NULL;
    size_t hidden_cap = 0;
    r1_status st = R1_OK;
    while (st == R1_OK) {
        dist_cmd cmd;
        if (!dist_bcast(d, &cmd, sizeof cmd, true) || cmd.op == DIST_CMD_QUIT) break;
        if (cmd.op == DIST_CMD_SESSION_NEW) {
            if (cmd.id < 0 || cmd.id > (1 << 24)) {
                st = err_set(err, R1_ERR_FORMAT, "rank %d: bad session id %d", d->rank, cmd.id);
                break;
            }
            if (cmd.id >= n_ids) {
                int n = cmd.id + 16;
                r1_session **grown = realloc(by_id, (size_t)n * sizeof *grown);
                if (!grown) {
                    st = err_set(err, R1_ERR_NOMEM, "rank %d: out of memory", d->rank);
                    break;
                }
                memset(grown + n_ids, 0, (size_t)(n - n_ids) * sizeof *grown);
                by_id = grown;
                n_ids = n;
            }
            r1_session_params p = {.n_ctx = cmd.a,
                                   .n_batch = cmd.b,
                                   .cache_type = (r1_cache_type)cmd.c,
                                   .all_logits = cmd.d != 0,
                                   .mtp = (r1_mtp_mode)cmd.e};
            if ((st = r1_session_new(m, &p, &by_id[cmd.id], err))) {
                err_prefix(err, "rank %d", d->rank);
                break;
            }
            by_id[cmd.id]->kv.dist_id = by_id[cmd.id]->ws.dist_id = cmd.id;
            continue;
        }
        r1_session *lead = cmd.id >= 0 && cmd.id < n_ids ? by_id[cmd.id] : NULL;
        if (cmd.op == DIST_CMD_SESSION_FREE && lead) {
            r1_session_free(lead);
            by_id[cmd.id] = NULL;
            continue;
        }
        if ((cmd.op != DIST_CMD_FORWARD && cmd.op != DIST_CMD_FORWARD_MTP) || !lead ||
            cmd.n_tok < 1 || cmd.n_tok > lead->params.n_batch || cmd.n_out < 0 ||
            cmd.n_out > cmd.n_tok) {
            st = err_set(err, R1_ERR_FORMAT,
                         "rank %d: unexpected command %d (session %d, %d tokens)", d->rank, cmd.op,
                         cmd.id, cmd.n_tok);
            break;
        }
        workspace *ws = &lead->ws;
        int n = cmd.n_tok;
        if (!dist_bcast(d, ws->dist_msg, 3 * (size_t)n * sizeof(int32_t), false)) break;
        for (int t = 0; t < n && st == R1_OK; t++) {
            int id = ws->dist_msg[2 * n + t];
            if (id < 0 || id >= n_ids || !by_id[id])
                st = err_set(err, R1_ERR_FORMAT, "rank %d: unknown session %d", d->rank, id);
            else {
                ws->kvs[t] = &by_id[id]->kv;
                ws->positions[t] = ws->dist_msg[n + t];
            }
        }
        if (st) break;
        if (cmd.op == DIST_CMD_FORWARD) {
            model_forward_ws(m, ws, ws->dist_msg, n, NULL, cmd.n_out, NULL);
            continue;
        }
        size_t need = (size_t)n * (size_t)m->cfg.dim;
        if (need > hidden_cap) {
            float *grown = realloc(hidden, need * sizeof *grown);
            if (!grown) {
                st = err_set(err, R1_ERR_NOMEM, "rank %d: out of memory", d->rank);
                break;
            }
            hidden = grown;
            hidden_cap = need;
        }
        if (!dist_bcast(d, hidden, need * sizeof(float), false)) break;
        model_forward_mtp_ws(m, ws, hidden, ws->dist_msg, n, NULL, cmd.n_out);
    }
    for (int i = 0; i < n_ids; i++) r1_session_free(by_id[i]);
    free(by_id);
    free(hidden);
    if (st == R1_OK && r1_dist_failure(d)) st = err_set(err, R1_ERR_IO, "%s", r1_dist_failure(d));
    return st;
}
