/* OneCycle (lr_schedules.py OneCycle, DeepSpeed v0.19.6 including the v0.19.4 stair counts).
 * T = first + second (doubles), r = first / T; for i >= 0 with b = i + 1:
 *   x = 1 + b/T - floor(1 + b/T)
 *   sf = x/r (x <= r, first half)  or  (x - 1)/(r - 1) (second half)
 *   stairs (that half's count) > 0:  c = b mod T ; pos = c*stairs/first (c <= first)
 *                                    or (T - c)*stairs/second ; sf = floor(pos)/stairs
 *   i < T:   lr = min + (max - min)*sf ;  mom = max_mom - (max_mom - min_mom)*sf
 *   i >= T:  d = i - T + 1 ; lr = min / (1 + decay_lr_rate*d/decay_step_size)
 *            mom = max_mom * (1 + decay_mom_rate*d/decay_step_size)
 *            (lr = min, mom = max_mom when decay_step_size == 0 or the rate is 0)
 * The constructor writes lr = cycle_min_lr and betas = (cycle_min_mom, 0.99): step 0 uses them. */
#include <math.h>

#include "sched/scheduler.h"

typedef struct one_cycle_shape {
    double first, second, total, step_ratio;
} one_cycle_shape;

static one_cycle_shape one_cycle_shape_of(const zs_scheduler_config *cfg)
{
    one_cycle_shape c;
    c.first = (double)cfg->cycle_first_step_size;
    /* cycle_second_step_size None -> first; zs_scheduler_config encodes None as 0. */
    c.second = cfg->cycle_second_step_size != 0 ? (double)cfg->cycle_second_step_size : c.first;
    c.total = c.first + c.second;
    c.step_ratio = c.first / c.total;
    return c;
}

/* OneCycle._get_scale_factor at last_batch_iteration = i. */
static double one_cycle_scale_factor(const zs_scheduler_config *cfg, const one_cycle_shape *c,
                                     int64_t i)
{
    const double b = (double)(i + 1);
    const double cycle = floor(1.0 + b / c->total);
    const double x = 1.0 + b / c->total - cycle;
    double scale_factor;
    int64_t stair_count;
    if (x <= c->step_ratio) {
        scale_factor = x / c->step_ratio;
        stair_count = cfg->cycle_first_stair_count;
    } else {
        scale_factor = (x - 1.0) / (c->step_ratio - 1.0);
        stair_count = cfg->cycle_second_stair_count;
    }
    if (stair_count > 0) {
        /* quantised from the integer offset, not from scale_factor (v0.19.4, #8179) */
        const double cycle_iteration = fmod(b, c->total);
        const double stair_position =
            cycle_iteration <= c->first
                ? cycle_iteration * (double)stair_count / c->first
                : (c->total - cycle_iteration) * (double)stair_count / c->second;
        scale_factor = floor(stair_position) / (double)stair_count;
    }
    return scale_factor;
}

/* Where step i falls: inside the cycle (with its scale factor) or in the post-cycle phase, where
 * the factor is 1 + rate*d/decay_step_size, d = i - T + 1. DeepSpeed skips that decay (lr stays
 * cycle_min_lr, momentum cycle_max_mom) when decay_step_size or the rate is 0
 * (math.isclose(x, 0), i.e. exactly 0). */
typedef struct one_cycle_point {
    int in_cycle;
    double scale_factor; /* in the cycle */
    int decays;
    double decay_factor; /* after the cycle, when it decays */
} one_cycle_point;

static one_cycle_point one_cycle_point_at(const zs_scheduler_config *cfg, int64_t i, double rate)
{
    const one_cycle_shape c = one_cycle_shape_of(cfg);
    one_cycle_point pt = {0};
    if ((double)i < c.total) {
        pt.in_cycle = 1;
        pt.scale_factor = one_cycle_scale_factor(cfg, &c, i);
    } else if (cfg->decay_step_size != 0 && rate != 0.0) {
        const double decay_interval = ((double)i - c.total + 1.0) / (double)cfg->decay_step_size;
        pt.decays = 1;
        pt.decay_factor = 1.0 + rate * decay_interval;
    }
    return pt;
}

double zs_sched_one_cycle_f(const zs_scheduler_config *cfg, int64_t i)
{
    if (i < 0)
        return cfg->cycle_min_lr;
    const one_cycle_point pt = one_cycle_point_at(cfg, i, cfg->decay_lr_rate);
    if (pt.in_cycle)
        return cfg->cycle_min_lr + (cfg->cycle_max_lr - cfg->cycle_min_lr) * pt.scale_factor;
    return pt.decays ? cfg->cycle_min_lr / pt.decay_factor : cfg->cycle_min_lr;
}

double zs_sched_one_cycle_mom_f(const zs_scheduler_config *cfg, int64_t i)
{
    if (i < 0)
        return cfg->cycle_min_mom;
    const one_cycle_point pt = one_cycle_point_at(cfg, i, cfg->decay_mom_rate);
    if (pt.in_cycle)
        return cfg->cycle_max_mom - (cfg->cycle_max_mom - cfg->cycle_min_mom) * pt.scale_factor;
    return pt.decays ? cfg->cycle_max_mom * pt.decay_factor : cfg->cycle_max_mom;
}
