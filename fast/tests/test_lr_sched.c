/* zs-fast's LR schedule (fast/lr_sched.c) against docs/spec/schedulers.md §1-2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lr_sched.h"

static zs_ds_config warmup(int64_t steps, zs_warmup_type type, double min_lr, double max_lr)
{
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 0.25;
    c.scheduler.type = ZS_SCHED_WARMUP_LR;
    c.scheduler.warmup_num_steps = steps;
    c.scheduler.warmup_type = type;
    c.scheduler.warmup_min_lr = min_lr;
    c.scheduler.warmup_max_lr = max_lr;
    return c;
}

/* The spec's worked example: W = 4, log, min 0, max 1: steps 0..5 run with 0, 0, 0.5, 0.79248.., ~1, 1. */
static void test_warmup_log_worked_example(void **state)
{
    (void)state;
    zs_ds_config c = warmup(4, ZS_WARMUP_LOG, 0.0, 1.0);
    assert_true(zsf_sched_lr(&c, 0) == 0.0);
    assert_true(zsf_sched_lr(&c, 1) == 0.0);
    assert_true(zsf_sched_lr(&c, 2) == (1.0 / log(4.0)) * log(2.0));   /* inv * log(i+1), not a quotient */
    assert_true(fabs(zsf_sched_lr(&c, 3) - 0.7924812503605781) < 1e-15);
    assert_true(fabs(zsf_sched_lr(&c, 4) - 1.0) < 1e-15);
    assert_true(zsf_sched_lr(&c, 5) == 1.0);
    assert_true(zsf_sched_lr(&c, 1000) == 1.0);
}

static void test_warmup_linear_and_defaults(void **state)
{
    (void)state;
    zs_ds_config c = warmup(3, ZS_WARMUP_LINEAR, 0.0, 0.01);
    assert_true(zsf_sched_lr(&c, 0) == 0.0);
    assert_true(zsf_sched_lr(&c, 2) == 0.0 + 0.01 * (1.0 / 3.0));
    assert_true(zsf_sched_lr(&c, 4) == 0.01);
    c = warmup(1, ZS_WARMUP_LINEAR, 0.1, NAN);   /* W = max(2, n); max defaults to the optimizer lr */
    assert_true(zsf_sched_lr(&c, 2) == 0.1 + (0.25 - 0.1) * 0.5);
    assert_true(zsf_sched_lr(&c, 3) == 0.25);
}

static void test_constant_and_unsupported(void **state)
{
    (void)state;
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 3e-4;
    zs_error err = {{0}};
    assert_int_equal(zsf_sched_check(&c, &err), 0);
    assert_true(zsf_sched_lr(&c, 0) == 3e-4 && zsf_sched_lr(&c, 7) == 3e-4);
    c.scheduler.type = ZS_SCHED_ONE_CYCLE;
    assert_int_equal(zsf_sched_check(&c, &err), -1);
    assert_non_null(strstr(err.msg, "OneCycle"));
    assert_true(isnan(zsf_sched_lr(&c, 0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_log_worked_example),
        cmocka_unit_test(test_warmup_linear_and_defaults),
        cmocka_unit_test(test_constant_and_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
