/* out = fl_M(A @ B + bias) in one cuBLASLt call, for the fp16/bf16 linear layers with a bias.
 *
 * The spec rounds a biased projection once, after the bias is added to the fp32 product
 * (docs/spec/model.md). cuBLASLt's CUBLASLT_EPILOGUE_BIAS adds the bias (stored as T) to the fp32
 * accumulator and then converts to T, round to nearest even: the same single rounding, without the
 * fp32 [BT,OC] scratch that a GEMM and a separate bias kernel write and read (performance-notes.md,
 * run 8). zs-fast-bench's ops phase checks it bit for bit against an fp32 GEMM plus the bias kernel on
 * inputs whose products sum exactly, fp16 overflow included. fp32 runs keep cuBLAS's pedantic GEMM and
 * the bias kernel (matmul.cuh).
 *
 * A plan (descriptors, matrix layouts and the heuristic's algorithm) is made once per shape and
 * pointer alignment and kept in the zsf_lt: cuBLASLt's heuristic assumes 256-byte-aligned pointers
 * unless told otherwise, and the weights of a flat parameter buffer are not, so each plan states the
 * alignments it was chosen for. */
#ifndef ZS_FAST_KERNELS_GEMM_BIAS_CUH
#define ZS_FAST_KERNELS_GEMM_BIAS_CUH

#include <stdint.h>
#include <string.h>

#include <cublasLt.h>

#include "common.cuh"

#define ZSF_LT_PLANS 16
#define ZSF_LT_WORKSPACE ((size_t)32 << 20)   /* cuBLASLt's recommended workspace on Hopper */

struct zsf_lt_plan {
    int m, n, k;
    cudaDataType ty;
    unsigned align[4];   /* A, B, C, bias: bytes, at most 256 */
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
};

/* A cuBLASLt handle, its workspace and the plans made so far (one per model or benchmark). */
struct zsf_lt {
    cublasLtHandle_t h;
    void *ws;
    size_t ws_bytes;
    zsf_lt_plan plan[ZSF_LT_PLANS];
    int nplans;
};

static void zsf_lt_init(zsf_lt *lt)
{
    memset(lt, 0, sizeof *lt);
    CUBLAS_CHECK(cublasLtCreate(&lt->h));
    lt->ws_bytes = ZSF_LT_WORKSPACE;
    CUDA_CHECK(cudaMalloc(&lt->ws, lt->ws_bytes));
}

static void zsf_lt_plan_destroy(zsf_lt_plan *p)
{
    cublasLtMatrixLayoutDestroy(p->a);
    cublasLtMatrixLayoutDestroy(p->b);
    cublasLtMatrixLayoutDestroy(p->c);
    cublasLtMatmulDescDestroy(p->op);
}

static void zsf_lt_free(zsf_lt *lt)
{
    if (!lt->h)   /* never initialised (fp32 models) */
        return;
    for (int i = 0; i < lt->nplans && i < ZSF_LT_PLANS; i++)
        zsf_lt_plan_destroy(&lt->plan[i]);
    cudaFree(lt->ws);
    cublasLtDestroy(lt->h);
}

/* The largest power of two (at most 256) dividing the address. */
static inline unsigned zsf_lt_alignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    unsigned al = 1;
    while (al < 256 && !(a & al))
        al <<= 1;
    return al;
}

/* The plan for C[m,n] = A[m,k] @ B[k,n] + bias[m] (column-major, all T = ty, no transposes), made on
 * first use (the slot of the oldest plan is reused when all are taken). */
static zsf_lt_plan *zsf_lt_plan_for(zsf_lt *lt, int m, int n, int k, cudaDataType ty, const unsigned align[4])
{
    for (int i = 0; i < lt->nplans && i < ZSF_LT_PLANS; i++) {
        zsf_lt_plan *p = &lt->plan[i];
        if (p->m == m && p->n == n && p->k == k && p->ty == ty && !memcmp(p->align, align, sizeof p->align))
            return p;
    }
    zsf_lt_plan *p = &lt->plan[lt->nplans % ZSF_LT_PLANS];
    if (lt->nplans >= ZSF_LT_PLANS)
        zsf_lt_plan_destroy(p);
    lt->nplans++;
    *p = zsf_lt_plan{m, n, k, ty, {align[0], align[1], align[2], align[3]}, NULL, NULL, NULL, NULL, {}};
    const cublasOperation_t no = CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &no, sizeof no));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &no, sizeof no));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &ty, sizeof ty));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, ty, m, k, m));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, ty, k, n, k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, ty, m, n, m));
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &lt->ws_bytes,
                                                      sizeof lt->ws_bytes));
    const cublasLtMatmulPreferenceAttributes_t which[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++) {   /* C and D are the same buffer */
        const uint32_t al = align[i < 3 ? i : 2];
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, which[i], &al, sizeof al));
    }
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt->h, p->op, p->a, p->b, p->c, p->c, pref, 1, &res, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    if (!found)
        zsf_die(__FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic",
                "cuBLASLt has no algorithm for a biased GEMM of this shape and alignment");
    p->algo = res.algo;
    return p;
}

/* out[BT,OC] = fl_M(inp[BT,C] @ weight[C,OC] + bias[OC]), row-major (out^T = weight^T @ inp^T), T 16-bit.
 * Returns false, doing nothing, where a pointer is not 16-byte aligned (the tiniest conformance models'
 * biases in a flat buffer): cuBLASLt states no alignment rule for the bias, so the caller then takes
 * the GEMM-and-kernel path. */
template <class T>
static bool gemm_bias(zsf_lt *lt, T *out, const T *inp, const T *weight, const T *bias, int BT, int C, int OC,
                      cudaStream_t s)
{
    static_assert(sizeof(T) == 2, "fp32 keeps the pedantic GEMM and the bias kernel");
    const unsigned align[4] = {zsf_lt_alignment(weight), zsf_lt_alignment(inp), zsf_lt_alignment(out),
                               zsf_lt_alignment(bias)};
    for (unsigned al : align)
        if (al < 16)
            return false;
    zsf_lt_plan *p = zsf_lt_plan_for(lt, OC, BT, C, zsf_st<T>::cuda, align);
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasLtMatmul(lt->h, p->op, &one, weight, p->a, inp, p->b, &zero, out, p->c, out, p->c, &p->algo,
                                lt->ws, lt->ws_bytes, s));
    return true;
}

#endif
