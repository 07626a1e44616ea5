/* zs-fast: train a case on the GPU, one MPI process per data-parallel rank, print the per-step table
 * and what each rank holds, and optionally write the trace (docs/spec.md §13) for zs-check.
 *
 *   mpirun -np 2 zs-fast --case conformance/cases/fp32_zero2_adamw.json --world 2 --out t.safetensors
 *
 * Every rank parses the same arguments and case, so bad input fails identically everywhere: rank 0
 * prints one line and every rank exits with status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "check.h"
#include "cli.h"
#include "comm.h"
#include "engine.h"
#include "lr_sched.h"
#include "optim.h"
#include "trace.h"
#include "ckpt_io.h"
#include "zerospec/case.h"

static int finish(int status)
{
    MPI_Finalize();
    return status;
}

static void error_line(const char *msg)
{
    if (zsf_rank == 0)
        fprintf(stderr, "zs-fast: error: %s\n", msg);
}

static void print_config_warnings(const zs_case *kase)
{
    const zs_key_report *rep = &kase->config.report;
    for (size_t i = 0; i < rep->count; i++)
        if (rep->entries[i].status == ZS_KEY_IGNORED || rep->entries[i].status == ZS_KEY_UNKNOWN)
            fprintf(stderr, "zs-fast: warning: %s: %s: %s\n", kase->config_source, rep->entries[i].path,
                    rep->entries[i].note);
}

static void print_header(const zsf_engine *e)
{
    const zs_ds_config *c = e->cfg;
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, e->comm->device));
    printf("case %s | ZeRO stage %d | world %d | %s | %s | scheduler %s | micro-batch %lld x grad-accum %lld"
           " x world %d = batch %lld | %zu parameters\n",
           e->kase->name, e->stage, e->world, zs_precision_name(c->precision),
           zs_optimizer_type_name(c->optimizer.type), zs_scheduler_type_name(c->scheduler.type),
           (long long)e->batch.micro_batch, (long long)e->batch.grad_accum_steps, e->world,
           (long long)e->batch.train_batch_size, e->t.numel);
    printf("zs-fast: backend %s, %d rank(s) on %d GPU(s) of this host (%s)\n", zsf_backend_name(e->comm->backend),
           e->comm->local_size, e->comm->n_devices, prop.name);
    if (e->offload_optimizer)   /* OpenMP sees the rank's CPU affinity: mpirun binds to one core by default */
        printf("zs-fast: offload_optimizer: CPU step on %d thread(s) per rank%s\n", e->off.threads,
               e->off.threads == 1 ? " (mpirun --bind-to none, or OMP_NUM_THREADS, gives it more cores)" : "");
    printf("%5s %10s %12s %11s %12s %8s\n", "step", "loss", "lr", "grad_norm", "loss_scale", "skipped");
}

static void print_step(const zsf_step_report *r)
{
    printf("%5lld %10.6f %12.6e %11.6f %12.6g %8s\n", (long long)r->step, (double)r->loss, r->lr,
           (double)r->grad_norm, r->loss_scale, r->skipped ? "yes" : "no");
    fflush(stdout);
}

/* Every rank's cudaMalloc'ed bytes, printed by rank 0 in zs-ref's layout plus working memory; under
 * offload a second row per rank with the pinned host bytes (cudaHostAlloc'ed) of the same columns. */
