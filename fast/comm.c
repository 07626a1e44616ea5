/* Ranks, devices, streams and collectives (comm.h). */
#define _POSIX_C_SOURCE 200809L  /* sched_yield */
#include "comm.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "check.h"
#include "fold.h"

/* ------------------------------------------------------------------------------------------------
 * Bootstrap */

static int local_rank_and_size(int *local_size)
{
    MPI_Comm shared;
    int lrank = 0;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &shared));
    MPI_CHECK(MPI_Comm_rank(shared, &lrank));
    MPI_CHECK(MPI_Comm_size(shared, local_size));
    MPI_CHECK(MPI_Comm_free(&shared));
    const char *env = getenv("OMPI_COMM_WORLD_LOCAL_RANK");   /* what mpirun says, when it says it */
    return env && *env ? atoi(env) : lrank;
}

int zsf_any(int flag)
{
    int any = 0;
    MPI_CHECK(MPI_Allreduce(&flag, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return any != 0;
}

int zsf_comm_init(zsf_comm *c, zsf_backend backend, zs_error *err)
{
    memset(c, 0, sizeof *c);
    c->backend = backend;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &c->world));
    c->local_rank = local_rank_and_size(&c->local_size);

    cudaError_t ce = cudaGetDeviceCount(&c->n_devices);
    int no_device = ce != cudaSuccess || c->n_devices < 1;
    if (zsf_any(no_device)) {
        zs_fail(err, "no usable CUDA device on some rank (rank %d: %s)", c->rank,
                ce != cudaSuccess ? cudaGetErrorString(ce) : "device count 0");
        return 1;
    }
    int shared_gpu = c->local_size > c->n_devices;
    if (backend == ZSF_BACKEND_NCCL && zsf_any(shared_gpu)) {
        zs_fail(err, "backend nccl needs one GPU per rank, but %d ranks share %d GPU(s) on a host; "
                     "use --backend mpi, or fewer ranks",
                c->local_size, c->n_devices);
        return 2;
    }
    c->device = c->local_rank % c->n_devices;
    CUDA_CHECK(cudaSetDevice(c->device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->compute, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->comm_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming));
    if (backend == ZSF_BACKEND_NCCL) {
        ncclUniqueId id;
        if (c->rank == 0)
            NCCL_CHECK(ncclGetUniqueId(&id));
        MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
        NCCL_CHECK(ncclCommInitRank(&c->nccl, c->world, id, c->rank));
    }
    return 0;
}

void zsf_comm_free(zsf_comm *c)
{
    if (c->nccl)
        ncclCommDestroy(c->nccl);
    if (c->compute) {
        cudaEventDestroy(c->ready);
        cudaEventDestroy(c->done);
        cudaStreamDestroy(c->compute);
        cudaStreamDestroy(c->comm_stream);
    }
    free(c->host);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------------------------------
 * Waiting: a collective that never completes (a peer died) must not hang the job silently. */

static void check_nccl_async(zsf_comm *c)
{
    if (!c->nccl)
        return;
    ncclResult_t r = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(c->nccl, &r));
    if (r != ncclSuccess && r != ncclInProgress) {
        ncclCommAbort(c->nccl);
        c->nccl = NULL;
        zsf_die(__FILE__, __LINE__, "ncclCommGetAsyncError", ncclGetErrorString(r));
    }
}

/* Host waits until `s` is idle, polling NCCL's asynchronous errors meanwhile. */
static void stream_sync(zsf_comm *c, cudaStream_t s)
{
    for (;;) {
        cudaError_t e = cudaStreamQuery(s);
        if (e == cudaSuccess)
            return;
        if (e != cudaErrorNotReady)
            zsf_die(__FILE__, __LINE__, "cudaStreamQuery", cudaGetErrorString(e));
        check_nccl_async(c);
        sched_yield();
    }
}

void zsf_comm_sync(zsf_comm *c)
{
    stream_sync(c, c->compute);
}

/* ------------------------------------------------------------------------------------------------
 * NCCL: the comm stream waits for the compute stream, runs the calls, and the compute stream waits
 * for it in turn. */

static void nccl_begin(zsf_comm *c)
{
    CUDA_CHECK(cudaEventRecord(c->ready, c->compute));
    CUDA_CHECK(cudaStreamWaitEvent(c->comm_stream, c->ready, 0));
}

static void nccl_end(zsf_comm *c)
{
    CUDA_CHECK(cudaEventRecord(c->done, c->comm_stream));
    CUDA_CHECK(cudaStreamWaitEvent(c->compute, c->done, 0));
}

