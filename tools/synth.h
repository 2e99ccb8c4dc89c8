/* synth.h — `r1 synth` as a library: a GGUF with random weights but the exact shapes, tensor names
 * and metadata of a real model (DeepSeek-R1 671B, V2-Lite, the R1 distills, tiny test presets), so
 * loaders and kernels can be tested and benchmarked on real shapes without downloading weights.
 * Messages and the progress line go to stderr as "r1 synth: ...". */
#ifndef R1_TOOLS_SYNTH_H
#define R1_TOOLS_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tools_synth_options {
    const char *preset;    /* a preset name (tools_synth_preset) */
    const char *out;       /* the GGUF to write */
    const char *type;      /* a tensor type (Q8_0, ...) or a mix of `r1 quantize` (Q4_K_M, ...) */
    const char *tokenizer; /* tokenizer.json or a GGUF with a real vocabulary; NULL: a minimal
                              byte-level one */
    int n_layers;          /* 0: the preset's */
    int n_threads;         /* 0: all cores */
    int n_mtp;             /* multi-token-prediction modules (deepseek2 presets only) */
    uint64_t seed;
} tools_synth_options;

/* Preset i's name and one-line description; false past the last. */
bool tools_synth_preset(int i, const char **out_name, const char **out_description);
bool tools_synth_has_preset(const char *name);
/* Whether name is a tensor type r1 supports or a quantization mix. */
bool tools_synth_type_ok(const char *name);

/* Write the file. Returns the command's exit status: 0; 1 after a message (I/O, out of memory, a
 * bad tokenizer file); 2 for options that do not fit (an unknown preset or type, --mtp on a
 * preset that is not deepseek2). */
int tools_synth(const tools_synth_options *o);

#endif
