/* Muon (reference/muon/, reference/optim/muon_adam.c): the Newton-Schulz iterations with their
 * fp16/bf16 rounding, muon_update's momentum/nesterov/aspect scale, the auxiliary Adam and the
 * muon group's step, the use_muon rule and the group order (docs/spec/optimizers.md §8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "muon/muon.h"
#include "optim/optimizer.h"
#include "partition.h"
#include "precision.h"
#include "rng.h"

/* Expected NS outputs of small matrices, from an independent Python emulation of the spec (struct
 * 'e' for fp16, bit rounding for bf16, a float32 left fold for every matmul). */
static const float G23[] = {1.0f, 2.0f, 0.5f, -1.0f, 0.25f, 3.0f};
static const float G32[] = {1.0f, -1.0f, 2.0f, 0.5f, 0.0f, 3.0f};
static const float G22[] = {2.0f, 1.0f, 1.0f, 3.0f};

static void check_ns(zs_ns_method m, const float *G, int rows, int cols, const float *want)
{
    float out[6];
    assert_int_equal(zs_newton_schulz(m, G, rows, cols, ZS_NS_STEPS, out), 0);
    for (int i = 0; i < rows * cols; i++)
        assert_true(out[i] == want[i]);
}

static void test_ns_small_matrices(void **unused)
{
    (void)unused;
    check_ns(ZS_NS_GRAM, G23, 2, 3, (const float[]){0.295410156f, 0.611816406f, 0.1796875f, -0.344238281f,
                                                    0.106018066f, 1.06347656f});
    check_ns(ZS_NS_STANDARD, G23, 2, 3, (const float[]){0.2890625f, 0.609375f, 0.16796875f, -0.3359375f,
                                                        0.0908203125f, 1.0625f});
    check_ns(ZS_NS_GRAM, G32, 3, 2, (const float[]){0.305419922f, -0.354980469f, 0.610839844f, 0.177490234f,
                                                    0.0f, 1.06445312f});
    check_ns(ZS_NS_STANDARD, G32, 3, 2, (const float[]){0.3125f, -0.34765625f, 0.625f, 0.173828125f, 0.0f,
                                                        1.046875f});
    /* square: "gram" runs the standard iteration, in fp16 */
    check_ns(ZS_NS_GRAM, G22, 2, 2, (const float[]){0.970703125f, -0.143066406f, -0.14453125f, 0.828125f});
    check_ns(ZS_NS_STANDARD, G22, 2, 2, (const float[]){0.953125f, -0.13671875f, -0.1328125f, 0.84375f});
}

/* One standard iteration on the 1 x 1 matrix [1], by hand in bf16: X = 1/(1 + 1e-7) = 1;
 * A = 1; c*A = 2.03125 (bf16 of 2.0315); (cA)A = 2.03125; b*A = -4.78125 (bf16 of -4.775);
 * B = -2.75; a*X = 3.4375 (bf16 of 3.4445); X = 3.4375 - 2.75 = 0.6875. */
static void test_ns_one_step_by_hand(void **unused)
{
    (void)unused;
    float one = 1.0f, out;
    assert_int_equal(zs_newton_schulz(ZS_NS_STANDARD, &one, 1, 1, 1, &out), 0);
    assert_true(out == 0.6875f);
}

