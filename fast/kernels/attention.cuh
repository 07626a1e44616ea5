/* Causal multi-head self-attention. qkv[B,T,3C] holds q | k | v; head h uses channels
 * [h*hs, (h+1)*hs) of each (hs = C/NH). att[B,NH,T,T] keeps the softmax for the backward pass
 * (entries above the diagonal are 0). out[B,T,C] = att @ v per head.
 *
 * The products are cuBLAS GEMMs (fp32 compute; fp32 inputs on the model's pedantic handle, no TF32;
 * in fp16/bf16 16-bit inputs on tensor cores) over causal row blocks: only the tiles on or below the
 * diagonal, one pointer-array batched call per block over the B*NH heads (attention_blocks.cuh).
 * Where a pointer could be misaligned (T or hs not a multiple of 8) they run on full T x T tiles
 * instead, one strided-batched call per batch row b over the NH heads. Either way the causal mask
 * lives in the row kernels (softmax forward and backward write exact zeros above the diagonal, up to
 * the end of the row's block). Activations are stored as T (common.cuh): qkv, att,
 * out, dout, dpreatt and dqkv. Where a GEMM's result is itself a rounding point (the scores
 * fl_M(acc * scale) and datt fl_M(v . dout)), the GEMM writes it as S, rounded in its epilogue (scale as
 * alpha): the row kernels then rewrite that buffer in place (the scores become att, datt becomes
 * dpreatt), and no [B,NH,T,T] tensor passes through fp32 scratch. fp32 keeps alpha = 1 and applies the
 * scale in the kernel, as before. The other GEMM results are finished rounding points too (out, and
 * dq, dk, dv of dqkv, each made by one GEMM): they are written as S the same way. The row kernels
 * give each row to one warp and reduce in a fixed order (lane-strided left folds, then a butterfly),
 * so runs are bit-identical. An fp32 sum may be reassociated (docs/conformance.md); every product and
 * rounding point of docs/spec/model.md is kept: scores fl_M(acc * scale), probabilities, values,
 * datt and dpreatt; dq/dk multiply k, q by (dpreatt * scale) as the reference does (in fp16/bf16,
 * where dpreatt is stored rounded, the GEMM's alpha applies the scale: exact for the power-of-two
 * scale of hs = 64, a reassociation otherwise).
 *
 * The diagonal tiles (all tiles, without blocks) add terms 0 * x that the reference's loops skip. They change nothing unless x is
 * Inf or NaN (fp16 overflow steps), where 0 * Inf = NaN would replace the reference's Inf. So every
 * pass first flags a non-finite input, and then the exact one-thread-per-row kernels below (the
 * reference's loops) redo the whole pass; they return at once when the flag is clear. The backward
 * pass scans only dout and takes qkv's verdict from the forward pass (a per-layer slot): 0.3 ms per
 * GPT-2 124M step less, checked on the device by zs-fast-bench (attention_verdict_mismatches). */
#ifndef ZS_FAST_KERNELS_ATTENTION_CUH
#define ZS_FAST_KERNELS_ATTENTION_CUH

#include <cublas_v2.h>

#include "attention_blocks.cuh"
#include "common.cuh"

#define QKV(b, t, part, h, i) qkv[(((size_t)(b) * T + (t)) * 3 + (part)) * C + (size_t)(h) * hs + (i)]
#define ROW(buf, b, h, t) ((buf) + (((size_t)(b) * NH + (h)) * T + (t)) * T)

/* 1 while the current pass has a non-finite input (per translation unit; one stream per process). */
__device__ static int attention_nonfinite;

__global__ static void attention_flag_clear_kernel(void)
{
    attention_nonfinite = 0;
}

/* A layer's qkv is scanned once per micro-step: the forward pass keeps its verdict in the layer's slot
 * and the backward pass starts from it (qkv does not change in between) instead of reading the 3·B·T·C
 * entries again. */
__global__ static void attention_flag_save_kernel(int *slot)
{
    *slot = attention_nonfinite;
}

__global__ static void attention_flag_load_kernel(const int *slot)
{
    attention_nonfinite = *slot;
}

/* Launches a kernel that covers n elements with a grid-stride loop on at most ATTENTION_STRIDE_BLOCKS
 * blocks (nothing when n == 0) and checks the launch. */
