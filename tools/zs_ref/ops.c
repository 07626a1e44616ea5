/* zs-ref ops --out DIR: writes the op-level golden cases (fixtures/ops/, one safetensors file per family) that a kernel
 * author checks a plugin against without the model (docs/conformance.md). Every value comes from the
 * reference modules; inputs come from the spec RNG. File layout per family:
 *
 *   optim_<case>.safetensors   metadata: op=optimizer, optimizer, hparams (JSON), steps, n
 *                              param/init, grad/step<k>, param/step<k>, <state>/step<k>   (F32 [n])
 *   schedulers.safetensors     lr/<case> (F64 [K]: lr of steps 0..K-1), metadata config/<case>
 *   loss_scaler.safetensors    <case>/overflow (U8 [K]), <case>/scale (F64 [K], scale used), metadata
 *   unscale_clip.safetensors   <case>/in/rank<r>, <case>/out/rank<r> (F32), <case>/norm (F32 [])
 *   collectives.safetensors    <op>_<dtype>/send/rank<r>, <op>_<dtype>/recv/rank<r> (F32)
 *   round_to.safetensors       input (F32 [n]), F16 (F32 [n]), BF16 (F32 [n])
 *   layer_<name>.safetensors   the model's layers, forward and backward (ops_layers.c)
 *   onebit_compressed_allreduce.safetensors   the 1-bit all-reduce, several calls (ops_onebit.c)
 *   muon_newton_schulz.safetensors            Newton-Schulz and muon_update (ops_muon.c)
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clip.h"
#include "collectives.h"
#include "loss_scaler.h"
#include "optim/optimizer.h"
#include "precision.h"
#include "rng.h"
#include "sched/scheduler.h"
#include "zerospec/ds_config.h"
#include "zerospec/safetensors.h"
#include "zs_ref.h"

#define OPT_N 64
#define OPT_STEPS 5

void zs_ref_ops_fill_normal(float *x, size_t n, uint64_t stream, double scale)
{
    uint64_t key = zs_rng_key(OPS_SEED, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * zs_rng_normal(key, i));
}

int zs_ref_ops_write(zs_st_writer *w, const char *dir, const char *file, zs_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = zs_st_write_file(w, path, err);
    zs_st_writer_free(w);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Optimizers: one file per (optimizer, variant). */

typedef struct optim_case {
    const char *name;
    zs_optimizer_type type;
    double lr, wd, eps, grad_scale;
    int adam_w_mode, bias_correction, torch_adam, zero_grads;
} optim_case;

static const optim_case optim_cases[] = {
    {"adamw", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-8, 1.0, 1, 1, 0, 0},
    {"adamw_wd0", ZS_OPT_ADAMW, 1e-3, 0.0, 1e-8, 1.0, 1, 1, 0, 0},
    {"adam_l2", ZS_OPT_ADAM, 1e-3, 0.1, 1e-8, 1.0, 0, 1, 0, 0},
    {"adamw_no_bias_correction", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-8, 1.0, 1, 0, 0, 0},
    {"adamw_eps_large", ZS_OPT_ADAMW, 1e-3, 0.01, 1.0, 1.0, 1, 1, 0, 0},
    {"adamw_eps_tiny", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-30, 1.0, 1, 1, 0, 0},
    {"adamw_zero_grads", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-8, 1.0, 1, 1, 0, 1},
    {"adamw_huge_grads", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-8, 1e30, 1, 1, 0, 0},
    {"torch_adamw", ZS_OPT_ADAMW, 1e-3, 0.01, 1e-8, 1.0, 1, 1, 1, 0},
    {"lamb", ZS_OPT_LAMB, 1e-2, 0.01, 1e-8, 1.0, 1, 1, 0, 0},
    {"lamb_wd0", ZS_OPT_LAMB, 1e-2, 0.0, 1e-8, 1.0, 1, 1, 0, 0},
    {"adagrad", ZS_OPT_ADAGRAD, 1e-2, 0.01, 1e-10, 1.0, 1, 1, 0, 0},
    {"lion", ZS_OPT_LION, 1e-3, 0.1, 1e-8, 1.0, 1, 1, 0, 0},
    {"lion_zero_grads", ZS_OPT_LION, 1e-3, 0.0, 1e-8, 1.0, 1, 1, 0, 1},
    {"sgd_nesterov", ZS_OPT_SGD, 1e-1, 0.01, 1e-8, 1.0, 1, 1, 0, 0},
};

