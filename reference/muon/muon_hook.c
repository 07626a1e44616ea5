/* Muon inside the ZeRO-1/2 gradient path (DeepSpeed v0.19.6 zero/stage_1_and_2.py): at the
 * accumulation boundary get_flat_partition runs muon_update on the whole averaged gradient of every
 * muon parameter that touches the rank's partition (a parameter split over several ranks is
 * all-reduced to each of them, reduce_ipg_grads' muon_copy_ranks), with the rank's own momentum
 * buffer, and keeps the rank's slice of the result as the gradient partition. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "muon/muon.h"

/* Whether muon parameter k (group order) has an element in rank r's piece of the muon group. */
static int touches(const zs_muon *m, const zs_engine *e, int k, int r)
{
    size_t P = e->part.group_len[0], start = m->group_start[k];
    size_t end = start + e->model.params[m->params[k]].numel;
    return start < (size_t)(r + 1) * P && end > (size_t)r * P;
}

int zs_muon_init(zs_muon *m, const zs_engine *e, zs_error *err)
{
    memset(m, 0, sizeof *m);
    m->world = e->world;
    int n = e->model.n_params;
    m->params = malloc(sizeof(int) * (size_t)n);
    m->group_start = malloc(sizeof(size_t) * (size_t)n);
    m->momentum = calloc((size_t)e->world, sizeof(float *));
    m->momentum_len = calloc((size_t)e->world, sizeof(size_t));
    m->full_grad = calloc(e->model.numel, sizeof(float));
    if (!m->params || !m->group_start || !m->momentum || !m->momentum_len || !m->full_grad)
        return zs_fail(err, "out of memory");
    m->n_muon = zs_muon_param_order(&e->model, m->params);
    size_t start = 0, largest = 1;
    for (int k = 0; k < m->n_muon; k++) {
        size_t numel = e->model.params[m->params[k]].numel;
        m->group_start[k] = start;
        start += numel;
        largest = numel > largest ? numel : largest;
    }
    if (!(m->work = malloc(largest * sizeof(float))))
        return zs_fail(err, "out of memory");
    for (int r = 0; r < e->world; r++) {   /* total_size = sum of numel of the params in the partition */
        for (int k = 0; k < m->n_muon; k++)
            m->momentum_len[r] += touches(m, e, k, r) ? e->model.params[m->params[k]].numel : 0;
        if (!(m->momentum[r] = calloc(m->momentum_len[r] ? m->momentum_len[r] : 1, sizeof(float))))
            return zs_fail(err, "out of memory");
    }
    return 0;
}

void zs_muon_free(zs_muon *m)
{
    for (int r = 0; m->momentum && r < m->world; r++)
        free(m->momentum[r]);
    free(m->momentum);
    free(m->momentum_len);
    free(m->params);
    free(m->group_start);
    free(m->full_grad);
    free(m->work);
    memset(m, 0, sizeof *m);
}

int zs_muon_orthogonalise(zs_muon *m, zs_engine *e, zs_error *err)
{
    const zs_optimizer_config *hp = &e->cfg->optimizer;
    zs_ns_method method = strcmp(hp->ns_method, "standard") ? ZS_NS_GRAM : ZS_NS_STANDARD;
    const float *parts[ZS_MAX_WORLD];
    for (int r = 0; r < e->world; r++)
        parts[r] = e->ranks[r].grad_part;
    zs_partition_assemble(&e->part, parts, m->full_grad);   /* the reduced gradient every owner sees */
    for (int r = 0; r < e->world; r++) {
        size_t buf = 0;
        for (int k = 0; k < m->n_muon; k++) {
            if (!touches(m, e, k, r))
                continue;
            const zs_gpt2_param *p = &e->model.params[m->params[k]];
            memcpy(m->work, m->full_grad + p->offset, p->numel * sizeof(float));
            if (zs_muon_update(e->model_dtype, m->work, m->momentum[r] + buf, (int)p->shape[0], (int)p->shape[1],
                               hp->momentum, method))
                return zs_fail(err, "out of memory in the Newton-Schulz iteration of %s", p->name);
            buf += p->numel;
            for (size_t j = 0; j < e->part.group_len[0]; j++) {   /* keep the rank's slice */
                int64_t idx = zs_partition_model_index(&e->part, r, j);
                if (idx >= (int64_t)p->offset && idx < (int64_t)(p->offset + p->numel))
                    e->ranks[r].grad_part[j] = m->work[(size_t)idx - p->offset];
            }
        }
    }
    return 0;
}
