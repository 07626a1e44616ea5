/* The optimizer block: type matching, per-type constructor defaults (DeepSpeed v0.19.6 and torch),
 * parameters per implementation, and the restrictions DeepSpeed enforces. docs/spec/config.md
 * "Optimizer". */
#include "ds_config_test_util.h"

static zs_optimizer_config opt_of(const char *single_quoted)
{
    zs_ds_config c = parse_ok(single_quoted);
    zs_optimizer_config o = c.optimizer;
    assert_int_equal(c.has_optimizer, 1);
    zs_ds_config_free(&c);
    return o;
}

static void optimizer_type_matches_deepspeed_names_case_insensitively(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        zs_optimizer_type type;
    } cases[] = {
        {"{'optimizer': {'type': 'adam'}}", ZS_OPT_ADAM},
        {"{'optimizer': {'type': 'ADAMW'}}", ZS_OPT_ADAMW},
        {"{'optimizer': {'type': 'Lamb'}}", ZS_OPT_LAMB},
        {"{'optimizer': {'type': 'OneBitAdam'}}", ZS_OPT_ONEBIT_ADAM},
        {"{'optimizer': {'type': 'ZeroOneAdam'}}", ZS_OPT_ZERO_ONE_ADAM},
        {"{'optimizer': {'type': 'OneBitLamb'}}", ZS_OPT_ONEBIT_LAMB},
        {"{'optimizer': {'type': 'Adagrad'}}", ZS_OPT_ADAGRAD},
        {"{'optimizer': {'type': 'Lion'}}", ZS_OPT_LION},
        {"{'optimizer': {'type': 'Muon'}}", ZS_OPT_MUON},
        {"{'optimizer': {'type': 'MuAdam', 'params': {'lr': 1e-3}}}", ZS_OPT_MUADAM},
        {"{'optimizer': {'type': 'MuAdamW', 'params': {'lr': 1e-3}}}", ZS_OPT_MUADAMW},
        {"{'optimizer': {'type': 'musgd', 'params': {'lr': 1e-3}}}", ZS_OPT_MUSGD},
        {"{'optimizer': {'type': 'SGD', 'params': {'lr': 0.1}}}", ZS_OPT_SGD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zs_optimizer_config o = opt_of(cases[i].json);
        assert_int_equal(o.type, cases[i].type);
    }
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'adamW'}}");
    assert_string_equal(o.type_name, "adamW");
    assert_string_equal(zs_optimizer_type_name(o.type), "AdamW");
}

static void optimizer_torch_names_must_be_exact_and_supported(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'sgd'}}",
                 "optimizer.type: sgd is not a supported DeepSpeed Optimizer (torch.optim names must be spelled "
                 "exactly); did you mean \"SGD\"?");
    expect_error("{'optimizer': {'type': 'RMSprop'}}",
                 "optimizer.type: torch.optim.RMSprop is accepted by DeepSpeed but not supported by zerospec");
    expect_error("{'optimizer': {'type': 'AdamWW'}}", "AdamWW is not a supported DeepSpeed Optimizer; did you mean "
                                                     "\"AdamW\"?");
    expect_error("{'optimizer': {'type': 'Sophia'}}", "optimizer.type: Sophia is not a supported DeepSpeed Optimizer");
    expect_error("{'optimizer': {'params': {'lr': 0.1}}}", "optimizer.type is required");
    expect_error("{'optimizer': {'type': 'Adam', 'param': {'lr': 0.1}}}",
                 "optimizer.param: unknown key (DeepSpeed reads only type, params and legacy_fusion here and ignores "
                 "the rest); did you mean \"params\"?");
}

static void optimizer_adam_defaults_are_fused_adams(void **state)
{
    (void)state;
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'Adam'}}");
    assert_true(o.lr == 1e-3);
    assert_true(o.betas[0] == 0.9 && o.betas[1] == 0.999);
    assert_true(o.eps == 1e-8);
    assert_true(o.weight_decay == 0);
    assert_int_equal(o.bias_correction, 1);
    assert_int_equal(o.adam_w_mode, 1); /* "Adam" means decoupled decay unless adam_w_mode is false */
    assert_int_equal(o.torch_adam, 0);
    assert_int_equal(o.amsgrad, 0);
    o = opt_of("{'optimizer': {'type': 'Adam', 'params': {'adam_w_mode': false}}}");
    assert_int_equal(o.adam_w_mode, 0);
    o = opt_of("{'optimizer': {'type': 'AdamW', 'params': {'adam_w_mode': false}}}");
    assert_int_equal(o.adam_w_mode, 1); /* AdamW is always decoupled */
}

