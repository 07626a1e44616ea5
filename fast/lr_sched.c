/* LR schedules (lr_sched.h). */
#include "lr_sched.h"

#include <math.h>

int zsf_sched_check(const zs_ds_config *cfg, zs_error *err)
{
    if (cfg->scheduler.type >= ZS_SCHED_NONE && cfg->scheduler.type < ZS_SCHED_COUNT)
        return 0;
    return zs_fail(err, "scheduler.type \"%s\" is not implemented by zs-fast", cfg->scheduler.type_name);
}

/* WarmupLR's warm-up shape for 0 <= i (1 from W on). */
static double warmup_gamma(const zs_scheduler_config *s, int64_t i)
{
    const int64_t w = s->warmup_num_steps > 2 ? s->warmup_num_steps : 2;
    if (i >= w)
        return 1.0;
    if (s->warmup_type == ZS_WARMUP_LINEAR)
        return (double)i / (double)w;
    const double inv = 1.0 / log((double)w);   /* computed once, then multiplied (as DeepSpeed) */
    return inv * log((double)(i + 1));
}

static int64_t warmup_steps(const zs_scheduler_config *s)
{
    return s->warmup_num_steps > 2 ? s->warmup_num_steps : 2;
}

static double warmup_lr(const zs_scheduler_config *s, double max_lr, int64_t i)
{
    if (i < 0)
        return s->warmup_min_lr;
    return s->warmup_min_lr + (max_lr - s->warmup_min_lr) * warmup_gamma(s, i);
}

static double warmup_decay_lr(const zs_scheduler_config *s, int64_t i)
{
    const double max_lr = isnan(s->warmup_max_lr) ? 0.001 : s->warmup_max_lr;   /* its own default */
    const int64_t w = warmup_steps(s);
    if (i < w)
        return warmup_lr(s, max_lr, i);
    const double span = (double)(s->total_num_steps - w > 1 ? s->total_num_steps - w : 1);
    const double gamma = fmax(0.0, (double)(s->total_num_steps - i) / span);
    return s->warmup_min_lr + (max_lr - s->warmup_min_lr) * gamma;
}

static double warmup_cosine_lr(const zs_scheduler_config *s, double base_lr, int64_t i)
{
    if (i < 0)
        return 0.0;
    const int64_t w = warmup_steps(s);
    const double wmr = s->warmup_min_ratio, cmr = s->cos_min_ratio;
    double ratio;
    if (i < w) {
        ratio = wmr + warmup_gamma(s, i) * (1.0 - wmr);
    } else {
        const double steps = (double)(i - w + 1);
        const double span = (double)(s->total_num_steps - w > 1 ? s->total_num_steps - w : 1);
        const double x = fmin(1.0, steps / span);
        ratio = fmax(0.0, cmr + (1.0 - cmr) * (1.0 + cos(3.141592653589793 * x)) / 2.0);
    }
    return base_lr * ratio;
}

/* OneCycle's position in the cycle, sf in [0, 1] (stairs quantise it from the integer offset). */
static double one_cycle_scale(const zs_scheduler_config *s, int64_t i)
{
    const double first = (double)s->cycle_first_step_size;
    const double second = (double)(s->cycle_second_step_size ? s->cycle_second_step_size : s->cycle_first_step_size);
    const double total = first + second, ratio = first / total;
    const double b = (double)(i + 1);
    const double cycle = floor(1.0 + b / total);
    const double x = 1.0 + b / total - cycle;
    const int up = x <= ratio;
    const int64_t stairs = up ? s->cycle_first_stair_count : s->cycle_second_stair_count;
    if (stairs <= 0)
        return up ? x / ratio : (x - 1.0) / (ratio - 1.0);
    const double c = fmod(b, total);
    const double pos = c <= first ? c * (double)stairs / first : (total - c) * (double)stairs / second;
    return floor(pos) / (double)stairs;
}

static double one_cycle_total(const zs_scheduler_config *s)
{
    return (double)s->cycle_first_step_size +
           (double)(s->cycle_second_step_size ? s->cycle_second_step_size : s->cycle_first_step_size);
}

static double one_cycle_lr(const zs_scheduler_config *s, int64_t i)
{
    if (i < 0)
        return s->cycle_min_lr;
    const double total = one_cycle_total(s);
    if ((double)i < total)
        return s->cycle_min_lr + (s->cycle_max_lr - s->cycle_min_lr) * one_cycle_scale(s, i);
    if (s->decay_step_size == 0 || s->decay_lr_rate == 0.0)
        return s->cycle_min_lr;
    const double d = (double)i - total + 1.0;
    return s->cycle_min_lr / (1.0 + s->decay_lr_rate * d / (double)s->decay_step_size);
}

static double one_cycle_mom(const zs_scheduler_config *s, int64_t i)
{
    if (i < 0)
        return s->cycle_min_mom;
    const double total = one_cycle_total(s);
    if ((double)i < total)
        return s->cycle_max_mom - (s->cycle_max_mom - s->cycle_min_mom) * one_cycle_scale(s, i);
    if (s->decay_step_size == 0 || s->decay_mom_rate == 0.0)
        return s->cycle_max_mom;
    const double d = (double)i - total + 1.0;
    return s->cycle_max_mom * (1.0 + s->decay_mom_rate * d / (double)s->decay_step_size);
}

static double lr_range_test_lr(const zs_scheduler_config *s, int64_t i)
{
    if (i < 0)
        return s->lr_range_test_min_lr;
    double x = (double)(i + 1) / (double)s->lr_range_test_step_size;
    if (s->lr_range_test_staircase)
        x = floor(x);
    return s->lr_range_test_min_lr * (1.0 + s->lr_range_test_step_rate * x);
}

double zsf_sched_lr(const zs_ds_config *cfg, int64_t k)
{
    const zs_scheduler_config *s = &cfg->scheduler;
    if (k < 0)
        return NAN;
    switch (s->type) {
    case ZS_SCHED_NONE:
        return cfg->optimizer.lr;
    case ZS_SCHED_WARMUP_LR:
        return warmup_lr(s, isnan(s->warmup_max_lr) ? cfg->optimizer.lr : s->warmup_max_lr, k - 1);
    case ZS_SCHED_WARMUP_DECAY_LR:
        return warmup_decay_lr(s, k - 1);
    case ZS_SCHED_WARMUP_COSINE_LR:
        return warmup_cosine_lr(s, cfg->optimizer.lr, k - 1);
    case ZS_SCHED_ONE_CYCLE:
        return one_cycle_lr(s, k - 1);
    case ZS_SCHED_LR_RANGE_TEST:
        return lr_range_test_lr(s, k - 1);
    default:
        return NAN;
    }
}

void zsf_sched_betas(const zs_ds_config *cfg, int has_betas, int64_t k, double *beta1, double *beta2)
{
    const zs_scheduler_config *s = &cfg->scheduler;
    *beta1 = cfg->optimizer.betas[0];
    *beta2 = cfg->optimizer.betas[1];
    if (has_betas && s->type == ZS_SCHED_ONE_CYCLE && s->cycle_momentum) {
        *beta1 = one_cycle_mom(s, k - 1);
        *beta2 = 0.99;
    }
}
