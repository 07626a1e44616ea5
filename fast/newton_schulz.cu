/* Newton-Schulz on the device with emulated fp16/bf16 torch ops (newton_schulz.h). One kernel per
 * torch op, each rounding its result to the compute dtype once; the sequence of ops follows
 * original_muon.py (docs/spec/optimizers.md §8a.4). */
#include "newton_schulz.h"

#include <string.h>

#include "kernels/common.cuh"

zsf_dtype zsf_ns_dtype(zsf_ns_method m)
{
    return m == ZSF_NS_GRAM ? ZSF_FP16 : ZSF_BF16;
}

#define NS_TILE 16

/* C[n x m] = round_c(A[n x k] @ B), B given as [k x m] or (b_t) as its transpose [m x k]. Each thread
 * owns one output and adds the exact products in k order, tile after tile: the spec's left fold. */
__global__ static void ns_matmul_kernel(float *C, const float *A, const float *B, int b_t, int n, int k, int m,
                                        zsf_dtype c)
{
    __shared__ float As[NS_TILE][NS_TILE], Bs[NS_TILE][NS_TILE + 1];
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int row = (int)blockIdx.y * NS_TILE + ty, col = (int)blockIdx.x * NS_TILE + tx;
    float acc = 0.0f;
    for (int q0 = 0; q0 < k; q0 += NS_TILE) {
        const int qa = q0 + tx, qb = q0 + ty;
        As[ty][tx] = row < n && qa < k ? A[(size_t)row * k + qa] : 0.0f;
        Bs[ty][tx] = col < m && qb < k ? (b_t ? B[(size_t)col * k + qb] : B[(size_t)qb * m + col]) : 0.0f;
        __syncthreads();
        const int kk = k - q0 < NS_TILE ? k - q0 : NS_TILE;
        for (int q = 0; q < kk; q++)
            acc = acc + As[ty][q] * Bs[q][tx];
        __syncthreads();
    }
    if (row < n && col < m)
        C[(size_t)row * m + col] = zsf_round(c, acc);
}

static void matmul(float *C, const float *A, const float *B, int b_t, int n, int k, int m, zsf_dtype c,
                   cudaStream_t s)
{
    dim3 block(NS_TILE, NS_TILE), grid((unsigned)((m + NS_TILE - 1) / NS_TILE), (unsigned)((n + NS_TILE - 1) / NS_TILE));
    ns_matmul_kernel<<<grid, block, 0, s>>>(C, A, B, b_t, n, k, m, c);
    CUDA_CHECK_LAUNCH();
}

/* out = round(fl32(s)*x) */
__global__ static void ns_scale_kernel(float *out, const float *X, float sf, size_t n, zsf_dtype c)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = zsf_round(c, sf * X[i]);
}

/* out = round(round(fl32(s)*x) + y): torch's `s * X + Y`, two ops. out may alias X or Y. */
__global__ static void ns_scale_add_kernel(float *out, const float *X, const float *Y, float sf, size_t n,
                                           zsf_dtype c)
{
    size_t i = zsf_tid();
    if (i < n)
        out[i] = zsf_round(c, zsf_round(c, sf * X[i]) + Y[i]);
}

/* Q.diagonal().add_(a) */
__global__ static void ns_add_diag_kernel(float *Q, int n, float a, zsf_dtype c)
{
    size_t d = zsf_tid();
    if (d < (size_t)n)
        Q[d * (size_t)n + d] = zsf_round(c, Q[d * (size_t)n + d] + a);
}

/* X.norm() of the compute-dtype copy: the fp32 sum of squares in G's row-major order (one thread: the
 * spec's order), then round(round(sqrtf(S)) + fl32(1e-7)). */
__global__ static void ns_norm_kernel(float *denom, const float *G, size_t n, zsf_dtype c)
{
    float sumsq = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float x = zsf_round(c, G[i]);
        sumsq = sumsq + x * x;
    }
    *denom = zsf_round(c, zsf_round(c, sqrtf(sumsq)) + 1e-7f);
}

/* X = round(round_c(G) / denom), transposed (X = G.mT, n x m) when the matrix is tall. */
__global__ static void ns_load_kernel(float *X, const float *G, int rows, int cols, int tall, const float *denom,
                                      zsf_dtype c)
{
    size_t e = zsf_tid();
    if (e >= (size_t)rows * (size_t)cols)
        return;
    const size_t i = e / (size_t)cols, j = e % (size_t)cols;
    X[tall ? j * (size_t)rows + i : e] = zsf_round(c, zsf_round(c, G[e]) / *denom);
}

/* out = X, transposed back when tall. */
__global__ static void ns_store_kernel(float *out, const float *X, int rows, int cols, int tall)
{
    size_t e = zsf_tid();
    if (e >= (size_t)rows * (size_t)cols)
        return;
    const size_t i = e / (size_t)cols, j = e % (size_t)cols;
    out[e] = X[tall ? j * (size_t)rows + i : e];
}

typedef struct ns_op {
    const zsf_ns_work *w;
    int n, m;
    zsf_dtype c;
    cudaStream_t s;
} ns_op;

static void scale_add(const ns_op *o, double sc, const float *X, const float *Y, float *out, size_t len)
{
    ZSF_LAUNCH(ns_scale_add_kernel, len, o->s, out, X, Y, (float)sc, len, o->c);
}

