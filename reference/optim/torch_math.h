/* Element arithmetic of ATen's CUDA kernels that several torch-based rules share, written once. */
#ifndef ZS_REFERENCE_OPTIM_TORCH_MATH_H
#define ZS_REFERENCE_OPTIM_TORCH_MATH_H

#include <math.h>

/* at::native::lerp (ATen/native/Lerp.h) in opmath float: the two forms keep the result exact at
 * w = 0 and w = 1. A Python scalar weight reaches the kernel as fl32(weight). */
static inline float zs_torch_lerp(float self, float end, float w)
{
    return fabsf(w) < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

#endif
