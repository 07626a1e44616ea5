/* The "optimizer" block: which optimizer, which implementation, and its hyper-parameters.
 *
 * DeepSpeed v0.19.6: runtime/config.py lower-cases "type" when it is one of DEEPSPEED_OPTIMIZERS,
 * otherwise it must be a torch.optim attribute spelled exactly; engine.py _configure_basic_optimizer
 * passes "params" as constructor keyword arguments, so an unknown parameter is a TypeError and the
 * defaults are the constructors' defaults. The implementation depends on the config:
 *   Adam/AdamW  torch_adam -> torch.optim.Adam(W); offload -> DeepSpeedCPUAdam; else FusedAdam
 *   Adagrad     offload -> DeepSpeedCPUAdagrad; else torch.optim.Adagrad
 *   Lion        offload -> DeepSpeedCPULion; else FusedLion
 * and each implementation accepts a slightly different set of keyword arguments. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ds_config_parse.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Implementations a parameter is accepted by. */
enum { IMPL_DS = 1, IMPL_CPU = 2, IMPL_TORCH = 4, IMPL_ALL = 7 };

typedef enum pkind {
    P_NUMBER,   /* double */
    P_PAIR,     /* double[2] */
    P_BOOL,     /* int */
    P_STEPS,    /* int64_t >= 0 */
    P_COUNT,    /* int64_t >= 1 */
    P_NSMETHOD, /* char[16]: "gram" or "standard" */
    P_NOOP_BOOL,
    P_NOOP_STRING
} pkind;

typedef struct opt_param {
    const char *name;
    pkind kind;
    size_t offset;   /* into zs_optimizer_config; NO_FIELD for keys without one */
    unsigned impls;
} opt_param;

#define F(field) offsetof(zs_optimizer_config, field)
#define NO_FIELD 0 /* offset 0 holds `type`, which is never a parameter */

static const opt_param adam_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_ALL},
    {"betas", P_PAIR, F(betas), IMPL_ALL},
    {"eps", P_NUMBER, F(eps), IMPL_ALL},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_ALL},
    {"bias_correction", P_BOOL, F(bias_correction), IMPL_DS | IMPL_CPU},
    {"amsgrad", P_BOOL, F(amsgrad), IMPL_ALL},
    {"adam_w_mode", P_BOOL, F(adam_w_mode), IMPL_ALL}, /* popped by the engine */
    {"torch_adam", P_BOOL, F(torch_adam), IMPL_ALL},   /* popped by the engine */
    {"set_grad_none", P_NOOP_BOOL, NO_FIELD, IMPL_DS},
    {"fp32_optimizer_states", P_BOOL, NO_FIELD, IMPL_CPU},    /* popped by the engine on the CPU path */
};

static const opt_param lamb_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_DS},
    {"betas", P_PAIR, F(betas), IMPL_DS},
    {"eps", P_NUMBER, F(eps), IMPL_DS},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_DS},
    {"bias_correction", P_BOOL, F(bias_correction), IMPL_DS},
    {"eps_inside_sqrt", P_BOOL, F(eps_inside_sqrt), IMPL_DS},
    {"max_coeff", P_NUMBER, F(max_coeff), IMPL_DS},
    {"min_coeff", P_NUMBER, F(min_coeff), IMPL_DS},
    {"amsgrad", P_BOOL, F(amsgrad), IMPL_DS},
};

/* runtime/fp16/onebit/{adam,zoadam,lamb}.py: bias_correction and eps_inside_sqrt are accepted and unused */
#define ONEBIT_COMMON                                                                                      \
    {"lr", P_NUMBER, F(lr), IMPL_DS}, {"betas", P_PAIR, F(betas), IMPL_DS}, {"eps", P_NUMBER, F(eps), IMPL_DS}, \
        {"weight_decay", P_NUMBER, F(weight_decay), IMPL_DS},                                              \
        {"bias_correction", P_BOOL, F(bias_correction), IMPL_DS},                                          \
        {"eps_inside_sqrt", P_BOOL, F(eps_inside_sqrt), IMPL_DS}, {"amsgrad", P_BOOL, F(amsgrad), IMPL_DS}, \
        {"cuda_aware", P_NOOP_BOOL, NO_FIELD, IMPL_DS}, {"comm_backend_name", P_NOOP_STRING, NO_FIELD, IMPL_DS}

