/* convert.c — tools/convert.h: a Hugging Face folder (model/hf.h) to GGUF, tensor by tensor in
 * chunks of rows converted on the library's pool, the tokenizer as tokenizer.ggml.* keys. */
#include "tools/convert.h"

#include "base/threadpool.h"
#include "formats/gguf.h"
#include "model/hf.h"
#include "model/qmix.h"
#include "tensor/quant.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_FLOATS (4u << 20) /* 16 MiB of fp32 rows per conversion step */

/* ---- tokenizer --------------------------------------------------------------------------------
 */

/* tokenizer.json's model.merges as "a b" strings (both spellings: "a b" and ["a", "b"]). */
static char **read_merges(const char *path, size_t *out_n)
{
    *out_n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size > 0 ? malloc((size_t)size) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    cJSON *root = buf ? cJSON_ParseWithLength(buf, got) : NULL;
    free(buf);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int n = cJSON_GetArraySize(merges);
    char **out = calloc((size_t)n + 1, sizeof *out);
    size_t k = 0;
    for (const cJSON *m = merges ? merges->child : NULL; out && m; m = m->next) {
        if (cJSON_IsString(m)) {
            out[k++] = strdup(m->valuestring);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            size_t la = strlen(m->child->valuestring), lb = strlen(m->child->next->valuestring);
            char *s = malloc(la + lb + 2);
            if (s) {
                memcpy(s, m->child->valuestring, la);
                s[la] = ' ';
                memcpy(s + la + 1, m->child->next->valuestring, lb + 1);
            }
            out[k++] = s;
        }
    }
    cJSON_Delete(root);
    *out_n = k;
    return out;
}

/* The tokenizer.ggml.* keys, the vocabulary padded to the embedding's rows as the ecosystem does
 * ("[PADi]", unused). */
static bool write_tokenizer(gguf_writer *w, const hf_model *hf, int n_vocab)
{
    tokenizer *tok;
    char err[R1_ERR_MAX];
    const char *cfg = hf->tokenizer_config_path[0] ? hf->tokenizer_config_path : NULL;
    if (tokenizer_load_json(hf->tokenizer_path, cfg, &tok, err)) {
        fprintf(stderr, "r1 convert: %s\n", err);
        return false;
    }
    int n_tok = tokenizer_n_vocab(tok);
    if (n_tok > n_vocab) {
        fprintf(stderr, "r1 convert: tokenizer.json has %d tokens but the embedding %d rows\n",
                n_tok, n_vocab);
        tokenizer_free(tok);
        return false;
    }
    char **texts = calloc((size_t)n_vocab, sizeof *texts);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    size_t n_merges = 0;
    char **merges = read_merges(hf->tokenizer_path, &n_merges);
    bool ok = texts && types && merges;
    for (int i = 0; ok && i < n_vocab; i++) {
        size_t len = 0;
        const char *t = i < n_tok ? tokenizer_token_text(tok, i, &len) : NULL;
        types[i] = i < n_tok ? (int32_t)tokenizer_token_type(tok, i) : TOKEN_TYPE_UNUSED;
        if (t && len) {
            texts[i] = malloc(len + 1);
            if (texts[i]) memcpy(texts[i], t, len), texts[i][len] = 0;
        } else {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", i);
            texts[i] = strdup(pad);
            types[i] = TOKEN_TYPE_UNUSED;
        }
        ok = texts[i] != NULL;
    }
    if (ok) {
        pretok_kind pre = tokenizer_pre(tok);
        gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_set_str(w, "tokenizer.ggml.pre",
                            pre == PRETOK_DEEPSEEK_V3 ? "deepseek-v3"
                            : pre == PRETOK_QWEN2     ? "qwen2"
                                                      : "llama-bpe");
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts,
                                (uint64_t)n_vocab);
        gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n_vocab);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges,
                                (uint64_t)n_merges);
        if (tokenizer_bos(tok) >= 0)
            gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tokenizer_bos(tok));
        if (tokenizer_eos(tok) >= 0)
            gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tokenizer_eos(tok));
        if (tokenizer_pad(tok) >= 0)
            gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)tokenizer_pad(tok));
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", tokenizer_add_bos(tok));
        gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
        if (tokenizer_chat_template(tok))
            gguf_writer_set_str(w, "tokenizer.chat_template", tokenizer_chat_template(tok));
    } else {
        fprintf(stderr, "r1 convert: out of memory for the vocabulary\n");
    }
    for (int i = 0; texts && i < n_vocab; i++) free(texts[i]);
    for (size_t i = 0; merges && i < n_merges; i++) free(merges[i]);
    free(texts);
    free(types);
    free(merges);
    tokenizer_free(tok);
    return ok;
}

/* ---- tensors ----------------------------------------------------------------------------------
 */

typedef struct conv_job {
    const hf_model *hf;
    const hf_tensor *t;
    dtype type;
    int64_t row0, n_rows;
    float *rows;
    uint8_t *out;
    size_t row_bytes;
} conv_job;

static void conv_worker(void *p, int ith, int nth)
{
    const conv_job *j = p;
    int64_t cols = j->t->ne[0];
    long b, e;
    threadpool_split((long)j->n_rows, ith, nth, &b, &e);
    if (b >= e) return;
    float *x = j->rows + b * cols;
    hf_read_rows(j->hf, j->t, j->row0 + b, e - b, x);
    for (long r = b; r < e; r++)
        quant_quantize_row(j->type, j->rows + r * cols, j->out + (size_t)r * j->row_bytes, cols);
}

