/* test_fuzz_corpus_server.c — replays fuzz/corpus/server through fuzz_server_request.c's code path
 * without libFuzzer (issue 6: malformed bodies get 4xx JSON errors, never a crash). A valid-* file
 * must parse (chat, completions) or be answered (tokenize, detokenize) with 200; a bad-* file must
 * get a 4xx error object with a message and a code; anything else (crashers, minimized inputs)
 * must pass without a sanitizer report or broken promise. A bad file is named
 * bad-<route>-<code>--<what> and must get error.code <code>.
 * `test_fuzz_corpus_server DIR` replays another directory. */
#define FUZZ_NO_MAIN
#define R1_FUZZ_MODEL R1_TEST_DATA "/../../models/r1-tiny.gguf"
#include "../../fuzz/fuzz_server_request.c"

#include "test.h"

#include <dirent.h>

#ifndef R1_SERVER_FUZZ_CORPUS
#define R1_SERVER_FUZZ_CORPUS R1_TEST_DATA "/../../fuzz/corpus/server"
#endif

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : R1_SERVER_FUZZ_CORPUS;
    CHECKF(fuzz_server_setup(), "cannot load %s", R1_FUZZ_MODEL);
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    int n = 0, n_valid = 0, n_bad = 0;
    bool seen[ROUTE_COUNT] = {0};
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        uint8_t *data = test_read_file(path, &size);
        CHECKF(data != NULL, "cannot read %s", path);
        if (!data) continue;
        fuzz_server_result r;
        int status = fuzz_server_one(data, size, &r);
        if (!strncmp(e->d_name, "valid-", 6)) {
            CHECKF(status == 200, "%s: status %d (%s: %s)", e->d_name, status, r.code, r.message);
            if (status == 200) seen[r.route] = true;
            n_valid++;
        }
        if (!strncmp(e->d_name, "bad-", 4)) {
            CHECKF(status >= 400 && status < 500, "%s: status %d, want 4xx", e->d_name, status);
            CHECKF(r.message[0] && r.code[0], "%s: error without message or code", e->d_name);
            const char *want = strchr(e->d_name + 4, '-'), *end = strstr(e->d_name, "--");
            CHECKF(want && end && end > want, "%s: not named bad-<route>-<code>--<what>",
                   e->d_name);
            if (want && end && end > want) {
                size_t len = (size_t)(end - ++want);
                CHECKF(strlen(r.code) == len && !strncmp(r.code, want, len), "%s: code '%s' (%s)",
                       e->d_name, r.code, r.message);
            }
            n_bad++;
        }
        free(data);
        n++;
    }
    if (d) closedir(d);
    CHECKF(n_valid >= 8 && n_bad >= 30, "only %d valid and %d bad files in %s", n_valid, n_bad,
           dir);
    CHECK(seen[ROUTE_CHAT] && seen[ROUTE_COMPLETIONS] && seen[ROUTE_TOKENIZE] &&
          seen[ROUTE_DETOKENIZE]);
    printf("%d corpus files replayed (%d valid, %d bad)\n", n, n_valid, n_bad);
    return test_finish();
}
