/* zs-fast-bench, phase "offload": offload_optimizer's CPU step (cpu_optim.h) over GPT-2 124M's
 * parameter count on this machine's cores, and the whole offloaded step (offload.h: gradient down,
 * CPU step, parameters up, pipelined in chunks) beside its parts; torch's CPU AdamW is the peer
 * (tools/bench/torch_peers.py --parts cpu_optimizers).
 *
 * Before timing, the CPU step is checked bit for bit against the GPU kernel (zsf_optim_step) on an
 * aligned 2^20 prefix and a misaligned odd-length slice: the spec gives offload the GPU's rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.cuh"
#include "cpu_optim.h"
#include "offload.h"
#include "optim.h"

static zsf_optim_scalars adamw_scalars(int64_t t)
{
    const zs_optimizer_config hp = zsfb_adam_config(1);
    zsf_optim_scalars sc;
    zsf_optim_scalars_for(ZSF_FUSED_ADAM, &hp, t, hp.lr, hp.betas[0], hp.betas[1], &sc);
    return sc;
}

/* One step of [off, off+n) on the GPU and on the CPU from the same values; returns the number of
 * elements (param, exp_avg, exp_avg_sq) whose bits differ. */
static size_t check_slice(zsf_offload *o, size_t off, size_t n, cudaStream_t s)
{
    const zsf_optim_scalars sc = adamw_scalars(3);
    const size_t B = n * sizeof(float);
    float *dev = NULL, *got[3];
    CUDA_CHECK(cudaMalloc((void **)&dev, 4 * B));
    float *dp = dev, *dg = dev + n, *ds[2] = {dev + 2 * n, dev + 3 * n};
    const float *host[4] = {o->master + off, o->grad + off, o->state[0] + off, o->state[1] + off};
    for (int k = 0; k < 4; k++)
        CUDA_CHECK(cudaMemcpyAsync(dev + k * n, host[k], B, cudaMemcpyHostToDevice, s));
    zsf_optim_step(&sc, 0.75f, dp, dg, ds, n, NULL, s);
    for (int k = 0; k < 3; k++) {
        got[k] = (float *)malloc(B);
        if (!got[k])
            zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    }
    CUDA_CHECK(cudaMemcpyAsync(got[0], dp, B, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaMemcpyAsync(got[1], ds[0], B, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaMemcpyAsync(got[2], ds[1], B, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    float *state[ZSF_OPTIM_N_STATE] = {o->state[0] + off, o->state[1] + off};
    zsf_cpu_optim_step(&sc, 0.75f, o->master + off, o->grad + off, state, n, NULL, ZSF_FP32, 0);
    const float *want[3] = {o->master + off, o->state[0] + off, o->state[1] + off};
    size_t bad = 0;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++)
            bad += memcmp(&want[k][i], &got[k][i], sizeof(float)) != 0;
        free(got[k]);
    }
    CUDA_CHECK(cudaFree(dev));
    return bad;
}

/* Host-clock median of `reps` runs of f (which waits for its own work). */
template <class F> static double host_time(F f, int warmup, int reps, double *ms)
{
    for (int i = 0; i < warmup; i++)
        f();
    for (int i = 0; i < reps; i++) {
        const double t0 = zsfb_now();
        f();
        ms[i] = (zsfb_now() - t0) * 1e3;
    }
    double tmp[64];
    memcpy(tmp, ms, (size_t)reps * sizeof(double));
    return zsfb_median(tmp, reps);
}

/* Adds {name, median_ms, ms, gbps (of bytes moved, if any)} to list; *median (if not NULL) = median. */
static cJSON *add_entry(cJSON *list, const char *name, double *ms, int reps, double bytes, double *median)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    const double med = zsfb_put_times(o, ms, reps);
    if (median)
        *median = med;
    if (bytes > 0)
        cJSON_AddNumberToObject(o, "gbps", bytes / (med * 1e-3) / 1e9);
    cJSON_AddItemToArray(list, o);
    printf("offload %-44s %9.2f ms", name, med);
    if (bytes > 0)
        printf("  %6.1f GB/s", bytes / (med * 1e-3) / 1e9);
    printf("\n");
    return o;
}

int zsfb_bench_offload(cJSON *out, const zs_model_dims *d, double budget_s, cudaStream_t s)
{
    size_t n = 0;
    if (zsfb_param_count(d, &n))
        return -1;
    const size_t B = n * sizeof(float);
    zsf_host_memory mem = {0, 0, 0, 0};
    zsf_offload o;
    zsf_offload_init(&o, n, 2, ZSF_FP32, NULL, 0, 0, &mem);
    float *grad_dev = NULL, *model_dev = NULL;
    CUDA_CHECK(cudaMalloc((void **)&grad_dev, B));
    CUDA_CHECK(cudaMalloc((void **)&model_dev, B));
    /* random master, gradient and state (never zeros), generated on the device and copied down */
    float *host[4] = {o.master, o.grad, o.state[0], o.state[1]};
    const float lo[4] = {-0.1f, -0.01f, -1e-3f, 0.0f}, hi[4] = {0.1f, 0.01f, 1e-3f, 1e-5f};
    for (int k = 0; k < 4; k++) {
        zsfb_fill(model_dev, n, 0x0FF1u + (uint64_t)k, lo[k], hi[k], s);
        CUDA_CHECK(cudaMemcpyAsync(host[k], model_dev, B, cudaMemcpyDeviceToHost, s));
    }
    zsfb_fill(grad_dev, n, 0x0FF1u + 1, lo[1], hi[1], s);
    CUDA_CHECK(cudaStreamSynchronize(s));

    const int max_threads = zsf_cpu_optim_max_threads();
    cJSON_AddNumberToObject(out, "params", (double)n);
    cJSON_AddNumberToObject(out, "threads", max_threads);
    cJSON_AddNumberToObject(out, "chunk", (double)o.chunk);
    const size_t bad = check_slice(&o, 0, (size_t)1 << 20, s) + check_slice(&o, 1, ((size_t)1 << 16) + 3, s);
    cJSON_AddNumberToObject(out, "check_mismatches", (double)bad);
    printf("offload: CPU step vs GPU kernel on two slices: %s (%zu mismatches); %d threads, %zu parameters\n",
           bad ? "FAILED" : "bit-exact", bad, max_threads, n);

    cJSON *list = cJSON_AddArrayToObject(out, "timings");
    double ms[64];
    int64_t step = 10;
    zsf_optim_scalars sc;
    float *state[ZSF_OPTIM_N_STATE] = {o.state[0], o.state[1]};
    /* the CPU step alone, whole partition, at 1, 2, 4, ... and all threads (28 bytes per parameter) */
    double cpu_all_ms = 0.0;
    for (int T = 1;; T = 2 * T < max_threads ? 2 * T : max_threads) {
        auto run = [&] {
            sc = adamw_scalars(step++);
            zsf_cpu_optim_step(&sc, 1.0f, o.master, o.grad, state, n, NULL, ZSF_FP32, T);
        };
        const double first = host_time(run, 0, 1, ms);
        const int reps = zsfb_reps_for(first * 1e-3, budget_s, 3, 20);
        host_time(run, 0, reps, ms);
        char name[64];
        snprintf(name, sizeof name, "CPU FusedAdam (AdamW) step, %d thread%s", T, T > 1 ? "s" : "");
        double med = 0.0;
        cJSON_AddNumberToObject(add_entry(list, name, ms, reps, 28.0 * (double)n, &med), "threads", T);
        if (T == max_threads) {
            cpu_all_ms = med;
            break;
        }
    }
    /* the copies alone (pinned host memory), then the pipelined step that overlaps them with the CPU */
    double d2h = zsfb_time([&] { CUDA_CHECK(cudaMemcpyAsync(o.grad, grad_dev, B, cudaMemcpyDeviceToHost, s)); }, 1,
                           5, s, ms);
    add_entry(list, "gradient partition to the host (copy alone)", ms, 5, (double)B, NULL);
    double h2d = zsfb_time([&] { CUDA_CHECK(cudaMemcpyAsync(model_dev, o.master, B, cudaMemcpyHostToDevice, s)); }, 1,
                           5, s, ms);
    add_entry(list, "parameters to the device (copy alone)", ms, 5, (double)B, NULL);
    auto pipelined = [&] {
        sc = adamw_scalars(step++);
        zsf_offload_step(&o, &sc, 1.0f, grad_dev, model_dev, s);
        CUDA_CHECK(cudaStreamSynchronize(s));
    };
    const double first = host_time(pipelined, 1, 1, ms);
    const int reps = zsfb_reps_for(first * 1e-3, budget_s, 3, 20);
    host_time(pipelined, 0, reps, ms);
    double pipe = 0.0;
    cJSON *e = add_entry(list, "offloaded step (pipelined: copies + CPU step)", ms, reps, 0.0, &pipe);
    cJSON_AddNumberToObject(e, "serial_sum_ms", d2h + cpu_all_ms + h2d);
    printf("offload: pipelined %.2f ms vs serial sum %.2f ms (down %.2f + CPU %.2f + up %.2f)\n", pipe,
           d2h + cpu_all_ms + h2d, d2h, cpu_all_ms, h2d);
    CUDA_CHECK(cudaFree(grad_dev));
    CUDA_CHECK(cudaFree(model_dev));
    zsf_offload_free(&o);
    return 0;
}
