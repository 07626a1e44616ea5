/* zs-fast-bench, phase "ops": every operation of zs-fast's GPT-2 forward and backward pass timed
 * alone at the training step's shapes (one layer's worth; `count` says how often a step runs it),
 * so the step time can be attributed: cuBLAS GEMMs versus zs-fast's own kernels. fp32 runs the GEMMs
 * with pedantic math (and the same GEMMs with TF32 for comparison only; TF32 is not the conformance
 * path); fp16/bf16 runs them on tensor cores with 16-bit inputs and fp32 output, and its kernels on
 * 16-bit activations, as model.cu does. The kernels are model.cu's, from the same headers; inputs are
 * random.
 *
 * First (fp16/bf16) a check that model.cu's rounding points may live in cuBLAS's epilogue: a GEMM
 * that writes T must give, bit for bit, the fp32 GEMM's result rounded by rounding.h (round to nearest
 * even, overflow to Inf), at alpha = 1 and at the attention's alpha 1/8. Any difference fails the
 * phase. */
#include <stdio.h>

#include "bench_time.cuh"
#include "kernels/attention.cuh"
#include "kernels/crossentropy.cuh"
#include "kernels/encoder.cuh"
#include "kernels/gelu.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/matmul.cuh"
#include "kernels/zero.cuh"

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

template <class T>
__global__ static void count_bit_differences_kernel(unsigned *count, const T *a, const T *b, size_t n)
{
    static_assert(sizeof(T) == 2, "16-bit storage types only");
    size_t i = zsf_tid();
    if (i >= n)
        return;
    unsigned short x, y;
    memcpy(&x, &a[i], 2);
    memcpy(&y, &b[i], 2);
    if (x != y)
        atomicAdd(count, 1u);
}

/* Elements of a[0..n) and b[0..n) whose bits differ (waits for the stream). */
template <class T> static unsigned bit_differences(const T *a, const T *b, size_t n, cudaStream_t s)
{
    unsigned *count = NULL, c = 0;
    CUDA_CHECK(cudaMalloc((void **)&count, sizeof *count));
    CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof *count, s));
    ZSF_LAUNCH(count_bit_differences_kernel<T>, n, s, count, a, b, n);
    CUDA_CHECK(cudaMemcpyAsync(&c, count, sizeof c, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaFree(count));
    return c;
}

/* Inputs where common.cuh's conversions differ from rounding.h's: every float bit pattern through st<T>,
 * every 16-bit pattern through widen<T> (compared as float bits, so NaN payloads count) and through
 * ld<T> (the same bits for every non-NaN, a NaN for a NaN: ld may drop the payload). */
template <class T> __global__ static void conversion_mismatch_kernel(unsigned long long *count)
{
    unsigned long long bad = 0;
    for (uint64_t i = zsf_tid(); i < (1ull << 32); i += (uint64_t)gridDim.x * blockDim.x) {
        float f = zsf_bits_f32((uint32_t)i);
        uint16_t want = zsf_st<T>::dt == ZSF_FP16 ? zsf_f32_to_f16(f) : zsf_f32_to_bf16(f);
        T got = st<T>(f);
        uint16_t g;
        memcpy(&g, &got, 2);
        bad += g != want;
        if (i < 65536) {
            uint16_t h = (uint16_t)i;
            T x;
            memcpy(&x, &h, 2);
            float w = zsf_st<T>::dt == ZSF_FP16 ? zsf_f16_to_f32(h) : zsf_bf16_to_f32(h);
            bad += zsf_f32_bits(widen(x)) != zsf_f32_bits(w);
            bad += w != w ? ld(x) == ld(x) : zsf_f32_bits(ld(x)) != zsf_f32_bits(w);
        }
    }
    if (bad)
        atomicAdd(count, bad);
}

template <class T> static unsigned long long conversion_mismatches(cudaStream_t s)
{
    unsigned long long *count = NULL, c = 0;
    CUDA_CHECK(cudaMalloc((void **)&count, sizeof *count));
    CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof *count, s));
    conversion_mismatch_kernel<T><<<4096, ZSF_BLOCK, 0, s>>>(count);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemcpyAsync(&c, count, sizeof c, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaFree(count));
    return c;
}

/* Whether fp32 arithmetic keeps a NaN operand's payload: over every fp32 NaN bit pattern x (both signs,
 * every non-zero mantissa), the results of the operations the 16-bit kernels apply to loaded values
 * (sums, products, differences and quotients either way round, fused multiply-adds, expf) that are
 * not the canonical NaN 0x7FFFFFFF. Zero means a NaN's payload cannot survive arithmetic on this
 * device, which common.cuh's ld relies on: a value that only feeds arithmetic is widened without the
 * payload-keeping test (performance-notes.md, run 11). */