static const opt_param onebit_adam_params[] = {
    ONEBIT_COMMON,
    {"freeze_step", P_STEPS, F(freeze_step), IMPL_DS},
};

static const opt_param zero_one_adam_params[] = {
    ONEBIT_COMMON,
    {"var_freeze_step", P_STEPS, F(var_freeze_step), IMPL_DS},
    {"var_update_scaler", P_COUNT, F(var_update_scaler), IMPL_DS},
    {"local_step_scaler", P_COUNT, F(local_step_scaler), IMPL_DS},
    {"local_step_clipper", P_COUNT, F(local_step_clipper), IMPL_DS},
};

static const opt_param onebit_lamb_params[] = {
    ONEBIT_COMMON,
    {"freeze_step", P_STEPS, F(freeze_step), IMPL_DS},
    {"max_coeff", P_NUMBER, F(max_coeff), IMPL_DS},
    {"min_coeff", P_NUMBER, F(min_coeff), IMPL_DS},
    {"coeff_beta", P_NUMBER, F(coeff_beta), IMPL_DS},
    {"factor_max", P_NUMBER, F(factor_max), IMPL_DS},
    {"factor_min", P_NUMBER, F(factor_min), IMPL_DS},
    {"factor_threshold", P_NUMBER, F(factor_threshold), IMPL_DS},
};

static const opt_param adagrad_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_ALL},
    {"eps", P_NUMBER, F(eps), IMPL_ALL},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_ALL},
    {"lr_decay", P_NUMBER, F(lr_decay), IMPL_TORCH},
    {"initial_accumulator_value", P_NUMBER, F(initial_accumulator_value), IMPL_TORCH},
    {"amsgrad", P_BOOL, F(amsgrad), IMPL_CPU},
    {"fp32_optimizer_states", P_BOOL, NO_FIELD, IMPL_CPU},
};

static const opt_param lion_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_ALL},
    {"betas", P_PAIR, F(betas), IMPL_ALL},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_ALL},
    {"set_grad_none", P_NOOP_BOOL, NO_FIELD, IMPL_DS},
    {"fp32_optimizer_states", P_BOOL, NO_FIELD, IMPL_CPU},
};

/* engine.py _configure_basic_optimizer picks these keys for the two MuonWithAuxAdam groups */
static const opt_param muon_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_DS},
    {"muon_lr", P_NUMBER, F(muon_lr), IMPL_DS},
    {"adam_lr", P_NUMBER, F(adam_lr), IMPL_DS},
    {"momentum", P_NUMBER, F(momentum), IMPL_DS},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_DS},
    {"ns_method", P_NSMETHOD, F(ns_method), IMPL_DS},
    {"betas", P_PAIR, F(betas), IMPL_DS},
    {"eps", P_NUMBER, F(eps), IMPL_DS},
};

/* mup's MuAdam/MuAdamW return torch.optim.Adam/AdamW; the kwargs are torch's */
static const opt_param muadam_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_TORCH},
    {"betas", P_PAIR, F(betas), IMPL_TORCH},
    {"eps", P_NUMBER, F(eps), IMPL_TORCH},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_TORCH},
    {"amsgrad", P_BOOL, F(amsgrad), IMPL_TORCH},
};

static const opt_param sgd_params[] = {
    {"lr", P_NUMBER, F(lr), IMPL_TORCH},
    {"momentum", P_NUMBER, F(momentum), IMPL_TORCH},
    {"dampening", P_NUMBER, F(dampening), IMPL_TORCH},
    {"weight_decay", P_NUMBER, F(weight_decay), IMPL_TORCH},
    {"nesterov", P_BOOL, F(nesterov), IMPL_TORCH},
};

