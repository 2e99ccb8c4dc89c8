/* session.c — one sequence: its KV cache, the forward-pass workspace and the logits of the last
 * evaluation. Prompts are run in chunks of n_batch tokens; nothing is allocated per token. */
#include "model/forward.h"

#include "base/err.h"

#include <stdlib.h>
#include <string.h>

struct r1_session {
    r1_model *model;
    r1_session_params params;
    kv_cache kv;
    workspace ws;
    int n_past;
    float *logits; /* (n_batch or 1, n_vocab) */
    int n_logit_rows;
    float *batch_logits; /* (batch_cap, n_vocab): decode_batch output when this session leads */
    int batch_cap;
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
    if ((unsigned)p.cache_type > R1_CACHE_BF16)
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
    s->kv.n_ctx = p.n_ctx;
    s->kv.row_floats = model_kv_row_floats(c);
    s->kv.type = p.cache_type == R1_CACHE_F16    ? DTYPE_F16
                 : p.cache_type == R1_CACHE_BF16 ? DTYPE_BF16
                                                 : DTYPE_F32;
    s->kv.elem_bytes = s->kv.type == DTYPE_F32 ? 4 : 2;
    size_t kv_floats = (size_t)c->n_layers * (size_t)p.n_ctx * (size_t)s->kv.row_floats;
    s->kv.data = malloc(kv_floats * s->kv.elem_bytes);
    int rows = p.all_logits ? p.n_batch : 1;
    s->logits = malloc((size_t)rows * (size_t)c->n_vocab * sizeof(float));
    if (!s->kv.data || !s->logits) {
        size_t kv_bytes = kv_floats * s->kv.elem_bytes;
        free(s->kv.data);
        free(s->logits);
        free(s);
        return err_set(err, R1_ERR_NOMEM, "cannot allocate a KV cache of %zu MiB for %d tokens",
                       kv_bytes >> 20, p.n_ctx);
    }
    r1_status st = workspace_init(&s->ws, model, p.n_batch, p.n_ctx, err);
    if (st) {
        free(s->kv.data);
        free(s->logits);
        free(s);
        return st;
    }
    *out_session = s;
    return R1_OK;
}

void r1_session_free(r1_session *s)
{
    if (!s) return;
    workspace_free(&s->ws);
    free(s->kv.data);
    free(s->logits);
    free(s->batch_logits);
    free(s);
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
    for (int done = 0; done < n_tokens;) {
        int n = n_tokens - done < s->params.n_batch ? n_tokens - done : s->params.n_batch;
        bool last = done + n == n_tokens;
        int n_out = s->params.all_logits ? n : 1;
        /* only the last chunk's logits are kept */
        pthread_mutex_lock(&s->model->forward_mu);
        model_forward(s->model, &s->kv, &s->ws, tokens + done, n, s->n_past, s->logits,
                      last ? n_out : 1);
        pthread_mutex_unlock(&s->model->forward_mu);
        s->n_past += n;
        s->n_logit_rows = last ? n_out : 1;
        done += n;
    }
    return R1_OK;
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
    s->n_past = n_keep;
    return R1_OK;
}

r1_status r1_session_decode_batch(r1_session *const *sessions, const int32_t *tokens, int n,
                                  char *err)
{
    if (n <= 0 || !sessions || !tokens)
        return err_set(err, R1_ERR_INVALID_ARG, "decode_batch: no sessions");
    r1_session *s0 = sessions[0];
    const r1_model *m = s0->model;
    int n_vocab = m->cfg.n_vocab;
    if (n > s0->params.n_batch)
        return err_set(err, R1_ERR_INVALID_ARG, "decode_batch: %d sessions exceed n_batch %d", n,
                       s0->params.n_batch);
    for (int i = 0; i < n; i++) {
        const r1_session *s = sessions[i];
        if (!s || s->model != m)
            return err_set(err, R1_ERR_INVALID_ARG, "decode_batch: session %d has another model",
                           i);
        for (int j = 0; j < i; j++)
            if (sessions[j] == s)
                return err_set(err, R1_ERR_INVALID_ARG, "decode_batch: session %d given twice", i);
        if (s->n_past >= s->kv.n_ctx)
            return err_set(err, R1_ERR_CONTEXT_FULL, "context full: session %d holds %d tokens", i,
                           s->n_past);
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return err_set(err, R1_ERR_INVALID_ARG, "token id %d at index %d is outside [0, %d)",
                           tokens[i], i, n_vocab);
    }
    if (s0->batch_cap < n) {
        float *b = realloc(s0->batch_logits, (size_t)n * (size_t)n_vocab * sizeof(float));
        if (!b) return err_set(err, R1_ERR_NOMEM, "out of memory for %d rows of logits", n);
        s0->batch_logits = b;
        s0->batch_cap = n;
    }
    kv_cache *kvs[n];
    int pos[n];
    for (int i = 0; i < n; i++) {
        kvs[i] = &sessions[i]->kv;
        pos[i] = sessions[i]->n_past;
    }
    pthread_mutex_lock(&s0->model->forward_mu);
    model_forward_batch(m, kvs, pos, &s0->ws, tokens, n, s0->batch_logits);
    pthread_mutex_unlock(&s0->model->forward_mu);
    for (int i = 0; i < n; i++) {
        r1_session *s = sessions[i];
        memcpy(s->logits, s0->batch_logits + (size_t)i * (size_t)n_vocab,
               (size_t)n_vocab * sizeof(float));
        s->n_logit_rows = 1;
        s->n_past++;
    }
    return R1_OK;
}
