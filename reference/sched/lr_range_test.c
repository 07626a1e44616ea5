/* LRRangeTest (lr_schedules.py LRRangeTest, DeepSpeed v0.19.6): an unbounded increase.
 *   f(-1) = min_lr ;  f(i) = min_lr * (1 + step_rate * x),  x = (i + 1)/step_size
 *   staircase:  x = floor((i + 1)/step_size)
 * so optimizer step k runs with min_lr * (1 + rate * k/step_size) (floored when staircase). */
#include <math.h>

#include "sched/scheduler.h"

double zs_sched_lr_range_test_f(const zs_scheduler_config *cfg, int64_t i)
{
    if (i < 0)
        return cfg->lr_range_test_min_lr;
    double interval = (double)(i + 1) / (double)cfg->lr_range_test_step_size;
    if (cfg->lr_range_test_staircase)
        interval = floor(interval);
    return cfg->lr_range_test_min_lr * (1.0 + cfg->lr_range_test_step_rate * interval);
}
