/* Mixed precision: the "fp16" and "bf16" (legacy "bfloat16") blocks.
 *
 * DeepSpeed v0.19.6 runtime/precision_config.py: DeepSpeedFP16Config / DeepSpeedBF16Config are
 * pydantic models (extra keys forbidden); get_bfloat16_config falls back to "bfloat16" only when
 * "bf16" is absent; runtime/config.py _initialize_params asserts that not both are enabled. */
#include "ds_config_parse.h"

static const zs_key_spec fp16_keys[] = {
    {"enabled", ZS_JK_BOOL, ZS_KEY_USED, NULL},
    {"auto_cast", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "casts floating-point inputs only; the model's inputs are token ids"},
    {"loss_scale", ZS_JK_NUMBER, ZS_KEY_USED, NULL},
    {"initial_scale_power", ZS_JK_INT, ZS_KEY_USED, NULL},
    {"loss_scale_window", ZS_JK_INT, ZS_KEY_USED, NULL},
    {"hysteresis", ZS_JK_INT, ZS_KEY_USED, NULL},
    {"consecutive_hysteresis", ZS_JK_BOOL, ZS_KEY_USED, NULL},
    {"min_loss_scale", ZS_JK_INT, ZS_KEY_USED, NULL},
    {"fp16_master_weights_and_grads", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
};

static const zs_key_spec bf16_keys[] = {
    {"enabled", ZS_JK_BOOL, ZS_KEY_USED, NULL},
    {"immediate_grad_update", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "same accumulated values, earlier (in the grad hook)"},
    {"check_grad_overflow", ZS_JK_BOOL, ZS_KEY_USED, NULL},
    {"bf16_master_weights_and_grads", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
    {"bf16_optimizer_states", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int not_modelled(zs_ds_parse *p, const cJSON *obj, const char *block, const char *key)
{
    int on = 0;
    if (zs_section_bool(obj, key, &on) && on)
        return zs_fail(p->err, "%s.%s: true is not modelled by zerospec (it keeps fp32 master weights, gradients "
                               "and optimizer states)",
                       block, key);
    return 0;
}

static int parse_fp16(zs_ds_parse *p, const cJSON *obj)
{
    zs_fp16_config *f = &p->cfg->fp16;
    zs_error *err = p->err;
    if (zs_check_section(p, obj, "fp16", fp16_keys, N_OF(fp16_keys),
                         "DeepSpeedFP16Config in precision_config.py forbids extra keys"))
        return -1;
    int64_t v;
    zs_section_bool(obj, "enabled", &f->enabled);
    zs_section_bool(obj, "auto_cast", &f->auto_cast);
    zs_section_bool(obj, "consecutive_hysteresis", &f->consecutive_hysteresis);
    zs_section_number(obj, "loss_scale", &f->loss_scale);
    if (zs_section_int(obj, "initial_scale_power", &v)) {
        if (v < -126 || v > 127) /* 2^p must be a normal fp32 number */
            return zs_fail(err, "fp16.initial_scale_power: expected an integer -126..127, got %lld", (long long)v);
        f->initial_scale_power = (int)v;
    }
    if (zs_section_int(obj, "loss_scale_window", &v))
        f->loss_scale_window = v;
    if (zs_section_int(obj, "hysteresis", &v)) {
        if (v < INT32_MIN || v > INT32_MAX)
            return zs_fail(err, "fp16.hysteresis: out of range, got %lld", (long long)v);
        f->hysteresis = (int)v;
    }
    if (zs_section_int(obj, "min_loss_scale", &v))
        f->min_loss_scale = (double)v;
    if (not_modelled(p, obj, "fp16", "fp16_master_weights_and_grads"))
        return -1;

    /* DeepSpeedFP16Config._validate_loss_scale (v0.18.8+) runs whether or not fp16 is enabled */
    if (f->loss_scale < 0)
        return zs_fail(err, "fp16.loss_scale must be >= 0 (0 enables dynamic loss scaling), got %g", f->loss_scale);
    /* _validate_dynamic_loss_scale_params (v0.19.3+): only when enabled with dynamic scaling */
    if (f->enabled && f->loss_scale == 0) {
        if (f->loss_scale_window <= 0)
            return zs_fail(err, "fp16.loss_scale_window must be > 0 when dynamic loss scaling is enabled "
                                "(loss_scale=0), got %lld",
                           (long long)f->loss_scale_window);
        if (f->min_loss_scale <= 0)
            return zs_fail(err, "fp16.min_loss_scale must be > 0 when dynamic loss scaling is enabled "
                                "(loss_scale=0), got %g",
                           f->min_loss_scale);
        /* zerospec: DynamicLossScaler.update_scale never lowers the scale when hysteresis < 1 */
        if (f->hysteresis < 1)
            return zs_fail(err, "fp16.hysteresis must be >= 1 when dynamic loss scaling is enabled, got %d "
                                "(with %d DeepSpeed's DynamicLossScaler never lowers the scale)",
                           f->hysteresis, f->hysteresis);
    }
    return 0;
}

static int parse_bf16(zs_ds_parse *p, const cJSON *obj, const char *block)
{
    zs_bf16_config *b = &p->cfg->bf16;
    if (zs_check_section(p, obj, block, bf16_keys, N_OF(bf16_keys),
                         "DeepSpeedBF16Config in precision_config.py forbids extra keys"))
        return -1;
    zs_section_bool(obj, "enabled", &b->enabled);
    zs_section_bool(obj, "immediate_grad_update", &b->immediate_grad_update);
    zs_section_bool(obj, "check_grad_overflow", &b->check_grad_overflow);
    if (not_modelled(p, obj, block, "bf16_master_weights_and_grads") ||
        not_modelled(p, obj, block, "bf16_optimizer_states"))
        return -1;
    return 0;
}

int zs_ds_parse_precision(zs_ds_parse *p)
{
    zs_ds_config *c = p->cfg;
    const cJSON *fp16 = cJSON_GetObjectItemCaseSensitive(p->root, "fp16");
    const cJSON *bf16 = cJSON_GetObjectItemCaseSensitive(p->root, "bf16");
    const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(p->root, "bfloat16");
    if (fp16) {
        if (zs_json_object(fp16, "fp16", p->err))
            return -1;
        zs_report_set(&c->report, "fp16", ZS_KEY_USED, "%s", "");
        if (parse_fp16(p, fp16))
            return -1;
    }
    if (bf16 && legacy)
        zs_report_set(&c->report, "bfloat16", ZS_KEY_IGNORED,
                      "DeepSpeed reads \"bf16\" and ignores the legacy \"bfloat16\" when both are given");
    const char *block = bf16 ? "bf16" : "bfloat16";
    const cJSON *b = bf16 ? bf16 : legacy;
    if (b) {
        if (zs_json_object(b, block, p->err))
            return -1;
        zs_report_set(&c->report, block, ZS_KEY_USED, "%s", bf16 ? "" : "legacy name of bf16");
        if (parse_bf16(p, b, block))
            return -1;
    }
    if (c->fp16.enabled && c->bf16.enabled)
        return zs_fail(p->err, "fp16.enabled and %s.enabled are both true: DeepSpeed asserts \"bfloat16 and "
                               "fp16 modes cannot be simultaneously enabled\"",
                       block);
    c->precision = c->fp16.enabled ? ZS_PREC_FP16 : c->bf16.enabled ? ZS_PREC_BF16 : ZS_PREC_FP32;
    return 0;
}
