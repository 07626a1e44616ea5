/* LayerNorm over C: out = ((x - mean) * rstd) * weight + bias, rstd = 1 / sqrt(var + 1e-5), var biased,
 * optionally after the residual add that produces x. inp, out: [BT, C] stored as T (common.cuh); mean, rstd: [BT] fp32 (kept for the backward pass);
 * weight, bias in the model dtype (T, read widened), the parameter gradients fp32 buffers. One warp per row: each lane folds
 * its channels in order, 16-byte vectors of N = zsf_vec_n<T> channels c0 = N lane, N (lane + 32), ...
 * (common.cuh), then a fixed butterfly; the variance stays two-pass as the spec says. */
#ifndef ZS_FAST_KERNELS_LAYERNORM_CUH
#define ZS_FAST_KERNELS_LAYERNORM_CUH

#include "common.cuh"

/* With a residual, inp first becomes fl_M(residual + inp) (the residual add's rounding point, stored:
 * the backward pass reads it) and is then normalised: the add of the layer before, done where its
 * sum is read anyway. As kernels of their own the 24 adds cost 0.7-0.9 ms per bf16 step on an H100,
 * here 0.3 (performance-notes.md run 9). Without a residual, inp is only read. */
template <class T>
__global__ static void layernorm_forward_kernel(T *out, float *mean, float *rstd, T *inp, const T *residual,
                                                const T *weight, const T *bias, int BT, int C, int vec)
{
    const int N = zsf_vec_n<T>;
    size_t bt = zsf_warp_row();
    int lane = threadIdx.x % 32;
    if (bt >= (size_t)BT)
        return;
    T *x = inp + bt * C;
    float m = 0.0f;
    for (int c0 = N * lane; c0 < C; c0 += 32 * N) {
        zsf_vec<T> xv = vload((const T *)x, c0, C, vec);
        if (residual) {
            zsf_vec<T> rv = vload(residual + bt * C, c0, C, vec);
#pragma unroll
            for (int j = 0; j < zsf_vec_n<T>; j++)
                xv.v[j] = st<T>(ld(rv.v[j]) + ld(xv.v[j]));
            vstore(x, c0, C, vec, xv);   /* read back below by this thread only */
        }
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++)
            if (c0 + j < C)
                m = m + ld(xv.v[j]);
    }
    m = warp_sum(m) / (float)C;
    float v = 0.0f;
    for (int c0 = N * lane; c0 < C; c0 += 32 * N) {
        zsf_vec<T> xv = vload((const T *)x, c0, C, vec);
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++)
            if (c0 + j < C) {
                float dx = ld(xv.v[j]) - m;
                v = v + dx * dx;
            }
    }
    v = warp_sum(v) / (float)C;
    float s = 1.0f / sqrtf(v + 1e-5f);
    T *o = out + bt * C;
    for (int c0 = N * lane; c0 < C; c0 += 32 * N) {
        zsf_vec<T> xv = vload((const T *)x, c0, C, vec), wv = vload(weight, c0, C, vec), bv = vload(bias, c0, C, vec);
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++)
            xv.v[j] = st<T>(((ld(xv.v[j]) - m) * s) * ld(wv.v[j]) + ld(bv.v[j]));
        vstore(o, c0, C, vec, xv);
    }
    if (lane == 0) {
        mean[bt] = m;
        rstd[bt] = s;
    }
}

/* dinp[bt] = fl_M(dinp[bt] + ((dnorm - mean(dnorm)) - norm * mean(dnorm * norm)) * rstd), dnorm =
 * weight * dout: the residual stream's gradient, complete once this path is added (a rounding point).
 * One warp per row, vectors as in the forward kernel. */
template <class T>
__global__ static void layernorm_backward_dinp_kernel(T *__restrict__ dinp, const T *__restrict__ dout,
                                                      const T *__restrict__ inp, const T *__restrict__ weight,
                                                      const float *__restrict__ mean, const float *__restrict__ rstd,
                                                      int BT, int C, int vec)
{
    const int N = zsf_vec_n<T>;
    size_t bt = zsf_warp_row();
    int lane = threadIdx.x % 32;
    if (bt >= (size_t)BT)
        return;
    const T *d = dout + bt * C, *x = inp + bt * C;
    T *dx = dinp + bt * C;
    float m = mean[bt], s = rstd[bt];
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (int c0 = N * lane; c0 < C; c0 += 32 * N) {
        zsf_vec<T> xv = vload(x, c0, C, vec), dv = vload(d, c0, C, vec), wv = vload(weight, c0, C, vec);
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++)
            if (c0 + j < C) {
                float norm = (ld(xv.v[j]) - m) * s;
                float dnorm = ld(wv.v[j]) * ld(dv.v[j]);
                dnorm_mean = dnorm_mean + dnorm;
                dnorm_norm_mean = dnorm_norm_mean + dnorm * norm;
            }
    }
    dnorm_mean = warp_sum(dnorm_mean) / (float)C;
    dnorm_norm_mean = warp_sum(dnorm_norm_mean) / (float)C;
    for (int c0 = N * lane; c0 < C; c0 += 32 * N) {
        zsf_vec<T> xv = vload(x, c0, C, vec), dv = vload(d, c0, C, vec), wv = vload(weight, c0, C, vec);
        zsf_vec<T> gv = vload((const T *)dx, c0, C, vec);
#pragma unroll
        for (int j = 0; j < zsf_vec_n<T>; j++) {
            float norm = (ld(xv.v[j]) - m) * s;
            float dnorm = ld(wv.v[j]) * ld(dv.v[j]);
            gv.v[j] = st<T>(ld(gv.v[j]) + ((dnorm - dnorm_mean) - norm * dnorm_norm_mean) * s);
        }
        vstore(dx, c0, C, vec, gv);
    }
}

