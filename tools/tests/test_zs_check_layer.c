/* zs-check's layer cases (tools/zs_check/plugin_layers.c) on the committed fixtures/ops/layer_gelu file,
 * with in-process plugins: an independent fp64 GELU passes; a wrong kernel, a kernel writing into its
 * input, one that leaves outputs unwritten, and a malformed golden file fail with the element or
 * buffer named; an unsupported layer is skipped. Plus the tolerance's known values. */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <math.h>

#include "zs_check_test_util.h"

#define GELU_FILE ZS_SOURCE_DIR "/fixtures/ops/layer_gelu.safetensors"

static const float *in_buf(const zs_plugin_layer *a, const char *name)
{
    const zs_plugin_buffer *b = zs_plugin_buffer_find(a->in, a->n_in, name);
    assert_non_null(b);
    return b->data;
}

static float *out_buf(const zs_plugin_layer *a, const char *name)
{
    const zs_plugin_buffer *b = zs_plugin_buffer_find(a->out, a->n_out, name);
    assert_non_null(b);
    return b->data;
}

#define SQRT_2_OVER_PI 0.79788456080286535588

static double gelu_u(double x)
{
    return SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
}

/* Correct: GELU in double, rounded once. */
static int gelu_forward(const zs_plugin_layer *a)
{
    const float *x = in_buf(a, "inp");
    float *y = out_buf(a, "out");
    for (int i = 0; i < a->B * a->T * a->C; i++)
        y[i] = (float)(0.5 * x[i] * (1.0 + tanh(gelu_u(x[i]))));
    return ZS_PLUGIN_OK;
}

static int gelu_backward(const zs_plugin_layer *a)
{
    const float *x = in_buf(a, "inp"), *dy = in_buf(a, "dout");
    float *dx = out_buf(a, "dinp");
    for (int i = 0; i < a->B * a->T * a->C; i++) {
        double t = tanh(gelu_u(x[i])), du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * (double)x[i] * x[i]);
        dx[i] = (float)(dy[i] * (0.5 * (1.0 + t) + 0.5 * x[i] * (1.0 - t * t) * du));
    }
    return ZS_PLUGIN_OK;
}

/* Wrong: the erf-free "x * sigmoid(1.702 x)" approximation, close but not the spec's GELU. */
static int gelu_sigmoid(const zs_plugin_layer *a)
{
    const float *x = in_buf(a, "inp");
    float *y = out_buf(a, "out");
    for (int i = 0; i < a->B * a->T * a->C; i++)
        y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
    return ZS_PLUGIN_OK;
}

static int writes_its_input(const zs_plugin_layer *a)
{
    gelu_forward(a);
    ((float *)a->in[0].data)[3] = 0.0f;
    return ZS_PLUGIN_OK;
}

static int writes_nothing(const zs_plugin_layer *a)
{
    (void)a;
    return ZS_PLUGIN_OK;
}

static int unsupported(const zs_plugin_layer *a)
{
    (void)a;
    return ZS_PLUGIN_UNSUPPORTED;
}

/* Runs the gelu file through a plugin with these entries; the report goes to *out (caller frees). */
static zs_plugin_run run_gelu(int (*fwd)(const zs_plugin_layer *), int (*bwd)(const zs_plugin_layer *), char **out)
{
    static zs_plugin p;
    p = (zs_plugin){.abi_version = ZS_PLUGIN_ABI_VERSION, .struct_size = sizeof(zs_plugin),
                    .layer_forward = fwd, .layer_backward = bwd};
    size_t len = 0;
    zs_plugin_run r = {&p, open_memstream(out, &len), 0, 0, 0};
    zs_st_file f;
    zs_error err = {{0}};
    assert_int_equal(zs_st_read_file(GELU_FILE, &f, &err), 0);
    zs_plugin_check_layer(&r, "layer_gelu", &f);
    zs_st_file_free(&f);
    fclose(r.out);
    return r;
}

static void independent_gelu_passes(void **state)
{
    (void)state;
    char *out;
    zs_plugin_run r = run_gelu(gelu_forward, gelu_backward, &out);
    assert_int_equal(r.passed, 4);   /* 2 variants x forward, backward */
    assert_int_equal(r.failed, 0);
    assert_non_null(strstr(out, "PASS layer_gelu b3_t7 backward"));
    assert_non_null(strstr(out, "error/bound"));
    free(out);
}

