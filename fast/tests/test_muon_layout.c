/* Muon's groups, grouped ZeRO-1/2 layout and momentum layout (fast/muon_layout.c), checked against
 * docs/spec/optimizers.md §8a.1-8a.3 and against zs-ref's traces of the opt_muon_* cases (the committed
 * fixtures): partition lengths, where every model element lies (assembling the traced master
 * partitions must give the traced parameters), and each rank's momentum_buffer length; plus Muon's
 * element arithmetic (fast/muon_math.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpt2_params.h"
#include "muon_layout.h"
#include "muon_math.h"
#include "zerospec/case.h"
#include "zerospec/safetensors.h"

static void case_params(const char *name, zsf_params *t, int *stage)
{
    char path[512];
    snprintf(path, sizeof path, "%s/conformance/cases/%s.json", ZS_SOURCE_DIR, name);
    zs_case kase;
    zs_error err = {{0}};
    assert_int_equal(zs_case_load(path, &kase, &err), 0);
    assert_int_equal(zsf_params_build(t, kase.model, &err), 0);
    *stage = kase.config.zero.stage;
    zs_case_free(&kase);
}

/* §8a.1: every 2-D weight, sorted by shape descending (stably), then the rest in model order. */
static void test_groups_and_order(void **state)
{
    (void)state;
    zsf_params t;
    int stage;
    case_params("opt_muon_zero2", &t, &stage);
    int order[64];
    const int n_muon = zsf_muon_order(&t, order);
    const char *const want[] = {"h.0.mlp.c_proj.weight", "wte", "h.0.mlp.c_fc.weight", "h.0.attn.c_attn.weight",
                                "h.0.attn.c_proj.weight", "wpe"};
    assert_int_equal(n_muon, 6);
    for (int k = 0; k < n_muon; k++)
        assert_string_equal(t.p[order[k]].name, want[k]);
    for (int k = n_muon + 1; k < t.n; k++)   /* the Adam group keeps model order */
        assert_true(order[k] > order[k - 1] && !zsf_muon_uses(&t.p[order[k]]));
    zsf_param lm = t.p[order[0]];
    snprintf(lm.name, sizeof lm.name, "LM_Head.weight");   /* the name rule is case-insensitive */
    assert_false(zsf_muon_uses(&lm));
    snprintf(lm.name, sizeof lm.name, "embed_tokens");
    assert_false(zsf_muon_uses(&lm));
    zsf_params_free(&t);
}

static const float *tensor_f32(const zs_st_file *f, const char *name, size_t *n)
{
    const zs_st_tensor *x = zs_st_find(f, name);
    if (!x)
        return NULL;
    assert_int_equal(x->dtype, ZS_F32);
    *n = x->numel;
    return (const float *)x->data;
}

/* One fixture: the layout reproduces zs-ref's partition lengths, its element placement (assembled
 * masters = traced parameters, bit for bit) and its momentum_buffer lengths. */
static void check_fixture(const char *name, int world)
{
    zsf_params t;
    int stage;
    case_params(name, &t, &stage);
    char path[512], key[128];
    snprintf(path, sizeof path, "%s/fixtures/%s/w%d.safetensors", ZS_SOURCE_DIR, name, world);
    zs_st_file f;
    zs_error err = {{0}};
    assert_int_equal(zs_st_read_file(path, &f, &err), 0);
    zsf_partition p;
    assert_int_equal(zsf_muon_partition_init(&p, &t, stage, world, &err), 0);
    const float *parts[8];
    for (int r = 0; r < world; r++) {
        size_t n = 0;
        snprintf(key, sizeof key, "step1/rank%d/master", r);
        assert_non_null(parts[r] = tensor_f32(&f, key, &n));
        assert_int_equal(n, p.len);
        zsf_muon_plan plan;
        if (stage > 0) {
            assert_int_equal(zsf_muon_plan_init(&plan, &t, &p, r, &err), 0);
            snprintf(key, sizeof key, "step1/rank%d/momentum_buffer", r);
            const float *mb = tensor_f32(&f, key, &n);
            assert_int_equal(mb ? n : 0, plan.buf_len);
            zsf_muon_plan_free(&plan);
        }
    }
    float *full = calloc(t.numel, sizeof(float));
    assert_non_null(full);
    zsf_partition_assemble(&p, parts, full);
    for (int q = 0; q < t.n; q++) {
        size_t n = 0;
        snprintf(key, sizeof key, "step1/param/%s", t.p[q].name);
        const float *want = tensor_f32(&f, key, &n);
        assert_non_null(want);
        assert_int_equal(n, t.p[q].numel);
        assert_memory_equal(full + t.p[q].offset, want, n * sizeof(float));
    }
    free(full);
    zsf_partition_free(&p);
    zs_st_file_free(&f);
    zsf_params_free(&t);
}

static void test_layout_matches_zs_ref(void **state)
{
    (void)state;
    for (int w = 1; w <= 3; w++) {
        check_fixture("opt_muon_zero0", w);
        check_fixture("opt_muon_zero1", w);
        check_fixture("opt_muon_zero2", w);
    }
    check_fixture("opt_muon_standard_bf16_zero2", 2);
    check_fixture("opt_muon_standard_bf16_zero2", 3);
}

