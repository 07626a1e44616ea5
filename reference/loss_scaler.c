#include "loss_scaler.h"

#include <string.h>

int zs_loss_scaler_init(zs_loss_scaler *s, const zs_ds_config *cfg, zs_error *err)
{
    memset(s, 0, sizeof *s);
    s->cur_scale = 1.0;
    s->scale_factor = 2.0;
    s->raise_error_at_min_scale = 1;
    s->last_overflow_iter = -1;
    if (cfg->precision != ZS_PREC_FP16)
        return 0;
    const zs_fp16_config *f = &cfg->fp16;
    if (f->loss_scale > 0) {            /* static LossScaler */
        s->cur_scale = f->loss_scale;
        return 0;
    }
    if (f->initial_scale_power < 0 || f->initial_scale_power > 1000)
        return zs_fail(err, "fp16.initial_scale_power %d is out of range", f->initial_scale_power);
    s->dynamic = 1;
    s->cur_scale = 1.0;
    for (int i = 0; i < f->initial_scale_power; i++)
        s->cur_scale *= 2.0;            /* 2 ** initial_scale_power, exact */
    s->min_scale = f->min_loss_scale;
    s->scale_window = f->loss_scale_window;
    s->delayed_shift = f->hysteresis;
    s->cur_hysteresis = f->hysteresis;
    s->consecutive_hysteresis = f->consecutive_hysteresis;
    return 0;
}

double zs_loss_scaler_scale(const zs_loss_scaler *s)
{
    return s->cur_scale;
}

int zs_loss_scaler_update(zs_loss_scaler *s, int overflow, zs_error *err)
{
    if (!s->dynamic)
        return 0;
    if (overflow) {
        if (s->delayed_shift == 1 || s->cur_hysteresis == 1) {
            if (s->cur_scale == s->min_scale && s->raise_error_at_min_scale)
                return zs_fail(err, "Current loss scale already at minimum - cannot decrease scale anymore. "
                                    "Exiting run. (DeepSpeed raises here; loss scale %g = fp16.min_loss_scale)",
                               s->cur_scale);
            double next = s->cur_scale / s->scale_factor;
            s->cur_scale = next > s->min_scale ? next : s->min_scale;
        } else {
            s->cur_hysteresis--;
        }
        s->last_overflow_iter = s->cur_iter;
    } else {
        if (s->consecutive_hysteresis)
            s->cur_hysteresis = s->delayed_shift;
        int64_t stable = s->cur_iter - s->last_overflow_iter - 1;   /* v0.17.1+ timing */
        if (stable > 0 && stable % s->scale_window == 0) {
            if (!s->consecutive_hysteresis)
                s->cur_hysteresis = s->delayed_shift;
            s->cur_scale *= s->scale_factor;
        }
    }
    s->cur_iter++;
    return 0;
}
