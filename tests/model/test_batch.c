/* test_batch.c — r1_session_decode_batch: decoding one token for each of several sessions in one
 * forward pass gives exactly (bit for bit) the logits each session gets when decoded alone, for
 * every architecture; sessions at different depths mix freely; misuse is rejected. At a long
 * context, decoding on several threads equals one thread and the batched prompt. */
#include "r1.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

#define N_SEQ 5
#define STEPS 4

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static void check_model(const char *name, r1_cache_type cache)
{
    char path[512], err[R1_ERR_MAX];
    snprintf(path, sizeof path, "%s/models/%s.gguf", R1_TEST_DATA, name);
    r1_model *m = NULL;
    CHECKF(r1_model_load(path, NULL, &m, err) == R1_OK, "%s: %s", name, err);
    if (!m) return;
    r1_model_info info;
    r1_model_get_info(m, &info);
    int V = info.n_vocab;
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = 64;
    sp.cache_type = cache;
    r1_session *alone[N_SEQ], *batch[N_SEQ];
    int32_t next[N_SEQ];
    for (int i = 0; i < N_SEQ; i++) {
        CHECK(r1_session_new(m, &sp, &alone[i], err) == R1_OK);
        CHECK(r1_session_new(m, &sp, &batch[i], err) == R1_OK);
        int32_t prompt[16];
        int n = 3 + 2 * i; /* different depths */
        for (int j = 0; j < n; j++) prompt[j] = (int32_t)((7 * j + 13 * i + 1) % V);
        CHECK(r1_session_eval(alone[i], prompt, n, err) == R1_OK);
        CHECK(r1_session_eval(batch[i], prompt, n, err) == R1_OK);
        next[i] = argmax(r1_session_logits(alone[i]), V);
    }
    int same = 1;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < N_SEQ; i++) CHECK(r1_session_eval(alone[i], &next[i], 1, err) == R1_OK);
        CHECK(r1_session_decode_batch(batch, next, N_SEQ, err) == R1_OK);
        for (int i = 0; i < N_SEQ; i++) {
            same &= !memcmp(r1_session_logits(alone[i]), r1_session_logits(batch[i]),
                            (size_t)V * sizeof(float));
            same &= r1_session_n_past(alone[i]) == r1_session_n_past(batch[i]);
            next[i] = argmax(r1_session_logits(alone[i]), V);
        }
    }
    CHECKF(same, "%s (cache type %d): batched decode differs from decoding alone", name,
           (int)cache);

    /* misuse: a session twice, a token out of range, too many sessions; nothing changes */
    r1_session *twice[2] = {batch[0], batch[0]};
    int32_t toks[2] = {1, 2};
    int before = r1_session_n_past(batch[0]);
    CHECK(r1_session_decode_batch(twice, toks, 2, err) == R1_ERR_INVALID_ARG);
    int32_t bad[2] = {1, V};
    CHECK(r1_session_decode_batch(batch, bad, 2, err) == R1_ERR_INVALID_ARG);
    CHECK(r1_session_decode_batch(batch, toks, 0, err) == R1_ERR_INVALID_ARG);
    CHECK(r1_session_n_past(batch[0]) == before);
    for (int i = 0; i < N_SEQ; i++) {
        r1_session_free(alone[i]);
        r1_session_free(batch[i]);
    }
    r1_model_free(m);
}

/* A long context (2100 cached keys, or R1_TEST_LONG_KEYS): decoding on 3 threads gives a 1-thread
 * model's logits, and those of the same positions evaluated as one batch, bit for bit when both
 * attend the same way (form: R1_PREFILL_ATTN=tokenwise, the decode kernel and MLA's absorbed form,
 * or tiled, the prefill kernel and MLA's decompressed form; or NULL for the default, where the
 * prompt's chunks attend in tiles and single tokens token by token: then within 1e-4 of the largest
 * logit, fp32 rounding of a different summation order through 4 layers). The decompressed form
 * reads the latent rows back from the cache: with an fp16 cache too. */
