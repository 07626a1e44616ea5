/* "auto" resolution, as the Hugging Face Trainer does it (zerospec/ds_auto.h; docs/spec/config.md
 * "Resolving auto"). Source: transformers integrations/deepspeed.py
 * HfTrainerDeepSpeedConfig.fill_match / trainer_config_process / trainer_config_finalize and
 * training_args.py TrainingArguments (defaults, get_warmup_steps). */
#include "zerospec/ds_auto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_config_parse.h"

/* ---- the TrainingArguments-style inputs ---- */

enum arg_id {
    A_LR, A_BETA1, A_BETA2, A_EPS, A_WD, A_CLIP, A_MB, A_GAS, A_WORLD, A_STEPS,
    A_WARMUP_STEPS, A_WARMUP_RATIO, A_FP16, A_BF16, A_HIDDEN, N_ARGS
};

typedef enum arg_kind { K_NUMBER, K_COUNT, K_BOOL } arg_kind;

static const struct hf_arg {
    const char *name;
    arg_kind kind;
    double def;       /* TrainingArguments default */
    int has_default;
} hf_args[N_ARGS] = {
    [A_LR] = {"learning_rate", K_NUMBER, 5e-5, 1},
    [A_BETA1] = {"adam_beta1", K_NUMBER, 0.9, 1},
    [A_BETA2] = {"adam_beta2", K_NUMBER, 0.999, 1},
    [A_EPS] = {"adam_epsilon", K_NUMBER, 1e-8, 1},
    [A_WD] = {"weight_decay", K_NUMBER, 0.0, 1},
    [A_CLIP] = {"max_grad_norm", K_NUMBER, 1.0, 1},
    [A_MB] = {"per_device_train_batch_size", K_COUNT, 8, 1},
    [A_GAS] = {"gradient_accumulation_steps", K_COUNT, 1, 1},
    [A_WORLD] = {"world_size", K_COUNT, 0, 0},
    [A_STEPS] = {"num_training_steps", K_COUNT, 0, 0},
    [A_WARMUP_STEPS] = {"warmup_steps", K_NUMBER, 0, 1},
    [A_WARMUP_RATIO] = {"warmup_ratio", K_NUMBER, 0, 1},
    [A_FP16] = {"fp16", K_BOOL, 0, 1},
    [A_BF16] = {"bf16", K_BOOL, 0, 1},
    [A_HIDDEN] = {"hidden_size", K_COUNT, 0, 0},
};

typedef struct hf_values {
    double v[N_ARGS];
    int given[N_ARGS];
} hf_values;

static int parse_value(const struct hf_arg *a, const char *text, double *out)
{
    if (a->kind == K_BOOL) {
        if (!strcmp(text, "true") || !strcmp(text, "false")) {
            *out = !strcmp(text, "true");
            return 0;
        }
        return -1;
    }
    char *end;
    double d = strtod(text, &end);
    if (!*text || *end || !isfinite(d))
        return -1;
    if (a->kind == K_COUNT && (d < 1 || d != floor(d) || d > 9007199254740992.0))
        return -1;
    *out = d;
    return 0;
}

static int parse_sets(const char *const *sets, int n, hf_values *a, zs_error *err)
{
    for (int k = 0; k < N_ARGS; k++) {
        a->v[k] = hf_args[k].def;
        a->given[k] = 0;
    }
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i])
            return zs_fail(err, "--set %s: expected key=value", sets[i]);
        int k = 0;
        size_t klen = (size_t)(eq - sets[i]);
        while (k < N_ARGS && (strlen(hf_args[k].name) != klen || strncmp(hf_args[k].name, sets[i], klen)))
            k++;
        if (k == N_ARGS) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)klen, sets[i]);
            const char *near = zs_closest_name(key, &hf_args[0].name, N_ARGS, sizeof hf_args[0], 3);
            return zs_fail(err, "--set %s: unknown key %s%s%s%s (known: learning_rate, adam_beta1, adam_beta2, "
                                "adam_epsilon, weight_decay, max_grad_norm, per_device_train_batch_size, "
                                "gradient_accumulation_steps, world_size, num_training_steps, warmup_steps, "
                                "warmup_ratio, fp16, bf16, hidden_size)",
                           sets[i], key, near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "");
        }
        if (a->given[k])
            return zs_fail(err, "--set %s: %s is given twice", sets[i], hf_args[k].name);
        static const char *const expected[] = {"a finite number", "a positive integer", "true or false"};
        if (parse_value(&hf_args[k], eq + 1, &a->v[k]))
            return zs_fail(err, "--set %s: expected %s", sets[i], expected[hf_args[k].kind]);
        a->given[k] = 1;
    }
    if (a->v[A_WARMUP_STEPS] < 0)
        return zs_fail(err, "--set warmup_steps: must be >= 0");
    if (!(a->v[A_WARMUP_RATIO] >= 0 && a->v[A_WARMUP_RATIO] <= 1))
        return zs_fail(err, "--set warmup_ratio: must be in [0, 1]");
    return 0;
}

