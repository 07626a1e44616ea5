/* ZeRO partitioning and the layout of zs-fast's collective buffers (host code).
 *
 * Partition (docs/spec.md §5): every rank holds `len` elements; element j of rank r is a model
 * element (its flat index, HF order) or padding.
 *   stage 0    len = numel; element j is model element j on every rank.
 *   stage 1, 2 the flat buffer zero-padded to a multiple of 2W and cut into W equal pieces
 *              (DeepSpeed stage_1_and_2.py, nccl_start_alignment_factor 2): len = 2*ceil(numel/2W),
 *              element j of rank r is flat element r*len + j.
 *   stage 3    each parameter p separately (DeepSpeed partition_parameters.py _partition_param):
 *              shard = ceil(n_p / W); rank r owns elements [r*shard, (r+1)*shard) of p (beyond n_p:
 *              padding); the partition is the concatenation of the rank's shards in HF order.
 *   grouped    stages 1, 2 with param groups (Muon: docs/spec/optimizers.md §8a.2): DeepSpeed
 *              flattens, pads (to a multiple of 2W) and cuts each group separately, in the group's own
 *              parameter order; rank r's partition is its piece of group 0, then of group 1, ...
 *              (group_offset / group_len); an explicit map gives the model index of every element.
 *
 * Exchange buffer: a reduce-scatter sends, and an all-gather receives, W*len elements. zs-fast cuts
 * the partition into buckets (ranges [offset, offset+count) of partition elements, at most
 * `bucket_elems` elements over all ranks each) and lays the exchange buffer out bucket by bucket:
 * bucket b occupies [W*offset_b, W*(offset_b + count_b)), rank d's block of it starts at
 * W*offset_b + d*count_b. Each bucket is then one NCCL call whose W blocks are contiguous, as
 * ncclReduceScatter / ncclAllGather require. The exchange map gives, for every position of the
 * exchange buffer, the model element it carries (or -1 for padding): the device packs gradients
 * with it (gather) and unpacks gathered parameters with it (scatter). */
#ifndef ZS_FAST_PARTITION_H
#define ZS_FAST_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZSF_PARTITION_MAX_GROUPS 2

typedef struct zsf_partition {
    int stage, world;
    size_t numel;          /* model elements */
    size_t len;            /* elements of every rank's partition */
    int n_params;          /* stage 3 only: per-parameter sizes, offsets and shards */
    size_t *param_numel, *param_offset, *shard_len;
    int n_groups;          /* 1 unless built by zsf_partition_init_grouped at stage 1/2 */
    size_t group_len[ZSF_PARTITION_MAX_GROUPS];      /* group g's piece of every rank's partition */
    size_t group_offset[ZSF_PARTITION_MAX_GROUPS];   /* where that piece starts in the partition */
    int64_t *map;          /* grouped only: model index of element j of rank r at [r*len + j], or -1 */
} zsf_partition;

typedef struct zsf_bucket {
    size_t offset, count;  /* partition elements [offset, offset + count) of every rank */
} zsf_bucket;

int zsf_partition_init(zsf_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                       zs_error *err);
/* Stages 1-2 with param groups: order[] lists the n_params parameter indices (HF order numbers) in
 * flat layout order, group g being the next group_count[g] of them (n_groups <= ZSF_PARTITION_MAX_GROUPS,
 * counts summing to n_params). Other stages: as zsf_partition_init (the layout stays HF order). */
int zsf_partition_init_grouped(zsf_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                               const int *order, const int *group_count, int n_groups, zs_error *err);
void zsf_partition_free(zsf_partition *p);

/* Flat model index of element j of `rank`'s partition, or -1 for padding. */
int64_t zsf_partition_index(const zsf_partition *p, int rank, size_t j);

/* Fills own[len] with zsf_partition_index(p, rank, j) for every j. */
void zsf_partition_own_map(const zsf_partition *p, int rank, int64_t *own);

/* Cuts [0, len) into consecutive buckets of at most max(1, bucket_elems / world) elements per rank
 * (bucket_elems <= 0: one bucket). Returns the count; *out is malloc'ed (NULL on failure, count 0). */
int zsf_plan_buckets(size_t len, int world, int64_t bucket_elems, zsf_bucket **out);

/* Position of partition element j of rank d in the exchange buffer of the bucket plan. */
size_t zsf_exchange_pos(const zsf_bucket *b, int n_buckets, int world, int d, size_t j);

/* Fills map[world * len]: map[q] = model index carried at exchange position q, or -1. */
void zsf_exchange_map(const zsf_partition *p, const zsf_bucket *b, int n_buckets, int64_t *map);

/* A run: partition elements [part, part + count) of rank `rank` carry model elements
 * [model, model + count). */
typedef struct zsf_run {
    int rank;
    size_t part, model, count;
} zsf_run;

/* Stages 1-2: every rank's partition as maximal runs, padding left out, in model order; they tile
 * [0, numel) (plain layout: one run per rank that holds model elements; grouped: a run ends wherever
 * consecutive partition elements stop carrying consecutive model elements). Stage 2 reduces each unit's
 * gradient to its owners along them (fast/README.md "Stage 2"). Returns the count with *out malloc'ed,
 * or -1 with *out NULL at other stages or out of memory. */
int zsf_partition_runs(const zsf_partition *p, zsf_run **out);

/* The runs[n] (model order) cut to model elements [lo, hi) and into pieces of at most bucket_elems
 * elements (<= 0: uncut), in model order. Returns the count with *out malloc'ed, or -1 with *out NULL out
 * of memory. */
int zsf_runs_slice(const zsf_run *runs, int n, size_t lo, size_t hi, int64_t bucket_elems, zsf_run **out);

/* Rank `rank`'s partition elements of [0, len) that no run of runs[n] covers (its padding), as runs
 * (part, count; model 0) in partition order. Returns the count with *out malloc'ed, or -1 with *out
 * NULL out of memory. */
int zsf_runs_gaps(const zsf_run *runs, int n, int rank, size_t len, zsf_run **out);

/* Assembles the full flat model (numel) from every rank's partition parts[r][len]; at stage 0,
 * where every partition is a whole replica, from rank 0's. */
void zsf_partition_assemble(const zsf_partition *p, const float *const *parts, float *full);

#ifdef __cplusplus
}
#endif
#endif
