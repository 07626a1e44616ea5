/* zero_optimization: DeepSpeed v0.19.6 zero/config.py and zero/offload_config.py defaults,
 * validators and strictness, the stage-dependent meaning of offload_param and overlap_comm, and the
 * settings zerospec does not model. docs/spec/config.md "ZeRO". */
#include "ds_config_test_util.h"

static void zero_defaults_follow_v0_19_6(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{}");
    const zs_zero_config *z = &c.zero;
    assert_int_equal(z->stage, 0);
    assert_int_equal(z->offload_optimizer.device, ZS_OFFLOAD_NONE);
    assert_int_equal(z->offload_optimizer.pin_memory, 1);
    assert_true(z->offload_optimizer.ratio == 1.0);
    assert_int_equal(z->contiguous_gradients, 1);
    assert_int_equal(z->reduce_scatter, 1);
    assert_int_equal(z->overlap_comm, 0);
    assert_int_equal(z->round_robin_gradients, 0);
    assert_int_equal(z->allgather_partitions, 1);
    assert_int_equal(z->reduce_bucket_size, 500000000);
    assert_int_equal(z->allgather_bucket_size, 500000000);
    assert_int_equal(z->sub_group_size, 1000000000);
    assert_int_equal(z->stage3_prefetch_bucket_size, 50000000);
    assert_int_equal(z->stage3_param_persistence_threshold, 100000);
    assert_int_equal(z->stage3_max_live_parameters, 1000000000);
    assert_int_equal(z->stage3_max_reuse_distance, 1000000000);
    zs_ds_config_free(&c);
}

static void zero_overlap_comm_defaults_to_true_at_stage_3(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 3}}");
    assert_int_equal(c.zero.overlap_comm, 1);
    zs_ds_config_free(&c);
    c = parse_ok("{'zero_optimization': {'stage': 3, 'overlap_comm': null}}");
    assert_int_equal(c.zero.overlap_comm, 1);
    zs_ds_config_free(&c);
    c = parse_ok("{'zero_optimization': {'stage': 3, 'overlap_comm': false}}");
    assert_int_equal(c.zero.overlap_comm, 0);
    zs_ds_config_free(&c);
}

static void zero_unknown_key_is_an_error(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 2, 'overlap_com': true}}",
                 "zero_optimization.overlap_com: unknown key (DeepSpeedZeroConfig in zero/config.py forbids extra "
                 "keys); did you mean \"overlap_comm\"?");
    expect_error("{'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'cpu', 'pinned': true}}}",
                 "zero_optimization.offload_optimizer.pinned: unknown key");
    expect_error("{'zero_optimization': {'stage': 3, 'offload_param': {'device': 'cpu', 'ratio': 0.5}}}",
                 "zero_optimization.offload_param.ratio: unknown key");
}

static void zero_offload_blocks_are_parsed(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 3, 'offload_optimizer': {'device': 'nvme', "
                              "'nvme_path': '/nvme', 'pin_memory': false, 'ratio': 0.5}, 'offload_param': "
                              "{'device': 'cpu', 'pin_memory': true, 'buffer_count': 5}}}");
    assert_int_equal(c.zero.offload_optimizer.device, ZS_OFFLOAD_NVME);
    assert_int_equal(c.zero.offload_optimizer.pin_memory, 0);
    assert_true(c.zero.offload_optimizer.ratio == 0.5);
    assert_int_equal(c.zero.offload_param.device, ZS_OFFLOAD_CPU);
    expect_status(&c, "zero_optimization.offload_param", ZS_KEY_USED);
    expect_status(&c, "zero_optimization.offload_optimizer.nvme_path", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
    expect_error("{'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'gpu'}}}",
                 "zero_optimization.offload_optimizer.device: expected \"none\", \"cpu\" or \"nvme\", got \"gpu\"");
}

static void zero_offload_param_below_stage_3_is_ignored(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 2, 'offload_param': {'device': 'cpu'}}}");
    expect_status(&c, "zero_optimization.offload_param", ZS_KEY_IGNORED);
    assert_string_equal(entry_of(&c, "zero_optimization.offload_param")->note,
                        "offload_param is a ZeRO-3 feature; DeepSpeed ignores it at stage 2");
    assert_int_equal(c.zero.offload_param.device, ZS_OFFLOAD_NONE);
    zs_ds_config_free(&c);
}

static void zero_partial_offload_needs_stage_3(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'cpu', 'ratio': 0.3}}}",
                 "Partial offloading only supported for ZeRO Stage 3.");
    expect_error("{'zero_optimization': {'stage': 3, 'offload_optimizer': {'device': 'cpu', 'ratio': 1.5}}}",
                 "ratio: must be in [0, 1], got 1.5");
}

static void zero_offload_at_stage_0_is_an_error(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam'}, 'zero_optimization': {'offload_optimizer': {'device': 'cpu'}}}",
                 "zero_optimization.offload_optimizer: offloading needs ZeRO stage 1, 2 or 3");
}

static void zero_round_robin_gradients_is_not_modelled(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 2, 'round_robin_gradients': true}}",
                 "zero_optimization.round_robin_gradients: true is not modelled by zerospec");
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 2, 'round_robin_gradients': false}}");
    expect_status(&c, "zero_optimization.round_robin_gradients", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
}

