/* zs-check's diff engine (tools/zs_check/compare.c, report.c): identical traces, perturbations just
 * inside and outside the tolerance, NaN and Inf rules, missing/extra tensors, shape, dtype and
 * metadata mismatches, refused formats, the first-mismatch line, the exact class, ULP-based entries. */
#include <math.h>

#include "zs_check_test_util.h"

static void failure_line_contains(const zs_diff_result *r, const char *needle)
{
    char line[1024];
    zs_diff_first_failure(r, line, sizeof line);
    if (!strstr(line, needle))
        fail_msg("first failure \"%s\" does not contain \"%s\"", line, needle);
}

static void identical_traces_pass(void **state)
{
    (void)state;
    test_trace t = tt_default();
    zs_diff_result r = tt_diff(&t, &t, -1);
    assert_true(r.pass);
    assert_int_equal(r.tol_class, ZS_CLASS_FP32);
    assert_int_equal(r.n_tensors, 12);
    assert_int_equal(r.n_meta + r.n_missing + r.n_extra + r.n_failed_tensors, 0);
    for (size_t i = 0; i < r.n_tensors; i++) {
        assert_int_equal(r.tensors[i].status, ZS_T_PASS);
        assert_true(r.tensors[i].max_abs == 0 && r.tensors[i].worst_ratio == 0);
    }
    failure_line_contains(&r, "");
    zs_diff_result_free(&r);
}

/* Report order: init, then the step in computing order (loss before grad before master ...). */
static void tensors_are_reported_in_step_order(void **state)
{
    (void)state;
    test_trace t = tt_default();
    zs_diff_result r = tt_diff(&t, &t, -1);
    const char *order[] = {"init/param/wte", "step1/loss", "step1/loss_scale", "step1/rank0/grad", "step1/overflow",
                           "step1/skipped", "step1/grad_norm", "step1/lr", "step1/rank0/exp_avg",
                           "step1/rank0/exp_avg_sq", "step1/rank0/master", "step1/param/wte"};
    for (size_t i = 0; i < r.n_tensors; i++)
        assert_string_equal(r.tensors[i].name, order[i]);
    zs_diff_result_free(&r);
}

/* One master element moved by 0.9x and 1.1x of its allowance atol + rtol * |expected|. */
static void perturbation_inside_passes_outside_fails(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    zs_tolerance tol = zs_tolerance_for(ZS_CLASS_FP32, ZS_KIND_MASTER);
    double bound = tol.atol + tol.rtol * fabs(e.master[3]);
    g.master[3] = (float)(e.master[3] + 0.9 * bound);
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    const zs_tensor_result *t = tt_find(&r, "step1/rank0/master");
    assert_true(t->worst_ratio > 0.8 && t->worst_ratio < 1.0);
    zs_diff_result_free(&r);

    g.master[3] = (float)(e.master[3] + 1.1 * bound);
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    t = tt_find(&r, "step1/rank0/master");
    assert_int_equal(t->status, ZS_T_VALUES);
    assert_int_equal(t->mismatched, 1);
    assert_int_equal(t->first_index, 3);
    assert_true(t->worst_ratio > 1.0 && t->worst_ratio < 1.2);
    assert_int_equal(r.n_failed_tensors, 1);
    zs_diff_result_free(&r);
}

static void nan_matches_only_nan_at_the_same_index(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.grad[1] = NAN;
    zs_diff_result r = tt_diff(&g, &e, -1);
    const zs_tensor_result *t = tt_find(&r, "step1/rank0/grad");
    assert_false(r.pass);
    assert_int_equal(t->nonfinite_mismatched, 1);
    assert_int_equal(t->first_index, 1);
    failure_line_contains(&r, "got nan, expected -0.0199999996");
    zs_diff_result_free(&r);

    e.grad[1] = NAN;                  /* both NaN at index 1 */
    r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    zs_diff_result_free(&r);

    e.grad[1] = g.grad[1] = 0.5f;     /* NaN at different indices */
    g.grad[0] = NAN;
    e.grad[2] = NAN;
    r = tt_diff(&g, &e, -1);
    assert_int_equal(tt_find(&r, "step1/rank0/grad")->nonfinite_mismatched, 2);
    zs_diff_result_free(&r);
}

