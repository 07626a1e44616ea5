/* The loss scale of a run (docs/spec/precision.md §5), host code.
 *
 * Dynamic (fp16, loss_scale 0): DeepSpeed's DynamicLossScaler.update_scale (deepspeed/runtime/fp16/
 * loss_scaler.py, v0.19.6), one update per optimizer step with the rank-agreed overflow flag:
 *   overflow, hysteresis left (delayed_shift > 1 and cur_hysteresis > 1): cur_hysteresis -= 1
 *   overflow, otherwise: at min_scale (and raising) -> error; else scale = max(scale / 2, min_scale)
 *   clean: consecutive_hysteresis refills cur_hysteresis; the (window+1)-th clean update after the
 *          last overflow (then every window-th) doubles the scale and, without
 *          consecutive_hysteresis, refills cur_hysteresis
 * Stage 0 (FP16_Optimizer._update_scale) is the same machine with delayed_shift 1 that stays at the
 * minimum instead of raising. Static (fp16 loss_scale > 0; bf16 and fp32: 1): never changes. */
#ifndef ZS_FAST_LOSS_SCALER_H
#define ZS_FAST_LOSS_SCALER_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_loss_scaler {
    int dynamic;
    double scale;                 /* cur_scale */
    double min_scale;
    int64_t window;               /* scale_window */
    int delayed_shift;            /* hysteresis */
    int cur_hysteresis;
    int consecutive_hysteresis;
    int raise_at_min;
    int64_t cur_iter, last_overflow_iter;
} zsf_loss_scaler;

/* The scaler DeepSpeed builds for this config and ZeRO stage. */
void zsf_loss_scaler_init(zsf_loss_scaler *s, const zs_ds_config *cfg, int stage);

/* One update with the global overflow flag. Returns 0, or -1 with DeepSpeed's message when an
 * overflow would halve below the minimum (nothing changes then). */
int zsf_loss_scaler_update(zsf_loss_scaler *s, int overflow, zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
