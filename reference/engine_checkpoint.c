#include "engine_checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "precision.h"

/* The 1-bit optimizers keep per-rank error-feedback buffers whose length depends on W (and 0/1 Adam
 * lets ranks' parameters diverge); Muon regroups the flat layout and keeps whole-parameter momentum
 * per rank: none of it fits a checkpoint of plain partitions. */
int zs_engine_can_checkpoint(const zs_engine *e, const char *what, zs_error *err)
{
    if (e->onebit)
        return zs_fail(err, "%s: not supported with optimizer.type \"%s\" (its per-rank error-feedback state depends "
                            "on the world size; docs/spec/checkpoint.md)", what, e->cfg->optimizer.type_name);
    if (e->matrix_optim)
        return zs_fail(err, "%s: not supported with optimizer.type \"%s\" (its param groups reorder the flat layout "
                            "and its momentum holds whole parameters per rank; docs/spec/checkpoint.md)", what,
                       e->cfg->optimizer.type_name);
    return 0;
}

int zs_engine_checkpoint(const zs_engine *e, const char *generator, zs_checkpoint *c, zs_error *err)
{
    memset(c, 0, sizeof *c);
    if (zs_engine_can_checkpoint(e, "checkpoints", err))
        return -1;
    snprintf(c->generator, sizeof c->generator, "%s", generator);
    snprintf(c->case_name, sizeof c->case_name, "%s", e->kase->name);
    snprintf(c->precision, sizeof c->precision, "%s", zs_precision_name(e->cfg->precision));
    c->model = e->model.dims;
    c->seed = e->kase->seed;
    c->world = e->world;
    c->stage = e->stage;
    c->numel = e->model.numel;
    c->part_len = e->part.len;
    c->global_steps = e->global_steps;
    c->applied_steps = e->applied_steps;
    c->skipped_steps = e->skipped_steps;
    c->scaler = (zs_ckpt_scaler){e->scaler.cur_scale, e->scaler.cur_iter, e->scaler.last_overflow_iter,
                                 e->scaler.cur_hysteresis};
    c->n_state = e->optim->n_state;
    for (int s = 0; s < c->n_state; s++)
        snprintf(c->state_names[s], sizeof c->state_names[s], "%s", e->optim->state_names[s]);
    const char *cfg = e->cfg->canonical_json ? e->cfg->canonical_json : "{}";
    if (!(c->config_json = malloc(strlen(cfg) + 1)))
        return zs_fail(err, "out of memory");
    strcpy(c->config_json, cfg);
    if (zs_ckpt_alloc(c, err))
        return -1;
    for (int r = 0; r < e->world; r++) {
        memcpy(c->master[r], e->ranks[r].master, e->part.len * sizeof(float));
        for (int s = 0; s < c->n_state; s++)
            memcpy(c->state[s][r], e->ranks[r].state[s], e->part.len * sizeof(float));
    }
    return 0;
}

int zs_checkpoint_consolidate(const zs_checkpoint *c, const zs_gpt2 *model, float *master, float *const *states,
                              zs_error *err)
{
    size_t *sizes = malloc(sizeof(size_t) * (size_t)model->n_params);
    if (!sizes)
        return zs_fail(err, "out of memory");
    for (int i = 0; i < model->n_params; i++)
        sizes[i] = model->params[i].numel;
    zs_partition src;
    int rc = zs_partition_init(&src, c->stage, c->world, sizes, model->n_params);
    free(sizes);
    if (rc)
        return zs_fail(err, "out of memory");
    if (src.numel != c->numel || src.len != c->part_len) {
        rc = zs_fail(err, "checkpoint: %zu parameters in partitions of %zu elements, but the spec's layout for this "
                          "model at stage %d on %d ranks has %zu in partitions of %zu (docs/spec.md \"Partitioning\")",
                     c->numel, c->part_len, c->stage, c->world, src.numel, src.len);
    } else {
        zs_partition_assemble(&src, (const float *const *)c->master, master);
        for (int s = 0; states && s < c->n_state; s++)
            zs_partition_assemble(&src, (const float *const *)c->state[s], states[s]);
    }
    zs_partition_free(&src);
    return rc;
}

/* Each rank's model-dtype parameters from its masters, as publish_params leaves them after a step. */
static void refresh_model_params(zs_engine *e, const float *full_master)
{
    for (int r = 0; r < e->world; r++) {
        zs_rank *rk = &e->ranks[r];
        if (e->stage == 3) {
            for (size_t j = 0; j < e->part.len; j++)
                rk->param_shard[j] = zs_round_to(e->model_dtype, rk->master[j]);
        } else if (!e->master_is_model) {
            for (size_t i = 0; i < e->model.numel; i++)
                rk->model_params[i] = zs_round_to(e->model_dtype, full_master[i]);
        }
    }
}

int zs_engine_resume(zs_engine *e, const zs_checkpoint *c, zs_error *err)
{
    int index[ZS_CKPT_MAX_STATE];
    if (zs_engine_can_checkpoint(e, "resuming from a checkpoint", err) ||
        zs_ckpt_check_run(c, &e->model.dims, e->model.numel, e->kase->seed, zs_precision_name(e->cfg->precision),
                          e->optim->state_names, e->optim->n_state, index, err))
        return -1;
    size_t numel = e->model.numel;
    float *full = malloc((size_t)(1 + c->n_state) * numel * sizeof(float));
    float *states[ZS_CKPT_MAX_STATE] = {0};
    if (!full)
        return zs_fail(err, "out of memory");
    for (int s = 0; s < c->n_state; s++)
        states[s] = full + (size_t)(1 + s) * numel;
    if (zs_checkpoint_consolidate(c, &e->model, full, states, err)) {
        free(full);
        return -1;
    }
    for (int r = 0; r < e->world; r++) {
        zs_partition_extract(&e->part, r, full, e->ranks[r].master);
        for (int s = 0; s < e->optim->n_state; s++)
            zs_partition_extract(&e->part, r, states[index[s]], e->ranks[r].state[s]);
    }
    refresh_model_params(e, full);
    free(full);
    e->global_steps = c->global_steps;
    e->applied_steps = c->applied_steps;
    e->skipped_steps = c->skipped_steps;
    if (e->scaler.dynamic) {   /* a static scale is the config's own and never changes */
        e->scaler.cur_scale = c->scaler.cur_scale;
        e->scaler.cur_iter = c->scaler.cur_iter;
        e->scaler.last_overflow_iter = c->scaler.last_overflow_iter;
        e->scaler.cur_hysteresis = c->scaler.cur_hysteresis;
    }
    return 0;
}
