/* Softmax cross-entropy per position, from the logits as the LM head's GEMM stored them: T, rows ld
 * apart (in fp16/bf16 that store is the logits' rounding point fl_M, done in the GEMM's epilogue).
 * Forward: losses[bt] = -log(p[target]), p the softmax of the row with its maximum subtracted; the
 * loss of the micro-batch is the mean, summed in bt order in fp32 (one thread). Backward:
 * dlogits = fl_M((p - onehot) * dlpp), dlpp = dloss / (B*T), written over the logits in place; p is
 * computed again from the logits with the forward pass's maximum and 1 / sum (kept per row), so it
 * has the same bits. No [BT,V] tensor is held in fp32 beyond the logits of an fp32 run.
 *
 * One block per row, reductions in a fixed order (each thread folds v = tid, tid + ZSF_BLOCK, ...,
 * then block_reduce), so runs are bit-identical. The forward pass reads the row three times (maximum,
 * sum, loss); when the row fits in shared memory it is staged there first, so it comes from DRAM
 * once. The backward pass reads and writes each entry once. fp16/bf16 pad the rows to a multiple of
 * 64 (matmul.cuh logits_ld) so that the LM head's tensor-core GEMMs see aligned leading dimensions;
 * the padding is never read. */
#ifndef ZS_FAST_KERNELS_CROSSENTROPY_CUH
#define ZS_FAST_KERNELS_CROSSENTROPY_CUH

#include <stdint.h>

#include "common.cuh"

/* The block's fold of x over its threads: warp butterflies, then the warps' results in warp order
 * (fixed, so bit-identical runs); every thread gets the result. is_max: maximum instead of sum. */
__device__ static float block_reduce(float x, int is_max)
{
    __shared__ float part[ZSF_WARPS_PER_BLOCK];
    x = is_max ? warp_max(x) : warp_sum(x);
    if (threadIdx.x % 32 == 0)
        part[threadIdx.x / 32] = x;
    __syncthreads();
    float r = part[0];
    for (int w = 1; w < ZSF_WARPS_PER_BLOCK; w++)
        r = is_max ? (part[w] > r ? part[w] : r) : r + part[w];
    __syncthreads();   /* part is reused by the next call */
    return r;
}

extern __shared__ int4 crossentropy_stage[];

/* The row the block works on: a copy in shared memory when `staged` (then the row is 16-byte aligned:
 * 16-byte copies, four in flight per thread, since few blocks fit on an SM), else the row itself. */
template <class T> __device__ static const T *crossentropy_row(const T *row, int V, int staged)
{
    if (!staged)
        return row;
    const int4 *src = (const int4 *)row;
    int4 *dst = crossentropy_stage;
    size_t n16 = (size_t)V * sizeof(T) / 16, i = threadIdx.x;
    for (; i + 3 * ZSF_BLOCK < n16; i += 4 * ZSF_BLOCK) {
        int4 a = src[i], b = src[i + ZSF_BLOCK], c = src[i + 2 * ZSF_BLOCK], d = src[i + 3 * ZSF_BLOCK];
        dst[i] = a;
        dst[i + ZSF_BLOCK] = b;
        dst[i + 2 * ZSF_BLOCK] = c;
        dst[i + 3 * ZSF_BLOCK] = d;
    }
    for (; i < n16; i += ZSF_BLOCK)
        dst[i] = src[i];
    T *s = (T *)crossentropy_stage;
    for (int v = (int)(n16 * 16 / sizeof(T)) + (int)threadIdx.x; v < V; v += ZSF_BLOCK)
        s[v] = row[v];
    __syncthreads();
    return s;
}

/* The row's maximum and 1 / sum exp(x - max), identical in every thread. The last fold's
 * __syncthreads also means that every thread has finished reading the row. One entry per step:
 * the same folds over 16-byte vectors of the staged row took 2.3 ms per bf16 step instead of 1.35 on
 * an H100 (performance-notes.md run 9; two blocks fit on an SM beside their staged rows). */
struct softmax_stats {
    float maxv, inv;
};

template <class T> __device__ static softmax_stats crossentropy_stats(const T *x, int V)
{
    float maxv = -INFINITY;
    for (int v = (int)threadIdx.x; v < V; v += ZSF_BLOCK) {
        float xv = ld(x[v]);
        maxv = xv > maxv ? xv : maxv;
    }
    maxv = block_reduce(maxv, 1);
    float sum = 0.0f;
    for (int v = (int)threadIdx.x; v < V; v += ZSF_BLOCK)
        sum = sum + expf(ld(x[v]) - maxv);
    softmax_stats r = {maxv, 1.0f / block_reduce(sum, 0)};
    return r;
}

