/* DeepSpeed's loss scaler as a small state machine (docs/spec/precision.md §5).
 *
 * Follows DeepSpeed v0.19.6 deepspeed/runtime/fp16/loss_scaler.py exactly:
 *   - ZeRO stages 1-3, fp16, fp16.loss_scale == 0: DynamicLossScaler (update_scale), with
 *     hysteresis and an error when an overflow arrives at the minimum scale;
 *   - fp16 with fp16.loss_scale > 0: LossScaler (static, never changes);
 *   - bf16 and fp32: LossScaler(1.0) (CreateLossScaler);
 *   - stage 0, fp16, dynamic: FP16_Optimizer._update_scale (runtime/fp16/fused_optimizer.py), which
 *     is the same machine with hysteresis 1 and no error at the minimum (the scale stays there).
 * One zs_loss_scaler_update per optimizer step, with the global (max-reduced) overflow flag. */
#ifndef ZS_REFERENCE_LOSS_SCALER_H
#define ZS_REFERENCE_LOSS_SCALER_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

typedef struct zs_loss_scaler {
    int dynamic;                  /* 0: static scale, update never changes anything */
    double cur_scale;             /* S: the next backward multiplies the loss by this */
    double min_scale;             /* fp16.min_loss_scale */
    double scale_factor;          /* always 2 (hard-coded in DeepSpeed) */
    int64_t scale_window;         /* fp16.loss_scale_window */
    int delayed_shift;            /* fp16.hysteresis (1 at stage 0) */
    int64_t cur_hysteresis;       /* overflows still absorbed before the scale halves; int64 because
                                   * DeepSpeed lets it go negative when hysteresis <= 0 */
    int consecutive_hysteresis;   /* refill cur_hysteresis on every clean step */
    int raise_error_at_min_scale; /* 1 for ZeRO (DeepSpeed's default, never overridden), 0 at stage 0 */
    int64_t cur_iter;             /* updates done so far (dynamic only) */
    int64_t last_overflow_iter;   /* cur_iter of the latest overflow, -1 before the first */
} zs_loss_scaler;

/* Builds the scaler DeepSpeed builds for this config: precision, fp16 block and ZeRO stage.
 * Fails (naming the key) for a dynamic fp16 config whose loss_scale_window or min_loss_scale is not
 * positive or whose initial_scale_power is outside -126..127, and for a static loss_scale that is not
 * finite. */
int zs_loss_scaler_init(zs_loss_scaler *s, const zs_ds_config *cfg, zs_error *err);

/* The current scale S (what the next backward uses). */
double zs_loss_scaler_scale(const zs_loss_scaler *s);

/* One optimizer step's update with the global overflow flag. Returns -1 with DeepSpeed's message
 * "Current loss scale already at minimum - cannot decrease scale anymore. Exiting run." when
 * DeepSpeed raises (an overflow that would halve a scale already equal to min_loss_scale, ZeRO only);
 * the state is then left unchanged and the run must stop. */
int zs_loss_scaler_update(zs_loss_scaler *s, int overflow, zs_error *err);

#endif
