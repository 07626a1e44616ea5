/* Exhaustive and oracle tests of the fp16/bf16 conversions (reference/precision.c;
 * docs/spec/precision.md §2).
 *
 * - every one of the 65536 patterns of each format decodes to the value its bits define (computed
 *   here independently with ldexp in double) and re-encodes to itself (NaNs: stay NaN, sign and
 *   payload kept, quiet bit set);
 * - for every pair of adjacent representable values a < b (both signs) the midpoint rounds to the
 *   even one, the floats one ulp either side of it round to the nearer one, and a, b and their inner
 *   float neighbours round to themselves; above the largest finite value the next "virtual" value
 *   2^(emax+1) stands for Inf, which puts the overflow threshold (65520 for fp16) in the same loop;
 * - every float NaN pattern (2^24 - 2) stays a quiet NaN with its sign and top payload bits;
 * - named boundaries from the spec, as literal values;
 * - sweeps of pseudo-random float patterns plus every k-th float of both signs in [2^-26, 2^17) (k odd,
 *   so every residue of the low 13 bits, ties included, is visited) checked against a mathematical
 *   oracle (rint in double, both formats) and, for fp16, bit-exactly against the compiler's _Float16
 *   conversion and the F16C instruction when those exist (skipped otherwise). Sizes keep the whole
 *   file near 5 s in the coverage build: 2^22 random + k = 29 (about 29M floats) for the slower
 *   oracles, 2^24 random + k = 11 (about 82M) for F16C.
 * Set ZS_EXHAUSTIVE=1 to sweep all 2^32 float patterns instead (minutes, not part of CI). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_F16C_INTRINSIC 1
#endif

#include "precision.h"

/* ------------------------------------------------------------------------------------------------
 * The two formats, described by their field widths; everything else is derived. */

typedef struct fmt16 {
    const char *name;
    int man_bits;   /* stored significand bits: fp16 10, bf16 7 */
    int exp_bits;   /* fp16 5, bf16 8 */
    uint16_t (*encode)(float);
    float (*decode)(uint16_t);
} fmt16;

static const fmt16 FP16 = {"fp16", 10, 5, zs_f32_to_f16_bits, zs_f16_bits_to_f32};
static const fmt16 BF16 = {"bf16", 7, 8, zs_f32_to_bf16_bits, zs_bf16_bits_to_f32};

static int bias(const fmt16 *f) { return (1 << (f->exp_bits - 1)) - 1; }
static unsigned man_mask(const fmt16 *f) { return (1u << f->man_bits) - 1u; }
static unsigned exp_field(const fmt16 *f, uint16_t h) { return (h >> f->man_bits) & ((1u << f->exp_bits) - 1u); }
static unsigned exp_all_ones(const fmt16 *f) { return (1u << f->exp_bits) - 1u; }
static uint16_t inf_bits(const fmt16 *f) { return (uint16_t)(exp_all_ones(f) << f->man_bits); }
static uint16_t quiet_bit(const fmt16 *f) { return (uint16_t)(1u << (f->man_bits - 1)); }
static int is_nan_bits(const fmt16 *f, uint16_t h) { return exp_field(f, h) == exp_all_ones(f) && (h & man_mask(f)); }

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

/* Equal values with equal signs (so -0 differs from +0). */
static int same_value(double a, double b)
{
    return a == b && !signbit(a) == !signbit(b);
}

/* The value a non-NaN pattern stands for, from the IEEE definition (not from precision.c). */
static double pattern_value(const fmt16 *f, uint16_t h)
{
    unsigned e = exp_field(f, h), m = h & man_mask(f);
    double v;
    if (e == exp_all_ones(f))
        v = INFINITY;
    else if (e == 0)
        v = ldexp((double)m, 1 - bias(f) - f->man_bits);                    /* subnormal */
    else
        v = ldexp((double)((1u << f->man_bits) + m), (int)e - bias(f) - f->man_bits);
    return (h & 0x8000u) ? -v : v;
}

/* Round-to-nearest-even into the format, computed in double with rint (which rounds ties to even):
 * scale x so that one unit is the format's spacing at x's binade, round to an integer, scale back.
 * Results at or beyond 2^(emax+1) overflow to Inf. */