#undef F

typedef struct opt_type {
    zs_optimizer_type type;
    const char *match;          /* DeepSpeed's lower-case name, or the exact torch.optim name */
    const opt_param *params;
    size_t n_params;
    const char *impl_ds, *impl_cpu, *impl_torch; /* class names, for messages */
    int zero_supported;         /* in zero/utils.py ZERO_SUPPORTED_OPTIMIZERS */
    int lr_required;
} opt_type;

static const opt_type opt_types[] = {
    {ZS_OPT_ADAM, "adam", adam_params, N_OF(adam_params), "FusedAdam", "DeepSpeedCPUAdam", "torch.optim.Adam", 1, 0},
    {ZS_OPT_ADAMW, "adamw", adam_params, N_OF(adam_params), "FusedAdam", "DeepSpeedCPUAdam", "torch.optim.AdamW", 1, 0},
    {ZS_OPT_LAMB, "lamb", lamb_params, N_OF(lamb_params), "FusedLamb", NULL, NULL, 0, 0},
    {ZS_OPT_ONEBIT_ADAM, "onebitadam", onebit_adam_params, N_OF(onebit_adam_params), "OnebitAdam", NULL, NULL, 0, 0},
    {ZS_OPT_ZERO_ONE_ADAM, "zerooneadam", zero_one_adam_params, N_OF(zero_one_adam_params), "ZeroOneAdam", NULL,
     NULL, 0, 0},
    {ZS_OPT_ONEBIT_LAMB, "onebitlamb", onebit_lamb_params, N_OF(onebit_lamb_params), "OnebitLamb", NULL, NULL, 0, 0},
    {ZS_OPT_ADAGRAD, "adagrad", adagrad_params, N_OF(adagrad_params), NULL, "DeepSpeedCPUAdagrad",
     "torch.optim.Adagrad", 1, 0},
    {ZS_OPT_LION, "lion", lion_params, N_OF(lion_params), "FusedLion", "DeepSpeedCPULion", NULL, 1, 0},
    {ZS_OPT_MUON, "muon", muon_params, N_OF(muon_params), "MuonWithAuxAdam", NULL, NULL, 1, 0},
    {ZS_OPT_MUADAM, "muadam", muadam_params, N_OF(muadam_params), NULL, NULL, "mup.MuAdam (torch.optim.Adam)", 1, 1},
    {ZS_OPT_MUADAMW, "muadamw", muadam_params, N_OF(muadam_params), NULL, NULL, "mup.MuAdamW (torch.optim.AdamW)", 1,
     1},
    {ZS_OPT_MUSGD, "musgd", sgd_params, N_OF(sgd_params), NULL, NULL, "mup.MuSGD (torch.optim.SGD)", 0, 1},
    {ZS_OPT_SGD, "SGD", sgd_params, N_OF(sgd_params), NULL, NULL, "torch.optim.SGD", 0, 1},
};

/* torch.optim classes DeepSpeed would accept by exact name but zerospec does not model. */
static const char *const torch_optimizers[] = {"ASGD",  "Adadelta", "Adafactor", "Adamax",    "LBFGS",
                                               "NAdam", "RAdam",    "RMSprop",   "Rprop",     "SparseAdam"};

static const opt_type *type_of(zs_optimizer_type t)
{
    for (size_t i = 0; i < N_OF(opt_types); i++)
        if (opt_types[i].type == t)
            return &opt_types[i];
    return NULL;
}

