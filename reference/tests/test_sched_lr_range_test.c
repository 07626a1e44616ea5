/* LRRangeTest (reference/sched/lr_range_test.c): DeepSpeed's TestLrRange key points, staircase vs
 * continuous by hand, and the unbounded growth past any "end". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

static zs_scheduler_config range_cfg(double min_lr, double rate, int64_t size, int staircase)
{
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_LR_RANGE_TEST);
    c.lr_range_test_min_lr = min_lr;
    c.lr_range_test_step_rate = rate;
    c.lr_range_test_step_size = size;
    c.lr_range_test_staircase = staircase;
    return c;
}

/* TestLrRange records get_lr() before each step: [0] == min_lr; staircase: constant within each
 * run of step_size entries; continuous: strictly increasing. */
static void test_deepspeed_key_points(void **unused)
{
    (void)unused;
    const struct {
        double min_lr, rate;
        int64_t size;
        int staircase;
    } cases[] = {{1e-4, 1e-5, 1, 1},   {1e-5, 1e-5, 1, 0},   {1e-4, 1e-3, 10, 1},
                 {1e-3, 1e-3, 10, 0},  {1e-2, 1e-2, 19, 1},  {1e-2, 1e-2, 19, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const zs_scheduler_config c = range_cfg(cases[k].min_lr, cases[k].rate, cases[k].size,
                                                cases[k].staircase);
        const int64_t steps = cases[k].size > 25 ? cases[k].size : 25;
        assert_same_double(cases[k].min_lr, zs_sched_lr(&c, 0.00015, 0));
        for (int64_t j = 1; j < steps; j++) {
            const double lr = zs_sched_lr(&c, 0.00015, j), prev = zs_sched_lr(&c, 0.00015, j - 1);
            if (!cases[k].staircase)
                assert_true(lr > prev);
            else if (j % cases[k].size != 0)
                assert_same_double(prev, lr);
        }
    }
}

/* min 0.1, rate 2, size 4, step k = 6: continuous 0.1*(1 + 2*6/4); staircase floor(6/4) = 1. */
static void test_by_hand(void **unused)
{
    (void)unused;
    const zs_scheduler_config cont = range_cfg(0.1, 2.0, 4, 0), stair = range_cfg(0.1, 2.0, 4, 1);
    assert_close(0.4, zs_sched_lr(&cont, 1.0, 6), 1e-15);
    assert_close(0.3, zs_sched_lr(&stair, 1.0, 6), 1e-15);
    assert_close(0.5, zs_sched_lr(&stair, 1.0, 8), 1e-15);
    assert_same_double(0.1, zs_sched_lr(&stair, 1.0, 3));
    /* DeepSpeed's tensor-lr contract with the defaults: step(1) -> 1e-3 * (1 + 2/2000) */
    const zs_scheduler_config d = sched_test_cfg(ZS_SCHED_LR_RANGE_TEST);
    assert_close(1e-3 * (1 + 2.0 / 2000), zs_sched_lr(&d, 1.0, 2), 1e-15);
}

static void test_unbounded(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = range_cfg(1e-3, 1.0, 10, 0);
    assert_close(1e-3 * (1 + 1e6), zs_sched_lr(&c, 1.0, 10000000), 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepspeed_key_points),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_unbounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
