/* The reference GPT-2: parameter table, activation workspace, forward and backward passes composed
 * from layers.c (float variants). In fp16/bf16 modes every materialised activation and activation
 * gradient is rounded to the activation dtype (docs/spec/model.md "Rounding points"). */
#include "gpt2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "precision.h"

/* ------------------------------------------------------------------------------------------------
 * Parameter table: Hugging Face GPT2LMHeadModel.named_parameters() order without "transformer.". */

static void add_param(zs_gpt2 *m, const char *name, int64_t rows, int64_t cols, zs_init_kind init)
{
    zs_gpt2_param *p = &m->params[m->n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->numel = (size_t)rows * (size_t)(cols ? cols : 1);
    p->offset = m->numel;
    p->init = init;
    m->numel += p->numel;
}

static int check_dim(const char *what, int v, zs_error *err)
{
    return v > 0 ? 0 : zs_fail(err, "model.%s must be a positive integer, got %d", what, v);
}

int zs_gpt2_init(zs_gpt2 *m, zs_model_dims d, zs_error *err)
{
    memset(m, 0, sizeof *m);
    if (check_dim("vocab", d.vocab, err) || check_dim("seq", d.seq, err) || check_dim("channels", d.channels, err) ||
        check_dim("layers", d.layers, err) || check_dim("heads", d.heads, err))
        return -1;
    if (d.channels % d.heads)
        return zs_fail(err, "model.channels (%d) must be divisible by model.heads (%d)", d.channels, d.heads);
    m->dims = d;
    m->params = calloc((size_t)(2 + 12 * d.layers + 2), sizeof(zs_gpt2_param));
    if (!m->params)
        return zs_fail(err, "out of memory");
    int64_t C = d.channels;
    add_param(m, "wte", d.vocab, C, ZS_INIT_NORMAL);
    add_param(m, "wpe", d.seq, C, ZS_INIT_NORMAL);
    char name[64];
    for (int l = 0; l < d.layers; l++) {
        const struct {
            const char *suffix;
            int64_t rows, cols;
            zs_init_kind init;
        } block[12] = {
            {"ln_1.weight", C, 0, ZS_INIT_ONE},           {"ln_1.bias", C, 0, ZS_INIT_ZERO},
            {"attn.c_attn.weight", C, 3 * C, ZS_INIT_NORMAL}, {"attn.c_attn.bias", 3 * C, 0, ZS_INIT_ZERO},
            {"attn.c_proj.weight", C, C, ZS_INIT_NORMAL_PROJ}, {"attn.c_proj.bias", C, 0, ZS_INIT_ZERO},
            {"ln_2.weight", C, 0, ZS_INIT_ONE},           {"ln_2.bias", C, 0, ZS_INIT_ZERO},
            {"mlp.c_fc.weight", C, 4 * C, ZS_INIT_NORMAL}, {"mlp.c_fc.bias", 4 * C, 0, ZS_INIT_ZERO},
            {"mlp.c_proj.weight", 4 * C, C, ZS_INIT_NORMAL_PROJ}, {"mlp.c_proj.bias", C, 0, ZS_INIT_ZERO},
        };
        for (int i = 0; i < 12; i++) {
            snprintf(name, sizeof name, "h.%d.%s", l, block[i].suffix);
            add_param(m, name, block[i].rows, block[i].cols, block[i].init);
        }
    }
    add_param(m, "ln_f.weight", C, 0, ZS_INIT_ONE);
    add_param(m, "ln_f.bias", C, 0, ZS_INIT_ZERO);
    return 0;
}

void zs_gpt2_free(zs_gpt2 *m)
{
    free(m->params);
    memset(m, 0, sizeof *m);
}

const zs_gpt2_param *zs_gpt2_find(const zs_gpt2 *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name))
            return &m->params[i];
    return NULL;
}

/* Named views of the flat parameter (or gradient) buffer for layer l. */
typedef struct block_params {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} block_params;

static block_params block_view(const zs_gpt2 *m, float *flat, int l)
{
    const zs_gpt2_param *p = &m->params[2 + 12 * l];
    block_params v;
    float **slots[12] = {&v.ln1w, &v.ln1b, &v.qkvw, &v.qkvb, &v.attprojw, &v.attprojb,
                         &v.ln2w, &v.ln2b, &v.fcw, &v.fcb, &v.fcprojw, &v.fcprojb};
    for (int i = 0; i < 12; i++)
        *slots[i] = flat + p[i].offset;
    return v;
}

