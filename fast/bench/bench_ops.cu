/* zs-fast-bench, phase "ops": every operation of zs-fast's GPT-2 forward and backward pass timed
 * alone at the training step's shapes (one layer's worth; `count` says how often a step runs it),
 * so the step time can be attributed: cuBLAS GEMMs versus zs-fast's own kernels. fp32 runs the GEMMs
 * with pedantic math (and the same GEMMs with TF32 for comparison only; TF32 is not the conformance
 * path); fp16/bf16 runs them on tensor cores with 16-bit inputs and fp32 output, and its kernels on
 * 16-bit activations, as model.cu does. The kernels are model.cu's, from the same headers; inputs are
 * random. */
#include <stdio.h>

#include "bench_time.cuh"
#include "kernels/attention.cuh"
#include "kernels/crossentropy.cuh"
#include "kernels/encoder.cuh"
#include "kernels/gelu.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/matmul.cuh"

namespace {

struct op_table {
    cJSON *list;
    double budget_s;
    cudaStream_t s;
    double step_ms[2];   /* per-step totals: [0] GEMMs (pedantic), [1] other kernels */
    double gemm_tf32_ms;

    /* Times f (median), records it with its count per step; flops > 0 marks a GEMM. */
    template <class F> double add(const char *name, const char *pass, int count, double flops, F f)
    {
        double ms[32];
        double first = zsfb_time(f, 1, 1, s, ms);
        int reps = zsfb_reps_for(first * 1e-3, budget_s, 1, 20);
        double med = reps == 1 ? first : zsfb_time(f, 0, reps, s, ms);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "pass", pass);
        cJSON_AddStringToObject(o, "kind", flops > 0 ? "gemm" : "kernel");
        cJSON_AddNumberToObject(o, "count", count);
        cJSON_AddNumberToObject(o, "median_ms", med);
        cJSON_AddNumberToObject(o, "reps", reps);
        cJSON_AddNumberToObject(o, "step_ms", med * count);
        if (flops > 0)
            cJSON_AddNumberToObject(o, "tflops", flops / (med * 1e-3) / 1e12);
        cJSON_AddItemToArray(list, o);
        step_ms[flops > 0 ? 0 : 1] += med * count;
        printf("  %-34s %-3s x%-3d %10.3f ms  -> %9.1f ms/step%s", name, pass, count, med, med * count,
               flops > 0 ? "" : "\n");
        if (flops > 0)
            printf("  %6.1f TFLOP/s\n", flops / (med * 1e-3) / 1e12);
        return med;
    }

    /* The same GEMM on a TF32 handle: recorded on the last entry (comparison only). */
    template <class F> void tf32(int count, double flops, F f)
    {
        double ms[8];
        double med = zsfb_time(f, 1, 3, s, ms);
        cJSON *o = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
        cJSON_AddNumberToObject(o, "tf32_median_ms", med);
        cJSON_AddNumberToObject(o, "tf32_tflops", flops / (med * 1e-3) / 1e12);
        gemm_tf32_ms += med * count;
    }
};

template <class T> T *dev_buf(size_t n, uint64_t key, float lo, float hi, cudaStream_t s)
{
    T *p = NULL;
    CUDA_CHECK(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(T)));
    zsfb_fill(p, n, key, lo, hi, s);
    return p;
}

