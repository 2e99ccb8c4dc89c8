/* tokenizer_gguf.c — load the tokenizer from a GGUF file's tokenizer.ggml.* keys.
 *
 * Keys read: model (must be "gpt2": byte-level BPE), tokens (str[n_vocab]), token_type
 * (int[n_vocab], optional: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte),
 * merges (str[], "a b", in rank order), pre (pre-tokenizer name), bos/eos/padding_token_id,
 * add_bos_token, chat_template. Control and user-defined tokens are the added tokens, matched on
 * the raw text before BPE. The qwen2 pre-tokenizer gets the NFC normalizer and llama3
 * ignore_merges, as their tokenizer.json files specify, so both sources give the same ids. */
#include "tokenizer/tokenizer_int.h"

#include "base/err.h"
#include "base/mmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static r1_status get_special(const gguf_file *f, const char *key, int32_t *out, char *err)
{
    bool bad = false;
    uint32_t v;
    if (gguf_get_u32(f, key, &v, &bad)) {
        if (v > INT32_MAX) return err_set(err, R1_ERR_FORMAT, "%s = %u out of range", key, v);
        *out = (int32_t)v;
    } else if (bad) {
        return err_set(err, R1_ERR_FORMAT, "%s has the wrong type", key);
    }
    return R1_OK;
}

static r1_status load(const gguf_file *f, tokenizer **out, char *err)
{
    const gguf_kv *model = gguf_find(f, "tokenizer.ggml.model");
    if (!model) return err_set(err, R1_ERR_FORMAT, "no tokenizer.ggml.model");
    if (model->type != GGUF_STRING)
        return err_set(err, R1_ERR_FORMAT, "tokenizer.ggml.model is not a string");
    if (model->v.str.len != 4 || memcmp(model->v.str.data, "gpt2", 4) != 0)
        return err_set(err, R1_ERR_UNSUPPORTED, "tokenizer model \"%.*s\" (only gpt2 BPE)",
                       (int)(model->v.str.len > 40 ? 40 : model->v.str.len), model->v.str.data);

    const gguf_kv *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING)
        return err_set(err, R1_ERR_FORMAT, "tokenizer.ggml.tokens missing or not a string array");
    if (tokens->arr_n == 0 || tokens->arr_n > TOK_MAX_VOCAB)
        return err_set(err, R1_ERR_FORMAT, "tokenizer.ggml.tokens has %llu entries",
                       (unsigned long long)tokens->arr_n);
    int32_t n_vocab = (int32_t)tokens->arr_n;

    const gguf_kv *types = gguf_find(f, "tokenizer.ggml.token_type");
    if (types) {
        if (types->type != GGUF_ARRAY || types->arr_type == GGUF_STRING ||
            types->arr_type == GGUF_FLOAT32 || types->arr_type == GGUF_FLOAT64 ||
            types->arr_type == GGUF_BOOL)
            return err_set(err, R1_ERR_FORMAT, "tokenizer.ggml.token_type is not an int array");
        if (types->arr_n != tokens->arr_n)
            return err_set(err, R1_ERR_FORMAT, "token_type has %llu entries, tokens %llu",
                           (unsigned long long)types->arr_n, (unsigned long long)tokens->arr_n);
    }
    const gguf_kv *merges = gguf_find(f, "tokenizer.ggml.merges");
    if (!merges || merges->type != GGUF_ARRAY || merges->arr_type != GGUF_STRING)
        return err_set(err, R1_ERR_FORMAT, "tokenizer.ggml.merges missing or not a string array");

    pretok_kind pre = PRETOK_DEEPSEEK_V3;
    char pre_name[64];
    bool bad = false;
    if (!gguf_get_str(f, "tokenizer.ggml.pre", pre_name, sizeof pre_name, &bad))
        return err_set(err, bad ? R1_ERR_FORMAT : R1_ERR_UNSUPPORTED,
                       bad ? "tokenizer.ggml.pre is not a string"
                           : "no tokenizer.ggml.pre: pre-tokenizer unknown");
    if (!pretok_from_gguf_name(pre_name, &pre))
        return err_set(err, R1_ERR_UNSUPPORTED, "pre-tokenizer \"%s\" is not supported", pre_name);

    tokenizer *t = tok_new(n_vocab);
    if (!t) return err_set(err, R1_ERR_NOMEM, "out of memory for %d tokens", n_vocab);
    t->pre = pre;
    t->use_nfc = pre == PRETOK_QWEN2;
    t->ignore_merges = pre == PRETOK_LLAMA3;
    r1_status st = R1_OK;
    for (int32_t id = 0; id < n_vocab && st == R1_OK; id++) {
        int64_t ty = types ? gguf_arr_i64(types, (uint64_t)id) : TOKEN_TYPE_NORMAL;
        if (ty < TOKEN_TYPE_NORMAL || ty > TOKEN_TYPE_BYTE) {
            st = err_set(err, R1_ERR_FORMAT, "token %d has type %lld", id, (long long)ty);
            break;
        }
        uint8_t flags = (ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_USER_DEFINED) ? ADDED_YES : 0;
        const gguf_str *s = &tokens->arr_str[id];
        st = tok_set_token(t, id, s->data, (size_t)s->len, (token_type)ty, flags, err);
    }
    if (st == R1_OK) st = tok_index(t, (size_t)merges->arr_n, err);
    for (uint64_t i = 0; i < merges->arr_n && st == R1_OK; i++) {
        const gguf_str *m = &merges->arr_str[i];
        const char *sp = m->len > 1 ? memchr(m->data + 1, ' ', (size_t)m->len - 1) : NULL;
        size_t a_len = (size_t)(sp ? sp - m->data : 0);
        /* An entry that is not "a b", or names a token the vocabulary lacks, can never apply.
         * Files in circulation have them (emptied tokens and merges in llama.cpp-quantized
         * tiny models) and llama.cpp loads them; so do we. Skipping one keeps the order of the
         * others, which is all BPE uses. */
        if (!sp || !tok_can_merge(t, m->data, a_len, sp + 1, (size_t)m->len - a_len - 1)) continue;
        st = tok_add_merge(t, m->data, a_len, sp + 1, (size_t)m->len - a_len - 1, err);
    }
    if (st == R1_OK) st = get_special(f, "tokenizer.ggml.bos_token_id", &t->bos, err);
    if (st == R1_OK) st = get_special(f, "tokenizer.ggml.eos_token_id", &t->eos, err);
    if (st == R1_OK) st = get_special(f, "tokenizer.ggml.padding_token_id", &t->pad, err);
    if (st == R1_OK) {
        bool v;
        bad = false;
        if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &v, &bad))
            t->add_bos = v;
        else if (bad)
            st = err_set(err, R1_ERR_FORMAT, "add_bos_token is not a bool");
    }
    const gguf_kv *tpl = gguf_find(f, "tokenizer.chat_template");
    if (st == R1_OK && tpl) {
        if (tpl->type != GGUF_STRING) {
            st = err_set(err, R1_ERR_FORMAT, "tokenizer.chat_template is not a string");
        } else {
            t->chat_template = malloc((size_t)tpl->v.str.len + 1);
            if (!t->chat_template) {
                st = err_set(err, R1_ERR_NOMEM, "out of memory");
            } else {
                memcpy(t->chat_template, tpl->v.str.data, (size_t)tpl->v.str.len);
                t->chat_template[tpl->v.str.len] = 0;
            }
        }
    }
    if (st == R1_OK) st = tok_finish(t, err);
    if (st != R1_OK) {
        tokenizer_free(t);
        return st;
    }
    *out = t;
    return R1_OK;
}

