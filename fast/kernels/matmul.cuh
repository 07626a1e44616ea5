/* Linear layers with cuBLAS, Hugging Face Conv1D layout.
 *   out[BT,OC] = inp[BT,C] @ weight[C,OC] + bias[OC]
 * Row-major X[r,c] is column-major X^T, so each product below is written as its transpose.
 * Inputs, weights and biases are of the model's storage type T (common.cuh); every GEMM computes in fp32
 * (CUBLAS_COMPUTE_32F): in fp32 on the model's pedantic handle (no TF32), in fp16/bf16 on tensor
 * cores. The bias is added after the product, as the reference does (acc + bias), and the sum is
 * rounded once (docs/spec/model.md): in fp16/bf16 by cuBLASLt's bias epilogue (gemm_bias.cuh); in fp32,
 * or where a pointer is not 16-byte aligned, by the kernels below from an fp32 GEMM result. Backward GEMMs write (beta = 0): every
 * parameter gradient of a micro-step is produced exactly once, in fp32, except the tied wte, whose
 * embedding part encoder_backward adds afterwards. */
#ifndef ZS_FAST_KERNELS_MATMUL_CUH
#define ZS_FAST_KERNELS_MATMUL_CUH

#include "common.cuh"
#include "gemm_bias.cuh"

/* C[m,n] (column-major) = alpha * op(A) @ op(B), A and B stored as T, fp32 compute; C stored as O
 * (float, or T: the fp32 result rounded to nearest even in the GEMM's epilogue). */
template <class T, class O>
static void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const T *A,
                 int lda, const T *B, int ldb, O *C, int ldc, float alpha = 1.0f)
{
    const float zero = 0.0f;
    CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &alpha, A, zsf_st<T>::cuda, lda, B, zsf_st<T>::cuda, ldb, &zero,
                              C, zsf_st<O>::cuda, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* out = fl_M(acc + bias) (fp32: out and acc are one buffer). */
template <class T>
__global__ static void add_bias_kernel(T *out, const float *acc, const T *bias, size_t n, int OC)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = st<T>(acc[i] + ld(bias[i % OC]));
}

/* dbias[o] = sum over bt of dout[bt, o], in two fixed levels (deterministic, an fp32 sum reassociated as
 * docs/conformance.md allows). Level 1: the rows are cut into BIAS_CHUNKS chunks; a block of 32 x 32
 * threads takes 32 channels of one chunk, thread (r, lane) folds rows lo + r, lo + r + 32, ... in order
 * (a warp reads 32 adjacent channels of a row), thread r = 0 adds the 32 partials in r order into
 * part[chunk][o]. Level 2: one thread per channel adds the chunks' partials in chunk order. */
#define BIAS_CHUNKS 32
#define BIAS_ROWS 32

template <class T>
__global__ static void bias_backward_partial_kernel(float *part, const T *dout, int BT, int OC)
{
    __shared__ float p[BIAS_ROWS][33];   /* 33: no bank conflicts in the final sum */
    int lane = threadIdx.x % 32, r = threadIdx.x / 32, chunk = blockIdx.y;
    int o = blockIdx.x * 32 + lane;
    int per = (BT + BIAS_CHUNKS - 1) / BIAS_CHUNKS, lo = chunk * per, hi = lo + per < BT ? lo + per : BT;
    float acc = 0.0f;
    if (o < OC)
#pragma unroll 8   /* several loads in flight per thread; the fold keeps its order */
        for (int bt = lo + r; bt < hi; bt += BIAS_ROWS)
            acc = acc + ld(dout[(size_t)bt * OC + o]);
    p[r][lane] = acc;
    __syncthreads();
    if (r == 0 && o < OC) {
        acc = 0.0f;
        for (int k = 0; k < BIAS_ROWS; k++)
            acc = acc + p[k][lane];
        part[(size_t)chunk * OC + o] = acc;
    }
}

/* part: BIAS_CHUNKS * OC floats of scratch. */
template <class T>
static void bias_backward(float *dbias, float *part, const T *dout, int BT, int OC, cudaStream_t s)
{
    if (OC > 0) {
        dim3 grid((unsigned)((OC + 31) / 32), BIAS_CHUNKS);
        bias_backward_partial_kernel<T><<<grid, 32 * BIAS_ROWS, 0, s>>>(part, dout, BT, OC);
        CUDA_CHECK_LAUNCH();
    }
    ZSF_LAUNCH(fold_chunks_kernel, (size_t)OC, s, dbias, part, OC, BIAS_CHUNKS);
}
#undef BIAS_ROWS

/* out[BT,OC] = inp[BT,C] @ weight[C,OC] in fp32  (out^T = weight^T @ inp^T) */
template <class T>
static void matmul_forward_nobias(cublasHandle_t h, float *out, const T *inp, const T *weight, int BT, int C, int OC)
{
    gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, OC, BT, C, weight, OC, inp, C, out, OC);
}

/* out = fl_M(inp @ weight + bias); acc: [BT,OC] fp32 scratch (unused in fp32). In fp16/bf16 the bias
 * is added in cuBLASLt's epilogue (gemm_bias.cuh) where the pointers allow. */
