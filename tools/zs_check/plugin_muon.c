/* zs-check plugin, Muon (fixtures/ops/muon_newton_schulz.safetensors, written by `zs-ref ops`;
 * zerospec/plugin.h newton_schulz and muon_update; docs/spec/optimizers.md §8a.3-8a.4).
 *
 * From identical inputs, what a correct kernel may do differently is sum each emulated matmul's
 * exact products in another fp32 order (cuBLAS's): now and then a sum lands on the other side of an
 * fp16/bf16 rounding boundary, and the iteration carries that one-ulp change on. The bound is
 * ZS_NS_ULPS spacings of the compute dtype at the matrix's largest element (docs/conformance.md has
 * the measurement behind it); muon_update's momentum is element-wise (one rounding to the model
 * dtype, 4 fp32 ulps) and its result gets the Newton-Schulz bound plus one model-dtype rounding.
 * muon_update cases are teacher-forced: each call starts from the golden momentum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zs_check.h"

typedef struct muon_meta {
    char ns_method[16], dtype[8];
    int rows, cols, steps, calls;
    double beta;
} muon_meta;

static int parse_meta(const zs_st_file *f, const char *key, muon_meta *m)
{
    cJSON *o = cJSON_Parse(zs_st_meta(f, key) ? zs_st_meta(f, key) : "");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "ns_method"), *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const char *names[5] = {"rows", "cols", "steps", "calls", "beta"};
    double v[5] = {0};
    for (int i = 0; i < 5; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        v[i] = cJSON_IsNumber(x) ? x->valuedouble : 0;
    }
    *m = (muon_meta){.rows = (int)v[0], .cols = (int)v[1], .steps = (int)v[2], .calls = (int)v[3], .beta = v[4]};
    snprintf(m->ns_method, sizeof m->ns_method, "%s", cJSON_IsString(method) ? method->valuestring : "");
    snprintf(m->dtype, sizeof m->dtype, "%s", cJSON_IsString(dtype) ? dtype->valuestring : "F32");
    cJSON_Delete(o);
    return o && m->rows > 0 && m->cols > 0 && m->rows <= 4096 && m->cols <= 4096 ? 0 : -1;
}

static zs_ulp_format compute_format(const char *ns_method)
{
    return !strcmp(ns_method, "gram") ? ZS_ULP_F16 : ZS_ULP_BF16;
}

static zs_ulp_format model_format(const char *dtype)
{
    return !strcmp(dtype, "F16") ? ZS_ULP_F16 : !strcmp(dtype, "BF16") ? ZS_ULP_BF16 : ZS_ULP_F32;
}

/* ZS_NS_ULPS spacings of the compute format at the largest |want|. */
static double ns_bound(const float *want, size_t n, zs_ulp_format c)
{
    double big = 0;
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(want[i]));
    return ZS_NS_ULPS * zs_ulp_spacing(big, c);
}

