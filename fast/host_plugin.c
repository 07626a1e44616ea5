/* zs-fast's host-side numerics as a zerospec plugin (docs/conformance.md "Checking your kernels"), so
 * that CI, which has no GPU, checks them against the op-level golden cases (fixtures/ops):
 *   optimizer_step     optim_math.h's element arithmetic — the very functions the CUDA kernels run —
 *                      with optim_rules.c's scalars; FusedLamb's sums in its kernels' order
 *   scheduler_lr       lr_sched.c
 *   loss_scale_update  loss_scaler.c
 *   round_to           rounding.h
 *   reduce_scatter_sum, all_gather   the mpi backend's rank-order fold (fold.c) and concatenation
 * The unscale/clip entry is left NULL (it is engine code, on the GPU). CTest: fast.plugin_ops. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "loss_scaler.h"
#include "fold.h"
#include "lr_sched.h"
#include "optim_math.h"
#include "optim_rules.h"
#include "rounding.h"
#include "zerospec/ds_config.h"
#include "zerospec/plugin.h"

static int rule_for(const char *name, int torch_adam, zsf_optim_rule *r)
{
    static const struct {
        const char *name;
        zsf_optim_rule rule;
    } table[] = {{"Lamb", ZSF_FUSED_LAMB}, {"Adagrad", ZSF_TORCH_ADAGRAD}, {"Lion", ZSF_FUSED_LION}, {"SGD", ZSF_TORCH_SGD}};
    if (!strcmp(name, "Adam") || !strcmp(name, "AdamW")) {
        *r = torch_adam ? ZSF_TORCH_ADAM : ZSF_FUSED_ADAM;
        return 0;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name, table[i].name)) {
            *r = table[i].rule;
            return 0;
        }
    return -1;
}

/* FusedLamb over one call, in the kernels' order (optim.cu): B blocks of T threads; thread i sums
 * elements i, i + B*T, ...; each block halves its T partial sums; one block halves the zero-padded
 * block sums. */
static void lamb_call(const zsf_optim_scalars *c, float *param, const float *grad, float *m, float *v, size_t n)
{
    enum { T = ZSF_LAMB_THREADS };
    if (n == 0)
        return;
    size_t blocks = (n + T - 1) / T;
    blocks = blocks > T ? T : blocks;
    static float sw[T], su[T], bw[T], bu[T];
    memset(bw, 0, sizeof bw);
    memset(bu, 0, sizeof bu);
    for (size_t j = 0; j < n; j++)
        zsf_lamb_moments(c, grad[j], &m[j], &v[j]);
    for (size_t b = 0; b < blocks; b++) {
        for (size_t t = 0; t < T; t++) {
            float w = 0.0f, u = 0.0f;
            for (size_t j = b * T + t; j < n; j += blocks * T) {
                const float upd = zsf_lamb_update(c, m[j], v[j], param[j]);
                u = u + upd * upd;
                w = w + param[j] * param[j];
            }
            sw[t] = w;
            su[t] = u;
        }
        for (size_t h = T / 2; h > 0; h /= 2)
            for (size_t t = 0; t < h; t++) {
                sw[t] = sw[t] + sw[t + h];
                su[t] = su[t] + su[t + h];
            }
        bw[b] = sw[0];
        bu[b] = su[0];
    }
    for (size_t h = T / 2; h > 0; h /= 2)
        for (size_t t = 0; t < h; t++) {
            bw[t] = bw[t] + bw[t + h];
            bu[t] = bu[t] + bu[t + h];
        }
    const float coeff = zsf_lamb_coeff(c, bw[0], bu[0]);
    for (size_t j = 0; j < n; j++) {
        const float p = param[j], upd = zsf_lamb_update(c, m[j], v[j], p);
        param[j] = p - (c->step_size * coeff) * upd;
    }
}

static int optimizer_step(const zs_plugin_optimizer_step *a)
{
    const zs_plugin_hparams *hp = a->hp;
    zsf_optim_rule rule;
    if (rule_for(a->optimizer, hp->torch_adam, &rule) || a->n_state != zsf_optim_n_state(rule))
        return ZS_PLUGIN_UNSUPPORTED;
    zs_optimizer_config o;
    memset(&o, 0, sizeof o);
    o.lr = hp->lr;
    o.betas[0] = hp->beta1;
    o.betas[1] = hp->beta2;
    o.eps = hp->eps;
    o.weight_decay = hp->weight_decay;
    o.adam_w_mode = !strcmp(a->optimizer, "AdamW") || hp->adam_w_mode;
    o.bias_correction = hp->bias_correction;
    o.max_coeff = hp->max_coeff;
    o.min_coeff = hp->min_coeff;
    o.eps_inside_sqrt = hp->eps_inside_sqrt;
    o.lr_decay = hp->lr_decay;
    o.initial_accumulator_value = hp->initial_accumulator_value;
    o.momentum = hp->momentum;
    o.dampening = hp->dampening;
    o.nesterov = hp->nesterov;
    zsf_optim_scalars c;
    zsf_optim_scalars_for(rule, &o, a->step, hp->lr, hp->beta1, hp->beta2, &c);
    float *const *s = a->state;
    for (size_t i = 0; rule != ZSF_FUSED_LAMB && i < a->n; i++) {
        float *p = &a->param[i];
        const float g = a->grad[i];
        switch (rule) {
        case ZSF_FUSED_ADAM:
            zsf_fused_adam_elem(&c, p, g, &s[0][i], &s[1][i]);
            break;
        case ZSF_TORCH_ADAM:
            zsf_torch_adam_elem(&c, p, g, &s[0][i], &s[1][i]);
            break;
        case ZSF_TORCH_ADAGRAD:
            zsf_adagrad_elem(&c, p, g, &s[0][i]);
            break;
        case ZSF_FUSED_LION:
            zsf_lion_elem(&c, p, g, &s[0][i]);
            break;
        default:
            zsf_sgd_elem(&c, p, g, &s[0][i]);
            break;
        }
    }
    if (rule == ZSF_FUSED_LAMB)
        lamb_call(&c, a->param, a->grad, s[0], s[1], a->n);
    return ZS_PLUGIN_OK;
}

