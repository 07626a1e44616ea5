#include "trace.h"

#include <stdio.h>
#include <stdlib.h>

#include "onebit/onebit.h"

int zs_st_add_model_params(zs_st_writer *w, const zs_gpt2 *m, const char *prefix, const float *flat,
                           zs_error *err)
{
    char name[160];
    for (int p = 0; p < m->n_params; p++) {
        const zs_gpt2_param *prm = &m->params[p];
        snprintf(name, sizeof name, "%s%s", prefix, prm->name);
        if (zs_st_add(w, name, ZS_F32, prm->ndim, prm->shape, flat + prm->offset, err))
            return -1;
    }
    return 0;
}

static int write_metadata(zs_trace *t, const zs_engine *e, const char *generator, zs_error *err)
{
    const zs_model_dims *d = &e->model.dims;
    char model[160];
    snprintf(model, sizeof model, "{\"vocab\":%d,\"seq\":%d,\"channels\":%d,\"layers\":%d,\"heads\":%d}",
             d->vocab, d->seq, d->channels, d->layers, d->heads);
    if (zs_st_set_meta(t->w, "format", ZS_TRACE_FORMAT, err) ||
        zs_st_set_meta(t->w, "format_version", ZS_TRACE_FORMAT_VERSION, err) ||
        zs_st_set_meta(t->w, "spec_version", ZS_SPEC_VERSION, err) ||
        zs_st_set_meta(t->w, "generator", generator, err) ||
        zs_st_set_meta(t->w, "deepspeed_version", ZS_DEEPSPEED_VERSION, err) ||
        zs_st_set_meta(t->w, "case", e->kase->name, err) ||
        zs_st_set_meta(t->w, "precision", zs_precision_name(e->cfg->precision), err) ||
        zs_st_set_meta(t->w, "model", model, err) ||
        zs_st_set_meta(t->w, "config", e->cfg->canonical_json ? e->cfg->canonical_json : "{}", err) ||
        zs_st_set_meta_int(t->w, "world_size", e->world, err) || zs_st_set_meta_int(t->w, "stage", e->stage, err) ||
        zs_st_set_meta_int(t->w, "seed", (int64_t)e->kase->seed, err))
        return -1;
    return 0;
}

int zs_trace_begin(zs_trace *t, const zs_engine *e, const char *generator, zs_error *err)
{
    t->w = zs_st_writer_new();
    t->full = malloc(e->model.numel * sizeof(float));
    if (!t->w || !t->full)
        return zs_fail(err, "out of memory");
    if (write_metadata(t, e, generator, err))
        return -1;
    if (e->global_steps > 0)   /* resumed from a checkpoint: steps after it only */
        return zs_st_set_meta_int(t->w, "resumed_from_step", e->global_steps, err);
    /* Initial parameters: every rank holds the same; publish from the master partitions (at stage 0
     * fp32 these are the model parameters themselves). */
    zs_engine_gather_master(e, t->full);
    return zs_st_add_model_params(t->w, &e->model, "init/param/", t->full, err);
}

int zs_trace_step(zs_trace *t, const zs_engine *e, const zs_step_report *rep, zs_error *err)
{
    char name[160];
    long long k = (long long)rep->step;
    uint8_t overflow = (uint8_t)rep->overflow, skipped = (uint8_t)rep->skipped;
#define SCALAR(suffix, call)                                                                           \
    do {                                                                                               \
        snprintf(name, sizeof name, "step%lld/" suffix, k);                                            \
        if (call)                                                                                      \
            return -1;                                                                                 \
    } while (0)
    SCALAR("loss", zs_st_add_scalar_f32(t->w, name, rep->loss, err));
    SCALAR("lr", zs_st_add_scalar_f32(t->w, name, (float)rep->lr, err));
    SCALAR("grad_norm", zs_st_add_scalar_f32(t->w, name, rep->grad_norm, err));
    SCALAR("loss_scale", zs_st_add_scalar_f64(t->w, name, rep->loss_scale, err));
    SCALAR("overflow", zs_st_add(t->w, name, ZS_U8, 0, NULL, &overflow, err));
    SCALAR("skipped", zs_st_add(t->w, name, ZS_U8, 0, NULL, &skipped, err));
    if (e->cfg->precision == ZS_PREC_FP16) {   /* what a restart after step k needs (teacher forcing) */
        const double st[4] = {e->scaler.cur_scale, (double)e->scaler.cur_iter, (double)e->scaler.last_overflow_iter,
                              (double)e->scaler.cur_hysteresis};
        const int64_t shape[1] = {4};
        SCALAR("loss_scaler", zs_st_add(t->w, name, ZS_F64, 1, shape, st, err));
    }
#undef SCALAR
    size_t len = e->part.len;
    for (int r = 0; r < e->world; r++) {
        const zs_rank *rk = &e->ranks[r];
        snprintf(name, sizeof name, "step%lld/rank%d/loss", k, r);
        if (zs_st_add_scalar_f32(t->w, name, (float)(rk->loss_sum / (double)e->batch.grad_accum_steps), err))
            return -1;
        snprintf(name, sizeof name, "step%lld/rank%d/grad", k, r);
        if (zs_st_add_f32(t->w, name, rk->grad_part, len, err))
            return -1;
        snprintf(name, sizeof name, "step%lld/rank%d/master", k, r);
        if (zs_st_add_f32(t->w, name, rk->master, len, err))
            return -1;
        for (int s = 0; s < e->optim->n_state; s++) {
            snprintf(name, sizeof name, "step%lld/rank%d/%s", k, r, e->optim->state_names[s]);
            if (zs_st_add_f32(t->w, name, rk->state[s], len, err))
                return -1;
        }
        if (e->onebit && zs_onebit_trace_rank(t->w, e->onebit, k, r, err))
            return -1;
        if (e->muon && e->muon->momentum_len[r]) {   /* Muon: whole parameters touching the partition */
            snprintf(name, sizeof name, "step%lld/rank%d/momentum_buffer", k, r);
            if (zs_st_add_f32(t->w, name, e->muon->momentum[r], e->muon->momentum_len[r], err))
                return -1;
        }
    }
    zs_engine_gather_master(e, t->full);
    snprintf(name, sizeof name, "step%lld/param/", k);
    if (zs_st_add_model_params(t->w, &e->model, name, t->full, err))
        return -1;
    if (e->model_dtype == ZS_F32)   /* in fp32 the model parameters are the masters */
        return 0;
    zs_engine_model_params(e, t->full);
    snprintf(name, sizeof name, "step%lld/model/", k);
    return zs_st_add_model_params(t->w, &e->model, name, t->full, err);
}

int zs_trace_finish(zs_trace *t, const char *path, zs_error *err)
{
    return zs_st_write_file(t->w, path, err);
}

void zs_trace_free(zs_trace *t)
{
    zs_st_writer_free(t->w);
    free(t->full);
    t->w = NULL;
    t->full = NULL;
}
