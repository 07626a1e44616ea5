/* Re-partitioning a zerospec checkpoint for this rank (host code, tested without a GPU): the saved
 * partitions are glued into full flat vectors with the WRITER's layout (its stage and world size,
 * fast/partition.c) and this rank's partition is cut from them with the RESUMING run's layout
 * (docs/spec/checkpoint.md §2). Independent of reference/: zs-fast uses its own partition code. */
#ifndef ZS_FAST_CKPT_LAYOUT_H
#define ZS_FAST_CKPT_LAYOUT_H

#include "gpt2_params.h"
#include "partition.h"
#include "zerospec/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks the checkpoint against the run (model, seed, precision name, optimizer-state names in the
 * rule's order; t->dims is the run's model) and fills master[dst->len] and state[k][dst->len] (k < n_state, matched by name) with
 * `rank`'s partition under `dst`. -1 with one line naming both values on a mismatch. */
int zsf_ckpt_take_partition(const zs_checkpoint *c, const zsf_params *t, uint64_t seed, const char *precision, const char *const *state_names, int n_state,
                            const zsf_partition *dst, int rank, float *master, float *const *state,
                            zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
