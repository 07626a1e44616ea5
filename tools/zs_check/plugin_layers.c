/* zs-check plugin, layer cases (fixtures/ops/layer_<name>.safetensors, written by `zs-ref ops`): each
 * variant's forward and backward pass goes through the plugin's layer_forward / layer_backward with the
 * golden inputs, and every output is judged against the exact (fp64) result with a bound scaled by
 * the fp32 reference's own error there (zs_layer_bound; docs/conformance.md "Checking your kernels:
 * layers"). One verdict per (variant, pass), then one line per output buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zs_check.h"

#define MAX_BUFS 8

double zs_ulp_fp32(double x)
{
    return zs_ulp_spacing(x, ZS_ULP_F32);
}

double zs_layer_bound(double ref_err, double mean_ref_err, double exact)
{
    return ZS_LAYER_K * fmax(ref_err, mean_ref_err) + ZS_LAYER_ULPS * zs_ulp_fp32(exact);
}

/* One output buffer judged: the plugin's values against the exact ones. */
typedef struct buffer_cmp {
    double max_abs, max_rel, max_ulp, ref_max_ulp, worst_ratio;
    size_t mismatched, first;
    double got, exact, ref, bound;
} buffer_cmp;

static buffer_cmp compare_buffer(const float *got, const float *ref, const double *exact, size_t n)
{
    buffer_cmp c = {0};
    double mean_err = 0;
    for (size_t i = 0; i < n; i++)
        mean_err += fabs((double)ref[i] - exact[i]) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], x = exact[i], bound = zs_layer_bound(fabs((double)ref[i] - x), mean_err, x);
        double err = fabs(g - x);
        int ok = isfinite(g) ? err <= bound : 0;
        if (isfinite(g)) {
            c.max_abs = fmax(c.max_abs, err);
            c.max_rel = x != 0 ? fmax(c.max_rel, err / fabs(x)) : c.max_rel;
            c.max_ulp = fmax(c.max_ulp, zs_ulp_distance(g, x, ZS_ULP_F32));
            c.worst_ratio = fmax(c.worst_ratio, err / bound);
        }
        c.ref_max_ulp = fmax(c.ref_max_ulp, zs_ulp_distance(ref[i], x, ZS_ULP_F32));
        if (!ok && c.mismatched++ == 0) {
            c.first = i;
            c.got = g;
            c.exact = x;
            c.ref = ref[i];
            c.bound = bound;
        }
    }
    return c;
}

/* The buffers of one pass, built from the golden file: inputs (copies, so a plugin writing into them
 * is caught) and outputs (NaN before a forward pass, zero before a backward pass). */
typedef struct pass_io {
    int n_in, n_out;
    zs_plugin_buffer in[MAX_BUFS], out[MAX_BUFS];
    char names[2 * MAX_BUFS][32];
    const zs_st_tensor *golden_in[MAX_BUFS], *ref[MAX_BUFS], *exact[MAX_BUFS];
} pass_io;

static void pass_io_free(pass_io *io)
{
    for (int i = 0; i < io->n_in; i++)
        free(io->in[i].data);
    for (int i = 0; i < io->n_out; i++)
        free(io->out[i].data);
}

/* Fills io for "<variant>/<pass>" from the space-separated name lists; -1 if a tensor is missing. */
static int pass_io_load(pass_io *io, const zs_st_file *f, const char *variant, const char *pass,
                        const char *in_list, const char *out_list)
{
    memset(io, 0, sizeof *io);
    const char *lists[2] = {in_list ? in_list : "", out_list ? out_list : ""};
    for (int side = 0; side < 2; side++) {
        for (const char *p = lists[side]; *p;) {
            size_t len = strcspn(p, " ");
            int *n = side ? &io->n_out : &io->n_in;
            if (len && *n < MAX_BUFS) {
                char *name = io->names[side * MAX_BUFS + *n], key[160];
                snprintf(name, 32, "%.*s", (int)len, p);
                snprintf(key, sizeof key, "%s/%s/%s/%s", variant, pass, side ? "out" : "in", name);
                const zs_st_tensor *t = zs_st_find(f, key);
                if (!t || (t->dtype != ZS_F32 && t->dtype != ZS_I32))
                    return -1;
                int i = (*n)++;
                zs_plugin_buffer *b = side ? &io->out[i] : &io->in[i];
                b->name = name;
                b->dtype = zs_dtype_name(t->dtype);
                b->numel = t->numel;
                if (!(b->data = malloc(t->nbytes ? t->nbytes : 1)))
                    return -1;
                if (side) {
                    snprintf(key, sizeof key, "%s/%s/exact/%s", variant, pass, name);
                    io->ref[i] = t;
                    io->exact[i] = zs_st_find(f, key);
                    if (t->dtype != ZS_F32 || !io->exact[i] || io->exact[i]->dtype != ZS_F64 ||
                        io->exact[i]->numel != t->numel)
                        return -1;
                    for (size_t k = 0; k < t->numel; k++)
                        ((float *)b->data)[k] = strcmp(pass, "forward") ? 0.0f : NAN;
                } else {
                    io->golden_in[i] = t;
                    memcpy(b->data, t->data, t->nbytes);
                }
            }
            p += len + (p[len] == ' ');
        }
    }
    return 0;
}

