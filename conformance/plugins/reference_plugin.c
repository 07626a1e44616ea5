/* A plugin built from the reference itself, used by the tests: it fills every entry point of the ABI,
 * so `zs-check plugin` is exercised end to end (and the reference must pass its own op-level cases).
 * Not an example to copy: a kernel author's plugin must not use reference code (see example_adamw.c). */
#include <stdio.h>
#include <string.h>

#include "clip.h"
#include "collectives.h"
#include "layers.h"
#include "loss_scaler.h"
#include "muon/muon.h"
#include "onebit/compressed_allreduce.h"
#include "optim/optimizer.h"
#include "precision.h"
#include "sched/scheduler.h"
#include "zerospec/ds_config.h"
#include "zerospec/plugin.h"

static int optimizer_step(const zs_plugin_optimizer_step *a)
{
    zs_optimizer_config hp = {0};
    const struct { const char *name; zs_optimizer_type type; } types[] = {
        {"Adam", ZS_OPT_ADAM}, {"AdamW", ZS_OPT_ADAMW}, {"Lamb", ZS_OPT_LAMB}, {"Adagrad", ZS_OPT_ADAGRAD},
        {"Lion", ZS_OPT_LION}, {"SGD", ZS_OPT_SGD}};
    hp.type = ZS_OPT_NONE;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(a->optimizer, types[i].name))
            hp.type = types[i].type;
    hp.lr = a->hp->lr;
    hp.betas[0] = a->hp->beta1;
    hp.betas[1] = a->hp->beta2;
    hp.eps = a->hp->eps;
    hp.weight_decay = a->hp->weight_decay;
    hp.adam_w_mode = a->hp->adam_w_mode;
    hp.bias_correction = a->hp->bias_correction;
    hp.torch_adam = a->hp->torch_adam;
    hp.max_coeff = a->hp->max_coeff;
    hp.min_coeff = a->hp->min_coeff;
    hp.eps_inside_sqrt = a->hp->eps_inside_sqrt;
    hp.lr_decay = a->hp->lr_decay;
    hp.initial_accumulator_value = a->hp->initial_accumulator_value;
    hp.momentum = a->hp->momentum;
    hp.dampening = a->hp->dampening;
    hp.nesterov = a->hp->nesterov;
    const zs_optim_ops *ops = zs_optim_ops_for(&hp);
    if (!ops || ops->n_state != a->n_state)
        return ZS_PLUGIN_UNSUPPORTED;
    zs_optim_step st = {a->step, a->hp->lr, a->hp->beta1, a->hp->beta2};
    ops->step(&hp, &st, a->param, a->grad, a->state, a->n);
    return ZS_PLUGIN_OK;
}

static int scheduler_lr(const char *scheduler_json, double base_lr, int64_t k, double *lr)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"train_batch_size\": 1, \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": %.17g}},"
             " \"scheduler\": %s}", base_lr, scheduler_json);
    zs_ds_config cfg;
    zs_error err = {{0}};
    if (zs_ds_config_parse(json, "<plugin>", &cfg, &err))
        return ZS_PLUGIN_ERROR;
    *lr = zs_sched_lr(&cfg.scheduler, base_lr, k);
    zs_ds_config_free(&cfg);
    return ZS_PLUGIN_OK;
}

static int loss_scale_update(zs_plugin_loss_scaler *s, int overflow)
{
    zs_loss_scaler ls = {.dynamic = 1, .cur_scale = s->cur_scale, .min_scale = s->min_scale, .scale_factor = 2.0,
                         .scale_window = s->scale_window, .delayed_shift = s->delayed_shift,
                         .cur_hysteresis = s->cur_hysteresis, .consecutive_hysteresis = s->consecutive_hysteresis,
                         .raise_error_at_min_scale = 1, .cur_iter = s->cur_iter,
                         .last_overflow_iter = s->last_overflow_iter};
    zs_error err = {{0}};
    if (zs_loss_scaler_update(&ls, overflow, &err))
        return ZS_PLUGIN_ERROR;
    s->cur_scale = ls.cur_scale;
    s->cur_hysteresis = (int)ls.cur_hysteresis;
    s->cur_iter = ls.cur_iter;
    s->last_overflow_iter = ls.last_overflow_iter;
    return ZS_PLUGIN_OK;
}

static int unscale_clip(zs_plugin_unscale_clip *a)
{
    zs_comm comm = {.world = a->world};
    float norm = zs_clip_scaled_norm(&comm, (const float *const *)a->grads, a->len, 0);
    float inv = zs_clip_inverse_scale(norm, a->loss_scale, a->clip);
    for (int r = 0; r < a->world; r++)
        for (size_t j = 0; j < a->len; j++)
            a->grads[r][j] = a->grads[r][j] * inv;
    a->norm = norm / a->loss_scale;
    return ZS_PLUGIN_OK;
}

