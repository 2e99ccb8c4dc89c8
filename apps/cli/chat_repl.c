/* chat_repl.c — the interactive chat (see chat_repl.h). Lines are read with libedit's native API
 * (histedit.h) through our own character reader, so that Ctrl-C at the prompt is seen as a key
 * (or as an interrupted read) and never kills the process with the terminal left raw. While a reply
 * streams, SIGINT only sets a flag that chat_reply() polls between tokens; a second SIGINT before
 * the reply has stopped exits at once. */
#include "chat_repl.h"
#include "chat_store.h"

#include <histedit.h>

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

static volatile sig_atomic_t g_stop;       /* stop the current reply */
static volatile sig_atomic_t g_generating; /* a reply is being generated */
static volatile sig_atomic_t g_sigint;     /* SIGINT arrived while reading a line */

static void on_sigint(int sig)
{
    (void)sig;
    if (g_generating) {
        if (g_stop) {
            static const char msg[] = "\n";
            ssize_t w = write(STDOUT_FILENO, msg, 1);
            (void)w;
            _exit(130);
        }
        g_stop = 1;
    } else {
        g_sigint = 1;
    }
}

/* ---- output ---------------------------------------------------------------------------------- */

typedef struct repl {
    chat *c;
    const chat_repl_opts *o;
    EditLine *el;
    History *hist;
    char hist_path[4096];
    bool continuation; /* the prompt is "... " (inside """) */
    bool line_interrupted;
    char last_char; /* last byte printed of the reply, to end it with a newline */
    bool in_dim;
} repl;

static const char *dim_on(const repl *r)
{
    return r->o->color ? "\033[2m" : "";
}

static const char *dim_off(const repl *r)
{
    return r->o->color ? "\033[0m" : "";
}

static void out(repl *r, const char *s, size_t n)
{
    if (!n) return;
    fwrite(s, 1, n, stdout);
    r->last_char = s[n - 1];
    fflush(stdout);
}

static void outs(repl *r, const char *s)
{
    out(r, s, strlen(s));
}

/* Model text to the terminal: control characters other than newline and tab are dropped, so
 * that no model (a random-weight one emits any byte) can move the cursor or retitle the window. */
static void out_model(repl *r, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
            out(r, s + start, i - start);
            start = i + 1;
        }
    }
    out(r, s + start, n - start);
}

static void on_reasoning_start(void *user)
{
    repl *r = user;
    fprintf(stdout, "%sThinking…\n", dim_on(r));
    r->last_char = '\n';
    r->in_dim = true;
    fflush(stdout);
}

static void on_text(void *user, reasoning_part part, const char *text, size_t n)
{
    repl *r = user;
    if (part == REASONING_PART_REASONING) {
        if (r->c->think == CHAT_THINK_SHOW) out_model(r, text, n);
    } else {
        out_model(r, text, n);
    }
}

static void on_reasoning_end(void *user, int n_tokens, double seconds, chat_finish why)
{
    repl *r = user;
    if (r->last_char != '\n') outs(r, "\n");
    const char *note = why == CHAT_FINISH_INTERRUPTED ? ", interrupted"
                       : why == CHAT_FINISH_LENGTH    ? ", cut at the token limit"
                       : why == CHAT_FINISH_CONTEXT   ? ", the context is full"
                                                      : "";
    fprintf(stdout, "…done thinking (%d tokens, %.1f s%s)%s\n%s", n_tokens, seconds, note,
            dim_off(r), why == CHAT_FINISH_STOP ? "\n" : "");
    r->in_dim = false;
    r->last_char = '\n';
    fflush(stdout);
}

/* ---- line input ------------------------------------------------------------------------------ */

static char *prompt_fn(EditLine *el)
{
    repl *r = NULL;
    el_get(el, EL_CLIENTDATA, &r);
    return r && r->continuation ? "... " : ">>> ";
}

/* libedit character reader: one wide character from stdin; Ctrl-C (as a key when the terminal
 * does not turn it into SIGINT, or as an interrupted read) ends the line with an error. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
    repl *r = NULL;
    el_get(el, EL_CLIENTDATA, &r);
    mbstate_t mbs;
    memset(&mbs, 0, sizeof mbs);
    for (;;) {
        char ch;
        ssize_t n = read(STDIN_FILENO, &ch, 1);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR && !g_sigint) continue;
            if (errno == EINTR) {
                g_sigint = 0;
                r->line_interrupted = true;
            }
            return -1;
        }
        if (ch == 3) {
            r->line_interrupted = true;
            return -1;
        }
        size_t k = mbrtowc(wc, &ch, 1, &mbs);
        if (k == (size_t)-2) continue; /* more bytes of this character */
        if (k == (size_t)-1) {
            memset(&mbs, 0, sizeof mbs);
            *wc = 0xFFFD;
        }
        return 1;
    }
}

