/* The ZeRO engine of one rank (engine.h). Read zsf_engine_step top to bottom: it is docs/spec.md §8
 * with this rank's share of every collective. */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cpu_optim.h"
#include "kernels/zero.cuh"
#include "muon.h"
#include "rng.h"
#include "lr_sched.h"
#include "onebit.h"
#include "stage3.h"

/* ------------------------------------------------------------------------------------------------
 * Allocation, with every buffer counted in one row of the memory report (alloc.h). */

static int64_t *upload_map(zsf_engine *e, const int64_t *host, size_t n)
{
    int64_t *d = (int64_t *)zsf_device_bytes(&e->mem.working, n * sizeof(int64_t));
    CUDA_CHECK(cudaMemcpyAsync(d, host, n * sizeof(int64_t), cudaMemcpyHostToDevice, e->comm->compute));
    zsf_comm_sync(e->comm);
    return d;
}

/* Host-built exchange map of a bucket plan, on the device. */
static int64_t *exchange_map(zsf_engine *e, const zsf_bucket *b, int nb)
{
    size_t n = (size_t)e->world * e->part.len;
    int64_t *h = (int64_t *)malloc((n ? n : 1) * sizeof(int64_t));
    if (!h)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    zsf_exchange_map(&e->part, b, nb, h);
    int64_t *d = upload_map(e, h, n);
    free(h);
    return d;
}

/* ------------------------------------------------------------------------------------------------
 * Initialisation: every rank generates the same initial model (docs/spec.md §3) and keeps its share. */

static zsf_dtype model_dtype(const zs_ds_config *cfg)
{
    return cfg->precision == ZS_PREC_FP16 ? ZSF_FP16 : cfg->precision == ZS_PREC_BF16 ? ZSF_BF16 : ZSF_FP32;
}

/* Everything zs-fast does not implement is refused here, before any allocation (exit status 2). */
static int check_case(zsf_engine *e, zs_error *err)
{
    if (zsf_optim_rule_of(e->cfg, &e->rule, err) || zsf_sched_check(e->cfg, err))
        return -1;
    e->n_state = zsf_optim_n_state(e->rule);
    e->dt = model_dtype(e->cfg);
    zsf_loss_scaler_init(&e->scaler, e->cfg, e->stage);
    /* the config layer refuses offload_optimizer at stage 0 and with optimizers DeepSpeed cannot
     * step on the CPU; offload_param it resets below stage 3 */
    e->offload_optimizer = e->stage >= 1 && e->cfg->zero.offload_optimizer.device != ZS_OFFLOAD_NONE;
    e->offload_param = e->stage == 3 && e->cfg->zero.offload_param.device != ZS_OFFLOAD_NONE;
    if (e->offload_optimizer && !zsf_cpu_optim_supported(e->rule)) {
        zs_fail(err, "zero_optimization.offload_optimizer: %s has no CPU step in zs-fast", zsf_optim_rule_name(e->rule));
        return -1;
    }
    return 0;
}

/* Whether DeepSpeed skips steps on Inf/NaN gradients in this mode (docs/spec/precision.md §4). */
static int overflow_check_enabled(const zsf_engine *e)
{
    if (e->dt == ZSF_FP16)
        return 1;
    return e->dt == ZSF_BF16 && e->cfg->bf16.check_grad_overflow && (e->stage == 1 || e->stage == 2);
}

/* Initial parameters: the spec's fp32 init rounded to the model dtype, and the fp32 master copies of
 * those rounded values (DeepSpeed casts the module before the optimizer copies it). */
