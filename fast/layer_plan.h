/* Stage 3's fetch units (host code): the model's parameters grouped into the pieces zs-fast gathers
 * one at a time, as DeepSpeed's stage 3 fetches each submodule's parameters before its forward or
 * backward and releases them after (deepspeed/runtime/zero/partitioned_param_coordinator.py,
 * PartitionedParameterCoordinator.fetch_sub_module / release_sub_module).
 *
 * Units, in forward order: 0 the embeddings (wte, wpe); 1 + l transformer block l (its 12 tensors);
 * L + 1 the final LayerNorm. The tied LM head reads wte, so it uses unit 0 again. A unit is a run of
 * consecutive tensors of the HF order (gpt2_params.h), so its elements are one flat range
 * [offset, offset + numel). At stage 3 each tensor is sharded on its own (partition.h), so the unit's
 * part of every rank's partition is one range [shard_offset, shard_offset + shard_len), the same on
 * every rank: the rank's shards of the unit's tensors, padding included. All-gathering that range
 * from every rank yields exactly the unit; reduce-scattering the unit's gradient into it yields the
 * rank's partition elements of the unit.
 *
 * Use order of one micro-step (the model calls its hooks in this order, model.h):
 *   forward  0, 1, ..., L, L + 1, 0 (LM head)
 *   backward 0 (LM head), L + 1, L, ..., 1   (the embeddings' backward reads no parameter) */
#ifndef ZS_FAST_LAYER_PLAN_H
#define ZS_FAST_LAYER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "gpt2_params.h"
#include "partition.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_unit {
    int first_param, n_params;       /* table entries [first_param, first_param + n_params) */
    size_t offset, numel;            /* flat elements [offset, offset + numel) */
    size_t shard_offset, shard_len;  /* partition elements [shard_offset, shard_offset + shard_len) */
} zsf_unit;

typedef struct zsf_layer_plan {
    int n;                   /* units: L + 2 */
    zsf_unit *u;
    size_t max_numel;        /* the largest unit: one slot of the live-unit pool */
    size_t max_shard;        /* the largest shard_len: the exchange buffer holds W times this */
    int n_uses;              /* 2L + 5 */
    int *uses;               /* unit of each use, in the order above */
} zsf_layer_plan;

/* Number of units of the table (L + 2) and the table entries of unit u. */
int zsf_unit_count(const zsf_params *t);
void zsf_unit_params(const zsf_params *t, int u, int *first, int *count);
/* Unit u's flat range: returns its first element's index, *numel its element count (the model's
 * hooks at stages 2 and 3, model.h). */
size_t zsf_unit_range(const zsf_params *t, int u, size_t *numel);

/* Needs the stage-3 partition of the table's tensors; fails naming the mismatch otherwise. */
int zsf_layer_plan_build(zsf_layer_plan *lp, const zsf_params *t, const zsf_partition *p, zs_error *err);
void zsf_layer_plan_free(zsf_layer_plan *lp);

/* Index of the first use after use i of a unit other than uses[i], or -1 (the micro-step ends). */
int zsf_layer_plan_next(const zsf_layer_plan *lp, int i);

/* Exchange map of unit u for the bucket plan b cutting [0, shard_len) (partition.h's layout, the
 * unit's range standing for the partition): map[W * shard_len] = the element carried at each position
 * as an index within the unit (flat index - offset), or -1 for padding. */
void zsf_unit_exchange_map(const zsf_layer_plan *lp, const zsf_partition *p, int u, const zsf_bucket *b, int nb,
                           int64_t *map);

#ifdef __cplusplus
}
#endif
#endif
