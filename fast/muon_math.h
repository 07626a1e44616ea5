/* Muon's element arithmetic (docs/spec/optimizers.md §8a.3, §8a.5), one definition for the CUDA
 * kernels (muon.cu) and the host tests. Eager torch ops, each rounded as the spec says; the device is
 * compiled with --fmad=false and the host with -ffp-contract=off, so nothing is fused. */
#ifndef ZS_FAST_MUON_MATH_H
#define ZS_FAST_MUON_MATH_H

#include <math.h>
#include <stdint.h>

#include "rounding.h"
#include "zerospec/ds_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* at::native::lerp in opmath float: the two forms keep the result exact at w = 0 and w = 1. */
ZSF_HD static inline float zsf_lerp(float self, float end, float w)
{
    return fabsf(w) < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

/* original_muon.py muon_update, element part, in the gradient dtype t (nesterov):
 *   momentum.lerp_(grad, 1 - beta) ; grad.lerp_(momentum, beta)   -> *g becomes the NS input. */
ZSF_HD static inline void zsf_muon_momentum_elem(zsf_dtype t, float *g, float *m, float w_mom, float w_nes)
{
    const float m1 = zsf_round(t, zsf_lerp(*m, *g, w_mom));
    *m = m1;
    *g = zsf_round(t, zsf_lerp(*g, m1, w_nes));
}

/* The end of muon_update: update *= max(1, rows/cols)**0.5 in the NS dtype c (tall matrices only),
 * then .to(orig_dtype). */
ZSF_HD static inline float zsf_muon_finish_elem(zsf_dtype t, zsf_dtype c, int tall, float aspect, float u)
{
    if (tall)
        u = zsf_round(c, u * aspect);
    return zsf_round(t, u);
}

/* MuonWithAuxAdam.step's scalars of one step, as the kernels receive them. */
typedef struct zsf_muon_scalars {
    float decay, minus_lr;              /* muon group: fl32(1 - lr*wd), fl32(-lr) */
    float adam_decay, adam_minus_lr;    /* Adam group, with its own lr */
    float w1, w2, inv_bc1, inv_bc2, eps;
} zsf_muon_scalars;

/* Step t (1-based applied steps) with each group's lr (Python doubles rounded where torch takes them;
 * a tensor divided by a Python scalar is a multiply by the float reciprocal, ATen BinaryDivTrueKernel). */
static inline void zsf_muon_scalars_for(const zs_optimizer_config *hp, int64_t t, double muon_lr, double adam_lr,
                                        zsf_muon_scalars *o)
{
    const double b1 = hp->betas[0], b2 = hp->betas[1];
    o->decay = (float)(1.0 - muon_lr * hp->weight_decay);
    o->minus_lr = (float)-muon_lr;
    o->adam_decay = (float)(1.0 - adam_lr * hp->weight_decay);
    o->adam_minus_lr = (float)-adam_lr;
    o->w1 = (float)(1.0 - b1);
    o->w2 = (float)(1.0 - b2);
    o->inv_bc1 = 1.0f / (float)(1.0 - pow(b1, (double)t));
    o->inv_bc2 = 1.0f / (float)(1.0 - pow(b2, (double)t));
    o->eps = (float)hp->eps;
}

/* p.mul_(1 - lr*wd) ; p.add_(u, alpha=-lr) */
ZSF_HD static inline float zsf_muon_decayed_step(float p, float u, float decay, float minus_lr)
{
    p = p * decay;
    return p + minus_lr * u;
}

/* original_muon.py adam_update, then the decayed step with the Adam group's lr. */
ZSF_HD static inline void zsf_muon_adam_elem(const zsf_muon_scalars *c, float *p, float g, float *m, float *v)
{
    const float m1 = zsf_lerp(*m, g, c->w1), v1 = zsf_lerp(*v, g * g, c->w2);
    const float u = (m1 * c->inv_bc1) / (sqrtf(v1 * c->inv_bc2) + c->eps);
    *m = m1;
    *v = v1;
    *p = zsf_muon_decayed_step(*p, u, c->adam_decay, c->adam_minus_lr);
}

#ifdef __cplusplus
}
#endif
#endif
