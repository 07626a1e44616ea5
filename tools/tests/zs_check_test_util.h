/* A small trace for zs-check's tests: every tensor kind of docs/spec.md §13 for one step and one
 * rank, with fields a test changes before writing it (values, metadata, a tensor left out or added,
 * a shape or dtype changed). Written with the safetensors writer, read back with the reader. */
#ifndef ZS_CHECK_TEST_UTIL_H
#define ZS_CHECK_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerospec/safetensors.h"
#include "zs_check.h"

#define TT_MAX_META 12

typedef struct test_trace {
    const char *meta[TT_MAX_META][2];            /* key, value; a NULL value leaves the key out */
    float init[6], param[6];                     /* init/param/wte and step1/param/wte, shape [2, 3] */
    int64_t param_shape[2];                      /* of step1/param/wte */
    float loss, lr, grad_norm;
    zs_dtype loss_dtype;                         /* F32; a test may write F64 */
    double loss_scale;
    uint8_t overflow, skipped;
    float grad[4], master[4], exp_avg[4], exp_avg_sq[4];   /* step1/rank0/... */
    const char *omit;                            /* a tensor left out */
    const char *extra;                           /* an extra F32 scalar */
} test_trace;

static inline test_trace tt_default(void)
{
    test_trace t = {
        .meta = {{"format", "zerospec.trace"}, {"format_version", "1"}, {"spec_version", "0.1.0"},
                 {"case", "t_case"}, {"world_size", "1"}, {"stage", "2"}, {"precision", "fp32"},
                 {"seed", "7"}, {"generator", "test"}},
        .init = {0.01f, -0.02f, 0.03f, 0.5f, -1.0f, 0.25f},
        .param = {0.011f, -0.021f, 0.029f, 0.5f, -0.99f, 0.26f},
        .param_shape = {2, 3},
        .loss = 3.25f, .lr = 1e-3f, .grad_norm = 0.75f, .loss_dtype = ZS_F32, .loss_scale = 1.0,
        .grad = {0.1f, -0.02f, 0.003f, 0.0f},
        .master = {0.011f, -0.021f, 0.029f, 0.5f},
        .exp_avg = {0.01f, -0.002f, 0.0003f, 0.0f},
        .exp_avg_sq = {1e-5f, 4e-7f, 9e-9f, 0.0f},
    };
    return t;
}

static inline void tt_set_meta(test_trace *t, const char *key, const char *value)
{
    for (int i = 0; i < TT_MAX_META; i++)
        if (!t->meta[i][0] || !strcmp(t->meta[i][0], key)) {
            t->meta[i][0] = key;
            t->meta[i][1] = value;
            return;
        }
    fail_msg("test_trace: too many metadata keys");
}

static inline void tt_add(zs_st_writer *w, const test_trace *t, const char *name, zs_dtype dtype, int ndim,
                          const int64_t *shape, const void *data)
{
    zs_error err = {{0}};
    if (t->omit && !strcmp(t->omit, name))
        return;
    if (zs_st_add(w, name, dtype, ndim, shape, data, &err))
        fail_msg("zs_st_add(%s): %s", name, err.msg);
}

static inline zs_st_writer *tt_writer(const test_trace *t)
{
    zs_st_writer *w = zs_st_writer_new();
    zs_error err = {{0}};
    assert_non_null(w);
    for (int i = 0; i < TT_MAX_META && t->meta[i][0]; i++)
        if (t->meta[i][1] && zs_st_set_meta(w, t->meta[i][0], t->meta[i][1], &err))
            fail_msg("zs_st_set_meta: %s", err.msg);
    const int64_t wte[2] = {2, 3}, four[1] = {4};
    double loss64 = t->loss;
    tt_add(w, t, "init/param/wte", ZS_F32, 2, wte, t->init);
    tt_add(w, t, "step1/loss", t->loss_dtype, 0, NULL, t->loss_dtype == ZS_F64 ? (const void *)&loss64 : &t->loss);
    tt_add(w, t, "step1/lr", ZS_F32, 0, NULL, &t->lr);
    tt_add(w, t, "step1/grad_norm", ZS_F32, 0, NULL, &t->grad_norm);
    tt_add(w, t, "step1/loss_scale", ZS_F64, 0, NULL, &t->loss_scale);
    tt_add(w, t, "step1/overflow", ZS_U8, 0, NULL, &t->overflow);
    tt_add(w, t, "step1/skipped", ZS_U8, 0, NULL, &t->skipped);
    tt_add(w, t, "step1/rank0/grad", ZS_F32, 1, four, t->grad);
    tt_add(w, t, "step1/rank0/master", ZS_F32, 1, four, t->master);
    tt_add(w, t, "step1/rank0/exp_avg", ZS_F32, 1, four, t->exp_avg);
    tt_add(w, t, "step1/rank0/exp_avg_sq", ZS_F32, 1, four, t->exp_avg_sq);
    tt_add(w, t, "step1/param/wte", ZS_F32, 2, t->param_shape, t->param);
    if (t->extra) {
        float zero = 0;
        tt_add(w, t, t->extra, ZS_F32, 0, NULL, &zero);
    }
    return w;
}

/* What the reader returns for the bytes `w` serializes to; frees w. */
static inline void tt_read_writer(zs_st_writer *w, zs_st_file *out)
{
    void *bytes;
    size_t len;
    zs_error err = {{0}};
    if (zs_st_serialize(w, &bytes, &len, &err) || zs_st_read_memory(bytes, len, "test trace", out, &err))
        fail_msg("test trace: %s", err.msg);
    free(bytes);
    zs_st_writer_free(w);
}

/* The trace as the reader returns it (through the serialized bytes). */
static inline void tt_read(const test_trace *t, zs_st_file *out)
{
    tt_read_writer(tt_writer(t), out);
}

static inline void tt_write(const test_trace *t, const char *path)
{
    zs_st_writer *w = tt_writer(t);
    zs_error err = {{0}};
    if (zs_st_write_file(w, path, &err))
        fail_msg("%s: %s", path, err.msg);
    zs_st_writer_free(w);
}

/* Diffs two test traces (class_override < 0: from the precision); the diff must be possible. */
static inline zs_diff_result tt_diff(const test_trace *got, const test_trace *expected, int class_override)
{
    zs_st_file g, e;
    zs_diff_result r;
    zs_error err = {{0}};
    tt_read(got, &g);
    tt_read(expected, &e);
    int rc = zs_diff_files(&g, "got", &e, "expected", class_override, 0, &r, &err);
    zs_st_file_free(&g);
    zs_st_file_free(&e);
    if (rc)
        fail_msg("zs_diff_files: %s", err.msg);
    return r;
}

static inline const zs_tensor_result *tt_find(const zs_diff_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_tensors; i++)
        if (!strcmp(r->tensors[i].name, name))
            return &r->tensors[i];
    fail_msg("no result for tensor %s", name);
    return NULL;
}

/* Everything written to f so far (a report or log stream), as a NUL-terminated string; caller frees. */
static inline char *tt_read_stream(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = (char *)malloc((size_t)n + 1);
    assert_non_null(s);
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    return s;
}

#endif
