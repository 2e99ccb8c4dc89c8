/* merge.c — tools/merge.h: split GGUF shards joined into one file through the GGUF writer. */
#include "tools/merge.h"

#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tools_merge_shards(const char *const *paths, int n, const char *out)
{
    gguf_file **f = calloc((size_t)n, sizeof *f);
    gguf_writer *w = gguf_writer_new();
    char err[R1_ERR_MAX];
    bool ok = f && w;
    for (int i = 0; ok && i < n; i++)
        if (gguf_open(paths[i], true, &f[i], err)) {
            fprintf(stderr, "r1 pull: shard %d: %s\n", i + 1, err);
            ok = false;
        }
    for (int64_t i = 0; ok && i < f[0]->n_kv; i++)
        if (strncmp(f[0]->kv[i].key, "split.", 6)) gguf_writer_copy_kv(w, &f[0]->kv[i]);
    for (int s = 0; ok && s < n; s++)
        for (int64_t i = 0; ok && i < f[s]->n_tensors; i++) {
            const gguf_tensor *t = &f[s]->tensors[i];
            if (gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, NULL, err)) {
                fprintf(stderr, "r1 pull: joining the shards: %s\n", err);
                ok = false;
            }
        }
    if (ok && gguf_writer_begin(w, out, err)) {
        fprintf(stderr, "r1 pull: %s\n", err);
        ok = false;
    }
    for (int s = 0; ok && s < n; s++)
        for (int64_t i = 0; ok && i < f[s]->n_tensors; i++)
            if (gguf_writer_write_tensor(w, f[s]->tensors[i].data, f[s]->tensors[i].n_bytes, err)) {
                fprintf(stderr, "r1 pull: %s\n", err);
                ok = false;
            }
    if (ok && gguf_writer_finish(w, err)) {
        fprintf(stderr, "r1 pull: %s\n", err);
        ok = false;
    }
    gguf_writer_free(w);
    for (int i = 0; f && i < n; i++) gguf_close(f[i]);
    free(f);
    return ok;
}
