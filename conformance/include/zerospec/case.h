/* A conformance case: a DeepSpeed config plus what DeepSpeed's config does not hold.
 *
 * Case file (JSON):
 * {
 *   "name": "zero2_adamw_warmuplr",            (required; [A-Za-z0-9_.-]+)
 *   "description": "free text",                (optional)
 *   "model": {"vocab": 97, "seq": 16, "channels": 32, "layers": 2, "heads": 4},  (optional; these defaults)
 *   "seed": 1234,                              (optional, default 1234; 0 <= seed < 2^63)
 *   "steps": 5,                                (optional, default 5; optimizer steps)
 *   "world_sizes": [1, 2, 4],                  (optional, default [1]; each 1..64)
 *   "ds_config": { ...DeepSpeed JSON... }      (exactly one of ds_config / ds_config_file)
 *   "ds_config_file": "relative/or/absolute.json"   (relative to the case file's directory)
 * }
 * Unknown keys are errors (named). channels must be divisible by heads. */
#ifndef ZEROSPEC_CASE_H
#define ZEROSPEC_CASE_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_MAX_WORLD_SIZES 16

typedef struct zs_model_dims {
    int vocab, seq, channels, layers, heads;
} zs_model_dims;

typedef struct zs_case {
    char name[128];
    char description[512];
    zs_model_dims model;
    uint64_t seed;
    int steps;
    int world_sizes[ZS_MAX_WORLD_SIZES];
    int n_world_sizes;
    char config_source[1024];  /* path of the DeepSpeed JSON, or "<case>:ds_config" when inline */
    char *config_json;         /* owned: the DeepSpeed JSON text (inline block re-serialized) */
    zs_ds_config config;       /* parsed */
} zs_case;

/* Default tiny model: vocab 97, seq 16, channels 32, layers 2, heads 4. */
zs_model_dims zs_model_dims_default(void);

int zs_case_load(const char *path, zs_case *out, zs_error *err);
int zs_case_parse(const char *json_text, const char *source, const char *base_dir, zs_case *out,
                  zs_error *err);
/* Builds a case around a plain DeepSpeed config file (default model, seed, steps). */
int zs_case_from_config_file(const char *config_path, zs_case *out, zs_error *err);
/* The same, resolving Hugging Face "auto" values from TrainingArguments-style `key=value` strings
 * first (zerospec/ds_auto.h), for one world size (0 = the default, 1). */
int zs_case_from_config_file_resolved(const char *config_path, const char *const *sets, int n_sets, int world,
                                      zs_case *out, zs_error *err);
void zs_case_free(zs_case *c);

#ifdef __cplusplus
}
#endif
#endif
