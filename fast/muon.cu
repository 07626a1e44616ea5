/* Muon in the zs-fast engine (muon.h). */
#include "muon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "kernels/zero.cuh"
#include "lr_sched.h"
#include "muon_math.h"

/* ------------------------------------------------------------------------------------------------
 * Kernels: muon_update's element parts, the two groups' steps. */

__global__ static void muon_momentum_kernel(float *g, float *m, size_t n, zsf_dtype t, float w_mom, float w_nes)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_muon_momentum_elem(t, &g[i], &m[i], w_mom, w_nes);
}

__global__ static void muon_finish_kernel(float *u, size_t n, zsf_dtype t, zsf_dtype c, int tall, float aspect)
{
    size_t i = zsf_tid();
    if (i < n)
        u[i] = zsf_muon_finish_elem(t, c, tall, aspect, u[i]);
}

__global__ static void muon_group_kernel(float *param, const float *grad, size_t n, float inv, zsf_muon_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        param[i] = zsf_muon_decayed_step(param[i], grad[i] * inv, c.decay, c.minus_lr);
}

__global__ static void aux_adam_kernel(float *param, const float *grad, float *m, float *v, size_t n, float inv,
                                       zsf_muon_scalars c)
{
    size_t i = zsf_tid();
    if (i < n)
        zsf_muon_adam_elem(&c, &param[i], grad[i] * inv, &m[i], &v[i]);
}

/* ------------------------------------------------------------------------------------------------ */

/* The device map of this rank's muon-group piece (group 0: the first group_len[0] elements). */
static int64_t *upload_own(zsf_engine *e, int64_t *row, zs_error *err)
{
    const size_t len = e->part.len, P0 = e->part.group_len[0];
    int64_t *h = (int64_t *)malloc((len ? len : 1) * sizeof(int64_t));
    if (!h) {
        zs_fail(err, "out of host memory");
        return NULL;
    }
    zsf_partition_own_map(&e->part, e->rank, h);
    int64_t *d = (int64_t *)zsf_device_bytes(row, P0 * sizeof(int64_t));
    CUDA_CHECK(cudaMemcpyAsync(d, h, P0 * sizeof(int64_t), cudaMemcpyHostToDevice, e->comm->compute));
    zsf_comm_sync(e->comm);
    free(h);
    return d;
}

int zsf_muon_init(zsf_engine *e, zs_error *err)
{
    zsf_muon *mu = (zsf_muon *)calloc(1, sizeof *mu);
    if (!mu || !(mu->uses = (int *)calloc((size_t)(e->t.n > 0 ? e->t.n : 1), sizeof(int)))) {
        free(mu);
        return zs_fail(err, "out of host memory");
    }
    e->muon = mu;
    for (int p = 0; p < e->t.n; p++)
        mu->uses[p] = zsf_muon_uses(&e->t.p[p]);
    mu->method = strcmp(e->cfg->optimizer.ns_method, "standard") ? ZSF_NS_GRAM : ZSF_NS_STANDARD;
    if (e->stage == 0)   /* no ZeRO gradient path: no momentum, no orthogonalisation */
        return 0;
    if (zsf_muon_plan_init(&mu->plan, &e->t, &e->part, e->rank, err))
        return -1;
    mu->momentum = (float *)zsf_device_bytes(&e->mem.optimizer, mu->plan.buf_len * sizeof(float));
    CUDA_CHECK(cudaMemsetAsync(mu->momentum, 0, mu->plan.buf_len * sizeof(float), e->comm->compute));
    if (!(mu->own = upload_own(e, &e->mem.working, err)))
        return -1;
    zsf_ns_work_init(&mu->ns, mu->plan.max_numel, mu->plan.max_square, &e->mem.working);
    zsf_comm_sync(e->comm);
    return 0;
}

void zsf_muon_free(zsf_engine *e)
{
    zsf_muon *mu = e->muon;
    if (!mu)
        return;
    cudaFree(mu->momentum);
    cudaFree(mu->own);
    if (mu->ns.X)
        zsf_ns_work_free(&mu->ns);
    zsf_muon_plan_free(&mu->plan);
    free(mu->uses);
    free(mu);
    e->muon = NULL;
}

/* original_muon.py muon_update on one rows x cols parameter: G (device, the whole reduced gradient,
 * values of the gradient dtype t) becomes the update, M is the rank's momentum for it. */
