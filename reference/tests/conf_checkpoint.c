/* Checkpoints in the reference (docs/spec/checkpoint.md): train k steps, save, resume, continue to
 * k + m, and compare with the uninterrupted run:
 *   - same world size and stage: bit-identical (masters, optimizer states, scaler, counters);
 *   - another world size and/or stage: within the invariance tolerance of conf_invariance.c, which is
 *     what the uninterrupted runs at the two layouts already differ by.
 * Plus consolidation (equal to the engine's own gather) and every refusal of an incompatible one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "engine_checkpoint.h"
#include "engine_fixture.h"

#define K 2      /* steps before the save */
#define M 3      /* steps after the resume */
#define RTOL 1e-6
#define ATOL 4e-6

static const char *const fp16_dynamic =
    "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 16, \"loss_scale_window\": 2, \"hysteresis\": 2},";

static void init_engine(const test_run_config *rc, zs_case *kase, zs_engine *e)
{
    make_case(rc, kase);
    zs_error err = {{0}};
    if (zs_engine_init(e, kase, rc->world, &err))
        fail_msg("engine: %s", err.msg);
}

static void steps(zs_engine *e, int n)
{
    zs_error err = {{0}};
    zs_step_report rep;
    for (int i = 0; i < n; i++)
        if (zs_engine_step(e, &rep, &err))
            fail_msg("step: %s", err.msg);
}

/* Runs `from` for K steps and returns its checkpoint. */
static void checkpoint_after_k(const test_run_config *from, zs_checkpoint *c)
{
    zs_case kase;
    zs_engine e;
    zs_error err = {{0}};
    init_engine(from, &kase, &e);
    steps(&e, K);
    assert_int_equal(zs_engine_checkpoint(&e, "test", c, &err), 0);
    zs_engine_free(&e);
    zs_case_free(&kase);
}

/* Resumes `to` from c, runs to K + M and returns the consolidated masters; *e_out keeps the engine. */
static float *resume_and_finish(const test_run_config *to, const zs_checkpoint *c, zs_case *kase, zs_engine *e)
{
    zs_error err = {{0}};
    init_engine(to, kase, e);
    if (zs_engine_resume(e, c, &err))
        fail_msg("resume: %s", err.msg);
    assert_int_equal(e->global_steps, K);
    steps(e, M);
    float *p = malloc(e->model.numel * sizeof(float));
    zs_engine_gather_master(e, p);
    return p;
}

static float *uninterrupted(const test_run_config *rc, size_t *numel)
{
    test_run_config full = *rc;
    full.steps = K + M;
    return run_engine(&full, NULL, numel);
}

static void same_layout_is_bit_identical(const test_run_config *rc)
{
    zs_checkpoint c;
    zs_case kase, kase_full;
    zs_engine e, full;
    checkpoint_after_k(rc, &c);
    float *p = resume_and_finish(rc, &c, &kase, &e);
    init_engine(rc, &kase_full, &full);
    steps(&full, K + M);
    float *q = malloc(full.model.numel * sizeof(float));
    zs_engine_gather_master(&full, q);
    assert_memory_equal(p, q, full.model.numel * sizeof(float));
    for (int r = 0; r < e.world; r++)
        for (int s = 0; s < e.optim->n_state; s++)
            assert_memory_equal(e.ranks[r].state[s], full.ranks[r].state[s], e.part.len * sizeof(float));
    assert_true(e.scaler.cur_scale == full.scaler.cur_scale);
    assert_int_equal(e.scaler.cur_iter, full.scaler.cur_iter);
    assert_int_equal(e.scaler.last_overflow_iter, full.scaler.last_overflow_iter);
    assert_int_equal(e.scaler.cur_hysteresis, full.scaler.cur_hysteresis);
    assert_int_equal(e.applied_steps, full.applied_steps);
    assert_int_equal(e.skipped_steps, full.skipped_steps);
    free(p);
    free(q);
    zs_engine_free(&e);
    zs_engine_free(&full);
    zs_case_free(&kase);
    zs_case_free(&kase_full);
    zs_ckpt_free(&c);
}

static void resume_same_layout_fp32_stage2(void **state)
{
    (void)state;
    same_layout_is_bit_identical(&(test_run_config){.stage = 2, .world = 2, .steps = K, .train_batch = 8,
                                                    .micro_batch = 2});
}

static void resume_same_layout_fp16_scaler_state(void **state)
{
    (void)state;   /* scale window 2 and hysteresis 2: the scaler's counters matter across the save */
    same_layout_is_bit_identical(&(test_run_config){.stage = 1, .world = 3, .steps = K, .train_batch = 6,
                                                    .micro_batch = 1, .extra = fp16_dynamic});
}

static void resume_same_layout_bf16_stage3_and_stage0(void **state)
{
    (void)state;
    const char *bf16 = "\"bf16\": {\"enabled\": true},";
    same_layout_is_bit_identical(&(test_run_config){.stage = 3, .world = 4, .steps = K, .train_batch = 8,
                                                    .micro_batch = 1, .extra = bf16});
    same_layout_is_bit_identical(&(test_run_config){.stage = 0, .world = 2, .steps = K, .train_batch = 8,
                                                    .micro_batch = 1, .extra = bf16});
}

