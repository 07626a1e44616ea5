/* The loss-scaler state machine, one test per transition of DeepSpeed v0.19.6
 * DynamicLossScaler.update_scale (docs/spec/precision.md §5), plus the worked sequences. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "loss_scaler.h"

#define MIN_SCALE_MESSAGE "Current loss scale already at minimum - cannot decrease scale anymore. Exiting run."

/* A ZeRO-2 fp16 config with DeepSpeed's fp16 defaults (precision_config.py DeepSpeedFP16Config). */
static zs_ds_config fp16_config(int initial_scale_power, int64_t window, int hysteresis, double min_scale)
{
    zs_ds_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.precision = ZS_PREC_FP16;
    cfg.fp16.enabled = 1;
    cfg.fp16.loss_scale = 0;
    cfg.fp16.initial_scale_power = initial_scale_power;
    cfg.fp16.loss_scale_window = window;
    cfg.fp16.hysteresis = hysteresis;
    cfg.fp16.min_loss_scale = min_scale;
    cfg.zero.stage = 2;
    return cfg;
}

static zs_loss_scaler make_scaler(const zs_ds_config *cfg)
{
    zs_loss_scaler s;
    zs_error err = {{0}};
    if (zs_loss_scaler_init(&s, cfg, &err))
        fail_msg("init failed: %s", err.msg);
    return s;
}

/* Feeds overflow flags ('T'/'F'); records the scale each step used (the scale before its update). */
static void run_flags(zs_loss_scaler *s, const char *flags, double *used)
{
    for (size_t i = 0; flags[i]; i++) {
        zs_error err = {{0}};
        used[i] = zs_loss_scaler_scale(s);
        if (zs_loss_scaler_update(s, flags[i] == 'T', &err))
            fail_msg("update %zu failed: %s", i, err.msg);
    }
}

static void assert_scales(const char *what, const double *used, const double *want, int n)
{
    for (int i = 0; i < n; i++)
        if (used[i] != want[i])
            fail_msg("%s: step %d used %g, want %g", what, i, used[i], want[i]);
}

/* Runs the flags from a fresh scaler and checks the scale each step used; returns the final state. */
static zs_loss_scaler expect_scales(const zs_ds_config *cfg, const char *flags, const double *want)
{
    zs_loss_scaler s = make_scaler(cfg);
    double used[64];
    assert_true(strlen(flags) <= 64);
    run_flags(&s, flags, used);
    assert_scales(flags, used, want, (int)strlen(flags));
    return s;
}

static void assert_update_ok(zs_loss_scaler *s, int overflow)
{
    zs_error err = {{0}};
    if (zs_loss_scaler_update(s, overflow, &err))
        fail_msg("update failed: %s", err.msg);
}

static void test_init_dynamic_from_config(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(16, 1000, 2, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    assert_int_equal(s.dynamic, 1);
    assert_true(s.cur_scale == 65536.0);
    assert_true(zs_loss_scaler_scale(&s) == 65536.0);
    assert_true(s.min_scale == 1.0);
    assert_true(s.scale_factor == 2.0);
    assert_int_equal(s.scale_window, 1000);
    assert_int_equal(s.delayed_shift, 2);
    assert_int_equal(s.cur_hysteresis, 2);
    assert_int_equal(s.consecutive_hysteresis, 0);
    assert_int_equal(s.raise_error_at_min_scale, 1);
    assert_int_equal(s.cur_iter, 0);
    assert_int_equal(s.last_overflow_iter, -1);
}

static void test_init_rejects_unusable_dynamic_config(void **state)
{
    (void)state;
    struct {
        zs_ds_config cfg;
        const char *key;
    } cases[5];
    cases[0].cfg = fp16_config(16, 0, 2, 1);
    cases[0].key = "fp16.loss_scale_window must be > 0";
    cases[1].cfg = fp16_config(16, 1000, 2, 0);
    cases[1].key = "fp16.min_loss_scale must be > 0";
    cases[2].cfg = fp16_config(128, 1000, 2, 1);
    cases[2].key = "fp16.initial_scale_power = 128";
    cases[3].cfg = fp16_config(16, 1000, 2, 1);
    cases[3].cfg.fp16.loss_scale = -1;
    cases[3].key = "fp16.loss_scale must be >= 0";
    cases[4].cfg = fp16_config(16, 1000, 2, 1);
    cases[4].cfg.fp16.loss_scale = INFINITY;
    cases[4].key = "fp16.loss_scale must be a finite number";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zs_loss_scaler s;
        zs_error err = {{0}};
        assert_int_equal(zs_loss_scaler_init(&s, &cases[i].cfg, &err), -1);
        if (!strstr(err.msg, cases[i].key))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].key);
    }
    /* A static scale does not need a window (DeepSpeed validates the window only when dynamic). */
    zs_ds_config cfg = fp16_config(16, 0, 2, 0);
    cfg.fp16.loss_scale = 4;
    zs_loss_scaler s = make_scaler(&cfg);
    assert_true(s.cur_scale == 4.0);
}

