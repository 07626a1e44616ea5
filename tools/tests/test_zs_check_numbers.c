/* zs-check's number handling and tolerance policy (tools/zs_check/numbers.c, tolerance.c): ULP
 * distances with known answers, element decoding, value printing, trace-name parsing, the table. */
#include <math.h>

#include "zs_check_test_util.h"

static void ulp_distances_known_values(void **state)
{
    (void)state;
    float one = 1.0f, up = nextafterf(1.0f, 2.0f), down = nextafterf(1.0f, 0.0f);
    assert_true(zs_ulp_distance(one, up, ZS_ULP_F32) == 1);
    assert_true(zs_ulp_distance(down, up, ZS_ULP_F32) == 2);          /* across a binade boundary */
    assert_true(zs_ulp_distance(1.0, 2.0, ZS_ULP_F32) == 0x1p23);
    assert_true(zs_ulp_distance(-0.0, 0.0, ZS_ULP_F32) == 0);
    assert_true(zs_ulp_distance(0.0, -0.0, ZS_ULP_F16) == 0);
    assert_true(zs_ulp_distance(-0.0, 0.0, ZS_ULP_F64) == 0);
    float tiny = nextafterf(0.0f, 1.0f);                               /* smallest subnormal */
    assert_true(zs_ulp_distance(-tiny, tiny, ZS_ULP_F32) == 2);      /* across zero */
    assert_true(zs_ulp_distance(-1.0, 1.0, ZS_ULP_F32) == 2 * 0x3f800000);
    assert_true(zs_ulp_distance(0x1p-126, nextafterf(0x1p-126f, 0.0f), ZS_ULP_F32) == 1);   /* normal/subnormal */
    assert_true(zs_ulp_distance(1.0, 1.0 + 0x1p-10, ZS_ULP_F16) == 1);
    assert_true(zs_ulp_distance(0x1p-24, 0.0, ZS_ULP_F16) == 1);      /* fp16 smallest subnormal */
    assert_true(zs_ulp_distance(65504.0, 65472.0, ZS_ULP_F16) == 1);  /* fp16 max and its neighbour */
    assert_true(zs_ulp_distance(1.0, 1.0 + 0x1p-7, ZS_ULP_BF16) == 1);
    assert_true(zs_ulp_distance(1.0, 1.0 + 0x1p-8, ZS_ULP_BF16) == 0.5);   /* not representable: fractional */
    assert_true(zs_ulp_distance(1.0, nextafter(1.0, 2.0), ZS_ULP_F64) == 1);
    assert_true(zs_ulp_distance(3, 7, ZS_ULP_INT) == 4);
}

static void elements_decode_every_dtype(void **state)
{
    (void)state;
    const uint16_t half[] = {0x3C00, 0xC000, 0x0001, 0x7C00, 0xFC00, 0x7E00};
    assert_true(zs_element(half, ZS_F16, 0) == 1.0);
    assert_true(zs_element(half, ZS_F16, 1) == -2.0);
    assert_true(zs_element(half, ZS_F16, 2) == 0x1p-24);
    assert_true(zs_element(half, ZS_F16, 3) == INFINITY);
    assert_true(zs_element(half, ZS_F16, 4) == -INFINITY);
    assert_true(isnan(zs_element(half, ZS_F16, 5)));
    const uint16_t bf[] = {0x3F80, 0xBFC0};
    assert_true(zs_element(bf, ZS_BF16, 0) == 1.0);
    assert_true(zs_element(bf, ZS_BF16, 1) == -1.5);
    const float f[] = {0.1f};
    assert_true(zs_element(f, ZS_F32, 0) == (double)0.1f);
    const double d[] = {0.1};
    assert_true(zs_element(d, ZS_F64, 0) == 0.1);
    const int64_t i64[] = {-5};
    assert_true(zs_element(i64, ZS_I64, 0) == -5);
    const int32_t i32[] = {7};
    assert_true(zs_element(i32, ZS_I32, 0) == 7);
    const uint8_t u8[] = {0, 200};
    assert_true(zs_element(u8, ZS_U8, 1) == 200);
    assert_true(zs_element(u8, ZS_BOOL, 0) == 0);
}

static void values_print_decimal_and_hex(void **state)
{
    (void)state;
    char buf[96];
    zs_format_value(buf, sizeof buf, 1.0, ZS_F32);
    assert_string_equal(buf, "1 (0x1p+0)");
    zs_format_value(buf, sizeof buf, (double)0.1f, ZS_F32);
    assert_string_equal(buf, "0.100000001 (0x1.99999ap-4)");
    zs_format_value(buf, sizeof buf, 0.1, ZS_F64);
    assert_string_equal(buf, "0.10000000000000001 (0x1.999999999999ap-4)");
    zs_format_value(buf, sizeof buf, -INFINITY, ZS_F32);
    assert_string_equal(buf, "-inf");
    zs_format_value(buf, sizeof buf, NAN, ZS_F32);
    assert_string_equal(buf, "nan");
    zs_format_value(buf, sizeof buf, 1, ZS_U8);
    assert_string_equal(buf, "1");
    int64_t shape[] = {29, 16};
    zs_format_shape(buf, sizeof buf, 2, shape);
    assert_string_equal(buf, "[29, 16]");
    zs_format_shape(buf, sizeof buf, 0, shape);
    assert_string_equal(buf, "[]");
}

