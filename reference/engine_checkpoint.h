/* Saving and resuming the simulated engine through zerospec checkpoints (docs/spec/checkpoint.md).
 *
 * A checkpoint holds each rank's fp32 master and optimizer-state partitions in the layout of the run
 * that wrote it. Resuming consolidates them into full flat vectors with that run's partition map and
 * cuts them again with the resuming run's map, so a run saved at (stage a, W ranks) continues at
 * (stage b, M ranks); the model-dtype parameters are the masters rounded to the model dtype, exactly
 * what every rank holds after a step. */
#ifndef ZS_REFERENCE_ENGINE_CHECKPOINT_H
#define ZS_REFERENCE_ENGINE_CHECKPOINT_H

#include "engine.h"
#include "zerospec/checkpoint.h"

/* 0 when the engine's state fits a checkpoint; -1 naming `what` is refused and why otherwise (the
 * 1-bit optimizers: per-rank error-feedback buffers sized by the world size, diverging ranks). */
int zs_engine_can_checkpoint(const zs_engine *e, const char *what, zs_error *err);

/* Fills `out` with what the engine's ranks hold now (between steps). */
int zs_engine_checkpoint(const zs_engine *e, const char *generator, zs_checkpoint *out, zs_error *err);

/* Replaces a freshly initialised engine's state by the checkpoint's. Refuses (naming both values) a
 * checkpoint of another model, seed, precision or optimizer-state set, and one whose partition length
 * is not the spec's for its stage and world size. */
int zs_engine_resume(zs_engine *e, const zs_checkpoint *c, zs_error *err);

/* The checkpoint's fp32 masters (numel) and optimizer states (n_state x numel) as full flat vectors
 * in HF order, for the model `model`. states may be NULL. */
int zs_checkpoint_consolidate(const zs_checkpoint *c, const zs_gpt2 *model, float *master, float *const *states,
                              zs_error *err);

#endif
