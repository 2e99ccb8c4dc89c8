/* test_chat_template.c — the C chat-template renderers against renderings of the official Jinja
 * templates by @huggingface/jinja (tests/data/tokenizer/template_cases.json, made by
 * tests/tokenizer/render_templates.mjs), byte for byte; template detection; messages JSON parsing.
 */
#include "test.h"

#include "tokenizer/chat_template.h"

#include <cjson/cJSON.h>

#define DATA R1_TEST_DATA "/tokenizer/"

static char *read_text(const char *path)
{
    size_t n;
    char *raw = test_read_file(path, &n);
    if (!raw) return NULL;
    char *s = realloc(raw, n + 1);
    if (!s) {
        free(raw);
        return NULL;
    }
    s[n] = 0;
    return s;
}

static void test_cases(void)
{
    char *json = read_text(DATA "template_cases.json");
    CHECK(json != NULL);
    if (!json) return;
    cJSON *root = cJSON_Parse(json);
    const cJSON *convs = cJSON_GetObjectItem(root, "conversations");
    const cJSON *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases"))
    {
        const char *conv = cJSON_GetObjectItem(c, "conversation")->valuestring;
        const char *renderer = cJSON_GetObjectItem(c, "renderer")->valuestring;
        const char *file = cJSON_GetObjectItem(c, "template_file")->valuestring;
        const char *expected = cJSON_GetObjectItem(c, "expected")->valuestring;
        char *msgs_json = cJSON_PrintUnformatted(cJSON_GetObjectItem(convs, conv));
        char err[R1_ERR_MAX] = "";
        chat_messages msgs;
        r1_status st = chat_messages_parse_json(msgs_json, strlen(msgs_json), &msgs, err);
        CHECKF(st == R1_OK, "%s: %s", conv, err);
        if (st != R1_OK) {
            free(msgs_json);
            continue;
        }
        chat_template_params p = chat_template_params_default();
        CHECK(chat_template_from_name(renderer, &p.kind));
        p.force_think = cJSON_IsTrue(cJSON_GetObjectItem(c, "force_think"));
        p.add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt"));
        char *out = NULL;
        size_t len = 0;
        CHECK(chat_template_render(&p, NULL, msgs.items, msgs.n, &out, &len, err) == R1_OK);
        CHECKF(out && len == strlen(expected) && memcmp(out, expected, len) == 0,
               "%s / %s / gen=%d:\n  want %s\n  got  %s", file, conv, p.add_generation_prompt,
               expected, out ? out : "(null)");
        free(out);
        chat_messages_free(&msgs);
        free(msgs_json);
        n_cases++;
    }
    CHECK(n_cases >= 60);
    cJSON_Delete(root);
    free(json);
}

static void test_detect(void)
{
    static const struct {
        const char *file;
        chat_template_kind kind;
        bool think;
    } want[] = {
        {"deepseek-r1.jinja", CHAT_TEMPLATE_DEEPSEEK_R1, false},
        {"deepseek-r1-think.jinja", CHAT_TEMPLATE_DEEPSEEK_R1, true},
        {"deepseek-v3.jinja", CHAT_TEMPLATE_DEEPSEEK_V3, false},
        {"deepseek-r1-distill.jinja", CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL, true},
        {"llama3.jinja", CHAT_TEMPLATE_LLAMA3, false},
        {"chatml.jinja", CHAT_TEMPLATE_CHATML, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, DATA "templates/%s", want[i].file);
        char *text = read_text(path);
        CHECK(text != NULL);
        chat_template_params p = chat_template_params_default();
        const char *warning = "unset";
        chat_template_kind k = chat_template_detect(text, &p, &warning);
        CHECKF(k == want[i].kind && p.kind == k && p.force_think == want[i].think && !warning,
               "%s detected as %s think=%d", want[i].file, chat_template_name(k), p.force_think);
        free(text);
    }
    chat_template_params p = chat_template_params_default();
    const char *warning = NULL;
    CHECK(chat_template_detect(NULL, &p, &warning) == CHAT_TEMPLATE_DEEPSEEK_R1 && warning);
    warning = NULL;
    CHECK(chat_template_detect("{{ messages }}", &p, &warning) == CHAT_TEMPLATE_DEEPSEEK_R1 &&
          warning);
    chat_template_kind k;
    CHECK(chat_template_from_name("r1-distill-qwen", &k) && k == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL);
    CHECK(!chat_template_from_name("jinja", &k));
}

static void test_parse(void)
{
    char err[R1_ERR_MAX];
    chat_messages m;
    const char *ok = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                     "\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"assistant\","
                     "\"content\":null,\"tool_calls\":[{\"type\":\"function\",\"function\":{"
                     "\"name\":\"f\",\"arguments\":{\"x\":1}}}]}]}";
    CHECK(chat_messages_parse_json(ok, strlen(ok), &m, err) == R1_OK);
    CHECK(m.n == 2 && !strcmp(m.items[0].content, "ab") && m.items[1].content == NULL);
    CHECK(m.items[1].has_tool_calls && m.items[1].n_tool_calls == 1 &&
          !strcmp(m.items[1].tool_calls[0].arguments, "{\"x\":1}"));
    chat_messages_free(&m);
    static const char *const bad[] = {
        "",
        "{",
        "{}",
        "[1]",
        "[{\"content\":\"x\"}]",
        "[{\"role\":1}]",
        "[{\"role\":\"user\",\"content\":5}]",
        "[{\"role\":\"assistant\",\"tool_calls\":5}]",
        "[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{}}]}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECKF(chat_messages_parse_json(bad[i], strlen(bad[i]), &m, err) != R1_OK && err[0],
               "bad messages accepted: %s", bad[i]);
    }
    chat_template_params p = chat_template_params_default();
    chat_message no_role = {0};
    char *out;
    size_t len;
    CHECK(chat_template_render(&p, NULL, &no_role, 1, &out, &len, err) == R1_ERR_INVALID_ARG);
    CHECK(chat_template_render(&p, NULL, NULL, 0, &out, &len, err) == R1_OK);
    CHECK(!strcmp(out, "<\xEF\xBD\x9C"
                       "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C><"
                       "\xEF\xBD\x9C"
                       "Assistant\xEF\xBD\x9C>"));
    free(out);
}

int main(void)
{
    test_cases();
    test_detect();
    test_parse();
    return test_finish();
}
