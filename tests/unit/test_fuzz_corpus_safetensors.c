/* test_fuzz_corpus_safetensors.c — replays fuzz/corpus/safetensors through fuzz_safetensors.c's
 * code path without libFuzzer: valid-* files must parse, hostile-* must be rejected, anything
 * else (crashers, minimized inputs) must pass without a sanitizer report or broken promise.
 * `test_fuzz_corpus_safetensors DIR` replays another directory. The seeds are written by
 * `R1_ST_CORPUS_DIR=fuzz/corpus/safetensors build/test_safetensors`. */
#define FUZZ_NO_MAIN
#include "../../fuzz/fuzz_safetensors.c"

#include "test.h"

#include <dirent.h>

#ifndef R1_ST_FUZZ_CORPUS
#define R1_ST_FUZZ_CORPUS R1_TEST_DATA "/../../fuzz/corpus/safetensors"
#endif

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : R1_ST_FUZZ_CORPUS;
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        uint8_t *data = test_read_file(path, &size);
        CHECKF(data != NULL, "cannot read %s", path);
        if (!data) continue;
        int parsed = fuzz_safetensors_one(data, size);
        if (!strncmp(e->d_name, "valid-", 6)) CHECKF(parsed, "%s should parse", e->d_name);
        if (!strncmp(e->d_name, "hostile-", 8)) CHECKF(!parsed, "%s should fail", e->d_name);
        free(data);
        n++;
    }
    if (d) closedir(d);
    CHECKF(n >= 20, "only %d corpus files in %s", n, dir);
    printf("%d corpus files replayed\n", n);
    return test_finish();
}