static double oracle_round(const fmt16 *f, double x)
{
    if (isnan(x) || isinf(x) || x == 0)
        return x;
    int e;
    frexp(x, &e);                           /* |x| in [2^(e-1), 2^e) */
    int emin = 1 - bias(f);
    int binade = e - 1 < emin ? emin : e - 1;
    double spacing = ldexp(1.0, binade - f->man_bits);
    double r = rint(x / spacing) * spacing; /* both steps exact: scaling by a power of two */
    if (fabs(r) >= ldexp(1.0, bias(f) + 1))
        return copysign(INFINITY, x);
    return r;
}

/* Fails with the input and both results when encode(x) is not `want`. */
static void expect_encode(const fmt16 *f, float x, uint16_t want)
{
    uint16_t got = f->encode(x);
    if (got != want)
        fail_msg("%s encode(%a [%08x]) = %04x, want %04x", f->name, (double)x, float_bits(x), got, want);
}

/* ------------------------------------------------------------------------------------------------
 * Every 16-bit pattern. */

static void check_every_pattern_decodes(const fmt16 *f)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float x = f->decode(h);
        if (is_nan_bits(f, h)) {
            /* Widening is exact: the payload lands in the top float mantissa bits, sign kept. */
            uint32_t u = float_bits(x);
            uint32_t want = ((uint32_t)(h & 0x8000u) << 16) | 0x7F800000u
                            | ((uint32_t)(h & man_mask(f)) << (23 - f->man_bits));
            if (!isnan(x) || u != want)
                fail_msg("%s decode(%04x) = %08x, want NaN %08x", f->name, h, u, want);
            continue;
        }
        double want = pattern_value(f, h);
        if (!same_value(x, want))
            fail_msg("%s decode(%04x) = %a, want %a", f->name, h, (double)x, want);
    }
}

static void check_every_pattern_round_trips(const fmt16 *f)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        uint16_t back = f->encode(f->decode(h));
        if (!is_nan_bits(f, h)) {
            if (back != h)
                fail_msg("%s %04x -> %a -> %04x", f->name, h, (double)f->decode(h), back);
            continue;
        }
        /* NaN: stays NaN, same sign, quiet, payload below the quiet bit kept. */
        uint16_t low = (uint16_t)(quiet_bit(f) - 1u);
        if (!is_nan_bits(f, back) || (back & 0x8000u) != (h & 0x8000u) || !(back & quiet_bit(f))
            || (back & low) != (h & low))
            fail_msg("%s NaN %04x round-trips to %04x", f->name, h, back);
    }
}

static void test_fp16_every_pattern_decodes(void **state) { (void)state; check_every_pattern_decodes(&FP16); }
static void test_bf16_every_pattern_decodes(void **state) { (void)state; check_every_pattern_decodes(&BF16); }
static void test_fp16_every_pattern_round_trips(void **state) { (void)state; check_every_pattern_round_trips(&FP16); }
static void test_bf16_every_pattern_round_trips(void **state) { (void)state; check_every_pattern_round_trips(&BF16); }

/* ------------------------------------------------------------------------------------------------
 * Rounding between every pair of neighbours. */

/* The float next to `from` in the direction of `to` (both >= 0); the largest float when `from` is
 * the virtual 2^128 beyond it. */
static float step_towards(double from, double to)
{
    if (from > FLT_MAX)
        return FLT_MAX;
    return nextafterf((float)from, to > FLT_MAX ? INFINITY : (float)to);
}

static void check_neighbour_pair(const fmt16 *f, uint16_t h, uint16_t sign)
{
    uint16_t lo = h, hi = (uint16_t)(h + 1);   /* hi may be the Inf pattern */
    double a = pattern_value(f, lo);
    double b = hi == inf_bits(f) ? ldexp(1.0, bias(f) + 1) : pattern_value(f, hi);
    double mid = (a + b) / 2;                  /* exact in double, and a float: one more bit */
    uint16_t even = (lo & 1u) ? hi : lo;
    double s = sign ? -1.0 : 1.0;

    expect_encode(f, (float)(s * a), sign | lo);
    expect_encode(f, (float)(s * step_towards(a, b)), sign | lo);
    expect_encode(f, (float)(s * step_towards(mid, a)), sign | lo);
    expect_encode(f, (float)(s * mid), sign | even);
    expect_encode(f, (float)(s * step_towards(mid, b)), sign | hi);
    expect_encode(f, (float)(s * step_towards(b, a)), sign | hi);
    if (b <= FLT_MAX)
        expect_encode(f, (float)(s * b), sign | hi);
}

