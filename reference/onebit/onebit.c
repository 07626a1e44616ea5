/* The 1-bit family's engine hook: state, per-rank gradients, dispatch and trace (onebit.h). */
#include "onebit/onebit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "onebit/compressed_allreduce.h"
#include "sched/scheduler.h"

static const zs_optim_ops onebit_adam_ops = {
    .type = ZS_OPT_ONEBIT_ADAM, .name = "OnebitAdam", .n_state = 2,
    .state_names = {"exp_avg", "exp_avg_sq"}, .has_betas = 1,
};
static const zs_optim_ops zero_one_adam_ops = {
    .type = ZS_OPT_ZERO_ONE_ADAM, .name = "ZeroOneAdam", .n_state = 3,
    .state_names = {"exp_avg", "exp_avg_sq", "momentum_accumulator"}, .has_betas = 1,
};
static const zs_optim_ops onebit_lamb_ops = {
    .type = ZS_OPT_ONEBIT_LAMB, .name = "OnebitLamb", .n_state = 3,
    .state_names = {"exp_avg", "exp_avg_sq", "exp_avg_sq_fresh"}, .has_betas = 1,
};

const zs_optim_ops *zs_onebit_ops_for(const zs_optimizer_config *hp)
{
    switch (hp->type) {
    case ZS_OPT_ONEBIT_ADAM:
        return &onebit_adam_ops;
    case ZS_OPT_ZERO_ONE_ADAM:
        return &zero_one_adam_ops;
    case ZS_OPT_ONEBIT_LAMB:
        return &onebit_lamb_ops;
    default:
        return NULL;
    }
}

static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* Error-buffer layout: per tensor (Adam family) or one region over the whole model (Lamb). */
static int layout_errors(zs_onebit *ob)
{
    int T = ob->n_tensors, lamb = ob->hp->type == ZS_OPT_ONEBIT_LAMB;
    ob->worker_off = calloc((size_t)T + 1, sizeof(size_t));
    ob->server_off = calloc((size_t)T + 1, sizeof(size_t));
    if (!ob->worker_off || !ob->server_off)
        return -1;
    size_t widest = 0;
    for (int p = 0; p < T; p++) {
        size_t N = lamb ? 0 : zs_onebit_padded_size(ob->tensors[p].numel, ob->world);
        ob->worker_off[p + 1] = ob->worker_off[p] + N;
        ob->server_off[p + 1] = ob->server_off[p] + N / (size_t)ob->world;
        widest = N > widest ? N : widest;
    }
    if (lamb) {
        size_t N = zs_onebit_padded_size(ob->numel, ob->world);
        ob->worker_off[T] = N;
        ob->server_off[T] = N / (size_t)ob->world;
        widest = N;
    }
    ob->worker_len = ob->worker_off[T];
    ob->server_len = ob->server_off[T];
    for (int r = 0; r < ob->world; r++) {
        ob->worker[r] = zeros(ob->worker_len);
        ob->server[r] = zeros(ob->server_len);
        ob->scratch[r] = zeros(widest);
        if (!ob->worker[r] || !ob->server[r] || !ob->scratch[r])
            return -1;
        if (!(ob->copy[r] = zeros(ob->numel)) || (lamb && !(ob->pad[r] = zeros(ob->worker_len - ob->numel))))
            return -1;
    }
    if (lamb) {
        ob->coeff_freeze = calloc((size_t)T, sizeof(double));
        ob->last_factor = calloc((size_t)T, sizeof(double));
        ob->scaling_coeff = calloc((size_t)T, sizeof(double));
        if (!ob->coeff_freeze || !ob->last_factor || !ob->scaling_coeff)
            return -1;
        for (int p = 0; p < T; p++)
            ob->last_factor[p] = 1.0;
    }
    return 0;
}

/* Rank r's parameters and states in a call. */
static void bind_ranks(zs_engine *e, zs_onebit_call *c)
{
    for (int r = 0; r < e->world; r++) {
        c->param[r] = e->ranks[r].master;
        c->state[r] = e->ranks[r].state;
    }
}

static int run_rule(zs_onebit *ob, const zs_onebit_call *c, zs_error *err)
{
    switch (ob->hp->type) {
    case ZS_OPT_ONEBIT_ADAM:
        zs_onebit_adam_step(ob, c);
        return 0;
    case ZS_OPT_ZERO_ONE_ADAM:
        zs_zero_one_adam_step(ob, c);
        return 0;
    default:
        return zs_onebit_lamb_step(ob, c, err);
    }
}

/* fp16/bf16 (engine.py _configure_fp16_optimizer, stage 0 with a low-precision model): the wrapper's
 * constructor (fused_optimizer.py / unfused_optimizer.py initialize_optimizer_states) attaches zero
 * gradients to its fp32 masters and calls optimizer.step() once: that is the 1-bit initialisation
 * call, so the first training step is the optimizer's call 2. */
static int wrapper_initialisation_call(zs_engine *e, zs_error *err)
{
    zs_onebit *ob = e->onebit;
    zs_onebit_call c = {.lr = ob->hp->lr, .beta1 = ob->hp->betas[0], .beta2 = ob->hp->betas[1]};
    bind_ranks(e, &c);
    for (int r = 0; r < e->world; r++)
        c.grad[r] = ob->copy[r];   /* still all zeros here */
    return run_rule(ob, &c, err);
}

