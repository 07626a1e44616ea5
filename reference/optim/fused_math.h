/* Arithmetic shared by DeepSpeed's apex-derived fused kernels (multi_tensor_adam.cu,
 * fused_lamb_cuda_kernel.cu, multi_tensor_lion.cu), written once so the order is the same everywhere.
 * All element math is float; nvcc may contract these into FMAs, the reference does not. */
#ifndef ZS_REFERENCE_OPTIM_FUSED_MATH_H
#define ZS_REFERENCE_OPTIM_FUSED_MATH_H

#include <math.h>
#include <stdint.h>

/* beta*m + (1 - beta)*g: two float products, then one add ("1 - beta" is float since beta is). */
static inline float zs_fused_ema(float beta, float m, float g)
{
    return beta * m + (1.0f - beta) * g;
}

/* beta*v + (1 - beta)*g*g, the product associating left: ((1 - beta)*g)*g. */
static inline float zs_fused_ema_sq(float beta, float v, float g)
{
    return beta * v + (1.0f - beta) * g * g;
}

/* Host code `float bc = 1 - std::pow(beta, step)` with float beta and int step: C++ promotes pow's
 * arguments to double, so pow and the subtraction are double and only the result rounds to float. */
static inline float zs_fused_bias_correction(float beta, int64_t step)
{
    return (float)(1.0 - pow((double)beta, (double)step));
}

#endif
