/* reasoning.h — split a model's streamed output into `reasoning` and `content` at <think>/</think>.
 *
 * An incremental state machine over decoded text (feed it what detok produces). The split does not
 * depend on how the text is chunked: a tag cut across chunks is held back until it is decided.
 * Mode `deepseek`:
 *   - "<think>" opens the reasoning only as the first thing in the output (whitespace before it is
 *     dropped); later "<think>" text is ordinary content. A prompt that already ends with
 *     "<think>\n" (R1's template) starts the parser inside the reasoning (start_in_reasoning).
 *   - "</think>" closes it; whitespace right after it is dropped, the rest is content. Only the
 *     first reasoning block is split out: after it, tags are ordinary text.
 *   - Output that ends inside the reasoning (cut off) leaves everything in `reasoning`.
 * Mode `none`: everything is content, byte for byte, tags included (for evaluation tools).
 * Parts arrive through a callback, in order; consecutive calls may carry the same part. */
#ifndef R1_TOKENIZER_REASONING_H
#define R1_TOKENIZER_REASONING_H

#include <stdbool.h>
#include <stddef.h>

typedef enum reasoning_mode {
    REASONING_NONE = 0,
    REASONING_DEEPSEEK = 1,
} reasoning_mode;

typedef enum reasoning_part {
    REASONING_PART_REASONING = 0,
    REASONING_PART_CONTENT = 1,
} reasoning_part;

typedef void (*reasoning_emit_fn)(void *user, reasoning_part part, const char *text, size_t n);

typedef struct reasoning_parser {
    reasoning_mode mode;
    int state;     /* internal: where in the output we are */
    char hold[16]; /* bytes that may be the start of a tag, or whitespace not yet decided */
    size_t n_hold;
    reasoning_emit_fn emit;
    void *user;
} reasoning_parser;

void reasoning_init(reasoning_parser *p, reasoning_mode mode, bool start_in_reasoning,
                    reasoning_emit_fn emit, void *user);
void reasoning_feed(reasoning_parser *p, const char *text, size_t n);
/* End of output: release what is held back (a partial tag is text). The parser can be re-inited. */
void reasoning_finish(reasoning_parser *p);

/* Whether the text fed so far leaves the parser inside the reasoning (a tag held back undecided
 * does not change it). */
bool reasoning_is_open(const reasoning_parser *p);

/* "none" / "deepseek" -> mode; false if unknown. */
bool reasoning_mode_from_name(const char *name, reasoning_mode *out_mode);

#endif