static void verdict(zs_plugin_run *r, const char *label, int rc, const zs_bound_judge *j, const char *pass_detail)
{
    char detail[600];
    if (rc != ZS_PLUGIN_OK)
        return zs_plugin_verdict(r, label, rc, rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
    if (j->failed)
        snprintf(detail, sizeof detail, "%s; %d elements out of tolerance", j->detail, j->failed);
    else
        snprintf(detail, sizeof detail, "(%s, worst error/bound %.3g)", pass_detail, j->worst);
    zs_plugin_verdict(r, label, j->failed ? ZS_PLUGIN_ERROR : ZS_PLUGIN_OK, detail);
}

static void check_ns(zs_plugin_run *r, const char *label, const zs_st_file *f, const char *name)
{
    muon_meta m;
    char key[128];
    snprintf(key, sizeof key, "ns/%s", name);
    int bad = parse_meta(f, key, &m);
    size_t n = bad ? 0 : (size_t)m.rows * (size_t)m.cols;
    snprintf(key, sizeof key, "ns/%s/in", name);
    const float *in = zs_plugin_tensor_f32(f, key, n);
    snprintf(key, sizeof key, "ns/%s/out", name);
    const float *want = zs_plugin_tensor_f32(f, key, n);
    if (bad || !in || !want)
        return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (ns metadata, in, out)");
    float *copy = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    memcpy(copy, in, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        out[i] = NAN;
    zs_plugin_newton_schulz a = {m.ns_method, m.rows, m.cols, m.steps, copy, out};
    int rc = r->p->newton_schulz(&a);
    zs_bound_judge j = {0};
    double bound = ns_bound(want, n, compute_format(m.ns_method));
    if (rc == ZS_PLUGIN_OK && memcmp(copy, in, n * sizeof(float)))
        j.failed = snprintf(j.detail, sizeof j.detail, "the plugin wrote into its input") > 0;
    for (size_t i = 0; i < n && rc == ZS_PLUGIN_OK; i++)
        zs_judge_element(&j, "out", i, out[i], want[i], bound, 0);
    snprintf(key, sizeof key, "%s, %d x %d, %d steps", m.ns_method, m.rows, m.cols, m.steps);
    verdict(r, label, rc, &j, key);
    free(copy);
    free(out);
}

static void check_update(zs_plugin_run *r, const char *label, const zs_st_file *f, const char *name)
{
    muon_meta m;
    char key[160], where[64];
    snprintf(key, sizeof key, "update/%s", name);
    if (parse_meta(f, key, &m) || m.calls < 1)
        return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (update metadata)");
    size_t n = (size_t)m.rows * (size_t)m.cols;
    float *grad = malloc(n * sizeof(float)), *mom = malloc(n * sizeof(float));
    zs_bound_judge j = {0};
    zs_ulp_format t = model_format(m.dtype), c = compute_format(m.ns_method);
    int rc = ZS_PLUGIN_OK;
    for (int k = 1; k <= m.calls && rc == ZS_PLUGIN_OK && !j.failed; k++) {
        const float *g[2][2];   /* [grad, momentum][in, out] */
        const char *what[2] = {"grad", "momentum"}, *side[2] = {"in", "out"};
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                snprintf(key, sizeof key, "update/%s/call%d/%s/%s", name, k, what[a], side[b]);
                g[a][b] = zs_plugin_tensor_f32(f, key, n);
            }
        if (!g[0][0] || !g[0][1] || !g[1][0] || !g[1][1]) {
            free(grad);
            free(mom);
            return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (a call's tensors)");
        }
        memcpy(grad, g[0][0], n * sizeof(float));
        memcpy(mom, g[1][0], n * sizeof(float));
        zs_plugin_muon_update a = {m.dtype, m.ns_method, m.rows, m.cols, m.beta, grad, mom};
        if ((rc = r->p->muon_update(&a)) != ZS_PLUGIN_OK)
            break;
        double bound = ns_bound(g[0][1], n, c);
        snprintf(where, sizeof where, "call %d momentum", k);
        for (size_t i = 0; i < n; i++)
            zs_judge_element(&j, where, i, mom[i], g[1][1][i],
                             fmax(4 * zs_ulp_fp32(g[1][1][i]), t == ZS_ULP_F32 ? 0 : zs_ulp_spacing(g[1][1][i], t)), 0);
        snprintf(where, sizeof where, "call %d update", k);
        for (size_t i = 0; i < n; i++)
            zs_judge_element(&j, where, i, grad[i], g[0][1][i], bound + zs_ulp_spacing(g[0][1][i], t), 0);
    }
    snprintf(key, sizeof key, "%s, %s, %d x %d, %d calls teacher-forced", m.dtype, m.ns_method, m.rows, m.cols, m.calls);
    verdict(r, label, rc, &j, key);
    free(grad);
    free(mom);
}

void zs_plugin_check_muon(zs_plugin_run *r, const char *kase, const zs_st_file *f)
{
    zs_plugin_each_case(r, kase, f, "ns_cases", "ns", r->p->newton_schulz != NULL, ZS_PLUGIN_HAS(r->p, newton_schulz),
              "newton_schulz", check_ns);
    zs_plugin_each_case(r, kase, f, "update_cases", "update", r->p->muon_update != NULL, ZS_PLUGIN_HAS(r->p, muon_update),
              "muon_update", check_update);
}
