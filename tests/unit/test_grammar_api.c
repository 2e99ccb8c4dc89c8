/* test_grammar_api.c — constrained decoding through r1.h on the default model
 * (models/r1-tiny.gguf): generated answers parse as JSON with the schema's keys (cJSON), at a
 * temperature where the model would ramble, with and without MTP drafts; a draft the grammar
 * refuses is rejected; a small max_tokens still ends in a complete value; after_think leaves the
 * reasoning free but refuses to end inside it; bad grammars are errors with a message. */
#include "r1.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <math.h>

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"n\":{\"type\":"
    "\"integer\"},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"n\",\"ok\"],"
    "\"additionalProperties\":false}";

/* Generate up to max_tokens with the grammar; the text (malloc'd) and whether an end token came. */
static char *generate(r1_model *m, r1_grammar *g, const char *prompt, float temp, uint64_t seed,
                      int max_tokens, r1_mtp_mode mtp, bool *ended, int *n_gen)
{
    char err[R1_ERR_MAX];
    r1_model_info info;
    r1_model_get_info(m, &info);
    r1_session_params sp = r1_session_params_default();
    sp.mtp = mtp;
    sp.n_ctx = 1024;
    r1_session *s = NULL;
    r1_sampler *smp = NULL;
    r1_sampler_params pp = r1_sampler_params_default();
    pp.temperature = temp;
    pp.top_p = 1;
    pp.seed = seed;
    int32_t *ids = NULL, out[1024];
    size_t n_ids = 0;
    int n = 0;
    *ended = false;
    CHECK(r1_session_new(m, &sp, &s, err) == R1_OK);
    CHECK(r1_sampler_new(&pp, info.n_vocab, &smp, err) == R1_OK);
    CHECK(r1_tokenize(m, prompt, strlen(prompt), true, true, &ids, &n_ids, err) == R1_OK);
    if (!s || !smp || !ids) return NULL;
    r1_sampler_set_grammar(smp, g);
    CHECK(r1_session_eval(s, ids, (int)n_ids, err) == R1_OK);
    while (n < max_tokens && !*ended) {
        int32_t t[2];
        int k = 0;
        CHECKF(r1_session_generate(s, smp, t, &k, err) == R1_OK, "%s", err);
        for (int i = 0; i < k && n < max_tokens && !*ended; i++) {
            if (r1_token_is_eog(m, t[i]))
                *ended = true;
            else
                out[n++] = t[i];
        }
        if (k == 0) break;
    }
    char *text = NULL;
    CHECK(r1_detokenize(m, out, (size_t)n, &text, err) == R1_OK);
    free(ids);
    r1_sampler_free(smp);
    r1_session_free(s);
    *n_gen = n + *ended;
    return text;
}

static void check_answer(const char *text, const char *what)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECKF(j != NULL, "%s: not JSON: %s", what, text ? text : "(null)");
    CHECKF(cJSON_IsString(cJSON_GetObjectItem(j, "name")) &&
               cJSON_IsNumber(cJSON_GetObjectItem(j, "n")) &&
               cJSON_IsBool(cJSON_GetObjectItem(j, "ok")) && cJSON_GetArraySize(j) == 3,
           "%s: wrong shape: %s", what, text);
    cJSON_Delete(j);
}