static zs_optimizer_config optim_config(const optim_case *c)
{
    zs_optimizer_config hp = {0};
    hp.type = c->type;
    snprintf(hp.type_name, sizeof hp.type_name, "%s", zs_optimizer_type_name(c->type));
    hp.lr = c->lr;
    hp.betas[0] = c->type == ZS_OPT_LION ? 0.9 : 0.9;
    hp.betas[1] = c->type == ZS_OPT_LION ? 0.99 : 0.999;
    hp.eps = c->eps;
    hp.weight_decay = c->wd;
    hp.adam_w_mode = c->adam_w_mode;
    hp.bias_correction = c->bias_correction;
    hp.torch_adam = c->torch_adam;
    hp.max_coeff = 10.0;
    hp.min_coeff = 0.01;
    hp.momentum = 0.9;
    hp.nesterov = 1;
    return hp;
}

static void hparams_json(const zs_optimizer_config *hp, char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"lr\":%.17g,\"beta1\":%.17g,\"beta2\":%.17g,\"eps\":%.17g,\"weight_decay\":%.17g,"
             "\"adam_w_mode\":%d,\"bias_correction\":%d,\"torch_adam\":%d,\"max_coeff\":%.17g,"
             "\"min_coeff\":%.17g,\"eps_inside_sqrt\":%d,\"lr_decay\":%.17g,\"initial_accumulator_value\":%.17g,"
             "\"momentum\":%.17g,\"dampening\":%.17g,\"nesterov\":%d}",
             hp->lr, hp->betas[0], hp->betas[1], hp->eps, hp->weight_decay, hp->adam_w_mode, hp->bias_correction,
             hp->torch_adam, hp->max_coeff, hp->min_coeff, hp->eps_inside_sqrt, hp->lr_decay,
             hp->initial_accumulator_value, hp->momentum, hp->dampening, hp->nesterov);
}

