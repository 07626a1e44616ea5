/* "auto" resolution as the Hugging Face Trainer does it (zerospec/ds_auto.h; docs/spec/config.md
 * "Resolving auto"), including the seed-002 Trainer config without its trailing comma. */
#include "ds_config_test_util.h"
#include "zerospec/ds_auto.h"

static char *seed002_without_trailing_comma(void)
{
    FILE *f = fopen("conformance/tests/data/seed002_hf_zero2_offload.json", "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *comma = strstr(buf, "\"auto\",\n}");
    assert_non_null(comma);
    comma[6] = ' ';
    return dup_text(buf);
}

static int resolve(const char *text, const char *const *sets, int n, zs_ds_config *cfg, zs_error *err)
{
    return zs_ds_config_parse_resolved(text, "<test>", sets, n, cfg, err);
}

static zs_ds_config resolved_ok(const char *single_quoted, const char *const *sets, int n)
{
    char *json = q2d(single_quoted);
    zs_ds_config c;
    zs_error err = {{0}};
    int rc = resolve(json, sets, n, &c, &err);
    free(json);
    if (rc)
        fail_msg("unexpected error: %s", err.msg);
    return c;
}

static void resolve_error(const char *single_quoted, const char *const *sets, int n, const char *needle)
{
    char *json = q2d(single_quoted);
    zs_ds_config c;
    zs_error err = {{0}};
    int rc = resolve(json, sets, n, &c, &err);
    free(json);
    if (rc == 0) {
        zs_ds_config_free(&c);
        fail_msg("expected an error containing \"%s\"", needle);
    }
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
}

static void auto_seed002_resolves_with_trainer_defaults(void **state)
{
    (void)state;
    char *text = seed002_without_trailing_comma();
    const char *sets[] = {"learning_rate=1e-4", "warmup_steps=10"};
    zs_ds_config c;
    zs_error err = {{0}};
    if (resolve(text, sets, 2, &c, &err))
        fail_msg("%s", err.msg);
    free(text);
    assert_int_equal(c.precision, ZS_PREC_FP32);           /* fp16: false by default */
    assert_int_equal(c.train_micro_batch_size_per_gpu, 8); /* per_device_train_batch_size */
    assert_int_equal(c.gradient_accumulation_steps, 1);
    assert_int_equal(c.train_batch_size, 0);               /* left to DeepSpeed: MB * G * world */
    assert_true(c.gradient_clipping == 1.0);               /* max_grad_norm */
    assert_int_equal(c.optimizer.type, ZS_OPT_ADAMW);
    assert_true(c.optimizer.lr == 1e-4);
    assert_true(c.optimizer.betas[0] == 0.9 && c.optimizer.betas[1] == 0.999);
    assert_true(c.optimizer.eps == 1e-8);
    assert_true(c.optimizer.weight_decay == 0);
    assert_int_equal(c.scheduler.type, ZS_SCHED_WARMUP_LR);
    assert_true(c.scheduler.warmup_min_lr == 0);
    assert_true(c.scheduler.warmup_max_lr == 1e-4);
    assert_int_equal(c.scheduler.warmup_num_steps, 10);
    assert_int_equal(c.zero.stage, 2);
    assert_int_equal(c.zero.reduce_bucket_size, 200000000);
    zs_batch b;
    assert_int_equal(zs_ds_config_resolve_batch(&c, 2, &b, &err), 0);
    assert_int_equal(b.train_batch_size, 16);
    zs_ds_config_free(&c);
}

static void auto_seed002_with_world_size_and_fp16(void **state)
{
    (void)state;
    char *text = seed002_without_trailing_comma();
    const char *sets[] = {"world_size=4", "per_device_train_batch_size=2", "gradient_accumulation_steps=3",
                          "fp16=true", "warmup_steps=5", "max_grad_norm=0.5", "adam_beta2=0.95"};
    zs_ds_config c;
    zs_error err = {{0}};
    if (resolve(text, sets, 7, &c, &err))
        fail_msg("%s", err.msg);
    free(text);
    assert_int_equal(c.train_batch_size, 24);
    assert_int_equal(c.train_micro_batch_size_per_gpu, 2);
    assert_int_equal(c.gradient_accumulation_steps, 3);
    assert_int_equal(c.precision, ZS_PREC_FP16);
    assert_true(c.gradient_clipping == 0.5);
    assert_true(c.optimizer.betas[1] == 0.95);
    assert_true(c.optimizer.lr == 5e-5); /* learning_rate default */
    zs_ds_config_free(&c);
}

