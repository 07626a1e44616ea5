/* The 1-bit family in the engine (docs/spec/optimizers.md §8): the hidden initialisation call, the
 * all-reduce switch, what must not vary with W (warm-up) and what does (everything once compressed).
 * Model: the default tiny GPT-2 of engine_fixture.h; WarmupLR (3 steps), clipping 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "clip.h"
#include "onebit/onebit.h"
#include "onebit_fixture.h"

/* Call 1 is DeepSpeed's initialisation call (fp32: the first training step): counted in step,
 * no change to parameters or moments. Type names match case-insensitively ("OnebitAdam"). */
static void test_initialisation_call(void **s)
{
    (void)s;
    test_run_config rc = {.world = 2, .steps = 1, .train_batch = 8, .micro_batch = 2,
                          .optimizer = "{\"type\": \"OnebitAdam\", \"params\": {\"lr\": 0.003}}"};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    float *init = malloc(e.model.numel * sizeof(float));
    memcpy(init, e.ranks[1].master, e.model.numel * sizeof(float));
    step(&e);
    assert_int_equal(e.onebit->step, 1);
    assert_true(same(init, e.ranks[1].master, e.model.numel));
    for (size_t i = 0; i < e.model.numel; i++)
        assert_true(e.ranks[0].state[0][i] == 0.0f && e.ranks[1].state[1][i] == 0.0f);
    free(init);
    finish(&e, &kase);
}

/* W = 1 before the freeze is Adam without bias correction in torch's operation order, bit for bit:
 * m = m*fl32(b1) + fl32(1-b1)*g, v = v*fl32(b2) + fl32(1-b2)*(g*g), p += fl32(-lr)*(m/(sqrt(v)+eps) + wd*p). */
static void test_warmup_is_plain_adam_at_w1(void **s)
{
    (void)s;
    test_run_config rc = {.world = 1, .steps = 5, .train_batch = 8, .micro_batch = 2, .optimizer = ONEBIT_ADAM(100)};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    size_t n = e.model.numel;
    float *p = malloc(n * sizeof(float)), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    memcpy(p, e.ranks[0].master, n * sizeof(float));
    for (int k = 1; k <= rc.steps; k++) {
        zs_step_report rep;
        zs_error err = {{0}};
        assert_int_equal(zs_engine_step(&e, &rep, &err), 0);
        if (k == 1)
            continue;   /* the initialisation call */
        const float *g = e.ranks[0].grad_part;
        float inv = zs_clip_inverse_scale(zs_clip_scaled_norm(&e.comm, &g, n, 1), 1.0f, 1.0);
        hand_adam_step(p, m, v, g, inv, rep.lr, n);
        assert_true(same(p, e.ranks[0].master, n));
        assert_true(same(m, e.ranks[0].state[0], n) && same(v, e.ranks[0].state[1], n));
    }
    free(p);
    free(m);
    free(v);
    finish(&e, &kase);
}

/* During warm-up nothing is compressed, so the trajectory does not depend on W beyond the
 * association of the gradient sums: conf_invariance's bound (rtol 1e-6, atol 4e-6) holds for every
 * element except Adam-like sign steps of noise-level gradients (docs/conformance.md), at most 1%. */
static void test_warmup_invariant_across_world(void **s)
{
    (void)s;
    size_t numel;
    test_run_config rc = {.world = 1, .steps = 5, .train_batch = 24, .micro_batch = 1, .optimizer = ONEBIT_ADAM(100)};
    float *ref = run_engine(&rc, NULL, &numel);
    for (int w = 2; w <= 4; w++) {
        rc.world = w;
        float *got = run_engine(&rc, NULL, &numel);
        size_t off = 0;
        for (size_t i = 0; i < numel; i++)
            off += fabs((double)got[i] - ref[i]) > 4e-6 + 1e-6 * fabs((double)ref[i]);
        print_message("W=%d: %zu of %zu elements outside the invariance bound\n", w, off, numel);
        assert_true(off * 100 <= numel);
        free(got);
    }
    free(ref);
}

/* After freeze_step the engine stops all-reducing: rank gradients are local (they differ), the
 * momentum is the compressed all-reduce (identical on every rank), the error buffers are per rank. */
static void test_compression_switches_allreduce_off(void **s)
{
    (void)s;
    test_run_config rc = {.world = 2, .steps = 5, .train_batch = 8, .micro_batch = 2, .optimizer = ONEBIT_ADAM(3)};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    size_t n = e.model.numel;
    for (int k = 1; k <= rc.steps; k++) {
        step(&e);
        int frozen_before = k > 3;
        assert_int_equal(zs_onebit_allreduce_enabled(e.onebit), k < 3);
        assert_int_equal(!same(e.ranks[0].grad_part, e.ranks[1].grad_part, n), frozen_before);
        assert_true(same(e.ranks[0].master, e.ranks[1].master, n));
        assert_true(same(e.ranks[0].state[0], e.ranks[1].state[0], n));
        assert_int_equal(!same(e.onebit->worker[0], e.onebit->worker[1], e.onebit->worker_len), frozen_before);
    }
    finish(&e, &kase);
}

