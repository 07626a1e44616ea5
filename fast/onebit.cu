/* The 1-bit optimizers on the GPU (onebit.h). The call schedule is onebit_rules.c's; the element
 * arithmetic and reductions are kernels/onebit.cuh's; the exchange is compressed_allreduce.cu. */
#include "onebit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "kernels/onebit.cuh"
#include "lr_sched.h"

static void *hmalloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        zsf_die(__FILE__, __LINE__, "calloc", "out of host memory");
    return p;
}

/* The optimizer's tensors: FP16_Optimizer's one flat master (fp16/bf16 OnebitAdam, ZeroOneAdam), else
 * the model's parameters. Error regions: per tensor (Adam pair) or one over the flat momentum (Lamb). */
static void layout(zsf_onebit *ob, const zsf_engine *e)
{
    const int lamb = e->rule == ZSF_ONEBIT_LAMB, flat = e->dt != ZSF_FP32 && !lamb, W = e->world;
    ob->T = flat ? 1 : e->t.n;
    ob->bounds = (size_t *)hmalloc(((size_t)ob->T + 1) * sizeof(size_t));
    ob->woff = (size_t *)hmalloc(((size_t)ob->T + 1) * sizeof(size_t));
    ob->soff = (size_t *)hmalloc(((size_t)ob->T + 1) * sizeof(size_t));
    for (int t = 0; t < ob->T; t++) {
        size_t n = flat ? e->t.numel : e->t.p[t].numel, N = lamb ? 0 : zsf_onebit_padded(n, W);
        ob->bounds[t + 1] = ob->bounds[t] + n;
        ob->woff[t + 1] = ob->woff[t] + N;
        ob->soff[t + 1] = ob->soff[t] + N / (size_t)W;
    }
    ob->numel = ob->bounds[ob->T];
    ob->worker_len = lamb ? zsf_onebit_padded(ob->numel, W) : ob->woff[ob->T];
    ob->server_len = ob->worker_len / (size_t)W;
}

zsf_onebit *zsf_onebit_new(zsf_engine *e)
{
    zsf_onebit *ob = (zsf_onebit *)hmalloc(sizeof *ob);
    cudaStream_t s = e->comm->compute;
    ob->hp = &e->cfg->optimizer;
    zsf_onebit_sched_init(&ob->s, e->rule, ob->hp);
    layout(ob, e);
    const size_t F = sizeof(float), T = (size_t)ob->T;
    size_t widest = e->rule == ZSF_ONEBIT_LAMB ? ob->worker_len : 0;
    for (int t = 0; t < ob->T; t++)
        widest = ob->woff[t + 1] - ob->woff[t] > widest ? ob->woff[t + 1] - ob->woff[t] : widest;
    ob->werr = (float *)zsf_device_bytes(&e->mem.optimizer, ob->worker_len * F);
    ob->serr = (float *)zsf_device_bytes(&e->mem.optimizer, ob->server_len * F);
    CUDA_CHECK(cudaMemsetAsync(ob->werr, 0, ob->worker_len * F, s));
    CUDA_CHECK(cudaMemsetAsync(ob->serr, 0, ob->server_len * F, s));
    ob->scratch = (float *)zsf_device_bytes(&e->mem.working, widest * F);
    ob->dev_bounds = (size_t *)zsf_device_bytes(&e->mem.working, (T + 1) * sizeof(size_t));
    CUDA_CHECK(cudaMemcpyAsync(ob->dev_bounds, ob->bounds, (T + 1) * sizeof(size_t), cudaMemcpyHostToDevice, s));
    ob->dev_small = (float *)zsf_device_bytes(&e->mem.working, 6 * T * F);
    ob->host_small = (float *)hmalloc(6 * T * F);
    if (e->rule == ZSF_ONEBIT_LAMB) {
        ob->pad = (float *)zsf_device_bytes(&e->mem.optimizer, (ob->worker_len - ob->numel) * F);
        CUDA_CHECK(cudaMemsetAsync(ob->pad, 0, (ob->worker_len - ob->numel) * F, s));
        ob->u = (float *)zsf_device_bytes(&e->mem.working, ob->numel * F);
        ob->m_prev = (float *)zsf_device_bytes(&e->mem.working, ob->numel * F);
        ob->coeff_freeze = (double *)hmalloc(T * sizeof(double));
        ob->last_factor = (double *)hmalloc(T * sizeof(double));
        ob->scaling_coeff = (double *)hmalloc(T * sizeof(double));
        for (size_t t = 0; t < T; t++)
            ob->last_factor[t] = 1.0;
    }
    zsf_car_init(&ob->car, widest, e->world, &e->mem.working);
    zsf_comm_sync(e->comm);
    if (e->dt != ZSF_FP32) {   /* the wrapper's initialize_optimizer_states: call 1, zero gradients */
        zsf_onebit_plan plan;
        zsf_onebit_begin(&ob->s, ob->hp->lr, &plan);
        zsf_onebit_end(&ob->s, &plan);
    }
    return ob;
}