/* ---- what each "auto" key becomes ---- */

typedef enum value_kind { V_NUMBER, V_BOOL, V_STRING, V_PAIR, V_DROP, V_MISSING } value_kind;

typedef struct hf_value {
    value_kind kind;
    double n, pair[2];
    const char *s;     /* V_STRING; for V_DROP / V_MISSING: why, or what to give */
} hf_value;

typedef enum value_id {
    F_MB, F_GAS, F_TB, F_CLIP, F_LR, F_BETAS, F_EPS, F_WD, F_WARMUP_MIN, F_WARMUP_MAX, F_FP16, F_AMP,
    F_AMP_LEVEL, F_BF16, F_BUCKET, F_PREFETCH, F_PERSIST, F_TOTAL, F_WARMUP
} value_id;

#define BIT(a) (1u << (a))

/* The Trainer's fill_match and fill_only calls, in its order. `from`: the inputs whose explicit --set
 * makes a non-"auto" config value subject to fill_match's mismatch check. */
static const struct fill {
    const char *path;
    value_id value;
    const char *hf_key; /* the name in the Trainer's mismatch message; NULL for fill_only */
    unsigned from;
} fills[] = {
    {"train_micro_batch_size_per_gpu", F_MB, "per_device_train_batch_size", BIT(A_MB)},
    {"gradient_accumulation_steps", F_GAS, "gradient_accumulation_steps", BIT(A_GAS)},
    {"train_batch_size", F_TB, "train_batch_size (calculated)", BIT(A_WORLD)},
    {"gradient_clipping", F_CLIP, "max_grad_norm", BIT(A_CLIP)},
    {"optimizer.params.lr", F_LR, "learning_rate", BIT(A_LR)},
    {"optimizer.params.betas", F_BETAS, "adam_beta1+adam_beta2", BIT(A_BETA1) | BIT(A_BETA2)},
    {"optimizer.params.eps", F_EPS, "adam_epsilon", BIT(A_EPS)},
    {"optimizer.params.weight_decay", F_WD, "weight_decay", BIT(A_WD)},
    {"scheduler.params.warmup_min_lr", F_WARMUP_MIN, NULL, 0},
    {"scheduler.params.warmup_max_lr", F_WARMUP_MAX, "learning_rate", BIT(A_LR)},
    {"fp16.enabled", F_FP16, "fp16", BIT(A_FP16)},
    {"amp.enabled", F_AMP, "fp16+fp16_backend(apex)", 0},
    {"amp.opt_level", F_AMP_LEVEL, "fp16_opt_level", 0},
    {"bf16.enabled", F_BF16, "bf16", BIT(A_BF16)},
    {"zero_optimization.reduce_bucket_size", F_BUCKET, NULL, 0},
    {"zero_optimization.stage3_prefetch_bucket_size", F_PREFETCH, NULL, 0},
    {"zero_optimization.stage3_param_persistence_threshold", F_PERSIST, NULL, 0},
    {"scheduler.params.total_num_steps", F_TOTAL, "num_training_steps", BIT(A_STEPS)},
    {"scheduler.params.warmup_num_steps", F_WARMUP, "warmup_steps", BIT(A_WARMUP_STEPS) | BIT(A_WARMUP_RATIO)},
};
#define N_FILLS (sizeof fills / sizeof fills[0])

static hf_value num(double n)
{
    return (hf_value){.kind = V_NUMBER, .n = n};
}

static hf_value missing(const char *what)
{
    return (hf_value){.kind = V_MISSING, .s = what};
}

static int zero_stage(const cJSON *root)
{
    const cJSON *z = cJSON_GetObjectItemCaseSensitive(root, "zero_optimization");
    const cJSON *s = cJSON_IsObject(z) ? cJSON_GetObjectItemCaseSensitive(z, "stage") : NULL;
    return cJSON_IsNumber(s) ? (int)s->valuedouble : 0;
}

/* training_args.py TrainingArguments.get_warmup_steps: warmup_steps >= 1 are steps; a value in (0, 1)
 * is a ratio (transformers v5); warmup_ratio is the v4 spelling of the ratio. */
