/* cmd_tokenize.c — `r1 tokenize`, `r1 detokenize` and `r1 template`: the tokenizer and chat
 * templates from the command line (MODEL is a .gguf file or a Hugging Face tokenizer.json). */
#include "cli.h"
#include "common.h"

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read all of a stream; returns NULL on failure. */
static char *read_all(FILE *f, size_t *out_len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) break;
            buf[n] = 0;
            *out_len = n;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

static tokenizer *load_tokenizer(const char *path)
{
    char err[R1_ERR_MAX];
    tokenizer *tok;
    if (!path) {
        fprintf(stderr, "%s: -m MODEL is required (a .gguf file or a tokenizer.json)\n", cli_cmd);
        return NULL;
    }
    if (tokenizer_load_path(path, &tok, err) != R1_OK) {
        fprintf(stderr, "%s: cannot load the tokenizer: %s\n", cli_cmd, err);
        return NULL;
    }
    return tok;
}

/* Print bytes readably: printable UTF-8 as is, the rest escaped (\n, \t, \xNN). */
static void print_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02X", c);
        else if (c < 0x80)
            putchar(c);
        else {
            /* a complete, valid UTF-8 character prints as itself */
            int k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            bool ok = k > 0 && i + (size_t)k <= n;
            for (int j = 1; ok && j < k; j++) ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
            if (ok) {
                fwrite(s + i, 1, (size_t)k, stdout);
                i += (size_t)k - 1;
            } else {
                printf("\\x%02X", c);
            }
        }
    }
}

static void tokenize_usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 tokenize - text to token ids with a model's vocabulary\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 tokenize -m MODEL [OPTIONS] < TEXT\n"
        "\n"
        "DESCRIPTION\n"
        "    Encodes text (stdin, or -p) to token ids. MODEL is a .gguf file or a\n"
        "    tokenizer.json (tokenizer_config.json next to it is read too). Without --ids\n"
        "    each token is printed as `id<TAB>piece` with control bytes escaped.\n"
        "\n"
        "OPTIONS\n"
        "    -m, --model PATH      model or tokenizer.json\n"
        "    -p, --prompt TEXT     encode TEXT instead of stdin\n"
        "        --ids             print only the ids, on one line\n"
        "    -0, --null            stdin holds NUL-separated texts: one line of ids per text\n"
        "        --bos             start with BOS when the tokenizer asks for it\n"
        "        --no-parse-special\n"
        "                          treat control-token text (<｜end▁of▁sentence｜>) as plain text\n"
        "    -h, --help            this help\n");
}

static int print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL;
    bool ids_only = false, nul_docs = false, bos = false, parse_special = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--ids")) {
            ids_only = true;
        } else if (!strcmp(a, "-0") || !strcmp(a, "--null")) {
            nul_docs = true;
        } else if (!strcmp(a, "--bos")) {
            bos = true;
        } else if (!strcmp(a, "--no-parse-special")) {
            parse_special = false;
        } else {
            return cli_unknown_option(a);
        }
    }
    tokenizer *tok = load_tokenizer(model);
    if (!tok) return model ? 1 : 2;
    size_t n_text;
    char *text = prompt ? strdup(prompt) : read_all(stdin, &n_text);
    if (prompt && text) n_text = strlen(text);
    if (!text) {
        fprintf(stderr, "r1 tokenize: cannot read the input\n");
        tokenizer_free(tok);
        return 1;
    }
    int rc = 0;
    char err[R1_ERR_MAX];
    size_t start = 0;
    while (start <= n_text) {
        size_t end = start;
        if (nul_docs) {
            while (end < n_text && text[end] != 0) end++;
            if (end == n_text && start == n_text) break; /* no text after the last NUL */
        } else {
            end = n_text;
        }
        int32_t *ids;
        size_t n_ids;
        if (tokenizer_encode(tok, text + start, end - start, parse_special, &ids, &n_ids, err) !=
            R1_OK) {
            fprintf(stderr, "r1 tokenize: %s\n", err);
            rc = 1;
            break;
        }
        bool add_bos = bos && tokenizer_add_bos(tok) && tokenizer_bos(tok) >= 0;
        if (ids_only || nul_docs) {
            if (add_bos) printf(n_ids ? "%d " : "%d", tokenizer_bos(tok));
            print_ids(ids, n_ids);
        } else {
            if (add_bos)
                printf("%d\t", tokenizer_bos(tok)), print_escaped("<BOS>", 5), putchar('\n');
            for (size_t i = 0; i < n_ids; i++) {
                size_t len;
                const char *piece = tokenizer_token_piece(tok, ids[i], &len);
                printf("%d\t", ids[i]);
                print_escaped(piece, len);
                putchar('\n');
            }
        }
        free(ids);
        start = end + 1;
        if (!nul_docs) break;
    }
    free(text);
    tokenizer_free(tok);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}