/* ------------------------------------------------------------------------------------------------
 * MPI: host staging. One buffer holds [device copy | MPI receive area | fp32 work], each region
 * rounded up to 64 bytes so the fp32 regions stay aligned behind 16-bit ones. */

static size_t region(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

static unsigned char *host_staging(zsf_comm *c, size_t bytes)
{
    if (bytes > c->host_bytes) {
        free(c->host);
        c->host = malloc(bytes);
        if (!c->host)
            zsf_die(__FILE__, __LINE__, "malloc", "out of host memory for MPI staging");
        c->host_bytes = bytes;
    }
    return c->host;
}

static int mpi_count(size_t n)
{
    if (n > (size_t)INT_MAX)
        zsf_die(__FILE__, __LINE__, "mpi_count", "a bucket exceeds INT_MAX bytes; use --bucket-size");
    return (int)n;
}

static void to_host(zsf_comm *c, cudaStream_t s, void *h, const void *d, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(h, d, bytes, cudaMemcpyDeviceToHost, s));
    stream_sync(c, s);
}

static void to_device(zsf_comm *c, cudaStream_t s, void *d, const void *h, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, s));
    stream_sync(c, s);   /* the host buffer is reused right after */
}

static size_t max_count(const zsf_bucket *b, int nb)
{
    size_t m = 0;
    for (int k = 0; k < nb; k++)
        m = b[k].count > m ? b[k].count : m;
    return m;
}

static size_t total_count(const zsf_bucket *b, int nb)
{
    return nb ? b[nb - 1].offset + b[nb - 1].count : 0;
}

/* The mpi backend's sum of W gathered blocks of `count` dt-elements each: widened, folded in rank
 * order with every partial sum rounded to dt (fold.h), the result stored back in dt. */
static void fold_blocks(void *out, const void *blocks, float *wide, size_t count, int world, zsf_dtype dt)
{
    zsf_widen(wide, blocks, (size_t)world * count, dt);
    float *sum = wide + (size_t)world * count;
    zsf_fold_rank_order(sum, wide, count, world, dt);
    zsf_narrow(out, sum, count, dt);
}

static ncclDataType_t nccl_type(zsf_dtype dt)
{
    return dt == ZSF_FP16 ? ncclHalf : dt == ZSF_BF16 ? ncclBfloat16 : ncclFloat;
}

/* ------------------------------------------------------------------------------------------------
 * Collectives. Elements are E = zsf_dtype_size(dt) bytes; offsets below are in bytes. */

void zsf_all_reduce_sum(zsf_comm *c, void *buf, const zsf_bucket *b, int nb, zsf_dtype dt)
{
    const size_t W = (size_t)c->world, n = total_count(b, nb), E = zsf_dtype_size(dt), mc = max_count(b, nb);
    unsigned char *d = (unsigned char *)buf;
    if (c->backend == ZSF_BACKEND_NCCL) {
        nccl_begin(c);
        NCCL_CHECK(ncclGroupStart());
        for (int k = 0; k < nb; k++)
            NCCL_CHECK(ncclAllReduce(d + E * b[k].offset, d + E * b[k].offset, b[k].count, nccl_type(dt), ncclSum,
                                     c->nccl, c->comm_stream));
        NCCL_CHECK(ncclGroupEnd());
        nccl_end(c);
        return;
    }
    unsigned char *h = host_staging(c, region(n * E) + region(W * mc * E) + (W + 1) * mc * sizeof(float));
    unsigned char *gathered = h + region(n * E);
    float *wide = (float *)(gathered + region(W * mc * E));
    to_host(c, c->compute, h, buf, n * E);
    for (int k = 0; k < nb; k++) {   /* every rank gathers all copies and folds them in rank order */
        int cnt = mpi_count(b[k].count * E);
        MPI_CHECK(MPI_Allgather(h + E * b[k].offset, cnt, MPI_BYTE, gathered, cnt, MPI_BYTE, MPI_COMM_WORLD));
        fold_blocks(h + E * b[k].offset, gathered, wide, b[k].count, c->world, dt);
    }
    to_device(c, c->compute, buf, h, n * E);
}

