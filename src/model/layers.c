/* layers.c — the pieces every architecture's layers use (layers.h): storing KV cache rows in the
 * cache's type, RoPE with the batch's tables (filled by forward.c), the SwiGLU FFN. Moved here
 * unchanged from forward.c so that deepseek2.c and llama.c do not depend on the driver. */
#include "model/layers.h"

#include "tensor/quant.h"

#include <string.h>

void kv_cache_store(kv_cache *kv, int layer, int pos, int64_t off, const float *src, int64_t n)
{
    uint8_t *row = (uint8_t *)kv_cache_row(kv, layer, pos) + kv_cache_bytes(kv, off);
    if (kv->type == DTYPE_F32) {
        memcpy(row, src, (size_t)n * sizeof(float));
    } else if (kv->type == DTYPE_Q8_0) {
        quant_quantize_row(DTYPE_Q8_0, src, row, n); /* off and n are multiples of 32 */
    } else {
        uint16_t *h = (uint16_t *)(void *)row;
        for (int64_t i = 0; i < n; i++)
            h[i] = kv->type == DTYPE_F16 ? f32_to_fp16(src[i]) : f32_to_bf16(src[i]);
    }
}

void forward_rope(const r1_model *m, const workspace *ws, float *v, int64_t ld, int n_tok,
                  int n_heads, int64_t stride, int64_t offset)
{
    const model_config *c = &m->cfg;
    int half = c->rope_dim / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *cs = ws->rope_cos + t * half, *sn = ws->rope_sin + t * half;
        for (int h = 0; h < n_heads; h++) {
            float *p = v + t * ld + h * stride + offset;
            for (int i = 0; i < half; i++) {
                /* NEOX pairs (i, i + d/2); "normal" pairs (2i, 2i+1) */
                float *a = c->rope_neox ? &p[i] : &p[2 * i];
                float *b = c->rope_neox ? &p[i + half] : &p[2 * i + 1];
                float x0 = *a, x1 = *b;
                *a = x0 * cs[i] - x1 * sn[i];
                *b = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

void forward_swiglu(const r1_model *m, workspace *ws, const wmat *gate, const wmat *up,
                    const wmat *down, const float *in, int n_tok, float *g, float *u, float *out)
{
    int64_t E = m->cfg.dim, F = gate->n_rows;
    if (F == 0) { /* a rank of a split model without columns of this FFN */
        memset(out, 0, (size_t)n_tok * (size_t)E * sizeof(float));
        return;
    }
    kern_mm gu[2] = {{gate, 0, in, E, n_tok, g, F}, {up, 0, in, E, n_tok, u, F}};
    kern_matmul_multi(&ws->kc, gu, 2);
    kern_swiglu(g, u, (int64_t)n_tok * F);
    kern_matmul(&ws->kc, down, 0, g, F, n_tok, out, E);
}
