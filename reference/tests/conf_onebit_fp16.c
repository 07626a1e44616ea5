/* The 1-bit family with an fp16/bf16 model (docs/spec/optimizers.md §8.6): DeepSpeed wraps
 * OnebitAdam/ZeroOneAdam in FP16_Optimizer (one flat fp32 master, so one compressed tensor) and
 * OnebitLamb in FP16_UnfusedOptimizer (per-tensor masters); either wrapper's constructor runs the
 * initialisation call, so training step k is the optimizer's call k + 1, and an overflow step never
 * reaches the optimizer. Model: the default tiny GPT-2 of engine_fixture.h; WarmupLR, clipping 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "clip.h"
#include "onebit/compressed_allreduce.h"
#include "onebit/onebit.h"
#include "onebit_fixture.h"
#include "precision.h"

#define FP16_STATIC "\"fp16\": {\"enabled\": true, \"loss_scale\": 256},"
#define FP16_DYNAMIC(power) "\"fp16\": {\"enabled\": true, \"initial_scale_power\": " #power "},"

static int all_zero(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0f)
            return 0;
    return 1;
}

/* The wrapper's constructor made call 1: step 1 before any training, nothing moved; the Adam pair
 * sees one flat tensor (one error region of padded(numel)), Lamb keeps the model's tensors. The
 * first training step then trains. bf16 takes the same path (DDP_BFLOAT16 -> _configure_fp16_optimizer). */
static void test_initialisation_call_at_construction(void **s)
{
    (void)s;
    const char *precisions[] = {FP16_STATIC, "\"bf16\": {\"enabled\": true},"};
    for (int pi = 0; pi < 2; pi++) {
        test_run_config rc = {.world = 3, .steps = 1, .train_batch = 6, .micro_batch = 1, .extra = precisions[pi],
                              .optimizer = ONEBIT_ADAM(100)};
        zs_engine e;
        zs_case kase;
        start(&e, &kase, &rc);
        size_t n = e.model.numel;
        assert_int_equal(e.onebit->step, 1);
        assert_true(e.onebit->initialized && !e.onebit->frozen && e.onebit->allreduce);
        assert_int_equal(e.onebit->n_tensors, 1);
        assert_int_equal(e.onebit->worker_len, zs_onebit_padded_size(n, 3));
        assert_true(e.ranks[0].master != e.ranks[0].model_params && same(e.ranks[0].master, e.ranks[0].model_params, n));
        assert_true(all_zero(e.ranks[2].state[0], n) && all_zero(e.onebit->worker[2], e.onebit->worker_len));
        step(&e);   /* trains (WarmupLR's lr is still 0, but the moments move) */
        assert_int_equal(e.onebit->step, 2);
        assert_false(all_zero(e.ranks[0].state[1], n));
        finish(&e, &kase);
    }
    test_run_config rc = {.world = 2, .steps = 1, .train_batch = 8, .micro_batch = 2, .extra = FP16_DYNAMIC(8),
                          .optimizer = "{\"type\": \"OneBitLamb\", \"params\": {\"lr\": 0.003, \"freeze_step\": 3}}"};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    assert_int_equal(e.onebit->step, 1);
    assert_int_equal(e.onebit->n_tensors, e.model.n_params);
    assert_int_equal(e.onebit->worker_len, zs_onebit_padded_size(e.model.numel, 2));
    finish(&e, &kase);
}

/* W = 1, fp16, static scale S: every training step is FP16_Optimizer.step around Adam without bias
 * correction, bit for bit: g32 = fl32(fp16 grad) * (1/combined) (combined from the norm and clip 1),
 * m, v, p in torch's operation order on the fp32 master, then the fp16 model = fl16(master). */
static void test_fp16_step_is_wrapped_adam_at_w1(void **s)
{
    (void)s;
    test_run_config rc = {.world = 1, .steps = 5, .train_batch = 8, .micro_batch = 2, .extra = FP16_STATIC,
                          .optimizer = ONEBIT_ADAM(100)};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    size_t n = e.model.numel;
    float *p = malloc(n * sizeof(float)), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    memcpy(p, e.ranks[0].master, n * sizeof(float));
    for (int k = 1; k <= rc.steps; k++) {
        zs_step_report rep = step(&e);
        assert_false(rep.skipped);
        const float *g = e.ranks[0].grad_part;
        float inv = zs_clip_inverse_scale(zs_clip_scaled_norm(&e.comm, &g, n, 1), 256.0f, 1.0);
        for (size_t i = 0; i < n; i++)
            assert_true(g[i] == zs_round_to(ZS_F16, g[i]));   /* the fp16 .grad */
        hand_adam_step(p, m, v, g, inv, rep.lr, n);
        for (size_t i = 0; i < n; i++)
            assert_true(e.ranks[0].model_params[i] == zs_round_to(ZS_F16, p[i]));
        assert_true(same(p, e.ranks[0].master, n));
        assert_true(same(m, e.ranks[0].state[0], n) && same(v, e.ranks[0].state[1], n));
        assert_int_equal(e.onebit->step, k + 1);
    }
    free(p);
    free(m);
    free(v);
    finish(&e, &kase);
}