static int resolve_type(zs_ds_parse *p, const char *name, const opt_type **out)
{
    for (size_t i = 0; i < N_OF(opt_types); i++) {
        const opt_type *t = &opt_types[i];
        int ds_name = t->type != ZS_OPT_SGD;
        if (ds_name ? strcasecmp(name, t->match) == 0 : strcmp(name, t->match) == 0) {
            *out = t;
            return 0;
        }
    }
    for (size_t i = 0; i < N_OF(torch_optimizers); i++)
        if (strcmp(name, torch_optimizers[i]) == 0)
            return zs_fail(p->err, "optimizer.type: torch.optim.%s is accepted by DeepSpeed but not supported by "
                                   "zerospec (supported: Adam, AdamW, Lamb, OneBitAdam, ZeroOneAdam, OneBitLamb, "
                                   "Adagrad, Lion, Muon, MuAdam, MuAdamW, MuSGD, SGD)",
                           name);
    const char *near = NULL;
    if (strcasecmp(name, "SGD") == 0)
        near = "SGD";
    for (size_t i = 0; i < N_OF(torch_optimizers) && !near; i++)
        if (strcasecmp(name, torch_optimizers[i]) == 0)
            near = torch_optimizers[i];
    if (near)
        return zs_fail(p->err, "optimizer.type: %s is not a supported DeepSpeed Optimizer (torch.optim names must "
                               "be spelled exactly); did you mean \"%s\"?",
                       name, near);
    near = zs_closest_name(name, &opt_types[0].match, N_OF(opt_types), sizeof opt_types[0], 2);
    for (size_t i = 0; i < N_OF(opt_types) && near; i++)
        if (opt_types[i].match == near)
            return zs_fail(p->err, "optimizer.type: %s is not a supported DeepSpeed Optimizer; did you mean \"%s\"?",
                           name, zs_optimizer_type_name(opt_types[i].type));
    return zs_fail(p->err, "optimizer.type: %s is not a supported DeepSpeed Optimizer", name);
}

static unsigned impl_of(const zs_optimizer_config *o, const zs_zero_config *zero)
{
    int offload = zero->offload_optimizer.device != ZS_OFFLOAD_NONE;
    switch (o->type) {
    case ZS_OPT_ADAM:
    case ZS_OPT_ADAMW:
        return o->torch_adam ? IMPL_TORCH : offload ? IMPL_CPU : IMPL_DS;
    case ZS_OPT_ADAGRAD:
        return offload ? IMPL_CPU : IMPL_TORCH;
    case ZS_OPT_LION:
        return offload ? IMPL_CPU : IMPL_DS;
    case ZS_OPT_MUADAM:
    case ZS_OPT_MUADAMW:
    case ZS_OPT_MUSGD:
    case ZS_OPT_SGD:
        return IMPL_TORCH;
    default:
        return IMPL_DS;
    }
}

static const char *impl_name(const opt_type *t, unsigned impl)
{
    const char *name = impl == IMPL_CPU ? t->impl_cpu : impl == IMPL_TORCH ? t->impl_torch : t->impl_ds;
    return name ? name : "?";
}

static void list_params(const opt_type *t, unsigned impl, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < t->n_params; i++)
        if (t->params[i].impls & impl) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s%s", len ? ", " : "", t->params[i].name);
        }
}

/* Defaults of each type's constructor, over the FusedAdam defaults set for every config. */
static void type_defaults(zs_optimizer_config *o)
{
    switch (o->type) {
    case ZS_OPT_ADAGRAD: /* torch.optim.Adagrad and ops/adagrad/cpu_adagrad.py */
        o->lr = 1e-2;
        o->eps = 1e-10;
        break;
    case ZS_OPT_MUON: /* runtime/zero/muon/original_muon.py MuonWithAuxAdam.__init__ */
        o->momentum = 0.95;
        o->betas[0] = 0.9;
        o->betas[1] = 0.95;
        o->eps = 1e-10;
        break;
    case ZS_OPT_MUADAM: /* torch.optim.Adam (L2 weight decay) */
        o->adam_w_mode = 0;
        o->torch_adam = 1;
        break;
    case ZS_OPT_MUADAMW: /* torch.optim.AdamW; mup sets each group's weight_decay (default 0.) */
        o->adam_w_mode = 1;
        o->torch_adam = 1;
        break;
    default:
        break;
    }
}