static int write_optim_case(const optim_case *c, const char *dir, zs_error *err)
{
    zs_optimizer_config hp = optim_config(c);
    const zs_optim_ops *ops = zs_optim_ops_for(&hp);
    if (!ops)
        return zs_fail(err, "ops: optimizer %s has no reference rule", hp.type_name);
    float param[OPT_N], grad[OPT_N], state_mem[ZS_OPTIM_MAX_STATE][OPT_N] = {{0}};
    float *state[ZS_OPTIM_MAX_STATE];
    for (int s = 0; s < ZS_OPTIM_MAX_STATE; s++)
        state[s] = state_mem[s];
    zs_ref_ops_fill_normal(param, OPT_N, 1, 0.5);
    zs_st_writer *w = zs_st_writer_new();
    char name[128], json[1024], buf[32];
    hparams_json(&hp, json, sizeof json);
    snprintf(buf, sizeof buf, "%d", OPT_STEPS);
    if (zs_st_set_meta(w, "op", "optimizer", err) || zs_st_set_meta(w, "optimizer", hp.type_name, err) ||
        zs_st_set_meta(w, "hparams", json, err) || zs_st_set_meta(w, "steps", buf, err) ||
        zs_st_add_f32(w, "param/init", param, OPT_N, err))
        goto fail;
    for (int k = 1; k <= OPT_STEPS; k++) {
        if (c->zero_grads)
            memset(grad, 0, sizeof grad);
        else
            zs_ref_ops_fill_normal(grad, OPT_N, 100 + (uint64_t)k, 0.1 * c->grad_scale);
        zs_optim_step st = {.step = k, .lr = hp.lr, .beta1 = hp.betas[0], .beta2 = hp.betas[1]};
        ops->step(&hp, &st, param, grad, state, OPT_N);
        snprintf(name, sizeof name, "grad/step%d", k);
        if (zs_st_add_f32(w, name, grad, OPT_N, err))
            goto fail;
        snprintf(name, sizeof name, "param/step%d", k);
        if (zs_st_add_f32(w, name, param, OPT_N, err))
            goto fail;
        for (int s = 0; s < ops->n_state; s++) {
            snprintf(name, sizeof name, "%s/step%d", ops->state_names[s], k);
            if (zs_st_add_f32(w, name, state[s], OPT_N, err))
                goto fail;
        }
    }
    snprintf(name, sizeof name, "optim_%s.safetensors", c->name);
    return zs_ref_ops_write(w, dir, name, err);
fail:
    zs_st_writer_free(w);
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Schedulers: lr of steps 0..K-1 for each scheduler configuration. */

typedef struct sched_case {
    const char *name, *json;   /* the DeepSpeed "scheduler" block */
    zs_scheduler_config cfg;
} sched_case;

static int write_schedulers(const char *dir, zs_error *err)
{
    const double base_lr = 0.01;
    enum { K = 12 };
    zs_scheduler_config warm = {.type = ZS_SCHED_WARMUP_LR, .warmup_min_lr = 0.001, .warmup_max_lr = 0.01,
                                .warmup_num_steps = 4, .warmup_type = ZS_WARMUP_LOG};
    zs_scheduler_config warm_lin = warm;
    warm_lin.warmup_type = ZS_WARMUP_LINEAR;
    zs_scheduler_config decay = warm;
    decay.type = ZS_SCHED_WARMUP_DECAY_LR;
    decay.total_num_steps = 8;
    zs_scheduler_config cosine = {.type = ZS_SCHED_WARMUP_COSINE_LR, .warmup_min_ratio = 0.0, .warmup_num_steps = 3,
                                  .total_num_steps = 9, .cos_min_ratio = 0.1, .warmup_type = ZS_WARMUP_LOG};
    zs_scheduler_config cycle = {.type = ZS_SCHED_ONE_CYCLE, .cycle_min_lr = 0.001, .cycle_max_lr = 0.01,
                                 .cycle_first_step_size = 3, .cycle_second_step_size = 3, .decay_lr_rate = 0.5,
                                 .decay_step_size = 2, .cycle_momentum = 1, .cycle_min_mom = 0.85,
                                 .cycle_max_mom = 0.95};
    zs_scheduler_config range = {.type = ZS_SCHED_LR_RANGE_TEST, .lr_range_test_min_lr = 0.001,
                                 .lr_range_test_step_size = 3, .lr_range_test_step_rate = 2.0,
                                 .lr_range_test_staircase = 1};
    const sched_case cases[] = {
        {"warmup_lr_log", "{\"type\":\"WarmupLR\",\"params\":{\"warmup_min_lr\":0.001,\"warmup_max_lr\":0.01,\"warmup_num_steps\":4}}", warm},
        {"warmup_lr_linear", "{\"type\":\"WarmupLR\",\"params\":{\"warmup_min_lr\":0.001,\"warmup_max_lr\":0.01,\"warmup_num_steps\":4,\"warmup_type\":\"linear\"}}", warm_lin},
        {"warmup_decay_lr", "{\"type\":\"WarmupDecayLR\",\"params\":{\"warmup_min_lr\":0.001,\"warmup_max_lr\":0.01,\"warmup_num_steps\":4,\"total_num_steps\":8}}", decay},
        {"warmup_cosine_lr", "{\"type\":\"WarmupCosineLR\",\"params\":{\"warmup_min_ratio\":0,\"warmup_num_steps\":3,\"total_num_steps\":9,\"cos_min_ratio\":0.1}}", cosine},
        {"one_cycle", "{\"type\":\"OneCycle\",\"params\":{\"cycle_min_lr\":0.001,\"cycle_max_lr\":0.01,\"cycle_first_step_size\":3,\"cycle_second_step_size\":3,\"decay_lr_rate\":0.5,\"decay_step_size\":2,\"cycle_min_mom\":0.85,\"cycle_max_mom\":0.95}}", cycle},
        {"lr_range_test", "{\"type\":\"LRRangeTest\",\"params\":{\"lr_range_test_min_lr\":0.001,\"lr_range_test_step_size\":3,\"lr_range_test_step_rate\":2.0,\"lr_range_test_staircase\":true}}", range},
    };
    zs_st_writer *w = zs_st_writer_new();
    char name[128], buf[32];
    snprintf(buf, sizeof buf, "%.17g", base_lr);
    if (zs_st_set_meta(w, "op", "scheduler", err) || zs_st_set_meta(w, "base_lr", buf, err))
        goto fail;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double lr[K];
        for (int k = 0; k < K; k++)
            lr[k] = zs_sched_lr(&cases[c].cfg, base_lr, k);
        snprintf(name, sizeof name, "lr/%s", cases[c].name);
        int64_t shape[1] = {K};
        if (zs_st_add(w, name, ZS_F64, 1, shape, lr, err))
            goto fail;
        snprintf(name, sizeof name, "config/%s", cases[c].name);
        if (zs_st_set_meta(w, name, cases[c].json, err))
            goto fail;
    }
    return zs_ref_ops_write(w, dir, "schedulers.safetensors", err);
fail:
    zs_st_writer_free(w);
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Loss scaler: overflow sequences and the scale used at each step. */

static int write_loss_scaler(const char *dir, zs_error *err)
{
    typedef struct {
        const char *name, *fp16_json;
        int power, window, hysteresis, consecutive;
        double min_scale;
        const char *flags;
    } ls_case;
    const ls_case cases[] = {
        {"hysteresis2_window2", "{\"initial_scale_power\":3,\"loss_scale_window\":2,\"hysteresis\":2}", 3, 2, 2, 0, 1.0, "FFTTFFFTFFFFF"},
        {"seed000_all_overflow", "{\"initial_scale_power\":32,\"loss_scale_window\":1000,\"hysteresis\":2,\"min_loss_scale\":1}", 32, 1000, 2, 0, 1.0, "TTTTTTTTTTTTTTTTTTTT"},
        {"consecutive_hysteresis", "{\"initial_scale_power\":8,\"loss_scale_window\":3,\"hysteresis\":3,\"consecutive_hysteresis\":true}", 8, 3, 3, 1, 1.0, "TFTFTTTFFFFFF"},
        {"min_scale_clamp", "{\"initial_scale_power\":4,\"loss_scale_window\":100,\"hysteresis\":1,\"min_loss_scale\":4}", 4, 100, 1, 0, 4.0, "TTFFF"},
    };
    zs_st_writer *w = zs_st_writer_new();
    char name[128];
    if (zs_st_set_meta(w, "op", "loss_scaler", err))
        goto fail;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zs_ds_config cfg = {0};
        cfg.precision = ZS_PREC_FP16;
        cfg.zero.stage = 2;   /* ZeRO's DynamicLossScaler (stage 0 uses FP16_Optimizer's, without hysteresis) */
        cfg.fp16 = (zs_fp16_config){.enabled = 1, .initial_scale_power = cases[c].power,
                                    .loss_scale_window = cases[c].window, .hysteresis = cases[c].hysteresis,
                                    .consecutive_hysteresis = cases[c].consecutive, .min_loss_scale = cases[c].min_scale};
        zs_loss_scaler s;
        if (zs_loss_scaler_init(&s, &cfg, err))
            goto fail;
        size_t K = strlen(cases[c].flags);
        uint8_t flags[64];
        double scale[64];
        for (size_t k = 0; k < K; k++) {
            flags[k] = cases[c].flags[k] == 'T';
            scale[k] = zs_loss_scaler_scale(&s);
            if (zs_loss_scaler_update(&s, flags[k], err))
                goto fail;
        }
        int64_t shape[1] = {(int64_t)K};
        snprintf(name, sizeof name, "%s/overflow", cases[c].name);
        if (zs_st_add(w, name, ZS_U8, 1, shape, flags, err))
            goto fail;
        snprintf(name, sizeof name, "%s/scale", cases[c].name);
        if (zs_st_add(w, name, ZS_F64, 1, shape, scale, err))
            goto fail;
        snprintf(name, sizeof name, "config/%s", cases[c].name);
        if (zs_st_set_meta(w, name, cases[c].fp16_json, err))
            goto fail;
    }
    return zs_ref_ops_write(w, dir, "loss_scaler.safetensors", err);
fail:
    zs_st_writer_free(w);
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Unscale + clip over 3 ranks' partitions; collectives; rounding. */

static int write_unscale_clip(const char *dir, zs_error *err)
{
    enum { W = 3, LEN = 10 };
    const struct { const char *name; float scale; double clip; double grad_scale; } cases[] = {
        {"clip_active", 1024.0f, 1.0, 2048.0}, {"clip_inactive", 1.0f, 100.0, 1.0}, {"clip_off", 65536.0f, 0.0, 1000.0},
    };
    zs_st_writer *w = zs_st_writer_new();
    char name[128], meta[128];
    if (zs_st_set_meta(w, "op", "unscale_clip", err))
        goto fail;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float mem[W][LEN];
        const float *in[W];
        for (int r = 0; r < W; r++) {
            zs_ref_ops_fill_normal(mem[r], LEN, 200 + (uint64_t)r, cases[c].grad_scale);
            in[r] = mem[r];
            snprintf(name, sizeof name, "%s/in/rank%d", cases[c].name, r);
            if (zs_st_add_f32(w, name, mem[r], LEN, err))
                goto fail;
        }
        zs_comm comm = {.world = W};
        float norm_scaled = zs_clip_scaled_norm(&comm, in, LEN, 0);
        float inv = zs_clip_inverse_scale(norm_scaled, cases[c].scale, cases[c].clip);
        for (int r = 0; r < W; r++) {
            for (int j = 0; j < LEN; j++)
                mem[r][j] = mem[r][j] * inv;
            snprintf(name, sizeof name, "%s/out/rank%d", cases[c].name, r);
            if (zs_st_add_f32(w, name, mem[r], LEN, err))
                goto fail;
        }
        snprintf(name, sizeof name, "%s/norm", cases[c].name);
        if (zs_st_add_scalar_f32(w, name, norm_scaled / cases[c].scale, err))
            goto fail;
        snprintf(name, sizeof name, "config/%s", cases[c].name);
        snprintf(meta, sizeof meta, "{\"world\":%d,\"loss_scale\":%.17g,\"clip\":%.17g}", W, (double)cases[c].scale,
                 cases[c].clip);
        if (zs_st_set_meta(w, name, meta, err))
            goto fail;
    }
    return zs_ref_ops_write(w, dir, "unscale_clip.safetensors", err);
fail:
    zs_st_writer_free(w);
    return -1;
}

