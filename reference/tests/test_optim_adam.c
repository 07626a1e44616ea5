/* FusedAdam (reference/optim/adam.c) against multi_tensor_adam.cu written out by hand, against
 * the textbook Adam/AdamW formulas in long double, and at its edges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

/* AdamFunctor for one element, float throughout, kernel arguments rounded to float. */
static float hand_fused_adam(const zs_optimizer_config *hp, float p, const float *g_seq,
                             size_t stride, int steps, float state_out[ZS_OPTIM_MAX_STATE])
{
    const float lr = (float)hp->lr, b1 = (float)hp->betas[0], b2 = (float)hp->betas[1];
    const float eps = (float)hp->eps, wd = (float)hp->weight_decay;
    float m = 0.0f, v = 0.0f;
    for (int t = 1; t <= steps; t++) {
        float bc1 = 1.0f, bc2 = 1.0f;
        if (hp->bias_correction) {
            bc1 = (float)(1.0 - pow((double)b1, (double)t)); /* host: double pow, float result */
            bc2 = (float)(1.0 - pow((double)b2, (double)t));
        }
        float g = g_seq[(size_t)(t - 1) * stride];
        if (!hp->adam_w_mode)
            g = g + wd * p;
        const float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
        const float m_decayed = b1 * m, m_new_part = one_minus_b1 * g;
        m = m_decayed + m_new_part;
        const float v_decayed = b2 * v, g_scaled = one_minus_b2 * g;
        v = v_decayed + g_scaled * g;
        const float m_hat = m / bc1, v_hat = v / bc2;
        const float denom = sqrtf(v_hat) + eps;
        float update = m_hat / denom;
        if (hp->adam_w_mode)
            update = update + wd * p;
        p = p - lr * update;
    }
    state_out[0] = m;
    state_out[1] = v;
    return p;
}

static void check_against_hand(const zs_optimizer_config *hp)
{
    optim_check_against_hand(&zs_optim_fused_adam, hp, hand_fused_adam);
}

static void test_adamw_matches_kernel_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAMW);
    hp.weight_decay = 0.01;
    check_against_hand(&hp);
}

static void test_adam_l2_mode_matches_kernel_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
    hp.adam_w_mode = 0;
    hp.weight_decay = 0.1;
    check_against_hand(&hp);
}

static void test_variants_match_kernel_order(void **unused)
{
    (void)unused;
    const double eps_values[] = {1e-30, 1.0};
    for (int k = 0; k < 2; k++) {
        zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
        hp.eps = eps_values[k];
        check_against_hand(&hp);
    }
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
    hp.bias_correction = 0;
    hp.lr = 0.05;
    hp.betas[0] = 0.8;
    hp.betas[1] = 0.95;
    check_against_hand(&hp);
}

static void test_sweep_matches_kernel_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAMW);
    hp.weight_decay = 0.1;
    optim_check_sweep(&zs_optim_fused_adam, &hp, hand_fused_adam, 12345);
    hp.adam_w_mode = 0;
    optim_check_sweep(&zs_optim_fused_adam, &hp, hand_fused_adam, 54321);
}

/* Textbook Adam in long double: the float kernel must agree to float accuracy. */
static void test_adamw_close_to_textbook(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAMW);
    hp.weight_decay = 0.01;
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    for (int t = 0; t < OPTIM_TEST_STEPS; t++)
        optim_fixture_step(&f, &zs_optim_fused_adam, &hp, hp.lr, OPTIM_TEST_GRADS[t]);
    for (int i = 0; i < OPTIM_TEST_N; i++) {
        long double p = OPTIM_TEST_P0[i], m = 0, v = 0;
        for (int t = 1; t <= OPTIM_TEST_STEPS; t++) {
            const long double g = OPTIM_TEST_GRADS[t - 1][i];
            m = 0.9L * m + 0.1L * g;
            v = 0.999L * v + 0.001L * g * g;
            const long double mh = m / (1 - powl(0.9L, t)), vh = v / (1 - powl(0.999L, t));
            p -= 1e-3L * (mh / (sqrtl(vh) + 1e-8L) + 0.01L * p);
        }
        assert_close((double)p, f.param[i], 1e-6);
    }
}

