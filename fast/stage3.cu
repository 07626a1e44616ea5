/* Stage 3's per-unit parameter gathers and gradient reduce-scatters (stage3.h). */
#include "stage3.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "kernels/zero.cuh"

/* Every unit's bucket plan (at most bucket_elems elements over all ranks per call, as the
 * whole-partition plans) and its exchange map, the units' maps side by side on the device. */
static int64_t *unit_plans(zsf_stage3 *z, int64_t bucket_elems, zsf_bucket ***plans, int **counts, int64_t *working)
{
    const size_t W = (size_t)z->comm->world, n = W * z->part->len;
    *plans = (zsf_bucket **)calloc((size_t)z->plan.n, sizeof **plans);
    *counts = (int *)calloc((size_t)z->plan.n, sizeof **counts);
    int64_t *h = (int64_t *)malloc((n ? n : 1) * sizeof(int64_t));
    if (!*plans || !*counts || !h)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    for (int u = 0; u < z->plan.n; u++) {
        const zsf_unit *x = &z->plan.u[u];
        (*counts)[u] = zsf_plan_buckets(x->shard_len, (int)W, bucket_elems, &(*plans)[u]);
        if (!(*counts)[u])
            zsf_die(__FILE__, __LINE__, "zsf_plan_buckets", "out of host memory");
        zsf_unit_exchange_map(&z->plan, z->part, u, (*plans)[u], (*counts)[u], h + W * x->shard_offset);
    }
    int64_t *d = (int64_t *)zsf_device_bytes(working, n * sizeof(int64_t));
    CUDA_CHECK(cudaMemcpy(d, h, n * sizeof(int64_t), cudaMemcpyHostToDevice));
    free(h);
    return d;
}

int zsf_stage3_init(zsf_stage3 *z, const zsf_params *t, const zsf_partition *p, zsf_comm *c, zsf_dtype dt,
                    int64_t ag_bucket_elems, int64_t rs_bucket_elems, const void *shard, const void *host_shard,
                    int64_t *working, zs_error *err)
{
    memset(z, 0, sizeof *z);
    z->comm = c;
    z->dt = dt;
    z->part = p;
    if (zsf_layer_plan_build(&z->plan, t, p, err))
        return -1;
    z->ag_map = unit_plans(z, ag_bucket_elems, &z->ag, &z->n_ag, working);
    z->rs_map = unit_plans(z, rs_bucket_elems, &z->rs, &z->n_rs, working);
    const size_t E = zsf_dtype_size(dt);   /* model-dtype storage */
    const int64_t before = *working;
    for (int s = 0; s < 2; s++) {
        z->slot[s] = zsf_device_bytes(working, z->plan.max_numel * E);
        z->slot_unit[s] = -1;
        CUDA_CHECK(cudaEventCreateWithFlags(&z->fetched[s], cudaEventDisableTiming));
    }
    z->xbuf = zsf_device_bytes(working, (size_t)c->world * z->plan.max_shard * E);
    z->shard = shard;
    z->host_shard = host_shard;
    if (host_shard)
        z->staging = zsf_device_bytes(working, z->plan.max_shard * E);
    z->pool_bytes = *working - before;
    CUDA_CHECK(cudaEventCreateWithFlags(&z->ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&z->done, cudaEventDisableTiming));
    return 0;
}

void zsf_stage3_free(zsf_stage3 *z)
{
    if (!z->plan.u)
        return;
    for (int u = 0; u < z->plan.n; u++) {
        free(z->ag ? z->ag[u] : NULL);
        free(z->rs ? z->rs[u] : NULL);
    }
    free(z->ag);
    free(z->rs);
    free(z->n_ag);
    free(z->n_rs);
    cudaFree(z->ag_map);
    cudaFree(z->rs_map);
    for (int s = 0; s < 2; s++) {
        cudaFree(z->slot[s]);
        cudaEventDestroy(z->fetched[s]);
    }
    cudaFree(z->xbuf);
    cudaFree(z->staging);
    cudaEventDestroy(z->ready);
    cudaEventDestroy(z->done);
    zsf_layer_plan_free(&z->plan);
    memset(z, 0, sizeof *z);
}

/* The comm stream waits for everything queued on the compute stream so far. */
static void comm_after_compute(zsf_stage3 *z)
{
    CUDA_CHECK(cudaEventRecord(z->ready, z->comm->compute));
    CUDA_CHECK(cudaStreamWaitEvent(z->comm->comm_stream, z->ready, 0));
}