static void check_name(const char *name, zs_tensor_kind kind, long step, int rank, const char *tensor)
{
    zs_tensor_name n;
    zs_tensor_name_parse(name, &n);
    if (n.kind != kind || n.step != step || n.rank != rank || strcmp(n.tensor, tensor))
        fail_msg("%s: kind %s step %ld rank %d tensor '%s'; expected %s %ld %d '%s'", name, zs_tensor_kind_name(n.kind),
                 n.step, n.rank, n.tensor, zs_tensor_kind_name(kind), step, rank, tensor);
}

static void trace_names_parse_into_step_rank_tensor(void **state)
{
    (void)state;
    check_name("init/param/wte", ZS_KIND_INIT_PARAM, 0, -1, "param/wte");
    check_name("step1/loss", ZS_KIND_LOSS, 1, -1, "loss");
    check_name("step12/lr", ZS_KIND_LR, 12, -1, "lr");
    check_name("step3/grad_norm", ZS_KIND_GRAD_NORM, 3, -1, "grad_norm");
    check_name("step3/loss_scale", ZS_KIND_LOSS_SCALE, 3, -1, "loss_scale");
    check_name("step3/overflow", ZS_KIND_FLAG, 3, -1, "overflow");
    check_name("step3/skipped", ZS_KIND_FLAG, 3, -1, "skipped");
    check_name("step2/rank7/grad", ZS_KIND_GRAD, 2, 7, "grad");
    check_name("step2/rank0/master", ZS_KIND_MASTER, 2, 0, "master");
    check_name("step2/rank1/exp_avg", ZS_KIND_EXP_AVG, 2, 1, "exp_avg");
    check_name("step2/rank1/exp_avg_sq", ZS_KIND_EXP_AVG_SQ, 2, 1, "exp_avg_sq");
    check_name("step2/rank1/momentum_buffer", ZS_KIND_MOMENTUM, 2, 1, "momentum_buffer");
    check_name("step2/rank1/sum", ZS_KIND_SQ_SUM, 2, 1, "sum");
    check_name("step2/rank1/novel_state", ZS_KIND_STATE, 2, 1, "novel_state");
    check_name("step5/param/h.0.attn.c_attn.weight", ZS_KIND_PARAM, 5, -1, "param/h.0.attn.c_attn.weight");
    check_name("weights", ZS_KIND_UNKNOWN, -1, -1, "weights");
    check_name("step/loss", ZS_KIND_UNKNOWN, -1, -1, "step/loss");
    check_name("step1x/loss", ZS_KIND_UNKNOWN, -1, -1, "step1x/loss");
    check_name("step1/param/", ZS_KIND_UNKNOWN, 1, -1, "param/");
    check_name("step1/rank0/a/b", ZS_KIND_UNKNOWN, 1, 0, "a/b");
    check_name("init/other", ZS_KIND_UNKNOWN, 0, -1, "other");
}

/* Entries the policy fixes: exact kinds in every class, 1 ulp for lr, and a reason for each entry. */
static void tolerance_table_policy(void **state)
{
    (void)state;
    const zs_tensor_kind exact[] = {ZS_KIND_INIT_PARAM, ZS_KIND_LOSS_SCALE, ZS_KIND_FLAG};
    for (int c = 0; c < ZS_CLASS_COUNT; c++) {
        for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
            zs_tolerance t = zs_tolerance_for((zs_tol_class)c, exact[i]);
            assert_true(t.atol == 0 && t.rtol == 0 && t.ulps == 0);
        }
        zs_tolerance lr = zs_tolerance_for((zs_tol_class)c, ZS_KIND_LR);
        assert_true(lr.atol == 0 && lr.rtol == 0 && lr.ulps == (c == ZS_CLASS_EXACT ? 0 : 1));
        for (int k = 0; k < ZS_KIND_COUNT; k++) {
            zs_tolerance t = zs_tolerance_for((zs_tol_class)c, (zs_tensor_kind)k);
            assert_true(t.atol >= 0 && t.rtol >= 0 && t.ulps >= 0);
            if (c == ZS_CLASS_EXACT)
                assert_true(t.atol == 0 && t.rtol == 0 && t.ulps == 0);
            const char *why = zs_tolerance_why((zs_tol_class)c, (zs_tensor_kind)k);
            assert_non_null(why);
            assert_true(strlen(why) > 10);
        }
    }
    /* Lower precision never tightens a tolerance. */
    for (int k = 0; k < ZS_KIND_COUNT; k++) {
        zs_tolerance a = zs_tolerance_for(ZS_CLASS_FP32, (zs_tensor_kind)k);
        zs_tolerance b = zs_tolerance_for(ZS_CLASS_FP16, (zs_tensor_kind)k);
        zs_tolerance c = zs_tolerance_for(ZS_CLASS_BF16, (zs_tensor_kind)k);
        assert_true(b.rtol >= a.rtol && c.rtol >= b.rtol);
    }
}

