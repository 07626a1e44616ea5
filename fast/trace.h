/* The trace of a zs-fast run: the same file zs-ref writes (docs/spec.md §13), gathered to rank 0.
 * Every rank calls every function (each is collective); only rank 0 holds the writer. */
#ifndef ZS_FAST_TRACE_H
#define ZS_FAST_TRACE_H

#include "engine.h"
#include "zerospec/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZSF_TRACE_FORMAT "zerospec.trace"
#define ZSF_TRACE_FORMAT_VERSION "1"
#define ZSF_SPEC_VERSION "0.2.0"
#define ZSF_DEEPSPEED_VERSION "0.19.6"
#define ZSF_GENERATOR "zs-fast " ZSF_SPEC_VERSION

typedef struct zsf_trace {
    zs_st_writer *w;         /* rank 0 only */
    float *mine;             /* (2 + states) * len: this rank's partitions */
    float *all;              /* rank 0: world * len, one tensor kind of every rank */
    float *full;             /* rank 0: numel, consolidated parameters */
} zsf_trace;

/* Metadata and init/param/<name> (the initial consolidated master parameters). */
void zsf_trace_begin(zsf_trace *t, zsf_engine *e);
/* Records the state right after zsf_engine_step. */
void zsf_trace_step(zsf_trace *t, zsf_engine *e, const zsf_step_report *rep);
/* Rank 0 writes the file atomically. Returns 0, or 1 on every rank (message in err) if it failed. */
int zsf_trace_finish(zsf_trace *t, const char *path, zs_error *err);
void zsf_trace_free(zsf_trace *t);

#ifdef __cplusplus
}
#endif
#endif