/* Unit u into slot s on the comm stream: (offload_param: its shard range up from the host), the
 * all-gather of that range from every rank, unpacked into the slot. Ordered after the compute work
 * queued so far, which includes the last read of the slot's previous unit. */
static void fetch_unit(zsf_stage3 *z, int u, int s)
{
    cudaStream_t cs = z->comm->comm_stream;
    const zsf_unit *x = &z->plan.u[u];
    const size_t n = (size_t)z->comm->world * x->shard_len;
    comm_after_compute(z);
    const void *src = z->shard ? zsf_elem(z->shard, z->dt, x->shard_offset) : NULL;
    if (z->host_shard) {
        CUDA_CHECK(cudaMemcpyAsync(z->staging, zsf_elem(z->host_shard, z->dt, x->shard_offset),
                                   x->shard_len * zsf_dtype_size(z->dt), cudaMemcpyHostToDevice, cs));
        src = z->staging;
    }
    zsf_all_gather_on(z->comm, cs, src, z->xbuf, z->ag[u], z->n_ag[u], z->dt);
    zsf_scatter(z->slot[s], z->dt, z->xbuf, z->dt, z->ag_map + (size_t)z->comm->world * x->shard_offset, n, cs);
    CUDA_CHECK(cudaEventRecord(z->fetched[s], cs));
    z->slot_unit[s] = u;
}

static int slot_of(const zsf_stage3 *z, int u)
{
    return z->slot_unit[0] == u ? 0 : z->slot_unit[1] == u ? 1 : -1;
}

/* model.h fetch: the unit from its slot (gathered now if it is not there), and the next unit of the
 * use order gathered into the other slot while this one computes. */
static const void *hook_fetch(void *ctx, int u)
{
    zsf_stage3 *z = (zsf_stage3 *)ctx;
    if (z->use >= z->plan.n_uses || z->plan.uses[z->use] != u)
        zsf_die(__FILE__, __LINE__, "stage 3", "the model used its units out of layer_plan.h's order");
    const int i = z->use++;
    int s = slot_of(z, u);
    if (s < 0) {
        s = 1 - z->cur;
        fetch_unit(z, u, s);
    }
    CUDA_CHECK(cudaStreamWaitEvent(z->comm->compute, z->fetched[s], 0));
    z->cur = s;
    const int next = zsf_layer_plan_next(&z->plan, i);
    if (next >= 0 && slot_of(z, z->plan.uses[next]) < 0)
        fetch_unit(z, z->plan.uses[next], 1 - s);
    return z->slot[s];
}

/* model.h grads_done: the unit's gradient, t / W stored in the model dtype (docs/spec.md §10),
 * reduce-scattered into its range of the partition on the comm stream, summed in the model dtype
 * (comm.h). */
static void hook_grads_done(void *ctx, int u)
{
    zsf_stage3 *z = (zsf_stage3 *)ctx;
    cudaStream_t cs = z->comm->comm_stream;
    const zsf_unit *x = &z->plan.u[u];
    const size_t W = (size_t)z->comm->world, n = W * x->shard_len;
    comm_after_compute(z);
    zsf_gather_div(z->xbuf, z->dt, z->grads + x->offset, ZSF_FP32, z->rs_map + W * x->shard_offset, n, (float)W, cs);
    zsf_reduce_scatter_sum_on(z->comm, cs, z->xbuf, zsf_elem(z->dest, z->dt, x->shard_offset), z->rs[u], z->n_rs[u],
                              z->dt);
}

zsf_model_hooks zsf_stage3_hooks(zsf_stage3 *z)
{
    /* no release: a slot is overwritten only by a fetch ordered after its last use */
    zsf_model_hooks h = {hook_fetch, NULL, hook_grads_done, z};
    return h;
}

void zsf_stage3_begin(zsf_stage3 *z, const float *grads, void *dest)
{
    z->use = 0;
    z->slot_unit[0] = z->slot_unit[1] = -1;   /* the shard may have changed since the last pass */
    z->cur = 1;
    z->grads = grads;
    z->dest = dest;
}

void zsf_stage3_end(zsf_stage3 *z)
{
    if (z->use != z->plan.n_uses)
        zsf_die(__FILE__, __LINE__, "stage 3", "the model did not use every unit of layer_plan.h's order");
    CUDA_CHECK(cudaEventRecord(z->done, z->comm->comm_stream));
    CUDA_CHECK(cudaStreamWaitEvent(z->comm->compute, z->done, 0));
}