int zs_onebit_init(zs_engine *e, zs_error *err)
{
    const zs_optimizer_config *hp = &e->cfg->optimizer;
    /* The config layer already rejects ZeRO (engine.py _configure_basic_optimizer asserts it). */
    if (e->stage != 0)
        return zs_fail(err, "optimizer.type %s: zero_optimization.stage must be 0 (DeepSpeed asserts the 1-bit "
                            "optimizers are not compatible with ZeRO)", hp->type_name);
    zs_onebit *ob = calloc(1, sizeof *ob);
    if (!ob)
        return zs_fail(err, "out of memory");
    e->onebit = ob;
    ob->hp = hp;
    ob->world = e->world;
    ob->n_tensors = e->model.n_params;
    ob->tensors = e->model.params;
    ob->numel = e->model.numel;
    int wrapped = e->model_dtype != ZS_F32;
    /* FP16_Optimizer (OnebitAdam, ZeroOneAdam) hands the optimizer one flat fp32 tensor per param
     * group; FP16_UnfusedOptimizer (OnebitLamb) one fp32 copy per tensor, as in fp32. */
    if (wrapped && hp->type != ZS_OPT_ONEBIT_LAMB) {
        ob->flat = (zs_gpt2_param){.name = "flat", .ndim = 1, .shape = {(int64_t)ob->numel}, .numel = ob->numel};
        ob->tensors = &ob->flat;
        ob->n_tensors = 1;
    }
    ob->allreduce = 1;   /* the engine's default until the optimizer switches it */
    ob->var_interval = ob->local_interval = 1;
    if (layout_errors(ob))
        return zs_fail(err, "out of memory allocating the 1-bit error buffers");
    return wrapped ? wrapper_initialisation_call(e, err) : 0;
}

void zs_onebit_free(zs_onebit *ob)
{
    if (!ob)
        return;
    for (int r = 0; r < ob->world; r++) {
        free(ob->worker[r]);
        free(ob->server[r]);
        free(ob->scratch[r]);
        free(ob->pad[r]);
        free(ob->copy[r]);
    }
    free(ob->worker_off);
    free(ob->server_off);
    free(ob->coeff_freeze);
    free(ob->last_factor);
    free(ob->scaling_coeff);
    free(ob);
}

int zs_onebit_allreduce_enabled(const zs_onebit *ob)
{
    return ob->allreduce;
}

void zs_onebit_allreduce_tensor(zs_onebit *ob, int tensor, float *const *src)
{
    const zs_gpt2_param *t = &ob->tensors[tensor];
    size_t N = ob->worker_off[tensor + 1] - ob->worker_off[tensor];
    float *werr[ZS_MAX_WORLD], *serr[ZS_MAX_WORLD];
    for (int r = 0; r < ob->world; r++) {
        memcpy(ob->scratch[r], src[r] + t->offset, t->numel * sizeof(float));
        memset(ob->scratch[r] + t->numel, 0, (N - t->numel) * sizeof(float));
        werr[r] = ob->worker[r] + ob->worker_off[tensor];
        serr[r] = ob->server[r] + ob->server_off[tensor];
    }
    zs_compressed_allreduce(ob->scratch, N, ob->world, werr, serr);
    for (int r = 0; r < ob->world; r++)
        memcpy(src[r] + t->offset, ob->scratch[r], t->numel * sizeof(float));
}

int zs_onebit_step(zs_engine *e, double lr, float unscale, zs_error *err)
{
    const zs_optimizer_config *hp = &e->cfg->optimizer;
    zs_onebit_call c = {.lr = lr, .beta1 = hp->betas[0], .beta2 = hp->betas[1]};
    zs_sched_betas(&e->cfg->scheduler, e->applied_steps, &c.beta1, &c.beta2);
    bind_ranks(e, &c);
    for (int r = 0; r < e->world; r++) {
        const float *g = e->ranks[r].grad_part;
        float *g32 = e->recv[r];
        /* each rank clips its own gradient (the averaged one while the all-reduce runs, its local one
         * after): fp32 engine.py _take_model_step -> clip_fp32_gradients; fp16/bf16 the wrapper's
         * unscale_and_clip_grads, whose norm (get_flattened_grad_norm / get_weight_norm) is not
         * reduced over data-parallel ranks either */
        float norm = zs_clip_scaled_norm(&e->comm, &g, e->part.len, 1);
        float inv = zs_clip_inverse_scale(norm, unscale, e->cfg->gradient_clipping);
        for (size_t j = 0; j < e->part.len; j++)
            g32[j] = g[j] * inv;
        c.grad[r] = g32;
    }
    return run_rule(e->onebit, &c, err);
}

int zs_onebit_trace_rank(zs_st_writer *w, const zs_onebit *ob, long long k, int r, zs_error *err)
{
    char name[160];
#define ADD(suffix, call)                                                                              \
    do {                                                                                               \
        snprintf(name, sizeof name, "step%lld/rank%d/" suffix, k, r);                                  \
        if (call)                                                                                      \
            return -1;                                                                                 \
    } while (0)
    ADD("worker_error", zs_st_add_f32(w, name, ob->worker[r], ob->worker_len, err));
    ADD("server_error", zs_st_add_f32(w, name, ob->server[r], ob->server_len, err));
    if (ob->hp->type == ZS_OPT_ZERO_ONE_ADAM)
        ADD("lrs", zs_st_add_scalar_f64(w, name, ob->lrs, err));
    if (ob->hp->type == ZS_OPT_ONEBIT_LAMB) {
        int64_t shape[1] = {ob->n_tensors};
        ADD("exp_avg_padding", zs_st_add_f32(w, name, ob->pad[r], ob->worker_len - ob->numel, err));
        ADD("lamb_coeff_freeze", zs_st_add(w, name, ZS_F64, 1, shape, ob->coeff_freeze, err));
        ADD("last_factor", zs_st_add(w, name, ZS_F64, 1, shape, ob->last_factor, err));
        ADD("scaling_coeff", zs_st_add(w, name, ZS_F64, 1, shape, ob->scaling_coeff, err));
    }
#undef ADD
    return 0;
}
