/* Kernels of the 1-bit family (docs/spec/optimizers.md §8): the element arithmetic of the torch calls
 * DeepSpeed makes on CUDA fp32 tensors (Python scalars rounded to float by the caller: b1 = fl32(b),
 * omb1 = fl32(1 - b), division by a Python float as a multiply by the float reciprocal), the sign
 * compression with its packed bits, and block reductions over segments (one block per tensor).
 *
 * Norms are squares summed in double: each square of a float is exact in double, so the sum differs
 * from the spec's index-order sum only in the last bits of a double, far below the fp32 rounding of
 * the result. Maxima are order-independent. The block tree has a fixed shape: runs are bit-identical. */
#ifndef ZS_FAST_KERNELS_ONEBIT_CUH
#define ZS_FAST_KERNELS_ONEBIT_CUH

#include <stdint.h>

#include "common.cuh"

#define ZSF_OB_THREADS 256

/* Sum over the block's threads (every thread calls it; every thread gets the sum). */
__device__ static inline double ob_block_sum(double v)
{
    __shared__ double s[ZSF_OB_THREADS];
    __syncthreads();   /* a previous call's readers are done */
    s[threadIdx.x] = v;
    __syncthreads();
    for (int h = ZSF_OB_THREADS / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h)
            s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    return s[0];
}

/* torch.max: NaN wins, otherwise the largest. */
__device__ static inline float ob_max(float a, float b)
{
    return isnan(a) || isnan(b) ? NAN : (b > a ? b : a);
}

__device__ static inline float ob_block_max(float v)
{
    __shared__ float s[ZSF_OB_THREADS];
    __syncthreads();
    s[threadIdx.x] = v;
    __syncthreads();
    for (int h = ZSF_OB_THREADS / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h)
            s[threadIdx.x] = ob_max(s[threadIdx.x], s[threadIdx.x + h]);
        __syncthreads();
    }
    return s[0];
}

/* The compressed sign (sign().add_(1).bool()): only a value below zero is -1; 0, -0 and NaN give +1. */
__device__ static inline float ob_sign(float y)
{
    return y < 0.0f ? -1.0f : 1.0f;
}

/* Element i of a packed sign vector: bit 7 - i%8 of byte i/8 (np.packbits order), set for +1. */
__device__ static inline float ob_bit(const uint8_t *bits, size_t i)
{
    return (bits[i / 8] >> (7 - i % 8)) & 1 ? 1.0f : -1.0f;
}

/* ---- compressed all-reduce ------------------------------------------------------------------ */

/* One block: x = x + add (when add), then *scale = fl32(sqrt(sum x^2)) * inv_sqrt_n. */
__global__ static void ob_rms_kernel(float *x, const float *add, size_t n, float inv_sqrt_n, float *scale)
{
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        float y = add ? x[i] + add[i] : x[i];
        x[i] = y;
        acc += (double)y * (double)y;
    }
    double sum = ob_block_sum(acc);
    if (threadIdx.x == 0)
        *scale = (float)sqrt(sum) * inv_sqrt_n;
}

/* One thread per byte: the signs of y[8q..8q+8) packed into bits[q]; err = y - scale*sign (err may
 * alias y: each element is read before it is written). */
__global__ static void ob_pack_kernel(const float *y, float *err, const float *scale, size_t nbytes, uint8_t *bits)
{
    size_t q = zsf_tid();
    if (q >= nbytes)
        return;
    const float s = *scale;
    unsigned byte = 0;
    for (int k = 0; k < 8; k++) {
        float v = y[8 * q + k], b = ob_sign(v);
        err[8 * q + k] = v - s * b;
        byte |= (b > 0.0f ? 1u : 0u) << (7 - k);
    }
    bits[q] = (uint8_t)byte;
}

/* Server side of one chunk: z = 0 + sum over ranks r (rank order) of b_r*(s_r*w_inv), then z = z + f;
 * f receives z. recv holds the W ranks' packed chunks back to back. */
__global__ static void ob_server_sum_kernel(float *f, const uint8_t *recv, const float *scales, float w_inv,
                                            size_t chunk, int world)
{
    size_t i = zsf_tid();
    if (i >= chunk)
        return;
    float sum = 0.0f;
    for (int r = 0; r < world; r++)
        sum = sum + ob_bit(recv + (size_t)r * (chunk / 8), i) * (scales[r] * w_inv);
    f[i] = sum + f[i];
}

/* x[i] = t_j * c_i, j = i / chunk: the gathered server chunks. */
__global__ static void ob_unpack_kernel(float *x, const uint8_t *bits, const float *t, size_t chunk, size_t n)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = t[i / chunk] * ob_bit(bits, i);
}

/* ---- optimizer element arithmetic ----------------------------------------------------------- */

/* m = ema(m, g*inv); with v: v = ema_sq(v, g*inv) (m.mul_(b).add_(1-b, g), v.mul_(b).addcmul_(...)). */
__global__ static void ob_moments_kernel(float *m, float *v, const float *g, float inv, size_t n, float b1,
                                         float omb1, float b2, float omb2)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    float x = g[i] * inv;
    if (v)
        v[i] = v[i] * b2 + omb2 * (x * x);
    m[i] = m[i] * b1 + omb1 * x;
}

/* d = neg_lr * (m/(sqrt(v) + eps) (+ wd*p)) ; p = p + d ; acc = acc + d (ZeroOneAdam phase 2). */
__global__ static void ob_update_kernel(float *p, const float *m, const float *v, float *acc, size_t n, float neg_lr,
                                        float eps, float wd, int has_wd)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    float u = m[i] / (sqrtf(v[i]) + eps);
    if (has_wd)
        u = u + wd * p[i];
    float d = neg_lr * u;
    p[i] = p[i] + d;
    if (acc)
        acc[i] = acc[i] + d;
}

