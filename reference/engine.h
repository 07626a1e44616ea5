/* The simulated data-parallel training engine: W ranks in one process, each holding exactly what
 * its rank holds under the configured ZeRO stage (docs/spec.md "Ranks and what they hold",
 * "The training step"). One call of zs_engine_step is one DeepSpeed optimizer step:
 * gradient_accumulation_steps micro-steps on every rank, gradient reduction, overflow check,
 * loss-scale update, global-norm clipping, the optimizer on each rank's partition, and the
 * parameter all-gather. */
#ifndef ZS_REFERENCE_ENGINE_H
#define ZS_REFERENCE_ENGINE_H

#include <stdint.h>
#include <stdio.h>

#include "collectives.h"
#include "gpt2.h"
#include "loss_scaler.h"
#include "muon/muon.h"
#include "optim/optimizer.h"
#include "partition.h"
#include "zerospec/case.h"

#define ZS_MAX_WORLD 64  /* simulated ranks; case files allow 1..64 */

/* What one simulated rank holds between steps (model states) plus its activation workspace. */
typedef struct zs_rank {
    int rank;
    float *model_params;     /* stages 0-2: the full model in the model dtype; stage 3: NULL */
    float *param_shard;      /* stage 3: this rank's parameter shards (partition) in the model dtype */
    float *grad_full;        /* stages 0-1: local gradient of the whole model, accumulated over micro-steps */
    float *grad_part;        /* stages 1-3: this rank's reduced gradient partition (stage 0: = grad_full) */
    float *master;           /* fp32 master partition; aliases model_params at stage 0 in fp32 */
    float *state[ZS_OPTIM_MAX_STATE];   /* optimizer state, one partition-length buffer each */
    zs_gpt2_acts *acts;
    double loss_sum;         /* this step's micro-batch losses, summed in micro-step order */
} zs_rank;

/* Persistent model-state bytes one rank holds (the ZeRO paper's accounting). */
typedef struct zs_rank_bytes {
    int64_t params, grads, optimizer;    /* optimizer = fp32 master copy (when separate) + states */
} zs_rank_bytes;

typedef struct zs_step_report {
    int64_t step;            /* 1-based global step number */
    float loss;              /* mean micro-batch loss over all ranks and micro-steps */
    double lr;               /* learning rate used (or that would have been used, when skipped) */
    float grad_norm;         /* global L2 norm of the unscaled gradient (0 when skipped) */
    double loss_scale;       /* scale used for this step's backward */
    int overflow;            /* any rank saw Inf/NaN in its gradient partition */
    int skipped;             /* the optimizer step was skipped */
} zs_step_report;

struct zs_onebit;   /* reference/onebit/onebit.h */

typedef struct zs_engine {
    const zs_case *kase;
    const zs_ds_config *cfg;
    int world;
    int stage;
    zs_batch batch;
    zs_dtype model_dtype;    /* weights, activations, gradients, communication */
    zs_gpt2 model;
    zs_partition part;
    const zs_optim_ops *optim;
    struct zs_onebit *onebit;   /* the 1-bit family: owns the whole step (and the all-reduce switch) */
    /* Param groups (docs/spec/optimizers.md §8): one, unless the optimizer has a matrix group (Muon):
     * then group 0 = the muon group with matrix_optim, group 1 = the rest with optim. */
    const zs_optim_ops *matrix_optim;
    zs_muon *muon;           /* Muon at stages 1-2: the gradient-path orthogonalisation */
    zs_loss_scaler scaler;
    zs_comm comm;
    zs_rank *ranks;
    int master_is_model;     /* stage 0 fp32: the optimizer updates the model parameters directly */
    int64_t global_steps, skipped_steps, applied_steps;
    float **scratch;         /* per rank: full-model scratch (micro-step gradient / gathered params) */
    float **gathered;        /* stage 3 only: per rank, the all-gathered full model for one pass */
    float **send;            /* per rank: W*len buffer for reduce-scatter send / all-gather receive */
    float **recv;            /* per rank: len buffer for reduce-scatter receive / fp32 gradient copy */
    int *tokens;             /* one micro-batch of inputs, then targets */
} zs_engine;

int zs_engine_init(zs_engine *e, const zs_case *kase, int world, zs_error *err);

/* The partition layout the engine uses for this config and world size (docs/spec.md §5): one group in
 * model order, or with Muon the sorted muon group then the rest (docs/spec/optimizers.md §8a.2). */
int zs_engine_layout(zs_partition *part, const zs_gpt2 *model, const zs_ds_config *cfg, int world, zs_error *err);
void zs_engine_free(zs_engine *e);
int zs_engine_step(zs_engine *e, zs_step_report *rep, zs_error *err);

zs_rank_bytes zs_engine_rank_bytes(const zs_engine *e, int rank);
/* The model parameters in the model dtype as the ranks hold them (rank 0's copy at stages 0-2; the
 * shards at stage 3, assembled), numel floats in HF flat order. */
void zs_engine_model_params(const zs_engine *e, float *full);
/* The consolidated fp32 master parameters (numel, HF flat order). */
void zs_engine_gather_master(const zs_engine *e, float *full);

#endif