/* Step 1 with bias correction: m/bc1 = g and v/bc2 = g^2, so p moves by lr*sign(g). */
static void test_first_step_moves_by_lr(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 1e-3, OPTIM_TEST_GRADS[0]);
    assert_close(0.499, f.param[0], 1e-6);
    assert_close(-1.249, f.param[1], 1e-6);
    assert_close(2.999, f.param[2], 1e-6);
    assert_close(-0.001, f.param[3], 1e-5);
}

static void test_zero_gradient(void **unused)
{
    (void)unused;
    const float zeros[OPTIM_TEST_N] = {0};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAMW);
    optim_assert_step_keeps_params(&zs_optim_fused_adam, &hp, 1e-2, zeros); /* 0/(0 + eps) = 0 */

    optim_fixture f;
    hp.weight_decay = 0.1; /* decoupled decay still shrinks p: p - lr*wd*p */
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 1e-2, zeros);
    assert_close(0.5 * (1 - 1e-3), f.param[0], 1e-7);
    assert_close(3.0 * (1 - 1e-3), f.param[2], 1e-7);
}

/* ((1-b2)*g)*g overflows to inf for g = 1e30: v = inf, denom = inf, the step is 0. */
static void test_huge_gradient_freezes_param(void **unused)
{
    (void)unused;
    const float huge[OPTIM_TEST_N] = {1e30f, -1e30f, 1e30f, -1e30f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAMW);
    optim_assert_step_keeps_params(&zs_optim_fused_adam, &hp, 1e-3, huge);
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 1e-3, huge);
    for (int i = 0; i < OPTIM_TEST_N; i++) {
        assert_true(isinf(f.state[1][i]) && f.state[1][i] > 0);
        assert_true(isfinite(f.state[0][i]));
    }
}

/* Fails if the decay lands on the wrong term: L2 feeds wd*p into m and v (the step stays ~lr),
 * AdamW adds wd*p to the update (the step grows to lr*(1 + wd*p)). */
static void test_decay_placement(void **unused)
{
    (void)unused;
    const float p0[1] = {1.0f}, g[1] = {1e-3f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
    hp.weight_decay = 0.1;
    optim_fixture f;

    hp.adam_w_mode = 0;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 0.1, g);
    assert_close(0.1 * 0.101, f.state[0][0], 1e-5); /* m saw g + wd*p */
    assert_close(0.9, f.param[0], 1e-5);

    hp.adam_w_mode = 1;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 0.1, g);
    assert_close(0.1 * 1e-3, f.state[0][0], 1e-5); /* m saw g only */
    assert_close(0.89, f.param[0], 1e-5);
}

/* eps = 1: update = m_hat/(|g| + 1); bias correction off: update = 0.1g/(sqrt(0.001)|g| + eps). */
static void test_eps_and_bias_correction_by_hand(void **unused)
{
    (void)unused;
    const float p0[1] = {1.0f}, g[1] = {0.5f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAM);
    optim_fixture f;

    hp.eps = 1.0;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 0.3, g);
    assert_close(1.0 - 0.3 * (0.5 / 1.5), f.param[0], 1e-6);

    hp.eps = 1e-8;
    hp.bias_correction = 0;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_fused_adam, &hp, 0.1, g);
    assert_close(1.0 - 0.1 * (0.05 / (sqrt(0.001) * 0.5)), f.param[0], 1e-5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_kernel_order),
        cmocka_unit_test(test_adam_l2_mode_matches_kernel_order),
        cmocka_unit_test(test_variants_match_kernel_order),
        cmocka_unit_test(test_sweep_matches_kernel_order),
        cmocka_unit_test(test_adamw_close_to_textbook),
        cmocka_unit_test(test_first_step_moves_by_lr),
        cmocka_unit_test(test_zero_gradient),
        cmocka_unit_test(test_huge_gradient_freezes_param),
        cmocka_unit_test(test_decay_placement),
        cmocka_unit_test(test_eps_and_bias_correction_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