static int write_collectives(const char *dir, zs_error *err)
{
    enum { W = 3, CHUNK = 8 };
    const zs_dtype dtypes[3] = {ZS_F32, ZS_F16, ZS_BF16};
    zs_st_writer *w = zs_st_writer_new();
    char name[128];
    if (zs_st_set_meta(w, "op", "collectives", err))
        goto fail;
    for (int t = 0; t < 3; t++) {
        float send[W][W * CHUNK], recv[W][CHUNK], gsend[W][CHUNK], grecv[W][W * CHUNK];
        const float *sp[W], *gp[W];
        float *rp[W], *grp[W];
        for (int r = 0; r < W; r++) {
            zs_ref_ops_fill_normal(send[r], W * CHUNK, 300 + (uint64_t)r, 100.0);
            zs_ref_ops_fill_normal(gsend[r], CHUNK, 400 + (uint64_t)r, 1.0);
            zs_round_array(dtypes[t], send[r], W * CHUNK);   /* inputs are values of the dtype */
            zs_round_array(dtypes[t], gsend[r], CHUNK);
            sp[r] = send[r];
            gp[r] = gsend[r];
            rp[r] = recv[r];
            grp[r] = grecv[r];
        }
        zs_comm comm = {.world = W};
        zs_reduce_scatter_sum(&comm, sp, rp, CHUNK, dtypes[t], "ops");
        zs_all_gather(&comm, gp, grp, CHUNK, dtypes[t], "ops");
        const char *dn = zs_dtype_name(dtypes[t]);
        for (int r = 0; r < W; r++) {
            snprintf(name, sizeof name, "reduce_scatter_%s/send/rank%d", dn, r);
            if (zs_st_add_f32(w, name, send[r], W * CHUNK, err))
                goto fail;
            snprintf(name, sizeof name, "reduce_scatter_%s/recv/rank%d", dn, r);
            if (zs_st_add_f32(w, name, recv[r], CHUNK, err))
                goto fail;
            snprintf(name, sizeof name, "all_gather_%s/send/rank%d", dn, r);
            if (zs_st_add_f32(w, name, gsend[r], CHUNK, err))
                goto fail;
            snprintf(name, sizeof name, "all_gather_%s/recv/rank%d", dn, r);
            if (zs_st_add_f32(w, name, grecv[r], W * CHUNK, err))
                goto fail;
        }
    }
    return zs_ref_ops_write(w, dir, "collectives.safetensors", err);
fail:
    zs_st_writer_free(w);
    return -1;
}