template <class T> int bench_ops(cJSON *out, const zs_model_dims *d, int batch, double budget_s, cudaStream_t s)
{
    constexpr bool f32 = zsf_is_f32<T>;
    const int B = batch, T_ = d->seq, C = d->channels, NH = d->heads, V = d->vocab, L = d->layers, BT = B * T_;
    const size_t nC = (size_t)BT * C, nA = (size_t)B * NH * T_ * T_;
    uint64_t key = 0x0b5;
    /* activations (T) */
    T *x = dev_buf<T>(nC, key++, -1, 1, s), *ln = dev_buf<T>(nC, key++, -1, 1, s);
    T *qkv = dev_buf<T>(3 * nC, key++, -1, 1, s), *att = dev_buf<T>(nA, key++, 0, 1, s);
    T *atty = dev_buf<T>(nC, key++, -1, 1, s), *res = dev_buf<T>(nC, key++, -1, 1, s);
    T *fch = dev_buf<T>(4 * nC, key++, -2, 2, s), *fch_gelu = dev_buf<T>(4 * nC, key++, -1, 1, s);
    T *dres = dev_buf<T>(nC, key++, -1, 1, s), *dC = dev_buf<T>(nC, key++, -1, 1, s);
    T *d4C = dev_buf<T>(4 * nC, key++, -1, 1, s), *dqkv = dev_buf<T>(3 * nC, key++, -1, 1, s);
    T *dpreatt = dev_buf<T>(nA, key++, -1, 1, s);
    T *dlogits16 = dev_buf<T>(f32 ? 0 : (size_t)BT * logits_ld<T>(V), key++, -1e-4f, 1e-4f, s);
    T *wteT = dev_buf<T>((size_t)V * C, key++, -0.02f, 0.02f, s), *wT = dev_buf<T>((size_t)C * 4 * C, key++, -0.02f, 0.02f, s);
    /* fp32 buffers: statistics, logits, scratch and the parameter gradients (wte, wpe, lnw, bias: the
     * model dtype, as model.cu reads its parameters) */
    float *mean = dev_buf<float>(BT, key++, -0.1f, 0.1f, s), *rstd = dev_buf<float>(BT, key++, 0.5f, 2, s);
    float *acc = dev_buf<float>(4 * nC, key++, -1, 1, s), *datt = dev_buf<float>(nA, key++, -1, 1, s);
    float *probs = dev_buf<float>((size_t)BT * logits_ld<T>(V), key++, -4, 4, s);
    float *losses = dev_buf<float>(BT, key++, 0, 1, s), *loss = dev_buf<float>(1, key++, 0, 1, s);
    T *wte = dev_buf<T>((size_t)V * C, key++, -0.02f, 0.02f, s), *wpe = dev_buf<T>((size_t)T_ * C, key++, -0.02f, 0.02f, s);
    float *dwte = dev_buf<float>((size_t)V * C, key++, -1, 1, s), *dwpe = dev_buf<float>((size_t)T_ * C, key++, -1, 1, s);
    float *dw = dev_buf<float>((size_t)C * 4 * C, key++, -1, 1, s);
    T *lnw = dev_buf<T>(C, key++, 0.5f, 1.5f, s), *bias = dev_buf<T>(4 * C, key++, -0.1f, 0.1f, s);
    float *dlnw = dev_buf<float>(C, key++, -1, 1, s), *dbias = dev_buf<float>(4 * C, key++, -1, 1, s);
    float *part = dev_buf<float>(32 * 4 * C, key++, -1, 1, s);
    T *dlogits = f32 ? (T *)probs : dlogits16;   /* model.cu: fp32 writes dlogits over probs */
    int *tok = NULL;
    CUDA_CHECK(cudaMalloc((void **)&tok, 2 * (size_t)BT * sizeof(int)));
    ZSF_LAUNCH(zsfb_tokens_kernel, 2 * (size_t)BT, s, tok, 2 * (size_t)BT, key++, V);
    int *inp = tok, *tgt = tok + BT;

    cublasHandle_t hp, h32;   /* the model's handle (fp32: pedantic; 16-bit: tensor cores) and TF32 */
    CUBLAS_CHECK(cublasCreate(&hp));
    CUBLAS_CHECK(cublasCreate(&h32));
    CUBLAS_CHECK(cublasSetStream(hp, s));
    CUBLAS_CHECK(cublasSetStream(h32, s));
    CUBLAS_CHECK(cublasSetMathMode(hp, f32 ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH));
    CUBLAS_CHECK(cublasSetMathMode(h32, CUBLAS_TF32_TENSOR_OP_MATH));
    float *w32 = (float *)wT;   /* fp32 only: the TF32 comparison's weight */

    op_table ot = {cJSON_AddArrayToObject(out, "ops"), budget_s, s, {0, 0}, 0};
    printf("zs-fast ops (%s) at B=%d T=%d C=%d NH=%d V=%d (count = runs per step, %d layers):\n",
           f32 ? "fp32" : zsf_st<T>::dt == ZSF_BF16 ? "bf16" : "fp16", B, T_, C, NH, V, L);
    /* forward */
    ot.add("encoder_forward", "fwd", 1, 0, [&] { encoder_forward(x, inp, wte, wpe, B, T_, C, s); });
    ot.add("layernorm_forward", "fwd", 2 * L + 1, 0,
           [&] { layernorm_forward(ln, mean, rstd, (const T *)x, lnw, bias, BT, C, s); });
    const struct { const char *name; int in, oc, residual; } lin[] = {
        {"qkv", C, 3 * C, 0}, {"attn_proj", C, C, 1}, {"fc", C, 4 * C, 0}, {"fc_proj", 4 * C, C, 1}};
    for (const auto &g : lin) {
        char name[64];
        const double fl = 2.0 * BT * g.in * g.oc;
        snprintf(name, sizeof name, "gemm %s", g.name);
        const T *gin = g.in == C ? ln : fch_gelu;   /* [BT, in] */
        float *o32 = f32_view(fch, acc);
        ot.add(name, "fwd", L, fl, [&] { matmul_forward_nobias(hp, o32, gin, (const T *)wT, BT, g.in, g.oc); });
        if constexpr (f32)
            ot.tf32(L, fl, [&] { matmul_forward_nobias(h32, (float *)fch, (const float *)gin, w32, BT, g.in, g.oc); });
        snprintf(name, sizeof name, "%s %s", g.residual ? "add_bias_residual" : "add_bias", g.name);
        if (g.residual)
            ot.add(name, "fwd", L, 0, [&] {
                ZSF_LAUNCH(add_bias_residual_kernel<T>, nC, s, res, (const T *)x, acc, bias, nC, g.oc);
            });
        else
            ot.add(name, "fwd", L, 0, [&] {
                ZSF_LAUNCH(add_bias_kernel<T>, (size_t)BT * g.oc, s, fch, o32, bias, (size_t)BT * g.oc, g.oc);
            });
    }
    ot.add("attention_forward", "fwd", L, 0,
           [&] { attention_forward(hp, atty, att, datt, acc, (const T *)qkv, B, T_, C, NH, s); });
    ot.add("gelu_forward", "fwd", L, 0, [&] { gelu_forward(fch_gelu, (const T *)fch, 4 * nC, s); });
    const double fl_head = 2.0 * BT * C * V;
    const int Vp = logits_ld<T>(V);   /* model.cu's logits row stride */
    ot.add("gemm lm_head", "fwd", 1, fl_head,
           [&] { lm_head_forward(hp, probs, (const T *)ln, (const T *)wteT, BT, C, V, Vp); });
    if constexpr (f32)
        ot.tf32(1, fl_head, [&] { lm_head_forward(h32, probs, (const float *)ln, (const float *)wteT, BT, C, V, V); });
    ot.add("crossentropy_forward", "fwd", 1, 0,
           [&] { crossentropy_forward<T>(loss, losses, probs, tgt, BT, V, Vp, s); });
    /* backward */
    ot.add("crossentropy_backward", "bwd", 1, 0,
           [&] { crossentropy_backward(dlogits, (const float *)probs, tgt, 1.0f / BT, BT, V, Vp, s); });
    float *dC32 = f32_view(dC, acc);
    ot.add("gemm lm_head (2)", "bwd", 1, 2 * fl_head, [&] {
        lm_head_backward(hp, dC32, dwte, (const T *)dlogits, (const T *)ln, (const T *)wteT, BT, C, V, Vp);
    });
    if constexpr (f32)
        ot.tf32(1, 2 * fl_head, [&] {
            lm_head_backward(h32, (float *)dC, dwte, (const float *)dlogits, (const float *)ln, (const float *)wteT, BT,
                             C, V, V);
        });
    if (!f32)
        ot.add("round GEMM dinp [BT,C]", "bwd", 3 * L + 1, 0, [&] { store_f32(dC, (const float *)acc, nC, s); });
    /* layernorm_backward and encoder_backward kernel by kernel */
    ot.add("layernorm_backward dinp", "bwd", 2 * L + 1, 0, [&] {
        ZSF_LAUNCH_ROWS(layernorm_backward_dinp_kernel<T>, (size_t)BT, s, dres, (const T *)dC, (const T *)x, lnw, mean,
                        rstd, BT, C);
    });
    ot.add("layernorm_backward params", "bwd", 2 * L + 1, 0, [&] {
        layernorm_backward_params(dlnw, dbias, part, (const T *)dC, (const T *)x, mean, rstd, BT, C, s);
    });
    for (const auto &g : lin) {
        char name[64];
        const double fl = 4.0 * BT * g.in * g.oc;
        float *din32 = f32_view(g.in == C ? dC : fch, acc);   /* [BT, in]; dout is d4C [BT, oc], the input fch_gelu */
        snprintf(name, sizeof name, "gemm %s (2)", g.name);
        ot.add(name, "bwd", L, fl, [&] {
            gemm(hp, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, (const T *)wT, g.oc, (const T *)d4C, g.oc, din32, g.in);
            gemm(hp, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, (const T *)d4C, g.oc, (const T *)fch_gelu, g.in, dw, g.oc);
        });
        if constexpr (f32)
            ot.tf32(L, fl, [&] {
                gemm(h32, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, w32, g.oc, (const float *)d4C, g.oc, din32, g.in);
                gemm(h32, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, (const float *)d4C, g.oc, (const float *)fch_gelu,
                     g.in, dw, g.oc);
            });
        snprintf(name, sizeof name, "bias_backward %s", g.name);
        ot.add(name, "bwd", L, 0, [&] { bias_backward(dbias, part, (const T *)d4C, BT, g.oc, s); });
    }
    float *d4C32 = f32_view(d4C, acc);
    ot.add("gelu_backward", "bwd", L, 0, [&] { gelu_backward(d4C, (const float *)d4C32, (const T *)fch, 4 * nC, s); });
    /* the whole pass: GEMMs, softmax backward, the non-finite check (the exact kernels return at once) */
    ot.add("attention_backward", "bwd", L, 0, [&] {
        attention_backward(hp, dqkv, acc, datt, dpreatt, (const T *)dC, (const T *)att, (const T *)qkv, B, T_, C, NH, s);
    });
    ot.add("encoder_backward wte", "bwd", 1, 0, [&] { encoder_backward_wte(dwte, (const T *)dres, inp, BT, C, s); });
    ot.add("encoder_backward wpe", "bwd", 1, 0,
           [&] { ZSF_LAUNCH(encoder_backward_wpe_kernel<T>, (size_t)T_ * C, s, dwpe, (const T *)dres, B, T_, C); });

    cJSON *sum = cJSON_AddObjectToObject(out, "ops_sum");
    cJSON_AddNumberToObject(sum, "gemm_ms", ot.step_ms[0]);
    if (f32)
        cJSON_AddNumberToObject(sum, "gemm_tf32_ms", ot.gemm_tf32_ms);
    cJSON_AddNumberToObject(sum, "kernels_ms", ot.step_ms[1]);
    printf("  per step: GEMMs %.1f ms", ot.step_ms[0]);
    if (f32)
        printf(" (TF32 would be %.1f ms)", ot.gemm_tf32_ms);
    printf(", zs-fast kernels %.1f ms, sum %.1f ms\n", ot.step_ms[1], ot.step_ms[0] + ot.step_ms[1]);

    cublasDestroy(hp);
    cublasDestroy(h32);
    void *all[] = {x, ln, qkv, att, atty, res, fch, fch_gelu, dres, dC, d4C, dqkv, dpreatt, dlogits16, wteT, wT,
                   mean, rstd, acc, datt, probs, losses, loss, wte, wpe, dwte, dwpe, dw, lnw, bias, dlnw, dbias, part};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CUDA_CHECK(cudaFree(all[i]));
    CUDA_CHECK(cudaFree(tok));
    return 0;
}

}  // namespace

int zsfb_bench_ops(cJSON *out, const zs_model_dims *d, int batch, double budget_s, cudaStream_t s, zsf_dtype dt)
{
    int rc = 0;
    zsf_dispatch(dt, [&](auto t) { rc = bench_ops<decltype(t)>(out, d, batch, budget_s, s); });
    return rc;
}