int main(void)
{
    char err[R1_ERR_MAX];
    r1_model *m = NULL;
    CHECKF(r1_model_load(R1_TEST_DATA "/../../models/r1-tiny.gguf", NULL, &m, err) == R1_OK, "%s",
           err);
    if (!m) return test_finish();
    r1_model_info info;
    r1_model_get_info(m, &info);

    /* JSON answers at temperature 1.5, with and without MTP drafts */
    for (int mtp = 0; mtp < 2; mtp++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            r1_grammar_params gp = r1_grammar_params_default();
            gp.max_tokens = 200;
            r1_grammar *g = NULL;
            CHECKF(r1_grammar_new_json_schema(m, SCHEMA, &gp, &g, err) == R1_OK, "%s", err);
            bool ended;
            int n_gen;
            char *text = generate(m, g, "<｜User｜>A record as JSON<｜Assistant｜>", 1.5f, seed,
                                  200, mtp ? R1_MTP_AUTO : R1_MTP_OFF, &ended, &n_gen);
            CHECKF(ended && n_gen <= 200, "seed %d: no end within max_tokens", (int)seed);
            CHECK(r1_grammar_is_complete(g));
            check_answer(text, "temperature 1.5");
            free(text);
            r1_grammar_free(g);
        }

    /* a tight budget: the value is closed in time even at temperature 2 */
    for (int budget = 30; budget <= 50; budget += 20) {
        r1_grammar_params gp = r1_grammar_params_default();
        gp.max_tokens = budget;
        r1_grammar *g = NULL;
        CHECK(r1_grammar_new_json_schema(m, SCHEMA, &gp, &g, err) == R1_OK);
        bool ended;
        int n_gen;
        char *text = generate(m, g, "<｜User｜>Ramble<｜Assistant｜>", 2.0f, 9, budget, R1_MTP_OFF,
                              &ended, &n_gen);
        CHECKF(ended, "budget %d: not ended", budget);
        check_answer(text, "tight budget");
        free(text);
        r1_grammar_free(g);
    }

    /* after_think: free text (but no end) until </think>, then the grammar */
    r1_grammar_params gp = r1_grammar_params_default();
    gp.after_think = true;
    r1_grammar *g = NULL;
    CHECK(r1_grammar_new_gbnf(m, "root ::= \"yes\" | \"no\"", &gp, &g, err) == R1_OK);
    float *logits = malloc((size_t)info.n_vocab * sizeof *logits);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK(r1_tokenize(m, "</think>", 8, false, true, &ids, &n_ids, err) == R1_OK && n_ids == 1);
    for (int i = 0; i < info.n_vocab; i++) logits[i] = 0;
    CHECK(r1_grammar_apply(g, logits, err) == R1_OK);
    CHECK(isinf(logits[info.eos_id]) && logits[ids[0]] == 0 && logits[100] == 0);
    CHECK(r1_grammar_accept(g, 100) && !r1_grammar_accept(g, info.eos_id));
    CHECK(r1_grammar_accept(g, ids[0]));
    for (int i = 0; i < info.n_vocab; i++) logits[i] = 0;
    CHECK(r1_grammar_apply(g, logits, err) == R1_OK);
    int n_allowed = 0;
    for (int i = 0; i < info.n_vocab; i++) n_allowed += !isinf(logits[i]);
    CHECKF(n_allowed >= 2 && n_allowed < 50, "%d tokens allowed at \"yes\"|\"no\"", n_allowed);
    free(ids);

    /* an MTP draft that breaks the grammar is rejected, greedy or not */
    for (int greedy = 0; greedy < 2; greedy++) {
        r1_grammar_reset(g);
        CHECK(r1_tokenize(m, "</think>", 8, false, true, &ids, &n_ids, err) == R1_OK);
        CHECK(r1_grammar_accept(g, ids[0]));
        free(ids);
        int32_t *bad = NULL;
        CHECK(r1_tokenize(m, "maybe", 5, false, false, &bad, &n_ids, err) == R1_OK && n_ids >= 1);
        r1_sampler_params pp = r1_sampler_params_default();
        pp.temperature = greedy ? 0 : 1;
        r1_sampler *smp = NULL;
        CHECK(r1_sampler_new(&pp, info.n_vocab, &smp, err) == R1_OK);
        r1_sampler_set_grammar(smp, g);
        for (int i = 0; i < info.n_vocab; i++) logits[i] = 0;
        logits[bad[0]] = 50; /* the model is sure of the draft */
        bool accepted = true;
        int32_t got = r1_sampler_sample_draft(smp, logits, bad[0], &accepted);
        CHECK(!accepted && got != bad[0]);
        char *piece = NULL;
        CHECK(r1_detokenize(m, &got, 1, &piece, err) == R1_OK);
        CHECKF(piece &&
                   (!strncmp(piece, "yes", strlen(piece)) || !strncmp(piece, "no", strlen(piece))),
               "drew '%s'", piece ? piece : "");
        free(piece);
        free(bad);
        r1_sampler_free(smp);
    }
    r1_grammar_free(g);
    free(logits);

    /* errors */
    CHECK(r1_grammar_new_gbnf(m, "root ::= [", NULL, &g, err) == R1_ERR_INVALID_ARG);
    CHECKF(strstr(err, "line 1") != NULL, "%s", err);
    CHECK(r1_gbnf_check("a ::= \"x\"\nb ::= a c", "b", err) == R1_ERR_INVALID_ARG);
    CHECKF(strstr(err, "'c' is used but not defined") != NULL, "%s", err);
    CHECK(r1_gbnf_check("a ::= \"x\"", "a", err) == R1_OK);
    CHECK(r1_grammar_new_json_schema(m, "{\"type\":\"integer\",\"maximum\":3}", NULL, &g, err) ==
          R1_ERR_UNSUPPORTED);
    char *gbnf = NULL;
    CHECK(r1_json_schema_to_gbnf("{\"type\":\"boolean\"}", &gbnf, err) == R1_OK && gbnf &&
          strstr(gbnf, "root ::=") != NULL);
    r1_free(gbnf);

    r1_model_free(m);
    return test_finish();
}