#define ATTENTION_STRIDE_BLOCKS 1024u
#define ATTENTION_STRIDED_LAUNCH(kernel, n, stream, ...)                                           \
    do {                                                                                           \
        size_t att_n_ = (n);                                                                       \
        if (att_n_) {                                                                              \
            unsigned att_b_ = zsf_blocks(att_n_);                                                  \
            att_b_ = att_b_ < ATTENTION_STRIDE_BLOCKS ? att_b_ : ATTENTION_STRIDE_BLOCKS;          \
            kernel<<<att_b_, ZSF_BLOCK, 0, (stream)>>>(__VA_ARGS__);                               \
            CUDA_CHECK_LAUNCH();                                                                   \
        }                                                                                          \
    } while (0)

/* Raises the flag when x[0..n) holds an Inf or NaN (every writer stores 1: no race on the result).
 * Each thread reads 16-byte vectors (common.cuh) when x is aligned. */
template <class T> __global__ static void attention_flag_scan_kernel(const T *x, size_t n, int vec)
{
    const size_t N = zsf_vec_n<T>;
    for (size_t i0 = zsf_tid() * N; i0 < n; i0 += (size_t)gridDim.x * blockDim.x * N) {
        zsf_vec<T> v = vload(x, i0, n, vec);
        int finite = 1;
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++)
            finite &= isfinite(ld(v.v[j])) ? 1 : 0;   /* T() past n is 0: finite */
        if (!finite) {
            attention_nonfinite = 1;
            return;
        }
    }
}

template <class T> static void attention_flag(const T *x, size_t n, cudaStream_t s)
{
    ATTENTION_STRIDED_LAUNCH(attention_flag_scan_kernel<T>, (n + zsf_vec_n<T> - 1) / zsf_vec_n<T>, s, x, n,
                             zsf_aligned16(x));
}

/* ---- warp-per-row kernels of the GEMM path ---------------------------------------------------- */

/* How far row t of a [T,T] matrix is written: full tiles (block 0) read whole rows, so the zeros above
 * the diagonal go up to T; row blocks (attention_blocks.cuh) read row t only up to its block's end. */
__device__ static inline int attention_row_end(int t, int T, int block)
{
    return block ? min(T, (t / block + 1) * block) : T;
}

/* The row of the [rows, T] stack a warp works on (one per (b, h, t)), the thread's lane, the row's
 * query position t and where its written part ends. False past the last row: the whole warp returns
 * together. */
__device__ static inline bool attention_row_of(size_t rows, int T, int block, size_t &row, int &lane, int &t, int &end)
{
    row = zsf_warp_row();
    lane = threadIdx.x % 32;
    if (row >= rows)
        return false;
    t = (int)(row % T);
    end = attention_row_end(t, T, block);
    return true;
}

/* att holds the products q.k of each row (the whole T x T tile) as the GEMM wrote them: fp32 raw
 * (scale = the softmax scale), fp16/bf16 already fl_M(acc * scale) (scale = 1, so rnd(x * 1) = x). It
 * becomes, in place, the causal softmax of fl_M(acc * scale), zero above the diagonal. One warp per
 * row (b, h, t). Rows of up to 32 * ATT_REGS entries are read once into registers (lane l holds
 * t2 = l, l + 32, ...); longer rows compute each exponential again in the last pass from the entry
 * the same lane is about to overwrite (same input, same bits). Either way the folds run over the same
 * values in the same order. */
#define ATT_REGS 32
template <class S>
__global__ static void attention_softmax_forward_kernel(S *att, size_t rows, int T, float scale, int block)
{
    size_t row;
    int lane, t, end;
    if (!attention_row_of(rows, T, block, row, lane, t, end))
        return;
    S *a = att + row * T;
    const S *sc = a;
    float maxv = -INFINITY, sum = 0.0f;
    if (T <= 32 * ATT_REGS) {
        /* chunks k < kn hold the entries t2 <= t; the warp leaves each loop together (kn and end are
         * the row's). Measured (performance-notes.md run 8): the breaks cut bf16's forward pass by 1.7 ms
         * per step, where the same tests as per-chunk conditions cost 1.8 ms more, and neither helped the
         * backward kernel, which keeps its full unrolled loops */
        const int kn = t / 32 + 1;
        float x[ATT_REGS] = {};
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            if (k == kn)
                break;
            int t2 = lane + 32 * k;
            x[k] = t2 <= t ? rnd<S>(ld(sc[t2]) * scale) : 0.0f;   /* the scores are a rounding point */
            if (t2 <= t)
                maxv = x[k] > maxv ? x[k] : maxv;
        }
        maxv = warp_max(maxv);
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            if (k == kn)
                break;
            if (lane + 32 * k <= t) {
                x[k] = expf(x[k] - maxv);
                sum = sum + x[k];
            }
        }
        float inv = 1.0f / warp_sum(sum);
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            if (32 * k >= end)
                break;
            int t2 = lane + 32 * k;
            if (t2 < end)
                a[t2] = st<S>(t2 <= t ? x[k] * inv : 0.0f);
        }
        return;
    }
    for (int t2 = lane; t2 <= t; t2 += 32) {
        float x = rnd<S>(ld(sc[t2]) * scale);
        maxv = x > maxv ? x : maxv;
    }
    maxv = warp_max(maxv);
    for (int t2 = lane; t2 <= t; t2 += 32)
        sum = sum + expf(rnd<S>(ld(sc[t2]) * scale) - maxv);
    float inv = 1.0f / warp_sum(sum);
    for (int t2 = lane; t2 < end; t2 += 32)
        a[t2] = st<S>(t2 <= t ? expf(rnd<S>(ld(sc[t2]) * scale) - maxv) * inv : 0.0f);
}

