/* Reports of one diff: the text a kernel author reads (docs/conformance.md, "Reading a report"),
 * the one-line reason used in verdicts and JUnit, and the JSON form. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zs_check.h"

static const char *const status_names[] = {"pass", "values", "dtype", "shape", "missing", "extra"};

static int failed(const zs_tensor_result *t)
{
    return t->status == ZS_T_VALUES || t->status == ZS_T_DTYPE || t->status == ZS_T_SHAPE ||
           t->status == ZS_T_MISSING;
}

/* "step 1, rank 0, tensor grad, index 17" */
static void location(char *buf, size_t n, const zs_tensor_result *t)
{
    size_t used = 0;
    if (t->parsed.step == 0 && t->parsed.kind == ZS_KIND_INIT_PARAM)
        used = (size_t)snprintf(buf, n, "init, ");
    else if (t->parsed.step >= 0)
        used = (size_t)snprintf(buf, n, "step %ld, ", t->parsed.step);
    if (t->parsed.rank >= 0 && used < n)
        used += (size_t)snprintf(buf + used, n - used, "rank %d, ", t->parsed.rank);
    if (used < n)
        snprintf(buf + used, n - used, "tensor %s, index %zu", t->parsed.tensor, t->first_index);
}

static void allowance(char *buf, size_t n, const zs_tensor_result *t, zs_tol_class c)
{
    if (c == ZS_CLASS_EXACT) {
        snprintf(buf, n, "identical bits required");
        return;
    }
    double bound = t->tol.atol + t->tol.rtol * fabs(t->first_expected);
    if (t->tol.ulps > 0)
        snprintf(buf, n, "allowed %.3g or %g %s ulp", bound, t->tol.ulps, zs_ulp_format_name(t->ulp_format));
    else
        snprintf(buf, n, "allowed %.3g", bound);
}

/* "first mismatch at step 1, rank 0, tensor grad, index 17: got ..., expected ... (|diff| ..., allowed ...)" */
static void mismatch_line(char *buf, size_t n, const zs_tensor_result *t, zs_tol_class c)
{
    char where[256], got[96], want[96], allowed[96];
    location(where, sizeof where, t);
    zs_format_value(got, sizeof got, t->first_got, t->dtype_got);
    zs_format_value(want, sizeof want, t->first_expected, t->dtype_expected);
    allowance(allowed, sizeof allowed, t, c);
    snprintf(buf, n, "first mismatch at %s: got %s, expected %s (|diff| %.3g, %s)", where, got, want,
             fabs(t->first_got - t->first_expected), allowed);
}

/* One line for a failing tensor's problem (shape, dtype, missing, or its first mismatch). */
static void tensor_problem(char *buf, size_t n, const zs_tensor_result *t, zs_tol_class c)
{
    char a[128], b[128];
    switch (t->status) {
    case ZS_T_MISSING:
        snprintf(buf, n, "%s: missing (in the golden trace, not in the implementation's)", t->name);
        break;
    case ZS_T_EXTRA:
        snprintf(buf, n, "%s: extra (not in the golden trace; ignored)", t->name);
        break;
    case ZS_T_DTYPE:
        snprintf(buf, n, "%s: dtype %s, expected %s", t->name, zs_dtype_name(t->dtype_got),
                 zs_dtype_name(t->dtype_expected));
        break;
    case ZS_T_SHAPE:
        zs_format_shape(a, sizeof a, t->ndim_got, t->shape_got);
        zs_format_shape(b, sizeof b, t->ndim_expected, t->shape_expected);
        snprintf(buf, n, "%s: shape %s, expected %s", t->name, a, b);
        break;
    default:
        mismatch_line(buf, n, t, c);
        break;
    }
}

static void meta_line(char *buf, size_t n, const zs_meta_diff *d)
{
    snprintf(buf, n, "metadata '%s': got %s%s%s, expected %s%s%s", d->key, d->got ? "\"" : "",
             d->got ? d->got : "nothing", d->got ? "\"" : "", d->expected ? "\"" : "",
             d->expected ? d->expected : "nothing", d->expected ? "\"" : "");
}

void zs_diff_first_failure(const zs_diff_result *r, char *buf, size_t n)
{
    buf[0] = '\0';
    if (r->n_meta) {
        meta_line(buf, n, &r->meta[0]);
        return;
    }
    for (size_t i = 0; i < r->n_tensors; i++)
        if (failed(&r->tensors[i])) {
            tensor_problem(buf, n, &r->tensors[i], r->tol_class);
            return;
        }
}

