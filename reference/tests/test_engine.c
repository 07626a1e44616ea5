/* Engine behaviour: what each rank holds per stage (docs/spec.md §6), that the published model
 * parameters equal the consolidated masters, the data assignment to ranks, and bad worlds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine_fixture.h"

static void init_engine(zs_engine *e, zs_case *kase, int stage, int world)
{
    test_run_config rc = {.stage = stage, .world = world, .steps = 1, .train_batch = 4 * world, .micro_batch = 4};
    make_case(&rc, kase);
    zs_error err = {{0}};
    assert_int_equal(zs_engine_init(e, kase, world, &err), 0);
}

/* Default model: 29088 parameters; W = 4; AdamW has 2 states. */
static void bytes_per_stage_follow_zero_accounting(void **state)
{
    (void)state;
    const int64_t numel = 29088, len12 = 7272;
    int64_t len3 = 0;
    zs_case kase;
    zs_engine e;
    init_engine(&e, &kase, 3, 4);
    len3 = (int64_t)e.part.len;
    for (int p = 0; p < e.model.n_params; p++)   /* stage 3: sum of ceil(n_p / 4) */
        len3 -= (int64_t)((e.model.params[p].numel + 3) / 4);
    assert_int_equal(len3, 0);
    len3 = (int64_t)e.part.len;
    zs_rank_bytes b3 = zs_engine_rank_bytes(&e, 1);
    zs_engine_free(&e);
    zs_case_free(&kase);
    assert_int_equal(b3.params, len3 * 4);
    assert_int_equal(b3.grads, len3 * 4);
    assert_int_equal(b3.optimizer, 3 * len3 * 4);

    const int64_t expect[3][3] = {
        {numel * 4, numel * 4, 2 * numel * 4},      /* stage 0 fp32: no separate master */
        {numel * 4, numel * 4, 3 * len12 * 4},      /* stage 1: master + 2 states sharded */
        {numel * 4, len12 * 4, 3 * len12 * 4},      /* stage 2: gradients sharded too */
    };
    for (int s = 0; s < 3; s++) {
        init_engine(&e, &kase, s, 4);
        zs_rank_bytes b = zs_engine_rank_bytes(&e, 0);
        assert_int_equal(b.params, expect[s][0]);
        assert_int_equal(b.grads, expect[s][1]);
        assert_int_equal(b.optimizer, expect[s][2]);
        zs_engine_free(&e);
        zs_case_free(&kase);
    }
}

/* After a step every rank's model copy (stages 1-2) equals the consolidated master: the all-gather
 * published the right partitions to the right places. */
static void published_params_equal_consolidated_master(void **state)
{
    (void)state;
    for (int stage = 1; stage <= 2; stage++) {
        zs_case kase;
        zs_engine e;
        init_engine(&e, &kase, stage, 3);
        zs_step_report rep;
        zs_error err = {{0}};
        assert_int_equal(zs_engine_step(&e, &rep, &err), 0);
        float *full = malloc(e.model.numel * sizeof(float));
        zs_engine_gather_master(&e, full);
        for (int r = 0; r < 3; r++)
            assert_memory_equal(e.ranks[r].model_params, full, e.model.numel * sizeof(float));
        free(full);
        zs_engine_free(&e);
        zs_case_free(&kase);
    }
}

/* Stage 3: each rank's shard is exactly its partition of the consolidated model. */
static void stage3_shards_match_partition(void **state)
{
    (void)state;
    zs_case kase;
    zs_engine e;
    init_engine(&e, &kase, 3, 3);
    zs_step_report rep;
    zs_error err = {{0}};
    assert_int_equal(zs_engine_step(&e, &rep, &err), 0);
    float *full = malloc(e.model.numel * sizeof(float)), *part = malloc(e.part.len * sizeof(float));
    zs_engine_gather_master(&e, full);
    for (int r = 0; r < 3; r++) {
        zs_partition_extract(&e.part, r, full, part);
        assert_memory_equal(e.ranks[r].param_shard, part, e.part.len * sizeof(float));
    }
    free(full);
    free(part);
    zs_engine_free(&e);
    zs_case_free(&kase);
}

/* W ranks with micro-batch MB see the same samples as 1 rank with micro-batch W*MB: the loss of the
 * first step (before any update) is the same mean, up to fp64 summation order of the reported mean. */
static void data_assignment_is_world_size_independent(void **state)
{
    (void)state;
    float l1[1], l4[1];
    size_t numel;
    test_run_config one = {.stage = 0, .world = 1, .steps = 1, .train_batch = 8, .micro_batch = 8};
    test_run_config four = {.stage = 0, .world = 4, .steps = 1, .train_batch = 8, .micro_batch = 2};
    free(run_engine(&one, l1, &numel));
    free(run_engine(&four, l4, &numel));
    assert_float_equal(l1[0], l4[0], 1e-5);
}

static void rejects_bad_world_sizes(void **state)
{
    (void)state;
    zs_case kase;
    test_run_config rc = {.stage = 2, .world = 2, .steps = 1, .train_batch = 4, .micro_batch = 2};
    make_case(&rc, &kase);
    zs_engine e;
    zs_error err = {{0}};
    assert_int_equal(zs_engine_init(&e, &kase, 0, &err), -1);
    assert_non_null(strstr(err.msg, "world size"));
    zs_engine_free(&e);
    /* train_batch 4 = micro 2 * GAS * 3 has no integer GAS: DeepSpeed derives GAS = (4 // 2) // 3 = 0 */
    assert_int_equal(zs_engine_init(&e, &kase, 3, &err), -1);
    assert_non_null(strstr(err.msg, "world size 3: Gradient accumulation steps: 0"));
    zs_engine_free(&e);
    zs_case_free(&kase);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_per_stage_follow_zero_accounting),
        cmocka_unit_test(published_params_equal_consolidated_master),
        cmocka_unit_test(stage3_shards_match_partition),
        cmocka_unit_test(data_assignment_is_world_size_independent),
        cmocka_unit_test(rejects_bad_world_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