static void inf_must_match_in_sign(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    e.grad[0] = g.grad[0] = INFINITY;
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    zs_diff_result_free(&r);

    g.grad[0] = -INFINITY;
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    failure_line_contains(&r, "got -inf, expected inf");
    zs_diff_result_free(&r);

    g.grad[0] = 3e38f;                /* finite vs Inf */
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    zs_diff_result_free(&r);
}

static void missing_tensor_fails_extra_tensor_warns(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.extra = "step1/rank0/bonus";
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    assert_int_equal(r.n_extra, 1);
    assert_int_equal(tt_find(&r, "step1/rank0/bonus")->status, ZS_T_EXTRA);
    zs_diff_result_free(&r);

    g.omit = "step1/rank0/exp_avg_sq";
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    assert_int_equal(r.n_missing, 1);
    assert_int_equal(tt_find(&r, "step1/rank0/exp_avg_sq")->status, ZS_T_MISSING);
    failure_line_contains(&r, "step1/rank0/exp_avg_sq: missing");
    zs_diff_result_free(&r);
}

/* Extra tensors are listed on one warning line of their own, whatever order they sort into among the
 * failing tensors (the report once started the line at the first extra and ended it at the last, with
 * the failing tensors' lines in between). */
static void extra_tensors_warn_on_one_whole_line(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.master[3] = e.master[3] + 1.0f;   /* a failing tensor ... */
    g.extra = "step1/param/zz_bonus";   /* sorts after the master */
    zs_diff_result r = tt_diff(&g, &e, -1);
    zs_tensor_result *early = (zs_tensor_result *)tt_find(&r, "step1/loss");
    early->status = ZS_T_EXTRA;          /* ... between two extras in report order */
    r.n_extra = 2;
    FILE *out = tmpfile();
    assert_non_null(out);
    zs_report_options o = {10, 0};
    zs_report_diff(out, &r, &o);
    char *text = tt_read_stream(out);
    fclose(out);
    const char *warn = strstr(text, "  warn 2 extra tensor(s)");
    assert_non_null(warn);
    const char *eol = strchr(warn, '\n');
    assert_non_null(eol);
    const char *bonus = strstr(warn, "step1/param/zz_bonus"), *loss = strstr(warn, "step1/loss");
    if (!bonus || !loss || bonus > eol || loss > eol)
        fail_msg("the warning line is not whole:\n%s", text);
    assert_non_null(strstr(text, "FAIL step1/rank0/master"));
    free(text);
    zs_diff_result_free(&r);
}

static void shape_and_dtype_mismatches_fail_with_a_clear_line(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.param_shape[0] = 3;
    g.param_shape[1] = 2;
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    assert_int_equal(tt_find(&r, "step1/param/wte")->status, ZS_T_SHAPE);
    failure_line_contains(&r, "step1/param/wte: shape [3, 2], expected [2, 3]");
    zs_diff_result_free(&r);

    g = e;
    g.loss_dtype = ZS_F64;
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    failure_line_contains(&r, "step1/loss: dtype F64, expected F32");
    zs_diff_result_free(&r);
}

static void metadata_differences_fail(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    tt_set_meta(&g, "stage", "3");
    tt_set_meta(&g, "seed", NULL);
    tt_set_meta(&g, "generator", "someone else");   /* not compared */
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    assert_int_equal(r.n_meta, 2);
    assert_string_equal(r.meta[0].key, "stage");
    assert_string_equal(r.meta[1].key, "seed");
    assert_null(r.meta[1].got);
    failure_line_contains(&r, "metadata 'stage': got \"3\", expected \"2\"");
    zs_diff_result_free(&r);
}

