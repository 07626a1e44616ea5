/* What ZeRO puts on each rank, predicted without training (the ZeRO paper's accounting made exact for
 * DeepSpeed's padding): bytes of parameters, gradients and optimizer states per rank, on the device
 * and (with offload) on the host, and the bytes each collective sends per rank in one optimizer step.
 * docs/guide explains the numbers; tools/tests/test_zs_explain.c checks them against the reference's
 * simulated ranks. */
#ifndef ZS_TOOLS_EXPLAIN_PREDICT_H
#define ZS_TOOLS_EXPLAIN_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/ds_config.h"

typedef struct zs_explain_model {
    const size_t *tensor_numel;   /* parameter tensors in flat order (stage 3 pads each one) */
    int n_tensors;
} zs_explain_model;

typedef struct zs_explain_bytes {
    int64_t params, grads, optimizer;               /* on the device */
    int64_t host_params, host_optimizer;            /* moved to host memory by offload */
    int64_t partition_len;                          /* elements in each rank's partition */
} zs_explain_bytes;

typedef struct zs_explain_comm {
    int64_t reduce_bytes;       /* gradient all-reduce / reduce-scatter, bytes sent per rank per step */
    int64_t gather_bytes;       /* parameter all-gathers, bytes sent per rank per step */
    int reduce_calls, gather_calls;
} zs_explain_comm;

/* Optimizer states per element (Adam/AdamW/Lamb 2; Adagrad, Lion, SGD with momentum 1; SGD 0). */
int zs_explain_optimizer_states(const zs_optimizer_config *opt);
/* 1 when the optimizer's state is not one value per element of the partition (Muon, the 1-bit
 * family), so the optimizer column is an estimate. */
int zs_explain_state_is_approximate(const zs_optimizer_config *opt);
zs_explain_bytes zs_explain_rank_bytes(const zs_ds_config *cfg, int stage, int world, const zs_explain_model *m);
zs_explain_comm zs_explain_step_comm(const zs_ds_config *cfg, int stage, int world, int64_t grad_accum_steps,
                                     const zs_explain_model *m);

#endif
