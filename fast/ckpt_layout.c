#include "ckpt_layout.h"

#include <stdlib.h>
#include <string.h>

/* dst-partition of `rank` cut from the full vector that src's parts assemble to. */
static void repartition(const zsf_partition *src, const float *const *parts, const zsf_partition *dst, int rank,
                        float *full, float *out)
{
    zsf_partition_assemble(src, parts, full);
    for (size_t j = 0; j < dst->len; j++) {
        int64_t idx = zsf_partition_index(dst, rank, j);
        out[j] = idx >= 0 ? full[idx] : 0.0f;
    }
}

int zsf_ckpt_take_partition(const zs_checkpoint *c, const zsf_params *t, uint64_t seed, const char *precision,
                            const char *const *state_names, int n_state, const zsf_partition *dst, int rank,
                            float *master, float *const *state, zs_error *err)
{
    int index[ZS_CKPT_MAX_STATE];
    if (n_state > ZS_CKPT_MAX_STATE)
        return zs_fail(err, "more than %d optimizer states", ZS_CKPT_MAX_STATE);
    if (zs_ckpt_check_run(c, &t->dims, t->numel, seed, precision, state_names, n_state, index, err))
        return -1;
    size_t *sizes = malloc((size_t)t->n * sizeof(size_t));
    float *full = malloc(t->numel * sizeof(float));
    if (!sizes || !full) {
        free(sizes);
        free(full);
        return zs_fail(err, "out of memory");
    }
    for (int p = 0; p < t->n; p++)
        sizes[p] = t->p[p].numel;
    zsf_partition src;
    int rc = zsf_partition_init(&src, c->stage, c->world, sizes, t->n, err);
    if (!rc && src.len != c->part_len)
        rc = zs_fail(err, "checkpoint partitions hold %zu elements, but the spec's layout for stage %d on %d ranks "
                          "has %zu (docs/spec.md \"Partitioning\")", c->part_len, c->stage, c->world, src.len);
    if (!rc) {
        repartition(&src, (const float *const *)c->master, dst, rank, full, master);
        for (int k = 0; k < n_state; k++)
            repartition(&src, (const float *const *)c->state[index[k]], dst, rank, full, state[k]);
    }
    zsf_partition_free(&src);
    free(sizes);
    free(full);
    return rc;
}
