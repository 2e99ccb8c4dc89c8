/* test_mtp.c — speculative decoding with the MTP module (r1_session_generate):
 *   - greedy output is token-for-token the output without MTP (synth models whose random head is
 *     rarely right, several prompts, cache types, batched with sessions at different depths,
 *     after rewinds as a chat does), and the draft statistics add up;
 *   - r1_sampler_sample_draft keeps the sampler's distribution (chi-square against the exact
 *     probabilities, for drafts that are likely, unlikely and filtered out);
 *   - with sampling, the first two generated tokens of the trained default model (a real head:
 *     drafts are often accepted) follow the exact joint distribution the model defines;
 *   - the MTP module loads from both layouts (block_count with or without it).
 */
#include "r1.h"
#include "test.h"

#include <unistd.h>

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Reference: r1_sampler_sample + eval, one token at a time, MTP off. */
static void generate_plain(r1_model *m, const int32_t *prompt, int n_prompt, int n_gen,
                           r1_sampler_params sp, r1_cache_type cache, int32_t *out)
{
    char err[R1_ERR_MAX];
    r1_session_params p = r1_session_params_default();
    p.n_ctx = 256;
    p.cache_type = cache;
    p.mtp = R1_MTP_OFF;
    r1_session *s = NULL;
    r1_sampler *smp = NULL;
    r1_model_info info;
    r1_model_get_info(m, &info);
    CHECK(r1_session_new(m, &p, &s, err) == R1_OK);
    CHECK(r1_sampler_new(&sp, info.n_vocab, &smp, err) == R1_OK);
    CHECK(!r1_session_has_mtp(s));
    CHECK(r1_session_eval(s, prompt, n_prompt, err) == R1_OK);
    for (int i = 0; i < n_gen; i++) {
        out[i] = r1_sampler_sample(smp, r1_session_logits(s));
        CHECK(r1_session_eval(s, &out[i], 1, err) == R1_OK);
    }
    r1_sampler_free(smp);
    r1_session_free(s);
}

/* With MTP: r1_session_generate until n_gen tokens. */
static void generate_mtp(r1_session *s, r1_sampler *smp, int n_gen, int32_t *out)
{
    char err[R1_ERR_MAX];
    int n = 0;
    while (n < n_gen) {
        int32_t t[2];
        int k = 0;
        CHECKF(r1_session_generate(s, smp, t, &k, err) == R1_OK, "%s", err);
        if (k < 1) break;
        for (int j = 0; j < k && n < n_gen; j++) out[n++] = t[j];
    }
}

#define N_GEN 40

