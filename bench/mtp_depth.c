/* mtp_depth.c — how often the MTP module's drafts would be accepted at depth 1, 2 and 3 if the
 * engine chained them: the draft for position p + 2 comes from the main model's state at p and
 * the token at p + 1 (what r1 does); the one for p + 3 from the MTP layer's own output state and
 * that draft, and so on (one module reused, as engines do with DeepSeek-V3's single module).
 * Greedy answers of the main model to arithmetic prompts are the reference; a depth counts as
 * accepted only when every shallower draft was too. Also prints the best time of one MTP pass
 * over one row.
 *
 * Build (from the repository root, after building libr1 in build/):
 *   cc -O2 -D_GNU_SOURCE -Isrc -Iinclude bench/mtp_depth.c build/libr1.a -lutf8proc -lcjson \
 *      -lm -lpthread -o mtp_depth
 * Run: mtp_depth MODEL [pre]   (pre: chain with the MTP layer's state before its output norm)
 */
#include "model/forward.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_CTX = 1024, MAX_GEN = 600, DEPTH = 3 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mtp_depth MODEL [pre]\n");
        return 2;
    }
    bool pre_norm = argc > 2 && !strcmp(argv[2], "pre");
    char err[R1_ERR_MAX];
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    r1_model *m = NULL;
    if (r1_model_load(argv[1], &mp, &m, err)) {
        fprintf(stderr, "mtp_depth: %s\n", err);
        return 1;
    }
    if (!m->n_mtp) {
        fprintf(stderr, "mtp_depth: the model has no MTP module\n");
        r1_model_free(m);
        return 1;
    }
    r1_model_info info;
    r1_model_get_info(m, &info);
    int V = info.n_vocab;
    int64_t E = m->cfg.dim;
    static const char *questions[] = {"Compute 123+456.", "Compute 47*38.",   "Compute 905-217.",
                                      "Compute 64*27.",   "Compute 318+694.", "Compute 83*91.",
                                      "Compute 777-389.", "Compute 56*44.",   "Compute 812-395.",
                                      "Compute 29*73."};
    int n_q = (int)(sizeof questions / sizeof questions[0]);
    kv_cache kv = {.n_ctx = N_CTX, .row_floats = model_kv_row_floats(&m->cfg), .type = DTYPE_F32};
    kv.row_bytes = kv_cache_bytes(&kv, kv.row_floats);
    kv.data = calloc((size_t)(m->cfg.n_layers + 1) * N_CTX, kv.row_bytes);
    workspace ws;
    bool ws_ok = workspace_init(&ws, m, N_CTX, N_CTX, err) == R1_OK;
    float *hidden = malloc((size_t)N_CTX * (size_t)E * sizeof(float));
    float *logits = malloc((size_t)V * sizeof(float));
    float *chain = malloc((size_t)E * sizeof(float));
    int32_t *seq = malloc(N_CTX * sizeof *seq);
    if (!kv.data || !ws_ok || !hidden || !logits || !chain || !seq) {
        fprintf(stderr, "mtp_depth: out of memory\n");
        return 1;
    }
    long n_pos = 0, accepted[DEPTH] = {0};
    double best_pass = 1e9;
    kv_cache *kvp = &kv;
    for (int q = 0; q < n_q; q++) {
        char text[256];
        snprintf(text, sizeof text, "<｜User｜>%s<｜Assistant｜><think>\n", questions[q]);
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (r1_tokenize(m, text, strlen(text), true, true, &ids, &n_ids, err) ||
            n_ids + MAX_GEN > N_CTX) {
            fprintf(stderr, "mtp_depth: %s\n", err);
            return 1;
        }
        /* the main model's greedy answer, then every position's final hidden state */
        int n = (int)n_ids;
        memcpy(seq, ids, n_ids * sizeof *seq);
        free(ids);
        for (int pos = 0; n < (int)n_ids + MAX_GEN; pos = n - 1) {
            model_forward(m, &kv, &ws, seq + pos, n - pos, pos, logits, 1, NULL);
            seq[n++] = argmax(logits, V);
            if (seq[n - 1] == info.eos_id) break;
        }
        model_forward(m, &kv, &ws, seq, n, 0, NULL, 0, hidden);
        for (int p = 0; p + 1 < n; p++) {
            /* the MTP row of p, as the engine writes it; drafts the token at p + 2 */
            int pos = p;
            int32_t tok = seq[p + 1];
            double t0 = now();
            model_forward_mtp(m, &kvp, &pos, &ws, hidden + (size_t)p * E, &tok, 1, logits);
            double dt = now() - t0;
            best_pass = dt < best_pass ? dt : best_pass;
            if (p < (int)n_ids - 1 || p + 2 >= n) continue; /* drafts inside the answer only */
            n_pos++;
            bool ok = true;
            for (int d = 0; d < DEPTH && ok && p + 2 + d < n; d++) {
                int draft = argmax(logits, V);
                ok = draft == seq[p + 2 + d];
                accepted[d] += ok;
                if (!ok || d + 1 == DEPTH) break;
                /* chain: rows p + 1 .. are overwritten by the next p's true rows before any
                 * position attends to them */
                memcpy(chain, pre_norm ? ws.x : ws.h, (size_t)E * sizeof(float));
                int pd = p + 1 + d;
                int32_t td = draft;
                model_forward_mtp(m, &kvp, &pd, &ws, chain, &td, 1, logits);
            }
        }
    }
    printf("%ld draft positions in greedy answers to %d prompts (chained on the %s state)\n", n_pos,
           n_q, pre_norm ? "pre-norm" : "output-normed");
    for (int d = 0; d < DEPTH; d++)
        printf("depth %d: %.1f %% accepted\n", d + 1, 100.0 * (double)accepted[d] / (double)n_pos);
    printf("one MTP pass over one row: %.1f us (best)\n", best_pass * 1e6);
    free(kv.data);
    workspace_free(&ws);
    free(hidden);
    free(logits);
    free(chain);
    free(seq);
    r1_model_free(m);
    return 0;
}
