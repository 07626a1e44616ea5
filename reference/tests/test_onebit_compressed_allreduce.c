/* zs_compressed_allreduce (docs/spec/optimizers.md §8.1) against values computed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "onebit/compressed_allreduce.h"

#define MAXN 72

static void test_padded_size(void **s)
{
    (void)s;
    assert_int_equal(zs_onebit_padded_size(0, 2), 0);
    assert_int_equal(zs_onebit_padded_size(1, 1), 8);     /* lcm(1, 8) = 8 */
    assert_int_equal(zs_onebit_padded_size(8, 1), 8);
    assert_int_equal(zs_onebit_padded_size(9, 1), 16);
    assert_int_equal(zs_onebit_padded_size(3, 2), 16);    /* 2 * lcm(2, 8) */
    assert_int_equal(zs_onebit_padded_size(17, 2), 32);
    assert_int_equal(zs_onebit_padded_size(1, 3), 72);    /* 3 * 24 */
    assert_int_equal(zs_onebit_padded_size(73, 3), 144);
    assert_int_equal(zs_onebit_padded_size(1, 4), 32);    /* 4 * 8 */
    assert_int_equal(zs_onebit_padded_size(1, 16), 256);  /* 16 * 16 */
}

static void test_sign_and_scale(void **s)
{
    (void)s;
    assert_true(zs_onebit_sign(0.0f) == 1.0f);
    assert_true(zs_onebit_sign(-0.0f) == 1.0f);
    assert_true(zs_onebit_sign(NAN) == 1.0f);
    assert_true(zs_onebit_sign(-1e-45f) == -1.0f);
    assert_true(zs_onebit_sign(INFINITY) == 1.0f);
    const float y[4] = {3.0f, -4.0f, 0.0f, 0.0f};
    assert_true(zs_onebit_norm(y, 4) == 5.0f);
    assert_true(zs_onebit_rms(y, 4) == 2.5f);   /* 5 * (1/sqrt(4)) */
}

/* W = 2, n = 3 -> N = 16, chunks of 8; x_0 = [3, -4, 0], x_1 = [1, -0, 0]; zero errors.
 * Worker: s_0 = 5/4, s_1 = 1/4; b_0 = [+, -, +, ...], b_1 = all + (-0 is +);
 *         e_0 = [1.75, -2.75, -1.25 x14], e_1 = [0.75, -0.25 x15].
 * Server: weights s_r/2 = 0.625, 0.125; chunk 0: z = [0.75, -0.5, 0.75 x6], chunk 1: z = 0.75 x8. */
static void test_two_ranks(void **s)
{
    (void)s;
    float x0[16] = {3, -4, 0}, x1[16] = {1, -0.0f, 0}, we0[16] = {0}, we1[16] = {0}, se0[8] = {0}, se1[8] = {0};
    float *bufs[2] = {x0, x1}, *we[2] = {we0, we1}, *se[2] = {se0, se1};
    zs_compressed_allreduce(bufs, 16, 2, we, se);
    assert_true(we0[0] == 1.75f && we0[1] == -2.75f && we0[2] == -1.25f && we0[15] == -1.25f);
    assert_true(we1[0] == 0.75f && we1[1] == -0.25f && we1[2] == -0.25f && we1[15] == -0.25f);
    const float t0 = sqrtf(7 * 0.5625f + 0.25f) * (1.0f / sqrtf(8.0f));
    const float t1 = sqrtf(8 * 0.5625f) * (1.0f / sqrtf(8.0f));
    const float out[3] = {t0, -t0, t0};
    for (int i = 0; i < 3; i++) {
        assert_true(x0[i] == out[i]);
        assert_true(x1[i] == out[i]);
    }
    for (int i = 8; i < 16; i++)
        assert_true(x0[i] == t1 && x1[i] == t1);
    assert_true(se0[0] == 0.75f - t0 && se0[1] == -0.5f + t0 && se0[7] == 0.75f - t0);
    assert_true(se1[0] == 0.75f - t1 && se1[7] == 0.75f - t1);

    /* second call with zero input: y = e (error feedback); rank 0 sends its error */
    float y0[16], y1[16];
    memcpy(y0, we0, sizeof y0);
    memcpy(y1, we1, sizeof y1);
    memset(x0, 0, sizeof x0);
    memset(x1, 0, sizeof x1);
    zs_compressed_allreduce(bufs, 16, 2, we, se);
    float s0 = zs_onebit_rms(y0, 16), s1 = zs_onebit_rms(y1, 16);
    assert_true(we0[0] == 1.75f - s0 && we0[1] == -2.75f + s0 && we1[0] == 0.75f - s1 && we1[1] == -0.25f + s1);
}

