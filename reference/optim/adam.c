/* FusedAdam: DeepSpeed's default for "Adam"/"AdamW" without offload and without torch_adam.
 * Source: deepspeedai/DeepSpeed v0.19.6, deepspeed/ops/adam/fused_adam.py FusedAdam.step and
 * csrc/adam/multi_tensor_adam.cu multi_tensor_adam_cuda + AdamFunctor (docs/spec/optimizers.md).
 *
 * Per element, t = step, all float:
 *   L2 mode (adam_w_mode 0):  g = g + wd*p
 *   m = b1*m + (1-b1)*g ;  v = b2*v + ((1-b2)*g)*g
 *   update = (m/bc1) / (sqrt(v/bc2) + eps)        eps outside the sqrt of the corrected v
 *   AdamW mode:               update = update + wd*p   (p before this step)
 *   p = p - lr*update
 * with bc = fl32(1 - pow(b, t)) (1 when bias_correction is off). Weight decay is applied even when
 * wd == 0 (adds 0*p), exactly like the kernel. */
#include <math.h>

#include "optim/fused_math.h"
#include "optim/optimizer.h"

static void fused_adam_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                            const float *grad, float *const *state, size_t n)
{
    /* multi_tensor_adam_cuda takes lr, betas, eps and weight_decay as float arguments. */
    const float lr = (float)s->lr, beta1 = (float)s->beta1, beta2 = (float)s->beta2;
    const float eps = (float)hp->eps, decay = (float)hp->weight_decay;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (hp->bias_correction) {
        bc1 = zs_fused_bias_correction(beta1, s->step);
        bc2 = zs_fused_bias_correction(beta2, s->step);
    }
    float *m = state[0], *v = state[1];
    for (size_t i = 0; i < n; i++) {
        const float p = param[i];
        float g = grad[i];
        if (!hp->adam_w_mode)
            g = g + decay * p;
        m[i] = zs_fused_ema(beta1, m[i], g);
        v[i] = zs_fused_ema_sq(beta2, v[i], g);
        const float denom = sqrtf(v[i] / bc2) + eps;
        float update = (m[i] / bc1) / denom;
        if (hp->adam_w_mode)
            update = update + decay * p;
        param[i] = p - lr * update;
    }
}

const zs_optim_ops zs_optim_fused_adam = {
    .type = ZS_OPT_ADAM,
    .name = "FusedAdam",
    .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"},
    .step = fused_adam_step,
    .has_betas = 1,
};
