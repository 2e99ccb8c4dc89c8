/* test_chat_pty.c — `r1 run`'s interactive chat driven through a pseudo-terminal (forkpty), on a
 * random-weight tiny model made with `r1 synth`. Random weights produce gibberish, so the checks
 * are about structure: the reasoning block ("Thinking…" … "…done/stopped thinking") streams, /think
 * hide shows no reasoning text, Ctrl-C in the middle of a reply stops it, drops that message and
 * its partial reply from the conversation, and the next message works, turn 2 evaluates only the
 * tokens after the cached prefix (computed here independently with the tokenizer and template
 * renderer from the conversation the chat saved), """ multi-line input, /save and /load, a context
 * that fills up is reported without a crash, Ctrl-D and Ctrl-C at an empty prompt exit with status
 * 0, and the line history is written to $R1_HOME/history.
 *
 * R1_TEST_TOKEN_DELAY_MS slows generation so that Ctrl-C lands while a reply streams: the chat
 * checks the stop flag before sampling each token, after the delay, so a Ctrl-C sent within the
 * delay of seeing a token always interrupts. */
#include "test.h"

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256], model[512], home[512];

/* ---- a child on a pty and its output --------------------------------------------------------- */

typedef struct term {
    pid_t pid;
    int fd;
    char *buf; /* everything the child printed, NUL-terminated */
    size_t n, cap;
    size_t mark; /* expect() searches from here */
    bool eof;
} term;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool term_start(term *t, const char *delay_ms, char *const argv[])
{
    memset(t, 0, sizeof *t);
    struct winsize ws = {.ws_row = 40, .ws_col = 200};
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    if (t->pid < 0) return false;
    if (t->pid == 0) {
        setenv("R1_HOME", home, 1);
        setenv("TERM", "xterm", 1);
        unsetenv("NO_COLOR");
        setenv("R1_TEST_TOKEN_DELAY_MS", delay_ms, 1);
        execv(R1_BIN, argv);
        _exit(127);
    }
    t->cap = 1 << 16;
    t->buf = calloc(t->cap, 1);
    return t->buf != NULL;
}

/* Read what is available within timeout seconds. */
static void term_pump(term *t, double timeout)
{
    struct pollfd p = {.fd = t->fd, .events = POLLIN};
    if (t->eof || poll(&p, 1, (int)(timeout * 1000)) <= 0) return;
    if (t->n + 4097 > t->cap) {
        char *b = realloc(t->buf, t->cap * 2);
        if (!b) return;
        t->buf = b;
        t->cap *= 2;
    }
    ssize_t k = read(t->fd, t->buf + t->n, 4096);
    if (k <= 0) {
        t->eof = true; /* EIO once the child has exited */
        return;
    }
    t->n += (size_t)k;
    t->buf[t->n] = 0;
}

/* Wait for s after the mark; on success move the mark past it and return its offset, else -1. */
static long expect(term *t, const char *s, double timeout)
{
    double end = now_s() + timeout;
    for (;;) {
        char *hit = strstr(t->buf + t->mark, s);
        if (hit) {
            t->mark = (size_t)(hit - t->buf) + strlen(s);
            return (long)(hit - t->buf);
        }
        if (t->eof || now_s() > end) break;
        term_pump(t, 0.05);
    }
    fprintf(stderr, "timed out waiting for \"%s\"; output after the mark:\n%s\n", s,
            t->buf + t->mark);
    return -1;
}

/* Type a line; the short pause stands for a person reading the prompt (libedit switches the
 * terminal to raw mode as it prints it, and text typed before that would be echoed twice). */
static void type(term *t, const char *s)
{
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(t->fd, s, n);
        if (k <= 0) break;
        s += k;
        n -= (size_t)k;
    }
}