/* dpreatt[t3] = fl_M(att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2])) * scale, written in place
 * over datt (fl_M(datt) as the GEMM stored it: a rounding point); 0 above the diagonal. Each lane has
 * read every entry of the dot product before the warp's fold, and then rewrites only entries it reads
 * itself. In fp32 the scale is folded in here so that the dq/dk GEMMs form exactly the reference's
 * products k * (dpreatt * scale); in fp16/bf16 dpreatt is stored rounded (scale 1 here) and the GEMMs
 * apply it. One warp per row. In fp32 and bf16, rows of up to 32 * ATT_REGS entries are read into
 * registers first (the same folds over the same values): every load is issued before the first store,
 * which the aliasing of the in-place rewrite would otherwise order after each store. Measured on an
 * H100 (performance-notes.md runs 6 and 8), per step: bf16 17.8 ms with the loads in the store loop, 5.8 ms
 * staged; fp16 9.2 ms in the loop, 24.4 ms staged with rounding.h's conversion and still 21.0 ms with
 * the hardware's (its NaN test, unrolled 64 times, does not fit the registers), so fp16 keeps the
 * loop. */
template <class S>
__global__ static void attention_softmax_backward_kernel(S *datt_dpreatt, const S *att, size_t rows, int T, float scale,
                                                         int block)
{
    size_t row;
    int lane, t, end;
    if (!attention_row_of(rows, T, block, row, lane, t, end))
        return;
    const S *a = att + row * T;
    S *dp = datt_dpreatt + row * T;
    const S *da = dp;
    float dot = 0.0f;
    if (!std::is_same<S, __half>::value && T <= 32 * ATT_REGS) {
        float av[ATT_REGS], dv[ATT_REGS];
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            int t2 = lane + 32 * k;
            av[k] = t2 <= t ? ld(a[t2]) : 0.0f;
            dv[k] = t2 <= t ? ld(da[t2]) : 0.0f;
            if (t2 <= t)
                dot = dot + av[k] * dv[k];
        }
        dot = warp_sum(dot);
#pragma unroll
        for (int k = 0; k < ATT_REGS; k++) {
            int t3 = lane + 32 * k;
            if (t3 < end)
                dp[t3] = st<S>(t3 <= t ? rnd<S>(av[k] * (dv[k] - dot)) * scale : 0.0f);
        }
        return;
    }
    for (int t2 = lane; t2 <= t; t2 += 32)
        dot = dot + ld(a[t2]) * ld(da[t2]);
    dot = warp_sum(dot);
    for (int t3 = lane; t3 < end; t3 += 32)
        dp[t3] = st<S>(t3 <= t ? rnd<S>(ld(a[t3]) * (ld(da[t3]) - dot)) * scale : 0.0f);
}
#undef ATT_REGS

/* The 16-bit row kernels for rows of T <= 1024 entries, T a multiple of 8: lane l holds the entries
 * t2 = 256 k + 8 l + j (chunk k < 4, j < 8), read and written as 16-byte vectors (common.cuh), so a
 * lane issues 4 loads per row instead of 32. Each lane folds its entries in (k, j) order, then the
 * butterfly: another fixed order of the same fp32 sums (docs/conformance.md), so runs stay
 * bit-identical; every product, exponential and rounding point is the scalar kernels'. The scores
 * come stored rounded (scale 1), so fl_M(score * 1) is the stored value itself. Row ends are
 * multiples of 8 (T, or a block end: attention_blocks sizes blocks in multiples of 8), so a vector is
 * either wholly inside the written part of a row or wholly past it. */
