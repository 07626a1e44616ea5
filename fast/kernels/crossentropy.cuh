/* Softmax cross-entropy per position. logits[BT,V] (fp32, rows ld apart) become probs in place
 * (softmax of fl_M(logits) with the row maximum subtracted: the logits' rounding point is applied as
 * they are read; one block per row, reductions in a fixed order); losses[bt] =
 * -log(probs[target]). The loss of the micro-batch is the mean, summed in bt order in fp32 (one thread).
 * All of these are fp32. Backward: dlogits = fl_M((probs - onehot) * dlpp) with dlpp = dloss / (B*T),
 * stored as T with the same row stride (fp32: in place over probs). fp16/bf16 pad the rows to a
 * multiple of 64 (model.cu) so that the LM head's tensor-core GEMMs see aligned leading dimensions. */
#ifndef ZS_FAST_KERNELS_CROSSENTROPY_CUH
#define ZS_FAST_KERNELS_CROSSENTROPY_CUH

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

/* One block of ZSF_BLOCK threads per row; each thread folds v = tid, tid + ZSF_BLOCK, ... in order. */
template <class T>
__global__ static void crossentropy_forward_kernel(float *losses, float *logits_probs, const int *targets, int BT,
                                                   int V, int ld)
{
    size_t bt = blockIdx.x;
    float *p = logits_probs + bt * ld;
    float maxv = -INFINITY;
    for (int v = (int)threadIdx.x; v < V; v += ZSF_BLOCK) {
        float x = rnd<T>(p[v]);   /* the logits are a rounding point */
        maxv = x > maxv ? x : maxv;
    }
    maxv = block_reduce(maxv, 1);
    float sum = 0.0f;
    for (int v = (int)threadIdx.x; v < V; v += ZSF_BLOCK) {
        p[v] = expf(rnd<T>(p[v]) - maxv);
        sum = sum + p[v];
    }
    float inv = 1.0f / block_reduce(sum, 0);
    for (int v = (int)threadIdx.x; v < V; v += ZSF_BLOCK)
        p[v] = p[v] * inv;
    __syncthreads();   /* p[target] may be another thread's element */
    if (threadIdx.x == 0)
        losses[bt] = -logf(p[targets[bt]]);
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

template <class T>
__global__ static void crossentropy_backward_kernel(T *dlogits, const float *probs, const int *targets, float dlpp,
                                                    int BT, int V, int ld)
{
    size_t i = zsf_tid();
    if (i >= (size_t)BT * V)
        return;
    size_t bt = i / V;
    int v = (int)(i % V);
    float indicator = v == targets[bt] ? 1.0f : 0.0f;
    dlogits[bt * ld + v] = st<T>((probs[bt * ld + v] - indicator) * dlpp);
}

template <class T>
static void crossentropy_forward(float *loss, float *losses, float *logits_probs, const int *targets, int BT, int V,
                                 int ld, cudaStream_t s)
{
    if (BT > 0) {
        crossentropy_forward_kernel<T><<<(unsigned)BT, ZSF_BLOCK, 0, s>>>(losses, logits_probs, targets, BT, V, ld);
        CUDA_CHECK_LAUNCH();
    }
    ZSF_LAUNCH(mean_loss_kernel, 1, s, loss, losses, BT);
}

template <class T>
static void crossentropy_backward(T *dlogits, const float *probs, const int *targets, float dlpp, int BT, int V,
                                  int ld, cudaStream_t s)
{
    ZSF_LAUNCH(crossentropy_backward_kernel<T>, (size_t)BT * V, s, dlogits, probs, targets, dlpp, BT, V, ld);
}

#endif
