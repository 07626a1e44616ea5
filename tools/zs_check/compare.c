/* The diff engine: an implementation's trace against the golden one. Metadata first (a different
 * case or stage makes every tensor differ), then the tensor set, then dtype, shape and values
 * element by element under the tolerance table. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "zerospec/checkpoint.h"
#include "zs_check.h"

/* Metadata that must agree: the run being compared. generator, deepspeed_version, model and config
 * may differ in spelling between implementations and are not compared. */
static const char *const compared_meta[] = {"spec_version", "case", "world_size", "stage", "precision", "seed"};

static int check_format(const zs_st_file *f, const char *name, zs_error *err)
{
    const char *format = zs_st_meta(f, "format");
    if (!format || strcmp(format, ZS_CHECK_TRACE_FORMAT))
        return zs_fail(err, "%s: not a zerospec trace (metadata 'format' is %s%s%s, expected \"%s\")", name,
                       format ? "\"" : "", format ? format : "absent", format ? "\"" : "", ZS_CHECK_TRACE_FORMAT);
    const char *version = zs_st_meta(f, "format_version");
    if (!version || strcmp(version, ZS_CHECK_FORMAT_VERSION))
        return zs_fail(err,
                       "%s: trace format_version %s%s%s is not one this zs-check reads (%s); regenerate the "
                       "fixtures with a matching zs-ref (tools/fixtures.sh generate) or use a matching zs-check",
                       name, version ? "\"" : "", version ? version : "absent", version ? "\"" : "",
                       ZS_CHECK_FORMAT_VERSION);
    return 0;
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int compare_metadata(const zs_st_file *got, const zs_st_file *expected, zs_diff_result *r, zs_error *err)
{
    size_t n = sizeof compared_meta / sizeof compared_meta[0];
    r->meta = calloc(n, sizeof *r->meta);
    if (!r->meta)
        return zs_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *g = zs_st_meta(got, compared_meta[i]), *e = zs_st_meta(expected, compared_meta[i]);
        if ((!g && !e) || (g && e && !strcmp(g, e)))
            continue;
        zs_meta_diff *d = &r->meta[r->n_meta++];
        d->key = dup_or_null(compared_meta[i]);
        d->got = dup_or_null(g);
        d->expected = dup_or_null(e);
    }
    return 0;
}

/* Model-dtype values (the initial parameters and gradient partitions of fp16/bf16 runs) count ULPs
 * in the model dtype; everything else in its storage dtype. */
static zs_ulp_format ulp_format_for(zs_dtype dtype, zs_tensor_kind kind, const char *precision)
{
    switch (dtype) {
    case ZS_F64: return ZS_ULP_F64;
    case ZS_F16: return ZS_ULP_F16;
    case ZS_BF16: return ZS_ULP_BF16;
    case ZS_F32:
        if (kind == ZS_KIND_INIT_PARAM || kind == ZS_KIND_GRAD || kind == ZS_KIND_MODEL) {
            if (!strcmp(precision, "fp16")) return ZS_ULP_F16;
            if (!strcmp(precision, "bf16")) return ZS_ULP_BF16;
        }
        return ZS_ULP_F32;
    default: return ZS_ULP_INT;
    }
}

static void note_mismatch(zs_tensor_result *t, size_t i, double got, double expected)
{
    if (t->mismatched++ == 0) {
        t->has_first = 1;
        t->first_index = i;
        t->first_got = got;
        t->first_expected = expected;
    }
}

/* How much of the allowance an element uses (> 1: out of tolerance). */
static double tolerance_ratio(double diff, double ulps, double expected, const zs_tolerance *tol)
{
    if (diff == 0)
        return 0;
    double bound = tol->atol + tol->rtol * fabs(expected);
    double ratio = bound > 0 ? diff / bound : INFINITY;
    if (tol->ulps > 0 && ulps / tol->ulps < ratio)
        ratio = ulps / tol->ulps;
    return ratio;
}

/* Whether x is exactly a value of the 16-bit format f (tensors that hold model-dtype values in fp16
 * and bf16 traces must: a missing cast is a bug even when the value is within tolerance). */
static int representable(double x, zs_ulp_format f)
{
    if (!isfinite(x) || x == 0 || (f != ZS_ULP_F16 && f != ZS_ULP_BF16))
        return 1;
    float v = (float)x;
    if ((double)v != x)
        return 0;
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (f == ZS_ULP_BF16)
        return (bits & 0xFFFFu) == 0;
    double a = fabs(x);
    if (a > 65504.0)
        return 0;
    if (a >= 0x1p-14)                       /* normal fp16: 10 explicit mantissa bits */
        return (bits & 0x1FFFu) == 0;
    double scaled = a * 0x1p24;             /* subnormal fp16: a multiple of 2^-24 */
    return scaled == floor(scaled);
}