static void print_memory(const zsf_engine *e)
{
    enum { COLS = 8 };
    const int offload = e->offload_optimizer || e->offload_param;
    long long mine[COLS] = {e->mem.params, e->mem.grads, e->mem.optimizer, e->mem.working,
                            e->host.params, e->host.grads, e->host.optimizer, e->host.working};
    long long *all = malloc(COLS * sizeof(long long) * (size_t)e->world);
    if (!all)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    MPI_CHECK(MPI_Gather(mine, COLS, MPI_LONG_LONG, all, COLS, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (e->rank == 0) {
        printf("per-rank model-state bytes (ZeRO stage %d, world %d, padded partition %zu of %zu elements; "
               "cudaMalloc'ed%s):\n",
               e->stage, e->world, e->part.len, e->t.numel, offload ? ", and pinned host memory under offload" : "");
        printf("%-10s %12s %12s %12s %12s %14s\n", "rank", "params", "grads", "optimizer", "total", "working");
        for (int r = 0; r < e->world; r++)
            for (int h = 0; h <= offload; h++) {
                const long long *b = all + COLS * r + 4 * h;
                char label[16];
                snprintf(label, sizeof label, h ? "%d host" : offload ? "%d device" : "%d", r);
                printf("%-10s %12lld %12lld %12lld %12lld %14lld\n", label, b[0], b[1], b[2], b[0] + b[1] + b[2], b[3]);
            }
        if (e->stage == 3)   /* the gathered units are transient, as the ZeRO accounting treats them */
            printf("stage 3: working includes the live-unit pool, %lld bytes per rank: 2 slots of the largest "
                   "unit (%zu elements), the %d x %zu exchange buffer%s\n",
                   (long long)e->z3.pool_bytes, e->z3.plan.max_numel, e->world, e->z3.plan.max_shard,
                   e->offload_param ? ", the shard staging" : "");
    }
    free(all);
}

static int train(const zsf_options *o, zs_case *kase, zsf_comm *comm)
{
    zs_error err = {{0}};
    zsf_engine e;
    int status = zsf_engine_init(&e, kase, comm, o->bucket_elems, &err);
    if (status) {
        error_line(err.msg);
        return status;
    }
    if (e.onebit && (o->resume_dir || o->save_dir)) {   /* as zs-ref: the error feedback depends on W */
        zs_fail(&err, "%s: not supported with optimizer.type \"%s\" (its per-rank error-feedback state depends "
                      "on the world size; docs/spec/checkpoint.md)", o->resume_dir ? "--resume" : "--save",
                e.cfg->optimizer.type_name);
        error_line(err.msg);
        zsf_engine_free(&e);
        return 2;
    }
    if ((o->resume_dir || o->save_dir) && e.rule == ZSF_MUON) {   /* as zs-ref: the format has no groups */
        error_line("--save/--resume with optimizer.type \"Muon\": its two param groups reorder the flat layout "
                   "(docs/spec/optimizers.md §8a.2), which the checkpoint format does not describe");
        zsf_engine_free(&e);
        return 2;
    }
    if (o->resume_dir && (status = zsf_ckpt_resume(&e, o->resume_dir, &err)) != 0) {
        error_line(err.msg);
        zsf_engine_free(&e);
        return status;
    }
    zsf_trace trace = {0};
    if (o->out_path)
        zsf_trace_begin(&trace, &e);
    if (!o->quiet && e.rank == 0)
        print_header(&e);
    for (int64_t k = e.global_steps; k < kase->steps && !status; k++) {
        zsf_step_report rep;
        status = zsf_engine_step(&e, &rep, &err);
        if (status)
            break;
        if (!o->quiet && e.rank == 0)
            print_step(&rep);
        if (o->out_path)
            zsf_trace_step(&trace, &e, &rep);
    }
    if (!status && !o->quiet)
        print_memory(&e);
    if (!status && o->out_path)
        status = zsf_trace_finish(&trace, o->out_path, &err);
    if (!status && o->save_dir)
        status = zsf_ckpt_save(&e, o->save_dir, &err);
    if (status)
        error_line(err.msg);
    zsf_trace_free(&trace);
    zsf_engine_free(&e);
    return status;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &zsf_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    zsf_options o;
    zs_error err = {{0}};
    if (zsf_parse_args(argc, argv, &o, &err)) {
        error_line(err.msg);
        return finish(2);
    }
    if (o.help) {
        if (zsf_rank == 0)
            fputs(zsf_usage, stdout);
        return finish(0);
    }
    if (o.world && o.world != size) {
        char msg[160];
        snprintf(msg, sizeof msg, "--world %d, but this MPI job has %d rank(s); start it with mpirun -np %d",
                 o.world, size, o.world);
        error_line(msg);
        return finish(2);
    }
    zs_case kase;
    int rc = o.case_path ? zs_case_load(o.case_path, &kase, &err) : zs_case_from_config_file(o.config_path, &kase, &err);
    if (zsf_any(rc != 0)) {
        error_line(rc ? err.msg : "the case failed to load on another rank");
        if (!rc)
            zs_case_free(&kase);
        return finish(2);
    }
    if (o.steps >= 0)
        kase.steps = o.steps;
    zsf_optim_rule rule;   /* refuse what zs-fast does not implement before touching a GPU */
    if (zsf_optim_rule_of(&kase.config, &rule, &err) || zsf_sched_check(&kase.config, &err)) {
        error_line(err.msg);
        zs_case_free(&kase);
        return finish(2);
    }
    if (!o.quiet && zsf_rank == 0)
        print_config_warnings(&kase);

    zsf_comm comm;
    int status = zsf_comm_init(&comm, o.backend, &err);
    if (status)
        error_line(err.msg);
    else
        status = train(&o, &kase, &comm);
    zsf_comm_free(&comm);
    zs_case_free(&kase);
    return finish(status);
}
