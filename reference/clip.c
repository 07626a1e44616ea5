#include "clip.h"

#include <math.h>

float zs_clip_scaled_norm(zs_comm *comm, const float *const *grads, size_t len, int replicated)
{
    double partial[64];   /* ZS_MAX_WORLD ranks */
    int world = replicated ? 1 : comm->world;
    for (int r = 0; r < world; r++) {
        double acc = 0.0;
        for (size_t j = 0; j < len; j++)
            acc += (double)grads[r][j] * (double)grads[r][j];
        partial[r] = acc;
    }
    double total = world == 1 ? partial[0] : zs_all_reduce_sum_f64(comm, partial, "grad norm");
    return (float)sqrt(total);
}

float zs_clip_inverse_scale(float norm_scaled, float loss_scale, double clip)
{
    float combined = loss_scale;
    if (clip > 0.0) {
        float coef = ((norm_scaled / loss_scale) + 1e-6f) / (float)clip;
        if (coef > 1.0f)
            combined = coef * loss_scale;
    }
    return 1.0f / combined;
}
