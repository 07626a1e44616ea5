/* zerospec plugin ABI, version 1: how a third party's kernels are checked against the golden
 * op-level cases without the model (docs/conformance.md "Checking your kernels").
 *
 * A plugin is a shared library exporting one symbol:
 *
 *     const zs_plugin *zerospec_plugin_v1(void);
 *
 * returning a struct of function pointers. `zs-check plugin LIB.so` loads it with dlopen, checks
 * `abi_version` and `struct_size` (so older plugins keep working when the struct grows at its end),
 * and runs every op-level case (fixtures/ops/) whose entry point the plugin fills. A NULL entry, or
 * an entry returning ZS_PLUGIN_UNSUPPORTED for a given configuration, is reported as skipped, not
 * failed. All buffers are host memory; a CUDA plugin copies to and from the device inside the call.
 * Plain C, no zerospec headers needed beyond this one. */
#ifndef ZEROSPEC_PLUGIN_H
#define ZEROSPEC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_PLUGIN_ABI_VERSION 1u
#define ZS_PLUGIN_SYMBOL "zerospec_plugin_v1"

enum {
    ZS_PLUGIN_OK = 0,
    ZS_PLUGIN_UNSUPPORTED = 1, /* this entry does not handle these arguments: the case is skipped */
    ZS_PLUGIN_ERROR = -1       /* the plugin failed: the case fails, with the plugin's message */
};

/* Optimizer hyper-parameters (DeepSpeed names; docs/spec/optimizers.md defines each rule). */
typedef struct zs_plugin_hparams {
    double lr, beta1, beta2, eps, weight_decay;
    int adam_w_mode;               /* Adam/AdamW: 1 = decoupled weight decay, 0 = L2 */
    int bias_correction;
    int torch_adam;                /* torch.optim.Adam/AdamW formulas instead of FusedAdam's */
    double max_coeff, min_coeff;   /* Lamb */
    int eps_inside_sqrt;           /* Lamb */
    double lr_decay, initial_accumulator_value;   /* Adagrad */
    double momentum, dampening;    /* SGD */
    int nesterov;                  /* SGD */
} zs_plugin_hparams;

/* One optimizer step over one rank's flat fp32 partition, updated in place. */
typedef struct zs_plugin_optimizer_step {
    const char *optimizer;         /* "Adam", "AdamW", "Lamb", "Adagrad", "Lion", "SGD" */
    const zs_plugin_hparams *hp;
    int64_t step;                  /* 1-based count of applied steps including this one */
    size_t n;
    float *param;                  /* in/out */
    const float *grad;             /* unscaled, clipped fp32 gradient */
    int n_state;
    const char *const *state_names;   /* e.g. "exp_avg", "exp_avg_sq" */
    float *const *state;           /* in/out, n floats each, zero before the first step */
} zs_plugin_optimizer_step;

/* Loss-scale update of DeepSpeed's DynamicLossScaler (docs/spec/precision.md). */
typedef struct zs_plugin_loss_scaler {
    double cur_scale, min_scale;
    int64_t scale_window, cur_iter, last_overflow_iter;
    int delayed_shift, cur_hysteresis, consecutive_hysteresis;
} zs_plugin_loss_scaler;

/* Global-norm unscale and clip over W ranks' partitions (docs/spec.md §11): computes the norm of the
 * scaled gradient across ranks and scales every partition in place by 1 / combined. */
typedef struct zs_plugin_unscale_clip {
    int world;
    size_t len;                    /* partition length */
    float *const *grads;           /* [world][len], in/out (fp32 copies of the gradient partitions) */
    float loss_scale;
    double clip;                   /* gradient_clipping, 0 = off */
    float norm;                    /* out: the unscaled global norm, N_scaled / S */
} zs_plugin_unscale_clip;

/* Collective semantics over W ranks' buffers (docs/spec.md §7). dtype: "F32", "F16", "BF16": sums
 * are rounded to that format after every addition. */
typedef struct zs_plugin_collective {
    int world;
    size_t chunk;                  /* elements per rank block */
    const char *dtype;
    const float *const *send;      /* reduce-scatter: [world][world*chunk]; all-gather: [world][chunk] */
    float *const *recv;            /* reduce-scatter: [world][chunk];       all-gather: [world][world*chunk] */
} zs_plugin_collective;

typedef struct zs_plugin {
    uint32_t abi_version;          /* ZS_PLUGIN_ABI_VERSION */
    uint32_t struct_size;          /* sizeof(zs_plugin) as the plugin was compiled */
    const char *name;
    /* Each entry may be NULL. Return ZS_PLUGIN_OK, ZS_PLUGIN_UNSUPPORTED or ZS_PLUGIN_ERROR. */
    int (*optimizer_step)(const zs_plugin_optimizer_step *args);
    /* lr for optimizer step k (0-based) of a DeepSpeed scheduler described by its config JSON,
     * e.g. {"type": "WarmupLR", "params": {...}}, with the optimizer's lr as base_lr. */
    int (*scheduler_lr)(const char *scheduler_json, double base_lr, int64_t k, double *lr);
    int (*loss_scale_update)(zs_plugin_loss_scaler *state, int overflow);
    int (*unscale_clip)(zs_plugin_unscale_clip *args);
    int (*reduce_scatter_sum)(const zs_plugin_collective *args);
    int (*all_gather)(const zs_plugin_collective *args);
    /* Round fp32 values to "F16" or "BF16" (round to nearest even), in place, results as floats. */
    int (*round_to)(const char *dtype, float *values, size_t n);
    /* Optional: a message for the last ZS_PLUGIN_ERROR. */
    const char *(*last_error)(void);
} zs_plugin;

typedef const zs_plugin *(*zs_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
