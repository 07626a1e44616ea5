/* fp16 / bf16 blocks: DeepSpeed v0.19.6 precision_config.py defaults and validators, the legacy
 * "bfloat16" key, and the both-enabled assertion. docs/spec/config.md "Precision". */
#include "ds_config_test_util.h"

static void precision_defaults_follow_v0_19_6(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'fp16': {'enabled': true}}");
    assert_int_equal(c.precision, ZS_PREC_FP16);
    assert_true(c.fp16.loss_scale == 0);
    assert_int_equal(c.fp16.initial_scale_power, 16);
    assert_int_equal(c.fp16.loss_scale_window, 1000);
    assert_int_equal(c.fp16.hysteresis, 2);
    assert_int_equal(c.fp16.consecutive_hysteresis, 0);
    assert_true(c.fp16.min_loss_scale == 1);
    assert_int_equal(c.fp16.auto_cast, 0);
    assert_int_equal(c.bf16.enabled, 0);
    assert_int_equal(c.bf16.check_grad_overflow, 1);
    expect_status(&c, "fp16.enabled", ZS_KEY_USED);
    zs_ds_config_free(&c);
    c = parse_ok("{}");
    assert_int_equal(c.precision, ZS_PREC_FP32);
    zs_ds_config_free(&c);
}

static void fp16_and_bf16_both_enabled_is_an_error(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': true}, 'bf16': {'enabled': true}}",
                 "fp16.enabled and bf16.enabled are both true: DeepSpeed asserts \"bfloat16 and fp16 modes cannot be "
                 "simultaneously enabled\"");
    expect_error("{'fp16': {'enabled': true}, 'bfloat16': {'enabled': true}}", "bfloat16.enabled are both true");
}

static void legacy_bfloat16_key_is_read_when_bf16_is_absent(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'bfloat16': {'enabled': true, 'check_grad_overflow': false}}");
    assert_int_equal(c.precision, ZS_PREC_BF16);
    assert_int_equal(c.bf16.check_grad_overflow, 0);
    expect_status(&c, "bfloat16", ZS_KEY_USED);
    zs_ds_config_free(&c);
    c = parse_ok("{'bf16': {'enabled': false}, 'bfloat16': {'enabled': true}}");
    assert_int_equal(c.precision, ZS_PREC_FP32);
    expect_status(&c, "bfloat16", ZS_KEY_IGNORED);
    zs_ds_config_free(&c);
}

static void loss_scale_must_be_finite_and_non_negative(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': false, 'loss_scale': -1}}",
                 "fp16.loss_scale must be >= 0 (0 enables dynamic loss scaling), got -1");
    expect_error("{'fp16': {'enabled': true, 'loss_scale': true}}", "fp16.loss_scale: expected a finite number, got true");
    expect_error("{'fp16': {'enabled': true, 'loss_scale': 1e999}}", "fp16.loss_scale: expected a finite number");
    zs_ds_config c = parse_ok("{'fp16': {'enabled': true, 'loss_scale': 128, 'loss_scale_window': 0}}");
    assert_true(c.fp16.loss_scale == 128); /* static scale: the dynamic-only checks do not apply */
    zs_ds_config_free(&c);
}

static void dynamic_scaling_needs_positive_window_and_min_scale(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': true, 'loss_scale_window': 0}}",
                 "fp16.loss_scale_window must be > 0 when dynamic loss scaling is enabled (loss_scale=0)");
    expect_error("{'fp16': {'enabled': true, 'min_loss_scale': 0}}",
                 "fp16.min_loss_scale must be > 0 when dynamic loss scaling is enabled (loss_scale=0)");
    expect_error("{'fp16': {'enabled': true, 'min_loss_scale': 0.5}}",
                 "fp16.min_loss_scale: expected an integer, got 0.5"); /* pydantic int field */
    expect_error("{'fp16': {'enabled': true, 'hysteresis': 0}}", "fp16.hysteresis must be >= 1");
    expect_error("{'fp16': {'enabled': true, 'initial_scale_power': 200}}",
                 "fp16.initial_scale_power: expected an integer -126..127, got 200");
    zs_ds_config c = parse_ok("{'fp16': {'enabled': false, 'loss_scale_window': 0, 'hysteresis': 0}}");
    zs_ds_config_free(&c); /* disabled: DeepSpeed does not validate them */
}

static void unknown_fp16_and_bf16_keys_are_errors(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': true, 'loss_scale_windows': 100}}",
                 "fp16.loss_scale_windows: unknown key (DeepSpeedFP16Config in precision_config.py forbids extra "
                 "keys); did you mean \"loss_scale_window\"?");
    expect_error("{'bf16': {'enable': true}}", "bf16.enable: unknown key");
    expect_error("{'fp16': true}", "fp16: expected an object, got true");
}

static void master_weight_variants_are_not_modelled(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 2}, 'fp16': {'enabled': true, 'fp16_master_weights_and_grads': "
                 "true}}",
                 "fp16.fp16_master_weights_and_grads: true is not modelled");
    expect_error("{'bf16': {'enabled': true, 'bf16_master_weights_and_grads': true}}",
                 "bf16.bf16_master_weights_and_grads: true is not modelled");
    zs_ds_config c = parse_ok("{'fp16': {'enabled': true, 'auto_cast': true}}");
    expect_status(&c, "fp16.auto_cast", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precision_defaults_follow_v0_19_6),
        cmocka_unit_test(fp16_and_bf16_both_enabled_is_an_error),
        cmocka_unit_test(legacy_bfloat16_key_is_read_when_bf16_is_absent),
        cmocka_unit_test(loss_scale_must_be_finite_and_non_negative),
        cmocka_unit_test(dynamic_scaling_needs_positive_window_and_min_scale),
        cmocka_unit_test(unknown_fp16_and_bf16_keys_are_errors),
        cmocka_unit_test(master_weight_variants_are_not_modelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
