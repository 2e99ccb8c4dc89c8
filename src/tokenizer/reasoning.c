/* reasoning.c — the <think>…</think> splitter (see reasoning.h for the rules). Works byte by byte;
 * the only state carried between chunks is the state number and up to 8 held bytes. */
#include "tokenizer/reasoning.h"

#include <string.h>

enum {
    ST_START,     /* nothing but whitespace yet: "<think>" may open the reasoning */
    ST_REASONING, /* inside the reasoning: looking for "</think>" */
    ST_AFTER,     /* just closed: dropping whitespace */
    ST_CONTENT,   /* everything else is content */
    ST_RAW,       /* mode none */
};

static const char OPEN[] = "<think>";
static const char CLOSE[] = "</think>";

typedef struct outbuf {
    reasoning_parser *p;
    reasoning_part part;
    char data[512];
    size_t n;
} outbuf;

static void out_flush(outbuf *o)
{
    if (o->n && o->p->emit) o->p->emit(o->p->user, o->part, o->data, o->n);
    o->n = 0;
}

static void out_byte(outbuf *o, reasoning_part part, char c)
{
    if (o->part != part || o->n == sizeof o->data) {
        out_flush(o);
        o->part = part;
    }
    o->data[o->n++] = c;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void reasoning_init(reasoning_parser *p, reasoning_mode mode, bool start_in_reasoning,
                    reasoning_emit_fn emit, void *user)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->state = mode == REASONING_NONE ? ST_RAW : start_in_reasoning ? ST_REASONING : ST_START;
    p->emit = emit;
    p->user = user;
}

bool reasoning_is_open(const reasoning_parser *p)
{
    return p->state == ST_REASONING;
}

void reasoning_feed(reasoning_parser *p, const char *text, size_t n)
{
    if (p->state == ST_RAW || p->state == ST_CONTENT) {
        if (n && p->emit) p->emit(p->user, REASONING_PART_CONTENT, text, n);
        return;
    }
    outbuf o = {p, REASONING_PART_CONTENT, {0}, 0};
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        switch (p->state) {
        case ST_START:
            if (p->n_hold == 0 && is_ws(c)) break;
            p->hold[p->n_hold++] = c;
            if (memcmp(p->hold, OPEN, p->n_hold) == 0) {
                if (p->n_hold == sizeof OPEN - 1) {
                    p->n_hold = 0;
                    p->state = ST_REASONING;
                }
            } else {
                for (size_t k = 0; k < p->n_hold; k++)
                    out_byte(&o, REASONING_PART_CONTENT, p->hold[k]);
                p->n_hold = 0;
                p->state = ST_CONTENT;
            }
            break;
        case ST_REASONING:
            p->hold[p->n_hold++] = c;
            /* release held bytes until what is left could still begin "</think>" */
            while (p->n_hold && memcmp(p->hold, CLOSE, p->n_hold) != 0) {
                out_byte(&o, REASONING_PART_REASONING, p->hold[0]);
                memmove(p->hold, p->hold + 1, --p->n_hold);
            }
            if (p->n_hold == sizeof CLOSE - 1) {
                p->n_hold = 0;
                p->state = ST_AFTER;
            }
            break;
        case ST_AFTER:
            if (is_ws(c)) break;
            p->state = ST_CONTENT;
            out_byte(&o, REASONING_PART_CONTENT, c);
            break;
        default:
            out_byte(&o, REASONING_PART_CONTENT, c);
            break;
        }
    }
    out_flush(&o);
}

void reasoning_finish(reasoning_parser *p)
{
    if (p->n_hold && p->emit) {
        reasoning_part part =
            p->state == ST_REASONING ? REASONING_PART_REASONING : REASONING_PART_CONTENT;
        p->emit(p->user, part, p->hold, p->n_hold);
    }
    p->n_hold = 0;
}

bool reasoning_mode_from_name(const char *name, reasoning_mode *out_mode)
{
    if (strcmp(name, "none") == 0)
        *out_mode = REASONING_NONE;
    else if (strcmp(name, "deepseek") == 0)
        *out_mode = REASONING_DEEPSEEK;
    else
        return false;
    return true;
}
