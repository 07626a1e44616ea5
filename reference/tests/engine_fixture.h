/* Builds cases in memory for engine tests: the default tiny model with a generated DeepSpeed
 * config (AdamW + WarmupLR + clipping, fp32 unless overridden). */
#ifndef ZS_TEST_ENGINE_FIXTURE_H
#define ZS_TEST_ENGINE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct test_run_config {
    int stage, world, steps;
    int train_batch, micro_batch;
    const char *extra;   /* extra top-level JSON members, e.g. "\"fp16\": {\"enabled\": true}," */
    const char *optimizer;   /* the "optimizer" block; default AdamW lr 3e-3 wd 0.01 */
} test_run_config;

/* Loads a case for the run config; fails the test on error. */
static inline void make_case(const test_run_config *rc, zs_case *kase)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"seed\": 1234, \"steps\": %d, \"world_sizes\": [%d], \"ds_config\": {"
             "%s"
             "\"train_batch_size\": %d, \"train_micro_batch_size_per_gpu\": %d,"
             "\"optimizer\": %s,"
             "\"scheduler\": {\"type\": \"WarmupLR\", \"params\": {\"warmup_min_lr\": 0, \"warmup_max_lr\": 0.003,"
             " \"warmup_num_steps\": 3}},"
             "\"gradient_clipping\": 1.0,"
             "\"zero_optimization\": {\"stage\": %d}}}",
             rc->steps, rc->world, rc->extra ? rc->extra : "", rc->train_batch, rc->micro_batch,
             rc->optimizer ? rc->optimizer : "{\"type\": \"AdamW\", \"params\": {\"lr\": 0.003, \"weight_decay\": 0.01}}",
             rc->stage);
    zs_error err = {{0}};
    if (zs_case_parse(json, "<test>", ".", kase, &err)) {
        fprintf(stderr, "case: %s\n", err.msg);
        abort();
    }
}

/* Runs the case; returns the consolidated master parameters after the last step (malloc'ed) and
 * fills losses[steps] when non-NULL. */
static inline float *run_engine(const test_run_config *rc, float *losses, size_t *numel)
{
    zs_case kase;
    make_case(rc, &kase);
    zs_engine e;
    zs_error err = {{0}};
    if (zs_engine_init(&e, &kase, rc->world, &err)) {
        fprintf(stderr, "engine: %s\n", err.msg);
        abort();
    }
    for (int k = 0; k < rc->steps; k++) {
        zs_step_report rep;
        if (zs_engine_step(&e, &rep, &err)) {
            fprintf(stderr, "step: %s\n", err.msg);
            abort();
        }
        if (losses)
            losses[k] = rep.loss;
    }
    float *params = malloc(e.model.numel * sizeof(float));
    zs_engine_gather_master(&e, params);
    *numel = e.model.numel;
    zs_engine_free(&e);
    zs_case_free(&kase);
    return params;
}

#endif
