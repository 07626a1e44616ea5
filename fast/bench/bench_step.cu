/* zs-fast-bench, phase "step": one zs-fast training step at GPT-2 124M size through the real engine
 * (zsf_engine_step: stage 0, W = 1, one micro-batch of B sequences, forward + backward + gradient
 * norm and clipping + FusedAdam), in one model dtype: fp32 with cuBLAS pedantic math, or bf16 / fp16
 * (DeepSpeed's "bf16" / "fp16" sections; fp16 with its dynamic loss scaler) with 16-bit activations
 * and tensor-core GEMMs. Every one is the conformance path of its dtype. Reports the
 * median step time, tokens/s, the device memory the engine holds, and a split of the step into
 * forward, backward and optimizer (each timed alone with events on the engine's own buffers). */
#include <math.h>
#include <stdio.h>

#include "bench_time.cuh"
#include "engine.h"

static double timed_step(zsf_engine *e, float *loss)
{
    zs_error err = {{0}};
    zsf_step_report rep;
    CUDA_CHECK(cudaDeviceSynchronize());
    double t0 = zsfb_now();
    if (zsf_engine_step(e, &rep, &err)) {
        fprintf(stderr, "zs-fast-bench: %s\n", err.msg);
        return -1.0;
    }
    *loss = rep.loss;
    return (zsfb_now() - t0) * 1e3;   /* the step ends with a host sync */
}

int zsfb_bench_step(cJSON *out, const zs_model_dims *d, int batch, double budget_s, zsf_comm *comm, zsf_dtype dt)
{
    zs_case kase;
    if (zsfb_case(&kase, d, batch, dt, 0, 0, 1))
        return -1;
    CUDA_CHECK(cudaDeviceSynchronize());
    const size_t used0 = zsfb_device_used();
    zsf_engine e;
    zs_error err = {{0}};
    if (zsf_engine_init(&e, &kase, comm, 0, &err)) {
        fprintf(stderr, "zs-fast-bench: %s\n", err.msg);
        zs_case_free(&kase);
        return -1;
    }
    const double tokens = (double)batch * d->seq;
    float losses[32];
    double ms[32];
    double first = timed_step(&e, &losses[0]);   /* warm-up: cuBLAS heuristics, first-touch */
    if (first < 0)
        return -1;
    int reps = zsfb_reps_for(first * 1e-3, budget_s, 2, 20);
    for (int i = 0; i < reps; i++)
        if ((ms[i] = timed_step(&e, &losses[i + 1])) < 0)
            return -1;
    const size_t used1 = zsfb_device_used();

    cJSON_AddStringToObject(out, "impl", "zs-fast");
    cJSON_AddStringToObject(out, "dtype", zsfb_dtype_name(dt));
    cJSON_AddStringToObject(out, "math", dt == ZSF_FP32 ? "fp32, cuBLAS pedantic (no TF32): the conformance path"
                                                        : "16-bit activations, tensor-core GEMMs accumulating in fp32: "
                                                          "the conformance path");
    cJSON_AddNumberToObject(out, "batch", batch);
    cJSON_AddNumberToObject(out, "seq", d->seq);
    cJSON_AddNumberToObject(out, "params", (double)e.t.numel);
    cJSON_AddNumberToObject(out, "warmup_ms", first);
    double med = zsfb_put_times(out, ms, reps);
    cJSON_AddNumberToObject(out, "tokens_per_s", tokens / (med * 1e-3));
    cJSON_AddItemToObject(out, "losses", cJSON_CreateFloatArray(losses, reps + 1));
    cJSON_AddNumberToObject(out, "peak_bytes", (double)(used1 - used0));
    cJSON *mem = cJSON_AddObjectToObject(out, "engine_bytes");
    cJSON_AddNumberToObject(mem, "params", (double)e.mem.params);
    cJSON_AddNumberToObject(mem, "grads", (double)e.mem.grads);
    cJSON_AddNumberToObject(mem, "optimizer", (double)e.mem.optimizer);
    cJSON_AddNumberToObject(mem, "working", (double)e.mem.working);
    printf("zs-fast step (B=%d, T=%d, %s): %.1f ms median of %d, %.0f tokens/s, device memory %.2f GiB, "
           "loss %.4f -> %.4f\n",
           batch, d->seq, zsfb_dtype_name(dt), med, reps, tokens / (med * 1e-3), (double)(used1 - used0) / (1 << 30), (double)losses[0],
           (double)losses[reps]);

    /* The split: forward, backward, optimizer, each alone on the engine's buffers. */
    cudaStream_t s = comm->compute;
    const int n_split = reps < 3 ? reps : 3;
    cJSON *split = cJSON_AddObjectToObject(out, "split");
    double fwd = zsfb_time([&] { zsf_model_forward(e.model, e.params, e.losses); }, 0, n_split, s, ms);
    cJSON_AddNumberToObject(split, "forward_ms", fwd);
    double bwd = zsfb_time([&] { zsf_model_backward(e.model, e.params, e.grad_micro, 1.0f); }, 0, n_split, s, ms);
    cJSON_AddNumberToObject(split, "backward_ms", bwd);
    int64_t t = 100;
    double opt = zsfb_time([&] { zsf_fused_adam(&e.cfg->optimizer, t++, 6e-4, 1.0f, e.master, e.grad32, e.state[0],
                                                e.state[1], e.part.len, s); },
                           1, 5, s, ms);
    cJSON_AddNumberToObject(split, "optimizer_ms", opt);
    cJSON_AddNumberToObject(split, "rest_ms", med - fwd - bwd - opt);
    printf("  split: forward %.1f ms, backward %.1f ms, FusedAdam %.2f ms, rest (norm, data, sync) %.1f ms\n", fwd,
           bwd, opt, med - fwd - bwd - opt);
    zsf_engine_free(&e);
    zs_case_free(&kase);
    return 0;
}
