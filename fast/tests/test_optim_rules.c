/* fast/optim_rules.c against docs/spec/optimizers.md: the selection table, state names, and the
 * host-side scalars of each rule computed as its source computes them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "optim_rules.h"

static zs_ds_config with(zs_optimizer_type type, int torch_adam)
{
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.has_optimizer = 1;
    c.optimizer.type = type;
    c.optimizer.torch_adam = torch_adam;
    c.optimizer.betas[0] = 0.9;
    c.optimizer.betas[1] = 0.999;
    c.optimizer.eps = 1e-8;
    c.optimizer.bias_correction = 1;
    return c;
}

static void test_selection_and_state_names(void **state)
{
    (void)state;
    const struct {
        zs_optimizer_type type;
        int torch;
        zsf_optim_rule rule;
        const char *s0, *s1;
    } rows[] = {
        {ZS_OPT_ADAM, 0, ZSF_FUSED_ADAM, "exp_avg", "exp_avg_sq"},   {ZS_OPT_ADAMW, 1, ZSF_TORCH_ADAM, "exp_avg", "exp_avg_sq"},
        {ZS_OPT_LAMB, 0, ZSF_FUSED_LAMB, "exp_avg", "exp_avg_sq"},   {ZS_OPT_ADAGRAD, 0, ZSF_TORCH_ADAGRAD, "sum", NULL},
        {ZS_OPT_LION, 0, ZSF_FUSED_LION, "exp_avg", NULL},           {ZS_OPT_SGD, 0, ZSF_TORCH_SGD, "momentum_buffer", NULL},
        {ZS_OPT_MUON, 0, ZSF_MUON, "exp_avg", "exp_avg_sq"},   /* the aux Adam's, over the whole partition */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        zs_ds_config c = with(rows[i].type, rows[i].torch);
        zsf_optim_rule r;
        zs_error err = {{0}};
        assert_int_equal(zsf_optim_rule_of(&c, &r, &err), 0);
        assert_int_equal(r, rows[i].rule);
        assert_string_equal(zsf_optim_state_name(r, 0), rows[i].s0);
        assert_int_equal(zsf_optim_n_state(r), rows[i].s1 ? 2 : 1);
        if (rows[i].s1)
            assert_string_equal(zsf_optim_state_name(r, 1), rows[i].s1);
    }
    assert_true(zsf_optim_has_betas(ZSF_FUSED_LION) && !zsf_optim_has_betas(ZSF_TORCH_SGD) &&
                !zsf_optim_has_betas(ZSF_TORCH_ADAGRAD) && !zsf_optim_has_betas(ZSF_MUON));
    assert_true(zsf_optim_per_tensor(ZSF_FUSED_LAMB) && !zsf_optim_per_tensor(ZSF_FUSED_ADAM));
}

/* The 1-bit family: selected, stepped by onebit.h, with zs-ref's state names (a third per element for
 * ZeroOneAdam and OnebitLamb). */
