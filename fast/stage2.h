/* Stage 2's gradient reduction during the backward pass (docs/spec.md §8-10, fast/README.md
 * "Stage 2"): as soon as the model reports a unit's gradient final (model.h grads_done, in backward
 * order: LM head and final LayerNorm, blocks L-1 .. 0, embeddings), its slice is divided by W in the
 * model dtype and each piece is summed onto the rank that owns it (comm.h zsf_reduce_runs_on), so the
 * communication of unit i runs while unit i-1's backward computes. DeepSpeed does the same from its
 * gradient hooks (stage_1_and_2.py reduce_ready_partitions_and_remove_grads ->
 * reduce_independent_p_g_buckets_and_remove_grads -> reduce_ipg_grads -> average_tensor): `bucket /= W`,
 * then each slice summed to its owner (use_multi_rank_bucket_allreduce false: dist.reduce; true, its
 * default: an all-reduce of which each rank keeps its slices; the same sum per element).
 *
 * overlap_comm chooses the stream, as DeepSpeed's reduction_stream: true, the comm stream, ordered
 * against the compute stream with events (the backward goes on while a unit is reduced); false, the
 * compute stream itself (reduced in the same place of the backward, but in line). Values do not
 * depend on it, nor on the bucket size: every partition element is the rank-order sum of the W
 * pre-divided values, as the whole-model reduce-scatter computes it. */
#ifndef ZS_FAST_STAGE2_H
#define ZS_FAST_STAGE2_H

#include <stdint.h>

#include <cuda_runtime.h>

#include "comm.h"
#include "gpt2_params.h"
#include "model.h"
#include "partition.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_stage2 {
    zsf_comm *comm;
    cudaStream_t stream;      /* comm_stream (overlap_comm) or compute */
    zsf_dtype dt;
    const zsf_params *t;
    const void *params;       /* the full model (stages 0-2 hold it): fetch returns a unit's first element */
    int n_units;
    zsf_run **runs;           /* per unit: its model range cut along the owners' runs and the bucket size */
    int *n_runs;
    zsf_run *gaps;            /* this rank's padding (part, count): zeroed at every micro-step */
    int n_gaps;
    void *x;                  /* numel model-dtype elements: the pre-divided gradient, sent from here */
    cudaEvent_t ready, done;
    const float *grads;       /* this micro-step's gradient (numel, fp32 scratch) ... */
    void *dest;               /* ... reduced into this partition (len, model dtype) */
} zsf_stage2;

/* x: a device buffer of at least numel model-dtype elements that nothing else uses during a
 * micro-step's backward pass (the engine lends its all-gather exchange buffer). Returns 0, or -1 out of
 * host memory. */
int zsf_stage2_init(zsf_stage2 *z, const zsf_params *t, const zsf_partition *p, zsf_comm *c, zsf_dtype dt,
                    int64_t bucket_elems, int overlap_comm, const void *params, void *x);
void zsf_stage2_free(zsf_stage2 *z);

/* The model hooks that drive the reduction (ctx = z). */
zsf_model_hooks zsf_stage2_hooks(zsf_stage2 *z);

/* Before a micro-step's forward pass: its gradient will be read from grads (numel fp32, each unit's
 * slice rounded to the model dtype by the model) and this rank's share summed into dest (len, model
 * dtype; its padding set to 0). */
void zsf_stage2_begin(zsf_stage2 *z, const float *grads, void *dest);
/* After its backward pass: the compute stream waits for the last reduction. */
void zsf_stage2_end(zsf_stage2 *z);

#ifdef __cplusplus
}
#endif
#endif
