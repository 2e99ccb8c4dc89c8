/* json_schema.c — JSON Schema → GBNF: one rule per schema node, plus shared rules for any JSON
 * value. The text it writes is ordinary GBNF (the server can show it for debugging).
 *
 * Termination: the root rule is the value alone — no whitespace before or after it — so once the
 * value is closed the grammar can only end, and the mask allows nothing but end-of-generation
 * tokens. Whitespace inside a value is at most 32 characters between two tokens, and numbers have
 * at most 16 digits in each part, so no part of the output except string bodies (and arrays without
 * maxItems) can grow without bound. */
#include "grammar/grammar.h"

#include "base/err.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCHEMA_DEPTH 64
#define MAX_REFS 1024

typedef struct conv {
    char *out;
    size_t n, cap;
    const cJSON *root;
    int n_rules;
    const char *ref_path[MAX_REFS];
    int ref_rule[MAX_REFS];
    int n_refs;
    int depth;
    r1_status st;
    char *err;
} conv;

static bool cfail(conv *c, r1_status st, const char *fmt, ...) R1_PRINTF(3, 4);
static bool cfail(conv *c, r1_status st, const char *fmt, ...)
{
    if (c->st != R1_OK) return false;
    char msg[R1_ERR_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = err_set(c->err, st, "json schema: %s", msg);
    return false;
}

static bool put(conv *c, const char *s, size_t n)
{
    if (c->st != R1_OK) return false;
    if (c->n + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->n + n + 1) cap *= 2;
        if (cap > GRAMMAR_MAX_TEXT)
            return cfail(c, R1_ERR_NOMEM, "the grammar would pass %d bytes", GRAMMAR_MAX_TEXT);
        char *p = realloc(c->out, cap);
        if (!p) return cfail(c, R1_ERR_NOMEM, "out of memory");
        c->out = p;
        c->cap = cap;
    }
    memcpy(c->out + c->n, s, n);
    c->n += n;
    c->out[c->n] = 0;
    return true;
}

static bool putf(conv *c, const char *fmt, ...) R1_PRINTF(2, 3);
static bool putf(conv *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof buf)
        return cfail(c, R1_ERR_INVALID_ARG, "internal: long line");
    return put(c, buf, (size_t)k);
}

/* A GBNF string literal matching exactly the bytes s[0..n). */
static bool put_literal(conv *c, const char *s, size_t n)
{
    put(c, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '"' || b == '\\') {
            char e[2] = {'\\', (char)b};
            put(c, e, 2);
        } else if (b < 0x20 || b == 0x7f) {
            putf(c, "\\x%02X", b);
        } else {
            put(c, (const char *)&b, 1);
        }
    }
    return put(c, "\"", 1);
}

/* The literal of a JSON value as compact JSON text. */
static bool put_json_literal(conv *c, const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    if (!text) return cfail(c, R1_ERR_NOMEM, "out of memory");
    bool ok = put_literal(c, text, strlen(text));
    free(text);
    return ok;
}

static const char JSON_RULES[] =
    "ws ::= [ \\t\\n]{0,32}\n"
    "json-value ::= json-object | json-array | json-string | json-number | \"true\" | \"false\" | "
    "\"null\"\n"
    "json-object ::= \"{\" ws ( json-string ws \":\" ws json-value ws ( \",\" ws json-string ws "
    "\":\" ws json-value ws )* )? \"}\"\n"
    "json-array ::= \"[\" ws ( json-value ws ( \",\" ws json-value ws )* )? \"]\"\n"
    "json-string ::= \"\\\"\" json-char* \"\\\"\"\n"
    /* no raw control characters; \u escapes of lone surrogates are left out (strict parsers
     * reject them) */
    "json-char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-Ce-fE-F] "
    "[0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )\n"
    "json-int ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
    "json-number ::= json-int ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n"
    "json-date ::= [0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] "
    "| "
    "\"2\" [0-8] )\n"
    "json-time ::= ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" "
    "[0-9]{1,6} )? ( \"Z\" | [-+] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )\n"
    "json-uuid ::= [0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" "
    "[0-9a-f]{12}\n"
    "json-email-word ::= [a-zA-Z0-9_+-]{1,32}\n"
    "json-email-label ::= [a-zA-Z0-9] ( [a-zA-Z0-9-]{0,30} [a-zA-Z0-9] )?\n"
    "json-email ::= json-email-word ( \".\" json-email-word ){0,3} \"@\" json-email-label ( \".\" "
    "json-email-label ){1,3}\n"
    "json-octet ::= \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9]\n"
    "json-ipv4 ::= json-octet \".\" json-octet \".\" json-octet \".\" json-octet\n";

