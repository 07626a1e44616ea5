/* FusedLamb (reference/optim/lamb.c) against fused_lamb_cuda_kernel.cu written out by hand,
 * against a long double Lamb, and at its edges: trust-ratio clamping, zero norms, the reduction
 * order, and the per-partition (rank-count dependent) trust ratio. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "optim_test_util.h"

#define N 5
#define STEPS 2

static const float P0[N] = {0.5f, -1.25f, 3.0f, 0.0f, 0.75f};
static const float GRADS[STEPS][N] = {
    {0.1f, -0.2f, 0.05f, 1.0f, -0.3f},
    {0.3f, 0.1f, -0.4f, -1.0f, 0.0f},
};

/* Five values, one per thread of a single 512-thread block: the shared-memory tree pairs t with
 * t + 4, then t + 2, then t + 1 (the higher halves only add zeros). */
static float five_value_tree_sum(const float x[N])
{
    return ((x[0] + x[4]) + x[2]) + (x[1] + x[3]);
}

static float hand_update(const zs_optimizer_config *hp, float m, float v, float p)
{
    const float eps = (float)hp->eps;
    const float denom = hp->eps_inside_sqrt ? sqrtf(v + eps) : sqrtf(v) + eps;
    return m / denom + (float)hp->weight_decay * p;
}

/* lamb_cuda_kernel_part1..3 on the five-element partition, float throughout. */
static void hand_fused_lamb(const zs_optimizer_config *hp, float p[N], float m[N], float v[N])
{
    const float lr = (float)hp->lr, b1 = (float)hp->betas[0], b2 = (float)hp->betas[1];
    for (int t = 1; t <= STEPS; t++) {
        float step_size = lr;
        if (hp->bias_correction) {
            const float bc1 = (float)(1.0 - pow((double)b1, (double)t));
            const float bc2 = (float)(1.0 - pow((double)b2, (double)t));
            step_size = lr * sqrtf(bc2);
            step_size = step_size / bc1;
        }
        float p_sq[N], u_sq[N], u[N];
        for (int i = 0; i < N; i++) {
            const float g = GRADS[t - 1][i];
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + ((1.0f - b2) * g) * g;
            u[i] = hand_update(hp, m[i], v[i], p[i]);
            u_sq[i] = u[i] * u[i];
            p_sq[i] = p[i] * p[i];
        }
        const float w_norm = sqrtf(five_value_tree_sum(p_sq));
        const float u_norm = sqrtf(five_value_tree_sum(u_sq));
        float coeff = 1.0f;
        if (w_norm != 0.0f && u_norm != 0.0f) {
            coeff = w_norm / u_norm;
            coeff = coeff > (float)hp->max_coeff ? (float)hp->max_coeff : coeff;
            coeff = coeff < (float)hp->min_coeff ? (float)hp->min_coeff : coeff;
        }
        for (int i = 0; i < N; i++)
            p[i] = p[i] - (step_size * coeff) * u[i];
    }
}

static void check_against_hand(const zs_optimizer_config *hp)
{
    optim_fixture f;
    optim_fixture_init(&f, P0, N);
    for (int t = 0; t < STEPS; t++)
        optim_fixture_step(&f, &zs_optim_fused_lamb, hp, hp->lr, GRADS[t]);
    float p[N], m[N] = {0}, v[N] = {0};
    memcpy(p, P0, sizeof p);
    hand_fused_lamb(hp, p, m, v);
    for (int i = 0; i < N; i++) {
        assert_same_float(p[i], f.param[i]);
        assert_same_float(m[i], f.state[0][i]);
        assert_same_float(v[i], f.state[1][i]);
    }
}

static void test_matches_kernel_order(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    hp.lr = 0.01;
    hp.weight_decay = 0.01;
    check_against_hand(&hp);
    hp.eps_inside_sqrt = 1;
    check_against_hand(&hp);
    hp.eps_inside_sqrt = 0;
    hp.bias_correction = 0;
    check_against_hand(&hp);
    hp.eps = 1.0;
    check_against_hand(&hp);
}

