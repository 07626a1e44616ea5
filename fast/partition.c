/* ZeRO partitioning and exchange-buffer layout (partition.h). */
#include "partition.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* Stages 1-2: a piece of 2*ceil(n / 2W) elements per rank (nccl_start_alignment_factor 2). */
static size_t aligned_piece(size_t numel, size_t W)
{
    return 2 * ceil_div(numel, 2 * W);
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
        p->len = aligned_piece(p->numel, W);
    } else {
        size_t n = (size_t)n_params;
        p->n_params = n_params;
        p->param_numel = malloc(n * sizeof(size_t));
        p->param_offset = malloc(n * sizeof(size_t));
        p->shard_len = malloc(n * sizeof(size_t));
        if (!p->param_numel || !p->param_offset || !p->shard_len) {
            zsf_partition_free(p);
            return zs_fail(err, "out of memory");
        }
        size_t flat = 0;
        for (size_t i = 0; i < n; i++) {
            p->param_numel[i] = param_numel[i];
            p->param_offset[i] = flat;
            p->shard_len[i] = ceil_div(param_numel[i], W);
            flat += param_numel[i];
            p->len += p->shard_len[i];
        }
    }
    p->n_groups = 1;
    p->group_len[0] = p->len;
    return 0;
}

/* Fills the grouped map: group g's flat buffer (its parameters in order[] order, then padding) is cut
 * into W pieces of group_len[g]; flat position q of it lies on rank q / P_g at group_offset[g] + q % P_g. */
static void grouped_map(zsf_partition *p, const size_t *param_numel, const size_t *model_offset, const int *order,
                        const int *group_count)
{
    const size_t total = (size_t)p->world * p->len;
    for (size_t i = 0; i < total; i++)
        p->map[i] = -1;
    for (int g = 0, first = 0; g < p->n_groups; first += group_count[g], g++) {
        size_t q = 0;
        for (int k = first; k < first + group_count[g]; k++)
            for (size_t e = 0; e < param_numel[order[k]]; e++, q++) {
                size_t r = q / p->group_len[g], j = p->group_offset[g] + q % p->group_len[g];
                p->map[r * p->len + j] = (int64_t)(model_offset[order[k]] + e);
            }
    }
}

int zsf_partition_init_grouped(zsf_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                               const int *order, const int *group_count, int n_groups, zs_error *err)
{
    if (zsf_partition_init(p, stage, world, param_numel, n_params, err))
        return -1;
    if (stage != 1 && stage != 2)
        return 0;
    if (n_groups < 1 || n_groups > ZSF_PARTITION_MAX_GROUPS) {
        zsf_partition_free(p);
        return zs_fail(err, "param groups: between 1 and %d, got %d", ZSF_PARTITION_MAX_GROUPS, n_groups);
    }
    size_t *model_offset = malloc((n_params > 0 ? (size_t)n_params : 1) * sizeof(size_t));
    if (!model_offset) {
        zsf_partition_free(p);
        return zs_fail(err, "out of memory");
    }
    size_t group_numel[ZSF_PARTITION_MAX_GROUPS] = {0};
    for (int i = 0, g = 0, left = group_count[0]; i < n_params; i++, left--) {
        model_offset[i] = i ? model_offset[i - 1] + param_numel[i - 1] : 0;
        while (left == 0 && g + 1 < n_groups)   /* order[i] opens the next non-empty group */
            left = group_count[++g];
        group_numel[g] += param_numel[order[i]];
    }
    p->n_groups = n_groups;
    p->len = 0;
    for (int g = 0; g < n_groups; g++) {   /* the pieces, one group after the other */
        p->group_offset[g] = p->len;
        p->group_len[g] = aligned_piece(group_numel[g], (size_t)world);
        p->len += p->group_len[g];
    }
    const size_t total = (size_t)world * p->len;
    p->map = malloc((total ? total : 1) * sizeof(int64_t));
    if (!p->map) {
        free(model_offset);
        zsf_partition_free(p);
        return zs_fail(err, "out of memory");
    }
    grouped_map(p, param_numel, model_offset, order, group_count);
    free(model_offset);
    return 0;
}

