/* The "scheduler" block: one of DeepSpeed's five LR schedules and its parameters.
 *
 * DeepSpeed v0.19.6 engine.py _scheduler_from_config looks "type" up with getattr on
 * runtime/lr_schedules.py (so the name is case-sensitive), falls back to torch.optim.lr_scheduler,
 * and calls Scheduler(optimizer, **params): unknown parameters are a TypeError, missing required
 * ones too, and the defaults are the constructors' (lr_schedules.py LRRangeTest, OneCycle, WarmupLR,
 * WarmupDecayLR, WarmupCosineLR). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ds_config_parse.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef enum skind {
    S_NUMBER,          /* double */
    S_NUMBER_OR_NULL,  /* double; null keeps the default (warmup_max_lr=None) */
    S_BOOL,            /* int */
    S_POSITIVE_INT,    /* int64_t >= 1, written as a JSON integer: DeepSpeed checks isinstance(x, int) */
    S_STEPS,           /* int64_t >= 1 */
    S_COUNT,           /* int64_t >= 0 */
    S_COUNT_OR_NULL,   /* int64_t >= 0; null keeps the default (None) */
    S_WARMUP_TYPE      /* zs_warmup_type */
} skind;

typedef struct sched_param {
    const char *name;
    skind kind;
    size_t offset;
    int required;
} sched_param;

#define F(field) offsetof(zs_scheduler_config, field)

static const sched_param range_test_params[] = {
    {"lr_range_test_min_lr", S_NUMBER, F(lr_range_test_min_lr), 0},
    {"lr_range_test_step_size", S_POSITIVE_INT, F(lr_range_test_step_size), 0},
    {"lr_range_test_step_rate", S_NUMBER, F(lr_range_test_step_rate), 0},
    {"lr_range_test_staircase", S_BOOL, F(lr_range_test_staircase), 0},
};

static const sched_param one_cycle_params[] = {
    {"cycle_min_lr", S_NUMBER, F(cycle_min_lr), 1},
    {"cycle_max_lr", S_NUMBER, F(cycle_max_lr), 1},
    {"decay_lr_rate", S_NUMBER, F(decay_lr_rate), 0},
    {"cycle_first_step_size", S_STEPS, F(cycle_first_step_size), 0},
    {"cycle_second_step_size", S_COUNT_OR_NULL, F(cycle_second_step_size), 0},
    {"cycle_first_stair_count", S_COUNT, F(cycle_first_stair_count), 0},
    {"cycle_second_stair_count", S_COUNT_OR_NULL, F(cycle_second_stair_count), 0},
    {"decay_step_size", S_COUNT, F(decay_step_size), 0},
    {"cycle_momentum", S_BOOL, F(cycle_momentum), 0},
    {"cycle_min_mom", S_NUMBER, F(cycle_min_mom), 0},
    {"cycle_max_mom", S_NUMBER, F(cycle_max_mom), 0},
    {"decay_mom_rate", S_NUMBER, F(decay_mom_rate), 0},
};

static const sched_param warmup_params[] = {
    {"warmup_min_lr", S_NUMBER, F(warmup_min_lr), 0},
    {"warmup_max_lr", S_NUMBER_OR_NULL, F(warmup_max_lr), 0},
    {"warmup_num_steps", S_POSITIVE_INT, F(warmup_num_steps), 0},
    {"warmup_type", S_WARMUP_TYPE, F(warmup_type), 0},
};

static const sched_param warmup_decay_params[] = {
    {"total_num_steps", S_STEPS, F(total_num_steps), 1},
    {"warmup_min_lr", S_NUMBER, F(warmup_min_lr), 0},
    {"warmup_max_lr", S_NUMBER, F(warmup_max_lr), 0},
    {"warmup_num_steps", S_POSITIVE_INT, F(warmup_num_steps), 0},
    {"warmup_type", S_WARMUP_TYPE, F(warmup_type), 0},
};

