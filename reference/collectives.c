#include "collectives.h"

#include "precision.h"

const char *zs_comm_op_name(zs_comm_op op)
{
    static const char *names[ZS_COMM_OP_COUNT] = {"all_reduce", "reduce_scatter", "all_gather"};
    return op < ZS_COMM_OP_COUNT ? names[op] : "?";
}

/* Ring-algorithm bytes each rank sends (nccl-tests' busbw factors): all-reduce moves
 * 2(W-1)/W of the buffer, reduce-scatter and all-gather (W-1)/W of the full buffer. */
static void record(zs_comm *c, zs_comm_op op, size_t out_elems, size_t full_elems, zs_dtype dtype,
                   const char *what)
{
    int64_t W = c->world;
    int64_t factor_num = op == ZS_COMM_ALL_REDUCE ? 2 * (W - 1) : (W - 1);
    int64_t bytes = (int64_t)full_elems * (int64_t)zs_dtype_size(dtype) * factor_num / W;
    zs_comm_stats *s = &c->stats[op];
    s->calls++;
    s->elements += (int64_t)out_elems;
    s->bytes_per_rank += bytes;
    if (c->log)
        fprintf(c->log, "comm: %-14s %-22s %-4s %9zu elements/rank  %10lld bytes sent/rank  [%s]\n",
                zs_comm_op_name(op), what, zs_dtype_name(dtype), out_elems, (long long)bytes,
                c->log_context ? c->log_context : "");
}

static float fold_sum(const float *const *bufs, int world, size_t offset, zs_dtype dtype)
{
    float acc = bufs[0][offset];
    for (int r = 1; r < world; r++)
        acc = zs_round_to(dtype, acc + bufs[r][offset]);
    return acc;
}

void zs_all_reduce_sum(zs_comm *c, float *const *bufs, size_t n, zs_dtype dtype, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float sum = fold_sum((const float *const *)bufs, c->world, i, dtype);
        for (int r = 0; r < c->world; r++)
            bufs[r][i] = sum;
    }
    record(c, ZS_COMM_ALL_REDUCE, n, n, dtype, what);
}

void zs_reduce_scatter_sum(zs_comm *c, const float *const *send, float *const *recv, size_t chunk,
                           zs_dtype dtype, const char *what)
{
    for (int d = 0; d < c->world; d++)
        for (size_t i = 0; i < chunk; i++)
            recv[d][i] = fold_sum(send, c->world, (size_t)d * chunk + i, dtype);
    record(c, ZS_COMM_REDUCE_SCATTER, chunk, chunk * (size_t)c->world, dtype, what);
}

void zs_all_gather(zs_comm *c, const float *const *send, float *const *recv, size_t chunk,
                   zs_dtype dtype, const char *what)
{
    for (int r = 0; r < c->world; r++)
        for (int d = 0; d < c->world; d++)
            for (size_t i = 0; i < chunk; i++)
                recv[r][(size_t)d * chunk + i] = send[d][i];
    record(c, ZS_COMM_ALL_GATHER, chunk * (size_t)c->world, chunk * (size_t)c->world, dtype, what);
}

double zs_all_reduce_sum_f64(zs_comm *c, const double *per_rank, const char *what)
{
    double acc = per_rank[0];
    for (int r = 1; r < c->world; r++)
        acc += per_rank[r];
    record(c, ZS_COMM_ALL_REDUCE, 1, 1, ZS_F64, what);
    return acc;
}

int zs_all_reduce_max_int(zs_comm *c, const int *per_rank, const char *what)
{
    int m = per_rank[0];
    for (int r = 1; r < c->world; r++)
        m = per_rank[r] > m ? per_rank[r] : m;
    record(c, ZS_COMM_ALL_REDUCE, 1, 1, ZS_I32, what);
    return m;
}
