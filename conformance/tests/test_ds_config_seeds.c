/* Every DeepSpeed config shown in the source documents (/work/shared/seeds), extracted verbatim into
 * conformance/tests/data/seed*.json, parses with the expected outcome. */
#include "ds_config_test_util.h"

#define DATA "conformance/tests/data/"

static int load(const char *name, zs_ds_config *cfg, zs_error *err)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s", name);
    return zs_ds_config_load(path, cfg, err);
}

static void expect_load_error(const char *name, const char *needle)
{
    zs_ds_config cfg;
    zs_error err = {{0}};
    if (load(name, &cfg, &err) == 0) {
        zs_ds_config_free(&cfg);
        fail_msg("%s: expected an error containing \"%s\"", name, needle);
    }
    if (!strstr(err.msg, needle))
        fail_msg("%s: error \"%s\" does not contain \"%s\"", name, err.msg, needle);
}

static zs_ds_config load_ok(const char *name)
{
    zs_ds_config cfg;
    zs_error err = {{0}};
    if (load(name, &cfg, &err))
        fail_msg("%s: unexpected error: %s", name, err.msg);
    return cfg;
}

static char *read_text(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* seed 000, the dict passed to deepspeed.initialize: Python's True is not JSON */
static void seed000_initialize_dict_is_python_not_json(void **state)
{
    (void)state;
    expect_load_error("seed000_initialize_dict.json", "invalid JSON at line 14, column 15: Python literal");
}

/* seed 000, the JSON file: WarmupDecayLR without total_num_steps (a TypeError in DeepSpeed) */
static void seed000_config_lacks_total_num_steps(void **state)
{
    (void)state;
    expect_load_error("seed000_config.json", "scheduler.params.total_num_steps is required by WarmupDecayLR");
}

/* the same file with total_num_steps added parses; its offload_param is ignored at stage 2 */
static void seed000_config_with_total_num_steps_parses(void **state)
{
    (void)state;
    const char *text = read_text("seed000_config.json");
    char fixed[8192];
    const char *at = strstr(text, "\"warmup_num_steps\": 1000");
    assert_non_null(at);
    snprintf(fixed, sizeof fixed, "%.*s\"total_num_steps\": 5000,\n%s", (int)(at - text), text, at);
    zs_ds_config c;
    zs_error err = {{0}};
    if (zs_ds_config_parse(fixed, "seed000+total", &c, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.precision, ZS_PREC_FP16);
    assert_int_equal(c.fp16.initial_scale_power, 32);
    assert_int_equal(c.zero.stage, 2);
    assert_int_equal(c.zero.offload_optimizer.device, ZS_OFFLOAD_CPU);
    assert_int_equal(c.zero.offload_param.device, ZS_OFFLOAD_NONE);
    expect_status(&c, "zero_optimization.offload_param", ZS_KEY_IGNORED);
    assert_non_null(strstr(entry_of(&c, "zero_optimization.offload_param")->note,
                           "offload_param is a ZeRO-3 feature; DeepSpeed ignores it at stage 2"));
    assert_int_equal(c.optimizer.type, ZS_OPT_ADAMW);
    assert_int_equal(c.scheduler.type, ZS_SCHED_WARMUP_DECAY_LR);
    assert_int_equal(c.scheduler.total_num_steps, 5000);
    assert_int_equal(c.steps_per_print, 10);
    zs_batch b;
    assert_int_equal(zs_ds_config_resolve_batch(&c, 2, &b, &err), 0);
    assert_int_equal(b.grad_accum_steps, 2);
    zs_ds_config_free(&c);
}

/* seed 002, the Trainer config: a trailing comma after the last key */
static void seed002_hf_config_has_trailing_comma(void **state)
{
    (void)state;
    expect_load_error("seed002_hf_zero2_offload.json",
                      "invalid JSON at line 48, column 1: trailing comma before the closing bracket");
}

/* ... and without it, its first "auto" is reported */
static void seed002_hf_config_without_comma_needs_auto_resolved(void **state)
{
    (void)state;
    char *text = dup_text(read_text("seed002_hf_zero2_offload.json"));
    char *comma = strstr(text, "\"auto\",\n}");
    assert_non_null(comma);
    comma[6] = ' ';
    zs_ds_config c;
    zs_error err = {{0}};
    assert_int_equal(zs_ds_config_parse(text, "seed002", &c, &err), -1);
    free(text);
    assert_non_null(strstr(err.msg, "gradient_clipping is \"auto\""));
}

static void seed002_zero2_block_parses(void **state)
{
    (void)state;
    zs_ds_config c = load_ok("seed002_zero2.json");
    assert_int_equal(c.zero.stage, 2);
    assert_int_equal(c.zero.offload_optimizer.device, ZS_OFFLOAD_CPU);
    assert_int_equal(c.zero.allgather_bucket_size, 500000000);
    assert_int_equal(c.zero.overlap_comm, 1);
    assert_int_equal(c.has_optimizer, 0);
    expect_status(&c, "zero_optimization.overlap_comm", ZS_KEY_ACCEPTED);
    zs_error err = {{0}};
    zs_batch b;
    assert_int_equal(zs_ds_config_resolve_batch(&c, 1, &b, &err), -1); /* no batch size in this block */
    zs_ds_config_free(&c);
}

static void seed002_zero3_block_needs_auto_resolved(void **state)
{
    (void)state;
    expect_load_error("seed002_zero3.json", "zero_optimization.reduce_bucket_size is \"auto\"");
}

static void seed002_optimizer_blocks(void **state)
{
    (void)state;
    expect_load_error("seed002_optimizer_auto.json", "optimizer.params.lr is \"auto\"");
    zs_ds_config c = load_ok("seed002_optimizer.json");
    assert_int_equal(c.optimizer.type, ZS_OPT_ADAMW);
    assert_true(c.optimizer.lr == 0.001);
    assert_true(c.optimizer.betas[0] == 0.8 && c.optimizer.betas[1] == 0.999);
    assert_true(c.optimizer.eps == 1e-8);
    assert_true(c.optimizer.weight_decay == 3e-7);
    assert_int_equal(c.optimizer.adam_w_mode, 1);
    zs_ds_config_free(&c);
}

static void seed002_scheduler_blocks(void **state)
{
    (void)state;
    expect_load_error("seed002_scheduler_auto.json", "scheduler.params.warmup_min_lr is \"auto\"");
    zs_ds_config c = load_ok("seed002_scheduler.json");
    assert_int_equal(c.scheduler.type, ZS_SCHED_WARMUP_LR);
    assert_true(c.scheduler.warmup_max_lr == 0.001);
    assert_int_equal(c.scheduler.warmup_num_steps, 1000);
    zs_ds_config_free(&c);
}

static void seed003_fp16_and_bf16_blocks(void **state)
{
    (void)state;
    zs_ds_config c = load_ok("seed003_fp16.json");
    assert_int_equal(c.precision, ZS_PREC_FP16);
    assert_true(c.fp16.loss_scale == 0);
    assert_int_equal(c.fp16.initial_scale_power, 16);
    zs_batch b;
    zs_error err = {{0}};
    assert_int_equal(zs_ds_config_resolve_batch(&c, 1, &b, &err), 0);
    assert_int_equal(b.micro_batch, 16);
    assert_int_equal(zs_ds_config_resolve_batch(&c, 3, &b, &err), -1); /* (64 // 3) // 4 = 5 */
    assert_string_equal(err.msg, "Check batch related parameters. train_batch_size is not equal to "
                                 "micro_batch_per_gpu * gradient_acc_step * world_size 64 != 5 * 4 * 3");
    zs_ds_config_free(&c);
    c = load_ok("seed003_bf16.json");
    assert_int_equal(c.precision, ZS_PREC_BF16);
    assert_int_equal(c.bf16.check_grad_overflow, 1);
    zs_ds_config_free(&c);
    expect_load_error("seed003_loss_scaling_comment.json",
                      "invalid JSON at line 1, column 47: comments are not allowed in JSON");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed000_initialize_dict_is_python_not_json),
        cmocka_unit_test(seed000_config_lacks_total_num_steps),
        cmocka_unit_test(seed000_config_with_total_num_steps_parses),
        cmocka_unit_test(seed002_hf_config_has_trailing_comma),
        cmocka_unit_test(seed002_hf_config_without_comma_needs_auto_resolved),
        cmocka_unit_test(seed002_zero2_block_parses),
        cmocka_unit_test(seed002_zero3_block_needs_auto_resolved),
        cmocka_unit_test(seed002_optimizer_blocks),
        cmocka_unit_test(seed002_scheduler_blocks),
        cmocka_unit_test(seed003_fp16_and_bf16_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
