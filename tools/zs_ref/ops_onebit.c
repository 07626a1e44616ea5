/* The 1-bit all-reduce golden cases of `zs-ref ops`: fixtures/ops/onebit_compressed_allreduce.safetensors
 * (zerospec/plugin.h compressed_allreduce; docs/spec/optimizers.md §8.1). Each case is W ranks'
 * buffers through several calls in sequence, the error buffers carried from call to call (error
 * feedback), so that a kernel is checked with non-zero errors too.
 *
 *   metadata  op=compressed_allreduce, cases ("w2_n37 ..."), config/<case> ({"world":2,"n":37,"padded":48,"calls":3})
 *   tensors   <case>/call<k>/in/rank<r>            F32 [padded]   x_r before call k
 *             <case>/call<k>/out                   F32 [padded]   the result (identical on every rank)
 *             <case>/call<k>/worker_error/rank<r>  F32 [padded]   after call k (zero before call 1)
 *             <case>/call<k>/server_error/rank<r>  F32 [padded/W] after call k (zero before call 1)
 *
 * What the inputs exercise: padding (n not a multiple of W*lcm(W, 8): zeros at every call, as the
 * optimizers pad), exact zeros (0 compresses to +1: elements 0 at call 1, and from call 2 on every
 * 7th element is -worker_error so that y = x + e is exactly 0), mixed signs and scales (N(0,1) draws,
 * a different scale per call). In the first case rank 1 holds -x_0 on chunk 0 and x_0 on chunk 1 at
 * call 1: equal scales, so chunk 0's server sum is exactly 0 (+1 again) whatever the norm's order.
 * Every other server value is kept away from 0 (checked here) so that a correct kernel whose norms
 * differ in the last bits cannot flip a sign bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onebit/compressed_allreduce.h"
#include "zs_ref.h"

#define MAX_W 4

typedef struct onebit_case {
    const char *name;
    int world, calls;
    size_t n;
    int opposed;   /* call 1: rank 1 = -rank 0 on chunk 0, rank 0 on chunk 1 */
} onebit_case;

static const onebit_case cases[] = {
    {"w2_n37", 2, 3, 37, 1},     /* padded to 48 */
    {"w3_n100", 3, 3, 100, 0},   /* padded to 144 */
    {"w4_n64", 4, 3, 64, 0},     /* no padding */
};

static const double call_scale[] = {1.0, 0.5, 2.0};

/* x_r for call k (1-based), given the errors entering the call. */
static void fill_inputs(const onebit_case *c, int k, size_t padded, float *const *x, float *const *werr)
{
    size_t chunk = padded / (size_t)c->world;
    for (int r = 0; r < c->world; r++) {
        memset(x[r], 0, padded * sizeof(float));
        zs_ref_ops_fill_normal(x[r], c->n, 2000 + 100 * (uint64_t)(c - cases) + 10 * (uint64_t)k + (uint64_t)r,
                               call_scale[(k - 1) % 3]);
        for (size_t i = 0; k > 1 && i < c->n; i += 7)
            x[r][i] = -werr[r][i];
    }
    if (c->opposed && k == 1) {
        x[0][3] = x[0][5] = 0.0f;
        for (size_t i = 0; i < padded; i++)
            x[1][i] = i < chunk ? -x[0][i] : x[0][i];
    }
}

/* The server value z = server_error + out of every element is 0 or at least 1e-4 of its chunk's
 * largest: a scale off by the check's rtol (1e-5) moves z by a tenth of that. */
static int check_margin(const onebit_case *c, int k, const float *out, float *const *serr, size_t padded,
                        zs_error *err)
{
    size_t chunk = padded / (size_t)c->world;
    for (int j = 0; j < c->world; j++) {
        double zmax = 0;
        for (size_t i = 0; i < chunk; i++)
            zmax = fmax(zmax, fabs((double)serr[j][i] + out[j * chunk + i]));
        for (size_t i = 0; i < chunk; i++) {
            double z = (double)serr[j][i] + out[j * chunk + i];
            if (z != 0 && fabs(z) < 1e-4 * zmax)
                return zs_fail(err, "onebit case %s call %d: server value %zu is %g, too close to 0 (choose "
                                    "other inputs)", c->name, k, j * chunk + i, z);
        }
    }
    return 0;
}

static int write_case(zs_st_writer *w, const onebit_case *c, zs_error *err)
{
    size_t padded = zs_onebit_padded_size(c->n, c->world), chunk = padded / (size_t)c->world;
    float *mem = calloc((size_t)MAX_W * (2 * padded + chunk), sizeof(float));
    float *x[MAX_W], *werr[MAX_W], *serr[MAX_W];
    char name[128], json[128];
    int rc = -1;
    if (!mem)
        return zs_fail(err, "ops: onebit: out of memory");
    for (int r = 0; r < c->world; r++) {
        x[r] = mem + (size_t)r * padded;
        werr[r] = mem + (size_t)(MAX_W + r) * padded;
        serr[r] = mem + (size_t)2 * MAX_W * padded + (size_t)r * chunk;
    }
    snprintf(name, sizeof name, "config/%s", c->name);
    snprintf(json, sizeof json, "{\"world\":%d,\"n\":%zu,\"padded\":%zu,\"calls\":%d}", c->world, c->n, padded, c->calls);
    if (zs_st_set_meta(w, name, json, err))
        goto done;
    for (int k = 1; k <= c->calls; k++) {
        fill_inputs(c, k, padded, x, werr);
        for (int r = 0; r < c->world; r++) {
            snprintf(name, sizeof name, "%s/call%d/in/rank%d", c->name, k, r);
            if (zs_st_add_f32(w, name, x[r], padded, err))
                goto done;
        }
        zs_compressed_allreduce(x, padded, c->world, werr, serr);
        snprintf(name, sizeof name, "%s/call%d/out", c->name, k);
        if (check_margin(c, k, x[0], serr, padded, err) || zs_st_add_f32(w, name, x[0], padded, err))
            goto done;
        for (int r = 0; r < c->world; r++) {
            snprintf(name, sizeof name, "%s/call%d/worker_error/rank%d", c->name, k, r);
            if (zs_st_add_f32(w, name, werr[r], padded, err))
                goto done;
            snprintf(name, sizeof name, "%s/call%d/server_error/rank%d", c->name, k, r);
            if (zs_st_add_f32(w, name, serr[r], chunk, err))
                goto done;
        }
    }
    rc = 0;
done:
    free(mem);
    return rc;
}

int zs_ref_ops_onebit(const char *dir, zs_error *err)
{
    zs_st_writer *w = zs_st_writer_new();
    char list[128] = "";
    int bad = zs_st_set_meta(w, "op", "compressed_allreduce", err);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0] && !bad; c++) {
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c ? " " : "", cases[c].name);
        bad = write_case(w, &cases[c], err);
    }
    if (bad || zs_st_set_meta(w, "cases", list, err)) {
        zs_st_writer_free(w);
        return -1;
    }
    return zs_ref_ops_write(w, dir, "onebit_compressed_allreduce.safetensors", err);
}
