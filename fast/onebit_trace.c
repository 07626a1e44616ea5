/* The 1-bit family's per-rank trace tensors (onebit.h zsf_onebit_trace), named as zs-ref names them
 * (docs/spec/optimizers.md §8.5): rank 0 gathers every rank's error buffers (and OnebitLamb's padding
 * tail); the counters and per-tensor coefficients are the same on every rank. */
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>

#include "check.h"
#include "onebit.h"

static void must(int rc, const zs_error *err)
{
    if (rc)
        zsf_die(__FILE__, __LINE__, "safetensors writer", err->msg);
}

/* One device buffer of n floats from every rank -> step<k>/rank<r>/<name> on rank 0. */
static void gathered(const zsf_engine *e, zs_st_writer *w, long long k, const char *name, const float *dev, size_t n)
{
    const size_t W = (size_t)e->world, cnt = n ? n : 1;
    float *mine = malloc(cnt * sizeof(float)), *all = e->rank == 0 ? malloc(W * cnt * sizeof(float)) : NULL;
    if (!mine || (e->rank == 0 && !all))
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    CUDA_CHECK(cudaMemcpyAsync(mine, dev, n * sizeof(float), cudaMemcpyDeviceToHost, e->comm->compute));
    zsf_comm_sync(e->comm);
    MPI_CHECK(MPI_Gather(mine, (int)cnt, MPI_FLOAT, all, (int)cnt, MPI_FLOAT, 0, MPI_COMM_WORLD));
    for (int r = 0; e->rank == 0 && r < e->world; r++) {
        char full[200];
        zs_error err = {{0}};
        snprintf(full, sizeof full, "step%lld/rank%d/%s", k, r, name);
        must(zs_st_add_f32(w, full, all + (size_t)r * cnt, n, &err), &err);
    }
    free(mine);
    free(all);
}

void zsf_onebit_trace(const zsf_onebit *ob, const zsf_engine *e, zs_st_writer *w, long long k)
{
    gathered(e, w, k, "worker_error", ob->werr, ob->worker_len);
    gathered(e, w, k, "server_error", ob->serr, ob->server_len);
    if (ob->pad)
        gathered(e, w, k, "exp_avg_padding", ob->pad, ob->worker_len - ob->numel);
    for (int r = 0; e->rank == 0 && r < e->world; r++) {
        char name[200];
        zs_error err = {{0}};
        const int64_t shape[1] = {ob->T};
        if (e->rule == ZSF_ZERO_ONE_ADAM) {
            snprintf(name, sizeof name, "step%lld/rank%d/lrs", k, r);
            must(zs_st_add_scalar_f64(w, name, ob->s.lrs, &err), &err);
        }
        if (e->rule != ZSF_ONEBIT_LAMB)
            continue;
        const struct {
            const char *name;
            const double *v;
        } rows[] = {{"lamb_coeff_freeze", ob->coeff_freeze}, {"last_factor", ob->last_factor},
                    {"scaling_coeff", ob->scaling_coeff}};
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            snprintf(name, sizeof name, "step%lld/rank%d/%s", k, r, rows[i].name);
            must(zs_st_add(w, name, ZS_F64, 1, shape, rows[i].v, &err), &err);
        }
    }
}
