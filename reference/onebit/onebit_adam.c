/* OnebitAdam (1-bit Adam). Source: deepspeedai/DeepSpeed v0.19.6 deepspeed/runtime/fp16/onebit/adam.py
 * OnebitAdam.step (docs/spec/optimizers.md §8.2). No bias correction anywhere; for every tensor:
 *   call 1 (initialisation): step = 1, the zero momentum is compressed (which leaves it and the error
 *          buffers at zero), nothing else changes
 *   warm-up, g = the engine's averaged gradient:
 *          m = ema(m, g) ; v = ema_sq(v, g) ; p = p + fl32(-lr)*update(m, v, p)
 *          then, once step >= freeze_step: compression from the next step on, engine all-reduce off
 *   compression, g = this rank's own gradient:
 *          m = ema(m, g) ; m = compressed_allreduce(m) (W > 1) ; p = p + fl32(-lr)*update(m, v, p)
 *          v frozen */
#include "onebit/onebit.h"
#include "onebit/torch_ops.h"

/* One rank's elements [0, n): the moments (v only while warming up), then the parameters. */
static void moments(const zs_onebit_call *c, int r, size_t n, int update_v)
{
    float *m = c->state[r][0], *v = c->state[r][1];
    for (size_t i = 0; i < n; i++) {
        m[i] = zs_torch_ema(c->beta1, m[i], c->grad[r][i]);
        if (update_v)
            v[i] = zs_torch_ema_sq(c->beta2, v[i], c->grad[r][i]);
    }
}

static void apply_update(const zs_onebit *ob, const zs_onebit_call *c, int r)
{
    const float *m = c->state[r][0], *v = c->state[r][1];
    float *p = c->param[r];
    const float neg_lr = (float)-c->lr;
    for (size_t i = 0; i < ob->numel; i++)
        p[i] = p[i] + neg_lr * zs_onebit_update(m[i], v[i], ob->hp->eps, ob->hp->weight_decay, p[i]);
}

void zs_onebit_adam_step(zs_onebit *ob, const zs_onebit_call *c)
{
    ob->step++;
    if (!ob->initialized) {
        ob->initialized = 1;
        return;
    }
    if (!ob->frozen) {
        for (int r = 0; r < ob->world; r++) {
            moments(c, r, ob->numel, 1);
            apply_update(ob, c, r);
        }
        if (ob->step >= ob->hp->freeze_step) {
            ob->frozen = 1;
            ob->allreduce = 0;
        }
        return;
    }
    for (int r = 0; r < ob->world; r++)
        moments(c, r, ob->numel, 0);
    if (ob->world > 1) {
        float *m[ZS_MAX_WORLD];
        for (int r = 0; r < ob->world; r++)
            m[r] = c->state[r][0];
        for (int t = 0; t < ob->n_tensors; t++)
            zs_onebit_allreduce_tensor(ob, t, m);
    }
    for (int r = 0; r < ob->world; r++)
        apply_update(ob, c, r);
}