static const sched_param warmup_cosine_params[] = {
    {"total_num_steps", S_STEPS, F(total_num_steps), 1},
    {"warmup_min_ratio", S_NUMBER, F(warmup_min_ratio), 0},
    {"warmup_num_steps", S_POSITIVE_INT, F(warmup_num_steps), 0},
    {"cos_min_ratio", S_NUMBER, F(cos_min_ratio), 0},
    {"warmup_type", S_WARMUP_TYPE, F(warmup_type), 0},
};

#undef F

typedef struct sched_type {
    const char *name;
    zs_scheduler_type type;
    const sched_param *params;
    size_t n_params;
} sched_type;

static const sched_type sched_types[] = {
    {"LRRangeTest", ZS_SCHED_LR_RANGE_TEST, range_test_params, N_OF(range_test_params)},
    {"OneCycle", ZS_SCHED_ONE_CYCLE, one_cycle_params, N_OF(one_cycle_params)},
    {"WarmupLR", ZS_SCHED_WARMUP_LR, warmup_params, N_OF(warmup_params)},
    {"WarmupDecayLR", ZS_SCHED_WARMUP_DECAY_LR, warmup_decay_params, N_OF(warmup_decay_params)},
    {"WarmupCosineLR", ZS_SCHED_WARMUP_COSINE_LR, warmup_cosine_params, N_OF(warmup_cosine_params)},
};

/* torch.optim.lr_scheduler classes: DeepSpeed accepts them, zerospec does not model them. */
static const char *const torch_schedulers[] = {
    "LambdaLR",  "MultiplicativeLR", "StepLR",     "MultiStepLR",     "ConstantLR",
    "LinearLR",  "ExponentialLR",    "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
    "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR",
    "LRScheduler",
};

static int resolve_type(zs_ds_parse *p, const char *name, const sched_type **out)
{
    for (size_t i = 0; i < N_OF(sched_types); i++)
        if (!strcmp(name, sched_types[i].name)) {
            *out = &sched_types[i];
            return 0;
        }
    for (size_t i = 0; i < N_OF(sched_types); i++)
        if (!strcasecmp(name, sched_types[i].name))
            return zs_fail(p->err, "scheduler.type: DeepSpeed does not recognize LR scheduler %s (names are "
                                   "case-sensitive); did you mean \"%s\"?",
                           name, sched_types[i].name);
    for (size_t i = 0; i < N_OF(torch_schedulers); i++)
        if (!strcmp(name, torch_schedulers[i]))
            return zs_fail(p->err, "scheduler.type: torch.optim.lr_scheduler.%s is accepted by DeepSpeed but not "
                                   "supported by zerospec (supported: LRRangeTest, OneCycle, WarmupLR, "
                                   "WarmupDecayLR, WarmupCosineLR)",
                           name);
    const char *near = zs_closest_name(name, &sched_types[0].name, N_OF(sched_types), sizeof sched_types[0], 2);
    if (near)
        return zs_fail(p->err, "scheduler.type: DeepSpeed does not recognize LR scheduler %s; did you mean \"%s\"?",
                       name, near);
    return zs_fail(p->err, "scheduler.type: DeepSpeed does not recognize LR scheduler %s", name);
}

static int read_param(zs_ds_parse *p, const sched_param *d, const cJSON *v, const char *path)
{
    zs_scheduler_config *s = &p->cfg->scheduler;
    char *field = (char *)s + d->offset;
    int64_t i;
    const char *str;
    if (zs_json_is_auto(v))
        return zs_json_fail_auto(path, p->err);
    switch (d->kind) {
    case S_NUMBER_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case S_NUMBER:
        return zs_json_number(v, path, (double *)field, p->err);
    case S_BOOL:
        return zs_json_bool(v, path, (int *)field, p->err);
    case S_POSITIVE_INT:
        /* lr_schedules.py WarmupLR / WarmupCosineLR / LRRangeTest: isinstance(x, int) and x > 0 */
        if (!cJSON_IsNumber(v) || zs_json_numforms_is_float(p->forms, v) || zs_json_int(v, path, 1, INT64_MAX, &i, NULL)) {
            char got[96];
            zs_json_describe(v, got, sizeof got);
            return zs_fail(p->err, "%s: %s must be a positive integer, got %s%s (DeepSpeed raises ValueError)", path,
                           d->name, got, zs_json_numforms_is_float(p->forms, v) ? " written as a float" : "");
        }
        *(int64_t *)field = i;
        return 0;
    case S_COUNT_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case S_STEPS:
    case S_COUNT:
        if (zs_json_int(v, path, d->kind == S_STEPS ? 1 : 0, INT64_MAX, &i, p->err))
            return -1;
        *(int64_t *)field = i;
        return 0;
    case S_WARMUP_TYPE:
        if (zs_json_string(v, path, &str, p->err))
            return -1;
        /* DeepSpeed warns and falls back to "log" for anything else; a typo would go unnoticed */
        if (!strcmp(str, "log"))
            s->warmup_type = ZS_WARMUP_LOG;
        else if (!strcmp(str, "linear"))
            s->warmup_type = ZS_WARMUP_LINEAR;
        else
            return zs_fail(p->err, "%s: expected \"log\" or \"linear\", got \"%s\" (DeepSpeed would silently use "
                                   "\"log\")",
                           path, str);
        return 0;
    }
    return 0;
}

