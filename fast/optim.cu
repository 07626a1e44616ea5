/* Optimizer kernels (optim.h): launches around optim_math.h's element arithmetic (compiled with
 * --fmad=false, so every product and sum rounds separately, as the reference requires) and FusedLamb's
 * block reductions; the scalars come from optim_rules.c. */
#include "optim.h"

#include <math.h>

#include "kernels/common.cuh"
#include "optim_math.h"

/* One thread per element; the arithmetic is optim_math.h's, shared with the host plugin. */
__global__ static void fused_adam_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                                         size_t n, float inv, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_fused_adam_elem(&c, &param[i], grad[i] * inv, &exp_avg[i], &exp_avg_sq[i]);
}

__global__ static void torch_adam_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                                         size_t n, float inv, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_torch_adam_elem(&c, &param[i], grad[i] * inv, &exp_avg[i], &exp_avg_sq[i]);
}

__global__ static void adagrad_kernel(float *param, const float *grad, float *sum, size_t n, float inv,
                                      zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_adagrad_elem(&c, &param[i], grad[i] * inv, &sum[i]);
}

__global__ static void lion_kernel(float *param, const float *grad, float *exp_avg, size_t n, float inv,
                                   zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_lion_elem(&c, &param[i], grad[i] * inv, &exp_avg[i]);
}

__global__ static void sgd_kernel(float *param, const float *grad, float *buf, size_t n, float inv,
                                  zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_sgd_elem(&c, &param[i], grad[i] * inv, &buf[i]);
}

/* ------------------------------------------------------------------------------------------------
 * FusedLamb (fused_lamb_cuda_kernel.cu): B = min(512, ceil(n/512)) blocks of 512 threads. Part 1:
 * moments, then per thread the sums of p^2 and u^2 over elements i, i+T, ... (T = 512B), reduced per
 * block by halving (s[t] += s[t+h], h = 256..1); part 2: one block reduces the B block sums (zero-padded
 * to 512) the same way and forms the trust ratio; part 3: p -= (step_size*coeff)*u. */

#define LAMB_THREADS ZSF_LAMB_THREADS

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
        /* every load first: the moments' stores may alias param (as far as the compiler knows) */
        const float g = grad[j] * inv, p = param[j];
        float m = exp_avg[j], v = exp_avg_sq[j];
        zsf_lamb_moments(&c, g, &m, &v);
        exp_avg[j] = m;
        exp_avg_sq[j] = v;
        const float upd = zsf_lamb_update(&c, m, v, p);
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
    if (t == 0)
        *coeff = zsf_lamb_coeff(&c, sw[0], su[0]);
}

__global__ static void lamb_part3_kernel(float *param, const float *exp_avg, const float *exp_avg_sq, size_t n,
                                         const float *coeff, zsf_optim_scalars c)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    const float p = param[i], upd = zsf_lamb_update(&c, exp_avg[i], exp_avg_sq[i], p);
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