void zsf_onebit_free(zsf_onebit *ob)
{
    if (!ob)
        return;
    void *dev[] = {ob->werr, ob->serr, ob->pad, ob->scratch, ob->u, ob->m_prev, ob->dev_small, ob->dev_bounds};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        cudaFree(dev[i]);
    zsf_car_free(&ob->car);
    void *host[] = {ob->bounds, ob->woff, ob->soff, ob->host_small, ob->coeff_freeze, ob->last_factor,
                    ob->scaling_coeff};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        free(host[i]);
    free(ob);
}

int zsf_onebit_allreduce_enabled(const zsf_onebit *ob)
{
    return ob->s.allreduce;
}

/* ------------------------------------------------------------------------------------------------
 * The step's scalars, as the torch calls receive them (Python doubles rounded to float). */

typedef struct ob_scalars {
    float b1, omb1, b2, omb2, eps, wd, neg_lr, inv_omb1;
    int has_wd;
} ob_scalars;

static ob_scalars scalars_of(const zsf_onebit *ob, const zsf_engine *e, double lr)
{
    double beta1, beta2;
    zsf_sched_betas(e->cfg, 1, e->applied_steps, &beta1, &beta2);
    ob_scalars c;
    c.b1 = (float)beta1;
    c.omb1 = (float)(1.0 - beta1);
    c.b2 = (float)beta2;
    c.omb2 = (float)(1.0 - beta2);
    c.inv_omb1 = 1.0f / (float)(1.0 - beta1);
    c.eps = (float)ob->hp->eps;
    c.wd = (float)ob->hp->weight_decay;
    c.has_wd = ob->hp->weight_decay > 0.0;
    c.neg_lr = (float)-lr;
    return c;
}

/* Tensor t's n values src*inv, zero-padded to its N, through its error regions; the result is left in
 * ob->scratch and, when dst, copied to dst (tensor t's elements). */
