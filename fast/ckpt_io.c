#include "ckpt_io.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ckpt_layout.h"
#include "comm.h"
#include "optim_rules.h"
#include "trace.h"

int zsf_ckpt_resume(zsf_engine *e, const char *dir, zs_error *err)
{
    zs_checkpoint c;
    const size_t len = e->part.len ? e->part.len : 1;
    float *master = malloc(len * sizeof(float) * (size_t)(1 + e->n_state));
    float *state[ZSF_OPTIM_N_STATE] = {0};
    const char *names[ZSF_OPTIM_N_STATE] = {0};
    for (int k = 0; master && k < e->n_state; k++) {
        state[k] = master + (size_t)(1 + k) * len;
        names[k] = zsf_optim_state_name(e->rule, k);
    }
    int rc = !master ? zs_fail(err, "out of host memory") : zs_ckpt_load(dir, &c, err);
    if (!rc) {
        rc = zsf_ckpt_take_partition(&c, &e->t, e->kase->seed, zs_precision_name(e->cfg->precision), names,
                                     e->n_state, &e->part, e->rank, master, state, err);
        if (!rc && c.global_steps >= e->kase->steps)
            rc = zs_fail(err, "the checkpoint is after step %lld; give --steps K with K > %lld to continue it",
                         (long long)c.global_steps, (long long)c.global_steps);
        if (!rc)
            zsf_engine_load_state(e, master, (const float *const *)state, c.global_steps, c.applied_steps,
                                  c.skipped_steps, c.scaler.cur_scale, c.scaler.cur_iter, c.scaler.last_overflow_iter,
                                  c.scaler.cur_hysteresis);
        zs_ckpt_free(&c);
    }
    free(master);
    if (!zsf_any(rc != 0))
        return 0;
    if (!rc)
        zs_fail(err, "another rank could not read the checkpoint");
    zs_error_prefix(err, "%s", dir);
    return 2;
}

/* rank 0: dst[r][len] = every rank's `mine` */
static void gather_rows(const zsf_engine *e, const float *mine, float *all, float **rows)
{
    if (e->part.len > (size_t)INT_MAX)
        zsf_die(__FILE__, __LINE__, "zsf_ckpt_save", "partition too large for one MPI_Gather");
    int n = (int)e->part.len;
    MPI_CHECK(MPI_Gather(mine, n, MPI_FLOAT, all, n, MPI_FLOAT, 0, MPI_COMM_WORLD));
    for (int r = 0; e->rank == 0 && r < e->world; r++)
        memcpy(rows[r], all + (size_t)r * e->part.len, e->part.len * sizeof(float));
}

int zsf_ckpt_save(zsf_engine *e, const char *dir, zs_error *err)
{
    zs_checkpoint c;
    memset(&c, 0, sizeof c);
    const size_t len = e->part.len;
    float *mine = malloc((len ? len : 1) * sizeof(float) * (size_t)(1 + e->n_state));
    float *all = e->rank == 0 ? malloc((len ? len : 1) * sizeof(float) * (size_t)e->world) : NULL;
    if (!mine || (e->rank == 0 && !all))
        zsf_die(__FILE__, __LINE__, "zsf_ckpt_save", "out of host memory");
    float *state[ZSF_OPTIM_N_STATE] = {0};
    for (int k = 0; k < e->n_state; k++)
        state[k] = mine + (size_t)(1 + k) * len;
    zsf_engine_read_partitions(e, NULL, mine, state);
    int rc = 0;
    if (e->rank == 0) {
        snprintf(c.generator, sizeof c.generator, "%s", ZSF_GENERATOR);
        snprintf(c.case_name, sizeof c.case_name, "%s", e->kase->name);
        snprintf(c.precision, sizeof c.precision, "%s", zs_precision_name(e->cfg->precision));
        c.model = e->t.dims;
        c.seed = e->kase->seed;
        c.world = e->world;
        c.stage = e->stage;
        c.numel = e->t.numel;
        c.part_len = len;
        c.global_steps = e->global_steps;
        c.applied_steps = e->applied_steps;
        c.skipped_steps = e->skipped_steps;
        c.scaler = (zs_ckpt_scaler){e->scaler.scale, e->scaler.cur_iter, e->scaler.last_overflow_iter,
                                    e->scaler.cur_hysteresis};
        c.n_state = e->n_state;
        for (int k = 0; k < e->n_state; k++)
            snprintf(c.state_names[k], sizeof c.state_names[k], "%s", zsf_optim_state_name(e->rule, k));
        const char *cfg = e->cfg->canonical_json ? e->cfg->canonical_json : "{}";
        c.config_json = malloc(strlen(cfg) + 1);
        rc = c.config_json ? zs_ckpt_alloc(&c, err) : zs_fail(err, "out of host memory");
        if (c.config_json)
            strcpy(c.config_json, cfg);
    }
    if (zsf_any(rc != 0) && !rc)
        rc = zs_fail(err, "rank 0 could not prepare the checkpoint");
    if (!rc) {
        gather_rows(e, mine, all, c.master);
        for (int k = 0; k < e->n_state; k++)
            gather_rows(e, state[k], all, c.state[k]);
        if (e->rank == 0)
            rc = zs_ckpt_save(&c, dir, err);
        if (zsf_any(rc != 0) && !rc)
            rc = zs_fail(err, "rank 0 could not write the checkpoint");
    }
    if (e->rank == 0)
        zs_ckpt_free(&c);
    free(mine);
    free(all);
    return rc ? 1 : 0;
}
