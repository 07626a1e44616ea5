/* Causal multi-head self-attention. qkv[B,T,3C] holds q | k | v; head h uses channels
 * [h*hs, (h+1)*hs) of each (hs = C/NH). att[B,NH,T,T] keeps the softmax for the backward pass
 * (entries above the diagonal are 0). out[B,T,C] = att @ v per head.
 *
 * The products are cuBLAS strided-batched GEMMs (fp32 compute and output; fp32 inputs on the model's
 * pedantic handle, no TF32; in fp16/bf16 16-bit inputs on tensor cores), one call per batch row b over
 * the NH heads, with full T x T tiles: the causal mask lives in the row kernels (softmax forward and
 * backward write exact zeros above the diagonal). Activations are stored as T (common.cuh): qkv, att,
 * out, dout, dpreatt and dqkv; the GEMMs' fp32 results (scores, datt, dqkv) go to fp32 scratch and are
 * rounded once where the spec rounds them (in fp32 the GEMMs write in place, as before). The row kernels
 * give each row to one warp and reduce in a fixed order (lane-strided left folds, then a butterfly),
 * so runs are bit-identical. An fp32 sum may be reassociated (docs/conformance.md); every product and
 * rounding point of docs/spec/model.md is kept: scores fl_M(acc * scale), probabilities, values,
 * datt and dpreatt; dq/dk multiply k, q by (dpreatt * scale) as the reference does (in fp16/bf16,
 * where dpreatt is stored rounded, the GEMM's alpha applies the scale: exact for the power-of-two
 * scale of hs = 64, a reassociation otherwise).
 *
 * The full tiles add terms 0 * x that the reference's loops skip. They change nothing unless x is
 * Inf or NaN (fp16 overflow steps), where 0 * Inf = NaN would replace the reference's Inf. So every
 * pass first flags a non-finite input, and then the exact one-thread-per-row kernels below (the
 * reference's loops) redo the whole pass; they return at once when the flag is clear. */
#ifndef ZS_FAST_KERNELS_ATTENTION_CUH
#define ZS_FAST_KERNELS_ATTENTION_CUH

#include <cublas_v2.h>

#include "common.cuh"

#define QKV(b, t, part, h, i) qkv[(((size_t)(b) * T + (t)) * 3 + (part)) * C + (size_t)(h) * hs + (i)]
#define ROW(buf, b, h, t) ((buf) + (((size_t)(b) * NH + (h)) * T + (t)) * T)

/* 1 while the current pass has a non-finite input (per translation unit; one stream per process). */
__device__ static int attention_nonfinite;

__global__ static void attention_flag_clear_kernel(void)
{
    attention_nonfinite = 0;
}

/* Raises the flag when x[0..n) holds an Inf or NaN (every writer stores 1: no race on the result). */
template <class T> __global__ static void attention_flag_scan_kernel(const T *x, size_t n)
{
    for (size_t i = zsf_tid(); i < n; i += (size_t)gridDim.x * blockDim.x)
        if (!isfinite(ld(x[i]))) {
            attention_nonfinite = 1;
            return;
        }
}

template <class T> static void attention_flag(const T *x, size_t n, cudaStream_t s)
{
    unsigned blocks = zsf_blocks(n) < 1024 ? zsf_blocks(n) : 1024;
    if (blocks) {
        attention_flag_scan_kernel<T><<<blocks, ZSF_BLOCK, 0, s>>>(x, n);
        CUDA_CHECK_LAUNCH();
    }
}

/* ---- warp-per-row kernels of the GEMM path ---------------------------------------------------- */

/* scores holds the raw fp32 products q.k of each row (the whole T x T tile); att becomes the causal
 * softmax of fl_M(acc * scale), zero above the diagonal (fp32: att and scores are one buffer). One
 * warp per row (b, h, t). Rows of up to 32 * ATT_REGS entries are read once into registers (lane l
 * holds t2 = l, l + 32, ...); longer rows compute each exponential again in the last pass (same
 * input, same bits). Either way the folds run over the same values in the same order. */