static void compress_tensor(zsf_onebit *ob, zsf_engine *e, int t, const float *src, float inv, float *dst)
{
    cudaStream_t s = e->comm->compute;
    const size_t off = ob->bounds[t], n = ob->bounds[t + 1] - off, N = ob->woff[t + 1] - ob->woff[t];
    ZSF_LAUNCH(ob_scaled_copy_kernel, n, s, ob->scratch, src + off, inv, n);
    CUDA_CHECK(cudaMemsetAsync(ob->scratch + n, 0, (N - n) * sizeof(float), s));
    zsf_compressed_allreduce(e->comm, &ob->car, ob->scratch, N, ob->werr + ob->woff[t], ob->serr + ob->soff[t]);
    if (dst)
        CUDA_CHECK(cudaMemcpyAsync(dst + off, ob->scratch, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
}

static void compress_all(zsf_onebit *ob, zsf_engine *e, float *buf)
{
    for (int t = 0; e->world > 1 && t < ob->T; t++)
        compress_tensor(ob, e, t, buf, 1.0f, buf);
}

static void update(zsf_engine *e, const ob_scalars *c, float *acc)
{
    const size_t n = e->t.numel;
    ZSF_LAUNCH(ob_update_kernel, n, e->comm->compute, e->master, e->state[0], e->state[1], acc, n, c->neg_lr, c->eps,
               c->wd, c->has_wd);
}

static void moments(zsf_engine *e, const ob_scalars *c, float inv, int with_v)
{
    const size_t n = e->t.numel;
    ZSF_LAUNCH(ob_moments_kernel, n, e->comm->compute, e->state[0], with_v ? e->state[1] : NULL, e->grad32, inv,
               n, c->b1, c->omb1, c->b2, c->omb2);
}

/* ------------------------------------------------------------------------------------------------
 * OnebitAdam (§8.2) and ZeroOneAdam (§8.3). */

static void onebit_adam(zsf_onebit *ob, zsf_engine *e, const zsf_onebit_plan *plan, const ob_scalars *c, float inv)
{
    if (plan->phase == ZSF_OB_INIT)
        return;
    moments(e, c, inv, plan->phase == ZSF_OB_WARMUP);
    if (plan->phase == ZSF_OB_COMPRESSED)
        compress_all(ob, e, e->state[0]);
    update(e, c, NULL);
}

static void zero_one_adam(zsf_onebit *ob, zsf_engine *e, const zsf_onebit_plan *plan, const ob_scalars *c,
                          float inv)
{
    cudaStream_t s = e->comm->compute;
    const size_t n = e->t.numel;
    float *m = e->state[0], *v = e->state[1], *u = e->state[2];
    switch (plan->phase) {
    case ZSF_OB_INIT:
        return;
    case ZSF_OB_WARMUP:   /* a variance step: the engine all-reduced this gradient */
        moments(e, c, inv, 1);
        break;
    case ZSF_OB_COMPRESSED:   /* the momentum takes the compressed average of the local gradients */
        for (int t = 0; e->world > 1 && t < ob->T; t++) {
            const size_t off = ob->bounds[t], len = ob->bounds[t + 1] - off;
            compress_tensor(ob, e, t, e->grad32, inv, NULL);
            ZSF_LAUNCH(ob_moments_kernel, len, s, m + off, (float *)NULL, ob->scratch, 1.0f, len, c->b1, c->omb1,
                       c->b2, c->omb2);
        }
        break;
    case ZSF_OB_LOCAL:
        moments(e, c, inv, 0);
        break;
    }
    update(e, c, plan->phase == ZSF_OB_LOCAL ? u : NULL);
    if (plan->sync) {   /* the ranks' local steps are replaced by their compressed mean */
        ZSF_LAUNCH(ob_sync_pre_kernel, n, s, e->master, u, v, c->eps, n);
        compress_all(ob, e, u);
        ZSF_LAUNCH(ob_sync_post_kernel, n, s, e->master, m, u, v, c->eps, 1.0f / (float)plan->lrs, n);
    }
}

/* ------------------------------------------------------------------------------------------------
 * OnebitLamb (§8.4): per-tensor reductions come down to the host, which forms the double-precision
 * coefficients and sends each tensor's step size back up. */

enum { SC, INV_SC, RED0, RED1, RED2, STEP };   /* the six T-float slots of dev_small / host_small */

static float *slot(const zsf_onebit *ob, float *base, int k)
{
    return base + (size_t)k * (size_t)ob->T;
}

static void down(zsf_onebit *ob, zsf_engine *e, int first, int count)
{
    const size_t bytes = (size_t)count * (size_t)ob->T * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(slot(ob, ob->host_small, first), slot(ob, ob->dev_small, first), bytes,
                               cudaMemcpyDeviceToHost, e->comm->compute));
    zsf_comm_sync(e->comm);
}

static void up(zsf_onebit *ob, zsf_engine *e, int first, int count)
{
    const size_t bytes = (size_t)count * (size_t)ob->T * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(slot(ob, ob->dev_small, first), slot(ob, ob->host_small, first), bytes,
                               cudaMemcpyHostToDevice, e->comm->compute));
    zsf_comm_sync(e->comm);   /* host_small is rewritten by the next call */
}

