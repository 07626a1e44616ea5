/* Case files (zerospec/case.h): defaults, the inline and file forms of the DeepSpeed config, and one
 * test per validation rule. docs/spec/config.md "Case files". */
#include "ds_config_test_util.h"
#include "zerospec/case.h"

static zs_case case_ok(const char *single_quoted)
{
    char *json = q2d(single_quoted);
    zs_case c;
    zs_error err = {{0}};
    int rc = zs_case_parse(json, "cases/t.json", "conformance/tests/data", &c, &err);
    free(json);
    if (rc)
        fail_msg("unexpected error: %s", err.msg);
    return c;
}

static void case_error(const char *single_quoted, const char *needle)
{
    char *json = q2d(single_quoted);
    zs_case c;
    zs_error err = {{0}};
    int rc = zs_case_parse(json, "cases/t.json", "conformance/tests/data", &c, &err);
    free(json);
    if (rc == 0) {
        zs_case_free(&c);
        fail_msg("expected an error containing \"%s\"", needle);
    }
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
}

#define DS "'ds_config': {'train_batch_size': 4, 'optimizer': {'type': 'Adam'}}"

static void case_defaults(void **state)
{
    (void)state;
    zs_case c = case_ok("{'name': 'tiny', " DS "}");
    assert_string_equal(c.name, "tiny");
    assert_string_equal(c.description, "");
    zs_model_dims d = zs_model_dims_default();
    assert_int_equal(d.vocab, 97);
    assert_int_equal(d.seq, 16);
    assert_int_equal(d.channels, 32);
    assert_int_equal(d.layers, 2);
    assert_int_equal(d.heads, 4);
    assert_memory_equal(&c.model, &d, sizeof d);
    assert_int_equal(c.seed, 1234);
    assert_int_equal(c.steps, 5);
    assert_int_equal(c.n_world_sizes, 1);
    assert_int_equal(c.world_sizes[0], 1);
    zs_case_free(&c);
}

static void case_inline_config_is_parsed_and_reserialized(void **state)
{
    (void)state;
    zs_case c = case_ok("{'name': 'inline', 'world_sizes': [1, 2], " DS "}");
    assert_string_equal(c.config_source, "cases/t.json:ds_config");
    assert_non_null(c.config_json);
    assert_string_equal(c.config_json, "{\"train_batch_size\":4,\"optimizer\":{\"type\":\"Adam\"}}");
    assert_int_equal(c.config.train_batch_size, 4);
    assert_int_equal(c.config.optimizer.type, ZS_OPT_ADAM);
    zs_case_free(&c);
    /* errors inside the inline config name it */
    case_error("{'name': 'x', 'ds_config': {'optimizer': {'type': 'Adam'}, 'zero_optimization': {'stage': 5}}}",
               "cases/t.json:ds_config: zero_optimization.stage: expected an integer 0..3, got 5");
    /* lexical forms of numbers survive for inline configs */
    case_error("{'name': 'x', 'ds_config': {'train_batch_size': 4, 'optimizer': {'type': 'Adam'}, 'scheduler': "
               "{'type': 'WarmupLR', 'params': {'warmup_num_steps': 1e1}}}}",
               "written as a float");
}

static void case_config_file_is_relative_to_the_case_file(void **state)
{
    (void)state;
    zs_case c;
    zs_error err = {{0}};
    if (zs_case_load("conformance/tests/data/case_zero2.json", &c, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(c.name, "zero2_adamw_warmuplr");
    assert_non_null(strstr(c.description, "ZeRO-2"));
    assert_string_equal(c.config_source, "conformance/tests/data/case_zero2_ds_config.json");
    assert_int_equal(c.model.channels, 24);
    assert_int_equal(c.model.heads, 3);
    assert_int_equal(c.seed, 42);
    assert_int_equal(c.steps, 3);
    assert_int_equal(c.n_world_sizes, 3);
    assert_int_equal(c.world_sizes[2], 4);
    assert_int_equal(c.config.zero.stage, 2);
    assert_int_equal(c.config.precision, ZS_PREC_FP16);
    assert_non_null(strstr(c.config_json, "\"train_micro_batch_size_per_gpu\": 2"));
    zs_case_free(&c);
    case_error("{'name': 'x', 'ds_config_file': 'missing.json'}", "conformance/tests/data/missing.json: cannot open");
}

static void case_needs_exactly_one_config(void **state)
{
    (void)state;
    case_error("{'name': 'x'}", "cases/t.json: one of ds_config (inline) or ds_config_file is required");
    case_error("{'name': 'x', 'ds_config_file': 'a.json', " DS "}", "give either ds_config or ds_config_file");
}

static void case_unknown_keys_are_errors(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'world_size': [2], " DS "}",
               "cases/t.json: world_size: unknown key; did you mean \"world_sizes\"?");
    case_error("{'name': 'x', 'model': {'hidden': 8}, " DS "}", "model.hidden: unknown key");
    case_error("{'name': 'x', 'name': 'y', " DS "}", "name: duplicate key");
}

