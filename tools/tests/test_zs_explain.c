/* zs-explain's predictions equal what the reference's simulated ranks actually hold and send: the
 * model-state bytes of every rank (zs_engine_rank_bytes, computed from the engine's real allocations)
 * and the bytes each collective sent in one optimizer step (the engine's communication log), for every
 * stage, several world sizes, fp32 and fp16, with and without offload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "predict.h"

static void load(zs_case *kase, int stage, const char *extra, int world)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"name\": \"x\", \"steps\": 1, \"world_sizes\": [%d], \"ds_config\": {%s"
             "\"train_batch_size\": %d, \"train_micro_batch_size_per_gpu\": 2,"
             "\"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.001}},"
             "\"zero_optimization\": {\"stage\": %d}}}",
             world, extra, 4 * world, stage);
    zs_error err = {{0}};
    if (zs_case_parse(json, "<test>", ".", kase, &err))
        fail_msg("%s", err.msg);
}

static void predictions_match_the_reference(void **state)
{
    (void)state;
    const char *modes[] = {"", "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8},"};
    const int worlds[] = {1, 2, 3, 5, 8};
    for (int mi = 0; mi < 2; mi++)
        for (int wi = 0; wi < 5; wi++)
            for (int s = 0; s < 4; s++) {
                zs_case kase;
                load(&kase, s, modes[mi], worlds[wi]);
                zs_engine e;
                zs_error err = {{0}};
                assert_int_equal(zs_engine_init(&e, &kase, worlds[wi], &err), 0);
                size_t *sizes = malloc(sizeof(size_t) * (size_t)e.model.n_params);
                for (int i = 0; i < e.model.n_params; i++)
                    sizes[i] = e.model.params[i].numel;
                zs_explain_model m = {sizes, e.model.n_params};
                zs_explain_bytes want = zs_explain_rank_bytes(&kase.config, s, worlds[wi], &m);
                zs_rank_bytes got = zs_engine_rank_bytes(&e, 0);
                assert_int_equal(want.params, got.params);
                assert_int_equal(want.grads, got.grads);
                assert_int_equal(want.optimizer, got.optimizer);
                assert_int_equal(want.partition_len, (int64_t)e.part.len);

                zs_step_report rep;
                assert_int_equal(zs_engine_step(&e, &rep, &err), 0);
                zs_explain_comm c = zs_explain_step_comm(&kase.config, s, worlds[wi], e.batch.grad_accum_steps, &m);
                /* the engine's log also counts the tiny scalar collectives (norm, overflow flag) */
                int64_t scalars = 0;
                if (worlds[wi] > 1 && s > 0)
                    scalars = (int64_t)8 * 2 * (worlds[wi] - 1) / worlds[wi];
                if (worlds[wi] > 1 && kase.config.precision == ZS_PREC_FP16)
                    scalars += (int64_t)4 * 2 * (worlds[wi] - 1) / worlds[wi];
                assert_int_equal(c.reduce_bytes + scalars, e.comm.stats[ZS_COMM_ALL_REDUCE].bytes_per_rank +
                                                               e.comm.stats[ZS_COMM_REDUCE_SCATTER].bytes_per_rank);
                assert_int_equal(c.gather_bytes, e.comm.stats[ZS_COMM_ALL_GATHER].bytes_per_rank);
                free(sizes);
                zs_engine_free(&e);
                zs_case_free(&kase);
            }
}

static void offload_moves_bytes_to_the_host(void **state)
{
    (void)state;
    zs_case kase;
    load(&kase, 3, "", 4);
    kase.config.zero.offload_optimizer.device = ZS_OFFLOAD_CPU;
    kase.config.zero.offload_param.device = ZS_OFFLOAD_CPU;
    size_t sizes[2] = {1000, 24};
    zs_explain_model m = {sizes, 2};
    zs_explain_bytes b = zs_explain_rank_bytes(&kase.config, 3, 4, &m);
    assert_int_equal(b.partition_len, 250 + 6);
    assert_int_equal(b.params, 0);
    assert_int_equal(b.optimizer, 0);
    assert_int_equal(b.host_params, 256 * 4);
    assert_int_equal(b.host_optimizer, 3 * 256 * 4);   /* fp32 master + 2 Adam states */
    zs_case_free(&kase);
}

/* The ZeRO paper's example: 7.5B parameters, Adam, mixed precision, 64 ranks -> per rank 2+2+12 = 16
 * bytes/param at stage 0 (120 GB), (4 + 12/64) at stage 1 (31.4 GB), (2 + 14/64) at stage 2 (16.6 GB),
 * 16/64 at stage 3 (1.9 GB). */
static void zero_paper_example(void **state)
{
    (void)state;
    zs_case kase;
    load(&kase, 0, "\"fp16\": {\"enabled\": true},", 1);
    size_t n = 7500000000ULL;
    zs_explain_model m = {&n, 1};
    const double expect_gb[4] = {120.0, 31.4, 16.6, 1.9};
    for (int s = 0; s < 4; s++) {
        zs_explain_bytes b = zs_explain_rank_bytes(&kase.config, s, 64, &m);
        double gb = (double)(b.params + b.grads + b.optimizer) / 1e9;
        print_message("stage %d: %.2f GB\n", s, gb);
        assert_true(gb > expect_gb[s] * 0.98 && gb < expect_gb[s] * 1.02);
    }
    zs_case_free(&kase);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(predictions_match_the_reference),
        cmocka_unit_test(offload_moves_bytes_to_the_host),
        cmocka_unit_test(zero_paper_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