static int read_params(zs_ds_parse *p, const sched_type *t, const cJSON *params)
{
    zs_key_report *r = &p->cfg->report;
    for (const cJSON *v = params->child; v; v = v->next) {
        char path[192];
        zs_json_path(path, sizeof path, "scheduler.params", v->string);
        const sched_param *d = NULL;
        for (size_t i = 0; i < t->n_params && !d; i++)
            if (!strcmp(t->params[i].name, v->string))
                d = &t->params[i];
        if (!d) {
            char accepted[400] = "";
            for (size_t i = 0; i < t->n_params; i++) {
                size_t len = strlen(accepted);
                snprintf(accepted + len, sizeof accepted - len, "%s%s", len ? ", " : "", t->params[i].name);
            }
            const char *near = zs_closest_name(v->string, &t->params[0].name, t->n_params, sizeof t->params[0], 2);
            char hint[96] = "";
            if (near)
                snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
            zs_report_set(r, path, ZS_KEY_UNKNOWN, "not a parameter of %s", t->name);
            return zs_fail(p->err, "%s: not a parameter of %s (accepts: %s; DeepSpeed raises TypeError)%s", path,
                           t->name, accepted, hint);
        }
        if (read_param(p, d, v, path)) {
            zs_report_set(r, path, ZS_KEY_INVALID, "invalid value");
            return -1;
        }
        zs_report_set(r, path, ZS_KEY_USED, "%s", "");
    }
    for (size_t i = 0; i < t->n_params; i++)
        if (t->params[i].required && !cJSON_GetObjectItemCaseSensitive(params, t->params[i].name))
            return zs_fail(p->err, "scheduler.params.%s is required by %s", t->params[i].name, t->name);
    return 0;
}

