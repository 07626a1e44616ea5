/* The batch triple: train_batch_size (TB), train_micro_batch_size_per_gpu (MB) and
 * gradient_accumulation_steps (G), related by TB == MB * G * world_size.
 *
 * Resolution follows DeepSpeed v0.19.6 runtime/config.py DeepSpeedConfig._set_batch_related_parameters
 * and _batch_assertion exactly, including Python's floor division and the assertion texts. */
#include "ds_config_parse.h"

static const char *const batch_keys[3] = {"train_batch_size", "train_micro_batch_size_per_gpu",
                                          "gradient_accumulation_steps"};

int zs_ds_parse_batch(zs_ds_parse *p)
{
    int64_t *fields[3] = {&p->cfg->train_batch_size, &p->cfg->train_micro_batch_size_per_gpu,
                          &p->cfg->gradient_accumulation_steps};
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->root, batch_keys[k]);
        *fields[k] = 0;
        if (!v || cJSON_IsNull(v)) /* get_scalar_param: None means "not given" */
            continue;
        /* A written value <= 0 always ends in a DeepSpeed assertion (or ZeroDivisionError): say so now. */
        if (zs_json_int(v, batch_keys[k], 1, INT64_MAX, fields[k], p->err)) {
            zs_report_set(&p->cfg->report, batch_keys[k], ZS_KEY_INVALID, "must be a positive integer");
            return -1;
        }
        zs_report_set(&p->cfg->report, batch_keys[k], ZS_KEY_USED, "batch triple");
    }
    return 0;
}

/* Python's a // b (rounds toward minus infinity). */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int zs_ds_config_resolve_batch(const zs_ds_config *cfg, int world, zs_batch *out, zs_error *err)
{
    if (world < 1)
        return zs_fail(err, "world size must be >= 1, got %d", world);
    int64_t tb = cfg->train_batch_size, mb = cfg->train_micro_batch_size_per_gpu;
    int64_t g = cfg->gradient_accumulation_steps, w = world;
    /* 0 means "not given"; a hand-built config could still hold a negative value */
    if (tb && mb && g) {
        /* all given: nothing to derive */
    } else if (tb && mb) {
        g = floordiv(floordiv(tb, mb), w);
    } else if (tb && g) {
        mb = floordiv(floordiv(tb, w), g);
    } else if (mb && g) {
        if (__builtin_mul_overflow(mb, g, &tb) || __builtin_mul_overflow(tb, w, &tb))
            return zs_fail(err, "train_batch_size = %lld * %lld * %d overflows", (long long)mb, (long long)g,
                           world);
    } else if (tb) {
        g = 1;
        mb = floordiv(tb, w);
    } else if (mb) {
        if (__builtin_mul_overflow(mb, w, &tb))
            return zs_fail(err, "train_batch_size = %lld * %d overflows", (long long)mb, world);
        g = 1;
    } else {
        return zs_fail(err, "Either train_batch_size or train_micro_batch_size_per_gpu needs to be provided");
    }
    if (!(tb > 0))
        return zs_fail(err, "Train batch size: %lld has to be greater than 0", (long long)tb);
    if (!(mb > 0))
        return zs_fail(err, "Micro batch size per gpu: %lld has to be greater than 0", (long long)mb);
    if (!(g > 0))
        return zs_fail(err, "Gradient accumulation steps: %lld has to be greater than 0", (long long)g);
    int64_t prod;
    if (__builtin_mul_overflow(mb, g, &prod) || __builtin_mul_overflow(prod, w, &prod) || tb != prod)
        return zs_fail(err,
                       "Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * "
                       "gradient_acc_step * world_size %lld != %lld * %lld * %d",
                       (long long)tb, (long long)mb, (long long)g, world);
    out->train_batch_size = tb;
    out->micro_batch = mb;
    out->grad_accum_steps = g;
    return 0;
}
