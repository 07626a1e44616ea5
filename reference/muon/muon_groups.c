/* Which GPT-2 parameters Muon orthogonalises, and the ZeRO flat order of the two groups. */
#include <ctype.h>
#include <string.h>

#include "muon/muon.h"

static int name_contains(const char *name, const char *word)
{
    char lower[128];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = '\0';
    return strstr(lower, word) != NULL;
}

int zs_muon_uses_muon(const zs_gpt2_param *p)
{
    return p->ndim >= 2 && !name_contains(p->name, "embed") && !name_contains(p->name, "lm_head");
}

/* torch.Size comparison: lexicographic over the dimensions (then the shorter first). */
static int shape_greater(const zs_gpt2_param *a, const zs_gpt2_param *b)
{
    for (int d = 0; d < a->ndim && d < b->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return a->shape[d] > b->shape[d];
    return a->ndim > b->ndim;
}

int zs_muon_param_order(const zs_gpt2 *model, int *order)
{
    int n_muon = 0, k = 0;
    for (int p = 0; p < model->n_params; p++) {   /* sorted(..., reverse=True) is stable: insert after equals */
        if (!zs_muon_uses_muon(&model->params[p]))
            continue;
        int at = n_muon;
        while (at > 0 && shape_greater(&model->params[p], &model->params[order[at - 1]]))
            at--;
        memmove(order + at + 1, order + at, (size_t)(n_muon - at) * sizeof(int));
        order[at] = p;
        n_muon++;
    }
    k = n_muon;
    for (int p = 0; p < model->n_params; p++)
        if (!zs_muon_uses_muon(&model->params[p]))
            order[k++] = p;
    return n_muon;
}
