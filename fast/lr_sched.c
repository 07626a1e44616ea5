/* LR schedules (sched.h). */
#include "lr_sched.h"

#include <math.h>

int zsf_sched_check(const zs_ds_config *cfg, zs_error *err)
{
    if (cfg->scheduler.type == ZS_SCHED_NONE || cfg->scheduler.type == ZS_SCHED_WARMUP_LR)
        return 0;
    return zs_fail(err, "scheduler.type \"%s\" is not implemented by zs-fast yet (it has WarmupLR and none)",
                   zs_scheduler_type_name(cfg->scheduler.type));
}

/* WarmupLR's f(i) for i >= -1. */
static double warmup_lr(const zs_scheduler_config *s, double optimizer_lr, int64_t i)
{
    if (i < 0)
        return s->warmup_min_lr;
    const double max_lr = isnan(s->warmup_max_lr) ? optimizer_lr : s->warmup_max_lr;
    const int64_t w = s->warmup_num_steps > 2 ? s->warmup_num_steps : 2;
    double gamma = 1.0;
    if (i < w) {
        if (s->warmup_type == ZS_WARMUP_LINEAR) {
            gamma = (double)i / (double)w;
        } else {
            const double inv = 1.0 / log((double)w);   /* computed once, then multiplied (as DeepSpeed) */
            gamma = inv * log((double)(i + 1));
        }
    }
    return s->warmup_min_lr + (max_lr - s->warmup_min_lr) * gamma;
}

double zsf_sched_lr(const zs_ds_config *cfg, int64_t k)
{
    switch (cfg->scheduler.type) {
    case ZS_SCHED_NONE:
        return cfg->optimizer.lr;
    case ZS_SCHED_WARMUP_LR:
        return warmup_lr(&cfg->scheduler, cfg->optimizer.lr, k - 1);
    default:
        return NAN;
    }
}
