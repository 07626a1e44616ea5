/* zs_sched_lr / zs_sched_betas dispatch (reference/sched/scheduler.c): step k uses f(k-1), no
 * scheduler means the optimizer's lr, bad indices and types give NaN, betas only for OneCycle. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

static void test_no_scheduler_is_constant(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = sched_test_cfg(ZS_SCHED_NONE);
    assert_same_double(3e-4, zs_sched_lr(&c, 3e-4, 0));
    assert_same_double(3e-4, zs_sched_lr(&c, 3e-4, 12345));
}

static void test_step_k_uses_f_of_k_minus_1(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_num_steps = 7;
    for (int64_t k = 0; k < 10; k++)
        assert_same_double(zs_sched_warmup_lr_f(&c, 0.1, k - 1), zs_sched_lr(&c, 0.1, k));
    c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
    c.total_num_steps = 3000;
    for (int64_t k = 990; k < 1010; k++)
        assert_same_double(zs_sched_warmup_decay_lr_f(&c, k - 1), zs_sched_lr(&c, 0.1, k));
    c = sched_test_cfg(ZS_SCHED_WARMUP_COSINE_LR);
    c.total_num_steps = 3000;
    for (int64_t k = 0; k < 5; k++)
        assert_same_double(zs_sched_warmup_cosine_lr_f(&c, 0.1, k - 1), zs_sched_lr(&c, 0.1, k));
    c = sched_test_cfg(ZS_SCHED_ONE_CYCLE);
    for (int64_t k = 0; k < 5; k++)
        assert_same_double(zs_sched_one_cycle_f(&c, k - 1), zs_sched_lr(&c, 0.1, k));
    c = sched_test_cfg(ZS_SCHED_LR_RANGE_TEST);
    for (int64_t k = 0; k < 5; k++)
        assert_same_double(zs_sched_lr_range_test_f(&c, k - 1), zs_sched_lr(&c, 0.1, k));
}

static void test_bad_index_or_type_is_nan(void **unused)
{
    (void)unused;
    for (int t = 0; t < ZS_SCHED_COUNT; t++) {
        const zs_scheduler_config c = sched_test_cfg((zs_scheduler_type)t);
        assert_true(isnan(zs_sched_lr(&c, 0.1, -1)));
    }
    const zs_scheduler_config bad = sched_test_cfg(ZS_SCHED_COUNT);
    assert_true(isnan(zs_sched_lr(&bad, 0.1, 0)));
}

static void test_betas_only_for_one_cycle(void **unused)
{
    (void)unused;
    double b1 = 0.25, b2 = 0.5;
    for (int t = 0; t < ZS_SCHED_COUNT; t++) {
        zs_scheduler_config c = sched_test_cfg((zs_scheduler_type)t);
        c.cycle_momentum = 1;
        assert_int_equal(t == ZS_SCHED_ONE_CYCLE, zs_sched_betas(&c, 1, &b1, &b2));
        assert_int_equal(0, zs_sched_betas(&c, -1, &b1, &b2));
    }
    assert_same_double(0.99, b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_scheduler_is_constant),
        cmocka_unit_test(test_step_k_uses_f_of_k_minus_1),
        cmocka_unit_test(test_bad_index_or_type_is_nan),
        cmocka_unit_test(test_betas_only_for_one_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
