/* test_fuzz_corpus_reasoning.c — replays fuzz/corpus/reasoning through fuzz/fuzz_reasoning.c (its
 * promises are checked by the target itself; see docs/fuzzing.md). */
#include "../../fuzz/fuzz_reasoning.c"

#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, R1_TEST_DATA "/../../fuzz/corpus/reasoning", 5);
}