static int check_param_value(zs_ds_parse *p, const opt_param *d, const char *path, const zs_optimizer_config *o)
{
    zs_error *err = p->err;
    const char *n = d->name;
    if (d->kind == P_NUMBER) {
        double v = *(const double *)((const char *)o + d->offset);
        int nonneg = !strcmp(n, "lr") || !strcmp(n, "eps") || !strcmp(n, "weight_decay") || !strcmp(n, "momentum") ||
                     !strcmp(n, "muon_lr") || !strcmp(n, "adam_lr");
        if (nonneg && v < 0)
            return zs_fail(err, "%s: must be >= 0, got %g", path, v);
    } else if (d->kind == P_PAIR) {
        for (int i = 0; i < 2; i++)
            if (!(o->betas[i] >= 0 && o->betas[i] < 1))
                return zs_fail(err, "%s[%d]: must be in [0, 1), got %g", path, i, o->betas[i]);
    } else if (!strcmp(n, "amsgrad") && o->amsgrad) {
        return zs_fail(err, "%s: true is not supported (FusedAdam, FusedLamb and the 1-bit optimizers raise \"does "
                            "not support the AMSGrad variant\", DeepSpeed's CPU optimizers silently ignore it; "
                            "zerospec does not model AMSGrad)",
                       path);
    }
    return 0;
}

static int read_param(zs_ds_parse *p, const opt_param *d, const cJSON *v, const char *path, zs_optimizer_config *o)
{
    char *field = (char *)o + d->offset;
    int64_t i;
    int b;
    const char *s;
    switch (d->kind) {
    case P_NUMBER:
        return zs_json_number(v, path, (double *)field, p->err);
    case P_PAIR:
        return zs_json_number_pair(v, path, (double *)field, p->err);
    case P_BOOL:
        if (zs_json_bool(v, path, &b, p->err))
            return -1;
        if (!strcmp(d->name, "fp32_optimizer_states")) /* no struct field: only the default is modelled */
            return b ? 0 : zs_fail(p->err, "%s: false (bf16/fp16 optimizer states) is not modelled by zerospec", path);
        *(int *)field = b;
        return 0;
    case P_STEPS:
    case P_COUNT:
        if (zs_json_int(v, path, d->kind == P_COUNT ? 1 : 0, INT64_MAX, &i, p->err))
            return -1;
        *(int64_t *)field = i;
        return 0;
    case P_NSMETHOD: /* original_muon.py NS_METHODS */
        if (zs_json_string(v, path, &s, p->err))
            return -1;
        if (strcmp(s, "gram") && strcmp(s, "standard"))
            return zs_fail(p->err, "%s: ns_method must be one of {'standard', 'gram'}, got %s", path, s);
        snprintf(field, sizeof o->ns_method, "%s", s);
        return 0;
    case P_NOOP_BOOL:
        return zs_json_bool(v, path, &b, p->err);
    case P_NOOP_STRING:
        return zs_json_string(v, path, &s, p->err);
    }
    return 0;
}

static const opt_param *find_param(const opt_type *t, const char *name)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (!strcmp(t->params[i].name, name))
            return &t->params[i];
    return NULL;
}