typedef enum read_result { READ_LINE, READ_EOF, READ_INTERRUPT } read_result;

/* One physical line without its newline, malloc'd. */
static read_result read_line(repl *r, char **out)
{
    int n = 0;
    r->line_interrupted = false;
    const char *line = el_gets(r->el, &n);
    if (!line) {
        if (r->line_interrupted) {
            /* whatever was typed is dropped; say so on a fresh line */
            bool had_text = false;
            const LineInfo *li = el_line(r->el);
            if (li && li->lastchar > li->buffer) had_text = true;
            el_reset(r->el);
            fputs("^C\n", stdout);
            fflush(stdout);
            return had_text ? READ_INTERRUPT : READ_EOF;
        }
        return READ_EOF;
    }
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    *out = strndup(line, len);
    return *out ? READ_LINE : READ_EOF;
}

static void history_add(repl *r, const char *line)
{
    HistEvent ev;
    if (!r->hist || !line[0]) return;
    history(r->hist, &ev, H_ENTER, line);
    if (r->hist_path[0]) history(r->hist, &ev, H_SAVE, r->hist_path);
}

static bool starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* A message: one line, or lines between """ and """. Returns READ_LINE with *out malloc'd. */
static read_result read_message(repl *r, char **out)
{
    char *line = NULL;
    r->continuation = false;
    read_result rr = read_line(r, &line);
    if (rr != READ_LINE) return rr;
    history_add(r, line);
    if (!starts_with(line, "\"\"\"")) {
        *out = line;
        return READ_LINE;
    }
    /* multi-line: """ opens; a line ending with """ closes */
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    const char *first = line + 3;
    bool closed = false;
    char *part = strdup(first);
    free(line);
    r->continuation = true;
    while (buf && part) {
        size_t k = strlen(part);
        if (k >= 3 && !strcmp(part + k - 3, "\"\"\"")) {
            k -= 3;
            closed = true;
        }
        if (n + k + 2 > cap) {
            while (n + k + 2 > cap) cap *= 2;
            char *t = realloc(buf, cap);
            if (!t) break;
            buf = t;
        }
        if (n || k || closed) {
            if (n) buf[n++] = '\n';
            memcpy(buf + n, part, k);
            n += k;
        }
        free(part);
        part = NULL;
        if (closed) break;
        rr = read_line(r, &part);
        if (rr != READ_LINE) {
            r->continuation = false;
            free(buf);
            return rr;
        }
        history_add(r, part);
    }
    free(part);
    r->continuation = false;
    if (!buf || !closed) {
        free(buf);
        return READ_EOF;
    }
    buf[n] = 0;
    *out = buf;
    return READ_LINE;
}

/* ---- commands -------------------------------------------------------------------------------- */

static void help(void)
{
    fputs("Commands:\n"
          "  /think on|off|hide   show the reasoning, answer without reasoning, or think silently\n"
          "  /set temperature V   sampling temperature, 0-2 (0 = greedy; R1 recommends 0.5-0.7)\n"
          "  /set top_p V         nucleus sampling, 0-1 (1 = off)\n"
          "  /set top_k N         keep the N most likely tokens (0 = off)\n"
          "  /set min_p V         drop tokens below V x the top probability, 0-1 (0 = off)\n"
          "  /set seed N          sampling seed\n"
          "  /set max_tokens N    longest reply in tokens (0 = until the context is full)\n"
          "  /set system TEXT     system prompt (DeepSeek advises against one for R1)\n"
          "  /set                 show the current settings\n"
          "  /clear               start a new conversation\n"
          "  /save FILE           save the conversation as JSON\n"
          "  /load FILE           load a conversation saved with /save\n"
          "  /help, /?            this help\n"
          "  /bye                 exit (also Ctrl-D)\n"
          "\n"
          "Start a message with \"\"\" to write several lines; end it with \"\"\".\n"
          "Ctrl-C stops a reply; Ctrl-C at an empty prompt or Ctrl-D exits.\n",
          stdout);
}

static void show_settings(const chat *c)
{
    printf("think %s | temperature %g | top_p %g | top_k %d | min_p %g | seed %llu | "
           "max_tokens %d | template %s%s\n",
           chat_think_name(c->think), c->sampling.temperature, c->sampling.top_p, c->sampling.top_k,
           c->sampling.min_p, (unsigned long long)c->sampling.seed, c->max_tokens,
           c->raw ? "none (raw)" : chat_template_name(c->tmpl.kind),
           c->system ? " | system prompt set" : "");
}

/* Skip spaces; returns the start of the next word and NUL-terminates it, *rest after it. */
static char *next_word(char *s, char **rest)
{
    while (*s == ' ' || *s == '\t') s++;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t') e++;
    if (*e) *e++ = 0;
    while (*e == ' ' || *e == '\t') e++;
    *rest = e;
    return s;
}