static void test_onebit_selection(void **state)
{
    (void)state;
    const struct {
        zs_optimizer_type type;
        zsf_optim_rule rule;
        const char *s2;
    } rows[] = {{ZS_OPT_ONEBIT_ADAM, ZSF_ONEBIT_ADAM, NULL},
                {ZS_OPT_ZERO_ONE_ADAM, ZSF_ZERO_ONE_ADAM, "momentum_accumulator"},
                {ZS_OPT_ONEBIT_LAMB, ZSF_ONEBIT_LAMB, "exp_avg_sq_fresh"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        zs_ds_config c = with(rows[i].type, 0);
        zsf_optim_rule r;
        zs_error err = {{0}};
        assert_int_equal(zsf_optim_rule_of(&c, &r, &err), 0);
        assert_int_equal(r, rows[i].rule);
        assert_true(zsf_optim_is_onebit(r) && zsf_optim_has_betas(r) && !zsf_optim_per_tensor(r));
        assert_string_equal(zsf_optim_state_name(r, 0), "exp_avg");
        assert_string_equal(zsf_optim_state_name(r, 1), "exp_avg_sq");
        assert_int_equal(zsf_optim_n_state(r), rows[i].s2 ? 3 : 2);
        if (rows[i].s2)
            assert_string_equal(zsf_optim_state_name(r, 2), rows[i].s2);
        assert_null(zsf_optim_state_name(r, zsf_optim_n_state(r)));
    }
    assert_false(zsf_optim_is_onebit(ZSF_FUSED_ADAM));
    assert_string_equal(zsf_optim_rule_name(ZSF_ONEBIT_LAMB), "OnebitLamb");
}

static void test_unsupported_and_missing(void **state)
{
    (void)state;
    zs_ds_config c = with(ZS_OPT_MUADAM, 0);   /* MuP: not implemented anywhere in zerospec's engines */
    snprintf(c.optimizer.type_name, sizeof c.optimizer.type_name, "MuAdam");
    zsf_optim_rule r;
    zs_error err = {{0}};
    assert_int_equal(zsf_optim_rule_of(&c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "MuAdam"));
    c.has_optimizer = 0;
    assert_int_equal(zsf_optim_rule_of(&c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "no \"optimizer\""));
}

static void test_fused_scalars(void **state)
{
    (void)state;
    zs_ds_config c = with(ZS_OPT_LAMB, 0);
    zsf_optim_scalars s;
    zsf_optim_scalars_for(ZSF_FUSED_LAMB, &c.optimizer, 3, 0.01, 0.9, 0.999, &s);
    const float bc1 = (float)(1.0 - pow((double)0.9f, 3.0)), bc2 = (float)(1.0 - pow((double)0.999f, 3.0));
    assert_true(s.bc1 == bc1 && s.bc2 == bc2);                 /* pow of the float beta, in double */
    assert_true(s.step_size == 0.01f * sqrtf(bc2) / bc1);
    c.optimizer.bias_correction = 0;
    zsf_optim_scalars_for(ZSF_FUSED_ADAM, &c.optimizer, 3, 0.01, 0.9, 0.999, &s);
    assert_true(s.bc1 == 1.0f && s.bc2 == 1.0f && s.step_size == 0.01f);
    c.optimizer.weight_decay = 0.1;
    zsf_optim_scalars_for(ZSF_FUSED_LION, &c.optimizer, 1, 0.001, 0.9, 0.99, &s);
    assert_true(s.decay == 1.0f - 0.001f * 0.1f);              /* float math */
}

static void test_torch_scalars(void **state)
{
    (void)state;
    zs_ds_config c = with(ZS_OPT_ADAMW, 1);
    c.optimizer.weight_decay = 0.01;
    c.optimizer.adam_w_mode = 1;
    zsf_optim_scalars s;
    zsf_optim_scalars_for(ZSF_TORCH_ADAM, &c.optimizer, 2, 0.01, 0.9, 0.999, &s);
    const double bc1 = 1.0 - pow(0.9, 2.0), bc2 = 1.0 - pow(0.999, 2.0);
    assert_true(s.step_size == (float)((0.01 / bc1) * -1.0));  /* doubles, then one rounding */
    assert_true(s.bc2_sqrt == (float)pow(bc2, 0.5));
    assert_true(s.lerp_w == (float)(1.0 - 0.9) && s.one_minus_b2 == (float)(1.0 - 0.999));
    assert_true(s.decay == (float)(1.0 - 0.01 * 0.01) && s.apply_wd);
    c.optimizer.lr_decay = 0.5;
    c.optimizer.initial_accumulator_value = 0.25;
    zsf_optim_scalars_for(ZSF_TORCH_ADAGRAD, &c.optimizer, 3, 0.05, 0.9, 0.999, &s);
    assert_true(s.minus_clr == (float)-(0.05 / (1.0 + 2.0 * 0.5)) && s.init_acc == 0.25f && !s.first_step);
    c.optimizer.momentum = 0.9;
    c.optimizer.dampening = 0.25;
    c.optimizer.nesterov = 1;
    zsf_optim_scalars_for(ZSF_TORCH_SGD, &c.optimizer, 1, 0.1, 0.9, 0.999, &s);
    assert_true(s.momentum == 0.9f && s.one_minus_damp == 0.75f && s.neg_lr == -0.1f && s.nesterov && s.first_step);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection_and_state_names),
        cmocka_unit_test(test_onebit_selection),
        cmocka_unit_test(test_unsupported_and_missing),
        cmocka_unit_test(test_fused_scalars),
        cmocka_unit_test(test_torch_scalars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
