/* convert.h — `r1 convert` as a library: a Hugging Face folder (config.json, safetensors shards,
 * tokenizer.json) to a GGUF laid out as the ecosystem's converter writes it: deepseek2 with split
 * attn_k_b/attn_v_b and the MTP layer under blk.L.nextn.*, Llama q/k rows permuted, the tokenizer
 * as tokenizer.ggml.* keys. Streamed tensor by tensor (peak memory about one tensor or one 16 MiB
 * chunk plus its output). Messages and progress go to stderr as "r1 convert: ...". */
#ifndef R1_TOOLS_CONVERT_H
#define R1_TOOLS_CONVERT_H

#include "r1.h"

typedef struct tools_convert_options {
    const char *dir;  /* the Hugging Face folder */
    const char *out;  /* the GGUF to write */
    const char *type; /* "auto" (or NULL: weights as stored, FP8 to BF16) or a mix name */
    int n_threads;    /* 0: all cores */
    r1_log_fn log_fn; /* the folder reader's notes; may be NULL */
    void *log_user;
} tools_convert_options;

/* Returns the command's exit status: 0; 1 after a message; 2 for an unknown type. */
int tools_convert(const tools_convert_options *o);

#endif