static void refuses_unknown_format_versions_and_non_traces(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    zs_st_file gf, ef;
    zs_diff_result r;
    zs_error err = {{0}};
    tt_set_meta(&e, "format_version", "2");
    tt_read(&g, &gf);
    tt_read(&e, &ef);
    assert_int_equal(zs_diff_files(&gf, "got", &ef, "golden.safetensors", -1, 0, &r, &err), -1);
    assert_non_null(strstr(err.msg, "golden.safetensors: trace format_version \"2\""));
    assert_non_null(strstr(err.msg, "regenerate the fixtures"));
    zs_st_file_free(&ef);

    e = tt_default();
    tt_set_meta(&e, "format", NULL);
    tt_read(&e, &ef);
    assert_int_equal(zs_diff_files(&gf, "got", &ef, "plain.safetensors", -1, 0, &r, &err), -1);
    assert_non_null(strstr(err.msg, "plain.safetensors: not a zerospec trace"));
    zs_st_file_free(&ef);

    e = tt_default();
    tt_set_meta(&e, "precision", "fp8");
    tt_read(&e, &ef);
    assert_int_equal(zs_diff_files(&gf, "got", &ef, "x", -1, 0, &r, &err), -1);
    assert_non_null(strstr(err.msg, "give --tolerance-class"));
    assert_int_equal(zs_diff_files(&gf, "got", &ef, "x", ZS_CLASS_FP32, 0, &r, &err), 0);   /* an override works */
    zs_diff_result_free(&r);
    zs_st_file_free(&ef);
    zs_st_file_free(&gf);
}

static void unreadable_files_name_the_file(void **state)
{
    (void)state;
    zs_diff_result r;
    zs_error err = {{0}};
    assert_int_equal(zs_diff_paths("no/such/got.safetensors", "no/such/golden.safetensors", -1, 0, &r, &err), -1);
    assert_non_null(strstr(err.msg, "no/such/golden.safetensors"));
}

static void first_mismatch_names_step_rank_tensor_index(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.grad[2] = 0.0031f;
    g.master[0] = 0.5f;   /* a later tensor fails too: the grad (computed first) is reported */
    zs_diff_result r = tt_diff(&g, &e, -1);
    failure_line_contains(&r, "first mismatch at step 1, rank 0, tensor grad, index 2: got 0.00310000009 "
                              "(0x1.9652bep-9), expected 0.00300000003 (0x1.89374cp-9)");
    failure_line_contains(&r, "allowed 1.3e-07");
    zs_diff_result_free(&r);

    g = e;
    g.param[4] = -0.5f;
    r = tt_diff(&g, &e, -1);
    failure_line_contains(&r, "step 1, tensor param/wte, index 4");
    zs_diff_result_free(&r);

    g = e;
    g.init[0] = 0.0100001f;
    r = tt_diff(&g, &e, -1);
    failure_line_contains(&r, "init, tensor param/wte, index 0");
    zs_diff_result_free(&r);
}

/* Bitwise equality: one ulp fails, and so does -0 against +0 (which the fp32 class accepts). */
static void exact_class_requires_identical_bits(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.master[3] = nextafterf(e.master[3], 1.0f);
    zs_diff_result r = tt_diff(&g, &e, ZS_CLASS_EXACT);
    assert_false(r.pass);
    failure_line_contains(&r, "identical bits required");
    zs_diff_result_free(&r);

    g = e;
    g.grad[3] = -0.0f;
    r = tt_diff(&g, &e, ZS_CLASS_EXACT);
    assert_false(r.pass);
    assert_true(tt_find(&r, "step1/rank0/grad")->max_abs == 0);
    zs_diff_result_free(&r);
    r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    zs_diff_result_free(&r);

    r = tt_diff(&e, &e, ZS_CLASS_EXACT);
    assert_true(r.pass);
    zs_diff_result_free(&r);
}

/* lr: exact except one fp32 ulp. */
static void lr_allows_one_ulp(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    g.lr = nextafterf(e.lr, 1.0f);
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    assert_true(tt_find(&r, "step1/lr")->max_ulp == 1);
    zs_diff_result_free(&r);
    g.lr = nextafterf(g.lr, 1.0f);
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    failure_line_contains(&r, "tensor lr");
    zs_diff_result_free(&r);
}