static void check_all_neighbours(const fmt16 *f)
{
    for (uint16_t h = 0; h < inf_bits(f); h++) {
        check_neighbour_pair(f, h, 0);
        check_neighbour_pair(f, h, 0x8000u);
    }
}

static void test_fp16_rounding_between_all_neighbours(void **state) { (void)state; check_all_neighbours(&FP16); }
static void test_bf16_rounding_between_all_neighbours(void **state) { (void)state; check_all_neighbours(&BF16); }

/* ------------------------------------------------------------------------------------------------
 * Named boundaries (docs/spec/precision.md §2), as literal values. */

static void test_fp16_named_boundaries(void **state)
{
    (void)state;
    expect_encode(&FP16, 0.0f, 0x0000);
    expect_encode(&FP16, -0.0f, 0x8000);
    expect_encode(&FP16, INFINITY, 0x7C00);
    expect_encode(&FP16, -INFINITY, 0xFC00);
    expect_encode(&FP16, 1.0f, 0x3C00);
    expect_encode(&FP16, 1.0f + 0x1p-11f, 0x3C00);        /* tie, 1.0 is even */
    expect_encode(&FP16, 1.0f + 0x3p-11f, 0x3C02);        /* tie, 1+2^-9 is even */
    /* Overflow: 65504 is the largest finite; 65520 (halfway to 2^16) rounds to Inf. */
    expect_encode(&FP16, 65504.0f, 0x7BFF);
    expect_encode(&FP16, 65519.99f, 0x7BFF);
    expect_encode(&FP16, nextafterf(65520.0f, 0.0f), 0x7BFF);
    expect_encode(&FP16, 65520.0f, 0x7C00);
    expect_encode(&FP16, -65520.0f, 0xFC00);
    expect_encode(&FP16, 65536.0f, 0x7C00);
    expect_encode(&FP16, FLT_MAX, 0x7C00);
    /* Subnormals: 2^-24 is the smallest; half of it is a tie that goes to 0 (even). */
    expect_encode(&FP16, 0x1p-24f, 0x0001);
    expect_encode(&FP16, 0x1p-25f, 0x0000);
    expect_encode(&FP16, -0x1p-25f, 0x8000);
    expect_encode(&FP16, nextafterf(0x1p-25f, 1.0f), 0x0001);
    expect_encode(&FP16, nextafterf(0x1p-25f, 0.0f), 0x0000);
    expect_encode(&FP16, 0x3p-25f, 0x0002);               /* tie between 1 and 2 units: 2 */
    expect_encode(&FP16, 0x3FFp-24f, 0x03FF);             /* largest subnormal */
    expect_encode(&FP16, 0x7FFp-25f, 0x0400);             /* tie with the smallest normal: even */
    expect_encode(&FP16, 0x1p-14f, 0x0400);               /* smallest normal */
    /* Float subnormals are far below 2^-25: signed zero. */
    expect_encode(&FP16, FLT_TRUE_MIN, 0x0000);
    expect_encode(&FP16, -FLT_TRUE_MIN, 0x8000);
    expect_encode(&FP16, bits_float(0x007FFFFFu), 0x0000);
    assert_true(zs_f16_bits_to_f32(0x7BFF) == 65504.0f);
    assert_true(zs_f16_bits_to_f32(0x0001) == 0x1p-24f);
}

static void test_bf16_named_boundaries(void **state)
{
    (void)state;
    expect_encode(&BF16, 0.0f, 0x0000);
    expect_encode(&BF16, -0.0f, 0x8000);
    expect_encode(&BF16, INFINITY, 0x7F80);
    expect_encode(&BF16, -INFINITY, 0xFF80);
    expect_encode(&BF16, 1.0f, 0x3F80);
    expect_encode(&BF16, 1.0f + 0x1p-8f, 0x3F80);         /* tie, even */
    expect_encode(&BF16, 1.0f + 0x3p-8f, 0x3F82);
    /* Overflow: the largest bf16 is 0x7F7F = 255 * 2^120; halfway to 2^128 is 511 * 2^119. */
    expect_encode(&BF16, 0xFFp120f, 0x7F7F);
    expect_encode(&BF16, nextafterf(0x1FFp119f, 0.0f), 0x7F7F);
    expect_encode(&BF16, 0x1FFp119f, 0x7F80);
    expect_encode(&BF16, FLT_MAX, 0x7F80);
    expect_encode(&BF16, -FLT_MAX, 0xFF80);
    /* Subnormals: the smallest bf16 is 2^-133; float subnormals round like any other value. */
    expect_encode(&BF16, 0x1p-133f, 0x0001);
    expect_encode(&BF16, 0x1p-134f, 0x0000);              /* tie, even */
    expect_encode(&BF16, nextafterf(0x1p-134f, 1.0f), 0x0001);
    expect_encode(&BF16, FLT_TRUE_MIN, 0x0000);
    expect_encode(&BF16, -FLT_TRUE_MIN, 0x8000);
    expect_encode(&BF16, bits_float(0x007FFFFFu), 0x0080); /* rounds up into the smallest normal */
    expect_encode(&BF16, FLT_MIN, 0x0080);
}

