/* test_grammar.c — the grammar module: GBNF parsing (and its errors), the matcher on bytes and
 * UTF-8, JSON Schema conversion, and token masks checked token by token against the matcher. */
#include "grammar/grammar.h"

#include "test.h"

#include <cjson/cJSON.h>

static grammar *parse(const char *text)
{
    grammar *g = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = grammar_parse_gbnf(text, strlen(text), NULL, &g, err);
    CHECKF(st == R1_OK, "%s: %s", text, err);
    return st == R1_OK ? g : NULL;
}

/* Whether the whole of s is a complete string of the grammar text. */
static int matches(const char *text, const char *s)
{
    grammar *g = parse(text);
    if (!g) return -1;
    gmatch *m;
    if (gmatch_new(g, NULL, &m, NULL) != R1_OK) return grammar_free(g), -1;
    int ok = gmatch_accept_bytes(m, s, strlen(s)) && gmatch_can_end(m);
    gmatch_free(m);
    grammar_free(g);
    return ok;
}

static void expect_error(const char *text, const char *needle)
{
    grammar *g = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = grammar_parse_gbnf(text, strlen(text), NULL, &g, err);
    CHECKF(st != R1_OK && g == NULL, "accepted: %s", text);
    CHECKF(strstr(err, needle) != NULL, "%s: error \"%s\" lacks \"%s\"", text, err, needle);
    grammar_free(g);
}

static void test_parse_and_match(void)
{
    CHECK(matches("root ::= \"abc\"", "abc") == 1);
    CHECK(matches("root ::= \"abc\"", "ab") == 0);
    CHECK(matches("root ::= \"abc\"", "abcd") == 0);
    CHECK(matches("root ::= \"a\" | \"b\" # comment\n", "b") == 1);
    CHECK(matches("root ::= x y\nx ::= [a-c]+\ny ::= [^a-c]", "abcz") == 1);
    CHECK(matches("root ::= x y\nx ::= [a-c]+\ny ::= [^a-c]", "abca") == 0);
    CHECK(matches("root ::= \"a\"{2,3}", "a") == 0);
    CHECK(matches("root ::= \"a\"{2,3}", "aa") == 1);
    CHECK(matches("root ::= \"a\"{2,3}", "aaa") == 1);
    CHECK(matches("root ::= \"a\"{2,3}", "aaaa") == 0);
    CHECK(matches("root ::= \"a\"{2,}", "aaaaaaa") == 1);
    CHECK(matches("root ::= \"a\"{2}", "aa") == 1);
    CHECK(matches("root ::= (\"ab\" | \"c\")* \"!\"", "abcab!") == 1);
    CHECK(matches("root ::= (\"ab\" | \"c\")* \"!\"", "abca!") == 0);
    CHECK(matches("root ::= \"x\"? \"y\"", "y") == 1);
    CHECK(matches("root ::= .+", "héllo ✓") == 1);
    CHECK(matches("root ::= [α-ω]+", "λόγος") == 0); /* ό is outside α-ω */
    CHECK(matches("root ::= [α-ω]+", "λογος") == 1);
    CHECK(matches("root ::= \"\\x41\\u00e9\\U0001F600\\n\\\"\"", "Aé😀\n\"") == 1);
    CHECK(matches("root ::= [\\]\\-]+", "]-]") == 1);
    CHECK(matches("root ::= \"\"", "") == 1);
    /* rules across lines, forward references */
    CHECK(matches("root ::= item\n  (\",\" item)*\nitem ::=\n  [0-9]+", "1,22,333") == 1);
    /* invalid UTF-8 and overlong forms never match, even where '.' is allowed */
    CHECK(matches("root ::= .*", "\xC0\xAF") == 0);
    CHECK(matches("root ::= .*", "\xED\xA0\x80") == 0); /* a surrogate */
    CHECK(matches("root ::= .*", "\xFF") == 0);

    expect_error("root ::= undefined-rule", "used but not defined");
    expect_error("root ::= root \"a\" | \"b\"", "left recursion");
    expect_error("root ::= x\nx ::= \"b\"? root | \"c\"", "left recursion");
    expect_error("root ::= \"abc", "unclosed string");
    expect_error("root ::= \"\\q\"", "unknown escape");
    expect_error("root ::= [z-a]", "end before its start");
    expect_error("root ::= [abc", "unclosed character class");
    expect_error("root ::= \"a\"\nroot ::= \"b\"", "defined twice");
    expect_error("", "no rules");
    expect_error("main ::= \"a\"", "no rule named 'root'");
    expect_error("root ::= \"a\"{3,2}", "n < m");
    expect_error("root ::= \"a\"{5000}", "above 1000");
    expect_error("root ::= (\"a\"", "unclosed '('");
    expect_error("root ::= \"a\" )", "unmatched ')'");
    expect_error("root = \"a\"", "expected '::='");
    expect_error("root ::= \"\xC3\"", "invalid UTF-8");
    expect_error("root ::= x\nx ::= \"a\" x", "no finite text");
    expect_error("root ::= []", "no finite text");
    char deep[1200];
    size_t k = (size_t)snprintf(deep, sizeof deep, "root ::= ");
    for (int i = 0; i < 300; i++) deep[k++] = '(';
    deep[k] = 0;
    expect_error(deep, "nested too deep");
    /* alternatives that cannot finish are dropped; the rest still works */
    CHECK(matches("root ::= \"a\" dead | \"b\"\ndead ::= \"x\" dead", "b") == 1);
    CHECK(matches("root ::= \"a\" dead | \"b\"\ndead ::= \"x\" dead", "ax") == 0);
}

