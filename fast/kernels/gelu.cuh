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

/* 0.5 (1 + tanh u) = s = 1 / (1 + E) and sech^2 u = 4 s (1 - s), from one exponential E = exp(-2u).
 * 1 - s is E s where u >= 0 (no cancellation as s -> 1) and 1 - s itself where u < 0 (s < 1/2; E may
 * overflow to Inf there, s is then 0). The fp16/bf16 kernels use this, "tanh through expf" in
 * docs/conformance.md's terms: tanhf + coshf + a division made GELU's backward ALU-bound (2.0 ms per
 * bf16 step on an H100, performance-notes.md run 9), and the result rounds to 8 or 11 bits right
 * after. fp32 keeps the spec's tanhf and 1 / cosh^2. Infinite or NaN x give what the spec's
 * formulas give (NaN where they have Inf * 0). */
struct gelu_halves {
    float s, sech2;
};

__device__ static inline gelu_halves gelu_from_exp(float u)
{
    float E = expf(-2.0f * u);
    float s = 1.0f / (1.0f + E);
    float one_minus_s = u >= 0.0f ? E * s : 1.0f - s;
    return {s, 4.0f * s * one_minus_s};
}

/* gelu(x) = (0.5 x)(1 + tanh u) */
template <class T> __device__ static inline float gelu_value(float x)
{
    if constexpr (zsf_is_f32<T>)
        return 0.5f * x * (1.0f + tanhf(gelu_arg(x)));
    else
        return x * gelu_from_exp(gelu_arg(x)).s;   /* (0.5 x)(2 s): the factors 0.5 and 2 are exact */
}

/* gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
template <class T> __device__ static inline float gelu_slope(float x)
{
    float arg = gelu_arg(x), half_1_th, sech2;
    if constexpr (zsf_is_f32<T>) {
        float ch = coshf(arg);
        half_1_th = 0.5f * (1.0f + tanhf(arg));
        sech2 = 1.0f / (ch * ch);
    } else {
        gelu_halves g = gelu_from_exp(arg);
        half_1_th = g.s;
        sech2 = g.sech2;
    }
    return half_1_th + x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
}

/* One thread per 16-byte vector (common.cuh); vec: both pointers 16-byte aligned. */
template <class T> __global__ static void gelu_forward_kernel(T *out, const T *inp, size_t n, int vec)
{
    size_t i0 = zsf_tid() * zsf_vec_n<T>;
    if (i0 >= n)
        return;
    zsf_vec<T> x = vload(inp, i0, n, vec);
#pragma unroll
    for (int j = 0; j < zsf_vec_n<T>; j++)
        x.v[j] = st<T>(gelu_value<T>(ld(x.v[j])));
    vstore(out, i0, n, vec, x);
}

/* d[i] = fl_M(gelu'(inp[i]) * dout[i]): dout is the GELU output's gradient as its GEMM stored it (a
 * finished activation gradient, rounded), d the GELU input's; they may be one buffer (each thread
 * reads its elements of both before it writes them). */
template <class T> __global__ static void gelu_backward_kernel(T *d, const T *dout, const T *inp, size_t n, int vec)
{
    size_t i0 = zsf_tid() * zsf_vec_n<T>;
    if (i0 >= n)
        return;
    zsf_vec<T> x = vload(inp, i0, n, vec), g = vload(dout, i0, n, vec);
#pragma unroll
    for (int j = 0; j < zsf_vec_n<T>; j++)
        g.v[j] = st<T>(gelu_slope<T>(ld(x.v[j])) * ld(g.v[j]));
    vstore(d, i0, n, vec, g);
}

template <class T> static void gelu_forward(T *out, const T *inp, size_t n, cudaStream_t s)
{
    int vec = zsf_aligned16(out, inp);
    ZSF_LAUNCH_VEC(gelu_forward_kernel<T>, T, n, s, out, inp, n, vec);
}

template <class T> static void gelu_backward(T *d, const T *dout, const T *inp, size_t n, cudaStream_t s)
{
    int vec = zsf_aligned16(d, dout, inp);
    ZSF_LAUNCH_VEC(gelu_backward_kernel<T>, T, n, s, d, dout, inp, n, vec);
}

#undef GELU_SCALE
#endif
