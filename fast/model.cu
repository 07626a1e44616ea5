/* The GPT-2 model on the GPU (model.h): llm.c-style composition of the kernel headers.
 * Shapes: B batch, T sequence, C channels, NH heads, V vocabulary, L layers, BT = B*T. */
#include "model.h"

#include <stdlib.h>

#include <algorithm>

#include "kernels/attention.cuh"
#include "kernels/crossentropy.cuh"
#include "kernels/encoder.cuh"
#include "kernels/gelu.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/matmul.cuh"
#include "layer_plan.h"

/* ------------------------------------------------------------------------------------------------
 * Activations (kept from the forward pass for the backward pass) and backward scratch. T is the
 * storage type of the model dtype (kernels/common.cuh: float, __half, __nv_bfloat16): every tensor the
 * spec rounds is held as T, the logits included; statistics, losses and GEMM results before their
 * rounding are fp32. */

template <class T> struct acts {
    T *encoded;                            /* [BT,C] */
    T *ln1;                                /* [L,BT,C] */
    float *ln1_mean, *ln1_rstd;            /* [L,BT] x2 */
    T *qkv;                                /* [L,BT,3C] */
    T *att;                                /* [L,B,NH,T,T] */
    T *atty, *residual2, *ln2;             /* [L,BT,C] */
    float *ln2_mean, *ln2_rstd;            /* [L,BT] x2 */
    T *fch, *fch_gelu;                     /* [L,BT,4C] */
    T *residual3;                          /* [L,BT,C] */
    T *lnf;                                /* [BT,C] */
    float *lnf_mean, *lnf_rstd;            /* [BT] x2 */
    T *logits;                             /* [BT,Vp]: logits, then dlogits in place (Vp = logits_ld<T>(V)) */
    float *losses;                         /* [BT] */
    softmax_stats *ce_stats;               /* [BT]: each logits row's max and 1 / sum, kept for the backward */
    /* fp32 GEMM results before their rounding, fp16/bf16 only ([BT,4C]; NULL in fp32, whose GEMMs
     * write their results in place): a biased GEMM's output where cuBLASLt's epilogue cannot take the
     * bias, and the LM head's dinp over V rounded down to 16, before its tail is added */
    float *acc;
    float *bias_part;                      /* bias_backward's [BIAS_CHUNKS,4C] and layernorm_backward's partial sums */
    /* backward scratch */
    T *dres;                               /* [BT,C]: gradient of the residual stream */
    T *dC;                                 /* [BT,C] */
    T *d4C;                                /* [BT,4C] */
    T *dqkv;                               /* [BT,3C] */
    T *dpreatt;                            /* [B,NH,T,T]: datt, then dpreatt in place */
    const void **attn_ptrs;                /* the attention row blocks' pointer tables (attention_blocks.cuh) */
    int *qkv_nonfinite;                    /* [L]: whether the layer's qkv holds an Inf or NaN (attention.cuh) */
};

struct zsf_model {
    const zsf_params *t;
    int B;
    zsf_dtype dt;
    cudaStream_t stream;
    cublasHandle_t cublas;                 /* fp32: pedantic (no TF32); fp16/bf16: tensor cores */
    zsf_lt lt;                             /* fp16/bf16: the biased GEMMs (gemm_bias.cuh); unused in fp32 */
    acts<float> a32;                       /* the one of these three that matches dt is laid out */
    acts<__half> a16;
    acts<__nv_bfloat16> ab16;
    char *memory;
    size_t bytes;
    int *tokens;                           /* [2,BT]: inputs, targets */
    zsf_model_hooks hooks;                 /* stage 3: per-unit parameters (all NULL otherwise) */
};

template <class T> static acts<T> &acts_of(zsf_model *m);
template <> acts<float> &acts_of<float>(zsf_model *m) { return m->a32; }
template <> acts<__half> &acts_of<__half>(zsf_model *m) { return m->a16; }
template <> acts<__nv_bfloat16> &acts_of<__nv_bfloat16>(zsf_model *m) { return m->ab16; }

