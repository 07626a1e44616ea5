/* Optimizer kernels (optim.h). Element math is float, left to right as each source writes it
 * (compiled with --fmad=false, so every product and sum rounds separately, as the reference requires);
 * the formulas are docs/spec/optimizers.md §2-7, the scalars come from optim_rules.c. */
#include "optim.h"

#include <math.h>

#include "kernels/common.cuh"

/* FusedAdam (multi_tensor_adam.cu AdamFunctor):
 *   L2 mode: g = g + wd*p ;  m = b1*m + (1 - b1)*g ;  v = b2*v + ((1 - b2)*g)*g
 *   update = (m / bc1) / (sqrt(v / bc2) + eps) ;  AdamW mode: update = update + wd*p ;  p = p - lr*update */
__global__ static void fused_adam_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                                         size_t n, float inv, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i];
    float g = grad[i] * inv;
    if (!c.adam_w_mode)
        g = g + c.wd * p;
    const float m = c.beta1 * exp_avg[i] + (1.0f - c.beta1) * g;
    const float v = c.beta2 * exp_avg_sq[i] + (1.0f - c.beta2) * g * g;
    const float denom = sqrtf(v / c.bc2) + c.eps;
    float update = (m / c.bc1) / denom;
    if (c.adam_w_mode)
        update = update + c.wd * p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p - c.lr * update;
}

/* torch.optim.Adam/AdamW, foreach path (torch/optim/adam.py _multi_tensor_adam). */
__global__ static void torch_adam_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                                         size_t n, float inv, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    float p = param[i], g = grad[i] * inv;
    if (c.apply_wd) {
        if (c.adam_w_mode)
            p = p * c.decay;
        else
            g = g + c.wd * p;
    }
    const float m0 = exp_avg[i];   /* at::native::lerp: exact at both ends */
    const float m = fabsf(c.lerp_w) < 0.5f ? m0 + c.lerp_w * (g - m0) : g - (g - m0) * (1.0f - c.lerp_w);
    float v = exp_avg_sq[i] * c.beta2;
    v = v + c.one_minus_b2 * (g * g);
    float denom = sqrtf(v);
    denom = denom / c.bc2_sqrt;
    denom = denom + c.eps;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p + c.step_size * (m / denom);
}

/* The unscaled gradient with torch's L2 term (_foreach_add(grads, params, alpha=wd), only when wd != 0). */
__device__ static inline float torch_l2_grad(const zsf_optim_scalars &c, float grad, float inv, float p)
{
    const float g = grad * inv;
    return c.apply_wd ? g + c.wd * p : g;
}

/* torch.optim.Adagrad, foreach path: the L2 term enters the accumulator and the numerator. */
__global__ static void adagrad_kernel(float *param, const float *grad, float *sum, size_t n, float inv,
                                      zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i];
    const float g = torch_l2_grad(c, grad[i], inv, p);
    float acc = c.first_step ? c.init_acc : sum[i];   /* torch.full_like at construction */
    acc = acc + g * g;
    const float std_ = sqrtf(acc) + c.eps;
    sum[i] = acc;
    param[i] = p + (g * c.minus_clr) / std_;
}

/* FusedLion (multi_tensor_lion.cu LionFunctor): the sign of the interpolation, decay always applied. */
__global__ static void lion_kernel(float *param, const float *grad, float *exp_avg, size_t n, float inv,
                                   zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float g = grad[i] * inv, m = exp_avg[i];
    const float mix = c.beta1 * m + (1.0f - c.beta1) * g;
    const float update = mix > 0.0f ? -c.lr : c.lr;   /* +0, -0 and NaN all give +lr */
    param[i] = param[i] * c.decay + update;
    exp_avg[i] = c.beta2 * m + (1.0f - c.beta2) * g;
}

/* torch.optim.SGD, foreach path: momentum buffer cloned on the first step, no dampening then. */
__global__ static void sgd_kernel(float *param, const float *grad, float *buf, size_t n, float inv,
                                  zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i];
    float g = torch_l2_grad(c, grad[i], inv, p);
    if (c.momentum != 0.0f) {
        float b;
        if (c.first_step) {
            b = g;
        } else {
            b = buf[i] * c.momentum;
            b = b + c.one_minus_damp * g;
        }
        buf[i] = b;
        g = c.nesterov ? g + c.momentum * b : b;
    }
    param[i] = p + c.neg_lr * g;
}

/* ------------------------------------------------------------------------------------------------
 * FusedLamb (fused_lamb_cuda_kernel.cu): B = min(512, ceil(n/512)) blocks of 512 threads. Part 1:
 * moments, then per thread the sums of p^2 and u^2 over elements i, i+T, ... (T = 512B), reduced per
 * block by halving (s[t] += s[t+h], h = 256..1); part 2: one block reduces the B block sums (zero-padded
 * to 512) the same way and forms the trust ratio; part 3: p -= (step_size*coeff)*u. */

#define LAMB_THREADS 512

__device__ static inline float lamb_update(const zsf_optim_scalars &c, float m, float v, float p)
{
    const float denom = c.eps_inside_sqrt ? sqrtf(v + c.eps) : sqrtf(v) + c.eps;
    return (m / denom) + (c.wd * p);
}

__device__ static inline void lamb_tree(float *s)
{
    for (int h = LAMB_THREADS / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h)
            s[threadIdx.x] = s[threadIdx.x] + s[threadIdx.x + h];
        __syncthreads();
    }
}

