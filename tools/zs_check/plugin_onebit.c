/* zs-check plugin, the 1-bit compressed all-reduce (fixtures/ops/onebit_compressed_allreduce.safetensors,
 * written by `zs-ref ops`; zerospec/plugin.h compressed_allreduce; docs/spec/optimizers.md §8.1).
 *
 * Every call is teacher-forced: it starts from the golden error buffers of the previous call, so an
 * error is reported at the call that makes it. What a correct kernel may do differently is reduce
 * its norms (and the server's W-term sum) in another order: the scales s_r, t_j are then off by a
 * relative ZS_ONEBIT_SCALE_RTOL at most (docs/conformance.md), and every value below is a sign times
 * a scale, or a difference of an input and one, so each element's bound is that rtol times the
 * scales it involves (plus 2 fp32 ulps of its own rounding). Signs are exact: the golden inputs keep
 * every server value either exactly 0 or far from it, and the worker values y = x + e are exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zs_check.h"

#define MAX_WORLD 64

typedef struct onebit_io {
    int world, calls;
    size_t n, chunk;
    float *mem, *bufs[MAX_WORLD], *werr[MAX_WORLD], *serr[MAX_WORLD];
    double scale[MAX_WORLD];   /* rms of y_r = x_r + e_r, exact (the golden s_r up to rounding) */
    float *serr_in;            /* the server errors entering the call, chunk j at j*chunk */
} onebit_io;

static int load_config(onebit_io *io, const zs_st_file *f, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "config/%s", name);
    cJSON *o = cJSON_Parse(zs_st_meta(f, key) ? zs_st_meta(f, key) : "");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "world"), *n = cJSON_GetObjectItemCaseSensitive(o, "padded"),
                *k = cJSON_GetObjectItemCaseSensitive(o, "calls");
    int ok = cJSON_IsNumber(w) && cJSON_IsNumber(n) && cJSON_IsNumber(k) && w->valueint >= 1 &&
             w->valueint <= MAX_WORLD && n->valuedouble >= 1 && k->valueint >= 1;
    *io = (onebit_io){.world = ok ? w->valueint : 0, .calls = ok ? k->valueint : 0,
                      .n = ok ? (size_t)n->valuedouble : 0};
    cJSON_Delete(o);
    if (!ok || io->n % (size_t)io->world)
        return -1;
    io->chunk = io->n / (size_t)io->world;
    if (!(io->mem = calloc((size_t)io->world * (2 * io->n + io->chunk) + io->n, sizeof(float))))
        return -1;
    for (int r = 0; r < io->world; r++) {
        io->bufs[r] = io->mem + (size_t)r * io->n;
        io->werr[r] = io->mem + (size_t)(io->world + r) * io->n;
        io->serr[r] = io->mem + (size_t)2 * (size_t)io->world * io->n + (size_t)r * io->chunk;
    }
    io->serr_in = io->mem + (size_t)io->world * (2 * io->n + io->chunk);
    return 0;
}

/* Golden tensor "<case>/call<k>/<what>" (what may end in /rank<r>), or NULL when k = 0 (zeros). */
static const float *golden(const zs_st_file *f, const char *name, int k, const char *what, int rank, size_t n)
{
    char key[160];
    if (rank >= 0)
        snprintf(key, sizeof key, "%s/call%d/%s/rank%d", name, k, what, rank);
    else
        snprintf(key, sizeof key, "%s/call%d/%s", name, k, what);
    return zs_plugin_tensor_f32(f, key, n);
}

/* The buffers entering call k: golden inputs, and the golden errors after call k-1. -1 if missing. */
static int load_call(onebit_io *io, const zs_st_file *f, const char *name, int k)
{
    for (int r = 0; r < io->world; r++) {
        const float *x = golden(f, name, k, "in", r, io->n);
        const float *e = k > 1 ? golden(f, name, k - 1, "worker_error", r, io->n) : NULL;
        const float *s = k > 1 ? golden(f, name, k - 1, "server_error", r, io->chunk) : NULL;
        if (!x || (k > 1 && (!e || !s)))
            return -1;
        memcpy(io->bufs[r], x, io->n * sizeof(float));
        for (size_t i = 0; i < io->n; i++)
            io->werr[r][i] = e ? e[i] : 0.0f;
        for (size_t i = 0; i < io->chunk; i++)
            io->serr[r][i] = io->serr_in[(size_t)r * io->chunk + i] = s ? s[i] : 0.0f;
        double sum = 0;
        for (size_t i = 0; i < io->n; i++) {
            double y = (float)(x[i] + io->werr[r][i]);
            sum += y * y;
        }
        io->scale[r] = sqrt(sum / (double)io->n);
    }
    return 0;
}

