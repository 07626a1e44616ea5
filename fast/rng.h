/* Initial parameters and training tokens generated on the GPU from the spec's RNG (rng.cuh). */
#ifndef ZS_FAST_RNG_H
#define ZS_FAST_RNG_H

#include <stdint.h>

#include <cuda_runtime.h>

#include "gpt2_params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* params[numel] = the initial model (docs/spec.md §3): fl32(std * normal(key(key(seed, 1), p), i)),
 * ones and zeros. */
void zsf_rng_init_params(const zsf_params *t, uint64_t seed, float *params, cudaStream_t s);

/* inputs/targets[B*T] for samples g0 .. g0+B-1 of optimizer step `step` (docs/spec.md §4):
 * kk = key(key(key(seed, 2), step), g); x0 = draw(kk, 0) mod V; stride = 1 + draw(kk, 1) mod 7;
 * x_t = (x0 + t*stride) mod V; inputs x_0..x_{T-1}, targets x_1..x_T. */
void zsf_rng_micro_batch(uint64_t seed, uint64_t step, uint64_t g0, int B, int T, int V, int *inputs, int *targets,
                         cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
