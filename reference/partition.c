#include "partition.h"

#include <stdlib.h>

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* Stages 1-2: every group g padded to a multiple of 2W (nccl_start_alignment_factor * world). */
static size_t aligned_piece(size_t numel, size_t W)
{
    size_t align = 2 * W;                 /* nccl_start_alignment_factor * world */
    return ceil_div(numel, align) * align / W;
}

int zs_partition_init(zs_partition *p, int stage, int world, const size_t *param_numel, int n_params)
{
    *p = (zs_partition){.stage = stage, .world = world, .n_groups = 1};
    for (int i = 0; i < n_params; i++)
        p->numel += param_numel[i];
    size_t W = (size_t)world;
    if (stage == 0) {
        p->len = p->numel;
    } else if (stage == 1 || stage == 2) {
        p->len = aligned_piece(p->numel, W);
    } else {
        p->n_params = n_params;
        p->param_numel = malloc(sizeof(size_t) * (size_t)n_params);
        p->param_offset = malloc(sizeof(size_t) * (size_t)n_params);
        p->shard_len = malloc(sizeof(size_t) * (size_t)n_params);
        p->shard_offset = malloc(sizeof(size_t) * (size_t)n_params);
        if (!p->param_numel || !p->param_offset || !p->shard_len || !p->shard_offset) {
            zs_partition_free(p);
            return -1;
        }
        size_t model_off = 0, shard_off = 0;
        for (int i = 0; i < n_params; i++) {
            p->param_numel[i] = param_numel[i];
            p->param_offset[i] = model_off;
            p->shard_len[i] = ceil_div(param_numel[i], W);
            p->shard_offset[i] = shard_off;
            model_off += param_numel[i];
            shard_off += p->shard_len[i];
        }
        p->len = shard_off;
    }
    p->group_len[0] = p->len;
    return 0;
}

int zs_partition_init_grouped(zs_partition *p, int stage, int world, const size_t *param_numel, int n_params,
                              const int *order, const int *group_count, int n_groups)
{
    if (zs_partition_init(p, stage, world, param_numel, n_params))
        return -1;
    if (stage != 1 && stage != 2)
        return 0;
    size_t W = (size_t)world, *model_offset = malloc(sizeof(size_t) * (size_t)n_params);
    if (!model_offset)
        return -1;
    for (int i = 0; i < n_params; i++)
        model_offset[i] = i ? model_offset[i - 1] + param_numel[i - 1] : 0;
    p->n_groups = n_groups;
    p->len = 0;
    for (int g = 0, first = 0; g < n_groups; first += group_count[g], g++) {
        size_t numel = 0;
        for (int k = first; k < first + group_count[g]; k++)
            numel += param_numel[order[k]];
        p->group_offset[g] = p->len;
        p->group_len[g] = aligned_piece(numel, W);
        p->len += p->group_len[g];
    }
    p->map = malloc(sizeof(int64_t) * W * (p->len ? p->len : 1));
    if (!p->map) {
        free(model_offset);
        return -1;
    }
    for (size_t i = 0; i < W * p->len; i++)
        p->map[i] = -1;
    for (int g = 0, first = 0; g < n_groups; first += group_count[g], g++) {
        size_t flat = 0;   /* position in group g's flat buffer; rank r owns [r*P_g, (r+1)*P_g) */
        for (int k = first; k < first + group_count[g]; k++)
            for (size_t e = 0; e < param_numel[order[k]]; e++, flat++) {
                size_t r = flat / p->group_len[g], j = p->group_offset[g] + flat % p->group_len[g];
                p->map[r * p->len + j] = (int64_t)(model_offset[order[k]] + e);
            }
    }
    free(model_offset);
    return 0;
}

void zs_partition_free(zs_partition *p)
{
    free(p->param_numel);
    free(p->param_offset);
    free(p->shard_len);
    free(p->shard_offset);
    free(p->map);
    *p = (zs_partition){0};
}

/* Stage 3: the parameter whose shard holds partition element j (binary search on shard_offset). */
static int stage3_param_of(const zs_partition *p, size_t j)
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

int64_t zs_partition_model_index(const zs_partition *p, int rank, size_t j)
{
    if (j >= p->len)
        return -1;
    if (p->stage == 0)
        return (int64_t)j;
    if (p->map)
        return p->map[(size_t)rank * p->len + j];
    if (p->stage == 1 || p->stage == 2) {
        size_t flat = (size_t)rank * p->len + j;
        return flat < p->numel ? (int64_t)flat : -1;
    }
    int q = stage3_param_of(p, j);
    size_t elem = (size_t)rank * p->shard_len[q] + (j - p->shard_offset[q]);
    return elem < p->param_numel[q] ? (int64_t)(p->param_offset[q] + elem) : -1;
}

size_t zs_partition_real_count(const zs_partition *p, int rank)
{
    size_t count = 0;
    for (size_t j = 0; j < p->len; j++)
        count += zs_partition_model_index(p, rank, j) >= 0;
    return count;
}

void zs_partition_extract(const zs_partition *p, int rank, const float *full, float *out)
{
    for (size_t j = 0; j < p->len; j++) {
        int64_t idx = zs_partition_model_index(p, rank, j);
        out[j] = idx >= 0 ? full[idx] : 0.0f;
    }
}

void zs_partition_assemble(const zs_partition *p, const float *const *parts, float *full)
{
    int owners = p->stage == 0 ? 1 : p->world;   /* stage 0: every rank holds everything */
    for (int r = 0; r < owners; r++) {
        for (size_t j = 0; j < p->len; j++) {
            int64_t idx = zs_partition_model_index(p, r, j);
            if (idx >= 0)
                full[idx] = parts[r][j];
        }
    }
}

int zs_partition_param_at(const size_t *param_numel, int n_params, int64_t idx, size_t *within)
{
    size_t start = 0;
    for (int i = 0; idx >= 0 && i < n_params; i++) {
        if ((size_t)idx < start + param_numel[i]) {
            *within = (size_t)idx - start;
            return i;
        }
        start += param_numel[i];
    }
    return -1;
}

void zs_partition_print(const zs_partition *p, const char *const *names, const size_t *param_numel,
                        int n_params, FILE *out)
{
    int ranks = p->stage == 0 ? 1 : p->world;
    for (int r = 0; r < ranks; r++) {
        if (p->stage == 0)
            fprintf(out, "every rank (%zu elements):", p->len);
        else
            fprintf(out, "rank %d (%zu elements):", r, p->len);
        size_t j = 0;
        while (j < p->len) {
            int64_t idx = zs_partition_model_index(p, r, j);
            size_t run = 1;
            if (idx < 0) {
                while (j + run < p->len && zs_partition_model_index(p, r, j + run) < 0)
                    run++;
                fprintf(out, " pad[%zu]", run);
            } else {
                size_t within = 0;
                int q = zs_partition_param_at(param_numel, n_params, idx, &within);
                while (j + run < p->len && zs_partition_model_index(p, r, j + run) == idx + (int64_t)run &&
                       within + run < param_numel[q])
                    run++;
                fprintf(out, " %s[%zu:%zu]", names[q], within, within + run);
            }
            j += run;
        }
        fputc('\n', out);
    }
}