static void check_greedy(const char *path, r1_cache_type cache)
{
    char err[R1_ERR_MAX];
    r1_model *m = NULL;
    CHECKF(r1_model_load(path, NULL, &m, err) == R1_OK, "%s: %s", path, err);
    if (!m) return;
    r1_model_info info;
    r1_model_get_info(m, &info);
    CHECK(info.n_mtp_layers == 1);
    int V = info.n_vocab;
    r1_sampler_params greedy = r1_sampler_params_default();
    greedy.temperature = 0;
    uint64_t drafted_all = 0, accepted_all = 0;
    for (int pi = 0; pi < 4; pi++) {
        int32_t prompt[24], ref[N_GEN], got[N_GEN];
        int n_prompt = 3 + 5 * pi;
        for (int j = 0; j < n_prompt; j++) prompt[j] = (int32_t)((31 * j + 17 * pi + 5) % V);
        generate_plain(m, prompt, n_prompt, N_GEN, greedy, cache, ref);

        r1_session_params p = r1_session_params_default();
        p.n_ctx = 256;
        p.cache_type = cache;
        p.n_batch = 4 + pi; /* prompts flushed to the MTP layer in several chunks */
        r1_session *s = NULL;
        r1_sampler *smp = NULL;
        CHECK(r1_session_new(m, &p, &s, err) == R1_OK);
        CHECK(r1_sampler_new(&greedy, V, &smp, err) == R1_OK);
        CHECK(r1_session_has_mtp(s));
        CHECK(r1_session_eval(s, prompt, n_prompt, err) == R1_OK);
        generate_mtp(s, smp, N_GEN, got);
        CHECKF(!memcmp(ref, got, sizeof ref), "%s cache %d prompt %d: MTP output differs", path,
               (int)cache, pi);
        uint64_t drafted = 0, accepted = 0;
        r1_session_mtp_stats(s, &drafted, &accepted);
        CHECK(drafted > 0 && accepted <= drafted);
        /* every step emits one token plus its accepted draft */
        CHECK(r1_session_n_past(s) >= n_prompt + N_GEN &&
              r1_session_n_past(s) <= n_prompt + N_GEN + 1);
        drafted_all += drafted;
        accepted_all += accepted;

        /* a chat's second turn: rewind into the answer, append other tokens, generate again;
         * compare with a plain session fed the same history */
        int keep = n_prompt + 7;
        CHECK(r1_session_rewind(s, keep) == R1_OK);
        int32_t hist[24 + N_GEN + 8], turn[3] = {(int32_t)(V - 1), 5, 9};
        memcpy(hist, prompt, (size_t)n_prompt * sizeof *prompt);
        memcpy(hist + n_prompt, got, 7 * sizeof *got);
        memcpy(hist + keep, turn, sizeof turn);
        CHECK(r1_session_eval(s, turn, 3, err) == R1_OK);
        generate_plain(m, hist, keep + 3, 20, greedy, cache, ref);
        generate_mtp(s, smp, 20, got);
        CHECKF(!memcmp(ref, got, 20 * sizeof *ref), "%s prompt %d: after rewind MTP differs", path,
               pi);
        r1_sampler_free(smp);
        r1_session_free(s);
    }
    printf("%s cache %d: %llu drafts, %llu accepted\n", path, (int)cache,
           (unsigned long long)drafted_all, (unsigned long long)accepted_all);

    /* batched: sessions at different depths, one MTP and one verification pass per step */
    enum { NS = 4 };
    r1_session *ss[NS];
    r1_sampler *sm[NS];
    int32_t refs[NS][N_GEN], outs[NS][N_GEN + 1];
    int have[NS] = {0};
    for (int i = 0; i < NS; i++) {
        int32_t prompt[16];
        int n_prompt = 2 + 3 * i;
        for (int j = 0; j < n_prompt; j++) prompt[j] = (int32_t)((11 * j + 29 * i + 3) % V);
        generate_plain(m, prompt, n_prompt, N_GEN, greedy, cache, refs[i]);
        r1_session_params p = r1_session_params_default();
        p.n_ctx = 256;
        p.cache_type = cache;
        CHECK(r1_session_new(m, &p, &ss[i], err) == R1_OK);
        CHECK(r1_sampler_new(&greedy, V, &sm[i], err) == R1_OK);
        CHECK(r1_session_eval(ss[i], prompt, n_prompt, err) == R1_OK);
    }
    for (int step = 0; step < N_GEN; step++) {
        int32_t out[2 * NS];
        int n_out[NS];
        CHECK(r1_session_generate_batch(ss, sm, NS, out, n_out, err) == R1_OK);
        for (int i = 0; i < NS; i++)
            for (int k = 0; k < n_out[i]; k++)
                if (have[i] < N_GEN) outs[i][have[i]++] = out[2 * i + k];
    }
    for (int i = 0; i < NS; i++) {
        CHECK(have[i] == N_GEN);
        CHECKF(!memcmp(refs[i], outs[i], sizeof refs[i]), "%s: batched MTP sequence %d differs",
               path, i);
        r1_sampler_free(sm[i]);
        r1_session_free(ss[i]);
    }
    /* misuse: a session without a prompt */
    r1_session *empty = NULL;
    r1_sampler *smp = NULL;
    CHECK(r1_session_new(m, NULL, &empty, err) == R1_OK);
    CHECK(r1_sampler_new(&greedy, V, &smp, err) == R1_OK);
    int32_t t[2];
    int k = 0;
    CHECK(r1_session_generate(empty, smp, t, &k, err) == R1_ERR_INVALID_ARG);
    r1_sampler_free(smp);
    r1_session_free(empty);
    r1_model_free(m);
}

/* Pearson chi-square of counts against expected probabilities (bins with p > 0). */
static double chi_square(const long *count, const double *p, int n, long total, int *dof)
{
    double x2 = 0;
    *dof = -1;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0) {
            CHECKF(count[i] == 0, "a token of probability 0 was drawn %ld times", count[i]);
            continue;
        }
        double e = p[i] * (double)total;
        x2 += (count[i] - e) * (count[i] - e) / e;
        (*dof)++;
    }
    return x2;
}

/* Upper 0.1% point of chi-square with dof degrees of freedom (Wilson–Hilferty). The tests below
 * use fixed seeds, so they are deterministic; the bound states how unlikely a pass by chance
 * of a wrong distribution is and how unlikely a failure of a right one would be (0.1%). */
static double chi2_crit(int dof)
{
    double z = 3.090, k = dof;
    double t = 1 - 2 / (9 * k) + z * sqrt(2 / (9 * k));
    return k * t * t * t;
}

