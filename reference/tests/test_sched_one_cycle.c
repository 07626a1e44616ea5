/* OneCycle (reference/sched/one_cycle.c, zs_sched_betas): DeepSpeed's TestOneCycle key points for
 * lr and momentum, the v0.19.4 stair counts, the decay phase, the constructor's betas. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

static zs_scheduler_config cycle_cfg(double min_lr, double max_lr, int64_t first, int64_t second)
{
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_ONE_CYCLE);
    c.cycle_min_lr = min_lr;
    c.cycle_max_lr = max_lr;
    c.cycle_first_step_size = first;
    c.cycle_second_step_size = second;
    return c;
}

/* TestOneCycle.test_lr records get_lr() before each step (= the lr of step k): [0] == min,
 * [first] == max, rising before, falling after, falling in the decay phase when the rate > 0. */
static void test_deepspeed_lr_key_points(void **unused)
{
    (void)unused;
    const struct {
        double min, max, rate;
        int64_t size, decay_size;
    } cases[] = {{1e-5, 1e-2, 1e-3, 10, 10}, {1e-3, 1e-1, 0, 21, 21}, {1e-3, 1e-1, 1e-1, 21, 21},
                 {1e-5, 1e-1, 0, 10, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        zs_scheduler_config c = cycle_cfg(cases[k].min, cases[k].max, cases[k].size, 0);
        c.decay_lr_rate = cases[k].rate;
        c.decay_step_size = cases[k].decay_size;
        const int64_t n = cases[k].size, steps = 3 * n > 25 ? 3 * n : 25;
        assert_same_double(cases[k].min, zs_sched_lr(&c, 0.00015, 0));
        assert_same_double(cases[k].max, zs_sched_lr(&c, 0.00015, n));
        for (int64_t j = 1; j < n; j++)
            assert_true(zs_sched_lr(&c, 0.00015, j) > zs_sched_lr(&c, 0.00015, j - 1));
        for (int64_t j = n + 1; j < 2 * n; j++)
            assert_true(zs_sched_lr(&c, 0.00015, j) < zs_sched_lr(&c, 0.00015, j - 1));
        for (int64_t j = 2 * n + 1; j < steps; j++) {
            if (cases[k].rate > 0)
                assert_true(zs_sched_lr(&c, 0.00015, j) < zs_sched_lr(&c, 0.00015, j - 1));
            else
                assert_same_double(cases[k].min, zs_sched_lr(&c, 0.00015, j));
        }
    }
}

/* TestOneCycle.test_mom records get_mom() before each step. For k >= 1 that is the beta1 the
 * step uses: [step_size] == min_mom, falling before, rising after, rising in the decay phase.
 * Step 0 uses the constructor's betas (min_mom, 0.99), not get_mom() at -1 (= max_mom). */
static void test_deepspeed_momentum_key_points(void **unused)
{
    (void)unused;
    const struct {
        double rate;
        int64_t size;
    } cases[] = {{1e-3, 10}, {0, 21}};
    for (size_t k = 0; k < 2; k++) {
        zs_scheduler_config c = cycle_cfg(1e-3, 1e-2, cases[k].size, 0);
        c.cycle_min_mom = 0.08;
        c.cycle_max_mom = 0.09;
        c.decay_mom_rate = cases[k].rate;
        c.decay_step_size = cases[k].size;
        const int64_t n = cases[k].size;
        double b1[80], b2 = 0.0;
        for (int64_t j = 0; j < 3 * n; j++) {
            assert_int_equal(1, zs_sched_betas(&c, j, &b1[j], &b2));
            assert_same_double(0.99, b2);
        }
        assert_same_double(0.08, b1[0]);
        assert_same_double(0.08, b1[n]);
        assert_true(b1[1] < 0.09);
        for (int64_t j = 2; j < n; j++)
            assert_true(b1[j] < b1[j - 1]);
        for (int64_t j = n + 1; j < 2 * n; j++)
            assert_true(b1[j] > b1[j - 1]);
        for (int64_t j = 2 * n + 1; j < 3 * n; j++) {
            if (cases[k].rate > 0)
                assert_true(b1[j] > b1[j - 1]);
            else
                assert_same_double(0.09, b1[j]);
        }
    }
}

/* By hand, first = second = 4, min 0, max 1: the lr of steps 0..8 is 0, .25, .5, .75, 1, .75,
 * .5, .25, 0; after the cycle min / (1 + rate*d/decay_step_size), d = i - T + 1. */
static void test_cycle_and_decay_by_hand(void **unused)
{
    (void)unused;
    zs_scheduler_config c = cycle_cfg(0.0, 1.0, 4, 4);
    const double expect[] = {0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0};
    for (int k = 0; k < 9; k++)
        assert_close(expect[k], zs_sched_lr(&c, 1.0, k), 1e-15);
    c = cycle_cfg(0.5, 1.0, 4, 4);
    c.decay_lr_rate = 0.5;
    c.decay_step_size = 2;
    assert_same_double(0.5 / (1.0 + 0.5 * (1.0 / 2.0)), zs_sched_lr(&c, 1.0, 9));  /* i = 8: d 1 */
    assert_same_double(0.5 / (1.0 + 0.5 * (3.0 / 2.0)), zs_sched_lr(&c, 1.0, 11)); /* d 3 */
    c.cycle_momentum = 1;
    c.decay_mom_rate = 0.25;
    double b1 = 0.0, b2 = 0.0;
    assert_int_equal(1, zs_sched_betas(&c, 11, &b1, &b2));
    assert_same_double(0.9 * (1.0 + 0.25 * (3.0 / 2.0)), b1);
}

/* The DeepSpeed tensor-lr contract: min .01, max .1, 10 + 10, step(1) -> .01 + .09 * 2/10;
 * cycle_second_step_size 0 ("not given") means the same as the first. */
static void test_contract_and_second_size_default(void **unused)
{
    (void)unused;
    zs_scheduler_config c = cycle_cfg(0.01, 0.1, 10, 10);
    c.cycle_momentum = 0;
    assert_close(0.01 + (0.1 - 0.01) * 2 / 10, zs_sched_lr(&c, 1.0, 2), 1e-12);
    const zs_scheduler_config d = cycle_cfg(0.01, 0.1, 10, 0);
    for (int64_t k = 0; k < 30; k++)
        assert_same_double(zs_sched_lr(&c, 1.0, k), zs_sched_lr(&d, 1.0, k));
}

/* lrs[j] after j+1 steps, as the stair tests of test_lr_schedulers.py build them. */
static void one_cycle_lrs(double *out, int steps, int64_t first, int64_t second,
                          int64_t first_stairs, int64_t second_stairs)
{
    zs_scheduler_config c = cycle_cfg(0.001, 0.01, first, second);
    c.cycle_first_stair_count = first_stairs;
    c.cycle_second_stair_count = second_stairs;
    for (int j = 0; j < steps; j++)
        out[j] = sched_test_lr_after(&c, 0.001, j);
}

static int distinct_count(const double *x, int n)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= x[j] == x[i];
        count += !seen;
    }
    return count;
}