void zsf_reduce_scatter_sum_on(zsf_comm *c, cudaStream_t s, const void *xbuf, void *part, const zsf_bucket *b,
                               int nb, zsf_dtype dt)
{
    const size_t W = (size_t)c->world, len = total_count(b, nb), E = zsf_dtype_size(dt), mc = max_count(b, nb);
    const unsigned char *x = (const unsigned char *)xbuf;
    if (c->backend == ZSF_BACKEND_NCCL) {
        unsigned char *p = (unsigned char *)part;
        NCCL_CHECK(ncclGroupStart());
        for (int k = 0; k < nb; k++)
            NCCL_CHECK(ncclReduceScatter(x + E * W * b[k].offset, p + E * b[k].offset, b[k].count, nccl_type(dt),
                                         ncclSum, c->nccl, s));
        NCCL_CHECK(ncclGroupEnd());
        return;
    }
    unsigned char *h = host_staging(c, region(W * len * E) + region(W * mc * E) + region(len * E) +
                                           (W + 1) * mc * sizeof(float));
    unsigned char *blocks = h + region(W * len * E), *out = blocks + region(W * mc * E);
    float *wide = (float *)(out + region(len * E));
    to_host(c, s, h, xbuf, W * len * E);
    for (int k = 0; k < nb; k++) {   /* block d of every rank goes to rank d, which folds them */
        int cnt = mpi_count(b[k].count * E);
        MPI_CHECK(MPI_Alltoall(h + E * W * b[k].offset, cnt, MPI_BYTE, blocks, cnt, MPI_BYTE, MPI_COMM_WORLD));
        fold_blocks(out + E * b[k].offset, blocks, wide, b[k].count, c->world, dt);
    }
    to_device(c, s, part, out, len * E);
}

void zsf_reduce_runs_on(zsf_comm *c, cudaStream_t s, const void *x, void *part, const zsf_run *runs, int n,
                        zsf_dtype dt)
{
    const size_t W = (size_t)c->world, E = zsf_dtype_size(dt);
    const unsigned char *xb = (const unsigned char *)x;
    unsigned char *pb = (unsigned char *)part;
    if (c->backend == ZSF_BACKEND_NCCL) {   /* recvbuff is read on the root only */
        NCCL_CHECK(ncclGroupStart());
        for (int k = 0; k < n; k++)
            NCCL_CHECK(ncclReduce(xb + E * runs[k].model, pb + E * runs[k].part, runs[k].count, nccl_type(dt), ncclSum,
                                  runs[k].rank, c->nccl, s));
        NCCL_CHECK(ncclGroupEnd());
        return;
    }
    size_t mc = 0;
    for (int k = 0; k < n; k++)
        mc = runs[k].count > mc ? runs[k].count : mc;
    unsigned char *h = host_staging(c, region(mc * E) + region(W * mc * E) + region(mc * E) + (W + 1) * mc * sizeof(float));
    unsigned char *blocks = h + region(mc * E), *out = blocks + region(W * mc * E);
    float *wide = (float *)(out + region(mc * E));
    for (int k = 0; k < n; k++) {
        const size_t bytes = runs[k].count * E;
        to_host(c, s, h, xb + E * runs[k].model, bytes);
        MPI_CHECK(MPI_Gather(h, mpi_count(bytes), MPI_BYTE, blocks, mpi_count(bytes), MPI_BYTE, runs[k].rank,
                             MPI_COMM_WORLD));
        if (c->rank == runs[k].rank) {
            fold_blocks(out, blocks, wide, runs[k].count, c->world, dt);
            to_device(c, s, pb + E * runs[k].part, out, bytes);
        }
    }
}

void zsf_all_gather_on(zsf_comm *c, cudaStream_t s, const void *part, void *xbuf, const zsf_bucket *b, int nb,
                       zsf_dtype dt)
{
    const size_t W = (size_t)c->world, len = total_count(b, nb), E = zsf_dtype_size(dt);
    if (c->backend == ZSF_BACKEND_NCCL) {
        const unsigned char *p = (const unsigned char *)part;
        unsigned char *x = (unsigned char *)xbuf;
        NCCL_CHECK(ncclGroupStart());
        for (int k = 0; k < nb; k++)
            NCCL_CHECK(ncclAllGather(p + E * b[k].offset, x + E * W * b[k].offset, b[k].count, nccl_type(dt), c->nccl,
                                     s));
        NCCL_CHECK(ncclGroupEnd());
        return;
    }
    unsigned char *h = host_staging(c, region(len * E) + W * len * E), *x = h + region(len * E);
    to_host(c, s, h, part, len * E);
    for (int k = 0; k < nb; k++) {
        int cnt = mpi_count(b[k].count * E);
        MPI_CHECK(MPI_Allgather(h + E * b[k].offset, cnt, MPI_BYTE, x + E * W * b[k].offset, cnt, MPI_BYTE,
                                MPI_COMM_WORLD));
    }
    to_device(c, s, xbuf, x, W * len * E);
}