static void test_static_scale_never_changes(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(16, 2, 2, 1);
    cfg.fp16.loss_scale = 128;
    zs_loss_scaler s = make_scaler(&cfg);
    assert_int_equal(s.dynamic, 0);
    double used[12];
    run_flags(&s, "TTTTFFFFFTFT", used);
    for (int i = 0; i < 12; i++)
        assert_true(used[i] == 128.0);
    assert_true(zs_loss_scaler_scale(&s) == 128.0);
}

static void test_bf16_and_fp32_use_static_scale_one(void **state)
{
    (void)state;
    zs_precision modes[2] = {ZS_PREC_BF16, ZS_PREC_FP32};
    for (int m = 0; m < 2; m++) {
        zs_ds_config cfg = fp16_config(16, 1000, 2, 1);   /* fp16 block present but not the mode */
        cfg.precision = modes[m];
        cfg.fp16.enabled = 0;
        zs_loss_scaler s = make_scaler(&cfg);
        assert_int_equal(s.dynamic, 0);
        double used[5];
        run_flags(&s, "TTFTT", used);
        for (int i = 0; i < 5; i++)
            assert_true(used[i] == 1.0);
    }
}

static void test_overflow_with_hysteresis_left_keeps_scale(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(10, 1000, 3, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);
    assert_true(s.cur_scale == 1024.0);
    assert_int_equal(s.cur_hysteresis, 2);
    assert_int_equal(s.last_overflow_iter, 0);
    assert_update_ok(&s, 1);
    assert_true(s.cur_scale == 1024.0);
    assert_int_equal(s.cur_hysteresis, 1);
    assert_int_equal(s.last_overflow_iter, 1);
    assert_update_ok(&s, 1);   /* hysteresis used up: now it halves */
    assert_true(s.cur_scale == 512.0);
    assert_int_equal(s.cur_hysteresis, 1);
    assert_int_equal(s.last_overflow_iter, 2);
    assert_int_equal(s.cur_iter, 3);
}

static void test_overflow_with_hysteresis_one_halves(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(10, 1000, 1, 1);
    const double want[] = {1024, 512, 256, 128};
    zs_loss_scaler s = expect_scales(&cfg, "TTTT", want);
    assert_true(s.cur_scale == 64.0);
}

static void test_halving_clamps_at_min_scale(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(4, 1000, 1, 3);   /* 16 -> 8 -> 4 -> max(2, 3) = 3 */
    const double want[] = {16, 8, 4};
    zs_loss_scaler s = expect_scales(&cfg, "TTT", want);
    assert_true(s.cur_scale == 3.0);
}

static void test_overflow_at_min_scale_raises(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(1, 1000, 1, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);   /* 2 -> 1 */
    assert_true(s.cur_scale == 1.0);
    zs_error err = {{0}};
    assert_int_equal(zs_loss_scaler_update(&s, 1, &err), -1);
    assert_string_equal(err.msg, MIN_SCALE_MESSAGE);
    /* DeepSpeed raises before touching its state. */
    assert_true(s.cur_scale == 1.0);
    assert_int_equal(s.cur_iter, 1);
    assert_int_equal(s.last_overflow_iter, 0);
    assert_int_equal(s.cur_hysteresis, 1);
    /* A clean step at the minimum is fine. */
    assert_update_ok(&s, 0);
    assert_true(s.cur_scale == 1.0);
}