static void optimizer_torch_adamw_defaults_weight_decay_to_0_01(void **state)
{
    (void)state;
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'AdamW', 'params': {'torch_adam': true}}}");
    assert_int_equal(o.torch_adam, 1);
    assert_true(o.weight_decay == 0.01);
    o = opt_of("{'optimizer': {'type': 'Adam', 'params': {'torch_adam': true, 'adam_w_mode': false}}}");
    assert_true(o.weight_decay == 0);
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'torch_adam': true, 'bias_correction': false}}}",
                 "optimizer.params.bias_correction: torch.optim.Adam does not accept it (DeepSpeed raises TypeError)");
}

static void optimizer_params_depend_on_the_implementation(void **state)
{
    (void)state;
    const char *offload = "'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'cpu'}}";
    char json[512];
    snprintf(json, sizeof json, "{%s, 'optimizer': {'type': 'Adam', 'params': {'set_grad_none': true}}}", offload);
    expect_error(json, "optimizer.params.set_grad_none: DeepSpeedCPUAdam does not accept it");
    snprintf(json, sizeof json, "{%s, 'optimizer': {'type': 'Adagrad', 'params': {'lr_decay': 0.1}}}", offload);
    expect_error(json, "optimizer.params.lr_decay: DeepSpeedCPUAdagrad does not accept it");
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'fp32_optimizer_states': true}}}",
                 "optimizer.params.fp32_optimizer_states: FusedAdam does not accept it");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Adam', 'params': {'set_grad_none': true, 'lr': 2e-3}}}");
    expect_status(&c, "optimizer.params.set_grad_none", ZS_KEY_ACCEPTED);
    expect_status(&c, "optimizer.params.lr", ZS_KEY_USED);
    zs_ds_config_free(&c);
}

static void optimizer_unknown_param_is_an_error(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'AdamW', 'params': {'lr': 1e-3, 'beta': [0.9, 0.99]}}}",
                 "optimizer.params.beta: not a parameter of AdamW (FusedAdam accepts: lr, betas, eps, weight_decay, "
                 "bias_correction, amsgrad, adam_w_mode, torch_adam, set_grad_none); did you mean \"betas\"?");
    expect_error("{'optimizer': {'type': 'Muon', 'params': {'nesterov': true}}}",
                 "optimizer.params.nesterov: not a parameter of Muon");
}

static void optimizer_max_grad_norm_is_refused(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'max_grad_norm': 1.0}}}",
                 "optimizer.params.max_grad_norm: 'max_grad_norm' is not supported as an optimizer parameter, please "
                 "switch to using the deepspeed parameter 'gradient_clipping'");
}

static void optimizer_amsgrad_is_refused(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'amsgrad': true}}}",
                 "optimizer.params.amsgrad: true is not supported");
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'Adam', 'params': {'amsgrad': false}}}");
    assert_int_equal(o.amsgrad, 0);
}

static void optimizer_lamb_and_onebit_defaults(void **state)
{
    (void)state;
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'Lamb'}}");
    assert_true(o.max_coeff == 10.0 && o.min_coeff == 0.01);
    assert_int_equal(o.eps_inside_sqrt, 0);
    assert_true(o.lr == 1e-3);
    o = opt_of("{'optimizer': {'type': 'OneBitLamb', 'params': {'freeze_step': 10, 'cuda_aware': false}}}");
    assert_int_equal(o.freeze_step, 10);
    assert_true(o.coeff_beta == 0.9 && o.factor_max == 4.0 && o.factor_min == 0.5 && o.factor_threshold == 0.1);
    o = opt_of("{'optimizer': {'type': 'ZeroOneAdam'}}");
    assert_int_equal(o.var_freeze_step, 100000);
    assert_int_equal(o.var_update_scaler, 16);
    assert_int_equal(o.local_step_scaler, 32678);
    assert_int_equal(o.local_step_clipper, 16);
    o = opt_of("{'optimizer': {'type': 'OneBitAdam'}}");
    assert_int_equal(o.freeze_step, 100000);
    expect_error("{'optimizer': {'type': 'ZeroOneAdam', 'params': {'local_step_clipper': 0}}}",
                 "optimizer.params.local_step_clipper: expected an integer >= 1, got 0");
}

