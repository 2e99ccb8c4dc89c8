/* imatrix.c — tools/imatrix.h: a calibration text through the model in chunks, every matmul's
 * input rows observed and summed into an importance matrix (model/imatrix.h), then saved. */
#include "tools/imatrix.h"

#include "model/imatrix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct im_state {
    imatrix *im;
    r1_status st;
} im_state;

static void observe(void *user, const char *tensor, int64_t mat, int64_t n_mats, int64_t n_cols,
                    const float *x, int64_t ldx, int64_t n_tok)
{
    im_state *s = user;
    if (s->st == R1_OK)
        s->st = imatrix_accumulate(s->im, tensor, n_mats, mat, n_cols, x, ldx, n_tok);
}

int tools_imatrix(r1_model *model, const char *text, size_t len, const tools_imatrix_options *o)
{
    char err[R1_ERR_MAX];
    int32_t *ids = NULL;
    size_t n_ids = 0;
    r1_session *s = NULL;
    im_state st = {imatrix_new(), R1_OK};
    int rc = 1;
    const char *text_path = o->text_path, *out = o->out;
    const int chunk = o->chunk, max_chunks = o->max_chunks;
    if (r1_tokenize(model, text, len, false, false, &ids, &n_ids, err)) {
        fprintf(stderr, "r1 imatrix: %s\n", err);
        goto done;
    }
    r1_model_info info;
    r1_model_get_info(model, &info);
    const int body = chunk - 1; /* each chunk: BOS + chunk - 1 tokens of the text */
    int64_t n_chunks = (int64_t)n_ids / body;
    if (max_chunks && n_chunks > max_chunks) n_chunks = max_chunks;
    if (n_chunks < 1 || !st.im) {
        fprintf(stderr, "r1 imatrix: %s has %zu tokens, fewer than one chunk of %d\n", text_path,
                n_ids, chunk);
        goto done;
    }
    /* MLA attends prompt chunks in its decompressed form, whose K projection is built at load
     * (no file tensor); the token-by-token absorbed form multiplies by attn_k_b itself, so its
     * statistics exist, as llama-imatrix's do (and r1 quantize can use them) */
    setenv("R1_PREFILL_ATTN", "tokenwise", 0);
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = chunk;
    sp.n_batch = chunk;
    if (r1_session_new(model, &sp, &s, err)) {
        fprintf(stderr, "r1 imatrix: %s\n", err);
        goto done;
    }
    r1_session_set_matmul_observer(s, observe, &st);
    const bool tty = isatty(2);
    int32_t *buf = malloc((size_t)chunk * sizeof *buf);
    for (int64_t c = 0; buf && c < n_chunks && st.st == R1_OK; c++) {
        buf[0] = info.bos_id >= 0 ? info.bos_id : ids[c * body];
        memcpy(buf + 1, ids + c * body, (size_t)body * sizeof *buf);
        r1_session_rewind(s, 0);
        if (r1_session_eval(s, buf, chunk, err)) {
            fprintf(stderr, "r1 imatrix: chunk %lld: %s\n", (long long)c, err);
            free(buf);
            goto done;
        }
        if (tty)
            fprintf(stderr, "\rr1 imatrix: chunk %lld/%lld", (long long)c + 1, (long long)n_chunks);
    }
    if (tty) fputc('\n', stderr);
    free(buf);
    if (st.st != R1_OK) {
        fprintf(stderr, "r1 imatrix: out of memory for the statistics\n");
        goto done;
    }
    imatrix_set_meta(st.im, n_chunks, chunk, text_path);
    if (imatrix_save(st.im, out, err)) {
        fprintf(stderr, "r1 imatrix: %s\n", err);
        goto done;
    }
    fprintf(stderr, "r1 imatrix: wrote %s: %lld tensors, %lld chunks of %d tokens\n", out,
            (long long)imatrix_n_entries(st.im), (long long)n_chunks, chunk);
    rc = 0;
done:
    r1_session_free(s);
    imatrix_free(st.im);
    free(ids);
    return rc;
}