#define ATT_VEC_CHUNKS 4
#define ATT_VEC_SPAN (32 * 8)   /* entries per chunk */
/* 16-bit S only (the kernels' 8 entries per vector). */
template <class S> static inline int attention_rows_vec(const S *p, int T, int block)
{
    return T % 8 == 0 && T <= ATT_VEC_CHUNKS * ATT_VEC_SPAN && block % 8 == 0 && zsf_aligned16(p);
}

template <class S> __global__ static void attention_softmax_forward_vec_kernel(S *att, size_t rows, int T, int block)
{
    static_assert(sizeof(S) == 2, "8 entries per 16-byte vector");
    size_t row;
    int lane, t, end;
    if (!attention_row_of(rows, T, block, row, lane, t, end))
        return;
    zsf_vec<S> *a = (zsf_vec<S> *)(att + row * T);
    const int kn = t / ATT_VEC_SPAN + 1;   /* chunks holding entries t2 <= t */
    float x[ATT_VEC_CHUNKS][8] = {}, maxv = -INFINITY, sum = 0.0f;
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++) {
        if (k == kn)
            break;
        const int t0 = ATT_VEC_SPAN * k + 8 * lane;
        zsf_vec<S> v = {};
        if (t0 <= t)
            v = a[32 * k + lane];
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (t0 + j <= t) {
                x[k][j] = ld(v.v[j]);
                maxv = x[k][j] > maxv ? x[k][j] : maxv;
            }
    }
    maxv = warp_max(maxv);
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++) {
        if (k == kn)
            break;
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (ATT_VEC_SPAN * k + 8 * lane + j <= t) {
                x[k][j] = expf(x[k][j] - maxv);
                sum = sum + x[k][j];
            }
    }
    float inv = 1.0f / warp_sum(sum);
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++) {
        const int t0 = ATT_VEC_SPAN * k + 8 * lane;
        if (ATT_VEC_SPAN * k >= end)
            break;
        if (t0 < end) {
            zsf_vec<S> o;
#pragma unroll
            for (int j = 0; j < 8; j++)
                o.v[j] = st<S>(t0 + j <= t ? x[k][j] * inv : 0.0f);
            a[32 * k + lane] = o;
        }
    }
}

/* As attention_softmax_backward_kernel, 16-bit, scale 1 (dpreatt stored rounded). Every load is
 * issued before the first store: the vectors stay packed in registers (16 per operand), where 64
 * unpacked floats did not fit in fp16 (see the scalar kernel). */
template <class S>
__global__ static void attention_softmax_backward_vec_kernel(S *datt_dpreatt, const S *att, size_t rows, int T,
                                                             int block)
{
    static_assert(sizeof(S) == 2, "8 entries per 16-byte vector");
    size_t row;
    int lane, t, end;
    if (!attention_row_of(rows, T, block, row, lane, t, end))
        return;
    const zsf_vec<S> *a = (const zsf_vec<S> *)(att + row * T);
    zsf_vec<S> *dp = (zsf_vec<S> *)(datt_dpreatt + row * T);
    zsf_vec<S> av[ATT_VEC_CHUNKS], dv[ATT_VEC_CHUNKS];
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++) {
        av[k] = zsf_vec<S>{};
        dv[k] = zsf_vec<S>{};
        if (ATT_VEC_SPAN * k + 8 * lane <= t) {
            av[k] = a[32 * k + lane];
            dv[k] = dp[32 * k + lane];
        }
    }
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (ATT_VEC_SPAN * k + 8 * lane + j <= t)
                dot = dot + ld(av[k].v[j]) * ld(dv[k].v[j]);
    dot = warp_sum(dot);
#pragma unroll
    for (int k = 0; k < ATT_VEC_CHUNKS; k++) {
        const int t0 = ATT_VEC_SPAN * k + 8 * lane;
        if (t0 < end) {
            zsf_vec<S> o;
#pragma unroll
            for (int j = 0; j < 8; j++)
                o.v[j] = st<S>(t0 + j <= t ? ld(av[k].v[j]) * (ld(dv[k].v[j]) - dot) : 0.0f);
            dp[32 * k + lane] = o;
        }
    }
}

/* The row kernels' launches: vectorized where attention_rows_vec allows, else one entry per lane. */
template <class S>
static void attention_softmax_forward(S *att, size_t rows, int T, float scale, int block, cudaStream_t s)
{
    if constexpr (!zsf_is_f32<S>)
        if (attention_rows_vec(att, T, block)) {
            ZSF_LAUNCH_ROWS(attention_softmax_forward_vec_kernel<S>, rows, s, att, rows, T, block);
            return;
        }
    ZSF_LAUNCH_ROWS(attention_softmax_forward_kernel<S>, rows, s, att, rows, T, scale, block);
}