static hf_value warmup_steps(const hf_values *a)
{
    double ws = a->v[A_WARMUP_STEPS];
    if (ws >= 1)
        return num(floor(ws));
    double ratio = ws > 0 ? ws : a->v[A_WARMUP_RATIO];
    if (ratio == 0)
        return num(0);
    if (!a->given[A_STEPS])
        return missing("give --set num_training_steps=N: the warmup ratio applies to it");
    return num(ceil(a->v[A_STEPS] * ratio));
}

static hf_value compute(value_id id, const hf_values *a, const cJSON *root)
{
    const char *need_hidden = "give --set hidden_size=N: the Trainer uses model.config.hidden_size";
    double h = a->v[A_HIDDEN];
    switch (id) {
    case F_MB:
        return num(a->v[A_MB]);
    case F_GAS:
        return num(a->v[A_GAS]);
    case F_TB:
        if (!a->given[A_WORLD]) /* DeepSpeed derives MB * G * world for each world size */
            return (hf_value){.kind = V_DROP};
        return num(a->v[A_WORLD] * a->v[A_MB] * a->v[A_GAS]);
    case F_CLIP:
        return num(a->v[A_CLIP]);
    case F_LR:
    case F_WARMUP_MAX:
        return num(a->v[A_LR]);
    case F_BETAS:
        return (hf_value){.kind = V_PAIR, .pair = {a->v[A_BETA1], a->v[A_BETA2]}};
    case F_EPS:
        return num(a->v[A_EPS]);
    case F_WD:
        return num(a->v[A_WD]);
    case F_WARMUP_MIN:
        return num(0);
    case F_FP16:
        return (hf_value){.kind = V_BOOL, .n = a->v[A_FP16]};
    case F_AMP: /* the apex backend is not modelled: fp16 always means the amp backend */
        return (hf_value){.kind = V_BOOL, .n = 0};
    case F_AMP_LEVEL:
        return (hf_value){.kind = V_STRING, .s = "O1"};
    case F_BF16:
        return (hf_value){.kind = V_BOOL, .n = a->v[A_BF16]};
    case F_BUCKET:
        return a->given[A_HIDDEN] ? num(h * h) : missing(need_hidden);
    case F_PREFETCH:
    case F_PERSIST:
        if (!a->given[A_HIDDEN])
            return missing(need_hidden);
        if (zero_stage(root) != 3) /* left "auto" by the Trainer, then dropped by DeepSpeed's pydantic */
            return (hf_value){.kind = V_DROP};
        return num(id == F_PREFETCH ? floor(0.9 * h * h) : 10 * h);
    case F_TOTAL:
        return a->given[A_STEPS] ? num(a->v[A_STEPS])
                                 : missing("give --set num_training_steps=N: the Trainer's number of optimizer steps");
    case F_WARMUP:
        return warmup_steps(a);
    }
    return missing("?");
}

static cJSON *to_json(const hf_value *v)
{
    switch (v->kind) {
    case V_NUMBER:
        return cJSON_CreateNumber(v->n);
    case V_BOOL:
        return cJSON_CreateBool(v->n != 0);
    case V_STRING:
        return cJSON_CreateString(v->s);
    case V_PAIR:
        return cJSON_CreateDoubleArray(v->pair, 2);
    default:
        return NULL;
    }
}

static int same_value(const cJSON *c, const hf_value *v)
{
    switch (v->kind) {
    case V_NUMBER:
        return cJSON_IsNumber(c) && c->valuedouble == v->n;
    case V_BOOL:
        return cJSON_IsBool(c) && cJSON_IsTrue(c) == (v->n != 0);
    case V_STRING:
        return cJSON_IsString(c) && !strcmp(c->valuestring, v->s);
    case V_PAIR:
        return cJSON_IsArray(c) && cJSON_GetArraySize(c) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(c, 0)) &&
               cJSON_IsNumber(cJSON_GetArrayItem(c, 1)) && cJSON_GetArrayItem(c, 0)->valuedouble == v->pair[0] &&
               cJSON_GetArrayItem(c, 1)->valuedouble == v->pair[1];
    default:
        return 1;
    }
}

/* The object holding the last component of `path`, and that component; NULL when a parent is missing. */
static cJSON *parent_of(cJSON *root, const char *path, const char **leaf)
{
    cJSON *node = root;
    const char *p = path;
    for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
        node = cJSON_GetObjectItemCaseSensitive(node, key);
        if (!cJSON_IsObject(node))
            return NULL;
    }
    *leaf = p;
    return node;
}