static void cmd_set(chat *c, char *args)
{
    char *rest;
    char *key = next_word(args, &rest);
    if (!key[0]) {
        show_settings(c);
        return;
    }
    if (!strcmp(key, "system")) {
        free(c->system);
        c->system = rest[0] ? strdup(rest) : NULL;
        printf(c->system ? "Set the system prompt.\n" : "Cleared the system prompt.\n");
        return;
    }
    char *vrest;
    char *val = next_word(rest, &vrest);
    char *end = NULL;
    if (!val[0]) {
        printf("Usage: /set %s VALUE\n", key);
        return;
    }
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || v != v) {
        printf("'%s' is not a number.\n", val);
        return;
    }
    /* the ranges r1 serve accepts (OpenAI's): a value outside is refused, not clamped, so that
     * what /set shows is what samples */
    const struct {
        const char *key;
        double lo, hi, now;
        bool is_int;
    } ranges[] = {{"temperature", 0, 2, c->sampling.temperature, false},
                  {"temp", 0, 2, c->sampling.temperature, false},
                  {"top_p", 0, 1, c->sampling.top_p, false},
                  {"min_p", 0, 1, c->sampling.min_p, false},
                  {"top_k", 0, 1 << 30, c->sampling.top_k, true}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        if (strcmp(key, ranges[k].key)) continue;
        if (v < ranges[k].lo || v > ranges[k].hi || (ranges[k].is_int && v != (double)(long)v)) {
            printf("%s must be %s from %g to %g; it stays %g.\n", key,
                   ranges[k].is_int ? "an integer" : "a number", ranges[k].lo, ranges[k].hi,
                   ranges[k].now);
            return;
        }
    }
    r1_sampler_params old = c->sampling;
    if (!strcmp(key, "temperature") || !strcmp(key, "temp")) {
        c->sampling.temperature = (float)v;
    } else if (!strcmp(key, "top_p")) {
        c->sampling.top_p = (float)v;
    } else if (!strcmp(key, "top_k")) {
        c->sampling.top_k = (int)v;
    } else if (!strcmp(key, "min_p")) {
        c->sampling.min_p = (float)v;
    } else if (!strcmp(key, "seed")) {
        if (v < 0) {
            printf("The seed must be 0 or more.\n");
            return;
        }
        c->sampling.seed = (uint64_t)v;
    } else if (!strcmp(key, "max_tokens")) {
        c->max_tokens = v < 0 ? 0 : (int)v;
        printf("Set max_tokens to %d.\n", c->max_tokens);
        return;
    } else {
        printf("Unknown setting '%s' (temperature, top_p, top_k, min_p, seed, max_tokens, "
               "system).\n",
               key);
        return;
    }
    char err[R1_ERR_MAX];
    if (chat_update_sampler(c, err)) {
        c->sampling = old;
        printf("Cannot use that value: %s\n", err);
        return;
    }
    printf("Set %s to %s.\n", key, val);
}

typedef enum cmd_result { CMD_CONTINUE, CMD_EXIT } cmd_result;