static void test_constant_space(void)
{
    /* right recursion and x* run in constant space: the caches stop growing */
    grammar *g = parse("root ::= (\"a\" | \"bc\")* \"!\"");
    gmatch *m;
    CHECK(gmatch_new(g, NULL, &m, NULL) == R1_OK);
    int states0 = 0, states1 = 0;
    for (int i = 0; i < 100000; i++) {
        CHECK(gmatch_accept_bytes(m, i % 3 ? "a" : "bc", i % 3 ? 1 : 2) || (i = 1 << 30));
        if (i == 100) gmatch_stats(m, &states0, NULL, NULL);
    }
    gmatch_stats(m, &states1, NULL, NULL);
    CHECKF(states1 == states0, "states grew from %d to %d", states0, states1);
    CHECK(!gmatch_can_end(m));
    CHECK(gmatch_accept_bytes(m, "!", 1) && gmatch_can_end(m) && gmatch_is_done(m));
    /* a rejected byte leaves the state as it was */
    gmatch_reset(m);
    CHECK(gmatch_accept_bytes(m, "a", 1));
    CHECK(!gmatch_accept_bytes(m, "ax", 2));
    CHECK(gmatch_accept_bytes(m, "!", 1) && gmatch_can_end(m));
    gmatch_free(m);
    grammar_free(g);

    /* deep nesting: 3000 levels of brackets, then closed */
    g = parse("root ::= \"[\" root? \"]\"");
    CHECK(gmatch_new(g, NULL, &m, NULL) == R1_OK);
    bool ok = true;
    for (int i = 0; i < 3000; i++) ok = ok && gmatch_accept_bytes(m, "[", 1);
    for (int i = 0; i < 3000; i++) ok = ok && !gmatch_can_end(m) && gmatch_accept_bytes(m, "]", 1);
    CHECK(ok && gmatch_can_end(m) && gmatch_is_done(m));
    gmatch_free(m);
    grammar_free(g);
}

static int schema_matches(const char *schema, const char *json)
{
    grammar *g = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = grammar_from_json_schema(schema, strlen(schema), &g, err);
    CHECKF(st == R1_OK, "%s: %s", schema, err);
    if (st != R1_OK) return -1;
    gmatch *m;
    if (gmatch_new(g, NULL, &m, NULL) != R1_OK) return grammar_free(g), -1;
    int ok = gmatch_accept_bytes(m, json, strlen(json)) && gmatch_can_end(m);
    gmatch_free(m);
    grammar_free(g);
    return ok;
}

static void schema_error(const char *schema, const char *needle)
{
    grammar *g = NULL;
    char err[R1_ERR_MAX] = "";
    r1_status st = grammar_from_json_schema(schema, strlen(schema), &g, err);
    CHECKF(st != R1_OK && !g, "accepted %s", schema);
    CHECKF(strstr(err, needle) != NULL, "%s: error \"%s\" lacks \"%s\"", schema, err, needle);
    grammar_free(g);
}