static int gen(conv *c, const cJSON *s);

static int new_rule(conv *c)
{
    return ++c->n_rules;
}

/* Keywords that only annotate: ignored. Anything else not handled below is refused. */
static bool is_annotation(const char *k)
{
    static const char *const names[] = {"title",
                                        "description",
                                        "default",
                                        "examples",
                                        "$schema",
                                        "$id",
                                        "$comment",
                                        "strict",
                                        "deprecated",
                                        "readOnly",
                                        "writeOnly",
                                        "$defs",
                                        "definitions",
                                        "name",
                                        "additionalProperties",
                                        "required",
                                        "properties",
                                        "items",
                                        "minItems",
                                        "maxItems",
                                        "minLength",
                                        "maxLength",
                                        "format",
                                        "type",
                                        "enum",
                                        "const",
                                        "anyOf",
                                        "oneOf",
                                        "allOf",
                                        "$ref",
                                        "nullable",
                                        "contentMediaType",
                                        "contentEncoding"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(k, names[i]) == 0) return true;
    return false;
}

static bool check_keywords(conv *c, const cJSON *s)
{
    for (const cJSON *k = s->child; k; k = k->next) {
        if (!k->string) continue;
        if (!is_annotation(k->string))
            return cfail(c, R1_ERR_UNSUPPORTED,
                         "keyword \"%.64s\" is not supported (its constraint "
                         "could not be enforced)",
                         k->string);
    }
    return true;
}

static int get_count(conv *c, const cJSON *s, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!v) return dflt;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != (double)(int)v->valuedouble)
        return cfail(c, R1_ERR_INVALID_ARG, "\"%s\" must be a non-negative integer", key), -2;
    if (v->valuedouble > 1000)
        return cfail(c, R1_ERR_UNSUPPORTED, "\"%s\" above 1000 is not supported", key), -2;
    return (int)v->valuedouble;
}

static int gen_object(conv *c, const cJSON *s)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    if (props && !cJSON_IsObject(props))
        return cfail(c, R1_ERR_INVALID_ARG, "\"properties\" must be an object"), -1;
    if (req && !cJSON_IsArray(req))
        return cfail(c, R1_ERR_INVALID_ARG, "\"required\" must be an array"), -1;
    if (addl && !cJSON_IsBool(addl) && !cJSON_IsObject(addl))
        return cfail(c, R1_ERR_INVALID_ARG, "\"additionalProperties\" must be a boolean or schema"),
               -1;
    int n_props = props ? cJSON_GetArraySize(props) : 0;
    int n_req = req ? cJSON_GetArraySize(req) : 0;
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
        if (!cJSON_IsString(r))
            return cfail(c, R1_ERR_INVALID_ARG, "\"required\" must list strings"), -1;
    if (n_props == 0 && n_req == 0) {
        int r = new_rule(c);
        if (cJSON_IsFalse(addl))
            putf(c, "r%d ::= \"{\" ws \"}\"\n", r);
        else
            putf(c, "r%d ::= json-object\n", r);
        return r;
    }
    /* the keys in order: the properties as declared, then required names without a schema; extra
     * keys are never generated (allowed or not, leaving them out stays valid) */
    int n = 0;
    const char **names = malloc((size_t)(n_props + n_req) * sizeof *names);
    const cJSON **schemas = malloc((size_t)(n_props + n_req) * sizeof *schemas);
    bool *required = calloc((size_t)(n_props + n_req), sizeof *required);
    int *vrule = malloc((size_t)(n_props + n_req) * sizeof *vrule);
    if (!names || !schemas || !required || !vrule) {
        free(names), free(schemas), free(required), free(vrule);
        return cfail(c, R1_ERR_NOMEM, "out of memory"), -1;
    }
    for (const cJSON *p = props ? props->child : NULL; p; p = p->next) {
        names[n] = p->string;
        schemas[n++] = p;
    }
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next) {
        int i = 0;
        while (i < n && strcmp(names[i], r->valuestring) != 0) i++;
        if (i == n) {
            names[n] = r->valuestring;
            schemas[n++] = NULL;
        }
        required[i] = true;
    }
    int base = new_rule(c);
    for (int i = 0; i < n && c->st == R1_OK; i++) vrule[i] = schemas[i] ? gen(c, schemas[i]) : 0;
    for (int i = 0; i < n && c->st == R1_OK; i++) {
        /* item: "key" ws ":" ws value ws */
        putf(c, "r%d-k%d ::= ", base, i);
        cJSON *key = cJSON_CreateString(names[i]);
        if (!key)
            cfail(c, R1_ERR_NOMEM, "out of memory");
        else
            put_json_literal(c, key);
        cJSON_Delete(key);
        if (vrule[i])
            putf(c, " ws \":\" ws r%d ws\n", vrule[i]);
        else
            putf(c, " ws \":\" ws json-value ws\n");
    }
    /* first-i: keys from i on, none written yet; tail-i: keys from i on after at least one */
    for (int i = 0; i <= n && c->st == R1_OK; i++) {
        if (i == n) {
            putf(c, "r%d-f%d ::= \"\"\nr%d-t%d ::= \"\"\n", base, i, base, i);
        } else if (required[i]) {
            putf(c, "r%d-f%d ::= r%d-k%d r%d-t%d\n", base, i, base, i, base, i + 1);
            putf(c, "r%d-t%d ::= \",\" ws r%d-k%d r%d-t%d\n", base, i, base, i, base, i + 1);
        } else {
            putf(c, "r%d-f%d ::= r%d-k%d r%d-t%d | r%d-f%d\n", base, i, base, i, base, i + 1, base,
                 i + 1);
            putf(c, "r%d-t%d ::= ( \",\" ws r%d-k%d )? r%d-t%d\n", base, i, base, i, base, i + 1);
        }
    }
    putf(c, "r%d ::= \"{\" ws r%d-f0 \"}\"\n", base, base);
    free(names), free(schemas), free(required), free(vrule);
    return base;
}

