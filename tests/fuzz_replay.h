/* fuzz_replay.h — replay a fuzz corpus folder through a target's LLVMFuzzerTestOneInput, without
 * libFuzzer: a test #includes the target's .c file, then this, and calls fuzz_replay_main. The
 * targets abort() on a broken promise, so a bad input fails the test (and ASan/UBSan builds report
 * memory errors). `test_fuzz_corpus_X DIR` replays another folder. */
#ifndef R1_TESTS_FUZZ_REPLAY_H
#define R1_TESTS_FUZZ_REPLAY_H

#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_replay_main(int argc, char **argv, const char *default_dir, int min_files)
{
    const char *dir = argc > 1 ? argv[1] : default_dir;
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
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        n++;
    }
    if (d) closedir(d);
    CHECKF(n >= min_files, "only %d corpus files in %s", n, dir);
    printf("%d corpus files replayed from %s\n", n, dir);
    return test_finish();
}

#endif
