/* The GPT-2 model on the GPU (model.h): llm.c-style composition of the kernel headers.
 * Shapes: B batch, T sequence, C channels, NH heads, V vocabulary, L layers, BT = B*T. */
#include "model.h"

#include <stdlib.h>

#include "kernels/attention.cuh"
#include "kernels/crossentropy.cuh"
#include "kernels/encoder.cuh"
#include "kernels/gelu.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/matmul.cuh"
#include "layer_plan.h"

/* ------------------------------------------------------------------------------------------------
 * Activations (kept from the forward pass for the backward pass) and backward scratch. */

typedef struct acts {
    float *encoded;                        /* [BT,C] */
    float *ln1, *ln1_mean, *ln1_rstd;      /* [L,BT,C], [L,BT] x2 */
    float *qkv;                            /* [L,BT,3C] */
    float *att;                            /* [L,B,NH,T,T] */
    float *atty, *residual2;               /* [L,BT,C] */
    float *ln2, *ln2_mean, *ln2_rstd;      /* [L,BT,C], [L,BT] x2 */
    float *fch, *fch_gelu;                 /* [L,BT,4C] */
    float *residual3;                      /* [L,BT,C] */
    float *lnf, *lnf_mean, *lnf_rstd;      /* [BT,C], [BT] x2 */
    float *probs;                          /* [BT,V]: logits, then probs, then dlogits (in place) */
    float *losses;                         /* [BT] */
    float *acc;                            /* [BT,C]: a projection before its bias and residual add */
    /* backward scratch */
    float *dres;                           /* [BT,C]: gradient of the residual stream */
    float *dC;                             /* [BT,C] */
    float *d4C;                            /* [BT,4C] */
    float *dqkv;                           /* [BT,3C] */
    float *datt, *dpreatt;                 /* [B,NH,T,T] */
} acts;

struct zsf_model {
    const zsf_params *t;
    int B;
    zsf_dtype dt;
    cudaStream_t stream;
    cublasHandle_t cublas;
    acts a;
    float *memory;
    size_t floats;
    int *tokens;                           /* [2,BT]: inputs, targets */
    zsf_model_hooks hooks;                 /* stage 3: per-unit parameters (all NULL otherwise) */
};

static size_t layout(acts *a, float *base, const zs_model_dims *d, int B)
{
    size_t L = (size_t)d->layers, BT = (size_t)B * d->seq, C = (size_t)d->channels, T = (size_t)d->seq;
    size_t NH = (size_t)d->heads, V = (size_t)d->vocab, ATT = (size_t)B * NH * T * T;
    struct {
        float **slot;
        size_t n;
    } parts[] = {
        {&a->encoded, BT * C},   {&a->ln1, L * BT * C},   {&a->ln1_mean, L * BT},  {&a->ln1_rstd, L * BT},
        {&a->qkv, L * BT * 3 * C}, {&a->att, L * ATT},    {&a->atty, L * BT * C},  {&a->residual2, L * BT * C},
        {&a->ln2, L * BT * C},   {&a->ln2_mean, L * BT},  {&a->ln2_rstd, L * BT},  {&a->fch, L * BT * 4 * C},
        {&a->fch_gelu, L * BT * 4 * C}, {&a->residual3, L * BT * C}, {&a->lnf, BT * C}, {&a->lnf_mean, BT},
        {&a->lnf_rstd, BT},      {&a->probs, BT * V},     {&a->losses, BT},        {&a->acc, BT * C},
        {&a->dres, BT * C},      {&a->dC, BT * C},        {&a->d4C, BT * 4 * C},   {&a->dqkv, BT * 3 * C},
        {&a->datt, ATT},         {&a->dpreatt, ATT},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base)
            *parts[i].slot = base + total;
        total += (parts[i].n + 63) & ~(size_t)63;   /* keep every buffer 256-byte aligned */
    }
    return total;
}

