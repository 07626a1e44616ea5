/* WarmupDecayLR (lr_schedules.py WarmupDecayLR._get_gamma, DeepSpeed v0.19.6): WarmupLR's warm-up,
 * then a linear decay that reaches warmup_min_lr at i = total_num_steps and stays there:
 *   gamma(i) = max(0, (total - i) / max(1, total - W))   for i >= W.
 * Its warmup_max_lr default is 0.001 (its own constructor default), not the optimizer's lr. */
#include <math.h>

#include "sched/scheduler.h"

#define WARMUP_DECAY_LR_DEFAULT_MAX 0.001

double zs_sched_warmup_decay_lr_f(const zs_scheduler_config *cfg, int64_t i)
{
    if (i < 0)
        return cfg->warmup_min_lr;
    const int64_t w = zs_warmup_num_steps(cfg);
    double gamma;
    if (i < w) {
        gamma = zs_warmup_gamma(cfg, i);
    } else {
        const double span = fmax(1.0, (double)(cfg->total_num_steps - w));
        gamma = fmax(0.0, (double)(cfg->total_num_steps - i) / span);
    }
    return zs_warmup_interp(cfg, WARMUP_DECAY_LR_DEFAULT_MAX, gamma);
}