/* dst = src * s (x * 1.0f is exact: a plain copy). */
__global__ static void ob_scaled_copy_kernel(float *dst, const float *src, float s, size_t n)
{
    size_t i = zsf_tid();
    if (i < n)
        dst[i] = src[i] * s;
}

/* ZeroOneAdam synchronisation, before the all-reduce: p = p - u ; u = u*(sqrt(v) + eps). */
__global__ static void ob_sync_pre_kernel(float *p, float *u, const float *v, float eps, size_t n)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    p[i] = p[i] - u[i];
    u[i] = u[i] * (sqrtf(v[i]) + eps);
}

/* ... and after: m = 0 + -(u/lrs) ; p = p + u/(sqrt(v) + eps) ; u = 0. */
__global__ static void ob_sync_post_kernel(float *p, float *m, float *u, const float *v, float eps, float inv_lrs,
                                           size_t n)
{
    size_t i = zsf_tid();
    if (i >= n)
        return;
    m[i] = 0.0f + -1.0f * (u[i] * inv_lrs);
    p[i] = p[i] + u[i] / (sqrtf(v[i]) + eps);
    u[i] = 0.0f;
}

/* ---- OnebitLamb, one block per tensor t (elements [bounds[t], bounds[t+1])) -------------------- */

/* fl32(sqrt(sum x^2)) of each tensor. */
__global__ static void ob_seg_norm_kernel(const float *x, const size_t *bounds, float *norm)
{
    const size_t lo = bounds[blockIdx.x], hi = bounds[blockIdx.x + 1];
    double acc = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
        acc += (double)x[i] * (double)x[i];
    double sum = ob_block_sum(acc);
    if (threadIdx.x == 0)
        norm[blockIdx.x] = (float)sqrt(sum);
}

/* Warm-up: u = m/(sqrt(v) + eps) (+ wd*p); norms of p and u per tensor. */
__global__ static void ob_lamb_warmup_kernel(const float *p, const float *m, const float *v, float *u,
                                             const size_t *bounds, float eps, float wd, int has_wd, float *w_norm,
                                             float *u_norm)
{
    const size_t lo = bounds[blockIdx.x], hi = bounds[blockIdx.x + 1];
    double wa = 0.0, ua = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float x = m[i] / (sqrtf(v[i]) + eps);
        if (has_wd)
            x = x + wd * p[i];
        u[i] = x;
        wa += (double)p[i] * (double)p[i];
        ua += (double)x * (double)x;
    }
    double ws = ob_block_sum(wa), us = ob_block_sum(ua);
    if (threadIdx.x == 0) {
        w_norm[blockIdx.x] = (float)sqrt(ws);
        u_norm[blockIdx.x] = (float)sqrt(us);
    }
}

/* Compression: m = ema(m, g*inv) * sc[t]. */
__global__ static void ob_lamb_momentum_kernel(float *m, const float *g, float inv, const size_t *bounds,
                                               const float *sc, float b1, float omb1)
{
    const size_t lo = bounds[blockIdx.x], hi = bounds[blockIdx.x + 1];
    const float s = sc[blockIdx.x];
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
        m[i] = (m[i] * b1 + omb1 * (g[i] * inv)) * s;
}

/* After the all-reduce: m = m * inv_sc[t] ; g_rec = (m - m_prev*b1) * inv_omb1 ; vf = ema_sq(vf, g_rec) ;
 * denom = sqrt(v) + eps ; u0 = m/denom ; u = u0 (+ wd*p); per tensor max(denom/(sqrt(vf) + eps)),
 * |u0| and |u|. */
__global__ static void ob_lamb_compressed_kernel(const float *p, float *m, const float *v, float *vf,
                                                 const float *m_prev, float *u, const size_t *bounds,
                                                 const float *inv_sc, float b1, float inv_omb1, float b2, float omb2,
                                                 float eps, float wd, int has_wd, float *max_ratio, float *u0_norm,
                                                 float *u_norm)
{
    const size_t lo = bounds[blockIdx.x], hi = bounds[blockIdx.x + 1];
    const float isc = inv_sc[blockIdx.x];
    float mx = -INFINITY;
    double a0 = 0.0, a1 = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float mi = m[i] * isc;
        m[i] = mi;
        float g_rec = (mi - m_prev[i] * b1) * inv_omb1;
        float f = vf[i] * b2 + omb2 * (g_rec * g_rec);
        vf[i] = f;
        float denom = sqrtf(v[i]) + eps;
        mx = ob_max(mx, denom / (sqrtf(f) + eps));
        float x = mi / denom;
        a0 += (double)x * (double)x;
        if (has_wd)
            x = x + wd * p[i];
        a1 += (double)x * (double)x;
        u[i] = x;
    }
    float r = ob_block_max(mx);
    double s0 = ob_block_sum(a0), s1 = ob_block_sum(a1);
    if (threadIdx.x == 0) {
        max_ratio[blockIdx.x] = r;
        u0_norm[blockIdx.x] = (float)sqrt(s0);
        u_norm[blockIdx.x] = (float)sqrt(s1);
    }
}

/* p = p + step[t]*u. */
__global__ static void ob_seg_axpy_kernel(float *p, const float *u, const size_t *bounds, const float *step)
{
    const size_t lo = bounds[blockIdx.x], hi = bounds[blockIdx.x + 1];
    const float s = step[blockIdx.x];
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
        p[i] = p[i] + s * u[i];
}

#endif