static void seg_axpy(zsf_onebit *ob, zsf_engine *e)
{
    up(ob, e, STEP, 1);
    ob_seg_axpy_kernel<<<ob->T, ZSF_OB_THREADS, 0, e->comm->compute>>>(e->master, ob->u, ob->dev_bounds,
                                                                       slot(ob, ob->dev_small, STEP));
    CUDA_CHECK_LAUNCH();
}

static void lamb_warmup(zsf_onebit *ob, zsf_engine *e, const zsf_onebit_plan *plan, const ob_scalars *c, float inv,
                        double lr)
{
    cudaStream_t s = e->comm->compute;
    moments(e, c, inv, 1);
    if (plan->copy_v_fresh)
        CUDA_CHECK(cudaMemcpyAsync(e->state[2], e->state[1], e->t.numel * sizeof(float), cudaMemcpyDeviceToDevice, s));
    ob_lamb_warmup_kernel<<<ob->T, ZSF_OB_THREADS, 0, s>>>(e->master, e->state[0], e->state[1], ob->u, ob->dev_bounds,
                                                           c->eps, c->wd, c->has_wd, slot(ob, ob->dev_small, RED0),
                                                           slot(ob, ob->dev_small, RED1));
    CUDA_CHECK_LAUNCH();
    down(ob, e, RED0, 2);
    for (int t = 0; t < ob->T; t++) {
        double coeff = zsf_onebit_lamb_coeff(slot(ob, ob->host_small, RED0)[t], slot(ob, ob->host_small, RED1)[t],
                                             ob->hp);
        ob->coeff_freeze[t] = zsf_onebit_lamb_freeze(ob->coeff_freeze[t], coeff, ob->hp);
        slot(ob, ob->host_small, STEP)[t] = (float)(-lr * coeff);
    }
    seg_axpy(ob, e);
}

/* Before the first compressed call: one scaling coefficient per tensor evens out the momentum scales
 * inside the one flat buffer. */
static int lamb_scaling(zsf_onebit *ob, zsf_engine *e, zs_error *err)
{
    ob_seg_norm_kernel<<<ob->T, ZSF_OB_THREADS, 0, e->comm->compute>>>(e->state[0], ob->dev_bounds,
                                                                        slot(ob, ob->dev_small, RED0));
    CUDA_CHECK_LAUNCH();
    down(ob, e, RED0, 1);
    double *scale = (double *)hmalloc((size_t)ob->T * sizeof(double));
    for (int t = 0; t < ob->T; t++) {
        const size_t n = ob->bounds[t + 1] - ob->bounds[t];
        scale[t] = (double)(slot(ob, ob->host_small, RED0)[t] * (1.0f / (float)sqrt((double)n)));
    }
    int bad = -1, rc = zsf_onebit_lamb_scaling(scale, ob->T, ob->scaling_coeff, &bad);
    free(scale);
    if (rc)
        zs_fail(err, "step %lld: OnebitLamb: the momentum of %s is zero when compression starts; DeepSpeed divides "
                     "by its scale (ZeroDivisionError in OnebitLamb.step)",
                (long long)e->global_steps + 1, e->t.p[bad].name);
    return rc ? 1 : 0;
}