/* Elements whose |diff| <= flip_bound (> 0) count as sign flips instead of mismatches. */
static void compare_values(const zs_st_tensor *g, const zs_st_tensor *e, int bitwise, double flip_bound,
                           zs_tensor_result *t)
{
    size_t size = zs_dtype_size(e->dtype);
    for (size_t i = 0; i < e->numel; i++) {
        double x = zs_element(g->data, g->dtype, i), y = zs_element(e->data, e->dtype, i);
        if (isnan(x) || isnan(y) || isinf(x) || isinf(y)) {
            /* NaN matches only NaN at the same index; Inf only Inf of the same sign. */
            int ok = isnan(x) ? isnan(y) : x == y;
            if (!ok) {
                t->nonfinite_mismatched++;
                t->worst_ratio = INFINITY;
                note_mismatch(t, i, x, y);
            }
            continue;
        }
        if (!representable(x, t->ulp_format)) {
            t->worst_ratio = INFINITY;
            note_mismatch(t, i, x, y);
            continue;
        }
        double diff = fabs(x - y), ulps = zs_ulp_distance(x, y, t->ulp_format);
        double rel = diff == 0 ? 0 : y != 0 ? diff / fabs(y) : INFINITY;
        if (diff > t->max_abs) t->max_abs = diff;
        if (rel > t->max_rel) t->max_rel = rel;
        if (ulps > t->max_ulp) t->max_ulp = ulps;
        double ratio = bitwise ? (memcmp((const char *)g->data + i * size, (const char *)e->data + i * size, size)
                                      ? INFINITY : 0)
                               : tolerance_ratio(diff, ulps, y, &t->tol);
        if (ratio > t->worst_ratio)
            t->worst_ratio = ratio;
        if (ratio > 1 && flip_bound > 0 && diff <= flip_bound)
            t->sign_flips++;
        else if (ratio > 1)
            note_mismatch(t, i, x, y);
    }
}

/* Noise-level gradients (docs/conformance.md): the attention key bias h.<l>.attn.c_attn.bias[C:2C]
 * has a gradient that is exactly zero in exact arithmetic (softmax is invariant to adding a constant
 * to a row of scores), so every implementation computes rounding noise there, and optimizers whose
 * steps are sign-like (Adam's first steps, Adagrad, Lion) move those weights by about +-lr in a
 * noise-dependent direction. A master or parameter tensor may therefore have up to layers * channels
 * elements off by at most 2 * (sum of the learning rates so far). */
static double lr_sum(const zs_st_file *expected, long first, long step)
{
    double sum = 0;
    char name[64];
    for (long k = first; k <= step; k++) {
        snprintf(name, sizeof name, "step%ld/lr", k);
        const zs_st_tensor *t = zs_st_find(expected, name);
        if (t && t->numel == 1)
            sum += fabs(zs_element(t->data, t->dtype, 0));
    }
    return sum;
}

static size_t noise_elements(const zs_st_file *expected)
{
    cJSON *m = cJSON_Parse(zs_st_meta(expected, "model") ? zs_st_meta(expected, "model") : "{}");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(m, "layers");
    const cJSON *channels = cJSON_GetObjectItemCaseSensitive(m, "channels");
    size_t n = cJSON_IsNumber(layers) && cJSON_IsNumber(channels)
                   ? (size_t)layers->valuedouble * (size_t)channels->valuedouble : 0;
    cJSON_Delete(m);
    return n;
}