static void init_state(zsf_engine *e)
{
    cudaStream_t s = e->comm->compute;
    const size_t numel = e->t.numel, len = e->part.len;
    float *full = e->grad_micro;   /* free until the first backward pass */
    zsf_rng_init_params(&e->t, e->kase->seed, full, s);
    round_inplace(full, numel, e->dt, s);
    if (e->stage == 0) {
        zsf_convert(e->params, e->dt, full, ZSF_FP32, numel, s);   /* exact: full holds model-dtype values */
        if ((void *)e->master != e->params)
            CUDA_CHECK(cudaMemcpyAsync(e->master, full, numel * sizeof(float), cudaMemcpyDeviceToDevice, s));
    } else {
        float *master = e->offload_optimizer ? e->grad32 : e->master;   /* offload: staged, then uploaded */
        int64_t *h = (int64_t *)malloc((len ? len : 1) * sizeof(int64_t)), *own = NULL;
        if (!h)
            zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
        zsf_partition_own_map(&e->part, e->rank, h);
        CUDA_CHECK(cudaMalloc((void **)&own, (len ? len : 1) * sizeof(int64_t)));
        CUDA_CHECK(cudaMemcpyAsync(own, h, len * sizeof(int64_t), cudaMemcpyHostToDevice, s));
        zsf_gather_div(master, ZSF_FP32, full, ZSF_FP32, own, len, 1.0f, s);
        if (e->host_shard) {   /* cast on the device (recv is free), sent down */
            zsf_convert(e->recv, e->dt, master, ZSF_FP32, len, s);
            CUDA_CHECK(cudaMemcpyAsync(e->host_shard, e->recv, len * e->esize, cudaMemcpyDeviceToHost, s));
        } else if (e->stage == 3) {
            zsf_convert(e->shard, e->dt, master, ZSF_FP32, len, s);
        } else {
            zsf_convert(e->params, e->dt, full, ZSF_FP32, numel, s);
        }
        zsf_comm_sync(e->comm);
        if (e->offload_optimizer)   /* the host state starts zeroed (zsf_offload_init) */
            zsf_offload_upload_master(&e->off, master, s);
        CUDA_CHECK(cudaFree(own));
        free(h);
    }
    for (int k = 0; k < e->n_state && e->state[k]; k++)
        CUDA_CHECK(cudaMemsetAsync(e->state[k], 0, len * sizeof(float), s));
    zsf_comm_sync(e->comm);
}

static void alloc_buffers(zsf_engine *e)
{
    const size_t numel = e->t.numel, len = e->part.len, W = (size_t)e->world, F = sizeof(float), E = e->esize;
    zsf_memory *m = &e->mem;
    /* stage 3 holds no full model: its units are gathered into stage3.h's pool (working memory) */
    if (e->stage <= 2)
        e->params = zsf_device_bytes(&m->params, numel * E);
    else if (e->offload_param)   /* the shard lives on the host, copied up unit by unit */
        e->host_shard = zsf_host_bytes(&e->host.params, len * E);
    else
        e->shard = zsf_device_bytes(&m->params, len * E);
    e->grad_micro = (float *)zsf_device_bytes(&m->working, numel * F);
    if (e->stage <= 1)
        e->grad_full = zsf_device_bytes(&m->grads, numel * E);
    e->grad_part = e->stage == 0 ? e->grad_full : zsf_device_bytes(&m->grads, len * E);
    if (e->stage >= 2)
        e->recv = zsf_device_bytes(&m->working, len * E);
    /* the fp32 consumers' view of the reduced partition: widened once per step (fp32: itself) */
    e->grad32 = e->dt == ZSF_FP32 ? (float *)e->grad_part : (float *)zsf_device_bytes(&m->working, len * F);
    /* fp32 stage 0 steps the model itself; everywhere else the optimizer owns an fp32 master copy */
    if (e->offload_optimizer) {   /* master and state on the host; the CPU steps them */
        int threads = zsf_cpu_optim_max_threads() / (e->comm->local_size > 0 ? e->comm->local_size : 1);
        zsf_offload_init(&e->off, len, e->n_state, e->dt, e->host_shard, threads > 0 ? threads : 1, 0, &e->host);
    } else {
        e->master = e->stage == 0 && e->dt == ZSF_FP32 ? (float *)e->params : (float *)zsf_device_bytes(&m->optimizer, len * F);
        for (int k = 0; k < e->n_state; k++)
            e->state[k] = (float *)zsf_device_bytes(&m->optimizer, len * F);
    }
    if ((e->stage == 1 || e->stage == 2) && (e->dt != ZSF_FP32 || e->offload_optimizer))
        e->cast = zsf_device_bytes(&m->working, len * E);
    e->optim_scratch = (float *)zsf_device_bytes(&m->working, ZSF_OPTIM_SCRATCH * F);
    if (e->stage == 1 || e->stage == 2) {   /* stage 3: per unit (stage3.h) */
        e->xbuf = zsf_device_bytes(&m->working, W * len * E);   /* >= numel: stage 2's reductions fit */
        if (e->stage == 1)   /* stage 2 reduces along the partition's runs (stage2.h) */
            e->rs_map = exchange_map(e, e->rs, e->n_rs);
        e->ag_map = exchange_map(e, e->ag, e->n_ag);
    }
    e->losses = (float *)zsf_device_bytes(&m->working, (size_t)e->batch.grad_accum_steps * F);
    e->norm_partial = (double *)zsf_device_bytes(&m->working, ZSF_NORM_BLOCKS * sizeof(double));
    e->norm = (double *)zsf_device_bytes(&m->working, sizeof(double));
    e->first_bad = (unsigned long long *)zsf_device_bytes(&m->working, sizeof(unsigned long long));
}