void zsf_reduce_scatter_sum(zsf_comm *c, const void *xbuf, void *part, const zsf_bucket *b, int nb, zsf_dtype dt)
{
    if (c->backend != ZSF_BACKEND_NCCL) {
        zsf_reduce_scatter_sum_on(c, c->compute, xbuf, part, b, nb, dt);
        return;
    }
    nccl_begin(c);
    zsf_reduce_scatter_sum_on(c, c->comm_stream, xbuf, part, b, nb, dt);
    nccl_end(c);
}

void zsf_all_gather(zsf_comm *c, const void *part, void *xbuf, const zsf_bucket *b, int nb, zsf_dtype dt)
{
    if (c->backend != ZSF_BACKEND_NCCL) {
        zsf_all_gather_on(c, c->compute, part, xbuf, b, nb, dt);
        return;
    }
    nccl_begin(c);
    zsf_all_gather_on(c, c->comm_stream, part, xbuf, b, nb, dt);
    nccl_end(c);
}

/* The mpi backend's byte exchanges: [send copy | receive area] in the staging buffer. */
static void bytes_through_host(zsf_comm *c, const void *send, size_t send_bytes, void *recv, size_t recv_bytes,
                               int all_to_all)
{
    unsigned char *h = host_staging(c, send_bytes + recv_bytes), *in = h + send_bytes;
    int cnt = mpi_count(all_to_all ? send_bytes / (size_t)c->world : send_bytes);
    CUDA_CHECK(cudaMemcpyAsync(h, send, send_bytes, cudaMemcpyDeviceToHost, c->compute));
    zsf_comm_sync(c);
    if (all_to_all)
        MPI_CHECK(MPI_Alltoall(h, cnt, MPI_BYTE, in, cnt, MPI_BYTE, MPI_COMM_WORLD));
    else
        MPI_CHECK(MPI_Allgather(h, cnt, MPI_BYTE, in, cnt, MPI_BYTE, MPI_COMM_WORLD));
    CUDA_CHECK(cudaMemcpyAsync(recv, in, recv_bytes, cudaMemcpyHostToDevice, c->compute));
    zsf_comm_sync(c);   /* the host buffer is reused right after */
}

void zsf_all_to_all_bytes(zsf_comm *c, const void *send, void *recv, size_t bytes)
{
    const size_t W = (size_t)c->world;
    if (c->backend != ZSF_BACKEND_NCCL) {
        bytes_through_host(c, send, W * bytes, recv, W * bytes, 1);
        return;
    }
    nccl_begin(c);
    /* One group: NCCL fuses the W sends and receives into one launch. Outside a group each call is its
     * own operation, and a send with no receive posted yet is invalid usage at W >= 2. */
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < c->world; r++) {
        NCCL_CHECK(ncclSend((const unsigned char *)send + (size_t)r * bytes, bytes, ncclUint8, r, c->nccl,
                            c->comm_stream));
        NCCL_CHECK(ncclRecv((unsigned char *)recv + (size_t)r * bytes, bytes, ncclUint8, r, c->nccl, c->comm_stream));
    }
    NCCL_CHECK(ncclGroupEnd());
    nccl_end(c);
}

void zsf_all_gather_bytes(zsf_comm *c, const void *send, void *recv, size_t bytes)
{
    if (c->backend != ZSF_BACKEND_NCCL) {
        bytes_through_host(c, send, bytes, recv, (size_t)c->world * bytes, 0);
        return;
    }
    nccl_begin(c);
    NCCL_CHECK(ncclAllGather(send, recv, bytes, ncclUint8, c->nccl, c->comm_stream));
    nccl_end(c);
}

double zsf_all_reduce_sum_f64(zsf_comm *c, double v)
{
    double *all = malloc((size_t)c->world * sizeof(double));
    if (!all)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    MPI_CHECK(MPI_Allgather(&v, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, MPI_COMM_WORLD));
    double s = all[0];
    for (int r = 1; r < c->world; r++)
        s = s + all[r];
    free(all);
    return s;
}

int64_t zsf_all_reduce_min_i64(zsf_comm *c, int64_t v)
{
    (void)c;
    long long in = v, out = 0;
    MPI_CHECK(MPI_Allreduce(&in, &out, 1, MPI_LONG_LONG, MPI_MIN, MPI_COMM_WORLD));
    return out;
}
