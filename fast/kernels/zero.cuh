/* The ZeRO engine's element kernels: packing gradients into the exchange layout, unpacking gathered
 * parameters, scaling, accumulation, casting, and the gradient's squared norm. `dt` is the model
 * dtype: every result that DeepSpeed holds in it is rounded to it (fp32: no rounding). */
#ifndef ZS_FAST_KERNELS_ZERO_CUH
#define ZS_FAST_KERNELS_ZERO_CUH

#include <stdint.h>

#include "common.cuh"

/* out[q] = fl_M(in[map[q]] / divisor) (0 where map[q] < 0, i.e. padding). With divisor W this is the
 * stage 1-3 pre-division of docs/spec.md §10 (x / 1 is exact, so divisor 1 is a plain gather). */
__global__ static void gather_div_kernel(float *out, const float *in, const int64_t *map, size_t n, float divisor,
                                         zsf_dtype dt)
{
    size_t q = zsf_tid();
    if (q < n)
        out[q] = map[q] >= 0 ? zsf_round(dt, in[map[q]] / divisor) : 0.0f;
}

/* out[map[q]] = in[q] where map[q] >= 0 (every model element appears once in the map). */
__global__ static void scatter_kernel(float *out, const float *in, const int64_t *map, size_t n)
{
    size_t q = zsf_tid();
    if (q < n && map[q] >= 0)
        out[map[q]] = in[q];
}

__global__ static void scale_kernel(float *x, size_t n, float s, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = zsf_round(dt, x[i] * s);
}

/* dst += src (the micro-step gradient accumulation, in the model dtype). */
__global__ static void accumulate_kernel(float *dst, const float *src, size_t n, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        dst[i] = zsf_round(dt, dst[i] + src[i]);
}

/* out = fl_M(in): the fp32 master cast to the model dtype. */
__global__ static void cast_kernel(float *out, const float *in, size_t n, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = zsf_round(dt, in[i]);
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
