/* zs-fast-bench, phase "world": zs-fast's training step at W ranks, one MPI process per GPU on the
 * nccl backend, for each ZeRO stage asked (1, 2, 3; overlap_comm true, or false with the suffix s: "2s"
 * times stage 2 with its reductions in line on the compute stream, fast/stage2.h): the case of the one-GPU step phase (zsfb_case:
 * GPT-2 124M, B sequences per rank, clipping 1.0, AdamW) with train_batch_size = B * W, so every rank
 * does the work of the one-GPU step and W = 1 vs W = 2 is weak scaling. The peer is PyTorch FSDP
 * (tools/bench/fsdp_peer.py: FULL_SHARD ~ stage 3, SHARD_GRAD_OP ~ stage 2).
 *
 * A step's time is the slowest rank's: every rank waits at a barrier, times zsf_engine_step (which
 * ends with a host sync) and the maximum goes to rank 0, which reports the median, tokens/s over all
 * ranks (B * T * W per step), each rank's device memory (the largest growth of cudaMemGetInfo's used
 * bytes) and rank 0's engine rows (params, grads, optimizer: what ZeRO partitions). */
#include <stdio.h>

#include <mpi.h>

#include "bench_time.cuh"
#include "engine.h"

/* One step on every rank; returns the slowest rank's ms (the same on every rank), or -1 on all. */
static double world_step(zsf_engine *e, float *loss)
{
    zs_error err = {{0}};
    zsf_step_report rep;
    CUDA_CHECK(cudaDeviceSynchronize());
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = zsfb_now();
    if (zsf_engine_step(e, &rep, &err)) {   /* fails on every rank alike */
        if (zsf_rank == 0)
            fprintf(stderr, "zs-fast-bench: %s\n", err.msg);
        return -1.0;
    }
    double ms = (zsfb_now() - t0) * 1e3, slowest = 0.0;
    MPI_Allreduce(&ms, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    *loss = rep.loss;
    return slowest;
}

static double max_over_ranks(double v)
{
    double m = 0.0;
    MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return m;
}

/* One stage: rank 0 adds its row to list. Returns 0 or -1 (on every rank). */
static int bench_stage(cJSON *list, const zs_model_dims *d, int batch, double budget_s, zsf_comm *comm, zsf_dtype dt,
                       int stage, int overlap_comm)
{
    zs_case kase;
    if (zsfb_case(&kase, d, batch, dt, stage, overlap_comm, comm->world))
        return -1;
    CUDA_CHECK(cudaDeviceSynchronize());
    const size_t used0 = zsfb_device_used();
    zsf_engine e;
    zs_error err = {{0}};
    if (zsf_engine_init(&e, &kase, comm, 0, &err)) {   /* the same result on every rank */
        if (zsf_rank == 0)
            fprintf(stderr, "zs-fast-bench: stage %d, W = %d: %s\n", stage, comm->world, err.msg);
        zs_case_free(&kase);
        return -1;
    }
    float losses[2 + 20];   /* the two warm-up steps', then the timed ones' */
    double ms[20];
    /* two warm-up steps: the first pays cuBLAS's heuristics and NCCL's setup, so the repetitions are
     * sized on the second (sized on the first, a stage benchmarked first got 2 of them) */
    double first = world_step(&e, &losses[0]);
    const double second = first < 0 ? -1.0 : world_step(&e, &losses[1]);
    first = second < 0 ? -1.0 : first;
    int reps = first < 0 ? 0 : zsfb_reps_for(second * 1e-3, budget_s, 2, 20);   /* equal on every rank */
    int rc = first < 0 ? -1 : 0;
    for (int i = 0; i < reps && !rc; i++)
        if ((ms[i] = world_step(&e, &losses[i + 2])) < 0)
            rc = -1;
    const double peak = max_over_ranks((double)(zsfb_device_used() - used0));
    if (!rc && zsf_rank == 0) {
        const double tokens = (double)batch * d->seq * comm->world;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "impl", "zs-fast");
        char name[48];   /* the overlapped configuration is the plain name: the one compared with FSDP */
        snprintf(name, sizeof name, "ZeRO-%d%s", stage, overlap_comm ? "" : " overlap_comm false");
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddNumberToObject(o, "stage", stage);
        cJSON_AddBoolToObject(o, "overlap_comm", overlap_comm);
        cJSON_AddNumberToObject(o, "world", comm->world);
        cJSON_AddStringToObject(o, "dtype", zsfb_dtype_name(dt));
        cJSON_AddStringToObject(o, "backend", "nccl");
        cJSON_AddNumberToObject(o, "batch_per_rank", batch);
        cJSON_AddNumberToObject(o, "seq", d->seq);
        cJSON_AddNumberToObject(o, "params", (double)e.t.numel);
        cJSON_AddNumberToObject(o, "warmup_ms", first);
        const double med = zsfb_put_times(o, ms, reps);
        cJSON_AddNumberToObject(o, "tokens_per_s", tokens / (med * 1e-3));
        cJSON_AddItemToObject(o, "losses", cJSON_CreateFloatArray(losses, reps + 2));
        cJSON_AddNumberToObject(o, "peak_bytes", peak);
        cJSON *mem = cJSON_AddObjectToObject(o, "engine_bytes_rank0");
        cJSON_AddNumberToObject(mem, "params", (double)e.mem.params);
        cJSON_AddNumberToObject(mem, "grads", (double)e.mem.grads);
        cJSON_AddNumberToObject(mem, "optimizer", (double)e.mem.optimizer);
        cJSON_AddNumberToObject(mem, "working", (double)e.mem.working);
        cJSON_AddItemToArray(list, o);
        printf("zs-fast %s W=%d (%s, B=%d per rank, T=%d): %.1f ms median of %d, %.0f tokens/s, device memory "
               "%.2f GiB per rank, loss %.4f -> %.4f\n",
               name, comm->world, zsfb_dtype_name(dt), batch, d->seq, med, reps, tokens / (med * 1e-3), peak / (1 << 30),
               (double)losses[0], (double)losses[reps + 1]);
        fflush(stdout);
    }
    zsf_engine_free(&e);
    zs_case_free(&kase);
    return rc;
}