/* Products are exact, the sum is a float32 left fold, and only the result rounds to fp16/bf16. */
static void test_matmul_rounding(void **unused)
{
    (void)unused;
    const float a[] = {1.0f, 0.00390625f /* 2^-8 */, 0.001953125f /* 2^-9 */}, ones[] = {1.0f, 1.0f, 1.0f};
    float c;
    zs_ns_matmul(ZS_BF16, a, ones, 0, &c, 1, 2, 1);   /* 1 + 2^-8: a tie in bf16 (ulp 2^-7), to even */
    assert_true(c == 1.0f);
    zs_ns_matmul(ZS_BF16, a, ones, 0, &c, 1, 3, 1);   /* 1 + 2^-8 + 2^-9 in fp32, then one bf16 ulp up */
    assert_true(c == 1.0078125f);
    zs_ns_matmul(ZS_F16, a, ones, 0, &c, 1, 3, 1);    /* fp16 (ulp 2^-10) keeps it exactly */
    assert_true(c == 1.005859375f);
    const float big[] = {65504.0f, 65504.0f}, x[] = {1.0f, -1.0f};
    zs_ns_matmul(ZS_F16, big, x, 0, &c, 1, 2, 1);     /* the fp32 accumulator does not overflow fp16 */
    assert_true(c == 0.0f);
    const float X[] = {1.0f, 2.0f, 3.0f, 4.0f};       /* b_transposed: X @ X^T */
    float XXt[4];
    zs_ns_matmul(ZS_F32, X, X, 1, XXt, 2, 2, 2);
    assert_true(XXt[0] == 5.0f && XXt[1] == 11.0f && XXt[2] == 11.0f && XXt[3] == 25.0f);
}

