/* zs_optim_ops_for (reference/optim/registry.c): the rule DeepSpeed selects for each config. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "optim_test_util.h"

static const zs_optim_ops *ops_for(zs_optimizer_type type, int torch_adam, int adam_w_mode)
{
    zs_optimizer_config hp = optim_test_hp(type);
    hp.torch_adam = torch_adam;
    hp.adam_w_mode = adam_w_mode;
    return zs_optim_ops_for(&hp);
}

static void test_selection(void **unused)
{
    (void)unused;
    assert_ptr_equal(&zs_optim_fused_adam, ops_for(ZS_OPT_ADAM, 0, 1));
    assert_ptr_equal(&zs_optim_fused_adam, ops_for(ZS_OPT_ADAM, 0, 0));
    assert_ptr_equal(&zs_optim_fused_adam, ops_for(ZS_OPT_ADAMW, 0, 1));
    assert_ptr_equal(&zs_optim_torch_adamw, ops_for(ZS_OPT_ADAM, 1, 1));
    assert_ptr_equal(&zs_optim_torch_adam, ops_for(ZS_OPT_ADAM, 1, 0));
    assert_ptr_equal(&zs_optim_torch_adamw, ops_for(ZS_OPT_ADAMW, 1, 1));
    assert_ptr_equal(&zs_optim_fused_lamb, ops_for(ZS_OPT_LAMB, 0, 1));
    assert_ptr_equal(&zs_optim_torch_adagrad, ops_for(ZS_OPT_ADAGRAD, 0, 1));
    assert_ptr_equal(&zs_optim_fused_lion, ops_for(ZS_OPT_LION, 0, 1));
    assert_ptr_equal(&zs_optim_torch_sgd, ops_for(ZS_OPT_SGD, 0, 1));
    assert_ptr_equal(&zs_optim_muon_aux_adam, ops_for(ZS_OPT_MUON, 0, 1));   /* + zs_optim_muon_matrix */
}

/* Not partition-local updates: planned (docs/spec/onebit-muon-design.md). */
static void test_unsupported_give_null(void **unused)
{
    (void)unused;
    const zs_optimizer_type none[] = {ZS_OPT_NONE,   ZS_OPT_ONEBIT_ADAM, ZS_OPT_ZERO_ONE_ADAM,
                                      ZS_OPT_ONEBIT_LAMB, ZS_OPT_MUADAM,
                                      ZS_OPT_MUADAMW, ZS_OPT_MUSGD,      ZS_OPT_COUNT};
    for (size_t k = 0; k < sizeof none / sizeof none[0]; k++)
        assert_null(ops_for(none[k], 0, 1));
}

/* Trace names are the source's state keys; OneCycle rewrites betas only where defaults have them. */
static void test_state_names_and_betas(void **unused)
{
    (void)unused;
    const zs_optim_ops *with_betas[] = {&zs_optim_fused_adam, &zs_optim_torch_adam,
                                        &zs_optim_torch_adamw, &zs_optim_fused_lamb};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(2, with_betas[k]->n_state);
        assert_string_equal("exp_avg", with_betas[k]->state_names[0]);
        assert_string_equal("exp_avg_sq", with_betas[k]->state_names[1]);
        assert_true(with_betas[k]->has_betas);
        assert_non_null(with_betas[k]->step);
    }
    assert_string_equal("exp_avg", zs_optim_fused_lion.state_names[0]);
    assert_true(zs_optim_fused_lion.has_betas);
    assert_string_equal("sum", zs_optim_torch_adagrad.state_names[0]);
    assert_false(zs_optim_torch_adagrad.has_betas);
    assert_string_equal("momentum_buffer", zs_optim_torch_sgd.state_names[0]);
    assert_false(zs_optim_torch_sgd.has_betas);
    assert_string_equal("FusedAdam", zs_optim_fused_adam.name);
    assert_string_equal("torch.optim.AdamW", zs_optim_torch_adamw.name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_unsupported_give_null),
        cmocka_unit_test(test_state_names_and_betas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
