/* The optimizer kernels over one rank's flat fp32 master partition (docs/spec/optimizers.md), each
 * one fused pass with the unscale-and-clip multiply (g = grad * inv, docs/spec.md §11) folded in.
 * Which rule and its scalars: optim_rules.h. FusedLamb is not element-wise: its trust ratio is one
 * per call, so the engine calls it per partition (ZeRO) or per parameter tensor (stage 0). */
#ifndef ZS_FAST_OPTIM_H
#define ZS_FAST_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "optim_rules.h"
#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device scratch floats zsf_optim_step needs (Lamb's block sums and trust ratio). */
#define ZSF_OPTIM_SCRATCH 1040

/* One step over n elements: param and state[0..n_state) updated in place from grad * inv. */
void zsf_optim_step(const zsf_optim_scalars *sc, float inv, float *param, const float *grad, float *const *state,
                    size_t n, float *scratch, cudaStream_t s);

/* FusedAdam with the config's betas, step t (1-based applied-step count) at learning rate lr:
 * param, exp_avg, exp_avg_sq updated in place from grad * inv. */
void zsf_fused_adam(const zs_optimizer_config *hp, int64_t t, double lr, float inv, float *param, const float *grad,
                    float *exp_avg, float *exp_avg_sq, size_t n, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
