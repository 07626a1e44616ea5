/* Shared helpers for the kernel headers: launch geometry and the checked launch macro.
 * Every kernel here is written so that each output element is produced by one thread summing in
 * the reference's loop order (docs/spec/model.md): with --fmad=false (fast/CMakeLists.txt) the
 * elementwise arithmetic then rounds exactly as the reference does, and only cuBLAS GEMMs and the
 * CUDA math library's expf/logf/tanhf/coshf differ from it, by rounding. */
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
