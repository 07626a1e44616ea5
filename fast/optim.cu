/* FusedAdam (optim.h). Per element, all float, left to right (compiled with --fmad=false, so each
 * product and sum rounds separately, as the reference requires):
 *   g = grad * inv ;  L2 mode: g = g + wd*p
 *   m = b1*m + (1 - b1)*g ;  v = b2*v + ((1 - b2)*g)*g
 *   update = (m / bc1) / (sqrt(v / bc2) + eps) ;  AdamW mode: update = update + wd*p
 *   p = p - lr*update
 * Host side, as multi_tensor_adam_cuda: bc = (float)(1 - pow((double)b, t)), 1 without bias
 * correction; lr, betas, eps, weight decay are passed to the kernel as floats. */
#include "optim.h"

#include <math.h>

#include "kernels/common.cuh"

const char *const zsf_optim_state_names[ZSF_OPTIM_N_STATE] = {"exp_avg", "exp_avg_sq"};

int zsf_optim_check(const zs_ds_config *cfg, zs_error *err)
{
    const zs_optimizer_config *o = &cfg->optimizer;
    if (!cfg->has_optimizer)
        return zs_fail(err, "the config has no \"optimizer\" block; zs-fast needs one");
    if ((o->type != ZS_OPT_ADAM && o->type != ZS_OPT_ADAMW) || o->torch_adam)
        return zs_fail(err, "optimizer \"%s\"%s is not implemented by zs-fast yet (it has FusedAdam: Adam/AdamW)",
                       o->type_name, o->torch_adam ? " with torch_adam" : "");
    return 0;
}

__global__ static void fused_adam_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                                         size_t n, float inv, float lr, float b1, float b2, float eps, float wd,
                                         float bc1, float bc2, int adam_w_mode)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i];
    float g = grad[i] * inv;
    if (!adam_w_mode)
        g = g + wd * p;
    const float m = b1 * exp_avg[i] + (1.0f - b1) * g;
    const float v = b2 * exp_avg_sq[i] + (1.0f - b2) * g * g;
    const float denom = sqrtf(v / bc2) + eps;
    float update = (m / bc1) / denom;
    if (adam_w_mode)
        update = update + wd * p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p - lr * update;
}

void zsf_fused_adam(const zs_optimizer_config *hp, int64_t t, double lr, float inv, float *param, const float *grad,
                    float *exp_avg, float *exp_avg_sq, size_t n, cudaStream_t s)
{
    const float b1 = (float)hp->betas[0], b2 = (float)hp->betas[1];
    float bc1 = 1.0f, bc2 = 1.0f;
    if (hp->bias_correction) {
        bc1 = (float)(1.0 - pow((double)b1, (double)t));
        bc2 = (float)(1.0 - pow((double)b2, (double)t));
    }
    ZSF_LAUNCH(fused_adam_kernel, n, s, param, grad, exp_avg, exp_avg_sq, n, inv, (float)lr, b1, b2, (float)hp->eps,
               (float)hp->weight_decay, bc1, bc2, hp->adam_w_mode);
}