#define ATT_REGS 32
template <class S>
__global__ static void attention_softmax_forward_kernel(S *att, const float *scores, size_t rows, int T, float scale)
{
    size_t row = zsf_warp_row();
    int lane = threadIdx.x % 32;
    if (row >= rows)
        return;
    int t = (int)(row % T);
    const float *sc = scores + row * T;
    S *a = att + row * T;
    float maxv = -INFINITY, sum = 0.0f;
    if (T <= 32 * ATT_REGS) {
        float x[ATT_REGS];
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            int t2 = lane + 32 * k;
            x[k] = t2 <= t ? rnd<S>(sc[t2] * scale) : 0.0f;   /* the scores are a rounding point */
            if (t2 <= t)
                maxv = x[k] > maxv ? x[k] : maxv;
        }
        maxv = warp_max(maxv);
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++)
            if (lane + 32 * k <= t) {
                x[k] = expf(x[k] - maxv);
                sum = sum + x[k];
            }
        float inv = 1.0f / warp_sum(sum);
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            int t2 = lane + 32 * k;
            if (t2 < T)
                a[t2] = st<S>(t2 <= t ? x[k] * inv : 0.0f);
        }
        return;
    }
    for (int t2 = lane; t2 <= t; t2 += 32) {
        float x = rnd<S>(sc[t2] * scale);
        maxv = x > maxv ? x : maxv;
    }
    maxv = warp_max(maxv);
    for (int t2 = lane; t2 <= t; t2 += 32)
        sum = sum + expf(rnd<S>(sc[t2] * scale) - maxv);
    float inv = 1.0f / warp_sum(sum);
    for (int t2 = lane; t2 < T; t2 += 32)
        a[t2] = st<S>(t2 <= t ? expf(rnd<S>(sc[t2] * scale) - maxv) * inv : 0.0f);
}
#undef ATT_REGS

/* dpreatt[t3] = fl_M(att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2])) * scale, with datt (fp32)
 * read as fl_M(datt) (a rounding point); 0 above the diagonal. In fp32 the scale is folded in here so
 * that the dq/dk GEMMs form exactly the reference's products k * (dpreatt * scale); in fp16/bf16
 * dpreatt is stored rounded (scale 1 here) and the GEMMs apply it. One warp per row. */
template <class S>
__global__ static void attention_softmax_backward_kernel(S *dpreatt, const float *datt, const S *att, size_t rows,
                                                         int T, float scale)
{
    size_t row = zsf_warp_row();
    int lane = threadIdx.x % 32;
    if (row >= rows)
        return;
    int t = (int)(row % T);
    const S *a = att + row * T;
    const float *da = datt + row * T;
    S *dp = dpreatt + row * T;
    float dot = 0.0f;
    for (int t2 = lane; t2 <= t; t2 += 32)
        dot = dot + ld(a[t2]) * rnd<S>(da[t2]);
    dot = warp_sum(dot);
    for (int t3 = lane; t3 < T; t3 += 32)
        dp[t3] = st<S>(t3 <= t ? rnd<S>(ld(a[t3]) * (rnd<S>(da[t3]) - dot)) * scale : 0.0f);
}

/* For each batch row b: C_h = alpha * op(A_h) @ op(B_h) over the NH heads h, column-major as cuBLAS sees
 * the row-major buffers; A_h = A + b*bA + h*hA (likewise B, C). Inputs stored as T; fp32 compute and
 * output. */
template <class S> struct attn_mat {
    const S *p;
    int ld;
    size_t per_b, per_h;
};

