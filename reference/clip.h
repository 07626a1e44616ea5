/* Global gradient norm across ranks and DeepSpeed's unscale-and-clip (docs/spec.md §11). */
#ifndef ZS_REFERENCE_CLIP_H
#define ZS_REFERENCE_CLIP_H

#include <stddef.h>

#include "collectives.h"

/* L2 norm of the (loss-scaled) gradient held as W partitions of `len` elements: each rank sums g^2
 * over its partition in fp64 (partition order), the partial sums are all-reduced in fp64 (rank order),
 * and the root is rounded to fp32. With `replicated` (stage 0: every rank holds the whole gradient)
 * rank 0's sum is the norm and no collective runs. */
float zs_clip_scaled_norm(zs_comm *comm, const float *const *grads, size_t len, int replicated);

/* The factor DeepSpeed multiplies gradients by before the optimizer: 1 / combined, with
 * combined = S * max(1, (N_S / S + 1e-6) / clip) (just S when clip <= 0), all in fp32. */
float zs_clip_inverse_scale(float norm_scaled, float loss_scale, double clip);

#endif
