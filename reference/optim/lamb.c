/* FusedLamb: DeepSpeed's "Lamb". Source: deepspeedai/DeepSpeed v0.19.6,
 * deepspeed/ops/lamb/fused_lamb.py FusedLamb.step and csrc/lamb/fused_lamb_cuda_kernel.cu
 * fused_lamb_cuda + lamb_cuda_kernel_part1/2/3 (docs/spec/optimizers.md).
 *
 * One trust ratio per call, i.e. per flat partition under ZeRO (rank-count dependent):
 *   step_size = fl32(lr * sqrt(bc2) / bc1)   (float host math; = lr without bias correction)
 *   m = b1*m + (1-b1)*g ;  v = b2*v + ((1-b2)*g)*g
 *   u = m / denom + wd*p,  denom = sqrt(v) + eps  (eps_inside_sqrt: sqrt(v + eps)); v NOT corrected
 *   w = sqrt(sum p^2), un = sqrt(sum u^2)  (p before the update), summed in the kernel's order below
 *   coeff = 1 if w == 0 or un == 0, else w/un clamped to [min_coeff, max_coeff] (max first)
 *   p = p - (step_size*coeff)*u
 * The gradient is divided by the wrapper's grad_scale in part 1; under ZeRO FusedLamb.step() is
 * called without one (scale 1), so that division is the identity and is left out. */
#include <math.h>

#include "optim/fused_math.h"
#include "optim/optimizer.h"

/* fused_lamb_cuda's launch: 512 threads per block, at most 512 blocks. */
#define LAMB_THREADS 512
#define LAMB_MAX_BLOCKS 512

typedef struct lamb_sums {
    float w, u; /* sum of p^2 and of u^2 */
} lamb_sums;

static float lamb_update(const zs_optimizer_config *hp, float eps, float decay, float m, float v,
                         float p)
{
    const float denom = hp->eps_inside_sqrt ? sqrtf(v + eps) : sqrtf(v) + eps;
    return (m / denom) + (decay * p);
}

/* reduce_block_in_shared_memory: each round the lower half adds the upper half, 256 down to 1
 * (the last five rounds are warp shuffles with the same pairing). Leaves the sum in s[0]. */
static void lamb_tree_sum(float s[LAMB_THREADS])
{
    for (int half = LAMB_THREADS / 2; half >= 1; half /= 2)
        for (int t = 0; t < half; t++)
            s[t] = s[t] + s[t + half];
}

/* Sums of squares in the kernel's order: global thread i adds elements i, i+T, i+2T, ... in turn
 * (T = blocks*512); each block reduces its 512 partials by the tree (part 1); then one block
 * reduces the block sums, zero-padded to 512, by the same tree (part 2). */
static lamb_sums lamb_sums_of_squares(const zs_optimizer_config *hp, float eps, float decay,
                                      const float *param, const float *m, const float *v, size_t n)
{
    size_t blocks = (n + LAMB_THREADS - 1) / LAMB_THREADS;
    if (blocks > LAMB_MAX_BLOCKS)
        blocks = LAMB_MAX_BLOCKS;
    const size_t total_threads = blocks * LAMB_THREADS;
    float block_w[LAMB_THREADS] = {0}, block_u[LAMB_THREADS] = {0};
    for (size_t b = 0; b < blocks; b++) {
        float thread_w[LAMB_THREADS], thread_u[LAMB_THREADS];
        for (size_t t = 0; t < LAMB_THREADS; t++) {
            float w = 0.0f, u = 0.0f;
            for (size_t j = b * LAMB_THREADS + t; j < n; j += total_threads) {
                const float upd = lamb_update(hp, eps, decay, m[j], v[j], param[j]);
                u += upd * upd;
                w += param[j] * param[j];
            }
            thread_w[t] = w;
            thread_u[t] = u;
        }
        lamb_tree_sum(thread_w);
        lamb_tree_sum(thread_u);
        block_w[b] = thread_w[0];
        block_u[b] = thread_u[0];
    }
    lamb_tree_sum(block_w);
    lamb_tree_sum(block_u);
    return (lamb_sums){.w = block_w[0], .u = block_u[0]};
}

static void fused_lamb_step(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                            const float *grad, float *const *state, size_t n)
{
    if (n == 0)
        return; /* the CUDA launch would have zero blocks; ZeRO partitions are never empty */
    const float lr = (float)s->lr, beta1 = (float)s->beta1, beta2 = (float)s->beta2;
    const float eps = (float)hp->eps, decay = (float)hp->weight_decay;
    const float max_coeff = (float)hp->max_coeff, min_coeff = (float)hp->min_coeff;
    float step_size = lr;
    if (hp->bias_correction) {
        const float bc1 = zs_fused_bias_correction(beta1, s->step);
        const float bc2 = zs_fused_bias_correction(beta2, s->step);
        step_size = lr * sqrtf(bc2) / bc1;
    }
    float *m = state[0], *v = state[1];

    /* part 1: moments */
    for (size_t i = 0; i < n; i++) {
        m[i] = zs_fused_ema(beta1, m[i], grad[i]);
        v[i] = zs_fused_ema_sq(beta2, v[i], grad[i]);
    }

    /* parts 1-2: the two norms, then the trust ratio (part 3 preamble) */
    const lamb_sums sums = lamb_sums_of_squares(hp, eps, decay, param, m, v, n);
    const float w_norm = sqrtf(sums.w), u_norm = sqrtf(sums.u);
    float coeff = 1.0f;
    if (w_norm != 0.0f && u_norm != 0.0f) {
        coeff = w_norm / u_norm;
        if (coeff > max_coeff)
            coeff = max_coeff;
        if (coeff < min_coeff)
            coeff = min_coeff;
    }

    /* part 3: the update, recomputed from the same (p, m, v) */
    for (size_t i = 0; i < n; i++) {
        const float p = param[i];
        const float upd = lamb_update(hp, eps, decay, m[i], v[i], p);
        param[i] = p - (step_size * coeff * upd);
    }
}

const zs_optim_ops zs_optim_fused_lamb = {
    .type = ZS_OPT_LAMB,
    .name = "FusedLamb",
    .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"},
    .step = fused_lamb_step,
    .has_betas = 1,
};