template <class S>
static void attention_gemm(cublasHandle_t hdl, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           attn_mat<S> A, attn_mat<S> Bm, float *Cp, int ldc, size_t c_per_b, size_t c_per_h, int B,
                           int NH, float alpha = 1.0f)
{
    const float zero = 0.0f;
    for (int b = 0; b < B; b++)
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            hdl, ta, tb, m, n, k, &alpha, A.p + b * A.per_b, zsf_st<S>::cuda, A.ld, (long long)A.per_h,
            Bm.p + b * Bm.per_b, zsf_st<S>::cuda, Bm.ld, (long long)Bm.per_h, &zero, Cp + b * c_per_b, CUDA_R_32F,
            ldc, (long long)c_per_h, NH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* ---- the exact kernels: the reference's loops, run only when the flag is raised ---------------- */

/* One thread per (b, h, t): scores q.k * scale for t2 <= t, softmax with the max subtracted, then the
 * weighted sum of v. The rounded scores are kept in att; each exponential is computed from them again
 * where it is needed (same input, same bits), so att never holds an unrounded value. */
template <class S>
__global__ static void attention_forward_exact_kernel(S *out, S *att, const S *qkv, int B, int T, int C, int NH)
{
    size_t row = zsf_tid();   /* over B*NH*T, ordered (b, h, t) */
    if (!attention_nonfinite || row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T), h = (int)((row / T) % NH), b = (int)(row / ((size_t)T * NH));
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    S *a = ROW(att, b, h, t);
    float maxv = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
        float acc = 0.0f;
        for (int i = 0; i < hs; i++)
            acc = acc + ld(QKV(b, t, 0, h, i)) * ld(QKV(b, t2, 1, h, i));
        float sc = rnd<S>(acc * scale);   /* the scores are a rounding point */
        a[t2] = st<S>(sc);
        maxv = t2 == 0 || sc > maxv ? sc : maxv;
    }
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; t2++)
        sum = sum + expf(ld(a[t2]) - maxv);
    float inv = 1.0f / sum;
    for (int t2 = 0; t2 < T; t2++)
        a[t2] = st<S>(t2 <= t ? expf(ld(a[t2]) - maxv) * inv : 0.0f);
    S *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
    for (int i = 0; i < hs; i++) {
        float acc = 0.0f;
        for (int t2 = 0; t2 <= t; t2++)
            acc = acc + ld(a[t2]) * ld(QKV(b, t2, 2, h, i));
        o[i] = st<S>(acc);
    }
}

/* datt[b,h,t,t2] = fl_M(v[t2] . dout[t]) for t2 <= t (0 above), held in fp32. One thread per (b, h, t). */
template <class S>
__global__ static void attention_datt_exact_kernel(float *datt, const S *dout, const S *qkv, int B, int T, int C,
                                                   int NH)
{
    size_t row = zsf_tid();
    if (!attention_nonfinite || row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T), h = (int)((row / T) % NH), b = (int)(row / ((size_t)T * NH));
    int hs = C / NH;
    const S *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
    float *da = ROW(datt, b, h, t);
    for (int t2 = 0; t2 < T; t2++) {
        float acc = 0.0f;
        if (t2 <= t)
            for (int i = 0; i < hs; i++)
                acc = acc + ld(QKV(b, t2, 2, h, i)) * ld(d[i]);
        da[t2] = rnd<S>(acc);
    }
}

/* dv[b,t2,h,i] = sum over t >= t2 (ascending) of att[t,t2] * dout[t,i], into the fp32 dqkv32.
 * One thread per (b, t2, h, i). */
template <class S>
__global__ static void attention_dv_exact_kernel(float *dqkv32, const S *dout, const S *att, int B, int T, int C,
                                                 int NH)
{
    size_t idx = zsf_tid();   /* over B*T*C, ordered (b, t2, h*hs + i) */
    if (!attention_nonfinite || idx >= (size_t)B * T * C)
        return;
    int hs = C / NH;
    int c = (int)(idx % C), t2 = (int)((idx / C) % T), b = (int)(idx / ((size_t)C * T));
    int h = c / hs;
    float acc = 0.0f;
    for (int t = t2; t < T; t++)
        acc = acc + ld(ROW(att, b, h, t)[t2]) * ld(dout[((size_t)b * T + t) * C + c]);
    dqkv32[(((size_t)b * T + t2) * 3 + 2) * C + c] = acc;
}

