/* tokenizer_json.c — load a Hugging Face tokenizer.json (+ tokenizer_config.json) with cJSON.
 *
 * Accepted shape (what the R1 family ships; anything else is a clear R1_ERR_UNSUPPORTED):
 *   model: {type: "BPE", vocab: {text: id}, merges: ["a b", ...] or [["a","b"], ...],
 *           ignore_merges?, byte_fallback: false}
 *   added_tokens: [{id, content, special, normalized?, lstrip?, rstrip?}]
 *   normalizer: null | {type: "NFC"} | {type: "Sequence", normalizers: [] or [NFC]}
 *   pre_tokenizer: a Sequence of Split(regex, Isolated) + ByteLevel(use_regex: false) whose regexes
 *                  are one of the known sets in pretok.h.
 * Config: bos_token / eos_token / pad_token (string or {content}), add_bos_token, chat_template
 * (string, or [{name, template}] where "default" is taken). */
#include "tokenizer/tokenizer_int.h"

#include "base/err.h"
#include "base/mmap.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_BYTES ((size_t)1 << 30)

/* Known pre-tokenizer regex sets, with CR and LF written as the escapes \r \n (see canon()). */
static const char RX_DS3_DIGITS[] = "\\p{N}{1,3}";
static const char RX_DS3_CJK[] = "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-"
                                 "\xE3\x83\xBF]+";
static const char RX_DS3_MAIN[] =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RX_QWEN2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RX_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Write a regex with literal CR/LF characters spelled as \r \n, so both spellings compare equal. */
static char *canon(const char *rx)
{
    size_t n = strlen(rx);
    char *out = malloc(n * 2 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (rx[i] == '\r' || rx[i] == '\n') {
            out[o++] = '\\';
            out[o++] = rx[i] == '\r' ? 'r' : 'n';
        } else {
            out[o++] = rx[i];
        }
    }
    out[o] = 0;
    return out;
}

static r1_status read_file(const char *path, char **out, size_t *out_len, char *err)
{
    FILE *f = file_fopen_regular(path, err);
    if (!f) return R1_ERR_IO;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= JSON_MAX_BYTES) {
                free(buf);
                fclose(f);
                return err_set(err, R1_ERR_FORMAT, "%s: larger than 1 GiB", path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(err, buf ? R1_ERR_IO : R1_ERR_NOMEM, "%s: read failed", path);
    }
    *out = buf;
    *out_len = n;
    return R1_OK;
}

static bool json_int(const cJSON *item, long long lo, long long hi, long long *out)
{
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!(v >= (double)lo && v <= (double)hi) || v != (double)(long long)v) return false;
    *out = (long long)v;
    return true;
}

static bool json_bool(const cJSON *obj, const char *key, bool dflt, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return dflt;
    if (!cJSON_IsBool(it)) {
        *ok = false;
        return dflt;
    }
    return cJSON_IsTrue(it);
}

