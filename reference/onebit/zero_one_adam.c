/* ZeroOneAdam (0/1 Adam). Source: deepspeedai/DeepSpeed v0.19.6 deepspeed/runtime/fp16/onebit/zoadam.py
 * ZeroOneAdam.step (docs/spec/optimizers.md §8.3). State per rank: m, v, the momentum accumulator u
 * and the error buffers; lrs and the interval counters are the same on every rank. Each rank keeps
 * its own parameters: between synchronisations in phase 2 they diverge.
 *   call 1 (initialisation): step = 1, u compressed at zero (a no-op), nothing else
 *   phase 1 (until step > var_freeze_step):
 *       step % var_interval == 0: v = ema_sq(v, g), m = ema(m, g), g the engine's averaged gradient
 *       otherwise (W > 1):        m = ema(m, compressed_allreduce(g_local)); W = 1: m unchanged
 *       p = p + fl32(-lr)*update(m, v, p)
 *       var_interval doubles every var_update_scaler var steps; the engine all-reduces the next
 *       step's gradient iff (step + 1) % var_interval == 0
 *   phase 2 (error buffers zeroed once when it starts):
 *       m = ema(m, g_local) ; lrs += lr ; d = fl32(-lr)*update ; p = p + d ; u = u + d
 *       every local_step_interval steps: p = p - u ; u = u*(sqrt(v)+eps) ; u = compressed_allreduce(u)
 *           m = 0 + -(u/lrs) ; p = p + u/(sqrt(v)+eps) ; u = 0 ; lrs = 0
 *       local_step_interval doubles (up to local_step_clipper) every local_step_scaler steps */
#include <string.h>

#include "onebit/onebit.h"
#include "onebit/torch_ops.h"

static void allreduce_all_tensors(zs_onebit *ob, float *const *bufs)
{
    for (int t = 0; t < ob->n_tensors; t++)
        zs_onebit_allreduce_tensor(ob, t, bufs);
}

/* Phase 1 on a step whose gradient was not all-reduced: the momentum takes the compressed average. */
static void phase1_compressed_momentum(zs_onebit *ob, const zs_onebit_call *c)
{
    if (ob->world == 1)
        return;
    float *g[ZS_MAX_WORLD];
    for (int r = 0; r < ob->world; r++) {   /* compressed_allreduce works in place on the gradient */
        g[r] = ob->copy[r];
        memcpy(g[r], c->grad[r], ob->numel * sizeof(float));
    }
    allreduce_all_tensors(ob, g);
    for (int r = 0; r < ob->world; r++)
        for (size_t i = 0; i < ob->numel; i++)
            c->state[r][0][i] = zs_torch_ema(c->beta1, c->state[r][0][i], g[r][i]);
}

/* Phase 2 synchronisation: the ranks' accumulated local steps are replaced by their compressed mean. */
static void synchronise(zs_onebit *ob, const zs_onebit_call *c)
{
    const float eps = (float)ob->hp->eps;
    float *u[ZS_MAX_WORLD];
    for (int r = 0; r < ob->world; r++) {
        float *p = c->param[r], *v = c->state[r][1];
        u[r] = c->state[r][2];
        for (size_t i = 0; i < ob->numel; i++) {
            p[i] = p[i] - u[r][i];
            u[r][i] = u[r][i] * (sqrtf(v[i]) + eps);
        }
    }
    if (ob->world > 1)
        allreduce_all_tensors(ob, u);
    for (int r = 0; r < ob->world; r++) {
        float *p = c->param[r], *m = c->state[r][0], *v = c->state[r][1];
        for (size_t i = 0; i < ob->numel; i++) {
            m[i] = 0.0f + -1.0f * zs_torch_div_scalar(u[r][i], ob->lrs);   /* zero_().add_(u/lrs, alpha=-1) */
            p[i] = p[i] + u[r][i] / (sqrtf(v[i]) + eps);
            u[r][i] = 0.0f;
        }
    }
    ob->lrs = 0.0;
}

static void advance_counters(zs_onebit *ob)
{
    const zs_optimizer_config *hp = ob->hp;
    if (!ob->frozen) {
        if (ob->step % ob->var_interval == 0 && ++ob->var_counter == hp->var_update_scaler) {
            ob->var_counter = 0;
            ob->var_interval *= 2;
        }
        ob->allreduce = (ob->step + 1) % ob->var_interval == 0;
    } else if (++ob->local_counter == hp->local_step_scaler) {
        ob->local_counter = 0;
        ob->local_interval = 2 * ob->local_interval < hp->local_step_clipper ? 2 * ob->local_interval
                                                                            : hp->local_step_clipper;
    }
}

void zs_zero_one_adam_step(zs_onebit *ob, const zs_onebit_call *c)
{
    ob->step++;
    if (!ob->initialized) {
        ob->initialized = 1;
        return;
    }
    if (!ob->frozen && ob->step % ob->var_interval == 0) {
        for (int r = 0; r < ob->world; r++)
            for (size_t i = 0; i < ob->numel; i++) {
                c->state[r][1][i] = zs_torch_ema_sq(c->beta2, c->state[r][1][i], c->grad[r][i]);
                c->state[r][0][i] = zs_torch_ema(c->beta1, c->state[r][0][i], c->grad[r][i]);
            }
    } else if (!ob->frozen) {
        phase1_compressed_momentum(ob, c);
    } else {
        for (int r = 0; r < ob->world; r++)
            for (size_t i = 0; i < ob->numel; i++)
                c->state[r][0][i] = zs_torch_ema(c->beta1, c->state[r][0][i], c->grad[r][i]);
        ob->lrs += c->lr;
    }
    const float neg_lr = (float)-c->lr;
    for (int r = 0; r < ob->world; r++) {
        float *p = c->param[r], *m = c->state[r][0], *v = c->state[r][1], *u = c->state[r][2];
        for (size_t i = 0; i < ob->numel; i++) {
            float d = neg_lr * zs_onebit_update(m[i], v[i], ob->hp->eps, ob->hp->weight_decay, p[i]);
            p[i] = p[i] + d;
            if (ob->frozen)
                u[i] = u[i] + d;
        }
    }
    if (ob->frozen && ob->step % ob->local_interval == 0)
        synchronise(ob, c);
    advance_counters(ob);
    if (ob->step > ob->hp->var_freeze_step) {
        ob->frozen = 1;
        ob->allreduce = 0;
    }
    if (ob->frozen && !ob->errors_reset) {   /* reinitial_error_buffer */
        for (int r = 0; r < ob->world; r++) {
            memset(ob->worker[r], 0, ob->worker_len * sizeof(float));
            memset(ob->server[r], 0, ob->server_len * sizeof(float));
        }
        ob->errors_reset = 1;
    }
}
