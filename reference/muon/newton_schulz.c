/* Newton-Schulz iterations of Muon with emulated bf16/fp16 matmuls (see newton_schulz.h). */
#include "muon/newton_schulz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "precision.h"

zs_dtype zs_ns_compute_dtype(zs_ns_method method)
{
    return method == ZS_NS_GRAM ? ZS_F16 : ZS_BF16;
}

void zs_ns_matmul(zs_dtype t, const float *A, const float *B, int b_transposed, float *C, int n, int k, int m)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            float acc = 0.0f;
            for (int q = 0; q < k; q++)
                acc += A[(size_t)i * k + q] * (b_transposed ? B[(size_t)j * k + q] : B[(size_t)q * m + j]);
            C[(size_t)i * m + j] = zs_round_to(t, acc);
        }
}

/* out = round(fl32(s)*x + y) as torch evaluates `s * X + Y`: two ops, each rounded. */
static void scale_add(zs_dtype t, double s, const float *X, const float *Y, float *out, size_t n)
{
    float sf = (float)s;
    for (size_t i = 0; i < n; i++)
        out[i] = zs_round_to(t, zs_round_to(t, sf * X[i]) + Y[i]);
}

static void scale(zs_dtype t, double s, const float *X, float *out, size_t n)
{
    float sf = (float)s;
    for (size_t i = 0; i < n; i++)
        out[i] = zs_round_to(t, sf * X[i]);
}

/* Work space for one orthogonalisation of an n x m matrix (n <= m). */
typedef struct ns_work {
    int n, m;
    float *X, *P;            /* n x m: the iterate and a product */
    float *A, *B, *cA, *Q, *Z, *RZ, *T;   /* n x n */
} ns_work;

/* Z = b*R + (c*R) @ R: the polynomial's non-linear part, evaluated on an n x n symmetric R. */
static void poly(const ns_work *w, zs_dtype t, const float *R, float *Z)
{
    size_t nn = (size_t)w->n * (size_t)w->n;
    scale(t, ZS_NS_C, R, w->cA, nn);
    zs_ns_matmul(t, w->cA, R, 0, w->T, w->n, w->n, w->n);
    scale_add(t, ZS_NS_B, R, w->T, Z, nn);
}

/* zeropower_via_newtonschulz5's loop: A = X X^T ; B = b A + (c A) A ; X = a X + B X. */
static void standard_iterations(const ns_work *w, zs_dtype t, int steps)
{
    size_t nm = (size_t)w->n * (size_t)w->m;
    for (int s = 0; s < steps; s++) {
        zs_ns_matmul(t, w->X, w->X, 1, w->A, w->n, w->m, w->n);
        poly(w, t, w->A, w->B);
        zs_ns_matmul(t, w->B, w->X, 0, w->P, w->n, w->n, w->m);
        scale_add(t, ZS_NS_A, w->X, w->P, w->X, nm);
    }
}

/* zeropower_via_gram_newtonschulz's loop on R = X X^T (here w->A) with Q accumulated and one
 * restart at iteration 2 (X = Q X, R = X X^T); at the end X = Q X. */
static void gram_iterations(const ns_work *w, zs_dtype t, int steps)
{
    const int restart_at = 2;
    int n = w->n, m = w->m, have_q = 0;
    size_t nn = (size_t)n * (size_t)n;
    float *R = w->A;
    zs_ns_matmul(t, w->X, w->X, 1, R, n, m, n);
    for (int i = 0; i < steps; i++) {
        if (i == restart_at) {
            zs_ns_matmul(t, w->Q, w->X, 0, w->P, n, n, m);
            memcpy(w->X, w->P, (size_t)n * (size_t)m * sizeof(float));
            zs_ns_matmul(t, w->X, w->X, 1, R, n, m, n);
            have_q = 0;
        }
        poly(w, t, R, w->Z);
        if (!have_q) {   /* Q = Z.clone(); Q.diagonal().add_(a) */
            memcpy(w->Q, w->Z, nn * sizeof(float));
            for (int d = 0; d < n; d++)
                w->Q[(size_t)d * n + d] = zs_round_to(t, w->Q[(size_t)d * n + d] + (float)ZS_NS_A);
            have_q = 1;
        } else {         /* Q = a*Q + Z @ Q */
            zs_ns_matmul(t, w->Z, w->Q, 0, w->T, n, n, n);
            scale_add(t, ZS_NS_A, w->Q, w->T, w->Q, nn);
        }
        if (i < steps - 1 && i + 1 != restart_at) {   /* R = p(R) R p(R), p = a I + Z */
            zs_ns_matmul(t, w->Z, R, 0, w->T, n, n, n);
            scale_add(t, ZS_NS_A, R, w->T, w->RZ, nn);
            zs_ns_matmul(t, w->Z, w->RZ, 0, w->T, n, n, n);
            scale_add(t, ZS_NS_A, w->RZ, w->T, R, nn);
        }
    }
    zs_ns_matmul(t, w->Q, w->X, 0, w->P, n, n, m);
    memcpy(w->X, w->P, (size_t)n * (size_t)m * sizeof(float));
}

static void free_work(ns_work *w)
{
    free(w->X);
    free(w->P);
    free(w->A);
    free(w->B);
    free(w->cA);
    free(w->Q);
    free(w->Z);
    free(w->RZ);
    free(w->T);
}

static int alloc_work(ns_work *w, int n, int m)
{
    size_t nm = (size_t)n * (size_t)m, nn = (size_t)n * (size_t)n;
    *w = (ns_work){.n = n, .m = m};
    w->X = malloc(nm * sizeof(float));
    w->P = malloc(nm * sizeof(float));
    float **sq[] = {&w->A, &w->B, &w->cA, &w->Q, &w->Z, &w->RZ, &w->T};
    int ok = w->X && w->P;
    for (size_t i = 0; i < sizeof sq / sizeof sq[0]; i++)
        ok = (*sq[i] = malloc(nn * sizeof(float))) && ok;
    if (!ok)
        free_work(w);
    return ok ? 0 : -1;
}

int zs_newton_schulz(zs_ns_method method, const float *G, int rows, int cols, int steps, float *out)
{
    zs_dtype t = zs_ns_compute_dtype(method);
    int tall = rows > cols;   /* X = G.mT so that X is n x m with n <= m */
    int n = tall ? cols : rows, m = tall ? rows : cols;
    ns_work w;
    if (alloc_work(&w, n, m))
        return -1;
    size_t nm = (size_t)n * (size_t)m;
    float sumsq = 0.0f;   /* X.norm() of the compute-dtype copy, fp32 accumulation, row-major order of G */
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float x = zs_round_to(t, G[(size_t)i * cols + j]);
            sumsq += x * x;
            w.X[tall ? (size_t)j * m + i : (size_t)i * m + j] = x;
        }
    float denom = zs_round_to(t, zs_round_to(t, sqrtf(sumsq)) + (float)1e-7);
    for (size_t i = 0; i < nm; i++)
        w.X[i] = zs_round_to(t, w.X[i] / denom);
    if (method == ZS_NS_GRAM && m > n)
        gram_iterations(&w, t, steps);
    else
        standard_iterations(&w, t, steps);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[(size_t)i * cols + j] = w.X[tall ? (size_t)j * m + i : (size_t)i * m + j];
    free_work(&w);
    return 0;
}