static void print_tensor(FILE *out, const zs_tensor_result *t, zs_tol_class c)
{
    char shape[128], line[1024];
    zs_format_shape(shape, sizeof shape, t->ndim_expected, t->shape_expected);
    if (t->status == ZS_T_PASS || t->status == ZS_T_VALUES) {
        fprintf(out, "  %-4s %s %s %s: %zu of %zu out of tolerance; max abs %.3g, max rel %.3g, max ulp %.3g (%s); "
                     "worst %.3g of tolerance (atol %g, rtol %g%s)\n",
                t->status == ZS_T_PASS ? "pass" : "FAIL", t->name, zs_dtype_name(t->dtype_expected), shape,
                t->mismatched, t->numel, t->max_abs, t->max_rel, t->max_ulp, zs_ulp_format_name(t->ulp_format),
                t->worst_ratio, t->tol.atol, t->tol.rtol, t->tol.ulps > 0 ? ", or ulps" : "");
        if (t->nonfinite_mismatched)
            fprintf(out, "       %zu of them NaN or Inf where the other is not\n", t->nonfinite_mismatched);
        if (t->sign_flips)
            fprintf(out, "       %zu element(s) accepted as sign flips of a noise-level gradient (|diff| <= 2 x sum "
                         "of lr; docs/conformance.md)\n", t->sign_flips);
        if (t->status == ZS_T_VALUES) {
            mismatch_line(line, sizeof line, t, c);
            fprintf(out, "       %s\n", line);
        }
        return;
    }
    tensor_problem(line, sizeof line, t, c);
    fprintf(out, "  %s %s\n", t->status == ZS_T_EXTRA ? "warn" : "FAIL", line);
}

/* Per kind: how close the implementation is, so tolerances can be tuned from measurements. */
static void print_kind_table(FILE *out, const zs_diff_result *r)
{
    fprintf(out, "  %-16s %7s %6s %10s %10s %10s %10s\n", "kind", "tensors", "failed", "max_abs", "max_rel", "max_ulp",
            "worst/tol");
    for (int k = 0; k < ZS_KIND_COUNT; k++) {
        size_t count = 0, nfail = 0;
        double abs_ = 0, rel = 0, ulp = 0, worst = 0;
        for (size_t i = 0; i < r->n_tensors; i++) {
            const zs_tensor_result *t = &r->tensors[i];
            if (t->parsed.kind != (zs_tensor_kind)k || t->status == ZS_T_EXTRA)
                continue;
            count++;
            nfail += failed(t);
            abs_ = fmax(abs_, t->max_abs);
            rel = fmax(rel, t->max_rel);
            ulp = fmax(ulp, t->max_ulp);
            worst = fmax(worst, t->worst_ratio);
        }
        if (count)
            fprintf(out, "  %-16s %7zu %6zu %10.3g %10.3g %10.3g %10.3g\n", zs_tensor_kind_name((zs_tensor_kind)k),
                    count, nfail, abs_, rel, ulp, worst);
    }
}

void zs_report_diff(FILE *out, const zs_diff_result *r, const zs_report_options *o)
{
    char line[1024];
    int family = r->family != ZS_FAMILY_NONE && r->tol_class != ZS_CLASS_EXACT;
    fprintf(out, "  case %s, world %s, stage %s, precision %s, tolerance class %s%s%s%s\n", r->case_name,
            r->world_size, r->stage, r->precision, zs_tol_class_name(r->tol_class), family ? " with " : "",
            family ? zs_tol_family_name(r->family) : "", family ? " entries" : "");
    for (size_t i = 0; i < r->n_meta; i++) {
        meta_line(line, sizeof line, &r->meta[i]);
        fprintf(out, "  FAIL %s\n", line);
    }
    if (!o->all && r->n_extra) {   /* warnings: one whole line for all of them, before the failures */
        size_t listed = 0;
        fprintf(out, "  warn %zu extra tensor(s), not in the golden trace (ignored):", r->n_extra);
        for (size_t i = 0; i < r->n_tensors && listed < 3; i++)
            if (r->tensors[i].status == ZS_T_EXTRA)
                fprintf(out, "%s %s", listed++ ? "," : "", r->tensors[i].name);
        fprintf(out, "%s\n", r->n_extra > 3 ? ", ..." : "");
    }
    int shown = 0, hidden = 0;
    for (size_t i = 0; i < r->n_tensors; i++) {
        const zs_tensor_result *t = &r->tensors[i];
        if (!o->all && (t->status == ZS_T_PASS || t->status == ZS_T_EXTRA))
            continue;
        if (!o->all && failed(t) && shown >= o->max_report) {
            hidden++;
            continue;
        }
        shown += failed(t);
        print_tensor(out, t, r->tol_class);
    }
    if (hidden)
        fprintf(out, "  ... %d more failing tensors (--max-report N shows more)\n", hidden);
    print_kind_table(out, r);
}

/* ---- JSON ---- */

static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_value(cJSON *o, const char *key, double v, zs_dtype dtype)
{
    char text[96], text_key[64];
    add_number(o, key, v);
    zs_format_value(text, sizeof text, v, dtype);
    snprintf(text_key, sizeof text_key, "%s_text", key);   /* decimal and hex float */
    cJSON_AddStringToObject(o, text_key, text);
}