static int same_shape(const zs_st_tensor *a, const zs_st_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

static void describe(zs_tensor_result *t, const zs_st_tensor *g, const zs_st_tensor *e)
{
    if (g) {
        t->dtype_got = g->dtype;
        t->ndim_got = g->ndim;
        memcpy(t->shape_got, g->shape, sizeof t->shape_got);
    }
    if (e) {
        t->dtype_expected = e->dtype;
        t->ndim_expected = e->ndim;
        memcpy(t->shape_expected, e->shape, sizeof t->shape_expected);
    }
    t->numel = e ? e->numel : g->numel;
}

/* Gradient partitions are stored before unscaling, i.e. times the step's loss scale; the table's
 * atol is for unscaled gradients (relative terms are scale-free). */
static double loss_scale_of_step(const zs_st_file *expected, long step)
{
    char name[64];
    snprintf(name, sizeof name, "step%ld/loss_scale", step);
    const zs_st_tensor *t = zs_st_find(expected, name);
    double s = t && t->numel == 1 ? zs_element(t->data, t->dtype, 0) : 1;
    return isfinite(s) && s > 0 ? s : 1;
}

static void compare_tensor(const zs_st_tensor *g, const zs_st_tensor *e, const zs_st_file *expected,
                           const zs_diff_result *r, zs_tensor_result *t)
{
    zs_tensor_name_parse(e ? e->name : g->name, &t->parsed);
    describe(t, g, e);
    if (!g) {
        t->status = ZS_T_MISSING;
        return;
    }
    if (!e) {
        t->status = ZS_T_EXTRA;
        return;
    }
    t->tol = zs_tolerance_for_family(r->family, r->tol_class, t->parsed.kind);
    if (t->parsed.kind == ZS_KIND_GRAD)
        t->tol.atol *= loss_scale_of_step(expected, t->parsed.step);
    t->ulp_format = ulp_format_for(e->dtype, t->parsed.kind, r->precision);
    if (g->dtype != e->dtype)
        t->status = ZS_T_DTYPE;
    else if (!same_shape(g, e))
        t->status = ZS_T_SHAPE;
    else {
        /* Integers and flags have no rounding: always exact. */
        int integral = e->dtype != ZS_F32 && e->dtype != ZS_F64 && e->dtype != ZS_F16 && e->dtype != ZS_BF16;
        int bitwise = r->tol_class == ZS_CLASS_EXACT || integral;
        int weights = t->parsed.kind == ZS_KIND_MASTER || t->parsed.kind == ZS_KIND_PARAM ||
                      t->parsed.kind == ZS_KIND_MODEL;
        double flip_bound = !bitwise && weights ? 2 * lr_sum(expected, r->resumed_from + 1, t->parsed.step) : 0;
        compare_values(g, e, bitwise, flip_bound, t);
        if (t->sign_flips > noise_elements(expected)) {   /* more than noise can explain: all count */
            t->max_abs = t->max_rel = t->max_ulp = t->worst_ratio = 0;
            t->mismatched = t->nonfinite_mismatched = t->sign_flips = 0;
            t->has_first = 0;
            compare_values(g, e, bitwise, 0, t);
        }
        t->status = t->mismatched ? ZS_T_VALUES : ZS_T_PASS;
    }
}

/* Report order: by step (init first, names without a step last), then the order a step computes
 * things (zs_tensor_kind), then rank, then name. */
static int by_step_kind_rank_name(const void *pa, const void *pb)
{
    const zs_tensor_result *a = pa, *b = pb;
    long sa = a->parsed.step < 0 ? LONG_MAX : a->parsed.step;
    long sb = b->parsed.step < 0 ? LONG_MAX : b->parsed.step;
    if (sa != sb) return sa < sb ? -1 : 1;
    if (a->parsed.kind != b->parsed.kind) return a->parsed.kind < b->parsed.kind ? -1 : 1;
    if (a->parsed.rank != b->parsed.rank) return a->parsed.rank < b->parsed.rank ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Whether a golden tensor lies outside the steps the implementation ran: before the step a resumed
 * run started from (init/ included), or after the last step asked of it. */
static int outside_window(const char *name, const zs_diff_result *r)
{
    zs_tensor_name n;
    zs_tensor_name_parse(name, &n);
    return (r->resumed_from > 0 && n.step >= 0 && n.step <= r->resumed_from) ||
           (r->last_step > 0 && n.step > r->last_step);
}

static int compare_tensors(const zs_st_file *got, const zs_st_file *expected, zs_diff_result *r, zs_error *err)
{
    r->tensors = calloc(expected->count + got->count, sizeof *r->tensors);
    if (!r->tensors)
        return zs_fail(err, "out of memory");
    for (size_t i = 0; i < expected->count + got->count; i++) {
        const zs_st_tensor *e = i < expected->count ? &expected->tensors[i] : NULL;
        const zs_st_tensor *g = e ? zs_st_find(got, e->name) : &got->tensors[i - expected->count];
        if (!e && zs_st_find(expected, g->name))
            continue;   /* already compared from the golden side */
        if (e && !g && outside_window(e->name, r))
            continue;   /* a step the implementation was not asked to run */
        zs_tensor_result *t = &r->tensors[r->n_tensors++];
        t->name = dup_or_null(e ? e->name : g->name);
        if (!t->name)
            return zs_fail(err, "out of memory");
        compare_tensor(g, e, expected, r, t);
        r->n_missing += t->status == ZS_T_MISSING;
        r->n_extra += t->status == ZS_T_EXTRA;
        r->n_failed_tensors += t->status == ZS_T_VALUES || t->status == ZS_T_DTYPE || t->status == ZS_T_SHAPE;
    }
    qsort(r->tensors, r->n_tensors, sizeof *r->tensors, by_step_kind_rank_name);
    return 0;
}

/* The optimizer family whose entries apply, from the golden file's metadata (as the precision class):
 * Muon when its config's optimizer is Muon and its stage >= 1 (at stage 0 the muon group is plain SGD,
 * no Newton-Schulz, docs/spec/optimizers.md §8a), the 1-bit family for OneBitAdam, ZeroOneAdam and
 * OneBitLamb. Types match case-insensitively, as DeepSpeed's do. */
static zs_tol_family tolerance_family(const zs_st_file *expected)
{
    static const char *const onebit[] = {"onebitadam", "zerooneadam", "onebitlamb"};
    const char *stage = zs_st_meta(expected, "stage");
    if ((zs_trace_optimizer_is(expected, "muon") || zs_trace_optimizer_is(expected, "muonwithauxadam")) && stage &&
        strtol(stage, NULL, 10) >= 1)
        return ZS_FAMILY_MUON;
    for (size_t i = 0; i < sizeof onebit / sizeof onebit[0]; i++)
        if (zs_trace_optimizer_is(expected, onebit[i]))
            return ZS_FAMILY_ONEBIT;
    return ZS_FAMILY_NONE;
}

static void copy_meta(char *dst, size_t n, const zs_st_file *f, const char *key)
{
    const char *v = zs_st_meta(f, key);
    snprintf(dst, n, "%s", v ? v : "?");
}

int zs_diff_files(const zs_st_file *got, const char *got_name, const zs_st_file *expected,
                  const char *expected_name, int class_override, long last_step, zs_diff_result *out,
                  zs_error *err)
{
    *out = (zs_diff_result){.last_step = last_step};
    if (check_format(expected, expected_name, err) || check_format(got, got_name, err))
        return -1;
    copy_meta(out->precision, sizeof out->precision, expected, "precision");
    copy_meta(out->case_name, sizeof out->case_name, expected, "case");
    copy_meta(out->world_size, sizeof out->world_size, expected, "world_size");
    copy_meta(out->stage, sizeof out->stage, expected, "stage");
    out->family = tolerance_family(expected);
    const char *resumed = zs_st_meta(got, "resumed_from_step");
    out->resumed_from = resumed ? strtol(resumed, NULL, 10) : 0;
    if (out->resumed_from < 0)
        return zs_fail(err, "%s: metadata resumed_from_step \"%s\" is negative", got_name, resumed);
    if (class_override >= 0)
        out->tol_class = (zs_tol_class)class_override;
    else if (zs_tol_class_of_precision(out->precision, &out->tol_class))
        return zs_fail(err, "%s: metadata 'precision' is \"%s\", not fp32, fp16 or bf16; give --tolerance-class",
                       expected_name, out->precision);
    if (compare_metadata(got, expected, out, err) || compare_tensors(got, expected, out, err)) {
        zs_diff_result_free(out);
        return -1;
    }
    out->pass = out->n_meta == 0 && out->n_missing == 0 && out->n_failed_tensors == 0;
    return 0;
}

int zs_diff_paths(const char *got_path, const char *expected_path, int class_override, long last_step,
                  zs_diff_result *out, zs_error *err)
{
    zs_st_file got = {0}, expected = {0};
    *out = (zs_diff_result){0};
    int rc = -1;
    if (zs_st_read_file(expected_path, &expected, err) == 0 && zs_st_read_file(got_path, &got, err) == 0)
        rc = zs_diff_files(&got, got_path, &expected, expected_path, class_override, last_step, out, err);
    zs_st_file_free(&got);
    zs_st_file_free(&expected);
    return rc;
}

void zs_diff_result_free(zs_diff_result *r)
{
    for (size_t i = 0; i < r->n_tensors; i++)
        free(r->tensors[i].name);
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].got);
        free(r->meta[i].expected);
    }
    free(r->tensors);
    free(r->meta);
    *r = (zs_diff_result){0};
}
