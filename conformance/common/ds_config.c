/* DeepSpeed config: entry points, defaults and names. The sections live in ds_config_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_config_parse.h"

/* DeepSpeed v0.19.6 defaults (docs/spec/config.md cites the source of each). */
static void set_defaults(zs_ds_config *c)
{
    memset(c, 0, sizeof *c);
    c->gradient_clipping = 1.0;          /* constants.py GRADIENT_CLIPPING_DEFAULT (v0.19.3+) */
    c->gradient_predivide_factor = 1.0;  /* constants.py GRADIENT_PREDIVIDE_FACTOR_DEFAULT */
    c->steps_per_print = 0;              /* constants.py STEPS_PER_PRINT_DEFAULT = None */
    c->precision = ZS_PREC_FP32;

    c->fp16.initial_scale_power = 16;    /* precision_config.py DeepSpeedFP16Config */
    c->fp16.loss_scale_window = 1000;
    c->fp16.hysteresis = 2;
    c->fp16.min_loss_scale = 1;
    c->bf16.check_grad_overflow = 1;     /* precision_config.py DeepSpeedBF16Config */

    zs_zero_config *z = &c->zero;        /* zero/config.py DeepSpeedZeroConfig */
    z->offload_optimizer.pin_memory = 1; /* zero/offload_config.py: pin_memory = True */
    z->offload_optimizer.ratio = 1.0;
    z->offload_param.pin_memory = 1;
    z->offload_param.ratio = 1.0;
    z->contiguous_gradients = 1;
    z->reduce_scatter = 1;
    z->allgather_partitions = 1;
    z->reduce_bucket_size = 500000000;
    z->allgather_bucket_size = 500000000;
    z->sub_group_size = 1000000000;
    z->stage3_prefetch_bucket_size = 50000000;
    z->stage3_param_persistence_threshold = 100000;
    z->stage3_max_live_parameters = 1000000000;
    z->stage3_max_reuse_distance = 1000000000;

    zs_optimizer_config *o = &c->optimizer; /* ops/adam/fused_adam.py FusedAdam.__init__ and the */
    o->lr = 1e-3;                           /* other constructors' defaults (optimizer file)    */
    o->betas[0] = 0.9;
    o->betas[1] = 0.999;
    o->eps = 1e-8;
    o->adam_w_mode = 1;
    o->bias_correction = 1;
    o->max_coeff = 10.0;
    o->min_coeff = 0.01;
    o->freeze_step = 100000;
    o->var_freeze_step = 100000;
    o->var_update_scaler = 16;
    o->local_step_scaler = 32678;
    o->local_step_clipper = 16;
    o->coeff_beta = 0.9;
    o->factor_max = 4.0;
    o->factor_min = 0.5;
    o->factor_threshold = 0.1;
    snprintf(o->ns_method, sizeof o->ns_method, "gram");
    snprintf(o->type_name, sizeof o->type_name, "none");

    zs_scheduler_config *s = &c->scheduler; /* lr_schedules.py constructors */
    snprintf(s->type_name, sizeof s->type_name, "none");
    s->warmup_max_lr = 0.001;
    s->warmup_num_steps = 1000;
    s->warmup_type = ZS_WARMUP_LOG;
    s->cos_min_ratio = 0.0001;
    s->lr_range_test_min_lr = 1e-3;
    s->lr_range_test_step_rate = 1.0;
    s->lr_range_test_step_size = 2000;
    s->cycle_first_step_size = 2000;
    s->cycle_second_step_size = 2000;
    s->cycle_momentum = 1;
    s->cycle_min_mom = 0.8;
    s->cycle_max_mom = 0.9;
}

