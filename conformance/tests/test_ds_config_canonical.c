/* canonical_json (trace metadata) and the key report. The canonical form is deterministic, is valid
 * JSON, and is itself a DeepSpeed config with the same meaning: parsing it again gives the same text.
 * docs/spec/config.md "Canonical form" and "Key report". */
#include <cjson/cJSON.h>

#include "ds_config_test_util.h"

static const char *const configs[] = {
    "{}",
    "{'train_batch_size': 32, 'gradient_accumulation_steps': 2, 'fp16': {'enabled': true, 'loss_scale_window': 50}, "
    "'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'cpu'}, 'reduce_bucket_size': 2e8}, "
    "'optimizer': {'type': 'adamw', 'params': {'lr': 3e-4, 'betas': [0.9, 0.95], 'weight_decay': 0.1}}, "
    "'scheduler': {'type': 'WarmupDecayLR', 'params': {'total_num_steps': 100, 'warmup_num_steps': 10}}, "
    "'gradient_clipping': 0.5, 'steps_per_print': 5}",
    "{'train_micro_batch_size_per_gpu': 2, 'bf16': {'enabled': true}, 'zero_optimization': {'stage': 3}, "
    "'optimizer': {'type': 'Adam', 'params': {'torch_adam': true}}, "
    "'scheduler': {'type': 'WarmupLR', 'params': {}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'Muon', 'params': {'lr': 0.01}}, "
    "'scheduler': {'type': 'WarmupCosineLR', 'params': {'total_num_steps': 50, 'warmup_type': 'linear'}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'SGD', 'params': {'lr': 0.1, 'momentum': 0.9}}, "
    "'scheduler': {'type': 'OneCycle', 'params': {'cycle_min_lr': 0.01, 'cycle_max_lr': 0.1}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'ZeroOneAdam', 'params': {'var_freeze_step': 10}}, "
    "'fp16': {'enabled': true}, 'scheduler': {'type': 'LRRangeTest', 'params': {'lr_range_test_staircase': true}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'Lamb'}, 'zero_optimization': {'stage': 1}, "
    "'zero_allow_untested_optimizer': true}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'Adagrad', 'params': {'lr_decay': 0.01}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'Lion'}, 'zero_optimization': {'stage': 2, "
    "'offload_optimizer': {'device': 'cpu'}}}",
    "{'train_batch_size': 8, 'optimizer': {'type': 'MuSGD', 'params': {'lr': 0.1}}}",
    "{'train_batch_size': 8, 'zero_optimization': {'stage': 2, 'offload_param': {'device': 'cpu'}, "
    "'reduce_scatter': false}, 'prescale_gradients': true}",
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static void canonical_json_is_deterministic(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CONFIGS; i++) {
        zs_ds_config a = parse_ok(configs[i]);
        zs_ds_config b = parse_ok(configs[i]);
        assert_non_null(a.canonical_json);
        assert_string_equal(a.canonical_json, b.canonical_json);
        zs_ds_config_free(&a);
        zs_ds_config_free(&b);
    }
}

static void canonical_json_reparses_to_itself(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CONFIGS; i++) {
        zs_ds_config a = parse_ok(configs[i]);
        cJSON *tree = cJSON_Parse(a.canonical_json);
        assert_non_null(tree);
        cJSON_Delete(tree);
        zs_ds_config b;
        zs_error err = {{0}};
        if (zs_ds_config_parse(a.canonical_json, "<canonical>", &b, &err))
            fail_msg("config %zu: canonical form does not parse: %s\n%s", i, err.msg, a.canonical_json);
        assert_string_equal(a.canonical_json, b.canonical_json);
        assert_memory_equal((const char *)&a.optimizer + offsetof(zs_optimizer_config, lr),
                            (const char *)&b.optimizer + offsetof(zs_optimizer_config, lr),
                            sizeof a.optimizer - offsetof(zs_optimizer_config, lr));
        assert_int_equal(a.precision, b.precision);
        zs_ds_config_free(&a);
        zs_ds_config_free(&b);
    }
}