static void auto_seed002_without_warmup_fails_like_deepspeed(void **state)
{
    (void)state;
    /* TrainingArguments' default warmup is 0 steps, which DeepSpeed's WarmupLR refuses */
    char *text = seed002_without_trailing_comma();
    zs_ds_config c;
    zs_error err = {{0}};
    assert_int_equal(resolve(text, NULL, 0, &c, &err), -1);
    free(text);
    assert_non_null(strstr(err.msg, "warmup_num_steps must be a positive integer, got 0"));
}

static void auto_warmup_steps_and_ratio(void **state)
{
    (void)state;
    const char *cfg = "{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'WarmupDecayLR', 'params': "
                      "{'total_num_steps': 'auto', 'warmup_num_steps': 'auto'}}}";
    const char *ratio_v4[] = {"num_training_steps=95", "warmup_ratio=0.1"};
    zs_ds_config c = resolved_ok(cfg, ratio_v4, 2);
    assert_int_equal(c.scheduler.total_num_steps, 95);
    assert_int_equal(c.scheduler.warmup_num_steps, 10); /* ceil(9.5) */
    zs_ds_config_free(&c);
    const char *ratio_v5[] = {"num_training_steps=10", "warmup_steps=0.25"};
    c = resolved_ok(cfg, ratio_v5, 2);
    assert_int_equal(c.scheduler.warmup_num_steps, 3); /* ceil(2.5) */
    zs_ds_config_free(&c);
    const char *steps[] = {"num_training_steps=100", "warmup_steps=12.7", "warmup_ratio=0.5"};
    c = resolved_ok(cfg, steps, 3);
    assert_int_equal(c.scheduler.warmup_num_steps, 12); /* warmup_steps wins; int() */
    zs_ds_config_free(&c);
}

static void auto_keys_needing_inputs_are_named(void **state)
{
    (void)state;
    const char *sets[] = {"warmup_steps=3"};
    resolve_error("{'optimizer': {'type': 'Adam'}, 'zero_optimization': {'stage': 3, 'reduce_bucket_size': 'auto'},"
                  " 'scheduler': {'type': 'WarmupDecayLR', 'params': {'total_num_steps': 'auto', "
                  "'warmup_num_steps': 'auto'}}}",
                  sets, 1,
                  "<test>: cannot resolve \"auto\": zero_optimization.reduce_bucket_size (give --set hidden_size=N: the "
                  "Trainer uses model.config.hidden_size); scheduler.params.total_num_steps (give --set "
                  "num_training_steps=N: the Trainer's number of optimizer steps)");
    const char *ratio[] = {"warmup_ratio=0.1"};
    resolve_error("{'scheduler': {'type': 'WarmupLR', 'params': {'warmup_max_lr': 1, 'warmup_num_steps': 'auto'}}}",
                  ratio, 1, "scheduler.params.warmup_num_steps (give --set num_training_steps=N");
}

static void auto_keys_the_trainer_does_not_fill_are_errors(void **state)
{
    (void)state;
    resolve_error("{'zero_optimization': {'stage': 2, 'sub_group_size': 'auto'}, 'bf16': {'enabled': true}}", NULL, 0,
                  "cannot resolve \"auto\": zero_optimization.sub_group_size (the Trainer does not fill it; give a "
                  "value)");
    resolve_error("{'bfloat16': {'enabled': 'auto'}}", NULL, 0, "bfloat16.enabled (the Trainer does not fill it");
}

static void auto_hidden_size_buckets(void **state)
{
    (void)state;
    const char *sets[] = {"hidden_size=64"};
    zs_ds_config c = resolved_ok("{'zero_optimization': {'stage': 3, 'reduce_bucket_size': 'auto', "
                                 "'stage3_prefetch_bucket_size': 'auto', 'stage3_param_persistence_threshold': "
                                 "'auto'}}",
                                 sets, 1);
    assert_int_equal(c.zero.reduce_bucket_size, 4096);
    assert_int_equal(c.zero.stage3_prefetch_bucket_size, 3686); /* int(0.9 * 64 * 64) */
    assert_int_equal(c.zero.stage3_param_persistence_threshold, 640);
    zs_ds_config_free(&c);
    /* below stage 3 the Trainer leaves the stage-3 keys "auto" and DeepSpeed drops them: the defaults apply */
    c = resolved_ok("{'zero_optimization': {'stage': 2, 'stage3_prefetch_bucket_size': 'auto'}}", sets, 1);
    assert_int_equal(c.zero.stage3_prefetch_bucket_size, 50000000);
    zs_ds_config_free(&c);
}