/* Lamb in long double: uncorrected v in the denominator, bias correction folded into step_size. */
static void test_close_to_long_double_lamb(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    hp.lr = 0.01;
    hp.weight_decay = 0.5; /* large enough that the uncorrected v visibly changes u's direction */
    optim_fixture f;
    optim_fixture_init(&f, P0, N);
    for (int t = 0; t < STEPS; t++)
        optim_fixture_step(&f, &zs_optim_fused_lamb, &hp, hp.lr, GRADS[t]);
    long double p[N], m[N] = {0}, v[N] = {0}, u[N];
    for (int i = 0; i < N; i++)
        p[i] = P0[i];
    for (int t = 1; t <= STEPS; t++) {
        long double wsq = 0, usq = 0;
        for (int i = 0; i < N; i++) {
            m[i] = 0.9L * m[i] + 0.1L * GRADS[t - 1][i];
            v[i] = 0.999L * v[i] + 0.001L * GRADS[t - 1][i] * GRADS[t - 1][i];
            u[i] = m[i] / (sqrtl(v[i]) + 1e-8L) + 0.5L * p[i];
            wsq += p[i] * p[i];
            usq += u[i] * u[i];
        }
        const long double step_size = 0.01L * sqrtl(1 - powl(0.999L, t)) / (1 - powl(0.9L, t));
        const long double coeff = sqrtl(wsq) / sqrtl(usq);
        assert_true(coeff > 0.01L && coeff < 10.0L);
        for (int i = 0; i < N; i++)
            p[i] -= step_size * coeff * u[i];
    }
    for (int i = 0; i < N; i++)
        assert_close((double)p[i], f.param[i], 1e-5);
}

/* Four equal elements, g = 1, wd = 0, step 1: u = 0.1/sqrt(0.001) = sqrt(10) for every element
 * (v is not bias corrected), step_size = lr*sqrt(0.001)/0.1, ratio = |p|/sqrt(10). */
static float one_step_uniform(float p_value, double lr, double max_coeff)
{
    const float p0[4] = {p_value, p_value, p_value, p_value}, g[4] = {1, 1, 1, 1};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    hp.max_coeff = max_coeff;
    optim_fixture f;
    optim_fixture_init(&f, p0, 4);
    optim_fixture_step(&f, &zs_optim_fused_lamb, &hp, lr, g);
    return f.param[0];
}

static void test_trust_ratio_clamps(void **unused)
{
    (void)unused;
    /* ratio 100/sqrt(10) = 31.6 -> max_coeff 10: p - lr*sqrt(.001)/.1*10*sqrt(10) = p - 10*lr */
    assert_close(100.0 - 10 * 0.01, one_step_uniform(100.0f, 0.01, 10.0), 1e-6);
    /* raising max_coeff lets the ratio through: p - ratio*lr = p - (100/sqrt(10))*lr */
    assert_close(100.0 - 100.0 / sqrt(10.0) * 0.01, one_step_uniform(100.0f, 0.01, 100.0), 1e-6);
    /* ratio 1e-4/sqrt(10) -> min_coeff 0.01: p - 0.01*lr */
    assert_close(1e-4 - 0.01 * 1e-3, one_step_uniform(1e-4f, 1e-3, 10.0), 1e-5);
}

static void test_zero_norms_give_coefficient_one(void **unused)
{
    (void)unused;
    /* ||p|| = 0: coeff 1, so p = 0 - step_size*sqrt(10) = -lr */
    assert_close(-0.01, one_step_uniform(0.0f, 0.01, 10.0), 1e-6);

    /* ||u|| = 0 (zero gradient, no decay): coeff 1 and u = 0, p unchanged */
    const float zeros[N] = {0};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    optim_fixture f;
    optim_fixture_init(&f, P0, N);
    optim_fixture_step(&f, &zs_optim_fused_lamb, &hp, 0.01, zeros);
    for (int i = 0; i < N; i++)
        assert_same_float(P0[i], f.param[i]);
}

/* With 512 elements each of the 512 threads holds one: sum(p^2) for p = (4096, 1, 1, ...) is
 * 2^24 + 510 by the tree (each 1 pairs with others before meeting 2^24), 2^24 if summed in order,
 * 2^24 + 511 exactly. u is uniform, so its 512 equal squares sum exactly either way. */