/* fp16 traces: model-dtype tensors count fp16 ulps; grad's atol is multiplied by the loss scale. */
static void fp16_traces_use_fp16_ulps_and_scaled_grad_atol(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = e;
    tt_set_meta(&e, "precision", "fp16");
    tt_set_meta(&g, "precision", "fp16");
    e.loss_scale = g.loss_scale = 1024;
    g.init[3] = 0.5f + 0x1p-11f;         /* the next fp16 after 0.5: 1 fp16 ulp, 8192 fp32 ulps */
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_int_equal(r.tol_class, ZS_CLASS_FP16);
    const zs_tensor_result *t = tt_find(&r, "init/param/wte");
    assert_int_equal(t->ulp_format, ZS_ULP_F16);
    assert_true(t->max_ulp == 1);
    assert_false(r.pass);               /* init must be exact */
    assert_int_equal(tt_find(&r, "step1/rank0/master")->ulp_format, ZS_ULP_F32);
    zs_tolerance tol = zs_tolerance_for(ZS_CLASS_FP16, ZS_KIND_GRAD);
    assert_true(tt_find(&r, "step1/rank0/grad")->tol.atol == tol.atol * 1024);
    zs_diff_result_free(&r);
}


/* Noise-level gradients: up to layers*channels master/param elements may differ by at most
 * 2 * (sum of lr) — a sign-flipped step — and no more elements, and no further. */
static void noise_level_sign_flips_are_allowed(void **state)
{
    (void)state;
    test_trace e = tt_default(), g = tt_default();
    tt_set_meta(&e, "model", "{\"vocab\":3,\"seq\":2,\"channels\":1,\"layers\":1,\"heads\":1}");
    tt_set_meta(&g, "model", "{\"vocab\":3,\"seq\":2,\"channels\":1,\"layers\":1,\"heads\":1}");
    g.param[0] += 1.5e-3f;   /* lr = 1e-3: within 2 * lr, far beyond the fp32 tolerance */
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_true(r.pass);
    const zs_tensor_result *t = NULL;
    for (size_t i = 0; i < r.n_tensors; i++)
        if (!strcmp(r.tensors[i].name, "step1/param/wte"))
            t = &r.tensors[i];
    assert_non_null(t);
    assert_int_equal(t->sign_flips, 1);
    zs_diff_result_free(&r);

    g.param[1] += 1.5e-3f;   /* two elements: more than layers * channels = 1 */
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    zs_diff_result_free(&r);

    g = tt_default();
    tt_set_meta(&g, "model", "{\"vocab\":3,\"seq\":2,\"channels\":1,\"layers\":1,\"heads\":1}");
    g.param[0] += 2.5e-3f;   /* beyond 2 * lr */
    r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    zs_diff_result_free(&r);
}

/* The golden trace's config and stage select Muon's Newton-Schulz entries (docs/conformance.md
 * "Muon"): with them, grad, grad_norm, exp_avg and exp_avg_sq differences of the sizes a second
 * implementation of Muon shows pass; without them (stage 0, another optimizer, the exact class) the
 * same differences fail, and master keeps the fp32 entry either way. */
static test_trace muon_trace(const char *type, const char *stage)
{
    static char config[128];
    test_trace t = tt_default();
    snprintf(config, sizeof config, "{\"optimizer\": {\"type\": \"%s\", \"params\": {\"lr\": 0.01}}}", type);
    tt_set_meta(&t, "config", config);
    tt_set_meta(&t, "stage", stage);
    return t;
}

static void ns_differences(test_trace *g)
{
    g->grad[0] += 0.02f;                 /* an NS output one event apart (measured 1.56e-2) */
    g->grad_norm *= 1.0f + 5e-4f;        /* measured 5.1e-4 relative (zs-fast vs zs-ref) */
    g->exp_avg[1] *= 1.0f + 5e-4f;       /* the clip coefficient's error */
    g->exp_avg_sq[1] *= 1.0f + 1e-3f;
}

static size_t failed_kinds(const zs_diff_result *r, const zs_tensor_kind *kinds, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < r->n_tensors; i++)
        for (size_t k = 0; k < n; k++)
            failed += r->tensors[i].parsed.kind == kinds[k] && r->tensors[i].status == ZS_T_VALUES;
    return failed;
}

