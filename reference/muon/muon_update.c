/* original_muon.py muon_update (nesterov, ns_steps 5, not an expert group) for one parameter. */
#include <math.h>
#include <stdlib.h>

#include "muon/muon.h"
#include "optim/torch_math.h"
#include "precision.h"

int zs_muon_update(zs_dtype t, float *G, float *M, int rows, int cols, double beta, zs_ns_method method)
{
    size_t n = (size_t)rows * (size_t)cols;
    const float w_mom = (float)(1.0 - beta), w_nes = (float)beta;   /* Python scalars -> opmath float */
    for (size_t i = 0; i < n; i++) {
        M[i] = zs_round_to(t, zs_torch_lerp(M[i], G[i], w_mom));    /* momentum.lerp_(grad, 1 - beta) */
        G[i] = zs_round_to(t, zs_torch_lerp(G[i], M[i], w_nes));    /* grad.lerp_(momentum, beta) */
    }
    if (zs_newton_schulz(method, G, rows, cols, ZS_NS_STEPS, G))
        return -1;
    if (rows > cols) {   /* update *= max(1, rows/cols)**0.5, in the NS dtype */
        zs_dtype c = zs_ns_compute_dtype(method);
        float s = (float)pow((double)rows / (double)cols, 0.5);
        for (size_t i = 0; i < n; i++)
            G[i] = zs_round_to(c, G[i] * s);
    }
    zs_round_array(t, G, n);   /* update.to(orig_dtype) */
    return 0;
}
