/* info.h — model files looked at without running them: `r1 info`'s report (the file, its shards,
 * hyperparameters, tensor types and sizes, what running it needs), the GGUF header check every
 * command makes before loading, and the human units (1.8 GiB, 671 B) they print. */
#ifndef R1_TOOLS_INFO_H
#define R1_TOOLS_INFO_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>

/* Open the GGUF header of path (every shard of a split model; mapped, not read whole) and close
 * it: R1_OK when the file is complete and consistent, else the reader's error (a cut-short file
 * says "looks truncated"). */
r1_status tools_gguf_check(const char *path, char *err);

/* Print the report of the model file at path, loaded as model, to stdout. n_ctx: the context the
 * KV cache is sized for (0: as r1 run would use it, min(trained context, 4096)); list: every
 * tensor too. Returns 0, or 1 after a message on stderr ("r1 info: ..."). */
int tools_info(const char *path, const r1_model *model, int n_ctx, bool list);

/* n in [1, 1000) units with one decimal below 100 ("1.8 GiB", "14.8 M", "671 B"), written to buf
 * (cap bytes); returns buf. */
const char *tools_fmt_count(double n, char *buf, size_t cap);
const char *tools_fmt_bytes(double n, char *buf, size_t cap);

#endif
