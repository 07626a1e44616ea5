/* The inner step of DeepSpeed's Muon (runtime/zero/muon/muon_optimizer.py MuonWithAuxAdam.step,
 * v0.19.6), eager torch ops on the flat fp32 partition of each param group:
 *
 * muon group (the orthogonalisation already replaced the gradient in the ZeRO gradient path, or
 * there is none at stage 0):
 *   p = p * fl32(1 - lr*wd) ;  p = p + fl32(-lr)*g               (p.mul_, p.add_(alpha=-lr))
 * Adam group (original_muon.py adam_update, then the same two ops with the Adam group's lr):
 *   m = lerp(m, g, fl32(1 - b1)) ;  v = lerp(v, g*g, fl32(1 - b2))
 *   u = (m * (1/fl32(bc1))) / (sqrt(v * (1/fl32(bc2))) + fl32(eps)),  bc = 1 - b**t in double
 * (a CUDA tensor divided by a Python scalar is a multiply by the float reciprocal: ATen
 * BinaryDivTrueKernel.cu, "compute a * reciprocal(b)"). No FMAs, as everywhere in the reference. */
#include <math.h>

#include "optim/optimizer.h"
#include "optim/torch_math.h"

/* p.mul_(1 - lr*wd); p.add_(u, alpha=-lr) */
static float decayed_step(float p, float u, float decay_factor, float minus_lr)
{
    p = p * decay_factor;
    return p + minus_lr * u;
}

static void muon_group_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                            const float *grad, float *const *state, size_t n)
{
    (void)state;
    const float decay_factor = (float)(1.0 - s->lr * hp->weight_decay), minus_lr = (float)(-s->lr);
    for (size_t i = 0; i < n; i++)
        param[i] = decayed_step(param[i], grad[i], decay_factor, minus_lr);
}

static void aux_adam_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                          const float *grad, float *const *state, size_t n)
{
    const double t = (double)s->step;
    const float w1 = (float)(1.0 - s->beta1), w2 = (float)(1.0 - s->beta2);
    const float inv_bc1 = 1.0f / (float)(1.0 - pow(s->beta1, t)), inv_bc2 = 1.0f / (float)(1.0 - pow(s->beta2, t));
    const float eps = (float)hp->eps;
    const float decay_factor = (float)(1.0 - s->lr * hp->weight_decay), minus_lr = (float)(-s->lr);
    float *m = state[0], *v = state[1];
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = zs_torch_lerp(m[i], g, w1);
        v[i] = zs_torch_lerp(v[i], g * g, w2);
        float update = (m[i] * inv_bc1) / (sqrtf(v[i] * inv_bc2) + eps);
        param[i] = decayed_step(param[i], update, decay_factor, minus_lr);
    }
}

const zs_optim_ops zs_optim_muon_matrix = {
    .type = ZS_OPT_MUON,
    .name = "MuonWithAuxAdam (muon group)",
    .n_state = 0,
    .step = muon_group_step,
    .has_betas = 0,
};

const zs_optim_ops zs_optim_muon_aux_adam = {
    .type = ZS_OPT_MUON,
    .name = "MuonWithAuxAdam (Adam group)",
    .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"},
    .step = aux_adam_step,
    .has_betas = 0,   /* built with defaults dict(): OneCycle does not cycle its betas */
};
