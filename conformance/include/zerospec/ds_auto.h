/* Resolving the Hugging Face Trainer's "auto" values in a DeepSpeed config.
 *
 * The Trainer replaces "auto" with TrainingArguments values before DeepSpeed sees the config
 * (transformers integrations/deepspeed.py HfTrainerDeepSpeedConfig.trainer_config_process and
 * trainer_config_finalize). zerospec does the same from `key=value` strings named after the
 * TrainingArguments (plus the two values the Trainer computes), with TrainingArguments' defaults for
 * the ones not given:
 *
 *   learning_rate 5e-5, adam_beta1 0.9, adam_beta2 0.999, adam_epsilon 1e-8, weight_decay 0,
 *   max_grad_norm 1.0, per_device_train_batch_size 8, gradient_accumulation_steps 1,
 *   warmup_steps 0 (>= 1: steps; in (0, 1): a ratio of num_training_steps), warmup_ratio 0,
 *   fp16 false, bf16 false; no default for world_size, num_training_steps, hidden_size.
 *
 * docs/spec/config.md "Resolving auto" has the key-by-key mapping and the differences from the
 * Trainer. */
#ifndef ZEROSPEC_DS_AUTO_H
#define ZEROSPEC_DS_AUTO_H

#include <cjson/cJSON.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replaces every "auto" in the config object `root` in place. Fails (-1, message in err) on a
 * malformed or unknown `sets` entry, on an "auto" that cannot be resolved (a key the Trainer does
 * not fill, or one that needs world_size / num_training_steps / hidden_size not given; all are
 * named in one message), and when a value given in `sets` disagrees with a non-"auto" config value
 * (the Trainer's mismatch check). */
int zs_ds_config_resolve_auto(cJSON *root, const char *const *sets, int n_sets, zs_error *err);

/* Convenience for tools: strict-parses `json_text` (line/column errors), resolves "auto" with
 * `sets`, then parses the result as zs_ds_config_parse does. */
int zs_ds_config_parse_resolved(const char *json_text, const char *source, const char *const *sets, int n_sets,
                                zs_ds_config *out, zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
