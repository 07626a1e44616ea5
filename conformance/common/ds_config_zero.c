/* The "zero_optimization" block and its offload blocks.
 *
 * DeepSpeed v0.19.6 runtime/zero/config.py DeepSpeedZeroConfig and runtime/zero/offload_config.py
 * DeepSpeedZeroOffload{Param,Optimizer}Config: pydantic models with extra keys forbidden, stage3_*
 * names as aliases of the short names (populate_by_name), and the validators reproduced below. */
#include <string.h>

#include "ds_config_parse.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const STRICT_ZERO = "DeepSpeedZeroConfig in zero/config.py forbids extra keys";

static const zs_key_spec zero_keys[] = {
    {"stage", ZS_JK_ANY, ZS_KEY_USED, NULL}, /* range-checked below for a precise message */
    {"offload_optimizer", ZS_JK_OBJECT_OR_NULL, ZS_KEY_USED, NULL},
    {"offload_param", ZS_JK_OBJECT_OR_NULL, ZS_KEY_USED, NULL},
    {"reduce_scatter", ZS_JK_BOOL, ZS_KEY_USED, NULL},
    {"contiguous_gradients", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "bucketing only (when true)"},
    {"overlap_comm", ZS_JK_BOOL_OR_NULL, ZS_KEY_ACCEPTED, "scheduling only"},
    {"round_robin_gradients", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
    {"allgather_partitions", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "communication only"},
    {"reduce_bucket_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "bucketing only"},
    {"allgather_bucket_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "bucketing only"},
    {"use_multi_rank_bucket_allreduce", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "communication only"},
    {"sub_group_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "tiling of the optimizer step only"},
    {"load_from_fp32_weights", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "checkpoint loading only"},
    {"elastic_checkpoint", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "checkpoint files only"},
    {"ignore_unused_parameters", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "the model has no unused parameters"},
    {"legacy_stage1", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false is valid"},
    {"cpu_offload", ZS_JK_BOOL_OR_NULL, ZS_KEY_USED, "deprecated alias of offload_optimizer.device=cpu"},
    {"cpu_offload_param", ZS_JK_BOOL_OR_NULL, ZS_KEY_USED, "deprecated alias of offload_param.device=cpu"},
    {"cpu_offload_use_pin_memory", ZS_JK_BOOL_OR_NULL, ZS_KEY_ACCEPTED, "deprecated, no effect"},
    {"stage3_prefetch_bucket_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 prefetching only"},
    {"prefetch_bucket_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 prefetching only"},
    {"stage3_param_persistence_threshold", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"param_persistence_threshold", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"stage3_model_persistence_threshold", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"model_persistence_threshold", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"stage3_max_live_parameters", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"max_live_parameters", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"stage3_max_reuse_distance", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"max_reuse_distance", ZS_JK_UINT, ZS_KEY_ACCEPTED, "ZeRO-3 memory only"},
    {"stage3_gather_16bit_weights_on_model_save", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "checkpoint files only"},
    {"gather_16bit_weights_on_model_save", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "checkpoint files only"},
    {"stage3_gather_fp16_weights_on_model_save", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "deprecated; checkpoint files only"},
    {"stage3_module_granularity_threshold", ZS_JK_INT, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"module_granularity_threshold", ZS_JK_INT, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"stage3_use_all_reduce_for_fetch_params", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"use_all_reduce_for_fetch_params", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"stage3_allgather_sequential", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"allgather_sequential", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"zero_hpz_partition_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "a secondary copy of the weights only"},
    {"zero_quantized_weights", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
    {"zero_quantized_nontrainable_weights", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "the model has no frozen weights"},
    {"zero_quantized_gradients", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
    {"zeropp_loco_param", ZS_JK_OBJECT_OR_NULL, ZS_KEY_ACCEPTED, "only with zero_quantized_gradients"},
    {"mics_shard_size", ZS_JK_INT, ZS_KEY_ACCEPTED, "only -1 (MiCS off, the default) is modelled"},
    {"mics_hierarchical_params_gather", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only with MiCS"},
    {"memory_efficient_linear", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "memory only"},
    {"pipeline_loading_checkpoint", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "checkpoint loading only"},
    {"override_module_apply", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "ZeRO-3 bookkeeping only"},
    {"log_trace_cache_warnings", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "logging only"},
    {"enable_sanity_checks", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "debugging only"},
    {"save_muon_momentum_buffer_in_memory", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "NVMe swapping only"},
    {"leaf_module", ZS_JK_ANY, ZS_KEY_ACCEPTED, "ZeRO-3 fetching only"},
    {"zenflow", ZS_JK_OBJECT_OR_NULL, ZS_KEY_ACCEPTED, "only null (ZenFlow off) is modelled"},
};

static const zs_key_spec offload_optimizer_keys[] = {
    {"device", ZS_JK_STRING, ZS_KEY_USED, NULL},
    {"ratio", ZS_JK_NUMBER, ZS_KEY_USED, NULL},
    {"pin_memory", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "memory only"},
    {"nvme_path", ZS_JK_STRING_OR_NULL, ZS_KEY_ACCEPTED, "NVMe only"},
    {"buffer_count", ZS_JK_UINT, ZS_KEY_ACCEPTED, "NVMe only"},
    {"pipeline_read", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "NVMe only"},
    {"pipeline_write", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "NVMe only"},
    {"fast_init", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "NVMe only"},
    {"super_offload", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "only false (the default) is modelled"},
    {"cpuadam_cores_perc", ZS_JK_NUMBER, ZS_KEY_ACCEPTED, "threading only"},
};

static const zs_key_spec offload_param_keys[] = {
    {"device", ZS_JK_STRING, ZS_KEY_USED, NULL},
    {"pin_memory", ZS_JK_BOOL, ZS_KEY_ACCEPTED, "memory only"},
    {"nvme_path", ZS_JK_STRING_OR_NULL, ZS_KEY_ACCEPTED, "NVMe only"},
    {"buffer_count", ZS_JK_UINT, ZS_KEY_ACCEPTED, "NVMe only"},
    {"buffer_size", ZS_JK_UINT, ZS_KEY_ACCEPTED, "NVMe only"},
    {"max_in_cpu", ZS_JK_UINT, ZS_KEY_ACCEPTED, "NVMe only"},
};

/* A boolean that must stay false because zerospec does not model what true does. */
static int must_be_false(zs_ds_parse *p, const cJSON *obj, const char *path, const char *key, const char *why)
{
    int on = 0;
    if (zs_section_bool(obj, key, &on) && on)
        return zs_fail(p->err, "%s.%s: true is not modelled by zerospec (%s)", path, key, why);
    return 0;
}

static int parse_offload(zs_ds_parse *p, const cJSON *obj, const char *path, int is_optimizer,
                         zs_offload_config *out)
{
    const zs_key_spec *keys = is_optimizer ? offload_optimizer_keys : offload_param_keys;
    size_t n = is_optimizer ? N_OF(offload_optimizer_keys) : N_OF(offload_param_keys);
    if (zs_check_section(p, obj, path, keys, n,
                         is_optimizer ? "DeepSpeedZeroOffloadOptimizerConfig forbids extra keys"
                                      : "DeepSpeedZeroOffloadParamConfig forbids extra keys"))
        return -1;
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(obj, "device");
    if (dev) {
        const char *d = dev->valuestring;
        if (strcmp(d, "none") == 0)
            out->device = ZS_OFFLOAD_NONE;
        else if (strcmp(d, "cpu") == 0)
            out->device = ZS_OFFLOAD_CPU;
        else if (strcmp(d, "nvme") == 0)
            out->device = ZS_OFFLOAD_NVME;
        else
            return zs_fail(p->err, "%s.device: expected \"none\", \"cpu\" or \"nvme\", got \"%s\"", path, d);
    }
    zs_section_bool(obj, "pin_memory", &out->pin_memory);
    if (!is_optimizer)
        return 0;
    if (zs_section_number(obj, "ratio", &out->ratio) && !(out->ratio >= 0 && out->ratio <= 1))
        return zs_fail(p->err, "%s.ratio: must be in [0, 1], got %g", path, out->ratio);
    double cores;
    if (zs_section_number(obj, "cpuadam_cores_perc", &cores) && !(cores >= 0 && cores <= 1))
        return zs_fail(p->err, "%s.cpuadam_cores_perc: must be in [0, 1], got %g", path, cores);
    return must_be_false(p, obj, path, "super_offload", "SuperOffload runs a different optimizer step");
}

/* Deprecated booleans (Field json_schema_extra deprecated=True, new_param=...): true means device cpu;
 * DeepSpeedConfigModel._process_deprecated_field asserts the new name is not given as well. */
static int deprecated_offload(zs_ds_parse *p, const cJSON *zero, const char *old_key, const char *new_key,
                              zs_offload_config *out)
{
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(zero, old_key);
    if (!old)
        return 0;
    if (cJSON_GetObjectItemCaseSensitive(zero, new_key))
        return zs_fail(p->err, "zero_optimization: Cannot provide deprecated parameter '%s' and replacing "
                               "parameter '%s' together",
                       old_key, new_key);
    if (cJSON_IsTrue(old))
        out->device = ZS_OFFLOAD_CPU;
    return 0;
}

static int parse_zero_object(zs_ds_parse *p, const cJSON *zero)
{
    zs_zero_config *z = &p->cfg->zero;
    zs_key_report *r = &p->cfg->report;
    const char *path = "zero_optimization";
    if (zs_check_section(p, zero, path, zero_keys, N_OF(zero_keys), STRICT_ZERO))
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(zero, "stage");
    int64_t i;
    if (v) {
        if (zs_json_int(v, "zero_optimization.stage", 0, 3, &i, p->err))
            return -1;
        z->stage = (int)i;
    }
    const cJSON *oo = cJSON_GetObjectItemCaseSensitive(zero, "offload_optimizer");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(zero, "offload_param");
    if (cJSON_IsObject(oo) &&
        parse_offload(p, oo, "zero_optimization.offload_optimizer", 1, &z->offload_optimizer))
        return -1;
    if (cJSON_IsObject(op) && parse_offload(p, op, "zero_optimization.offload_param", 0, &z->offload_param))
        return -1;
    if (deprecated_offload(p, zero, "cpu_offload", "offload_optimizer", &z->offload_optimizer) ||
        deprecated_offload(p, zero, "cpu_offload_param", "offload_param", &z->offload_param))
        return -1;

    zs_section_bool(zero, "contiguous_gradients", &z->contiguous_gradients);
    zs_section_bool(zero, "reduce_scatter", &z->reduce_scatter);
    zs_section_bool(zero, "round_robin_gradients", &z->round_robin_gradients);
    zs_section_bool(zero, "allgather_partitions", &z->allgather_partitions);
    zs_section_int(zero, "reduce_bucket_size", &z->reduce_bucket_size);
    zs_section_int(zero, "allgather_bucket_size", &z->allgather_bucket_size);
    zs_section_int(zero, "sub_group_size", &z->sub_group_size);
    /* pydantic populate_by_name: both the alias (stage3_*) and the field name are accepted */
    zs_section_int(zero, "prefetch_bucket_size", &z->stage3_prefetch_bucket_size);
    zs_section_int(zero, "stage3_prefetch_bucket_size", &z->stage3_prefetch_bucket_size);
    zs_section_int(zero, "param_persistence_threshold", &z->stage3_param_persistence_threshold);
    zs_section_int(zero, "stage3_param_persistence_threshold", &z->stage3_param_persistence_threshold);
    zs_section_int(zero, "max_live_parameters", &z->stage3_max_live_parameters);
    zs_section_int(zero, "stage3_max_live_parameters", &z->stage3_max_live_parameters);
    zs_section_int(zero, "max_reuse_distance", &z->stage3_max_reuse_distance);
    zs_section_int(zero, "stage3_max_reuse_distance", &z->stage3_max_reuse_distance);
    z->overlap_comm = z->stage == 3; /* overlap_comm_valid: None means "true iff stage 3" */
    zs_section_bool(zero, "overlap_comm", &z->overlap_comm);

    if (must_be_false(p, zero, path, "round_robin_gradients",
                      "it reorders the gradient partitions across ranks") ||
        must_be_false(p, zero, path, "zero_quantized_weights", "ZeRO++ quantizes the weights it gathers") ||
        must_be_false(p, zero, path, "zero_quantized_gradients", "ZeRO++ quantizes the gradients it reduces"))
        return -1;
    int legacy = 0;
    if (zs_section_bool(zero, "legacy_stage1", &legacy) && legacy)
        return zs_fail(p->err, "zero_optimization.legacy_stage1: The deprecated version of ZeRO Stage 1 is "
                               "not supported in deepspeed >= 0.5.9");
    if (zs_section_int(zero, "mics_shard_size", &i) && i > 0)
        return zs_fail(p->err, "zero_optimization.mics_shard_size: %lld: MiCS (hierarchical sharding) is not "
                               "modelled by zerospec; use -1",
                       (long long)i);
    const cJSON *zf = cJSON_GetObjectItemCaseSensitive(zero, "zenflow");
    if (zf && !cJSON_IsNull(zf))
        return zs_fail(p->err, "zero_optimization.zenflow: ZenFlow (stale optimizer updates) is not modelled "
                               "by zerospec");

    /* Validators and stage-dependent meaning. */
    if (z->offload_optimizer.ratio < 1.0 && z->stage != 3) /* DeepSpeedZeroConfig.offload_ratio_check */
        return zs_fail(p->err, "zero_optimization.offload_optimizer.ratio: %g: Partial offloading only "
                               "supported for ZeRO Stage 3.",
                       z->offload_optimizer.ratio);
    if (z->offload_optimizer.device != ZS_OFFLOAD_NONE && z->stage == 0)
        return zs_fail(p->err, "zero_optimization.offload_optimizer: offloading needs ZeRO stage 1, 2 or 3; at "
                               "stage 0 DeepSpeed builds its CPU optimizer over GPU parameters and fails at "
                               "the first step (ops/adam/cpu_adam.py DeepSpeedCPUAdam.step)");
    if (z->stage < 3 && (op || cJSON_GetObjectItemCaseSensitive(zero, "cpu_offload_param"))) {
        /* engine.py reads zero_offload_param() only in its stage-3 branches */
        const char *key = op ? "zero_optimization.offload_param" : "zero_optimization.cpu_offload_param";
        zs_report_set(r, key, ZS_KEY_IGNORED, "offload_param is a ZeRO-3 feature; DeepSpeed ignores it at stage %d",
                      z->stage);
        z->offload_param.device = ZS_OFFLOAD_NONE;
        z->offload_param.pin_memory = 1;
    }
    if (!z->reduce_scatter)
        zs_report_set(r, "zero_optimization.reduce_scatter", ZS_KEY_ACCEPTED,
                      "false: DeepSpeed averages with all-reduce instead of reduce-scatter, which rounds "
                      "differently; the reference models the default (true)");
    if (!z->contiguous_gradients)
        zs_report_set(r, "zero_optimization.contiguous_gradients", ZS_KEY_ACCEPTED,
                      "false: DeepSpeed reduces in different buckets, which rounds differently; the reference "
                      "models the default (true)");
    return 0;
}

int zs_ds_parse_zero(zs_ds_parse *p)
{
    const cJSON *zero = cJSON_GetObjectItemCaseSensitive(p->root, "zero_optimization");
    if (!zero)
        return 0;
    if (cJSON_IsBool(zero)) { /* zero/config.py read_zero_config_deprecated */
        p->cfg->zero.stage = cJSON_IsTrue(zero) ? 1 : 0;
        const cJSON *ag = cJSON_GetObjectItemCaseSensitive(p->root, "allgather_size");
        if (ag && p->cfg->zero.stage > 0 &&
            zs_json_int(ag, "allgather_size", 0, INT64_MAX, &p->cfg->zero.allgather_bucket_size, p->err))
            return -1;
        zs_report_set(&p->cfg->report, "zero_optimization", ZS_KEY_USED,
                      "deprecated boolean form: true means stage 1");
        return 0;
    }
    if (zs_json_object(zero, "zero_optimization", p->err))
        return -1;
    zs_report_set(&p->cfg->report, "zero_optimization", ZS_KEY_USED, "%s", "");
    return parse_zero_object(p, zero);
}
