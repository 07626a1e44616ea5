/* The per-element arithmetic of every optimizer rule (docs/spec/optimizers.md §2-7), one definition
 * for the CUDA kernels (optim.cu) and for host code (the host plugin that checks it against the
 * op-level golden cases without a GPU). Float math, left to right as each source writes it; the
 * device is compiled with --fmad=false and the host with -ffp-contract=off, so both round every
 * product and sum separately. `g` is the unscaled, clipped gradient; scalars: optim_rules.h. */
#ifndef ZS_FAST_OPTIM_MATH_H
#define ZS_FAST_OPTIM_MATH_H

#include <math.h>

#include "optim_rules.h"
#include "rounding.h"   /* ZSF_HD */

#ifdef __cplusplus
extern "C" {
#endif

/* FusedAdam (multi_tensor_adam.cu AdamFunctor):
 *   L2 mode: g = g + wd*p ;  m = b1*m + (1 - b1)*g ;  v = b2*v + ((1 - b2)*g)*g
 *   update = (m / bc1) / (sqrt(v / bc2) + eps) ;  AdamW mode: update = update + wd*p ;  p = p - lr*update */
ZSF_HD static inline void zsf_fused_adam_elem(const zsf_optim_scalars *c, float *p, float g, float *m, float *v)
{
    const float p0 = *p;
    if (!c->adam_w_mode)
        g = g + c->wd * p0;
    const float m1 = c->beta1 * *m + (1.0f - c->beta1) * g;
    const float v1 = c->beta2 * *v + (1.0f - c->beta2) * g * g;
    const float denom = sqrtf(v1 / c->bc2) + c->eps;
    float update = (m1 / c->bc1) / denom;
    if (c->adam_w_mode)
        update = update + c->wd * p0;
    *m = m1;
    *v = v1;
    *p = p0 - c->lr * update;
}

/* torch.optim.Adam/AdamW, foreach path (torch/optim/adam.py _multi_tensor_adam): decoupled decay is a
 * multiply before the moments; m by at::native::lerp (exact at both ends); bias corrections folded
 * into step_size and bc2_sqrt. */
ZSF_HD static inline void zsf_torch_adam_elem(const zsf_optim_scalars *c, float *p, float g, float *m, float *v)
{
    float p0 = *p;
    const float m0 = *m, v0 = *v;   /* every load before the branches */
    if (c->apply_wd) {
        if (c->adam_w_mode)
            p0 = p0 * c->decay;
        else
            g = g + c->wd * p0;
    }
    const float m1 = fabsf(c->lerp_w) < 0.5f ? m0 + c->lerp_w * (g - m0) : g - (g - m0) * (1.0f - c->lerp_w);
    float v1 = v0 * c->beta2;
    v1 = v1 + c->one_minus_b2 * (g * g);
    float denom = sqrtf(v1);
    denom = denom / c->bc2_sqrt;
    denom = denom + c->eps;
    *m = m1;
    *v = v1;
    *p = p0 + c->step_size * (m1 / denom);
}

/* The gradient with torch's L2 term (_foreach_add(grads, params, alpha=wd), only when wd != 0). */
ZSF_HD static inline float zsf_torch_l2(const zsf_optim_scalars *c, float g, float p)
{
    return c->apply_wd ? g + c->wd * p : g;
}

/* torch.optim.Adagrad, foreach path: the L2 term enters the accumulator and the numerator; the
 * accumulator starts at initial_accumulator_value (torch.full_like at construction). */
ZSF_HD static inline void zsf_adagrad_elem(const zsf_optim_scalars *c, float *p, float g, float *sum)
{
    const float p0 = *p;
    g = zsf_torch_l2(c, g, p0);
    float acc = c->first_step ? c->init_acc : *sum;
    acc = acc + g * g;
    const float std_ = sqrtf(acc) + c->eps;
    *sum = acc;
    *p = p0 + (g * c->minus_clr) / std_;
}

/* FusedLion (multi_tensor_lion.cu LionFunctor): the sign of the interpolation (+0, -0 and NaN give
 * +lr), decay always applied, then the momentum update. */
ZSF_HD static inline void zsf_lion_elem(const zsf_optim_scalars *c, float *p, float g, float *m)
{
    const float m0 = *m;
    const float mix = c->beta1 * m0 + (1.0f - c->beta1) * g;
    const float update = mix > 0.0f ? -c->lr : c->lr;
    *p = *p * c->decay + update;
    *m = c->beta2 * m0 + (1.0f - c->beta2) * g;
}

/* torch.optim.SGD, foreach path: the momentum buffer is cloned on the first step (no dampening then). */
ZSF_HD static inline void zsf_sgd_elem(const zsf_optim_scalars *c, float *p, float g, float *buf)
{
    const float p0 = *p;
    const float b0 = c->momentum != 0.0f && !c->first_step ? *buf : 0.0f;   /* every load before the branches */
    g = zsf_torch_l2(c, g, p0);
    if (c->momentum != 0.0f) {
        float b;
        if (c->first_step) {
            b = g;
        } else {
            b = b0 * c->momentum;
            b = b + c->one_minus_damp * g;
        }
        *buf = b;
        g = c->nesterov ? g + c->momentum * b : b;
    }
    *p = p0 + c->neg_lr * g;
}

/* FusedLamb part 1 (per element): the moments, not bias corrected (the correction is in step_size). */
ZSF_HD static inline void zsf_lamb_moments(const zsf_optim_scalars *c, float g, float *m, float *v)
{
    *m = c->beta1 * *m + (1.0f - c->beta1) * g;
    *v = c->beta2 * *v + (1.0f - c->beta2) * g * g;
}

/* FusedLamb's update direction u = m / denom + wd*p, denom = sqrt(v) + eps (or sqrt(v + eps)). */
ZSF_HD static inline float zsf_lamb_update(const zsf_optim_scalars *c, float m, float v, float p)
{
    const float denom = c->eps_inside_sqrt ? sqrtf(v + c->eps) : sqrtf(v) + c->eps;
    return (m / denom) + (c->wd * p);
}

/* FusedLamb part 3's trust ratio from the two sums of squares: 1 if either norm is 0, else
 * ||p|| / ||u|| clamped to max_coeff, then to min_coeff (a NaN passes both comparisons). */
ZSF_HD static inline float zsf_lamb_coeff(const zsf_optim_scalars *c, float sum_p2, float sum_u2)
{
    const float wn = sqrtf(sum_p2), un = sqrtf(sum_u2);
    if (wn == 0.0f || un == 0.0f)
        return 1.0f;
    float k = wn / un;
    if (k > c->max_coeff)
        k = c->max_coeff;
    if (k < c->min_coeff)
        k = c->min_coeff;
    return k;
}

/* FusedLamb's launch: ZSF_LAMB_THREADS threads per block, at most ZSF_LAMB_THREADS blocks. */
#define ZSF_LAMB_THREADS 512

#ifdef __cplusplus
}
#endif
#endif