static int write_round_to(const char *dir, zs_error *err)
{
    enum { N = 64 };
    float in[N], f16[N], bf16[N];
    const float specials[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f,
                              1.0f + 0x1p-11f, 1.0f + 0x1p-8f, 1.0f + 0x1.8p-8f, 3.0e38f, -1e-40f};
    const size_t ns = sizeof specials / sizeof specials[0];
    zs_ref_ops_fill_normal(in, N, 500, 10.0);
    memcpy(in, specials, sizeof specials);
    for (size_t i = 0; i < N; i++) {
        f16[i] = zs_round_to(ZS_F16, in[i]);
        bf16[i] = zs_round_to(ZS_BF16, in[i]);
    }
    (void)ns;
    zs_st_writer *w = zs_st_writer_new();
    if (zs_st_set_meta(w, "op", "round_to", err) || zs_st_add_f32(w, "input", in, N, err) ||
        zs_st_add_f32(w, "F16", f16, N, err) || zs_st_add_f32(w, "BF16", bf16, N, err)) {
        zs_st_writer_free(w);
        return -1;
    }
    return zs_ref_ops_write(w, dir, "round_to.safetensors", err);
}

int zs_ref_ops(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: zs-ref ops --out DIR\nWrites the op-level golden cases (optimizers, schedulers, loss "
                   "scaler, unscale/clip, collectives, rounding, layers, 1-bit all-reduce, Muon) into DIR.\n");
            return 0;
        } else {
            fprintf(stderr, "zs-ref: error: ops: unexpected argument '%s' (usage: zs-ref ops --out DIR)\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "zs-ref: error: ops needs --out DIR\n");
        return 2;
    }
    mkdir(dir, 0755);
    zs_error err = {{0}};
    for (size_t c = 0; c < sizeof optim_cases / sizeof optim_cases[0]; c++)
        if (write_optim_case(&optim_cases[c], dir, &err))
            goto fail;
    if (write_schedulers(dir, &err) || write_loss_scaler(dir, &err) || write_unscale_clip(dir, &err) ||
        write_collectives(dir, &err) || write_round_to(dir, &err) || zs_ref_ops_layers(dir, &err) ||
        zs_ref_ops_onebit(dir, &err) || zs_ref_ops_muon(dir, &err))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "zs-ref: error: ops: %s\n", err.msg);
    return 1;
}
