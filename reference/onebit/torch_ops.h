/* The element arithmetic of the torch calls the 1-bit optimizers make on CUDA fp32 tensors
 * (deepspeed/runtime/fp16/onebit/{adam,zoadam,lamb}.py), written once. Python scalars are doubles; an ATen CUDA kernel
 * converts a host scalar to float (its opmath type) before use, and divides by a host scalar as a
 * multiply by the float reciprocal (BinaryDivTrueKernel.cu div_true_kernel_cuda). */
#ifndef ZS_REFERENCE_ONEBIT_TORCH_OPS_H
#define ZS_REFERENCE_ONEBIT_TORCH_OPS_H

#include <math.h>

/* m.mul_(beta).add_(1 - beta, g): two roundings for the products, one for the sum. */
static inline float zs_torch_ema(double beta, float m, float g)
{
    return m * (float)beta + (float)(1.0 - beta) * g;
}

/* v.mul_(beta).addcmul_(1 - beta, g, g): addcmul is a + alpha*(b*c). */
static inline float zs_torch_ema_sq(double beta, float v, float g)
{
    return v * (float)beta + (float)(1.0 - beta) * (g * g);
}

/* tensor / python_float */
static inline float zs_torch_div_scalar(float a, double d)
{
    return a * (1.0f / (float)d);
}

/* update = m / (sqrt(v) + eps); update += wd*p when wd > 0 (OnebitAdam, ZeroOneAdam, OnebitLamb). */
static inline float zs_onebit_update(float m, float v, double eps, double wd, float p)
{
    float u = m / (sqrtf(v) + (float)eps);
    return wd > 0.0 ? u + (float)wd * p : u;
}

#endif
