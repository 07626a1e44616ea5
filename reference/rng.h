/* Counter-based random numbers (docs/spec.md "Random numbers"): every value is a pure function of
 * (seed, what it is for, index), so any implementation — CPU or GPU, any rank count — regenerates
 * the same initial weights and token batches without carrying generator state around.
 *
 *   mix64(z)      = SplitMix64 finaliser
 *   draw(key, i)  = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)      (the i-th SplitMix64 output)
 *   key(a, b)     = draw(a, b)                                    (derive a sub-stream)
 */
#ifndef ZS_REFERENCE_RNG_H
#define ZS_REFERENCE_RNG_H

#include <stdint.h>

#include "zerospec/case.h"

/* Stream domains: the first key derivation below the seed. */
enum { ZS_RNG_DOMAIN_INIT = 1, ZS_RNG_DOMAIN_DATA = 2 };

uint64_t zs_rng_mix64(uint64_t z);
uint64_t zs_rng_draw(uint64_t key, uint64_t i);
uint64_t zs_rng_key(uint64_t parent, uint64_t sub);

/* Uniform in [0, 1) with 24 random bits: (draw >> 40) * 2^-24 (exact in float and double). */
double zs_rng_uniform24(uint64_t key, uint64_t i);
/* Approximately N(0, 1): Irwin-Hall sum of 12 uniform24 draws (indices 12i .. 12i+11) minus 6,
 * summed in double, which is exact — so the value is bit-identical on every IEEE machine. */
double zs_rng_normal(uint64_t key, uint64_t i);

/* Initial value of element i of parameter number p (HF order), given its init std (0 for
 * constant inits handled by the caller): fl32(std * zs_rng_normal(key(key(seed, INIT), p), i)). */
float zs_rng_init_value(uint64_t seed, uint64_t param_index, uint64_t i, double std);

/* Tokens of one training sequence: sample `g` (global index within optimizer step `step`, see
 * docs/spec.md "Data") is x_t = (x0 + t * stride) mod vocab for t = 0..seq, with
 * x0 = draw(k, 0) mod vocab, stride = 1 + draw(k, 1) mod 7, k = key(key(key(seed, DATA), step), g).
 * inputs = x_0..x_{seq-1}, targets = x_1..x_seq. */
void zs_rng_sequence(uint64_t seed, uint64_t step, uint64_t g, const zs_model_dims *dims,
                     int *inputs, int *targets);

#endif