/* stats[bt]: the row's softmax_stats, kept for the backward pass (the logits stay as they are until
 * then, so it would compute the same bits again). */
template <class T>
__global__ static void crossentropy_forward_kernel(float *losses, softmax_stats *stats, const T *logits,
                                                   const int *targets, int V, int row_ld, int staged)
{
    size_t bt = blockIdx.x;
    const T *x = crossentropy_row(logits + bt * row_ld, V, staged);
    softmax_stats r = crossentropy_stats(x, V);
    if (threadIdx.x == 0) {
        losses[bt] = -logf(expf(ld(x[targets[bt]]) - r.maxv) * r.inv);
        stats[bt] = r;
    }
}

/* In place, one streaming pass with the forward pass's stats: each thread rewrites only the entries
 * it reads; 16-byte vectors when the rows are aligned (vec). */
template <class T>
__global__ static void crossentropy_backward_kernel(T *logits_dlogits, const softmax_stats *stats, const int *targets,
                                                    float dlpp, int V, int row_ld, int vec)
{
    const int N = zsf_vec_n<T>;
    size_t bt = blockIdx.x;
    T *row = logits_dlogits + bt * row_ld;
    const softmax_stats r = stats[bt];
    const int target = targets[bt];
    for (int v0 = N * (int)threadIdx.x; v0 < V; v0 += N * ZSF_BLOCK) {
        zsf_vec<T> x = vload((const T *)row, (size_t)v0, (size_t)V, vec);
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++) {
            float p = expf(ld(x.v[j]) - r.maxv) * r.inv;
            x.v[j] = st<T>((p - (v0 + j == target ? 1.0f : 0.0f)) * dlpp);
        }
        vstore(row, (size_t)v0, (size_t)V, vec, x);
    }
}

__global__ static void mean_loss_kernel(float *out, const float *losses, int BT)
{
    if (zsf_tid() != 0)
        return;
    float sum = 0.0f;
    for (int i = 0; i < BT; i++)
        sum = sum + losses[i];
    *out = sum / (float)BT;
}

/* The dynamic shared memory that stages a row of V entries, or 0 (the kernels then read the row from
 * global memory each time) when the rows are not 16-byte aligned (fp32's V = 50257) or a row exceeds
 * the device's per-block limit. Raises the kernel's limit to it. */
template <class T, class K> static size_t crossentropy_stage_bytes(K kernel, int V, int row_ld)
{
    int dev, optin;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    size_t bytes = ((size_t)V * sizeof(T) + 15) / 16 * 16;
    if ((size_t)row_ld * sizeof(T) % 16 != 0 || bytes > (size_t)optin)
        return 0;
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    return bytes;
}

/* stats: [BT] entries of device memory (crossentropy_forward writes them, crossentropy_backward reads). */
template <class T>
static void crossentropy_forward(float *loss, float *losses, softmax_stats *stats, const T *logits, const int *targets,
                                 int BT, int V, int row_ld, cudaStream_t s)
{
    if (BT > 0) {
        size_t smem = crossentropy_stage_bytes<T>(crossentropy_forward_kernel<T>, V, row_ld);
        crossentropy_forward_kernel<T><<<(unsigned)BT, ZSF_BLOCK, smem, s>>>(losses, stats, logits, targets, V, row_ld,
                                                                             smem > 0);
        CUDA_CHECK_LAUNCH();
    }
    ZSF_LAUNCH(mean_loss_kernel, 1, s, loss, losses, BT);
}

template <class T>
static void crossentropy_backward(T *logits_dlogits, const softmax_stats *stats, const int *targets, float dlpp, int BT,
                                  int V, int row_ld, cudaStream_t s)
{
    if (BT > 0) {
        int vec = zsf_aligned16(logits_dlogits) && (size_t)row_ld * sizeof(T) % 16 == 0;
        crossentropy_backward_kernel<T><<<(unsigned)BT, ZSF_BLOCK, 0, s>>>(logits_dlogits, stats, targets, dlpp, V,
                                                                           row_ld, vec);
        CUDA_CHECK_LAUNCH();
    }
}

#endif