static cmd_result run_command(repl *r, char *line)
{
    chat *c = r->c;
    char *rest;
    char *cmd = next_word(line, &rest);
    char err[R1_ERR_MAX];
    if (!strcmp(cmd, "/bye") || !strcmp(cmd, "/exit") || !strcmp(cmd, "/quit")) return CMD_EXIT;
    if (!strcmp(cmd, "/help") || !strcmp(cmd, "/?")) {
        help();
    } else if (!strcmp(cmd, "/think")) {
        char *arg = next_word(rest, &rest);
        chat_think t;
        if (!arg[0]) {
            printf("Thinking is %s.\n", c->think == CHAT_THINK_SHOW   ? "on"
                                        : c->think == CHAT_THINK_HIDE ? "on, hidden"
                                                                      : "off");
        } else if (!chat_think_from_name(arg, &t)) {
            printf("Usage: /think on|off|hide\n");
        } else {
            c->think = t;
            printf(t == CHAT_THINK_SHOW   ? "Thinking on: the reasoning is shown.\n"
                   : t == CHAT_THINK_HIDE ? "Thinking on, hidden: only the answer is shown.\n"
                                          : "Thinking off: the model answers directly.\n");
        }
    } else if (!strcmp(cmd, "/set")) {
        cmd_set(c, rest);
    } else if (!strcmp(cmd, "/clear")) {
        chat_clear(c);
        printf("Cleared the conversation.\n");
    } else if (!strcmp(cmd, "/save") || !strcmp(cmd, "/load")) {
        if (!rest[0]) {
            printf("Usage: %s FILE\n", cmd);
        } else if (cmd[1] == 's') {
            if (chat_save(c, rest, err))
                printf("%s\n", err);
            else
                printf("Saved %zu messages to %s.\n", c->n_msgs, rest);
        } else {
            if (chat_load(c, rest, err))
                printf("%s\n", err);
            else
                printf("Loaded %zu messages from %s.\n", c->n_msgs, rest);
        }
    } else {
        printf("Unknown command '%s'. Type /help for the commands.\n", cmd);
    }
    fflush(stdout);
    return CMD_CONTINUE;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void reply(repl *r, const char *text)
{
    chat_callbacks cb = {on_text, on_reasoning_start, on_reasoning_end, r};
    chat_stats s;
    char err[R1_ERR_MAX];
    r->last_char = '\n';
    g_stop = 0;
    g_generating = 1;
    size_t n_msgs = r->c->n_msgs;
    r1_status st = chat_reply(r->c, text, &cb, &s, err);
    g_generating = 0;
    /* An interrupted reply leaves the conversation: a half-written answer (often an unclosed
     * <think>) in the history derails every later answer. The message goes with it, so the next
     * one is not read as a follow-up to a question never answered; it is in the line history. */
    if (!st && s.finish == CHAT_FINISH_INTERRUPTED) chat_truncate(r->c, n_msgs);
    if (r->in_dim) {
        fputs(dim_off(r), stdout);
        r->in_dim = false;
    }
    if (r->last_char != '\n') outs(r, "\n");
    if (st == R1_ERR_CONTEXT_FULL) {
        printf("The context is full: %s.\nType /clear to start a new conversation (or restart "
               "with a larger --ctx-size).\n",
               err);
    } else if (st) {
        printf("Error: %s\n", err);
    } else {
        if (s.finish == CHAT_FINISH_INTERRUPTED)
            printf("[stopped — the message and the partial reply are left out of the "
                   "conversation; Ctrl-C again at the prompt or Ctrl-D exits]\n");
        else if (s.finish == CHAT_FINISH_CONTEXT)
            printf("[the context is full (%d tokens) — type /clear to start a new "
                   "conversation]\n",
                   r1_session_n_ctx(r->c->session));
        else if (s.finish == CHAT_FINISH_LENGTH)
            printf("[reached max_tokens (%d) — /set max_tokens N to change it]\n",
                   r->c->max_tokens);
        if (r->o->verbose) chat_print_stats(&s);
    }
    fputs("\n", stdout);
    fflush(stdout);
}

static void use_utf8_locale(void)
{
    if (setlocale(LC_CTYPE, "") && !strcmp(nl_langinfo(CODESET), "UTF-8")) return;
    if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "C.utf8");
}

int chat_repl(chat *c, const chat_repl_opts *o)
{
    repl r = {.c = c, .o = o, .last_char = '\n'};
    use_utf8_locale();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a read at the prompt returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    c->stop = &g_stop;

    r.el = el_init("r1", stdin, stdout, stderr);
    if (!r.el) {
        fprintf(stderr, "r1 run: cannot set up line editing (is TERM set?)\n");
        return 1;
    }
    el_set(r.el, EL_CLIENTDATA, &r);
    el_set(r.el, EL_PROMPT, prompt_fn);
    el_set(r.el, EL_EDITOR, "emacs");
    el_set(r.el, EL_GETCFN, getc_fn);
    r.hist = history_init();
    if (r.hist) {
        HistEvent ev;
        history(r.hist, &ev, H_SETSIZE, 1000);
        history(r.hist, &ev, H_SETUNIQUE, 1);
        el_set(r.el, EL_HIST, history, r.hist);
        if (store_mkdirs(store_home()))
            snprintf(r.hist_path, sizeof r.hist_path, "%s/history", store_home());
        if (r.hist_path[0]) history(r.hist, &ev, H_LOAD, r.hist_path);
    }
    el_source(r.el, NULL); /* ~/.editrc */

    printf("%s%s%s · context %d tokens · template %s\n", o->color ? "\033[1m" : "", o->model_label,
           o->color ? "\033[0m" : "", r1_session_n_ctx(c->session),
           c->raw ? "none (raw)" : chat_template_name(c->tmpl.kind));
    printf("Type a message, /help for commands, \"\"\" for several lines, Ctrl-D to exit.\n\n");
    fflush(stdout);

    for (;;) {
        char *msg = NULL;
        read_result rr = read_message(&r, &msg);
        if (rr == READ_EOF) break;
        if (rr == READ_INTERRUPT) continue;
        const char *p = msg;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) {
            free(msg);
            continue;
        }
        if (p[0] == '/') {
            cmd_result cr = run_command(&r, (char *)p);
            free(msg);
            if (cr == CMD_EXIT) break;
            continue;
        }
        reply(&r, msg);
        free(msg);
    }
    if (r.hist) history_end(r.hist);
    el_end(r.el);
    fputs("\n", stdout);
    return 0;
}
