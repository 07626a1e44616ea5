/* Precision modes across stages and world sizes (docs/spec/precision.md "Invariance"):
 * for fp16 (dynamic loss scaling) and bf16, stages 0-3 at W in {1, 2, 3, 4, 8} give the same gathered
 * fp32 master parameters after each of 5 steps within a stated tolerance, and the same skip decisions
 * (where the reduction structure allows: see the overflow test).
 * Model: the default tiny GPT-2, 24 sequences per step (micro-batch 1, GAS = 24/W). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "engine_fixture.h"

#define STEPS 5

typedef struct mode {
    const char *name;
    const char *extra;       /* config members enabling the mode */
    double max_abs;          /* bound on max |a - b| of the masters after 5 steps, across W and stages */
    double max_update;       /* bound on ||(a - init) - (b - init)|| / ||b - init|| */
    int exact_pow2_division; /* x / W exact for W = 2^k: not in fp16, whose subnormals lose bits */
} mode;

/* Tolerances: gradients are rounded to the 16-bit format at every accumulation and reduction, so
 * runs whose sums associate differently differ by about one 16-bit ulp of the gradient (2^-11
 * relative for fp16, 2^-8 for bf16), not by fp32 ulps. Adam's first steps move each weight by about
 * +-lr whatever the gradient's size, so elements whose gradient is near zero can step in opposite
 * directions: max |diff| reaches a fraction of 2 * lr * steps = 0.03. The total update vectors
 * agree much better. Measured 2026-11-23 (W in {1,2,3,4,8} x stages 0-3 vs W = 1): fp16 max |diff|
 * 2.4e-3, update diff 1.2e-2; bf16 8.4e-3 and 3.4e-2. Bounds are ~2x the measurements. */
static const mode modes[] = {
    {"fp16", "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12, \"hysteresis\": 2},", 5e-3, 0.025, 0},
    {"bf16", "\"bf16\": {\"enabled\": true},", 1.5e-2, 0.07, 1},
};

typedef struct run_out {
    float *per_step;         /* STEPS x numel: the gathered fp32 masters after each step */
    float *params;           /* after the last step (points into per_step) */
    int skipped[STEPS];
    double scale[STEPS];
} run_out;

static run_out run(const char *extra, int stage, int world)
{
    test_run_config rc = {.stage = stage, .world = world, .steps = STEPS, .train_batch = 24, .micro_batch = 1,
                          .extra = extra};
    zs_case kase;
    make_case(&rc, &kase);
    zs_engine e;
    zs_error err = {{0}};
    if (zs_engine_init(&e, &kase, world, &err))
        fail_msg("%s", err.msg);
    run_out out = {0};
    out.per_step = malloc(STEPS * e.model.numel * sizeof(float));
    for (int k = 0; k < STEPS; k++) {
        zs_step_report rep;
        if (zs_engine_step(&e, &rep, &err))
            fail_msg("%s", err.msg);
        out.skipped[k] = rep.skipped;
        out.scale[k] = rep.loss_scale;
        zs_engine_gather_master(&e, out.per_step + (size_t)k * e.model.numel);
    }
    out.params = out.per_step + (size_t)(STEPS - 1) * e.model.numel;
    zs_engine_free(&e);
    zs_case_free(&kase);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* The initial fp32 masters (the engine right after init, before any step). */
static float *initial_params(const char *extra)
{
    test_run_config rc = {.stage = 0, .world = 1, .steps = 1, .train_batch = 24, .micro_batch = 1, .extra = extra};
    zs_case kase;
    make_case(&rc, &kase);
    zs_engine e;
    zs_error err = {{0}};
    if (zs_engine_init(&e, &kase, 1, &err))
        fail_msg("%s", err.msg);
    float *p = malloc(e.model.numel * sizeof(float));
    zs_engine_gather_master(&e, p);
    zs_engine_free(&e);
    zs_case_free(&kase);
    return p;
}

/* ||(a - init) - (b - init)|| / ||b - init||: how much the two runs' total updates differ. */
static double relative_update_diff(const float *a, const float *b, const float *init, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i], u = (double)b[i] - (double)init[i];
        num += d * d;
        den += u * u;
    }
    return sqrt(num / den);
}

static int same_skips(const run_out *a, const run_out *b)
{
    for (int k = 0; k < STEPS; k++)
        if (a->skipped[k] != b->skipped[k] || a->scale[k] != b->scale[k])
            return 0;
    return 1;
}