static int read_params(zs_ds_parse *p, const opt_type *t, const cJSON *params)
{
    zs_optimizer_config *o = &p->cfg->optimizer;
    zs_key_report *r = &p->cfg->report;
    /* torch_adam decides the implementation, so it is read first */
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(params, "torch_adam");
    if (ta && find_param(t, "torch_adam") && zs_json_bool(ta, "optimizer.params.torch_adam", &o->torch_adam, p->err))
        return -1;
    unsigned impl = impl_of(o, &p->cfg->zero);
    for (const cJSON *v = params->child; v; v = v->next) {
        char path[192];
        zs_json_path(path, sizeof path, "optimizer.params", v->string);
        if (!strcmp(v->string, "max_grad_norm")) { /* engine.py _configure_basic_optimizer */
            zs_report_set(r, path, ZS_KEY_INVALID, "use gradient_clipping");
            return zs_fail(p->err, "%s: 'max_grad_norm' is not supported as an optimizer parameter, please switch "
                                   "to using the deepspeed parameter 'gradient_clipping'",
                           path);
        }
        const opt_param *d = find_param(t, v->string);
        char accepted[400];
        list_params(t, impl, accepted, sizeof accepted);
        if (!d) {
            zs_report_set(r, path, ZS_KEY_UNKNOWN, "not a parameter of %s", impl_name(t, impl));
            const char *near = zs_closest_name(v->string, &t->params[0].name, t->n_params, sizeof t->params[0], 2);
            char hint[96] = "";
            if (near)
                snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
            return zs_fail(p->err, "%s: not a parameter of %s (%s accepts: %s)%s", path,
                           zs_optimizer_type_name(t->type), impl_name(t, impl), accepted, hint);
        }
        if (!(d->impls & impl)) {
            zs_report_set(r, path, ZS_KEY_INVALID, "not accepted by %s", impl_name(t, impl));
            return zs_fail(p->err, "%s: %s does not accept it (DeepSpeed raises TypeError); with this config "
                                   "%s is used, which accepts: %s",
                           path, impl_name(t, impl), impl_name(t, impl), accepted);
        }
        if (zs_json_is_auto(v)) {
            zs_report_set(r, path, ZS_KEY_INVALID, "\"auto\"");
            return zs_json_fail_auto(path, p->err);
        }
        if (read_param(p, d, v, path, o) || check_param_value(p, d, path, o)) {
            zs_report_set(r, path, ZS_KEY_INVALID, "invalid value");
            return -1;
        }
        int noop = d->offset == NO_FIELD;
        zs_report_set(r, path, noop ? ZS_KEY_ACCEPTED : ZS_KEY_USED, "%s", noop ? "no effect on the numerics" : "");
    }
    return 0;
}

/* What the constructors do with the values once read. */
static int finish_params(zs_ds_parse *p, const opt_type *t, const cJSON *params)
{
    zs_optimizer_config *o = &p->cfg->optimizer;
    const cJSON *lr = params ? cJSON_GetObjectItemCaseSensitive(params, "lr") : NULL;
    if (t->lr_required && !lr)
        return zs_fail(p->err, "optimizer.params.lr is required by %s (mup reads kwargs['lr']; torch.optim.SGD has "
                               "no default before torch 2.2)",
                       zs_optimizer_type_name(t->type));
    switch (o->type) {
    case ZS_OPT_ADAM:
    case ZS_OPT_ADAMW: /* engine.py: effective_adam_w_mode = name == adamw or adam_w_mode */
        o->adam_w_mode = o->type == ZS_OPT_ADAMW || o->adam_w_mode;
        if (o->torch_adam && o->adam_w_mode && !cJSON_GetObjectItemCaseSensitive(params, "weight_decay"))
            o->weight_decay = 0.01; /* torch.optim.AdamW's default */
        break;
    case ZS_OPT_MUON: { /* muon_lr / adam_lr override lr in their group; else each group's default */
        int has_lr = lr != NULL, has_muon = cJSON_GetObjectItemCaseSensitive(params, "muon_lr") != NULL;
        int has_adam = cJSON_GetObjectItemCaseSensitive(params, "adam_lr") != NULL;
        double given = o->lr;
        o->muon_lr = has_muon ? o->muon_lr : has_lr ? given : 0.02;
        o->adam_lr = has_adam ? o->adam_lr : has_lr ? given : 3e-4;
        o->lr = o->muon_lr;
        break;
    }
    case ZS_OPT_SGD:
    case ZS_OPT_MUSGD: /* torch.optim.SGD.__init__ */
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
            return zs_fail(p->err, "optimizer.params.nesterov: Nesterov momentum requires a momentum and zero "
                                   "dampening");
        break;
    default:
        break;
    }
    return 0;
}

