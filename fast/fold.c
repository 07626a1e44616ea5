/* The rank-order fold (fold.h). */
#include "fold.h"

void zsf_fold_rank_order(float *out, const float *blocks, size_t count, int world, zsf_dtype dt)
{
    for (size_t i = 0; i < count; i++) {
        float s = blocks[i];
        for (int r = 1; r < world; r++)
            s = zsf_round(dt, s + blocks[(size_t)r * count + i]);
        out[i] = s;
    }
}
