/* fast/loss_scaler.c against docs/spec/precision.md §5: the worked sequences, hysteresis, consecutive
 * hysteresis, the minimum (error at ZeRO stages, clamp at stage 0), static and bf16 scales. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loss_scaler.h"

static zs_ds_config fp16(int power, int64_t window, int hysteresis, double min_scale)
{
    zs_ds_config c;
    memset(&c, 0, sizeof c);
    c.precision = ZS_PREC_FP16;
    c.fp16.enabled = 1;
    c.fp16.initial_scale_power = power;
    c.fp16.loss_scale_window = window;
    c.fp16.hysteresis = hysteresis;
    c.fp16.min_loss_scale = min_scale;
    return c;
}

/* Runs the flags through the scaler; scales[k] = the scale step k used (before its update). */
static int walk(zsf_loss_scaler *s, const char *flags, double *scales)
{
    zs_error err = {{0}};
    for (int k = 0; flags[k]; k++) {
        scales[k] = s->scale;
        if (zsf_loss_scaler_update(s, flags[k] == 'T', &err))
            return k;
    }
    return -1;
}

static void test_worked_sequence_init8(void **state)
{
    (void)state;
    zs_ds_config c = fp16(3, 2, 2, 1.0);
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 2);
    double got[8];
    assert_int_equal(walk(&s, "FFTTFFF", got), -1);
    const double want[] = {8, 8, 8, 8, 4, 4, 4};
    for (int k = 0; k < 7; k++)
        assert_true(got[k] == want[k]);
    assert_true(s.scale == 8.0);
}

static void test_growths_refill_hysteresis(void **state)
{
    (void)state;
    zs_ds_config c = fp16(32, 2, 2, 1.0);
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 2);
    double got[12];
    assert_int_equal(walk(&s, "TTTFFFFFFFT", got), -1);
    const double want[] = {32, 32, 31, 30, 30, 30, 31, 31, 32, 32, 33};
    for (int k = 0; k < 11; k++)
        assert_true(got[k] == ldexp(1.0, (int)want[k]));
    assert_true(s.scale == ldexp(1.0, 33));   /* the last overflow was absorbed */
}

static void test_seed000_walk_reaches_the_minimum(void **state)
{
    (void)state;
    zs_ds_config c = fp16(32, 1000, 2, 1.0);
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 2);
    zs_error err = {{0}};
    for (int k = 0; k < 33; k++) {
        assert_true(s.scale == (k == 0 ? ldexp(1.0, 32) : ldexp(1.0, 33 - k)));
        assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), 0);
    }
    assert_true(s.scale == 1.0);
    int64_t iter = s.cur_iter;
    assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), -1);
    assert_string_equal(err.msg, "Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.");
    assert_true(s.scale == 1.0 && s.cur_iter == iter);   /* nothing changed */
    assert_int_equal(zsf_loss_scaler_update(&s, 0, &err), 0);   /* a clean step at the minimum is fine */
}

static void test_min_clamp_and_stage0(void **state)
{
    (void)state;
    zs_ds_config c = fp16(4, 1000, 1, 3.0);   /* 16 -> 8 -> 4 -> 3 -> error */
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 1);
    zs_error err = {{0}};
    const double want[] = {8, 4, 3};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), 0);
        assert_true(s.scale == want[k]);
    }
    assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), -1);
    c.fp16.hysteresis = 4;   /* stage 0: FP16_Optimizer, no hysteresis, stays at the minimum */
    zsf_loss_scaler_init(&s, &c, 0);
    for (int k = 0; k < 6; k++)
        assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), 0);
    assert_true(s.scale == 3.0);
}

static void test_consecutive_hysteresis(void **state)
{
    (void)state;
    zs_ds_config c = fp16(10, 1000, 2, 1.0);
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 2);
    double got[8];
    walk(&s, "TFT", got);   /* without: the clean step does not refill, the second overflow halves */
    assert_true(s.scale == 512.0);
    c.fp16.consecutive_hysteresis = 1;
    zsf_loss_scaler_init(&s, &c, 2);
    walk(&s, "TFT", got);
    assert_true(s.scale == 1024.0);
}

static void test_static_and_other_precisions(void **state)
{
    (void)state;
    zs_ds_config c = fp16(10, 2, 2, 1.0);
    c.fp16.loss_scale = 1024.0;
    zsf_loss_scaler s;
    zsf_loss_scaler_init(&s, &c, 2);
    zs_error err = {{0}};
    assert_int_equal(zsf_loss_scaler_update(&s, 1, &err), 0);
    assert_int_equal(zsf_loss_scaler_update(&s, 0, &err), 0);
    assert_true(s.scale == 1024.0 && !s.dynamic);
    c.precision = ZS_PREC_BF16;
    zsf_loss_scaler_init(&s, &c, 1);
    assert_true(s.scale == 1.0 && !s.dynamic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_sequence_init8),
        cmocka_unit_test(test_growths_refill_hysteresis),
        cmocka_unit_test(test_seed000_walk_reaches_the_minimum),
        cmocka_unit_test(test_min_clamp_and_stage0),
        cmocka_unit_test(test_consecutive_hysteresis),
        cmocka_unit_test(test_static_and_other_precisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