/* §8a.3: W = 3 of the tiny model, by hand. The muon group's flat buffer holds mlp.c_proj (256), wte
 * (104), c_fc (256), c_attn (192), attn.c_proj (64), wpe (32): 904 elements, pieces of 302. Rank 0
 * [0, 302): mlp.c_proj and wte; rank 1 [302, 604): wte and c_fc; rank 2: c_fc, c_attn, attn.c_proj, wpe. */
static void test_momentum_plan_by_hand(void **state)
{
    (void)state;
    zsf_params t;
    int stage;
    case_params("opt_muon_zero2", &t, &stage);
    zsf_partition p;
    zs_error err = {{0}};
    assert_int_equal(zsf_muon_partition_init(&p, &t, 2, 3, &err), 0);
    assert_int_equal(p.n_groups, 2);
    assert_int_equal(p.group_len[0], 302);
    assert_int_equal(p.group_offset[1], 302);
    const size_t want_len[3] = {360, 360, 544}, want_n[3] = {2, 2, 4};
    for (int r = 0; r < 3; r++) {
        zsf_muon_plan plan;
        assert_int_equal(zsf_muon_plan_init(&plan, &t, &p, r, &err), 0);
        assert_int_equal(plan.buf_len, want_len[r]);
        assert_int_equal(plan.n, want_n[r]);
        assert_int_equal(plan.buf_offset[plan.n - 1] + t.p[plan.param[plan.n - 1]].numel, plan.buf_len);
        assert_int_equal(plan.max_square, 64);   /* min(rows, cols) = 8 everywhere */
        zsf_muon_plan_free(&plan);
    }
    zsf_partition_free(&p);
    zsf_params_free(&t);
}

static void test_scope(void **state)
{
    (void)state;
    zs_error err = {{0}};
    assert_int_equal(zsf_muon_check(0, 4, &err), 0);   /* stage 0 accumulates like any optimizer */
    assert_int_equal(zsf_muon_check(2, 1, &err), 0);
    assert_int_equal(zsf_muon_check(3, 1, &err), -1);
    assert_non_null(strstr(err.msg, "stage 3"));
    assert_int_equal(zsf_muon_check(1, 2, &err), -1);
    assert_non_null(strstr(err.msg, "gradient_accumulation_steps 2"));
}

/* §8a.3 / §8a.5 element arithmetic, each op rounded as the spec writes it. */
static void test_element_math(void **state)
{
    (void)state;
    const float w_mom = (float)(1.0 - 0.95), w_nes = 0.95f;
    float g = 0.3f, m = -0.1f;
    zsf_muon_momentum_elem(ZSF_FP32, &g, &m, w_mom, w_nes);
    const float m1 = -0.1f + w_mom * (0.3f - -0.1f);                 /* lerp, weight < 0.5 */
    assert_true(m == m1);
    assert_true(g == m1 - (m1 - 0.3f) * (1.0f - w_nes));             /* lerp, weight >= 0.5 */
    g = 0.3f;
    m = -0.1f;
    zsf_muon_momentum_elem(ZSF_BF16, &g, &m, w_mom, w_nes);
    assert_true(m == zsf_round(ZSF_BF16, m1));                       /* the momentum is in the gradient dtype */
    assert_true(zsf_muon_finish_elem(ZSF_FP32, ZSF_FP16, 1, 2.0f, 0.1f) == zsf_round(ZSF_FP16, 0.2f));
    assert_true(zsf_muon_finish_elem(ZSF_BF16, ZSF_FP16, 0, 2.0f, 0.1f) == zsf_round(ZSF_BF16, 0.1f));

    zs_optimizer_config hp;
    memset(&hp, 0, sizeof hp);
    hp.betas[0] = 0.9;
    hp.betas[1] = 0.95;
    hp.eps = 1e-10;
    hp.weight_decay = 0.01;
    zsf_muon_scalars c;
    zsf_muon_scalars_for(&hp, 2, 0.02, 0.003, &c);
    assert_true(c.decay == (float)(1.0 - 0.02 * 0.01) && c.minus_lr == -0.02f);
    assert_true(c.adam_decay == (float)(1.0 - 0.003 * 0.01) && c.adam_minus_lr == -0.003f);
    assert_true(c.inv_bc1 == 1.0f / (float)(1.0 - 0.9 * 0.9) && c.inv_bc2 == 1.0f / (float)(1.0 - 0.95 * 0.95));
    float p = 0.5f, mm = 0.01f, v = 0.0004f;
    zsf_muon_adam_elem(&c, &p, 0.02f, &mm, &v);
    const float em = 0.01f + c.w1 * (0.02f - 0.01f), ev = 0.0004f + c.w2 * (0.02f * 0.02f - 0.0004f);
    const float u = (em * c.inv_bc1) / (sqrtf(ev * c.inv_bc2) + c.eps);
    assert_true(mm == em && v == ev);
    assert_true(p == 0.5f * c.adam_decay + c.adam_minus_lr * u);
    assert_true(zsf_muon_decayed_step(1.0f, 0.5f, c.decay, c.minus_lr) == 1.0f * c.decay + c.minus_lr * 0.5f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_and_order),
        cmocka_unit_test(test_layout_matches_zs_ref),
        cmocka_unit_test(test_momentum_plan_by_hand),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_element_math),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