/* Lays the buffers out from base (NULL: only counts); returns the bytes. */
template <class T> static size_t layout(acts<T> *a, char *base, const zsf_params *p, int B)
{
    const zs_model_dims *d = &p->dims;
    const bool f32 = zsf_is_f32<T>;
    size_t L = (size_t)d->layers, BT = (size_t)B * d->seq, C = (size_t)d->channels, T_ = (size_t)d->seq;
    size_t NH = (size_t)d->heads, V = (size_t)logits_ld<T>(d->vocab), ATT = (size_t)B * NH * T_ * T_;
    struct {
        void **slot;
        size_t n, size;
    } parts[] = {
        {(void **)&a->encoded, BT * C, sizeof(T)},       {(void **)&a->ln1, L * BT * C, sizeof(T)},
        {(void **)&a->ln1_mean, L * BT, 4},              {(void **)&a->ln1_rstd, L * BT, 4},
        {(void **)&a->qkv, L * BT * 3 * C, sizeof(T)},   {(void **)&a->att, L * ATT, sizeof(T)},
        {(void **)&a->atty, L * BT * C, sizeof(T)},      {(void **)&a->residual2, L * BT * C, sizeof(T)},
        {(void **)&a->ln2, L * BT * C, sizeof(T)},       {(void **)&a->ln2_mean, L * BT, 4},
        {(void **)&a->ln2_rstd, L * BT, 4},              {(void **)&a->fch, L * BT * 4 * C, sizeof(T)},
        {(void **)&a->fch_gelu, L * BT * 4 * C, sizeof(T)}, {(void **)&a->residual3, L * BT * C, sizeof(T)},
        {(void **)&a->lnf, BT * C, sizeof(T)},           {(void **)&a->lnf_mean, BT, 4},
        {(void **)&a->lnf_rstd, BT, 4},                  {(void **)&a->logits, BT * V, sizeof(T)},
        {(void **)&a->losses, BT, 4},                    {(void **)&a->ce_stats, BT, sizeof(softmax_stats)},
        {(void **)&a->acc, (f32 ? 0 : 4) * BT * C, 4},
        {(void **)&a->bias_part, std::max((size_t)BIAS_CHUNKS * 4 * C, LAYERNORM_SCRATCH(C)), 4},
        {(void **)&a->dres, BT * C, sizeof(T)},
        {(void **)&a->dC, BT * C, sizeof(T)},            {(void **)&a->d4C, BT * 4 * C, sizeof(T)},
        {(void **)&a->dqkv, BT * 3 * C, sizeof(T)},      {(void **)&a->dpreatt, ATT, sizeof(T)},
        {(void **)&a->attn_ptrs, attention_ptr_slots(B, (int)NH), sizeof(void *)},
        {(void **)&a->qkv_nonfinite, L, sizeof(int)},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base)   /* an empty buffer is NULL: a use of it fails loudly instead of aliasing the next */
            *parts[i].slot = parts[i].n ? base + total : NULL;
        total += (parts[i].n * parts[i].size + 255) & ~(size_t)255;   /* keep every buffer 256-byte aligned */
    }
    return total;
}

template <class T> static void model_layout(zsf_model *m)
{
    m->bytes = layout<T>(&acts_of<T>(m), NULL, m->t, m->B);
    CUDA_CHECK(cudaMalloc((void **)&m->memory, m->bytes));
    CUDA_CHECK(cudaMemsetAsync(m->memory, 0, m->bytes, m->stream));
    layout<T>(&acts_of<T>(m), m->memory, m->t, m->B);
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
    zsf_dispatch(dt, [&](auto t) { model_layout<decltype(t)>(m); });
    CUDA_CHECK(cudaMalloc((void **)&m->tokens, 2 * (size_t)B * t->dims.seq * sizeof(int)));
    CUBLAS_CHECK(cublasCreate(&m->cublas));
    CUBLAS_CHECK(cublasSetStream(m->cublas, stream));
    /* fp32 must stay fp32: no TF32 or other reduced-precision paths inside cuBLAS. fp16/bf16 inputs
     * run on tensor cores, still accumulating in fp32 (CUBLAS_COMPUTE_32F at every call). */
    CUBLAS_CHECK(cublasSetMathMode(m->cublas, dt == ZSF_FP32 ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH));
    if (dt != ZSF_FP32)
        zsf_lt_init(&m->lt);
    return m;
}

