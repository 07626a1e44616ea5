/* The trace of a zs-fast run (trace.h). */
#include "trace.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "check.h"
#include "comm.h"
#include "onebit.h"
#include "muon.h"

/* The writer can only fail on a programming error or out of memory here: abort the job. */
static void must(int rc, const zs_error *err)
{
    if (rc)
        zsf_die(__FILE__, __LINE__, "safetensors writer", err->msg);
}

static void meta(zs_st_writer *w, const char *key, const char *value)
{
    zs_error err = {{0}};
    must(zs_st_set_meta(w, key, value, &err), &err);
}

static void meta_int(zs_st_writer *w, const char *key, int64_t v)
{
    zs_error err = {{0}};
    must(zs_st_set_meta_int(w, key, v, &err), &err);
}

static void write_metadata(zs_st_writer *w, const zsf_engine *e)
{
    const zs_model_dims *d = &e->t.dims;
    char model[160];
    snprintf(model, sizeof model, "{\"vocab\":%d,\"seq\":%d,\"channels\":%d,\"layers\":%d,\"heads\":%d}", d->vocab,
             d->seq, d->channels, d->layers, d->heads);
    meta(w, "format", ZSF_TRACE_FORMAT);
    meta(w, "format_version", ZSF_TRACE_FORMAT_VERSION);
    meta(w, "spec_version", ZSF_SPEC_VERSION);
    meta(w, "generator", ZSF_GENERATOR);
    meta(w, "deepspeed_version", ZSF_DEEPSPEED_VERSION);
    meta(w, "case", e->kase->name);
    meta(w, "precision", zs_precision_name(e->cfg->precision));
    meta(w, "model", model);
    meta(w, "config", e->cfg->canonical_json ? e->cfg->canonical_json : "{}");
    meta_int(w, "world_size", e->world);
    meta_int(w, "stage", e->stage);
    meta_int(w, "seed", (long long)e->kase->seed);
}

/* Rank 0 receives every rank's copy of one partition tensor into t->all[world * len]. */
static void gather_kind(zsf_trace *t, const zsf_engine *e, const float *mine)
{
    if (e->part.len > (size_t)INT_MAX)
        zsf_die(__FILE__, __LINE__, "gather_kind", "partition too large for one MPI_Gather");
    int n = (int)e->part.len;
    MPI_CHECK(MPI_Gather(mine, n, MPI_FLOAT, t->all, n, MPI_FLOAT, 0, MPI_COMM_WORLD));
}

static void add_f32(zsf_trace *t, const char *name, const float *data, size_t n)
{
    zs_error err = {{0}};
    must(zs_st_add_f32(t->w, name, data, n, &err), &err);
}

/* Rank 0: <prefix>/<name> for every parameter of the full model in t->full. */
static void add_full(zsf_trace *t, const zsf_engine *e, const char *prefix)
{
    char name[200];
    for (int p = 0; p < e->t.n; p++) {
        const zsf_param *prm = &e->t.p[p];
        zs_error err = {{0}};
        snprintf(name, sizeof name, "%s/%s", prefix, prm->name);
        must(zs_st_add(t->w, name, ZS_F32, prm->ndim, prm->shape, t->full + prm->offset, &err), &err);
    }
}

/* Rank 0: <prefix>/<name> for every parameter, from the consolidated partitions in t->all. */
static void add_params(zsf_trace *t, const zsf_engine *e, const char *prefix)
{
    const float *parts[4096];
    for (int r = 0; r < e->world; r++)
        parts[r] = t->all + (size_t)r * e->part.len;
    zsf_partition_assemble(&e->part, parts, t->full);
    add_full(t, e, prefix);
}

/* fp16/bf16: step<k>/model/<name>, the model-dtype parameters after the step: rank 0's copy at
 * stages 0-2, every rank's shard assembled at stage 3. */
static void add_model(zsf_trace *t, zsf_engine *e, long long k)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "step%lld/model", k);
    if (e->stage == 3) {
        zsf_engine_read_model(e, t->mine);
        gather_kind(t, e, t->mine);
        if (e->rank == 0)
            add_params(t, e, prefix);
    } else if (e->rank == 0) {
        zsf_engine_read_model(e, t->full);
        add_full(t, e, prefix);
    }
}

/* Muon at stages 1-2: step<k>/rank<r>/momentum_buffer, each rank's own length (the whole muon
 * parameters touching its partition); absent for a rank with none, as in zs-ref. */
static void add_momentum(zsf_trace *t, zsf_engine *e, long long k)
{
    const size_t len = zsf_muon_momentum_len(e);
    if (len > (size_t)INT_MAX)
        zsf_die(__FILE__, __LINE__, "add_momentum", "momentum buffer too large for one MPI_Gatherv");
    int mine = (int)len, *counts = malloc((size_t)e->world * 2 * sizeof(int)), total = 0;
    float *buf = malloc((len ? len : 1) * sizeof(float)), *all = NULL;
    if (!counts || !buf)
        zsf_die(__FILE__, __LINE__, "add_momentum", "out of host memory");
    int *displs = counts + e->world;
    zsf_muon_read_momentum(e, buf);
    MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD));
    for (int r = 0; r < e->world; r++) {
        displs[r] = total;
        total += counts[r];
    }
    if (e->rank == 0 && !(all = malloc((total ? (size_t)total : 1) * sizeof(float))))
        zsf_die(__FILE__, __LINE__, "add_momentum", "out of host memory");
    MPI_CHECK(MPI_Gatherv(buf, mine, MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD));
    char name[200];
    for (int r = 0; e->rank == 0 && r < e->world; r++)
        if (counts[r]) {
            snprintf(name, sizeof name, "step%lld/rank%d/momentum_buffer", k, r);
            add_f32(t, name, all + displs[r], (size_t)counts[r]);
        }
    free(all);
    free(buf);
    free(counts);
}

