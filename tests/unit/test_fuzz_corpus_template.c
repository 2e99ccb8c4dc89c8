/* test_fuzz_corpus_template.c — replays fuzz/corpus/template through fuzz/fuzz_template.c (its
 * promises are checked by the target itself; see docs/fuzzing.md). */
#include "../../fuzz/fuzz_template.c"

#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, R1_TEST_DATA "/../../fuzz/corpus/template", 5);
}
