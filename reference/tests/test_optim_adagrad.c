/* torch.optim.Adagrad (reference/optim/adagrad.c) against torch's foreach Adagrad written out by
 * hand, against long double, and at its edges (lr_decay, initial accumulator, L2 placement). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

/* _multi_tensor_adagrad for one element. */
static float hand_torch_adagrad(const zs_optimizer_config *hp, float p, const float *g_seq,
                                size_t stride, int steps, float state_out[ZS_OPTIM_MAX_STATE])
{
    float sum = (float)hp->initial_accumulator_value;
    for (int t = 1; t <= steps; t++) {
        float g = g_seq[(size_t)(t - 1) * stride];
        if (hp->weight_decay != 0.0)
            g = g + (float)hp->weight_decay * p;
        const double clr = hp->lr / (1.0 + (t - 1) * hp->lr_decay);
        const float gg = g * g;
        sum = sum + gg;
        const float std_dev = sqrtf(sum) + (float)hp->eps;
        const float scaled = g * (float)(-clr);
        p = p + scaled / std_dev;
    }
    state_out[0] = sum;
    return p;
}

static void check_against_hand(const zs_optimizer_config *hp)
{
    optim_check_against_hand(&zs_optim_torch_adagrad, hp, hand_torch_adagrad);
}

static void test_matches_foreach_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    check_against_hand(&hp);
    hp.weight_decay = 0.1;
    hp.lr_decay = 0.25;
    hp.initial_accumulator_value = 0.5;
    check_against_hand(&hp);
    hp.eps = 1.0;
    check_against_hand(&hp);
    hp.eps = 1e-30;
    check_against_hand(&hp);
}

static void test_close_to_long_double(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    hp.weight_decay = 0.1;
    hp.lr_decay = 0.25;
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    for (int t = 0; t < OPTIM_TEST_STEPS; t++)
        optim_fixture_step(&f, &zs_optim_torch_adagrad, &hp, hp.lr, OPTIM_TEST_GRADS[t]);
    for (int i = 0; i < OPTIM_TEST_N; i++) {
        long double p = OPTIM_TEST_P0[i], sum = 0;
        for (int t = 1; t <= OPTIM_TEST_STEPS; t++) {
            const long double g = OPTIM_TEST_GRADS[t - 1][i] + 0.1L * p;
            sum += g * g;
            p -= (1e-2L / (1 + (t - 1) * 0.25L)) * g / (sqrtl(sum) + 1e-10L);
        }
        assert_close((double)p, f.param[i], 1e-6);
    }
}

/* Step 1 from a zero accumulator: p - lr*g/|g| = p - lr*sign(g). */
static void test_first_step_by_hand(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_torch_adagrad, &hp, 0.01, OPTIM_TEST_GRADS[0]);
    assert_close(0.49, f.param[0], 1e-6);
    assert_close(-1.24, f.param[1], 1e-6);
    assert_close(-0.01, f.param[3], 1e-6);
}

/* The L2 term enters both the accumulator and the numerator (torch). DeepSpeedCPUAdagrad would
 * divide the raw gradient instead: here g = 0, so it would not move p at all. */
static void test_weight_decay_in_numerator(void **unused)
{
    (void)unused;
    const float p0[1] = {2.0f}, zero[1] = {0.0f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    hp.weight_decay = 0.5;
    optim_fixture f;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_adagrad, &hp, 0.01, zero);
    assert_close(1.0, f.state[0][0], 1e-7); /* (wd*p)^2 = 1 */
    assert_close(2.0 - 0.01, f.param[0], 1e-7);
}

static void test_lr_decay_and_initial_accumulator(void **unused)
{
    (void)unused;
    const float p0[1] = {0.0f}, g[1] = {1.0f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    hp.lr_decay = 1.0;
    hp.initial_accumulator_value = 3.0;
    optim_fixture f;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_adagrad, &hp, 0.1, g); /* sum 4: -0.1*1/2 */
    assert_close(4.0, f.state[0][0], 1e-7);
    assert_close(-0.05, f.param[0], 1e-6);
    optim_fixture_step(&f, &zs_optim_torch_adagrad, &hp, 0.1, g); /* clr = 0.1/2, sum 5 */
    assert_close(-0.05 - 0.05 / sqrt(5.0), f.param[0], 1e-6);
}

static void test_zero_and_huge_gradients(void **unused)
{
    (void)unused;
    const float zeros[OPTIM_TEST_N] = {0}, huge[OPTIM_TEST_N] = {1e30f, -1e30f, 1e30f, -1e30f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_ADAGRAD);
    optim_assert_step_keeps_params(&zs_optim_torch_adagrad, &hp, 0.01, zeros);
    /* g*g = inf: the sum is inf and g/inf = 0 leaves p as it was */
    optim_assert_step_keeps_params(&zs_optim_torch_adagrad, &hp, 0.01, huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_foreach_order),
        cmocka_unit_test(test_close_to_long_double),
        cmocka_unit_test(test_first_step_by_hand),
        cmocka_unit_test(test_weight_decay_in_numerator),
        cmocka_unit_test(test_lr_decay_and_initial_accumulator),
        cmocka_unit_test(test_zero_and_huge_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