static void muon_at_stage1_uses_newton_schulz_entries(void **state)
{
    (void)state;
    const zs_tensor_kind widened[] = {ZS_KIND_GRAD, ZS_KIND_GRAD_NORM, ZS_KIND_EXP_AVG, ZS_KIND_EXP_AVG_SQ};
    const char *types[] = {"Muon", "muon", "MuonWithAuxAdam"};
    for (size_t i = 0; i < 3; i++) {
        test_trace e = muon_trace(types[i], "1"), g = e;
        ns_differences(&g);
        zs_diff_result r = tt_diff(&g, &e, -1);
        assert_int_equal(r.family, ZS_FAMILY_MUON);
        assert_true(r.pass);
        zs_diff_result_free(&r);
    }
    struct { const char *type, *stage; int cls; } strict[] = {
        {"Muon", "0", -1}, {"Adam", "1", -1}, {"Muon", "2", ZS_CLASS_EXACT}};
    for (size_t i = 0; i < 3; i++) {
        test_trace e = muon_trace(strict[i].type, strict[i].stage), g = e;
        ns_differences(&g);
        zs_diff_result r = tt_diff(&g, &e, strict[i].cls);
        assert_false(r.pass);
        assert_int_equal(failed_kinds(&r, widened, 4), 4);
        zs_diff_result_free(&r);
    }
    test_trace e = muon_trace("Muon", "2"), g = e;   /* master: fp32's entry still */
    zs_tolerance tol = zs_tolerance_for(ZS_CLASS_FP32, ZS_KIND_MASTER);
    g.master[3] = (float)(e.master[3] + 1.1 * (tol.atol + tol.rtol * fabs(e.master[3])));
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_int_equal(r.family, ZS_FAMILY_MUON);
    assert_false(r.pass);
    assert_int_equal(tt_find(&r, "step1/rank0/master")->status, ZS_T_VALUES);
    zs_diff_result_free(&r);
}

/* The 1-bit optimizers' golden traces select their family's entries at any spelling of the type:
 * a gradient 2e-7 off (fp32's entry allows 1e-7) passes with them and fails with Adam's config;
 * master keeps the fp32 entry. */
static void onebit_configs_use_the_onebit_entries(void **state)
{
    (void)state;
    const char *types[] = {"OneBitAdam", "onebitadam", "ZeroOneAdam", "OnebitLamb", "Adam"};
    for (size_t i = 0; i < 5; i++) {
        test_trace e = muon_trace(types[i], "0"), g = e;
        g.grad[3] += 2e-7f;
        g.exp_avg[3] += 2e-8f;
        zs_diff_result r = tt_diff(&g, &e, -1);
        int onebit = i < 4;
        assert_int_equal(r.family, onebit ? ZS_FAMILY_ONEBIT : ZS_FAMILY_NONE);
        assert_int_equal(r.pass, onebit);
        zs_diff_result_free(&r);
    }
    test_trace e = muon_trace("ZeroOneAdam", "0"), g = e;
    zs_tolerance tol = zs_tolerance_for(ZS_CLASS_FP32, ZS_KIND_MASTER);
    g.master[3] = (float)(e.master[3] + 1.1 * (tol.atol + tol.rtol * fabs(e.master[3])));
    zs_diff_result r = tt_diff(&g, &e, -1);
    assert_false(r.pass);
    zs_diff_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noise_level_sign_flips_are_allowed),
        cmocka_unit_test(identical_traces_pass),
        cmocka_unit_test(tensors_are_reported_in_step_order),
        cmocka_unit_test(perturbation_inside_passes_outside_fails),
        cmocka_unit_test(nan_matches_only_nan_at_the_same_index),
        cmocka_unit_test(inf_must_match_in_sign),
        cmocka_unit_test(missing_tensor_fails_extra_tensor_warns),
        cmocka_unit_test(shape_and_dtype_mismatches_fail_with_a_clear_line),
        cmocka_unit_test(metadata_differences_fail),
        cmocka_unit_test(refuses_unknown_format_versions_and_non_traces),
        cmocka_unit_test(unreadable_files_name_the_file),
        cmocka_unit_test(first_mismatch_names_step_rank_tensor_index),
        cmocka_unit_test(exact_class_requires_identical_bits),
        cmocka_unit_test(lr_allows_one_ulp),
        cmocka_unit_test(fp16_traces_use_fp16_ulps_and_scaled_grad_atol),
        cmocka_unit_test(muon_at_stage1_uses_newton_schulz_entries),
        cmocka_unit_test(onebit_configs_use_the_onebit_entries),
        cmocka_unit_test(extra_tensors_warn_on_one_whole_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
