/* The ZeRO engine's element kernels: packing gradients into the exchange layout, unpacking gathered
 * parameters, scaling, accumulation, casting and widening, and the gradient's squared norm. Every
 * result that DeepSpeed holds in the model dtype is stored in it (fp32: no rounding). */
#ifndef ZS_FAST_KERNELS_ZERO_CUH
#define ZS_FAST_KERNELS_ZERO_CUH

#include <stdint.h>

#include "common.cuh"

/* Buffers are typed by a zsf_dtype: ZSF_FP32 float, ZSF_FP16 __half, ZSF_BF16 __nv_bfloat16 (the
 * model-dtype storage of rounding.h). The kernels are templates over the element types (O out, I in);
 * arithmetic is fp32, ld and widen widen exactly (widen also keeps a NaN's payload, for the values
 * stored without arithmetic) and st<O> is fl_O's rounding, so with float buffers each kernel computes
 * what the fp32 code always did. The host wrappers below take void pointers with their dtypes and pick
 * the instantiation. */

/* One element converted from I to O: a copy when the types agree (bit for bit), else widened and
 * rounded to O (exact whenever O can hold the value, e.g. widening). */
template <class O, class I> __device__ static inline O conv_elem(I x)
{
    if constexpr (std::is_same<O, I>::value)
        return x;
    else
        return st<O>(widen(x));
}

/* out[q] = fl_O(in[map[q]] / divisor) (0 where map[q] < 0, i.e. padding; map NULL: in[q]). With divisor
 * W this is the stage 1-3 pre-division of docs/spec.md §10 (x / 1 is exact, so divisor 1 is a plain
 * gather). */
template <class O, class I>
__global__ static void gather_div_kernel(O *out, const I *in, const int64_t *map, size_t n, float divisor)
{
    size_t q = zsf_tid();
    if (q >= n)
        return;
    const int64_t i = map ? map[q] : (int64_t)q;
    out[q] = st<O>(i >= 0 ? widen(in[i]) / divisor : 0.0f);
}

/* out[map[q]] = in[q] where map[q] >= 0 (every model element appears once in the map). */
template <class O, class I> __global__ static void scatter_kernel(O *out, const I *in, const int64_t *map, size_t n)
{
    size_t q = zsf_tid();
    if (q < n && map[q] >= 0)
        out[map[q]] = conv_elem<O>(in[q]);
}

template <class T> __global__ static void scale_kernel(T *x, size_t n, float s)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = st<T>(ld(x[i]) * s);
}

/* dst = fl_T(dst + src) (the micro-step gradient accumulation, in the model dtype). */
template <class T, class I> __global__ static void accumulate_kernel(T *dst, const I *src, size_t n)
{
    size_t i = zsf_tid();
    if (i < n)
        dst[i] = st<T>(ld(dst[i]) + ld(src[i]));
}

/* out = in converted: the fp32 master cast to the model dtype (fl_M), a 16-bit buffer widened to fp32
 * (exact), or a copy. */
template <class O, class I> __global__ static void convert_kernel(O *out, const I *in, size_t n)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = conv_elem<O>(in[i]);
}

/* f(O(), I()) with O, I the storage types of odt, idt. */
template <class F> static inline void zsf_dispatch2(zsf_dtype odt, zsf_dtype idt, F f)
{
    zsf_dispatch(odt, [&](auto o) { zsf_dispatch(idt, [&](auto i) { f(o, i); }); });
}

static inline void zsf_gather_div(void *out, zsf_dtype odt, const void *in, zsf_dtype idt, const int64_t *map,
                                  size_t n, float divisor, cudaStream_t s)
{
    zsf_dispatch2(odt, idt, [&](auto o, auto i) {
        auto k = gather_div_kernel<decltype(o), decltype(i)>;
        ZSF_LAUNCH(k, n, s, (decltype(o) *)out, (const decltype(i) *)in, map, n, divisor);
    });
}

static inline void zsf_scatter(void *out, zsf_dtype odt, const void *in, zsf_dtype idt, const int64_t *map, size_t n,
                               cudaStream_t s)
{
    zsf_dispatch2(odt, idt, [&](auto o, auto i) {
        auto k = scatter_kernel<decltype(o), decltype(i)>;
        ZSF_LAUNCH(k, n, s, (decltype(o) *)out, (const decltype(i) *)in, map, n);
    });
}

static inline void zsf_convert(void *out, zsf_dtype odt, const void *in, zsf_dtype idt, size_t n, cudaStream_t s)
{
    zsf_dispatch2(odt, idt, [&](auto o, auto i) {
        auto k = convert_kernel<decltype(o), decltype(i)>;
        ZSF_LAUNCH(k, n, s, (decltype(o) *)out, (const decltype(i) *)in, n);
    });
}

static inline void zsf_accumulate(void *dst, zsf_dtype dt, const void *src, zsf_dtype sdt, size_t n, cudaStream_t s)
{
    zsf_dispatch2(dt, sdt, [&](auto d, auto i) {
        auto k = accumulate_kernel<decltype(d), decltype(i)>;
        ZSF_LAUNCH(k, n, s, (decltype(d) *)dst, (const decltype(i) *)src, n);
    });
}

static inline void zsf_scale(void *x, zsf_dtype dt, size_t n, float f, cudaStream_t s)
{
    zsf_dispatch(dt, [&](auto d) {
        using T = decltype(d);
        auto k = scale_kernel<T>;
        ZSF_LAUNCH(k, n, s, (T *)x, n, f);
    });
}

/* Element i of a dt-stored device buffer (byte arithmetic on void pointers). */
static inline void *zsf_elem(void *base, zsf_dtype dt, size_t i)
{
    return (unsigned char *)base + i * zsf_dtype_size(dt);
}
static inline const void *zsf_elem(const void *base, zsf_dtype dt, size_t i)
{
    return (const unsigned char *)base + i * zsf_dtype_size(dt);
}

#define ZSF_NORM_BLOCKS 128
#define ZSF_NORM_THREADS 256

/* Pass 1: block b sums g^2 in double over a grid-stride slice and records the first non-finite
 * element index (atomicMin). Pass 2: one thread adds the block sums in block order. The grid is fixed,
 * so the result is deterministic. */
__global__ static void sumsq_partial_kernel(double *partial, unsigned long long *first_bad, const float *g, size_t n)
{
    __shared__ double s[ZSF_NORM_THREADS];
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = g[i];
        if (!isfinite(x))
            atomicMin(first_bad, (unsigned long long)i);
        acc += (double)x * (double)x;
    }
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h)
            s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partial[blockIdx.x] = s[0];
}

__global__ static void sumsq_final_kernel(double *out, const double *partial, int nblocks)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    double s = 0.0;
    for (int b = 0; b < nblocks; b++)
        s += partial[b];
    *out = s;
}

#endif