template <class S>
static void attention_softmax_backward(S *dpreatt, const S *att, size_t rows, int T, float scale, int block,
                                       cudaStream_t s)
{
    if constexpr (!zsf_is_f32<S>)
        if (attention_rows_vec(dpreatt, T, block) && zsf_aligned16(att)) {
            ZSF_LAUNCH_ROWS(attention_softmax_backward_vec_kernel<S>, rows, s, dpreatt, att, rows, T, block);
            return;
        }
    ZSF_LAUNCH_ROWS(attention_softmax_backward_kernel<S>, rows, s, dpreatt, att, rows, T, scale, block);
}
#undef ATT_VEC_CHUNKS
#undef ATT_VEC_SPAN

/* For each batch row b: C_h = alpha * op(A_h) @ op(B_h) over the NH heads h, column-major as cuBLAS sees
 * the row-major buffers; A_h = A + b*bA + h*hA (likewise B, C). Inputs stored as S; fp32 compute; output
 * stored as O (float, or S: fl_M(alpha * acc), converted round-to-nearest-even in the epilogue). */
template <class S> struct attn_mat {
    const S *p;
    int ld;
    size_t per_b, per_h;
};

template <class S, class O>
static void attention_gemm(cublasHandle_t hdl, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           attn_mat<S> A, attn_mat<S> Bm, O *Cp, int ldc, size_t c_per_b, size_t c_per_h, int B,
                           int NH, float alpha = 1.0f)
{
    const float zero = 0.0f;
    for (int b = 0; b < B; b++)
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            hdl, ta, tb, m, n, k, &alpha, A.p + b * A.per_b, zsf_st<S>::cuda, A.ld, (long long)A.per_h,
            Bm.p + b * Bm.per_b, zsf_st<S>::cuda, Bm.ld, (long long)Bm.per_h, &zero, Cp + b * c_per_b, zsf_st<O>::cuda,
            ldc, (long long)c_per_h, NH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* ---- the exact kernels: the reference's loops, run only when the flag is raised ---------------- */

/* f(i) for i = 0 .. n-1 in a grid-stride loop, when the flag is raised. The exact kernels are launched
 * with ATTENTION_STRIDED_LAUNCH: while the flag is clear (every step but fp16 overflow steps) a launch
 * then costs one short wave, not a block per ZSF_BLOCK elements. */
template <class F> __device__ static void attention_exact_each(size_t n, F f)
{
    if (!attention_nonfinite)
        return;
    for (size_t i = zsf_tid(); i < n; i += (size_t)gridDim.x * blockDim.x)
        f(i);
}

/* One thread per (b, h, t): scores q.k * scale for t2 <= t, softmax with the max subtracted, then the
 * weighted sum of v. The rounded scores are kept in att; each exponential is computed from them again
 * where it is needed (same input, same bits), so att never holds an unrounded value. */
template <class S>
__global__ static void attention_forward_exact_kernel(S *out, S *att, const S *qkv, int B, int T, int C, int NH)
{
    attention_exact_each((size_t)B * NH * T, [&](size_t row) {   /* over B*NH*T, ordered (b, h, t) */
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
    });
}

/* datt[b,h,t,t2] = fl_M(v[t2] . dout[t]) for t2 <= t (0 above), stored as S in the dpreatt buffer (the
 * softmax backward rewrites it in place). One thread per (b, h, t). */
template <class S>
__global__ static void attention_datt_exact_kernel(S *datt, const S *dout, const S *qkv, int B, int T, int C, int NH)
{
    attention_exact_each((size_t)B * NH * T, [&](size_t row) {
        int t = (int)(row % T), h = (int)((row / T) % NH), b = (int)(row / ((size_t)T * NH));
        int hs = C / NH;
        const S *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
        S *da = ROW(datt, b, h, t);
        for (int t2 = 0; t2 < T; t2++) {
            float acc = 0.0f;
            if (t2 <= t)
                for (int i = 0; i < hs; i++)
                    acc = acc + ld(QKV(b, t2, 2, h, i)) * ld(d[i]);
            da[t2] = st<S>(acc);
        }
    });
}

/* dv[b,t2,h,i] = fl_M(sum over t >= t2 (ascending) of att[t,t2] * dout[t,i]), into dqkv.
 * One thread per (b, t2, h, i). */
template <class S>
__global__ static void attention_dv_exact_kernel(S *dqkv, const S *dout, const S *att, int B, int T, int C, int NH)
{
    attention_exact_each((size_t)B * T * C, [&](size_t idx) {   /* over B*T*C, ordered (b, t2, h*hs + i) */
        int hs = C / NH;
        int c = (int)(idx % C), t2 = (int)((idx / C) % T), b = (int)(idx / ((size_t)C * T));
        int h = c / hs;
        float acc = 0.0f;
        for (int t = t2; t < T; t++)
            acc = acc + ld(ROW(att, b, h, t)[t2]) * ld(dout[((size_t)b * T + t) * C + c]);
        dqkv[(((size_t)b * T + t2) * 3 + 2) * C + c] = st<S>(acc);
    });
}

/* Softmax backward: dpreatt[t3] = fl_M(att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2])), in place
 * over datt (the row's dot product is complete before its first entry is rewritten). */
template <class S>
__global__ static void attention_softmax_backward_exact_kernel(S *datt_dpreatt, const S *att, int B, int T, int NH)
{
    attention_exact_each((size_t)B * NH * T, [&](size_t row) {
        int t = (int)(row % T);
        const S *a = att + row * T;
        S *dp = datt_dpreatt + row * T;
        const S *da = dp;
        float dot = 0.0f;
        for (int t2 = 0; t2 <= t; t2++)
            dot = dot + ld(a[t2]) * ld(da[t2]);
        for (int t3 = 0; t3 < T; t3++)
            dp[t3] = st<S>(t3 <= t ? ld(a[t3]) * (ld(da[t3]) - dot) : 0.0f);
    });
}

/* dq[b,t,h,i] = sum_{t2<=t} k[t2,i] * (dpreatt[t,t2] * scale);
 * dk[b,t2,h,i] = sum_{t>=t2} q[t,i] * (dpreatt[t,t2] * scale). One thread per element of each, into
 * dqkv (rounded). */
template <class S>
__global__ static void attention_dqk_exact_kernel(S *dqkv, const S *dpreatt, const S *qkv, int B, int T, int C,
                                                  int NH)
{
    size_t n = (size_t)B * T * C;
    attention_exact_each(2 * n, [&](size_t idx) {   /* over 2*B*T*C: first half dq, second half dk */
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
            dqkv[(((size_t)b * T + t) * 3 + 0) * C + c] = st<S>(acc);
        } else {   /* here t plays t2: the key position */
            for (int tq = t; tq < T; tq++)
                acc = acc + ld(QKV(b, tq, 0, h, i)) * (ld(ROW(dpreatt, b, h, tq)[t]) * scale);
            dqkv[(((size_t)b * T + t) * 3 + 1) * C + c] = st<S>(acc);
        }
    });
}