void zsf_partition_free(zsf_partition *p)
{
    free(p->param_numel);
    free(p->param_offset);
    free(p->shard_len);
    free(p->map);
    memset(p, 0, sizeof *p);
}

/* Writes rank `rank`'s stage-3 partition map: its shard of each parameter in turn (DeepSpeed
 * partition_parameters.py _partition_param: shard r of a parameter is elements [r*P, (r+1)*P), the
 * tail past the parameter's end being padding). */
static void stage3_own_map(const zsf_partition *p, int rank, int64_t *own)
{
    size_t j = 0;
    for (int i = 0; i < p->n_params; i++) {
        size_t first = (size_t)rank * p->shard_len[i];
        for (size_t s = 0; s < p->shard_len[i]; s++, j++)
            own[j] = first + s < p->param_numel[i] ? (int64_t)(p->param_offset[i] + first + s) : -1;
    }
}

void zsf_partition_own_map(const zsf_partition *p, int rank, int64_t *own)
{
    if (p->stage == 3) {
        stage3_own_map(p, rank, own);
        return;
    }
    if (p->map) {
        memcpy(own, p->map + (size_t)rank * p->len, p->len * sizeof(int64_t));
        return;
    }
    /* stage 0: the whole model; stages 1/2: one contiguous slice of the padded flat buffer */
    size_t start = p->stage == 0 ? 0 : (size_t)rank * p->len;
    for (size_t j = 0; j < p->len; j++)
        own[j] = start + j < p->numel ? (int64_t)(start + j) : -1;
}

int64_t zsf_partition_index(const zsf_partition *p, int rank, size_t j)
{
    if (j >= p->len)
        return -1;
    if (p->map)
        return p->map[(size_t)rank * p->len + j];
    if (p->stage != 3)
        return (p->stage == 0 ? 0 : (size_t)rank * p->len) + j < p->numel
                   ? (int64_t)((p->stage == 0 ? 0 : (size_t)rank * p->len) + j) : -1;
    for (int i = 0; i < p->n_params; i++) {   /* error paths only: a linear walk over the shards */
        if (j < p->shard_len[i]) {
            size_t e = (size_t)rank * p->shard_len[i] + j;
            return e < p->param_numel[i] ? (int64_t)(p->param_offset[i] + e) : -1;
        }
        j -= p->shard_len[i];
    }
    return -1;
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
    /* Stage 0: every rank's partition is a whole replica, and ZeroOneAdam's local steps make them
     * differ; the model is rank 0's (zs-ref's step<k>/param), so the other replicas are not read. */
    const int owners = p->stage == 0 ? 1 : p->world;
    for (int r = 0; r < owners; r++)
        for (size_t j = 0; j < p->len; j++) {
            int64_t idx = zsf_partition_index(p, r, j);
            if (idx >= 0)
                full[idx] = parts[r][j];
        }
}

/* Grouped layouts: the runs of each rank's map, collected in (rank, part) order; sorted afterwards. */
static int grouped_runs(const zsf_partition *p, zsf_run **out)
{
    size_t n = 0, cap = 16;
    zsf_run *runs = malloc(cap * sizeof *runs);
    for (int r = 0; runs && r < p->world; r++) {
        const int64_t *m = p->map + (size_t)r * p->len;
        for (size_t j = 0; j < p->len; j++) {
            if (m[j] < 0)
                continue;
            if (n && runs[n - 1].rank == r && runs[n - 1].part + runs[n - 1].count == j &&
                (int64_t)(runs[n - 1].model + runs[n - 1].count) == m[j]) {
                runs[n - 1].count++;
                continue;
            }
            if (n == cap) {
                zsf_run *grown = realloc(runs, 2 * cap * sizeof *runs);
                if (!grown) {
                    free(runs);
                    runs = NULL;
                    break;
                }
                runs = grown;
                cap *= 2;
            }
            runs[n++] = (zsf_run){r, j, (size_t)m[j], 1};
        }
    }
    *out = runs;
    return runs && n <= (size_t)INT_MAX ? (int)n : -1;
}

