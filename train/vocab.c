/* vocab.c — the byte-level R1 vocabulary and its GGUF form (see vocab.h). */
#include "train/vocab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const special[VOCAB_N_SPECIAL] = {"<｜begin▁of▁sentence｜>",
                                                     "<｜end▁of▁sentence｜>",
                                                     "<｜User｜>",
                                                     "<｜Assistant｜>",
                                                     "<think>",
                                                     "</think>"};

/* DeepSeek-R1's chat template with the updated "<｜Assistant｜><think>\n" generation prompt
 * (tests/data/tokenizer/templates/deepseek-r1-think.jinja), so the engine's chat_template_detect
 * picks deepseek-r1 with force_think, and Jinja-based tools render the same prompt. */
static const char chat_template[] =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = fals"
    "e %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_fi"
    "rst=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%"
    "- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prom"
    "pt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%-"
    " else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content']"
    " %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%-"
    " for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool"
    " = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'"
    "] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%-"
    " for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['co"
    "ntent'] is none %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + too"
    "l['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' "
    "+ tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- else %"
    "}{{'<｜Assistant｜>' + message['content'] + '<｜tool▁calls▁begin｜><｜tool▁call▁begin"
    "｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json"
    "' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{"
    "%- endif %}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜"
    ">' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json'"
    " + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%"
    "- endif %}{%- endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%"
    "- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns."
    "is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}"
    "}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{"
    "% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- e"
    "ndif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns"
    ".is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['co"
    "ntent'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %"
    "}{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- end"
    "if %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% e"
    "ndif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\"
    "n'}}{% endif %}";

const char *vocab_special_text(int id)
{
    return id >= 0 && id < VOCAB_N_SPECIAL ? special[id] : NULL;
}

int vocab_encode(const char *text, size_t n_bytes, int32_t *out, int cap)
{
    int n = 0;
    size_t i = 0;
    while (i < n_bytes) {
        int id = -1;
        size_t len = 0;
        for (int s = 0; s < VOCAB_N_SPECIAL; s++) {
            size_t l = strlen(special[s]);
            if (l <= n_bytes - i && !memcmp(text + i, special[s], l) && l > len) {
                id = s;
                len = l;
            }
        }
        if (id < 0) {
            id = VOCAB_N_SPECIAL + (unsigned char)text[i];
            len = 1;
        }
        if (n < cap) out[n] = id;
        n++;
        i += len;
    }
    return n;
}

size_t vocab_decode(const int32_t *ids, int n_ids, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) return 0;
    for (int i = 0; i < n_ids; i++) {
        const char *s;
        char b;
        size_t l;
        if (ids[i] >= 0 && ids[i] < VOCAB_N_SPECIAL) {
            s = special[ids[i]];
            l = strlen(s);
        } else if (ids[i] >= VOCAB_N_SPECIAL && ids[i] < VOCAB_SIZE) {
            b = (char)(ids[i] - VOCAB_N_SPECIAL);
            s = &b;
            l = 1;
        } else {
            continue;
        }
        if (n + l >= cap) break;
        memcpy(out + n, s, l);
        n += l;
    }
    out[n] = 0;
    return n;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the others are
 * shifted to 256 + their rank. */
static int byte_to_codepoint(int b)
{
    bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    if (keep) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

static void utf8_put(char *out, int cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

void vocab_write_gguf(gguf_writer *w)
{
    char texts[VOCAB_SIZE][32];
    const char *ptrs[VOCAB_SIZE];
    int32_t types[VOCAB_SIZE];
    for (int i = 0; i < VOCAB_SIZE; i++) {
        if (i < VOCAB_N_SPECIAL) {
            strcpy(texts[i], special[i]);
            /* as in R1's tokenizer.json: BOS/EOS special (control), the chat and think tokens
             * added but not special (user-defined) */
            types[i] = i == VOCAB_BOS || i == VOCAB_EOS ? 3 : 4;
        } else {
            utf8_put(texts[i], byte_to_codepoint(i - VOCAB_N_SPECIAL));
            types[i] = 1;
        }
        ptrs[i] = texts[i];
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "deepseek-v3");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", ptrs, VOCAB_SIZE);
    gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, VOCAB_SIZE);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", VOCAB_BOS);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", VOCAB_EOS);
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", VOCAB_EOS);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    gguf_writer_set_str(w, "tokenizer.chat_template", chat_template);
}
