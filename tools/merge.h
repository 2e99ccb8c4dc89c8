/* merge.h — the shards of a split GGUF (llama.cpp's gguf-split: the metadata in the first, split.*
 * keys in each) joined into one file, as `r1 pull` stores split downloads. */
#ifndef R1_TOOLS_MERGE_H
#define R1_TOOLS_MERGE_H

#include <stdbool.h>

/* Write out from the n shards at paths (in order): the first shard's metadata without the split.*
 * keys, then every shard's tensors in shard order, data copied as stored. False after a message
 * on stderr ("r1 pull: ..."); out may then be left incomplete. */
bool tools_merge_shards(const char *const *paths, int n, const char *out);

#endif
