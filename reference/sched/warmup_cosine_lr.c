/* WarmupCosineLR (lr_schedules.py WarmupCosineLR.get_lr_ratio, DeepSpeed v0.19.3+ semantics as in
 * v0.19.6): lr = org_lr * ratio(i), org_lr = the optimizer's lr at construction (base_lr).
 *   i = -1:   ratio = 0 -> the first step runs with lr 0 (get_lr() before start returns 0.0)
 *   i < W:    ratio = wmr + gamma(i)*(1 - wmr)                (gamma: WarmupLR's warm-up shape)
 *   i >= W:   s = i - W + 1 ; T = max(1, total - W) ; x = min(1, s/T)
 *             ratio = max(0, cmr + (1 - cmr)*(1 + cos(pi*x))/2)
 * x is clamped, so past total_num_steps the ratio stays at cos_min_ratio (v0.16 was periodic). */
#include <math.h>

#include "sched/scheduler.h"

#define PYTHON_MATH_PI 3.141592653589793 /* math.pi: the double nearest pi (M_PI is not C11) */

static double warmup_cosine_ratio(const zs_scheduler_config *cfg, int64_t i)
{
    const int64_t w = zs_warmup_num_steps(cfg);
    if (i < w) {
        const double ratio_delta = 1.0 - cfg->warmup_min_ratio;
        return cfg->warmup_min_ratio + zs_warmup_gamma(cfg, i) * ratio_delta;
    }
    const int64_t real_last_step = i - w + 1;
    const int64_t real_total_steps = cfg->total_num_steps - w > 1 ? cfg->total_num_steps - w : 1;
    const double progress = fmin(1.0, (double)real_last_step / (double)real_total_steps);
    const double ratio_delta = 1.0 - cfg->cos_min_ratio;
    const double ratio = (1.0 + cos(PYTHON_MATH_PI * progress)) / 2.0;
    return fmax(0.0, cfg->cos_min_ratio + ratio_delta * ratio);
}

double zs_sched_warmup_cosine_lr_f(const zs_scheduler_config *cfg, double base_lr, int64_t i)
{
    if (i < 0)
        return 0.0;
    return base_lr * warmup_cosine_ratio(cfg, i);
}
