/* Muon's golden cases of `zs-ref ops`: fixtures/ops/muon_newton_schulz.safetensors (zerospec/plugin.h
 * newton_schulz and muon_update; docs/spec/optimizers.md §8a.3-8a.4).
 *
 *   metadata  op=muon, ns_cases ("gram_r12_c20 ..."), ns/<case> ({"ns_method":"gram","rows":12,"cols":20,"steps":5})
 *             update_cases, update/<case> ({"dtype":"BF16","ns_method":"standard","rows":..,"cols":..,"beta":0.95,"calls":2})
 *   tensors   ns/<case>/in, ns/<case>/out                                   F32 [rows, cols]
 *             update/<case>/call<k>/{grad,momentum}/{in,out}                F32 [rows, cols]
 *
 * Newton-Schulz runs both methods on a wide, a tall and a square matrix (gram on a square one is the
 * standard iteration in fp16; a tall one is transposed). muon_update runs two calls in sequence (the
 * momentum carried over) per model dtype; tall shapes exercise the aspect-ratio scale. Gradients are
 * values of the model dtype, as the engine hands them over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muon/muon.h"
#include "precision.h"
#include "zs_ref.h"

typedef struct ns_case {
    zs_ns_method method;
    int rows, cols;
} ns_case;

static const ns_case ns_cases[] = {
    {ZS_NS_GRAM, 12, 20}, {ZS_NS_GRAM, 20, 12}, {ZS_NS_GRAM, 16, 16},
    {ZS_NS_STANDARD, 12, 20}, {ZS_NS_STANDARD, 20, 12}, {ZS_NS_STANDARD, 16, 16},
};

typedef struct update_case {
    zs_dtype dtype;
    zs_ns_method method;
    int rows, cols;
} update_case;

static const update_case update_cases[] = {
    {ZS_F32, ZS_NS_GRAM, 24, 8}, {ZS_BF16, ZS_NS_STANDARD, 20, 12}, {ZS_F16, ZS_NS_GRAM, 8, 24},
};

#define UPDATE_CALLS 2
#define UPDATE_BETA 0.95

static const char *method_name(zs_ns_method m)
{
    return m == ZS_NS_GRAM ? "gram" : "standard";
}

static int add_matrix(zs_st_writer *w, const char *name, const float *x, int rows, int cols, zs_error *err)
{
    int64_t shape[2] = {rows, cols};
    return zs_st_add(w, name, ZS_F32, 2, shape, x, err);
}

static int write_ns_case(zs_st_writer *w, const ns_case *c, uint64_t stream, char *list, size_t size, zs_error *err)
{
    size_t n = (size_t)c->rows * (size_t)c->cols;
    float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    char kase[64], name[128], json[128];
    int rc = -1;
    snprintf(kase, sizeof kase, "%s_r%d_c%d", method_name(c->method), c->rows, c->cols);
    snprintf(list + strlen(list), size - strlen(list), "%s%s", *list ? " " : "", kase);
    if (!in || !out) {
        zs_fail(err, "ops: muon: out of memory");
        goto done;
    }
    zs_ref_ops_fill_normal(in, n, stream, 0.02);
    if (zs_newton_schulz(c->method, in, c->rows, c->cols, ZS_NS_STEPS, out)) {
        zs_fail(err, "ops: muon: out of memory");
        goto done;
    }
    snprintf(name, sizeof name, "ns/%s", kase);
    snprintf(json, sizeof json, "{\"ns_method\":\"%s\",\"rows\":%d,\"cols\":%d,\"steps\":%d}", method_name(c->method),
             c->rows, c->cols, ZS_NS_STEPS);
    if (zs_st_set_meta(w, name, json, err))
        goto done;
    snprintf(name, sizeof name, "ns/%s/in", kase);
    if (add_matrix(w, name, in, c->rows, c->cols, err))
        goto done;
    snprintf(name, sizeof name, "ns/%s/out", kase);
    rc = add_matrix(w, name, out, c->rows, c->cols, err);
done:
    free(in);
    free(out);
    return rc;
}

static int write_update_case(zs_st_writer *w, const update_case *c, uint64_t stream, char *list, size_t size,
                             zs_error *err)
{
    size_t n = (size_t)c->rows * (size_t)c->cols;
    float *g = malloc(n * sizeof(float)), *m = calloc(n, sizeof(float));
    char kase[64], name[128], json[160];
    const char *dn = zs_dtype_name(c->dtype);
    int rc = -1;
    snprintf(kase, sizeof kase, "%s_%s_r%d_c%d", dn, method_name(c->method), c->rows, c->cols);
    snprintf(list + strlen(list), size - strlen(list), "%s%s", *list ? " " : "", kase);
    snprintf(name, sizeof name, "update/%s", kase);
    snprintf(json, sizeof json, "{\"dtype\":\"%s\",\"ns_method\":\"%s\",\"rows\":%d,\"cols\":%d,\"beta\":%.17g,\"calls\":%d}",
             dn, method_name(c->method), c->rows, c->cols, UPDATE_BETA, UPDATE_CALLS);
    if (!g || !m) {
        zs_fail(err, "ops: muon: out of memory");
        goto done;
    }
    if (zs_st_set_meta(w, name, json, err))
        goto done;
    for (int k = 1; k <= UPDATE_CALLS; k++) {
        zs_ref_ops_fill_normal(g, n, stream + (uint64_t)k, 0.01);
        zs_round_array(c->dtype, g, n);
        const char *what[2][2] = {{"grad", "in"}, {"momentum", "in"}};
        const float *val[2] = {g, m};
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "update/%s/call%d/%s/%s", kase, k, what[i][0], what[i][1]);
            if (add_matrix(w, name, val[i], c->rows, c->cols, err))
                goto done;
        }
        if (zs_muon_update(c->dtype, g, m, c->rows, c->cols, UPDATE_BETA, c->method)) {
            zs_fail(err, "ops: muon: out of memory");
            goto done;
        }
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "update/%s/call%d/%s/out", kase, k, what[i][0]);
            if (add_matrix(w, name, val[i], c->rows, c->cols, err))
                goto done;
        }
    }
    rc = 0;
done:
    free(g);
    free(m);
    return rc;
}

int zs_ref_ops_muon(const char *dir, zs_error *err)
{
    zs_st_writer *w = zs_st_writer_new();
    char ns_list[256] = "", update_list[256] = "";
    int bad = zs_st_set_meta(w, "op", "muon", err);
    for (size_t c = 0; c < sizeof ns_cases / sizeof ns_cases[0] && !bad; c++)
        bad = write_ns_case(w, &ns_cases[c], 3000 + 10 * (uint64_t)c, ns_list, sizeof ns_list, err);
    for (size_t c = 0; c < sizeof update_cases / sizeof update_cases[0] && !bad; c++)
        bad = write_update_case(w, &update_cases[c], 3500 + 10 * (uint64_t)c, update_list, sizeof update_list, err);
    if (bad || zs_st_set_meta(w, "ns_cases", ns_list, err) || zs_st_set_meta(w, "update_cases", update_list, err)) {
        zs_st_writer_free(w);
        return -1;
    }
    return zs_ref_ops_write(w, dir, "muon_newton_schulz.safetensors", err);
}
