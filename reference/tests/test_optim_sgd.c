/* torch.optim.SGD (reference/optim/sgd.c): plain, momentum with dampening, nesterov, L2 decay,
 * against torch's foreach SGD written out by hand and against values computed by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

/* _multi_tensor_sgd for one element. */
static float hand_torch_sgd(const zs_optimizer_config *hp, float p, const float *g_seq,
                            size_t stride, int steps, float state_out[ZS_OPTIM_MAX_STATE])
{
    float buf = 0.0f;
    for (int t = 1; t <= steps; t++) {
        float d = g_seq[(size_t)(t - 1) * stride];
        if (hp->weight_decay != 0.0)
            d = d + (float)hp->weight_decay * p;
        if (hp->momentum != 0.0) {
            const float mom = (float)hp->momentum;
            buf = t == 1 ? d : (buf * mom) + (float)(1.0 - hp->dampening) * d;
            d = hp->nesterov ? d + mom * buf : buf;
        }
        p = p + (float)(-hp->lr) * d;
    }
    state_out[0] = buf;
    return p;
}

static void check_against_hand(const zs_optimizer_config *hp)
{
    optim_check_against_hand(&zs_optim_torch_sgd, hp, hand_torch_sgd);
}

static void test_matches_foreach_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_SGD);
    check_against_hand(&hp); /* plain: the buffer stays 0 */
    hp.momentum = 0.9;
    check_against_hand(&hp);
    hp.dampening = 0.3;
    hp.weight_decay = 0.05;
    check_against_hand(&hp);
    hp.dampening = 0.0;
    hp.nesterov = 1;
    check_against_hand(&hp);
}

/* One element, g = 1 then 1: plain p - lr*g; momentum buf = 1 then 0.9 + (1 - 0.5) = 1.4;
 * nesterov steps by g + mom*buf. */
static void test_by_hand(void **unused)
{
    (void)unused;
    const float p0[1] = {1.0f}, g[1] = {1.0f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_SGD);
    optim_fixture f;

    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.5, g);
    assert_same_float(0.5f, f.param[0]);

    hp.momentum = 0.9;
    hp.dampening = 0.5;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.5, g); /* buf = g: no dampening on step 1 */
    assert_same_float(1.0f, f.state[0][0]);
    assert_same_float(0.5f, f.param[0]);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.5, g);
    assert_close(1.4, f.state[0][0], 1e-7);
    assert_close(0.5 - 0.5 * 1.4, f.param[0], 1e-7);

    hp.dampening = 0.0;
    hp.nesterov = 1;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.5, g); /* 1 + 0.9*1 */
    assert_close(1.0 - 0.5 * 1.9, f.param[0], 1e-6); /* fl32(0.9) shows at 2e-7 */
}

/* L2: weight decay joins the gradient before the momentum buffer. */
static void test_weight_decay_enters_buffer(void **unused)
{
    (void)unused;
    const float p0[1] = {2.0f}, zero[1] = {0.0f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_SGD);
    hp.momentum = 0.9;
    hp.weight_decay = 0.25;
    optim_fixture f;
    optim_fixture_init(&f, p0, 1);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.1, zero);
    assert_same_float(0.5f, f.state[0][0]);
    assert_close(2.0 - 0.05, f.param[0], 1e-7);
}

static void test_zero_and_huge_gradients(void **unused)
{
    (void)unused;
    const float zeros[OPTIM_TEST_N] = {0}, huge[OPTIM_TEST_N] = {1e30f, -1e30f, 1e30f, -1e30f};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_SGD);
    hp.momentum = 0.9;
    optim_assert_step_keeps_params(&zs_optim_torch_sgd, &hp, 0.1, zeros);
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, &zs_optim_torch_sgd, &hp, 0.1, huge);
    assert_close(-1e29, f.param[0], 1e-6);
    assert_close(1e29, f.param[1], 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_foreach_order),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_weight_decay_enters_buffer),
        cmocka_unit_test(test_zero_and_huge_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
