/* Muon's groups and momentum layout (muon_layout.h). */
#include "muon_layout.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int name_contains(const char *name, const char *word)
{
    char lower[sizeof ((zsf_param *)0)->name];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = '\0';
    return strstr(lower, word) != NULL;
}

int zsf_muon_uses(const zsf_param *p)
{
    return p->ndim >= 2 && !name_contains(p->name, "embed") && !name_contains(p->name, "lm_head");
}

/* torch.Size's ordering: lexicographic over the dimensions, a prefix before the longer shape. */
static int shape_greater(const zsf_param *a, const zsf_param *b)
{
    for (int d = 0; d < a->ndim && d < b->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return a->shape[d] > b->shape[d];
    return a->ndim > b->ndim;
}

int zsf_muon_order(const zsf_params *t, int *order)
{
    int n_muon = 0, k;
    for (int p = 0; p < t->n; p++) {   /* insertion after every equal shape keeps the sort stable */
        if (!zsf_muon_uses(&t->p[p]))
            continue;
        int at = n_muon;
        while (at > 0 && shape_greater(&t->p[p], &t->p[order[at - 1]]))
            at--;
        memmove(order + at + 1, order + at, (size_t)(n_muon - at) * sizeof(int));
        order[at] = p;
        n_muon++;
    }
    k = n_muon;
    for (int p = 0; p < t->n; p++)
        if (!zsf_muon_uses(&t->p[p]))
            order[k++] = p;
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
    int rc = zsf_partition_init_grouped(p, stage, world, sizes, t->n, order, counts, 2, err);
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
