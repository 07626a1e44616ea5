/* The layers by name: the table of the plugin ABI's layer entries (zerospec/plugin.h) and one
 * dispatcher from named, positional buffers to the functions of layers.c. Compiled twice like
 * layers.c: _f32 into zs_reference (the plugin wraps it), _f64 into zs_layers_f64 (`zs-ref ops`
 * stores the exact results next to the fp32 golden values). The table is built once, with _f32;
 * the dispatcher goes by spec->id, so the _f64 build does not need it. */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if ZS_LAYERS_F64
typedef double real;
#define FN(name) name##_f64
#else
typedef float real;
#define FN(name) name##_f32
#endif

enum { ENCODER, LAYERNORM, MATMUL, MATMUL_WT, ATTENTION, GELU, RESIDUAL, CROSSENTROPY, N_LAYERS };

#if !ZS_LAYERS_F64
const zs_layer_spec zs_layer_specs[N_LAYERS] = {
    [ENCODER] = {ENCODER, "encoder", "inp[B,T] wte[V,C] wpe[T,C]", "out[B,T,C]",
                 "dout[B,T,C] inp[B,T]", "dwte[V,C] dwpe[T,C]", "inp"},
    [LAYERNORM] = {LAYERNORM, "layernorm", "inp[B,T,C] weight[C] bias[C]", "out[B,T,C] mean[B,T] rstd[B,T]",
                   "dout[B,T,C] inp[B,T,C] weight[C] mean[B,T] rstd[B,T]", "dinp[B,T,C] dweight[C] dbias[C]", NULL},
    [MATMUL] = {MATMUL, "matmul", "inp[B,T,C] weight[C,OC] bias[OC]", "out[B,T,OC]",
                "dout[B,T,OC] inp[B,T,C] weight[C,OC]", "dinp[B,T,C] dweight[C,OC] dbias[OC]", NULL},
    [MATMUL_WT] = {MATMUL_WT, "matmul_wt", "inp[B,T,C] weight[OC,C]", "out[B,T,OC]",
                   "dout[B,T,OC] inp[B,T,C] weight[OC,C]", "dinp[B,T,C] dweight[OC,C]", NULL},
    [ATTENTION] = {ATTENTION, "attention", "qkv[B,T,3C]", "out[B,T,C] att[B,NH,T,T]",
                   "dout[B,T,C] qkv[B,T,3C] att[B,NH,T,T]", "dqkv[B,T,3C]", NULL},
    [GELU] = {GELU, "gelu", "inp[B,T,C]", "out[B,T,C]", "inp[B,T,C] dout[B,T,C]", "dinp[B,T,C]", NULL},
    [RESIDUAL] = {RESIDUAL, "residual", "inp1[B,T,C] inp2[B,T,C]", "out[B,T,C]", "dout[B,T,C]", "dinp1[B,T,C] dinp2[B,T,C]", NULL},
    [CROSSENTROPY] = {CROSSENTROPY, "crossentropy", "logits[B,T,V] targets[B,T]", "losses[B,T] probs[B,T,V]",
                      "dlosses[B,T] probs[B,T,V] targets[B,T]", "dlogits[B,T,V]", "targets"},
};
const int zs_layer_spec_count = N_LAYERS;

const zs_layer_spec *zs_layer_spec_find(const char *name)
{
    for (int i = 0; i < N_LAYERS; i++)
        if (!strcmp(zs_layer_specs[i].name, name))
            return &zs_layer_specs[i];
    return NULL;
}

