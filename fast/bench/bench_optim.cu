/* zs-fast-bench, phase "optim": device copy bandwidth, then zs-fast's FusedAdam over one flat fp32
 * buffer of GPT-2 124M's parameter count (stage 0, W = 1: the rank's partition is the whole model).
 *
 * Bytes counted per parameter: FusedAdam reads param, grad, exp_avg, exp_avg_sq and writes param,
 * exp_avg, exp_avg_sq: 7 * 4 = 28 (the issue's accounting). The copy moves 2 * bytes (read + write).
 * Before timing, one step is checked bit for bit against the same float arithmetic on the host
 * (optim.cu's formula; --fmad=false and IEEE sqrt/division make it exact), on an aligned prefix and on
 * a misaligned, odd-length slice that exercises any vector/tail split of the kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.cuh"
#include "gpt2_params.h"
#include "optim.h"

/* The host oracle: optim.cu's per-element arithmetic, same association, float throughout. */
static void adam_host(const zs_optimizer_config *hp, int64_t t, float lr, float inv, float *p, const float *g,
                      float *m, float *v, size_t n)
{
    const float b1 = (float)hp->betas[0], b2 = (float)hp->betas[1], eps = (float)hp->eps;
    const float wd = (float)hp->weight_decay;
    const float bc1 = (float)(1.0 - pow((double)b1, (double)t)), bc2 = (float)(1.0 - pow((double)b2, (double)t));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * inv;
        if (!hp->adam_w_mode)
            gi = gi + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float update = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);
        if (hp->adam_w_mode)
            update = update + wd * p[i];
        p[i] = p[i] - lr * update;
    }
}

/* Runs one device step on [off, off+n) of the four buffers and the host oracle on copies; returns the
 * number of elements (over param, exp_avg, exp_avg_sq) whose bits differ. */
static size_t check_slice(const zs_optimizer_config *hp, float *const dev[4], size_t off, size_t n, cudaStream_t s)
{
    float *h[4], *got[4];
    for (int k = 0; k < 4; k++) {
        h[k] = (float *)malloc(n * sizeof(float));
        got[k] = (float *)malloc(n * sizeof(float));
        if (!h[k] || !got[k])
            zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
        CUDA_CHECK(cudaMemcpyAsync(h[k], dev[k] + off, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    }
    const float lr = 6e-4f, inv = 0.75f;
    zsf_fused_adam(hp, 3, lr, inv, dev[0] + off, dev[1] + off, dev[2] + off, dev[3] + off, n, s);
    for (int k = 0; k < 4; k++)
        CUDA_CHECK(cudaMemcpyAsync(got[k], dev[k] + off, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    adam_host(hp, 3, lr, inv, h[0], h[1], h[2], h[3], n);
    size_t bad = 0;
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; k != 1 && i < n; i++)   /* the gradient is read only */
            bad += memcmp(&h[k][i], &got[k][i], sizeof(float)) != 0;
        free(got[k]);
        free(h[k]);
    }
    return bad;
}

int zsfb_bench_optim(cJSON *out, const zs_model_dims *d, double budget_s, cudaStream_t s)
{
    size_t n = 0;
    if (zsfb_param_count(d, &n))
        return -1;
    float *pool = NULL, *dst = NULL;
    CUDA_CHECK(cudaMalloc((void **)&pool, 4 * n * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&dst, 4 * n * sizeof(float)));
    float *const buf[4] = {pool, pool + n, pool + 2 * n, pool + 3 * n};   /* param, grad, exp_avg, exp_avg_sq */
    const float lo[4] = {-0.1f, -0.01f, -1e-3f, 0.0f}, hi[4] = {0.1f, 0.01f, 1e-3f, 1e-5f};
    for (int k = 0; k < 4; k++)
        zsfb_fill(buf[k], n, 0xB0C4u + (uint64_t)k, lo[k], hi[k], s);
    cJSON_AddNumberToObject(out, "params", (double)n);

    /* Copy bandwidth: 4n floats device to device. */
    const double copy_bytes = 2.0 * 4.0 * (double)n * sizeof(float);
    double ms[64];
    cJSON *copy = cJSON_AddObjectToObject(out, "copy");
    cJSON_AddStringToObject(copy, "what", "cudaMemcpyAsync device to device, bytes read + written");
    cJSON_AddNumberToObject(copy, "bytes", copy_bytes);
    double med = zsfb_time([&] { CUDA_CHECK(cudaMemcpyAsync(dst, pool, 4 * n * sizeof(float), cudaMemcpyDeviceToDevice, s)); },
                           3, 20, s, ms);
    zsfb_put_times(copy, ms, 20);
    const double copy_gbps = copy_bytes / (med * 1e-3) / 1e9;
    cJSON_AddNumberToObject(copy, "gbps", copy_gbps);
    printf("copy: %.3f ms for %.2f GB moved: %.1f GB/s\n", med, copy_bytes / 1e9, copy_gbps);

    cJSON *list = cJSON_AddArrayToObject(out, "optimizers");
    for (int w = 1; w >= 0; w--) {
        zs_optimizer_config hp = zsfb_adam_config(w);
        /* bit-exact check: an aligned 2^20 prefix, and a misaligned odd slice */
        size_t bad = check_slice(&hp, buf, 0, (size_t)1 << 20, s) + check_slice(&hp, buf, 1, ((size_t)1 << 16) + 3, s);
        int64_t step = 10;
        const double bytes = 28.0 * (double)n;
        double first = zsfb_time([&] { zsf_fused_adam(&hp, step++, hp.lr, 1.0f, buf[0], buf[1], buf[2], buf[3], n, s); },
                                 2, 1, s, ms);
        int reps = zsfb_reps_for(first * 1e-3, budget_s, 5, 50);
        med = zsfb_time([&] { zsf_fused_adam(&hp, step++, hp.lr, 1.0f, buf[0], buf[1], buf[2], buf[3], n, s); }, 1,
                        reps, s, ms);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "impl", "zs-fast");
        cJSON_AddStringToObject(o, "name", w ? "FusedAdam (AdamW)" : "FusedAdam (Adam, L2)");
        cJSON_AddStringToObject(o, "layout", "one flat fp32 buffer");
        cJSON_AddNumberToObject(o, "bytes_per_param", 28);
        zsfb_put_times(o, ms, reps);
        cJSON_AddNumberToObject(o, "gbps", bytes / (med * 1e-3) / 1e9);
        cJSON_AddNumberToObject(o, "frac_copy", bytes / (med * 1e-3) / 1e9 / copy_gbps);
        cJSON_AddNumberToObject(o, "check_mismatches", (double)bad);
        cJSON_AddItemToArray(list, o);
        printf("zs-fast %-22s %8.3f ms  %7.1f GB/s  %.3f of copy  check %s\n", w ? "FusedAdam (AdamW)" : "FusedAdam (Adam)",
               med, bytes / (med * 1e-3) / 1e9, bytes / (med * 1e-3) / 1e9 / copy_gbps, bad ? "FAILED" : "bit-exact");
    }
    CUDA_CHECK(cudaFree(dst));
    CUDA_CHECK(cudaFree(pool));
    return 0;
}
