/* test_fuzz_corpus_sse.c — replays fuzz/corpus/sse through fuzz/fuzz_sse.c (its promises are
 * checked by the target itself; see docs/fuzzing.md). */
#include "../../fuzz/fuzz_sse.c"

#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, R1_TEST_DATA "/../../fuzz/corpus/sse", 5);
}
