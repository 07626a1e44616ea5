/* torch.optim.SGD: DeepSpeed's "SGD" (any name that is not a DeepSpeed optimizer resolves through
 * getattr(torch.optim, type); engine.py _configure_basic_optimizer). On CUDA tensors torch uses its
 * foreach implementation (torch/optim/sgd.py _multi_tensor_sgd, torch 2.x):
 *   wd != 0:        g = g + fl32(wd)*p
 *   momentum != 0:  step 1: buf = g (a clone, no dampening)
 *                   later:  buf = buf*fl32(mom) ; buf = buf + fl32(1 - dampening)*g
 *                   g = nesterov ? g + fl32(mom)*buf : buf
 *   p = p + fl32(-lr)*g
 * The buffer is stored under torch's key "momentum_buffer" (unused when momentum is 0). */
#include "optim/optimizer.h"

static void torch_sgd_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                           const float *grad, float *const *state, size_t n)
{
    const float wd = (float)hp->weight_decay, momentum = (float)hp->momentum;
    const float one_minus_dampening = (float)(1.0 - hp->dampening), minus_lr = (float)(-s->lr);
    float *buf = state[0];
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (hp->weight_decay != 0.0)
            g = g + wd * param[i];
        if (hp->momentum != 0.0) {
            if (s->step == 1) {
                buf[i] = g;
            } else {
                buf[i] = buf[i] * momentum;
                buf[i] = buf[i] + one_minus_dampening * g;
            }
            g = hp->nesterov ? g + momentum * buf[i] : buf[i];
        }
        param[i] = param[i] + minus_lr * g;
    }
}

const zs_optim_ops zs_optim_torch_sgd = {
    .type = ZS_OPT_SGD,
    .name = "torch.optim.SGD",
    .n_state = 1,
    .state_names = {"momentum_buffer"},
    .step = torch_sgd_step,
    .has_betas = 0,
};
