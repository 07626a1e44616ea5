/* The batch triple, resolved per world size exactly as DeepSpeed v0.19.6 runtime/config.py
 * _set_batch_related_parameters + _batch_assertion do: one test per row of the table in
 * docs/spec/config.md "Batch size", plus the assertions and their texts. */
#include "ds_config_test_util.h"

static zs_ds_config triple(int64_t tb, int64_t mb, int64_t g)
{
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.train_batch_size = tb; /* 0 = not given */
    c.train_micro_batch_size_per_gpu = mb;
    c.gradient_accumulation_steps = g;
    return c;
}

static void expect_batch(int64_t tb, int64_t mb, int64_t g, int world, int64_t etb, int64_t emb, int64_t eg)
{
    zs_ds_config c = triple(tb, mb, g);
    zs_batch b;
    zs_error err = {{0}};
    if (zs_ds_config_resolve_batch(&c, world, &b, &err))
        fail_msg("(%lld, %lld, %lld) at world %d: %s", (long long)tb, (long long)mb, (long long)g, world, err.msg);
    assert_int_equal(b.train_batch_size, etb);
    assert_int_equal(b.micro_batch, emb);
    assert_int_equal(b.grad_accum_steps, eg);
}

static void expect_batch_error(int64_t tb, int64_t mb, int64_t g, int world, const char *msg)
{
    zs_ds_config c = triple(tb, mb, g);
    zs_batch b;
    zs_error err = {{0}};
    assert_int_equal(zs_ds_config_resolve_batch(&c, world, &b, &err), -1);
    assert_string_equal(err.msg, msg);
}

static void batch_all_three_given_are_kept(void **state)
{
    (void)state;
    expect_batch(32, 4, 2, 4, 32, 4, 2);
}

static void batch_tb_and_mb_derive_gas_by_floor_division(void **state)
{
    (void)state;
    expect_batch(32, 4, 0, 4, 32, 4, 2);   /* (32 // 4) // 4 */
    expect_batch(32, 4, 0, 1, 32, 4, 8);
}

static void batch_tb_and_gas_derive_micro_batch(void **state)
{
    (void)state;
    expect_batch(64, 0, 4, 2, 64, 8, 4);   /* (64 // 2) // 4 */
}

static void batch_mb_and_gas_derive_train_batch(void **state)
{
    (void)state;
    expect_batch(0, 3, 5, 4, 60, 3, 5);
}

static void batch_tb_only_sets_gas_one(void **state)
{
    (void)state;
    expect_batch(16, 0, 0, 4, 16, 4, 1);
}

static void batch_mb_only_sets_gas_one(void **state)
{
    (void)state;
    expect_batch(0, 4, 0, 8, 32, 4, 1);
}

static void batch_none_or_gas_only_is_an_error(void **state)
{
    (void)state;
    const char *msg = "Either train_batch_size or train_micro_batch_size_per_gpu needs to be provided";
    expect_batch_error(0, 0, 0, 1, msg);
    expect_batch_error(0, 0, 4, 2, msg);
}

static void batch_inconsistent_triple_fails_with_deepspeed_message(void **state)
{
    (void)state;
    expect_batch_error(32, 4, 2, 2,
                       "Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * "
                       "gradient_acc_step * world_size 32 != 4 * 2 * 2");
    /* floor division hides the inconsistency until the final assertion */
    expect_batch_error(30, 4, 0, 2,
                       "Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * "
                       "gradient_acc_step * world_size 30 != 4 * 3 * 2");
    expect_batch_error(10, 0, 0, 4,
                       "Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * "
                       "gradient_acc_step * world_size 10 != 2 * 1 * 4");
}

static void batch_derived_zero_fails_the_positive_assertions(void **state)
{
    (void)state;
    expect_batch_error(16, 8, 0, 4, "Gradient accumulation steps: 0 has to be greater than 0"); /* (16//8)//4 */
    expect_batch_error(2, 0, 0, 4, "Micro batch size per gpu: 0 has to be greater than 0");      /* 2 // 4 */
    expect_batch_error(8, 0, 2, 16, "Micro batch size per gpu: 0 has to be greater than 0");
    expect_batch_error(-8, 4, 0, 1, "Train batch size: -8 has to be greater than 0");            /* hand-built */
}

static void batch_world_size_must_be_positive(void **state)
{
    (void)state;
    expect_batch_error(16, 0, 0, 0, "world size must be >= 1, got 0");
}

static void batch_written_values_must_be_positive_integers(void **state)
{
    (void)state;
    expect_error("{'gradient_accumulation_steps': 0}", "gradient_accumulation_steps: expected an integer >= 1, got 0");
    expect_error("{'train_batch_size': -16}", "train_batch_size: expected an integer >= 1, got -16");
    expect_error("{'train_micro_batch_size_per_gpu': 2.5}", "expected an integer >= 1, got 2.5");
    expect_error("{'train_batch_size': '16'}", "train_batch_size: expected an integer >= 1, got \"16\"");
    zs_ds_config c = parse_ok("{'train_batch_size': null, 'train_micro_batch_size_per_gpu': 4}");
    assert_int_equal(c.train_batch_size, 0); /* None means "not given" in DeepSpeed */
    assert_int_equal(c.train_micro_batch_size_per_gpu, 4);
    expect_status(&c, "train_micro_batch_size_per_gpu", ZS_KEY_USED);
    zs_ds_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_all_three_given_are_kept),
        cmocka_unit_test(batch_tb_and_mb_derive_gas_by_floor_division),
        cmocka_unit_test(batch_tb_and_gas_derive_micro_batch),
        cmocka_unit_test(batch_mb_and_gas_derive_train_batch),
        cmocka_unit_test(batch_tb_only_sets_gas_one),
        cmocka_unit_test(batch_mb_only_sets_gas_one),
        cmocka_unit_test(batch_none_or_gas_only_is_an_error),
        cmocka_unit_test(batch_inconsistent_triple_fails_with_deepspeed_message),
        cmocka_unit_test(batch_derived_zero_fails_the_positive_assertions),
        cmocka_unit_test(batch_world_size_must_be_positive),
        cmocka_unit_test(batch_written_values_must_be_positive_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