/* Judges call k's outputs; fills j. -1 if a golden output is missing. */
static int judge_call(const onebit_io *io, const zs_st_file *f, const char *name, int k, zs_bound_judge *j)
{
    const double tau = ZS_ONEBIT_SCALE_RTOL;
    const float *out = golden(f, name, k, "out", -1, io->n);
    char where[96];
    double server_in = 0;   /* the server sum's terms: sum over r of s_r / W */
    for (int r = 0; r < io->world; r++)
        server_in += io->scale[r] / io->world;
    if (!out)
        return -1;
    for (int r = 0; r < io->world && !j->failed; r++) {
        const float *we = golden(f, name, k, "worker_error", r, io->n), *se = golden(f, name, k, "server_error", r, io->chunk);
        if (!we || !se)
            return -1;
        snprintf(where, sizeof where, "call %d rank %d out", k, r);
        for (size_t i = 0; i < io->n; i++)   /* t_j * c: the scale's rtol, the sign exact */
            zs_judge_element(j, where, i, io->bufs[r][i], out[i], tau * fabs(out[i]), 1);
        snprintf(where, sizeof where, "call %d rank %d worker_error", k, r);
        for (size_t i = 0; i < io->n; i++)   /* y - s_r*b */
            zs_judge_element(j, where, i, io->werr[r][i], we[i], tau * io->scale[r] + 2 * zs_ulp_fp32(we[i]), 0);
        snprintf(where, sizeof where, "call %d rank %d server_error", k, r);
        for (size_t i = 0; i < io->chunk; i++) {   /* z - t_j*c, z = sum of the ranks' terms + f */
            size_t g = (size_t)r * io->chunk + i;
            double bound = tau * (server_in + fabs(io->serr_in[g]) + fabs(out[g])) + 2 * zs_ulp_fp32(se[i]);
            zs_judge_element(j, where, i, io->serr[r][i], se[i], bound, 0);
        }
    }
    return 0;
}

static void check_case(zs_plugin_run *r, const char *label, const zs_st_file *f, const char *name)
{
    onebit_io io;
    zs_bound_judge j = {0};
    char detail[600];
    if (load_config(&io, f, name)) {
        free(io.mem);
        return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (config)");
    }
    for (int k = 1; k <= io.calls && !j.failed; k++) {
        if (load_call(&io, f, name, k)) {
            free(io.mem);
            return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (a call's tensors)");
        }
        zs_plugin_compressed_allreduce a = {io.world, io.n, io.bufs, io.werr, io.serr};
        int rc = r->p->compressed_allreduce(&a);
        if (rc != ZS_PLUGIN_OK) {
            free(io.mem);
            return zs_plugin_verdict(r, label, rc, rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
        }
        if (judge_call(&io, f, name, k, &j)) {
            free(io.mem);
            return zs_plugin_verdict(r, label, ZS_PLUGIN_ERROR, "malformed golden file (a call's outputs)");
        }
    }
    if (j.failed)
        snprintf(detail, sizeof detail, "%s; %d elements out of tolerance", j.detail, j.failed);
    else
        snprintf(detail, sizeof detail, "(%d calls teacher-forced, %d ranks x %zu floats; sign bits exact, worst "
                 "error/bound %.3g)", io.calls, io.world, io.n, j.worst);
    zs_plugin_verdict(r, label, j.failed ? ZS_PLUGIN_ERROR : ZS_PLUGIN_OK, detail);
    free(io.mem);
}

void zs_plugin_check_onebit(zs_plugin_run *r, const char *kase, const zs_st_file *f)
{
    zs_plugin_each_case(r, kase, f, "cases", NULL, r->p->compressed_allreduce != NULL,
                        ZS_PLUGIN_HAS(r->p, compressed_allreduce), "compressed_allreduce", check_case);
}
