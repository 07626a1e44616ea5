/* zs-fast's --save and --resume (docs/spec/checkpoint.md): the file format and its validation are
 * zs_common's (zerospec/checkpoint.h); the re-partitioning is ckpt_layout.c; this file moves the
 * partitions between the ranks' devices and the files. */
#ifndef ZS_FAST_CKPT_IO_H
#define ZS_FAST_CKPT_IO_H

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every rank reads DIR and takes its partition under this run's layout. Returns 0, or 2 (bad input:
 * the same message on every rank, which all read the same files). */
int zsf_ckpt_resume(zsf_engine *e, const char *dir, zs_error *err);

/* Rank 0 gathers every rank's master and optimizer-state partitions and writes DIR. Returns 0 or 1
 * (on every rank). */
int zsf_ckpt_save(zsf_engine *e, const char *dir, zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