/* test_one_cycle_stair_count_holds_lr_flat */
static void test_stairs_hold_lr_flat(void **unused)
{
    (void)unused;
    double continuous[16], stairs[16], full[16];
    one_cycle_lrs(continuous, 16, 8, 8, 0, 0);
    one_cycle_lrs(stairs, 16, 8, 8, 2, 2);
    one_cycle_lrs(full, 16, 8, 8, 8, 8);
    assert_int_equal(8, distinct_count(continuous, 8));
    assert_true(distinct_count(stairs, 8) < 8);
    assert_same_double(stairs[0], stairs[1]);
    assert_memory_not_equal(stairs, continuous, sizeof stairs);
    for (int j = 0; j < 16; j++)
        assert_same_double(continuous[j], full[j]); /* one stair per batch = continuous */
    /* two stairs over 8 batches: 0 for b = 1..3, then 1/2 for b = 4..7, then 1 at the peak */
    assert_same_double(0.001, stairs[2]);
    assert_same_double(0.001 + (0.01 - 0.001) * 0.5, stairs[3]);
    assert_close(0.01, stairs[7], 1e-15);
}

/* test_one_cycle_stair_count_handles_asymmetric_cycle: first 10, second 21. */
static void test_stairs_asymmetric_cycle(void **unused)
{
    (void)unused;
    double continuous[31], aligned[31], first_only[31], second_only[31];
    one_cycle_lrs(continuous, 31, 10, 21, 0, 0);
    one_cycle_lrs(aligned, 31, 10, 21, 10, 21);
    one_cycle_lrs(first_only, 31, 10, 21, 2, 0);
    one_cycle_lrs(second_only, 31, 10, 21, 0, 3);
    for (int j = 0; j < 31; j++)
        assert_close(continuous[j], aligned[j], 1e-6);
    assert_close(0.01, aligned[9], 1e-6);
    assert_memory_not_equal(first_only, continuous, 10 * sizeof(double));
    assert_memory_equal(first_only + 10, continuous + 10, 21 * sizeof(double));
    assert_memory_equal(second_only, continuous, 10 * sizeof(double));
    assert_memory_not_equal(second_only + 10, continuous + 10, 20 * sizeof(double));
}

static void test_no_cycle_momentum(void **unused)
{
    (void)unused;
    zs_scheduler_config c = cycle_cfg(1e-3, 1e-2, 10, 10);
    c.cycle_momentum = 0;
    double b1 = 0.5, b2 = 0.5;
    assert_int_equal(0, zs_sched_betas(&c, 3, &b1, &b2));
    assert_same_double(0.5, b1);
    assert_same_double(0.5, b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepspeed_lr_key_points),
        cmocka_unit_test(test_deepspeed_momentum_key_points),
        cmocka_unit_test(test_cycle_and_decay_by_hand),
        cmocka_unit_test(test_contract_and_second_size_default),
        cmocka_unit_test(test_stairs_hold_lr_flat),
        cmocka_unit_test(test_stairs_asymmetric_cycle),
        cmocka_unit_test(test_no_cycle_momentum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
