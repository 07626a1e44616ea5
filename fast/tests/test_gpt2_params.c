/* zs-fast's GPT-2 parameter table (fast/gpt2_params.c): HF names, order, shapes, init rules. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gpt2_params.h"

static void test_default_model_table(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    assert_int_equal(zsf_params_build(&t, zs_model_dims_default(), &err), 0);
    assert_int_equal(t.n, 2 + 12 * 2 + 2);
    assert_int_equal(t.numel, 29088);   /* docs/spec.md §5 */
    const char *names[] = {"wte", "wpe", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.c_attn.weight",
                           "h.0.attn.c_attn.bias", "h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias",
                           "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.mlp.c_fc.weight", "h.0.mlp.c_fc.bias",
                           "h.0.mlp.c_proj.weight", "h.0.mlp.c_proj.bias", "h.1.ln_1.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(t.p[i].name, names[i]);
    assert_string_equal(zsf_param_lnf_w(&t)->name, "ln_f.weight");
    assert_string_equal(zsf_param_lnf_b(&t)->name, "ln_f.bias");
    const zsf_param *qkv = zsf_param_layer(&t, 1, ZSF_QKVW);
    assert_string_equal(qkv->name, "h.1.attn.c_attn.weight");
    assert_int_equal(qkv->ndim, 2);
    assert_int_equal(qkv->shape[0], 32);   /* Conv1D [in, out] */
    assert_int_equal(qkv->shape[1], 96);
    assert_int_equal(zsf_param_layer(&t, 0, ZSF_FCPROJW)->shape[0], 128);
    assert_int_equal(zsf_param_wte(&t)->shape[0], 97);
    size_t offset = 0;
    for (int i = 0; i < t.n; i++) {
        assert_int_equal(t.p[i].offset, offset);
        assert_int_equal(zsf_param_of(&t, offset), i);
        assert_int_equal(zsf_param_of(&t, offset + t.p[i].numel - 1), i);
        offset += t.p[i].numel;
    }
    assert_int_equal(zsf_param_of(&t, t.numel), -1);
    zsf_params_free(&t);
}

static void test_init_rules(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    zs_model_dims d = {.vocab = 13, .seq = 4, .channels = 8, .layers = 3, .heads = 2};
    assert_int_equal(zsf_params_build(&t, d, &err), 0);
    assert_int_equal(zsf_param_layer(&t, 2, ZSF_LN1W)->init, ZSF_INIT_ONE);
    assert_int_equal(zsf_param_layer(&t, 2, ZSF_FCB)->init, ZSF_INIT_ZERO);
    assert_true(zsf_param_init_std(zsf_param_wpe(&t), 3) == 0.02);
    assert_true(zsf_param_init_std(zsf_param_layer(&t, 0, ZSF_ATTPROJW), 3) == 0.02 / sqrt(6.0));
    assert_true(zsf_param_init_std(zsf_param_layer(&t, 0, ZSF_FCPROJW), 3) == 0.02 / sqrt(6.0));
    assert_true(zsf_param_init_std(zsf_param_layer(&t, 0, ZSF_LN2B), 3) == 0.0);
    zsf_params_free(&t);
}

static void test_bad_dimensions(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    zs_model_dims d = {.vocab = 13, .seq = 4, .channels = 10, .layers = 1, .heads = 4};
    assert_int_equal(zsf_params_build(&t, d, &err), -1);
    assert_non_null(strstr(err.msg, "divisible"));
    d.channels = 8;
    d.seq = 0;
    assert_int_equal(zsf_params_build(&t, d, &err), -1);
    assert_non_null(strstr(err.msg, "model.seq"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model_table),
        cmocka_unit_test(test_init_rules),
        cmocka_unit_test(test_bad_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
