/* fast/onebit_rules.c against docs/spec/optimizers.md §8: the padded size of a compressed buffer, the
 * call schedule of each 1-bit optimizer (initialisation call, warm-up, freeze and the engine's
 * all-reduce switch, ZeroOneAdam's variance and local-step intervals and its one error reset), and
 * OnebitLamb's double-precision coefficients. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "onebit_rules.h"

static zs_optimizer_config hp_default(void)
{
    zs_optimizer_config hp;
    memset(&hp, 0, sizeof hp);
    hp.lr = 0.002;
    hp.freeze_step = 3;
    hp.var_freeze_step = 5;
    hp.var_update_scaler = 2;
    hp.local_step_scaler = 2;
    hp.local_step_clipper = 2;
    hp.weight_decay = 0.01;
    hp.max_coeff = 10.0;
    hp.min_coeff = 0.01;
    hp.coeff_beta = 0.9;
    hp.factor_max = 4.0;
    hp.factor_min = 0.5;
    hp.factor_threshold = 0.1;
    return hp;
}

/* N = n rounded up to W*lcm(W, 8): the fixtures' 296-element model gives 296, 304, 360, 320. */
static void test_padded_size(void **unused)
{
    (void)unused;
    assert_int_equal(zsf_onebit_padded(296, 1), 296);
    assert_int_equal(zsf_onebit_padded(296, 2), 304);
    assert_int_equal(zsf_onebit_padded(296, 3), 360);
    assert_int_equal(zsf_onebit_padded(296, 4), 320);
    assert_int_equal(zsf_onebit_padded(12, 8), 64);
    assert_int_equal(zsf_onebit_padded(0, 3), 0);
    assert_int_equal(zsf_onebit_padded(72, 3), 72);
}

/* OnebitAdam, freeze_step 3: call 1 initialises, calls 2-3 warm up with the all-reduce on, then the
 * all-reduce is off and every call compresses. */
static void test_onebit_adam_schedule(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = hp_default();
    zsf_onebit_sched s;
    zsf_onebit_plan p;
    zsf_onebit_sched_init(&s, ZSF_ONEBIT_ADAM, &hp);
    const zsf_onebit_phase want[] = {ZSF_OB_INIT, ZSF_OB_WARMUP, ZSF_OB_WARMUP, ZSF_OB_COMPRESSED, ZSF_OB_COMPRESSED};
    const int allreduce_after[] = {1, 1, 0, 0, 0};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(s.allreduce, k < 3);
        zsf_onebit_begin(&s, hp.lr, &p);
        assert_int_equal(s.step, k + 1);
        assert_int_equal(p.phase, want[k]);
        assert_false(p.copy_v_fresh || p.first_compressed || p.sync);
        assert_int_equal(zsf_onebit_end(&s, &p), 0);
        assert_int_equal(s.allreduce, allreduce_after[k]);
    }
}

/* freeze_step 1: the initialisation call does not freeze; the first warm-up call does. */
static void test_freeze_step_one(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = hp_default();
    hp.freeze_step = 1;
    zsf_onebit_sched s;
    zsf_onebit_plan p;
    zsf_onebit_sched_init(&s, ZSF_ONEBIT_ADAM, &hp);
    zsf_onebit_begin(&s, hp.lr, &p);
    zsf_onebit_end(&s, &p);
    assert_true(s.allreduce && !s.frozen);
    zsf_onebit_begin(&s, hp.lr, &p);
    assert_int_equal(p.phase, ZSF_OB_WARMUP);
    zsf_onebit_end(&s, &p);
    assert_true(!s.allreduce && s.frozen);
}

/* OnebitLamb: v_fresh copies v at step == freeze_step; the scaling coefficients are fixed once, before
 * the first compressed call. */
static void test_onebit_lamb_schedule(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = hp_default();
    zsf_onebit_sched s;
    zsf_onebit_plan p;
    zsf_onebit_sched_init(&s, ZSF_ONEBIT_LAMB, &hp);
    const int copy[] = {0, 0, 1, 0, 0}, first[] = {0, 0, 0, 1, 0};
    for (int k = 0; k < 5; k++) {
        zsf_onebit_begin(&s, hp.lr, &p);
        assert_int_equal(p.copy_v_fresh, copy[k]);
        assert_int_equal(p.first_compressed, first[k]);
        assert_int_equal(p.phase, k == 0 ? ZSF_OB_INIT : k < 3 ? ZSF_OB_WARMUP : ZSF_OB_COMPRESSED);
        zsf_onebit_end(&s, &p);
    }
}

/* ZeroOneAdam, var_freeze_step 5, scalers 2, clipper 2 (the opt_zero_one_adam case), calls 1..10:
 * variance steps at calls 2, 3, 4, 6 (the interval doubles after two), compressed gradients at call 5,
 * phase 2 from call 7 with the errors zeroed once (after call 6), synchronised at 7, 8, then every 2. */
