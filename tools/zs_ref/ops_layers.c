/* The layer golden cases of `zs-ref ops`: fixtures/ops/layer_<name>.safetensors, one file per layer
 * of the plugin ABI's table (zerospec/plugin.h; reference/layer_calls.c). For each shape variant and
 * pass the file holds the inputs, the reference's fp32 outputs and the same layer evaluated in fp64
 * on the same (fp32) inputs — the exact result to within ~1e-16, which lets zs-check judge a kernel
 * by the fp32 reference's own error (docs/conformance.md "Checking your kernels: layers").
 *
 *   metadata  op=layer, layer, variants ("b2_t4 b3_t7"), shape/<variant> ({"B":2,"T":4,...}),
 *             forward_in, forward_out, backward_in, backward_out (buffer names in call order)
 *   tensors   <variant>/<pass>/in/<buffer>     F32 (I32 for token ids and targets), the table's shape
 *             <variant>/<pass>/out/<buffer>    F32: the reference (layers.c, float)
 *             <variant>/<pass>/exact/<buffer>  F64: layers.c compiled with double
 *
 * Backward inputs that the forward pass produces (mean, rstd, att, probs) are its fp32 outputs;
 * other upstream gradients are fresh N(0,1) draws, except dlosses = 1/(B*T) (what training passes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "rng.h"
#include "zs_ref.h"

#define MAX_BUFS 6

typedef struct variant {
    const char *name;
    zs_layer_dims d;
    double scale, offset;   /* of the forward pass's float inputs */
} variant;

/* Every layer gets the first two (NH > 1 in both; T = 7 and C = 24 are not powers of two). */
static const variant common_variants[] = {
    {"b2_t4", {.B = 2, .T = 4, .C = 8, .NH = 2, .V = 11, .OC = 12}, 1.0, 0.0},
    {"b3_t7", {.B = 3, .T = 7, .C = 24, .NH = 3, .V = 29, .OC = 36}, 1.0, 0.0},
};
/* Cross-entropy also gets logits around 100: exp overflows fp32 beyond 88.7, so a softmax without its
 * max subtraction gives NaN, while the spread (a few units) keeps every probability normal. */
static const variant large_logits = {"b2_t5_large", {.B = 2, .T = 5, .C = 8, .NH = 2, .V = 40, .OC = 12}, 4.0, 100.0};

/* The buffers of one pass, in call order: fp32 values and their fp64 copies (inputs) or results. */
typedef struct pass_bufs {
    int n_in, n_out;
    zs_layer_buffer in[MAX_BUFS], out[MAX_BUFS];
    float *in32[MAX_BUFS], *out32[MAX_BUFS];
    double *in64[MAX_BUFS], *out64[MAX_BUFS];
    int *ids;            /* the int32 input, if the layer has one */
} pass_bufs;

static void pass_free(pass_bufs *p)
{
    for (int i = 0; i < MAX_BUFS; i++) {
        free(p->in32[i]);
        free(p->in64[i]);
        free(p->out32[i]);
        free(p->out64[i]);
    }
    free(p->ids);
}

static int pass_alloc(pass_bufs *p, const char *in_list, const char *out_list, const zs_layer_dims *d)
{
    memset(p, 0, sizeof *p);
    p->n_in = zs_layer_buffers(in_list, d, p->in, MAX_BUFS);
    p->n_out = zs_layer_buffers(out_list, d, p->out, MAX_BUFS);
    int ok = 1;
    for (int i = 0; i < p->n_in; i++) {
        ok = ok && (p->in32[i] = calloc(p->in[i].numel, sizeof(float)));
        ok = ok && (p->in64[i] = calloc(p->in[i].numel, sizeof(double)));
    }
    for (int i = 0; i < p->n_out; i++) {
        ok = ok && (p->out32[i] = calloc(p->out[i].numel, sizeof(float)));
        ok = ok && (p->out64[i] = calloc(p->out[i].numel, sizeof(double)));
    }
    return ok ? 0 : -1;
}

static const float *find_out(const pass_bufs *p, const char *name)
{
    for (int i = 0; i < p->n_out; i++)
        if (!strcmp(p->out[i].name, name))
            return p->out32[i];
    return NULL;
}

static const float *find_in(const pass_bufs *p, const char *name)
{
    for (int i = 0; i < p->n_in; i++)
        if (!strcmp(p->in[i].name, name))
            return p->in32[i];
    return NULL;
}

/* Inputs of a pass: the forward pass's values where it has them (fwd = NULL for the forward pass
 * itself), fresh draws otherwise; ids uniform in [0, V) (the draws repeat tokens, which the encoder's
 * backward must accumulate). */
static int fill_inputs(pass_bufs *p, const pass_bufs *fwd, const zs_layer_spec *spec, const variant *v,
                       uint64_t stream)
{
    const zs_layer_dims *d = &v->d;
    for (int i = 0; i < p->n_in; i++) {
        const zs_layer_buffer *b = &p->in[i];
        const float *prev = fwd ? find_out(fwd, b->name) : NULL;
        if (fwd && !prev)
            prev = find_in(fwd, b->name);
        if (spec->ids && !strcmp(b->name, spec->ids)) {
            if (!(p->ids = calloc(b->numel, sizeof(int))))
                return -1;
            uint64_t key = zs_rng_key(OPS_SEED, stream + (uint64_t)i);
            for (size_t k = 0; k < b->numel; k++)
                p->ids[k] = fwd ? fwd->ids[k] : (int)(zs_rng_uniform24(key, k) * d->V);
            continue;
        }
        if (prev)
            memcpy(p->in32[i], prev, b->numel * sizeof(float));
        else if (!strcmp(b->name, "dlosses"))
            for (size_t k = 0; k < b->numel; k++)
                p->in32[i][k] = 1.0f / (float)(d->B * d->T);
        else if (fwd)
            zs_ref_ops_fill_normal(p->in32[i], b->numel, stream + (uint64_t)i, 1.0);
        else {
            zs_ref_ops_fill_normal(p->in32[i], b->numel, stream + (uint64_t)i, v->scale);
            for (size_t k = 0; k < b->numel; k++)
                p->in32[i][k] = p->in32[i][k] + (float)v->offset;
        }
        for (size_t k = 0; k < b->numel; k++)
            p->in64[i][k] = p->in32[i][k];
    }
    return 0;
}