static void test_overflow_at_min_scale_with_hysteresis_left_is_absorbed(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(0, 1000, 2, 1);   /* starts at the minimum, hysteresis 2 */
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);
    assert_true(s.cur_scale == 1.0);
    assert_int_equal(s.cur_hysteresis, 1);
    zs_error err = {{0}};
    assert_int_equal(zs_loss_scaler_update(&s, 1, &err), -1);
    assert_string_equal(err.msg, MIN_SCALE_MESSAGE);
}

static void test_growth_on_the_window_plus_first_clean_update(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(3, 3, 2, 1);
    /* From the start (last_overflow_iter = -1): clean updates 0, 1, 2 keep 8; update 3 (the 4th
     * clean one) doubles; then every 3 updates. */
    const double from_start[] = {8, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64};
    expect_scales(&cfg, "FFFFFFFFFFF", from_start);
    /* After an overflow at update o, the first growth is at update o + window + 1: the overflow at
     * 0 is absorbed, growth on update 4. */
    const double after_overflow[] = {8, 8, 8, 8, 8, 16, 16, 16, 32};
    expect_scales(&cfg, "TFFFFFFFF", after_overflow);
}

static void test_growth_refills_hysteresis(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(3, 2, 2, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);                 /* absorbed: hysteresis 1 */
    assert_int_equal(s.cur_hysteresis, 1);
    for (int i = 0; i < 3; i++)
        assert_update_ok(&s, 0);             /* the 3rd clean update grows */
    assert_true(s.cur_scale == 16.0);
    assert_int_equal(s.cur_hysteresis, 2);   /* refilled by the growth */
    assert_update_ok(&s, 1);                 /* so this overflow is absorbed again */
    assert_true(s.cur_scale == 16.0);
    assert_int_equal(s.cur_hysteresis, 1);
}

static void test_hysteresis_not_refilled_without_growth(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(3, 1000, 2, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    double used[4];
    run_flags(&s, "TFFT", used);             /* the second overflow, 2 clean steps later, halves */
    assert_true(used[3] == 8.0);
    assert_true(s.cur_scale == 4.0);
}

static void test_consecutive_hysteresis_refills_on_every_clean_update(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(3, 1000, 2, 1);
    cfg.fp16.consecutive_hysteresis = 1;
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);
    assert_int_equal(s.cur_hysteresis, 1);
    assert_update_ok(&s, 0);
    assert_int_equal(s.cur_hysteresis, 2);
    assert_update_ok(&s, 1);                 /* absorbed again */
    assert_true(s.cur_scale == 8.0);
    assert_update_ok(&s, 1);                 /* two overflows in a row: halves */
    assert_true(s.cur_scale == 4.0);
}

/* The research note's example (deepspeed-semantics.md §5.2): init 8, window 2, hysteresis 2. */
static void test_worked_example_v0_19(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(3, 2, 2, 1);
    const double want[] = {8, 8, 8, 8, 4, 4, 4};
    zs_loss_scaler s = expect_scales(&cfg, "FFTTFFF", want);
    assert_true(s.cur_scale == 8.0);
    assert_int_equal(s.cur_hysteresis, 2);
}

/* Seed 000's fp16 block (initial_scale_power 32, window 1000, hysteresis 2, min 1) when every step
 * overflows: the first overflow is absorbed, then every step halves, 2^32 down to 1, and the
 * overflow at scale 1 ends the run (step 33); the run cannot continue past it. */
static void test_seed000_all_overflow_walk(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(32, 1000, 2, 1);
    zs_loss_scaler s = make_scaler(&cfg);
    for (int step = 0; step < 40; step++) {
        double want = step == 0 ? 4294967296.0 : (double)(UINT64_C(1) << (step <= 33 ? 33 - step : 0));
        if (zs_loss_scaler_scale(&s) != want)
            fail_msg("step %d: scale %g, want %g", step, zs_loss_scaler_scale(&s), want);
        zs_error err = {{0}};
        int rc = zs_loss_scaler_update(&s, 1, &err);
        if (step < 33) {
            if (rc)
                fail_msg("step %d: unexpected error %s", step, err.msg);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, MIN_SCALE_MESSAGE);
        }
    }
    assert_int_equal(s.cur_iter, 33);
}