#undef QKV
#undef ROW

/* ---- the passes --------------------------------------------------------------------------------
 * Row-major X[r,c] with leading dimension ld is column-major X^T: each product is written as its
 * transpose. Per head: q, k, v are [T,hs] with ld 3C, att/datt/dpreatt [T,T] with ld T, out/dout
 * [T,hs] with ld C. S is the activation storage type (float, __half, __nv_bfloat16). */

/* out: [B,T,C]; att: [B,NH,T,T] (the scores, then the softmax, in place); ptrs: attention_ptr_slots(B, NH)
 * entries of device memory for the row blocks' pointer tables (NULL: full tiles); qkv_nonfinite: the
 * layer's device int that receives whether qkv holds an Inf or NaN, for attention_backward (NULL:
 * none kept). */
template <class S>
static void attention_forward(cublasHandle_t hdl, S *out, S *att, const S *qkv, int B, int T, int C, int NH,
                              const void **ptrs, int *qkv_nonfinite, cudaStream_t s)
{
    const int hs = C / NH;
    const size_t rows = (size_t)B * NH * T, TT = (size_t)T * T, T3C = (size_t)T * 3 * C;
    attention_flag_clear_kernel<<<1, 1, 0, s>>>();
    CUDA_CHECK_LAUNCH();
    attention_flag(qkv, (size_t)B * T3C, s);
    if (qkv_nonfinite) {
        attention_flag_save_kernel<<<1, 1, 0, s>>>(qkv_nonfinite);
        CUDA_CHECK_LAUNCH();
    }
    /* scores^T[t2,t] = k[t2,:] . q[t,:]; fp16/bf16: fl_M(acc * scale) from the GEMM's epilogue */
    const float scale = 1.0f / sqrtf((float)hs);
    const float gemm_scale = zsf_is_f32<S> ? 1.0f : scale, row_scale = zsf_is_f32<S> ? scale : 1.0f;
    const attn_blocks blk = ptrs ? attention_blocks(T, hs) : attn_blocks{0, T};
    if (blk.n) {
        const cudaDataType ty = zsf_st<S>::cuda;
        const attn_blk_gemm g[2] = {
            /* scores of query block r: keys t2 < r1 */
            {CUBLAS_OP_T, CUBLAS_OP_N, ATT_PREFIX, ATT_WIDTH, ATT_HS,
             {attn_blk_op(qkv + C, T3C, hs, 0), attn_blk_op(qkv, T3C, hs, 3 * C), attn_blk_op(att, NH * TT, TT, T)},
             {3 * C, 3 * C, T}, ty, gemm_scale},
            /* out^T[i,t] = sum over t2 < r1 of v^T[i,t2] att^T[t2,t] */
            {CUBLAS_OP_N, CUBLAS_OP_N, ATT_HS, ATT_WIDTH, ATT_PREFIX,
             {attn_blk_op(qkv + 2 * C, T3C, hs, 0), attn_blk_op(att, NH * TT, TT, T), attn_blk_op(out, T * C, hs, C)},
             {3 * C, T, C}, ty, 1.0f}};
        attention_blocks_prepare(g, 2, blk, ptrs, B, NH, s);
        attention_blocks_run(hdl, g[0], 0, blk, ptrs, B, T, NH, hs);
        attention_softmax_forward(att, rows, T, row_scale, blk.size, s);
        attention_blocks_run(hdl, g[1], 1, blk, ptrs, B, T, NH, hs);
    } else {
        const attn_mat<S> q = {qkv, 3 * C, T3C, (size_t)hs}, k = {qkv + C, 3 * C, T3C, (size_t)hs};
        const attn_mat<S> v = {qkv + 2 * C, 3 * C, T3C, (size_t)hs}, a = {att, T, NH * TT, TT};
        attention_gemm(hdl, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, k, q, att, T, NH * TT, TT, B, NH, gemm_scale);
        attention_softmax_forward(att, rows, T, row_scale, 0, s);
        /* out^T[i,t] = sum_t2 v^T[i,t2] att^T[t2,t] */
        attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, v, a, out, C, (size_t)T * C, (size_t)hs, B, NH);
    }
    ATTENTION_STRIDED_LAUNCH(attention_forward_exact_kernel<S>, rows, s, out, att, qkv, B, T, C, NH);
}

