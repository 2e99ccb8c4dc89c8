/* bench.h — what `r1 bench` measures besides the model (apps/cli/cmd_bench.c does the model's
 * speed over the public API): the machine's memory bandwidth on the library's thread pool, the
 * pool's default size, and the random token ids the timings run on. */
#ifndef R1_TOOLS_BENCH_H
#define R1_TOOLS_BENCH_H

#include <stdint.h>

/* The worker count a model or pool gets for n_threads = 0 (the online cores). */
int tools_default_threads(void);

/* Best of six STREAM-like triads (a = b + 3c over 3 × 256 MiB, split by rows over n_threads
 * workers): bytes moved / time in GB/s; 0 when the arrays cannot be allocated. */
double tools_measure_bandwidth(int n_threads);

/* n ids uniform in [0, n_vocab) from the library's generator seeded with seed (the same ids for
 * the same seed on every machine). */
void tools_random_tokens(uint64_t seed, int n_vocab, int32_t *out, int n);

#endif