static void optimizer_adagrad_lion_sgd_defaults(void **state)
{
    (void)state;
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'Adagrad'}}");
    assert_true(o.lr == 1e-2 && o.eps == 1e-10 && o.lr_decay == 0 && o.initial_accumulator_value == 0);
    o = opt_of("{'optimizer': {'type': 'Lion'}}");
    assert_true(o.lr == 1e-3 && o.betas[0] == 0.9 && o.betas[1] == 0.999 && o.weight_decay == 0);
    o = opt_of("{'optimizer': {'type': 'SGD', 'params': {'lr': 0.1, 'momentum': 0.9, 'nesterov': true}}}");
    assert_true(o.lr == 0.1 && o.momentum == 0.9 && o.dampening == 0);
    assert_int_equal(o.nesterov, 1);
    expect_error("{'optimizer': {'type': 'SGD'}}", "optimizer.params.lr is required by SGD");
    expect_error("{'optimizer': {'type': 'SGD', 'params': {'lr': 0.1, 'nesterov': true}}}",
                 "Nesterov momentum requires a momentum and zero dampening");
    o = opt_of("{'optimizer': {'type': 'MuAdamW', 'params': {'lr': 0.01}}}");
    assert_int_equal(o.torch_adam, 1);
    assert_int_equal(o.adam_w_mode, 1);
    assert_true(o.weight_decay == 0); /* mup sets each group's weight_decay, default 0. */
    o = opt_of("{'optimizer': {'type': 'MuAdam', 'params': {'lr': 0.01}}}");
    assert_int_equal(o.adam_w_mode, 0);
}

static void optimizer_muon_groups_resolve_their_lrs(void **state)
{
    (void)state;
    zs_optimizer_config o = opt_of("{'optimizer': {'type': 'Muon'}}");
    assert_true(o.muon_lr == 0.02 && o.adam_lr == 3e-4 && o.lr == 0.02);
    assert_true(o.momentum == 0.95 && o.betas[0] == 0.9 && o.betas[1] == 0.95 && o.eps == 1e-10);
    assert_string_equal(o.ns_method, "gram");
    o = opt_of("{'optimizer': {'type': 'Muon', 'params': {'lr': 0.01, 'adam_lr': 0.001, 'ns_method': 'standard'}}}");
    assert_true(o.muon_lr == 0.01 && o.adam_lr == 0.001);
    assert_string_equal(o.ns_method, "standard");
    expect_error("{'optimizer': {'type': 'Muon', 'params': {'ns_method': 'svd'}}}",
                 "ns_method must be one of {'standard', 'gram'}, got svd");
    expect_error("{'optimizer': {'type': 'Muon'}, 'zero_optimization': {'stage': 3}}",
                 "Muon and reduce scatter cannot be used together");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Muon'}, 'zero_optimization': {'stage': 3, "
                              "'reduce_scatter': false}}");
    zs_ds_config_free(&c);
}

static void optimizer_values_must_be_sane(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'lr': -1}}}", "optimizer.params.lr: must be >= 0, got -1");
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'betas': [0.9, 1.0]}}}",
                 "optimizer.params.betas[1]: must be in [0, 1), got 1");
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'betas': [0.9]}}}",
                 "optimizer.params.betas: expected a list of two numbers, got a list");
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'betas': 'auto'}}}", "optimizer.params.betas is \"auto\"");
}

static void onebit_optimizers_require_stage_0(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'OneBitAdam'}, 'zero_optimization': {'stage': 1}}",
                 "DeepSpeed asserts \"1bit-Adam is not compatible with ZeRO\" (engine.py _configure_basic_optimizer)");
    expect_error("{'optimizer': {'type': 'ZeroOneAdam'}, 'zero_optimization': {'stage': 2}}",
                 "\"0/1 Adam is not compatible with ZeRO\"");
    expect_error("{'optimizer': {'type': 'OneBitLamb'}, 'zero_optimization': {'stage': 3}, "
                 "'zero_allow_untested_optimizer': true}",
                 "\"1bit-Lamb is not compatible with ZeRO\"");
}