static void test_zero_one_adam_schedule(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = hp_default();
    zsf_onebit_sched s;
    zsf_onebit_plan p;
    zsf_onebit_sched_init(&s, ZSF_ZERO_ONE_ADAM, &hp);
    const zsf_onebit_phase want[] = {ZSF_OB_INIT,   ZSF_OB_WARMUP, ZSF_OB_WARMUP, ZSF_OB_WARMUP, ZSF_OB_COMPRESSED,
                                     ZSF_OB_WARMUP, ZSF_OB_LOCAL,  ZSF_OB_LOCAL,  ZSF_OB_LOCAL,  ZSF_OB_LOCAL};
    const int allreduce_after[] = {1, 1, 1, 0, 1, 0, 0, 0, 0, 0}, sync[] = {0, 0, 0, 0, 0, 0, 1, 1, 0, 1};
    const int reset[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    const double lrs[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2};   /* the plan's lrs, in units of lr */
    for (int k = 0; k < 10; k++) {
        zsf_onebit_begin(&s, hp.lr, &p);
        assert_int_equal(p.phase, want[k]);
        assert_int_equal(p.sync, sync[k]);
        assert_true(fabs(p.lrs - lrs[k] * hp.lr) < 1e-15);
        assert_int_equal(zsf_onebit_end(&s, &p), reset[k]);
        assert_int_equal(s.allreduce, allreduce_after[k]);
        if (p.sync)
            assert_true(s.lrs == 0.0);
    }
    assert_int_equal(s.var_interval, 4);
    assert_int_equal(s.local_interval, 2);   /* clipped at local_step_clipper */
    assert_int_equal(s.lrs, 0.0);
}

static void test_lamb_coefficients(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = hp_default();
    /* trust ratio: clamped, 1 when a norm is zero; the frozen coefficient moves only when it is not 1 */
    assert_true(zsf_onebit_lamb_coeff(2.0f, 4.0f, &hp) == (double)0.5f);
    assert_true(zsf_onebit_lamb_coeff(100.0f, 1.0f, &hp) == 10.0);
    assert_true(zsf_onebit_lamb_coeff(1.0f, 1000.0f, &hp) == 0.01);
    assert_true(zsf_onebit_lamb_coeff(0.0f, 1.0f, &hp) == 1.0 && zsf_onebit_lamb_coeff(1.0f, 0.0f, &hp) == 1.0);
    assert_true(zsf_onebit_lamb_freeze(0.0, 1.0, &hp) == 0.0);
    assert_true(zsf_onebit_lamb_freeze(0.0, 0.5, &hp) == 0.9 * 0.0 + (1.0 - 0.9) * 0.5);
    /* factor: weight decay mixes it towards 1 by min(1, |u0|/|u|), then [min, max], then last +- 10% */
    assert_true(zsf_onebit_lamb_factor(1.05f, 1.0f, 1.0f, 1.0, &hp) == (double)1.05f);
    assert_true(zsf_onebit_lamb_factor(3.0f, 1.0f, 1.0f, 1.0, &hp) == 1.0 * (1.0 + 0.1));
    assert_true(zsf_onebit_lamb_factor(0.1f, 1.0f, 1.0f, 1.0, &hp) == 1.0 * (1.0 - 0.1));
    assert_true(zsf_onebit_lamb_factor(0.1f, 1.0f, 1.0f, 0.5, &hp) == 0.5);   /* factor_min, inside the band */
    const double r = (double)(1.0f / 2.0f), mixed = (double)1.1f * r + (1.0 - r);
    assert_true(zsf_onebit_lamb_factor(1.1f, 1.0f, 2.0f, 1.0, &hp) == mixed);
    assert_true(zsf_onebit_lamb_factor(1.05f, 3.0f, 2.0f, 1.0, &hp) == (double)1.05f);   /* ratio capped at 1 */
    hp.weight_decay = 0.0;
    assert_true(zsf_onebit_lamb_factor(1.05f, 1.0f, 2.0f, 1.0, &hp) == (double)1.05f);
    assert_true(isnan(zsf_onebit_lamb_factor(NAN, 1.0f, 1.0f, 1.0, &hp)));   /* NaN passes the clamps (torch.max) */
}

static void test_lamb_scaling(void **unused)
{
    (void)unused;
    const double scale[3] = {1.0, 2.0, 4.0};
    double coeff[3];
    int bad = -1;
    assert_int_equal(zsf_onebit_lamb_scaling(scale, 3, coeff, &bad), 0);
    const double mean = (1.0 + 2.0 + 4.0) / 3;
    assert_true(coeff[0] == mean / 1.0 && coeff[1] == mean / 2.0 && coeff[2] == mean / 4.0);
    const double zero[2] = {1.0, 0.0};
    assert_int_equal(zsf_onebit_lamb_scaling(zero, 2, coeff, &bad), -1);
    assert_int_equal(bad, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padded_size),
        cmocka_unit_test(test_onebit_adam_schedule),
        cmocka_unit_test(test_freeze_step_one),
        cmocka_unit_test(test_onebit_lamb_schedule),
        cmocka_unit_test(test_zero_one_adam_schedule),
        cmocka_unit_test(test_lamb_coefficients),
        cmocka_unit_test(test_lamb_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
