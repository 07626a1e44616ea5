/* DeepSpeed's error-compensated 1-bit all-reduce on the GPU (docs/spec/optimizers.md §8.1), as
 * runtime/comm/nccl.py NcclBackend.compressed_allreduce does it: every rank compresses its buffer
 * (error feedback, one scale, signs packed as bits), the packed chunks go to their servers (all-to-all)
 * with every rank's scale (all-gather), each rank averages its chunk and compresses it again with its
 * own error buffer, and the compressed chunks and their scales are all-gathered.
 *
 * x holds N floats (N = zsf_onebit_padded(n, W), padding filled by the caller), werr N, serr N/W; the
 * result replaces x, identical on every rank. */
#ifndef ZS_FAST_COMPRESSED_ALLREDUCE_H
#define ZS_FAST_COMPRESSED_ALLREDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_car {
    size_t max_n;
    int world;
    uint8_t *bits, *recv, *gathered;   /* N/8 bytes each: own signs, the chunks received, all chunks */
    float *scalars;                    /* [own scale, own chunk scale, W worker scales, W chunk scales] */
} zsf_car;

/* Device workspace for buffers of up to max_n floats; its bytes are added to *row. */
void zsf_car_init(zsf_car *w, size_t max_n, int world, int64_t *row);
void zsf_car_free(zsf_car *w);

void zsf_compressed_allreduce(zsf_comm *c, zsf_car *w, float *x, size_t n, float *werr, float *serr);

#ifdef __cplusplus
}
#endif
#endif
