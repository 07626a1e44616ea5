/* Shared helpers for the kernel headers: launch geometry and the checked launch macro.
 * With --fmad=false (fast/CMakeLists.txt) elementwise arithmetic rounds exactly as the reference
 * does. Reductions either sum in the reference's loop order (docs/spec/model.md) or, where that
 * would leave the chip idle (row reductions, attention), in another fixed order: an fp32 sum may be
 * reassociated (docs/conformance.md), and a fixed order keeps runs bit-identical. cuBLAS GEMMs and
 * the CUDA math library's expf/logf/tanhf/coshf differ from the reference by rounding. */
#ifndef ZS_FAST_KERNELS_COMMON_CUH
#define ZS_FAST_KERNELS_COMMON_CUH

#include <stddef.h>

#include "../check.h"
#include "../rounding.h"

#define ZSF_BLOCK 256

static inline unsigned zsf_blocks(size_t n)
{
    return (unsigned)((n + ZSF_BLOCK - 1) / ZSF_BLOCK);
}

/* Launches kernel over n threads (nothing when n == 0) on `stream` and checks the launch. */
#define ZSF_LAUNCH(kernel, n, stream, ...)                                                         \
    do {                                                                                           \
        size_t zsf_n_ = (n);                                                                       \
        if (zsf_n_) {                                                                              \
            kernel<<<zsf_blocks(zsf_n_), ZSF_BLOCK, 0, (stream)>>>(__VA_ARGS__);                   \
            CUDA_CHECK_LAUNCH();                                                                   \
        }                                                                                          \
    } while (0)

/* Row kernels give each row to one warp of a ZSF_BLOCK-thread block: lane-strided left folds, then
 * warp_sum / warp_max, a fixed butterfly whose partners combine the same two values (commutative),
 * so every lane ends with the same bits and runs are bit-identical. */
#define ZSF_WARPS_PER_BLOCK (ZSF_BLOCK / 32)

__device__ static inline float warp_sum(float x)
{
    for (int m = 16; m > 0; m >>= 1)
        x = x + __shfl_xor_sync(0xffffffffu, x, m);
    return x;
}

__device__ static inline float warp_max(float x)
{
    for (int m = 16; m > 0; m >>= 1) {
        float y = __shfl_xor_sync(0xffffffffu, x, m);
        x = y > x ? y : x;
    }
    return x;
}

/* Launches kernel with one warp per row over `rows` rows and checks the launch. */
#define ZSF_LAUNCH_ROWS(kernel, rows, stream, ...)                                                 \
    do {                                                                                           \
        size_t zsf_rows_ = (rows);                                                                 \
        if (zsf_rows_) {                                                                           \
            kernel<<<(unsigned)((zsf_rows_ + ZSF_WARPS_PER_BLOCK - 1) / ZSF_WARPS_PER_BLOCK), ZSF_BLOCK, 0, \
                     (stream)>>>(__VA_ARGS__);                                                     \
            CUDA_CHECK_LAUNCH();                                                                   \
        }                                                                                          \
    } while (0)

/* The row of the calling warp in a ZSF_LAUNCH_ROWS launch. */
__device__ static inline size_t zsf_warp_row(void)
{
    return (size_t)blockIdx.x * ZSF_WARPS_PER_BLOCK + threadIdx.x / 32;
}

/* Global thread index for 1-D launches. */
__device__ static inline size_t zsf_tid(void)
{
    return (size_t)blockIdx.x * blockDim.x + threadIdx.x;
}

/* x = fl_M(x) in place: a rounding point of docs/spec/model.md (nothing in fp32). */
__global__ static void round_kernel(float *x, size_t n, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = zsf_round(dt, x[i]);
}

static inline void round_inplace(float *x, size_t n, zsf_dtype dt, cudaStream_t s)
{
    if (dt != ZSF_FP32)
        ZSF_LAUNCH(round_kernel, n, s, x, n, dt);
}

#endif