/* ------------------------------------------------------------------------------------------------
 * Activations: one set of buffers for the values, one for their gradients (same layout). */

typedef struct act_buffers {
    float *encoded;                       /* [B,T,C] */
    float *ln1, *ln1_mean, *ln1_rstd;     /* [L,B,T,C], [L,B,T] x2 */
    float *qkv;                           /* [L,B,T,3C] */
    float *preatt, *att;                  /* [L,B,NH,T,T] */
    float *atty, *attproj, *residual2;    /* [L,B,T,C] */
    float *ln2, *ln2_mean, *ln2_rstd;     /* [L,B,T,C], [L,B,T] x2 */
    float *fch, *fch_gelu;                /* [L,B,T,4C] */
    float *fcproj, *residual3;            /* [L,B,T,C] */
    float *lnf, *lnf_mean, *lnf_rstd;     /* [B,T,C], [B,T] x2 */
    float *logits, *probs, *losses;       /* [B,T,V] x2, [B,T] */
} act_buffers;

struct zs_gpt2_acts {
    int B;
    size_t n_floats;                      /* floats in each of v and g */
    act_buffers v, g;                     /* values, gradients */
    float *memory;
    int *inputs, *targets;                /* copies from the last forward */
};

/* Carves act_buffers out of one allocation; returns the number of floats needed. */
static size_t layout_acts(act_buffers *a, float *base, const zs_model_dims *d, int B)
{
    size_t L = (size_t)d->layers, BT = (size_t)B * (size_t)d->seq, C = (size_t)d->channels;
    size_t NH = (size_t)d->heads, T = (size_t)d->seq, V = (size_t)d->vocab;
    const size_t sizes[] = {BT * C,  L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * B * NH * T * T,
                            L * B * NH * T * T, L * BT * C, L * BT * C, L * BT * C, L * BT * C, L * BT, L * BT,
                            L * BT * 4 * C, L * BT * 4 * C, L * BT * C, L * BT * C, BT * C, BT, BT,
                            BT * V, BT * V, BT};
    float **slots[] = {&a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->preatt, &a->att,
                       &a->atty, &a->attproj, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd,
                       &a->fch, &a->fch_gelu, &a->fcproj, &a->residual3, &a->lnf, &a->lnf_mean,
                       &a->lnf_rstd, &a->logits, &a->probs, &a->losses};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (base)
            *slots[i] = base + total;
        total += sizes[i];
    }
    return total;
}

zs_gpt2_acts *zs_gpt2_acts_new(const zs_gpt2 *m, int B)
{
    zs_gpt2_acts *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    size_t n = layout_acts(&a->v, NULL, &m->dims, B);
    a->B = B;
    a->n_floats = n;
    a->memory = calloc(2 * n, sizeof(float));
    a->inputs = calloc((size_t)B * (size_t)m->dims.seq, sizeof(int));
    a->targets = calloc((size_t)B * (size_t)m->dims.seq, sizeof(int));
    if (!a->memory || !a->inputs || !a->targets) {
        zs_gpt2_acts_free(a);
        return NULL;
    }
    layout_acts(&a->v, a->memory, &m->dims, B);
    layout_acts(&a->g, a->memory + n, &m->dims, B);
    return a;
}

void zs_gpt2_acts_free(zs_gpt2_acts *a)
{
    if (!a)
        return;
    free(a->memory);
    free(a->inputs);
    free(a->targets);
    free(a);
}

const float *zs_gpt2_position_losses(const zs_gpt2_acts *a)
{
    return a->v.losses;
}

/* ------------------------------------------------------------------------------------------------
 * Forward pass. `R(x, n)` rounds a just-materialised activation to the activation dtype. */

#define R(ptr, n) zs_round_array(act_dtype, (ptr), (size_t)(n))