static int json_int(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static void print_buffer(zs_plugin_run *r, const char *name, const buffer_cmp *c)
{
    fprintf(r->out, "     %-8s max |err| %.3g  rel %.3g  %.1f ulp (reference %.1f)  error/bound %.3g\n", name,
            c->max_abs, c->max_rel, c->max_ulp, c->ref_max_ulp, c->worst_ratio);
}

static void check_pass(zs_plugin_run *r, const char *kase, const zs_st_file *f, const char *variant,
                       const zs_plugin_layer *shape, int backward)
{
    const char *pass = backward ? "backward" : "forward";
    char label[160], detail[512], key[64];
    snprintf(label, sizeof label, "%s %s %s", kase, variant, pass);
    int (*entry)(const zs_plugin_layer *) = backward ? r->p->layer_backward : r->p->layer_forward;
    if (!entry) {
        snprintf(detail, sizeof detail, "(no layer_%s entry%s)", pass,
                 ZS_PLUGIN_HAS(r->p, layer_forward) ? "" : ": the plugin predates the layer entries");
        return zs_plugin_verdict(r, label, ZS_PLUGIN_UNSUPPORTED, detail);
    }
    pass_io io;
    snprintf(key, sizeof key, "%s_in", pass);
    const char *in_list = zs_st_meta(f, key);
    snprintf(key, sizeof key, "%s_out", pass);
    if (pass_io_load(&io, f, variant, pass, in_list, zs_st_meta(f, key)) || !io.n_out) {
        pass_io_free(&io);
        return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (buffers of this pass)");
    }
    zs_plugin_layer a = *shape;
    a.n_in = io.n_in;
    a.in = io.in;
    a.n_out = io.n_out;
    a.out = io.out;
    int rc = entry(&a);
    if (rc != ZS_PLUGIN_OK) {
        zs_plugin_verdict(r, label, rc, rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
        return pass_io_free(&io);
    }
    for (int i = 0; i < io.n_in; i++)
        if (memcmp(io.in[i].data, io.golden_in[i]->data, io.golden_in[i]->nbytes)) {
            snprintf(detail, sizeof detail, "the plugin wrote into its input %s", io.in[i].name);
            zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, detail);
            return pass_io_free(&io);
        }
    buffer_cmp c[MAX_BUFS];
    int bad = -1;
    double worst = 0;
    for (int i = 0; i < io.n_out; i++) {
        c[i] = compare_buffer(io.out[i].data, io.ref[i]->data, io.exact[i]->data, io.out[i].numel);
        worst = fmax(worst, c[i].worst_ratio);
        if (c[i].mismatched && bad < 0)
            bad = i;
    }
    if (bad >= 0) {
        const buffer_cmp *m = &c[bad];
        snprintf(detail, sizeof detail, "%s[%zu]: got %.9g, exact %.9g (reference fp32 %.9g), allowed error %.3g; "
                 "%zu of %zu elements out of tolerance", io.out[bad].name, m->first, m->got, m->exact, m->ref,
                 m->bound, m->mismatched, io.out[bad].numel);
        zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, detail);
    } else {
        snprintf(detail, sizeof detail, "(worst error/bound %.3g)", worst);
        zs_plugin_verdict(r, label, ZS_PLUGIN_OK, detail);
    }
    for (int i = 0; i < io.n_out; i++)
        print_buffer(r, io.out[i].name, &c[i]);
    pass_io_free(&io);
}

void zs_plugin_check_layer(zs_plugin_run *r, const char *kase, const zs_st_file *f)
{
    const char *layer = zs_st_meta(f, "layer"), *variants = zs_st_meta(f, "variants");
    if (!layer || !variants)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, "malformed golden file (layer, variants)");
    for (const char *p = variants; *p;) {
        size_t len = strcspn(p, " ");
        char variant[64], key[96];
        snprintf(variant, sizeof variant, "%.*s", (int)len, p);
        p += len + (p[len] == ' ');
        snprintf(key, sizeof key, "shape/%s", variant);
        cJSON *o = cJSON_Parse(zs_st_meta(f, key) ? zs_st_meta(f, key) : "");
        zs_plugin_layer shape = {layer, json_int(o, "B"), json_int(o, "T"), json_int(o, "C"), json_int(o, "NH"),
                                 json_int(o, "V"), json_int(o, "OC"), 0, NULL, 0, NULL};
        cJSON_Delete(o);
        check_pass(r, kase, f, variant, &shape, 0);
        check_pass(r, kase, f, variant, &shape, 1);
    }
}