template <class T>
static void matmul_forward(cublasHandle_t h, zsf_lt *lt, T *out, float *acc, const T *inp, const T *weight,
                           const T *bias, int BT, int C, int OC, cudaStream_t s)
{
    if constexpr (!zsf_is_f32<T>)
        if (gemm_bias(lt, out, inp, weight, bias, BT, C, OC, s))
            return;
    float *o32 = f32_view(out, acc);
    matmul_forward_nobias(h, o32, inp, weight, BT, C, OC);
    ZSF_LAUNCH(add_bias_kernel<T>, (size_t)BT * OC, s, out, o32, bias, (size_t)BT * OC, OC);
}

/* dinp[BT,C] = fl_M(dout[BT,OC] @ weight^T): a finished activation gradient, rounded in the GEMM's
 * epilogue; dweight[C,OC] = inp^T @ dout and dbias = column sums of dout, fp32. part: bias_backward's
 * scratch. */
template <class T>
static void matmul_backward(cublasHandle_t h, T *dinp, float *dweight, float *dbias, float *part, const T *dout,
                            const T *inp, const T *weight, int BT, int C, int OC, cudaStream_t s)
{
    gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, C, BT, OC, weight, OC, dout, OC, dinp, C);   /* dinp^T = W @ dout^T */
    gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, OC, C, BT, dout, OC, inp, C, dweight, OC);     /* dW^T = dout^T @ inp */
    bias_backward(dbias, part, dout, BT, OC, s);
}

/* The row stride of the logits: fp32 keeps V; fp16/bf16 pad it to a multiple of 64 elements, since
 * tensor-core GEMMs need aligned leading dimensions (V = 50257 would cost them 3-4x). The padding
 * columns are never written by the GEMM nor read as logits; dlogits keeps them zero. */
template <class T> static inline int logits_ld(int V)
{
    return zsf_is_f32<T> ? V : (V + 63) / 64 * 64;
}

/* The tied LM head. In fp16/bf16 each GEMM runs over the first Va = V rounded down to a multiple of 16
 * vocabulary rows and then over the Vt = V - Va left (one, for GPT-2): measured on an H100
 * (docs/results/performance-notes.md, run 6), cuBLAS's tensor-core GEMMs with an odd V as a dimension
 * ran at 96 (forward), 132 (dinp) and 513 (dwte) TFLOP/s against 770-960 with it a multiple of 16.
 * Splitting the rows of a product (forward) or its columns (dwte) leaves every output element's sum
 * whole; dinp's sums over V are split instead: the GEMM's fp32 result over Va, then the Vt remaining
 * terms added in order by lm_head_dinp_tail_kernel, which rounds once (an fp32 sum reassociated, as
 * docs/conformance.md allows). fp32 keeps one GEMM each, on its pedantic handle. */
template <class T> static inline int lm_head_aligned_rows(int V)
{
    return zsf_is_f32<T> ? V : V / 16 * 16;
}

/* logits[BT,V] (rows ld apart) = fl_M(inp[BT,C] @ wte[V,C]^T), stored as T: the logits' rounding point
 * is the GEMM's epilogue (logits^T = wte @ inp^T). */
template <class T>
static void lm_head_forward(cublasHandle_t h, T *logits, const T *inp, const T *wte, int BT, int C, int V, int ld)
{
    const int Va = lm_head_aligned_rows<T>(V);
    if (Va > 0)
        gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, Va, BT, C, wte, C, inp, C, logits, ld);
    if (V > Va)
        gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, V - Va, BT, C, wte + (size_t)Va * C, C, inp, C, logits + Va, ld);
}

/* dinp[bt,c] = fl_M(acc[bt,c] + sum over v in [Va, V) of dlogits[bt,v] * wte[v,c]), v ascending
 * (acc NULL: Va = 0, the sum starts from 0). */
template <class T>
__global__ static void lm_head_dinp_tail_kernel(T *dinp, const float *acc, const T *dlogits, const T *wte, int BT,
                                                int C, int Va, int V, int row_ld)
{
    size_t i = zsf_tid();
    if (i >= (size_t)BT * C)
        return;
    size_t bt = i / C, c = i % C;
    float x = acc ? acc[i] : 0.0f;
    for (int v = Va; v < V; v++)
        x = x + ld(dlogits[bt * row_ld + v]) * ld(wte[(size_t)v * C + c]);
    dinp[i] = st<T>(x);
}

/* dinp[BT,C] = fl_M(dlogits @ wte); dwte[V,C] = dlogits^T @ inp in fp32 (written; the embedding part is
 * added later). dlogits' rows are ld apart; acc: [BT,C] fp32 scratch (fp16/bf16 only). */
template <class T>
static void lm_head_backward(cublasHandle_t h, T *dinp, float *acc, float *dwte, const T *dlogits, const T *inp,
                             const T *wte, int BT, int C, int V, int ld, cudaStream_t s)
{
    const int Va = lm_head_aligned_rows<T>(V);
    if (Va == V) {
        gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, BT, V, wte, C, dlogits, ld, dinp, C);   /* dinp^T = wte^T @ dlogits^T */
    } else {
        if (Va > 0)
            gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, BT, Va, wte, C, dlogits, ld, acc, C);
        ZSF_LAUNCH(lm_head_dinp_tail_kernel<T>, (size_t)BT * C, s, dinp, Va > 0 ? (const float *)acc : NULL, dlogits,
                   wte, BT, C, Va, V, ld);
    }
    if (Va > 0)
        gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, Va, BT, inp, C, dlogits, ld, dwte, C);   /* dwte^T = inp^T @ dlogits */
    if (V > Va)
        gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, V - Va, BT, inp, C, dlogits + Va, ld, dwte + (size_t)Va * C, C);
}

#endif
