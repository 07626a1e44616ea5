#include "rng.h"

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

uint64_t zs_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t zs_rng_draw(uint64_t key, uint64_t i)
{
    return zs_rng_mix64(key + (i + 1) * GOLDEN_GAMMA);
}

uint64_t zs_rng_key(uint64_t parent, uint64_t sub)
{
    return zs_rng_draw(parent, sub);
}

double zs_rng_uniform24(uint64_t key, uint64_t i)
{
    return (double)(zs_rng_draw(key, i) >> 40) * 0x1p-24;
}

double zs_rng_normal(uint64_t key, uint64_t i)
{
    /* Each term has at most 24 significant bits below 1, so the running sum (< 12) needs at most
     * 28 bits: every addition is exact and the order cannot matter. */
    double sum = 0.0;
    for (uint64_t j = 0; j < 12; j++)
        sum += zs_rng_uniform24(key, 12 * i + j);
    return sum - 6.0;
}

float zs_rng_init_value(uint64_t seed, uint64_t param_index, uint64_t i, double std)
{
    uint64_t key = zs_rng_key(zs_rng_key(seed, ZS_RNG_DOMAIN_INIT), param_index);
    return (float)(std * zs_rng_normal(key, i));
}

void zs_rng_sequence(uint64_t seed, uint64_t step, uint64_t g, const zs_model_dims *dims,
                     int *inputs, int *targets)
{
    uint64_t key = zs_rng_key(zs_rng_key(zs_rng_key(seed, ZS_RNG_DOMAIN_DATA), step), g);
    uint64_t vocab = (uint64_t)dims->vocab;
    uint64_t x0 = zs_rng_draw(key, 0) % vocab;
    uint64_t stride = 1 + zs_rng_draw(key, 1) % 7;
    for (int t = 0; t < dims->seq; t++) {
        inputs[t] = (int)((x0 + (uint64_t)t * stride) % vocab);
        targets[t] = (int)((x0 + (uint64_t)(t + 1) * stride) % vocab);
    }
}
