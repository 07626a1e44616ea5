/* Linear layers with cuBLAS (fp32, pedantic math: no TF32), Hugging Face Conv1D layout.
 *   out[BT,OC] = inp[BT,C] @ weight[C,OC] + bias[OC]
 * Row-major X[r,c] is column-major X^T, so each product below is written as its transpose.
 * The bias is added after the product, as the reference does (acc + bias). Backward GEMMs write
 * (beta = 0): every parameter gradient of a micro-step is produced exactly once, except the tied
 * wte, whose embedding part encoder_backward adds afterwards. */
#ifndef ZS_FAST_KERNELS_MATMUL_CUH
#define ZS_FAST_KERNELS_MATMUL_CUH

#include "common.cuh"

/* C[m,n] (column-major) = op(A) @ op(B), fp32 in and out, fp32 compute. */
static void sgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                  const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &zero, C,
                              CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

__global__ static void add_bias_kernel(float *out, const float *bias, size_t n, int OC, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = zsf_round(dt, out[i] + bias[i % OC]);
}

/* out = residual + (acc + bias): the layer's output added to the residual stream; in fp16/bf16 the
 * projection output and the sum are both rounding points. */
__global__ static void add_bias_residual_kernel(float *out, const float *residual, const float *acc,
                                                const float *bias, size_t n, int OC, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = zsf_round(dt, residual[i] + zsf_round(dt, acc[i] + bias[i % OC]));
}

/* dbias[o] = sum over bt of dout[bt, o], bt in order. */
__global__ static void bias_backward_kernel(float *dbias, const float *dout, int BT, int OC)
{
    size_t o = zsf_tid();
    if (o >= (size_t)OC)
        return;
    float acc = 0.0f;
    for (int bt = 0; bt < BT; bt++)
        acc = acc + dout[(size_t)bt * OC + o];
    dbias[o] = acc;
}

/* out[BT,OC] = inp[BT,C] @ weight[C,OC]  (out^T = weight^T @ inp^T) */
static void matmul_forward_nobias(cublasHandle_t h, float *out, const float *inp, const float *weight, int BT,
                                  int C, int OC)
{
    sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, OC, BT, C, weight, OC, inp, C, out, OC);
}

static void matmul_forward(cublasHandle_t h, float *out, const float *inp, const float *weight, const float *bias,
                           int BT, int C, int OC, zsf_dtype dt, cudaStream_t s)
{
    matmul_forward_nobias(h, out, inp, weight, BT, C, OC);
    ZSF_LAUNCH(add_bias_kernel, (size_t)BT * OC, s, out, bias, (size_t)BT * OC, OC, dt);
}

/* out = residual + inp @ weight + bias; acc is [BT,OC] scratch. */
static void matmul_forward_residual(cublasHandle_t h, float *out, const float *residual, float *acc,
                                    const float *inp, const float *weight, const float *bias, int BT, int C, int OC,
                                    zsf_dtype dt, cudaStream_t s)
{
    matmul_forward_nobias(h, acc, inp, weight, BT, C, OC);
    ZSF_LAUNCH(add_bias_residual_kernel, (size_t)BT * OC, s, out, residual, acc, bias, (size_t)BT * OC, OC, dt);
}

/* dinp[BT,C] = dout[BT,OC] @ weight^T ; dweight[C,OC] = inp^T @ dout ; dbias = column sums of dout. */
static void matmul_backward(cublasHandle_t h, float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int BT, int C, int OC, cudaStream_t s)
{
    sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, C, BT, OC, weight, OC, dout, OC, dinp, C);      /* dinp^T = W @ dout^T */
    sgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, OC, C, BT, dout, OC, inp, C, dweight, OC);      /* dW^T = dout^T @ inp */
    ZSF_LAUNCH(bias_backward_kernel, (size_t)OC, s, dbias, dout, BT, OC);
}

/* The tied LM head: logits[BT,V] = inp[BT,C] @ wte[V,C]^T (logits^T = wte @ inp^T). */
static void lm_head_forward(cublasHandle_t h, float *logits, const float *inp, const float *wte, int BT, int C,
                            int V)
{
    sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, V, BT, C, wte, C, inp, C, logits, V);
}

/* dinp[BT,C] = dlogits @ wte ; dwte[V,C] = dlogits^T @ inp (written; the embedding part is added later). */
static void lm_head_backward(cublasHandle_t h, float *dinp, float *dwte, const float *dlogits, const float *inp,
                             const float *wte, int BT, int C, int V)
{
    sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, BT, V, wte, C, dlogits, V, dinp, C);         /* dinp^T = wte^T @ dlogits^T */
    sgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, V, BT, inp, C, dlogits, V, dwte, C);         /* dwte^T = inp^T @ dlogits */
}

#endif