/* dweight[c] = sum_bt norm * dout, dbias[c] = sum_bt dout, as two-level sums in a fixed order (fp32
 * sums may be reassociated, docs/conformance.md): level 1 cuts the rows into LN_CHUNKS chunks; a block
 * of 32 x 32 threads takes 32 channels of one chunk, thread (r, lane) folds rows lo + r, lo + r + 32,
 * ... in order (a warp reads 32 adjacent channels of a row), thread r = 0 adds the 32 partials in r
 * order into part_w/part_b[chunk][c]; level 2 (fold_chunks_kernel) adds the chunks in order. One
 * block per 32 channels alone kept 24 of 132 SMs busy at C = 768 (13 ms per bf16 step). */
#define LN_ROWS 32
#define LN_CHUNKS 32
template <class T>
__global__ static void layernorm_backward_params_kernel(float *__restrict__ part_w, float *__restrict__ part_b,
                                                        const T *__restrict__ dout, const T *__restrict__ inp,
                                                        const float *__restrict__ mean,
                                                        const float *__restrict__ rstd, int BT, int C)
{
    __shared__ float sw[LN_ROWS][33], sb[LN_ROWS][33];   /* 33: no bank conflicts in the final sum */
    int lane = threadIdx.x % 32, r = threadIdx.x / 32, chunk = blockIdx.y;
    int c = blockIdx.x * 32 + lane;
    int per = (BT + LN_CHUNKS - 1) / LN_CHUNKS, lo = chunk * per, hi = lo + per < BT ? lo + per : BT;
    float dw = 0.0f, db = 0.0f;
    if (c < C) {
#pragma unroll 4
        for (int bt = lo + r; bt < hi; bt += LN_ROWS) {
            float d = ld(dout[(size_t)bt * C + c]);
            float norm = (ld(inp[(size_t)bt * C + c]) - mean[bt]) * rstd[bt];
            db = db + d;
            dw = dw + norm * d;
        }
    }
    sw[r][lane] = dw;
    sb[r][lane] = db;
    __syncthreads();
    if (r == 0 && c < C) {
        dw = 0.0f;
        db = 0.0f;
        for (int k = 0; k < LN_ROWS; k++) {
            dw = dw + sw[k][lane];
            db = db + sb[k][lane];
        }
        part_w[(size_t)chunk * C + c] = dw;
        part_b[(size_t)chunk * C + c] = db;
    }
}

/* 16-byte vectors (common.cuh) when every row of every operand starts aligned: the pointers are, and
 * C is a multiple of the vector width. */
template <class T, class... P> static inline int layernorm_vec(int C, const P *...p)
{
    return C % zsf_vec_n<T> == 0 && zsf_aligned16(p...);
}

/* out = LayerNorm(x); with a residual (else NULL), x = fl_M(residual + x) first, in place. */
template <class T>
static void layernorm_forward(T *out, float *mean, float *rstd, T *x, const T *residual, const T *weight,
                              const T *bias, int BT, int C, cudaStream_t s)
{
    ZSF_LAUNCH_ROWS(layernorm_forward_kernel<T>, (size_t)BT, s, out, mean, rstd, x, residual, weight, bias, BT, C,
                    layernorm_vec<T>(C, out, x, weight, bias, residual));
}

/* part: LAYERNORM_SCRATCH(C) floats of scratch. */
#define LAYERNORM_SCRATCH(C) (2 * (size_t)LN_CHUNKS * (size_t)(C))
template <class T>
static void layernorm_backward_params(float *dweight, float *dbias, float *part, const T *dout, const T *inp,
                                      const float *mean, const float *rstd, int BT, int C, cudaStream_t s)
{
    if (C <= 0)
        return;
    float *part_w = part, *part_b = part + (size_t)LN_CHUNKS * C;
    dim3 grid((unsigned)((C + 31) / 32), LN_CHUNKS);
    layernorm_backward_params_kernel<T><<<grid, 32 * LN_ROWS, 0, s>>>(part_w, part_b, dout, inp, mean, rstd, BT, C);
    CUDA_CHECK_LAUNCH();
    ZSF_LAUNCH(fold_chunks_kernel, (size_t)C, s, dweight, part_w, C, LN_CHUNKS);
    ZSF_LAUNCH(fold_chunks_kernel, (size_t)C, s, dbias, part_b, C, LN_CHUNKS);
}
#undef LN_ROWS

/* Adds the input gradient into dinp (the residual stream's gradient, rounded). */
template <class T>
static void layernorm_backward_dinp(T *dinp, const T *dout, const T *inp, const T *weight, const float *mean,
                                    const float *rstd, int BT, int C, cudaStream_t s)
{
    ZSF_LAUNCH_ROWS(layernorm_backward_dinp_kernel<T>, (size_t)BT, s, dinp, dout, inp, weight, mean, rstd, BT, C,
                    layernorm_vec<T>(C, dinp, dout, inp, weight));
}

/* Adds the input gradient into dinp and writes dweight, dbias. */
template <class T>
static void layernorm_backward(T *dinp, float *dweight, float *dbias, float *part, const T *dout, const T *inp,
                               const T *weight, const float *mean, const float *rstd, int BT, int C,
                               cudaStream_t s)
{
    layernorm_backward_dinp(dinp, dout, inp, weight, mean, rstd, BT, C, s);
    layernorm_backward_params(dweight, dbias, part, dout, inp, mean, rstd, BT, C, s);
}

#endif
