/* Top-level keys: the table of every key DeepSpeed v0.19.6 reads at the top of its config
 * (runtime/config.py DeepSpeedConfig._initialize_params, runtime/constants.py and the sub-configs it
 * builds), and the top-level scalars that do not belong to a section.
 *
 * DeepSpeed reads known top-level keys with dict.get and never looks at the others, so an unknown
 * key is silently lost. We record it as "unknown" (a warning) unless it is within two edits of a
 * known key: then it is almost surely a typo and we fail with a suggestion. */
#include <string.h>
#include <strings.h>

#include "ds_config_parse.h"

enum {
    TOP_SECTION = 1,       /* read by its own section reader (which records it) */
    TOP_OFF_UNLESS = 2,    /* accepted only while no feature inside it is enabled */
};

typedef struct top_key {
    const char *name;
    zs_key_status status;
    unsigned flags;
    const char *note;
} top_key;

static const top_key top_keys[] = {
    {"train_batch_size", ZS_KEY_USED, TOP_SECTION, NULL},
    {"train_micro_batch_size_per_gpu", ZS_KEY_USED, TOP_SECTION, NULL},
    {"gradient_accumulation_steps", ZS_KEY_USED, TOP_SECTION, NULL},
    {"fp16", ZS_KEY_USED, TOP_SECTION, NULL},
    {"bf16", ZS_KEY_USED, TOP_SECTION, NULL},
    {"bfloat16", ZS_KEY_USED, TOP_SECTION, NULL},
    {"zero_optimization", ZS_KEY_USED, TOP_SECTION, NULL},
    {"optimizer", ZS_KEY_USED, TOP_SECTION, NULL},
    {"scheduler", ZS_KEY_USED, TOP_SECTION, NULL},
    {"gradient_clipping", ZS_KEY_USED, 0, NULL},
    {"prescale_gradients", ZS_KEY_USED, 0, NULL},
    {"gradient_predivide_factor", ZS_KEY_USED, 0, NULL},
    {"zero_allow_untested_optimizer", ZS_KEY_USED, 0, NULL},
    {"gradient_allreduce_op", ZS_KEY_USED, 0, "only \"mean\" is modelled"},
    {"communication_data_type", ZS_KEY_ACCEPTED, 0, "must equal the model dtype (checked with the rules)"},
    {"data_types", ZS_KEY_ACCEPTED, 0, "dtypes must equal the model dtype (checked with the rules)"},
    {"steps_per_print", ZS_KEY_ACCEPTED, 0, "logging only"},
    {"managed_gradient_accumulation", ZS_KEY_ACCEPTED, 0, "only true (the default) is modelled"},
    {"sequence_parallel_size", ZS_KEY_ACCEPTED, 0, "only 1 is modelled"},
    {"tensor_parallel", ZS_KEY_ACCEPTED, 0, "only autotp_size <= 1 is modelled"},
    /* features that change numerics when enabled: accepted while off */
    {"amp", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "Apex AMP; accepted while disabled"},
    {"torch_autocast", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    {"compression_training", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while no technique is enabled"},
    {"quantize_training", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    {"progressive_layer_drop", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    {"curriculum_learning", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    {"data_efficiency", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    {"elasticity", ZS_KEY_ACCEPTED, TOP_OFF_UNLESS, "accepted while disabled"},
    /* valid DeepSpeed keys that do not change zerospec numerics */
    {"wall_clock_breakdown", ZS_KEY_ACCEPTED, 0, "profiling only"},
    {"memory_breakdown", ZS_KEY_ACCEPTED, 0, "profiling only"},
    {"flops_profiler", ZS_KEY_ACCEPTED, 0, "profiling only"},
    {"comms_logger", ZS_KEY_ACCEPTED, 0, "logging only"},
    {"tensorboard", ZS_KEY_ACCEPTED, 0, "monitoring only"},
    {"wandb", ZS_KEY_ACCEPTED, 0, "monitoring only"},
    {"csv_monitor", ZS_KEY_ACCEPTED, 0, "monitoring only"},
    {"comet", ZS_KEY_ACCEPTED, 0, "monitoring only"},
    {"timers", ZS_KEY_ACCEPTED, 0, "logging only"},
    {"log_level", ZS_KEY_ACCEPTED, 0, "logging only"},
    {"dump_state", ZS_KEY_ACCEPTED, 0, "logging only"},
    {"activation_checkpointing", ZS_KEY_ACCEPTED, 0, "recomputation gives the same values"},
    {"checkpoint", ZS_KEY_ACCEPTED, 0, "checkpoint files only"},
    {"nebula", ZS_KEY_ACCEPTED, 0, "checkpoint files only"},
    {"datastates_ckpt", ZS_KEY_ACCEPTED, 0, "checkpoint files only"},
    {"aio", ZS_KEY_ACCEPTED, 0, "NVMe I/O only"},
    {"autotuning", ZS_KEY_ACCEPTED, 0, "a launcher feature"},
    {"compile", ZS_KEY_ACCEPTED, 0, "compilation only"},
    {"graph_harvesting", ZS_KEY_ACCEPTED, 0, "performance only"},
    {"disable_allgather", ZS_KEY_ACCEPTED, 0, "performance only"},
    {"sparse_gradients", ZS_KEY_ACCEPTED, 0, "only for sparse embeddings, which the model has none of"},
    {"sparse_attention", ZS_KEY_ACCEPTED, 0, "only for SparseSelfAttention modules, which the model has none of"},
    {"pipeline", ZS_KEY_ACCEPTED, 0, "only for PipelineModule models"},
    {"expert_parallel", ZS_KEY_ACCEPTED, 0, "only for MoE layers, which the model has none of"},
    {"use_data_before_expert_parallelism", ZS_KEY_ACCEPTED, 0, "only for MoE layers"},
    {"hybrid_engine", ZS_KEY_ACCEPTED, 0, "inference/RLHF only"},
    {"weight_quantization", ZS_KEY_ACCEPTED, 0, "inference only"},
    {"seq_parallel_communication_data_type", ZS_KEY_ACCEPTED, 0, "only with sequence parallelism"},
    {"dataloader_drop_last", ZS_KEY_ACCEPTED, 0, "DeepSpeed's dataloader only"},
    {"vocabulary_size", ZS_KEY_ACCEPTED, 0, "DeepSpeed only warns about alignment"},
    {"zero_force_ds_cpu_optimizer", ZS_KEY_ACCEPTED, 0, "client optimizers only"},
    {"allgather_size", ZS_KEY_ACCEPTED, 0, "read only with the boolean zero_optimization form"},
};
#define N_TOP (sizeof top_keys / sizeof top_keys[0])

static const top_key *find_top(const char *name)
{
    for (size_t i = 0; i < N_TOP; i++)
        if (strcmp(top_keys[i].name, name) == 0)
            return &top_keys[i];
    return NULL;
}

/* The path of the first "enabled": true that turns a feature on: an object's own "enabled" key
 * decides for it; without one, each sub-object is a feature of its own (compression_training). */
static int find_enabled(const cJSON *obj, const char *path, char *found, size_t n)
{
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(obj, "enabled");
    if (en) {
        if (cJSON_IsTrue(en)) {
            zs_json_path(found, n, path, "enabled");
            return 1;
        }
        return 0;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        char sub[256];
        zs_json_path(sub, sizeof sub, path, c->string);
        if (cJSON_IsObject(c) && find_enabled(c, sub, found, n))
            return 1;
    }
    return 0;
}

static int check_top_key(zs_ds_parse *p, const cJSON *item)
{
    const char *name = item->string;
    const top_key *k = find_top(name);
    zs_key_report *r = &p->cfg->report;
    if (!k) {
        const char *near = zs_closest_name(name, &top_keys[0].name, N_TOP, sizeof top_keys[0], 2);
        if (near) {
            zs_report_set(r, name, ZS_KEY_INVALID, "probably a typo of %s", near);
            return zs_fail(p->err,
                           "%s: unknown top-level key; did you mean \"%s\"? (DeepSpeed silently ignores "
                           "unknown top-level keys, so a misspelt key is lost)",
                           name, near);
        }
        zs_report_set(r, name, ZS_KEY_UNKNOWN, "not a DeepSpeed key; DeepSpeed ignores it");
        return 0;
    }
    if (k->flags & TOP_SECTION)
        return 0;
    char on[256];
    if ((k->flags & TOP_OFF_UNLESS) && cJSON_IsObject(item) && find_enabled(item, name, on, sizeof on)) {
        zs_report_set(r, name, ZS_KEY_INVALID, "enabled: not modelled");
        return zs_fail(p->err, "%s is true: %s changes the training numerics and is not modelled by zerospec",
                       on, name);
    }
    zs_report_set(r, name, k->status, "%s", k->note ? k->note : "");
    return 0;
}

/* Top-level scalars that belong to no section. */
static int read_scalars(zs_ds_parse *p)
{
    const cJSON *root = p->root;
    zs_ds_config *c = p->cfg;
    zs_error *err = p->err;
    const cJSON *v;
    int64_t i;

    if ((v = cJSON_GetObjectItemCaseSensitive(root, "gradient_clipping"))) {
        if (zs_json_number(v, "gradient_clipping", &c->gradient_clipping, err))
            return -1;
        if (c->gradient_clipping < 0)
            return zs_fail(err, "gradient_clipping: must be >= 0 (0 turns clipping off), got %g",
                           c->gradient_clipping);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "prescale_gradients")) &&
        zs_json_bool(v, "prescale_gradients", &c->prescale_gradients, err))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "gradient_predivide_factor"))) {
        if (zs_json_number(v, "gradient_predivide_factor", &c->gradient_predivide_factor, err))
            return -1;
        if (!(c->gradient_predivide_factor > 0))
            return zs_fail(err, "gradient_predivide_factor: must be > 0 (gradients are divided by it), got %g",
                           c->gradient_predivide_factor);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "zero_allow_untested_optimizer")) &&
        zs_json_bool(v, "zero_allow_untested_optimizer", &c->zero_allow_untested_optimizer, err))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "steps_per_print")) && !cJSON_IsNull(v)) {
        /* None (the default) prints nothing; 0 would be a ZeroDivisionError in engine.py */
        if (zs_json_int(v, "steps_per_print", 1, INT32_MAX, &i, err))
            return -1;
        c->steps_per_print = (int)i;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "gradient_allreduce_op"))) {
        const char *op;
        if (zs_check_kind(v, ZS_JK_STRING, "gradient_allreduce_op", err))
            return -1;
        op = v->valuestring;
        if (strcasecmp(op, "sum") == 0)
            return zs_fail(err, "gradient_allreduce_op: \"sum\" (sum instead of average across ranks) is not "
                                "modelled by zerospec; use \"mean\" (the default)");
        if (strcasecmp(op, "mean") != 0)
            return zs_fail(err, "gradient_allreduce_op: Supported operations: ['mean', 'sum']. Got: '%s'", op);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "managed_gradient_accumulation"))) {
        int managed;
        if (zs_json_bool(v, "managed_gradient_accumulation", &managed, err))
            return -1;
        if (!managed)
            return zs_fail(err, "managed_gradient_accumulation: false (the caller manages the accumulation "
                                "boundary) is not modelled by zerospec");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "sequence_parallel_size"))) {
        if (zs_json_int(v, "sequence_parallel_size", 1, INT64_MAX, &i, err))
            return -1;
        if (i > 1)
            return zs_fail(err, "sequence_parallel_size: %lld: sequence parallelism is not modelled by zerospec",
                           (long long)i);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "tensor_parallel"))) {
        if (zs_json_object(v, "tensor_parallel", err))
            return -1;
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(v, "autotp_size");
        if (tp) {
            if (zs_json_int(tp, "tensor_parallel.autotp_size", 0, INT64_MAX, &i, err))
                return -1;
            if (i > 1)
                return zs_fail(err, "tensor_parallel.autotp_size: %lld: tensor parallelism is not modelled by "
                                    "zerospec",
                               (long long)i);
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "communication_data_type")) &&
        zs_check_kind(v, ZS_JK_STRING_OR_NULL, "communication_data_type", err))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "data_types")) && zs_json_object(v, "data_types", err))
        return -1;
    return 0;
}

int zs_ds_parse_top(zs_ds_parse *p)
{
    for (const cJSON *item = p->root->child; item; item = item->next)
        if (check_top_key(p, item))
            return -1;
    return read_scalars(p);
}
