/* OnebitLamb (1-bit Lamb). Source: deepspeedai/DeepSpeed v0.19.6 deepspeed/runtime/fp16/onebit/lamb.py
 * OnebitLamb.step (docs/spec/optimizers.md §8.4). Per tensor p: m, v, v_fresh (engine states) and
 * lamb_coeff_freeze, last_factor, scaling_coeff (here); over the whole model: one flat momentum
 * [m of every tensor | padding tail], compressed as one buffer, and its error buffers. The padding
 * tail starts at zero and then keeps the last compressed values (no parameter owns it).
 *   call 1 (initialisation): step = 1, the zero flat momentum compressed (a no-op), nothing else
 *   warm-up (Lamb without bias correction), g the engine's averaged gradient:
 *       m = ema(m, g) ; v = ema_sq(v, g) ; v_fresh = v at step == freeze_step
 *       u = update(m, v, p) ; coeff = clamp(|p|/|u|) (1 if a norm is 0), in double
 *       coeff != 1: lamb_coeff_freeze = coeff_beta*lamb_coeff_freeze + (1 - coeff_beta)*coeff
 *       p = p + fl32(-lr*coeff)*u ; compression from the step after step >= freeze_step
 *   compression, g this rank's own gradient:
 *       first time: scale_p = rms(m_p), scaling_coeff_p = mean(scale) / scale_p (double)
 *       m_prev = m ; m = ema(m, g)*scaling_coeff ; flat = compressed_allreduce(flat) (W > 1)
 *       m = m/scaling_coeff ; g_rec = (m - m_prev*b1)/(1 - b1) ; v_fresh = ema_sq(v_fresh, g_rec)
 *       denom = sqrt(v) + eps ; u0 = m/denom ; u = u0 (+ wd*p)
 *       factor = max(denom/(sqrt(v_fresh) + eps)) ; wd > 0: r = min(1, |u0|/|u|), factor = factor*r + 1 - r
 *       factor clamped to [factor_min, factor_max], then to last_factor*(1 -+ factor_threshold)
 *       last_factor = factor ; p = p + fl32(-lr*lamb_coeff_freeze*factor)*u */
#include <math.h>
#include <string.h>

#include "onebit/compressed_allreduce.h"
#include "onebit/onebit.h"
#include "onebit/torch_ops.h"

static double clamp(double x, double lo, double hi)
{
    if (x > hi)
        x = hi;
    if (x < lo)
        x = lo;
    return x;
}

/* The first compressed step fixes one scaling coefficient per tensor that evens out the tensors'
 * momentum scales inside the one flat buffer. */
static int set_scaling_coeffs(zs_onebit *ob, const float *m, zs_error *err)
{
    double united = 0.0;
    for (int t = 0; t < ob->n_tensors; t++) {
        const zs_gpt2_param *tp = &ob->tensors[t];
        ob->scaling_coeff[t] = (double)zs_onebit_rms(m + tp->offset, tp->numel);
        if (ob->scaling_coeff[t] == 0.0)
            return zs_fail(err, "step %lld: OnebitLamb: the momentum of %s is zero when compression starts; "
                                "DeepSpeed divides by its scale (ZeroDivisionError in OnebitLamb.step)",
                           (long long)ob->step + 1, tp->name);
        united += ob->scaling_coeff[t];
    }
    united = united / ob->n_tensors;
    for (int t = 0; t < ob->n_tensors; t++)
        ob->scaling_coeff[t] = united / ob->scaling_coeff[t];
    ob->has_scaling = 1;
    return 0;
}

static void warmup_tensor(zs_onebit *ob, const zs_onebit_call *c, int r, int t)
{
    const zs_gpt2_param *tp = &ob->tensors[t];
    size_t off = tp->offset, n = tp->numel;
    float *p = c->param[r] + off, *m = c->state[r][0] + off, *v = c->state[r][1] + off;
    float *v_fresh = c->state[r][2] + off, *u = ob->scratch[r];
    const float *g = c->grad[r] + off;
    for (size_t i = 0; i < n; i++) {
        m[i] = zs_torch_ema(c->beta1, m[i], g[i]);
        v[i] = zs_torch_ema_sq(c->beta2, v[i], g[i]);
    }
    if (ob->step == ob->hp->freeze_step)
        memcpy(v_fresh, v, n * sizeof(float));
    float w_norm = zs_onebit_norm(p, n);
    for (size_t i = 0; i < n; i++)
        u[i] = zs_onebit_update(m[i], v[i], ob->hp->eps, ob->hp->weight_decay, p[i]);
    float u_norm = zs_onebit_norm(u, n);
    double coeff = 1.0;
    if (w_norm != 0.0f && u_norm != 0.0f)
        coeff = clamp((double)(w_norm / u_norm), ob->hp->min_coeff, ob->hp->max_coeff);
    if (coeff != 1.0 && r == 0)   /* equal on every rank: kept once */
        ob->coeff_freeze[t] = ob->hp->coeff_beta * ob->coeff_freeze[t] + (1.0 - ob->hp->coeff_beta) * coeff;
    const float step = (float)(-c->lr * coeff);
    for (size_t i = 0; i < n; i++)
        p[i] = p[i] + step * u[i];
}