static int gen_array(conv *c, const cJSON *s)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    int lo = get_count(c, s, "minItems", 0), hi = get_count(c, s, "maxItems", -1);
    if (lo == -2 || hi == -2) return -1;
    if (hi >= 0 && hi < lo) return cfail(c, R1_ERR_INVALID_ARG, "maxItems < minItems"), -1;
    int item = 0;
    if (items && !cJSON_IsObject(items) && !cJSON_IsBool(items))
        return cfail(c, R1_ERR_UNSUPPORTED, "\"items\" must be a schema"), -1;
    if (items && (item = gen(c, items)) < 0) return -1;
    char iname[32];
    if (item)
        snprintf(iname, sizeof iname, "r%d", item);
    else
        snprintf(iname, sizeof iname, "json-value");
    int r = new_rule(c);
    if (hi == 0) {
        putf(c, "r%d ::= \"[\" ws \"]\"\n", r);
        return r;
    }
    /* the first item, then more: {lo-1, hi-1} */
    char more[64];
    int mlo = lo > 0 ? lo - 1 : 0;
    if (hi < 0)
        snprintf(more, sizeof more, "{%d,}", mlo);
    else
        snprintf(more, sizeof more, "{%d,%d}", mlo, hi - 1);
    if (lo == 0)
        putf(c, "r%d ::= \"[\" ws ( %s ws ( \",\" ws %s ws )%s )? \"]\"\n", r, iname, iname, more);
    else
        putf(c, "r%d ::= \"[\" ws %s ws ( \",\" ws %s ws )%s \"]\"\n", r, iname, iname, more);
    return r;
}

static int gen_string(conv *c, const cJSON *s)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(s, "format");
    int r = new_rule(c);
    if (fmt) {
        if (!cJSON_IsString(fmt))
            return cfail(c, R1_ERR_INVALID_ARG, "\"format\" must be a string"), -1;
        const char *f = fmt->valuestring, *rule = NULL;
        if (strcmp(f, "date") == 0)
            rule = "json-date";
        else if (strcmp(f, "time") == 0)
            rule = "json-time";
        else if (strcmp(f, "date-time") == 0)
            rule = "json-date \"T\" json-time";
        else if (strcmp(f, "uuid") == 0)
            rule = "json-uuid";
        else if (strcmp(f, "email") == 0)
            rule = "json-email";
        else if (strcmp(f, "ipv4") == 0)
            rule = "json-ipv4";
        else
            return cfail(c, R1_ERR_UNSUPPORTED,
                         "string format \"%.64s\" is not supported (date, time, date-time, uuid, "
                         "email, ipv4 are)",
                         f),
                   -1;
        if (cJSON_GetObjectItemCaseSensitive(s, "minLength") ||
            cJSON_GetObjectItemCaseSensitive(s, "maxLength"))
            return cfail(c, R1_ERR_UNSUPPORTED, "minLength/maxLength together with a format"), -1;
        putf(c, "r%d ::= \"\\\"\" %s \"\\\"\"\n", r, rule);
        return r;
    }
    int lo = get_count(c, s, "minLength", 0), hi = get_count(c, s, "maxLength", -1);
    if (lo == -2 || hi == -2) return -1;
    if (hi >= 0 && hi < lo) return cfail(c, R1_ERR_INVALID_ARG, "maxLength < minLength"), -1;
    if (hi < 0)
        putf(c, "r%d ::= \"\\\"\" json-char{%d,} \"\\\"\"\n", r, lo);
    else
        putf(c, "r%d ::= \"\\\"\" json-char{%d,%d} \"\\\"\"\n", r, lo, hi);
    return r;
}

