/* zs-fast's LR schedules (fast/lr_sched.c) against docs/spec/schedulers.md: every scheduler's branches
 * with hand-computed values, past-the-end behaviour, and OneCycle's betas. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

static void test_constant_and_unknown(void **state)
{
    (void)state;
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 3e-4;
    zs_error err = {{0}};
    assert_int_equal(zsf_sched_check(&c, &err), 0);
    assert_true(zsf_sched_lr(&c, 0) == 3e-4 && zsf_sched_lr(&c, 7) == 3e-4);
    assert_true(isnan(zsf_sched_lr(&c, -1)));
    c.scheduler.type = ZS_SCHED_COUNT;
    snprintf(c.scheduler.type_name, sizeof c.scheduler.type_name, "CyclicLR");
    assert_int_equal(zsf_sched_check(&c, &err), -1);
    assert_non_null(strstr(err.msg, "CyclicLR"));
    assert_true(isnan(zsf_sched_lr(&c, 0)));
}

/* The conformance case sched_warmup_decay: W = 2, total 6, max 0.01, linear decay to min at i = 6. */
static void test_warmup_decay(void **state)
{
    (void)state;
    zs_ds_config c = warmup(2, ZS_WARMUP_LOG, 0.0, 0.01);
    c.scheduler.type = ZS_SCHED_WARMUP_DECAY_LR;
    c.scheduler.total_num_steps = 6;
    assert_true(zsf_sched_lr(&c, 0) == 0.0);
    assert_true(zsf_sched_lr(&c, 1) == 0.0);                                   /* log(1) = 0 */
    assert_true(zsf_sched_lr(&c, 2) == 0.01 * (1.0 / log(2.0) * log(2.0)));
    assert_true(zsf_sched_lr(&c, 3) == 0.01 * (4.0 / 4.0));                    /* i = 2 = W */
    assert_true(zsf_sched_lr(&c, 4) == 0.01 * (3.0 / 4.0));
    assert_true(zsf_sched_lr(&c, 7) == 0.0 && zsf_sched_lr(&c, 50) == 0.0);   /* min for ever */
    c.scheduler.warmup_max_lr = NAN;                                           /* its own default 0.001 */
    assert_true(zsf_sched_lr(&c, 3) == 0.001);
}

static void test_warmup_cosine(void **state)
{
    (void)state;
    zs_ds_config c = warmup(2, ZS_WARMUP_LOG, 0.0, NAN);
    c.optimizer.lr = 0.01;
    c.scheduler.type = ZS_SCHED_WARMUP_COSINE_LR;
    c.scheduler.total_num_steps = 6;
    c.scheduler.cos_min_ratio = 0.1;
    c.scheduler.warmup_min_ratio = 0.5;
    assert_true(zsf_sched_lr(&c, 0) == 0.0);                                   /* step 0 runs with 0 */
    assert_true(zsf_sched_lr(&c, 1) == 0.01 * 0.5);                            /* wmr + gamma(0)*(1-wmr) */
    const double x = 1.0 / 4.0, ratio = 0.1 + (1.0 - 0.1) * (1.0 + cos(3.141592653589793 * x)) / 2.0;
    assert_true(zsf_sched_lr(&c, 3) == 0.01 * ratio);                          /* i = 2: s = 1, T = 4 */
    assert_true(fabs(zsf_sched_lr(&c, 6) - 0.01 * 0.1) < 1e-15);               /* i = total - 1 */
    assert_true(zsf_sched_lr(&c, 100) == zsf_sched_lr(&c, 6));                 /* clamped */
}

static zs_ds_config one_cycle(void)
{
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 0.01;
    c.optimizer.betas[0] = 0.9;
    c.optimizer.betas[1] = 0.999;
    c.scheduler.type = ZS_SCHED_ONE_CYCLE;
    c.scheduler.cycle_min_lr = 0.001;
    c.scheduler.cycle_max_lr = 0.01;
    c.scheduler.cycle_first_step_size = 2;
    c.scheduler.decay_lr_rate = 0.5;
    c.scheduler.decay_step_size = 1;
    c.scheduler.cycle_momentum = 1;
    c.scheduler.cycle_min_mom = 0.85;
    c.scheduler.cycle_max_mom = 0.95;
    return c;
}

/* sched_one_cycle's schedule: up over 2 steps, down over 2, then min / (1 + 0.5 d). */
static void test_one_cycle_lr_and_betas(void **state)
{
    (void)state;
    zs_ds_config c = one_cycle();
    const double lo = 0.001, hi = 0.01;
    assert_true(zsf_sched_lr(&c, 0) == lo);
    assert_true(zsf_sched_lr(&c, 1) == lo + (hi - lo) * 0.5);
    assert_true(zsf_sched_lr(&c, 2) == lo + (hi - lo) * 1.0);
    assert_true(zsf_sched_lr(&c, 3) == lo + (hi - lo) * ((0.75 - 1.0) / (0.5 - 1.0)));
    assert_true(zsf_sched_lr(&c, 5) == lo / (1.0 + 0.5 * 1.0 / 1.0));
    assert_true(zsf_sched_lr(&c, 6) == lo / (1.0 + 0.5 * 2.0 / 1.0));
    double b1, b2;
    zsf_sched_betas(&c, 1, 0, &b1, &b2);
    assert_true(b1 == 0.85 && b2 == 0.99);                                     /* constructor: min_mom */
    zsf_sched_betas(&c, 1, 2, &b1, &b2);
    assert_true(b1 == 0.95 - (0.95 - 0.85) * 1.0);
    zsf_sched_betas(&c, 1, 6, &b1, &b2);
    assert_true(b1 == 0.95);                                                   /* decay_mom_rate 0 */
    zsf_sched_betas(&c, 0, 2, &b1, &b2);                                       /* no betas: untouched */
    assert_true(b1 == 0.9 && b2 == 0.999);
    c.scheduler.cycle_first_stair_count = 1;                                   /* stairs hold the lr */
    assert_true(zsf_sched_lr(&c, 1) == lo);
    assert_true(zsf_sched_lr(&c, 2) == lo + (hi - lo) * 1.0);
}

static void test_lr_range_test(void **state)
{
    (void)state;
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.scheduler.type = ZS_SCHED_LR_RANGE_TEST;
    c.scheduler.lr_range_test_min_lr = 0.001;
    c.scheduler.lr_range_test_step_size = 2;
    c.scheduler.lr_range_test_step_rate = 2.0;
    c.scheduler.lr_range_test_staircase = 1;
    assert_true(zsf_sched_lr(&c, 0) == 0.001);
    assert_true(zsf_sched_lr(&c, 1) == 0.001);                                 /* floor(1/2) = 0 */
    assert_true(zsf_sched_lr(&c, 2) == 0.001 * (1.0 + 2.0 * 1.0));
    assert_true(zsf_sched_lr(&c, 5) == 0.001 * (1.0 + 2.0 * 2.0));
    c.scheduler.lr_range_test_staircase = 0;
    assert_true(zsf_sched_lr(&c, 1) == 0.001 * (1.0 + 2.0 * 0.5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_log_worked_example),
        cmocka_unit_test(test_warmup_linear_and_defaults),
        cmocka_unit_test(test_constant_and_unknown),
        cmocka_unit_test(test_warmup_decay),
        cmocka_unit_test(test_warmup_cosine),
        cmocka_unit_test(test_one_cycle_lr_and_betas),
        cmocka_unit_test(test_lr_range_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
