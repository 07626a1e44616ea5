/* DeepSpeed's learning-rate schedulers (deepspeed/runtime/lr_schedules.py, v0.19.6 unless a file
 * says otherwise), as pure functions of the applied-step index. docs/spec/schedulers.md is normative.
 *
 * Indexing: DeepSpeed constructs the scheduler with last_batch_iteration = -1, which writes the lr
 * of the first optimizer step, and the engine calls scheduler.step() after every applied (not
 * overflowed) optimizer step; the k-th call sets last_batch_iteration = k-1 and the lr of step k.
 * Writing f(i) for the lr a scheduler writes at last_batch_iteration = i (f(-1) = the constructor's
 * value), optimizer step k (k = 0 for the first applied step) uses f(k-1). Skipped (overflow)
 * steps do not advance k. All arithmetic is double, as in Python. */
#ifndef ZS_REFERENCE_SCHED_SCHEDULER_H
#define ZS_REFERENCE_SCHED_SCHEDULER_H

#include <stdint.h>

#include "zerospec/ds_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Learning rate used by optimizer step k (k >= 0; NaN for k < 0 or an unknown type).
 * base_lr = the optimizer's configured lr: WarmupCosineLR's org_lrs, the constant lr of
 * ZS_SCHED_NONE, and WarmupLR's warmup_max_lr when that is NaN (= "not given"; see below). */
double zs_sched_lr(const zs_scheduler_config *cfg, double base_lr, int64_t k);

/* OneCycle with cycle_momentum: sets the beta1 used by step k and beta2 = 0.99 (forced) and returns
 * 1; returns 0 (betas untouched) for every other case. DeepSpeed only rewrites betas when 'betas'
 * is in the optimizer's defaults: the caller checks zs_optim_ops.has_betas. */
int zs_sched_betas(const zs_scheduler_config *cfg, int64_t k, double *beta1, double *beta2);

/* The per-scheduler f(i), i >= -1 (one file each; scheduler.c dispatches). */
double zs_sched_warmup_lr_f(const zs_scheduler_config *cfg, double base_lr, int64_t i);
double zs_sched_warmup_decay_lr_f(const zs_scheduler_config *cfg, int64_t i);
double zs_sched_warmup_cosine_lr_f(const zs_scheduler_config *cfg, double base_lr, int64_t i);
double zs_sched_one_cycle_f(const zs_scheduler_config *cfg, int64_t i);
double zs_sched_one_cycle_mom_f(const zs_scheduler_config *cfg, int64_t i);
double zs_sched_lr_range_test_f(const zs_scheduler_config *cfg, int64_t i);

/* Warm-up shared by WarmupLR, WarmupDecayLR and WarmupCosineLR (warmup_lr.c). */
int64_t zs_warmup_num_steps(const zs_scheduler_config *cfg);          /* max(2, warmup_num_steps) */
double zs_warmup_gamma(const zs_scheduler_config *cfg, int64_t i);     /* 0 <= i < warm-up steps */
/* min + (max - min)*gamma with WarmupLR's min and max (max from base_lr when NaN, or from
 * `max_default` for WarmupDecayLR, whose own default is 0.001). */
double zs_warmup_interp(const zs_scheduler_config *cfg, double max_default, double gamma);

#ifdef __cplusplus
}
#endif
#endif