void zsf_model_free(zsf_model *m)
{
    if (!m)
        return;
    cublasDestroy(m->cublas);
    zsf_lt_free(&m->lt);
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
    return m->bytes + 2 * (size_t)m->B * m->t->dims.seq * sizeof(int);
}

/* Where a unit's parameters (model dtype T) or gradients (fp32) are: `base` holds the flat elements
 * from `first` on (a whole flat buffer: first = 0; stage 3: the engine's buffer for the unit). */
template <class P> struct unit_ptr {
    const P *base;
    size_t first;
};

template <class P> static P *at(unit_ptr<P> u, const zsf_param *p)
{
    return (P *)u.base + (p->offset - u.first);
}

/* The hooks of model.h; without them the flat `params` buffer serves every unit. */
template <class T> static unit_ptr<T> unit_fetch(zsf_model *m, const void *params, int u)
{
    if (!m->hooks.fetch)
        return unit_ptr<T>{(const T *)params, 0};
    size_t numel;
    size_t first = zsf_unit_range(m->t, u, &numel);
    return unit_ptr<T>{(const T *)m->hooks.fetch(m->hooks.ctx, u), first};
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
    size_t first = zsf_unit_range(m->t, u, &numel);
    round_inplace(grads + first, numel, m->dt, m->stream);
    m->hooks.grads_done(m->hooks.ctx, u);
}

/* Named views of a unit's parameter (T) or gradient (float) buffer for layer l. */
template <class P> struct block {
    P *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};