/* Softmax backward: dpreatt[t3] = fl_M(att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2])). */
template <class S>
__global__ static void attention_softmax_backward_exact_kernel(S *dpreatt, const float *datt, const S *att, int B,
                                                               int T, int NH)
{
    size_t row = zsf_tid();
    if (!attention_nonfinite || row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T);
    const S *a = att + row * T;
    const float *da = datt + row * T;
    S *dp = dpreatt + row * T;
    float dot = 0.0f;
    for (int t2 = 0; t2 <= t; t2++)
        dot = dot + ld(a[t2]) * da[t2];
    for (int t3 = 0; t3 < T; t3++)
        dp[t3] = st<S>(t3 <= t ? ld(a[t3]) * (da[t3] - dot) : 0.0f);
}

/* dq[b,t,h,i] = sum_{t2<=t} k[t2,i] * (dpreatt[t,t2] * scale);
 * dk[b,t2,h,i] = sum_{t>=t2} q[t,i] * (dpreatt[t,t2] * scale). One thread per element of each, into
 * the fp32 dqkv32. */
template <class S>
__global__ static void attention_dqk_exact_kernel(float *dqkv32, const S *dpreatt, const S *qkv, int B, int T, int C,
                                                  int NH)
{
    size_t idx = zsf_tid();   /* over 2*B*T*C: first half dq, second half dk */
    size_t n = (size_t)B * T * C;
    if (!attention_nonfinite || idx >= 2 * n)
        return;
    int is_k = idx >= n;
    size_t e = is_k ? idx - n : idx;
    int hs = C / NH;
    int c = (int)(e % C), t = (int)((e / C) % T), b = (int)(e / ((size_t)C * T));
    int h = c / hs, i = c % hs;
    float scale = 1.0f / sqrtf((float)hs);
    float acc = 0.0f;
    if (!is_k) {
        for (int t2 = 0; t2 <= t; t2++)
            acc = acc + ld(QKV(b, t2, 1, h, i)) * (ld(ROW(dpreatt, b, h, t)[t2]) * scale);
        dqkv32[(((size_t)b * T + t) * 3 + 0) * C + c] = acc;
    } else {   /* here t plays t2: the key position */
        for (int tq = t; tq < T; tq++)
            acc = acc + ld(QKV(b, tq, 0, h, i)) * (ld(ROW(dpreatt, b, h, tq)[t]) * scale);
        dqkv32[(((size_t)b * T + t) * 3 + 1) * C + c] = acc;
    }
}

#undef QKV
#undef ROW

/* ---- the passes --------------------------------------------------------------------------------
 * Row-major X[r,c] with leading dimension ld is column-major X^T: each product is written as its
 * transpose. Per head: q, k, v are [T,hs] with ld 3C, att/datt/dpreatt [T,T] with ld T, out/dout
 * [T,hs] with ld C. S is the activation storage type (float, __half, __nv_bfloat16). */

/* scores32: [B,NH,T,T] and out32: [B,T,C] fp32 scratch (unused in fp32, where att and out take the
 * GEMMs' results in place). */
template <class S>
static void attention_forward(cublasHandle_t hdl, S *out, S *att, float *scores32, float *out32, const S *qkv, int B,
                              int T, int C, int NH, cudaStream_t s)
{
    const int hs = C / NH;
    const size_t rows = (size_t)B * NH * T, TT = (size_t)T * T, T3C = (size_t)T * 3 * C;
    attention_flag_clear_kernel<<<1, 1, 0, s>>>();
    CUDA_CHECK_LAUNCH();
    attention_flag(qkv, (size_t)B * T3C, s);
    const attn_mat<S> q = {qkv, 3 * C, T3C, (size_t)hs}, k = {qkv + C, 3 * C, T3C, (size_t)hs};
    const attn_mat<S> v = {qkv + 2 * C, 3 * C, T3C, (size_t)hs}, a = {att, T, NH * TT, TT};
    float *sc = f32_view(att, scores32), *o = f32_view(out, out32);
    /* scores^T[t2,t] = k[t2,:] . q[t,:] */
    attention_gemm(hdl, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, k, q, sc, T, NH * TT, TT, B, NH);
    ZSF_LAUNCH_ROWS(attention_softmax_forward_kernel<S>, rows, s, att, sc, rows, T, 1.0f / sqrtf((float)hs));
    /* out^T[i,t] = sum_t2 v^T[i,t2] att^T[t2,t] */
    attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, v, a, o, C, (size_t)T * C, (size_t)hs, B, NH);
    store_f32(out, o, (size_t)B * T * C, s);
    ZSF_LAUNCH(attention_forward_exact_kernel<S>, rows, s, out, att, qkv, B, T, C, NH);
}

