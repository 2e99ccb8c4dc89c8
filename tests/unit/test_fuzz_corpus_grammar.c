/* test_fuzz_corpus_grammar.c — replays fuzz/corpus/grammar through fuzz/fuzz_grammar.c (its
 * promises are checked by the target itself; see docs/fuzzing.md). */
#include "../../fuzz/fuzz_grammar.c"

#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, R1_TEST_DATA "/../../fuzz/corpus/grammar", 10);
}
