/* Stage 3's parameter pipeline (docs/spec.md §8, fast/README.md "Stage 3"): the rank keeps only its
 * shard; each unit of layer_plan.h is all-gathered right before the model reads it and its gradient
 * is reduce-scattered as soon as it is final, all on the comm stream, ordered against the compute
 * stream with events, so unit i+1's gather and unit i+1's reduce-scatter overlap unit i's compute.
 *
 * Live units sit in a pool of two slots of the largest unit: the unit in use and the next one, which
 * is fetched while the current one computes (DeepSpeed's PartitionedParameterCoordinator prefetches
 * the next submodules of its trace, deepspeed/runtime/zero/partitioned_param_coordinator.py; its
 * stage3_prefetch_bucket_size / stage3_max_live_parameters bound the bytes in flight and alive, here
 * fixed at one unit ahead and two units alive). A unit still in its slot when it is used next is not
 * gathered again (stage3_max_reuse_distance's effect): the final LayerNorm and the embeddings, whose
 * forward and backward uses meet at the loss. The engine installs the model hooks of model.h. */
#ifndef ZS_FAST_STAGE3_H
#define ZS_FAST_STAGE3_H

#include <stdint.h>

#include <cuda_runtime.h>

#include "comm.h"
#include "layer_plan.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_stage3 {
    zsf_comm *comm;
    zsf_dtype dt;
    const zsf_partition *part;
    zsf_layer_plan plan;
    zsf_bucket **ag, **rs;           /* per unit: bucket plans of [0, shard_len) */
    int *n_ag, *n_rs;
    int64_t *ag_map, *rs_map;        /* device, W*len each: unit u's map at W*shard_offset */
    void *slot[2];                   /* the live-unit pool: max_numel model-dtype elements each */
    int slot_unit[2];                /* unit held, or -1 */
    int cur;                         /* slot of the unit in use */
    void *xbuf;                      /* W*max_shard elements, used on the comm stream only */
    const void *shard;               /* the rank's shard on the device, or NULL ... */
    const void *host_shard;          /* ... on the host (offload_param), copied up per unit into: */
    void *staging;                   /* max_shard elements */
    int64_t pool_bytes;              /* slots + exchange buffer + staging (working memory) */
    cudaEvent_t ready, done, fetched[2];
    int use;                         /* position in plan.uses */
    const float *grads;              /* this micro-step's gradient (numel, fp32 scratch) ... */
    void *dest;                      /* ... reduced into this partition (len, model dtype) */
} zsf_stage3;

/* The shard (len model-dtype elements, as the pool slots, the exchange buffer and the reduced
 * partition: 16 bits for fp16/bf16) is read from `shard` (device) or, when host_shard is not NULL,
 * from pinned host memory.
 * Bytes it cudaMallocs are added to *working. Returns 0, or -1 with the message in err. */
int zsf_stage3_init(zsf_stage3 *z, const zsf_params *t, const zsf_partition *p, zsf_comm *c, zsf_dtype dt,
                    int64_t ag_bucket_elems, int64_t rs_bucket_elems, const void *shard, const void *host_shard,
                    int64_t *working, zs_error *err);
void zsf_stage3_free(zsf_stage3 *z);

/* The model hooks that drive the pipeline (ctx = z). */
zsf_model_hooks zsf_stage3_hooks(zsf_stage3 *z);

/* Before a micro-step's forward pass: its gradient will be read from grads (numel fp32, each unit's
 * slice rounded to the model dtype by the model) and each unit's reduce-scattered share written to
 * dest (len, model dtype): (t / W, summed over ranks, in the model dtype). */
void zsf_stage3_begin(zsf_stage3 *z, const float *grads, void *dest);
/* After its backward pass: the compute stream waits for the last reduce-scatter. */
void zsf_stage3_end(zsf_stage3 *z);

#ifdef __cplusplus
}
#endif
#endif
