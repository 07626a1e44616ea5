/* torch.optim.Adagrad: DeepSpeed's "Adagrad" without offload (engine.py _configure_basic_optimizer).
 * Under ZeRO 1/2/3 DeepSpeed re-creates it on the flat fp32 partitions with the same defaults
 * (stage_1_and_2.py initialize_optimizer_states, stage3.py), so it runs once per partition. On CUDA
 * tensors torch uses its foreach implementation (torch/optim/adagrad.py _multi_tensor_adagrad,
 * torch 2.x), whose order this follows:
 *   wd != 0:  g = g + fl32(wd)*p
 *   sum = sum + 1*(g*g)                                   (_foreach_addcmul_ value=1)
 *   std = sqrt(sum) + fl32(eps)
 *   p = p + 1*((g * fl32(-clr)) / std),  clr = lr / (1 + (t-1)*lr_decay) in double
 * sum starts at fl32(initial_accumulator_value) (torch fills it at construction).
 *
 * Not modelled: DeepSpeedCPUAdagrad (offload_optimizer), which differs when wd > 0 -- its numerator
 * is the raw gradient while sum accumulates (g + wd*p)^2 -- and has no lr_decay or
 * initial_accumulator_value (docs/spec/optimizers.md). */
#include <math.h>

#include "optim/optimizer.h"

static void torch_adagrad_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                               const float *grad, float *const *state, size_t n)
{
    float *sum = state[0];
    if (s->step == 1) {
        const float init = (float)hp->initial_accumulator_value;
        for (size_t i = 0; i < n; i++)
            sum[i] = init;
    }
    const double minus_clr = -s->lr / (1.0 + ((double)s->step - 1.0) * hp->lr_decay);
    const float minus_clr_f = (float)minus_clr, wd = (float)hp->weight_decay, eps = (float)hp->eps;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (hp->weight_decay != 0.0)
            g = g + wd * param[i];
        sum[i] = sum[i] + g * g;
        const float std = sqrtf(sum[i]) + eps;
        const float numerator = g * minus_clr_f;
        param[i] = param[i] + numerator / std;
    }
}

const zs_optim_ops zs_optim_torch_adagrad = {
    .type = ZS_OPT_ADAGRAD,
    .name = "torch.optim.Adagrad",
    .n_state = 1,
    .state_names = {"sum"},
    .step = torch_adagrad_step,
    .has_betas = 0,
};