static void case_name_is_required_and_restricted(void **state)
{
    (void)state;
    case_error("{" DS "}", "name is required");
    case_error("{'name': 'zero 2', " DS "}", "name: \"zero 2\" must be 1..127 characters of [A-Za-z0-9_.-]");
    case_error("{'name': '', " DS "}", "must be 1..127 characters");
    zs_case c = case_ok("{'name': 'a.B-9_z', " DS "}");
    zs_case_free(&c);
}

static void case_channels_divisible_by_heads(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'model': {'channels': 30, 'heads': 4}, " DS "}",
               "model: channels (30) must be divisible by heads (4)");
}

static void case_model_dims_positive(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'model': {'layers': 0}, " DS "}", "model.layers: expected an integer 1..2147483647, got 0");
    case_error("{'name': 'x', 'model': {'vocab': 'big'}, " DS "}", "model.vocab: expected an integer");
}

static void case_world_sizes_range_and_count(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'world_sizes': [1, 65], " DS "}", "world_sizes[1]: expected an integer 1..64, got 65");
    case_error("{'name': 'x', 'world_sizes': [], " DS "}", "world_sizes: expected a non-empty list");
    case_error("{'name': 'x', 'world_sizes': [2, 2], " DS "}", "world_sizes[1]: 2 is listed twice");
    case_error("{'name': 'x', 'world_sizes': [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17], " DS "}",
               "world_sizes: at most 16 entries, got 17");
}

static void case_seed_and_steps_ranges(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'seed': -1, " DS "}", "seed: expected an integer >= 0, got -1");
    case_error("{'name': 'x', 'seed': 1e17, " DS "}", "seed: 100000000000000000 is above 2^53");
    case_error("{'name': 'x', 'steps': 0, " DS "}", "steps: expected an integer 1..1000000, got 0");
    zs_case c = case_ok("{'name': 'x', 'seed': 0, 'steps': 1000000, " DS "}");
    assert_int_equal(c.seed, 0);
    zs_case_free(&c);
}

static void case_config_must_be_runnable(void **state)
{
    (void)state;
    case_error("{'name': 'x', 'ds_config': {'train_batch_size': 4}}", "no optimizer block; a case needs one");
    case_error("{'name': 'x', 'world_sizes': [1, 3], 'ds_config': {'train_batch_size': 4, 'gradient_accumulation_steps':"
               " 1, 'optimizer': {'type': 'Adam'}}}",
               "cases/t.json:ds_config: at world size 3: Check batch related parameters. train_batch_size is not "
               "equal to micro_batch_per_gpu * gradient_acc_step * world_size 4 != 1 * 1 * 3");
}

static void case_from_config_file_uses_defaults(void **state)
{
    (void)state;
    zs_case c;
    zs_error err = {{0}};
    if (zs_case_from_config_file("conformance/tests/data/case_zero2_ds_config.json", &c, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(c.name, "case_zero2_ds_config");
    assert_int_equal(c.seed, 1234);
    assert_int_equal(c.steps, 5);
    assert_int_equal(c.n_world_sizes, 1);
    assert_int_equal(c.model.vocab, 97);
    assert_string_equal(c.config_source, "conformance/tests/data/case_zero2_ds_config.json");
    assert_int_equal(c.config.optimizer.type, ZS_OPT_ADAMW);
    zs_case_free(&c);
    assert_int_equal(zs_case_from_config_file("conformance/tests/data/seed002_zero2.json", &c, &err), -1);
    assert_non_null(strstr(err.msg, "no optimizer block"));
    assert_int_equal(zs_case_from_config_file("conformance/tests/data/seed000_config.json", &c, &err), -1);
    assert_non_null(strstr(err.msg, "total_num_steps is required by WarmupDecayLR"));
}

static void case_file_must_be_json_object(void **state)
{
    (void)state;
    case_error("[1]", "cases/t.json: a case file must be a JSON object");
    case_error("{'name': 'x',}", "cases/t.json: invalid JSON at line 1, column 14: trailing comma");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_defaults),
        cmocka_unit_test(case_inline_config_is_parsed_and_reserialized),
        cmocka_unit_test(case_config_file_is_relative_to_the_case_file),
        cmocka_unit_test(case_needs_exactly_one_config),
        cmocka_unit_test(case_unknown_keys_are_errors),
        cmocka_unit_test(case_name_is_required_and_restricted),
        cmocka_unit_test(case_channels_divisible_by_heads),
        cmocka_unit_test(case_model_dims_positive),
        cmocka_unit_test(case_world_sizes_range_and_count),
        cmocka_unit_test(case_seed_and_steps_ranges),
        cmocka_unit_test(case_config_must_be_runnable),
        cmocka_unit_test(case_from_config_file_uses_defaults),
        cmocka_unit_test(case_file_must_be_json_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