int zsfb_parse_stages(const char *list, int *stage, int *overlap, int max)
{
    int n = 0;
    for (const char *p = list;; p++) {
        if (*p < '1' || *p > '3' || n == max)
            return -1;
        stage[n] = *p - '0';
        overlap[n] = p[1] != 's';
        p += !overlap[n++];
        if (!p[1])
            return n;
        if (*++p != ',')
            return -1;
    }
}

int zsfb_bench_world(cJSON *out, const zs_model_dims *d, int batch, double budget_s, zsf_comm *comm, zsf_dtype dt,
                     const char *stages)
{
    if (comm->backend != ZSF_BACKEND_NCCL) {
        fprintf(stderr, "zs-fast-bench: the world phase runs on the nccl backend\n");
        return -1;
    }
    int stage[ZSFB_MAX_STAGES], overlap[ZSFB_MAX_STAGES];
    const int n = zsfb_parse_stages(stages, stage, overlap, ZSFB_MAX_STAGES);
    cJSON_AddNumberToObject(out, "world", comm->world);
    cJSON_AddStringToObject(out, "dtype", zsfb_dtype_name(dt));
    cJSON_AddStringToObject(out, "scaling", "weak: B sequences per rank, train_batch_size = B * W");
    cJSON *list = cJSON_AddArrayToObject(out, "stages");
    for (int i = 0; i < n; i++)
        if (bench_stage(list, d, batch, budget_s, comm, dt, stage[i], overlap[i]))
            return -1;
    return n < 0 ? -1 : 0;
}