/* ---- detokenize -------------------------------------------------------------------------------
 */

static void detokenize_usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 detokenize - token ids to text\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 detokenize -m MODEL [OPTIONS] [ID ...]\n"
        "\n"
        "DESCRIPTION\n"
        "    Decodes token ids (arguments, or stdin when none are given; separated by\n"
        "    spaces, commas or newlines) to text, streaming: a character split over tokens\n"
        "    is written once complete.\n"
        "\n"
        "OPTIONS\n"
        "    -m, --model PATH      model or tokenizer.json\n"
        "        --no-special      drop control tokens (BOS, EOS, ...) from the output\n"
        "        --lines           each stdin line is one sequence; each text is followed by NUL\n"
        "    -h, --help            this help\n");
}

/* Parse the next id from *p; returns 0 at the end, -1 on a bad number. */
static int next_id(const char **p, long *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '[' ||
           *s == ']')
        s++;
    if (!*s) {
        *p = s;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno) return -1;
    *out = v;
    *p = end;
    return 1;
}

static int decode_ids(detok *d, const char *list, bool *bad)
{
    char err[R1_ERR_MAX];
    const char *p = list;
    long v;
    int r;
    while ((r = next_id(&p, &v)) == 1) {
        const char *s;
        size_t len;
        if (v < INT32_MIN || v > INT32_MAX || detok_feed(d, (int32_t)v, &s, &len, err) != R1_OK) {
            fprintf(stderr, "r1 detokenize: token id %ld out of range\n", v);
            *bad = true;
            return 1;
        }
        fwrite(s, 1, len, stdout);
    }
    if (r < 0) {
        fprintf(stderr, "r1 detokenize: not a token id near '%.20s'\n", p);
        *bad = true;
        return 2;
    }
    return 0;
}

int cmd_detokenize(int argc, char **argv)
{
    const char *model = NULL;
    bool special = true, lines = false;
    int first_id = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            detokenize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--no-special")) {
            special = false;
        } else if (!strcmp(a, "--lines")) {
            lines = true;
        } else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            return cli_unknown_option(a);
        } else {
            first_id = i;
            break;
        }
    }
    tokenizer *tok = load_tokenizer(model);
    if (!tok) return model ? 1 : 2;
    char err[R1_ERR_MAX];
    detok *d;
    if (detok_new(tok, special, &d, err) != R1_OK) {
        fprintf(stderr, "r1 detokenize: %s\n", err);
        tokenizer_free(tok);
        return 1;
    }
    int rc = 0;
    bool bad = false;
    const char *s;
    size_t len;
    if (first_id < argc) {
        for (int i = first_id; i < argc && !bad; i++) rc = decode_ids(d, argv[i], &bad);
        detok_flush(d, &s, &len);
        fwrite(s, 1, len, stdout);
    } else {
        size_t n;
        char *in = read_all(stdin, &n);
        if (!in) {
            fprintf(stderr, "r1 detokenize: cannot read stdin\n");
            rc = 1;
        } else if (lines) {
            char *line = in;
            while (*line && !bad) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = 0;
                rc = decode_ids(d, line, &bad);
                detok_flush(d, &s, &len);
                fwrite(s, 1, len, stdout);
                putchar(0);
                if (!nl) break;
                line = nl + 1;
            }
        } else {
            rc = decode_ids(d, in, &bad);
            detok_flush(d, &s, &len);
            fwrite(s, 1, len, stdout);
        }
        free(in);
    }
    detok_free(d);
    tokenizer_free(tok);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}