/* After the all-reduce: tensor t of rank r from its (scaled) compressed momentum. */
static void compressed_tensor(zs_onebit *ob, const zs_onebit_call *c, int r, int t)
{
    const zs_optimizer_config *hp = ob->hp;
    const zs_gpt2_param *tp = &ob->tensors[t];
    size_t off = tp->offset, n = tp->numel;
    float *p = c->param[r] + off, *m = c->state[r][0] + off, *v = c->state[r][1] + off;
    float *v_fresh = c->state[r][2] + off, *u = ob->scratch[r];
    const float *m_prev = ob->copy[r] + off;
    const float eps = (float)hp->eps;
    float factor_f = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        m[i] = zs_torch_div_scalar(m[i], ob->scaling_coeff[t]);
        float g_rec = zs_torch_div_scalar(m[i] - m_prev[i] * (float)c->beta1, 1.0 - c->beta1);
        v_fresh[i] = zs_torch_ema_sq(c->beta2, v_fresh[i], g_rec);
        float denom = sqrtf(v[i]) + eps;
        float ratio = denom / (sqrtf(v_fresh[i]) + eps);
        if (!isnan(factor_f) && (isnan(ratio) || ratio > factor_f))   /* torch's max propagates NaN */
            factor_f = ratio;
        u[i] = m[i] / denom;   /* update_prelim, for now */
    }
    double factor = (double)factor_f;
    if (hp->weight_decay > 0.0) {
        float u0_norm = zs_onebit_norm(u, n);
        for (size_t i = 0; i < n; i++)
            u[i] = u[i] + (float)hp->weight_decay * p[i];
        float u_norm = zs_onebit_norm(u, n);
        double ratio = (double)(u0_norm / u_norm);
        ratio = ratio < 1.0 ? ratio : 1.0;   /* Python min(1.0, x) */
        factor = factor * ratio + (1.0 - ratio);
    }
    factor = clamp(factor, hp->factor_min, hp->factor_max);
    factor = clamp(factor, ob->last_factor[t] * (1.0 - hp->factor_threshold),
                   ob->last_factor[t] * (1.0 + hp->factor_threshold));
    const float step = (float)(-c->lr * (ob->coeff_freeze[t] * factor));
    for (size_t i = 0; i < n; i++)
        p[i] = p[i] + step * u[i];
    if (r == ob->world - 1)   /* every rank reads the previous value first */
        ob->last_factor[t] = factor;
}

static void allreduce_flat(zs_onebit *ob, const zs_onebit_call *c)
{
    size_t N = ob->worker_len, tail = N - ob->numel;
    for (int r = 0; r < ob->world; r++) {
        memcpy(ob->scratch[r], c->state[r][0], ob->numel * sizeof(float));
        memcpy(ob->scratch[r] + ob->numel, ob->pad[r], tail * sizeof(float));
    }
    zs_compressed_allreduce(ob->scratch, N, ob->world, ob->worker, ob->server);
    for (int r = 0; r < ob->world; r++) {
        memcpy(c->state[r][0], ob->scratch[r], ob->numel * sizeof(float));
        memcpy(ob->pad[r], ob->scratch[r] + ob->numel, tail * sizeof(float));
    }
}

int zs_onebit_lamb_step(zs_onebit *ob, const zs_onebit_call *c, zs_error *err)
{
    if (ob->frozen) {
        for (int r = 0; r < ob->world; r++)
            memcpy(ob->copy[r], c->state[r][0], ob->numel * sizeof(float));
        if (!ob->has_scaling && set_scaling_coeffs(ob, c->state[0][0], err))
            return -1;
    }
    ob->step++;
    if (!ob->initialized) {
        ob->initialized = 1;
        return 0;
    }
    if (!ob->frozen) {
        for (int r = 0; r < ob->world; r++)
            for (int t = 0; t < ob->n_tensors; t++)
                warmup_tensor(ob, c, r, t);
        if (ob->step >= ob->hp->freeze_step) {
            ob->frozen = 1;
            ob->allreduce = 0;
        }
        return 0;
    }
    for (int r = 0; r < ob->world; r++)
        for (int t = 0; t < ob->n_tensors; t++) {
            const zs_gpt2_param *tp = &ob->tensors[t];
            float *m = c->state[r][0] + tp->offset;
            const float *g = c->grad[r] + tp->offset;
            const float sc = (float)ob->scaling_coeff[t];
            for (size_t i = 0; i < tp->numel; i++)
                m[i] = zs_torch_ema(c->beta1, m[i], g[i]) * sc;
        }
    if (ob->world > 1)
        allreduce_flat(ob, c);
    for (int r = 0; r < ob->world; r++)
        for (int t = 0; t < ob->n_tensors; t++)
            compressed_tensor(ob, c, r, t);
    return 0;
}