static int64_t dim_value(const char *tok, size_t len, const zs_layer_dims *d)
{
    int64_t mult = 1;
    if (len > 1 && tok[0] >= '2' && tok[0] <= '9') {   /* "3C" */
        mult = tok[0] - '0';
        tok++;
        len--;
    }
    const struct { const char *sym; int v; } dims[] = {
        {"B", d->B}, {"T", d->T}, {"C", d->C}, {"NH", d->NH}, {"V", d->V}, {"OC", d->OC}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (strlen(dims[i].sym) == len && !strncmp(dims[i].sym, tok, len))
            return mult * dims[i].v;
    return -1;
}

int zs_layer_buffers(const char *list, const zs_layer_dims *d, zs_layer_buffer *out, int max)
{
    int n = 0;
    for (const char *p = list; *p && n < max;) {
        while (*p == ' ')
            p++;
        const char *open = strchr(p, '['), *close = open ? strchr(open, ']') : NULL;
        if (!close)
            break;
        zs_layer_buffer *b = &out[n++];
        snprintf(b->name, sizeof b->name, "%.*s", (int)(open - p), p);
        b->ndim = 0;
        b->numel = 1;
        for (const char *t = open + 1; t < close && b->ndim < 4;) {
            size_t len = strcspn(t, ",]");
            b->shape[b->ndim] = dim_value(t, len, d);
            b->numel *= (size_t)b->shape[b->ndim++];
            t += len + 1;
        }
        p = close + 1;
    }
    return n;
}
#endif

/* attention = scores, causal softmax, values (layers.c), with the scores kept in scratch memory. */
static int FN(attention_forward)(real *out, real *att, const real *qkv, const zs_layer_dims *d)
{
    real *preatt = malloc((size_t)d->B * d->NH * d->T * d->T * sizeof(real));
    if (!preatt)
        return -1;
    FN(attention_scores_forward)(preatt, qkv, d->B, d->T, d->C, d->NH);
    FN(softmax_causal_forward)(att, preatt, d->B, d->T, d->NH);
    FN(attention_values_forward)(out, att, qkv, d->B, d->T, d->C, d->NH);
    free(preatt);
    return 0;
}

static int FN(attention_backward)(real *dqkv, const real *dout, const real *qkv, const real *att,
                                  const zs_layer_dims *d)
{
    size_t n = (size_t)d->B * d->NH * d->T * d->T;
    real *datt = calloc(n, sizeof(real)), *dpreatt = calloc(n, sizeof(real));
    int rc = datt && dpreatt ? 0 : -1;
    if (!rc) {
        FN(attention_values_backward)(datt, dqkv, dout, att, qkv, d->B, d->T, d->C, d->NH);
        FN(softmax_causal_backward)(dpreatt, datt, att, d->B, d->T, d->NH);
        FN(attention_scores_backward)(dqkv, dpreatt, qkv, d->B, d->T, d->C, d->NH);
    }
    free(datt);
    free(dpreatt);
    return rc;
}

int FN(zs_layer_call)(const zs_layer_spec *spec, int backward, const zs_layer_dims *d, real *const *in,
                      real *const *out, const int *ids)
{
    const int B = d->B, T = d->T, C = d->C, BT = B * T, V = d->V, OC = d->OC, N = BT * C;
    switch (spec->id * 2 + !!backward) {
    case ENCODER * 2: FN(encoder_forward)(out[0], ids, in[1], in[2], B, T, C); return 0;
    case ENCODER * 2 + 1: FN(encoder_backward)(out[0], out[1], in[0], ids, B, T, C); return 0;
    case LAYERNORM * 2: FN(layernorm_forward)(out[0], out[1], out[2], in[0], in[1], in[2], B, T, C); return 0;
    case LAYERNORM * 2 + 1:
        FN(layernorm_backward)(out[0], out[1], out[2], in[0], in[1], in[2], in[3], in[4], B, T, C);
        return 0;
    case MATMUL * 2: FN(matmul_forward)(out[0], in[0], in[1], in[2], BT, C, OC); return 0;
    case MATMUL * 2 + 1: FN(matmul_backward)(out[0], out[1], out[2], in[0], in[1], in[2], BT, C, OC); return 0;
    case MATMUL_WT * 2: FN(matmul_wt_forward)(out[0], in[0], in[1], BT, C, OC); return 0;
    case MATMUL_WT * 2 + 1: FN(matmul_wt_backward)(out[0], out[1], in[0], in[1], in[2], BT, C, OC); return 0;
    case ATTENTION * 2: return FN(attention_forward)(out[0], out[1], in[0], d);
    case ATTENTION * 2 + 1: return FN(attention_backward)(out[0], in[0], in[1], in[2], d);
    case GELU * 2: FN(gelu_forward)(out[0], in[0], N); return 0;
    case GELU * 2 + 1: FN(gelu_backward)(out[0], in[0], in[1], N); return 0;
    case RESIDUAL * 2: FN(residual_forward)(out[0], in[0], in[1], N); return 0;
    case RESIDUAL * 2 + 1: FN(residual_backward)(out[0], out[1], in[0], N); return 0;
    case CROSSENTROPY * 2: FN(crossentropy_forward)(out[0], out[1], in[0], ids, BT, V); return 0;
    case CROSSENTROPY * 2 + 1:   /* per position: each has its own upstream gradient dlosses[bt] */
        for (int bt = 0; bt < BT; bt++)
            FN(crossentropy_backward)(out[0] + (long)bt * V, in[1] + (long)bt * V, ids + bt, in[0][bt], 1, V);
        return 0;
    }
    return -1;
}
