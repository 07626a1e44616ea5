/* Stage 2's per-unit gradient reductions (stage2.h). */
#include "stage2.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/zero.cuh"
#include "layer_plan.h"

int zsf_stage2_init(zsf_stage2 *z, const zsf_params *t, const zsf_partition *p, zsf_comm *c, zsf_dtype dt,
                    int64_t bucket_elems, int overlap_comm, const void *params, void *x)
{
    memset(z, 0, sizeof *z);
    z->comm = c;
    z->stream = overlap_comm ? c->comm_stream : c->compute;
    z->dt = dt;
    z->t = t;
    z->params = params;
    z->x = x;
    z->n_units = zsf_unit_count(t);
    zsf_run *owned;
    const int n = zsf_partition_runs(p, &owned);
    z->runs = (zsf_run **)calloc((size_t)z->n_units, sizeof *z->runs);
    z->n_runs = (int *)calloc((size_t)z->n_units, sizeof *z->n_runs);
    int ok = n >= 0 && z->runs && z->n_runs;
    for (int u = 0; ok && u < z->n_units; u++) {
        size_t numel;
        const size_t lo = zsf_unit_range(t, u, &numel);
        ok = (z->n_runs[u] = zsf_runs_slice(owned, n, lo, lo + numel, bucket_elems, &z->runs[u])) >= 0;
    }
    if (ok)
        ok = (z->n_gaps = zsf_runs_gaps(owned, n, c->rank, p->len, &z->gaps)) >= 0;
    free(owned);
    if (!ok) {
        zsf_stage2_free(z);
        return -1;
    }
    CUDA_CHECK(cudaEventCreateWithFlags(&z->ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&z->done, cudaEventDisableTiming));
    return 0;
}

void zsf_stage2_free(zsf_stage2 *z)
{
    for (int u = 0; z->runs && u < z->n_units; u++)
        free(z->runs[u]);
    free(z->runs);
    free(z->n_runs);
    free(z->gaps);
    if (z->ready)
        cudaEventDestroy(z->ready);
    if (z->done)
        cudaEventDestroy(z->done);
    memset(z, 0, sizeof *z);
}

/* model.h fetch: the full model is resident; the unit starts at its first element. */
static const void *hook_fetch(void *ctx, int u)
{
    zsf_stage2 *z = (zsf_stage2 *)ctx;
    size_t numel;
    return zsf_elem(z->params, z->dt, zsf_unit_range(z->t, u, &numel));
}

/* model.h grads_done: t / W stored in the model dtype (docs/spec.md §10), then each piece summed onto
 * its owner, on z->stream after the compute work that finished the unit. */
static void hook_grads_done(void *ctx, int u)
{
    zsf_stage2 *z = (zsf_stage2 *)ctx;
    cudaStream_t s = z->stream;
    if (s != z->comm->compute) {
        CUDA_CHECK(cudaEventRecord(z->ready, z->comm->compute));
        CUDA_CHECK(cudaStreamWaitEvent(s, z->ready, 0));
    }
    size_t numel;
    const size_t lo = zsf_unit_range(z->t, u, &numel);
    zsf_gather_div(zsf_elem(z->x, z->dt, lo), z->dt, z->grads + lo, ZSF_FP32, NULL, numel, (float)z->comm->world, s);
    zsf_reduce_runs_on(z->comm, s, z->x, z->dest, z->runs[u], z->n_runs[u], z->dt);
}

zsf_model_hooks zsf_stage2_hooks(zsf_stage2 *z)
{
    zsf_model_hooks h = {hook_fetch, NULL, hook_grads_done, z};   /* nothing to release: the model stays */
    return h;
}

void zsf_stage2_begin(zsf_stage2 *z, const float *grads, void *dest)
{
    z->grads = grads;
    z->dest = dest;
    const size_t E = zsf_dtype_size(z->dt);
    for (int i = 0; i < z->n_gaps; i++)   /* ordered before every reduction into dest (grads_done) */
        CUDA_CHECK(cudaMemsetAsync(zsf_elem(dest, z->dt, z->gaps[i].part), 0, z->gaps[i].count * E, z->comm->compute));
}

void zsf_stage2_end(zsf_stage2 *z)
{
    if (z->stream == z->comm->compute)
        return;
    CUDA_CHECK(cudaEventRecord(z->done, z->stream));
    CUDA_CHECK(cudaStreamWaitEvent(z->comm->compute, z->done, 0));
}