/* ---- template ---------------------------------------------------------------------------------
 */

static void template_usage(FILE *f)
{
    fprintf(f,
            "NAME\n"
            "    r1 template - render a chat with a model's chat template\n"
            "\n"
            "SYNOPSIS\n"
            "    r1 template -m MODEL [OPTIONS] < MESSAGES.json\n"
            "\n"
            "DESCRIPTION\n"
            "    Renders a conversation (OpenAI-style JSON: an array of messages, or an object\n"
            "    with \"messages\") with the model's chat template, as C code: no template text\n"
            "    from the file is executed. The template is recognized from\n"
            "    tokenizer.chat_template.\n"
            "\n"
            "OPTIONS\n"
            "    -m, --model PATH      model or tokenizer.json\n"
            "        --chat-template NAME\n"
            "                          use NAME instead: %s\n"
            "        --no-generation-prompt\n"
            "                          do not end with the assistant prefix\n"
            "        --think, --no-think\n"
            "                          force (or do not force) \"<think>\\n\" after the prefix\n"
            "        --ids             print token ids instead of text\n"
            "    -h, --help            this help\n",
            chat_template_names());
}

int cmd_template(int argc, char **argv)
{
    const char *model = NULL, *name = NULL;
    bool gen = true, ids = false;
    int think = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            template_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--chat-template")) {
            if (!(name = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--no-generation-prompt")) {
            gen = false;
        } else if (!strcmp(a, "--think")) {
            think = 1;
        } else if (!strcmp(a, "--no-think")) {
            think = 0;
        } else if (!strcmp(a, "--ids")) {
            ids = true;
        } else {
            return cli_unknown_option(a);
        }
    }
    chat_template_kind kind = CHAT_TEMPLATE_DEEPSEEK_R1;
    if (name && !chat_template_from_name(name, &kind)) {
        fprintf(stderr, "r1 template: unknown template '%s' (known: %s)\n", name,
                chat_template_names());
        return 2;
    }
    tokenizer *tok = load_tokenizer(model);
    if (!tok) return model ? 1 : 2;
    char err[R1_ERR_MAX];
    int rc = 1;
    size_t n;
    char *json = read_all(stdin, &n);
    chat_messages msgs = {0};
    char *out = NULL;
    size_t out_len = 0;
    int32_t *tids = NULL;
    size_t n_tids = 0;
    if (!json) {
        fprintf(stderr, "r1 template: cannot read stdin\n");
        goto done;
    }
    if (chat_messages_parse_json(json, n, &msgs, err) != R1_OK) {
        fprintf(stderr, "r1 template: %s\n", err);
        goto done;
    }
    chat_template_params params = chat_template_params_default();
    const char *warning = NULL;
    if (name) {
        params.kind = kind;
        params.force_think = kind == CHAT_TEMPLATE_DEEPSEEK_R1_DISTILL; /* as its template does */
    } else {
        chat_template_detect(tokenizer_chat_template(tok), &params, &warning);
    }
    if (warning) fprintf(stderr, "r1 template: warning: %s\n", warning);
    params.add_generation_prompt = gen;
    if (think >= 0) params.force_think = think == 1;
    if (chat_template_render(&params, tok, msgs.items, msgs.n, &out, &out_len, err) != R1_OK) {
        fprintf(stderr, "r1 template: %s\n", err);
        goto done;
    }
    if (ids) {
        if (tokenizer_encode(tok, out, out_len, true, &tids, &n_tids, err) != R1_OK) {
            fprintf(stderr, "r1 template: %s\n", err);
            goto done;
        }
        print_ids(tids, n_tids);
    } else {
        fwrite(out, 1, out_len, stdout);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    free(tids);
    free(out);
    chat_messages_free(&msgs);
    free(json);
    tokenizer_free(tok);
    return rc;
}
