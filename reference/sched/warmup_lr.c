/* WarmupLR (lr_schedules.py WarmupLR, DeepSpeed v0.19.6), and the warm-up shape it shares with
 * WarmupDecayLR and WarmupCosineLR.
 *   W = max(2, warmup_num_steps)
 *   gamma(i) = (1/log W) * log(i + 1)   (log)   |   i / W   (linear)      for 0 <= i < W
 *   f(-1) = min ; f(i) = min + (max - min)*gamma(i) for i < W ; f(i) = min + (max - min)*1 after.
 * warmup_max_lr defaults to the optimizer's lr (v0.18.0+); a NaN in the config means "not given". */
#include <math.h>

#include "sched/scheduler.h"

int64_t zs_warmup_num_steps(const zs_scheduler_config *cfg)
{
    return cfg->warmup_num_steps > 2 ? cfg->warmup_num_steps : 2;
}

double zs_warmup_gamma(const zs_scheduler_config *cfg, int64_t i)
{
    const int64_t w = zs_warmup_num_steps(cfg);
    if (cfg->warmup_type == ZS_WARMUP_LINEAR)
        return (double)i / (double)w;
    /* inverse_log_warm_up is computed once as 1.0/log(W), then multiplied: not log(i+1)/log(W). */
    const double inverse_log_warm_up = 1.0 / log((double)w);
    return inverse_log_warm_up * log((double)(i + 1));
}

double zs_warmup_interp(const zs_scheduler_config *cfg, double max_default, double gamma)
{
    const double max_lr = isnan(cfg->warmup_max_lr) ? max_default : cfg->warmup_max_lr;
    const double delta = max_lr - cfg->warmup_min_lr;
    return cfg->warmup_min_lr + delta * gamma;
}

double zs_sched_warmup_lr_f(const zs_scheduler_config *cfg, double base_lr, int64_t i)
{
    if (i < 0)
        return cfg->warmup_min_lr; /* get_lr() before the first step returns min_lrs */
    const double gamma = i < zs_warmup_num_steps(cfg) ? zs_warmup_gamma(cfg, i) : 1.0;
    return zs_warmup_interp(cfg, base_lr, gamma);
}
