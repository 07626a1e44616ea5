/* zs-fast-bench, phase "ops": every operation of zs-fast's GPT-2 forward and backward pass timed
 * alone at the training step's shapes (one layer's worth; `count` says how often a step runs it),
 * so the step time can be attributed: cuBLAS GEMMs (pedantic fp32, and the same GEMMs with TF32
 * for comparison only; TF32 is not the conformance path) versus zs-fast's own kernels. The kernels
 * are model.cu's, from the same headers; inputs are random. */
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

float *dev_floats(size_t n, uint64_t key, float lo, float hi, cudaStream_t s)
{
    float *p = NULL;
    CUDA_CHECK(cudaMalloc((void **)&p, n * sizeof(float)));
    zsfb_fill(p, n, key, lo, hi, s);
    return p;
}

}  // namespace

int zsfb_bench_ops(cJSON *out, const zs_model_dims *d, int batch, double budget_s, cudaStream_t s)
{
    const int B = batch, T = d->seq, C = d->channels, NH = d->heads, V = d->vocab, L = d->layers, BT = B * T;
    const size_t nC = (size_t)BT * C, nA = (size_t)B * NH * T * T;
    uint64_t key = 0x0b5;
    float *x = dev_floats(nC, key++, -1, 1, s), *ln = dev_floats(nC, key++, -1, 1, s);
    float *mean = dev_floats(BT, key++, -0.1f, 0.1f, s), *rstd = dev_floats(BT, key++, 0.5f, 2, s);
    float *qkv = dev_floats(3 * nC, key++, -1, 1, s), *att = dev_floats(nA, key++, 0, 1, s);
    float *atty = dev_floats(nC, key++, -1, 1, s), *acc = dev_floats(nC, key++, -1, 1, s);
    float *res = dev_floats(nC, key++, -1, 1, s), *fch = dev_floats(4 * nC, key++, -2, 2, s);
    float *fch_gelu = dev_floats(4 * nC, key++, -1, 1, s), *probs = dev_floats((size_t)BT * V, key++, -4, 4, s);
    float *losses = dev_floats(BT, key++, 0, 1, s), *loss = dev_floats(1, key++, 0, 1, s);
    float *dres = dev_floats(nC, key++, -1, 1, s), *dC = dev_floats(nC, key++, -1, 1, s);
    float *d4C = dev_floats(4 * nC, key++, -1, 1, s), *dqkv = dev_floats(3 * nC, key++, -1, 1, s);
    float *datt = dev_floats(nA, key++, -1, 1, s), *dpreatt = dev_floats(nA, key++, -1, 1, s);
    float *wte = dev_floats((size_t)V * C, key++, -0.02f, 0.02f, s), *wpe = dev_floats((size_t)T * C, key++, -0.02f, 0.02f, s);
    float *dwte = dev_floats((size_t)V * C, key++, -1, 1, s), *dwpe = dev_floats((size_t)T * C, key++, -1, 1, s);
    float *w = dev_floats((size_t)C * 4 * C, key++, -0.02f, 0.02f, s), *dw = dev_floats((size_t)C * 4 * C, key++, -1, 1, s);
    float *lnw = dev_floats(C, key++, 0.5f, 1.5f, s), *bias = dev_floats(4 * C, key++, -0.1f, 0.1f, s);
    float *dlnw = dev_floats(C, key++, -1, 1, s), *dbias = dev_floats(4 * C, key++, -1, 1, s);
    int *tok = NULL;
    CUDA_CHECK(cudaMalloc((void **)&tok, 2 * (size_t)BT * sizeof(int)));
    ZSF_LAUNCH(zsfb_tokens_kernel, 2 * (size_t)BT, s, tok, 2 * (size_t)BT, key++, V);
    int *inp = tok, *tgt = tok + BT;

    cublasHandle_t hp, h32;   /* pedantic fp32 (zs-fast's mode) and TF32 (comparison only) */
    CUBLAS_CHECK(cublasCreate(&hp));
    CUBLAS_CHECK(cublasCreate(&h32));
    CUBLAS_CHECK(cublasSetStream(hp, s));
    CUBLAS_CHECK(cublasSetStream(h32, s));
    CUBLAS_CHECK(cublasSetMathMode(hp, CUBLAS_PEDANTIC_MATH));
    CUBLAS_CHECK(cublasSetMathMode(h32, CUBLAS_TF32_TENSOR_OP_MATH));

    op_table ot = {cJSON_AddArrayToObject(out, "ops"), budget_s, s, {0, 0}, 0};
    printf("zs-fast ops at B=%d T=%d C=%d NH=%d V=%d (count = runs per step, %d layers):\n", B, T, C, NH, V, L);
    /* forward */
    ot.add("encoder_forward", "fwd", 1, 0, [&] { encoder_forward(x, inp, wte, wpe, B, T, C, ZSF_FP32, s); });
    ot.add("layernorm_forward", "fwd", 2 * L + 1, 0, [&] { layernorm_forward(ln, mean, rstd, x, lnw, bias, BT, C, ZSF_FP32, s); });
    const struct { const char *name; int in, oc, residual; } lin[] = {
        {"qkv", C, 3 * C, 0}, {"attn_proj", C, C, 1}, {"fc", C, 4 * C, 0}, {"fc_proj", 4 * C, C, 1}};
    for (const auto &g : lin) {
        char name[64];
        const double fl = 2.0 * BT * g.in * g.oc;
        snprintf(name, sizeof name, "gemm %s", g.name);
        const float *gin = g.in == C ? ln : fch_gelu;   /* [BT, in] */
        ot.add(name, "fwd", L, fl, [&] { matmul_forward_nobias(hp, fch, gin, w, BT, g.in, g.oc); });
        ot.tf32(L, fl, [&] { matmul_forward_nobias(h32, fch, gin, w, BT, g.in, g.oc); });
        snprintf(name, sizeof name, "%s %s", g.residual ? "add_bias_residual" : "add_bias", g.name);
        if (g.residual)
            ot.add(name, "fwd", L, 0, [&] { ZSF_LAUNCH(add_bias_residual_kernel, nC, s, res, x, acc, bias, nC, g.oc, ZSF_FP32); });
        else
            ot.add(name, "fwd", L, 0,
                   [&] { ZSF_LAUNCH(add_bias_kernel, (size_t)BT * g.oc, s, fch, bias, (size_t)BT * g.oc, g.oc, ZSF_FP32); });
    }
    ot.add("attention_forward", "fwd", L, 0, [&] { attention_forward(hp, atty, att, qkv, B, T, C, NH, ZSF_FP32, s); });
    ot.add("gelu_forward", "fwd", L, 0, [&] { gelu_forward(fch_gelu, fch, 4 * nC, ZSF_FP32, s); });
    const double fl_head = 2.0 * BT * C * V;
    ot.add("gemm lm_head", "fwd", 1, fl_head, [&] { lm_head_forward(hp, probs, ln, wte, BT, C, V); });
    ot.tf32(1, fl_head, [&] { lm_head_forward(h32, probs, ln, wte, BT, C, V); });
    ot.add("crossentropy_forward", "fwd", 1, 0, [&] { crossentropy_forward(loss, losses, probs, tgt, BT, V, s); });
    /* backward */
    ot.add("crossentropy_backward", "bwd", 1, 0, [&] { crossentropy_backward(probs, tgt, 1.0f / BT, BT, V, s); });
    ot.add("gemm lm_head (2)", "bwd", 1, 2 * fl_head, [&] { lm_head_backward(hp, dC, dwte, probs, ln, wte, BT, C, V); });
    ot.tf32(1, 2 * fl_head, [&] { lm_head_backward(h32, dC, dwte, probs, ln, wte, BT, C, V); });
    /* layernorm_backward and encoder_backward kernel by kernel */
    ot.add("layernorm_backward dinp", "bwd", 2 * L + 1, 0, [&] {
        ZSF_LAUNCH_ROWS(layernorm_backward_dinp_kernel, (size_t)BT, s, dres, dC, x, lnw, mean, rstd, BT, C);
    });
    ot.add("layernorm_backward params", "bwd", 2 * L + 1, 0, [&] {
        layernorm_backward_params(dlnw, dbias, dC, x, mean, rstd, BT, C, s);
    });
    for (const auto &g : lin) {
        char name[64];
        const double fl = 4.0 * BT * g.in * g.oc;
        float *din = g.in == C ? dC : fch;   /* [BT, in]; dout is d4C [BT, oc], the layer input fch_gelu */
        snprintf(name, sizeof name, "gemm %s (2)", g.name);
        ot.add(name, "bwd", L, fl, [&] {
            sgemm(hp, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, w, g.oc, d4C, g.oc, din, g.in);
            sgemm(hp, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, d4C, g.oc, fch_gelu, g.in, dw, g.oc);
        });
        ot.tf32(L, fl, [&] {
            sgemm(h32, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, w, g.oc, d4C, g.oc, din, g.in);
            sgemm(h32, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, d4C, g.oc, fch_gelu, g.in, dw, g.oc);
        });
        snprintf(name, sizeof name, "bias_backward %s", g.name);
        ot.add(name, "bwd", L, 0, [&] { ZSF_LAUNCH(bias_backward_kernel, (size_t)g.oc, s, dbias, d4C, BT, g.oc); });
    }
    ot.add("gelu_backward", "bwd", L, 0, [&] { gelu_backward_inplace(d4C, fch, 4 * nC, s); });
    /* the whole pass: GEMMs, softmax backward, the non-finite check (the exact kernels return at once) */
    ot.add("attention_backward", "bwd", L, 0, [&] {
        attention_backward(hp, dqkv, datt, dpreatt, dC, att, qkv, B, T, C, NH, ZSF_FP32, s);
    });
    ot.add("encoder_backward wte", "bwd", 1, 0, [&] { encoder_backward_wte(dwte, dres, inp, BT, C, s); });
    ot.add("encoder_backward wpe", "bwd", 1, 0,
           [&] { ZSF_LAUNCH(encoder_backward_wpe_kernel, (size_t)T * C, s, dwpe, dres, B, T, C); });

    cJSON *sum = cJSON_AddObjectToObject(out, "ops_sum");
    cJSON_AddNumberToObject(sum, "gemm_ms", ot.step_ms[0]);
    cJSON_AddNumberToObject(sum, "gemm_tf32_ms", ot.gemm_tf32_ms);
    cJSON_AddNumberToObject(sum, "kernels_ms", ot.step_ms[1]);
    printf("  per step: GEMMs %.1f ms (TF32 would be %.1f ms), zs-fast kernels %.1f ms, sum %.1f ms\n", ot.step_ms[0],
           ot.gemm_tf32_ms, ot.step_ms[1], ot.step_ms[0] + ot.step_ms[1]);

    cublasDestroy(hp);
    cublasDestroy(h32);
    float *all[] = {x, ln, mean, rstd, qkv, att, atty, acc, res, fch, fch_gelu, probs, losses, loss, dres, dC,
                    d4C, dqkv, datt, dpreatt, wte, wpe, dwte, dwpe, w, dw, lnw, bias, dlnw, dbias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CUDA_CHECK(cudaFree(all[i]));
    CUDA_CHECK(cudaFree(tok));
    return 0;
}