/* ------------------------------------------------------------------------------------------------
 * Every float NaN and every float subnormal. */

static void test_every_float_nan_stays_quiet_nan(void **state)
{
    (void)state;
    for (uint32_t sign = 0; sign <= 1; sign++)
        for (uint32_t man = 1; man < 0x800000u; man++) {
            uint32_t u = (sign << 31) | 0x7F800000u | man;
            float x = bits_float(u);
            uint16_t h = zs_f32_to_f16_bits(x), b = zs_f32_to_bf16_bits(x);
            /* Top payload bits kept, quiet bit forced: never Inf, even when those bits are zero. */
            uint16_t want_h = (uint16_t)((sign << 15) | 0x7E00u | (man >> 13));
            uint16_t want_b = (uint16_t)((sign << 15) | 0x7FC0u | (man >> 16));
            if (h != want_h || b != want_b)
                fail_msg("NaN %08x -> fp16 %04x (want %04x), bf16 %04x (want %04x)", u, h, want_h, b, want_b);
        }
}

static void test_every_float_subnormal(void **state)
{
    (void)state;
    for (uint32_t sign = 0; sign <= 1; sign++)
        for (uint32_t man = 0; man < 0x800000u; man++) {
            uint32_t u = (sign << 31) | man;
            float x = bits_float(u);
            uint16_t h = zs_f32_to_f16_bits(x);
            if (h != (uint16_t)(sign << 15))
                fail_msg("fp16 of float subnormal %08x = %04x, want signed zero", u, h);
            double want = oracle_round(&BF16, x);
            double got = zs_bf16_bits_to_f32(zs_f32_to_bf16_bits(x));
            if (!same_value(got, want))
                fail_msg("bf16 of float subnormal %08x = %a, want %a", u, got, want);
        }
}

/* ------------------------------------------------------------------------------------------------
 * Sweeps against oracles. */

typedef void (*sample_check)(uint32_t bits, void *ctx);

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 2^log2_random pseudo-random patterns, then every stride-th float of both signs in [2^-26, 2^17);
 * all 2^32 patterns when ZS_EXHAUSTIVE=1. */
static void for_each_sample(sample_check check, void *ctx, int log2_random, uint32_t stride)
{
    const char *env = getenv("ZS_EXHAUSTIVE");
    if (env && env[0] == '1') {
        for (uint64_t u = 0; u <= 0xFFFFFFFFull; u++)
            check((uint32_t)u, ctx);
        return;
    }
    uint64_t seed = 20240607;
    for (uint32_t i = 0; i < (1u << log2_random); i++)
        check((uint32_t)splitmix64(&seed), ctx);
    const uint32_t first = float_bits(0x1p-26f), last = float_bits(0x1p17f);
    for (uint32_t u = first; u < last; u += stride) {
        check(u, ctx);
        check(u | 0x80000000u, ctx);
    }
}

static void check_against_rint_oracle(uint32_t bits, void *ctx)
{
    const fmt16 *f = ctx;
    float x = bits_float(bits);
    if (isnan(x))
        return;   /* NaNs: test_every_float_nan_stays_quiet_nan */
    double want = oracle_round(f, x);
    double got = f->decode(f->encode(x));
    if (!same_value(got, want))
        fail_msg("%s round(%a [%08x]) = %a, oracle %a", f->name, (double)x, bits, got, want);
}

static void test_fp16_matches_rint_oracle(void **state)
{
    (void)state;
    for_each_sample(check_against_rint_oracle, (void *)&FP16, 22, 29);
}

static void test_bf16_matches_rint_oracle(void **state)
{
    (void)state;
    for_each_sample(check_against_rint_oracle, (void *)&BF16, 22, 29);
}