int zsf_engine_init(zsf_engine *e, const zs_case *kase, zsf_comm *comm, int64_t bucket_elems, zs_error *err)
{
    memset(e, 0, sizeof *e);
    e->kase = kase;
    e->cfg = &kase->config;
    e->comm = comm;
    e->rank = comm->rank;
    e->world = comm->world;
    e->stage = e->cfg->zero.stage;
    if (check_case(e, err))
        return 2;
    e->esize = zsf_dtype_size(e->dt);
    if (zs_ds_config_resolve_batch(e->cfg, e->world, &e->batch, err)) {
        zs_error_prefix(err, "world size %d", e->world);
        return 2;
    }
    if (zsf_params_build(&e->t, kase->model, err))
        return 2;
    size_t *sizes = (size_t *)malloc((size_t)e->t.n * sizeof(size_t));
    if (!sizes)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    for (int i = 0; i < e->t.n; i++)
        sizes[i] = e->t.p[i].numel;
    int rc = e->rule == ZSF_MUON ? zsf_muon_check(e->stage, e->batch.grad_accum_steps, err) ||
                                       zsf_muon_partition_init(&e->part, &e->t, e->stage, e->world, err)
                                 : zsf_partition_init(&e->part, e->stage, e->world, sizes, e->t.n, err);
    free(sizes);
    if (rc)
        return 2;
    const zs_zero_config *z = &e->cfg->zero;
    e->n_rs = zsf_plan_buckets(e->part.len, e->world, bucket_elems ? bucket_elems : z->reduce_bucket_size, &e->rs);
    e->n_ag = zsf_plan_buckets(e->part.len, e->world, bucket_elems ? bucket_elems : z->allgather_bucket_size, &e->ag);
    e->n_ar = zsf_plan_buckets(e->t.numel, 1, bucket_elems ? bucket_elems : z->reduce_bucket_size, &e->ar);
    if (!e->n_rs || !e->n_ag || !e->n_ar)
        zsf_die(__FILE__, __LINE__, "zsf_plan_buckets", "out of host memory");

    e->model = zsf_model_new(&e->t, (int)e->batch.micro_batch, e->dt, comm->compute);
    e->mem.working += (int64_t)zsf_model_workspace_bytes(e->model);
    alloc_buffers(e);
    if (e->stage == 2) {
        if (zsf_stage2_init(&e->z2, &e->t, &e->part, comm, e->dt, bucket_elems ? bucket_elems : z->reduce_bucket_size,
                            z->overlap_comm, e->params, e->xbuf))
            zsf_die(__FILE__, __LINE__, "zsf_stage2_init", "out of host memory");
        zsf_model_hooks hooks = zsf_stage2_hooks(&e->z2);
        zsf_model_set_hooks(e->model, &hooks);
    }
    if (e->stage == 3) {
        if (zsf_stage3_init(&e->z3, &e->t, &e->part, comm, e->dt, bucket_elems ? bucket_elems : z->allgather_bucket_size,
                            bucket_elems ? bucket_elems : z->reduce_bucket_size, e->shard, e->host_shard,
                            &e->mem.working, err))
            zsf_die(__FILE__, __LINE__, "zsf_stage3_init", err->msg);
        zsf_model_hooks hooks = zsf_stage3_hooks(&e->z3);
        zsf_model_set_hooks(e->model, &hooks);
    }
    init_state(e);
    if (zsf_optim_is_onebit(e->rule))   /* stage 0 only: the config layer refuses ZeRO for them */
        e->onebit = zsf_onebit_new(e);
    if (e->rule == ZSF_MUON && zsf_muon_init(e, err))
        zsf_die(__FILE__, __LINE__, "zsf_muon_init", err->msg);
    return 0;
}

