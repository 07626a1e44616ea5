/* WarmupCosineLR (reference/sched/warmup_cosine_lr.c): DeepSpeed's TestWarmupCosineLR key points,
 * the lr-0 first step, the v0.19.3 clamp past the end, total == warm-up, the linear shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched_test_util.h"

static zs_scheduler_config cosine_cfg(int64_t total, int64_t warmup, double cmr, double wmr)
{
    zs_scheduler_config c = sched_test_cfg(ZS_SCHED_WARMUP_COSINE_LR);
    c.total_num_steps = total;
    c.warmup_num_steps = warmup;
    c.cos_min_ratio = cmr;
    c.warmup_min_ratio = wmr;
    return c;
}

/* TestWarmupCosineLR.test_lr (opt lr 0.0015): step_lrs[0] = lr*wmr, step_lrs[W-1] = lr,
 * step_lrs[total-1] = lr*cmr (within 1e-7), increasing before W, decreasing from W to total. */
static void test_deepspeed_key_points(void **unused)
{
    (void)unused;
    const struct {
        int64_t total, warmup;
        double cmr, wmr;
    } cases[] = {{100, 10, 0.1, 0.2}, {200, 20, 0.1, 0.2}, {500, 30, 0.0, 0.2},
                 {600, 300, 0.1, 0.0}, {600, 550, 0.0, 0.0}};
    const double lr = 0.0015;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const zs_scheduler_config c = cosine_cfg(cases[k].total, cases[k].warmup, cases[k].cmr,
                                                 cases[k].wmr);
        const int w = (int)cases[k].warmup, total = (int)cases[k].total;
        assert_true(fabs(sched_test_lr_after(&c, lr, 0) - lr * cases[k].wmr) < 1e-7);
        assert_true(fabs(sched_test_lr_after(&c, lr, w - 1) - lr) < 1e-7);
        assert_true(fabs(sched_test_lr_after(&c, lr, total - 1) - lr * cases[k].cmr) < 1e-7);
        for (int j = 1; j < w; j++)
            assert_true(sched_test_lr_after(&c, lr, j) > sched_test_lr_after(&c, lr, j - 1));
        for (int j = w + 1; j < total; j++)
            assert_true(sched_test_lr_after(&c, lr, j) < sched_test_lr_after(&c, lr, j - 1));
    }
}

/* The constructor's get_lr() returns 0.0: the first step runs with lr 0 even when wmr > 0. */
static void test_first_step_lr_is_zero(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = cosine_cfg(100, 10, 0.1, 0.2);
    assert_same_double(0.0, zs_sched_lr(&c, 0.0015, 0));
    assert_same_double(0.0015 * 0.2, zs_sched_lr(&c, 0.0015, 1)); /* f(0) = wmr + 0*(1 - wmr) */
    /* DeepSpeed's tensor-lr contract: total 100, W 10, base 0.1, step(1) -> 0.1*log 2/log 10 */
    const zs_scheduler_config d = cosine_cfg(100, 10, 1e-4, 0.0);
    assert_close(0.1 * log(2.0) / log(10.0), zs_sched_lr(&d, 0.1, 2), 1e-12);
}

/* W = 2, total 6, cmr 0: s/T' = 1/4 .. 4/4 gives (1 + cos(pi x))/2 by hand; then 0 for ever. */
static void test_cosine_by_hand(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = cosine_cfg(6, 2, 0.0, 0.0);
    assert_close(0.5 * (1.0 + sqrt(0.5)), zs_sched_lr(&c, 1.0, 3), 1e-15);
    assert_close(0.5, zs_sched_lr(&c, 1.0, 4), 1e-15);
    assert_close(0.5 * (1.0 - sqrt(0.5)), zs_sched_lr(&c, 1.0, 5), 1e-15);
    assert_same_double(0.0, zs_sched_lr(&c, 1.0, 6));
}

/* v0.19.3+: x = min(1, s/T'), so the ratio stays at cos_min_ratio past total_num_steps
 * (v0.16's periodic cosine would rise again). */
static void test_past_the_end_stays_at_floor(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = cosine_cfg(100, 10, 0.1, 0.0);
    for (int64_t k = 100; k < 400; k++)
        assert_same_double(0.0015 * 0.1, zs_sched_lr(&c, 0.0015, k));
}

/* total == W: T' = max(1, 0) = 1, every post-warm-up step is at cos_min_ratio (no division by 0). */
static void test_total_equals_warmup(void **unused)
{
    (void)unused;
    const zs_scheduler_config c = cosine_cfg(10, 10, 0.1, 0.0);
    for (int64_t i = 10; i < 15; i++)
        assert_same_double(0.01 * 0.1, zs_sched_lr(&c, 0.01, i + 1));
}

/* warmup_type linear: ratio = i/W during the warm-up (wmr 0). */
static void test_linear_warmup(void **unused)
{
    (void)unused;
    zs_scheduler_config c = cosine_cfg(100, 10, 1e-4, 0.0);
    c.warmup_type = ZS_WARMUP_LINEAR;
    for (int i = 0; i < 10; i++)
        assert_same_double(0.001 * ((double)i / 10.0), zs_sched_lr(&c, 0.001, i + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepspeed_key_points),
        cmocka_unit_test(test_first_step_lr_is_zero),
        cmocka_unit_test(test_cosine_by_hand),
        cmocka_unit_test(test_past_the_end_stays_at_floor),
        cmocka_unit_test(test_total_equals_warmup),
        cmocka_unit_test(test_linear_warmup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