static int gen_typed(conv *c, const cJSON *s, const char *type)
{
    if (strcmp(type, "object") == 0) return gen_object(c, s);
    if (strcmp(type, "array") == 0) return gen_array(c, s);
    if (strcmp(type, "string") == 0) return gen_string(c, s);
    int r = new_rule(c);
    if (strcmp(type, "number") == 0)
        putf(c, "r%d ::= json-number\n", r);
    else if (strcmp(type, "integer") == 0)
        putf(c, "r%d ::= json-int\n", r);
    else if (strcmp(type, "boolean") == 0)
        putf(c, "r%d ::= \"true\" | \"false\"\n", r);
    else if (strcmp(type, "null") == 0)
        putf(c, "r%d ::= \"null\"\n", r);
    else
        return cfail(c, R1_ERR_INVALID_ARG, "unknown type \"%.64s\"", type), -1;
    return r;
}

static int gen_ref(conv *c, const char *ref)
{
    for (int i = 0; i < c->n_refs; i++)
        if (strcmp(c->ref_path[i], ref) == 0) return c->ref_rule[i];
    const char *name = NULL, *where = NULL;
    if (strncmp(ref, "#/$defs/", 8) == 0)
        name = ref + 8, where = "$defs";
    else if (strncmp(ref, "#/definitions/", 14) == 0)
        name = ref + 14, where = "definitions";
    else if (strcmp(ref, "#") == 0)
        name = NULL, where = NULL;
    else
        return cfail(c, R1_ERR_UNSUPPORTED, "$ref \"%.64s\" (only #, #/$defs/X, #/definitions/X)",
                     ref),
               -1;
    const cJSON *target = c->root;
    if (where) {
        const cJSON *defs = cJSON_GetObjectItemCaseSensitive(c->root, where);
        target = defs ? cJSON_GetObjectItemCaseSensitive(defs, name) : NULL;
    }
    if (!target) return cfail(c, R1_ERR_INVALID_ARG, "$ref \"%.64s\" not found", ref), -1;
    if (c->n_refs >= MAX_REFS) return cfail(c, R1_ERR_UNSUPPORTED, "too many $refs"), -1;
    /* name the rule before generating it, so a recursive schema refers to itself */
    int r = new_rule(c);
    c->ref_path[c->n_refs] = ref;
    c->ref_rule[c->n_refs++] = r;
    int body = gen(c, target);
    if (body < 0) return -1;
    putf(c, "r%d ::= r%d\n", r, body);
    return r;
}

