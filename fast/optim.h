/* DeepSpeed FusedAdam on the GPU over one rank's flat fp32 master partition (docs/spec/optimizers.md
 * §2; deepspeed/ops/adam/fused_adam.py FusedAdam.step, csrc/adam/multi_tensor_adam.cu AdamFunctor).
 * The unscale-and-clip multiply (g = grad * inv, docs/spec.md §11) is fused into the same pass. */
#ifndef ZS_FAST_OPTIM_H
#define ZS_FAST_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 if zs-fast implements the config's optimizer (FusedAdam: "Adam"/"AdamW" without torch_adam). */
int zsf_optim_check(const zs_ds_config *cfg, zs_error *err);

/* State tensors kept per partition element, named as DeepSpeed's state keys (trace names). */
#define ZSF_OPTIM_N_STATE 2
extern const char *const zsf_optim_state_names[ZSF_OPTIM_N_STATE];

/* One step t (1-based applied-step count) at learning rate lr over n elements:
 * param, exp_avg, exp_avg_sq updated in place from grad * inv. */
void zsf_fused_adam(const zs_optimizer_config *hp, int64_t t, double lr, float inv, float *param, const float *grad,
                    float *exp_avg, float *exp_avg_sq, size_t n, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