static void check_sampler_draft(void)
{
    char err[R1_ERR_MAX];
    enum { V = 8 };
    const float logits[V] = {2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};
    r1_sampler_params sp = r1_sampler_params_default();
    sp.temperature = 0.9f;
    sp.top_p = 0.9f;
    sp.top_k = 6;
    sp.seed = 42;
    /* exact filtered distribution */
    double w[V], tot = 0, p[V];
    int order[V];
    for (int i = 0; i < V; i++) order[i] = i; /* logits already sorted */
    for (int i = 0; i < V; i++) w[i] = i < sp.top_k ? exp((logits[i] - logits[0]) / 0.9) : 0;
    for (int i = 0; i < V; i++) tot += w[i];
    double cum = 0;
    int keep = 0;
    for (int i = 0; i < V; i++) {
        cum += w[order[i]];
        keep = i + 1;
        if (cum >= sp.top_p * tot) break;
    }
    double kt = 0;
    for (int i = 0; i < V; i++) kt += i < keep ? w[i] : 0;
    for (int i = 0; i < V; i++) p[i] = i < keep ? w[i] / kt : 0;
    const int drafts[] = {0, 2, keep - 1, V - 1}; /* likely, middle, least kept, filtered */
    for (size_t d = 0; d < sizeof drafts / sizeof drafts[0]; d++) {
        r1_sampler *s = NULL;
        CHECK(r1_sampler_new(&sp, V, &s, err) == R1_OK);
        long count[V] = {0}, n_acc = 0, N = 200000;
        for (long i = 0; i < N; i++) {
            bool acc = false;
            int32_t id = r1_sampler_sample_draft(s, logits, drafts[d], &acc);
            CHECK(id >= 0 && id < V);
            count[id]++;
            n_acc += acc;
            if (acc != (id == drafts[d])) CHECK(!"accepted disagrees with the token");
        }
        int dof;
        double x2 = chi_square(count, p, V, N, &dof);
        CHECKF(x2 < chi2_crit(dof), "draft %d: chi-square %.1f ≥ %.1f (dof %d)", drafts[d], x2,
               chi2_crit(dof), dof);
        /* acceptance is p(draft): within 5 standard errors */
        double pa = p[drafts[d]], se = sqrt(pa * (1 - pa) / N) + 1e-12;
        CHECKF(fabs((double)n_acc / N - pa) <= 5 * se, "draft %d accepted %.4f, p %.4f", drafts[d],
               (double)n_acc / N, pa);
        r1_sampler_free(s);
    }
    /* greedy: accept iff the draft is the argmax, and the result is the argmax */
    sp.temperature = 0;
    r1_sampler *g = NULL;
    CHECK(r1_sampler_new(&sp, V, &g, err) == R1_OK);
    bool acc = true;
    CHECK(r1_sampler_sample_draft(g, logits, 3, &acc) == 0 && !acc);
    CHECK(r1_sampler_sample_draft(g, logits, 0, &acc) == 0 && acc);
    r1_sampler_free(g);
}

/* Sampling with MTP on a model with a trained head: the first two tokens after a prompt follow
 * p(t1) · p(t2 | t1), computed exactly with the model. */
