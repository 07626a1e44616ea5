/* FusedLion: DeepSpeed's "Lion" without offload. Source: deepspeedai/DeepSpeed v0.19.6,
 * deepspeed/ops/lion/fused_lion.py FusedLion.step and csrc/lion/multi_tensor_lion.cu LionFunctor.
 * Per element, all float:
 *   c = b1*m + (1-b1)*g
 *   update = (c > 0) ? -lr : +lr        so c == +0, c == -0 and NaN all give +lr
 *   p = p*(1 - lr*wd) + update          (after_decay computed once in float; applied also for wd 0)
 *   m = b2*m + (1-b2)*g
 * DeepSpeedCPULion (offload, not modelled) differs at zero: -copysign(lr, c) gives -lr for c = +0. */
#include "optim/fused_math.h"
#include "optim/optimizer.h"

static void fused_lion_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                            const float *grad, float *const *state, size_t n)
{
    const float lr = (float)s->lr, beta1 = (float)s->beta1, beta2 = (float)s->beta2;
    const float decay = (float)hp->weight_decay;
    const float after_decay = 1.0f - lr * decay;
    float *m = state[0];
    for (size_t i = 0; i < n; i++) {
        const float c = zs_fused_ema(beta1, m[i], grad[i]);
        const float update = c > 0.0f ? -lr : lr;
        param[i] = param[i] * after_decay + update;
        m[i] = zs_fused_ema(beta2, m[i], grad[i]);
    }
}

const zs_optim_ops zs_optim_fused_lion = {
    .type = ZS_OPT_LION,
    .name = "FusedLion",
    .n_state = 1,
    .state_names = {"exp_avg"},
    .step = fused_lion_step,
    .has_betas = 1,
};
