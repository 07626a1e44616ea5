/* Token + position embedding. out[B,T,C] = wte[inp[b,t]] + wpe[t].
 * Backward: dwte[v] += sum over positions with inp == v of dout (added to the LM head's gradient
 * already in dwte, positions in (b, t) order); dwpe[t] = sum over b of dout[b, t] (b in order). */
#ifndef ZS_FAST_KERNELS_ENCODER_CUH
#define ZS_FAST_KERNELS_ENCODER_CUH

#include "common.cuh"

__global__ static void encoder_forward_kernel(float *out, const int *inp, const float *wte, const float *wpe,
                                              int B, int T, int C, zsf_dtype dt)
{
    size_t i = zsf_tid();   /* over B*T*C */
    if (i >= (size_t)B * T * C)
        return;
    size_t bt = i / C, c = i % C, t = bt % T;
    out[i] = zsf_round(dt, wte[(size_t)inp[bt] * C + c] + wpe[t * C + c]);
}

/* One thread per (v, c): deterministic, and the same summation order as the reference. */
__global__ static void encoder_backward_wte_kernel(float *dwte, const float *dout, const int *inp, int BT, int C,
                                                   int V)
{
    size_t i = zsf_tid();   /* over V*C */
    if (i >= (size_t)V * C)
        return;
    int v = (int)(i / C), c = (int)(i % C);
    float acc = dwte[i];
    for (int bt = 0; bt < BT; bt++)
        if (inp[bt] == v)
            acc = acc + dout[(size_t)bt * C + c];
    dwte[i] = acc;
}

__global__ static void encoder_backward_wpe_kernel(float *dwpe, const float *dout, int B, int T, int C)
{
    size_t i = zsf_tid();   /* over T*C */
    if (i >= (size_t)T * C)
        return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++)
        acc = acc + dout[(size_t)b * T * C + i];
    dwpe[i] = acc;
}

static void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe, int B, int T, int C,
                            zsf_dtype dt, cudaStream_t s)
{
    ZSF_LAUNCH(encoder_forward_kernel, (size_t)B * T * C, s, out, inp, wte, wpe, B, T, C, dt);
}

static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T, int C, int V,
                             cudaStream_t s)
{
    ZSF_LAUNCH(encoder_backward_wte_kernel, (size_t)V * C, s, dwte, dout, inp, B * T, C, V);
    ZSF_LAUNCH(encoder_backward_wpe_kernel, (size_t)T * C, s, dwpe, dout, B, T, C);
}

#endif
