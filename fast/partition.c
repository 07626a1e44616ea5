/* ZeRO partitioning and exchange-buffer layout (partition.h). */
#include "partition.h"

#include <stdlib.h>
#include <string.h>

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

int zsf_partition_init(zsf_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                       zs_error *err)
{
    memset(p, 0, sizeof *p);
    if (stage < 0 || stage > 3)
        return zs_fail(err, "ZeRO stage must be 0..3, got %d", stage);
    if (world < 1)
        return zs_fail(err, "world size must be at least 1, got %d", world);
    p->stage = stage;
    p->world = world;
    for (int i = 0; i < n_params; i++)
        p->numel += param_numel[i];
    const size_t W = (size_t)world;
    if (stage == 0) {
        p->len = p->numel;
    } else if (stage <= 2) {
        p->len = 2 * ceil_div(p->numel, 2 * W);
    } else {
        size_t n = (size_t)n_params;
        p->n_params = n_params;
        p->param_numel = malloc(n * sizeof(size_t));
        p->param_offset = malloc(n * sizeof(size_t));
        p->shard_len = malloc(n * sizeof(size_t));
        p->shard_offset = malloc(n * sizeof(size_t));
        if (!p->param_numel || !p->param_offset || !p->shard_len || !p->shard_offset) {
            zsf_partition_free(p);
            return zs_fail(err, "out of memory");
        }
        size_t flat = 0;
        for (size_t i = 0; i < n; i++) {
            p->param_numel[i] = param_numel[i];
            p->param_offset[i] = flat;
            p->shard_len[i] = ceil_div(param_numel[i], W);
            p->shard_offset[i] = p->len;
            flat += param_numel[i];
            p->len += p->shard_len[i];
        }
    }
    return 0;
}

void zsf_partition_free(zsf_partition *p)
{
    free(p->param_numel);
    free(p->param_offset);
    free(p->shard_len);
    free(p->shard_offset);
    memset(p, 0, sizeof *p);
}

/* Stage 3: the parameter whose shard holds partition element j (binary search over shard offsets). */
static int stage3_param(const zsf_partition *p, size_t j)
{
    int lo = 0, hi = p->n_params - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (p->shard_offset[mid] <= j)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int64_t zsf_partition_index(const zsf_partition *p, int rank, size_t j)
{
    if (j >= p->len)
        return -1;
    if (p->stage == 0)
        return (int64_t)j;
    if (p->stage <= 2) {
        size_t flat = (size_t)rank * p->len + j;
        return flat < p->numel ? (int64_t)flat : -1;
    }
    int i = stage3_param(p, j);
    size_t within = (size_t)rank * p->shard_len[i] + (j - p->shard_offset[i]);
    return within < p->param_numel[i] ? (int64_t)(p->param_offset[i] + within) : -1;
}

void zsf_partition_own_map(const zsf_partition *p, int rank, int64_t *own)
{
    for (size_t j = 0; j < p->len; j++)
        own[j] = zsf_partition_index(p, rank, j);
}

int zsf_plan_buckets(size_t len, int world, int64_t bucket_elems, zsf_bucket **out)
{
    size_t per_rank = len ? len : 1;
    if (bucket_elems > 0) {
        per_rank = (size_t)bucket_elems / (size_t)world;
        if (per_rank == 0)
            per_rank = 1;
    }
    size_t n = len ? ceil_div(len, per_rank) : 1;
    *out = malloc(n * sizeof(zsf_bucket));
    if (!*out)
        return 0;
    for (size_t b = 0; b < n; b++) {
        (*out)[b].offset = b * per_rank;
        (*out)[b].count = len ? (b + 1 == n ? len - b * per_rank : per_rank) : 0;
    }
    return (int)n;
}

size_t zsf_exchange_pos(const zsf_bucket *b, int n_buckets, int world, int d, size_t j)
{
    int lo = 0, hi = n_buckets - 1;   /* the bucket holding partition element j */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (b[mid].offset <= j)
            lo = mid;
        else
            hi = mid - 1;
    }
    return (size_t)world * b[lo].offset + (size_t)d * b[lo].count + (j - b[lo].offset);
}

void zsf_exchange_map(const zsf_partition *p, const zsf_bucket *b, int n_buckets, int64_t *map)
{
    for (int d = 0; d < p->world; d++)
        for (int k = 0; k < n_buckets; k++)
            for (size_t i = 0; i < b[k].count; i++) {
                size_t j = b[k].offset + i;
                map[(size_t)p->world * b[k].offset + (size_t)d * b[k].count + i] = zsf_partition_index(p, d, j);
            }
}

void zsf_partition_assemble(const zsf_partition *p, const float *const *parts, float *full)
{
    for (int r = 0; r < p->world; r++)
        for (size_t j = 0; j < p->len; j++) {
            int64_t idx = zsf_partition_index(p, r, j);
            if (idx >= 0)
                full[idx] = parts[r][j];
        }
}