zsf_model *zsf_model_new(const zsf_params *t, int B, zsf_dtype dt, cudaStream_t stream)
{
    zsf_model *m = (zsf_model *)calloc(1, sizeof *m);
    if (!m)
        zsf_die(__FILE__, __LINE__, "calloc", "out of host memory");
    m->t = t;
    m->B = B;
    m->dt = dt;
    m->stream = stream;
    m->floats = layout(&m->a, NULL, &t->dims, B);
    CUDA_CHECK(cudaMalloc((void **)&m->memory, m->floats * sizeof(float)));
    CUDA_CHECK(cudaMemsetAsync(m->memory, 0, m->floats * sizeof(float), stream));
    layout(&m->a, m->memory, &t->dims, B);
    CUDA_CHECK(cudaMalloc((void **)&m->tokens, 2 * (size_t)B * t->dims.seq * sizeof(int)));
    CUBLAS_CHECK(cublasCreate(&m->cublas));
    CUBLAS_CHECK(cublasSetStream(m->cublas, stream));
    /* fp32 must stay fp32: no TF32 or other reduced-precision paths inside cuBLAS. */
    CUBLAS_CHECK(cublasSetMathMode(m->cublas, CUBLAS_PEDANTIC_MATH));
    return m;
}

void zsf_model_free(zsf_model *m)
{
    if (!m)
        return;
    cublasDestroy(m->cublas);
    cudaFree(m->memory);
    cudaFree(m->tokens);
    free(m);
}

int *zsf_model_inputs(zsf_model *m) { return m->tokens; }
int *zsf_model_targets(zsf_model *m) { return m->tokens + (size_t)m->B * m->t->dims.seq; }

void zsf_model_set_hooks(zsf_model *m, const zsf_model_hooks *hooks)
{
    zsf_model_hooks none = {NULL, NULL, NULL, NULL};
    m->hooks = hooks ? *hooks : none;
}

size_t zsf_model_workspace_bytes(const zsf_model *m)
{
    return m->floats * sizeof(float) + 2 * (size_t)m->B * m->t->dims.seq * sizeof(int);
}

/* Where a unit's parameters (or gradients) are: `base` holds the flat elements from `first` on (the
 * whole flat buffer: first = 0; stage 3: the engine's buffer for the unit). */
typedef struct unit_ptr {
    const float *base;
    size_t first;
} unit_ptr;

static float *at(unit_ptr u, const zsf_param *p)
{
    return (float *)u.base + (p->offset - u.first);
}

static size_t unit_first(const zsf_params *t, int u, size_t *numel)
{
    int first, count;
    zsf_unit_params(t, u, &first, &count);
    const zsf_param *last = &t->p[first + count - 1];
    *numel = last->offset + last->numel - t->p[first].offset;
    return t->p[first].offset;
}

/* The hooks of model.h; without them the flat `params` buffer serves every unit. */
static unit_ptr unit_fetch(zsf_model *m, const float *params, int u)
{
    if (!m->hooks.fetch)
        return unit_ptr{params, 0};
    size_t numel;
    size_t first = unit_first(m->t, u, &numel);
    return unit_ptr{m->hooks.fetch(m->hooks.ctx, u), first};
}

static void unit_release(zsf_model *m, int u)
{
    if (m->hooks.release)
        m->hooks.release(m->hooks.ctx, u);
}

/* The unit's gradient is complete: rounded to the model dtype here (without hooks: all at once at the
 * end of the backward pass), then handed to the engine. */
static void unit_grads_done(zsf_model *m, float *grads, int u)
{
    if (!m->hooks.grads_done)
        return;
    size_t numel;
    size_t first = unit_first(m->t, u, &numel);
    round_inplace(grads + first, numel, m->dt, m->stream);
    m->hooks.grads_done(m->hooks.ctx, u);
}

/* Named views of a unit's parameter (or gradient) buffer for layer l. */
typedef struct block {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} block;

static block block_view(const zsf_params *t, unit_ptr u, int l)
{
    block v;
    float **slots[ZSF_PER_LAYER] = {&v.ln1w, &v.ln1b, &v.qkvw, &v.qkvb, &v.attprojw, &v.attprojb,
                                    &v.ln2w, &v.ln2b, &v.fcw,  &v.fcb,  &v.fcprojw,  &v.fcprojb};
    for (int k = 0; k < ZSF_PER_LAYER; k++)
        *slots[k] = at(u, zsf_param_layer(t, l, k));
    return v;
}

/* The dimensions of a pass and the per-layer strides into the activation buffers. */
typedef struct shape {
    int B, T, C, NH, V, L, BT;
    size_t oC, oT, oA;   /* one layer's [BT,C], [BT] and [B,NH,T,T] */
} shape;

