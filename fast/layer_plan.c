/* Stage 3's fetch units and their use order (layer_plan.h). */
#include "layer_plan.h"

#include <stdlib.h>
#include <string.h>

int zsf_unit_count(const zsf_params *t)
{
    return t->dims.layers + 2;
}

void zsf_unit_params(const zsf_params *t, int u, int *first, int *count)
{
    const int L = t->dims.layers;
    if (u == 0) {                /* wte, wpe */
        *first = 0;
        *count = 2;
    } else if (u <= L) {         /* block u - 1 */
        *first = 2 + ZSF_PER_LAYER * (u - 1);
        *count = ZSF_PER_LAYER;
    } else {                     /* ln_f.weight, ln_f.bias */
        *first = 2 + ZSF_PER_LAYER * L;
        *count = 2;
    }
}

size_t zsf_unit_range(const zsf_params *t, int u, size_t *numel)
{
    int first, count;
    zsf_unit_params(t, u, &first, &count);
    const zsf_param *last = &t->p[first + count - 1];
    *numel = last->offset + last->numel - t->p[first].offset;
    return t->p[first].offset;
}

static void fill_uses(zsf_layer_plan *lp, int L)
{
    int k = 0;
    for (int u = 0; u <= L + 1; u++)   /* forward: embeddings, blocks, final LayerNorm */
        lp->uses[k++] = u;
    lp->uses[k++] = 0;                 /* LM head (tied to wte) */
    lp->uses[k++] = 0;                 /* its backward */
    for (int u = L + 1; u >= 1; u--)   /* final LayerNorm, blocks in reverse */
        lp->uses[k++] = u;
}

int zsf_layer_plan_build(zsf_layer_plan *lp, const zsf_params *t, const zsf_partition *p, zs_error *err)
{
    memset(lp, 0, sizeof *lp);
    if (p->stage != 3 || p->n_params != t->n)
        return zs_fail(err, "layer plan: needs the stage-3 partition of the model's %d tensors (stage %d, %d tensors)",
                       t->n, p->stage, p->n_params);
    const int L = t->dims.layers;
    lp->n = zsf_unit_count(t);
    lp->n_uses = 2 * L + 5;
    lp->u = calloc((size_t)lp->n, sizeof *lp->u);
    lp->uses = malloc((size_t)lp->n_uses * sizeof *lp->uses);
    if (!lp->u || !lp->uses) {
        zsf_layer_plan_free(lp);
        return zs_fail(err, "layer plan: out of memory");
    }
    size_t shard_at = 0;
    for (int u = 0; u < lp->n; u++) {
        zsf_unit *x = &lp->u[u];
        zsf_unit_params(t, u, &x->first_param, &x->n_params);
        x->offset = zsf_unit_range(t, u, &x->numel);
        x->shard_offset = shard_at;
        for (int i = x->first_param; i < x->first_param + x->n_params; i++)
            x->shard_len += p->shard_len[i];
        shard_at += x->shard_len;
        lp->max_numel = x->numel > lp->max_numel ? x->numel : lp->max_numel;
        lp->max_shard = x->shard_len > lp->max_shard ? x->shard_len : lp->max_shard;
    }
    fill_uses(lp, L);
    return 0;
}

void zsf_layer_plan_free(zsf_layer_plan *lp)
{
    free(lp->u);
    free(lp->uses);
    memset(lp, 0, sizeof *lp);
}

int zsf_layer_plan_next(const zsf_layer_plan *lp, int i)
{
    for (int j = i + 1; j < lp->n_uses; j++)
        if (lp->uses[j] != lp->uses[i])
            return j;
    return -1;
}

void zsf_unit_exchange_map(const zsf_layer_plan *lp, const zsf_partition *p, int u, const zsf_bucket *b, int nb,
                           int64_t *map)
{
    const zsf_unit *x = &lp->u[u];
    for (int d = 0; d < p->world; d++) {   /* rank d's shards of the unit's tensors, in order */
        size_t j = 0;
        for (int i = x->first_param; i < x->first_param + x->n_params; i++) {
            const size_t first = (size_t)d * p->shard_len[i], within = p->param_offset[i] - x->offset;
            for (size_t s = 0; s < p->shard_len[i]; s++, j++)
                map[zsf_exchange_pos(b, nb, p->world, d, j)] =
                    first + s < p->param_numel[i] ? (int64_t)(within + first + s) : -1;
        }
    }
}