static void muon_update(zsf_muon *mu, float *G, float *M, int rows, int cols, zsf_dtype t, double beta,
                        cudaStream_t s)
{
    const size_t n = (size_t)rows * (size_t)cols;
    const float w_mom = (float)(1.0 - beta), w_nes = (float)beta;   /* Python scalars -> opmath float */
    ZSF_LAUNCH(muon_momentum_kernel, n, s, G, M, n, t, w_mom, w_nes);
    zsf_newton_schulz(&mu->ns, mu->method, G, rows, cols, G, s);
    const float aspect = (float)pow((double)rows / (double)cols, 0.5);   /* max(1, rows/cols)**0.5 */
    ZSF_LAUNCH(muon_finish_kernel, n, s, G, n, t, zsf_ns_dtype(mu->method), rows > cols, aspect);
}

void zsf_muon_hook(zsf_engine *e)
{
    zsf_muon *mu = e->muon;
    if (e->stage == 0)
        return;
    cudaStream_t s = e->comm->compute;
    const size_t n = (size_t)e->world * e->part.len;
    float *full = e->grad_micro;   /* free after the reduction: every muon parameter's reduced gradient */
    zsf_all_gather(e->comm, e->grad_part, e->xbuf, e->ag, e->n_ag, e->dt);   /* in the model dtype */
    zsf_scatter(full, ZSF_FP32, e->xbuf, e->dt, e->ag_map, n, s);
    for (int k = 0; k < mu->plan.n; k++) {
        const zsf_param *p = &e->t.p[mu->plan.param[k]];
        muon_update(mu, full + p->offset, mu->momentum + mu->plan.buf_offset[k], (int)p->shape[0], (int)p->shape[1],
                    e->dt, e->cfg->optimizer.momentum, s);
    }
    const size_t P0 = e->part.group_len[0];   /* keep this rank's slice; the padding stays 0 */
    zsf_gather_div(e->grad32, ZSF_FP32, full, ZSF_FP32, mu->own, P0, 1.0f, s);   /* the fp32 copy the step reads */
}

/* The Adam group's lr: the scheduler applied to adam_lr (DeepSpeed's schedulers write each group's lr
 * from that group's base where they use one). */
static double adam_group_lr(const zs_ds_config *cfg, int64_t k)
{
    zs_ds_config c = *cfg;
    c.optimizer.lr = cfg->optimizer.adam_lr;
    return zsf_sched_lr(&c, k);
}

/* Group g's rule on partition elements [off, off + n). */
static void group_step(zsf_engine *e, int muon_group, const zsf_muon_scalars *sc, float inv, size_t off, size_t n)
{
    cudaStream_t s = e->comm->compute;
    if (muon_group)
        ZSF_LAUNCH(muon_group_kernel, n, s, e->master + off, e->grad32 + off, n, inv, *sc);
    else
        ZSF_LAUNCH(aux_adam_kernel, n, s, e->master + off, e->grad32 + off, e->state[0] + off, e->state[1] + off, n,
                   inv, *sc);
}

void zsf_muon_step(zsf_engine *e, float inv, double lr)
{
    zsf_muon_scalars sc;
    zsf_muon_scalars_for(&e->cfg->optimizer, e->applied_steps + 1, lr, adam_group_lr(e->cfg, e->applied_steps), &sc);
    if (e->stage > 0) {   /* one flat partition per group: the muon piece, then the Adam piece */
        for (int g = 0; g < e->part.n_groups; g++)
            group_step(e, g == 0, &sc, inv, e->part.group_offset[g], e->part.group_len[g]);
        return;
    }
    for (int p = 0; p < e->t.n; p++)   /* stage 0: the engine steps each parameter tensor */
        group_step(e, e->muon->uses[p], &sc, inv, e->t.p[p].offset, e->t.p[p].numel);
}

size_t zsf_muon_momentum_len(const zsf_engine *e)
{
    return e->muon ? e->muon->plan.buf_len : 0;
}

void zsf_muon_read_momentum(zsf_engine *e, float *out)
{
    const size_t n = zsf_muon_momentum_len(e);
    if (n)
        CUDA_CHECK(cudaMemcpyAsync(out, e->muon->momentum, n * sizeof(float), cudaMemcpyDeviceToHost, e->comm->compute));
    zsf_comm_sync(e->comm);
}