static shape shape_of(const zsf_model *m)
{
    const zs_model_dims *d = &m->t->dims;
    shape sh = {m->B, d->seq, d->channels, d->heads, d->vocab, d->layers, m->B * d->seq, 0, 0, 0};
    sh.oC = (size_t)sh.BT * sh.C;
    sh.oT = (size_t)sh.BT;
    sh.oA = (size_t)sh.B * sh.NH * sh.T * sh.T;
    return sh;
}

/* ------------------------------------------------------------------------------------------------
 * Forward */

void zsf_model_forward(zsf_model *m, const float *params, float *loss)
{
    const shape sh = shape_of(m);
    const int B = sh.B, T = sh.T, C = sh.C, NH = sh.NH, V = sh.V, L = sh.L, BT = sh.BT;
    const size_t oC = sh.oC, oT = sh.oT, oA = sh.oA;
    acts *a = &m->a;
    cudaStream_t s = m->stream;
    const zsf_dtype dt = m->dt;
    const zsf_param *wte = zsf_param_wte(m->t);

    unit_ptr emb = unit_fetch(m, params, 0);
    encoder_forward(a->encoded, zsf_model_inputs(m), at(emb, wte), at(emb, zsf_param_wpe(m->t)), B, T, C, dt, s);
    unit_release(m, 0);
    const float *residual = a->encoded;
    for (int l = 0; l < L; l++) {
        block w = block_view(m->t, unit_fetch(m, params, 1 + l), l);
        float *ln1 = a->ln1 + l * oC, *qkv = a->qkv + 3 * l * oC, *att = a->att + l * oA, *atty = a->atty + l * oC;
        float *residual2 = a->residual2 + l * oC, *ln2 = a->ln2 + l * oC, *fch = a->fch + 4 * l * oC;
        float *fch_gelu = a->fch_gelu + 4 * l * oC, *residual3 = a->residual3 + l * oC;

        layernorm_forward(ln1, a->ln1_mean + l * oT, a->ln1_rstd + l * oT, residual, w.ln1w, w.ln1b, BT, C, dt, s);
        matmul_forward(m->cublas, qkv, ln1, w.qkvw, w.qkvb, BT, C, 3 * C, dt, s);
        attention_forward(m->cublas, atty, att, qkv, B, T, C, NH, dt, s);
        matmul_forward_residual(m->cublas, residual2, residual, a->acc, atty, w.attprojw, w.attprojb, BT, C, C, dt,
                                s);
        layernorm_forward(ln2, a->ln2_mean + l * oT, a->ln2_rstd + l * oT, residual2, w.ln2w, w.ln2b, BT, C, dt, s);
        matmul_forward(m->cublas, fch, ln2, w.fcw, w.fcb, BT, C, 4 * C, dt, s);
        gelu_forward(fch_gelu, fch, 4 * oC, dt, s);
        matmul_forward_residual(m->cublas, residual3, residual2, a->acc, fch_gelu, w.fcprojw, w.fcprojb, BT, 4 * C,
                                C, dt, s);
        unit_release(m, 1 + l);
        residual = residual3;
    }
    unit_ptr lnf = unit_fetch(m, params, L + 1);
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, residual, at(lnf, zsf_param_lnf_w(m->t)),
                      at(lnf, zsf_param_lnf_b(m->t)), BT, C, dt, s);
    unit_release(m, L + 1);
    emb = unit_fetch(m, params, 0);   /* the tied LM head */
    lm_head_forward(m->cublas, a->probs, a->lnf, at(emb, wte), BT, C, V);
    unit_release(m, 0);
    round_inplace(a->probs, (size_t)BT * V, dt, s);   /* logits; the loss is fp32 from them */
    crossentropy_forward(loss, a->losses, a->probs, zsf_model_targets(m), BT, V, s);
}

/* ------------------------------------------------------------------------------------------------
 * Backward, in the reverse order of the forward pass. dres carries the residual stream's gradient:
 * each LayerNorm's input gradient is added into it, exactly as the reference adds it to the copy the
 * residual connection made. R(x) marks the rounding of a finished activation gradient (fp16/bf16). */