float zs_gpt2_forward(const zs_gpt2 *m, zs_gpt2_acts *a, const float *params, const int *inputs,
                      const int *targets, int B, zs_dtype act_dtype)
{
    const zs_model_dims *d = &m->dims;
    int T = d->seq, C = d->channels, V = d->vocab, NH = d->heads, L = d->layers, BT = B * T;
    float *P = (float *)params;   /* views only; the forward pass does not write parameters */
    act_buffers *v = &a->v;
    memcpy(a->inputs, inputs, sizeof(int) * (size_t)BT);
    memcpy(a->targets, targets, sizeof(int) * (size_t)BT);

    encoder_forward_f32(v->encoded, inputs, P + m->params[0].offset, P + m->params[1].offset, B, T, C);
    R(v->encoded, BT * C);
    float *residual = v->encoded;
    for (int l = 0; l < L; l++) {
        block_params w = block_view(m, P, l);
        long oC = (long)l * BT * C, oT = (long)l * BT, oA = (long)l * B * NH * T * T;
        float *ln1 = v->ln1 + oC, *qkv = v->qkv + 3 * oC, *preatt = v->preatt + oA, *att = v->att + oA;
        float *atty = v->atty + oC, *attproj = v->attproj + oC, *residual2 = v->residual2 + oC;
        float *ln2 = v->ln2 + oC, *fch = v->fch + 4 * oC, *fch_gelu = v->fch_gelu + 4 * oC;
        float *fcproj = v->fcproj + oC, *residual3 = v->residual3 + oC;

        layernorm_forward_f32(ln1, v->ln1_mean + oT, v->ln1_rstd + oT, residual, w.ln1w, w.ln1b, B, T, C);
        R(ln1, BT * C);
        matmul_forward_f32(qkv, ln1, w.qkvw, w.qkvb, BT, C, 3 * C);
        R(qkv, BT * 3 * C);
        attention_scores_forward_f32(preatt, qkv, B, T, C, NH);
        R(preatt, B * NH * T * T);
        softmax_causal_forward_f32(att, preatt, B, T, NH);
        R(att, B * NH * T * T);
        attention_values_forward_f32(atty, att, qkv, B, T, C, NH);
        R(atty, BT * C);
        matmul_forward_f32(attproj, atty, w.attprojw, w.attprojb, BT, C, C);
        R(attproj, BT * C);
        residual_forward_f32(residual2, residual, attproj, BT * C);
        R(residual2, BT * C);
        layernorm_forward_f32(ln2, v->ln2_mean + oT, v->ln2_rstd + oT, residual2, w.ln2w, w.ln2b, B, T, C);
        R(ln2, BT * C);
        matmul_forward_f32(fch, ln2, w.fcw, w.fcb, BT, C, 4 * C);
        R(fch, BT * 4 * C);
        gelu_forward_f32(fch_gelu, fch, BT * 4 * C);
        R(fch_gelu, BT * 4 * C);
        matmul_forward_f32(fcproj, fch_gelu, w.fcprojw, w.fcprojb, BT, 4 * C, C);
        R(fcproj, BT * C);
        residual_forward_f32(residual3, residual2, fcproj, BT * C);
        R(residual3, BT * C);
        residual = residual3;
    }
    const zs_gpt2_param *lnfw = &m->params[2 + 12 * L], *lnfb = lnfw + 1;
    layernorm_forward_f32(v->lnf, v->lnf_mean, v->lnf_rstd, residual, P + lnfw->offset, P + lnfb->offset, B, T, C);
    R(v->lnf, BT * C);
    matmul_wt_forward_f32(v->logits, v->lnf, P + m->params[0].offset, BT, C, V);
    R(v->logits, BT * V);
    crossentropy_forward_f32(v->losses, v->probs, v->logits, targets, BT, V);   /* fp32, from rounded logits */
    float sum = 0.0f;
    for (int i = 0; i < BT; i++)
        sum += v->losses[i];
    return sum / (float)BT;
}

/* ------------------------------------------------------------------------------------------------
 * Backward pass, in the reverse order of the forward pass. Each activation-gradient buffer is rounded
 * once it is complete (all its contributions summed in fp32). */