void zsf_trace_begin(zsf_trace *t, zsf_engine *e)
{
    memset(t, 0, sizeof *t);
    const size_t len = e->part.len ? e->part.len : 1;
    t->mine = malloc((2 + (size_t)e->n_state) * len * sizeof(float));
    if (e->rank == 0) {
        t->w = zs_st_writer_new();
        t->all = malloc((size_t)e->world * len * sizeof(float));
        t->full = malloc((e->t.numel ? e->t.numel : 1) * sizeof(float));
    }
    if (!t->mine || (e->rank == 0 && (!t->w || !t->all || !t->full)))
        zsf_die(__FILE__, __LINE__, "zsf_trace_begin", "out of host memory");
    if (e->rank == 0)
        write_metadata(t->w, e);
    if (e->global_steps > 0) {   /* resumed from a checkpoint: steps after it only, no init/ (spec §13) */
        if (e->rank == 0)
            meta_int(t->w, "resumed_from_step", e->global_steps);
        return;
    }
    zsf_engine_read_partitions(e, NULL, t->mine, NULL);
    gather_kind(t, e, t->mine);
    if (e->rank == 0)
        add_params(t, e, "init/param");
}

void zsf_trace_step(zsf_trace *t, zsf_engine *e, const zsf_step_report *rep)
{
    const size_t len = e->part.len;
    float *grad = t->mine, *master = t->mine + len, *state[ZSF_OPTIM_N_STATE] = {0};
    for (int k = 0; k < e->n_state; k++)
        state[k] = t->mine + (2 + (size_t)k) * len;
    zsf_engine_read_partitions(e, grad, master, state);

    char name[200];
    const long long k = (long long)rep->step;
    if (e->rank == 0) {
        zs_error err = {{0}};
        uint8_t overflow = (uint8_t)rep->overflow, skipped = (uint8_t)rep->skipped;
        snprintf(name, sizeof name, "step%lld/loss", k);
        must(zs_st_add_scalar_f32(t->w, name, rep->loss, &err), &err);
        snprintf(name, sizeof name, "step%lld/lr", k);
        must(zs_st_add_scalar_f32(t->w, name, (float)rep->lr, &err), &err);
        snprintf(name, sizeof name, "step%lld/grad_norm", k);
        must(zs_st_add_scalar_f32(t->w, name, rep->grad_norm, &err), &err);
        snprintf(name, sizeof name, "step%lld/loss_scale", k);
        must(zs_st_add_scalar_f64(t->w, name, rep->loss_scale, &err), &err);
        snprintf(name, sizeof name, "step%lld/overflow", k);
        must(zs_st_add(t->w, name, ZS_U8, 0, NULL, &overflow, &err), &err);
        snprintf(name, sizeof name, "step%lld/skipped", k);
        must(zs_st_add(t->w, name, ZS_U8, 0, NULL, &skipped, &err), &err);
        if (e->dt == ZSF_FP16) {   /* the scaler after step k: what a restart from step k needs (spec §13) */
            const double st[4] = {e->scaler.scale, (double)e->scaler.cur_iter, (double)e->scaler.last_overflow_iter,
                                  (double)e->scaler.cur_hysteresis};
            const int64_t shape[1] = {4};
            snprintf(name, sizeof name, "step%lld/loss_scaler", k);
            must(zs_st_add(t->w, name, ZS_F64, 1, shape, st, &err), &err);
        }
        for (int r = 0; r < e->world; r++) {
            snprintf(name, sizeof name, "step%lld/rank%d/loss", k, r);
            must(zs_st_add_scalar_f32(t->w, name, rep->rank_loss[r], &err), &err);
        }
    }
    const char *kinds[2 + ZSF_OPTIM_N_STATE] = {"grad", "master"};
    for (int s = 0; s < e->n_state; s++)
        kinds[2 + s] = zsf_optim_state_name(e->rule, s);
    for (int kind = 0; kind < 2 + e->n_state; kind++) {
        gather_kind(t, e, t->mine + (size_t)kind * len);
        for (int r = 0; e->rank == 0 && r < e->world; r++) {
            snprintf(name, sizeof name, "step%lld/rank%d/%s", k, r, kinds[kind]);
            add_f32(t, name, t->all + (size_t)r * len, len);
        }
        if (kind == 1 && e->rank == 0) {   /* t->all holds every master partition right now */
            snprintf(name, sizeof name, "step%lld/param", k);
            add_params(t, e, name);
        }
    }
    if (e->onebit)   /* error buffers, counters, OnebitLamb's coefficients */
        zsf_onebit_trace(e->onebit, e, t->w, k);
    if (e->muon && e->stage > 0)
        add_momentum(t, e, k);
    if (e->dt != ZSF_FP32)   /* after the loop: t->mine is free again */
        add_model(t, e, k);
}

int zsf_trace_finish(zsf_trace *t, const char *path, zs_error *err)
{
    int failed = 0;
    if (t->w)
        failed = zs_st_write_file(t->w, path, err) != 0;
    int any = zsf_any(failed);
    if (any)
        MPI_CHECK(MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, 0, MPI_COMM_WORLD));
    return any ? 1 : 0;
}

void zsf_trace_free(zsf_trace *t)
{
    zs_st_writer_free(t->w);
    free(t->mine);
    free(t->all);
    free(t->full);
    memset(t, 0, sizeof *t);
}