/* Identify the pre-tokenizer from its Split regexes. */
static r1_status parse_pre_tokenizer(const cJSON *pre, pretok_kind *out, char *err)
{
    const char *rx[4];
    int n_rx = 0;
    bool has_byte_level = false;
    const cJSON *list = NULL;
    if (!cJSON_IsObject(pre)) return err_set(err, R1_ERR_UNSUPPORTED, "pre_tokenizer missing");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "Sequence") == 0) {
        list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        if (!cJSON_IsArray(list))
            return err_set(err, R1_ERR_FORMAT, "pre_tokenizer.pretokenizers is not an array");
    }
    int count = list ? cJSON_GetArraySize(list) : 1;
    for (int i = 0; i < count; i++) {
        const cJSON *p = list ? cJSON_GetArrayItem(list, i) : pre;
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsString(pt))
            return err_set(err, R1_ERR_FORMAT, "pre_tokenizer %d has no type", i);
        if (strcmp(pt->valuestring, "ByteLevel") == 0) {
            bool ok = true;
            if (json_bool(p, "use_regex", true, &ok) || !ok)
                return err_set(err, R1_ERR_UNSUPPORTED,
                               "pre_tokenizer ByteLevel with use_regex is not supported");
            if (json_bool(p, "add_prefix_space", false, &ok) || !ok)
                return err_set(err, R1_ERR_UNSUPPORTED,
                               "pre_tokenizer ByteLevel with add_prefix_space is not supported");
            has_byte_level = true;
        } else if (strcmp(pt->valuestring, "Split") == 0) {
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
            const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
            const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
            bool ok = true;
            if (!cJSON_IsString(re) || !cJSON_IsString(beh) ||
                strcmp(beh->valuestring, "Isolated") != 0 || json_bool(p, "invert", false, &ok) ||
                !ok)
                return err_set(err, R1_ERR_UNSUPPORTED,
                               "pre_tokenizer %d: only Split(Regex, Isolated) is supported", i);
            if (n_rx == 4) return err_set(err, R1_ERR_UNSUPPORTED, "too many Split pre-tokenizers");
            rx[n_rx++] = re->valuestring;
        } else {
            return err_set(err, R1_ERR_UNSUPPORTED, "pre_tokenizer type \"%.40s\" not supported",
                           pt->valuestring);
        }
    }
    if (!has_byte_level)
        return err_set(err, R1_ERR_UNSUPPORTED, "pre_tokenizer has no ByteLevel step");
    static const struct {
        pretok_kind kind;
        int n;
        const char *rx[3];
    } known[] = {
        {PRETOK_DEEPSEEK_V3, 3, {RX_DS3_DIGITS, RX_DS3_CJK, RX_DS3_MAIN}},
        {PRETOK_QWEN2, 1, {RX_QWEN2}},
        {PRETOK_LLAMA3, 1, {RX_LLAMA3}},
    };
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (known[k].n != n_rx) continue;
        bool same = true;
        for (int i = 0; i < n_rx && same; i++) {
            char *c = canon(rx[i]);
            if (!c) return err_set(err, R1_ERR_NOMEM, "out of memory");
            same = strcmp(c, known[k].rx[i]) == 0;
            free(c);
        }
        if (same) {
            *out = known[k].kind;
            return R1_OK;
        }
    }
    return err_set(err, R1_ERR_UNSUPPORTED,
                   "pre_tokenizer regexes are not a known set (deepseek-v3, qwen2, llama3); "
                   "first: \"%.80s\"",
                   n_rx ? rx[0] : "");
}

static r1_status parse_normalizer(const cJSON *norm, bool *use_nfc, char *err)
{
    *use_nfc = false;
    if (!norm || cJSON_IsNull(norm)) return R1_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
    if (!cJSON_IsString(type)) return err_set(err, R1_ERR_FORMAT, "normalizer has no type");
    if (strcmp(type->valuestring, "NFC") == 0) {
        *use_nfc = true;
        return R1_OK;
    }
    if (strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
        if (!cJSON_IsArray(list))
            return err_set(err, R1_ERR_FORMAT, "normalizer.normalizers is not an array");
        const cJSON *it;
        cJSON_ArrayForEach(it, list)
        {
            bool nfc;
            r1_status st = parse_normalizer(it, &nfc, err);
            if (st != R1_OK) return st;
            if (nfc) *use_nfc = true;
        }
        return R1_OK;
    }
    return err_set(err, R1_ERR_UNSUPPORTED, "normalizer \"%.40s\" not supported",
                   type->valuestring);
}

/* A config token entry: "text" or {"content": "text"}. NULL if absent or of another shape. */
static const char *config_token(const cJSON *cfg, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(it)) return it->valuestring;
    if (cJSON_IsObject(it)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

static r1_status parse_config(tokenizer *t, const cJSON *cfg, char *err)
{
    if (!cJSON_IsObject(cfg))
        return err_set(err, R1_ERR_FORMAT, "tokenizer_config.json: not a JSON object");
    bool ok = true;
    t->add_bos = json_bool(cfg, "add_bos_token", false, &ok);
    if (!ok) return err_set(err, R1_ERR_FORMAT, "tokenizer_config.json: add_bos_token not a bool");
    const char *keys[3] = {"bos_token", "eos_token", "pad_token"};
    int32_t *ids[3] = {&t->bos, &t->eos, &t->pad};
    for (int i = 0; i < 3; i++) {
        const char *s = config_token(cfg, keys[i]);
        if (!s) continue;
        int32_t id = tokenizer_token_id(t, s, strlen(s));
        if (id < 0)
            return err_set(err, R1_ERR_FORMAT, "tokenizer_config.json: %s \"%.60s\" is not a token",
                           keys[i], s);
        *ids[i] = id;
    }
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    const char *text = NULL;
    if (cJSON_IsString(tpl)) {
        text = tpl->valuestring;
    } else if (cJSON_IsArray(tpl)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, tpl)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "template");
            if (!cJSON_IsString(body)) continue;
            if (!text || (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0))
                text = body->valuestring;
        }
    }
    if (text) {
        t->chat_template = strdup(text);
        if (!t->chat_template) return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    return R1_OK;
}