static void test_json_schema(void)
{
    const char *person =
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"age\":{\"type\":"
        "\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},"
        "\"maxItems\":2}},\"required\":[\"name\",\"age\"],\"additionalProperties\":false}";
    CHECK(schema_matches(person, "{\"name\":\"Ann\",\"age\":31}") == 1);
    CHECK(schema_matches(
              person,
              "{ \"name\" : \"A\\\"n\\u00e9\" ,\n  \"age\": -2, \"tags\": [\"a\", \"b\"] }") == 1);
    CHECK(schema_matches(person, "{\"name\":\"Ann\"}") == 0);             /* age required */
    CHECK(schema_matches(person, "{\"age\":3,\"name\":\"Ann\"}") == 0);   /* declared order */
    CHECK(schema_matches(person, "{\"name\":\"Ann\",\"age\":3.5}") == 0); /* integer */
    CHECK(schema_matches(person, "{\"name\":\"Ann\",\"age\":1,\"tags\":[\"c\"]}") == 0);
    CHECK(schema_matches(person, "{\"name\":\"Ann\",\"age\":1,\"tags\":[\"a\",\"a\",\"a\"]}") == 0);
    CHECK(schema_matches(person, " {\"name\":\"Ann\",\"age\":1}") == 0); /* nothing around it */
    CHECK(schema_matches(person, "{\"name\":\"Ann\",\"age\":1}\n") == 0);
    const char *opt = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{"
                      "\"type\":\"boolean\"},\"c\":{\"type\":\"null\"}}}";
    CHECK(schema_matches(opt, "{}") == 1);
    CHECK(schema_matches(opt, "{\"b\":true}") == 1);
    CHECK(schema_matches(opt, "{\"a\":1e5,\"c\":null}") == 1);
    CHECK(schema_matches(opt, "{,\"b\":true}") == 0);
    CHECK(schema_matches(opt, "{\"a\":1,}") == 0);
    CHECK(schema_matches("{\"type\":\"object\"}", "{\"x\":[1,{\"y\":null}],\"z\":\"\"}") == 1);
    CHECK(schema_matches("{\"type\":\"object\"}", "[]") == 0);
    CHECK(schema_matches("{}", "[1, \"two\", {\"three\": 3.0}]") == 1);
    CHECK(schema_matches("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "7") == 1);
    CHECK(schema_matches("{\"type\":[\"string\",\"null\"]}", "null") == 1);
    CHECK(schema_matches("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-28\"") == 1);
    CHECK(schema_matches("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-13-01\"") == 0);
    CHECK(schema_matches("{\"type\":\"string\",\"format\":\"uuid\"}",
                         "\"123e4567-e89b-12d3-a456-426614174000\"") == 1);
    CHECK(schema_matches("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"ab\"") == 1);
    CHECK(schema_matches("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"abcd\"") == 0);
    CHECK(schema_matches("{\"const\":{\"k\":[1,2]}}", "{\"k\":[1,2]}") == 1);
    /* recursion through $defs */
    const char *tree = "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":"
                       "\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/"
                       "node\"}}},\"required\":[\"v\",\"kids\"],\"additionalProperties\":false}},"
                       "\"$ref\":\"#/$defs/node\"}";
    CHECK(schema_matches(tree, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[]}]}") == 1);
    CHECK(schema_matches(tree, "{\"v\":1,\"kids\":[{\"v\":2}]}") == 0);

    schema_error("{\"type\":\"string\",\"pattern\":\"^a+$\"}", "\"pattern\" is not supported");
    schema_error("{\"type\":\"integer\",\"minimum\":3}", "\"minimum\"");
    schema_error("{\"type\":\"strin\"}", "unknown type");
    schema_error("{\"$ref\":\"#/$defs/nope\"}", "not found");
    schema_error("{\"type\":\"string\",\"format\":\"uri\"}", "not supported");
    schema_error("{\"type\":", "not valid JSON");
    schema_error("[1,2]", "must be an object");
    schema_error("{\"$ref\":\"#\"}", "no finite text");
}

/* A small vocabulary with multi-byte characters split across tokens. */
static const char *const VOCAB[] = {
    "{",   "}",    "\"", "a", "ab", "\"a",  ":",    ",",        " ",        "  ",   "\"}",
    "{\"", "1",    "12", "-", ".",  "\xC3", "\xA9", "\xC3\xA9", "é\"",      "true", "tr",
    "ue",  "null", "[",  "]", "\n", "x\"",  "\\",   "n",        "\xE2\x9C", "\x93", "<eos>"};
#define N_VOCAB ((int)(sizeof VOCAB / sizeof *VOCAB))

static gvocab *small_vocab(void)
{
    size_t lens[N_VOCAB];
    bool is_end[N_VOCAB] = {0};
    for (int i = 0; i < N_VOCAB; i++) lens[i] = strlen(VOCAB[i]);
    is_end[N_VOCAB - 1] = true;
    gvocab *v = NULL;
    CHECK(gvocab_new(N_VOCAB, VOCAB, lens, is_end, &v, NULL) == R1_OK);
    return v;
}

static void test_mask(void)
{
    gvocab *v = small_vocab();
    grammar *g = NULL;
    const char *schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
                         "\"required\":[\"a\"],\"additionalProperties\":false}";
    CHECK(grammar_from_json_schema(schema, strlen(schema), &g, NULL) == R1_OK);
    gmatch *m;
    CHECK(gmatch_new(g, v, &m, NULL) == R1_OK);
    uint32_t bits[(N_VOCAB + 31) / 32];
    /* follow a fixed path; at every step the mask must equal allows_token for every id */
    const int path[] = {11, 3, 2, 6, 8, 2, 16, 17, 18, 30, 31, 28, 29, 27, 1};
    for (size_t step = 0; step <= sizeof path / sizeof *path; step++) {
        CHECK(gmatch_mask(m, bits, NULL) == R1_OK);
        for (int id = 0; id < N_VOCAB; id++) {
            bool in = bits[id >> 5] >> (id & 31) & 1;
            CHECKF(in == gmatch_allows_token(m, id), "step %zu token %d", step, id);
        }
        if (step == sizeof path / sizeof *path) break;
        CHECKF(gmatch_accept_token(m, path[step]), "step %zu token %d refused", step, path[step]);
    }
    /* the object is closed: only <eos> */
    CHECK(gmatch_is_done(m));
    for (int id = 0; id < N_VOCAB; id++)
        CHECK((bits[id >> 5] >> (id & 31) & 1) == (id == N_VOCAB - 1));
    /* a token ending inside a character is allowed only when the character can be completed */
    gmatch_reset(m);
    CHECK(gmatch_accept_token(m, 11) && gmatch_accept_token(m, 3) && gmatch_accept_token(m, 2));
    CHECK(gmatch_accept_token(m, 6) && gmatch_accept_token(m, 2));
    CHECK(gmatch_allows_token(m, 16) && gmatch_accept_token(m, 16));
    CHECK(!gmatch_allows_token(m, 3)); /* "a" after a lead byte */
    CHECK(gmatch_allows_token(m, 17) && !gmatch_allows_token(m, N_VOCAB - 1));
    gmatch_free(m);
    grammar_free(g);

    /* digits only: \xC3 (a partial character) must be refused up front */
    g = parse("root ::= [0-9]+");
    CHECK(gmatch_new(g, v, &m, NULL) == R1_OK);
    CHECK(gmatch_mask(m, bits, NULL) == R1_OK);
    for (int id = 0; id < N_VOCAB; id++)
        CHECKF((bits[id >> 5] >> (id & 31) & 1) == (id == 12 || id == 13), "digits: token %d", id);
    gmatch_free(m);
    grammar_free(g);
    gvocab_free(v);
}

static void test_distance(void)
{
    /* the fewest characters to a complete text, as a generation out of tokens needs it */
    grammar *g =
        parse("root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [a-z]+ | \"<\" item \">\"");
    gmatch *m;
    CHECK(gmatch_new(g, NULL, &m, NULL) == R1_OK);
    CHECK(gmatch_distance(m) == 3); /* [a] */
    CHECK(gmatch_accept_bytes(m, "[<<", 3));
    CHECK(gmatch_distance(m) == 4); /* a>>] */
    CHECK(gmatch_accept_bytes(m, "ab", 2));
    CHECK(gmatch_distance(m) == 3); /* >>] */
    CHECK(gmatch_accept_bytes(m, ">>]", 3));
    CHECK(gmatch_distance(m) == 0 && gmatch_can_end(m));
    gmatch_free(m);
    grammar_free(g);
}

int main(void)
{
    test_distance();
    test_parse_and_match();
    test_constant_space();
    test_json_schema();
    test_mask();
    return test_finish();
}
