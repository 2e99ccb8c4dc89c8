/* imatrix.h — `r1 imatrix` as a library: the importance matrix of a model over a calibration
 * text (llama.cpp's imatrix GGUF format), for `r1 quantize --imatrix`. The text is tokenized once
 * and run in chunks, each a fresh sequence starting with BOS; every weight matrix product's input
 * rows are squared and summed per column, per matrix (an expert sees only its tokens). Messages
 * and the progress line go to stderr as "r1 imatrix: ...". */
#ifndef R1_TOOLS_IMATRIX_H
#define R1_TOOLS_IMATRIX_H

#include "r1.h"

#include <stddef.h>

typedef struct tools_imatrix_options {
    const char *text_path; /* the text's file name: messages and the file's metadata */
    const char *out;       /* the imatrix file to write */
    int chunk;             /* tokens per chunk, BOS included (8..65536) */
    int max_chunks;        /* 0 = every whole chunk of the text */
} tools_imatrix_options;

/* Collect over len bytes of text with a loaded model (one process, not a distributed one) and
 * write o->out. Returns the command's exit status: 0, or 1 after a message. */
int tools_imatrix(r1_model *model, const char *text, size_t len, const tools_imatrix_options *o);

#endif
