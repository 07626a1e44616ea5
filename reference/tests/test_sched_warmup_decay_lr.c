/* WarmupDecayLR (reference/sched/warmup_decay_lr.c): DeepSpeed's key points, the linear decay to
 * warmup_min_lr, past-the-end behaviour, total < warm-up, and its own 0.001 max default. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

/* TestLrSchedule.test_lr_warmup_decay_schedule: min 0.1, max 0.2, total 2W; step_lrs[0] == min,
 * step_lrs[W] == max, strictly decreasing after. */
static void test_deepspeed_key_points(void **unused)
{
    (void)unused;
    const int64_t steps[] = {10, 15, 19, 33};
    for (int type = 0; type < 2; type++) {
        for (int s = 0; s < 4; s++) {
            zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
            c.warmup_min_lr = 0.1;
            c.warmup_max_lr = 0.2;
            c.warmup_num_steps = steps[s];
            c.total_num_steps = 2 * steps[s];
            c.warmup_type = type ? ZS_WARMUP_LINEAR : ZS_WARMUP_LOG;
            assert_same_double(0.1, sched_test_lr_after(&c, 0.00015, 0));
            assert_same_double(0.2, sched_test_lr_after(&c, 0.00015, (int)steps[s]));
            for (int j = (int)steps[s] + 1; j <= c.total_num_steps; j++)
                assert_true(sched_test_lr_after(&c, 0.00015, j) <
                            sched_test_lr_after(&c, 0.00015, j - 1));
        }
    }
}

/* W = 4, total 8, min 0, max 1: f(4..8) = 4/4, 3/4, 2/4, 1/4, 0; then 0 for ever. */
static void test_linear_decay_by_hand(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
    c.warmup_num_steps = 4;
    c.total_num_steps = 8;
    c.warmup_max_lr = 1.0;
    const double expect[] = {1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0};
    for (int i = 4; i <= 10; i++)
        assert_same_double(expect[i - 4], zs_sched_lr(&c, 9.0, i + 1));
    assert_same_double(0.0, zs_sched_lr(&c, 9.0, INT64_C(1) << 40));
}

/* Decays to warmup_min_lr, not to 0, and stays there. */
static void test_reaches_min_lr_and_stays(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
    c.warmup_num_steps = 10;
    c.total_num_steps = 50;
    c.warmup_min_lr = 1e-5;
    c.warmup_max_lr = 1e-3;
    for (int64_t i = 50; i < 200; i++)
        assert_same_double(1e-5, zs_sched_lr(&c, 1.0, i + 1));
    assert_true(zs_sched_lr(&c, 1.0, 50) > 1e-5);
}

/* total < W: only a warning in DeepSpeed; after the warm-up gamma = max(0, negative) = 0. */
static void test_total_below_warmup(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
    c.warmup_num_steps = 10;
    c.total_num_steps = 5;
    c.warmup_min_lr = 0.25;
    c.warmup_max_lr = 1.0;
    assert_true(zs_sched_lr(&c, 1.0, 10) > 0.25); /* i = 9: still warming up */
    assert_same_double(0.25, zs_sched_lr(&c, 1.0, 11));
}

/* Not given: WarmupDecayLR's own default 0.001, not the optimizer's lr. */
static void test_max_default_is_0_001(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_DECAY_LR);
    c.warmup_num_steps = 10;
    c.total_num_steps = 100;
    assert_same_double(0.001, zs_sched_lr(&c, 0.5, 11));
    c.warmup_max_lr = 0.1; /* DeepSpeed's tensor-lr contract: step(1) -> 0.1 * log 2 / log 10 */
    assert_close(0.1 * log(2.0) / log(10.0), zs_sched_lr(&c, 0.5, 2), 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepspeed_key_points),
        cmocka_unit_test(test_linear_decay_by_hand),
        cmocka_unit_test(test_reaches_min_lr_and_stays),
        cmocka_unit_test(test_total_below_warmup),
        cmocka_unit_test(test_max_default_is_0_001),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