/* A rule for schema s; its number, or -1 after cfail. 0 is never returned. */
static int gen(conv *c, const cJSON *s)
{
    if (c->st != R1_OK) return -1;
    if (++c->depth > MAX_SCHEMA_DEPTH)
        return cfail(c, R1_ERR_UNSUPPORTED, "schema nested deeper than %d", MAX_SCHEMA_DEPTH), -1;
    int r = -1;
    if (cJSON_IsTrue(s)) {
        r = new_rule(c);
        putf(c, "r%d ::= json-value\n", r);
    } else if (!cJSON_IsObject(s)) {
        cfail(c, R1_ERR_INVALID_ARG, "a schema must be an object or true");
    } else if (check_keywords(c, s)) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
        const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
        if (!any) any = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
        const cJSON *all = cJSON_GetObjectItemCaseSensitive(s, "allOf");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
        const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(s, "nullable");
        if (ref) {
            if (!cJSON_IsString(ref))
                cfail(c, R1_ERR_INVALID_ARG, "$ref must be a string");
            else
                r = gen_ref(c, ref->valuestring);
        } else if (cn) {
            r = new_rule(c);
            putf(c, "r%d ::= ", r);
            put_json_literal(c, cn);
            put(c, "\n", 1);
        } else if (en) {
            if (!cJSON_IsArray(en) || cJSON_GetArraySize(en) == 0) {
                cfail(c, R1_ERR_INVALID_ARG, "\"enum\" must be a non-empty array");
            } else {
                r = new_rule(c);
                putf(c, "r%d ::= ", r);
                for (const cJSON *v = en->child; v; v = v->next) {
                    put_json_literal(c, v);
                    if (v->next) put(c, " | ", 3);
                }
                put(c, "\n", 1);
            }
        } else if (any) {
            int n = cJSON_IsArray(any) ? cJSON_GetArraySize(any) : 0;
            if (n == 0 || n > 256) {
                cfail(c, R1_ERR_INVALID_ARG, "\"anyOf\"/\"oneOf\" must be an array of 1 to 256");
            } else {
                int *alts = malloc((size_t)n * sizeof *alts), k = 0;
                if (!alts) cfail(c, R1_ERR_NOMEM, "out of memory");
                for (const cJSON *v = any->child; alts && v && c->st == R1_OK; v = v->next)
                    alts[k++] = gen(c, v);
                if (c->st == R1_OK) {
                    r = new_rule(c);
                    putf(c, "r%d ::=", r);
                    for (int i = 0; i < k; i++) putf(c, "%s r%d", i ? " |" : "", alts[i]);
                    put(c, "\n", 1);
                }
                free(alts);
            }
        } else if (all) {
            if (cJSON_IsArray(all) && cJSON_GetArraySize(all) == 1)
                r = gen(c, all->child);
            else
                cfail(c, R1_ERR_UNSUPPORTED, "\"allOf\" with more than one schema");
        } else if (!type) {
            /* no type: any value (an object with properties is still an object) */
            if (cJSON_GetObjectItemCaseSensitive(s, "properties"))
                r = gen_object(c, s);
            else if (cJSON_GetObjectItemCaseSensitive(s, "items"))
                r = gen_array(c, s);
            else {
                r = new_rule(c);
                putf(c, "r%d ::= json-value\n", r);
            }
        } else if (cJSON_IsString(type)) {
            r = gen_typed(c, s, type->valuestring);
            if (r > 0 && cJSON_IsTrue(nullable)) {
                int n2 = new_rule(c);
                putf(c, "r%d ::= r%d | \"null\"\n", n2, r);
                r = n2;
            }
        } else if (cJSON_IsArray(type) && cJSON_GetArraySize(type) > 0) {
            int alts[8], k = 0;
            for (const cJSON *t = type->child; t && c->st == R1_OK; t = t->next) {
                if (!cJSON_IsString(t) || k == 8) {
                    cfail(c, R1_ERR_INVALID_ARG, "\"type\" must list type names");
                    break;
                }
                alts[k++] = gen_typed(c, s, t->valuestring);
            }
            if (c->st == R1_OK) {
                r = new_rule(c);
                putf(c, "r%d ::=", r);
                for (int i = 0; i < k; i++) putf(c, "%s r%d", i ? " |" : "", alts[i]);
                put(c, "\n", 1);
            }
        } else {
            cfail(c, R1_ERR_INVALID_ARG, "\"type\" must be a string or an array");
        }
    }
    c->depth--;
    return c->st == R1_OK ? r : -1;
}

r1_status grammar_json_schema_to_gbnf(const char *schema, size_t n, char **out, char *err)
{
    if (!out) return err_set(err, R1_ERR_INVALID_ARG, "json schema: no output");
    if (n > GRAMMAR_MAX_TEXT)
        return err_set(err, R1_ERR_INVALID_ARG, "json schema: over %d bytes", GRAMMAR_MAX_TEXT);
    cJSON *root = NULL;
    if (schema && n) {
        root = cJSON_ParseWithLength(schema, n);
        if (!root) return err_set(err, R1_ERR_INVALID_ARG, "json schema: not valid JSON");
    }
    conv c = {.root = root, .err = err};
    put(&c, JSON_RULES, sizeof JSON_RULES - 1);
    int r = root ? gen(&c, root) : 0;
    if (c.st == R1_OK) {
        if (r > 0)
            putf(&c, "root ::= r%d\n", r);
        else
            putf(&c, "root ::= json-value\n");
    }
    cJSON_Delete(root);
    if (c.st != R1_OK) {
        free(c.out);
        return c.st;
    }
    *out = c.out;
    return R1_OK;
}

r1_status grammar_from_json_schema(const char *schema, size_t n, grammar **out, char *err)
{
    char *gbnf;
    r1_status st = grammar_json_schema_to_gbnf(schema, n, &gbnf, err);
    if (st != R1_OK) return st;
    st = grammar_parse_gbnf(gbnf, strlen(gbnf), "root", out, err);
    free(gbnf);
    return st;
}