static void wrong_gelu_fails_with_the_element(void **state)
{
    (void)state;
    char *out;
    zs_plugin_run r = run_gelu(gelu_sigmoid, unsupported, &out);
    assert_int_equal(r.failed, 2);
    assert_int_equal(r.skipped, 2);
    assert_non_null(strstr(out, "FAIL layer_gelu b2_t4 forward"));
    assert_non_null(strstr(out, "out[0]: got"));
    assert_non_null(strstr(out, "elements out of tolerance"));
    free(out);
}

static void writing_an_input_or_nothing_fails(void **state)
{
    (void)state;
    char *out;
    zs_plugin_run r = run_gelu(writes_its_input, writes_nothing, &out);
    assert_int_equal(r.failed, 4);
    assert_non_null(strstr(out, "the plugin wrote into its input inp"));
    /* backward outputs start at zero: an unwritten gradient is wrong, not NaN */
    assert_non_null(strstr(out, "dinp[0]: got 0,"));
    free(out);
    r = run_gelu(writes_nothing, NULL, &out);
    assert_int_equal(r.failed, 2);   /* forward outputs start as NaN */
    assert_int_equal(r.skipped, 2);
    assert_non_null(strstr(out, "out[0]: got nan"));
    assert_non_null(strstr(out, "(no layer_backward entry)"));
    free(out);
}

static void malformed_layer_file_fails(void **state)
{
    (void)state;
    zs_st_writer *w = zs_st_writer_new();
    zs_error err = {{0}};
    float x[4] = {0};
    assert_int_equal(zs_st_set_meta(w, "layer", "gelu", &err), 0);
    assert_int_equal(zs_st_set_meta(w, "variants", "v", &err), 0);
    assert_int_equal(zs_st_set_meta(w, "forward_in", "inp", &err), 0);
    assert_int_equal(zs_st_set_meta(w, "forward_out", "out", &err), 0);
    assert_int_equal(zs_st_add_f32(w, "v/forward/in/inp", x, 4, &err), 0);
    assert_int_equal(zs_st_add_f32(w, "v/forward/out/out", x, 4, &err), 0);   /* no exact/out */
    void *bytes;
    size_t len;
    assert_int_equal(zs_st_serialize(w, &bytes, &len, &err), 0);
    zs_st_writer_free(w);
    zs_st_file f;
    assert_int_equal(zs_st_read_memory(bytes, len, "test", &f, &err), 0);
    free(bytes);
    static zs_plugin p = {.abi_version = ZS_PLUGIN_ABI_VERSION, .struct_size = sizeof(zs_plugin),
                          .layer_forward = writes_nothing, .layer_backward = writes_nothing};
    char *out;
    size_t n = 0;
    zs_plugin_run r = {&p, open_memstream(&out, &n), 0, 0, 0};
    zs_plugin_check_layer(&r, "layer_x", &f);
    fclose(r.out);
    assert_int_equal(r.failed, 2);
    assert_non_null(strstr(out, "malformed golden file"));
    free(out);
    r = (zs_plugin_run){&p, open_memstream(&out, &n), 0, 0, 0};
    zs_st_file_free(&f);
    f = (zs_st_file){0};
    zs_plugin_check_layer(&r, "layer_x", &f);   /* no metadata at all */
    fclose(r.out);
    assert_int_equal(r.failed, 1);
    free(out);
}

static void bound_known_values(void **state)
{
    (void)state;
    assert_true(zs_ulp_fp32(1.0) == 0x1p-23);
    assert_true(zs_ulp_fp32(-1.5) == 0x1p-23);
    assert_true(zs_ulp_fp32(0.75) == 0x1p-24);
    assert_true(zs_ulp_fp32(0.0) == 0x1p-149);
    assert_true(zs_ulp_fp32(1e-40) == 0x1p-149);
    /* K times the larger of the element's and the mean reference error, plus ULPS ulps */
    assert_true(zs_layer_bound(1e-7, 1e-8, 1.0) == ZS_LAYER_K * 1e-7 + ZS_LAYER_ULPS * 0x1p-23);
    assert_true(zs_layer_bound(0.0, 1e-8, 1.0) == ZS_LAYER_K * 1e-8 + ZS_LAYER_ULPS * 0x1p-23);
    /* an element every correct kernel computes exactly (0, with no reference error anywhere) */
    assert_true(zs_layer_bound(0.0, 0.0, 0.0) == ZS_LAYER_ULPS * 0x1p-149);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(independent_gelu_passes),
        cmocka_unit_test(wrong_gelu_fails_with_the_element),
        cmocka_unit_test(writing_an_input_or_nothing_fails),
        cmocka_unit_test(malformed_layer_file_fails),
        cmocka_unit_test(bound_known_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
