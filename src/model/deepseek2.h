/* deepseek2.h — the DeepSeek-V2/V3/R1 sub-layers (deepseek2.c): MLA attention and the MoE FFN.
 * forward.c calls them; they read ws->h (normalized) and return their output (n_tok, dim), one
 * of the ws->buf, which the caller sums over the ranks and adds into ws->x; token t attends over
 * ws->kvs[t] up to ws->positions[t]. */
#ifndef R1_MODEL_DEEPSEEK2_H
#define R1_MODEL_DEEPSEEK2_H

#include "model/layers.h"

float *deepseek2_attention(const r1_model *m, int il, workspace *ws, int n_tok);
float *deepseek2_moe(const r1_model *m, int il, workspace *ws, int n_tok);

#endif
