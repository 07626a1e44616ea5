/* The composed model: parameter table (names, order, shapes, offsets), causality, the tied head,
 * a whole-model gradient check, and low-precision rounding of activations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "precision.h"
#include "rng.h"

static zs_model_dims tiny(void)
{
    return (zs_model_dims){.vocab = 97, .seq = 16, .channels = 32, .layers = 2, .heads = 4};
}

static void parameter_table_matches_hugging_face(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    assert_int_equal(zs_gpt2_init(&m, tiny(), &err), 0);
    /* V*C + T*C + L*(12C^2 + 13C) + 2C */
    assert_int_equal(m.numel, 97 * 32 + 16 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32);
    assert_int_equal(m.numel, 29088);
    assert_int_equal(m.n_params, 2 + 12 * 2 + 2);
    const char *expect[] = {"wte", "wpe", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.c_attn.weight",
                            "h.0.attn.c_attn.bias", "h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias",
                            "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.mlp.c_fc.weight", "h.0.mlp.c_fc.bias",
                            "h.0.mlp.c_proj.weight", "h.0.mlp.c_proj.bias"};
    for (int i = 0; i < 14; i++)
        assert_string_equal(m.params[i].name, expect[i]);
    assert_string_equal(m.params[m.n_params - 1].name, "ln_f.bias");
    const zs_gpt2_param *qkv = zs_gpt2_find(&m, "h.1.attn.c_attn.weight");
    assert_non_null(qkv);
    assert_int_equal(qkv->shape[0], 32);      /* Conv1D layout [in, out] */
    assert_int_equal(qkv->shape[1], 96);
    assert_int_equal(zs_gpt2_find(&m, "h.1.mlp.c_proj.weight")->init, ZS_INIT_NORMAL_PROJ);
    assert_int_equal(zs_gpt2_find(&m, "ln_f.weight")->init, ZS_INIT_ONE);
    size_t offset = 0;
    for (int i = 0; i < m.n_params; i++) {
        assert_int_equal(m.params[i].offset, offset);
        offset += m.params[i].numel;
    }
    assert_null(zs_gpt2_find(&m, "lm_head.weight"));   /* tied: no separate head */
    zs_gpt2_free(&m);
}

static void rejects_bad_dimensions(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    zs_model_dims d = tiny();
    d.heads = 5;
    assert_int_equal(zs_gpt2_init(&m, d, &err), -1);
    assert_non_null(strstr(err.msg, "divisible by model.heads"));
    d = tiny();
    d.vocab = 0;
    assert_int_equal(zs_gpt2_init(&m, d, &err), -1);
    assert_non_null(strstr(err.msg, "model.vocab"));
}

/* Parameters with the spec's init plus a small perturbation of LayerNorm/bias values so that no
 * gradient is structurally zero. */
static float *init_params(const zs_gpt2 *m)
{
    float *p = malloc(m->numel * sizeof(float));
    for (int i = 0; i < m->n_params; i++) {
        const zs_gpt2_param *prm = &m->params[i];
        for (size_t j = 0; j < prm->numel; j++) {
            double base = prm->init == ZS_INIT_ONE ? 1.0 : 0.0;
            double std = prm->init == ZS_INIT_NORMAL_PROJ ? 0.05 : 0.1;
            p[prm->offset + j] = (float)(base + std * zs_rng_normal(zs_rng_key(99, (uint64_t)i), j));
        }
    }
    return p;
}

static void tokens(const zs_model_dims *d, int B, int *in, int *tg)
{
    for (int b = 0; b < B; b++)
        zs_rng_sequence(7, 0, (uint64_t)b, d, in + b * d->seq, tg + b * d->seq);
}

/* Changing a future input token must not change the losses of earlier positions, bit for bit. */
static void attention_is_causal(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    zs_model_dims d = tiny();
    assert_int_equal(zs_gpt2_init(&m, d, &err), 0);
    float *p = init_params(&m);
    zs_gpt2_acts *a = zs_gpt2_acts_new(&m, 1);
    int in[16], tg[16], in2[16];
    float before[16];
    tokens(&d, 1, in, tg);
    zs_gpt2_forward(&m, a, p, in, tg, 1, ZS_F32);
    memcpy(before, zs_gpt2_position_losses(a), sizeof before);
    memcpy(in2, in, sizeof in);
    in2[10] = (in[10] + 1) % 97;
    zs_gpt2_forward(&m, a, p, in2, tg, 1, ZS_F32);
    const float *after = zs_gpt2_position_losses(a);
    for (int t = 0; t < 10; t++)
        assert_true(after[t] == before[t]);
    assert_true(after[10] != before[10]);
    assert_true(after[15] != before[15]);   /* later positions attend to position 10 */
    zs_gpt2_acts_free(a);
    free(p);
    zs_gpt2_free(&m);
}

/* The gradient along a direction, compared with the central difference of the fp32 loss. For each
 * parameter tensor, the direction is that tensor's own gradient (so the directional derivative is
 * |g_p|^2 / |g_p| = |g_p|, as large as possible relative to fp32 noise), with step
 * h = min(1e-2 / |g_p|, 3e-2): large enough that fp32 noise in the loss (~5e-7 relative) stays below
 * ~1e-3 of the difference, small enough to stay in the linear regime. Wiring errors (a missing or
 * doubled contribution) are O(1). Tolerance 2%; the worst tensor measured 2026-11-23 was printed
 * below its bound by the test (see its output). */