template <class P> static block<P> block_view(const zsf_params *t, unit_ptr<P> u, int l)
{
    block<P> v;
    P **slots[ZSF_PER_LAYER] = {&v.ln1w, &v.ln1b, &v.qkvw, &v.qkvb, &v.attprojw, &v.attprojb,
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

template <class T> static void forward(zsf_model *m, const void *params, float *loss)
{
    const shape sh = shape_of(m);
    const int B = sh.B, T_ = sh.T, C = sh.C, NH = sh.NH, V = sh.V, L = sh.L, BT = sh.BT;
    const size_t oC = sh.oC, oT = sh.oT, oA = sh.oA;
    acts<T> *a = &acts_of<T>(m);
    cudaStream_t s = m->stream;
    cublasHandle_t h = m->cublas;
    const zsf_param *wte = zsf_param_wte(m->t);

    unit_ptr<T> emb = unit_fetch<T>(m, params, 0);
    encoder_forward(a->encoded, zsf_model_inputs(m), at(emb, wte), at(emb, zsf_param_wpe(m->t)), B, T_, C, s);
    unit_release(m, 0);
    /* The residual stream after layer l is fl_M(residual2 + y) with y the fc projection's output; the
     * projection writes y into residual3, and the next LayerNorm adds residual2 to it in place before it
     * normalises (layernorm.cuh), likewise residual2 = fl_M(stream + attention projection) at ln2.
     * `stream` holds the stream, or its y part while `pending` (the part to add) is set. */
    T *stream = a->encoded;
    const T *pending = NULL;
    for (int l = 0; l < L; l++) {
        block<T> p = block_view<T>(m->t, unit_fetch<T>(m, params, 1 + l), l);
        T *ln1 = a->ln1 + l * oC, *qkv = a->qkv + 3 * l * oC, *att = a->att + l * oA, *atty = a->atty + l * oC;
        T *residual2 = a->residual2 + l * oC, *ln2 = a->ln2 + l * oC, *fch = a->fch + 4 * l * oC;
        T *fch_gelu = a->fch_gelu + 4 * l * oC, *residual3 = a->residual3 + l * oC;

        layernorm_forward(ln1, a->ln1_mean + l * oT, a->ln1_rstd + l * oT, stream, pending, p.ln1w, p.ln1b, BT, C, s);
        matmul_forward(h, &m->lt, qkv, a->acc, (const T *)ln1, p.qkvw, p.qkvb, BT, C, 3 * C, s);
        attention_forward(h, atty, att, (const T *)qkv, B, T_, C, NH, a->attn_ptrs, a->qkv_nonfinite + l, s);
        matmul_forward(h, &m->lt, residual2, a->acc, (const T *)atty, p.attprojw, p.attprojb, BT, C, C, s);
        layernorm_forward(ln2, a->ln2_mean + l * oT, a->ln2_rstd + l * oT, residual2, (const T *)stream, p.ln2w,
                          p.ln2b, BT, C, s);
        matmul_forward(h, &m->lt, fch, a->acc, (const T *)ln2, p.fcw, p.fcb, BT, C, 4 * C, s);
        gelu_forward(fch_gelu, (const T *)fch, 4 * oC, s);
        matmul_forward(h, &m->lt, residual3, a->acc, (const T *)fch_gelu, p.fcprojw, p.fcprojb, BT, 4 * C, C, s);
        unit_release(m, 1 + l);
        stream = residual3;
        pending = residual2;
    }
    unit_ptr<T> lnf = unit_fetch<T>(m, params, L + 1);
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, stream, pending, at(lnf, zsf_param_lnf_w(m->t)),
                      at(lnf, zsf_param_lnf_b(m->t)), BT, C, s);
    unit_release(m, L + 1);
    emb = unit_fetch<T>(m, params, 0);   /* the tied LM head */
    lm_head_forward(h, a->logits, (const T *)a->lnf, at(emb, wte), BT, C, V, logits_ld<T>(V));
    unit_release(m, 0);
    /* the loss is fp32 from the rounded logits */
    crossentropy_forward(loss, a->losses, a->ce_stats, (const T *)a->logits, zsf_model_targets(m), BT, V, logits_ld<T>(V), s);
}

void zsf_model_forward(zsf_model *m, const void *params, float *loss)
{
    zsf_dispatch(m->dt, [&](auto t) { forward<decltype(t)>(m, params, loss); });
}

/* ------------------------------------------------------------------------------------------------
 * Backward, in the reverse order of the forward pass. dres carries the residual stream's gradient:
 * each LayerNorm's input gradient is added into it, exactly as the reference adds it to the copy the
 * residual connection made, and the sum is rounded (fp16/bf16) as it is stored. A GEMM's input
 * gradient is complete when the GEMM ends: the GEMM writes it into its T buffer, rounded once in its
 * epilogue (fp32 accumulation). Parameter gradients are fp32 sums written straight
 * into `grads`, and the micro-step's gradient is rounded once at the end. */

template <class T> static void backward(zsf_model *m, const void *params, float *grads, float dloss)
{
    const shape sh = shape_of(m);
    const int B = sh.B, T_ = sh.T, C = sh.C, NH = sh.NH, V = sh.V, L = sh.L, BT = sh.BT;
    const size_t oC = sh.oC, oT = sh.oT, oA = sh.oA;
    acts<T> *a = &acts_of<T>(m);
    cudaStream_t s = m->stream;
    cublasHandle_t h = m->cublas;
    const unit_ptr<float> gflat = {grads, 0};
    float *dwte = grads + zsf_param_wte(m->t)->offset;

    const int Vp = logits_ld<T>(V);
    crossentropy_backward(a->logits, a->ce_stats, zsf_model_targets(m), dloss / (float)BT, BT, V, Vp, s);   /* now dlogits */
    unit_ptr<T> emb = unit_fetch<T>(m, params, 0);   /* the tied LM head */
    lm_head_backward(h, a->dC, a->acc, dwte, (const T *)a->logits, (const T *)a->lnf, at(emb, zsf_param_wte(m->t)), BT,
                     C, V, Vp, s);
    unit_release(m, 0);
    CUDA_CHECK(cudaMemsetAsync(a->dres, 0, oC * sizeof(T), s));
    const T *last = L > 0 ? a->residual3 + (L - 1) * oC : a->encoded;
    const zsf_param *lnfw = zsf_param_lnf_w(m->t), *lnfb = zsf_param_lnf_b(m->t);
    unit_ptr<T> lnf = unit_fetch<T>(m, params, L + 1);
    layernorm_backward(a->dres, grads + lnfw->offset, grads + lnfb->offset, a->bias_part, (const T *)a->dC, last,
                       at(lnf, lnfw), a->lnf_mean, a->lnf_rstd, BT, C, s);
    unit_release(m, L + 1);
    unit_grads_done(m, grads, L + 1);

    for (int l = L - 1; l >= 0; l--) {
        block<T> p = block_view<T>(m->t, unit_fetch<T>(m, params, 1 + l), l);
        block<float> dw = block_view<float>(m->t, gflat, l);
        const T *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * oC;
        const T *ln1 = a->ln1 + l * oC, *qkv = a->qkv + 3 * l * oC, *att = a->att + l * oA;
        const T *atty = a->atty + l * oC, *residual2 = a->residual2 + l * oC, *ln2 = a->ln2 + l * oC;
        const T *fch = a->fch + 4 * l * oC, *fch_gelu = a->fch_gelu + 4 * l * oC;

        /* residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))) */
        matmul_backward(h, a->d4C, dw.fcprojw, dw.fcprojb, a->bias_part, (const T *)a->dres, fch_gelu, p.fcprojw, BT,
                        4 * C, C, s);
        gelu_backward(a->d4C, (const T *)a->d4C, fch, 4 * oC, s);
        matmul_backward(h, a->dC, dw.fcw, dw.fcb, a->bias_part, (const T *)a->d4C, ln2, p.fcw, BT, C, 4 * C, s);
        layernorm_backward(a->dres, dw.ln2w, dw.ln2b, a->bias_part, (const T *)a->dC, residual2, p.ln2w,
                           a->ln2_mean + l * oT, a->ln2_rstd + l * oT, BT, C, s);
        /* residual2 = residual + attproj(attention(qkv(ln1(residual)))) */
        matmul_backward(h, a->dC, dw.attprojw, dw.attprojb, a->bias_part, (const T *)a->dres, atty, p.attprojw, BT,
                        C, C, s);
        attention_backward(h, a->dqkv, a->dpreatt, (const T *)a->dC, att, qkv, B, T_, C, NH, a->attn_ptrs,
                           a->qkv_nonfinite + l, s);
        matmul_backward(h, a->dC, dw.qkvw, dw.qkvb, a->bias_part, (const T *)a->dqkv, ln1, p.qkvw, BT, C, 3 * C, s);
        layernorm_backward(a->dres, dw.ln1w, dw.ln1b, a->bias_part, (const T *)a->dC, residual, p.ln1w,
                           a->ln1_mean + l * oT, a->ln1_rstd + l * oT, BT, C, s);
        unit_release(m, 1 + l);
        unit_grads_done(m, grads, 1 + l);
    }
    encoder_backward(dwte, grads + zsf_param_wpe(m->t)->offset, (const T *)a->dres, zsf_model_inputs(m), B, T_, C, s);
    unit_grads_done(m, grads, 0);
    if (!m->hooks.grads_done)
        round_inplace(grads, (size_t)m->t->numel, m->dt, s);   /* the micro-step's .grad, in the model dtype */
}

void zsf_model_backward(zsf_model *m, const void *params, float *grads, float dloss)
{
    zsf_dispatch(m->dt, [&](auto t) { backward<decltype(t)>(m, params, grads, dloss); });
}
