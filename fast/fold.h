/* The spec's reduction order (docs/spec.md §7), host code: used by the mpi backend's collectives and
 * by the host plugin, which checks it against the op-level collective cases. */
#ifndef ZS_FAST_FOLD_H
#define ZS_FAST_FOLD_H

#include <stddef.h>

#include "rounding.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = ((blocks[0][i] + blocks[1][i]) + blocks[2][i]) + ... over `world` blocks of `count`
 * (blocks laid out one after the other), every partial sum rounded to dt. */
void zsf_fold_rank_order(float *out, const float *blocks, size_t count, int world, zsf_dtype dt);

#ifdef __cplusplus
}
#endif
#endif
