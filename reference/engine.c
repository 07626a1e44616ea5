/* The simulated data-parallel engine. Read zs_engine_step top to bottom: it is DeepSpeed's
 * engine.step() for one optimizer step, with every collective written out over W ranks. */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "onebit/onebit.h"
#include "precision.h"
#include "rng.h"
#include "sched/scheduler.h"

static zs_dtype dtype_of(zs_precision p)
{
    return p == ZS_PREC_FP16 ? ZS_F16 : p == ZS_PREC_BF16 ? ZS_BF16 : ZS_F32;
}

static float *alloc_floats(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* ------------------------------------------------------------------------------------------------
 * Initialisation (docs/spec.md "Initialisation"): every rank starts from the same weights, drawn
 * from the counter-based RNG and rounded to the model dtype (DeepSpeed casts the module with
 * .half()/.bfloat16() before building the optimizer, so masters are fl32(fl16(init))). */

static double init_std(const zs_gpt2_param *p, int layers)
{
    switch (p->init) {
    case ZS_INIT_NORMAL:
        return 0.02;
    case ZS_INIT_NORMAL_PROJ:
        return 0.02 / sqrt(2.0 * layers);
    default:
        return 0.0;
    }
}

static void init_full_model(const zs_engine *e, float *flat)
{
    for (int pi = 0; pi < e->model.n_params; pi++) {
        const zs_gpt2_param *p = &e->model.params[pi];
        double std = init_std(p, e->model.dims.layers);
        for (size_t i = 0; i < p->numel; i++) {
            float v = p->init == ZS_INIT_ONE ? 1.0f
                    : p->init == ZS_INIT_ZERO ? 0.0f
                    : zs_rng_init_value(e->kase->seed, (uint64_t)pi, i, std);
            flat[p->offset + i] = zs_round_to(e->model_dtype, v);
        }
    }
}

static int alloc_rank(zs_engine *e, zs_rank *rk, const float *init_flat)
{
    size_t numel = e->model.numel, len = e->part.len;
    int stage = e->stage;
    if (stage <= 2) {
        rk->model_params = alloc_floats(numel);
        if (!rk->model_params)
            return -1;
        memcpy(rk->model_params, init_flat, numel * sizeof(float));
    } else {
        rk->param_shard = alloc_floats(len);
        if (!rk->param_shard)
            return -1;
        zs_partition_extract(&e->part, rk->rank, init_flat, rk->param_shard);
    }
    if (stage <= 1 && !(rk->grad_full = alloc_floats(numel)))
        return -1;
    rk->grad_part = stage == 0 ? rk->grad_full : alloc_floats(len);
    if (e->master_is_model) {
        rk->master = rk->model_params;
    } else {
        if (!(rk->master = alloc_floats(len)))
            return -1;
        zs_partition_extract(&e->part, rk->rank, init_flat, rk->master);
    }
    for (int s = 0; s < e->optim->n_state; s++)
        if (!(rk->state[s] = alloc_floats(len)))
            return -1;
    rk->acts = zs_gpt2_acts_new(&e->model, (int)e->batch.micro_batch);
    return rk->grad_part && rk->acts ? 0 : -1;
}

static int alloc_work_buffers(zs_engine *e)
{
    int W = e->world;
    e->scratch = calloc((size_t)W, sizeof(float *));
    e->send = calloc((size_t)W, sizeof(float *));
    e->recv = calloc((size_t)W, sizeof(float *));
    e->gathered = calloc((size_t)W, sizeof(float *));
    e->tokens = calloc((size_t)(2 * e->batch.micro_batch * e->model.dims.seq), sizeof(int));
    if (!e->scratch || !e->send || !e->recv || !e->gathered || !e->tokens)
        return -1;
    for (int r = 0; r < W; r++) {
        e->scratch[r] = alloc_floats(e->model.numel);
        e->send[r] = alloc_floats((size_t)W * e->part.len);
        e->recv[r] = alloc_floats(e->part.len);
        if (!e->scratch[r] || !e->send[r] || !e->recv[r])
            return -1;
        if (e->stage == 3 && !(e->gathered[r] = alloc_floats(e->model.numel)))
            return -1;
    }
    return 0;
}

int zs_engine_layout(zs_partition *part, const zs_gpt2 *model, const zs_ds_config *cfg, int world, zs_error *err)
{
    int n = model->n_params, counts[2] = {n, 0}, rc;
    size_t *sizes = malloc(sizeof(size_t) * (size_t)n);
    int *order = malloc(sizeof(int) * (size_t)n);
    if (!sizes || !order) {
        free(sizes);
        free(order);
        return zs_fail(err, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        sizes[i] = model->params[i].numel;
        order[i] = i;
    }
    int grouped = zs_optim_matrix_ops_for(&cfg->optimizer) != NULL;
    if (grouped) {
        counts[0] = zs_muon_param_order(model, order);
        counts[1] = n - counts[0];
    }
    rc = zs_partition_init_grouped(part, cfg->zero.stage, world, sizes, n, order, counts, grouped ? 2 : 1);
    free(sizes);
    free(order);
    return rc ? zs_fail(err, "out of memory") : 0;
}

/* The flat layout: one group in model order, or (Muon) the muon group sorted, then the rest. */
static int init_param_groups(zs_engine *e, zs_error *err)
{
    e->matrix_optim = zs_optim_matrix_ops_for(&e->cfg->optimizer);
    return zs_engine_layout(&e->part, &e->model, e->cfg, e->world, err);
}

/* What the reference does not model of Muon (docs/spec/optimizers.md §8). */
static int check_muon_scope(const zs_engine *e, zs_error *err)
{
    if (e->stage == 3)
        return zs_fail(err, "optimizer.type \"Muon\" with zero_optimization.stage 3 is not implemented by the "
                            "reference (DeepSpeed v0.19.6 runs it only with reduce_scatter false, through "
                            "stage3.py's sub-group momentum path); use stage 0, 1 or 2");
    if (e->stage > 0 && e->batch.grad_accum_steps > 1)
        return zs_fail(err, "optimizer.type \"Muon\" with gradient_accumulation_steps %lld at stage %d is not "
                            "modelled: the reference orthogonalises only a single micro-step's reduced gradient "
                            "(DeepSpeed's get_flat_partition accumulation across micro-steps is not pinned "
                            "down); use gradient_accumulation_steps 1",
                       (long long)e->batch.grad_accum_steps, e->stage);
    return 0;
}

int zs_engine_init(zs_engine *e, const zs_case *kase, int world, zs_error *err)
{
    memset(e, 0, sizeof *e);
    e->kase = kase;
    e->cfg = &kase->config;
    e->world = world;
    e->stage = e->cfg->zero.stage;
    e->model_dtype = dtype_of(e->cfg->precision);
    e->comm.world = world;
    if (world < 1 || world > ZS_MAX_WORLD)
        return zs_fail(err, "world size must be between 1 and %d, got %d", ZS_MAX_WORLD, world);
    if (zs_ds_config_resolve_batch(e->cfg, world, &e->batch, err))
        return zs_error_prefix(err, "world size %d", world);
    if (!e->cfg->has_optimizer)
        return zs_fail(err, "the config has no \"optimizer\" block; zs-ref needs one (DeepSpeed would "
                            "use the client's optimizer, which a config file cannot describe)");
    e->optim = zs_optim_ops_for(&e->cfg->optimizer);
    zs_optimizer_type type = e->cfg->optimizer.type;
    if (!e->optim && (type == ZS_OPT_MUADAM || type == ZS_OPT_MUADAMW || type == ZS_OPT_MUSGD))
        return zs_fail(err, "optimizer.type \"%s\" is not implemented by the reference: mup's optimizers need "
                            "every parameter's infshape from mup.set_base_shapes(model, base_model), i.e. a base "
                            "width for each dimension, which a DeepSpeed config does not contain "
                            "(docs/spec/optimizers.md §8)",
                       e->cfg->optimizer.type_name);
    if (!e->optim)
        e->optim = zs_onebit_ops_for(&e->cfg->optimizer);   /* states only; the step is the hook's */
    if (!e->optim)
        return zs_fail(err, "optimizer.type \"%s\" is not implemented by the reference yet",
                       e->cfg->optimizer.type_name);
    if (e->cfg->optimizer.type == ZS_OPT_MUON && check_muon_scope(e, err))
        return -1;
    if (zs_gpt2_init(&e->model, kase->model, err))
        return -1;
    if (init_param_groups(e, err))
        return -1;
    if (zs_loss_scaler_init(&e->scaler, e->cfg, err))
        return -1;
    e->master_is_model = e->stage == 0 && e->model_dtype == ZS_F32;

    float *init_flat = alloc_floats(e->model.numel);
    e->ranks = calloc((size_t)world, sizeof(zs_rank));
    if (!init_flat || !e->ranks) {
        free(init_flat);
        return zs_fail(err, "out of memory");
    }
    init_full_model(e, init_flat);
    for (int r = 0; r < world; r++) {
        e->ranks[r].rank = r;
        if (alloc_rank(e, &e->ranks[r], init_flat)) {
            free(init_flat);
            return zs_fail(err, "out of memory allocating rank %d", r);
        }
    }
    free(init_flat);
    if (alloc_work_buffers(e))
        return zs_fail(err, "out of memory allocating work buffers");
    if (!e->optim->step && zs_onebit_init(e, err))   /* the 1-bit family owns the step */
        return -1;
    if (e->matrix_optim && e->stage > 0) {
        if (!(e->muon = malloc(sizeof *e->muon)))
            return zs_fail(err, "out of memory");
        return zs_muon_init(e->muon, e, err);
    }
    return 0;
}

static void free_array(float **a, int n)
{
    if (!a)
        return;
    for (int i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void zs_engine_free(zs_engine *e)
{
    for (int r = 0; e->ranks && r < e->world; r++) {
        zs_rank *rk = &e->ranks[r];
        if (rk->master != rk->model_params)
            free(rk->master);
        if (rk->grad_part != rk->grad_full)
            free(rk->grad_part);
        free(rk->model_params);
        free(rk->param_shard);
        free(rk->grad_full);
        for (int s = 0; s < ZS_OPTIM_MAX_STATE; s++)
            free(rk->state[s]);
        zs_gpt2_acts_free(rk->acts);
    }
    free(e->ranks);
    free_array(e->scratch, e->world);
    free_array(e->send, e->world);
    free_array(e->recv, e->world);
    free_array(e->gathered, e->world);
    free(e->tokens);
    zs_onebit_free(e->onebit);
    if (e->muon)
        zs_muon_free(e->muon);
    free(e->muon);
    zs_partition_free(&e->part);
    zs_gpt2_free(&e->model);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------------------------------------
 * Parameters: stage 3 all-gathers each rank's shards before a pass (DeepSpeed gathers module by
 * module and releases after; gathering the whole model moves the same bytes and values). */

static void gather_stage3_params(zs_engine *e, const char *what)
{
    float *shards[ZS_MAX_WORLD];
    for (int d = 0; d < e->world; d++)
        shards[d] = e->ranks[d].param_shard;
    zs_all_gather(&e->comm, (const float *const *)shards, e->send, e->part.len, e->model_dtype, what);
    for (int r = 0; r < e->world; r++) {   /* each rank unpacks the W gathered shards into its model */
        const float *blocks[ZS_MAX_WORLD];
        for (int d = 0; d < e->world; d++)
            blocks[d] = e->send[r] + (size_t)d * e->part.len;
        zs_partition_assemble(&e->part, blocks, e->gathered[r]);
    }
}

static const float *rank_params(const zs_engine *e, int r)
{
    return e->stage == 3 ? e->gathered[r] : e->ranks[r].model_params;
}

/* Micro-batch of rank r at micro-step m: samples g = (m*W + r)*MB + b (docs/spec.md "Data"). */
static void load_micro_batch(zs_engine *e, int r, int m)
{
    int T = e->model.dims.seq;
    int64_t MB = e->batch.micro_batch;
    int *inputs = e->tokens, *targets = e->tokens + MB * T;
    for (int64_t b = 0; b < MB; b++) {
        uint64_t g = (uint64_t)(((int64_t)m * e->world + r) * MB + b);
        zs_rng_sequence(e->kase->seed, (uint64_t)e->global_steps, g, &e->model.dims, inputs + b * T,
                        targets + b * T);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Gradient reduction (docs/spec.md "Gradient reduction"). */

/* Stages 1-3: every rank divides its gradient by W in the model dtype, lays it out as W blocks (block
 * d = rank d's partition, padding 0), and a reduce-scatter sums block d into rank d. */
static void reduce_scatter_gradients(zs_engine *e, float *const *grads, const char *what)
{
    int W = e->world;
    size_t len = e->part.len;
    for (int r = 0; r < W; r++)
        for (int d = 0; d < W; d++)
            for (size_t j = 0; j < len; j++) {
                int64_t idx = zs_partition_model_index(&e->part, d, j);
                e->send[r][(size_t)d * len + j] =
                    idx >= 0 ? zs_round_to(e->model_dtype, grads[r][idx] / (float)W) : 0.0f;
            }
    zs_reduce_scatter_sum(&e->comm, (const float *const *)e->send, e->recv, len, e->model_dtype, what);
}

/* Stage 0: DeepSpeed's allreduce_bucket: optional pre-scale, all-reduce sum, post-scale by f/W. */
static void all_reduce_gradients(zs_engine *e)
{
    int W = e->world;
    size_t n = e->model.numel;
    double f = e->cfg->gradient_predivide_factor;
    int prescale = e->cfg->prescale_gradients;
    float *bufs[ZS_MAX_WORLD];
    for (int r = 0; r < W; r++)
        bufs[r] = e->ranks[r].grad_full;
    float pre = prescale ? (float)(1.0 / W) : f != 1.0 ? (float)(1.0 / f) : 1.0f;
    float post = prescale || f == (double)W ? 1.0f : (float)(f / W);
    if (pre != 1.0f)
        for (int r = 0; r < W; r++)
            for (size_t i = 0; i < n; i++)
                bufs[r][i] = zs_round_to(e->model_dtype, bufs[r][i] * pre);
    if (W > 1)
        zs_all_reduce_sum(&e->comm, bufs, n, e->model_dtype, "gradients");
    if (post != 1.0f)
        for (int r = 0; r < W; r++)
            for (size_t i = 0; i < n; i++)
                bufs[r][i] = zs_round_to(e->model_dtype, bufs[r][i] * post);
}

/* Adds `src` into `dst` in the gradient dtype; the first micro-step copies. */
static void accumulate(zs_dtype t, float *dst, const float *src, size_t n, int first)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = first ? src[i] : zs_round_to(t, dst[i] + src[i]);
}

/* ------------------------------------------------------------------------------------------------
 * Forward and backward of one micro-step on every rank. */

static double run_micro_step(zs_engine *e, int m, float dloss)
{
    int W = e->world, first = m == 0;
    double loss_sum = 0.0;
    if (e->stage == 3)
        gather_stage3_params(e, "params (forward)");
    for (int r = 0; r < W; r++) {
        load_micro_batch(e, r, m);
        int *inputs = e->tokens, *targets = e->tokens + e->batch.micro_batch * e->model.dims.seq;
        float loss = zs_gpt2_forward(&e->model, e->ranks[r].acts, rank_params(e, r), inputs, targets,
                                     (int)e->batch.micro_batch, e->model_dtype);
        loss_sum += loss;
        e->ranks[r].loss_sum = first ? loss : e->ranks[r].loss_sum + loss;
    }
    if (e->stage == 3)
        gather_stage3_params(e, "params (backward)");
    for (int r = 0; r < W; r++) {
        zs_gpt2_backward(&e->model, e->ranks[r].acts, rank_params(e, r), e->scratch[r], dloss,
                         e->model_dtype);
        zs_round_array(e->model_dtype, e->scratch[r], e->model.numel);   /* .grad is in the model dtype */
        if (e->stage <= 1)
            accumulate(e->model_dtype, e->ranks[r].grad_full, e->scratch[r], e->model.numel, first);
    }
    if (e->stage >= 2) {   /* ZeRO-2/3 reduce every micro-step, then accumulate the owned partition */
        reduce_scatter_gradients(e, e->scratch, "gradients");
        for (int r = 0; r < W; r++)
            accumulate(e->model_dtype, e->ranks[r].grad_part, e->recv[r], e->part.len, first);
    }
    return loss_sum;
}

static void reduce_at_boundary(zs_engine *e)
{
    if (e->stage == 0) {
        if (!e->onebit || zs_onebit_allreduce_enabled(e->onebit))   /* enable_backward_allreduce */
            all_reduce_gradients(e);
    } else if (e->stage == 1) {
        float *grads[ZS_MAX_WORLD];
        for (int r = 0; r < e->world; r++)
            grads[r] = e->ranks[r].grad_full;
        reduce_scatter_gradients(e, grads, "gradients");
        for (int r = 0; r < e->world; r++)
            memcpy(e->ranks[r].grad_part, e->recv[r], e->part.len * sizeof(float));
    }
}

/* ------------------------------------------------------------------------------------------------
 * Overflow (docs/spec/precision.md). The norm and clipping are in clip.c. */

static int partition_has_nonfinite(const zs_engine *e, int r)
{
    const float *g = e->ranks[r].grad_part;
    for (size_t j = 0; j < e->part.len; j++)
        if (!isfinite(g[j]))
            return 1;
    return 0;
}

/* Whether DeepSpeed skips steps on Inf/NaN gradients in this mode (docs/spec/precision.md). */
static int overflow_check_enabled(const zs_engine *e)
{
    if (e->model_dtype == ZS_F16)
        return 1;
    if (e->model_dtype == ZS_BF16)
        return e->cfg->bf16.check_grad_overflow && (e->stage == 1 || e->stage == 2);
    return 0;
}

static int check_overflow(zs_engine *e)
{
    int flags[ZS_MAX_WORLD];
    for (int r = 0; r < e->world; r++)
        flags[r] = partition_has_nonfinite(e, r);
    return e->world > 1 ? zs_all_reduce_max_int(&e->comm, flags, "overflow flag") : flags[0];
}

/* ------------------------------------------------------------------------------------------------
 * Optimizer and parameter publication. */

/* Runs param group g's rule on elements [off, off + n) of rank rk's partition. The matrix group
 * (Muon's group 0) uses the scheduler's lr from the optimizer lr (muon_lr); the other group from
 * adam_lr for Muon: DeepSpeed's schedulers write every group's lr, from each group's own base. */
static void group_step(zs_engine *e, int g, const zs_optim_step *st, zs_rank *rk, float *g32, size_t off,
                       size_t n)
{
    const zs_optimizer_config *hp = &e->cfg->optimizer;
    const zs_optim_ops *ops = e->matrix_optim && g == 0 ? e->matrix_optim : e->optim;
    zs_optim_step gs = *st;
    if (e->matrix_optim && g == 1)
        gs.lr = zs_sched_lr(&e->cfg->scheduler, hp->adam_lr, e->applied_steps);
    float *state[ZS_OPTIM_MAX_STATE] = {0};
    for (int s = 0; s < ops->n_state; s++)
        state[s] = rk->state[s] + off;
    ops->step(hp, &gs, rk->master + off, g32 + off, state, n);
}

static void optimizer_step(zs_engine *e, float inv_scale, double lr)
{
    const zs_optimizer_config *hp = &e->cfg->optimizer;
    zs_optim_step st = {.step = e->applied_steps + 1, .lr = lr, .beta1 = hp->betas[0], .beta2 = hp->betas[1]};
    if (e->optim->has_betas)   /* OneCycle cycles beta1 (and pins beta2) of Adam-family optimizers */
        zs_sched_betas(&e->cfg->scheduler, e->applied_steps, &st.beta1, &st.beta2);
    for (int r = 0; r < e->world; r++) {
        zs_rank *rk = &e->ranks[r];
        float *g32 = e->recv[r];   /* free at this point: the fp32 copy of the gradient partition */
        for (size_t j = 0; j < e->part.len; j++)
            g32[j] = rk->grad_part[j] * inv_scale;
        if (e->stage > 0) {   /* ZeRO: the inner optimizer sees one flat partition per (group, rank) */
            for (int g = 0; g < e->part.n_groups; g++)
                group_step(e, g, &st, rk, g32, e->part.group_offset[g], e->part.group_len[g]);
            continue;
        }
        /* Stage 0: the optimizer gets the model's parameter tensors one by one (per-tensor quantities
         * such as Lamb's trust ratio are per parameter, as with a plain torch optimizer). */
        for (int p = 0; p < e->model.n_params; p++) {
            int g = e->matrix_optim && !zs_muon_uses_muon(&e->model.params[p]);
            group_step(e, g, &st, rk, g32, e->model.params[p].offset, e->model.params[p].numel);
        }
    }
}

/* Casts each rank's fp32 master partition to the model dtype and makes it visible to the model:
 * stages 1-2 all-gather the partitions into every rank's full model; stage 3 keeps its shard. */
static void publish_params(zs_engine *e)
{
    int W = e->world;
    size_t len = e->part.len;
    if (e->master_is_model)
        return;
    if (e->stage == 0) {
        for (int r = 0; r < W; r++)
            for (size_t i = 0; i < len; i++)
                e->ranks[r].model_params[i] = zs_round_to(e->model_dtype, e->ranks[r].master[i]);
        return;
    }
    if (e->stage == 3) {
        for (int r = 0; r < W; r++)
            for (size_t j = 0; j < len; j++)
                e->ranks[r].param_shard[j] = zs_round_to(e->model_dtype, e->ranks[r].master[j]);
        return;
    }
    float *parts[ZS_MAX_WORLD];
    for (int r = 0; r < W; r++) {
        parts[r] = e->recv[r];
        for (size_t j = 0; j < len; j++)
            parts[r][j] = zs_round_to(e->model_dtype, e->ranks[r].master[j]);
    }
    zs_all_gather(&e->comm, (const float *const *)parts, e->send, len, e->model_dtype, "params");
    /* rank r received every rank's partition, block d from rank d; the partition map puts each
     * element back in model order (Muon's grouped layout is not in model order) */
    for (int r = 0; r < W; r++) {
        const float *blocks[ZS_MAX_WORLD];
        for (int d = 0; d < W; d++)
            blocks[d] = e->send[r] + (size_t)d * len;
        zs_partition_assemble(&e->part, blocks, e->ranks[r].model_params);
    }
}

/* Names the first non-finite gradient element, for the error message in modes that do not skip. */
static int report_nonfinite(const zs_engine *e, zs_error *err)
{
    for (int r = 0; r < e->world; r++)
        for (size_t j = 0; j < e->part.len; j++)
            if (!isfinite(e->ranks[r].grad_part[j])) {
                int64_t idx = zs_partition_model_index(&e->part, r, j);
                const char *name = "padding";
                size_t within = 0;
                for (int p = 0; idx >= 0 && p < e->model.n_params; p++) {
                    const zs_gpt2_param *prm = &e->model.params[p];
                    if ((size_t)idx >= prm->offset && (size_t)idx < prm->offset + prm->numel) {
                        name = prm->name;
                        within = (size_t)idx - prm->offset;
                    }
                }
                return zs_fail(err, "step %lld: non-finite gradient %g on rank %d in %s[%zu]; %s training "
                                    "does not skip steps on overflow, so the run stops here",
                               (long long)e->global_steps + 1, (double)e->ranks[r].grad_part[j], r, name,
                               within, zs_precision_name(e->cfg->precision));
            }
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * One optimizer step (DeepSpeed engine.step at the accumulation boundary). */

int zs_engine_step(zs_engine *e, zs_step_report *rep, zs_error *err)
{
    int64_t gas = e->batch.grad_accum_steps;
    double scale = zs_loss_scaler_scale(&e->scaler);
    float dloss = (float)scale / (float)gas;    /* loss * S / GAS, differentiated in fp32 */
    memset(rep, 0, sizeof *rep);
    rep->step = e->global_steps + 1;
    rep->loss_scale = scale;
    rep->lr = zs_sched_lr(&e->cfg->scheduler, e->cfg->optimizer.lr, e->applied_steps);

    double loss_sum = 0.0;
    for (int m = 0; m < gas; m++)
        loss_sum += run_micro_step(e, m, dloss);
    rep->loss = (float)(loss_sum / (double)(gas * e->world));
    reduce_at_boundary(e);
    /* Muon (ZeRO-1/2): orthogonalise before the overflow check, norm and unscale, as DeepSpeed's
     * gradient epilogue does; an Inf/NaN gradient therefore reaches the momentum buffers. */
    if (e->muon && zs_muon_orthogonalise(e->muon, e, err))
        return zs_error_prefix(err, "step %lld", (long long)rep->step);

    rep->overflow = overflow_check_enabled(e) ? check_overflow(e) : 0;
    if (zs_loss_scaler_update(&e->scaler, rep->overflow, err))   /* before the norm, as DeepSpeed */
        return zs_error_prefix(err, "step %lld", (long long)rep->step);
    if (rep->overflow) {
        rep->skipped = 1;
        e->skipped_steps++;
    } else {
        if (report_nonfinite(e, err))
            return -1;
        const float *grads[ZS_MAX_WORLD];
        for (int r = 0; r < e->world; r++)
            grads[r] = e->ranks[r].grad_part;
        float norm_scaled = zs_clip_scaled_norm(&e->comm, grads, e->part.len, e->stage == 0);
        rep->grad_norm = norm_scaled / (float)scale;   /* DeepSpeed's _global_grad_norm: / prev_scale */
        /* DeepSpeed unscales with the scale *after* this step's update (unscale_and_clip_grads reads
         * self.loss_scale once _update_scale has run): on a growth step gradients are divided by 2S. */
        float unscale = (float)zs_loss_scaler_scale(&e->scaler);
        if (e->onebit) {   /* the 1-bit family steps all ranks at once, clipping each rank's own gradient */
            if (zs_onebit_step(e, rep->lr, unscale, err))
                return -1;
        } else {
            optimizer_step(e, zs_clip_inverse_scale(norm_scaled, unscale, e->cfg->gradient_clipping), rep->lr);
        }
        publish_params(e);
        e->applied_steps++;   /* the LR scheduler advances only on applied steps */
    }
    /* Gradients are not zeroed here: the next step's first micro-step overwrites them (as DeepSpeed's
     * zero_grad would), and until then the trace can record them as they were held. */
    e->global_steps++;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Introspection. */

zs_rank_bytes zs_engine_rank_bytes(const zs_engine *e, int rank)
{
    /* every rank holds the same amounts (partitions have equal length), Muon's momentum aside */
    int64_t msize = (int64_t)zs_dtype_size(e->model_dtype);
    int64_t numel = (int64_t)e->model.numel, len = (int64_t)e->part.len;
    zs_rank_bytes b;
    b.params = (e->stage == 3 ? len : numel) * msize;
    b.grads = (e->stage <= 1 ? numel : len) * msize;
    b.optimizer = (int64_t)e->optim->n_state * len * 4 + (e->master_is_model ? 0 : len * 4);
    if (e->muon)   /* Muon's momentum buffers are in the gradient dtype and differ per rank */
        b.optimizer += (int64_t)e->muon->momentum_len[rank] * msize;
    return b;
}

void zs_engine_model_params(const zs_engine *e, float *full)
{
    if (e->stage <= 2) {
        memcpy(full, e->ranks[0].model_params, e->model.numel * sizeof(float));
        return;
    }
    const float *parts[ZS_MAX_WORLD];
    for (int r = 0; r < e->world; r++)
        parts[r] = e->ranks[r].param_shard;
    zs_partition_assemble(&e->part, parts, full);
}

void zs_engine_gather_master(const zs_engine *e, float *full)
{
    const float *parts[ZS_MAX_WORLD];
    for (int r = 0; r < e->world; r++)
        parts[r] = e->ranks[r].master;
    zs_partition_assemble(&e->part, parts, full);
}
