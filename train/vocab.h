/* vocab.h — the trainer's vocabulary: DeepSeek-R1's six chat tokens and the 256 byte tokens of
 * GPT-2's byte-level alphabet, no merges (one token per byte). Written into GGUF as a real
 * `gpt2` tokenizer (tokenizer.ggml.*, pre-tokenizer deepseek-v3, R1's chat template), so the
 * engine's tokenizer_load_gguf loads it unchanged and encodes any text to the same ids as
 * vocab_encode below.
 *
 * Ids: 0 <｜begin▁of▁sentence｜>, 1 <｜end▁of▁sentence｜>, 2 <｜User｜>, 3 <｜Assistant｜>,
 * 4 <think>, 5 </think>, then 6 + b for byte b.
 */
#ifndef R1_TRAIN_VOCAB_H
#define R1_TRAIN_VOCAB_H

#include "formats/gguf.h"

#include <stddef.h>
#include <stdint.h>

enum {
    VOCAB_BOS = 0,
    VOCAB_EOS = 1,
    VOCAB_USER = 2,
    VOCAB_ASSISTANT = 3,
    VOCAB_THINK = 4,
    VOCAB_END_THINK = 5,
    VOCAB_N_SPECIAL = 6,
    VOCAB_SIZE = VOCAB_N_SPECIAL + 256,
};

/* Text of a special token (id < VOCAB_N_SPECIAL), else NULL. */
const char *vocab_special_text(int id);

/* Encode text: the six special token strings become their ids, every other byte its byte token
 * (what the GGUF tokenizer does with parse_special). Writes at most cap ids; returns the count
 * the whole text needs. */
int vocab_encode(const char *text, size_t n_bytes, int32_t *out, int cap);

/* Decode ids to text (specials rendered). Returns bytes written, NUL-terminated within cap. */
size_t vocab_decode(const int32_t *ids, int n_ids, char *out, size_t cap);

/* The tokenizer.ggml.* keys and tokenizer.chat_template (R1 with the "<think>\n" generation
 * prompt). */
void vocab_write_gguf(gguf_writer *w);

#endif
