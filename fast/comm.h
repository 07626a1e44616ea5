/* Ranks, devices, streams and collectives of zs-fast (one MPI process per rank).
 *
 * Bootstrap: MPI_Init (main.c); the local rank (OMPI_COMM_WORLD_LOCAL_RANK, else MPI's shared-memory
 * split) modulo the visible device count picks the GPU. Backend "nccl": rank 0 makes the
 * ncclUniqueId, MPI_Bcast shares it, ncclCommInitRank; collectives run on a dedicated comm stream
 * ordered after the compute stream with events (stage 3's per-unit gathers and reduce-scatters overlap
 * compute: the *_on variants). Backend "mpi":
 * buffers are staged through the host and reduced with MPI in rank order — the spec's left fold
 * ((x_0 + x_1) + x_2) + ... (docs/spec.md §7), so the sums are bit-identical to the reference's — and
 * several ranks may share one GPU.
 *
 * All device buffers are ordered on `compute`; a collective returns with its result ordered on it too.
 * Bucketed collectives use the exchange layout of partition.h.
 *
 * Buffers of the three sums and the gather hold model-dtype elements (zsf_dtype_size(dt) bytes
 * each: 16-bit storage for fp16/bf16, rounding.h's bits). Sums in fp16/bf16 round every partial sum to
 * the model dtype, as the spec's collectives do: NCCL runs in ncclHalf / ncclBfloat16, whose
 * reduction widens, adds and rounds at each step; the mpi backend stages the 16-bit buffers through
 * the host and folds in rank order (widen, add, round), bit-identical to the reference. At W <= 2 the
 * two agree bit for bit (one rounded addition); above, NCCL's order differs from the fold by rounding
 * only (docs/conformance.md). */
#ifndef ZS_FAST_COMM_H
#define ZS_FAST_COMM_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cli.h"
#include "partition.h"
#include "rounding.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_comm {
    int rank, world;
    int local_rank, local_size;   /* among the ranks on this host */
    int device, n_devices;
    zsf_backend backend;
    ncclComm_t nccl;              /* NULL for the mpi backend */
    cudaStream_t compute;         /* kernels, cuBLAS, copies */
    cudaStream_t comm_stream;     /* NCCL collectives */
    cudaEvent_t ready, done;
    unsigned char *host;          /* staging for the mpi backend */
    size_t host_bytes;
} zsf_comm;

/* After MPI_Init. Returns 0, or an exit status (2: bad usage, e.g. the nccl backend with more ranks
 * than GPUs on a host; 1: no usable device) with the message in err. Every rank returns the same. */
int zsf_comm_init(zsf_comm *c, zsf_backend backend, zs_error *err);
void zsf_comm_free(zsf_comm *c);

/* Host waits until the compute stream is idle, polling NCCL's asynchronous errors meanwhile. */
void zsf_comm_sync(zsf_comm *c);

/* buf[0..n) (model dtype dt) summed over ranks on every rank; buckets cut [0, n). */
void zsf_all_reduce_sum(zsf_comm *c, void *buf, const zsf_bucket *b, int nb, zsf_dtype dt);
/* xbuf: this rank's W*len exchange buffer; part[len] receives the sum over ranks of this rank's blocks. */
void zsf_reduce_scatter_sum(zsf_comm *c, const void *xbuf, void *part, const zsf_bucket *b, int nb, zsf_dtype dt);
/* part[len] of every rank -> xbuf[W*len] on every rank, in the exchange layout (elements of dt). */
void zsf_all_gather(zsf_comm *c, const void *part, void *xbuf, const zsf_bucket *b, int nb, zsf_dtype dt);

/* The same two collectives queued on stream `s` with no ordering of their own: the caller orders `s`
 * against the streams that produce and consume the buffers (stage 3's per-unit pipeline on
 * comm_stream, engine.cu). The mpi backend stages through the host on `s` and returns when done. */
void zsf_reduce_scatter_sum_on(zsf_comm *c, cudaStream_t s, const void *xbuf, void *part, const zsf_bucket *b,
                               int nb, zsf_dtype dt);
void zsf_all_gather_on(zsf_comm *c, cudaStream_t s, const void *part, void *xbuf, const zsf_bucket *b, int nb,
                       zsf_dtype dt);

/* Reductions to owners (stage 2's, queued on `s` as the *_on variants): for each run k, the sum over
 * ranks of x[model_k, model_k + count_k) lands in part[part_k, part_k + count_k) on rank rank_k only
 * (ncclReduce to that root, all runs in one NCCL group; the mpi backend gathers each run to its owner,
 * which folds it in rank order as the reduce-scatter does). x: numel elements in model order. */
void zsf_reduce_runs_on(zsf_comm *c, cudaStream_t s, const void *x, void *part, const zsf_run *runs, int n,
                        zsf_dtype dt);

/* Byte exchanges (the 1-bit all-reduce's packed signs and scales; device buffers, every backend):
 * all-to-all: send[W*bytes] holds block d for rank d, recv[W*bytes] receives block r from rank r
 * (ncclSend/ncclRecv in one group); all-gather: send[bytes] of every rank -> recv[W*bytes] in rank
 * order. */
void zsf_all_to_all_bytes(zsf_comm *c, const void *send, void *recv, size_t bytes);
void zsf_all_gather_bytes(zsf_comm *c, const void *send, void *recv, size_t bytes);

/* Host scalars (MPI, every backend): sum of doubles folded in rank order; minimum of int64. */
double zsf_all_reduce_sum_f64(zsf_comm *c, double v);
int64_t zsf_all_reduce_min_i64(zsf_comm *c, int64_t v);

/* 1 if any rank passes a non-zero flag. */
int zsf_any(int flag);

#ifdef __cplusplus
}
#endif
#endif