void zs_gpt2_backward(const zs_gpt2 *m, zs_gpt2_acts *a, const float *params, float *grads, float dloss,
                      zs_dtype act_dtype)
{
    const zs_model_dims *d = &m->dims;
    int B = a->B, T = d->seq, C = d->channels, V = d->vocab, NH = d->heads, L = d->layers, BT = B * T;
    float *P = (float *)params;
    act_buffers *v = &a->v, *g = &a->g;
    memset(grads, 0, m->numel * sizeof(float));
    memset(a->memory + a->n_floats, 0, a->n_floats * sizeof(float));   /* activation gradients */

    crossentropy_backward_f32(g->logits, v->probs, a->targets, dloss / (float)BT, BT, V);
    R(g->logits, BT * V);
    float *wte = P + m->params[0].offset, *dwte = grads + m->params[0].offset;
    matmul_wt_backward_f32(g->lnf, dwte, g->logits, v->lnf, wte, BT, C, V);
    R(g->lnf, BT * C);
    const zs_gpt2_param *lnfw = &m->params[2 + 12 * L], *lnfb = lnfw + 1;
    float *last_residual = L > 0 ? v->residual3 + (long)(L - 1) * BT * C : v->encoded;
    float *dlast_residual = L > 0 ? g->residual3 + (long)(L - 1) * BT * C : g->encoded;
    layernorm_backward_f32(dlast_residual, grads + lnfw->offset, grads + lnfb->offset, g->lnf, last_residual,
                           P + lnfw->offset, v->lnf_mean, v->lnf_rstd, B, T, C);
    R(dlast_residual, BT * C);

    for (int l = L - 1; l >= 0; l--) {
        block_params w = block_view(m, P, l), dw = block_view(m, grads, l);
        long oC = (long)l * BT * C, oT = (long)l * BT, oA = (long)l * B * NH * T * T;
        float *residual = l == 0 ? v->encoded : v->residual3 + oC - (long)BT * C;
        float *dresidual = l == 0 ? g->encoded : g->residual3 + oC - (long)BT * C;

        /* residual3 = residual2 + fcproj */
        residual_backward_f32(g->residual2 + oC, g->fcproj + oC, g->residual3 + oC, BT * C);
        R(g->fcproj + oC, BT * C);
        matmul_backward_f32(g->fch_gelu + 4 * oC, dw.fcprojw, dw.fcprojb, g->fcproj + oC, v->fch_gelu + 4 * oC,
                            w.fcprojw, BT, 4 * C, C);
        R(g->fch_gelu + 4 * oC, BT * 4 * C);
        gelu_backward_f32(g->fch + 4 * oC, v->fch + 4 * oC, g->fch_gelu + 4 * oC, BT * 4 * C);
        R(g->fch + 4 * oC, BT * 4 * C);
        matmul_backward_f32(g->ln2 + oC, dw.fcw, dw.fcb, g->fch + 4 * oC, v->ln2 + oC, w.fcw, BT, C, 4 * C);
        R(g->ln2 + oC, BT * C);
        layernorm_backward_f32(g->residual2 + oC, dw.ln2w, dw.ln2b, g->ln2 + oC, v->residual2 + oC, w.ln2w,
                               v->ln2_mean + oT, v->ln2_rstd + oT, B, T, C);
        R(g->residual2 + oC, BT * C);
        /* residual2 = residual + attproj */
        residual_backward_f32(dresidual, g->attproj + oC, g->residual2 + oC, BT * C);
        R(g->attproj + oC, BT * C);
        matmul_backward_f32(g->atty + oC, dw.attprojw, dw.attprojb, g->attproj + oC, v->atty + oC, w.attprojw,
                            BT, C, C);
        R(g->atty + oC, BT * C);
        attention_values_backward_f32(g->att + oA, g->qkv + 3 * oC, g->atty + oC, v->att + oA, v->qkv + 3 * oC,
                                      B, T, C, NH);
        R(g->att + oA, B * NH * T * T);
        softmax_causal_backward_f32(g->preatt + oA, g->att + oA, v->att + oA, B, T, NH);
        R(g->preatt + oA, B * NH * T * T);
        attention_scores_backward_f32(g->qkv + 3 * oC, g->preatt + oA, v->qkv + 3 * oC, B, T, C, NH);
        R(g->qkv + 3 * oC, BT * 3 * C);
        matmul_backward_f32(g->ln1 + oC, dw.qkvw, dw.qkvb, g->qkv + 3 * oC, v->ln1 + oC, w.qkvw, BT, C, 3 * C);
        R(g->ln1 + oC, BT * C);
        layernorm_backward_f32(dresidual, dw.ln1w, dw.ln1b, g->ln1 + oC, residual, w.ln1w, v->ln1_mean + oT,
                               v->ln1_rstd + oT, B, T, C);
        R(dresidual, BT * C);
    }
    encoder_backward_f32(dwte, grads + m->params[1].offset, g->encoded, a->inputs, B, T, C);
}
