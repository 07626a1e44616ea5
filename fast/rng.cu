/* Initial parameters and training tokens on the GPU (rng.h). */
#include "rng.h"

#include "kernels/common.cuh"
#include "rng.cuh"

__global__ static void init_normal_kernel(float *out, size_t n, uint64_t key, double std)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = (float)(std * zsf_normal(key, i));   /* product in double, rounded once */
}

__global__ static void fill_kernel(float *out, size_t n, float v)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = v;
}

void zsf_rng_init_params(const zsf_params *t, uint64_t seed, float *params, cudaStream_t s)
{
    const uint64_t init_key = zsf_key(seed, ZSF_DOMAIN_INIT);
    for (int p = 0; p < t->n; p++) {
        const zsf_param *prm = &t->p[p];
        float *out = params + prm->offset;
        if (prm->init == ZSF_INIT_NORMAL || prm->init == ZSF_INIT_NORMAL_PROJ)
            ZSF_LAUNCH(init_normal_kernel, prm->numel, s, out, prm->numel, zsf_key(init_key, (uint64_t)p),
                       zsf_param_init_std(prm, t->dims.layers));
        else
            ZSF_LAUNCH(fill_kernel, prm->numel, s, out, prm->numel, prm->init == ZSF_INIT_ONE ? 1.0f : 0.0f);
    }
}

__global__ static void micro_batch_kernel(uint64_t step_key, uint64_t g0, int B, int T, int V, int *inputs,
                                          int *targets)
{
    size_t i = zsf_tid();   /* over B*T */
    if (i >= (size_t)B * T)
        return;
    uint64_t b = i / T, t = i % T, vocab = (uint64_t)V;
    uint64_t kk = zsf_key(step_key, g0 + b);
    uint64_t x0 = zsf_draw(kk, 0) % vocab;
    uint64_t stride = 1 + zsf_draw(kk, 1) % 7;
    inputs[i] = (int)((x0 + t * stride) % vocab);
    targets[i] = (int)((x0 + (t + 1) * stride) % vocab);
}

void zsf_rng_micro_batch(uint64_t seed, uint64_t step, uint64_t g0, int B, int T, int V, int *inputs, int *targets,
                         cudaStream_t s)
{
    const uint64_t step_key = zsf_key(zsf_key(seed, ZSF_DOMAIN_DATA), step);
    ZSF_LAUNCH(micro_batch_kernel, (size_t)B * T, s, step_key, g0, B, T, V, inputs, targets);
}
