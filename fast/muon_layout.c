/* Muon's groups and momentum layout (muon_layout.h). */
#include "muon_layout.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Whether `word` (lower case) occurs in `name`, ignoring case: DeepSpeed tests name.lower(). */
static int contains_ignoring_case(const char *name, const char *word)
{
    const size_t n = strlen(name), w = strlen(word);
    for (size_t at = 0; at + w <= n; at++) {
        size_t i = 0;
        while (i < w && tolower((unsigned char)name[at + i]) == word[i])
            i++;
        if (i == w)
            return 1;
    }
    return 0;
}

int zsf_muon_uses(const zsf_param *p)
{
    return p->ndim >= 2 && !contains_ignoring_case(p->name, "embed") && !contains_ignoring_case(p->name, "lm_head");
}

/* qsort over (parameter, model index) pairs: larger torch.Size first (lexicographic over the
 * dimensions, a prefix before the longer shape), equal shapes in model order (Python's stable sort). */
typedef struct ranked {
    const zsf_param *p;
    int index;
} ranked;

static int by_shape_descending(const void *x, const void *y)
{
    const ranked *a = (const ranked *)x, *b = (const ranked *)y;
    const int dims = a->p->ndim < b->p->ndim ? a->p->ndim : b->p->ndim;
    for (int d = 0; d < dims; d++)
        if (a->p->shape[d] != b->p->shape[d])
            return a->p->shape[d] > b->p->shape[d] ? -1 : 1;
    if (a->p->ndim != b->p->ndim)
        return a->p->ndim > b->p->ndim ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int zsf_muon_order(const zsf_params *t, int *order)
{
    ranked *muon = malloc((t->n > 0 ? (size_t)t->n : 1) * sizeof(ranked));
    if (!muon)
        return -1;
    int n_muon = 0, k = 0;
    for (int p = 0; p < t->n; p++)
        if (zsf_muon_uses(&t->p[p]))
            muon[n_muon++] = (ranked){&t->p[p], p};
    qsort(muon, (size_t)n_muon, sizeof(ranked), by_shape_descending);
    for (; k < n_muon; k++)
        order[k] = muon[k].index;
    for (int p = 0; p < t->n; p++)
        if (!zsf_muon_uses(&t->p[p]))
            order[k++] = p;
    free(muon);
    return n_muon;
}

int zsf_muon_check(int stage, int64_t grad_accum_steps, zs_error *err)
{
    if (stage == 3)
        return zs_fail(err, "optimizer.type \"Muon\" with zero_optimization.stage 3 is not implemented (DeepSpeed "
                            "v0.19.6 runs it through stage3.py's sub-group momentum path, which the spec does not "
                            "model); use stage 0, 1 or 2");
    if (stage > 0 && grad_accum_steps > 1)
        return zs_fail(err, "optimizer.type \"Muon\" with gradient_accumulation_steps %lld at stage %d is not "
                            "modelled (only one micro-step's reduced gradient is orthogonalised); use "
                            "gradient_accumulation_steps 1",
                       (long long)grad_accum_steps, stage);
    return 0;
}

int zsf_muon_partition_init(zsf_partition *p, const zsf_params *t, int stage, int world, zs_error *err)
{
    size_t n = t->n > 0 ? (size_t)t->n : 1;
    size_t *sizes = malloc(n * sizeof(size_t));
    int *order = malloc(n * sizeof(int));
    if (!sizes || !order) {
        free(sizes);
        free(order);
        return zs_fail(err, "out of memory");
    }
    for (int i = 0; i < t->n; i++)
        sizes[i] = t->p[i].numel;
    const int n_muon = zsf_muon_order(t, order), counts[2] = {n_muon, t->n - n_muon};
    int rc = n_muon < 0 ? zs_fail(err, "out of memory")
                        : zsf_partition_init_grouped(p, stage, world, sizes, t->n, order, counts, 2, err);
    free(sizes);
    free(order);
    return rc;
}

int zsf_muon_plan_init(zsf_muon_plan *m, const zsf_params *t, const zsf_partition *part, int rank, zs_error *err)
{
    memset(m, 0, sizeof *m);
    m->max_numel = m->max_square = 1;
    size_t n = t->n > 0 ? (size_t)t->n : 1;
    int *order = malloc(n * sizeof(int));
    m->param = malloc(n * sizeof(int));
    m->buf_offset = malloc(n * sizeof(size_t));
    if (!order || !m->param || !m->buf_offset) {
        free(order);
        zsf_muon_plan_free(m);
        return zs_fail(err, "out of memory");
    }
    const int n_muon = zsf_muon_order(t, order);
    if (n_muon < 0) {
        free(order);
        zsf_muon_plan_free(m);
        return zs_fail(err, "out of memory");
    }
    const size_t P = part->group_len[0], lo = (size_t)rank * P, hi = lo + P;
    size_t start = 0;   /* the parameter's first element in the muon group's flat buffer */
    for (int k = 0; k < n_muon; k++) {
        const zsf_param *p = &t->p[order[k]];
        if (start < hi && start + p->numel > lo) {
            size_t side = (size_t)(p->shape[0] < p->shape[1] ? p->shape[0] : p->shape[1]);
            m->param[m->n] = order[k];
            m->buf_offset[m->n++] = m->buf_len;
            m->buf_len += p->numel;
            m->max_numel = p->numel > m->max_numel ? p->numel : m->max_numel;
            m->max_square = side * side > m->max_square ? side * side : m->max_square;
        }
        start += p->numel;
    }
    free(order);
    return 0;
}

void zsf_muon_plan_free(zsf_muon_plan *m)
{
    free(m->param);
    free(m->buf_offset);
    memset(m, 0, sizeof *m);
}
