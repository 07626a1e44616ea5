#include "onebit/compressed_allreduce.h"

#include <math.h>

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

size_t zs_onebit_padded_size(size_t n, int world)
{
    size_t w = (size_t)world, divider = w * 8 / gcd(w, 8), unit = w * divider;
    return n % unit ? n + (unit - n % unit) : n;
}

float zs_onebit_norm(const float *y, size_t len)
{
    double acc = 0.0;
    for (size_t i = 0; i < len; i++)
        acc += (double)y[i] * (double)y[i];
    return (float)sqrt(acc);
}

float zs_onebit_rms(const float *y, size_t len)
{
    return zs_onebit_norm(y, len) * (1.0f / (float)sqrt((double)len));
}

/* sign().add_(1).bool() mapped back to +-1: only a value below zero is -1 (NaN compares false). */
float zs_onebit_sign(float y)
{
    return y < 0.0f ? -1.0f : 1.0f;
}

/* Replaces y[0..len) by its signs and returns its scale; error = y - scale*sign. */
static float compress(float *y, float *error, size_t len)
{
    float scale = zs_onebit_rms(y, len);
    for (size_t i = 0; i < len; i++) {
        float b = zs_onebit_sign(y[i]);
        error[i] = y[i] - scale * b;
        y[i] = b;
    }
    return scale;
}

void zs_compressed_allreduce(float *const *bufs, size_t padded, int world, float *const *worker_error,
                             float *const *server_error)
{
    size_t chunk = padded / (size_t)world;
    float weight[64]; /* s_r * fl32(1/W), one per rank (ZS_MAX_WORLD) */
    if (padded == 0)
        return;
    /* phase 1 (every rank a worker): bufs[r] becomes rank r's sign vector b_r */
    for (int r = 0; r < world; r++) {
        for (size_t i = 0; i < padded; i++)
            bufs[r][i] = bufs[r][i] + worker_error[r][i];
        weight[r] = compress(bufs[r], worker_error[r], padded) * (float)(1.0 / world);
    }
    /* phase 2 (rank j the server of chunk j): z accumulates in f_j, then the chunk is compressed
     * again and its t_j*c_j replaces chunk j in every rank's buffer (all-gather) */
    for (int j = 0; j < world; j++) {
        size_t base = (size_t)j * chunk;
        float *z = server_error[j];
        for (size_t i = 0; i < chunk; i++) {
            float sum = 0.0f; /* .sum(0) starts from the identity: 0 + -0 = +0 */
            for (int r = 0; r < world; r++)
                sum = sum + bufs[r][base + i] * weight[r];
            z[i] = sum + z[i];
        }
        float t = zs_onebit_rms(z, chunk);
        for (size_t i = 0; i < chunk; i++) {
            float c = zs_onebit_sign(z[i]);
            z[i] = z[i] - t * c;
            for (int r = 0; r < world; r++)
                bufs[r][base + i] = t * c;
        }
    }
}
