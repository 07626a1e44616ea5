/* The spec's counter-based random numbers (docs/spec.md §2), for host and device alike:
 *   mix64(z)     = SplitMix64's finaliser      draw(key, i) = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)
 *   key(a, b)    = draw(a, b)                  uniform24(key, i) = (draw(key, i) >> 40) * 2^-24
 *   normal(key, i) = sum_{j<12} uniform24(key, 12 i + j) - 6, in double
 * All integer arithmetic is mod 2^64 and every double addition in normal() is exact, so the GPU
 * reproduces the reference's values bit for bit. */
#ifndef ZS_FAST_RNG_CUH
#define ZS_FAST_RNG_CUH

#include <stdint.h>

#define ZSF_GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL
enum { ZSF_DOMAIN_INIT = 1, ZSF_DOMAIN_DATA = 2 };

__host__ __device__ static inline uint64_t zsf_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

__host__ __device__ static inline uint64_t zsf_draw(uint64_t key, uint64_t i)
{
    return zsf_mix64(key + (i + 1) * ZSF_GOLDEN_GAMMA);
}

__host__ __device__ static inline uint64_t zsf_key(uint64_t parent, uint64_t sub)
{
    return zsf_draw(parent, sub);
}

__host__ __device__ static inline double zsf_normal(uint64_t key, uint64_t i)
{
    double sum = 0.0;
    for (uint64_t j = 0; j < 12; j++)
        sum += (double)(zsf_draw(key, 12 * i + j) >> 40) * 0x1p-24;
    return sum - 6.0;
}

#endif