/* Saved at (stage a, W), resumed at (stage b, M'): compared with the uninterrupted run at (b, M'). */
static void resume_other_layouts(void **state)
{
    (void)state;
    const struct { int stage_a, world_a, stage_b, world_b; } moves[] = {
        {2, 2, 3, 4}, {3, 5, 2, 2}, {1, 4, 0, 1}, {0, 1, 3, 5}, {2, 5, 1, 2}, {3, 8, 3, 2},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        test_run_config a = {.stage = moves[i].stage_a, .world = moves[i].world_a, .steps = K, .train_batch = 40,
                             .micro_batch = 1};
        test_run_config b = a;
        b.stage = moves[i].stage_b;
        b.world = moves[i].world_b;
        zs_checkpoint c;
        zs_case kase;
        zs_engine e;
        size_t numel;
        checkpoint_after_k(&a, &c);
        float *p = resume_and_finish(&b, &c, &kase, &e);
        float *q = uninterrupted(&b, &numel);
        double worst = 0;
        for (size_t j = 0; j < numel; j++) {
            double d = fabs((double)p[j] - (double)q[j]), bound = ATOL + RTOL * fabs((double)q[j]);
            if (d / bound > worst)
                worst = d / bound;
        }
        print_message("stage %d W=%d -> stage %d W=%d: worst |diff|/bound %.3f\n", a.stage, a.world, b.stage, b.world,
                      worst);
        assert_true(worst <= 1.0);
        free(p);
        free(q);
        zs_engine_free(&e);
        zs_case_free(&kase);
        zs_ckpt_free(&c);
    }
}

/* Consolidation = the engine's own gather, for a padded stage-3 layout. */
static void consolidate_matches_gather(void **state)
{
    (void)state;
    test_run_config rc = {.stage = 3, .world = 5, .steps = K, .train_batch = 10, .micro_batch = 1};
    zs_case kase;
    zs_engine e;
    zs_checkpoint c;
    zs_error err = {{0}};
    init_engine(&rc, &kase, &e);
    steps(&e, K);
    assert_int_equal(zs_engine_checkpoint(&e, "test", &c, &err), 0);
    size_t n = e.model.numel;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *s0 = malloc(n * sizeof(float));
    float *s1 = malloc(n * sizeof(float));
    float *states[2] = {s0, s1};
    zs_engine_gather_master(&e, a);
    assert_int_equal(zs_checkpoint_consolidate(&c, &e.model, b, states, &err), 0);
    assert_memory_equal(a, b, n * sizeof(float));
    const float *parts[ZS_MAX_WORLD];
    for (int r = 0; r < e.world; r++)
        parts[r] = e.ranks[r].state[1];
    zs_partition_assemble(&e.part, parts, a);
    assert_memory_equal(a, s1, n * sizeof(float));
    /* a checkpoint whose partitions do not follow the spec's layout is refused */
    c.part_len += 1;
    assert_int_equal(zs_checkpoint_consolidate(&c, &e.model, b, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "spec's layout"));
    c.part_len -= 1;
    free(a);
    free(b);
    free(s0);
    free(s1);
    zs_ckpt_free(&c);
    zs_engine_free(&e);
    zs_case_free(&kase);
}

static void expect_refusal(const test_run_config *to, const zs_checkpoint *c, const char *needle)
{
    zs_case kase;
    zs_engine e;
    zs_error err = {{0}};
    init_engine(to, &kase, &e);
    assert_int_equal(zs_engine_resume(&e, c, &err), -1);
    print_message("refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, needle));
    zs_engine_free(&e);
    zs_case_free(&kase);
}

static void incompatible_checkpoints_are_refused(void **state)
{
    (void)state;
    test_run_config rc = {.stage = 2, .world = 2, .steps = K, .train_batch = 8, .micro_batch = 1};
    zs_checkpoint c;
    checkpoint_after_k(&rc, &c);
    test_run_config fp16 = rc;
    fp16.extra = fp16_dynamic;
    expect_refusal(&fp16, &c, "precision fp32, the config's is fp16");
    test_run_config sgd = rc;
    sgd.optimizer = "{\"type\": \"SGD\", \"params\": {\"lr\": 0.1, \"momentum\": 0.9}}";
    sgd.extra = "\"zero_allow_untested_optimizer\": true,";
    expect_refusal(&sgd, &c, "optimizer state");
    c.seed = 99;
    expect_refusal(&rc, &c, "seed 99");
    c.seed = 1234;
    c.model.layers = 3;
    expect_refusal(&rc, &c, "another model");
    zs_ckpt_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_same_layout_fp32_stage2),
        cmocka_unit_test(resume_same_layout_fp16_scaler_state),
        cmocka_unit_test(resume_same_layout_bf16_stage3_and_stage0),
        cmocka_unit_test(resume_other_layouts),
        cmocka_unit_test(consolidate_matches_gather),
        cmocka_unit_test(incompatible_checkpoints_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
