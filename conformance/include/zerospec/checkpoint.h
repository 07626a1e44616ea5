/* zerospec checkpoints (docs/spec/checkpoint.md): what every rank of a ZeRO run holds between two
 * optimizer steps, saved as one shard file per rank plus a manifest, so that a run can stop after
 * step k and continue, possibly on another number of ranks or another ZeRO stage.
 *
 *   DIR/manifest.json        format, run description, step counters, loss-scaler state, shard list
 *                            (file, bytes, sha256); written last
 *   DIR/rank<r>.safetensors  rank r's fp32 master partition "master" and its optimizer state
 *                            partitions (one tensor per state name), padding included
 *
 * Only model states travel: gradients are recomputed by the next step, the model-dtype parameters
 * are the masters rounded to the model dtype, and the data stream is addressed by (seed, step).
 * This file is plumbing shared by zs-ref, zs-fast and zs-check (reading, writing, validation);
 * re-partitioning a checkpoint for another world size or stage is each implementation's own job. */
#ifndef ZEROSPEC_CHECKPOINT_H
#define ZEROSPEC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/case.h"
#include "zerospec/error.h"
#include "zerospec/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_CKPT_FORMAT "zerospec.checkpoint"
#define ZS_CKPT_FORMAT_VERSION 1
#define ZS_CKPT_MAX_STATE 4
#define ZS_CKPT_MAX_WORLD 64

/* DeepSpeed's DynamicLossScaler state between steps (docs/spec/precision.md §5); a static scaler
 * stores its scale with cur_iter 0, last_overflow_iter -1. */
typedef struct zs_ckpt_scaler {
    double cur_scale;
    int64_t cur_iter, last_overflow_iter, cur_hysteresis;
} zs_ckpt_scaler;

typedef struct zs_checkpoint {
    char generator[64];
    char case_name[128];
    char precision[8];                 /* "fp32", "fp16", "bf16" */
    zs_model_dims model;
    uint64_t seed;
    int world, stage;
    size_t numel;                      /* model parameters */
    size_t part_len;                   /* each rank's partition length (padding included) */
    int64_t global_steps, applied_steps, skipped_steps;
    zs_ckpt_scaler scaler;
    int n_state;
    char state_names[ZS_CKPT_MAX_STATE][32];
    char *config_json;                 /* owned: the run's canonical DeepSpeed config */
    float **master;                    /* [world][part_len], owned */
    float **state[ZS_CKPT_MAX_STATE];  /* [n_state][world][part_len], owned */
} zs_checkpoint;

/* Allocates master and state buffers (zeroed) for c->world, c->n_state, c->part_len, which the
 * caller sets first. */
int zs_ckpt_alloc(zs_checkpoint *c, zs_error *err);
void zs_ckpt_free(zs_checkpoint *c);

/* Writes DIR (created if missing, one level): every shard atomically, then the manifest. */
int zs_ckpt_save(const zs_checkpoint *c, const char *dir, zs_error *err);

/* Reads and validates DIR: manifest syntax and keys, one shard per rank, each shard's size and
 * sha256 against the manifest, its metadata (rank, world, step) and tensors (names, lengths,
 * finite values). Any failure is one message naming the file and the rule. */
int zs_ckpt_load(const char *dir, zs_checkpoint *c, zs_error *err);

/* The manifest's run description, counters and scaler state from its text (no shards, no buffers
 * allocated); what zs_ckpt_load does first. `source` names it in messages. */
int zs_ckpt_parse_manifest(const char *text, const char *source, zs_checkpoint *c, zs_error *err);

/* Whether the checkpoint continues this run: the same model (dims and numel), seed (the data stream
 * is a function of (seed, step)) and precision, and the optimizer-state names the resuming run needs.
 * index[k] receives the checkpoint's position of state_names[k] (a trace lists states by name, not
 * in the optimizer's order). -1 naming both values otherwise. The layout (stage, world size) may
 * differ: re-partitioning is each implementation's job. */
int zs_ckpt_check_run(const zs_checkpoint *c, const zs_model_dims *dims, size_t numel, uint64_t seed,
                      const char *precision, const char *const *state_names, int n_state, int *index,
                      zs_error *err);

/* Removes a checkpoint directory written by zs_ckpt_save (its manifest, rank shards and the directory
 * itself, which must then be empty). Missing files are not an error. */
void zs_ckpt_remove(const char *dir);

/* The state of a golden trace right after step k (k >= 1), as a checkpoint: the per-rank master and
 * optimizer-state partitions the trace recorded for step k, the counters from its skipped flags and,
 * for fp16, the loss-scaler state it recorded (step<k>/loss_scaler). This is how zs-check restarts an
 * implementation from the golden state ("teacher forcing"). */
int zs_ckpt_from_trace(const zs_st_file *trace, const char *trace_name, int64_t k, zs_checkpoint *c,
                       zs_error *err);

/* 1 when every per-rank tensor of the trace besides loss and grad is a partition-length state (so
 * zs_ckpt_from_trace can express it); 0 with the reason otherwise (e.g. the 1-bit optimizers'
 * error-feedback buffers, whose length depends on the world size, not the partition). */
int zs_ckpt_trace_restartable(const zs_st_file *trace, zs_error *why);

/* 1 when the DeepSpeed config recorded in the trace's "config" metadata names optimizer type `type`
 * (compared case-insensitively, as DeepSpeed does); 0 otherwise, also without a config. */
int zs_trace_optimizer_is(const zs_st_file *trace, const char *type);

#ifdef __cplusplus
}
#endif
#endif
