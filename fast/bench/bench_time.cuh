/* Device-side helpers of zs-fast-bench: event timing of a callable and random fills (bench.h). */
#ifndef ZS_FAST_BENCH_TIME_CUH
#define ZS_FAST_BENCH_TIME_CUH

#include <stdint.h>

#include "bench.h"
#include "kernels/common.cuh"
#include "rng.cuh"

/* Times `f` (work enqueued on s) with CUDA events: `warmup` untimed runs, then ms[0..reps). Returns
 * the median. */
template <class F> static double zsfb_time(F f, int warmup, int reps, cudaStream_t s, double *ms)
{
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    for (int i = 0; i < warmup; i++)
        f();
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK(cudaEventRecord(a, s));
        f();
        CUDA_CHECK(cudaEventRecord(b, s));
        CUDA_CHECK(cudaEventSynchronize(b));
        float t = 0.0f;
        CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
        ms[i] = (double)t;
    }
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    double *tmp = new double[reps];
    for (int i = 0; i < reps; i++)
        tmp[i] = ms[i];
    double med = zsfb_median(tmp, reps);
    delete[] tmp;
    return med;
}

/* x[i] = lo + (hi - lo) * u, u uniform in [0, 1) from the spec's counter-based draw, stored as T. */
template <class T> __global__ static void zsfb_fill_kernel(T *x, size_t n, uint64_t key, float lo, float hi)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = st<T>(lo + (hi - lo) * (float)((double)(zsf_draw(key, i) >> 11) * 0x1.0p-53));
}

template <class T> static void zsfb_fill(T *x, size_t n, uint64_t key, float lo, float hi, cudaStream_t s)
{
    ZSF_LAUNCH(zsfb_fill_kernel<T>, n, s, x, n, key, lo, hi);
}

/* tokens[i] uniform in [0, V). */
__global__ static void zsfb_tokens_kernel(int *tok, size_t n, uint64_t key, int V)
{
    size_t i = zsf_tid();
    if (i < n)
        tok[i] = (int)(zsf_draw(key, i) % (uint64_t)V);
}

#endif
