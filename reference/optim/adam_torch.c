/* torch.optim.Adam / torch.optim.AdamW, selected by "torch_adam": true (AdamW when the effective
 * adam_w_mode is on). DeepSpeed v0.19.6 engine.py _configure_basic_optimizer builds the torch class;
 * on CUDA tensors torch defaults to its foreach implementation (torch/optim/adam.py
 * _multi_tensor_adam, torch 2.x), whose order this follows:
 *
 *   AdamW, wd != 0:  p = p * fl32(1 - lr*wd)                    (_foreach_mul_, before everything)
 *   Adam,  wd != 0:  g = g + fl32(wd)*p                          (_foreach_add alpha=wd)
 *   m = lerp(m, g, fl32(1 - b1))                                 (_foreach_lerp_, ATen Lerp.h)
 *   v = v * fl32(b2) ;  v = v + fl32(1 - b2)*(g*g)               (_foreach_mul_, _foreach_addcmul_)
 *   denom = sqrt(v) / fl32(sqrt_bc2) + fl32(eps)                 (_foreach_sqrt, div_, add_)
 *   p = p + fl32(-(lr/bc1)) * (m/denom)                          (_foreach_addcdiv_)
 * with bc1 = 1 - b1**t, sqrt_bc2 = (1 - b2**t)**0.5 in double (Python floats). The scalars are
 * Python doubles; the CUDA foreach kernels convert them to float (opmath) before use. torch has no
 * bias_correction switch: the correction is always applied. */
#include <math.h>

#include "optim/optimizer.h"
#include "optim/torch_math.h"

static void torch_adam_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                            const float *grad, float *const *state, size_t n)
{
    const double lr = s->lr, b1 = s->beta1, b2 = s->beta2, wd = hp->weight_decay;
    const double t = (double)s->step; /* state['step'] is a float tensor; .item() gives t exactly */
    const double bc1 = 1.0 - pow(b1, t);
    const double bc2 = 1.0 - pow(b2, t);
    const float step_size = (float)((lr / bc1) * -1.0);
    const float bc2_sqrt = (float)pow(bc2, 0.5); /* Python `bc ** 0.5` is pow, not sqrt */
    const float decay_factor = (float)(1.0 - lr * wd), wd_f = (float)wd;
    const float lerp_w = (float)(1.0 - b1), b2_f = (float)b2, one_minus_b2 = (float)(1.0 - b2);
    const float eps = (float)hp->eps;
    const int decoupled = hp->adam_w_mode;
    float *m = state[0], *v = state[1];
    for (size_t i = 0; i < n; i++) {
        float p = param[i], g = grad[i];
        if (wd != 0.0) {
            if (decoupled)
                p = p * decay_factor;
            else
                g = g + wd_f * p;
        }
        m[i] = zs_torch_lerp(m[i], g, lerp_w);
        v[i] = v[i] * b2_f;
        v[i] = v[i] + one_minus_b2 * (g * g);
        float denom = sqrtf(v[i]);
        denom = denom / bc2_sqrt;
        denom = denom + eps;
        param[i] = p + step_size * (m[i] / denom);
    }
}

const zs_optim_ops zs_optim_torch_adam = {
    .type = ZS_OPT_ADAM,
    .name = "torch.optim.Adam",
    .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"},
    .step = torch_adam_step,
    .has_betas = 1,
};

const zs_optim_ops zs_optim_torch_adamw = {
    .type = ZS_OPT_ADAMW,
    .name = "torch.optim.AdamW",
    .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"},
    .step = torch_adam_step,
    .has_betas = 1,
};
