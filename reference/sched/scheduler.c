/* Scheduler dispatch: optimizer step k runs with f(k-1) (sched/scheduler.h, "Indexing"). */
#include <math.h>

#include "sched/scheduler.h"

/* OneCycle forces beta2 to this value whenever it cycles momentum (OneCycle._initialize_momentum). */
#define ONE_CYCLE_BETA2 0.99

double zs_sched_lr(const zs_scheduler_config *cfg, double base_lr, int64_t k)
{
    if (k < 0)
        return NAN;
    const int64_t i = k - 1; /* last_batch_iteration when step k runs */
    switch (cfg->type) {
    case ZS_SCHED_NONE:
        return base_lr;
    case ZS_SCHED_LR_RANGE_TEST:
        return zs_sched_lr_range_test_f(cfg, i);
    case ZS_SCHED_ONE_CYCLE:
        return zs_sched_one_cycle_f(cfg, i);
    case ZS_SCHED_WARMUP_LR:
        return zs_sched_warmup_lr_f(cfg, base_lr, i);
    case ZS_SCHED_WARMUP_DECAY_LR:
        return zs_sched_warmup_decay_lr_f(cfg, i);
    case ZS_SCHED_WARMUP_COSINE_LR:
        return zs_sched_warmup_cosine_lr_f(cfg, base_lr, i);
    default:
        return NAN;
    }
}

int zs_sched_betas(const zs_scheduler_config *cfg, int64_t k, double *beta1, double *beta2)
{
    if (cfg->type != ZS_SCHED_ONE_CYCLE || !cfg->cycle_momentum || k < 0)
        return 0;
    *beta1 = zs_sched_one_cycle_mom_f(cfg, k - 1);
    *beta2 = ONE_CYCLE_BETA2;
    return 1;
}