static void whole_model_gradient_matches_finite_differences(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    zs_model_dims d = {.vocab = 23, .seq = 6, .channels = 8, .layers = 2, .heads = 2};
    assert_int_equal(zs_gpt2_init(&m, d, &err), 0);
    const int B = 3;
    float *p = init_params(&m), *g = malloc(m.numel * sizeof(float)), *q = malloc(m.numel * sizeof(float));
    zs_gpt2_acts *a = zs_gpt2_acts_new(&m, B);
    int in[18], tg[18];
    tokens(&d, B, in, tg);
    zs_gpt2_forward(&m, a, p, in, tg, B, ZS_F32);
    zs_gpt2_backward(&m, a, p, g, 1.0f, ZS_F32);
    double worst = 0;
    for (int i = 0; i < m.n_params; i++) {
        const zs_gpt2_param *prm = &m.params[i];
        double norm = 0;
        for (size_t j = 0; j < prm->numel; j++)
            norm += (double)g[prm->offset + j] * g[prm->offset + j];
        norm = sqrt(norm);
        assert_true(norm > 1e-4);   /* no tensor is left without gradient */
        double h = fmin(1e-2 / norm, 3e-2);   /* large enough for fp32, small enough to stay linear */
        double fd[2];
        for (int s = 0; s < 2; s++) {
            memcpy(q, p, m.numel * sizeof(float));
            for (size_t j = 0; j < prm->numel; j++)
                q[prm->offset + j] = (float)(p[prm->offset + j] + (s ? -h : h) * g[prm->offset + j] / norm);
            fd[s] = zs_gpt2_forward(&m, a, q, in, tg, B, ZS_F32);
        }
        double numeric = (fd[0] - fd[1]) / (2 * h);
        worst = fmax(worst, fabs(numeric - norm) / norm);
        if (fabs(numeric - norm) > 0.02 * norm)
            fail_msg("%s: directional derivative %.6g, finite difference %.6g", prm->name, norm, numeric);
    }
    print_message("worst relative difference over all tensors: %.3g (bound 0.02)\n", worst);
    zs_gpt2_acts_free(a);
    free(p);
    free(g);
    free(q);
    zs_gpt2_free(&m);
}

/* backward(dloss) is linear in dloss and overwrites its output. */
static void backward_scales_with_dloss_and_overwrites(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    zs_model_dims d = {.vocab = 11, .seq = 4, .channels = 8, .layers = 1, .heads = 2};
    assert_int_equal(zs_gpt2_init(&m, d, &err), 0);
    float *p = init_params(&m), *g1 = malloc(m.numel * sizeof(float)), *g4 = malloc(m.numel * sizeof(float));
    zs_gpt2_acts *a = zs_gpt2_acts_new(&m, 2);
    int in[8], tg[8];
    tokens(&d, 2, in, tg);
    zs_gpt2_forward(&m, a, p, in, tg, 2, ZS_F32);
    zs_gpt2_backward(&m, a, p, g1, 1.0f, ZS_F32);
    for (size_t i = 0; i < m.numel; i++)
        g4[i] = 12345.0f;   /* garbage that must be overwritten */
    zs_gpt2_backward(&m, a, p, g4, 4.0f, ZS_F32);
    for (size_t i = 0; i < m.numel; i++)
        assert_true(g4[i] == 4.0f * g1[i]);   /* powers of two scale exactly */
    zs_gpt2_acts_free(a);
    free(p);
    free(g1);
    free(g4);
    zs_gpt2_free(&m);
}

/* In fp16/bf16 mode the loss differs slightly from fp32 and gradients are still finite; the
 * rounding points are exercised (a mode that forgot to round would give the fp32 loss exactly). */
static void low_precision_activations_round(void **state)
{
    (void)state;
    zs_gpt2 m;
    zs_error err = {{0}};
    zs_model_dims d = tiny();
    assert_int_equal(zs_gpt2_init(&m, d, &err), 0);
    float *p = init_params(&m);
    zs_round_array(ZS_BF16, p, m.numel);   /* bf16 weights, so fp16 inputs are representable too */
    zs_gpt2_acts *a = zs_gpt2_acts_new(&m, 2);
    int in[32], tg[32];
    tokens(&d, 2, in, tg);
    float l32 = zs_gpt2_forward(&m, a, p, in, tg, 2, ZS_F32);
    float l16 = zs_gpt2_forward(&m, a, p, in, tg, 2, ZS_F16);
    float lbf = zs_gpt2_forward(&m, a, p, in, tg, 2, ZS_BF16);
    assert_true(l16 != l32 && lbf != l32);
    assert_true(fabsf(l16 - l32) < 1e-2f * l32);
    assert_true(fabsf(lbf - l32) < 5e-2f * l32);
    zs_gpt2_acts_free(a);
    free(p);
    zs_gpt2_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parameter_table_matches_hugging_face),
        cmocka_unit_test(rejects_bad_dimensions),
        cmocka_unit_test(attention_is_causal),
        cmocka_unit_test(whole_model_gradient_matches_finite_differences),
        cmocka_unit_test(backward_scales_with_dloss_and_overwrites),
        cmocka_unit_test(low_precision_activations_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
