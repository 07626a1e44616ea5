/* The scheduler block: exact type names, constructor defaults (DeepSpeed v0.19.6 lr_schedules.py),
 * required parameters, and the values DeepSpeed derives. docs/spec/config.md "Scheduler". */
#include "ds_config_test_util.h"

static zs_scheduler_config sched_of(const char *single_quoted)
{
    zs_ds_config c = parse_ok(single_quoted);
    zs_scheduler_config s = c.scheduler;
    zs_ds_config_free(&c);
    return s;
}

static void scheduler_names_are_case_sensitive(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'warmuplr', 'params': {}}}",
                 "scheduler.type: DeepSpeed does not recognize LR scheduler warmuplr (names are case-sensitive); did "
                 "you mean \"WarmupLR\"?");
    expect_error("{'scheduler': {'type': 'WarmupDecayLRR', 'params': {}}}", "did you mean \"WarmupDecayLR\"?");
    expect_error("{'scheduler': {'type': 'StepLR', 'params': {}}}",
                 "torch.optim.lr_scheduler.StepLR is accepted by DeepSpeed but not supported by zerospec");
    expect_error("{'scheduler': {'type': 'Cosine', 'params': {}}}", "DeepSpeed does not recognize LR scheduler Cosine");
    expect_error("{'scheduler': {'params': {}}}", "scheduler.type is required");
}

static void scheduler_params_block_is_required(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'WarmupLR'}}",
                 "scheduler.params is required (DeepSpeed calls WarmupLR(optimizer, **params) and fails without it)");
    expect_error("{'scheduler': {'type': 'WarmupLR', 'parameters': {}}}", "scheduler.parameters: unknown key");
}

static void warmup_decay_and_cosine_require_total_num_steps(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'WarmupDecayLR', 'params': {'warmup_max_lr': 0.001}}}",
                 "scheduler.params.total_num_steps is required by WarmupDecayLR");
    expect_error("{'scheduler': {'type': 'WarmupCosineLR', 'params': {}}}",
                 "scheduler.params.total_num_steps is required by WarmupCosineLR");
}

static void one_cycle_requires_min_and_max_lr(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'OneCycle', 'params': {'cycle_max_lr': 0.1}}}",
                 "scheduler.params.cycle_min_lr is required by OneCycle");
    expect_error("{'scheduler': {'type': 'OneCycle', 'params': {'cycle_min_lr': 0.01}}}",
                 "scheduler.params.cycle_max_lr is required by OneCycle");
}

static void warmup_lr_max_defaults_to_the_optimizer_lr(void **state)
{
    (void)state;
    zs_scheduler_config s = sched_of("{'optimizer': {'type': 'Adam', 'params': {'lr': 3e-4}}, "
                                     "'scheduler': {'type': 'WarmupLR', 'params': {}}}");
    assert_int_equal(s.type, ZS_SCHED_WARMUP_LR);
    assert_true(s.warmup_max_lr == 3e-4);
    assert_true(s.warmup_min_lr == 0);
    assert_int_equal(s.warmup_num_steps, 1000);
    assert_int_equal(s.warmup_type, ZS_WARMUP_LOG);
    s = sched_of("{'optimizer': {'type': 'Adam', 'params': {'lr': 3e-4}}, "
                 "'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': null}}}");
    assert_true(s.warmup_max_lr == 3e-4);
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {}}}",
                 "WarmupLR defaults it to the optimizer's lr, but the config has no optimizer block");
    expect_error("{'optimizer': {'type': 'Muon'}, 'scheduler': {'type': 'WarmupLR', 'params': {}}}",
                 "Muon's two groups differ");
}

static void warmup_decay_max_defaults_to_0_001(void **state)
{
    (void)state;
    /* WarmupDecayLR's own signature has warmup_max_lr=0.001 and passes it to WarmupLR */
    zs_scheduler_config s = sched_of("{'optimizer': {'type': 'Adam', 'params': {'lr': 3e-4}}, "
                                     "'scheduler': {'type': 'WarmupDecayLR', 'params': {'total_num_steps': 100}}}");
    assert_true(s.warmup_max_lr == 0.001);
    assert_int_equal(s.total_num_steps, 100);
}

static void warmup_cosine_defaults(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'WarmupCosineLR', 'params': "
                              "{'total_num_steps': 500, 'warmup_type': 'linear'}}}");
    assert_true(c.scheduler.warmup_min_ratio == 0);
    assert_true(c.scheduler.cos_min_ratio == 0.0001);
    assert_int_equal(c.scheduler.warmup_num_steps, 1000);
    assert_int_equal(c.scheduler.warmup_type, ZS_WARMUP_LINEAR);
    expect_status(&c, "scheduler.params.total_num_steps", ZS_KEY_USED);
    assert_non_null(strstr(entry_of(&c, "scheduler.params.total_num_steps")->note, "DeepSpeed only warns"));
    zs_ds_config_free(&c);
    expect_error("{'scheduler': {'type': 'WarmupCosineLR', 'params': {'total_num_steps': 10, 'warmup_max_lr': 1}}}",
                 "scheduler.params.warmup_max_lr: not a parameter of WarmupCosineLR");
}

