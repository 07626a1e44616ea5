/* Rules that tie sections together: the combinations DeepSpeed v0.19.6 refuses (each message quotes
 * its assertion and names the source), and the ones zerospec does not model. */
#include <stdio.h>
#include <string.h>

#include "ds_config_parse.h"

/* runtime/config.py DtypeEnum spellings -> "fp32" / "fp16" / "bf16" (NULL when unknown). */
static const char *dtype_family(const char *s)
{
    static const char *const names[][2] = {
        {"fp32", "fp32"}, {"float32", "fp32"},  {"torch.float32", "fp32"},  {"float", "fp32"},
        {"fp16", "fp16"}, {"float16", "fp16"},  {"torch.float16", "fp16"},  {"half", "fp16"},
        {"bf16", "bf16"}, {"bfloat16", "bf16"}, {"torch.bfloat16", "bf16"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i][0]))
            return names[i][1];
    return NULL;
}

static int check_dtypes(zs_ds_parse *p)
{
    const char *model = zs_precision_name(p->cfg->precision);
    zs_key_report *r = &p->cfg->report;
    const cJSON *comm = cJSON_GetObjectItemCaseSensitive(p->root, "communication_data_type");
    if (cJSON_IsString(comm)) { /* config.py get_communication_data_type lower-cases the value */
        char low[16];
        snprintf(low, sizeof low, "%s", comm->valuestring);
        for (char *c = low; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        if (strcmp(low, "fp32") && strcmp(low, "fp16") && strcmp(low, "bf16"))
            return zs_fail(p->err, "communication_data_type: Invalid communication_data_type. Supported data types: "
                                   "['fp16', 'bf16', 'fp32']. Got: %s",
                           comm->valuestring);
        if (strcmp(low, model))
            return zs_fail(p->err, "communication_data_type: \"%s\" differs from the model dtype (%s); reducing in "
                                   "another dtype is not modelled by zerospec",
                           comm->valuestring, model);
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(p->root, "data_types");
    for (const cJSON *t = types ? types->child : NULL; t; t = t->next) {
        char path[160];
        zs_json_path(path, sizeof path, "data_types", t->string);
        int known = !strcmp(t->string, "grad_accum_dtype") || !strcmp(t->string, "param_dtype") ||
                    !strcmp(t->string, "buffer_dtype");
        if (!known) { /* read with dict.get: anything else is ignored by DeepSpeed */
            zs_report_set(r, path, ZS_KEY_UNKNOWN, "not a DeepSpeed key; DeepSpeed ignores it");
            continue;
        }
        if (cJSON_IsNull(t)) {
            zs_report_set(r, path, ZS_KEY_ACCEPTED, "null: the model dtype");
            continue;
        }
        if (zs_check_kind(t, ZS_JK_STRING, path, p->err))
            return -1;
        const char *s = t->valuestring;
        const char *family = dtype_family(s);
        if (!family)
            return zs_fail(p->err, "%s: \"%s\" is not a dtype (fp32, fp16 or bf16)", path, s);
        if (strcmp(family, model))
            return zs_fail(p->err, "%s: \"%s\" differs from the model dtype (%s); not modelled by zerospec", path, s,
                           model);
        zs_report_set(r, path, ZS_KEY_ACCEPTED, "the model dtype: no effect");
    }
    return 0;
}

static int check_optimizer(zs_ds_parse *p)
{
    const zs_ds_config *c = p->cfg;
    const zs_optimizer_config *o = &c->optimizer;
    const char *name = zs_optimizer_type_name(o->type);
    int stage = c->zero.stage;
    if (!c->has_optimizer)
        return 0;

    /* engine.py _configure_basic_optimizer: the 1-bit family asserts before anything else */
    const char *onebit = o->type == ZS_OPT_ONEBIT_ADAM     ? "1bit-Adam"
                         : o->type == ZS_OPT_ZERO_ONE_ADAM ? "0/1 Adam"
                         : o->type == ZS_OPT_ONEBIT_LAMB   ? "1bit-Lamb"
                                                           : NULL;
    if (onebit && stage > 0)
        return zs_fail(p->err, "optimizer.type: %s with zero_optimization.stage %d: DeepSpeed asserts \"%s is not "
                               "compatible with ZeRO\" (engine.py _configure_basic_optimizer)",
                       name, stage, onebit);

    /* engine.py _do_sanity_check; V19's dynamic_loss_scale() is fp16.loss_scale == 0 even when fp16 is off */
    if ((o->type == ZS_OPT_LAMB || o->type == ZS_OPT_ONEBIT_LAMB) && c->fp16.loss_scale != 0)
        return zs_fail(p->err, "optimizer.type: %s with fp16.loss_scale %g: DeepSpeed asserts \"DeepSpeed %s "
                               "optimizer requires dynamic loss scaling\" (engine.py _do_sanity_check); use "
                               "fp16.loss_scale 0",
                       name, c->fp16.loss_scale, o->type == ZS_OPT_LAMB ? "lamb" : "onebitlamb");

    /* engine.py _do_optimizer_sanity_check with zero/utils.py ZERO_SUPPORTED_OPTIMIZERS. mup's MuAdam(W)
     * return torch.optim.Adam(W) instances, which are on the list; MuSGD returns torch.optim.SGD. */
    int supported = o->type == ZS_OPT_ADAM || o->type == ZS_OPT_ADAMW || o->type == ZS_OPT_ADAGRAD ||
                    o->type == ZS_OPT_LION || o->type == ZS_OPT_MUON || o->type == ZS_OPT_MUADAM ||
                    o->type == ZS_OPT_MUADAMW;
    if (stage > 0 && !supported && !c->zero_allow_untested_optimizer)
        return zs_fail(p->err, "optimizer.type: %s with zero_optimization.stage %d: You are using an untested ZeRO "
                               "Optimizer. Please add <\"zero_allow_untested_optimizer\": true> in the "
                               "configuration file to use it. (engine.py _do_optimizer_sanity_check)",
                       name, stage);

    /* zerospec: the offloaded step runs on CPU partitions, which only CPU or torch optimizers can do */
    int cpu_capable = supported || o->type == ZS_OPT_SGD || o->type == ZS_OPT_MUSGD;
    if (c->zero.offload_optimizer.device != ZS_OFFLOAD_NONE && (!cpu_capable || o->type == ZS_OPT_MUON))
        return zs_fail(p->err, "zero_optimization.offload_optimizer: %s with optimizer offload is not modelled by "
                               "zerospec (offload runs the step on CPU partitions; only Adam, AdamW, Adagrad, "
                               "Lion and the torch.optim optimizers can)",
                       name);

    if (o->type == ZS_OPT_MUON && stage == 3 && c->zero.reduce_scatter) /* zero/stage3.py __init__ */
        return zs_fail(p->err, "optimizer.type: Muon with zero_optimization.stage 3: DeepSpeed raises \"Muon and "
                               "reduce scatter cannot be used together\" (zero/stage3.py); set "
                               "zero_optimization.reduce_scatter to false");
    return 0;
}

/* zero/stage_1_and_2.py and zero/stage3.py __init__: with reduce_scatter (and averaging, the only
 * mode zerospec models) the gradients must be post-scaled by exactly 1/world. */
static int check_prescale(zs_ds_parse *p)
{
    const zs_ds_config *c = p->cfg;
    int stage = c->zero.stage;
    if (stage == 0 || !c->zero.reduce_scatter)
        return 0;
    if (c->gradient_predivide_factor != 1.0)
        return zs_fail(p->err, "gradient_predivide_factor: %g with ZeRO stage %d and reduce_scatter: DeepSpeed asserts "
                               "\"gradient_predivide_factor != 1.0 is not yet supported with ZeRO-%d with reduce "
                               "scatter enabled\"",
                       c->gradient_predivide_factor, stage, stage);
    if (c->prescale_gradients)
        return zs_fail(p->err, "prescale_gradients: true with ZeRO stage %d and reduce_scatter: DeepSpeed asserts "
                               "\"pre-scale gradients is not yet supported with ZeRO-%d with reduce scatter enabled\"",
                       stage, stage);
    return 0;
}

int zs_ds_check_rules(zs_ds_parse *p)
{
    if (check_dtypes(p) || check_optimizer(p) || check_prescale(p))
        return -1;
    return 0;
}
