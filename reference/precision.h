/* Floating-point storage formats of the reference: round-to-nearest-even conversion of fp32 values
 * to fp16 and bf16, and back. The reference keeps every tensor in `float` arrays; a tensor "stored
 * in fp16" holds only values exactly representable in fp16 (docs/spec/precision.md §2). */
#ifndef ZS_REFERENCE_PRECISION_H
#define ZS_REFERENCE_PRECISION_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/dtype.h"

/* IEEE binary16 bits from a float, round-to-nearest-even; subnormals kept, overflow -> +-Inf,
 * NaN -> quiet NaN with the sign kept (payload's top bits kept, quiet bit set). */
uint16_t zs_f32_to_f16_bits(float x);
float zs_f16_bits_to_f32(uint16_t h);
/* bfloat16 bits from a float, round-to-nearest-even; NaN -> quiet NaN (never rounds to Inf). */
uint16_t zs_f32_to_bf16_bits(float x);
float zs_bf16_bits_to_f32(uint16_t b);

/* Rounds x to the nearest value representable in `t` (ZS_F32: identity). Only F32/F16/BF16. */
float zs_round_to(zs_dtype t, float x);
/* In-place rounding of an array; a no-op for ZS_F32. */
void zs_round_array(zs_dtype t, float *x, size_t n);

#endif
