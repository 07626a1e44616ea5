/* (Named lr_sched, not sched: fast/ is on the include path and would shadow the system <sched.h>.) */
/* Learning rate (and OneCycle's betas) per applied optimizer step, host code, double precision, in
 * Python's operation order (docs/spec/schedulers.md; deepspeed/runtime/lr_schedules.py v0.19.6).
 *
 * DeepSpeed builds the scheduler with last_batch_iteration = -1 and calls step() after every applied
 * optimizer step, so applied step k (0-based) runs with f(k - 1), f(-1) being the constructor's value:
 *   WarmupLR        W = max(2, warmup_num_steps), inv = 1/log(W); gamma(i) = inv*log(i+1) (log) |
 *                   i/W (linear), 1 for i >= W; f(-1) = min, f(i) = min + (max - min)*gamma(i)
 *   WarmupDecayLR   as WarmupLR, gamma(i >= W) = max(0, (total - i) / max(1, total - W))
 *   WarmupCosineLR  f(-1) = 0; ratio = wmr + gamma(i)*(1 - wmr) below W, then
 *                   cmr + (1 - cmr)*(1 + cos(pi*min(1, (i-W+1)/max(1, total-W))))/2, floored at 0
 *   OneCycle        triangular cycle (with stairs) from cycle_min_lr to cycle_max_lr and back, then
 *                   decay; momentum (beta1) cycles the other way, beta2 pinned to 0.99
 *   LRRangeTest     min_lr * (1 + rate * x), x = (i+1)/step_size (floored when staircase)
 *   none            the optimizer's lr */
#ifndef ZS_FAST_LR_SCHED_H
#define ZS_FAST_LR_SCHED_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 if zs-fast implements the config's scheduler, else -1 with a message naming it. */
int zsf_sched_check(const zs_ds_config *cfg, zs_error *err);

/* The lr of applied step k (k >= 0 counts applied, not skipped, steps); NaN for k < 0. */
double zsf_sched_lr(const zs_ds_config *cfg, int64_t k);

/* The betas of applied step k: the optimizer's, except under OneCycle with cycle_momentum, which
 * writes (mom(k - 1), 0.99). `has_betas`: the optimizer has betas (Adam family, Lamb, Lion). */
void zsf_sched_betas(const zs_ds_config *cfg, int has_betas, int64_t k, double *beta1, double *beta2);

#ifdef __cplusplus
}
#endif
#endif