static int by_model(const void *a, const void *b)
{
    const size_t x = ((const zsf_run *)a)->model, y = ((const zsf_run *)b)->model;
    return (x > y) - (x < y);
}

int zsf_partition_runs(const zsf_partition *p, zsf_run **out)
{
    *out = NULL;
    if (p->stage != 1 && p->stage != 2)
        return -1;
    if (p->map) {
        int n = grouped_runs(p, out);
        if (n < 0) {
            free(*out);
            *out = NULL;
            return -1;
        }
        qsort(*out, (size_t)n, sizeof **out, by_model);
        return n;
    }
    /* plain: rank r's piece is flat elements [r*len, (r+1)*len), the tail past numel padding */
    zsf_run *runs = malloc((size_t)p->world * sizeof *runs);
    if (!runs)
        return -1;
    int n = 0;
    for (int r = 0; r < p->world; r++) {
        size_t start = (size_t)r * p->len;
        if (start < p->numel)
            runs[n++] = (zsf_run){r, 0, start, p->numel - start < p->len ? p->numel - start : p->len};
    }
    *out = runs;
    return n;
}

int zsf_runs_slice(const zsf_run *runs, int n, size_t lo, size_t hi, int64_t bucket_elems, zsf_run **out)
{
    const size_t piece = bucket_elems > 0 ? (size_t)bucket_elems : (size_t)-1;
    int first = 0, last = 0;   /* runs [first, last) meet [lo, hi) */
    while (first < n && runs[first].model + runs[first].count <= lo)
        first++;
    for (last = first; last < n && runs[last].model < hi; last++)
        ;
    size_t total = 0;   /* pieces, counted before allocating */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !(*out = malloc((total ? total : 1) * sizeof **out)))
            return -1;
        size_t k = 0;
        for (int i = first; i < last; i++) {
            const size_t a = runs[i].model > lo ? runs[i].model : lo;
            const size_t b = runs[i].model + runs[i].count < hi ? runs[i].model + runs[i].count : hi;
            for (size_t m = a, c; m < b; m += c, k++) {
                c = b - m < piece ? b - m : piece;
                if (pass == 1)
                    (*out)[k] = (zsf_run){runs[i].rank, runs[i].part + (m - runs[i].model), m, c};
            }
        }
        total = k;
        if (total > (size_t)INT_MAX) {
            *out = NULL;
            return -1;
        }
    }
    return (int)total;
}

static int by_part(const void *a, const void *b)
{
    const size_t x = ((const zsf_run *)a)->part, y = ((const zsf_run *)b)->part;
    return (x > y) - (x < y);
}

int zsf_runs_gaps(const zsf_run *runs, int n, int rank, size_t len, zsf_run **out)
{
    zsf_run *mine = malloc(((size_t)n + 1) * sizeof(zsf_run));
    *out = malloc(((size_t)n + 1) * sizeof(zsf_run));
    if (!mine || !*out) {
        free(mine);
        free(*out);
        *out = NULL;
        return -1;
    }
    int m = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].rank == rank)
            mine[m++] = runs[i];
    qsort(mine, (size_t)m, sizeof *mine, by_part);
    mine[m] = (zsf_run){rank, len, 0, 0};   /* sentinel: the partition's end */
    for (int i = 0; i <= m; i++) {
        const size_t from = i ? mine[i - 1].part + mine[i - 1].count : 0;
        if (mine[i].part > from)
            (*out)[k++] = (zsf_run){rank, from, 0, mine[i].part - from};
    }
    free(mine);
    return k;
}