static void check_long_context(const char *name, const char *form, r1_cache_type cache)
{
    if (form)
        setenv("R1_PREFILL_ATTN", form, 1);
    else
        unsetenv("R1_PREFILL_ATTN");
    char path[512], err[R1_ERR_MAX];
    snprintf(path, sizeof path, "%s/models/%s.gguf", R1_TEST_DATA, name);
    /* R1_TEST_LONG_KEYS shortens the context where the machine is emulated (tests/cross: qemu
     * runs this 160× slower); ≥ 100 still spans several 32-key tiles and the decompressed form */
    enum { N_PROMPT_MAX = 2100, N_DEC = 3 };
    const char *env = getenv("R1_TEST_LONG_KEYS");
    int N_PROMPT = env && atoi(env) >= 100 && atoi(env) <= N_PROMPT_MAX ? atoi(env) : N_PROMPT_MAX;
    r1_model *m1 = NULL, *m3 = NULL;
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    CHECKF(r1_model_load(path, &mp, &m1, err) == R1_OK, "%s: %s", name, err);
    mp.n_threads = 3;
    CHECKF(r1_model_load(path, &mp, &m3, err) == R1_OK, "%s: %s", name, err);
    if (!m1 || !m3) return;
    r1_model_info info;
    r1_model_get_info(m1, &info);
    int V = info.n_vocab;
    static int32_t ids[N_PROMPT_MAX + N_DEC];
    for (int j = 0; j < N_PROMPT + N_DEC; j++) ids[j] = (int32_t)((31 * j + 7) % V);
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = N_PROMPT + N_DEC + 8;
    sp.cache_type = cache;
    r1_session *whole = NULL, *dec1 = NULL, *dec3 = NULL;
    CHECK(r1_session_new(m1, &sp, &whole, err) == R1_OK);
    CHECK(r1_session_new(m1, &sp, &dec1, err) == R1_OK);
    CHECK(r1_session_new(m3, &sp, &dec3, err) == R1_OK);
    if (!whole || !dec1 || !dec3) return;
    CHECK(r1_session_eval(whole, ids, N_PROMPT + N_DEC, err) == R1_OK);
    CHECK(r1_session_eval(dec1, ids, N_PROMPT, err) == R1_OK);
    CHECK(r1_session_eval(dec3, ids, N_PROMPT, err) == R1_OK);
    for (int j = 0; j < N_DEC; j++) {
        CHECK(r1_session_eval(dec1, &ids[N_PROMPT + j], 1, err) == R1_OK);
        CHECK(r1_session_eval(dec3, &ids[N_PROMPT + j], 1, err) == R1_OK);
        CHECKF(!memcmp(r1_session_logits(dec1), r1_session_logits(dec3), (size_t)V * sizeof(float)),
               "%s: decode at %d keys differs between 1 and 3 threads", name, N_PROMPT + j + 1);
    }
    const float *lw = r1_session_logits(whole), *ld = r1_session_logits(dec3);
    if (form) {
        CHECKF(!memcmp(lw, ld, (size_t)V * sizeof(float)),
               "%s (%s form): decoding at %d keys differs from the same positions in one batch",
               name, form, N_PROMPT + N_DEC);
    } else {
        double mx = 0, d = 0;
        for (int v = 0; v < V; v++) {
            mx = fmax(mx, fabs(lw[v]));
            d = fmax(d, fabs(lw[v] - ld[v]));
        }
        printf("%s: batch vs decode (default forms) at %d keys: %.3e of max|logit|\n", name,
               N_PROMPT + N_DEC, d / mx);
        CHECKF(d <= 1e-4 * mx, "%s: batch and decode differ by %.3e of max|logit|", name, d / mx);
    }
    unsetenv("R1_PREFILL_ATTN");
    r1_session_free(whole);
    r1_session_free(dec1);
    r1_session_free(dec3);
    r1_model_free(m1);
    r1_model_free(m3);
}

int main(void)
{
    /* fp32 weights: a one-ulp change shows in the logits */
    check_long_context("ds3-new-f32", "tokenwise", R1_CACHE_F32);
    check_long_context("ds3-new-f32", "tiled", R1_CACHE_F32);
    check_long_context("ds3-new-f32", "tiled", R1_CACHE_F16);
    /* a BF16 cache: bf16 dot products where the CPU has them (AVX512-BF16), split in parts */
    check_long_context("ds3-new-f32", "tokenwise", R1_CACHE_BF16);
    check_long_context("ds3-new-f32", NULL, R1_CACHE_F32);
    check_long_context("qwen2-q4_k_m", "tokenwise", R1_CACHE_F32);
    check_long_context("qwen2-q4_k_m", "tiled", R1_CACHE_F32);
    check_long_context("qwen2-q4_k_m", NULL, R1_CACHE_F32);
    const char *models[] = {"ds3-new-q4_k_m", "ds3-old-f32", "v2lite-q8_0", "qwen2-q4_k_m",
                            "llama3-q8_0"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        for (int c = R1_CACHE_F32; c <= R1_CACHE_Q8_0; c++)
            if (c != R1_CACHE_Q8_0 || i >= 3) /* Q8_0: the GQA fixtures (whole 32-value blocks) */
                check_model(models[i], (r1_cache_type)c);
    return test_finish();
}
