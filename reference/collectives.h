/* The simulated collectives: explicit loops over the ranks' buffers, in a fixed order, so the
 * result is a pure function of the inputs (docs/spec.md "Collectives").
 *
 * Sums are left folds in rank order 0, 1, ..., W-1, rounded to the communication dtype after every
 * addition (a real NCCL ring or tree adds in another order; conformance tolerances cover that).
 * Every call is appended to an optional log, so a run can show what each collective moved. */
#ifndef ZS_REFERENCE_COLLECTIVES_H
#define ZS_REFERENCE_COLLECTIVES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zerospec/dtype.h"

typedef struct zs_comm_stats {
    int64_t calls;
    int64_t elements;        /* elements in each rank's output, summed over calls */
    int64_t bytes_per_rank;  /* bytes each rank sends under a ring algorithm, summed over calls */
} zs_comm_stats;

typedef enum zs_comm_op {
    ZS_COMM_ALL_REDUCE = 0,
    ZS_COMM_REDUCE_SCATTER,
    ZS_COMM_ALL_GATHER,
    ZS_COMM_OP_COUNT
} zs_comm_op;

typedef struct zs_comm {
    int world;
    FILE *log;               /* when non-NULL, one line per collective (zs-ref --trace-comm) */
    const char *log_context; /* e.g. "step 3 micro 1": printed in each log line */
    zs_comm_stats stats[ZS_COMM_OP_COUNT];
} zs_comm;

const char *zs_comm_op_name(zs_comm_op op);

/* bufs[r][n] on every rank becomes the sum over ranks (rank-order fold in `dtype`). */
void zs_all_reduce_sum(zs_comm *c, float *const *bufs, size_t n, zs_dtype dtype, const char *what);
/* send[r] holds W blocks of `chunk` elements; recv[d][chunk] = sum over r of block d of send[r]. */
void zs_reduce_scatter_sum(zs_comm *c, const float *const *send, float *const *recv, size_t chunk,
                           zs_dtype dtype, const char *what);
/* recv[r][W*chunk] = concatenation over d of send[d][chunk], on every rank. */
void zs_all_gather(zs_comm *c, const float *const *send, float *const *recv, size_t chunk,
                   zs_dtype dtype, const char *what);
/* Scalars: sum of doubles (rank order, in double) and max of flags; results on every rank. */
double zs_all_reduce_sum_f64(zs_comm *c, const double *per_rank, const char *what);
int zs_all_reduce_max_int(zs_comm *c, const int *per_rank, const char *what);

#endif
