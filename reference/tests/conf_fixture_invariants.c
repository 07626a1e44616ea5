/* Internal consistency of every committed fixture (docs/spec.md §13): in an fp16/bf16 trace the
 * model-dtype weights of step k are the step's fp32 parameters cast to the model dtype, element by
 * element in model order (docs/spec/precision.md §1: DeepSpeed publishes fl_M(master)). A reference
 * that published the right values in the wrong places (Muon's grouped layout was copied into the model
 * as if it were in model order until 2026-11-23) breaks this without any tolerance being involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "precision.h"
#include "zerospec/safetensors.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Bits equal, or both NaN (conformance treats every NaN as equal). */
static int same(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b);
}

/* Checks one trace; returns the number of model tensors compared. */
static int check_trace(const char *path)
{
    zs_st_file t;
    zs_error err = {{0}};
    if (zs_st_read_file(path, &t, &err))
        fail_msg("%s", err.msg);
    const char *prec = zs_st_meta(&t, "precision");
    assert_non_null(prec);
    zs_dtype dt = !strcmp(prec, "fp16") ? ZS_F16 : !strcmp(prec, "bf16") ? ZS_BF16 : ZS_F32;
    int compared = 0;
    for (size_t i = 0; dt != ZS_F32 && i < t.count; i++) {
        const zs_st_tensor *m = &t.tensors[i];
        const char *at = strstr(m->name, "/model/");
        if (!at || strncmp(m->name, "step", 4))
            continue;
        char pname[512];
        snprintf(pname, sizeof pname, "%.*s/param/%s", (int)(at - m->name), m->name, at + 7);
        const zs_st_tensor *p = zs_st_find(&t, pname);
        if (!p)
            fail_msg("%s: %s has no %s", path, m->name, pname);
        assert_int_equal(m->dtype, ZS_F32);
        assert_int_equal(p->dtype, ZS_F32);
        assert_int_equal(m->numel, p->numel);
        const float *mv = m->data, *pv = p->data;
        for (size_t j = 0; j < m->numel; j++)
            if (!same(mv[j], zs_round_to(dt, pv[j])))
                fail_msg("%s: %s[%zu] = %.9g, but fl_%s(%s[%zu]) = %.9g", path, m->name, j, (double)mv[j], prec,
                         pname, j, (double)zs_round_to(dt, pv[j]));
        compared++;
    }
    zs_st_file_free(&t);
    return compared;
}

static void test_model_weights_are_the_cast_parameters(void **unused)
{
    (void)unused;
    char *text = slurp("fixtures/manifest.json");
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "fixtures"), *fx;
    assert_true(cJSON_IsArray(list));
    int traces = 0, tensors = 0;
    cJSON_ArrayForEach(fx, list)
    {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(fx, "file");
        if (!cJSON_IsString(file) || !strstr(file->valuestring, "/w"))
            continue;   /* op-level fixtures (fixtures/ops) are not traces */
        char path[512];
        snprintf(path, sizeof path, "fixtures/%s", file->valuestring);
        int n = check_trace(path);
        traces += n > 0;
        tensors += n;
    }
    print_message("%d fp16/bf16 traces, %d model tensors equal to their cast parameters\n", traces, tensors);
    assert_true(traces >= 40);   /* the catalogue has dozens of fp16/bf16 traces: the walk must find them */
    cJSON_Delete(root);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_weights_are_the_cast_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