static int run_pass(pass_bufs *p, const zs_layer_spec *spec, int backward, const zs_layer_dims *d, zs_error *err)
{
    if (zs_layer_call_f32(spec, backward, d, p->in32, p->out32, p->ids) ||
        zs_layer_call_f64(spec, backward, d, p->in64, p->out64, p->ids))
        return zs_fail(err, "ops: layer %s: out of memory", spec->name);
    return 0;
}

_Static_assert(sizeof(int) == 4, "token ids are stored as I32");

static int add_pass(zs_st_writer *w, const zs_layer_spec *spec, const char *variant_name, const char *pass,
                    const pass_bufs *p, zs_error *err)
{
    char name[128];
    for (int i = 0; i < p->n_in; i++) {
        const zs_layer_buffer *b = &p->in[i];
        int is_ids = spec->ids && !strcmp(b->name, spec->ids);
        snprintf(name, sizeof name, "%s/%s/in/%s", variant_name, pass, b->name);
        if (zs_st_add(w, name, is_ids ? ZS_I32 : ZS_F32, b->ndim, b->shape,
                      is_ids ? (const void *)p->ids : p->in32[i], err))
            return -1;
    }
    for (int i = 0; i < p->n_out; i++) {
        const zs_layer_buffer *b = &p->out[i];
        snprintf(name, sizeof name, "%s/%s/out/%s", variant_name, pass, b->name);
        if (zs_st_add(w, name, ZS_F32, b->ndim, b->shape, p->out32[i], err))
            return -1;
        snprintf(name, sizeof name, "%s/%s/exact/%s", variant_name, pass, b->name);
        if (zs_st_add(w, name, ZS_F64, b->ndim, b->shape, p->out64[i], err))
            return -1;
    }
    return 0;
}

/* "inp wte wpe" from "inp[B,T] wte[V,C] wpe[T,C]" */
static void names_only(const char *list, char *buf, size_t size)
{
    zs_layer_buffer b[MAX_BUFS];
    zs_layer_dims none = {0};
    int n = zs_layer_buffers(list, &none, b, MAX_BUFS);
    buf[0] = 0;
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? " " : "", b[i].name);
}

static int write_variant(zs_st_writer *w, const zs_layer_spec *spec, const variant *v, uint64_t stream, zs_error *err)
{
    pass_bufs fwd, bwd;
    int rc = -1;
    char json[160], key[64];
    if (pass_alloc(&fwd, spec->forward_in, spec->forward_out, &v->d) ||
        pass_alloc(&bwd, spec->backward_in, spec->backward_out, &v->d)) {
        zs_fail(err, "ops: layer %s: out of memory", spec->name);
        goto done;
    }
    if (fill_inputs(&fwd, NULL, spec, v, stream) || run_pass(&fwd, spec, 0, &v->d, err) ||
        fill_inputs(&bwd, &fwd, spec, v, stream + 10) || run_pass(&bwd, spec, 1, &v->d, err))
        goto done;
    snprintf(json, sizeof json, "{\"B\":%d,\"T\":%d,\"C\":%d,\"NH\":%d,\"V\":%d,\"OC\":%d}", v->d.B, v->d.T,
             v->d.C, v->d.NH, v->d.V, v->d.OC);
    snprintf(key, sizeof key, "shape/%s", v->name);
    rc = zs_st_set_meta(w, key, json, err) || add_pass(w, spec, v->name, "forward", &fwd, err) ||
         add_pass(w, spec, v->name, "backward", &bwd, err) ? -1 : 0;
done:
    pass_free(&fwd);
    pass_free(&bwd);
    return rc;
}

int zs_ref_ops_layers(const char *dir, zs_error *err)
{
    for (int l = 0; l < zs_layer_spec_count; l++) {
        const zs_layer_spec *spec = &zs_layer_specs[l];
        variant vs[3] = {common_variants[0], common_variants[1], large_logits};
        int nv = !strcmp(spec->name, "crossentropy") ? 3 : 2;
        zs_st_writer *w = zs_st_writer_new();
        char names[256], list[128] = "", file[64];
        const char *lists[4][2] = {{"forward_in", spec->forward_in}, {"forward_out", spec->forward_out},
                                   {"backward_in", spec->backward_in}, {"backward_out", spec->backward_out}};
        int bad = zs_st_set_meta(w, "op", "layer", err) || zs_st_set_meta(w, "layer", spec->name, err);
        for (int k = 0; k < 4 && !bad; k++) {
            names_only(lists[k][1], names, sizeof names);
            bad = zs_st_set_meta(w, lists[k][0], names, err);
        }
        for (int k = 0; k < nv && !bad; k++) {
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? " " : "", vs[k].name);
            bad = write_variant(w, spec, &vs[k], 1000 + 100 * (uint64_t)l + 20 * (uint64_t)k, err);
        }
        if (bad || zs_st_set_meta(w, "variants", list, err)) {
            zs_st_writer_free(w);
            return -1;
        }
        snprintf(file, sizeof file, "layer_%s.safetensors", spec->name);
        if (zs_ref_ops_write(w, dir, file, err))
            return -1;
    }
    return 0;
}
