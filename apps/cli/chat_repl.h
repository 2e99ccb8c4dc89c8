/* chat_repl.h — the interactive chat of `r1 run` (stdin is a terminal and no -p): line editing and
 * history through libedit, the reasoning shown dimmed under "Thinking…", slash commands, Ctrl-C to
 * stop a reply. */
#ifndef R1_CLI_CHAT_REPL_H
#define R1_CLI_CHAT_REPL_H

#include "chat.h"

#include <signal.h>
#include <stdbool.h>

typedef struct chat_repl_opts {
    const char *model_label; /* shown in the banner */
    bool verbose;            /* token counts and speeds after every reply */
    bool color;              /* ANSI dim/bold; off with NO_COLOR or when stdout is not a terminal */
} chat_repl_opts;

/* Runs until /bye, Ctrl-D or Ctrl-C at an empty prompt. Installs its own SIGINT handler and points
 * c->stop at its flag. Returns the process exit code. */
int chat_repl(chat *c, const chat_repl_opts *o);

#endif
