/* meta.c — the public API's version functions (and the kernel backend in use), r1_free, model
 * metadata by key and end-of-generation ids (r1.h), over the model's GGUF file (formats/gguf.h; a
 * Hugging Face folder is converted to one at load) and its tokenizer. */
#include "r1.h"

#include "base/err.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef R1_LIB_VERSION
#error "R1_LIB_VERSION is set by CMakeLists.txt (the project version)"
#endif

int r1_api_version(void)
{
    return R1_API_VERSION;
}

const char *r1_version(void)
{
    return R1_LIB_VERSION;
}

const char *r1_kernel_backend(void)
{
    return kern_backend()->name;
}

void r1_free(void *ptr)
{
    free(ptr);
}

int r1_model_meta_count(const r1_model *model)
{
    return model && model->file ? (int)model->file->n_kv : 0;
}

const char *r1_model_meta_key(const r1_model *model, int i)
{
    if (i < 0 || i >= r1_model_meta_count(model)) return NULL;
    return model->file->kv[i].key;
}

r1_status r1_model_meta(const r1_model *model, const char *key, char **out_value, char *err)
{
    if (!model || !key) return err_set(err, R1_ERR_INVALID_ARG, "model or key is NULL");
    const gguf_kv *kv = model->file ? gguf_find(model->file, key) : NULL;
    if (!kv) return err_set(err, R1_ERR_INVALID_ARG, "the model has no metadata key '%s'", key);
    char num[64];
    const char *s = num;
    size_t n;
    switch (kv->type) {
    case GGUF_STRING:
        s = kv->v.str.data;
        n = (size_t)kv->v.str.len;
        break;
    case GGUF_UINT8:
    case GGUF_UINT16:
    case GGUF_UINT32:
    case GGUF_UINT64:
        n = (size_t)snprintf(num, sizeof num, "%" PRIu64, kv->v.u64);
        break;
    case GGUF_INT8:
    case GGUF_INT16:
    case GGUF_INT32:
    case GGUF_INT64:
        n = (size_t)snprintf(num, sizeof num, "%" PRId64, kv->v.i64);
        break;
    case GGUF_FLOAT32:
    case GGUF_FLOAT64:
        n = (size_t)snprintf(num, sizeof num, "%.9g", kv->v.f64);
        break;
    case GGUF_BOOL:
        s = kv->v.u64 ? "true" : "false";
        n = strlen(s);
        break;
    case GGUF_ARRAY:
        return err_set(err, R1_ERR_UNSUPPORTED, "metadata key '%s' is an array (%" PRIu64 " × %s)",
                       key, kv->arr_n, gguf_vtype_name(kv->arr_type));
    default:
        return err_set(err, R1_ERR_UNSUPPORTED, "metadata key '%s' has value type %d", key,
                       (int)kv->type);
    }
    char *v = malloc(n + 1);
    if (!v) return err_set(err, R1_ERR_NOMEM, "out of memory");
    memcpy(v, s, n);
    v[n] = 0;
    *out_value = v;
    return R1_OK;
}

bool r1_token_is_eog(const r1_model *model, int32_t id)
{
    if (!model || !model->tok || id < 0 || id >= tokenizer_n_vocab(model->tok)) return false;
    if (id == model->eos_id || id == tokenizer_eos(model->tok)) return true;
    size_t len;
    const char *text = tokenizer_token_text(model->tok, id, &len);
    if (!text || !tokenizer_is_special(model->tok, id)) return false;
    static const char *ends[] = {"<\xEF\xBD\x9C"
                                 "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                                 "<|eot_id|>", "<|im_end|>", "<|end_of_text|>"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (len == strlen(ends[i]) && !memcmp(text, ends[i], len)) return true;
    return false;
}