static cJSON *shape_json(int ndim, const int64_t *shape)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; d < ndim; d++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[d]));
    return a;
}

static cJSON *tensor_json(const zs_tensor_result *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "status", status_names[t->status]);
    cJSON_AddStringToObject(o, "kind", zs_tensor_kind_name(t->parsed.kind));
    cJSON_AddNumberToObject(o, "step", (double)t->parsed.step);
    cJSON_AddNumberToObject(o, "rank", t->parsed.rank);
    cJSON_AddStringToObject(o, "tensor", t->parsed.tensor);
    int have_expected = t->status != ZS_T_EXTRA, have_got = t->status != ZS_T_MISSING;
    cJSON_AddStringToObject(o, "dtype", zs_dtype_name(have_expected ? t->dtype_expected : t->dtype_got));
    cJSON_AddItemToObject(o, "shape", have_expected ? shape_json(t->ndim_expected, t->shape_expected)
                                                    : shape_json(t->ndim_got, t->shape_got));
    if (have_got && have_expected && t->status != ZS_T_PASS && t->status != ZS_T_VALUES) {
        cJSON_AddStringToObject(o, "got_dtype", zs_dtype_name(t->dtype_got));
        cJSON_AddItemToObject(o, "got_shape", shape_json(t->ndim_got, t->shape_got));
    }
    if (t->status != ZS_T_PASS && t->status != ZS_T_VALUES)
        return o;
    cJSON_AddNumberToObject(o, "numel", (double)t->numel);
    cJSON_AddNumberToObject(o, "mismatched", (double)t->mismatched);
    cJSON_AddNumberToObject(o, "nonfinite_mismatched", (double)t->nonfinite_mismatched);
    cJSON_AddNumberToObject(o, "sign_flips", (double)t->sign_flips);
    add_number(o, "max_abs", t->max_abs);
    add_number(o, "max_rel", t->max_rel);
    add_number(o, "max_ulp", t->max_ulp);
    cJSON_AddStringToObject(o, "ulp_format", zs_ulp_format_name(t->ulp_format));
    add_number(o, "worst_ratio", t->worst_ratio);
    cJSON *tol = cJSON_AddObjectToObject(o, "tolerance");
    cJSON_AddNumberToObject(tol, "atol", t->tol.atol);
    cJSON_AddNumberToObject(tol, "rtol", t->tol.rtol);
    cJSON_AddNumberToObject(tol, "ulps", t->tol.ulps);
    if (t->has_first) {
        cJSON *m = cJSON_AddObjectToObject(o, "first_mismatch");
        cJSON_AddNumberToObject(m, "index", (double)t->first_index);
        add_value(m, "got", t->first_got, t->dtype_got);
        add_value(m, "expected", t->first_expected, t->dtype_expected);
    }
    return o;
}

cJSON *zs_diff_result_json(const zs_diff_result *r)
{
    char line[1024];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "verdict", r->pass ? "PASS" : "FAIL");
    zs_diff_first_failure(r, line, sizeof line);
    cJSON_AddStringToObject(o, "first_failure", line);
    cJSON_AddStringToObject(o, "case", r->case_name);
    cJSON_AddStringToObject(o, "world_size", r->world_size);
    cJSON_AddStringToObject(o, "stage", r->stage);
    cJSON_AddStringToObject(o, "precision", r->precision);
    cJSON_AddStringToObject(o, "tolerance_class", zs_tol_class_name(r->tol_class));
    cJSON *meta = cJSON_AddArrayToObject(o, "metadata_differences");
    for (size_t i = 0; i < r->n_meta; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "key", r->meta[i].key);
        cJSON_AddItemToObject(d, "got", r->meta[i].got ? cJSON_CreateString(r->meta[i].got) : cJSON_CreateNull());
        cJSON_AddItemToObject(d, "expected",
                              r->meta[i].expected ? cJSON_CreateString(r->meta[i].expected) : cJSON_CreateNull());
        cJSON_AddItemToArray(meta, d);
    }
    cJSON_AddNumberToObject(o, "tensors_failed", (double)r->n_failed_tensors);
    cJSON_AddNumberToObject(o, "tensors_missing", (double)r->n_missing);
    cJSON_AddNumberToObject(o, "tensors_extra", (double)r->n_extra);
    cJSON *tensors = cJSON_AddArrayToObject(o, "tensors");
    for (size_t i = 0; i < r->n_tensors; i++)
        cJSON_AddItemToArray(tensors, tensor_json(&r->tensors[i]));
    return o;
}

int zs_write_json(const char *path, const cJSON *root, zs_error *err)
{
    char *text = cJSON_Print(root);
    if (!text)
        return zs_fail(err, "out of memory");
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f))
        ok = 0;
    cJSON_free(text);
    return ok ? 0 : zs_fail(err, "%s: cannot write the JSON report", path);
}
