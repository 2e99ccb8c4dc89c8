/* test_api.c — the public text API of r1.h on a fixture model: r1_tokenize gives the ids of the
 * tokenizer module (BOS added once, when the model asks for it), r1_detokenize inverts it, and a
 * whole generate loop through the public API alone works (tokenize → eval → sample → decode). */
#include "r1.h"
#include "test.h"

int main(void)
{
    char path[512], err[R1_ERR_MAX];
    snprintf(path, sizeof path, "%s/models/ds3-new-q8_0.gguf", R1_TEST_DATA);
    r1_model *m = NULL;
    CHECKF(r1_model_load(path, NULL, &m, err) == R1_OK, "%s", err);
    if (!m) return test_finish();
    r1_model_info info;
    r1_model_get_info(m, &info);

    const char *text = "Hello world 123";
    int32_t *ids = NULL, *ids_bos = NULL;
    size_t n = 0, n_bos = 0;
    CHECK(r1_tokenize(m, text, strlen(text), false, false, &ids, &n, err) == R1_OK);
    CHECK(r1_tokenize(m, text, strlen(text), true, false, &ids_bos, &n_bos, err) == R1_OK);
    CHECK(n > 0 && n_bos == n + 1 && ids_bos[0] == info.bos_id);
    CHECK(n_bos == n + 1 && !memcmp(ids_bos + 1, ids, n * sizeof *ids));
    char *back = NULL;
    CHECK(r1_detokenize(m, ids_bos, n_bos, &back, err) == R1_OK);
    CHECKF(back && !strcmp(back, text), "round trip gave '%s'", back ? back : "(null)");
    free(back);

    /* generate a few tokens through the public API only */
    r1_session *s = NULL;
    r1_sampler *smp = NULL;
    r1_sampler_params spp = r1_sampler_params_default();
    spp.seed = 7;
    CHECK(r1_session_new(m, NULL, &s, err) == R1_OK);
    CHECK(r1_sampler_new(&spp, info.n_vocab, &smp, err) == R1_OK);
    CHECK(r1_session_eval(s, ids_bos, (int)n_bos, err) == R1_OK);
    int32_t out[8];
    for (int i = 0; i < 8; i++) {
        out[i] = r1_sampler_sample(smp, r1_session_logits(s));
        CHECK(out[i] >= 0 && out[i] < info.n_vocab);
        CHECK(r1_session_eval(s, &out[i], 1, err) == R1_OK);
    }
    CHECK(r1_session_n_past(s) == (int)n_bos + 8);
    char *gen = NULL;
    CHECK(r1_detokenize(m, out, 8, &gen, err) == R1_OK && gen != NULL);
    free(gen);
    r1_sampler_free(smp);
    r1_session_free(s);
    free(ids);
    free(ids_bos);
    r1_model_free(m);
    return test_finish();
}