static void zero_reduce_scatter_and_contiguous_false_are_recorded(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 2, 'reduce_scatter': false, "
                              "'contiguous_gradients': false}}");
    assert_int_equal(c.zero.reduce_scatter, 0);
    assert_int_equal(c.zero.contiguous_gradients, 0);
    expect_status(&c, "zero_optimization.reduce_scatter", ZS_KEY_ACCEPTED);
    assert_non_null(strstr(entry_of(&c, "zero_optimization.reduce_scatter")->note, "rounds differently"));
    expect_status(&c, "zero_optimization.contiguous_gradients", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
    c = parse_ok("{'zero_optimization': {'stage': 2, 'reduce_scatter': true}}");
    expect_status(&c, "zero_optimization.reduce_scatter", ZS_KEY_USED);
    zs_ds_config_free(&c);
}

static void zero_prescale_and_predivide_need_post_scaling(void **state)
{
    (void)state;
    expect_error("{'prescale_gradients': true, 'zero_optimization': {'stage': 2}}",
                 "DeepSpeed asserts \"pre-scale gradients is not yet supported with ZeRO-2 with reduce scatter "
                 "enabled\"");
    expect_error("{'gradient_predivide_factor': 2.0, 'zero_optimization': {'stage': 1}}",
                 "\"gradient_predivide_factor != 1.0 is not yet supported with ZeRO-1 with reduce scatter enabled\"");
    zs_ds_config c = parse_ok("{'prescale_gradients': true, 'gradient_predivide_factor': 2.0, "
                              "'zero_optimization': {'stage': 2, 'reduce_scatter': false}}");
    assert_int_equal(c.prescale_gradients, 1);
    assert_true(c.gradient_predivide_factor == 2.0);
    zs_ds_config_free(&c);
    c = parse_ok("{'prescale_gradients': true}"); /* stage 0: allowed */
    zs_ds_config_free(&c);
    expect_error("{'gradient_predivide_factor': 0}", "gradient_predivide_factor: must be > 0");
}

static void zero_stage3_aliases_and_deprecated_keys(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'zero_optimization': {'stage': 3, 'prefetch_bucket_size': 1000, "
                              "'stage3_max_live_parameters': 1e6, 'cpu_offload_param': true}}");
    assert_int_equal(c.zero.stage3_prefetch_bucket_size, 1000);
    assert_int_equal(c.zero.stage3_max_live_parameters, 1000000);
    assert_int_equal(c.zero.offload_param.device, ZS_OFFLOAD_CPU);
    zs_ds_config_free(&c);
    c = parse_ok("{'zero_optimization': {'stage': 2, 'cpu_offload': true}}");
    assert_int_equal(c.zero.offload_optimizer.device, ZS_OFFLOAD_CPU);
    zs_ds_config_free(&c);
    expect_error("{'zero_optimization': {'stage': 2, 'cpu_offload': true, 'offload_optimizer': {'device': 'cpu'}}}",
                 "Cannot provide deprecated parameter 'cpu_offload' and replacing parameter 'offload_optimizer' "
                 "together");
    c = parse_ok("{'zero_optimization': true}");
    assert_int_equal(c.zero.stage, 1);
    zs_ds_config_free(&c);
}

static void zero_features_that_change_numerics_are_refused(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 3, 'zero_quantized_weights': true}}", "zero_quantized_weights");
    expect_error("{'zero_optimization': {'stage': 3, 'zero_quantized_gradients': true}}", "zero_quantized_gradients");
    expect_error("{'zero_optimization': {'stage': 3, 'mics_shard_size': 2}}", "MiCS");
    expect_error("{'zero_optimization': {'stage': 2, 'zenflow': {'topk_ratio': 0.1}}}", "ZenFlow");
    expect_error("{'zero_optimization': {'stage': 1, 'legacy_stage1': true}}",
                 "The deprecated version of ZeRO Stage 1 is not supported in deepspeed >= 0.5.9");
    expect_error("{'zero_optimization': {'stage': 3, 'offload_optimizer': {'device': 'cpu', 'super_offload': "
                 "true}}}",
                 "super_offload: true is not modelled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_defaults_follow_v0_19_6),
        cmocka_unit_test(zero_overlap_comm_defaults_to_true_at_stage_3),
        cmocka_unit_test(zero_unknown_key_is_an_error),
        cmocka_unit_test(zero_offload_blocks_are_parsed),
        cmocka_unit_test(zero_offload_param_below_stage_3_is_ignored),
        cmocka_unit_test(zero_partial_offload_needs_stage_3),
        cmocka_unit_test(zero_offload_at_stage_0_is_an_error),
        cmocka_unit_test(zero_round_robin_gradients_is_not_modelled),
        cmocka_unit_test(zero_reduce_scatter_and_contiguous_false_are_recorded),
        cmocka_unit_test(zero_prescale_and_predivide_need_post_scaling),
        cmocka_unit_test(zero_stage3_aliases_and_deprecated_keys),
        cmocka_unit_test(zero_features_that_change_numerics_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
