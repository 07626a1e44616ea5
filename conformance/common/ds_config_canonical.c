/* The canonical form of a resolved config: compact JSON, every value explicit, keys in a fixed order.
 * It is itself a valid DeepSpeed config meaning the same thing, so parsing it again gives the same
 * canonical text (tests check this fixed point). Used as trace metadata. */
#include <stdlib.h>

#include "ds_config_parse.h"

static const char *device_name(zs_offload_device d)
{
    return d == ZS_OFFLOAD_CPU ? "cpu" : d == ZS_OFFLOAD_NVME ? "nvme" : "none";
}

/* cJSON_Add*ToObject return NULL on failure; collect failures instead of checking each call */
typedef struct builder {
    int failed;
} builder;

static cJSON *add_num(builder *b, cJSON *o, const char *k, double v)
{
    cJSON *x = cJSON_AddNumberToObject(o, k, v);
    b->failed |= !x;
    return x;
}

static void add_bool(builder *b, cJSON *o, const char *k, int v)
{
    b->failed |= !cJSON_AddBoolToObject(o, k, v);
}

static void add_str(builder *b, cJSON *o, const char *k, const char *v)
{
    b->failed |= !cJSON_AddStringToObject(o, k, v);
}

static cJSON *add_obj(builder *b, cJSON *o, const char *k)
{
    cJSON *x = cJSON_AddObjectToObject(o, k);
    b->failed |= !x;
    return x ? x : o; /* keep going into the parent; the failure is recorded */
}

static void add_count(builder *b, cJSON *o, const char *k, int64_t v) /* 0 means "not given": null */
{
    if (v)
        add_num(b, o, k, (double)v);
    else
        b->failed |= !cJSON_AddNullToObject(o, k);
}

static void add_precision(builder *b, cJSON *root, const zs_ds_config *c)
{
    cJSON *f = add_obj(b, root, "fp16");
    add_bool(b, f, "enabled", c->fp16.enabled);
    add_bool(b, f, "auto_cast", c->fp16.auto_cast);
    add_num(b, f, "loss_scale", c->fp16.loss_scale);
    add_num(b, f, "initial_scale_power", c->fp16.initial_scale_power);
    add_num(b, f, "loss_scale_window", (double)c->fp16.loss_scale_window);
    add_num(b, f, "hysteresis", c->fp16.hysteresis);
    add_bool(b, f, "consecutive_hysteresis", c->fp16.consecutive_hysteresis);
    add_num(b, f, "min_loss_scale", c->fp16.min_loss_scale);
    cJSON *h = add_obj(b, root, "bf16");
    add_bool(b, h, "enabled", c->bf16.enabled);
    add_bool(b, h, "immediate_grad_update", c->bf16.immediate_grad_update);
    add_bool(b, h, "check_grad_overflow", c->bf16.check_grad_overflow);
}

static void add_zero(builder *b, cJSON *root, const zs_zero_config *z)
{
    cJSON *o = add_obj(b, root, "zero_optimization");
    add_num(b, o, "stage", z->stage);
    cJSON *oo = add_obj(b, o, "offload_optimizer");
    add_str(b, oo, "device", device_name(z->offload_optimizer.device));
    add_bool(b, oo, "pin_memory", z->offload_optimizer.pin_memory);
    add_num(b, oo, "ratio", z->offload_optimizer.ratio);
    cJSON *op = add_obj(b, o, "offload_param");
    add_str(b, op, "device", device_name(z->offload_param.device));
    add_bool(b, op, "pin_memory", z->offload_param.pin_memory);
    add_bool(b, o, "contiguous_gradients", z->contiguous_gradients);
    add_bool(b, o, "reduce_scatter", z->reduce_scatter);
    add_bool(b, o, "overlap_comm", z->overlap_comm);
    add_bool(b, o, "round_robin_gradients", z->round_robin_gradients);
    add_bool(b, o, "allgather_partitions", z->allgather_partitions);
    add_num(b, o, "reduce_bucket_size", (double)z->reduce_bucket_size);
    add_num(b, o, "allgather_bucket_size", (double)z->allgather_bucket_size);
    add_num(b, o, "sub_group_size", (double)z->sub_group_size);
    add_num(b, o, "stage3_prefetch_bucket_size", (double)z->stage3_prefetch_bucket_size);
    add_num(b, o, "stage3_param_persistence_threshold", (double)z->stage3_param_persistence_threshold);
    add_num(b, o, "stage3_max_live_parameters", (double)z->stage3_max_live_parameters);
    add_num(b, o, "stage3_max_reuse_distance", (double)z->stage3_max_reuse_distance);
}

char *zs_ds_config_canonical(const zs_ds_config *c, zs_error *err)
{
    builder b = {0};
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return zs_fail(err, "out of memory"), NULL;
    add_count(&b, root, "train_batch_size", c->train_batch_size);
    add_count(&b, root, "train_micro_batch_size_per_gpu", c->train_micro_batch_size_per_gpu);
    add_count(&b, root, "gradient_accumulation_steps", c->gradient_accumulation_steps);
    add_num(&b, root, "gradient_clipping", c->gradient_clipping);
    add_bool(&b, root, "prescale_gradients", c->prescale_gradients);
    add_num(&b, root, "gradient_predivide_factor", c->gradient_predivide_factor);
    add_count(&b, root, "steps_per_print", c->steps_per_print);
    add_bool(&b, root, "zero_allow_untested_optimizer", c->zero_allow_untested_optimizer);
    add_precision(&b, root, c);
    add_zero(&b, root, &c->zero);
    if (c->has_optimizer) {
        cJSON *o = add_obj(&b, root, "optimizer");
        add_str(&b, o, "type", zs_optimizer_type_name(c->optimizer.type));
        b.failed |= zs_optimizer_params_to_json(&c->optimizer, &c->zero, add_obj(&b, o, "params")) != 0;
    }
    if (c->scheduler.type != ZS_SCHED_NONE) {
        cJSON *s = add_obj(&b, root, "scheduler");
        add_str(&b, s, "type", zs_scheduler_type_name(c->scheduler.type));
        b.failed |= zs_scheduler_params_to_json(&c->scheduler, add_obj(&b, s, "params")) != 0;
    }
    char *text = b.failed ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        zs_fail(err, "out of memory while writing the canonical config");
    return text;
}
