/* DeepSpeed's loss scaler (deepspeed/runtime/fp16/loss_scaler.py, v0.19.6): a static scale, or the
 * DynamicLossScaler state machine with hysteresis (docs/spec/precision.md "Loss scaling"). */
#ifndef ZS_REFERENCE_LOSS_SCALER_H
#define ZS_REFERENCE_LOSS_SCALER_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

typedef struct zs_loss_scaler {
    int dynamic;
    double cur_scale;
    double min_scale;
    double scale_factor;          /* always 2 */
    int64_t scale_window;
    int delayed_shift;            /* hysteresis */
    int cur_hysteresis;
    int consecutive_hysteresis;
    int raise_error_at_min_scale; /* always 1 in DeepSpeed (not configurable from JSON) */
    int64_t cur_iter;
    int64_t last_overflow_iter;
} zs_loss_scaler;

/* fp16 with loss_scale 0: dynamic; fp16 with loss_scale > 0: static at that value; bf16/fp32: 1. */
int zs_loss_scaler_init(zs_loss_scaler *s, const zs_ds_config *cfg, zs_error *err);
double zs_loss_scaler_scale(const zs_loss_scaler *s);
/* One update per optimizer step with the global overflow flag. Fails with DeepSpeed's message when
 * an overflow happens at the minimum scale (DeepSpeed raises and the run ends). */
int zs_loss_scaler_update(zs_loss_scaler *s, int overflow, zs_error *err);

#endif