static void warmup_num_steps_must_be_a_json_integer(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': 1, 'warmup_num_steps': 1e3}}}",
                 "scheduler.params.warmup_num_steps: warmup_num_steps must be a positive integer, got 1000 written as "
                 "a float (DeepSpeed raises ValueError)");
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': 1, 'warmup_num_steps': 0}}}",
                 "warmup_num_steps must be a positive integer, got 0");
    expect_error("{'scheduler': {'type': 'LRRangeTest', 'params': {'lr_range_test_step_size': 10.0}}}",
                 "lr_range_test_step_size must be a positive integer");
    /* total_num_steps has no isinstance check: 1e4 is fine */
    zs_scheduler_config s = sched_of("{'scheduler': {'type': 'WarmupDecayLR', 'params': {'total_num_steps': 1e4}}}");
    assert_int_equal(s.total_num_steps, 10000);
}

static void warmup_type_must_be_log_or_linear(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': 1, 'warmup_type': 'cosine'}}}",
                 "scheduler.params.warmup_type: expected \"log\" or \"linear\", got \"cosine\" (DeepSpeed would "
                 "silently use \"log\")");
}

static void lr_range_test_defaults(void **state)
{
    (void)state;
    zs_scheduler_config s = sched_of("{'scheduler': {'type': 'LRRangeTest', 'params': {}}}");
    assert_true(s.lr_range_test_min_lr == 1e-3);
    assert_int_equal(s.lr_range_test_step_size, 2000);
    assert_true(s.lr_range_test_step_rate == 1.0);
    assert_int_equal(s.lr_range_test_staircase, 0);
}

static void one_cycle_defaults_and_derived_values(void **state)
{
    (void)state;
    zs_scheduler_config s = sched_of("{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'OneCycle', 'params': "
                                     "{'cycle_min_lr': 0.01, 'cycle_max_lr': 0.1, 'cycle_first_step_size': 50, "
                                     "'cycle_first_stair_count': 5}}}");
    assert_true(s.cycle_min_lr == 0.01 && s.cycle_max_lr == 0.1);
    assert_int_equal(s.cycle_first_step_size, 50);
    assert_int_equal(s.cycle_second_step_size, 50); /* None: same as the first */
    assert_int_equal(s.cycle_second_stair_count, 5);
    assert_int_equal(s.decay_step_size, 0);
    assert_true(s.decay_lr_rate == 0 && s.decay_mom_rate == 0);
    assert_int_equal(s.cycle_momentum, 1);
    assert_true(s.cycle_min_mom == 0.8 && s.cycle_max_mom == 0.9);
    s = sched_of("{'scheduler': {'type': 'OneCycle', 'params': {'cycle_min_lr': 0.01, 'cycle_max_lr': 0.1, "
                 "'cycle_second_step_size': 0}}}");
    assert_int_equal(s.cycle_second_step_size, 0); /* explicit 0 is valid (non-negative) */
    expect_error("{'scheduler': {'type': 'OneCycle', 'params': {'cycle_min_lr': 0.01, 'cycle_max_lr': 0.1, "
                 "'cycle_first_step_size': 0}}}",
                 "scheduler.params.cycle_first_step_size: expected an integer >= 1, got 0");
}

static void one_cycle_momentum_is_off_without_betas(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'optimizer': {'type': 'SGD', 'params': {'lr': 0.1}}, 'scheduler': {'type': "
                              "'OneCycle', 'params': {'cycle_min_lr': 0.01, 'cycle_max_lr': 0.1}}}");
    assert_int_equal(c.scheduler.cycle_momentum, 0);
    expect_status(&c, "scheduler.params.cycle_momentum", ZS_KEY_IGNORED);
    zs_ds_config_free(&c);
}

static void scheduler_unknown_param_is_an_error(void **state)
{
    (void)state;
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': 1, 'warmup_steps': 10}}}",
                 "scheduler.params.warmup_steps: not a parameter of WarmupLR (accepts: warmup_min_lr, warmup_max_lr, "
                 "warmup_num_steps, warmup_type; DeepSpeed raises TypeError)");
    expect_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_min_lr': [0, 0]}}}",
                 "scheduler.params.warmup_min_lr: expected a finite number, got a list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scheduler_names_are_case_sensitive),
        cmocka_unit_test(scheduler_params_block_is_required),
        cmocka_unit_test(warmup_decay_and_cosine_require_total_num_steps),
        cmocka_unit_test(one_cycle_requires_min_and_max_lr),
        cmocka_unit_test(warmup_lr_max_defaults_to_the_optimizer_lr),
        cmocka_unit_test(warmup_decay_max_defaults_to_0_001),
        cmocka_unit_test(warmup_cosine_defaults),
        cmocka_unit_test(warmup_num_steps_must_be_a_json_integer),
        cmocka_unit_test(warmup_type_must_be_log_or_linear),
        cmocka_unit_test(lr_range_test_defaults),
        cmocka_unit_test(one_cycle_defaults_and_derived_values),
        cmocka_unit_test(one_cycle_momentum_is_off_without_betas),
        cmocka_unit_test(scheduler_unknown_param_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
