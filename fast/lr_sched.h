/* (Named lr_sched, not sched: fast/ is on the include path and would shadow the system <sched.h>.) */
/* Learning rate per optimizer step (docs/spec/schedulers.md), host code, double precision.
 *
 * DeepSpeed builds the scheduler with last_batch_iteration = -1 and calls step() after every applied
 * optimizer step, so applied step k (0-based) runs with f(k - 1), f(-1) being the constructor's value.
 * zs-fast implements: no scheduler (constant optimizer lr) and WarmupLR (deepspeed/runtime/
 * lr_schedules.py WarmupLR):
 *   W = max(2, warmup_num_steps), inv = 1 / log(W), delta = max - min
 *   gamma(i) = inv * log(i + 1) (log) | i / W (linear), and 1 for i >= W
 *   f(-1) = min ; f(i) = min + delta * gamma(i) */
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

/* The lr of applied step k (k >= 0 counts applied, not skipped, steps). */
double zsf_sched_lr(const zs_ds_config *cfg, int64_t k);

#ifdef __cplusplus
}
#endif
#endif