static void canonical_json_fills_defaults_in_fixed_order(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'adamw'}, 'train_batch_size': 8}");
    const char *j = c.canonical_json;
    assert_non_null(strstr(j, "{\"train_batch_size\":8,\"train_micro_batch_size_per_gpu\":null,"));
    assert_non_null(strstr(j, "\"gradient_clipping\":1,"));
    assert_non_null(strstr(j, "\"fp16\":{\"enabled\":false,\"auto_cast\":false,\"loss_scale\":0,"
                              "\"initial_scale_power\":16,\"loss_scale_window\":1000,\"hysteresis\":2,"));
    assert_non_null(strstr(j, "\"optimizer\":{\"type\":\"AdamW\",\"params\":{\"lr\":0.001,\"betas\":[0.9,0.999],"
                              "\"eps\":1e-08,\"weight_decay\":0,\"bias_correction\":true,"));
    assert_null(strstr(j, "scheduler"));
    assert_null(strstr(j, " ")); /* compact */
    zs_ds_config_free(&c);
}

static void key_report_records_every_key_with_its_status(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'train_batch_size': 8, 'wall_clock_breakdown': true, 'my_note': 1, "
                              "'fp16': {'enabled': true, 'auto_cast': false}, 'zero_optimization': {'stage': 2, "
                              "'overlap_comm': true, 'offload_param': {'device': 'cpu'}, 'reduce_scatter': false}, "
                              "'optimizer': {'type': 'Adam', 'params': {'lr': 1e-3}}}");
    expect_status(&c, "train_batch_size", ZS_KEY_USED);
    expect_status(&c, "wall_clock_breakdown", ZS_KEY_ACCEPTED);
    expect_status(&c, "my_note", ZS_KEY_UNKNOWN);
    expect_status(&c, "fp16", ZS_KEY_USED);
    expect_status(&c, "fp16.enabled", ZS_KEY_USED);
    expect_status(&c, "fp16.auto_cast", ZS_KEY_ACCEPTED);
    expect_status(&c, "zero_optimization.stage", ZS_KEY_USED);
    expect_status(&c, "zero_optimization.overlap_comm", ZS_KEY_ACCEPTED);
    expect_status(&c, "zero_optimization.offload_param", ZS_KEY_IGNORED);
    expect_status(&c, "zero_optimization.offload_param.device", ZS_KEY_USED);
    expect_status(&c, "zero_optimization.reduce_scatter", ZS_KEY_ACCEPTED);
    expect_status(&c, "optimizer.type", ZS_KEY_USED);
    expect_status(&c, "optimizer.params.lr", ZS_KEY_USED);
    assert_int_equal(c.report.count, 16);
    zs_ds_config_free(&c);
}

static void names_of_enums(void **state)
{
    (void)state;
    assert_string_equal(zs_optimizer_type_name(ZS_OPT_ZERO_ONE_ADAM), "ZeroOneAdam");
    assert_string_equal(zs_optimizer_type_name(ZS_OPT_COUNT), "?");
    assert_string_equal(zs_scheduler_type_name(ZS_SCHED_NONE), "none");
    assert_string_equal(zs_scheduler_type_name(ZS_SCHED_WARMUP_COSINE_LR), "WarmupCosineLR");
    assert_string_equal(zs_scheduler_type_name(ZS_SCHED_COUNT), "?");
    assert_string_equal(zs_precision_name(ZS_PREC_BF16), "bf16");
    assert_string_equal(zs_precision_name((zs_precision)9), "?");
    assert_string_equal(zs_key_status_name(ZS_KEY_IGNORED), "ignored");
    assert_string_equal(zs_key_status_name(ZS_KEY_INVALID), "invalid");
    assert_string_equal(zs_key_status_name((zs_key_status)9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canonical_json_is_deterministic),
        cmocka_unit_test(canonical_json_reparses_to_itself),
        cmocka_unit_test(canonical_json_fills_defaults_in_fixed_order),
        cmocka_unit_test(key_report_records_every_key_with_its_status),
        cmocka_unit_test(names_of_enums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
