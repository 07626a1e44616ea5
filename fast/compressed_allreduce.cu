/* The 1-bit all-reduce (compressed_allreduce.h). */
#include "compressed_allreduce.h"

#include <math.h>

#include "kernels/onebit.cuh"

void zsf_car_init(zsf_car *w, size_t max_n, int world, int64_t *row)
{
    const size_t nbytes = max_n / 8 + 1;
    w->max_n = max_n;
    w->world = world;
    CUDA_CHECK(cudaMalloc((void **)&w->bits, 3 * nbytes));
    w->recv = w->bits + nbytes;
    w->gathered = w->recv + nbytes;
    CUDA_CHECK(cudaMalloc((void **)&w->scalars, (2 + 2 * (size_t)world) * sizeof(float)));
    *row += (int64_t)(3 * nbytes + (2 + 2 * (size_t)world) * sizeof(float));
}

void zsf_car_free(zsf_car *w)
{
    cudaFree(w->bits);
    cudaFree(w->scalars);
}

/* The reciprocal DeepSpeed multiplies by: x / np.sqrt(len) on a CUDA tensor is x * fl32(1/fl32(sqrt)). */
static float inv_sqrt_len(size_t n)
{
    return 1.0f / (float)sqrt((double)n);
}

void zsf_compressed_allreduce(zsf_comm *c, zsf_car *w, float *x, size_t n, float *werr, float *serr)
{
    const int W = c->world;
    const size_t chunk = n / (size_t)W;
    cudaStream_t s = c->compute;
    float *scale = w->scalars, *t = w->scalars + 1, *scales = w->scalars + 2, *ts = scales + W;
    if (n == 0)
        return;
    if (n > w->max_n || n % (8 * (size_t)W))
        zsf_die(__FILE__, __LINE__, "zsf_compressed_allreduce", "buffer not padded to a multiple of 8W");
    /* worker: y = x + e, s = rms(y), signs packed, e = y - s*b */
    ob_rms_kernel<<<1, ZSF_OB_THREADS, 0, s>>>(x, werr, n, inv_sqrt_len(n), scale);
    CUDA_CHECK_LAUNCH();
    ZSF_LAUNCH(ob_pack_kernel, n / 8, s, x, werr, scale, n / 8, w->bits);
    /* chunk j of every rank to rank j; every rank's scale to every rank */
    zsf_all_to_all_bytes(c, w->bits, w->recv, chunk / 8);
    zsf_all_gather_bytes(c, scale, scales, sizeof(float));
    /* server of this rank's chunk: average into the server error buffer, compress it again */
    ZSF_LAUNCH(ob_server_sum_kernel, chunk, s, serr, w->recv, scales, (float)(1.0 / W), chunk, W);
    ob_rms_kernel<<<1, ZSF_OB_THREADS, 0, s>>>(serr, NULL, chunk, inv_sqrt_len(chunk), t);
    CUDA_CHECK_LAUNCH();
    ZSF_LAUNCH(ob_pack_kernel, chunk / 8, s, serr, serr, t, chunk / 8, w->bits);
    /* every server's chunk and scale to every rank */
    zsf_all_gather_bytes(c, w->bits, w->gathered, chunk / 8);
    zsf_all_gather_bytes(c, t, ts, sizeof(float));
    ZSF_LAUNCH(ob_unpack_kernel, n, s, x, w->gathered, ts, chunk, n);
}