__global__ static void nan_arith_kernel(unsigned long long *count, float y)
{
    unsigned long long bad = 0;
    for (uint32_t i = (uint32_t)zsf_tid(); i < (1u << 24); i += gridDim.x * blockDim.x) {
        const uint32_t m = (i & 0x7FFFFFu) ? (i & 0x7FFFFFu) : 1u;   /* mantissa 0 would be Inf */
        const float x = zsf_bits_f32(((i >> 23) << 31) | 0x7F800000u | m);
        const float r[10] = {x + y, y + x, x * y, x - y, y - x, fmaf(x, y, y), fmaf(y, y, x), x / y, y / x, expf(x)};
        for (int k = 0; k < 10; k++)
            bad += zsf_f32_bits(r[k]) != 0x7FFFFFFFu;
    }
    if (bad)
        atomicAdd(count, bad);
}

static unsigned long long nan_arith_noncanonical(cudaStream_t s)
{
    unsigned long long *count = NULL, c = 0;
    CUDA_CHECK(cudaMalloc((void **)&count, sizeof *count));
    CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof *count, s));
    nan_arith_kernel<<<1024, ZSF_BLOCK, 0, s>>>(count, 0.75f);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemcpyAsync(&c, count, sizeof c, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaFree(count));
    return c;
}

/* x = fl_M(rint(x)): integers, so that the GEMMs below sum exactly in any order. */
template <class T> __global__ static void to_integers_kernel(T *x, size_t n)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = st<T>(rintf(ld(x[i])));
}

/* Elements (of BT * OC) where gemm_bias (cuBLASLt's bias epilogue) differs from an fp32 GEMM followed by
 * matmul.cuh's bias kernel, fl_M(acc + bias). Inputs are integers in [-64, 64] with C = 64, so every
 * product sums exactly whatever the order and only the epilogue is compared: sums up to 2^18 overflow
 * fp16; the biases in [-100, 100] are not integers, so acc + bias rounds. -1: gemm_bias refused. */
template <class T> static long bias_epilogue_mismatches(zsf_lt *lt, cublasHandle_t h, uint64_t key, cudaStream_t s)
{
    const int BT = 512, C = 64, OC = 512;
    const size_t n = (size_t)BT * OC;
    T *inp = dev_buf<T>((size_t)BT * C, key, -64, 64, s), *w = dev_buf<T>((size_t)C * OC, key + 1, -64, 64, s);
    T *bias = dev_buf<T>(OC, key + 2, -100, 100, s);
    T *direct = dev_buf<T>(n, key + 3, 0, 0, s), *twostep = dev_buf<T>(n, key + 4, 0, 0, s);
    float *c32 = dev_buf<float>(n, key + 5, 0, 0, s);
    ZSF_LAUNCH(to_integers_kernel<T>, (size_t)BT * C, s, inp, (size_t)BT * C);
    ZSF_LAUNCH(to_integers_kernel<T>, (size_t)C * OC, s, w, (size_t)C * OC);
    long result = -1;
    if (gemm_bias(lt, direct, (const T *)inp, (const T *)w, (const T *)bias, BT, C, OC, s)) {
        matmul_forward_nobias(h, c32, (const T *)inp, (const T *)w, BT, C, OC);
        ZSF_LAUNCH(add_bias_kernel<T>, n, s, twostep, c32, (const T *)bias, n, OC);
        result = bit_differences((const T *)direct, (const T *)twostep, n, s);
    }
    void *all[] = {inp, w, bias, direct, twostep, c32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CUDA_CHECK(cudaFree(all[i]));
    return result;
}

/* Elements (of m * n) whose T-output GEMM differs from fl_M of the fp32-output GEMM, at alpha 1 and 1/8.
 * Inputs in [-120, 120] so that, with k = 64, about a tenth of the fp16 results overflow. */
template <class T> static unsigned epilogue_rounding_mismatches(cublasHandle_t h, uint64_t key, cudaStream_t s)
{
    const int m = 512, n = 512, k = 64;
    const size_t mn = (size_t)m * n;
    T *A = dev_buf<T>((size_t)m * k, key, -120, 120, s), *B = dev_buf<T>((size_t)k * n, key + 1, -120, 120, s);
    T *direct = dev_buf<T>(mn, key + 2, 0, 0, s), *rounded = dev_buf<T>(mn, key + 3, 0, 0, s);
    float *c32 = dev_buf<float>(mn, key + 4, 0, 0, s);
    unsigned total = 0;
    for (float alpha : {1.0f, 0.125f}) {
        gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, (const T *)A, m, (const T *)B, k, c32, m, alpha);
        zsf_convert(rounded, zsf_st<T>::dt, c32, ZSF_FP32, mn, s);   /* fl_M: st<T>, checked = rounding.h above */
        gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, (const T *)A, m, (const T *)B, k, direct, m, alpha);
        total += bit_differences((const T *)direct, (const T *)rounded, mn, s);
    }
    void *all[] = {A, B, direct, rounded, c32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CUDA_CHECK(cudaFree(all[i]));
    return total;
}