/* An independent fp32 -> fp16 encoder that zs_f32_to_f16_bits must match bit for bit. */
typedef struct fp16_oracle {
    const char *name;
    uint16_t (*encode)(float);
} fp16_oracle;

static void check_against_fp16_oracle(uint32_t bits, void *ctx)
{
    const fp16_oracle *o = ctx;
    uint16_t want = o->encode(bits_float(bits));
    uint16_t got = zs_f32_to_f16_bits(bits_float(bits));
    if (got != want)
        fail_msg("fp16 of %08x = %04x, %s gives %04x", bits, got, o->name, want);
}

#ifdef __FLT16_MAX__
static uint16_t float16_type_encode(float x)
{
    _Float16 h = (_Float16)x;
    uint16_t u;
    memcpy(&u, &h, sizeof u);
    return u;
}
#endif

/* Bit-exact against the compiler's _Float16 conversion (libgcc's soft-float on x86-64), NaNs included. */
static void test_fp16_matches_float16_type(void **state)
{
    (void)state;
#ifdef __FLT16_MAX__
    const fp16_oracle o = {"_Float16", float16_type_encode};
    for_each_sample(check_against_fp16_oracle, (void *)&o, 22, 29);
#else
    skip();
#endif
}

#ifdef HAVE_F16C_INTRINSIC
__attribute__((target("f16c"))) static uint16_t f16c_encode(float x)
{
    return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
}
#endif

/* Bit-exact against the F16C instruction (vcvtps2ph, round to nearest even), NaNs included. */
static void test_fp16_matches_f16c_instruction(void **state)
{
    (void)state;
#ifdef HAVE_F16C_INTRINSIC
    if (!__builtin_cpu_supports("f16c"))
        skip();
    const fp16_oracle o = {"F16C", f16c_encode};
    for_each_sample(check_against_fp16_oracle, (void *)&o, 24, 11);
#else
    skip();
#endif
}

/* ------------------------------------------------------------------------------------------------
 * zs_round_to / zs_round_array. */

static void test_round_to_and_round_array(void **state)
{
    (void)state;
    const float x = 0.1f;
    assert_true(zs_round_to(ZS_F32, x) == x);
    assert_true(zs_round_to(ZS_F64, x) == x);
    assert_true(zs_round_to(ZS_F16, x) == zs_f16_bits_to_f32(zs_f32_to_f16_bits(x)));
    assert_true(zs_round_to(ZS_BF16, x) == zs_bf16_bits_to_f32(zs_f32_to_bf16_bits(x)));
    assert_true(zs_round_to(ZS_F16, 70000.0f) == INFINITY);
    float a[4] = {0.1f, -3.3f, 65520.0f, 0x1p-25f};
    float b[4];
    memcpy(b, a, sizeof a);
    zs_round_array(ZS_F32, b, 4);
    assert_memory_equal(a, b, sizeof a);
    zs_round_array(ZS_I32, b, 4);
    assert_memory_equal(a, b, sizeof a);
    zs_round_array(ZS_F16, b, 4);
    for (int i = 0; i < 4; i++)
        assert_true(float_bits(b[i]) == float_bits(zs_round_to(ZS_F16, a[i])));
    memcpy(b, a, sizeof a);
    zs_round_array(ZS_BF16, b, 4);
    for (int i = 0; i < 4; i++)
        assert_true(float_bits(b[i]) == float_bits(zs_round_to(ZS_BF16, a[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_every_pattern_decodes),
        cmocka_unit_test(test_bf16_every_pattern_decodes),
        cmocka_unit_test(test_fp16_every_pattern_round_trips),
        cmocka_unit_test(test_bf16_every_pattern_round_trips),
        cmocka_unit_test(test_fp16_rounding_between_all_neighbours),
        cmocka_unit_test(test_bf16_rounding_between_all_neighbours),
        cmocka_unit_test(test_fp16_named_boundaries),
        cmocka_unit_test(test_bf16_named_boundaries),
        cmocka_unit_test(test_every_float_nan_stays_quiet_nan),
        cmocka_unit_test(test_every_float_subnormal),
        cmocka_unit_test(test_fp16_matches_rint_oracle),
        cmocka_unit_test(test_bf16_matches_rint_oracle),
        cmocka_unit_test(test_fp16_matches_float16_type),
        cmocka_unit_test(test_fp16_matches_f16c_instruction),
        cmocka_unit_test(test_round_to_and_round_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
