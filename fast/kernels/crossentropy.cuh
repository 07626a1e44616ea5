/* Softmax cross-entropy per position. logits[BT,V] become probs in place (softmax with the row
 * maximum subtracted); losses[bt] = -log(probs[target]). The loss of the micro-batch is the mean,
 * summed in bt order in fp32 (one thread). Backward, in place again: dlogits = (probs - onehot) * dlpp
 * with dlpp = dloss / (B*T). */
#ifndef ZS_FAST_KERNELS_CROSSENTROPY_CUH
#define ZS_FAST_KERNELS_CROSSENTROPY_CUH

#include "common.cuh"

__global__ static void crossentropy_forward_kernel(float *losses, float *logits_probs, const int *targets, int BT,
                                                   int V)
{
    size_t bt = zsf_tid();
    if (bt >= (size_t)BT)
        return;
    float *p = logits_probs + bt * V;
    float maxv = p[0];
    for (int v = 1; v < V; v++)
        maxv = p[v] > maxv ? p[v] : maxv;
    float sum = 0.0f;
    for (int v = 0; v < V; v++) {
        p[v] = expf(p[v] - maxv);
        sum = sum + p[v];
    }
    float inv = 1.0f / sum;
    for (int v = 0; v < V; v++)
        p[v] = p[v] * inv;
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

__global__ static void crossentropy_backward_kernel(float *probs_dlogits, const int *targets, float dlpp, int BT,
                                                    int V)
{
    size_t i = zsf_tid();
    if (i >= (size_t)BT * V)
        return;
    size_t bt = i / V;
    int v = (int)(i % V);
    float indicator = v == targets[bt] ? 1.0f : 0.0f;
    probs_dlogits[i] = (probs_dlogits[i] - indicator) * dlpp;
}

static void crossentropy_forward(float *loss, float *losses, float *logits_probs, const int *targets, int BT, int V,
                                 cudaStream_t s)
{
    ZSF_LAUNCH(crossentropy_forward_kernel, (size_t)BT, s, losses, logits_probs, targets, BT, V);
    ZSF_LAUNCH(mean_loss_kernel, 1, s, loss, losses, BT);
}

static void crossentropy_backward(float *probs_dlogits, const int *targets, float dlpp, int BT, int V,
                                  cudaStream_t s)
{
    ZSF_LAUNCH(crossentropy_backward_kernel, (size_t)BT * V, s, probs_dlogits, targets, dlpp, BT, V);
}

#endif
