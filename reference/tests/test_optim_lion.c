/* FusedLion (reference/optim/lion.c) against multi_tensor_lion.cu written out by hand, and the
 * GPU kernel's sign rule at c = +0, -0 and NaN. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

/* LionFunctor for one element. */
static float hand_fused_lion(const zs_optimizer_config *hp, float p, const float *g_seq,
                             size_t stride, int steps, float state_out[ZS_OPTIM_MAX_STATE])
{
    const float lr = (float)hp->lr, b1 = (float)hp->betas[0], b2 = (float)hp->betas[1];
    const float decay_mult = lr * (float)hp->weight_decay;
    const float after_decay = 1.0f - decay_mult;
    float m = 0.0f;
    for (int t = 1; t <= steps; t++) {
        const float g = g_seq[(size_t)(t - 1) * stride];
        const float c = (b1 * m) + ((1.0f - b1) * g);
        float update = lr;
        if (c > 0.0f)
            update = -lr;
        p = (p * after_decay) + update;
        m = (b2 * m) + ((1.0f - b2) * g);
    }
    state_out[0] = m;
    return p;
}

static void check_against_hand(const zs_optimizer_config *hp)
{
    optim_check_against_hand(&zs_optim_fused_lion, hp, hand_fused_lion);
}

static void test_matches_kernel_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LION);
    hp.lr = 1e-2;
    check_against_hand(&hp);
    hp.weight_decay = 0.5;
    hp.betas[0] = 0.95;
    hp.betas[1] = 0.98;
    check_against_hand(&hp);
}

/* Step 1 by hand: c = 0.1g, so p = p*(1 - lr*wd) - lr*sign(g); m = 0.001g. */
static void test_first_step_by_hand(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LION);
    hp.weight_decay = 0.1;
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_fused_lion, &hp, 0.01, OPTIM_TEST_GRADS[0]);
    assert_close(0.5 * 0.999 - 0.01, f.param[0], 1e-6);
    assert_close(-1.25 * 0.999 + 0.01, f.param[1], 1e-6);
    assert_close(-0.01, f.param[3], 1e-6);
    assert_close(0.001 * 0.1, f.state[0][0], 1e-4); /* 1 - fl32(0.999) = 0.00100004673 */
}

/* GPU rule: update = (c > 0) ? -lr : +lr. c = +0 (zero gradient, zero momentum) and c = -0
 * (both -0) step by +lr; DeepSpeedCPULion's -copysign(lr, c) would give -lr for +0. NaN: +lr. */
static void test_sign_of_zero_and_nan(void **unused)
{
    (void)unused;
    const float p0[3] = {1.0f, 1.0f, 1.0f};
    const float g[3] = {0.0f, -0.0f, NAN};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LION);
    optim_fixture f;
    optim_fixture_init(&f, p0, 3);
    f.state[0][1] = -0.0f; /* m = -0 and g = -0 give c = -0 */
    optim_fixture_step(&f, &zs_optim_fused_lion, &hp, 0.25, g);
    assert_same_float(1.25f, f.param[0]);
    assert_same_float(1.25f, f.param[1]);
    assert_same_float(1.25f, f.param[2]);
}

static void test_huge_gradient_is_a_sign(void **unused)
{
    (void)unused;
    const float huge[OPTIM_TEST_N] = {1e30f, -1e30f, 1e30f, -1e30f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LION);
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_fused_lion, &hp, 0.125, huge);
    assert_same_float(0.375f, f.param[0]);
    assert_same_float(-1.125f, f.param[1]);
    assert_true(isfinite(f.state[0][0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_kernel_order),
        cmocka_unit_test(test_first_step_by_hand),
        cmocka_unit_test(test_sign_of_zero_and_nan),
        cmocka_unit_test(test_huge_gradient_is_a_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
