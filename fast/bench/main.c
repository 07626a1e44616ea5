/* zs-fast-bench: times zs-fast at GPT-2 124M size and writes the numbers as JSON.
 *
 *   zs-fast-bench [--json FILE] [--batch B] [--phases optim,step,ops,offload,world] [--dtypes fp32,bf16,fp16]
 *                 [--budget S] [--ops-budget S] [--stages 1,2,2s,3]
 *
 * Phases (bench.h): optim (copy bandwidth, then every optimizer rule of zsf_optim_step over the flat
 * parameter buffer), step (a full training step through the engine, stage 0, W = 1), ops (each
 * forward/backward operation alone); step and ops run once per model dtype of --dtypes (JSON keys
 * step, ops for fp32; step_bf16, ops_bf16, step_fp16, ops_fp16 for the others),
 * offload (offload_optimizer's CPU step and its pipelined copies; not run unless named),
 * world (the step at every rank of the MPI job, nccl backend, once per ZeRO stage of --stages (suffix s:
 * overlap_comm false, else true) and
 * dtype of --dtypes; keys world_fp32, world_bf16, world_fp16; not run unless named).
 * tools/bench/run.sh runs it beside PyTorch's peers (tools/bench/torch_peers.py, fsdp_peer.py). Every
 * phase but world runs as one MPI rank; world runs at any number (mpirun -np W, one GPU per rank), and
 * only rank 0 prints and writes --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "bench.h"
#include "check.h"

static const char usage[] =
    "usage: zs-fast-bench [--json FILE] [--batch B] [--phases optim,step,ops,offload,world]\n"
    "                     [--dtypes fp32,bf16,fp16] [--budget S] [--ops-budget S] [--stages 1,2,2s,3]\n";

typedef struct bench_options {
    const char *json, *phases, *dtypes, *stages;
    int batch;
    double budget_s, ops_budget_s;
} bench_options;

static int parse(int argc, char **argv, bench_options *o)
{
    *o = (bench_options){NULL, "optim,step,ops", "fp32,bf16,fp16", "1,2,3", 16, 2.0, 0.3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "zs-fast-bench: error: %s needs a value (or is unknown)\n%s", a, usage);
            return -1;
        }
        if (!strcmp(a, "--json"))
            o->json = v;
        else if (!strcmp(a, "--phases"))
            o->phases = v;
        else if (!strcmp(a, "--dtypes"))
            o->dtypes = v;
        else if (!strcmp(a, "--stages"))
            o->stages = v;
        else if (!strcmp(a, "--batch"))
            o->batch = atoi(v);
        else if (!strcmp(a, "--budget"))
            o->budget_s = atof(v);
        else if (!strcmp(a, "--ops-budget"))
            o->ops_budget_s = atof(v);
        else {
            fprintf(stderr, "zs-fast-bench: error: unknown option %s\n%s", a, usage);
            return -1;
        }
        i++;
    }
    if (o->batch < 1 || o->budget_s <= 0 || o->ops_budget_s <= 0) {
        fprintf(stderr, "zs-fast-bench: error: --batch, --budget and --ops-budget must be positive\n");
        return -1;
    }
    int stage[ZSFB_MAX_STAGES], overlap[ZSFB_MAX_STAGES];
    if (zsfb_parse_stages(o->stages, stage, overlap, ZSFB_MAX_STAGES) < 0) {
        fprintf(stderr,
                "zs-fast-bench: error: --stages takes up to %d ZeRO stages 1, 2, 3 separated by commas, each optionally "
                "suffixed s for overlap_comm false (got \"%s\")\n",
                ZSFB_MAX_STAGES, o->stages);
        return -1;
    }
    return 0;
}

static int wants(const char *phases, const char *name)
{
    const char *p = strstr(phases, name);
    return p && (p == phases || p[-1] == ',');
}

static int write_json(const char *path, cJSON *root)
{
    char *text = cJSON_Print(root);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f))
        ok = 0;
    free(text);
    if (!ok)
        fprintf(stderr, "zs-fast-bench: error: cannot write %s\n", path);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &zsf_rank);
    bench_options o;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int bad = parse(argc, argv, &o);
    const int one_rank_phases = !bad && (wants(o.phases, "optim") || wants(o.phases, "step") ||
                                         wants(o.phases, "ops") || wants(o.phases, "offload"));
    if (bad || (size != 1 && one_rank_phases)) {
        if (!bad && zsf_rank == 0)
            fprintf(stderr, "zs-fast-bench: error: only --phases world runs at several ranks (this job has %d)\n", size);
        MPI_Finalize();
        return 2;
    }
    zsf_comm comm;
    zs_error err = {{0}};
    if (zsf_comm_init(&comm, ZSF_BACKEND_NCCL, &err)) {
        fprintf(stderr, "zs-fast-bench: error: %s\n", err.msg);
        MPI_Finalize();
        return 1;
    }
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, comm.device));
    int cuda_rt = 0, cublas_v = 0;
    CUDA_CHECK(cudaRuntimeGetVersion(&cuda_rt));
    cublasGetProperty(MAJOR_VERSION, &cublas_v);
    if (zsf_rank == 0)
        printf("zs-fast-bench on %s (%d SMs, %.1f GiB), CUDA runtime %d, %d rank(s)\n", prop.name,
               prop.multiProcessorCount, (double)prop.totalGlobalMem / (1 << 30), cuda_rt, size);

    const zs_model_dims d = zsfb_gpt2_124m();
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "device", prop.name);
    cJSON_AddNumberToObject(root, "cuda_runtime", cuda_rt);
    cJSON_AddNumberToObject(root, "batch", o.batch);
    int rc = 0;
    if (wants(o.phases, "optim"))
        rc |= zsfb_bench_optim(cJSON_AddObjectToObject(root, "optim"), &d, o.budget_s, comm.compute);
    static const struct {
        const char *name, *step_key, *ops_key, *world_key;
        zsf_dtype dt;
    } dtypes[] = {{"fp32", "step", "ops", "world_fp32", ZSF_FP32},
                  {"bf16", "step_bf16", "ops_bf16", "world_bf16", ZSF_BF16},
                  {"fp16", "step_fp16", "ops_fp16", "world_fp16", ZSF_FP16}};
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (!rc && wants(o.phases, "step") && wants(o.dtypes, dtypes[k].name))
            rc |= zsfb_bench_step(cJSON_AddObjectToObject(root, dtypes[k].step_key), &d, o.batch, 4 * o.budget_s, &comm,
                                  dtypes[k].dt);
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (!rc && wants(o.phases, "ops") && wants(o.dtypes, dtypes[k].name))
            rc |= zsfb_bench_ops(cJSON_AddObjectToObject(root, dtypes[k].ops_key), &d, o.batch, o.ops_budget_s,
                                 comm.compute, dtypes[k].dt);
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (!rc && wants(o.phases, "world") && wants(o.dtypes, dtypes[k].name))
            rc |= zsfb_bench_world(cJSON_AddObjectToObject(root, dtypes[k].world_key), &d, o.batch, o.budget_s, &comm,
                                   dtypes[k].dt, o.stages);
    if (!rc && wants(o.phases, "offload"))
        rc |= zsfb_bench_offload(cJSON_AddObjectToObject(root, "offload"), &d, o.budget_s, comm.compute);
    if (o.json && zsf_rank == 0 && write_json(o.json, root))
        rc = -1;
    cJSON_Delete(root);
    zsf_comm_free(&comm);
    MPI_Finalize();
    return rc ? 1 : 0;
}
