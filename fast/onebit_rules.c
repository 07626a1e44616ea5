/* The 1-bit family's host logic (onebit_rules.h). */
#include "onebit_rules.h"

#include <string.h>

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

size_t zsf_onebit_padded(size_t n, int world)
{
    const size_t w = (size_t)world, unit = w * (w * 8 / gcd(w, 8));
    return n % unit ? n + (unit - n % unit) : n;
}

void zsf_onebit_sched_init(zsf_onebit_sched *s, zsf_optim_rule rule, const zs_optimizer_config *hp)
{
    memset(s, 0, sizeof *s);
    s->rule = rule;
    s->freeze_step = hp->freeze_step;
    s->var_freeze_step = hp->var_freeze_step;
    s->var_update_scaler = hp->var_update_scaler;
    s->local_step_scaler = hp->local_step_scaler;
    s->local_step_clipper = hp->local_step_clipper;
    s->allreduce = 1;   /* engine.enable_backward_allreduce until the optimizer switches it off */
    s->var_interval = s->local_interval = 1;
}

void zsf_onebit_begin(zsf_onebit_sched *s, double lr, zsf_onebit_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    /* OnebitLamb fixes its scaling coefficients before counting the first compressed call */
    plan->first_compressed = s->rule == ZSF_ONEBIT_LAMB && s->frozen && !s->has_scaling;
    s->has_scaling |= plan->first_compressed;
    s->step++;
    if (!s->initialized) {
        s->initialized = 1;
        plan->phase = ZSF_OB_INIT;
        return;
    }
    if (s->rule != ZSF_ZERO_ONE_ADAM) {
        plan->phase = s->frozen ? ZSF_OB_COMPRESSED : ZSF_OB_WARMUP;
        plan->copy_v_fresh = s->rule == ZSF_ONEBIT_LAMB && !s->frozen && s->step == s->freeze_step;
        return;
    }
    if (!s->frozen) {
        plan->phase = s->step % s->var_interval == 0 ? ZSF_OB_WARMUP : ZSF_OB_COMPRESSED;
        return;
    }
    plan->phase = ZSF_OB_LOCAL;
    s->lrs += lr;
    plan->lrs = s->lrs;
    plan->sync = s->step % s->local_interval == 0;
}

/* zoadam.py: the variance interval doubles every var_update_scaler variance steps (phase 1); the local
 * step interval doubles, up to local_step_clipper, every local_step_scaler steps (phase 2). */
static void advance_intervals(zsf_onebit_sched *s)
{
    if (!s->frozen) {
        if (s->step % s->var_interval == 0 && ++s->var_counter == s->var_update_scaler) {
            s->var_counter = 0;
            s->var_interval *= 2;
        }
        s->allreduce = (s->step + 1) % s->var_interval == 0;
    } else if (++s->local_counter == s->local_step_scaler) {
        s->local_counter = 0;
        s->local_interval = 2 * s->local_interval < s->local_step_clipper ? 2 * s->local_interval
                                                                          : s->local_step_clipper;
    }
}

int zsf_onebit_end(zsf_onebit_sched *s, const zsf_onebit_plan *plan)
{
    if (plan->phase == ZSF_OB_INIT)
        return 0;
    if (s->rule != ZSF_ZERO_ONE_ADAM) {
        if (!s->frozen && s->step >= s->freeze_step) {
            s->frozen = 1;
            s->allreduce = 0;
        }
        return 0;
    }
    if (plan->sync)
        s->lrs = 0.0;
    advance_intervals(s);
    if (s->step > s->var_freeze_step) {
        s->frozen = 1;
        s->allreduce = 0;
    }
    if (s->frozen && !s->errors_reset) {
        s->errors_reset = 1;
        return 1;
    }
    return 0;
}

static double clamp(double x, double lo, double hi)
{
    if (x > hi)
        x = hi;
    if (x < lo)
        x = lo;
    return x;
}

double zsf_onebit_lamb_coeff(float w_norm, float u_norm, const zs_optimizer_config *hp)
{
    if (w_norm == 0.0f || u_norm == 0.0f)
        return 1.0;
    return clamp((double)(w_norm / u_norm), hp->min_coeff, hp->max_coeff);
}

double zsf_onebit_lamb_freeze(double coeff_freeze, double coeff, const zs_optimizer_config *hp)
{
    return coeff != 1.0 ? hp->coeff_beta * coeff_freeze + (1.0 - hp->coeff_beta) * coeff : coeff_freeze;
}

double zsf_onebit_lamb_factor(float max_ratio, float u0_norm, float u_norm, double last_factor,
                              const zs_optimizer_config *hp)
{
    double factor = (double)max_ratio;
    if (hp->weight_decay > 0.0) {
        double r = (double)(u0_norm / u_norm);
        r = r < 1.0 ? r : 1.0;   /* Python min(1.0, x) */
        factor = factor * r + (1.0 - r);
    }
    factor = clamp(factor, hp->factor_min, hp->factor_max);
    return clamp(factor, last_factor * (1.0 - hp->factor_threshold), last_factor * (1.0 + hp->factor_threshold));
}

int zsf_onebit_lamb_scaling(const double *scale, int T, double *coeff, int *bad)
{
    double united = 0.0;
    for (int t = 0; t < T; t++) {
        if (scale[t] == 0.0) {
            *bad = t;
            return -1;
        }
        united += scale[t];
    }
    united = united / T;
    for (int t = 0; t < T; t++)
        coeff[t] = united / scale[t];
    return 0;
}