static const zs_key_spec optimizer_keys[] = {
    {"type", ZS_JK_STRING, ZS_KEY_USED, NULL},
    {"params", ZS_JK_OBJECT_OR_NULL, ZS_KEY_USED, NULL},
    {"legacy_fusion", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
};

int zs_ds_parse_optimizer(zs_ds_parse *p)
{
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(p->root, "optimizer");
    zs_optimizer_config *o = &p->cfg->optimizer;
    if (!block)
        return 0;
    if (zs_json_object(block, "optimizer", p->err))
        return -1;
    zs_report_set(&p->cfg->report, "optimizer", ZS_KEY_USED, "%s", "");
    if (zs_check_section(p, block, "optimizer", optimizer_keys, N_OF(optimizer_keys),
                         "DeepSpeed reads only type, params and legacy_fusion here and ignores the rest"))
        return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
    if (!type)
        return zs_fail(p->err, "optimizer.type is required (without it DeepSpeed ignores the whole optimizer block)");
    int legacy = 0;
    if (zs_section_bool(block, "legacy_fusion", &legacy) && legacy)
        return zs_fail(p->err, "optimizer.legacy_fusion: true (FP16_Optimizer's legacy fused-Adam step) is not "
                               "modelled by zerospec");
    const opt_type *t = NULL;   /* set by resolve_type on success */
    if (resolve_type(p, type->valuestring, &t))
        return -1;
    p->cfg->has_optimizer = 1;
    o->type = t->type;
    snprintf(o->type_name, sizeof o->type_name, "%s", type->valuestring);
    type_defaults(o);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(block, "params");
    if (cJSON_IsNull(params))
        params = NULL;
    if (params && read_params(p, t, params))
        return -1;
    return finish_params(p, t, params);
}

int zs_optimizer_has_betas(const zs_optimizer_config *opt)
{
    switch (opt->type) {
    case ZS_OPT_ADAGRAD: /* torch.optim.Adagrad / DeepSpeedCPUAdagrad defaults have no betas */
    case ZS_OPT_SGD:
    case ZS_OPT_MUSGD:
    case ZS_OPT_MUON: /* MuonWithAuxAdam is built with defaults dict() */
    case ZS_OPT_NONE:
        return 0;
    default:
        return 1;
    }
}

int zs_optimizer_params_to_json(const zs_optimizer_config *o, const zs_zero_config *zero, cJSON *params)
{
    const opt_type *t = type_of(o->type);
    if (!t)
        return 0;
    unsigned impl = impl_of(o, zero);
    for (size_t i = 0; i < t->n_params; i++) {
        const opt_param *d = &t->params[i];
        const char *field = (const char *)o + d->offset;
        if (!(d->impls & impl) || d->offset == NO_FIELD || (o->type == ZS_OPT_MUON && !strcmp(d->name, "lr")))
            continue; /* no-effect keys are left out; Muon's lr is carried by muon_lr and adam_lr */
        cJSON *v = NULL;
        switch (d->kind) {
        case P_NUMBER:
            v = cJSON_CreateNumber(*(const double *)field);
            break;
        case P_PAIR:
            v = cJSON_CreateDoubleArray((const double *)field, 2);
            break;
        case P_BOOL:
            v = cJSON_CreateBool(*(const int *)field);
            break;
        case P_STEPS:
        case P_COUNT:
            v = cJSON_CreateNumber((double)*(const int64_t *)field);
            break;
        case P_NSMETHOD:
            v = cJSON_CreateString(field);
            break;
        default:
            continue;
        }
        if (!v || !cJSON_AddItemToObject(params, d->name, v)) {
            cJSON_Delete(v);
            return -1;
        }
    }
    return 0;
}