/* Z = b*R + (c*R) @ R on an n x n R. */
static void poly(const ns_op *o, const float *R, float *Z)
{
    const size_t nn = (size_t)o->n * (size_t)o->n;
    ZSF_LAUNCH(ns_scale_kernel, nn, o->s, o->w->cA, R, (float)ZSF_NS_C, nn, o->c);
    matmul(o->w->T, o->w->cA, R, 0, o->n, o->n, o->n, o->c, o->s);
    scale_add(o, ZSF_NS_B, R, o->w->T, Z, nn);
}

/* zeropower_via_newtonschulz5: A = X X^T ; B = b A + (c A) A ; X = a X + B X. */
static void standard_iterations(const ns_op *o, int steps)
{
    const zsf_ns_work *w = o->w;
    const size_t nm = (size_t)o->n * (size_t)o->m;
    for (int i = 0; i < steps; i++) {
        matmul(w->A, w->X, w->X, 1, o->n, o->m, o->n, o->c, o->s);
        poly(o, w->A, w->B);
        matmul(w->P, w->B, w->X, 0, o->n, o->n, o->m, o->c, o->s);
        scale_add(o, ZSF_NS_A, w->X, w->P, w->X, nm);
    }
}

/* X = Q X (through P). */
static void apply_q(const ns_op *o)
{
    const zsf_ns_work *w = o->w;
    const size_t nm = (size_t)o->n * (size_t)o->m;
    matmul(w->P, w->Q, w->X, 0, o->n, o->n, o->m, o->c, o->s);
    CUDA_CHECK(cudaMemcpyAsync(w->X, w->P, nm * sizeof(float), cudaMemcpyDeviceToDevice, o->s));
}

/* zeropower_via_gram_newtonschulz: the iteration on R = X X^T with Q accumulated, one restart at
 * iteration 2 (X = Q X, R = X X^T), X = Q X at the end. */
static void gram_iterations(const ns_op *o, int steps)
{
    const zsf_ns_work *w = o->w;
    const int restart_at = 2, n = o->n;
    const size_t nn = (size_t)n * (size_t)n;
    float *R = w->A;
    int have_q = 0;
    matmul(R, w->X, w->X, 1, n, o->m, n, o->c, o->s);
    for (int i = 0; i < steps; i++) {
        if (i == restart_at) {
            apply_q(o);
            matmul(R, w->X, w->X, 1, n, o->m, n, o->c, o->s);
            have_q = 0;
        }
        poly(o, R, w->Z);
        if (!have_q) {   /* Q = Z.clone(); Q.diagonal().add_(a) */
            CUDA_CHECK(cudaMemcpyAsync(w->Q, w->Z, nn * sizeof(float), cudaMemcpyDeviceToDevice, o->s));
            ZSF_LAUNCH(ns_add_diag_kernel, (size_t)n, o->s, w->Q, n, (float)ZSF_NS_A, o->c);
            have_q = 1;
        } else {         /* Q = a*Q + Z @ Q */
            matmul(w->T, w->Z, w->Q, 0, n, n, n, o->c, o->s);
            scale_add(o, ZSF_NS_A, w->Q, w->T, w->Q, nn);
        }
        if (i < steps - 1 && i + 1 != restart_at) {   /* R = p(R) R p(R), p = a I + Z */
            matmul(w->T, w->Z, R, 0, n, n, n, o->c, o->s);
            scale_add(o, ZSF_NS_A, R, w->T, w->RZ, nn);
            matmul(w->T, w->Z, w->RZ, 0, n, n, n, o->c, o->s);
            scale_add(o, ZSF_NS_A, w->RZ, w->T, R, nn);
        }
    }
    apply_q(o);
}

void zsf_newton_schulz(zsf_ns_work *w, zsf_ns_method m, const float *G, int rows, int cols, float *out,
                       cudaStream_t s)
{
    const int tall = rows > cols;
    const ns_op o = {w, tall ? cols : rows, tall ? rows : cols, zsf_ns_dtype(m), s};
    const size_t numel = (size_t)rows * (size_t)cols;
    ns_norm_kernel<<<1, 1, 0, s>>>(w->denom, G, numel, o.c);
    CUDA_CHECK_LAUNCH();
    ZSF_LAUNCH(ns_load_kernel, numel, s, w->X, G, rows, cols, tall, w->denom, o.c);
    if (m == ZSF_NS_GRAM && o.m > o.n)
        gram_iterations(&o, ZSF_NS_STEPS);
    else
        standard_iterations(&o, ZSF_NS_STEPS);
    ZSF_LAUNCH(ns_store_kernel, numel, s, out, w->X, rows, cols, tall);
}

static float *ns_alloc(size_t n, int64_t *bytes)
{
    float *p = NULL;
    CUDA_CHECK(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(float)));
    *bytes += (int64_t)((n ? n : 1) * sizeof(float));
    return p;
}

void zsf_ns_work_init(zsf_ns_work *w, size_t max_numel, size_t max_square, int64_t *bytes)
{
    w->X = ns_alloc(max_numel, bytes);
    w->P = ns_alloc(max_numel, bytes);
    float **sq[] = {&w->A, &w->B, &w->cA, &w->Q, &w->Z, &w->RZ, &w->T};
    for (size_t i = 0; i < sizeof sq / sizeof sq[0]; i++)
        *sq[i] = ns_alloc(max_square, bytes);
    w->denom = ns_alloc(1, bytes);
}

void zsf_ns_work_free(zsf_ns_work *w)
{
    float *all[] = {w->X, w->P, w->A, w->B, w->cA, w->Q, w->Z, w->RZ, w->T, w->denom};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cudaFree(all[i]);
    memset(w, 0, sizeof *w);
}