static r1_status load_parsed(const cJSON *root, const cJSON *cfg, tokenizer **out, char *err)
{
    if (!cJSON_IsObject(root)) return err_set(err, R1_ERR_FORMAT, "not a JSON object");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return err_set(err, R1_ERR_FORMAT, "\"model\" missing");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (mtype && (!cJSON_IsString(mtype) || strcmp(mtype->valuestring, "BPE") != 0))
        return err_set(err, R1_ERR_UNSUPPORTED, "model type is not BPE");
    bool ok = true;
    if (json_bool(model, "byte_fallback", false, &ok) || !ok)
        return err_set(err, R1_ERR_UNSUPPORTED, "byte_fallback BPE is not supported");
    bool ignore_merges = json_bool(model, "ignore_merges", false, &ok);
    if (!ok) return err_set(err, R1_ERR_FORMAT, "model.ignore_merges is not a bool");
    const char *affix_keys[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affix_keys[i]);
        if (a && !cJSON_IsNull(a) && !(cJSON_IsString(a) && a->valuestring[0] == 0))
            return err_set(err, R1_ERR_UNSUPPORTED, "model.%s is not supported", affix_keys[i]);
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab)) return err_set(err, R1_ERR_FORMAT, "model.vocab is not an object");
    if (!cJSON_IsArray(merges)) return err_set(err, R1_ERR_FORMAT, "model.merges is not an array");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return err_set(err, R1_ERR_FORMAT, "added_tokens is not an array");

    pretok_kind pre = PRETOK_DEEPSEEK_V3;
    r1_status st =
        parse_pre_tokenizer(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &pre, err);
    if (st != R1_OK) return st;
    bool use_nfc;
    st = parse_normalizer(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &use_nfc, err);
    if (st != R1_OK) return st;

    /* n_vocab = largest id + 1 */
    long long max_id = -1, v;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!json_int(it, 0, TOK_MAX_VOCAB - 1, &v))
            return err_set(err, R1_ERR_FORMAT,
                           "vocab entry \"%.60s\": id is not an integer in "
                           "[0, %d)",
                           it->string ? it->string : "", TOK_MAX_VOCAB);
        if (v > max_id) max_id = v;
    }
    cJSON_ArrayForEach(it, added)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!json_int(id, 0, TOK_MAX_VOCAB - 1, &v) || !cJSON_IsString(content))
            return err_set(err, R1_ERR_FORMAT, "added_tokens entry without integer id / content");
        if (v > max_id) max_id = v;
    }
    if (max_id < 0) return err_set(err, R1_ERR_FORMAT, "empty vocabulary");
    tokenizer *t = tok_new((int32_t)max_id + 1);
    if (!t) return err_set(err, R1_ERR_NOMEM, "out of memory for %lld tokens", max_id + 1);
    t->pre = pre;
    t->use_nfc = use_nfc;
    t->ignore_merges = ignore_merges;
    uint8_t *seen = calloc((size_t)max_id + 1, 1);
    if (!seen) {
        tokenizer_free(t);
        return err_set(err, R1_ERR_NOMEM, "out of memory");
    }
    cJSON_ArrayForEach(it, vocab)
    {
        json_int(it, 0, TOK_MAX_VOCAB - 1, &v);
        if (seen[v]) {
            st = err_set(err, R1_ERR_FORMAT, "vocab: id %lld used twice", v);
            break;
        }
        seen[v] = 1;
        st =
            tok_set_token(t, (int32_t)v, it->string, strlen(it->string), TOKEN_TYPE_NORMAL, 0, err);
        if (st != R1_OK) break;
    }
    if (st == R1_OK) {
        cJSON_ArrayForEach(it, added)
        {
            json_int(cJSON_GetObjectItemCaseSensitive(it, "id"), 0, TOK_MAX_VOCAB - 1, &v);
            const char *content = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
            if (seen[v] == 2) {
                st = err_set(err, R1_ERR_FORMAT, "added_tokens: id %lld used twice", v);
                break;
            }
            seen[v] = 2;
            bool fok = true;
            bool special = json_bool(it, "special", false, &fok);
            uint8_t flags = ADDED_YES;
            if (json_bool(it, "normalized", !special, &fok)) flags |= ADDED_NORMALIZED;
            if (json_bool(it, "lstrip", false, &fok)) flags |= ADDED_LSTRIP;
            if (json_bool(it, "rstrip", false, &fok)) flags |= ADDED_RSTRIP;
            if (!fok) {
                st = err_set(err, R1_ERR_FORMAT, "added_tokens id %lld: a flag is not a bool", v);
                break;
            }
            if (content[0] == 0) {
                st = err_set(err, R1_ERR_FORMAT, "added_tokens id %lld: empty content", v);
                break;
            }
            st = tok_set_token(t, (int32_t)v, content, strlen(content),
                               special ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_USER_DEFINED, flags, err);
            if (st != R1_OK) break;
        }
    }
    free(seen);
    if (st == R1_OK) st = tok_index(t, (size_t)cJSON_GetArraySize(merges), err);
    int rank = 0;
    if (st == R1_OK) {
        cJSON_ArrayForEach(it, merges)
        {
            const char *a, *b;
            size_t a_len, b_len;
            if (cJSON_IsString(it)) {
                const char *s = it->valuestring;
                const char *sp = s[0] ? strchr(s + 1, ' ') : NULL;
                if (!sp || strchr(sp + 1, ' ')) {
                    st = err_set(err, R1_ERR_FORMAT, "merge %d \"%.60s\" is not \"a b\"", rank, s);
                    break;
                }
                a = s;
                a_len = (size_t)(sp - s);
                b = sp + 1;
                b_len = strlen(b);
            } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
                       cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                       cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
                a = cJSON_GetArrayItem(it, 0)->valuestring;
                b = cJSON_GetArrayItem(it, 1)->valuestring;
                a_len = strlen(a);
                b_len = strlen(b);
            } else {
                st = err_set(err, R1_ERR_FORMAT, "merge %d is neither \"a b\" nor [a, b]", rank);
                break;
            }
            st = tok_add_merge(t, a, a_len, b, b_len, err);
            if (st != R1_OK) break;
            rank++;
        }
    }
    if (st == R1_OK && cfg) st = parse_config(t, cfg, err);
    if (st == R1_OK) st = tok_finish(t, err);
    if (st != R1_OK) {
        tokenizer_free(t);
        return st;
    }
    *out = t;
    return R1_OK;
}