int zs_ds_config_parse_tree(const cJSON *root, const zs_json_numforms *forms, const char *source,
                            zs_ds_config *out, zs_error *err)
{
    set_defaults(out);
    zs_ds_parse p = {.root = root, .forms = forms, .cfg = out, .err = err};
    int rc = cJSON_IsObject(root) ? 0 : zs_fail(err, "a DeepSpeed config must be a JSON object");
    if (!rc)
        rc = zs_json_check_duplicates(root, err);
    if (!rc)
        rc = zs_ds_parse_top(&p);
    if (!rc)
        rc = zs_ds_parse_batch(&p);
    if (!rc)
        rc = zs_ds_parse_precision(&p);
    if (!rc)
        rc = zs_ds_parse_zero(&p);
    if (!rc)
        rc = zs_ds_parse_optimizer(&p);
    if (!rc)
        rc = zs_ds_parse_scheduler(&p);
    if (!rc)
        rc = zs_ds_check_rules(&p);
    if (!rc && !(out->canonical_json = zs_ds_config_canonical(out, err)))
        rc = -1;
    if (rc) {
        zs_error_prefix(err, "%s", source);
        zs_ds_config_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int zs_ds_config_parse(const char *json_text, const char *source, zs_ds_config *out, zs_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = zs_json_parse(json_text, source, err);
    if (!root)
        return -1;
    zs_json_numforms forms;
    int rc = zs_json_numforms_build(json_text, root, &forms, err);
    if (!rc) {
        rc = zs_ds_config_parse_tree(root, &forms, source, out, err);
        zs_json_numforms_free(&forms);
    }
    cJSON_Delete(root);
    return rc;
}

int zs_ds_config_load(const char *path, zs_ds_config *out, zs_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = zs_json_read_file(path, "the DeepSpeed config", err);
    if (!text)
        return -1;
    int rc = zs_ds_config_parse(text, path, out, err);
    free(text);
    return rc;
}

void zs_ds_config_free(zs_ds_config *cfg)
{
    if (!cfg)
        return;
    zs_report_free(&cfg->report);
    free(cfg->canonical_json);
    cfg->canonical_json = NULL;
}

const char *zs_optimizer_type_name(zs_optimizer_type t)
{
    static const char *const names[ZS_OPT_COUNT] = {
        [ZS_OPT_NONE] = "none",         [ZS_OPT_ADAM] = "Adam",          [ZS_OPT_ADAMW] = "AdamW",
        [ZS_OPT_LAMB] = "Lamb",         [ZS_OPT_ONEBIT_ADAM] = "OneBitAdam",
        [ZS_OPT_ZERO_ONE_ADAM] = "ZeroOneAdam", [ZS_OPT_ONEBIT_LAMB] = "OneBitLamb",
        [ZS_OPT_ADAGRAD] = "Adagrad",   [ZS_OPT_LION] = "Lion",          [ZS_OPT_MUON] = "Muon",
        [ZS_OPT_MUADAM] = "MuAdam",     [ZS_OPT_MUADAMW] = "MuAdamW",    [ZS_OPT_MUSGD] = "MuSGD",
        [ZS_OPT_SGD] = "SGD",
    };
    return (t >= 0 && t < ZS_OPT_COUNT) ? names[t] : "?";
}

const char *zs_scheduler_type_name(zs_scheduler_type t)
{
    static const char *const names[ZS_SCHED_COUNT] = {
        [ZS_SCHED_NONE] = "none",
        [ZS_SCHED_LR_RANGE_TEST] = "LRRangeTest",
        [ZS_SCHED_ONE_CYCLE] = "OneCycle",
        [ZS_SCHED_WARMUP_LR] = "WarmupLR",
        [ZS_SCHED_WARMUP_DECAY_LR] = "WarmupDecayLR",
        [ZS_SCHED_WARMUP_COSINE_LR] = "WarmupCosineLR",
    };
    return (t >= 0 && t < ZS_SCHED_COUNT) ? names[t] : "?";
}

const char *zs_precision_name(zs_precision p)
{
    switch (p) {
    case ZS_PREC_FP32:
        return "fp32";
    case ZS_PREC_FP16:
        return "fp16";
    case ZS_PREC_BF16:
        return "bf16";
    }
    return "?";
}

const char *zs_key_status_name(zs_key_status s)
{
    switch (s) {
    case ZS_KEY_USED:
        return "used";
    case ZS_KEY_ACCEPTED:
        return "accepted";
    case ZS_KEY_IGNORED:
        return "ignored";
    case ZS_KEY_UNKNOWN:
        return "unknown";
    case ZS_KEY_INVALID:
        return "invalid";
    }
    return "?";
}
