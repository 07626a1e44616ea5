/* fast/rounding.h against docs/spec/precision.md §2: every fp16/bf16 pattern survives widen+narrow,
 * ties go to even, overflow and subnormal boundaries, NaN sign and payload, and (fp16) agreement with
 * the compiler's _Float16 conversion over a sweep of floats. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rounding.h"

static int is_nan16(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu); }

static void test_f16_patterns_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        const float f = zsf_f16_to_f32((uint16_t)h);
        const uint16_t back = zsf_f32_to_f16(f);
        if (is_nan16((uint16_t)h)) {
            assert_true(isnan(f));
            assert_true(is_nan16(back) && (back & 0x8000u) == (h & 0x8000u) && (back & 0x200u));
        } else {
            assert_int_equal(back, h);
        }
    }
}

static void test_bf16_patterns_round_trip(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 0x10000u; b++) {
        const float f = zsf_bf16_to_f32((uint16_t)b);
        const uint16_t back = zsf_f32_to_bf16(f);
        if ((b & 0x7F80u) == 0x7F80u && (b & 0x7Fu))
            assert_true(isnan(f) && (back & 0x40u) && (back & 0x8000u) == (b & 0x8000u));
        else
            assert_int_equal(back, b);
    }
}

static void test_f16_ties_overflow_subnormals(void **state)
{
    (void)state;
    assert_true(zsf_round(ZSF_FP16, 1.0f + 0x1p-11f) == 1.0f);                   /* tie -> even */
    assert_true(zsf_round(ZSF_FP16, 1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);     /* tie -> even (up) */
    assert_true(zsf_round(ZSF_FP16, 65519.99f) == 65504.0f);
    assert_true(isinf(zsf_round(ZSF_FP16, 65520.0f)) && zsf_round(ZSF_FP16, -65520.0f) < 0);
    assert_true(zsf_round(ZSF_FP16, 0x1p-25f) == 0.0f);                          /* tie with 0 */
    assert_true(zsf_round(ZSF_FP16, nextafterf(0x1p-25f, 1.0f)) == 0x1p-24f);
    assert_true(zsf_round(ZSF_FP16, 3 * 0x1p-25f) == 2 * 0x1p-24f);              /* subnormal tie -> even */
    assert_true(zsf_round(ZSF_FP16, nextafterf(0x1p-14f, 0.0f)) == 0x1p-14f);    /* rounds up to the normal */
    assert_true(signbit(zsf_round(ZSF_FP16, -0x1p-30f)));
    assert_int_equal(zsf_f32_to_f16(zsf_bits_f32(0xFFC00001u)), 0xFE00u);        /* quiet, sign kept */
    assert_int_equal(zsf_f32_to_f16(zsf_bits_f32(0x7F800001u)), 0x7E00u);        /* NaN never Inf */
}

static void test_bf16_ties_overflow(void **state)
{
    (void)state;
    assert_true(zsf_round(ZSF_BF16, 1.0f + 0x1p-8f) == 1.0f);
    assert_true(zsf_round(ZSF_BF16, 1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    assert_true(isinf(zsf_round(ZSF_BF16, 3.4028235e38f)));                       /* FLT_MAX -> Inf */
    assert_true(zsf_round(ZSF_BF16, 0x1p-133f) == 0x1p-133f);                    /* subnormals kept */
    assert_int_equal(zsf_f32_to_bf16(zsf_bits_f32(0x7F800001u)), 0x7FC0u);
    assert_true(zsf_round(ZSF_FP32, 0.1f) == 0.1f);
}

/* A rint-in-double oracle over a sweep of floats: the nearest representable value, ties to even. */
static void test_sweep_against_oracle(void **state)
{
    (void)state;
    for (uint32_t u = 0x33000000u; u < 0x47800000u; u += 4099u) {   /* 2^-25 .. 2^16, both formats */
        const float f = zsf_bits_f32(u);
        const int e16 = ilogb(f) < -14 ? -14 : ilogb(f);
        const double q16 = ldexp(1.0, e16 - 10), r16 = rint((double)f / q16) * q16;
        if (r16 < 65520.0)
            assert_true((double)zsf_round(ZSF_FP16, f) == (r16 >= 65520.0 ? INFINITY : r16));
        const double q8 = ldexp(1.0, ilogb(f) - 7), r8 = rint((double)f / q8) * q8;
        assert_true((double)zsf_round(ZSF_BF16, f) == r8);
        assert_true(zsf_round(ZSF_FP16, -f) == -zsf_round(ZSF_FP16, f));
    }
#ifdef __FLT16_MAX__
    for (uint32_t u = 0; u < 0xFFFFFFFFu - 65521u; u += 65521u) {    /* every exponent, both signs */
        const float f = zsf_bits_f32(u);
        const _Float16 h = (_Float16)f;
        uint16_t bits;
        memcpy(&bits, &h, sizeof bits);
        if (!isnan(f))
            assert_int_equal(zsf_f32_to_f16(f), bits);
    }
#endif
}

/* Model-dtype storage: 2 bytes per fp16/bf16 element, 4 per fp32; narrow stores fl_M's bits, widen
 * reads them back exactly, fp32 is a copy (bit for bit, NaN payloads included). */
static void test_storage_narrow_widen(void **state)
{
    (void)state;
    assert_int_equal(zsf_dtype_size(ZSF_FP32), 4);
    assert_int_equal(zsf_dtype_size(ZSF_FP16), 2);
    assert_int_equal(zsf_dtype_size(ZSF_BF16), 2);
    const float in[] = {1.0f, 1.0f + 0x1p-11f, -65520.0f, 0x1p-25f, 3.14159265f, -0.0f, 1e30f,
                        zsf_bits_f32(0x7FC00001u)};
    const size_t n = sizeof in / sizeof in[0];
    const zsf_dtype dts[] = {ZSF_FP32, ZSF_FP16, ZSF_BF16};
    for (int d = 0; d < 3; d++) {
        uint32_t stored[8];   /* large enough for fp32 */
        float back[8];
        memset(stored, 0xAB, sizeof stored);
        zsf_narrow(stored, in, n, dts[d]);
        zsf_widen(back, stored, n, dts[d]);
        for (size_t i = 0; i < n; i++) {
            const float want = zsf_round(dts[d], in[i]);
            assert_int_equal(zsf_f32_bits(back[i]), zsf_f32_bits(want));
        }
        if (dts[d] != ZSF_FP32) {   /* 16 bits per element, nothing written past n */
            const uint16_t *h = (const uint16_t *)stored;
            assert_int_equal(h[1], dts[d] == ZSF_FP16 ? zsf_f32_to_f16(in[1]) : zsf_f32_to_bf16(in[1]));
            assert_int_equal(h[n], 0xABABu);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_patterns_round_trip),
        cmocka_unit_test(test_bf16_patterns_round_trip),
        cmocka_unit_test(test_f16_ties_overflow_subnormals),
        cmocka_unit_test(test_bf16_ties_overflow),
        cmocka_unit_test(test_sweep_against_oracle),
        cmocka_unit_test(test_storage_narrow_widen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
