/* The loss scale (loss_scaler.h). */
#include "loss_scaler.h"

#include <math.h>
#include <string.h>

void zsf_loss_scaler_init(zsf_loss_scaler *s, const zs_ds_config *cfg, int stage)
{
    memset(s, 0, sizeof *s);
    s->scale = 1.0;
    s->last_overflow_iter = -1;
    const zs_fp16_config *f = &cfg->fp16;
    if (cfg->precision != ZS_PREC_FP16)
        return;                                   /* LossScaler(1.0) */
    if (f->loss_scale > 0.0) {
        s->scale = f->loss_scale;                 /* LossScaler(loss_scale) */
        return;
    }
    s->dynamic = 1;
    s->scale = ldexp(1.0, f->initial_scale_power);
    s->min_scale = f->min_loss_scale;
    s->window = f->loss_scale_window;
    s->consecutive_hysteresis = f->consecutive_hysteresis;
    s->delayed_shift = stage == 0 ? 1 : f->hysteresis;   /* FP16_Optimizer has no hysteresis ... */
    s->raise_at_min = stage != 0;                        /* ... and stays at the minimum */
    s->cur_hysteresis = s->delayed_shift;
}

int zsf_loss_scaler_update(zsf_loss_scaler *s, int overflow, zs_error *err)
{
    if (!s->dynamic)
        return 0;
    if (overflow) {
        if (s->delayed_shift == 1 || s->cur_hysteresis == 1) {
            if (s->scale == s->min_scale && s->raise_at_min)
                return zs_fail(err, "Current loss scale already at minimum - cannot decrease scale anymore. "
                                    "Exiting run.");
            s->scale = fmax(s->scale / 2.0, s->min_scale);
        } else {
            s->cur_hysteresis -= 1;
        }
        s->last_overflow_iter = s->cur_iter;
    } else {
        if (s->consecutive_hysteresis)
            s->cur_hysteresis = s->delayed_shift;
        int64_t clean = s->cur_iter - s->last_overflow_iter - 1;
        if (clean > 0 && clean % s->window == 0) {
            s->scale *= 2.0;
            if (!s->consecutive_hysteresis)
                s->cur_hysteresis = s->delayed_shift;
        }
    }
    s->cur_iter += 1;
    return 0;
}
