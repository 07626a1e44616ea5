/* DeepSpeed's 1-bit optimizer family at stage 0 (docs/spec/optimizers.md §8): OnebitAdam
 * (onebit_adam.c), ZeroOneAdam (zero_one_adam.c), OnebitLamb (onebit_lamb.c). Unlike the rules in
 * reference/optim/ they work on the whole step of all W ranks at once, because after a warm-up the
 * engine's gradient all-reduce is switched off and replaced by a compressed all-reduce of optimizer
 * state (compressed_allreduce.h), so rank r's update depends on every rank's buffers.
 *
 * Engine contract (reference/engine.c): the engine allocates the states named by the ops of
 * zs_onebit_ops_for (one numel-length buffer per rank each, HF flat order), asks
 * zs_onebit_allreduce_enabled before reducing gradients at the boundary, and calls zs_onebit_step
 * instead of the per-partition optimizer. Everything the family keeps beyond those states (error
 * buffers, counters, coefficients) lives here. */
#ifndef ZS_REFERENCE_ONEBIT_ONEBIT_H
#define ZS_REFERENCE_ONEBIT_ONEBIT_H

#include <stdint.h>

#include "engine.h"
#include "zerospec/safetensors.h"

typedef struct zs_onebit {
    const zs_optimizer_config *hp;
    int world;
    int n_tensors;
    const zs_gpt2_param *tensors;   /* the optimizer's params, in order: the model's tensors, or
                                       &flat for OnebitAdam/ZeroOneAdam in fp16/bf16 */
    zs_gpt2_param flat;  /* FP16_Optimizer's one flat fp32 master of the whole model */
    size_t numel;
    int64_t step;        /* state['step'], the same for every tensor and rank; counts the
                            initialisation call (fp32: the first training step; fp16/bf16: run
                            when the engine is built, before any training step) */
    int initialized;     /* self.initialize */
    int frozen;          /* adam_freeze_key / freeze_key / lamb_freeze_key (set after warm-up) */
    int allreduce;       /* engine.enable_backward_allreduce for the next step */
    /* error buffers, per rank: OnebitAdam/ZeroOneAdam one region per tensor (offsets below),
     * OnebitLamb one region for the flat momentum */
    size_t worker_len, server_len;
    size_t *worker_off, *server_off;   /* per tensor; [n_tensors] = totals */
    float *worker[ZS_MAX_WORLD], *server[ZS_MAX_WORLD];
    float *scratch[ZS_MAX_WORLD];      /* per rank, max padded size (compression buffer) */
    /* ZeroOneAdam (per tensor in DeepSpeed; equal for all tensors and ranks) */
    double lrs;
    int64_t var_interval, var_counter, local_interval, local_counter;
    int errors_reset;    /* reinitial_error_buffer */
    /* OnebitLamb: per tensor (equal on all ranks) */
    double *coeff_freeze, *last_factor, *scaling_coeff;
    int has_scaling;
    float *pad[ZS_MAX_WORLD];          /* the flat momentum's padding tail (worker_len - numel) */
    float *copy[ZS_MAX_WORLD];         /* per rank, numel: OnebitLamb's exp_avg before this step,
                                          ZeroOneAdam's gradient while it is compressed */
} zs_onebit;

/* The state the engine allocates for these types (step == NULL); NULL for any other type. */
const zs_optim_ops *zs_onebit_ops_for(const zs_optimizer_config *hp);

/* Builds e->onebit once the engine's ranks and masters exist; in fp16/bf16 also runs the
 * optimizer's initialisation call, as the FP16_Optimizer / FP16_UnfusedOptimizer wrapper does when
 * it is constructed. Fails (one line) where the family is not modelled. */
int zs_onebit_init(zs_engine *e, zs_error *err);
void zs_onebit_free(zs_onebit *ob);

/* Whether the engine all-reduces (and averages) gradients at this step's boundary. */
int zs_onebit_allreduce_enabled(const zs_onebit *ob);

/* One optimizer step on all ranks: each rank's gradient (grad_part, loss-scaled) is unscaled and
 * clipped with its own norm (stage-0 fp32 clip_fp32_gradients and the fp16/bf16 wrappers'
 * unscale_and_clip_grads are per rank), then the rule runs. */
int zs_onebit_step(zs_engine *e, double lr, float unscale, zs_error *err);

/* Adds rank r's extra state to a trace as step<k>/rank<r>/<name> (trace.h). */
int zs_onebit_trace_rank(zs_st_writer *w, const zs_onebit *ob, long long k, int r, zs_error *err);

/* The rules (called by zs_onebit_step with the per-rank fp32 gradients). */
typedef struct zs_onebit_call {
    double lr, beta1, beta2;
    float *param[ZS_MAX_WORLD];
    const float *grad[ZS_MAX_WORLD];
    float *const *state[ZS_MAX_WORLD];
} zs_onebit_call;

void zs_onebit_adam_step(zs_onebit *ob, const zs_onebit_call *c);
void zs_zero_one_adam_step(zs_onebit *ob, const zs_onebit_call *c);
int zs_onebit_lamb_step(zs_onebit *ob, const zs_onebit_call *c, zs_error *err);

/* Compressed all-reduce of one tensor's values held by every rank at src[r] + off (n floats,
 * zero-padded to its padded size), through the tensor's error buffers; results back in place.
 * Used by OnebitAdam and ZeroOneAdam (one call per tensor). */
void zs_onebit_allreduce_tensor(zs_onebit *ob, int tensor, float *const *src);

#endif