/* dqkv[B,T,3C] (written) from dout[B,T,C]; dpreatt: [B,NH,T,T] scratch (datt, then dpreatt in place).
 * datt, dpreatt and the finished dqkv are rounding points. ptrs: as attention_forward. qkv_nonfinite:
 * the slot this layer's attention_forward filled from the same qkv (NULL: qkv is scanned again). */
template <class S>
static void attention_backward(cublasHandle_t hdl, S *dqkv, S *dpreatt, const S *dout, const S *att, const S *qkv,
                               int B, int T, int C, int NH, const void **ptrs, const int *qkv_nonfinite,
                               cudaStream_t s)
{
    const int hs = C / NH;
    const size_t rows = (size_t)B * NH * T, TT = (size_t)T * T, T3C = (size_t)T * 3 * C, TC = (size_t)T * C;
    const float scale = 1.0f / sqrtf((float)hs);
    /* fp32 folds the scale into dpreatt (the reference's products); 16-bit dpreatt is stored rounded */
    const float dp_scale = zsf_is_f32<S> ? scale : 1.0f, gemm_scale = zsf_is_f32<S> ? 1.0f : scale;
    if (qkv_nonfinite) {
        attention_flag_load_kernel<<<1, 1, 0, s>>>(qkv_nonfinite);
        CUDA_CHECK_LAUNCH();
    } else {
        attention_flag_clear_kernel<<<1, 1, 0, s>>>();
        CUDA_CHECK_LAUNCH();
        attention_flag(qkv, (size_t)B * T3C, s);
    }
    attention_flag(dout, (size_t)B * TC, s);
    const attn_blocks blk = ptrs ? attention_blocks(T, hs) : attn_blocks{0, T};
    if (blk.n) {
        const cudaDataType ty = zsf_st<S>::cuda;
        const attn_blk_operand q = attn_blk_op(qkv, T3C, hs, 3 * C), k = attn_blk_op(qkv + C, T3C, hs, 0);
        const attn_blk_operand v = attn_blk_op(qkv + 2 * C, T3C, hs, 0);
        /* att and dpreatt from the diagonal of key block c down: rows t >= c0, columns t2 >= c0 */
        const attn_blk_operand a_key = attn_blk_op(att, NH * TT, TT, T + 1);
        const attn_blk_operand dp_query = attn_blk_op(dpreatt, NH * TT, TT, T);
        const attn_blk_operand dp_key = attn_blk_op(dpreatt, NH * TT, TT, T + 1);
        const attn_blk_gemm g[4] = {
            /* datt^T[t2,t] = v[t2,:] . dout[t,:] for query block r, keys t2 < r1 */
            {CUBLAS_OP_T, CUBLAS_OP_N, ATT_PREFIX, ATT_WIDTH, ATT_HS, {v, attn_blk_op(dout, TC, hs, C), dp_query},
             {3 * C, C, T}, ty, 1.0f},
            /* dv^T[i,t2] = sum over t >= c0 of dout^T[i,t] att[t,t2], key block c */
            {CUBLAS_OP_N, CUBLAS_OP_T, ATT_HS, ATT_WIDTH, ATT_SUFFIX,
             {attn_blk_op(dout, TC, hs, C), a_key, attn_blk_op(dqkv + 2 * C, T3C, hs, 3 * C)}, {C, T, 3 * C}, ty,
             1.0f},
            /* dq^T[i,t] = sum over t2 < r1 of k^T[i,t2] dps^T[t2,t], query block r */
            {CUBLAS_OP_N, CUBLAS_OP_N, ATT_HS, ATT_WIDTH, ATT_PREFIX, {k, dp_query, attn_blk_op(dqkv, T3C, hs, 3 * C)},
             {3 * C, T, 3 * C}, ty, gemm_scale},
            /* dk^T[i,t2] = sum over t >= c0 of q^T[i,t] dps[t,t2], key block c */
            {CUBLAS_OP_N, CUBLAS_OP_T, ATT_HS, ATT_WIDTH, ATT_SUFFIX,
             {q, dp_key, attn_blk_op(dqkv + C, T3C, hs, 3 * C)}, {3 * C, T, 3 * C}, ty, gemm_scale}};
        attention_blocks_prepare(g, 4, blk, ptrs, B, NH, s);
        attention_blocks_run(hdl, g[0], 0, blk, ptrs, B, T, NH, hs);
        attention_blocks_run(hdl, g[1], 1, blk, ptrs, B, T, NH, hs);
        attention_softmax_backward(dpreatt, att, rows, T, dp_scale, blk.size, s);
        attention_blocks_run(hdl, g[2], 2, blk, ptrs, B, T, NH, hs);
        attention_blocks_run(hdl, g[3], 3, blk, ptrs, B, T, NH, hs);
    } else {
        const attn_mat<S> q = {qkv, 3 * C, T3C, (size_t)hs}, k = {qkv + C, 3 * C, T3C, (size_t)hs};
        const attn_mat<S> v = {qkv + 2 * C, 3 * C, T3C, (size_t)hs}, d = {dout, C, TC, (size_t)hs};
        const attn_mat<S> a = {att, T, NH * TT, TT}, dp = {dpreatt, T, NH * TT, TT};
        /* datt^T[t2,t] = v[t2,:] . dout[t,:], stored fl_M(datt) into dpreatt's buffer */
        attention_gemm(hdl, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, v, d, dpreatt, T, NH * TT, TT, B, NH);
        /* dv^T[i,t2] = sum_t dout^T[i,t] att[t,t2] */
        attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, d, a, dqkv + 2 * C, 3 * C, T3C, (size_t)hs, B, NH);
        attention_softmax_backward(dpreatt, att, rows, T, dp_scale, 0, s);
        /* dq^T[i,t] = sum_t2 k^T[i,t2] dps^T[t2,t];  dk^T[i,t2] = sum_t q^T[i,t] dps[t,t2] */
        attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, k, dp, dqkv, 3 * C, T3C, (size_t)hs, B, NH, gemm_scale);
        attention_gemm(hdl, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, q, dp, dqkv + C, 3 * C, T3C, (size_t)hs, B, NH,
                       gemm_scale);
    }
    /* the exact pass, when an input is not finite */
    ATTENTION_STRIDED_LAUNCH(attention_datt_exact_kernel<S>, rows, s, dpreatt, dout, qkv, B, T, C, NH);
    ATTENTION_STRIDED_LAUNCH(attention_dv_exact_kernel<S>, (size_t)B * TC, s, dqkv, dout, att, B, T, C, NH);
    ATTENTION_STRIDED_LAUNCH(attention_softmax_backward_exact_kernel<S>, rows, s, dpreatt, att, B, T, NH);
    ATTENTION_STRIDED_LAUNCH(attention_dqk_exact_kernel<S>, 2 * (size_t)B * TC, s, dqkv, dpreatt, qkv, B, T, C, NH);
}

#endif
