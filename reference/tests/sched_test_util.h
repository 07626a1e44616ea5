/* Shared by the scheduler tests (test_sched_*.c): a zs_scheduler_config with DeepSpeed v0.19.6's
 * constructor defaults (what the config parser fills in), and the lr DeepSpeed's own unit tests
 * record. Include after <cmocka.h>. */
#ifndef ZS_TESTS_SCHED_TEST_UTIL_H
#define ZS_TESTS_SCHED_TEST_UTIL_H

#include <math.h>
#include <string.h>

#include "float_asserts.h"
#include "sched/scheduler.h"

static inline zs_scheduler_config sched_test_cfg(zs_scheduler_type type)
{
    zs_scheduler_config c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.warmup_min_lr = 0.0;
    c.warmup_max_lr = NAN; /* not given */
    c.warmup_num_steps = 1000;
    c.warmup_type = ZS_WARMUP_LOG;
    c.warmup_min_ratio = 0.0;
    c.cos_min_ratio = 1e-4;
    c.lr_range_test_min_lr = 1e-3;
    c.lr_range_test_step_size = 2000;
    c.lr_range_test_step_rate = 1.0;
    c.cycle_first_step_size = 2000;
    c.cycle_momentum = 1;
    c.cycle_min_mom = 0.8;
    c.cycle_max_mom = 0.9;
    return c;
}

/* DeepSpeed's tests append get_lr() after each engine step: entry j = f(j) = the lr of step j+1. */
static inline double sched_test_lr_after(const zs_scheduler_config *c, double base_lr, int j)
{
    return zs_sched_lr(c, base_lr, j + 1);
}

#endif