/* Symmetric eigenvalues by cyclic Jacobi (double), for the singular values of an orthogonalised X. */
static void jacobi_eigen(double *S, int n, double *eig)
{
    for (int sweep = 0; sweep < 60; sweep++)
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = S[p * n + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double theta = (S[q * n + q] - S[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) {
                    double skp = S[k * n + p], skq = S[k * n + q];
                    S[k * n + p] = c * skp - s * skq;
                    S[k * n + q] = s * skp + c * skq;
                }
                for (int k = 0; k < n; k++) {
                    double spk = S[p * n + k], sqk = S[q * n + k];
                    S[p * n + k] = c * spk - s * sqk;
                    S[q * n + k] = s * spk + c * sqk;
                }
            }
    for (int i = 0; i < n; i++)
        eig[i] = S[i * n + i];
}

/* DeepSpeed's docstring: the quintic gives U S' V^T with S' roughly in (0.5, 1.5) rather than
 * exactly 1. A random 8 x 32 matrix (and its transpose): every singular value within [0.5, 1.5]. */
static void test_singular_values_near_one(void **unused)
{
    (void)unused;
    enum { R = 8, C = 32 };
    static float G[R * C], U[R * C];
    for (int i = 0; i < R * C; i++)
        G[i] = zs_rng_init_value(7, 0, (uint64_t)i, 1.0);
    for (int m = 0; m < 2; m++) {
        for (int tall = 0; tall < 2; tall++) {
            int rows = tall ? C : R, cols = tall ? R : C;
            assert_int_equal(zs_newton_schulz((zs_ns_method)m, G, rows, cols, ZS_NS_STEPS, U), 0);
            double S[R * R], eig[R];   /* the small Gram matrix: U U^T (wide) or U^T U (tall) */
            for (int i = 0; i < R; i++)
                for (int j = 0; j < R; j++) {
                    double acc = 0;
                    for (int k = 0; k < C; k++)
                        acc += tall ? (double)U[k * R + i] * U[k * R + j] : (double)U[i * C + k] * U[j * C + k];
                    S[i * R + j] = acc;
                }
            jacobi_eigen(S, R, eig);
            for (int i = 0; i < R; i++) {
                double sv = sqrt(eig[i]);
                if (sv < 0.5 || sv > 1.5)
                    fail_msg("method %d tall %d: singular value %g", m, tall, sv);
            }
        }
    }
}

/* muon_update: M = lerp(M, G, 0.05); U = lerp(G, M, 0.95) (nesterov); U' = NS(U) * sqrt(3/2) for a
 * 3 x 2 parameter; fp32 model, so U' holds the NS dtype's values scaled in that dtype. */
static void test_muon_update_momentum_nesterov_scale(void **unused)
{
    (void)unused;
    float G[6], M[6] = {0.5f, 0.0f, -1.0f, 2.0f, 0.25f, 1.0f}, M0[6], U[6], want[6];
    memcpy(G, G32, sizeof G);
    memcpy(M0, M, sizeof M);
    assert_int_equal(zs_muon_update(ZS_F32, G, M, 3, 2, 0.95, ZS_NS_STANDARD), 0);
    const float w = (float)(1.0 - 0.95), b = (float)0.95;
    for (int i = 0; i < 6; i++) {
        float m = M0[i] + w * (G32[i] - M0[i]);                  /* weight < 0.5 form */
        assert_true(M[i] == m);
        U[i] = m - (m - G32[i]) * (1.0f - b);                     /* weight >= 0.5 form */
    }
    assert_int_equal(zs_newton_schulz(ZS_NS_STANDARD, U, 3, 2, ZS_NS_STEPS, want), 0);
    const float s = (float)sqrt(1.5);
    for (int i = 0; i < 6; i++)
        assert_true(G[i] == zs_round_to(ZS_BF16, want[i] * s));
    /* a wide matrix has no scale; in a bf16 model the momentum holds bf16 values */
    float G2[6], M2[6] = {0};
    memcpy(G2, G23, sizeof G2);
    assert_int_equal(zs_muon_update(ZS_BF16, G2, M2, 2, 3, 0.9, ZS_NS_GRAM), 0);
    for (int i = 0; i < 6; i++)
        assert_true(M2[i] == zs_round_to(ZS_BF16, M2[i]) && G2[i] == zs_round_to(ZS_BF16, G2[i]));
}

/* Aux Adam, step 1, by hand: g = 0.5, b = (0.9, 0.95), eps 1e-10, lr 0.01, wd 0.1, p = 1:
 * m = 0.1*0.5 = 0.05, v = 0.05*0.25 = 0.0125, m/bc1 = 0.5, v/bc2 = 0.25, u = 0.5/0.5 = 1 (to float
 * rounding), p = 1*(1 - 0.001) - 0.01*1 = 0.989. */
static void test_aux_adam_by_hand(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = {.type = ZS_OPT_MUON, .betas = {0.9, 0.95}, .eps = 1e-10, .weight_decay = 0.1};
    zs_optim_step st = {.step = 1, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.95};
    float p = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f, *state[] = {&m, &v};
    zs_optim_muon_aux_adam.step(&hp, &st, &p, &g, state, 1);
    assert_float_equal(m, 0.05f, 1e-9);
    assert_float_equal(v, 0.0125f, 1e-10);
    assert_float_equal(p, 0.989f, 2e-7);
    /* the written-out order: lerps, reciprocal multiplies, decay then the step */
    float m2 = 0.0f + (float)(1.0 - 0.9) * (0.5f - 0.0f), v2 = 0.0f + (float)(1.0 - 0.95) * (0.25f - 0.0f);
    float u = (m2 * (1.0f / (float)(1.0 - 0.9))) / (sqrtf(v2 * (1.0f / (float)(1.0 - 0.95))) + (float)1e-10);
    float p2 = 1.0f * (float)(1.0 - 0.01 * 0.1);
    p2 = p2 + (float)-0.01 * u;
    assert_true(p == p2 && m == m2 && v == v2);
    assert_string_equal(zs_optim_muon_aux_adam.state_names[0], "exp_avg");
    assert_int_equal(zs_optim_muon_aux_adam.has_betas, 0);
}

/* The muon group's inner step: p = p*(1 - lr*wd) - lr*g with the already orthogonalised g. */
static void test_muon_group_step(void **unused)
{
    (void)unused;
    zs_optimizer_config hp = {.type = ZS_OPT_MUON, .weight_decay = 0.5};
    zs_optim_step st = {.step = 3, .lr = 0.1};
    float p[] = {1.0f, -2.0f}, g[] = {0.5f, 0.25f};
    zs_optim_muon_matrix.step(&hp, &st, p, g, NULL, 2);
    assert_float_equal(p[0], 0.9f, 1e-7);      /* 0.95 - 0.05 */
    assert_float_equal(p[1], -1.925f, 1e-7);   /* -1.9 - 0.025 */
    assert_int_equal(zs_optim_muon_matrix.n_state, 0);
    zs_optimizer_config muon = {.type = ZS_OPT_MUON};
    assert_ptr_equal(zs_optim_ops_for(&muon), &zs_optim_muon_aux_adam);
    assert_ptr_equal(zs_optim_matrix_ops_for(&muon), &zs_optim_muon_matrix);
    zs_optimizer_config adam = {.type = ZS_OPT_ADAMW};
    assert_null(zs_optim_matrix_ops_for(&adam));
}

/* use_muon (deepspeed/__init__.py set_optimizer_flags) and the sorted muon group (by torch.Size,
 * descending, stable), then the rest in model order. */
static void test_groups_and_order(void **unused)
{
    (void)unused;
    zs_gpt2 model;
    zs_error err = {{0}};
    assert_int_equal(zs_gpt2_init(&model, (zs_model_dims){.vocab = 13, .seq = 4, .channels = 8, .layers = 2,
                                                          .heads = 2}, &err), 0);
    int order[64];
    int n_muon = zs_muon_param_order(&model, order);
    assert_int_equal(n_muon, 2 + 4 * 2);   /* wte, wpe and four weights per layer */
    const char *want[] = {"h.0.mlp.c_proj.weight", "h.1.mlp.c_proj.weight", "wte", "h.0.mlp.c_fc.weight",
                          "h.1.mlp.c_fc.weight", "h.0.attn.c_attn.weight", "h.1.attn.c_attn.weight",
                          "h.0.attn.c_proj.weight", "h.1.attn.c_proj.weight", "wpe"};
    for (int k = 0; k < n_muon; k++)
        assert_string_equal(model.params[order[k]].name, want[k]);
    assert_string_equal(model.params[order[n_muon]].name, "h.0.ln_1.weight");
    assert_string_equal(model.params[order[model.n_params - 1]].name, "ln_f.bias");
    zs_gpt2_param embed = {.name = "tok_embeddings", .ndim = 2}, head = {.name = "LM_HEAD.weight", .ndim = 2};
    assert_false(zs_muon_uses_muon(&embed));
    assert_false(zs_muon_uses_muon(&head));
    zs_gpt2_free(&model);
}

/* Two groups, each padded to 2W and cut into W pieces; a rank's partition is its piece of each. */
static void test_grouped_partition(void **unused)
{
    (void)unused;
    const size_t sizes[] = {3, 5, 2};   /* model offsets 0, 3, 8 */
    const int order[] = {1, 0, 2}, counts[] = {2, 1};
    zs_partition p;
    assert_int_equal(zs_partition_init_grouped(&p, 1, 2, sizes, 3, order, counts, 2), 0);
    assert_int_equal(p.n_groups, 2);
    assert_int_equal(p.group_len[0], 4);   /* 8 elements -> 8 */
    assert_int_equal(p.group_len[1], 2);   /* 2 elements -> 4 */
    assert_int_equal(p.len, 6);
    /* group 0 flat: param 1 (model 3..7), param 0 (model 0..2); group 1: param 2 (model 8, 9), pad */
    const int64_t want[2][6] = {{3, 4, 5, 6, 8, 9}, {7, 0, 1, 2, -1, -1}};
    for (int r = 0; r < 2; r++)
        for (size_t j = 0; j < 6; j++)
            assert_int_equal(zs_partition_model_index(&p, r, j), want[r][j]);
    zs_partition_free(&p);
    assert_int_equal(zs_partition_init_grouped(&p, 0, 2, sizes, 3, order, counts, 2), 0);
    assert_int_equal(p.n_groups, 1);   /* stage 0: no sharding, model order */
    assert_int_equal(zs_partition_model_index(&p, 1, 4), 4);
    zs_partition_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_small_matrices),
        cmocka_unit_test(test_ns_one_step_by_hand),
        cmocka_unit_test(test_matmul_rounding),
        cmocka_unit_test(test_singular_values_near_one),
        cmocka_unit_test(test_muon_update_momentum_nesterov_scale),
        cmocka_unit_test(test_aux_adam_by_hand),
        cmocka_unit_test(test_muon_group_step),
        cmocka_unit_test(test_groups_and_order),
        cmocka_unit_test(test_grouped_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
