/* Realistic fp16 loss-scale walks on the default tiny model (ZeRO-2, W = 2, AdamW, 16 sequences per
 * step): docs/spec/precision.md "Loss scaling" and DeepSpeed v0.19.6 DynamicLossScaler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "engine_fixture.h"

/* Runs `steps` steps; fills the scale used, the skip flag and the loss per step. Returns the status
 * of the first failing step (or 0) and leaves its message in err. */
static int walk(const char *fp16_block, int steps, double *scale, int *skipped, zs_error *err)
{
    char extra[512];
    snprintf(extra, sizeof extra, "\"fp16\": %s,", fp16_block);
    test_run_config rc = {.stage = 2, .world = 2, .steps = steps, .train_batch = 16, .micro_batch = 4, .extra = extra};
    zs_case kase;
    make_case(&rc, &kase);
    zs_engine e;
    if (zs_engine_init(&e, &kase, 2, err))
        fail_msg("%s", err->msg);
    int rc_step = 0;
    for (int k = 0; k < steps && !rc_step; k++) {
        zs_step_report rep;
        rc_step = zs_engine_step(&e, &rep, err);
        if (!rc_step) {
            scale[k] = rep.loss_scale;
            skipped[k] = rep.skipped;
        }
    }
    zs_engine_free(&e);
    zs_case_free(&kase);
    return rc_step;
}

/* Seed 000's block: initial_scale_power 32, hysteresis 2, window 1000, min 1. The first overflow only
 * uses up hysteresis (scale kept), every later one halves the scale, until the scaled gradients fit
 * in fp16 and steps are applied. Measured walk: 2^32, 2^32, 2^31, ..., 2^19 skipped (15 steps), then
 * training proceeds at 2^18. */
static void seed000_scale_walks_down_from_2_pow_32(void **state)
{
    (void)state;
    double scale[20];
    int skipped[20];
    zs_error err = {{0}};
    const char *block = "{\"enabled\": true, \"loss_scale\": 0, \"loss_scale_window\": 1000, "
                        "\"initial_scale_power\": 32, \"hysteresis\": 2, \"min_loss_scale\": 1}";
    assert_int_equal(walk(block, 20, scale, skipped, &err), 0);
    assert_true(scale[0] == ldexp(1, 32));
    assert_true(scale[1] == ldexp(1, 32));          /* hysteresis absorbed the first overflow */
    for (int k = 2; k < 15; k++)
        assert_true(scale[k] == ldexp(1, 33 - k));  /* then halving: 2^31 at step 3, ... */
    for (int k = 0; k < 15; k++)
        assert_int_equal(skipped[k], 1);
    assert_true(scale[15] == ldexp(1, 18));
    for (int k = 15; k < 20; k++)
        assert_int_equal(skipped[k], 0);              /* training proceeds */
}

/* A tiny window makes the scale grow again after clean steps (v0.17.1+ timing: growth when
 * cur_iter - last_overflow_iter - 1 is a positive multiple of the window). From 2^10 with window 2 and
 * no overflow: updates at iterations 2, 4, 6, ... double it, so steps 1-3 use 2^10, 4-5 2^11, 6-7 2^12. */
static void tiny_window_grows_the_scale_again(void **state)
{
    (void)state;
    double scale[8];
    int skipped[8];
    zs_error err = {{0}};
    const char *block = "{\"enabled\": true, \"loss_scale_window\": 2, \"initial_scale_power\": 10, \"hysteresis\": 2}";
    assert_int_equal(walk(block, 8, scale, skipped, &err), 0);
    const int expect_pow[8] = {10, 10, 10, 11, 11, 12, 12, 13};
    for (int k = 0; k < 8; k++) {
        assert_true(scale[k] == ldexp(1, expect_pow[k]));
        assert_int_equal(skipped[k], 0);
    }
}

/* Overflow at min_loss_scale: DeepSpeed raises "Current loss scale already at minimum - cannot
 * decrease scale anymore. Exiting run." and training ends; the reference stops the same way. */
static void overflow_at_min_loss_scale_stops_the_run(void **state)
{
    (void)state;
    double scale[10];
    int skipped[10];
    zs_error err = {{0}};
    const char *block = "{\"enabled\": true, \"initial_scale_power\": 32, \"hysteresis\": 1, "
                        "\"min_loss_scale\": 1073741824}";   /* 2^30 */
    assert_int_equal(walk(block, 10, scale, skipped, &err), -1);
    assert_non_null(strstr(err.msg, "step 3"));
    assert_non_null(strstr(err.msg, "Current loss scale already at minimum"));
    assert_true(scale[0] == ldexp(1, 32) && scale[1] == ldexp(1, 31));   /* 2^32 -> 2^31 -> 2^30, then error */
}

/* A static loss scale never changes; overflowing steps are still skipped. */
static void static_scale_never_changes(void **state)
{
    (void)state;
    double scale[4];
    int skipped[4];
    zs_error err = {{0}};
    assert_int_equal(walk("{\"enabled\": true, \"loss_scale\": 4294967296}", 4, scale, skipped, &err), 0);
    for (int k = 0; k < 4; k++) {
        assert_true(scale[k] == ldexp(1, 32));
        assert_int_equal(skipped[k], 1);
    }
    assert_int_equal(walk("{\"enabled\": true, \"loss_scale\": 128}", 4, scale, skipped, &err), 0);
    for (int k = 0; k < 4; k++) {
        assert_true(scale[k] == 128.0);
        assert_int_equal(skipped[k], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed000_scale_walks_down_from_2_pow_32),
        cmocka_unit_test(tiny_window_grows_the_scale_again),
        cmocka_unit_test(overflow_at_min_loss_scale_stops_the_run),
        cmocka_unit_test(static_scale_never_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
