/* Round-to-nearest-even into fp16 / bf16 and back (docs/spec/precision.md §2), for host code and
 * CUDA kernels alike: one definition, so the host tests check exactly what the device runs.
 * zsf_round(dt, x) = widen(narrow(x)) is the spec's fl_M(x) held in a float; model-dtype buffers
 * store the 16-bit bits (zsf_narrow / zsf_widen). Subnormals are kept, overflow goes to ±Inf by rule 1, NaN stays a NaN with its sign and
 * top payload bits (fp16: 0x7E00 | sign | mantissa >> 13; bf16: bits >> 16 | 0x0040). */
#ifndef ZS_FAST_ROUNDING_H
#define ZS_FAST_ROUNDING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ZSF_HD __host__ __device__
#else
#define ZSF_HD
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The model dtype of a run (fp32 keeps every value as it is). */
typedef enum zsf_dtype { ZSF_FP32 = 0, ZSF_FP16, ZSF_BF16 } zsf_dtype;

ZSF_HD static inline uint32_t zsf_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

ZSF_HD static inline float zsf_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

ZSF_HD static inline uint16_t zsf_f32_to_f16(float f)
{
    const uint32_t x = zsf_f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u)                       /* NaN: quiet, sign and top payload bits kept */
        return (uint16_t)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
    if (ax >= 0x477FF000u)                      /* >= 65520 (halfway past 65504), or Inf */
        return (uint16_t)(sign | 0x7C00u);
    if (ax >= 0x38800000u) {                    /* a normal fp16 (>= 2^-14): rebias, round 13 bits */
        const uint32_t r = ax - 0x38000000u;
        return (uint16_t)(sign | ((r + 0x0FFFu + ((r >> 13) & 1u)) >> 13));
    }
    /* Subnormal or zero: |f| * 2^24 is exact and < 2^10; adding 2^23 rounds it to an integer, ties
     * to even, and 1024 is the bit pattern of the smallest normal, which is right. */
    const float scaled = zsf_bits_f32(ax) * 16777216.0f;
    const float m = (scaled + 8388608.0f) - 8388608.0f;
    return (uint16_t)(sign | (uint32_t)m);
}

ZSF_HD static inline float zsf_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) {
        const float v = (float)m * 5.9604644775390625e-8f;   /* m * 2^-24, exact */
        return zsf_bits_f32(zsf_f32_bits(v) | sign);
    }
    if (e == 31)
        return zsf_bits_f32(sign | 0x7F800000u | (m << 13));
    return zsf_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

ZSF_HD static inline uint16_t zsf_f32_to_bf16(float f)
{
    const uint32_t x = zsf_f32_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x0040u);
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);   /* carries into the exponent, to Inf */
}

ZSF_HD static inline float zsf_bf16_to_f32(uint16_t b)
{
    return zsf_bits_f32((uint32_t)b << 16);
}

/* fl_M(x) held in a float. */
ZSF_HD static inline float zsf_round(zsf_dtype dt, float x)
{
    if (dt == ZSF_FP16)
        return zsf_f16_to_f32(zsf_f32_to_f16(x));
    if (dt == ZSF_BF16)
        return zsf_bf16_to_f32(zsf_f32_to_bf16(x));
    return x;
}

/* Bytes of one element of a model-dtype buffer: the parameters, gradients and exchange buffers of
 * fp16/bf16 runs are stored in 16 bits (the bits of rounding.h's conversions), fp32 runs in floats. */
ZSF_HD static inline size_t zsf_dtype_size(zsf_dtype dt)
{
    return dt == ZSF_FP32 ? sizeof(float) : sizeof(uint16_t);
}

/* out[i] = fl_M(in[i]) stored in dt's element size (fp32: a copy). */
static inline void zsf_narrow(void *out, const float *in, size_t n, zsf_dtype dt)
{
    uint16_t *o = (uint16_t *)out;
    if (dt == ZSF_FP32)
        memcpy(out, in, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            o[i] = dt == ZSF_FP16 ? zsf_f32_to_f16(in[i]) : zsf_f32_to_bf16(in[i]);
}

/* out[i] = the value of element i of a dt-stored buffer, as a float (exact). */
static inline void zsf_widen(float *out, const void *in, size_t n, zsf_dtype dt)
{
    const uint16_t *x = (const uint16_t *)in;
    if (dt == ZSF_FP32)
        memcpy(out, in, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            out[i] = dt == ZSF_FP16 ? zsf_f16_to_f32(x[i]) : zsf_bf16_to_f32(x[i]);
}

#ifdef __cplusplus
}
#endif
#endif
