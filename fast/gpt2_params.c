/* The GPT-2 parameter table (gpt2_params.h). */
#include "gpt2_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push(zsf_params *t, const char *name, int64_t rows, int64_t cols, zsf_init_kind init)
{
    zsf_param *p = &t->p[t->n++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols > 0 ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols > 0 ? cols : 0;
    p->numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    p->offset = t->numel;
    p->init = init;
    t->numel += p->numel;
}

int zsf_params_build(zsf_params *t, zs_model_dims d, zs_error *err)
{
    memset(t, 0, sizeof *t);
    const char *names[] = {"vocab", "seq", "channels", "layers", "heads"};
    const int values[] = {d.vocab, d.seq, d.channels, d.layers, d.heads};
    for (int i = 0; i < 5; i++)
        if (values[i] <= 0)
            return zs_fail(err, "model.%s must be a positive integer, got %d", names[i], values[i]);
    if (d.channels % d.heads)
        return zs_fail(err, "model.channels (%d) must be divisible by model.heads (%d)", d.channels, d.heads);
    t->dims = d;
    t->p = calloc((size_t)(4 + ZSF_PER_LAYER * d.layers), sizeof *t->p);
    if (!t->p)
        return zs_fail(err, "out of memory");
    const int64_t C = d.channels;
    push(t, "wte", d.vocab, C, ZSF_INIT_NORMAL);
    push(t, "wpe", d.seq, C, ZSF_INIT_NORMAL);
    static const struct {
        const char *suffix;
        int rows_c, cols_c;   /* multiples of C; cols 0 = vector */
        zsf_init_kind init;
    } block[ZSF_PER_LAYER] = {
        {"ln_1.weight", 1, 0, ZSF_INIT_ONE},           {"ln_1.bias", 1, 0, ZSF_INIT_ZERO},
        {"attn.c_attn.weight", 1, 3, ZSF_INIT_NORMAL}, {"attn.c_attn.bias", 3, 0, ZSF_INIT_ZERO},
        {"attn.c_proj.weight", 1, 1, ZSF_INIT_NORMAL_PROJ}, {"attn.c_proj.bias", 1, 0, ZSF_INIT_ZERO},
        {"ln_2.weight", 1, 0, ZSF_INIT_ONE},           {"ln_2.bias", 1, 0, ZSF_INIT_ZERO},
        {"mlp.c_fc.weight", 1, 4, ZSF_INIT_NORMAL},    {"mlp.c_fc.bias", 4, 0, ZSF_INIT_ZERO},
        {"mlp.c_proj.weight", 4, 1, ZSF_INIT_NORMAL_PROJ}, {"mlp.c_proj.bias", 1, 0, ZSF_INIT_ZERO},
    };
    char name[64];
    for (int l = 0; l < d.layers; l++)
        for (int k = 0; k < ZSF_PER_LAYER; k++) {
            snprintf(name, sizeof name, "h.%d.%s", l, block[k].suffix);
            push(t, name, block[k].rows_c * C, block[k].cols_c * C, block[k].init);
        }
    push(t, "ln_f.weight", C, 0, ZSF_INIT_ONE);
    push(t, "ln_f.bias", C, 0, ZSF_INIT_ZERO);
    return 0;
}

void zsf_params_free(zsf_params *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

const zsf_param *zsf_param_wte(const zsf_params *t) { return &t->p[0]; }
const zsf_param *zsf_param_wpe(const zsf_params *t) { return &t->p[1]; }
const zsf_param *zsf_param_layer(const zsf_params *t, int l, int k) { return &t->p[2 + ZSF_PER_LAYER * l + k]; }
const zsf_param *zsf_param_lnf_w(const zsf_params *t) { return &t->p[t->n - 2]; }
const zsf_param *zsf_param_lnf_b(const zsf_params *t) { return &t->p[t->n - 1]; }

double zsf_param_init_std(const zsf_param *p, int layers)
{
    switch (p->init) {
    case ZSF_INIT_NORMAL:
        return 0.02;
    case ZSF_INIT_NORMAL_PROJ:
        return 0.02 / sqrt(2.0 * (double)layers);
    default:
        return 0.0;
    }
}

int zsf_param_of(const zsf_params *t, size_t flat)
{
    if (flat >= t->numel)
        return -1;
    int lo = 0, hi = t->n - 1;   /* last tensor whose offset <= flat */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t->p[mid].offset <= flat)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}