/* The flat momentum [m | padding tail] through the one pair of error buffers. */
static void lamb_exchange(zsf_onebit *ob, zsf_engine *e)
{
    cudaStream_t s = e->comm->compute;
    const size_t n = ob->numel, tail = ob->worker_len - n;
    CUDA_CHECK(cudaMemcpyAsync(ob->scratch, e->state[0], n * sizeof(float), cudaMemcpyDeviceToDevice, s));
    CUDA_CHECK(cudaMemcpyAsync(ob->scratch + n, ob->pad, tail * sizeof(float), cudaMemcpyDeviceToDevice, s));
    zsf_compressed_allreduce(e->comm, &ob->car, ob->scratch, ob->worker_len, ob->werr, ob->serr);
    CUDA_CHECK(cudaMemcpyAsync(e->state[0], ob->scratch, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
    CUDA_CHECK(cudaMemcpyAsync(ob->pad, ob->scratch + n, tail * sizeof(float), cudaMemcpyDeviceToDevice, s));
}

static void lamb_compressed(zsf_onebit *ob, zsf_engine *e, const ob_scalars *c, float inv, double lr)
{
    cudaStream_t s = e->comm->compute;
    float *h = ob->host_small, *d = ob->dev_small;
    for (int t = 0; t < ob->T; t++) {
        slot(ob, h, SC)[t] = (float)ob->scaling_coeff[t];
        slot(ob, h, INV_SC)[t] = 1.0f / (float)ob->scaling_coeff[t];   /* m / python_float */
    }
    up(ob, e, SC, 2);
    CUDA_CHECK(cudaMemcpyAsync(ob->m_prev, e->state[0], ob->numel * sizeof(float), cudaMemcpyDeviceToDevice, s));
    ob_lamb_momentum_kernel<<<ob->T, ZSF_OB_THREADS, 0, s>>>(e->state[0], e->grad32, inv, ob->dev_bounds,
                                                             slot(ob, d, SC), c->b1, c->omb1);
    CUDA_CHECK_LAUNCH();
    if (e->world > 1)
        lamb_exchange(ob, e);
    ob_lamb_compressed_kernel<<<ob->T, ZSF_OB_THREADS, 0, s>>>(
        e->master, e->state[0], e->state[1], e->state[2], ob->m_prev, ob->u, ob->dev_bounds, slot(ob, d, INV_SC),
        c->b1, c->inv_omb1, c->b2, c->omb2, c->eps, c->wd, c->has_wd, slot(ob, d, RED0), slot(ob, d, RED1),
        slot(ob, d, RED2));
    CUDA_CHECK_LAUNCH();
    down(ob, e, RED0, 3);
    for (int t = 0; t < ob->T; t++) {
        double factor = zsf_onebit_lamb_factor(slot(ob, h, RED0)[t], slot(ob, h, RED1)[t], slot(ob, h, RED2)[t],
                                               ob->last_factor[t], ob->hp);
        ob->last_factor[t] = factor;
        slot(ob, h, STEP)[t] = (float)(-lr * (ob->coeff_freeze[t] * factor));
    }
    seg_axpy(ob, e);
}

/* ------------------------------------------------------------------------------------------------ */

int zsf_onebit_step(zsf_onebit *ob, zsf_engine *e, float inv, double lr, zs_error *err)
{
    const ob_scalars c = scalars_of(ob, e, lr);
    zsf_onebit_plan plan;
    zsf_onebit_begin(&ob->s, lr, &plan);
    if (plan.first_compressed && lamb_scaling(ob, e, err))
        return 1;
    if (e->rule == ZSF_ONEBIT_ADAM)
        onebit_adam(ob, e, &plan, &c, inv);
    else if (e->rule == ZSF_ZERO_ONE_ADAM)
        zero_one_adam(ob, e, &plan, &c, inv);
    else if (plan.phase == ZSF_OB_WARMUP)
        lamb_warmup(ob, e, &plan, &c, inv, lr);
    else if (plan.phase == ZSF_OB_COMPRESSED)
        lamb_compressed(ob, e, &c, inv, lr);
    if (zsf_onebit_end(&ob->s, &plan)) {   /* ZeroOneAdam's reinitial_error_buffer */
        CUDA_CHECK(cudaMemsetAsync(ob->werr, 0, ob->worker_len * sizeof(float), e->comm->compute));
        CUDA_CHECK(cudaMemsetAsync(ob->serr, 0, ob->server_len * sizeof(float), e->comm->compute));
    }
    return 0;
}
