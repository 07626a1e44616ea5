/* offload_optimizer (ZeRO stages 1-3, device cpu or nvme): the rank's fp32 master partition and
 * optimizer state live in pinned host memory (cudaHostAlloc) and the step runs on the CPU
 * (cpu_optim.h, optim_math.h's rules: bit-identical to the GPU path, as the spec requires).
 *
 * One step is a pipeline over chunks of the partition:
 *
 *   d2h stream:  grad[0] grad[1] grad[2] ...          (all enqueued at once, an event after each)
 *   CPU:                 step[0] step[1] step[2] ...  (waits for chunk i's event, steps and casts it)
 *   h2d stream:                  model[0] model[1] ...(chunk i's model-dtype values back to the GPU)
 *
 * so the copies of later (and earlier) chunks run while the CPU steps chunk i; the compute stream
 * waits for the last copy. DeepSpeed's stage_1_and_2.py / stage3.py do the same movement (gradient
 * partition to the CPU, DeepSpeedCPUAdam, fp16 partition back) with their own buffers. */
#ifndef ZS_FAST_OFFLOAD_H
#define ZS_FAST_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "alloc.h"
#include "optim_rules.h"
#include "rounding.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elements per pipeline chunk (4 MiB of fp32). */
#define ZSF_OFFLOAD_CHUNK ((size_t)1 << 20)

/* Host bytes of the offloaded state, by row of the memory report. */
typedef struct zsf_host_memory {
    int64_t params, grads, optimizer, working;
} zsf_host_memory;

typedef struct zsf_offload {
    size_t len, chunk;
    int n_chunks, n_state, threads;
    zsf_dtype dt;
    float *grad;                      /* pinned: the reduced gradient partition (DeepSpeed's CPU .grad) */
    float *master;                    /* pinned: the fp32 master partition */
    float *state[ZSF_OPTIM_N_STATE];  /* pinned: optimizer state */
    float *model;                     /* pinned: the master cast to the model dtype, as floats (= master
                                         in fp32 unless the caller holds its own host copy, offload_param) */
    void *up;                         /* pinned: what goes up, the model dtype's storage (fp32: = model;
                                         fp16/bf16: model narrowed to 16 bits, or offload_param's shard) */
    int model_owned, up_owned;
    cudaStream_t d2h, h2d;
    cudaEvent_t *landed;              /* per chunk: its gradient is on the host */
    cudaEvent_t start, done;
} zsf_offload;

/* len elements, n_state state tensors, model dtype dt. host_model: where the model-dtype partition
 * should land on the host (offload_param's pinned shard, len elements of dt's storage), or NULL. threads: CPU threads
 * (0: all). chunk: elements per pipeline chunk (0: ZSF_OFFLOAD_CHUNK). Adds its bytes to *mem. */
void zsf_offload_init(zsf_offload *o, size_t len, int n_state, zsf_dtype dt, void *host_model, int threads,
                      size_t chunk, zsf_host_memory *mem);
void zsf_offload_free(zsf_offload *o);

/* The master and state start from these device values (len floats each; state zeroed). */
void zsf_offload_upload_master(zsf_offload *o, const float *master_dev, cudaStream_t s);

/* A checkpoint's master and state (host, len floats each) replace the host state; the model-dtype
 * partition is formed from the master as a step forms it (o->model, o->up) and, when model_dev is not
 * NULL (len elements of dt's storage), copied to model_dev, ordered on stream s. */
void zsf_offload_load(zsf_offload *o, const float *master, const float *const *state, void *model_dev,
                      cudaStream_t s);

/* One step: grad_dev (len floats on the device, ready in stream s) to the host chunk by chunk, each
 * chunk stepped on the CPU with sc and inv (g = grad * inv), its model-dtype values written to
 * o->model, stored in dt (o->up) and, when model_dev is not NULL, copied to model_dev (dt's
 * storage). Stream s waits for the copies. */
void zsf_offload_step(zsf_offload *o, const zsf_optim_scalars *sc, float inv, const float *grad_dev, void *model_dev,
                      cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