static void test_norm_uses_kernel_reduction_tree(void **unused)
{
    (void)unused;
    enum { M = 512 };
    static float p0[M], g[M];
    for (int i = 0; i < M; i++) {
        p0[i] = i == 0 ? 4096.0f : 1.0f;
        g[i] = 1.0f;
    }
    static float p[M], m[M], v[M];
    memcpy(p, p0, sizeof p);
    memset(m, 0, sizeof m);
    memset(v, 0, sizeof v);
    float *state[2] = {m, v};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    hp.max_coeff = 1000.0;
    const zs_optim_step s = {.step = 1, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999};
    zs_optim_fused_lamb.step(&hp, &s, p, g, state, M);

    /* step 1 from zero state with g = 1: m = 1 - b1, v = 1 - b2 (float) */
    const float m1 = 1.0f - 0.9f, v1 = 1.0f - 0.999f;
    const float u = m1 / (sqrtf(v1) + (float)1e-8);
    const float coeff = sqrtf(16777726.0f) / sqrtf(512.0f * (u * u));
    const float step_size = (float)0.01 * sqrtf((float)(1.0 - (double)0.999f)) /
                            (float)(1.0 - (double)0.9f);
    assert_same_float(1.0f - (step_size * coeff) * u, p[1]);
}

/* Beyond 512*512 elements threads hold several (strided); still Lamb to float accuracy. */
static void test_many_blocks_close_to_long_double(void **unused)
{
    (void)unused;
    const size_t n = 512 * 512 + 3;
    float *p = calloc(n, sizeof *p), *g = calloc(n, sizeof *g);
    float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    assert_non_null(p);
    assert_non_null(g);
    assert_non_null(m);
    assert_non_null(v);
    long double wsq = 0, usq = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)((double)(i % 97) / 97.0 - 0.5);
        g[i] = (float)((double)(i % 13) / 13.0 - 0.25);
        const long double mi = 0.1L * g[i], vi = 0.001L * g[i] * g[i];
        const long double ui = mi / (sqrtl(vi) + 1e-8L) + 0.01L * p[i];
        wsq += (long double)p[i] * p[i];
        usq += ui * ui;
    }
    const long double coeff = sqrtl(wsq) / sqrtl(usq);
    const long double step_size = 1e-3L * sqrtl(0.001L) / 0.1L;
    const long double u7 = 0.1L * g[7] / (sqrtl(0.001L * g[7] * g[7]) + 1e-8L) + 0.01L * p[7];
    const long double expect7 = p[7] - step_size * coeff * u7;
    float *state[2] = {m, v};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    hp.weight_decay = 0.01;
    const zs_optim_step s = {.step = 1, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999};
    zs_optim_fused_lamb.step(&hp, &s, p, g, state, n);
    assert_close((double)expect7, p[7], 1e-5);
    free(p);
    free(g);
    free(m);
    free(v);
}

/* Under ZeRO each rank steps its own partition: the trust ratio is per partition, so splitting the
 * same eight elements over two ranks changes the result. */
static void test_trust_ratio_is_per_partition(void **unused)
{
    (void)unused;
    const float p0[8] = {1, 1, 1, 1, 5, 5, 5, 5}, g[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    zs_optimizer_config hp = optim_test_hp(ZS_OPT_LAMB);
    optim_fixture one_rank, rank0, rank1;
    optim_fixture_init(&one_rank, p0, 8);
    optim_fixture_init(&rank0, p0, 4);
    optim_fixture_init(&rank1, p0 + 4, 4);
    optim_fixture_step(&one_rank, &zs_optim_fused_lamb, &hp, 0.01, g);
    optim_fixture_step(&rank0, &zs_optim_fused_lamb, &hp, 0.01, g);
    optim_fixture_step(&rank1, &zs_optim_fused_lamb, &hp, 0.01, g + 4);
    /* one partition: ratio sqrt(4 + 100)/sqrt(80); two: 2/sqrt(40) and 10/sqrt(40) */
    assert_close(1.0 - 0.01 * sqrt(104.0 / 80.0), one_rank.param[0], 1e-6);
    assert_close(1.0 - 0.01 * (2.0 / sqrt(40.0)) * 1.0, rank0.param[0], 1e-6);
    assert_close(5.0 - 0.01 * (10.0 / sqrt(40.0)), rank1.param[0], 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_kernel_order),
        cmocka_unit_test(test_close_to_long_double_lamb),
        cmocka_unit_test(test_trust_ratio_clamps),
        cmocka_unit_test(test_zero_norms_give_coefficient_one),
        cmocka_unit_test(test_norm_uses_kernel_reduction_tree),
        cmocka_unit_test(test_many_blocks_close_to_long_double),
        cmocka_unit_test(test_trust_ratio_is_per_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