static void untested_optimizers_under_zero_need_the_flag(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Lamb'}, 'zero_optimization': {'stage': 2}}",
                 "You are using an untested ZeRO Optimizer. Please add <\"zero_allow_untested_optimizer\": true> in "
                 "the configuration file to use it.");
    expect_error("{'optimizer': {'type': 'SGD', 'params': {'lr': 0.1}}, 'zero_optimization': {'stage': 1}}",
                 "untested ZeRO Optimizer");
    expect_error("{'optimizer': {'type': 'MuSGD', 'params': {'lr': 0.1}}, 'zero_optimization': {'stage': 1}}",
                 "untested ZeRO Optimizer");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Lamb'}, 'zero_optimization': {'stage': 2}, "
                              "'zero_allow_untested_optimizer': true}");
    zs_ds_config_free(&c);
    /* ZERO_SUPPORTED_OPTIMIZERS: Adam(W), Adagrad, Lion, Muon; MuAdam(W) are torch.optim.Adam(W) instances */
    const char *supported[] = {"Adam", "AdamW", "Adagrad", "Lion", "MuAdam", "MuAdamW"};
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{'optimizer': {'type': '%s', 'params': {'lr': 0.001}}, "
                                    "'zero_optimization': {'stage': 2}}",
                 supported[i]);
        c = parse_ok(json);
        zs_ds_config_free(&c);
    }
}

static void lamb_requires_dynamic_loss_scaling(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Lamb'}, 'fp16': {'enabled': true, 'loss_scale': 128}}",
                 "DeepSpeed asserts \"DeepSpeed lamb optimizer requires dynamic loss scaling\"");
    expect_error("{'optimizer': {'type': 'OneBitLamb'}, 'fp16': {'enabled': false, 'loss_scale': 64}}",
                 "\"DeepSpeed onebitlamb optimizer requires dynamic loss scaling\"");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Lamb'}, 'bf16': {'enabled': true}}");
    zs_ds_config_free(&c);
}

static void offload_needs_a_cpu_capable_optimizer(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Lamb'}, 'zero_allow_untested_optimizer': true, 'zero_optimization': "
                 "{'stage': 2, 'offload_optimizer': {'device': 'cpu'}}}",
                 "zero_optimization.offload_optimizer: Lamb with optimizer offload is not modelled by zerospec");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Lion'}, 'zero_optimization': {'stage': 2, "
                              "'offload_optimizer': {'device': 'cpu'}}}");
    zs_ds_config_free(&c);
}

static void optimizer_legacy_fusion_is_not_modelled(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam', 'legacy_fusion': true}}", "optimizer.legacy_fusion: true");
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Adam', 'legacy_fusion': false}}");
    expect_status(&c, "optimizer.legacy_fusion", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(optimizer_type_matches_deepspeed_names_case_insensitively),
        cmocka_unit_test(optimizer_torch_names_must_be_exact_and_supported),
        cmocka_unit_test(optimizer_adam_defaults_are_fused_adams),
        cmocka_unit_test(optimizer_torch_adamw_defaults_weight_decay_to_0_01),
        cmocka_unit_test(optimizer_params_depend_on_the_implementation),
        cmocka_unit_test(optimizer_unknown_param_is_an_error),
        cmocka_unit_test(optimizer_max_grad_norm_is_refused),
        cmocka_unit_test(optimizer_amsgrad_is_refused),
        cmocka_unit_test(optimizer_lamb_and_onebit_defaults),
        cmocka_unit_test(optimizer_adagrad_lion_sgd_defaults),
        cmocka_unit_test(optimizer_muon_groups_resolve_their_lrs),
        cmocka_unit_test(optimizer_values_must_be_sane),
        cmocka_unit_test(onebit_optimizers_require_stage_0),
        cmocka_unit_test(untested_optimizers_under_zero_need_the_flag),
        cmocka_unit_test(lamb_requires_dynamic_loss_scaling),
        cmocka_unit_test(offload_needs_a_cpu_capable_optimizer),
        cmocka_unit_test(optimizer_legacy_fusion_is_not_modelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