/* Appends "; " + text to a message list kept in a fixed buffer (truncation is acceptable). */
static void append(char *list, size_t n, const char *text)
{
    size_t len = strlen(list);
    snprintf(list + len, n - len, "%s%s", len ? "; " : "", text);
}

static void describe_value(const hf_value *v, char *buf, size_t n)
{
    cJSON *j = to_json(v);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(buf, n, "%s", s ? s : "?");
    free(s);
    cJSON_Delete(j);
}

/* Any "auto" left where the Trainer fills nothing ("pipeline.stages": "auto" is DeepSpeed's own default). */
static void find_unfilled(const cJSON *node, const char *path, char *list, size_t n)
{
    for (const cJSON *c = node->child; c; c = c->next) {
        char sub[256];
        if (cJSON_IsObject(node))
            zs_json_path(sub, sizeof sub, path, c->string);
        else
            snprintf(sub, sizeof sub, "%s[]", path);
        if (zs_json_is_auto(c) && strcmp(sub, "pipeline.stages")) {
            char text[320];
            snprintf(text, sizeof text, "%s (the Trainer does not fill it; give a value)", sub);
            append(list, n, text);
        }
        find_unfilled(c, sub, list, n);
    }
}

int zs_ds_config_resolve_auto(cJSON *root, const char *const *sets, int n_sets, zs_error *err)
{
    hf_values a;
    if (parse_sets(sets, n_sets, &a, err))
        return -1;
    if (!cJSON_IsObject(root))
        return zs_fail(err, "a DeepSpeed config must be a JSON object");
    unsigned given = 0;
    for (int k = 0; k < N_ARGS; k++)
        given |= a.given[k] ? BIT(k) : 0;
    char unresolved[700] = "", mismatches[700] = "";
    for (size_t i = 0; i < N_FILLS; i++) {
        const char *leaf;
        cJSON *parent = parent_of(root, fills[i].path, &leaf);
        cJSON *node = parent ? cJSON_GetObjectItemCaseSensitive(parent, leaf) : NULL;
        if (!node)
            continue;
        hf_value v = compute(fills[i].value, &a, root);
        if (zs_json_is_auto(node)) {
            if (v.kind == V_MISSING) {
                char text[320];
                snprintf(text, sizeof text, "%s (%s)", fills[i].path, v.s);
                append(unresolved, sizeof unresolved, text);
            } else if (v.kind == V_DROP) {
                cJSON_DeleteItemFromObjectCaseSensitive(parent, leaf);
            } else {
                cJSON *j = to_json(&v);
                if (!j || !cJSON_ReplaceItemInObjectCaseSensitive(parent, leaf, j)) {
                    cJSON_Delete(j);
                    return zs_fail(err, "out of memory");
                }
            }
        } else if ((fills[i].from & given) && v.kind != V_MISSING && v.kind != V_DROP && !same_value(node, &v)) {
            char cfg[96], hf[96], text[400];
            zs_json_describe(node, cfg, sizeof cfg);
            describe_value(&v, hf, sizeof hf);
            snprintf(text, sizeof text, "ds %s=%s vs hf %s=%s", fills[i].path, cfg, fills[i].hf_key, hf);
            append(mismatches, sizeof mismatches, text);
        }
    }
    find_unfilled(root, "", unresolved, sizeof unresolved);
    if (unresolved[0])
        return zs_fail(err, "cannot resolve \"auto\": %s", unresolved);
    if (mismatches[0])
        return zs_fail(err, "--set values disagree with the config (the Hugging Face Trainer raises for these; make "
                            "the config value \"auto\" or drop the --set): %s",
                       mismatches);
    return 0;
}

int zs_ds_config_parse_resolved(const char *json_text, const char *source, const char *const *sets, int n_sets,
                                zs_ds_config *out, zs_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = zs_json_parse(json_text, source, err);
    if (!root)
        return -1;
    /* Built before resolving: resolution replaces or deletes only "auto" strings, never numbers, so
     * every number node recorded here stays in the tree. */
    zs_json_numforms forms = {0};
    int rc = zs_json_numforms_build(json_text, root, &forms, err);
    if (!rc && zs_json_check_duplicates(root, err))
        rc = zs_error_prefix(err, "%s", source);
    if (!rc && zs_ds_config_resolve_auto(root, sets, n_sets, err))
        rc = zs_error_prefix(err, "%s", source);
    if (!rc)
        rc = zs_ds_config_parse_tree(root, &forms, source, out, err);
    zs_json_numforms_free(&forms);
    cJSON_Delete(root);
    return rc;
}