__global__ static void lamb_part1_kernel(float *block_sums, const float *param, const float *grad, float *exp_avg,
                                         float *exp_avg_sq, size_t n, float inv, zsf_optim_scalars c)
{
    __shared__ float sw[LAMB_THREADS], su[LAMB_THREADS];
    const size_t T = (size_t)gridDim.x * LAMB_THREADS;
    float w = 0.0f, u = 0.0f;
    for (size_t j = (size_t)blockIdx.x * LAMB_THREADS + threadIdx.x; j < n; j += T) {
        const float g = grad[j] * inv;
        const float m = c.beta1 * exp_avg[j] + (1.0f - c.beta1) * g;
        const float v = c.beta2 * exp_avg_sq[j] + (1.0f - c.beta2) * g * g;
        exp_avg[j] = m;
        exp_avg_sq[j] = v;
        const float p = param[j], upd = lamb_update(c, m, v, p);
        u = u + upd * upd;
        w = w + p * p;
    }
    sw[threadIdx.x] = w;
    su[threadIdx.x] = u;
    __syncthreads();
    lamb_tree(sw);
    lamb_tree(su);
    if (threadIdx.x == 0) {
        block_sums[blockIdx.x] = sw[0];
        block_sums[LAMB_THREADS + blockIdx.x] = su[0];
    }
}

__global__ static void lamb_part2_kernel(float *coeff, const float *block_sums, int blocks, zsf_optim_scalars c)
{
    __shared__ float sw[LAMB_THREADS], su[LAMB_THREADS];
    const int t = (int)threadIdx.x;
    sw[t] = t < blocks ? block_sums[t] : 0.0f;
    su[t] = t < blocks ? block_sums[LAMB_THREADS + t] : 0.0f;
    __syncthreads();
    lamb_tree(sw);
    lamb_tree(su);
    if (t == 0) {
        const float wn = sqrtf(sw[0]), un = sqrtf(su[0]);
        float k = 1.0f;
        if (wn != 0.0f && un != 0.0f) {   /* a NaN norm gives a NaN ratio, as in the kernel */
            k = wn / un;
            if (k > c.max_coeff)
                k = c.max_coeff;
            if (k < c.min_coeff)
                k = c.min_coeff;
        }
        *coeff = k;
    }
}

__global__ static void lamb_part3_kernel(float *param, const float *exp_avg, const float *exp_avg_sq, size_t n,
                                         const float *coeff, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i], upd = lamb_update(c, exp_avg[i], exp_avg_sq[i], p);
    param[i] = p - (c.step_size * *coeff) * upd;
}

static void fused_lamb(const zsf_optim_scalars *c, float inv, float *param, const float *grad, float *m, float *v,
                       size_t n, float *scratch, cudaStream_t s)
{
    if (n == 0)
        return;
    size_t blocks = (n + LAMB_THREADS - 1) / LAMB_THREADS;
    blocks = blocks > LAMB_THREADS ? LAMB_THREADS : blocks;
    float *coeff = scratch + 2 * LAMB_THREADS;
    lamb_part1_kernel<<<(unsigned)blocks, LAMB_THREADS, 0, s>>>(scratch, param, grad, m, v, n, inv, *c);
    CUDA_CHECK_LAUNCH();
    lamb_part2_kernel<<<1, LAMB_THREADS, 0, s>>>(coeff, scratch, (int)blocks, *c);
    CUDA_CHECK_LAUNCH();
    ZSF_LAUNCH(lamb_part3_kernel, n, s, param, m, v, n, coeff, *c);
}

/* ------------------------------------------------------------------------------------------------ */

void zsf_optim_step(const zsf_optim_scalars *sc, float inv, float *param, const float *grad, float *const *state,
                    size_t n, float *scratch, cudaStream_t s)
{
    switch (sc->rule) {
    case ZSF_FUSED_ADAM:
        ZSF_LAUNCH(fused_adam_kernel, n, s, param, grad, state[0], state[1], n, inv, *sc);
        break;
    case ZSF_TORCH_ADAM:
        ZSF_LAUNCH(torch_adam_kernel, n, s, param, grad, state[0], state[1], n, inv, *sc);
        break;
    case ZSF_FUSED_LAMB:
        fused_lamb(sc, inv, param, grad, state[0], state[1], n, scratch, s);
        break;
    case ZSF_TORCH_ADAGRAD:
        ZSF_LAUNCH(adagrad_kernel, n, s, param, grad, state[0], n, inv, *sc);
        break;
    case ZSF_FUSED_LION:
        ZSF_LAUNCH(lion_kernel, n, s, param, grad, state[0], n, inv, *sc);
        break;
    case ZSF_TORCH_SGD:
        ZSF_LAUNCH(sgd_kernel, n, s, param, grad, state[0], n, inv, *sc);
        break;
    default:
        zsf_die(__FILE__, __LINE__, "zsf_optim_step", "unknown optimizer rule");
    }
}

void zsf_fused_adam(const zs_optimizer_config *hp, int64_t t, double lr, float inv, float *param, const float *grad,
                    float *exp_avg, float *exp_avg_sq, size_t n, cudaStream_t s)
{
    zsf_optim_scalars sc;
    zsf_optim_scalars_for(ZSF_FUSED_ADAM, hp, t, lr, hp->betas[0], hp->betas[1], &sc);
    ZSF_LAUNCH(fused_adam_kernel, n, s, param, grad, exp_avg, exp_avg_sq, n, inv, sc);
}