r1_status tokenizer_load_json_memory(const char *json, size_t json_bytes, const char *config_json,
                                     size_t config_bytes, tokenizer **out_tok, char *err)
{
    cJSON *root = cJSON_ParseWithLength(json, json_bytes);
    if (!root) return err_set(err, R1_ERR_FORMAT, "tokenizer.json: malformed JSON");
    cJSON *cfg = NULL;
    if (config_json) {
        cfg = cJSON_ParseWithLength(config_json, config_bytes);
        if (!cfg) {
            cJSON_Delete(root);
            return err_set(err, R1_ERR_FORMAT, "tokenizer_config.json: malformed JSON");
        }
    }
    r1_status st = load_parsed(root, cfg, out_tok, err);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    return st;
}

r1_status tokenizer_load_json(const char *tokenizer_json_path, const char *config_path_or_null,
                              tokenizer **out_tok, char *err)
{
    char *json = NULL, *cfg = NULL;
    size_t n = 0, n_cfg = 0;
    r1_status st = read_file(tokenizer_json_path, &json, &n, err);
    if (st == R1_OK && config_path_or_null) st = read_file(config_path_or_null, &cfg, &n_cfg, err);
    if (st == R1_OK) {
        st = tokenizer_load_json_memory(json, n, cfg, n_cfg, out_tok, err);
        if (st != R1_OK) err_prefix(err, "%s", tokenizer_json_path);
    }
    free(json);
    free(cfg);
    return st;
}
