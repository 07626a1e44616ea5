/* WarmupLR (reference/sched/warmup_lr.c): DeepSpeed's test_lr_schedulers.py key points, the worked
 * example of the research note, both warm-up shapes, the max(2, n) clamp, the max default. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

/* W = 4, log, min 0, max 1: steps 0..5 run with 0, 0, 0.5, log 3/log 4, 1, 1. */
static void test_worked_example(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_num_steps = 4;
    c.warmup_max_lr = 1.0;
    assert_same_double(0.0, zs_sched_lr(&c, 0.5, 0)); /* constructor: min */
    assert_same_double(0.0, zs_sched_lr(&c, 0.5, 1)); /* log(1) = 0 */
    assert_close(0.5, zs_sched_lr(&c, 0.5, 2), 1e-15);
    assert_close(0.79248125036057815, zs_sched_lr(&c, 0.5, 3), 1e-15);
    assert_close(1.0, zs_sched_lr(&c, 0.5, 4), 1e-15);
    assert_same_double(1.0, zs_sched_lr(&c, 0.5, 5)); /* i >= W: gamma is exactly 1 */
    /* Python's arithmetic: (1.0 / math.log(4)) * math.log(3), not log(3)/log(4) */
    assert_same_double((1.0 / log(4.0)) * log(3.0), zs_sched_lr(&c, 0.5, 3));
}

/* Python evaluates inverse_log_warm_up * math.log(i + 1) with inverse_log_warm_up = 1/log(W) and
 * min + delta*gamma with delta = max - min; over a 1000-step warm-up some entries differ in the
 * last bit from log(i+1)/log(W), so this pins the order. */
static void test_python_arithmetic_over_long_warmup(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_min_lr = 1e-5;
    c.warmup_max_lr = 3e-4;
    const double inverse_log_warm_up = 1.0 / log(1000.0), delta = 3e-4 - 1e-5;
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        const double python = 1e-5 + delta * (inverse_log_warm_up * log(i + 1.0));
        assert_same_double(python, zs_sched_lr(&c, 1.0, i + 1));
        differs += python != 1e-5 + delta * (log(i + 1.0) / log(1000.0));
    }
    assert_true(differs > 0);
}

/* TestLrSchedule.test_lr_warmup_schedule: min 0.1, max 0.2; step_lrs[0] == min,
 * step_lrs[W] == max and every later entry == max, for both shapes. */
static void test_deepspeed_key_points(void **unused)
{
    (void)unused;
    const int64_t steps[] = {10, 15, 19, 33};
    for (int type = 0; type < 2; type++) {
        for (int s = 0; s < 4; s++) {
            zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
            c.warmup_min_lr = 0.1;
            c.warmup_max_lr = 0.2;
            c.warmup_num_steps = steps[s];
            c.warmup_type = type ? ZS_WARMUP_LINEAR : ZS_WARMUP_LOG;
            assert_same_double(0.1, sched_test_lr_after(&c, 0.00015, 0));
            for (int j = (int)steps[s]; j < 2 * steps[s]; j++)
                assert_same_double(0.2, sched_test_lr_after(&c, 0.00015, j));
            for (int j = 1; j < steps[s]; j++)
                assert_true(sched_test_lr_after(&c, 0.00015, j) >
                            sched_test_lr_after(&c, 0.00015, j - 1));
        }
    }
}

static void test_linear_shape(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_num_steps = 8;
    c.warmup_type = ZS_WARMUP_LINEAR;
    c.warmup_min_lr = 0.5;
    c.warmup_max_lr = 1.5;
    assert_same_double(0.5, zs_sched_lr(&c, 9.0, 0));
    assert_same_double(0.5, zs_sched_lr(&c, 9.0, 1));
    assert_same_double(0.5 + 3.0 / 8.0, zs_sched_lr(&c, 9.0, 4)); /* f(3) = min + delta*3/8 */
    assert_same_double(0.5 + 7.0 / 8.0, zs_sched_lr(&c, 9.0, 8));
    assert_same_double(1.5, zs_sched_lr(&c, 9.0, 9));
}

/* warmup_num_steps < 2 is clamped to 2 (log W must not be 0). */
static void test_warmup_steps_clamped_to_two(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_num_steps = 1;
    c.warmup_max_lr = 1.0;
    assert_int_equal(2, zs_warmup_num_steps(&c));
    assert_same_double(0.0, zs_sched_lr(&c, 1.0, 1));
    assert_close(1.0, zs_sched_lr(&c, 1.0, 2), 1e-15); /* f(1) = log 2 / log 2 */
    assert_same_double(1.0, zs_sched_lr(&c, 1.0, 3));
}

/* warmup_max_lr not given (NaN) -> the optimizer's lr (v0.18.0+); given -> itself. */
static void test_max_defaults_to_optimizer_lr(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_num_steps = 10;
    assert_same_double(0.1, zs_sched_lr(&c, 0.1, 11));
    /* DeepSpeed's tensor-lr contract: step(1) -> 0.1 * log 2 / log 10 */
    assert_close(0.1 * log(2.0) / log(10.0), zs_sched_lr(&c, 0.1, 2), 1e-12);
    c.warmup_max_lr = 0.3;
    assert_same_double(0.3, zs_sched_lr(&c, 0.1, 11));
}

static void test_past_the_end_stays_at_max(void **unused)
{
    (void)unused;
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_LR);
    c.warmup_max_lr = 2e-4;
    assert_same_double(2e-4, zs_sched_lr(&c, 1.0, 1001));
    assert_same_double(2e-4, zs_sched_lr(&c, 1.0, INT64_C(1) << 40));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_python_arithmetic_over_long_warmup),
        cmocka_unit_test(test_deepspeed_key_points),
        cmocka_unit_test(test_linear_shape),
        cmocka_unit_test(test_warmup_steps_clamped_to_two),
        cmocka_unit_test(test_max_defaults_to_optimizer_lr),
        cmocka_unit_test(test_past_the_end_stays_at_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
