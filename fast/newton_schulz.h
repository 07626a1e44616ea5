/* Muon's Newton-Schulz orthogonalisation on the device (DeepSpeed v0.19.6 original_muon.py
 * zeropower_via_newtonschulz5 = "standard", zeropower_via_gram_newtonschulz = "gram"), with the
 * fp16/bf16 torch ops emulated as docs/spec/optimizers.md §8a.4 fixes them: every value is one of
 * the compute dtype (gram fp16, standard bf16), every op rounds its result once; a matmul is an fp32
 * sum of exact products in k order, rounded; s*X = round(fl32(s)*x); X + Y = round(x + y).
 *
 * The matmuls are zs-fast's own tiled kernel, each output a left fold in k order (the spec's order),
 * rather than cuBLAS: the iteration amplifies a one-ulp change of an intermediate into O(1%) of the
 * update (docs/conformance.md, Muon), so the fixed order is what makes zs-fast's orthogonalisation
 * bit-identical to the reference's whenever its input is. */
#ifndef ZS_FAST_NEWTON_SCHULZ_H
#define ZS_FAST_NEWTON_SCHULZ_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "rounding.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zsf_ns_method { ZSF_NS_GRAM = 0, ZSF_NS_STANDARD } zsf_ns_method;

/* The quintic's coefficients (a, b, c) and muon_update's ns_steps. */
#define ZSF_NS_A 3.4445
#define ZSF_NS_B (-4.7750)
#define ZSF_NS_C 2.0315
#define ZSF_NS_STEPS 5

/* The dtype the method computes in: gram fp16, standard bf16. */
zsf_dtype zsf_ns_dtype(zsf_ns_method m);

/* Device work space for matrices of at most max_numel elements whose smaller side squared is at most
 * max_square. */
typedef struct zsf_ns_work {
    float *X, *P;                              /* n x m: the iterate and a product */
    float *A, *B, *cA, *Q, *Z, *RZ, *T;        /* n x n */
    float *denom;                              /* the norm's divisor */
} zsf_ns_work;

/* cudaMalloc's the work space; *bytes grows by what it took. */
void zsf_ns_work_init(zsf_ns_work *w, size_t max_numel, size_t max_square, int64_t *bytes);
void zsf_ns_work_free(zsf_ns_work *w);

/* out[rows x cols] = the orthogonalised G (row-major, device; out may alias G): transposed when
 * rows > cols, divided by its Frobenius norm + 1e-7, ZSF_NS_STEPS iterations, transposed back. "gram"
 * on a square matrix runs the standard iteration in fp16, as DeepSpeed does. Asynchronous on s. */
void zsf_newton_schulz(zsf_ns_work *w, zsf_ns_method m, const float *G, int rows, int cols, float *out,
                       cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
