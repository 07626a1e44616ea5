/* Which flat elements each simulated rank owns (docs/spec.md "Partitioning").
 *
 * Every rank holds a partition of the same length `len`. Element j of rank r's partition is either
 * a model element (its index in the flat parameter buffer, HF order) or padding (-1):
 *   stage 0   : no sharding. len = numel, element j is model element j on every rank.
 *   stage 1, 2: DeepSpeed stage_1_and_2.py — the flat buffer padded with zeros to a multiple of
 *               2*W (nccl_start_alignment_factor 2), cut into W equal contiguous pieces:
 *               len = P = ceil(numel / 2W) * 2, element j of rank r is flat index r*P + j.
 *   stage 3   : DeepSpeed partition_parameters.py — every parameter p separately: shard
 *               P_p = ceil(n_p / W); rank r owns elements [r*P_p, (r+1)*P_p) of p (those >= n_p are
 *               padding); the rank's partition is the concatenation of its shards in HF order.
 *
 * Grouped layout (stages 1, 2; zs_partition_init_grouped): DeepSpeed flattens, pads and partitions
 * each optimizer param group separately, in the groups' own parameter order; a rank's partition is
 * its piece of group 0, then of group 1, ... (Muon: the sorted muon group, then the Adam group).
 */
#ifndef ZS_REFERENCE_PARTITION_H
#define ZS_REFERENCE_PARTITION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZS_PARTITION_MAX_GROUPS 2

typedef struct zs_partition {
    int stage;
    int world;
    size_t numel;            /* real elements in the model */
    size_t len;              /* elements in every rank's partition */
    /* stage 3 only (n_params entries each; NULL otherwise) */
    int n_params;
    size_t *param_numel;     /* n_p */
    size_t *param_offset;    /* offset of p in the flat model buffer */
    size_t *shard_len;       /* P_p */
    size_t *shard_offset;    /* offset of p's shard inside a rank partition */
    /* param groups: one (the whole partition) unless built by zs_partition_init_grouped */
    int n_groups;
    size_t group_len[ZS_PARTITION_MAX_GROUPS];      /* P_g: group g's piece of every rank partition */
    size_t group_offset[ZS_PARTITION_MAX_GROUPS];   /* where that piece starts in the partition */
    int64_t *map;            /* grouped stages 1-2: model index of element j of rank r at [r*len + j] */
} zs_partition;

/* param_numel: n_params sizes in flat (HF) order. Returns -1 only on allocation failure. */
int zs_partition_init(zs_partition *p, int stage, int world, const size_t *param_numel, int n_params);
/* Stages 1-2 with param groups: order[] lists the n_params parameter indices in flat layout order,
 * group g being the next group_count[g] of them (n_groups <= ZS_PARTITION_MAX_GROUPS). Each group is
 * padded to a multiple of 2W and cut into W pieces. Other stages: as zs_partition_init. */
int zs_partition_init_grouped(zs_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                              const int *order, const int *group_count, int n_groups);
void zs_partition_free(zs_partition *p);

/* Flat model index of partition element j of `rank`, or -1 for padding. */
int64_t zs_partition_model_index(const zs_partition *p, int rank, size_t j);

/* Number of real (non-padding) elements in `rank`'s partition. */
size_t zs_partition_real_count(const zs_partition *p, int rank);

/* out[len] = rank's partition of the full flat vector `full` (padding = 0). */
void zs_partition_extract(const zs_partition *p, int rank, const float *full, float *out);
/* full[numel] = the real elements of every rank's partition parts[rank][len]. */
void zs_partition_assemble(const zs_partition *p, const float *const *parts, float *full);

/* Index of the parameter (of n_params with the given sizes, flat order) holding flat element idx, and
 * idx's offset inside it; -1 for padding (idx < 0) or past the end. */
int zs_partition_param_at(const size_t *param_numel, int n_params, int64_t idx, size_t *within);

/* Prints the partition map: per rank, the runs of (parameter, element range) it owns and its
 * padding, e.g. "rank 1: h.0.ln_1.bias[0:32] h.0.attn.c_attn.weight[0:100] pad[4]". `names` are the
 * parameter names in flat order (n_params of them, matching param_numel given at init). */
void zs_partition_print(const zs_partition *p, const char *const *names, const size_t *param_numel,
                        int n_params, FILE *out);

#endif
