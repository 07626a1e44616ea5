/* Round-to-nearest-even conversions between fp32 and the 16-bit formats, in portable C.
 * Bit manipulation only: no dependence on the host's half-precision support or rounding mode. */
#include "precision.h"

#include <string.h>

static uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t zs_f32_to_f16_bits(float x)
{
    uint32_t u = float_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t exp = (u >> 23) & 0xFFu;
    uint32_t man = u & 0x7FFFFFu;

    if (exp == 0xFFu) {                       /* Inf or NaN */
        if (man == 0)
            return sign | 0x7C00u;
        return sign | 0x7E00u | (uint16_t)(man >> 13);   /* quiet NaN, top payload bits kept */
    }
    int e = (int)exp - 127 + 15;              /* re-biased exponent */
    if (e >= 31)                              /* too large even before rounding */
        return sign | 0x7C00u;
    if (e <= 0) {                             /* subnormal half (or zero) */
        if (e < -10)                          /* below half the smallest subnormal: rounds to 0 */
            return sign;
        uint32_t m = man | 0x800000u;         /* implicit bit */
        int shift = 14 - e;                   /* 14..24 bits to drop */
        uint32_t half_bits = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_bits & 1u)))
            half_bits++;                      /* may carry into the smallest normal: correct */
        return sign | (uint16_t)half_bits;
    }
    uint32_t half_bits = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (half_bits & 1u)))
        half_bits++;                          /* carry may reach exponent 31 = Inf: correct */
    return sign | (uint16_t)half_bits;
}

float zs_f16_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1Fu)
        return bits_float(sign | 0x7F800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return bits_float(sign);
        /* subnormal: value = man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_float(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t zs_f32_to_bf16_bits(float x)
{
    uint32_t u = float_bits(x);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu))   /* NaN: keep sign, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7FFFu + lsb;                       /* round half to even; overflow carries to Inf */
    return (uint16_t)(u >> 16);
}

float zs_bf16_bits_to_f32(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

float zs_round_to(zs_dtype t, float x)
{
    switch (t) {
    case ZS_F16:
        return zs_f16_bits_to_f32(zs_f32_to_f16_bits(x));
    case ZS_BF16:
        return zs_bf16_bits_to_f32(zs_f32_to_bf16_bits(x));
    default:
        return x;
    }
}

void zs_round_array(zs_dtype t, float *x, size_t n)
{
    if (t != ZS_F16 && t != ZS_BF16)
        return;
    for (size_t i = 0; i < n; i++)
        x[i] = zs_round_to(t, x[i]);
}
