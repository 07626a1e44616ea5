/* Shared steps of the 1-bit engine tests (conf_onebit.c, conf_onebit_fp16.c): build, step and free an
 * engine from a test_run_config, failing the test on any error (include after <cmocka.h>). */
#ifndef ZS_TEST_ONEBIT_FIXTURE_H
#define ZS_TEST_ONEBIT_FIXTURE_H

#include <math.h>

#include "engine_fixture.h"

/* OneBitAdam, lr 3e-3, weight decay 0.01, the given freeze_step */
#define ONEBIT_ADAM(freeze) "{\"type\": \"OneBitAdam\", \"params\": {\"lr\": 0.003, \"freeze_step\": " #freeze \
                            ", \"weight_decay\": 0.01}}"

static inline void start(zs_engine *e, zs_case *kase, const test_run_config *rc)
{
    make_case(rc, kase);
    zs_error err = {{0}};
    if (zs_engine_init(e, kase, rc->world, &err))
        fail_msg("engine: %s", err.msg);
}

static inline void finish(zs_engine *e, zs_case *kase)
{
    zs_engine_free(e);
    zs_case_free(kase);
}

static inline zs_step_report step(zs_engine *e)
{
    zs_step_report rep;
    zs_error err = {{0}};
    if (zs_engine_step(e, &rep, &err))
        fail_msg("step: %s", err.msg);
    return rep;
}

static inline int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Adam without bias correction by hand, in torch's operation order (docs/spec/optimizers.md §8.2), for
 * ONEBIT_ADAM's hyper-parameters (betas 0.9, 0.999; eps 1e-8; weight decay 0.01): g32 = g * inv,
 * m = m*fl32(b1) + fl32(1-b1)*g32, v = v*fl32(b2) + fl32(1-b2)*(g32*g32),
 * p += fl32(-lr)*(m/(sqrt(v)+eps) + wd*p). */
static inline void hand_adam_step(float *p, float *m, float *v, const float *g, float inv, double lr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * inv;
        m[i] = m[i] * 0.9f + (float)(1.0 - 0.9) * gi;
        v[i] = v[i] * 0.999f + (float)(1.0 - 0.999) * (gi * gi);
        float u = m[i] / (sqrtf(v[i]) + 1e-8f) + 0.01f * p[i];
        p[i] = p[i] + (float)-lr * u;
    }
}

#endif