/* Each family widens exactly its kinds (Muon: what Newton-Schulz and the clip coefficient touch; 1-bit:
 * the gradient and the states linear in it), each with a reason; every other kind, ZS_FAMILY_NONE and
 * the exact class keep the class's own entry. */
static void family_entries_widen_only_their_kinds(void **state)
{
    (void)state;
    for (int f = 0; f < ZS_FAMILY_COUNT; f++)
        for (int c = 0; c < ZS_CLASS_COUNT; c++)
            for (int k = 0; k < ZS_KIND_COUNT; k++) {
                zs_tolerance base = zs_tolerance_for((zs_tol_class)c, (zs_tensor_kind)k);
                zs_tolerance w = zs_tolerance_for_family((zs_tol_family)f, (zs_tol_class)c, (zs_tensor_kind)k);
                int touched = (f == ZS_FAMILY_MUON && (k == ZS_KIND_GRAD || k == ZS_KIND_GRAD_NORM ||
                                                       k == ZS_KIND_EXP_AVG || k == ZS_KIND_EXP_AVG_SQ)) ||
                              (f == ZS_FAMILY_ONEBIT && (k == ZS_KIND_GRAD || k == ZS_KIND_EXP_AVG ||
                                                         k == ZS_KIND_EXP_AVG_SQ || k == ZS_KIND_STATE));
                assert_true(w.atol >= base.atol && w.rtol >= base.rtol && w.ulps == base.ulps);
                if (c == ZS_CLASS_EXACT || !touched)
                    assert_true(w.atol == base.atol && w.rtol == base.rtol);
                const char *why = zs_tolerance_family_why((zs_tol_family)f, (zs_tensor_kind)k);
                if (touched)
                    assert_true(why && strlen(why) > 10);
                else
                    assert_null(why);
            }
    /* docs/conformance.md: 3.2x zs-ref's own NS spread, 7.5x its grad_norm spread; 1-bit grad 3x fp32's */
    assert_true(zs_tolerance_for_family(ZS_FAMILY_MUON, ZS_CLASS_FP32, ZS_KIND_GRAD).atol == 5e-2);
    assert_true(zs_tolerance_for_family(ZS_FAMILY_MUON, ZS_CLASS_FP32, ZS_KIND_GRAD_NORM).rtol == 1e-3);
    assert_true(zs_tolerance_for_family(ZS_FAMILY_ONEBIT, ZS_CLASS_FP32, ZS_KIND_GRAD).atol == 3e-7);
    assert_true(zs_tolerance_for_family(ZS_FAMILY_ONEBIT, ZS_CLASS_FP32, ZS_KIND_MASTER).atol == 1e-5);
}

static void classes_and_precisions_parse(void **state)
{
    (void)state;
    zs_tol_class c;
    assert_int_equal(zs_tol_class_parse("bf16", &c), 0);
    assert_int_equal(c, ZS_CLASS_BF16);
    assert_int_equal(zs_tol_class_parse("exact", &c), 0);
    assert_int_equal(c, ZS_CLASS_EXACT);
    assert_int_equal(zs_tol_class_parse("fp64", &c), -1);
    assert_int_equal(zs_tol_class_parse(NULL, &c), -1);
    assert_int_equal(zs_tol_class_of_precision("fp16", &c), 0);
    assert_int_equal(c, ZS_CLASS_FP16);
    assert_int_equal(zs_tol_class_of_precision("exact", &c), -1);
    assert_string_equal(zs_tol_class_name(ZS_CLASS_FP32), "fp32");
    assert_string_equal(zs_tensor_kind_name(ZS_KIND_EXP_AVG_SQ), "exp_avg_sq");
    assert_string_equal(zs_ulp_format_name(ZS_ULP_BF16), "bf16");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ulp_distances_known_values),
        cmocka_unit_test(elements_decode_every_dtype),
        cmocka_unit_test(values_print_decimal_and_hex),
        cmocka_unit_test(trace_names_parse_into_step_rank_tensor),
        cmocka_unit_test(tolerance_table_policy),
        cmocka_unit_test(family_entries_widen_only_their_kinds),
        cmocka_unit_test(classes_and_precisions_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
