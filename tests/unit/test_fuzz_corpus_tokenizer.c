/* test_fuzz_corpus_tokenizer.c — replays fuzz/corpus/tokenizer through fuzz/fuzz_tokenizer.c (its
 * promises are checked by the target itself; see docs/fuzzing.md). */
#define R1_FUZZ_DATA R1_TEST_DATA "/tokenizer"
#include "../../fuzz/fuzz_tokenizer.c"

#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, R1_TEST_DATA "/../../fuzz/corpus/tokenizer", 5);
}
