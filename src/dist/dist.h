/* dist.h — the communicator of a model split across processes (MPI ranks), and the few collective
 * operations the forward pass needs: an allreduce of the residual stream per sub-layer, the
 * broadcast of each batch from rank 0, the gather of the logits rows to rank 0.
 *
 * Built without R1_MPI (or run without mpirun) there is one rank and every operation returns at
 * once. A collective that a peer does not join within the timeout (R1_DIST_TIMEOUT seconds,
 * default 20) marks the communicator failed with a message naming the ranks that stopped
 * answering; every later operation then returns false at once, so a forward pass finishes (with
 * garbage) and the session reports the failure instead of hanging.
 */
#ifndef R1_DIST_DIST_H
#define R1_DIST_DIST_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct r1_dist {
    int rank, size;
    bool has_mpi; /* MPI_Init was called (started by mpirun) */
    bool failed;  /* a collective failed: see failure */
    char failure[256];
    double timeout_s; /* longest wait for a peer inside a collective */
    void *impl;       /* dist.c's MPI state, NULL without MPI */
};

/* Sum n floats over all ranks, in place; every rank gets the same bits. */
bool dist_allreduce_sum(r1_dist *d, float *x, int64_t n);
/* Rank 0's bytes to every rank. idle: the receivers may wait for it without a timeout (a worker
 * waiting for the next command while rank 0's user thinks). */
bool dist_bcast(r1_dist *d, void *buf, size_t bytes, bool idle);
/* Rows of a matrix split by columns: rank r holds columns [col0[r], col0[r] + n_cols[r]) of n_rows
 * rows in `mine` (n_rows × n_cols[rank], contiguous); rank 0 receives every other rank's part into
 * out (n_rows rows, ld floats apart). Rank 0 writes its own part itself. */
bool dist_gather_cols(r1_dist *d, float *out, int64_t ld, const float *mine, int n_rows,
                      const int64_t *col0, const int64_t *n_cols);
/* n values of every rank side by side: all[r·n + i] (all ranks get all). Waits without a
 * timeout (a load's length differs between ranks); the _within form gives up after timeout_s
 * seconds (≤ 0: never) and marks the communicator failed, naming the silent ranks. */
bool dist_allgather_u64(r1_dist *d, const uint64_t *mine, int n, uint64_t *all);
bool dist_allgather_u64_within(r1_dist *d, const uint64_t *mine, int n, uint64_t *all,
                               double timeout_s);
/* Wait until every rank arrives, without a timeout (the end of a load, whose length differs). */
bool dist_barrier(r1_dist *d);

static inline bool dist_is_split(const r1_dist *d)
{
    return d && d->size > 1;
}

/* Mark the communicator failed from outside a collective (a rank whose own work failed, e.g.
 * data-parallel training, while the others may wait in a collective without a timeout):
 * r1_dist_finalize then aborts the whole job instead of waiting for the others. */
void dist_mark_failed(r1_dist *d, const char *why);

#endif