r1_status tokenizer_load_gguf(const gguf_file *file, tokenizer **out_tok, char *err)
{
    r1_status st = load(file, out_tok, err);
    if (st != R1_OK && file->path) err_prefix(err, "%s", file->path);
    return st;
}

r1_status tokenizer_load_path(const char *path, tokenizer **out_tok, char *err)
{
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) {
        /* tokenizer_config.json next to it, if there is one */
        const char *slash = strrchr(path, '/');
        size_t dir = slash ? (size_t)(slash - path + 1) : 0;
        char *cfg = malloc(dir + sizeof "tokenizer_config.json");
        if (!cfg) return err_set(err, R1_ERR_NOMEM, "out of memory");
        memcpy(cfg, path, dir);
        strcpy(cfg + dir, "tokenizer_config.json");
        bool has_cfg = strcmp(cfg, path) != 0;
        if (has_cfg) {
            char cfg_err[R1_ERR_MAX]; /* a missing config is not an error */
            FILE *f = file_fopen_regular(cfg, cfg_err);
            has_cfg = f != NULL;
            if (f) fclose(f);
        }
        r1_status st = tokenizer_load_json(path, has_cfg ? cfg : NULL, out_tok, err);
        free(cfg);
        return st;
    }
    gguf_file *f;
    r1_status st = gguf_open(path, true, &f, err);
    if (st != R1_OK) return st;
    st = tokenizer_load_gguf(f, out_tok, err);
    gguf_close(f);
    return st;
}
