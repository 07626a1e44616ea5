/* JSON-level rules of the DeepSpeed-config parser: syntax errors with line and column, comments,
 * duplicate keys, typed reads (integers written as floats, strict booleans, "auto"), and
 * zs_text_line_col. docs/spec/config.md "JSON" and "Types". */
#include "ds_config_test_util.h"

static void line_col_counts_lines_and_characters(void **state)
{
    (void)state;
    int line, col;
    zs_text_line_col("ab\ncd", 0, &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 1);
    zs_text_line_col("ab\ncd", 4, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 2);
    /* "é" is two bytes but one column, as Python's json counts */
    zs_text_line_col("\xc3\xa9x", 2, &line, &col);
    assert_int_equal(col, 2);
    zs_text_line_col("ab", 99, &line, &col); /* offsets past the end stop at the end */
    assert_int_equal(col, 3);
}

static void invalid_json_names_line_and_column(void **state)
{
    (void)state;
    expect_error("{\n  'train_batch_size': 8,\n  'fp16': {'enabled': tru}\n}", "invalid JSON at line 3, column 23");
}

static void trailing_comma_is_rejected_with_position(void **state)
{
    (void)state;
    expect_error("{\n 'train_micro_batch_size_per_gpu': 'auto',\n}",
                 "invalid JSON at line 3, column 1: trailing comma before the closing bracket");
    expect_error("{'optimizer': {'type': 'Adam', 'params': {'betas': [0.9, 0.99,]}}}", "trailing comma");
}

static void comments_are_rejected_with_position(void **state)
{
    (void)state;
    expect_error("{ 'fp16': { 'enabled': true, 'loss_scale': 0, // Automatic loss scaling\n 'hysteresis': 2 } }",
                 "invalid JSON at line 1, column 47: comments are not allowed in JSON");
    expect_error("{ /* block */ 'train_batch_size': 8 }", "comments are not allowed");
}

static void python_literals_are_rejected(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': True}}", "line 1, column 22: Python literal");
}

static void empty_document_is_rejected(void **state)
{
    (void)state;
    expect_error("  \n ", "the document is empty");
    expect_error("[1, 2]", "a DeepSpeed config must be a JSON object");
    expect_error("{'train_batch_size': 8} x", "invalid JSON at line 1, column 25");
}

static void duplicate_keys_are_rejected_by_path(void **state)
{
    (void)state;
    expect_error("{'train_batch_size': 8, 'train_batch_size': 16}", "train_batch_size: duplicate key");
    expect_error("{'zero_optimization': {'stage': 1, 'stage': 2}}", "zero_optimization.stage: duplicate key");
    expect_error("{'x': [{'a': 1}, {'a': 1, 'a': 2}]}", "x[1].a: duplicate key");
}

static void integers_written_as_floats_are_accepted_when_integral(void **state)
{
    (void)state;
    zs_ds_config c = parse_ok("{'train_batch_size': 1.6e1, 'zero_optimization': {'stage': 2, "
                              "'reduce_bucket_size': 5e8, 'allgather_bucket_size': 2e8, 'sub_group_size': 1e9}}");
    assert_int_equal(c.train_batch_size, 16);
    assert_int_equal(c.zero.reduce_bucket_size, 500000000);
    assert_int_equal(c.zero.allgather_bucket_size, 200000000);
    assert_int_equal(c.zero.sub_group_size, 1000000000);
    zs_ds_config_free(&c);
    expect_error("{'zero_optimization': {'reduce_bucket_size': 2.5e0}}",
                 "zero_optimization.reduce_bucket_size: expected an integer >= 0, got 2.5");
}

static void integer_errors_name_the_path_and_range(void **state)
{
    (void)state;
    expect_error("{'zero_optimization': {'stage': 'two'}}",
                 "zero_optimization.stage: expected an integer 0..3, got \"two\"");
    expect_error("{'zero_optimization': {'stage': 4}}", "zero_optimization.stage: expected an integer 0..3, got 4");
    expect_error("{'train_batch_size': 1e300}", "train_batch_size: expected an integer >= 1");
}

static void booleans_must_be_true_or_false(void **state)
{
    (void)state;
    expect_error("{'fp16': {'enabled': 'true'}}", "fp16.enabled: expected true or false, got \"true\"");
    expect_error("{'fp16': {'enabled': 1}}", "fp16.enabled: expected true or false, got 1");
}

static void auto_values_must_be_resolved(void **state)
{
    (void)state;
    expect_error("{'optimizer': {'type': 'AdamW', 'params': {'lr': 'auto'}}}",
                 "optimizer.params.lr is \"auto\": only the Hugging Face Trainer fills \"auto\" values; give a value "
                 "or resolve it with --set (see docs/spec/config.md)");
    expect_error("{'train_micro_batch_size_per_gpu': 'auto'}", "train_micro_batch_size_per_gpu is \"auto\"");
    expect_error("{'gradient_clipping': 'auto'}", "gradient_clipping is \"auto\"");
    expect_error("{'fp16': {'enabled': 'auto'}}", "fp16.enabled is \"auto\"");
    expect_error("{'zero_optimization': {'stage': 3, 'stage3_prefetch_bucket_size': 'auto'}}",
                 "zero_optimization.stage3_prefetch_bucket_size is \"auto\"");
    expect_error("{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'WarmupLR', 'params': "
                 "{'warmup_num_steps': 'auto'}}}",
                 "scheduler.params.warmup_num_steps is \"auto\"");
    expect_error("{'optimizer': {'type': 'auto'}}", "optimizer.type is \"auto\"");
    expect_error("{'zero_optimization': {'stage': 2, 'offload_optimizer': {'device': 'auto'}}}",
                 "zero_optimization.offload_optimizer.device is \"auto\"");
    expect_error("{'optimizer': {'type': 'Adam'}, 'scheduler': {'type': 'WarmupLR', 'params': "
                 "{'warmup_type': 'auto'}}}",
                 "scheduler.params.warmup_type is \"auto\"");
    expect_error("{'data_types': {'grad_accum_dtype': 'auto'}}", "data_types.grad_accum_dtype is \"auto\"");
}

static void load_reads_a_file_and_names_it(void **state)
{
    (void)state;
    zs_ds_config c;
    zs_error err = {{0}};
    assert_int_equal(zs_ds_config_load("conformance/tests/data/no_such_file.json", &c, &err), -1);
    assert_non_null(strstr(err.msg, "conformance/tests/data/no_such_file.json: cannot open"));
    assert_int_equal(zs_ds_config_load("conformance/tests/data/seed003_fp16.json", &c, &err), 0);
    assert_int_equal(c.precision, ZS_PREC_FP16);
    zs_ds_config_free(&c);
    zs_ds_config_free(&c); /* freeing twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_col_counts_lines_and_characters),
        cmocka_unit_test(invalid_json_names_line_and_column),
        cmocka_unit_test(trailing_comma_is_rejected_with_position),
        cmocka_unit_test(comments_are_rejected_with_position),
        cmocka_unit_test(python_literals_are_rejected),
        cmocka_unit_test(empty_document_is_rejected),
        cmocka_unit_test(duplicate_keys_are_rejected_by_path),
        cmocka_unit_test(integers_written_as_floats_are_accepted_when_integral),
        cmocka_unit_test(integer_errors_name_the_path_and_range),
        cmocka_unit_test(booleans_must_be_true_or_false),
        cmocka_unit_test(auto_values_must_be_resolved),
        cmocka_unit_test(load_reads_a_file_and_names_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