/* Failed checks (0..5) of attention_backward taking qkv's verdict from attention_forward's slot instead
 * of scanning qkv again. With qkv finite, and with an Inf planted in the last position's key (which
 * the diagonal tiles multiply by 0 in dq, so only the exact kernels give the reference's values), the
 * slot must hold what was planted and dqkv must come out bit for bit as with the backward's own scan;
 * and with the Inf planted but the slot cleared, dqkv must differ (else the planted Inf would not tell
 * the two paths apart and the check would prove nothing). qkv is restored. */
template <class T>
static int attention_verdict_mismatches(cublasHandle_t h, T *att, T *atty, T *dpreatt, T *qkv, const T *dC, T *dqkv,
                                        int *slot, const void **ptrs, int B, int T_, int C, int NH, cudaStream_t s)
{
    static_assert(sizeof(T) == 2, "16-bit storage types only");
    const size_t n = (size_t)B * T_ * 3 * C, at = ((size_t)(T_ - 1) * 3 + 1) * C;   /* k[b = 0, t = T-1, 0] */
    const uint16_t inf = zsf_st<T>::dt == ZSF_FP16 ? 0x7C00u : 0x7F80u;         /* +Inf's bits */
    uint16_t saved;
    T *own = NULL;
    CUDA_CHECK(cudaMalloc((void **)&own, n * sizeof(T)));
    CUDA_CHECK(cudaMemcpy(&saved, qkv + at, sizeof saved, cudaMemcpyDeviceToHost));
    auto backward = [&](const int *verdict) {   /* into dqkv */
        attention_backward(h, dqkv, dpreatt, dC, (const T *)att, (const T *)qkv, B, T_, C, NH, ptrs, verdict, s);
    };
    int bad = 0;
    for (int planted = 0; planted < 2; planted++) {
        CUDA_CHECK(cudaMemcpy(qkv + at, planted ? &inf : &saved, sizeof saved, cudaMemcpyHostToDevice));
        attention_forward(h, atty, att, (const T *)qkv, B, T_, C, NH, ptrs, slot, s);
        int verdict = -1;
        CUDA_CHECK(cudaMemcpyAsync(&verdict, slot, sizeof verdict, cudaMemcpyDeviceToHost, s));
        CUDA_CHECK(cudaStreamSynchronize(s));
        backward(NULL);
        CUDA_CHECK(cudaMemcpyAsync(own, dqkv, n * sizeof(T), cudaMemcpyDeviceToDevice, s));
        backward(slot);
        bad += verdict != planted;
        bad += bit_differences((const T *)own, (const T *)dqkv, n, s) != 0;
        if (planted) {
            CUDA_CHECK(cudaMemsetAsync(slot, 0, sizeof(int), s));
            backward(slot);
            bad += bit_differences((const T *)own, (const T *)dqkv, n, s) == 0;
        }
    }
    CUDA_CHECK(cudaMemcpy(qkv + at, &saved, sizeof saved, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaFree(own));
    return bad;
}

/* Parts and alternatives of model.cu's operations, timed alone (recorded under "variants", outside the
 * step sums), for the choices model.cu and matmul.cuh document: the attention backward's GEMMs writing
 * fp32 or T and its other parts, and the LM head's GEMMs with V itself, V rounded down to a multiple of
 * 16 (Va), or V padded to Vp (a zero-padded copy of wte) as a dimension, each as one cuBLAS call. */
template <class T>
static void gemm_variants(cJSON *list, double budget_s, cublasHandle_t h, cudaStream_t s, T *att, T *atty,
                          T *dpreatt, const T *qkv, int *qkv_flag, T *dC, T *dqkv, float *acc, const T *ln,
                          T *logits, float *dwte, int B, int T_, int C, int NH, int V, int L)
{
    op_table vt = {list, budget_s, s, {0, 0}, 0};
    /* the whole attention passes on full T x T tiles (no pointer tables), against the ops table's rows
     * on row blocks (attention_blocks.cuh) */
    vt.add("attention_forward, full tiles", "fwd", L, 0,
           [&] { attention_forward(h, atty, att, qkv, B, T_, C, NH, (const void **)NULL, qkv_flag, s); });
    vt.add("attention_backward, full tiles", "bwd", L, 0, [&] {
        attention_backward(h, dqkv, dpreatt, (const T *)dC, (const T *)att, qkv, B, T_, C, NH, (const void **)NULL,
                           qkv_flag, s);
    });
    const int hs = C / NH, BT = B * T_, Vp = logits_ld<T>(V), Va = V / 16 * 16;
    const size_t TT = (size_t)T_ * T_, T3C = (size_t)T_ * 3 * C, TC = (size_t)T_ * C;
    const attn_mat<T> q = {qkv, 3 * C, T3C, (size_t)hs}, k = {qkv + C, 3 * C, T3C, (size_t)hs};
    const attn_mat<T> v = {qkv + 2 * C, 3 * C, T3C, (size_t)hs}, d = {dC, C, TC, (size_t)hs};
    const attn_mat<T> a = {att, T_, NH * TT, TT}, dp = {dpreatt, T_, NH * TT, TT};
    const double fl_tt = 2.0 * B * NH * TT * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    char name[96];
    /* one batch row (the fp32 [NH,T,T] of all B rows would not fit in acc): counted B times */
    vt.add("attn bwd datt -> fp32, one batch row", "bwd", L * B, fl_tt / B, [&] {
        attention_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, T_, T_, hs, v, d, acc, T_, 0, TT, 1, NH);
    });
    vt.add("attn bwd datt -> T", "bwd", L, fl_tt,
           [&] { attention_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, T_, T_, hs, v, d, dpreatt, T_, NH * TT, TT, B, NH); });
    /* dv, dq, dk as attention_backward calls them, into their column of [BT,3C] (acc has room for it) */
    const struct {
        const char *name;
        cublasOperation_t tb;
        attn_mat<T> A, Bm;
        int col;
        float alpha;
    } part[] = {{"dv", CUBLAS_OP_T, d, a, 2 * C, 1.0f}, {"dq", CUBLAS_OP_N, k, dp, 0, scale},
                {"dk", CUBLAS_OP_T, q, dp, C, scale}, {"dq, alpha 1", CUBLAS_OP_N, k, dp, 0, 1.0f}};
    for (const auto &g : part) {
        auto run = [&](auto *out) {
            attention_gemm(h, CUBLAS_OP_N, g.tb, hs, T_, T_, g.A, g.Bm, out + g.col, 3 * C, T3C, (size_t)hs, B, NH,
                           g.alpha);
        };
        snprintf(name, sizeof name, "attn bwd %s -> fp32", g.name);
        vt.add(name, "bwd", L, fl_tt, [&] { run(acc); });
        snprintf(name, sizeof name, "attn bwd %s -> T", g.name);
        vt.add(name, "bwd", L, fl_tt, [&] { run(dqkv); });
    }
    /* attention_backward's other parts: the row kernel alone, and the non-finite check with the exact
     * kernels' launches while the flag is clear (what every step pays for the fp16 overflow path: qkv's
     * verdict comes from the forward pass, dout is scanned) */
    const size_t rows = (size_t)B * NH * T_;
    const attn_blocks blocks = attention_blocks(T_, hs);
    const int blk = blocks.n ? blocks.size : 0;   /* the softmax kernels' block argument, as the passes give it */
    /* the row kernels as the passes launch them (16-bit rows of T <= 1024: the vectorized kernels), then
     * the one-entry-per-lane kernels that other shapes and fp32 run; fp32's scale is its own */
    const float row_scale = zsf_is_f32<T> ? scale : 1.0f;
    vt.add("attn bwd softmax backward, full rows", "bwd", L, 0,
           [&] { attention_softmax_backward(dpreatt, (const T *)att, rows, T_, row_scale, 0, s); });
    vt.add("attn bwd softmax backward, row blocks", "bwd", L, 0,
           [&] { attention_softmax_backward(dpreatt, (const T *)att, rows, T_, row_scale, blk, s); });
    vt.add("attn fwd softmax forward, row blocks", "fwd", L, 0,
           [&] { attention_softmax_forward(att, rows, T_, row_scale, blk, s); });
    vt.add("attn bwd softmax backward, scalar kernel, row blocks", "bwd", L, 0, [&] {
        ZSF_LAUNCH_ROWS(attention_softmax_backward_kernel<T>, rows, s, dpreatt, (const T *)att, rows, T_, row_scale, blk);
    });
    vt.add("attn fwd softmax forward, scalar kernel, row blocks", "fwd", L, 0, [&] {
        ZSF_LAUNCH_ROWS(attention_softmax_forward_kernel<T>, rows, s, att, rows, T_, row_scale, blk);
    });
    vt.add("attn bwd non-finite check, exact kernels idle", "bwd", L, 0, [&] {
        attention_flag_load_kernel<<<1, 1, 0, s>>>(qkv_flag);
        attention_flag((const T *)dC, (size_t)B * TC, s);
        ATTENTION_STRIDED_LAUNCH(attention_datt_exact_kernel<T>, rows, s, dpreatt, dC, qkv, B, T_, C, NH);
        ATTENTION_STRIDED_LAUNCH(attention_dv_exact_kernel<T>, (size_t)B * TC, s, dqkv, dC, (const T *)att, B, T_, C,
                                 NH);
        ATTENTION_STRIDED_LAUNCH(attention_softmax_backward_exact_kernel<T>, rows, s, dpreatt, (const T *)att, B, T_,
                                 NH);
        ATTENTION_STRIDED_LAUNCH(attention_dqk_exact_kernel<T>, 2 * (size_t)B * TC, s, dqkv, (const T *)dpreatt, qkv,
                                 B, T_, C, NH);
    });
    /* the LM head's three GEMMs, each with its vocabulary dimension n_v = V, Va or Vp (wte padded to Vp
     * rows of zeros, as a model-side copy would be) */
    T *wpad = dev_buf<T>((size_t)Vp * C, 0x7a11, 0, 0, s);
    const double fl = 2.0 * BT * C * V;
    const struct {
        const char *what;
        int n_v;
    } dims[] = {{"V", V}, {"Va = V rounded down to 16", Va}, {"Vp (padded)", Vp}};
    for (const auto &x : dims) {
        snprintf(name, sizeof name, "lm_head fwd m = %s", x.what);
        vt.add(name, "fwd", 1, fl, [&] {
            gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, x.n_v, BT, C, (const T *)wpad, C, ln, C, logits, Vp);
        });
        snprintf(name, sizeof name, "lm_head dinp k = %s", x.what);
        vt.add(name, "bwd", 1, fl, [&] {
            gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, BT, x.n_v, (const T *)wpad, C, (const T *)logits, Vp, dC, C);
        });
        if (x.n_v <= V) {   /* dwte has V rows */
            snprintf(name, sizeof name, "lm_head dwte n = %s", x.what);
            vt.add(name, "bwd", 1, fl, [&] {
                gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, x.n_v, BT, ln, C, (const T *)logits, Vp, dwte, C);
            });
        }
    }
    CUDA_CHECK(cudaFree(wpad));
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
    /* the logits as the LM head stores them; the cross-entropy backward turns them into dlogits in place */
    T *logits = dev_buf<T>((size_t)BT * logits_ld<T>(V), key++, -4, 4, s);
    T *wteT = dev_buf<T>((size_t)V * C, key++, -0.02f, 0.02f, s), *wT = dev_buf<T>((size_t)C * 4 * C, key++, -0.02f, 0.02f, s);
    /* fp32 buffers: statistics, scratch and the parameter gradients (wte, wpe, lnw, bias: the
     * model dtype, as model.cu reads its parameters) */
    float *mean = dev_buf<float>(BT, key++, -0.1f, 0.1f, s), *rstd = dev_buf<float>(BT, key++, 0.5f, 2, s);
    float *acc = dev_buf<float>(4 * nC, key++, -1, 1, s);
    float *losses = dev_buf<float>(BT, key++, 0, 1, s), *loss = dev_buf<float>(1, key++, 0, 1, s);
    softmax_stats *ce_stats;   /* written by crossentropy_forward before crossentropy_backward reads it */
    CUDA_CHECK(cudaMalloc(&ce_stats, (size_t)BT * sizeof(softmax_stats)));
    T *wte = dev_buf<T>((size_t)V * C, key++, -0.02f, 0.02f, s), *wpe = dev_buf<T>((size_t)T_ * C, key++, -0.02f, 0.02f, s);
    float *dwte = dev_buf<float>((size_t)V * C, key++, -1, 1, s), *dwpe = dev_buf<float>((size_t)T_ * C, key++, -1, 1, s);
    float *dw = dev_buf<float>((size_t)C * 4 * C, key++, -1, 1, s);
    T *lnw = dev_buf<T>(C, key++, 0.5f, 1.5f, s), *bias = dev_buf<T>(4 * C, key++, -0.1f, 0.1f, s);
    float *dlnw = dev_buf<float>(C, key++, -1, 1, s), *dbias = dev_buf<float>(4 * C, key++, -1, 1, s);
    float *part = dev_buf<float>(32 * 4 * C, key++, -1, 1, s);
    int *tok = NULL;
    CUDA_CHECK(cudaMalloc((void **)&tok, 2 * (size_t)BT * sizeof(int)));
    const void **attn_ptrs = NULL;   /* the attention row blocks' pointer tables, as model.cu keeps them */
    CUDA_CHECK(cudaMalloc((void **)&attn_ptrs, attention_ptr_slots(B, NH) * sizeof(void *)));
    int *qkv_flag = NULL;   /* one layer's qkv verdict, as model.cu keeps one per layer */
    CUDA_CHECK(cudaMalloc((void **)&qkv_flag, sizeof(int)));
    CUDA_CHECK(cudaMemsetAsync(qkv_flag, 0, sizeof(int), s));
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
    zsf_lt lt;                  /* fp16/bf16: model.cu's biased GEMMs */
    memset(&lt, 0, sizeof lt);
    if constexpr (!f32)
        zsf_lt_init(&lt);
    /* parts and alternatives, timed alone (fp16/bf16): the "variants" list, outside the step sums */
    op_table vt = {f32 ? NULL : cJSON_AddArrayToObject(out, "variants"), budget_s, s, {0, 0}, 0};

    if constexpr (!f32) {
        const char *tn = zsf_st<T>::dt == ZSF_BF16 ? "bf16" : "fp16";
        unsigned long long conv = conversion_mismatches<T>(s);
        cJSON_AddNumberToObject(out, "conversion_mismatches", (double)conv);
        printf("zs-fast %s conversions (common.cuh) vs rounding.h: %llu of 2^32 + 2^16 inputs differ\n", tn, conv);
        if (conv) {
            fprintf(stderr, "zs-fast-bench: error: the device's %s conversions differ from rounding.h\n", tn);
            return 1;
        }
        unsigned long long nan_kept = nan_arith_noncanonical(s);
        cJSON_AddNumberToObject(out, "nan_arith_noncanonical", (double)nan_kept);
        printf("zs-fast fp32 arithmetic on NaN operands: %llu of 10 x 2^24 results are not the canonical NaN\n", nan_kept);
        if (nan_kept) {
            fprintf(stderr, "zs-fast-bench: error: fp32 arithmetic keeps NaN payloads on this device; common.cuh's ld "
                            "drops them, so results computed from a NaN would not keep rounding.h's bits\n");
            return 1;
        }
        unsigned bad = epilogue_rounding_mismatches<T>(hp, key, s);
        key += 5;
        cJSON_AddNumberToObject(out, "epilogue_rounding_mismatches", bad);
        printf("zs-fast GEMM epilogue rounding (%s output) vs rounding.h: %u of %d elements differ\n", tn, bad,
               2 * 512 * 512);
        if (bad) {
            fprintf(stderr, "zs-fast-bench: error: cuBLAS's 16-bit output rounding differs from rounding.h; model.cu's "
                            "rounding points in GEMM epilogues are not exact on this device\n");
            return 1;
        }
        long bias_bad = bias_epilogue_mismatches<T>(&lt, hp, key, s);
        key += 6;
        cJSON_AddNumberToObject(out, "bias_epilogue_mismatches", (double)bias_bad);
        printf("zs-fast cuBLASLt bias epilogue (%s) vs GEMM + bias kernel: %ld of %d elements differ\n", tn, bias_bad,
               512 * 512);
        if (bias_bad) {
            fprintf(stderr, "zs-fast-bench: error: cuBLASLt's bias epilogue %s\n",
                    bias_bad < 0 ? "refused aligned buffers" : "is not fl_M(acc + bias) on this device");
            return 1;
        }
        int verdict_bad = attention_verdict_mismatches<T>(hp, att, atty, dpreatt, qkv, (const T *)dC, dqkv, qkv_flag,
                                                           attn_ptrs, B, T_, C, NH, s);
        cJSON_AddNumberToObject(out, "attention_verdict_mismatches", verdict_bad);
        printf("zs-fast attention backward from the forward's qkv verdict vs its own scan (finite, Inf planted): "
               "%d of 5 checks fail\n", verdict_bad);
        if (verdict_bad) {
            fprintf(stderr, "zs-fast-bench: error: attention_backward does not take the exact path from the forward "
                            "pass's verdict on qkv as it does from its own scan\n");
            return 1;
        }
    }
    op_table ot = {cJSON_AddArrayToObject(out, "ops"), budget_s, s, {0, 0}, 0};
    printf("zs-fast ops (%s) at B=%d T=%d C=%d NH=%d V=%d (count = runs per step, %d layers):\n",
           f32 ? "fp32" : zsf_st<T>::dt == ZSF_BF16 ? "bf16" : "fp16", B, T_, C, NH, V, L);
    /* forward */
    ot.add("encoder_forward", "fwd", 1, 0, [&] { encoder_forward(x, inp, wte, wpe, B, T_, C, s); });
    ot.add("layernorm_forward", "fwd", 1, 0, [&] { layernorm_forward(ln, mean, rstd, x, (const T *)NULL, lnw, bias, BT, C, s); });
    /* every other LayerNorm first adds the residual stream to the projection output it normalises */
    ot.add("layernorm_forward + residual add", "fwd", 2 * L, 0,
           [&] { layernorm_forward(ln, mean, rstd, res, (const T *)x, lnw, bias, BT, C, s); });
    const struct { const char *name; int in, oc, residual; } lin[] = {
        {"qkv", C, 3 * C, 0}, {"attn_proj", C, C, 1}, {"fc", C, 4 * C, 0}, {"fc_proj", 4 * C, C, 1}};
    for (const auto &g : lin) {
        char name[64];
        const double fl = 2.0 * BT * g.in * g.oc;
        snprintf(name, sizeof name, "gemm %s", g.name);
        const T *gin = g.in == C ? ln : fch_gelu;   /* [BT, in] */
        float *o32 = f32_view(fch, acc);
        /* fp32: model.cu's path; fp16/bf16: the path model.cu takes where a pointer is misaligned */
        op_table &path = f32 ? ot : vt;
        T *y = g.residual ? res : fch;   /* the residual add is in the next LayerNorm */
        if constexpr (!f32) {            /* model.cu's path: the bias in cuBLASLt's epilogue */
            snprintf(name, sizeof name, "gemm+bias %s", g.name);
            ot.add(name, "fwd", L, fl, [&] { gemm_bias(&lt, y, gin, (const T *)wT, (const T *)bias, BT, g.in, g.oc, s); });
            snprintf(name, sizeof name, "gemm %s -> fp32 (unaligned path)", g.name);
        }
        path.add(name, "fwd", L, fl, [&] { matmul_forward_nobias(hp, o32, gin, (const T *)wT, BT, g.in, g.oc); });
        if constexpr (f32)
            ot.tf32(L, fl, [&] { matmul_forward_nobias(h32, (float *)fch, (const float *)gin, w32, BT, g.in, g.oc); });
        snprintf(name, sizeof name, "add_bias %s%s", g.name, f32 ? "" : " (unaligned path)");
        path.add(name, "fwd", L, 0, [&] {
            ZSF_LAUNCH(add_bias_kernel<T>, (size_t)BT * g.oc, s, y, o32, bias, (size_t)BT * g.oc, g.oc);
        });
    }
    ot.add("attention_forward", "fwd", L, 0,
           [&] { attention_forward(hp, atty, att, (const T *)qkv, B, T_, C, NH, attn_ptrs, qkv_flag, s); });
    ot.add("gelu_forward", "fwd", L, 0, [&] { gelu_forward(fch_gelu, (const T *)fch, 4 * nC, s); });
    const double fl_head = 2.0 * BT * C * V;
    const int Vp = logits_ld<T>(V);   /* model.cu's logits row stride */
    ot.add("gemm lm_head", "fwd", 1, fl_head,
           [&] { lm_head_forward(hp, logits, (const T *)ln, (const T *)wteT, BT, C, V, Vp); });
    if constexpr (f32)
        ot.tf32(1, fl_head,
                [&] { lm_head_forward(h32, (float *)logits, (const float *)ln, (const float *)wteT, BT, C, V, V); });
    ot.add("crossentropy_forward", "fwd", 1, 0,
           [&] { crossentropy_forward(loss, losses, ce_stats, (const T *)logits, tgt, BT, V, Vp, s); });
    /* backward */
    ot.add("crossentropy_backward", "bwd", 1, 0,
           [&] { crossentropy_backward(logits, ce_stats, tgt, 1.0f / BT, BT, V, Vp, s); });
    ot.add("gemm lm_head (2)", "bwd", 1, 2 * fl_head, [&] {
        lm_head_backward(hp, dC, acc, dwte, (const T *)logits, (const T *)ln, (const T *)wteT, BT, C, V, Vp, s);
    });
    if constexpr (f32)
        ot.tf32(1, 2 * fl_head, [&] {
            lm_head_backward(h32, (float *)dC, acc, dwte, (const float *)logits, (const float *)ln, (const float *)wteT,
                             BT, C, V, V, s);
        });
    /* layernorm_backward and encoder_backward kernel by kernel */
    ot.add("layernorm_backward dinp", "bwd", 2 * L + 1, 0, [&] {
        layernorm_backward_dinp(dres, (const T *)dC, (const T *)x, (const T *)lnw, mean, rstd, BT, C, s);
    });
    ot.add("layernorm_backward params", "bwd", 2 * L + 1, 0, [&] {
        layernorm_backward_params(dlnw, dbias, part, (const T *)dC, (const T *)x, mean, rstd, BT, C, s);
    });
    for (const auto &g : lin) {
        char name[64];
        const double fl = 4.0 * BT * g.in * g.oc;
        T *din = g.in == C ? dC : fch;   /* [BT, in]; dout is d4C [BT, oc], the input fch_gelu */
        snprintf(name, sizeof name, "gemm %s (2)", g.name);
        ot.add(name, "bwd", L, fl, [&] {
            gemm(hp, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, (const T *)wT, g.oc, (const T *)d4C, g.oc, din, g.in);
            gemm(hp, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, (const T *)d4C, g.oc, (const T *)fch_gelu, g.in, dw, g.oc);
        });
        if constexpr (f32)
            ot.tf32(L, fl, [&] {
                gemm(h32, CUBLAS_OP_T, CUBLAS_OP_N, g.in, BT, g.oc, w32, g.oc, (const float *)d4C, g.oc, (float *)din, g.in);
                gemm(h32, CUBLAS_OP_N, CUBLAS_OP_T, g.oc, g.in, BT, (const float *)d4C, g.oc, (const float *)fch_gelu,
                     g.in, dw, g.oc);
            });
        snprintf(name, sizeof name, "bias_backward %s", g.name);
        ot.add(name, "bwd", L, 0, [&] { bias_backward(dbias, part, (const T *)d4C, BT, g.oc, s); });
    }
    ot.add("gelu_backward", "bwd", L, 0, [&] { gelu_backward(d4C, (const T *)d4C, (const T *)fch, 4 * nC, s); });
    /* the whole pass: GEMMs, softmax backward, the non-finite check (the exact kernels return at once) */
    ot.add("attention_backward", "bwd", L, 0, [&] {
        attention_backward(hp, dqkv, dpreatt, (const T *)dC, (const T *)att, (const T *)qkv, B, T_, C, NH, attn_ptrs,
                           qkv_flag, s);
    });
    ot.add("encoder_backward wte", "bwd", 1, 0, [&] { encoder_backward_wte(dwte, (const T *)dres, inp, BT, C, s); });
    ot.add("encoder_backward wpe", "bwd", 1, 0,
           [&] { ZSF_LAUNCH(encoder_backward_wpe_kernel<T>, (size_t)T_ * C, s, dwpe, (const T *)dres, B, T_, C); });

    if constexpr (!f32)
        gemm_variants<T>(vt.list, budget_s, hp, s, att, atty, dpreatt, qkv, qkv_flag, dC, dqkv, acc, ln, logits, dwte, B, T_, C,
                         NH, V, L);

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
    zsf_lt_free(&lt);
    void *all[] = {x, ln, qkv, att, atty, res, fch, fch_gelu, dres, dC, d4C, dqkv, dpreatt, logits, wteT, wT,
                   mean, rstd, acc, losses, ce_stats, loss, wte, wpe, dwte, dwpe, dw, lnw, bias, dlnw, dbias, part};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CUDA_CHECK(cudaFree(all[i]));
    CUDA_CHECK(cudaFree(tok));
    CUDA_CHECK(cudaFree(attn_ptrs));
    CUDA_CHECK(cudaFree(qkv_flag));
    return 0;
}

}  // namespace

int zsfb_bench_ops(cJSON *out, const zs_model_dims *d, int batch, double budget_s, cudaStream_t s, zsf_dtype dt)
{
    int rc = 0;
    zsf_dispatch(dt, [&](auto t) { rc = bench_ops<decltype(t)>(out, d, batch, budget_s, s); });
    return rc;
}
