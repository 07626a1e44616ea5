/* torch_adam (reference/optim/adam_torch.c) against torch's foreach Adam/AdamW written out by hand,
 * against the textbook formulas in long double, and at its edges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

/* _multi_tensor_adam for one element: Python double scalars, float tensor math. */
static float hand_torch_adam(const zs_optimizer_config *hp, float p, const float *g_seq,
                             size_t stride, int steps, float state_out[ZS_OPTIM_MAX_STATE])
{
    const double lr = hp->lr, b1 = hp->betas[0], b2 = hp->betas[1], wd = hp->weight_decay;
    float m = 0.0f, v = 0.0f;
    for (int t = 1; t <= steps; t++) {
        float g = g_seq[(size_t)(t - 1) * stride];
        if (wd != 0.0 && hp->adam_w_mode)
            p = p * (float)(1.0 - lr * wd);
        if (wd != 0.0 && !hp->adam_w_mode)
            g = g + (float)wd * p;
        const float w = (float)(1.0 - b1); /* lerp weight; < 0.5 in these tests unless b1 < 0.5 */
        if (w < 0.5f)
            m = m + w * (g - m);
        else
            m = g - (g - m) * (1.0f - w);
        v = v * (float)b2;
        const float gg = g * g;
        v = v + (float)(1.0 - b2) * gg;
        const double bias_correction1 = 1.0 - pow(b1, (double)t);
        const double bias_correction2 = 1.0 - pow(b2, (double)t);
        const float neg_step_size = (float)(-(lr / bias_correction1));
        float denom = sqrtf(v);
        denom = denom / (float)pow(bias_correction2, 0.5);
        denom = denom + (float)hp->eps;
        const float ratio = m / denom;
        p = p + neg_step_size * ratio;
    }
    state_out[0] = m;
    state_out[1] = v;
    return p;
}

static void check_against_hand(const zs_optimizer_config *hp, const zs_optim_ops *ops)
{
    optim_check_against_hand(ops, hp, hand_torch_adam);
}

static zs_optimizer_config torch_hp(int decoupled, double wd)
{
    zs_optimizer_config hp = optim_test_hp(decoupled ? ZS_OPT_ADAMW : ZS_OPT_ADAM);
    hp.torch_adam = 1;
    hp.adam_w_mode = decoupled;
    hp.weight_decay = wd;
    return hp;
}

static void test_matches_foreach_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = torch_hp(1, 0.01);
    check_against_hand(&hp, &zs_optim_torch_adamw);
    hp = torch_hp(0, 0.1);
    check_against_hand(&hp, &zs_optim_torch_adam);
    hp = torch_hp(0, 0.0);
    hp.eps = 1e-30;
    check_against_hand(&hp, &zs_optim_torch_adam);
    hp.eps = 1.0;
    check_against_hand(&hp, &zs_optim_torch_adam);
}

/* b1 = 0.3 puts the lerp weight 0.7 on ATen's second form: end - (end - self)*(1 - w). */
static void test_lerp_large_weight_form(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = torch_hp(1, 0.01);
    hp.betas[0] = 0.3;
    check_against_hand(&hp, &zs_optim_torch_adamw);
}

static void test_sweep_matches_foreach_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = torch_hp(1, 0.1);
    optim_check_sweep(&zs_optim_torch_adamw, &hp, hand_torch_adam, 777);
    hp = torch_hp(0, 0.1);
    optim_check_sweep(&zs_optim_torch_adam, &hp, hand_torch_adam, 778);
}

static void test_close_to_textbook(void **unused)
{
    (void)unused;
    for (int decoupled = 0; decoupled <= 1; decoupled++) {
        zs_optimizer_config hp = torch_hp(decoupled, 0.05);
        optim_fixture f;
        optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
        for (int t = 0; t < OPTIM_TEST_STEPS; t++)
            optim_fixture_step(&f, decoupled ? &zs_optim_torch_adamw : &zs_optim_torch_adam, &hp,
                               hp.lr, OPTIM_TEST_GRADS[t]);
        for (int i = 0; i < OPTIM_TEST_N; i++) {
            long double p = OPTIM_TEST_P0[i], m = 0, v = 0;
            for (int t = 1; t <= OPTIM_TEST_STEPS; t++) {
                long double g = OPTIM_TEST_GRADS[t - 1][i];
                if (decoupled)
                    p *= 1 - 1e-3L * 0.05L;
                else
                    g += 0.05L * p;
                m = 0.9L * m + 0.1L * g;
                v = 0.999L * v + 0.001L * g * g;
                p -= (1e-3L / (1 - powl(0.9L, t))) * m /
                     (sqrtl(v) / sqrtl(1 - powl(0.999L, t)) + 1e-8L);
            }
            assert_close((double)p, f.param[i], 1e-6);
        }
    }
}

/* torch AdamW decays multiplicatively before the Adam step; torch Adam's L2 term enters m. */
static void test_decay_placement(void **unused)
{
    (void)unused;
    const float p0[1] = {1.0f}, g[1] = {1e-3f};
    optim_fixture f;

    zs_optimizer_config hp = torch_hp(1, 0.1);
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_adamw, &hp, 0.1, g);
    assert_close(0.1 * 1e-3, f.state[0][0], 1e-5);
    assert_close(1.0 * (1 - 0.01) - 0.1, f.param[0], 1e-5);

    hp = torch_hp(0, 0.1);
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_adam, &hp, 0.1, g);
    assert_close(0.1 * 0.101, f.state[0][0], 1e-5);
    assert_close(0.9, f.param[0], 1e-5);
}

static void test_zero_and_huge_gradients(void **unused)
{
    (void)unused;
    const float zeros[OPTIM_TEST_N] = {0}, huge[OPTIM_TEST_N] = {1e30f, -1e30f, 1e30f, -1e30f};
    zs_optimizer_config hp = torch_hp(1, 0.0);
    optim_assert_step_keeps_params(&zs_optim_torch_adamw, &hp, 1e-3, zeros);
    /* g*g overflows: v = inf, the denominator is inf and the step is 0 */
    optim_assert_step_keeps_params(&zs_optim_torch_adamw, &hp, 1e-3, huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_foreach_order),
        cmocka_unit_test(test_lerp_large_weight_form),
        cmocka_unit_test(test_sweep_matches_foreach_order),
        cmocka_unit_test(test_close_to_textbook),
        cmocka_unit_test(test_decay_placement),
        cmocka_unit_test(test_zero_and_huge_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
