/* GELU, tanh approximation (Hugging Face "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * The expressions keep the reference's association: cube = ((0.044715 x) x) x, (0.5 x)(1 + th). */
#ifndef ZS_FAST_KERNELS_GELU_CUH
#define ZS_FAST_KERNELS_GELU_CUH

#include "common.cuh"

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* The tanh argument, sqrt(2/pi) * (x + ((0.044715 x) x) x). */
__device__ static inline float gelu_arg(float x)
{
    float cube = 0.044715f * x * x * x;
    return GELU_SCALE * (x + cube);
}

template <class T> __global__ static void gelu_forward_kernel(T *out, const T *inp, size_t n)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    float x = ld(inp[i]);
    out[i] = st<T>(0.5f * x * (1.0f + tanhf(gelu_arg(x))));
}

/* d[i] = fl_M(gelu'(inp[i]) * dout[i]): dout is the GELU output's gradient as its GEMM stored it (a
 * finished activation gradient, rounded), d the GELU input's; they may be one buffer. */
template <class T> __global__ static void gelu_backward_kernel(T *d, const T *dout, const T *inp, size_t n)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    float x = ld(inp[i]);
    float arg = gelu_arg(x);
    float th = tanhf(arg);
    float ch = coshf(arg);
    float sech2 = 1.0f / (ch * ch);
    float local = 0.5f * (1.0f + th) + x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    d[i] = st<T>(local * ld(dout[i]));
}

template <class T> static void gelu_forward(T *out, const T *inp, size_t n, cudaStream_t s)
{
    ZSF_LAUNCH(gelu_forward_kernel<T>, n, s, out, inp, n);
}

template <class T> static void gelu_backward(T *d, const T *dout, const T *inp, size_t n, cudaStream_t s)
{
    ZSF_LAUNCH(gelu_backward_kernel<T>, n, s, d, dout, inp, n);
}

#undef GELU_SCALE
#endif