/* No overflow (fp16 at 2^12, bf16): nothing is skipped anywhere; masters agree within the bounds;
 * stages 2 and 3 are bit-identical (same reduce-then-accumulate structure), and so are stages 0 and 1
 * in bf16 when W is a power of two (÷W exact; in fp16 it is not exact for subnormal values). */
static void modes_across_stages_and_world_sizes(void **state)
{
    (void)state;
    const int worlds[] = {1, 2, 3, 4, 8};
    const size_t numel = 29088;
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        const mode *md = &modes[mi];
        run_out ref = run(md->extra, 0, 1);
        float *init = initial_params(md->extra);
        for (size_t wi = 0; wi < sizeof worlds / sizeof worlds[0]; wi++) {
            int W = worlds[wi];
            run_out r[4];
            for (int s = 0; s < 4; s++) {
                r[s] = run(md->extra, s, W);
                for (int k = 0; k + 1 < STEPS; k++)   /* after every step, not only the last */
                    assert_true(max_abs_diff(r[s].per_step + (size_t)k * numel, ref.per_step + (size_t)k * numel,
                                             numel) <= md->max_abs);
                double d = max_abs_diff(r[s].params, ref.params, numel);
                double u = relative_update_diff(r[s].params, ref.params, init, numel);
                print_message("%s W=%d stage %d vs W=1 stage 0: max |diff| %.3g, update diff %.3g\n", md->name, W, s, d, u);
                assert_true(d <= md->max_abs);
                assert_true(u <= md->max_update);
                assert_true(same_skips(&r[s], &ref));
                for (int k = 0; k < STEPS; k++)
                    assert_int_equal(r[s].skipped[k], 0);
            }
            assert_int_equal(max_abs_diff(r[3].params, r[2].params, numel) == 0, 1);
            if (md->exact_pow2_division && (W & (W - 1)) == 0)
                assert_int_equal(max_abs_diff(r[1].params, r[0].params, numel) == 0, 1);
            for (int s = 0; s < 4; s++)
                free(r[s].per_step);
        }
        free(ref.per_step);
        free(init);
    }
}

/* Overflow regime (fp16 from 2^19, hysteresis 1): which steps overflow depends on where gradients are
 * summed in fp16 — DeepSpeed's structure, reproduced: stage 0 all-reduces unscaled local sums before
 * dividing by W, stage 1 accumulates each rank's unreduced gradient over micro-steps, stages 2 and 3
 * divide and reduce every micro-step. So stages 2 and 3 always make the same decisions, and at W = 1
 * (no reduction) all four stages do; across W and stage families they may differ (measured: at W = 8,
 * stage 0 skips steps 1-4, stage 1 steps 1-2, stages 2/3 step 1 only). */
static void overflow_decisions_follow_the_reduction_structure(void **state)
{
    (void)state;
    const char *extra = "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 19, \"hysteresis\": 1},";
    const int worlds[] = {1, 2, 3, 4, 8};
    int any_skip = 0, stage_dependent = 0;
    for (size_t wi = 0; wi < sizeof worlds / sizeof worlds[0]; wi++) {
        run_out r[4];
        for (int s = 0; s < 4; s++) {
            r[s] = run(extra, s, worlds[wi]);
            for (int k = 0; k < STEPS; k++)
                any_skip |= r[s].skipped[k];
        }
        print_message("W=%d skips: stage0 %d%d%d%d%d stage1 %d%d%d%d%d stage2 %d%d%d%d%d\n", worlds[wi],
                      r[0].skipped[0], r[0].skipped[1], r[0].skipped[2], r[0].skipped[3], r[0].skipped[4],
                      r[1].skipped[0], r[1].skipped[1], r[1].skipped[2], r[1].skipped[3], r[1].skipped[4],
                      r[2].skipped[0], r[2].skipped[1], r[2].skipped[2], r[2].skipped[3], r[2].skipped[4]);
        assert_true(same_skips(&r[2], &r[3]));
        assert_int_equal(max_abs_diff(r[3].params, r[2].params, 29088) == 0, 1);
        if (worlds[wi] == 1) {
            assert_true(same_skips(&r[0], &r[2]));
            assert_true(same_skips(&r[1], &r[2]));
        }
        stage_dependent |= !same_skips(&r[0], &r[2]) || !same_skips(&r[1], &r[2]);
        for (int s = 0; s < 4; s++)
            free(r[s].per_step);
    }
    assert_true(any_skip);          /* the regime really overflows */
    assert_true(stage_dependent);   /* and the structural difference shows */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modes_across_stages_and_world_sizes),
        cmocka_unit_test(overflow_decisions_follow_the_reduction_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