/* W = 3, n = 2 -> N = 72, chunks of 24: x_0 = [2, -1], x_1 = [-3, 0], x_2 = 0. The padding (70
 * elements per rank) is real: it enters the norms and compresses to +s_r. */
static void test_three_ranks(void **s)
{
    (void)s;
    float x[3][MAXN] = {{2, -1}, {-3, 0}, {0}}, we[3][MAXN] = {{0}}, se[3][24] = {{0}};
    float *bufs[3] = {x[0], x[1], x[2]}, *wp[3] = {we[0], we[1], we[2]}, *sp[3] = {se[0], se[1], se[2]};
    zs_compressed_allreduce(bufs, 72, 3, wp, sp);
    const float inv = 1.0f / sqrtf(72.0f), third = (float)(1.0 / 3);
    const float s0 = sqrtf(5.0f) * inv, s1 = 3.0f * inv, s2 = 0.0f;
    assert_true(we[0][0] == 2.0f - s0 && we[0][1] == -1.0f + s0 && we[0][71] == -s0);
    assert_true(we[1][0] == -3.0f + s1 && we[1][1] == -s1 && we[1][71] == -s1);
    assert_true(we[2][0] == 0.0f && we[2][71] == 0.0f);
    const float w0 = s0 * third, w1 = s1 * third, w2 = s2 * third;
    /* chunk 0: element 0 = w0 - w1 + w2, element 1 = -w0 + w1 + w2, the rest w0 + w1 + w2 */
    const float z0 = 0.0f + w0 - w1 + w2, z1 = 0.0f - w0 + w1 + w2, zp = 0.0f + w0 + w1 + w2;
    float chunk0[24];
    chunk0[0] = z0;
    chunk0[1] = z1;
    for (int i = 2; i < 24; i++)
        chunk0[i] = zp;
    const float t0 = zs_onebit_rms(chunk0, 24), tp = zs_onebit_rms((float[24]){zp, zp, zp, zp, zp, zp, zp, zp,
        zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp, zp}, 24);
    for (int r = 0; r < 3; r++) {
        assert_true(x[r][0] == t0 * zs_onebit_sign(z0));
        assert_true(x[r][1] == t0 * zs_onebit_sign(z1));
        assert_true(x[r][24] == tp && x[r][71] == tp);   /* chunks 1 and 2: padding only */
    }
    assert_true(se[0][0] == z0 - t0 * zs_onebit_sign(z0) && se[1][0] == zp - tp && se[2][23] == zp - tp);
}

/* W = 1: the same two compressions (DeepSpeed skips the call at W = 1; the maths is still defined). */
static void test_one_rank(void **s)
{
    (void)s;
    float x[8] = {1, -2, 0, 0, 0, 0, 0, 0}, we[8] = {0}, se[8] = {0};
    float *b = x, *w = we, *f = se;
    zs_compressed_allreduce(&b, 8, 1, &w, &f);
    const float s0 = sqrtf(5.0f) * (1.0f / sqrtf(8.0f));
    assert_true(we[0] == 1.0f - s0 && we[1] == -2.0f + s0 && we[7] == -s0);
    /* server: z = b*s0*fl32(1/1): all |z| = s0, so t = s0 and the server error is 0 */
    assert_true(x[0] == s0 && x[1] == -s0 && x[7] == s0);
    assert_true(se[0] == 0.0f && se[1] == 0.0f);
}

/* N = 0 (n = 0): nothing to do, nothing touched. */
static void test_empty(void **s)
{
    (void)s;
    float x = 7.0f, we = 1.0f, se = 2.0f;
    float *b[2] = {&x, &x}, *w[2] = {&we, &we}, *f[2] = {&se, &se};
    zs_compressed_allreduce(b, 0, 2, w, f);
    assert_true(x == 7.0f && we == 1.0f && se == 2.0f);
}

/* A NaN in one rank's buffer makes that rank's scale NaN; its sign is +1 and the NaN spreads to
 * every output element through the server sum, as on the GPU. */
static void test_nan(void **s)
{
    (void)s;
    float x0[16] = {NAN}, x1[16] = {1}, we0[16] = {0}, we1[16] = {0}, se0[8] = {0}, se1[8] = {0};
    float *bufs[2] = {x0, x1}, *we[2] = {we0, we1}, *se[2] = {se0, se1};
    zs_compressed_allreduce(bufs, 16, 2, we, se);
    assert_true(isnan(x0[0]) && isnan(x1[15]));
    assert_true(we1[0] == 1.0f - 0.25f);   /* rank 1's own error is unaffected */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padded_size), cmocka_unit_test(test_sign_and_scale),
        cmocka_unit_test(test_two_ranks),   cmocka_unit_test(test_three_ranks),
        cmocka_unit_test(test_one_rank),    cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