/* W = 2, 3, freeze_step 3: call 3 (training step 2) ends the warm-up, so the gradient all-reduce is
 * off from training step 3 on (fp32: from step 4). From then on rank gradients are local, the
 * flat momentum is the compressed all-reduce (equal on every rank), the error buffers per rank. */
static void test_fp16_freeze_one_training_step_earlier(void **s)
{
    (void)s;
    for (int w = 2; w <= 3; w++) {
        test_run_config rc = {.world = w, .steps = 5, .train_batch = 6 * w, .micro_batch = 3, .extra = FP16_STATIC,
                              .optimizer = ONEBIT_ADAM(3)};
        zs_engine e;
        zs_case kase;
        start(&e, &kase, &rc);
        size_t n = e.model.numel;
        for (int k = 1; k <= rc.steps; k++) {
            step(&e);
            int compressed = k >= 3;
            assert_int_equal(zs_onebit_allreduce_enabled(e.onebit), k < 2);
            assert_int_equal(!same(e.ranks[0].grad_part, e.ranks[w - 1].grad_part, n), compressed);
            assert_true(same(e.ranks[0].master, e.ranks[w - 1].master, n));
            assert_true(same(e.ranks[0].state[0], e.ranks[w - 1].state[0], n));
            assert_int_equal(!same(e.onebit->worker[0], e.onebit->worker[w - 1], e.onebit->worker_len), compressed);
        }
        finish(&e, &kase);
    }
}

/* An fp16 overflow is FP16_Optimizer's: the scale halves and optimizer.step() is not called, so
 * neither the 1-bit count nor any state moves. From 2^20 the tiny model's gradients overflow fp16
 * for a few steps; the count always equals 1 + the applied steps. */
static void test_overflow_skips_without_advancing(void **s)
{
    (void)s;
    test_run_config rc = {.world = 2, .steps = 8, .train_batch = 8, .micro_batch = 2, .extra = FP16_DYNAMIC(20),
                          .optimizer = ONEBIT_ADAM(4)};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    size_t n = e.model.numel, wl = e.onebit->worker_len;
    float *master = malloc(n * sizeof(float)), *m = malloc(n * sizeof(float)), *werr = malloc(wl * sizeof(float));
    int skipped = 0;
    for (int k = 1; k <= rc.steps; k++) {
        memcpy(master, e.ranks[1].master, n * sizeof(float));
        memcpy(m, e.ranks[1].state[0], n * sizeof(float));
        memcpy(werr, e.onebit->worker[1], wl * sizeof(float));
        int64_t before = e.onebit->step;
        zs_step_report rep = step(&e);
        assert_int_equal(e.onebit->step, 1 + e.applied_steps);
        if (rep.skipped) {
            skipped++;
            assert_int_equal(e.onebit->step, before);
            assert_true(same(master, e.ranks[1].master, n) && same(m, e.ranks[1].state[0], n));
            assert_true(same(werr, e.onebit->worker[1], wl));
        }
    }
    print_message("%d of %d steps skipped\n", skipped, rc.steps);
    assert_true(skipped > 0 && e.applied_steps >= 4);   /* the compressed phase was reached */
    assert_int_equal(zs_onebit_allreduce_enabled(e.onebit), 0);
    free(master);
    free(m);
    free(werr);
    finish(&e, &kase);
}

/* ZeroOneAdam in fp16: one flat tensor; its schedule runs on the optimizer's count, one ahead of the
 * training step: var steps at calls 2, 3 (interval -> 2), 4, 6 (interval -> 4); the engine all-reduces
 * the next step iff var_interval divides the next call. */
static void test_zero_one_adam_fp16_schedule(void **s)
{
    (void)s;
    test_run_config rc = {.world = 2, .steps = 6, .train_batch = 8, .micro_batch = 2, .extra = FP16_STATIC,
                          .optimizer = "{\"type\": \"ZeroOneAdam\", \"params\": {\"lr\": 0.003, \"var_freeze_step\": 100,"
                                       " \"var_update_scaler\": 2}}"};
    /* training steps 1..6 are calls 2..7; the all-reduce is on for calls 3, 4, 6, 8 */
    const int allreduce_after[6] = {1, 1, 0, 1, 0, 1};
    zs_engine e;
    zs_case kase;
    start(&e, &kase, &rc);
    assert_int_equal(e.onebit->n_tensors, 1);
    for (int k = 1; k <= rc.steps; k++) {
        step(&e);
        assert_int_equal(e.onebit->step, k + 1);
        assert_int_equal(zs_onebit_allreduce_enabled(e.onebit), allreduce_after[k - 1]);
    }
    assert_int_equal(e.onebit->var_interval, 4);
    finish(&e, &kase);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initialisation_call_at_construction),
        cmocka_unit_test(test_fp16_step_is_wrapped_adam_at_w1),
        cmocka_unit_test(test_fp16_freeze_one_training_step_earlier),
        cmocka_unit_test(test_overflow_skips_without_advancing),
        cmocka_unit_test(test_zero_one_adam_fp16_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