static void auto_seed002_zero3_block(void **state)
{
    (void)state;
    zs_ds_config c;
    zs_error err = {{0}};
    FILE *f = fopen("conformance/tests/data/seed002_zero3.json", "rb");
    assert_non_null(f);
    char buf[2048];
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    const char *sets[] = {"hidden_size=1024"};
    if (resolve(buf, sets, 1, &c, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.zero.reduce_bucket_size, 1048576);
    assert_int_equal(c.zero.stage3_prefetch_bucket_size, 943718); /* int(0.9 * 1048576) */
    assert_int_equal(c.zero.stage3_param_persistence_threshold, 10240);
    assert_int_equal(c.zero.offload_param.device, ZS_OFFLOAD_CPU);
    zs_ds_config_free(&c);
}

static void auto_amp_is_filled_off(void **state)
{
    (void)state;
    zs_ds_config c = resolved_ok("{'amp': {'enabled': 'auto', 'opt_level': 'auto'}}", NULL, 0);
    expect_status(&c, "amp", ZS_KEY_ACCEPTED);
    zs_ds_config_free(&c);
}

static void auto_explicit_set_that_disagrees_is_a_mismatch(void **state)
{
    (void)state;
    const char *sets[] = {"learning_rate=0.002", "per_device_train_batch_size=4"};
    resolve_error("{'train_micro_batch_size_per_gpu': 4, 'optimizer': {'type': 'Adam', 'params': {'lr': 0.001}}}",
                  sets, 2,
                  "--set values disagree with the config (the Hugging Face Trainer raises for these; make the config "
                  "value \"auto\" or drop the --set): ds optimizer.params.lr=0.001 vs hf learning_rate=0.002");
    /* values not given with --set are not compared (TrainingArguments' default lr is 5e-5) */
    zs_ds_config c = resolved_ok("{'optimizer': {'type': 'Adam', 'params': {'lr': 0.001}}}", NULL, 0);
    assert_true(c.optimizer.lr == 0.001);
    zs_ds_config_free(&c);
    const char *world[] = {"world_size=2"};
    resolve_error("{'train_batch_size': 32}", world, 1, "ds train_batch_size=32 vs hf train_batch_size (calculated)=16");
}

static void auto_set_keys_and_values_are_checked(void **state)
{
    (void)state;
    const char *unknown[] = {"learning_rat=1e-3"};
    resolve_error("{}", unknown, 1, "--set learning_rat=1e-3: unknown key learning_rat; did you mean \"learning_rate\"?");
    const char *malformed[] = {"learning_rate"};
    resolve_error("{}", malformed, 1, "--set learning_rate: expected key=value");
    const char *bad[] = {"learning_rate=fast"};
    resolve_error("{}", bad, 1, "--set learning_rate=fast: expected a finite number");
    const char *count[] = {"per_device_train_batch_size=0"};
    resolve_error("{}", count, 1, "--set per_device_train_batch_size=0: expected a positive integer");
    const char *flag[] = {"fp16=yes"};
    resolve_error("{}", flag, 1, "--set fp16=yes: expected true or false");
    const char *twice[] = {"fp16=true", "fp16=false"};
    resolve_error("{}", twice, 2, "--set fp16=false: fp16 is given twice");
    const char *ratio[] = {"warmup_ratio=2"};
    resolve_error("{}", ratio, 1, "--set warmup_ratio: must be in [0, 1]");
}

static void auto_parse_resolved_keeps_json_errors(void **state)
{
    (void)state;
    resolve_error("{'train_batch_size': 8,}", NULL, 0, "<test>: invalid JSON at line 1, column 24: trailing comma");
    resolve_error("{'a': 1, 'a': 2}", NULL, 0, "<test>: a: duplicate key");
    cJSON *arr = cJSON_CreateArray();
    zs_error err = {{0}};
    assert_int_equal(zs_ds_config_resolve_auto(arr, NULL, 0, &err), -1);
    assert_string_equal(err.msg, "a DeepSpeed config must be a JSON object");
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auto_seed002_resolves_with_trainer_defaults),
        cmocka_unit_test(auto_seed002_with_world_size_and_fp16),
        cmocka_unit_test(auto_seed002_without_warmup_fails_like_deepspeed),
        cmocka_unit_test(auto_warmup_steps_and_ratio),
        cmocka_unit_test(auto_keys_needing_inputs_are_named),
        cmocka_unit_test(auto_keys_the_trainer_does_not_fill_are_errors),
        cmocka_unit_test(auto_hidden_size_buckets),
        cmocka_unit_test(auto_seed002_zero3_block),
        cmocka_unit_test(auto_amp_is_filled_off),
        cmocka_unit_test(auto_explicit_set_that_disagrees_is_a_mismatch),
        cmocka_unit_test(auto_set_keys_and_values_are_checked),
        cmocka_unit_test(auto_parse_resolved_keeps_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