static dtype auto_type(const hf_tensor *t)
{
    if (qmix_keeps_f32(t->name, t->n_dims) || t->n_src == 0) return DTYPE_F32;
    switch (t->src[0]->dtype) {
    case ST_F32:
        return DTYPE_F32;
    case ST_F16:
        return DTYPE_F16;
    default:
        return DTYPE_BF16; /* BF16, and FP8 dequantized (BF16 keeps its range and 3+ digits) */
    }
}

static void progress(int i, int n, uint64_t bytes, const char *name)
{
    if (!isatty(2)) return;
    int width = 30, done = n ? (int)((int64_t)width * i / n) : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d %.2f GiB %-40.40s", done, "##############################",
            width - done, "", i, n, bytes / (double)(1ull << 30), name);
    if (i == n) fputc('\n', stderr);
}

int tools_convert(const tools_convert_options *o)
{
    const char *dir = o->dir, *out = o->out, *type_name = o->type ? o->type : "auto";
    const int n_threads = o->n_threads;
    const qmix *mix = strcmp(type_name, "auto") ? qmix_find(type_name) : NULL;
    if (strcmp(type_name, "auto") && !mix) {
        fprintf(stderr, "r1 convert: unknown type '%s'\n", type_name);
        return 2;
    }
    char err[R1_ERR_MAX];
    hf_model *hf = NULL;
    if (hf_open(dir, HF_FOR_GGUF, true, o->log_fn, o->log_user, &hf, err)) {
        fprintf(stderr, "r1 convert: %s\n", err);
        return 1;
    }
    gguf_writer *w = gguf_writer_new();
    threadpool *pool = threadpool_new(n_threads);
    float *rows = malloc(CHUNK_FLOATS * sizeof *rows);
    uint8_t *obuf = malloc(CHUNK_FLOATS * sizeof(float));
    dtype *types = calloc((size_t)hf->n_tensors + 1, sizeof *types);
    int rc = 1;
    if (!w || !pool || !rows || !obuf || !types) {
        fprintf(stderr, "r1 convert: out of memory\n");
        goto done;
    }
    hf_write_metadata(hf, w);
    int file_type = mix ? mix->file_type : 0;
    int64_t n_vocab = 0;
    for (int i = 0; i < hf->n_tensors; i++) {
        const hf_tensor *t = &hf->tensors[i];
        types[i] =
            mix ? qmix_tensor_type(mix, t->name, t->n_dims, t->ne, hf->n_layers) : auto_type(t);
        if (!mix && types[i] != DTYPE_F32 && file_type == 0)
            file_type = types[i] == DTYPE_F16 ? 1 : 32;
        if (!strcmp(t->name, "token_embd.weight")) n_vocab = t->ne[1];
        if (t->ne[0] > (int64_t)CHUNK_FLOATS) {
            fprintf(stderr, "r1 convert: %s: rows of %lld elements are too long\n", t->name,
                    (long long)t->ne[0]);
            goto done;
        }
        if (gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne, NULL, err)) {
            fprintf(stderr, "r1 convert: %s\n", err);
            goto done;
        }
    }
    gguf_writer_set_u32(w, "general.file_type", (uint32_t)file_type);
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (hf->has_tokenizer && !write_tokenizer(w, hf, (int)n_vocab)) goto done;
    if (!hf->has_tokenizer)
        fprintf(stderr,
                "r1 convert: warning: no tokenizer.json in %s; the GGUF has no vocabulary\n", dir);
    if (gguf_writer_begin(w, out, err)) {
        fprintf(stderr, "r1 convert: %s\n", err);
        goto done;
    }
    uint64_t total = 0;
    for (int i = 0; i < hf->n_tensors; i++) {
        const hf_tensor *t = &hf->tensors[i];
        dtype type = types[i];
        progress(i, hf->n_tensors, total, t->name);
        if (t->op == HF_OP_COPY && t->native == type) {
            /* unchanged bytes: HF [out, in] rows are GGUF {in, out} rows */
            for (int e = 0; e < t->n_src; e++) {
                if (gguf_writer_write_tensor_part(w, t->src[e]->data, t->src[e]->n_bytes, err)) {
                    fprintf(stderr, "r1 convert: %s\n", err);
                    goto done;
                }
                total += t->src[e]->n_bytes;
            }
        } else {
            int64_t cols = t->ne[0], n_rows = t->ne[1] * t->ne[2];
            size_t row_bytes = dtype_row_bytes(type, cols);
            int64_t per = (int64_t)(CHUNK_FLOATS / (uint64_t)cols);
            for (int64_t r0 = 0; r0 < n_rows; r0 += per) {
                int64_t n = n_rows - r0 < per ? n_rows - r0 : per;
                conv_job job = {hf, t, type, r0, n, rows, obuf, row_bytes};
                threadpool_run(pool, conv_worker, &job);
                if (gguf_writer_write_tensor_part(w, obuf, (size_t)n * row_bytes, err)) {
                    fprintf(stderr, "r1 convert: %s\n", err);
                    goto done;
                }
                total += (uint64_t)n * row_bytes;
            }
        }
        hf_release(hf, t);
    }
    progress(hf->n_tensors, hf->n_tensors, total, "");
    if (gguf_writer_finish(w, err)) {
        fprintf(stderr, "r1 convert: %s\n", err);
        goto done;
    }
    fprintf(stderr, "r1 convert: wrote %s (%s, %d layers%s, %d tensors, %.2f GiB)\n", out, hf->arch,
            hf->n_layers, hf->n_nextn ? " + MTP" : "", hf->n_tensors, total / (double)(1ull << 30));
    rc = 0;
done:
    free(types);
    free(rows);
    free(obuf);
    threadpool_free(pool);
    gguf_writer_free(w);
    hf_close(hf);
    return rc;
}
