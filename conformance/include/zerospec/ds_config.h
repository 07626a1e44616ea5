/* DeepSpeed JSON config: parsing, validation and resolution into typed, fully-defaulted structs.
 *
 * This is plumbing shared by reference/, fast/ and tools/ (it does no numerics). It follows
 * DeepSpeed v0.19.6 (deepspeedai/DeepSpeed@edaa7221) unless a field comment says otherwise;
 * docs/spec/config.md lists every key, default and rule with its DeepSpeed source.
 *
 * Error messages name the key by its JSON path (e.g. "zero_optimization.stage") and the rule.
 * Invalid JSON reports "line L, column C". Every key seen is recorded in a key report with its
 * status, for `zs-ref config check`. */
#ifndef ZEROSPEC_DS_CONFIG_H
#define ZEROSPEC_DS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zs_precision { ZS_PREC_FP32 = 0, ZS_PREC_FP16, ZS_PREC_BF16 } zs_precision;

typedef enum zs_optimizer_type {
    ZS_OPT_NONE = 0, /* no "optimizer" block: rejected by zs-ref (there is no client optimizer) */
    ZS_OPT_ADAM,
    ZS_OPT_ADAMW,
    ZS_OPT_LAMB,
    ZS_OPT_ONEBIT_ADAM,
    ZS_OPT_ZERO_ONE_ADAM,
    ZS_OPT_ONEBIT_LAMB,
    ZS_OPT_ADAGRAD,
    ZS_OPT_LION,
    ZS_OPT_MUON,
    ZS_OPT_MUADAM,
    ZS_OPT_MUADAMW,
    ZS_OPT_MUSGD,
    ZS_OPT_SGD, /* torch.optim.SGD, spelled exactly "SGD" as DeepSpeed requires */
    ZS_OPT_COUNT
} zs_optimizer_type;

typedef enum zs_scheduler_type {
    ZS_SCHED_NONE = 0, /* constant lr = optimizer.params.lr */
    ZS_SCHED_LR_RANGE_TEST,
    ZS_SCHED_ONE_CYCLE,
    ZS_SCHED_WARMUP_LR,
    ZS_SCHED_WARMUP_DECAY_LR,
    ZS_SCHED_WARMUP_COSINE_LR,
    ZS_SCHED_COUNT
} zs_scheduler_type;

typedef enum zs_warmup_type { ZS_WARMUP_LOG = 0, ZS_WARMUP_LINEAR } zs_warmup_type;

/* Optimizer hyper-parameters, defaults already applied for the chosen type (DeepSpeed's
 * constructor defaults; docs/spec/config.md "Optimizer"). Fields irrelevant to the type keep defaults. */
typedef struct zs_optimizer_config {
    zs_optimizer_type type;
    char type_name[32];        /* as written in the config */
    double lr;
    double betas[2];
    double eps;
    double weight_decay;
    int adam_w_mode;           /* effective: 1 for AdamW and MuAdamW, 0 for MuAdam,
                                  "adam_w_mode" (default true) for Adam */
    int bias_correction;       /* default 1 */
    int torch_adam;            /* default 0; 1 for MuAdam/MuAdamW (they are torch.optim.Adam/AdamW) */
    int amsgrad;               /* must be 0 (FusedAdam raises) */
    /* Lamb / OneBitLamb */
    double max_coeff, min_coeff;
    int eps_inside_sqrt;
    /* 1-bit family */
    int64_t freeze_step;
    int64_t var_freeze_step, var_update_scaler, local_step_scaler, local_step_clipper;
    double coeff_beta, factor_max, factor_min, factor_threshold;
    /* Adagrad */
    double lr_decay, initial_accumulator_value;
    /* SGD / MuSGD / Muon */
    double momentum, dampening;
    int nesterov;
    /* Muon */
    double muon_lr, adam_lr;   /* Muon: effective group lrs (muon_lr, else lr, else 0.02; adam_lr, else lr,
                                  else 3e-4); lr holds muon_lr. 0 for other types */
    char ns_method[16];        /* "gram" (default) or "standard" */
} zs_optimizer_config;

typedef struct zs_scheduler_config {
    zs_scheduler_type type;
    char type_name[32];
    /* WarmupLR / WarmupDecayLR / WarmupCosineLR */
    double warmup_min_lr, warmup_max_lr;   /* WarmupLR: max defaults to optimizer lr (v0.17.2+);
                                              WarmupDecayLR: to 0.001 */
    int64_t warmup_num_steps;              /* default 1000 */
    zs_warmup_type warmup_type;            /* default log */
    int64_t total_num_steps;               /* required by WarmupDecayLR and WarmupCosineLR */
    double warmup_min_ratio, cos_min_ratio;
    /* LRRangeTest */
    double lr_range_test_min_lr, lr_range_test_step_rate;
    int64_t lr_range_test_step_size;
    int lr_range_test_staircase;
    /* OneCycle */
    double cycle_min_lr, cycle_max_lr, decay_lr_rate;
    int64_t cycle_first_step_size, cycle_second_step_size;   /* second: effective (absent = first) */
    int64_t cycle_first_stair_count, cycle_second_stair_count, decay_step_size; /* second: effective */
    int cycle_momentum;                    /* effective: off when the optimizer has no betas */
    double cycle_min_mom, cycle_max_mom, decay_mom_rate;
} zs_scheduler_config;

