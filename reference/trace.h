/* Golden trace files written by the reference (docs/spec.md "Trace format").
 *
 * One safetensors file per (case, world size). Tensor names:
 *   init/param/<name>              initial model parameters (model-dtype values, stored F32)
 *   step<k>/loss, lr, grad_norm    F32 scalars (k = 1-based optimizer step number)
 *   step<k>/loss_scale             F64 scalar: the scale used for step k's backward
 *   step<k>/overflow, skipped      U8 scalars (0/1)
 *   step<k>/loss_scaler            fp16 only, F64 [4]: the loss scaler after step k (cur_scale, cur_iter,
 *                                  last_overflow_iter, cur_hysteresis), to restart from step k
 *   step<k>/rank<r>/loss           rank r's mean micro-batch loss (F32 scalar)
 *   step<k>/rank<r>/grad           rank r's reduced gradient partition as held before unscaling
 *                                  and clipping (model-dtype values; F32)
 *   step<k>/rank<r>/master         rank r's fp32 master partition after the step
 *   step<k>/rank<r>/<state>        rank r's optimizer state partitions after the step (exp_avg, ...)
 *   step<k>/rank<r>/worker_error, server_error   1-bit family: rank r's compression error buffers
 *                                  (per tensor, concatenated; OnebitLamb: one pair for the flat momentum)
 *   step<k>/rank<r>/lrs            ZeroOneAdam: sum of lr since the last synchronisation (F64 scalar)
 *   step<k>/rank<r>/exp_avg_padding, lamb_coeff_freeze, last_factor, scaling_coeff   OnebitLamb: the
 *                                  flat momentum's padding tail (F32) and per-tensor coefficients (F64)
 *   step<k>/param/<name>           consolidated fp32 master parameters after the step
 *   step<k>/model/<name>           fp16/bf16 only: the model parameters in the model dtype after the step
 * __metadata__: format, format_version, spec_version, generator, deepspeed_version, case,
 * world_size, stage, precision, steps, model, config (canonical resolved JSON); a run resumed from a
 * checkpoint after step k has resumed_from_step = k, no init/ tensors and steps k+1.. only. */
#ifndef ZS_REFERENCE_TRACE_H
#define ZS_REFERENCE_TRACE_H

#include "engine.h"
#include "zerospec/safetensors.h"

#define ZS_TRACE_FORMAT "zerospec.trace"
#define ZS_TRACE_FORMAT_VERSION "1"
#define ZS_SPEC_VERSION "0.2.0"
#define ZS_DEEPSPEED_VERSION "0.19.6"

typedef struct zs_trace {
    zs_st_writer *w;
    float *full;             /* numel scratch for consolidated parameters */
} zs_trace;

/* Adds every parameter of flat[numel] (HF order) as "<prefix><name>", F32 in its HF shape. */
int zs_st_add_model_params(zs_st_writer *w, const zs_gpt2 *m, const char *prefix, const float *flat,
                           zs_error *err);

int zs_trace_begin(zs_trace *t, const zs_engine *e, const char *generator, zs_error *err);
/* Records the state right after zs_engine_step (gradient partitions are still held then). */
int zs_trace_step(zs_trace *t, const zs_engine *e, const zs_step_report *rep, zs_error *err);
int zs_trace_finish(zs_trace *t, const char *path, zs_error *err);
void zs_trace_free(zs_trace *t);

#endif