/* The same block with window 2: after three overflows (2^32 absorbed, 2^31, 2^30 left) clean steps
 * grow the scale on the 3rd clean update and then every 2nd. */
static void test_tiny_window_grows_again(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(32, 2, 2, 1);
    const double p = 1073741824.0;   /* 2^30 */
    const double want[] = {4 * p, 4 * p, 2 * p, p, p, p, 2 * p, 2 * p, 4 * p, 4 * p, 8 * p};
    zs_loss_scaler s = expect_scales(&cfg, "TTTFFFFFFFT", want);
    /* The growths refilled the hysteresis, so the final overflow (update 10) is absorbed. */
    assert_true(s.cur_scale == 8 * p);
    assert_int_equal(s.cur_hysteresis, 1);
}

static void test_min_loss_scale_reached_then_grows(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(2, 1, 1, 1);
    const double want[] = {4, 2, 1, 1, 2, 4};   /* 4 -> 2 -> 1; clean at 2 (interval 0), grows at 3, 4, 5 */
    zs_loss_scaler s = expect_scales(&cfg, "TTFFFF", want);
    assert_true(s.cur_scale == 8.0);
}

/* Stage 0 fp16 is FP16_Optimizer._update_scale: no hysteresis and no error at the minimum. */
static void test_stage0_halves_at_once_and_never_raises(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(2, 2, 2, 1);
    cfg.zero.stage = 0;
    const double want[] = {4, 2, 1, 1, 1, 1, 1, 2};   /* growth on the 3rd clean update */
    expect_scales(&cfg, "TTTTFFFF", want);
}

/* DeepSpeed quirks kept on purpose (the config parser refuses hysteresis < 1, but the machine
 * itself follows update_scale): hysteresis 0 never reaches 1, so the scale never drops... */
static void test_hysteresis_zero_never_lowers_the_scale(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(4, 1000, 0, 1);
    const double want[] = {16, 16, 16};
    zs_loss_scaler s = expect_scales(&cfg, "TTT", want);
    assert_true(s.cur_scale == 16.0);
    assert_int_equal(s.cur_hysteresis, -3);
}

/* ...and an initial scale below min_loss_scale jumps up to the minimum on the first halving. */
static void test_initial_scale_below_min_rises_to_min(void **state)
{
    (void)state;
    zs_ds_config cfg = fp16_config(0, 1000, 1, 4);
    zs_loss_scaler s = make_scaler(&cfg);
    assert_update_ok(&s, 1);
    assert_true(s.cur_scale == 4.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_dynamic_from_config),
        cmocka_unit_test(test_init_rejects_unusable_dynamic_config),
        cmocka_unit_test(test_static_scale_never_changes),
        cmocka_unit_test(test_bf16_and_fp32_use_static_scale_one),
        cmocka_unit_test(test_overflow_with_hysteresis_left_keeps_scale),
        cmocka_unit_test(test_overflow_with_hysteresis_one_halves),
        cmocka_unit_test(test_halving_clamps_at_min_scale),
        cmocka_unit_test(test_overflow_at_min_scale_raises),
        cmocka_unit_test(test_overflow_at_min_scale_with_hysteresis_left_is_absorbed),
        cmocka_unit_test(test_growth_on_the_window_plus_first_clean_update),
        cmocka_unit_test(test_growth_refills_hysteresis),
        cmocka_unit_test(test_hysteresis_not_refilled_without_growth),
        cmocka_unit_test(test_consecutive_hysteresis_refills_on_every_clean_update),
        cmocka_unit_test(test_worked_example_v0_19),
        cmocka_unit_test(test_seed000_all_overflow_walk),
        cmocka_unit_test(test_tiny_window_grows_again),
        cmocka_unit_test(test_min_loss_scale_reached_then_grows),
        cmocka_unit_test(test_stage0_halves_at_once_and_never_raises),
        cmocka_unit_test(test_hysteresis_zero_never_lowers_the_scale),
        cmocka_unit_test(test_initial_scale_below_min_rises_to_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
