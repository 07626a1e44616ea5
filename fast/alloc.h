/* Counted allocations: every buffer zs-fast makes for a rank adds its bytes to one row of the memory
 * report (engine.h zsf_memory on the device, offload.h zsf_host_memory on the host), so the report is
 * exactly what was allocated. Zero bytes still allocate (one byte), so every pointer can be freed. */
#ifndef ZS_FAST_ALLOC_H
#define ZS_FAST_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cudaMalloc'ed device memory. */
void *zsf_device_bytes(int64_t *row, size_t bytes);
/* cudaHostAlloc'ed (pinned: DMA-able, DeepSpeed's pin_memory default) host memory. */
void *zsf_host_bytes(int64_t *row, size_t bytes);
float *zsf_host_floats(int64_t *row, size_t n);

#ifdef __cplusplus
}
#endif
#endif