static zs_dtype dtype_of(const char *name)
{
    zs_dtype t = ZS_F32;
    zs_dtype_parse(name, &t);
    return t;
}

static int reduce_scatter_sum(const zs_plugin_collective *a)
{
    zs_comm comm = {.world = a->world};
    zs_reduce_scatter_sum(&comm, a->send, a->recv, a->chunk, dtype_of(a->dtype), "plugin");
    return ZS_PLUGIN_OK;
}

static int all_gather(const zs_plugin_collective *a)
{
    zs_comm comm = {.world = a->world};
    zs_all_gather(&comm, a->send, a->recv, a->chunk, dtype_of(a->dtype), "plugin");
    return ZS_PLUGIN_OK;
}

static int round_to(const char *dtype, float *values, size_t n)
{
    zs_round_array(dtype_of(dtype), values, n);
    return ZS_PLUGIN_OK;
}

/* A layer through reference/layer_calls.c: the ABI's named buffers put in the spec's call order. */
static int layer_call(const zs_plugin_layer *a, int backward)
{
    const zs_layer_spec *spec = zs_layer_spec_find(a->layer);
    if (!spec)
        return ZS_PLUGIN_UNSUPPORTED;
    zs_layer_dims d = {a->B, a->T, a->C, a->NH, a->V, a->OC};
    zs_layer_buffer want[2][8];
    int n_want[2] = {zs_layer_buffers(backward ? spec->backward_in : spec->forward_in, &d, want[0], 8),
                     zs_layer_buffers(backward ? spec->backward_out : spec->forward_out, &d, want[1], 8)};
    float *bufs[2][8] = {{0}};
    const int *ids = NULL;
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < n_want[side]; i++) {
            const zs_plugin_buffer *b = zs_plugin_buffer_find(side ? a->out : a->in, side ? a->n_out : a->n_in,
                                                              want[side][i].name);
            if (!b || b->numel != want[side][i].numel)
                return ZS_PLUGIN_UNSUPPORTED;
            if (spec->ids && !side && !strcmp(b->name, spec->ids))
                ids = b->data;
            else
                bufs[side][i] = b->data;
        }
    if (spec->ids && !ids)
        return ZS_PLUGIN_UNSUPPORTED;
    return zs_layer_call_f32(spec, backward, &d, bufs[0], bufs[1], ids) ? ZS_PLUGIN_ERROR : ZS_PLUGIN_OK;
}

static int layer_forward(const zs_plugin_layer *a)
{
    return layer_call(a, 0);
}

static int layer_backward(const zs_plugin_layer *a)
{
    return layer_call(a, 1);
}

static int compressed_allreduce(const zs_plugin_compressed_allreduce *a)
{
    if (a->world < 1 || a->world > 64 || a->n % (size_t)a->world)
        return ZS_PLUGIN_UNSUPPORTED;
    zs_compressed_allreduce(a->bufs, a->n, a->world, a->worker_error, a->server_error);
    return ZS_PLUGIN_OK;
}

static int ns_method_of(const char *name, zs_ns_method *m)
{
    *m = !strcmp(name, "gram") ? ZS_NS_GRAM : ZS_NS_STANDARD;
    return !strcmp(name, "gram") || !strcmp(name, "standard") ? 0 : -1;
}

static int newton_schulz(const zs_plugin_newton_schulz *a)
{
    zs_ns_method m;
    if (ns_method_of(a->ns_method, &m))
        return ZS_PLUGIN_UNSUPPORTED;
    return zs_newton_schulz(m, a->in, a->rows, a->cols, a->steps, a->out) ? ZS_PLUGIN_ERROR : ZS_PLUGIN_OK;
}

static int muon_update(const zs_plugin_muon_update *a)
{
    zs_ns_method m;
    if (ns_method_of(a->ns_method, &m))
        return ZS_PLUGIN_UNSUPPORTED;
    return zs_muon_update(dtype_of(a->dtype), a->grad, a->momentum, a->rows, a->cols, a->beta, m) ? ZS_PLUGIN_ERROR
                                                                                                : ZS_PLUGIN_OK;
}

static const zs_plugin plugin = {
    .abi_version = ZS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(zs_plugin),
    .name = "zerospec-reference",
    .optimizer_step = optimizer_step,
    .scheduler_lr = scheduler_lr,
    .loss_scale_update = loss_scale_update,
    .unscale_clip = unscale_clip,
    .reduce_scatter_sum = reduce_scatter_sum,
    .all_gather = all_gather,
    .round_to = round_to,
    .layer_forward = layer_forward,
    .layer_backward = layer_backward,
    .compressed_allreduce = compressed_allreduce,
    .newton_schulz = newton_schulz,
    .muon_update = muon_update,
};

const zs_plugin *zerospec_plugin_v1(void)
{
    return &plugin;
}
