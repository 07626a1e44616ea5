/* Newton-Schulz orthogonalisation of Muon (DeepSpeed v0.19.6 runtime/zero/muon/original_muon.py
 * zeropower_via_newtonschulz5 = "standard", zeropower_via_gram_newtonschulz = "gram"), with the
 * low-precision matmuls emulated (docs/spec/optimizers.md §8.3 is normative).
 *
 * Emulation: every tensor in the iteration holds values of the compute dtype (bf16 for "standard",
 * fp16 for "gram": DeepSpeed's choice on a GPU that supports them). Every operation DeepSpeed writes
 * as one torch op rounds its result to that dtype once:
 *   matmul   C[i][j] = round(sum_{k=0..K-1} A[i][k]*B[k][j]), products exact in fp32, the sum a
 *            left fold in fp32 in k order (cuBLAS fp32 accumulation, one fixed order);
 *   scalar   round(fl32(s) * x);  sum  round(x + y);  the Frobenius norm round(sqrtf(sum of x^2
 *            in fp32, row-major order)).
 * Python's `c * A @ A` is `(c*A) @ A` (* and @ share one precedence, left to right). */
#ifndef ZS_REFERENCE_MUON_NEWTON_SCHULZ_H
#define ZS_REFERENCE_MUON_NEWTON_SCHULZ_H

#include "zerospec/dtype.h"

typedef enum zs_ns_method { ZS_NS_GRAM = 0, ZS_NS_STANDARD } zs_ns_method;

/* The quintic's coefficients (a, b, c) and DeepSpeed's iteration count (muon_update ns_steps). */
#define ZS_NS_A 3.4445
#define ZS_NS_B (-4.7750)
#define ZS_NS_C 2.0315
#define ZS_NS_STEPS 5

/* The dtype the method computes in: gram fp16, standard bf16. */
zs_dtype zs_ns_compute_dtype(zs_ns_method method);

/* C[n x m] = round_t(A[n x k] @ B[k x m]) (row-major; C must not alias A or B). b_transposed: B is
 * given as its transpose, an [m x k] row-major array (X @ X.mT without a copy). */
void zs_ns_matmul(zs_dtype t, const float *A, const float *B, int b_transposed, float *C, int n, int k, int m);

/* out[rows x cols] = the orthogonalised G (row-major, any values; out may alias G), `steps`
 * iterations. Transposes when rows > cols, normalises by the Frobenius norm + 1e-7, iterates, and
 * transposes back; the aspect-ratio scale is the caller's (muon_update). "gram" on a square matrix
 * runs the standard iteration in fp16, as DeepSpeed does. Returns -1 only when out of memory. */
int zs_newton_schulz(zs_ns_method method, const float *G, int rows, int cols, int steps, float *out);

#endif
