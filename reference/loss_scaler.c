/* DeepSpeed v0.19.6 loss scaling (deepspeed/runtime/fp16/loss_scaler.py). The transitions are those of
 * DynamicLossScaler.update_scale, line for line; docs/spec/precision.md §5 has the table. */
#include "loss_scaler.h"

#include <math.h>
#include <string.h>

/* LossScaler(scale): DeepSpeed's static scaler, also used with scale 1 for bf16 and fp32. */
static void init_static(zs_loss_scaler *s, double scale)
{
    memset(s, 0, sizeof *s);
    s->cur_scale = scale;
    s->scale_factor = 2.0;
    s->last_overflow_iter = -1;
}

int zs_loss_scaler_init(zs_loss_scaler *s, const zs_ds_config *cfg, zs_error *err)
{
    init_static(s, 1.0);
    if (cfg->precision != ZS_PREC_FP16)
        return 0;
    const zs_fp16_config *f = &cfg->fp16;
    if (!isfinite(f->loss_scale))
        return zs_fail(err, "fp16.loss_scale must be a finite number (not inf/-inf/nan)");
    if (f->loss_scale < 0)
        return zs_fail(err, "fp16.loss_scale must be >= 0 (0 enables dynamic loss scaling)");
    if (f->loss_scale > 0) {
        s->cur_scale = f->loss_scale;
        return 0;
    }
    /* Dynamic. DeepSpeed validates these two (precision_config.py _validate_dynamic_loss_scale_params);
     * a zero window would also divide by zero below. */
    if (f->loss_scale_window <= 0)
        return zs_fail(err, "fp16.loss_scale_window must be > 0 when dynamic loss scaling is enabled "
                            "(loss_scale=0)");
    if (!(f->min_loss_scale > 0))
        return zs_fail(err, "fp16.min_loss_scale must be > 0 when dynamic loss scaling is enabled "
                            "(loss_scale=0)");
    /* zerospec's limit (docs/spec/config.md): the backward uses fl32(S), so 2^p must be a normal float. */
    if (f->initial_scale_power < -126 || f->initial_scale_power > 127)
        return zs_fail(err, "fp16.initial_scale_power = %d is outside -126..127 (2^p must be a normal "
                            "fp32 value)", f->initial_scale_power);
    s->dynamic = 1;
    s->cur_scale = ldexp(1.0, f->initial_scale_power);   /* 2**initial_scale_power, exact */
    s->min_scale = f->min_loss_scale;
    s->scale_window = f->loss_scale_window;
    s->consecutive_hysteresis = f->consecutive_hysteresis != 0;
    if (cfg->zero.stage == 0) {
        /* FP16_Optimizer._update_scale: halve on every overflow, clamp at the minimum, never raise. */
        s->delayed_shift = 1;
        s->raise_error_at_min_scale = 0;
    } else {
        s->delayed_shift = f->hysteresis;
        s->raise_error_at_min_scale = 1;   /* CreateLossScaler never passes it: the default True */
    }
    s->cur_hysteresis = s->delayed_shift;
    return 0;
}

double zs_loss_scaler_scale(const zs_loss_scaler *s)
{
    return s->cur_scale;
}

int zs_loss_scaler_update(zs_loss_scaler *s, int overflow, zs_error *err)
{
    if (!s->dynamic)
        return 0;   /* LossScalerBase.update_scale: pass */
    if (overflow) {
        if (s->delayed_shift == 1 || s->cur_hysteresis == 1) {
            if (s->cur_scale == s->min_scale && s->raise_error_at_min_scale)
                return zs_fail(err, "Current loss scale already at minimum - cannot decrease scale "
                                    "anymore. Exiting run.");
            double next = s->cur_scale / s->scale_factor;
            s->cur_scale = next > s->min_scale ? next : s->min_scale;   /* Python max(next, min) */
        } else {
            s->cur_hysteresis -= 1;   /* absorbed: the scale stays */
        }
        s->last_overflow_iter = s->cur_iter;
    } else {
        if (s->consecutive_hysteresis)
            s->cur_hysteresis = s->delayed_shift;
        /* Clean updates since the last overflow, not counting this one (v0.17.1+): the first growth
         * comes on the (window+1)-th clean update, later ones every window updates. */
        int64_t stable_interval = s->cur_iter - s->last_overflow_iter - 1;
        if (stable_interval > 0 && stable_interval % s->scale_window == 0) {
            if (!s->consecutive_hysteresis)
                s->cur_hysteresis = s->delayed_shift;
            s->cur_scale *= s->scale_factor;
        }
    }
    s->cur_iter += 1;
    return 0;
}