static int term_wait(term *t, double timeout)
{
    double end = now_s() + timeout;
    int status = 0;
    while (now_s() < end) {
        pid_t r = waitpid(t->pid, &status, WNOHANG);
        if (r == t->pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        term_pump(t, 0.05);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &status, 0);
    return -1;
}

static void term_close(term *t)
{
    close(t->fd);
    free(t->buf);
}

/* ---- parsing ----------------------------------------------------------------------------------
 */

typedef struct turn_stats {
    int processed, reused, total, generated;
} turn_stats;

/* The verbose line printed after each reply, searched between offsets [from, to). */
static bool find_stats(const term *t, size_t from, turn_stats *s)
{
    const char *p = strstr(t->buf + from, "prompt: ");
    return p && sscanf(p,
                       "prompt: %d tokens processed, %d reused from cache (%d in all), %*f tok/s "
                       "| generated: %d",
                       &s->processed, &s->reused, &s->total, &s->generated) == 4;
}

/* Whether [a, b) holds a printable character other than spaces (escape sequences skipped). */
static bool has_text(const char *a, const char *b)
{
    for (const char *p = a; p < b; p++) {
        if (*p == '\033') {
            while (p < b && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) p++;
            continue;
        }
        if ((unsigned char)*p > ' ' && *p != 0x7f) return true;
    }
    return false;
}

/* Tokens of the chat's prompt for msgs, as chat.c builds it: the deepseek-r1 template, then
 * "<think>\n" to open the reasoning. */
static int32_t *prompt_ids(const tokenizer *tok, const chat_message *msgs, size_t n, size_t *out_n)
{
    chat_template_params p = chat_template_params_default();
    char *text = NULL, *full;
    size_t len;
    if (chat_template_render(&p, tok, msgs, n, &text, &len, NULL)) return NULL;
    full = malloc(len + 16);
    memcpy(full, text, len);
    memcpy(full + len, "<think>\n", 9);
    int32_t *ids = NULL;
    tokenizer_encode(tok, full, strlen(full), true, &ids, out_n, NULL);
    free(text);
    free(full);
    return ids;
}

/* ---- the sessions ---------------------------------------------------------------------------- */

static void test_main_session(void)
{
    char save1[600], save2[600], save3[600];
    snprintf(save1, sizeof save1, "%s/conv.json", tmpdir);
    snprintf(save3, sizeof save3, "%s/conv3.json", tmpdir);
    snprintf(save2, sizeof save2, "%s/conv2.json", tmpdir);
    char *argv[] = {"r1",          "run", "-m", model, "-n", "20", "--temp", "0", "--chat-template",
                    "deepseek-r1", "-v",  NULL};
    term t;
    CHECK(term_start(&t, "200", argv));
    CHECK(expect(&t, "Type a message", 20) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    /* turns are short; speed them up while nothing needs interrupting */
    type(&t, "/set max_tokens 12\r");
    CHECK(expect(&t, "Set max_tokens to 12", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    /* sampling settings outside the server's ranges are refused, the old value kept */
    type(&t, "/set temperature 9\r");
    CHECK(expect(&t, "temperature must be a number from 0 to 2; it stays 0.", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/set top_p 1.5\r");
    CHECK(expect(&t, "top_p must be a number from 0 to 1; it stays 0.95.", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/set top_k -3\r");
    CHECK(expect(&t, "top_k must be an integer from 0 to", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/set\r");
    CHECK(expect(&t, "temperature 0 | top_p 0.95 | top_k 0", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);

    /* turn 1: the reasoning streams under "Thinking…", then the stats line */
    type(&t, "hello\r");
    long a = expect(&t, "Thinking…", 30); /* generous: CI machines may be loaded */
    long b = expect(&t, "…done thinking (", 30);
    CHECK(a >= 0 && b > a);
    size_t after1 = t.mark;
    CHECK(expect(&t, ">>> ", 30) >= 0);
    turn_stats s1 = {0}, s2 = {0};
    CHECK(find_stats(&t, after1, &s1));
    CHECKF(s1.reused == 0 && s1.processed == s1.total && s1.total > 0,
           "turn 1: %d processed, %d reused, %d total", s1.processed, s1.reused, s1.total);
    CHECKF(s1.generated > 0 && s1.generated <= 12, "turn 1 generated %d", s1.generated);
    if (a >= 0 && b > a) CHECK(has_text(t.buf + a + strlen("Thinking…"), t.buf + b));

    /* turn 2 reuses the cache: only the tokens after the shared prefix are processed */
    type(&t, "second question\r");
    CHECK(expect(&t, "…done thinking (", 30) >= 0);
    size_t after2 = t.mark;
    CHECK(expect(&t, ">>> ", 30) >= 0);
    CHECK(find_stats(&t, after2, &s2));
    CHECKF(s2.processed == s2.total - s2.reused && s2.processed < s2.total,
           "turn 2: %d processed, %d reused, %d total", s2.processed, s2.reused, s2.total);
    CHECKF(s2.reused >= s1.total - 2, "turn 2 reused %d of turn 1's %d", s2.reused, s1.total);

    /* ... and exactly the tokens a fresh render of the saved conversation does not share */
    type(&t, "/save ");
    type(&t, save1);
    type(&t, "\r");
    CHECK(expect(&t, "Saved 4 messages", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    char *json = test_read_file(save1, NULL);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    cJSON *msgs = cJSON_GetObjectItem(root, "messages");
    /* settings are saved as typed (0.95), not as the float's double (0.949999988079071) */
    cJSON *top_p = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "options"), "top_p");
    CHECKF(cJSON_IsNumber(top_p) && top_p->valuedouble == 0.95, "saved top_p %.17g",
           cJSON_IsNumber(top_p) ? top_p->valuedouble : -1.0);
    CHECK(json && !strstr(json, "0.9499"));
    tokenizer *tok = NULL;
    CHECK(tokenizer_load_path(model, &tok, NULL) == R1_OK);
    CHECK(cJSON_GetArraySize(msgs) == 4);
    if (tok && cJSON_GetArraySize(msgs) == 4) {
        chat_message m[3];
        for (int i = 0; i < 3; i++) {
            cJSON *e = cJSON_GetArrayItem(msgs, i);
            m[i] = (chat_message){.role = cJSON_GetObjectItem(e, "role")->valuestring,
                                  .content = cJSON_GetObjectItem(e, "content")->valuestring};
        }
        size_t n1 = 0, n2 = 0, common = 0;
        int32_t *p1 = prompt_ids(tok, m, 1, &n1), *p2 = prompt_ids(tok, m, 3, &n2);
        while (p1 && p2 && common < n1 && common < n2 && p1[common] == p2[common]) common++;
        CHECKF((int)n1 == s1.total, "turn 1 prompt: %zu tokens here, %d in the chat", n1, s1.total);
        CHECKF((int)n2 == s2.total, "turn 2 prompt: %zu tokens here, %d in the chat", n2, s2.total);
        CHECKF((int)common == s2.reused && (int)(n2 - common) == s2.processed,
               "turn 2: expected %zu reused and %zu processed, chat says %d and %d", common,
               n2 - common, s2.reused, s2.processed);
        free(p1);
        free(p2);
    }
    cJSON_Delete(root);
    free(json);

    /* /think hide: the block's markers, no reasoning text between them */
    type(&t, "/think hide\r");
    CHECK(expect(&t, "hidden", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "third\r");
    a = expect(&t, "Thinking…", 10);
    b = expect(&t, "…done thinking (", 30);
    CHECK(a >= 0 && b > a);
    if (a >= 0 && b > a) CHECK(!has_text(t.buf + a + strlen("Thinking…"), t.buf + b));
    CHECK(expect(&t, ">>> ", 30) >= 0);
    type(&t, "/think on\r");
    CHECK(expect(&t, ">>> ", 5) >= 0);

    /* Ctrl-C while a reply streams stops it; the session goes on. A reply may end by itself
     * before any text shows (end-of-sequence first): then try another message. */
    type(&t, "/set max_tokens 0\r");
    CHECK(expect(&t, ">>> ", 5) >= 0);
    bool interrupted = false;
    const char *asks[] = {"tell me a long story", "and another one", "more please", "go on", "why"};
    const char *stopped_ask = NULL;
    for (int i = 0; i < 5 && !interrupted; i++) {
        type(&t, asks[i]);
        type(&t, "\r");
        if (expect(&t, "Thinking…\r\n", 10) < 0) break;
        size_t from = t.mark;
        /* wait for the first streamed byte of reasoning, then press Ctrl-C at once */
        double end = now_s() + 10;
        while (t.n == from && now_s() < end) term_pump(&t, 0.01);
        term_pump(&t, 0.02); /* the rest of a "…done thinking" line, if it ended by itself */
        if (strstr(t.buf + from, "done thinking (")) { /* ended by itself */
            expect(&t, ">>> ", 10);
            continue;
        }
        ssize_t w = write(t.fd, "\x03", 1);
        (void)w;
        interrupted = expect(&t, "[stopped", 10) >= 0;
        if (interrupted) stopped_ask = asks[i];
        CHECK(expect(&t, ">>> ", 10) >= 0);
    }
    CHECK(interrupted);
    type(&t, "/set max_tokens 12\r");
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "after the interruption\r");
    CHECK(expect(&t, "Thinking…", 10) >= 0);
    size_t after3 = t.mark;
    CHECK(expect(&t, "prompt: ", 30) >= 0);
    CHECK(expect(&t, ">>> ", 30) >= 0);
    turn_stats s3 = {0};
    CHECK(find_stats(&t, after3, &s3));

    /* the interrupted message and its partial reply left the conversation (a half-written
     * reasoning block kept in the prompt derailed every later answer): the saved history has
     * neither, and the next turn's prompt was exactly the render of what was saved */
    type(&t, "/save ");
    type(&t, save3);
    type(&t, "\r");
    CHECK(expect(&t, "Saved ", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    json = test_read_file(save3, NULL);
    root = json ? cJSON_Parse(json) : NULL;
    msgs = cJSON_GetObjectItem(root, "messages");
    int n3 = cJSON_GetArraySize(msgs);
    chat_message *m3 = calloc((size_t)n3 + 1, sizeof *m3);
    bool alternate = n3 >= 2 && m3;
    for (int i = 0; m3 && i < n3; i++) {
        cJSON *e = cJSON_GetArrayItem(msgs, i);
        m3[i] = (chat_message){.role = cJSON_GetObjectItem(e, "role")->valuestring,
                               .content = cJSON_GetObjectItem(e, "content")->valuestring};
        CHECKF(!stopped_ask || strcmp(m3[i].content, stopped_ask),
               "the interrupted message '%s' is still in the history", stopped_ask);
        alternate = alternate && !strcmp(m3[i].role, i % 2 ? "assistant" : "user");
    }
    CHECK(alternate);
    CHECK(n3 >= 2 && !strcmp(m3[n3 - 2].content, "after the interruption"));
    if (tok && n3 >= 2 && m3) {
        size_t n_prompt = 0;
        int32_t *p3 = prompt_ids(tok, m3, (size_t)n3 - 1, &n_prompt);
        CHECKF((int)n_prompt == s3.total,
               "turn after the interruption: %d prompt tokens, the saved history renders to %zu",
               s3.total, n_prompt);
        free(p3);
    }
    free(m3);
    cJSON_Delete(root);
    free(json);

    /* multi-line input, /save, /clear, /load */
    type(&t, "\"\"\"first line\r");
    CHECK(expect(&t, "... ", 5) >= 0);
    type(&t, "second line\"\"\"\r");
    CHECK(expect(&t, "prompt: ", 30) >= 0);
    CHECK(expect(&t, ">>> ", 30) >= 0);
    type(&t, "/save ");
    type(&t, save2);
    type(&t, "\r");
    CHECK(expect(&t, "Saved ", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    json = test_read_file(save2, NULL);
    root = json ? cJSON_Parse(json) : NULL;
    msgs = cJSON_GetObjectItem(root, "messages");
    int n_msgs = cJSON_GetArraySize(msgs);
    cJSON *last_user = n_msgs >= 2 ? cJSON_GetArrayItem(msgs, n_msgs - 2) : NULL;
    cJSON *content = cJSON_GetObjectItem(last_user, "content");
    CHECKF(cJSON_IsString(content) && !strcmp(content->valuestring, "first line\nsecond line"),
           "multi-line message saved as '%s'",
           cJSON_IsString(content) ? content->valuestring : "(none)");
    cJSON_Delete(root);
    free(json);
    type(&t, "/clear\r");
    CHECK(expect(&t, "Cleared", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/load ");
    type(&t, save1);
    type(&t, "\r");
    CHECK(expect(&t, "Loaded 4 messages", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/load /nonexistent/file.json\r");
    CHECK(expect(&t, "cannot read", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/frobnicate\r");
    CHECK(expect(&t, "Unknown command", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/help\r");
    CHECK(expect(&t, "/think on|off|hide", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);

    /* Ctrl-D exits cleanly */
    type(&t, "\x04");
    CHECK(term_wait(&t, 10) == 0);
    term_close(&t);
    tokenizer_free(tok);
}

/* A small context: a message too long for it, and a reply that fills it, are reported and the
 * session goes on; Ctrl-C at an empty prompt exits. */
static void test_context_full(void)
{
    char *argv[] = {"r1", "run", "-m", model, "-c", "48", "--temp", "0", NULL};
    term t;
    CHECK(term_start(&t, "0", argv));
    CHECK(expect(&t, ">>> ", 20) >= 0);
    type(&t, "this message is much longer than the forty-eight tokens of context that this "
             "session has, since every byte is a token\r");
    CHECK(expect(&t, "The context is full", 10) >= 0);
    CHECK(expect(&t, "/clear", 5) >= 0);
    CHECK(expect(&t, ">>> ", 5) >= 0);
    /* the history grows every turn: a reply fills the context, or the next prompt no longer
     * fits; either way it is said and the session goes on */
    bool full = false;
    for (int i = 0; i < 12 && !full; i++) {
        size_t from = t.mark;
        type(&t, "hi again\r");
        long at = expect(&t, ">>> ", 30);
        CHECK(at >= 0);
        if (at < 0) break;
        full = memmem(t.buf + from, (size_t)at - from, "context is full", 15) != NULL;
    }
    CHECK(full);
    type(&t, "/clear\r");
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "/set max_tokens 5\r");
    CHECK(expect(&t, ">>> ", 5) >= 0);
    type(&t, "ok\r");
    CHECK(expect(&t, "max_tokens", 10) >= 0);
    CHECK(expect(&t, ">>> ", 10) >= 0);
    type(&t, "\x03");
    CHECK(term_wait(&t, 10) == 0);
    term_close(&t);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/r1_chat_pty_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    snprintf(model, sizeof model, "%s/tiny.gguf", tmpdir);
    snprintf(home, sizeof home, "%s/home", tmpdir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' synth --preset tiny-deepseek2 --seed 3 -o '%s' >/dev/null 2>&1",
             R1_BIN, model);
    CHECK(system(cmd) == 0);

    test_main_session();
    test_context_full();

    /* the line history was kept */
    char hist[600];
    snprintf(hist, sizeof hist, "%s/history", home);
    char *h = test_read_file(hist, NULL);
    CHECK(h && strstr(h, "hello") && strstr(h, "second\\040question")); /* vis(3)-encoded */
    free(h);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_finish();
}