/* Defaults that depend on other values, and the constructors' checks. */
static int finish(zs_ds_parse *p, const sched_type *t, const cJSON *params)
{
    zs_scheduler_config *s = &p->cfg->scheduler;
    const zs_optimizer_config *o = &p->cfg->optimizer;
    zs_key_report *r = &p->cfg->report;
    const cJSON *max_lr = cJSON_GetObjectItemCaseSensitive(params, "warmup_max_lr");
    switch (t->type) {
    case ZS_SCHED_WARMUP_LR: /* v0.18.0+: warmup_max_lr=None means each param group's lr */
        if (!max_lr || cJSON_IsNull(max_lr)) {
            if (!p->cfg->has_optimizer)
                return zs_fail(p->err, "scheduler.params.warmup_max_lr: WarmupLR defaults it to the optimizer's "
                                       "lr, but the config has no optimizer block; give it");
            if (o->type == ZS_OPT_MUON)
                return zs_fail(p->err, "scheduler.params.warmup_max_lr: WarmupLR defaults it to each param "
                                       "group's lr, and Muon's two groups differ; zerospec needs it given");
            s->warmup_max_lr = o->lr;
        }
        break;
    case ZS_SCHED_WARMUP_DECAY_LR:
    case ZS_SCHED_WARMUP_COSINE_LR:
        if (s->total_num_steps < s->warmup_num_steps)
            zs_report_set(r, "scheduler.params.total_num_steps", ZS_KEY_USED,
                          "less than warmup_num_steps (%lld): DeepSpeed only warns", (long long)s->warmup_num_steps);
        break;
    case ZS_SCHED_ONE_CYCLE: {
        const cJSON *second = cJSON_GetObjectItemCaseSensitive(params, "cycle_second_step_size");
        const cJSON *stairs = cJSON_GetObjectItemCaseSensitive(params, "cycle_second_stair_count");
        if (!second || cJSON_IsNull(second)) /* OneCycle._initialize_cycle: None means "as the first" */
            s->cycle_second_step_size = s->cycle_first_step_size;
        if (!stairs || cJSON_IsNull(stairs))
            s->cycle_second_stair_count = s->cycle_first_stair_count;
        if (s->cycle_momentum && p->cfg->has_optimizer && !zs_optimizer_has_betas(o)) {
            /* OneCycle._initialize_momentum: 'betas' not in optimizer.defaults -> warning, momentum off */
            s->cycle_momentum = 0;
            zs_report_set(r, "scheduler.params.cycle_momentum", ZS_KEY_IGNORED,
                          "DeepSpeed turns cycle_momentum off (with a warning): %s has no betas",
                          zs_optimizer_type_name(o->type));
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static const zs_key_spec scheduler_keys[] = {
    {"type", ZS_JK_STRING, ZS_KEY_USED, NULL},
    {"params", ZS_JK_ANY, ZS_KEY_USED, NULL},
};

int zs_ds_parse_scheduler(zs_ds_parse *p)
{
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(p->root, "scheduler");
    zs_scheduler_config *s = &p->cfg->scheduler;
    if (!block)
        return 0;
    if (zs_json_object(block, "scheduler", p->err))
        return -1;
    zs_report_set(&p->cfg->report, "scheduler", ZS_KEY_USED, "%s", "");
    if (zs_check_section(p, block, "scheduler", scheduler_keys, N_OF(scheduler_keys),
                         "DeepSpeed reads only type and params here and ignores the rest"))
        return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
    if (!type)
        return zs_fail(p->err, "scheduler.type is required (without it DeepSpeed ignores the whole scheduler block)");
    const sched_type *t = NULL;   /* set by resolve_type on success */
    if (resolve_type(p, type->valuestring, &t))
        return -1;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(block, "params");
    if (!params || cJSON_IsNull(params))
        return zs_fail(p->err, "scheduler.params is required (DeepSpeed calls %s(optimizer, **params) and fails "
                               "without it); write \"params\": {} for the defaults",
                       t->name);
    if (zs_json_object(params, "scheduler.params", p->err))
        return -1;
    s->type = t->type;
    snprintf(s->type_name, sizeof s->type_name, "%s", type->valuestring);
    if (read_params(p, t, params))
        return -1;
    return finish(p, t, params);
}

int zs_scheduler_params_to_json(const zs_scheduler_config *s, cJSON *params)
{
    const sched_type *t = NULL;
    for (size_t i = 0; i < N_OF(sched_types); i++)
        if (sched_types[i].type == s->type)
            t = &sched_types[i];
    if (!t)
        return 0;
    for (size_t i = 0; i < t->n_params; i++) {
        const sched_param *d = &t->params[i];
        const char *field = (const char *)s + d->offset;
        cJSON *v;
        switch (d->kind) {
        case S_NUMBER:
        case S_NUMBER_OR_NULL:
            v = cJSON_CreateNumber(*(const double *)field);
            break;
        case S_BOOL:
            v = cJSON_CreateBool(*(const int *)field);
            break;
        case S_WARMUP_TYPE:
            v = cJSON_CreateString(s->warmup_type == ZS_WARMUP_LINEAR ? "linear" : "log");
            break;
        default:
            v = cJSON_CreateNumber((double)*(const int64_t *)field);
            break;
        }
        if (!v || !cJSON_AddItemToObject(params, d->name, v)) {
            cJSON_Delete(v);
            return -1;
        }
    }
    return 0;
}