/* The scheduler block inside a minimal config, parsed by zs_common as zs-fast parses any config. */
static int scheduler_lr(const char *scheduler_json, double base_lr, int64_t k, double *lr)
{
    char json[4096];
    if (snprintf(json, sizeof json,
                 "{\"train_batch_size\": 1, \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": %.17g}},"
                 " \"scheduler\": %s}",
                 base_lr, scheduler_json) >= (int)sizeof json)
        return ZS_PLUGIN_ERROR;
    zs_ds_config cfg;
    zs_error err = {{0}};
    if (zs_ds_config_parse(json, "<plugin>", &cfg, &err))
        return ZS_PLUGIN_ERROR;
    *lr = zsf_sched_lr(&cfg, k);
    zs_ds_config_free(&cfg);
    return ZS_PLUGIN_OK;
}

static int loss_scale_update(zs_plugin_loss_scaler *st, int overflow)
{
    zsf_loss_scaler s = {.dynamic = 1, .scale = st->cur_scale, .min_scale = st->min_scale,
                         .window = st->scale_window, .delayed_shift = st->delayed_shift,
                         .cur_hysteresis = st->cur_hysteresis, .consecutive_hysteresis = st->consecutive_hysteresis,
                         .raise_at_min = 1, .cur_iter = st->cur_iter, .last_overflow_iter = st->last_overflow_iter};
    zs_error err = {{0}};
    if (zsf_loss_scaler_update(&s, overflow, &err))
        return ZS_PLUGIN_ERROR;
    st->cur_scale = s.scale;
    st->cur_hysteresis = s.cur_hysteresis;
    st->cur_iter = s.cur_iter;
    st->last_overflow_iter = s.last_overflow_iter;
    return ZS_PLUGIN_OK;
}

static zsf_dtype dtype_of(const char *name)
{
    return !strcmp(name, "F16") ? ZSF_FP16 : !strcmp(name, "BF16") ? ZSF_BF16 : ZSF_FP32;
}

static int round_to(const char *dtype, float *values, size_t n)
{
    const zsf_dtype dt = dtype_of(dtype);
    if (dt == ZSF_FP32)
        return ZS_PLUGIN_UNSUPPORTED;
    for (size_t i = 0; i < n; i++)
        values[i] = zsf_round(dt, values[i]);
    return ZS_PLUGIN_OK;
}

/* Rank d receives the fold of every rank's block d, as the mpi backend's reduce-scatter computes it. */
static int reduce_scatter_sum(const zs_plugin_collective *a)
{
    const size_t W = (size_t)a->world, n = a->chunk;
    float *blocks = malloc((W * n > 0 ? W * n : 1) * sizeof(float));
    if (!blocks)
        return ZS_PLUGIN_ERROR;
    for (size_t d = 0; d < W; d++) {
        for (size_t r = 0; r < W; r++)
            memcpy(blocks + r * n, a->send[r] + d * n, n * sizeof(float));
        zsf_fold_rank_order(a->recv[d], blocks, n, a->world, dtype_of(a->dtype));
    }
    free(blocks);
    return ZS_PLUGIN_OK;
}

static int all_gather(const zs_plugin_collective *a)
{
    for (int d = 0; d < a->world; d++)
        for (int r = 0; r < a->world; r++)
            memcpy(a->recv[d] + (size_t)r * a->chunk, a->send[r], a->chunk * sizeof(float));
    return ZS_PLUGIN_OK;
}

static const zs_plugin plugin = {
    .abi_version = ZS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(zs_plugin),
    .name = "zs-fast host numerics",
    .optimizer_step = optimizer_step,
    .scheduler_lr = scheduler_lr,
    .loss_scale_update = loss_scale_update,
    .round_to = round_to,
    .reduce_scatter_sum = reduce_scatter_sum,
    .all_gather = all_gather,
};

const zs_plugin *zerospec_plugin_v1(void)
{
    return &plugin;
}