/* dqkv[B,T,3C] (written) from dout[B,T,C]; datt: [B,NH,T,T] fp32 scratch, dpreatt: [B,NH,T,T] scratch;
 * dqkv32: [B,T,3C] fp32 scratch (unused in fp32). datt, dpreatt and the finished dqkv are rounding
 * points. */
template <class S>
static void attention_backward(cublasHandle_t hdl, S *dqkv, float *dqkv32, float *datt, S *dpreatt, const S *dout,
                               const S *att, const S *qkv, int B, int T, int C, int NH, cudaStream_t s)
{
    const int hs = C / NH;
    const size_t rows = (size_t)B * NH * T, TT = (size_t)T * T, T3C = (size_t)T * 3 * C, TC = (size_t)T * C;
    const float scale = 1.0f / sqrtf((float)hs);
    /* fp32 folds the scale into dpreatt (the reference's products); 16-bit dpreatt is stored rounded */
    const float dp_scale = zsf_is_f32<S> ? scale : 1.0f, gemm_scale = zsf_is_f32<S> ? 1.0f : scale;
    attention_flag_clear_kernel<<<1, 1, 0, s>>>();
    CUDA_CHECK_LAUNCH();
    attention_flag(qkv, (size_t)B * T3C, s);
    attention_flag(dout, (size_t)B * TC, s);
    float *d32 = f32_view(dqkv, dqkv32);
    const attn_mat<S> q = {qkv, 3 * C, T3C, (size_t)hs}, k = {qkv + C, 3 * C, T3C, (size_t)hs};
    const attn_mat<S> v = {qkv + 2 * C, 3 * C, T3C, (size_t)hs}, d = {dout, C, TC, (size_t)hs};
    const attn_mat<S> a = {att, T, NH * TT, TT}, dp = {dpreatt, T, NH * TT, TT};
    /* datt^T[t2,t] = v[t2,:] . dout[t,:] (rounded where the softmax backward reads it) */
    attention_gemm(hdl, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, v, d, datt, T, NH * TT, TT, B, NH);
    /* dv^T[i,t2] = sum_t dout^T[i,t] att[t,t2] */
    attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, d, a, d32 + 2 * C, 3 * C, T3C, (size_t)hs, B, NH);
    ZSF_LAUNCH_ROWS(attention_softmax_backward_kernel<S>, rows, s, dpreatt, datt, att, rows, T, dp_scale);
    /* dq^T[i,t] = sum_t2 k^T[i,t2] dps^T[t2,t];  dk^T[i,t2] = sum_t q^T[i,t] dps[t,t2] */
    attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, k, dp, d32, 3 * C, T3C, (size_t)hs, B, NH, gemm_scale);
    attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, q, dp, d32 + C, 3 * C, T3C, (size_t)hs, B, NH, gemm_scale);
    /* the exact pass, when an input is not finite */
    ZSF_LAUNCH(attention_datt_exact_kernel<S>, rows, s, datt, dout, qkv, B, T, C, NH);
    ZSF_LAUNCH(attention_dv_exact_kernel<S>, (size_t)B * TC, s, d32, dout, att, B, T, C, NH);
    ZSF_LAUNCH(attention_softmax_backward_exact_kernel<S>, rows, s, dpreatt, datt, att, B, T, NH);
    ZSF_LAUNCH(attention_dqk_exact_kernel<S>, 2 * (size_t)B * TC, s, d32, dpreatt, qkv, B, T, C, NH);
    store_f32(dqkv, d32, 3 * (size_t)B * TC, s);
}

#endif