void zsf_engine_free(zsf_engine *e)
{
    zsf_muon_free(e);
    zsf_model_free(e->model);
    zsf_stage2_free(&e->z2);
    zsf_stage3_free(&e->z3);
    void *owned[] = {e->params, e->shard, e->grad_micro, e->grad_full, e->recv, e->xbuf, e->losses,
                     e->stage == 0 ? NULL : e->grad_part, (void *)e->grad32 == e->grad_part ? NULL : e->grad32,
                     (void *)e->master == e->params ? NULL : e->master,
                     e->state[0], e->state[1], e->state[2], e->cast, e->optim_scratch};
    zsf_onebit_free(e->onebit);
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        cudaFree(owned[i]);
    cudaFree(e->rs_map);
    cudaFree(e->ag_map);
    cudaFree(e->norm_partial);
    cudaFree(e->norm);
    cudaFree(e->first_bad);
    if (e->offload_optimizer)
        zsf_offload_free(&e->off);
    cudaFreeHost(e->host_shard);
    free(e->rs);
    free(e->ag);
    free(e->ar);
    zsf_partition_free(&e->part);
    zsf_params_free(&e->t);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------------------------------------
 * Collectives of the step. */

/* Stage 1 at the boundary (docs/spec.md §10): t / W in the model dtype on every rank, then
 * reduce-scatter sum in the model dtype (comm.h) of its accumulated gradient. Stages 2 and 3 reduce
 * unit by unit during the backward pass (stage2.h, stage3.h). */
static void reduce_scatter_gradients(zsf_engine *e)
{
    size_t n = (size_t)e->world * e->part.len;
    zsf_gather_div(e->xbuf, e->dt, e->grad_full, e->dt, e->rs_map, n, (float)e->world, e->comm->compute);
    zsf_reduce_scatter_sum(e->comm, e->xbuf, e->grad_part, e->rs, e->n_rs, e->dt);
}

/* Stage 0 (DeepSpeed engine.py allreduce_bucket): optional pre-scale, all-reduce sum, post-scale. */
static void all_reduce_gradients(zsf_engine *e)
{
    const double W = (double)e->world, f = e->cfg->gradient_predivide_factor;
    const int prescale = e->cfg->prescale_gradients;
    const float pre = prescale ? (float)(1.0 / W) : f != 1.0 ? (float)(1.0 / f) : 1.0f;
    const float post = prescale || f == W ? 1.0f : (float)(f / W);
    const size_t n = e->t.numel;
    cudaStream_t s = e->comm->compute;
    if (pre != 1.0f)
        zsf_scale(e->grad_full, e->dt, n, pre, s);
    if (e->world > 1)
        zsf_all_reduce_sum(e->comm, e->grad_full, e->ar, e->n_ar, e->dt);
    if (post != 1.0f)
        zsf_scale(e->grad_full, e->dt, n, post, s);
}

/* ------------------------------------------------------------------------------------------------
 * Micro-steps */

/* Samples g = (m*W + r)*MB + b of optimizer step k (docs/spec.md §4). */
static void load_micro_batch(zsf_engine *e, int m)
{
    const int64_t MB = e->batch.micro_batch;
    const uint64_t g0 = (uint64_t)(((int64_t)m * e->world + e->rank) * MB);
    const zs_model_dims *d = &e->t.dims;
    zsf_rng_micro_batch(e->kase->seed, (uint64_t)e->global_steps, g0, (int)MB, d->seq, d->vocab,
                        zsf_model_inputs(e->model), zsf_model_targets(e->model), e->comm->compute);
}

static void run_micro_step(zsf_engine *e, int m, float dloss)
{
    cudaStream_t s = e->comm->compute;
    const size_t numel = e->t.numel, len = e->part.len;
    if (e->stage >= 2) {   /* each unit's gradient reduced as soon as it is final (stage2.h, stage3.h) */
        void *dest = m == 0 ? e->grad_part : e->recv;
        if (e->stage == 2)
            zsf_stage2_begin(&e->z2, e->grad_micro, dest);
        else
            zsf_stage3_begin(&e->z3, e->grad_micro, dest);
        load_micro_batch(e, m);
        zsf_model_forward(e->model, e->params, e->losses + m);   /* params: NULL at stage 3 (its hooks) */
        zsf_model_backward(e->model, e->params, e->grad_micro, dloss);
        if (e->stage == 2)
            zsf_stage2_end(&e->z2);
        else
            zsf_stage3_end(&e->z3);
        if (m > 0)   /* accumulate the owned partition */
            zsf_accumulate(e->grad_part, e->dt, e->recv, e->dt, len, s);
        return;
    }
    load_micro_batch(e, m);
    zsf_model_forward(e->model, e->params, e->losses + m);
    zsf_model_backward(e->model, e->params, e->grad_micro, dloss);
    /* stages 0-1: accumulate the local full gradient; reduce once at the boundary */
    if (m == 0)   /* exact: the scratch holds the rounded .grad */
        zsf_convert(e->grad_full, e->dt, e->grad_micro, ZSF_FP32, numel, s);
    else
        zsf_accumulate(e->grad_full, e->dt, e->grad_micro, ZSF_FP32, numel, s);
}

/* Mean of the micro-batch losses over ranks and micro-steps, summed in double in (m, r) order, as the
 * reference reports it, and each rank's own mean (summed in m order). Valid on rank 0. */
static float step_loss(zsf_engine *e, float *rank_loss)
{
    const int gas = (int)e->batch.grad_accum_steps, W = e->world;
    float *mine = (float *)malloc((size_t)gas * sizeof(float));
    float *all = (float *)malloc((size_t)gas * (size_t)W * sizeof(float));
    if (!mine || !all)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    CUDA_CHECK(cudaMemcpyAsync(mine, e->losses, (size_t)gas * sizeof(float), cudaMemcpyDeviceToHost, e->comm->compute));
    zsf_comm_sync(e->comm);
    MPI_CHECK(MPI_Gather(mine, gas, MPI_FLOAT, all, gas, MPI_FLOAT, 0, MPI_COMM_WORLD));
    double sum = 0.0;
    for (int m = 0; m < gas; m++) {   /* per micro-step sum over ranks, then over micro-steps */
        double over_ranks = 0.0;
        for (int r = 0; r < W; r++)
            over_ranks += (double)all[(size_t)r * gas + m];
        sum += over_ranks;
    }
    for (int r = 0; r < W && r < 64; r++) {
        double own = 0.0;
        for (int m = 0; m < gas; m++)
            own += (double)all[(size_t)r * gas + m];
        rank_loss[r] = (float)(own / (double)gas);
    }
    free(mine);
    free(all);
    return (float)(sum / (double)(gas * W));
}

/* ------------------------------------------------------------------------------------------------
 * Norm and clipping (docs/spec.md §11). */

/* This rank's sum of squares of its gradient partition (fp64); *first_bad = index of its first
 * non-finite element, or -1. */
static double partition_sumsq(zsf_engine *e, int64_t *first_bad)
{
    cudaStream_t s = e->comm->compute;
    CUDA_CHECK(cudaMemsetAsync(e->first_bad, 0xFF, sizeof(unsigned long long), s));
    sumsq_partial_kernel<<<ZSF_NORM_BLOCKS, ZSF_NORM_THREADS, 0, s>>>(e->norm_partial, e->first_bad, e->grad32,
                                                                      e->part.len);
    CUDA_CHECK_LAUNCH();
    sumsq_final_kernel<<<1, 1, 0, s>>>(e->norm, e->norm_partial, ZSF_NORM_BLOCKS);
    CUDA_CHECK_LAUNCH();
    double sumsq = 0.0;
    unsigned long long bad = 0;
    CUDA_CHECK(cudaMemcpyAsync(&sumsq, e->norm, sizeof sumsq, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaMemcpyAsync(&bad, e->first_bad, sizeof bad, cudaMemcpyDeviceToHost, s));
    zsf_comm_sync(e->comm);
    *first_bad = bad == ~0ULL ? -1 : (int64_t)bad;
    return sumsq;
}

/* Where no overflow check runs (fp32; bf16 at stages 0 and 3 or without check_grad_overflow) steps are
 * not skipped: a non-finite gradient stops the run, naming where it is. */
static int report_nonfinite(zsf_engine *e, int64_t first_bad, zs_error *err)
{
    int64_t culprit = zsf_all_reduce_min_i64(e->comm, first_bad >= 0 ? e->rank : INT64_MAX);
    if (culprit == INT64_MAX)
        return 0;
    if (e->rank == culprit) {
        int64_t idx = zsf_partition_index(&e->part, e->rank, (size_t)first_bad);
        int p = idx >= 0 ? zsf_param_of(&e->t, (size_t)idx) : -1;
        zs_fail(err, "step %lld: non-finite gradient on rank %d in %s[%lld]; %s training does not skip steps "
                     "on overflow, so the run stops here",
                (long long)e->global_steps + 1, e->rank, p >= 0 ? e->t.p[p].name : "padding",
                (long long)(p >= 0 ? idx - (int64_t)e->t.p[p].offset : 0), zs_precision_name(e->cfg->precision));
    }
    MPI_CHECK(MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, (int)culprit, MPI_COMM_WORLD));
    return 1;
}

/* DeepSpeed's unscale_and_clip_grads: combined = S * max(1, (N/S + 1e-6) / clip), all fp32. */
static float unscale_factor(const zsf_engine *e, float norm_scaled, float scale)
{
    float combined = scale;
    if (e->cfg->gradient_clipping > 0.0) {
        float clip = ((norm_scaled / scale) + 1e-6f) / (float)e->cfg->gradient_clipping;
        if (clip > 1.0f)
            combined = clip * scale;
    }
    return 1.0f / combined;
}

/* The optimizer on the fp32 master partition: one flat partition under ZeRO; at stage 0 each parameter
 * tensor separately when the rule has per-tensor quantities (Lamb's trust ratio, spec.md §12). */
static void optimizer_step(zsf_engine *e, float inv, double lr)
{
    double b1, b2;
    zsf_sched_betas(e->cfg, zsf_optim_has_betas(e->rule), e->applied_steps, &b1, &b2);
    zsf_optim_scalars sc;
    zsf_optim_scalars_for(e->rule, &e->cfg->optimizer, e->applied_steps + 1, lr, b1, b2, &sc);
    cudaStream_t s = e->comm->compute;
    if (e->muon) {   /* two param groups with their own rules */
        zsf_muon_step(e, inv, lr);
        return;
    }
    if (e->offload_optimizer) {   /* on the CPU; the model-dtype partition comes back for publishing */
        void *model_dev = e->stage == 3 ? (e->host_shard ? NULL : e->shard) : e->cast;
        zsf_offload_step(&e->off, &sc, inv, e->grad32, model_dev, s);
        return;
    }
    if (e->stage > 0 || !zsf_optim_per_tensor(e->rule)) {
        zsf_optim_step(&sc, inv, e->master, e->grad32, e->state, e->part.len, e->optim_scratch, s);
        return;
    }
    for (int p = 0; p < e->t.n; p++) {
        const size_t off = e->t.p[p].offset;
        float *state[ZSF_OPTIM_N_STATE] = {0};
        for (int k = 0; k < e->n_state; k++)
            state[k] = e->state[k] + off;
        zsf_optim_step(&sc, inv, e->master + off, e->grad32 + off, state, e->t.p[p].numel, e->optim_scratch, s);
    }
}

/* The master cast to the model dtype becomes the model: stages 1-2 all-gather the cast partitions into
 * every rank's full model; stage 3: the rank's new shard; stage 0: the rank's copy (fp32 stage 0: the
 * optimizer updated the model itself). */
static void publish_params(zsf_engine *e)
{
    cudaStream_t s = e->comm->compute;
    const size_t len = e->part.len, n = (size_t)e->world * len;
    if (e->stage == 3) {   /* offload_optimizer: the CPU wrote the shard (host or device) already */
        void *shard = e->host_shard ? e->recv : e->shard;   /* offload_param: cast on the device, sent down */
        if (!e->offload_optimizer)
            zsf_convert(shard, e->dt, e->master, ZSF_FP32, len, s);
        if (e->host_shard && !e->offload_optimizer)
            CUDA_CHECK(cudaMemcpyAsync(e->host_shard, shard, len * e->esize, cudaMemcpyDeviceToHost, s));
    } else if (e->stage >= 1) {
        const void *part = e->master;   /* fp32 without offload: the master is the model's value */
        if (e->offload_optimizer) {
            part = e->cast;   /* copied up by zsf_offload_step */
        } else if (e->cast) {
            zsf_convert(e->cast, e->dt, e->master, ZSF_FP32, len, s);
            part = e->cast;
        }
        zsf_all_gather(e->comm, part, e->xbuf, e->ag, e->n_ag, e->dt);
        zsf_scatter(e->params, e->dt, e->xbuf, e->dt, e->ag_map, n, s);
    } else if ((void *)e->master != e->params) {
        zsf_convert(e->params, e->dt, e->master, ZSF_FP32, len, s);
    }
}

/* ------------------------------------------------------------------------------------------------
 * One optimizer step (DeepSpeed engine.step at the accumulation boundary). */

int zsf_engine_step(zsf_engine *e, zsf_step_report *rep, zs_error *err)
{
    const int64_t gas = e->batch.grad_accum_steps;
    const double scale = e->scaler.scale;              /* S of this step's backward passes */
    const float dloss = (float)scale / (float)gas;     /* fl32(fl32(S) / GAS) */
    memset(rep, 0, sizeof *rep);
    rep->step = e->global_steps + 1;
    rep->loss_scale = scale;
    rep->lr = zsf_sched_lr(e->cfg, e->applied_steps);

    for (int m = 0; m < gas; m++)
        run_micro_step(e, m, dloss);
    if (e->stage == 0 && (!e->onebit || zsf_onebit_allreduce_enabled(e->onebit)))   /* enable_backward_allreduce */
        all_reduce_gradients(e);
    else if (e->stage == 1)
        reduce_scatter_gradients(e);
    if ((void *)e->grad32 != e->grad_part)   /* the fp32 copy the norm, the optimizer and the hooks read */
        zsf_convert(e->grad32, ZSF_FP32, e->grad_part, e->dt, e->part.len, e->comm->compute);
    if (e->muon)   /* before the overflow check, norm and unscale, as DeepSpeed's gradient epilogue */
        zsf_muon_hook(e);
    rep->loss = step_loss(e, rep->rank_loss);

    int64_t first_bad = -1;
    double sumsq = partition_sumsq(e, &first_bad);
    /* overflow: any Inf/NaN in any rank's reduced partition, max-reduced so every rank agrees */
    rep->overflow = overflow_check_enabled(e) ? zsf_any(first_bad >= 0) : 0;
    if (zsf_loss_scaler_update(&e->scaler, rep->overflow, err)) {   /* before the norm, as DeepSpeed */
        zs_error_prefix(err, "step %lld", (long long)rep->step);
        return 1;
    }
    if (rep->overflow) {   /* skipped: no optimizer step, parameters unchanged, scheduler not advanced */
        rep->skipped = 1;
        e->skipped_steps++;
        e->global_steps++;
        return 0;
    }
    if (report_nonfinite(e, first_bad, err))
        return 1;
    /* stage 0: every rank holds the whole reduced gradient, its own sum is the norm */
    double total = e->stage == 0 || e->world == 1 ? sumsq : zsf_all_reduce_sum_f64(e->comm, sumsq);
    float norm_scaled = (float)sqrt(total);
    rep->grad_norm = norm_scaled / (float)scale;   /* N_S / S, the pre-update scale (spec's choice) */
    /* DeepSpeed unscales with the scale after this step's update: on a growth step by 2S */
    float inv = unscale_factor(e, norm_scaled, (float)e->scaler.scale);
    if (!e->onebit)
        optimizer_step(e, inv, rep->lr);
    else if (zsf_onebit_step(e->onebit, e, inv, rep->lr, err))   /* each rank's own clip: inv is per rank */
        return 1;
    publish_params(e);
    zsf_comm_sync(e->comm);
    e->applied_steps++;
    e->global_steps++;
    return 0;
}

void zsf_engine_load_state(zsf_engine *e, const float *master, const float *const *state, int64_t global_steps,
                           int64_t applied_steps, int64_t skipped_steps, double scale, int64_t cur_iter,
                           int64_t last_overflow_iter, int64_t cur_hysteresis)
{
    cudaStream_t s = e->comm->compute;
    const size_t bytes = e->part.len * sizeof(float);
    if (e->offload_optimizer) {   /* the host holds them; the model-dtype partition goes where a step puts it */
        void *model_dev = e->stage == 3 ? (e->host_shard ? NULL : e->shard) : e->cast;
        zsf_offload_load(&e->off, master, state, model_dev, s);
    } else {
        CUDA_CHECK(cudaMemcpyAsync(e->master, master, bytes, cudaMemcpyHostToDevice, s));
        for (int k = 0; k < e->n_state; k++)
            CUDA_CHECK(cudaMemcpyAsync(e->state[k], state[k], bytes, cudaMemcpyHostToDevice, s));
    }
    publish_params(e);
    zsf_comm_sync(e->comm);
    e->global_steps = global_steps;
    e->applied_steps = applied_steps;
    e->skipped_steps = skipped_steps;
    if (e->scaler.dynamic) {   /* a static scale is the config's own */
        e->scaler.scale = scale;
        e->scaler.cur_iter = cur_iter;
        e->scaler.last_overflow_iter = last_overflow_iter;
        e->scaler.cur_hysteresis = (int)cur_hysteresis;
    }
}

void zsf_engine_read_partitions(zsf_engine *e, float *grad, float *master, float *const *state)
{
    cudaStream_t s = e->comm->compute;
    const size_t bytes = e->part.len * sizeof(float);
    if (grad)
        CUDA_CHECK(cudaMemcpyAsync(grad, e->grad32, bytes, cudaMemcpyDeviceToHost, s));
    /* cudaMemcpyDefault: under offload the master and state are host memory */
    if (master)
        CUDA_CHECK(cudaMemcpyAsync(master, e->offload_optimizer ? e->off.master : e->master, bytes, cudaMemcpyDefault, s));
    for (int k = 0; state && k < e->n_state; k++)
        if (state[k])
            CUDA_CHECK(cudaMemcpyAsync(state[k], e->offload_optimizer ? e->off.state[k] : e->state[k], bytes,
                                       cudaMemcpyDefault, s));
    zsf_comm_sync(e->comm);
}

void zsf_engine_read_model(zsf_engine *e, float *out)
{
    const void *src = e->stage == 3 ? (e->host_shard ? e->host_shard : e->shard) : e->params;
    const size_t n = e->stage == 3 ? e->part.len : e->t.numel;
    void *raw = e->dt == ZSF_FP32 ? (void *)out : malloc(n ? n * e->esize : 1);   /* 16-bit: widened here */
    if (!raw)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    CUDA_CHECK(cudaMemcpyAsync(raw, src, n * e->esize, cudaMemcpyDefault, e->comm->compute));
    zsf_comm_sync(e->comm);
    if (raw != (void *)out) {
        zsf_widen(out, raw, n, e->dt);
        free(raw);
    }
}