static void check_sampling_distribution(const char *path)
{
    char err[R1_ERR_MAX];
    r1_model *m = NULL;
    CHECKF(r1_model_load(path, NULL, &m, err) == R1_OK, "%s: %s", path, err);
    if (!m) return;
    r1_model_info info;
    r1_model_get_info(m, &info);
    CHECKF(info.n_mtp_layers == 1, "%s has no MTP module", path);
    if (info.n_mtp_layers != 1) {
        r1_model_free(m);
        return;
    }
    int V = info.n_vocab;
    const char *text = "<｜User｜>Compute 47+38.<｜Assistant｜><think>\n47+38";
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    CHECK(r1_tokenize(m, text, strlen(text), true, true, &prompt, &n_prompt, err) == R1_OK);
    r1_sampler_params sp = r1_sampler_params_default();
    sp.temperature = 4.0f; /* flatten: the trained model is sure of most tokens */
    sp.top_k = 4;
    sp.top_p = 1.0f;
    /* exact joint over the top-4 × top-4 */
    r1_session_params p = r1_session_params_default();
    p.n_ctx = 128;
    p.mtp = R1_MTP_OFF;
    r1_session *s = NULL;
    CHECK(r1_session_new(m, &p, &s, err) == R1_OK);
    CHECK(r1_session_eval(s, prompt, (int)n_prompt, err) == R1_OK);
    float *l0 = malloc((size_t)V * sizeof(float));
    memcpy(l0, r1_session_logits(s), (size_t)V * sizeof(float));
    int top1[4];
    double p1[4];
    {
        float *tmp = malloc((size_t)V * sizeof(float));
        memcpy(tmp, l0, (size_t)V * sizeof(float));
        double z = 0;
        for (int k = 0; k < 4; k++) {
            top1[k] = argmax(tmp, V);
            tmp[top1[k]] = -INFINITY;
        }
        for (int k = 0; k < 4; k++) z += exp((l0[top1[k]] - l0[top1[0]]) / sp.temperature);
        for (int k = 0; k < 4; k++) p1[k] = exp((l0[top1[k]] - l0[top1[0]]) / sp.temperature) / z;
        free(tmp);
    }
    int top2[4][4];
    double pj[16];
    for (int a = 0; a < 4; a++) {
        CHECK(r1_session_rewind(s, (int)n_prompt) == R1_OK);
        CHECK(r1_session_eval(s, &top1[a], 1, err) == R1_OK);
        const float *l1 = r1_session_logits(s);
        float *tmp = malloc((size_t)V * sizeof(float));
        memcpy(tmp, l1, (size_t)V * sizeof(float));
        for (int k = 0; k < 4; k++) {
            top2[a][k] = argmax(tmp, V);
            tmp[top2[a][k]] = -INFINITY;
        }
        double z = 0;
        for (int k = 0; k < 4; k++) z += exp((l1[top2[a][k]] - l1[top2[a][0]]) / sp.temperature);
        for (int k = 0; k < 4; k++)
            pj[4 * a + k] = p1[a] * exp((l1[top2[a][k]] - l1[top2[a][0]]) / sp.temperature) / z;
        free(tmp);
    }
    r1_session_free(s);

    p.mtp = R1_MTP_ON;
    CHECK(r1_session_new(m, &p, &s, err) == R1_OK);
    long count[16] = {0}, N = 4000, other = 0;
    for (long i = 0; i < N && s; i++) {
        sp.seed = (uint64_t)i + 1;
        r1_sampler *smp = NULL;
        CHECK(r1_sampler_new(&sp, V, &smp, err) == R1_OK);
        CHECK(r1_session_rewind(s, 0) == R1_OK);
        CHECK(r1_session_eval(s, prompt, (int)n_prompt, err) == R1_OK);
        int32_t got[2];
        generate_mtp(s, smp, 2, got);
        int bin = -1;
        for (int a = 0; a < 4; a++)
            for (int k = 0; k < 4; k++)
                if (got[0] == top1[a] && got[1] == top2[a][k]) bin = 4 * a + k;
        if (bin < 0)
            other++;
        else
            count[bin]++;
        r1_sampler_free(smp);
    }
    uint64_t drafted = 0, accepted = 0;
    r1_session_mtp_stats(s, &drafted, &accepted);
    CHECK(other == 0);
    int dof;
    double x2 = chi_square(count, pj, 16, N, &dof);
    printf("sampling on %s: chi-square %.1f (dof %d, 0.1%% point %.1f), drafts accepted %llu / "
           "%llu\n",
           path, x2, dof, chi2_crit(dof), (unsigned long long)accepted,
           (unsigned long long)drafted);
    CHECKF(x2 < chi2_crit(dof), "MTP sampling: chi-square %.1f ≥ %.1f", x2, chi2_crit(dof));
    /* the branch under test must actually run: a trained head's drafts are often accepted */
    CHECKF(accepted * 5 >= drafted && accepted < drafted, "accepted %llu of %llu drafts",
           (unsigned long long)accepted, (unsigned long long)drafted);
    free(l0);
    free(prompt);
    r1_session_free(s);
    r1_model_free(m);
}

int main(void)
{
    char dir[] = "/tmp/r1-test-mtp-XXXXXX", cmd[1024], path[600];
    CHECK(mkdtemp(dir) != NULL);
    const char *types[] = {"F32", "Q8_0"};
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", dir, types[t]);
        snprintf(cmd, sizeof cmd,
                 "%s synth --preset tiny-deepseek2 --mtp 1 --type %s -o %s 2>/dev/null", R1_BIN,
                 types[t], path);
        CHECK(system(cmd) == 0);
        check_greedy(path, t == 0 ? R1_CACHE_F32 : R1_CACHE_BF16);
        unlink(path);
    }
    check_sampler_draft();
    /* the trained default model: its head is right most of the time, so the accept path (two
     * tokens per step, a second MTP pair to catch up) carries most of the output */
    check_greedy(R1_TEST_DATA "/../../models/r1-tiny.gguf", R1_CACHE_F32);
    check_sampling_distribution(R1_TEST_DATA "/../../models/r1-tiny.gguf");
    rmdir(dir);
    return test_finish();
}
