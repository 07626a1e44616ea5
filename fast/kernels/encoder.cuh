/* Token + position embedding. out[B,T,C] = fl_M(wte[inp[b,t]] + wpe[t]), stored as S (common.cuh);
 * wte, wpe in the model dtype (S), their gradients fp32 buffers.
 * Backward: dwte[v] += sum over positions with inp == v of dout (added to the LM head's gradient
 * already in dwte, positions in (b, t) order); dwpe[t] = sum over b of dout[b, t] (b in order). */
#ifndef ZS_FAST_KERNELS_ENCODER_CUH
#define ZS_FAST_KERNELS_ENCODER_CUH

#include "common.cuh"

template <class S>
__global__ static void encoder_forward_kernel(S *out, const int *inp, const S *wte, const S *wpe, int B,
                                              int T, int C)
{
    size_t i = zsf_tid();   /* over B*T*C */
    if (i >= (size_t)B * T * C)
        return;
    size_t bt = i / C, c = i % C, t = bt % T;
    out[i] = st<S>(ld(wte[(size_t)inp[bt] * C + c]) + ld(wpe[t * C + c]));
}

/* One block per position: the block of the first position holding token v owns row v of dwte and
 * adds dout of every position with that token, in (b, t) order: the reference's order, so the result
 * is bit-identical to it, with no atomics. Each tile of ZSF_BLOCK positions is compacted in order
 * (warp ballots) into the list of matches, which the threads then add channel by channel. */
template <class S>
__global__ static void encoder_backward_wte_kernel(float *dwte, const S *dout, const int *inp, int BT, int C)
{
    __shared__ int match[ZSF_BLOCK];
    __shared__ int warp_count[ZSF_WARPS_PER_BLOCK];
    const int first = (int)blockIdx.x, v = inp[first];
    const int lane = (int)threadIdx.x % 32, warp = (int)threadIdx.x / 32;
    float *row = dwte + (size_t)v * C;
    for (int base = 0; base < BT; base += ZSF_BLOCK) {
        int p = base + (int)threadIdx.x;
        int hit = p < BT && inp[p] == v;
        if (__syncthreads_or(hit && p < first))
            return;   /* an earlier position owns token v (the whole block leaves together) */
        if (base + ZSF_BLOCK <= first)
            continue;
        unsigned mask = __ballot_sync(0xffffffffu, hit);
        if (lane == 0)
            warp_count[warp] = __popc(mask);
        __syncthreads();
        int n = 0, pos = __popc(mask & ((1u << lane) - 1u));
        for (int w = 0; w < ZSF_WARPS_PER_BLOCK; w++) {
            pos += w < warp ? warp_count[w] : 0;
            n += warp_count[w];
        }
        if (hit)
            match[pos] = p;
        __syncthreads();
        for (int j = 0; j < n; j++)
            for (int c = (int)threadIdx.x; c < C; c += ZSF_BLOCK)
                row[c] = row[c] + ld(dout[(size_t)match[j] * C + c]);
        __syncthreads();   /* match and warp_count are refilled by the next tile */
    }
}

template <class S>
__global__ static void encoder_backward_wpe_kernel(float *dwpe, const S *dout, int B, int T, int C)
{
    size_t i = zsf_tid();   /* over T*C */
    if (i >= (size_t)T * C)
        return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++)
        acc = acc + ld(dout[(size_t)b * T * C + i]);
    dwpe[i] = acc;
}

template <class S>
static void encoder_forward(S *out, const int *inp, const S *wte, const S *wpe, int B, int T, int C,
                            cudaStream_t s)
{
    ZSF_LAUNCH(encoder_forward_kernel<S>, (size_t)B * T * C, s, out, inp, wte, wpe, B, T, C);
}

template <class S>
static void encoder_backward_wte(float *dwte, const S *dout, const int *inp, int BT, int C, cudaStream_t s)
{
    if (BT > 0) {
        encoder_backward_wte_kernel<S><<<(unsigned)BT, ZSF_BLOCK, 0, s>>>(dwte, dout, inp, BT, C);
        CUDA_CHECK_LAUNCH();
    }
}

template <class S>
static void encoder_backward(float *dwte, float *dwpe, const S *dout, const int *inp, int B, int T, int C,
                             cudaStream_t s)
{
    encoder_backward_wte(dwte, dout, inp, B * T, C, s);
    ZSF_LAUNCH(encoder_backward_wpe_kernel<S>, (size_t)T * C, s, dwpe, dout, B, T, C);
}

#endif
