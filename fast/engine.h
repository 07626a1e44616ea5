/* The ZeRO training engine of one rank (docs/spec.md §8): what the rank holds under its stage, and
 * one DeepSpeed optimizer step — micro-steps, gradient reduction in the model dtype, overflow check
 * and loss scaling (fp16), norm and clipping, the optimizer on the rank's fp32 master partition,
 * publication of the parameters cast to the model dtype (docs/spec/precision.md). */
#ifndef ZS_FAST_ENGINE_H
#define ZS_FAST_ENGINE_H

#include <stdint.h>

#include "comm.h"
#include "loss_scaler.h"
#include "gpt2_params.h"
#include "model.h"
#include "offload.h"
#include "optim.h"
#include "partition.h"
#include "stage2.h"
#include "stage3.h"
#include "zerospec/case.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_step_report {
    int64_t step;            /* 1-based */
    float loss;              /* mean micro-batch loss over ranks and micro-steps (valid on rank 0) */
    float rank_loss[64];     /* each rank's mean micro-batch loss (valid on rank 0; world <= 64) */
    double lr;
    float grad_norm;         /* global L2 norm of the unscaled gradient */
    double loss_scale;
    int overflow, skipped;
} zsf_step_report;

/* cudaMalloc'ed bytes of this rank: model states (the ZeRO paper's three rows) and working memory
 * (the host's, under offload: zsf_host_memory). */
typedef struct zsf_memory {
    int64_t params, grads, optimizer, working;
} zsf_memory;

typedef struct zsf_engine {
    const zs_case *kase;
    const zs_ds_config *cfg;
    zsf_comm *comm;
    int rank, world, stage;
    zs_batch batch;
    zsf_params t;
    zsf_partition part;
    zsf_bucket *rs, *ag, *ar;  /* bucket plans: reduce-scatter, all-gather (partition), all-reduce (model) */
    int n_rs, n_ag, n_ar;
    zsf_model *model;
    zsf_dtype dt;            /* the model dtype (fp32, fp16, bf16) */
    size_t esize;            /* bytes per model-dtype element (zsf_dtype_size) */
    zsf_optim_rule rule;
    int n_state;
    zsf_loss_scaler scaler;
    /* device buffers. void *: model-dtype storage, zsf_dtype_size(dt) bytes per element (16 bits in
     * fp16/bf16, as DeepSpeed holds parameters, gradients and their communication) */
    void *params;            /* stages 0-2: the full model (stage 3: NULL, units live in z3's pool) */
    void *shard;             /* stage 3: this rank's parameter shards (offload_param: NULL, host_shard) */
    void *cast;              /* stages 1-2, fp16/bf16 or offload: the master partition cast for the all-gather */
    float *optim_scratch;    /* ZSF_OPTIM_SCRATCH floats */
    float *grad_micro;       /* one micro-step's full gradient: the model's fp32 scratch (working memory),
                                rounded to the model dtype where the spec rounds .grad */
    void *grad_full;         /* stages 0-1: the rank's accumulated full gradient */
    void *grad_part;         /* the reduced gradient partition (stage 0: = grad_full) */
    void *recv;              /* stages 2-3: one micro-step's reduced partition (offload_param: also the
                                publication's cast, sent down to host_shard) */
    float *grad32;           /* grad_part as fp32 for the norm, the optimizer and every fp32 consumer
                                (fp32: = grad_part; else a widened copy, working memory; DeepSpeed's
                                single_partition_of_fp32_groups[i].grad) */
    float *master;           /* fp32 master partition (stage 0 fp32: = params; offload: NULL, off.master) */
    float *state[ZSF_OPTIM_N_STATE];
    void *xbuf;              /* stages 1-2: W*len exchange buffer (stage 3: z3's, per unit); stage 2 also
                                sends its gradient reductions from it during the backward pass */
    zsf_stage2 z2;           /* stage 2: per-unit reductions to the owners (stage2.h) */
    zsf_stage3 z3;           /* stage 3: per-unit gathers and reduce-scatters (stage3.h) */
    int64_t *rs_map, *ag_map;  /* stage 1 (reduce-scatter), stages 1-2 (all-gather) */
    float *losses;           /* [GAS] micro-batch losses of the step */
    double *norm_partial, *norm;
    unsigned long long *first_bad;
    zsf_memory mem;
    /* offload (stages 1-3): the optimizer's master and state on the host, stepped by the CPU
     * (offload.h); stage 3 offload_param: the shards on the host, copied up unit by unit */
    int offload_optimizer, offload_param;
    zsf_offload off;
    void *host_shard;        /* pinned, len model-dtype elements (offload_param) */
    zsf_host_memory host;    /* cudaHostAlloc'ed bytes, the same rows */
    struct zsf_onebit *onebit;   /* the 1-bit family (onebit.h): it owns the step at stage 0 */
    struct zsf_muon *muon;   /* Muon (muon.h): param groups, momentum, Newton-Schulz; NULL otherwise */
    int64_t global_steps, applied_steps, skipped_steps;
} zsf_engine;

/* Returns 0, or an exit status (2: the case asks for something zs-fast does not do or is
 * inconsistent with the world size) with the message in err. Same result on every rank. */
int zsf_engine_init(zsf_engine *e, const zs_case *kase, zsf_comm *comm, int64_t bucket_elems, zs_error *err);
void zsf_engine_free(zsf_engine *e);

/* One optimizer step (possibly skipped on an fp16 overflow). Returns 0, or 1 with the message in err
 * on every rank (a non-finite gradient where no overflow check runs; the loss scale at its minimum). */
int zsf_engine_step(zsf_engine *e, zsf_step_report *rep, zs_error *err);

/* Replaces the initial state by a checkpoint's: this rank's master and optimizer-state partitions
 * (host, len floats each), the step counters and (dynamic scaler only) the loss scaler's state; then
 * publishes the parameters as a step does (a collective: every rank calls it). */
void zsf_engine_load_state(zsf_engine *e, const float *master, const float *const *state, int64_t global_steps,
                           int64_t applied_steps, int64_t skipped_steps, double scale, int64_t cur_iter,
                           int64_t last_overflow_iter, int64_t cur_hysteresis);

/* Host copies of this rank's partitions (len floats each; any pointer may be NULL; grad: the reduced
 * gradient partition, widened). */
void zsf_engine_read_partitions(zsf_engine *e, float *grad, float *master, float *const *state);

/* Host copy of the model-dtype parameters this rank holds, widened to floats: the full model (numel
 * floats) at stages 0-2, its shard (len floats) at stage 3. */
void zsf_engine_read_model(zsf_engine *e, float *out);

#ifdef __cplusplus
}
#endif
#endif