/* ZeroOneAdam: the variance interval doubles every var_update_scaler var steps and the engine
 * all-reduces exactly the next var step's gradient; after var_freeze_step the ranks take local
 * steps and their parameters differ until the next synchronisation. */
static void test_zero_one_adam_intervals(void **s)
{
    (void)s;
    test_run_config rc = {.world = 2, .steps = 11, .train_batch = 8, .micro_batch = 2,
                          .optimizer = "{\"type\": \"ZeroOneAdam\", \"params\": {\"lr\": 0.003, \"var_freeze_step\": 8,"
                                       " \"var_update_scaler\": 2, \"local_step_scaler\": 1, \"local_step_clipper\": 2}}"};
    /* steps 1..11: init; var steps 2, 3 (interval -> 2), 4, 6 (interval -> 4), 8; frozen after 9;
     * step 10 synchronises (interval 1, then 2 since local_step_scaler is 1), step 11 is local */
    const int allreduce_after[11] = {1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    size_t n = e.model.numel;
    for (int k = 1; k <= rc.steps; k++) {
        step(&e);
        assert_int_equal(zs_onebit_allreduce_enabled(e.onebit), allreduce_after[k - 1]);
        if (k == 10) {
            assert_int_equal(e.onebit->local_interval, 2);
            assert_true(e.onebit->lrs == 0.0);
        } else if (k == 11) {
            assert_false(same(e.ranks[0].master, e.ranks[1].master, n));
            assert_true(e.onebit->lrs > 0.0);
        } else if (k < 9) {
            assert_true(same(e.ranks[0].master, e.ranks[1].master, n));
        }
    }
    finish(&e, &kase);
}

/* OneBitLamb (W = 5: 29088 elements pad to 29200): the scaling coefficients are fixed at the first
 * compressed step (the scales' mean over each scale); the flat momentum's padding tail carries
 * compressed values afterwards. */
static void test_onebit_lamb_flat_momentum(void **s)
{
    (void)s;
    test_run_config rc = {.world = 5, .steps = 5, .train_batch = 10, .micro_batch = 1,
                          .optimizer = "{\"type\": \"OneBitLamb\", \"params\": {\"lr\": 0.003, \"freeze_step\": 3}}"};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    for (int k = 1; k <= 3; k++)
        step(&e);
    assert_false(e.onebit->has_scaling);
    /* wte moved (trust ratio != 1); zero-initialised biases have |p| = 0, so coeff 1 and no update */
    assert_true(e.onebit->coeff_freeze[0] > 0.0);
    step(&e);
    assert_true(e.onebit->has_scaling);
    size_t tail = e.onebit->worker_len - e.model.numel;
    assert_true(tail > 0 && e.onebit->pad[0][0] != 0.0f && e.onebit->pad[0][0] == e.onebit->pad[4][0]);
    double inv_sum = 0.0;   /* sum of 1/coeff = sum of scale/united = n_tensors */
    for (int t = 0; t < e.onebit->n_tensors; t++)
        inv_sum += 1.0 / e.onebit->scaling_coeff[t];
    assert_true(fabs(inv_sum - e.onebit->n_tensors) < 1e-9);
    finish(&e, &kase);
}

/* Not allowed: ZeRO (DeepSpeed asserts). fp16/bf16 are modelled (conf_onebit_fp16.c). */
static void test_rejections(void **s)
{
    (void)s;
    zs_case kase;
    zs_error err = {{0}};
    const char *zero1 = "{\"name\": \"t\", \"seed\": 1, \"steps\": 1, \"world_sizes\": [2], \"ds_config\": {"
                        "\"train_batch_size\": 8, \"optimizer\": {\"type\": \"ZeroOneAdam\"},"
                        "\"zero_optimization\": {\"stage\": 1}}}";
    assert_int_equal(zs_case_parse(zero1, "<test>", ".", &kase, &err), -1);
    assert_non_null(strstr(err.msg, "zero_optimization.stage"));
    assert_non_null(strstr(err.msg, "not compatible with ZeRO"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initialisation_call),
        cmocka_unit_test(test_warmup_is_plain_adam_at_w1),
        cmocka_unit_test(test_warmup_invariant_across_world),
        cmocka_unit_test(test_compression_switches_allreduce_off),
        cmocka_unit_test(test_zero_one_adam_intervals),
        cmocka_unit_test(test_onebit_lamb_flat_momentum),
        cmocka_unit_test(test_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