void zsf_model_backward(zsf_model *m, const float *params, float *grads, float dloss)
{
    const shape sh = shape_of(m);
    const int B = sh.B, T = sh.T, C = sh.C, NH = sh.NH, V = sh.V, L = sh.L, BT = sh.BT;
    const size_t oC = sh.oC, oT = sh.oT, oA = sh.oA;
    acts *a = &m->a;
    cudaStream_t s = m->stream;
    const zsf_dtype dt = m->dt;
    const unit_ptr gflat = {grads, 0};
    float *dwte = grads + zsf_param_wte(m->t)->offset;
#define R(buf, n) round_inplace((buf), (size_t)(n), dt, s)

    crossentropy_backward(a->probs, zsf_model_targets(m), dloss / (float)BT, BT, V, s);
    R(a->probs, (size_t)BT * V);
    unit_ptr emb = unit_fetch(m, params, 0);   /* the tied LM head */
    lm_head_backward(m->cublas, a->dC, dwte, a->probs, a->lnf, at(emb, zsf_param_wte(m->t)), BT, C, V);
    unit_release(m, 0);
    R(a->dC, oC);
    CUDA_CHECK(cudaMemsetAsync(a->dres, 0, oC * sizeof(float), s));
    const float *last = L > 0 ? a->residual3 + (L - 1) * oC : a->encoded;
    const zsf_param *lnfw = zsf_param_lnf_w(m->t), *lnfb = zsf_param_lnf_b(m->t);
    unit_ptr lnf = unit_fetch(m, params, L + 1);
    layernorm_backward(a->dres, grads + lnfw->offset, grads + lnfb->offset, a->dC, last, at(lnf, lnfw),
                       a->lnf_mean, a->lnf_rstd, BT, C, s);
    unit_release(m, L + 1);
    unit_grads_done(m, grads, L + 1);
    R(a->dres, oC);

    for (int l = L - 1; l >= 0; l--) {
        block w = block_view(m->t, unit_fetch(m, params, 1 + l), l), dw = block_view(m->t, gflat, l);
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * oC;
        const float *ln1 = a->ln1 + l * oC, *qkv = a->qkv + 3 * l * oC, *att = a->att + l * oA;
        const float *atty = a->atty + l * oC, *residual2 = a->residual2 + l * oC, *ln2 = a->ln2 + l * oC;
        const float *fch = a->fch + 4 * l * oC, *fch_gelu = a->fch_gelu + 4 * l * oC;

        /* residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))) */
        matmul_backward(m->cublas, a->d4C, dw.fcprojw, dw.fcprojb, a->dres, fch_gelu, w.fcprojw, BT, 4 * C, C, s);
        R(a->d4C, 4 * oC);
        gelu_backward_inplace(a->d4C, fch, 4 * oC, s);
        R(a->d4C, 4 * oC);
        matmul_backward(m->cublas, a->dC, dw.fcw, dw.fcb, a->d4C, ln2, w.fcw, BT, C, 4 * C, s);
        R(a->dC, oC);
        layernorm_backward(a->dres, dw.ln2w, dw.ln2b, a->dC, residual2, w.ln2w, a->ln2_mean + l * oT,
                           a->ln2_rstd + l * oT, BT, C, s);
        R(a->dres, oC);
        /* residual2 = residual + attproj(attention(qkv(ln1(residual)))) */
        matmul_backward(m->cublas, a->dC, dw.attprojw, dw.attprojb, a->dres, atty, w.attprojw, BT, C, C, s);
        R(a->dC, oC);
        attention_backward(m->cublas, a->dqkv, a->datt, a->dpreatt, a->dC, att, qkv, B, T, C, NH, dt, s);
        matmul_backward(m->cublas, a->dC, dw.qkvw, dw.qkvb, a->dqkv, ln1, w.qkvw, BT, C, 3 * C, s);
        R(a->dC, oC);
        layernorm_backward(a->dres, dw.ln1w, dw.ln1b, a->dC, residual, w.ln1w, a->ln1_mean + l * oT,
                           a->ln1_rstd + l * oT, BT, C, s);
        unit_release(m, 1 + l);
        unit_grads_done(m, grads, 1 + l);
        R(a->dres, oC);
    }
    encoder_backward(dwte, grads + zsf_param_wpe(m->t)->offset, a->dres, zsf_model_inputs(m), B, T, C, s);
    unit_grads_done(m, grads, 0);
    if (!m->hooks.grads_done)
        R(grads, m->t->numel);   /* the micro-step's .grad, in the model dtype */
#undef R
}
