/* Shared by the optimizer tests (test_optim_*.c): a few-element partition stepped by one rule,
 * with DeepSpeed's constructor defaults filled in by hand.
 * Include after <cmocka.h>. */
#ifndef ZS_TESTS_OPTIM_TEST_UTIL_H
#define ZS_TESTS_OPTIM_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "float_asserts.h"
#include "optim/optimizer.h"

#define OPTIM_TEST_MAX_N 16

/* One rank's partition and its optimizer state, zero-initialised as the caller contract says. */
typedef struct optim_fixture {
    size_t n;
    float param[OPTIM_TEST_MAX_N];
    float state[ZS_OPTIM_MAX_STATE][OPTIM_TEST_MAX_N];
    float *state_ptr[ZS_OPTIM_MAX_STATE];
    int64_t steps_done;
} optim_fixture;

static inline void optim_fixture_init(optim_fixture *f, const float *p0, size_t n)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    memcpy(f->param, p0, n * sizeof *p0);
    for (int k = 0; k < ZS_OPTIM_MAX_STATE; k++)
        f->state_ptr[k] = f->state[k];
}

/* Applies the next step (t = steps_done + 1) with the given lr and betas. */
static inline void optim_fixture_step(optim_fixture *f, const zs_optim_ops *ops,
                                      const zs_optimizer_config *hp, double lr, const float *grad)
{
    const zs_optim_step s = {.step = ++f->steps_done, .lr = lr, .beta1 = hp->betas[0],
                             .beta2 = hp->betas[1]};
    ops->step(hp, &s, f->param, grad, f->state_ptr, f->n);
}

/* The defaults DeepSpeed's optimizer constructors apply (what the config parser fills in). */
static inline zs_optimizer_config optim_test_hp(zs_optimizer_type type)
{
    zs_optimizer_config hp;
    memset(&hp, 0, sizeof hp);
    hp.type = type;
    hp.lr = 1e-3;
    hp.betas[0] = 0.9;
    hp.betas[1] = 0.999;
    hp.eps = 1e-8;
    hp.adam_w_mode = 1;
    hp.bias_correction = 1;
    hp.max_coeff = 10.0;
    hp.min_coeff = 0.01;
    if (type == ZS_OPT_ADAGRAD) {
        hp.lr = 1e-2;
        hp.eps = 1e-10;
    }
    if (type == ZS_OPT_SGD)
        hp.lr = 0.01; /* torch SGD has no default lr; tests pick one */
    return hp;
}

/* The shared few-element case: 4 parameters (one of them 0) and 3 steps of gradients. */
#define OPTIM_TEST_N 4
#define OPTIM_TEST_STEPS 3
static const float OPTIM_TEST_P0[OPTIM_TEST_N] = {0.5f, -1.25f, 3.0f, 0.0f};
static const float OPTIM_TEST_GRADS[OPTIM_TEST_STEPS][OPTIM_TEST_N] = {
    {0.1f, -0.2f, 0.05f, 1.0f},
    {0.3f, 0.1f, -0.4f, -1.0f},
    {-0.2f, 0.0f, 0.2f, 0.5f},
};

/* An element-wise rule written out by hand for one element: `steps` steps with gradients
 * g[0], g[stride], g[2*stride], ...; returns p and writes the final state values. */
typedef float (*optim_hand_fn)(const zs_optimizer_config *hp, float p, const float *g, size_t stride,
                               int steps, float state_out[ZS_OPTIM_MAX_STATE]);

/* Steps the shared case with `ops` (lr = hp->lr) and compares p and every state buffer with the
 * hand-written rule, bit for bit. */
static inline void optim_check_against_hand(const zs_optim_ops *ops, const zs_optimizer_config *hp,
                                            optim_hand_fn hand)
{
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    for (int t = 0; t < OPTIM_TEST_STEPS; t++)
        optim_fixture_step(&f, ops, hp, hp->lr, OPTIM_TEST_GRADS[t]);
    for (int i = 0; i < OPTIM_TEST_N; i++) {
        float state[ZS_OPTIM_MAX_STATE] = {0};
        const float p = hand(hp, OPTIM_TEST_P0[i], &OPTIM_TEST_GRADS[0][i], OPTIM_TEST_N,
                             OPTIM_TEST_STEPS, state);
        assert_same_float(p, f.param[i]);
        for (int k = 0; k < ops->n_state; k++)
            assert_same_float(state[k], f.state[k][i]);
    }
}

/* One step with `grad` from OPTIM_TEST_P0 leaves every parameter bit-identical. */
static inline void optim_assert_step_keeps_params(const zs_optim_ops *ops,
                                                  const zs_optimizer_config *hp, double lr,
                                                  const float *grad)
{
    optim_fixture f;
    optim_fixture_init(&f, OPTIM_TEST_P0, OPTIM_TEST_N);
    optim_fixture_step(&f, ops, hp, lr, grad);
    for (int i = 0; i < OPTIM_TEST_N; i++)
        assert_same_float(OPTIM_TEST_P0[i], f.param[i]);
}

/* Deterministic values spread over [-scale, scale) (a 32-bit LCG), for sweeps over many elements. */
static inline float optim_test_value(uint32_t *seed, float scale)
{
    *seed = *seed * 1664525u + 1013904223u;
    return scale * ((float)(*seed >> 8) / 8388608.0f - 1.0f);
}

/* Sweep: 2000 elements x 5 steps of varied values through `ops` (lr 1e-2, hp's betas), compared
 * element by element with the hand-written rule, so that any reordering's rounding shows up. */
static inline void optim_check_sweep(const zs_optim_ops *ops, const zs_optimizer_config *hp,
                                     optim_hand_fn hand, uint32_t seed)
{
    enum { M = 2000, T = 5 };
    static float p[M], p0[M], g[T][M], state[ZS_OPTIM_MAX_STATE][M];
    for (int i = 0; i < M; i++)
        p0[i] = p[i] = optim_test_value(&seed, 2.0f);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < M; i++)
            g[t][i] = optim_test_value(&seed, (float)(1 + (i % 7)) * 0.01f);
    memset(state, 0, sizeof state);
    float *state_ptr[ZS_OPTIM_MAX_STATE] = {state[0], state[1], state[2], state[3]};
    zs_optimizer_config h = *hp;
    h.lr = 1e-2;
    for (int t = 0; t < T; t++) {
        const zs_optim_step s = {.step = t + 1, .lr = h.lr, .beta1 = h.betas[0], .beta2 = h.betas[1]};
        ops->step(&h, &s, p, g[t], state_ptr, M);
    }
    for (int i = 0; i < M; i++) {
        float hand_state[ZS_OPTIM_MAX_STATE] = {0};
        assert_same_float(hand(&h, p0[i], &g[0][i], M, T, hand_state), p[i]);
        for (int k = 0; k < ops->n_state; k++)
            assert_same_float(hand_state[k], state[k][i]);
    }
}

#endif
