/* llama.h — the qwen2 / llama sub-layer (llama.c): grouped-query attention.
 * forward.c calls them; they read ws->h (normalized) and return their output (n_tok, dim), one
 * of the ws->buf, which the caller sums over the ranks and adds into ws->x; token t attends over
 * ws->kvs[t] up to ws->positions[t]. */
#ifndef R1_MODEL_LLAMA_H
#define R1_MODEL_LLAMA_H

#include "model/layers.h"

float *llama_attention(const r1_model *m, int il, workspace *ws, int n_tok);

#endif
