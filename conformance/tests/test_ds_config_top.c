/* Top-level keys: unknown keys warn, near-misses of known keys fail with a suggestion, valid keys
 * that do not affect the numerics are accepted, features that would change them are refused, and
 * the top-level scalars get DeepSpeed v0.19.6 defaults. docs/spec/config.md "Top-level keys". */
#include "ds_config_test_util.h"

static void unknown_top_level_key_is_recorded_not_fatal(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'train_batch_size': 8, 'my_experiment_name': 'run7'}");
    expect_status(&c, "my_experiment_name", ZS_KEY_UNKNOWN);
    assert_non_null(strstr(entry_of(&c, "my_experiment_name")->note, "DeepSpeed ignores it"));
    zs_ds_config_free(&c);
}

static void misspelt_top_level_key_fails_with_suggestion(void **state)
{
    (void)state;
    expect_error("{'train_micro_batch_size_per_gu': 4}",
                 "train_micro_batch_size_per_gu: unknown top-level key; did you mean "
                 "\"train_micro_batch_size_per_gpu\"? (DeepSpeed silently ignores unknown top-level keys");
    expect_error("{'gradient_cliping': 1.0}", "did you mean \"gradient_clipping\"?");
    expect_error("{'FP16': {'enabled': true}}", "did you mean \"fp16\"?");
    expect_error("{'zero_optimisation': {'stage': 2}}", "did you mean \"zero_optimization\"?");
}

static void valid_keys_without_numeric_effect_are_accepted(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'wall_clock_breakdown': false, 'steps_per_print': 100, 'flops_profiler': "
                              "{'enabled': true}, 'tensorboard': {'enabled': true}, 'activation_checkpointing': "
                              "{'partition_activations': true}, 'comms_logger': {'enabled': true}, "
                              "'compression_training': {'weight_quantization': {'shared_parameters': "
                              "{'enabled': false}}}}");
    expect_status(&c, "wall_clock_breakdown", ZS_KEY_ACCEPTED);
    expect_status(&c, "steps_per_print", ZS_KEY_ACCEPTED);
    expect_status(&c, "flops_profiler", ZS_KEY_ACCEPTED);
    expect_status(&c, "tensorboard", ZS_KEY_ACCEPTED);
    expect_status(&c, "activation_checkpointing", ZS_KEY_ACCEPTED);
    expect_status(&c, "comms_logger", ZS_KEY_ACCEPTED);
    expect_status(&c, "compression_training", ZS_KEY_ACCEPTED);
    assert_int_equal(c.steps_per_print, 100);
    zs_ds_config_free(&c);
}

static void enabled_features_that_change_numerics_are_refused(void **state)
{
    (void)state;
    expect_error("{'amp': {'enabled': true, 'opt_level': 'O1'}}",
                 "amp.enabled is true: amp changes the training numerics and is not modelled by zerospec");
    expect_error("{'compression_training': {'weight_quantization': {'shared_parameters': {'enabled': true}}}}",
                 "compression_training.weight_quantization.shared_parameters.enabled is true");
    expect_error("{'data_efficiency': {'enabled': true}}", "data_efficiency.enabled is true");
    expect_error("{'torch_autocast': {'enabled': true}}", "torch_autocast.enabled is true");
    expect_error("{'sequence_parallel_size': 2}", "sequence parallelism is not modelled");
    expect_error("{'tensor_parallel': {'autotp_size': 2}}", "tensor parallelism is not modelled");
    expect_error("{'managed_gradient_accumulation': false}", "managed_gradient_accumulation: false");
    /* a feature switched off at its top stays off, whatever it holds below */
    zs_ds_config c = parse_ok("{'data_efficiency': {'enabled': false, 'data_sampling': {'enabled': true}}}");
    expect_status(&c, "data_efficiency", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
}

static void gradient_clipping_defaults_to_one_and_must_be_non_negative(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{}");
    assert_true(c.gradient_clipping == 1.0);
    assert_int_equal(c.steps_per_print, 0); /* DeepSpeed's None: no progress lines */
    assert_int_equal(c.prescale_gradients, 0);
    assert_true(c.gradient_predivide_factor == 1.0);
    assert_int_equal(c.zero_allow_untested_optimizer, 0);
    assert_int_equal(c.has_optimizer, 0);
    assert_int_equal(c.scheduler.type, ZS_SCHED_NONE);
    zs_ds_config_free(&c);
    c = parse_ok("{'gradient_clipping': 0}");
    assert_true(c.gradient_clipping == 0.0);
    expect_status(&c, "gradient_clipping", ZS_KEY_USED);
    zs_ds_config_free(&c);
    expect_error("{'gradient_clipping': -1}", "gradient_clipping: must be >= 0 (0 turns clipping off), got -1");
}

static void steps_per_print_must_be_positive_or_null(void **state)
{
    (void)state;
    expect_error("{'steps_per_print': 0}", "steps_per_print: expected an integer 1..2147483647, got 0");
    zs_ds_config c = parse_ok("{'steps_per_print': null}");
    assert_int_equal(c.steps_per_print, 0);
    zs_ds_config_free(&c);
}

static void gradient_allreduce_op_sum_is_not_modelled(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'gradient_allreduce_op': 'MEAN'}");
    expect_status(&c, "gradient_allreduce_op", ZS_KEY_USED);
    zs_ds_config_free(&c);
    expect_error("{'gradient_allreduce_op': 'sum'}", "gradient_allreduce_op: \"sum\"");
    expect_error("{'gradient_allreduce_op': 'max'}", "Supported operations: ['mean', 'sum']. Got: 'max'");
}

static void communication_dtype_must_match_the_model(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'bf16': {'enabled': true}, 'communication_data_type': 'BF16', "
                              "'data_types': {'grad_accum_dtype': 'bfloat16', 'extra': 1}}");
    expect_status(&c, "communication_data_type", ZS_KEY_ACCEPTED);
    expect_status(&c, "data_types.grad_accum_dtype", ZS_KEY_ACCEPTED);
    expect_status(&c, "data_types.extra", ZS_KEY_UNKNOWN);
    zs_ds_config_free(&c);
    expect_error("{'bf16': {'enabled': true}, 'communication_data_type': 'fp32'}",
                 "communication_data_type: \"fp32\" differs from the model dtype (bf16)");
    expect_error("{'communication_data_type': 'int8'}", "Invalid communication_data_type");
    expect_error("{'bf16': {'enabled': true}, 'data_types': {'grad_accum_dtype': 'fp32'}}",
                 "data_types.grad_accum_dtype: \"fp32\" differs from the model dtype (bf16)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_top_level_key_is_recorded_not_fatal),
        cmocka_unit_test(misspelt_top_level_key_fails_with_suggestion),
        cmocka_unit_test(valid_keys_without_numeric_effect_are_accepted),
        cmocka_unit_test(enabled_features_that_change_numerics_are_refused),
        cmocka_unit_test(gradient_clipping_defaults_to_one_and_must_be_non_negative),
        cmocka_unit_test(steps_per_print_must_be_positive_or_null),
        cmocka_unit_test(gradient_allreduce_op_sum_is_not_modelled),
        cmocka_unit_test(communication_dtype_must_match_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