typedef struct zs_fp16_config {
    int enabled;
    int auto_cast;
    double loss_scale;            /* 0 = dynamic */
    int initial_scale_power;      /* default 16 */
    int64_t loss_scale_window;    /* default 1000 */
    int hysteresis;               /* default 2 */
    int consecutive_hysteresis;   /* default 0 */
    double min_loss_scale;        /* default 1 */
} zs_fp16_config;

typedef struct zs_bf16_config {
    int enabled;
    int immediate_grad_update;
    int check_grad_overflow;      /* default 1 (v0.19.3+) */
} zs_bf16_config;

typedef enum zs_offload_device { ZS_OFFLOAD_NONE = 0, ZS_OFFLOAD_CPU, ZS_OFFLOAD_NVME } zs_offload_device;

typedef struct zs_offload_config {
    zs_offload_device device;
    int pin_memory;               /* default 1 (v0.19.5+) */
    double ratio;                 /* offload_optimizer only, default 1.0 */
} zs_offload_config;

typedef struct zs_zero_config {
    int stage;                            /* 0..3, default 0 */
    zs_offload_config offload_optimizer;
    zs_offload_config offload_param;      /* only used at stage 3 (DeepSpeed ignores it below; reset
                                             to device none there) */
    int contiguous_gradients;             /* default 1 */
    int reduce_scatter;                   /* default 1 */
    int overlap_comm;                     /* default: 1 iff stage 3 */
    int round_robin_gradients;            /* default 0; 1 is rejected (not modelled) */
    int allgather_partitions;             /* default 1 */
    int64_t reduce_bucket_size;           /* elements, default 5e8 */
    int64_t allgather_bucket_size;        /* elements, default 5e8 */
    int64_t sub_group_size;               /* default 1e9 */
    int64_t stage3_prefetch_bucket_size, stage3_param_persistence_threshold;
    int64_t stage3_max_live_parameters, stage3_max_reuse_distance;
} zs_zero_config;

/* Status of each key met while parsing (for `zs-ref config check`). */
typedef enum zs_key_status {
    ZS_KEY_USED = 0,        /* read and modelled by zerospec */
    ZS_KEY_ACCEPTED,        /* valid DeepSpeed key, recorded, does not change zerospec numerics */
    ZS_KEY_IGNORED,         /* valid, but DeepSpeed itself ignores it here (message says why) */
    ZS_KEY_UNKNOWN,         /* not a DeepSpeed key at this place (error inside strict sections) */
    ZS_KEY_INVALID          /* wrong type or value (error) */
} zs_key_status;

typedef struct zs_key_entry {
    char path[128];         /* e.g. "zero_optimization.offload_param" */
    zs_key_status status;
    char note[256];
} zs_key_entry;

typedef struct zs_key_report {
    zs_key_entry *entries;
    size_t count, cap;
} zs_key_report;

typedef struct zs_ds_config {
    /* batch triple as written (0 = absent); resolved per world size by zs_ds_config_resolve_batch */
    int64_t train_batch_size, train_micro_batch_size_per_gpu, gradient_accumulation_steps;
    double gradient_clipping;             /* default 1.0 (v0.19.3+); 0 = off */
    int prescale_gradients;               /* default 0 */
    double gradient_predivide_factor;     /* default 1.0 */
    int steps_per_print;                  /* 0 = not given (v0.19.6 default None: no progress lines) */
    zs_precision precision;
    zs_fp16_config fp16;
    zs_bf16_config bf16;
    zs_zero_config zero;
    int has_optimizer;
    zs_optimizer_config optimizer;
    zs_scheduler_config scheduler;
    int zero_allow_untested_optimizer;
    zs_key_report report;                 /* owned; freed by zs_ds_config_free */
    char *canonical_json;                 /* owned; compact JSON of the resolved config (for trace metadata) */
} zs_ds_config;

/* Resolved batch for one world size (DeepSpeed config.py _set_batch_related_parameters). */
typedef struct zs_batch {
    int64_t train_batch_size, micro_batch, grad_accum_steps;
} zs_batch;

/* Parses JSON text. `source` names it in messages (a path, or "<string>").
 * Returns -1 for any error: invalid JSON (with line and column), duplicate keys, unknown keys in
 * strict sections, wrong types/values, unsupported combinations; the message names the key.
 * Warnings (keys DeepSpeed ignores: unknown top-level keys as ZS_KEY_UNKNOWN, offload_param below
 * stage 3 as ZS_KEY_IGNORED) are recorded in the report and do not fail. On failure `out` is left
 * empty (zeroed); zs_ds_config_free is harmless on it. */
int zs_ds_config_parse(const char *json_text, const char *source, zs_ds_config *out, zs_error *err);
int zs_ds_config_load(const char *path, zs_ds_config *out, zs_error *err);
void zs_ds_config_free(zs_ds_config *cfg);

/* Resolves the batch triple for `world` data-parallel ranks, exactly as DeepSpeed does, with its
 * error when inconsistent (names the three values and the world size). */
int zs_ds_config_resolve_batch(const zs_ds_config *cfg, int world, zs_batch *out, zs_error *err);

const char *zs_optimizer_type_name(zs_optimizer_type t);  /* canonical: "Adam", "AdamW", ... */
const char *zs_scheduler_type_name(zs_scheduler_type t);  /* "WarmupLR", ... or "none" */
const char *zs_precision_name(zs_precision p);            /* "fp32", "fp16", "bf16" */
const char *zs_key_status_name(zs_key_status s);          /* "used", "accepted", ... */

/* Converts a byte offset into 1-based line and column (used for JSON error positions). */
void zs_text_line_col(const char *text, size_t offset, int *line, int *col);

#ifdef __cplusplus
}
#endif
#endif
