/* LayerNorm over C: out = ((x - mean) * rstd) * weight + bias, rstd = 1 / sqrt(var + 1e-5), var biased.
 * inp, out: [BT, C]; mean, rstd: [BT] (kept for the backward pass). One thread per row, sums in c order. */
#ifndef ZS_FAST_KERNELS_LAYERNORM_CUH
#define ZS_FAST_KERNELS_LAYERNORM_CUH

#include "common.cuh"

__global__ static void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *inp,
                                                const float *weight, const float *bias, int BT, int C,
                                                zsf_dtype dt)
{
    size_t bt = zsf_tid();
    if (bt >= (size_t)BT)
        return;
    const float *x = inp + bt * C;
    float m = 0.0f;
    for (int c = 0; c < C; c++)
        m = m + x[c];
    m = m / (float)C;
    float v = 0.0f;
    for (int c = 0; c < C; c++) {
        float dx = x[c] - m;
        v = v + dx * dx;
    }
    v = v / (float)C;
    float s = 1.0f / sqrtf(v + 1e-5f);
    float *o = out + bt * C;
    for (int c = 0; c < C; c++)
        o[c] = zsf_round(dt, ((x[c] - m) * s) * weight[c] + bias[c]);
    mean[bt] = m;
    rstd[bt] = s;
}

/* dinp[bt] += ((dnorm - mean(dnorm)) - norm * mean(dnorm * norm)) * rstd, dnorm = weight * dout. */
__global__ static void layernorm_backward_dinp_kernel(float *dinp, const float *dout, const float *inp,
                                                      const float *weight, const float *mean, const float *rstd,
                                                      int BT, int C)
{
    size_t bt = zsf_tid();
    if (bt >= (size_t)BT)
        return;
    const float *d = dout + bt * C, *x = inp + bt * C;
    float *dx = dinp + bt * C;
    float m = mean[bt], s = rstd[bt];
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (int c = 0; c < C; c++) {
        float norm = (x[c] - m) * s;
        float dnorm = weight[c] * d[c];
        dnorm_mean = dnorm_mean + dnorm;
        dnorm_norm_mean = dnorm_norm_mean + dnorm * norm;
    }
    dnorm_mean = dnorm_mean / (float)C;
    dnorm_norm_mean = dnorm_norm_mean / (float)C;
    for (int c = 0; c < C; c++) {
        float norm = (x[c] - m) * s;
        float dnorm = weight[c] * d[c];
        dx[c] = dx[c] + ((dnorm - dnorm_mean) - norm * dnorm_norm_mean) * s;
    }
}

/* dweight[c] = sum_bt norm * dout, dbias[c] = sum_bt dout: one thread per channel, bt in order. */
__global__ static void layernorm_backward_params_kernel(float *dweight, float *dbias, const float *dout,
                                                        const float *inp, const float *mean, const float *rstd,
                                                        int BT, int C)
{
    size_t c = zsf_tid();
    if (c >= (size_t)C)
        return;
    float dw = 0.0f, db = 0.0f;
    for (int bt = 0; bt < BT; bt++) {
        float d = dout[(size_t)bt * C + c];
        float norm = (inp[(size_t)bt * C + c] - mean[bt]) * rstd[bt];
        db = db + d;
        dw = dw + norm * d;
    }
    dweight[c] = dw;
    dbias[c] = db;
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                              const float *bias, int BT, int C, zsf_dtype dt, cudaStream_t s)
{
    ZSF_LAUNCH(layernorm_forward_kernel, (size_t)BT, s, out, mean, rstd, inp, weight, bias, BT, C, dt);
}

/* Adds the input gradient into dinp (the residual stream's gradient) and writes dweight, dbias. */
static void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                               const float *weight, const float *mean, const float *rstd, int BT, int C,
                               cudaStream_t s)
{
    ZSF_LAUNCH(layernorm_backward_dinp_kernel, (size_t)BT, s, dinp, dout, inp, weight, mean, rstd, BT, C);
    ZSF_LAUNCH(layernorm_backward_params_kernel, (size_t)C, s, dweight, dbias, dout, inp, mean, rstd, BT, C);
}

#endif
