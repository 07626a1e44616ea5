/* zs-fast-bench, phase "optim": device copy bandwidth, then every optimizer rule zsf_optim_step runs
 * (optim.h) over one flat fp32 buffer of GPT-2 124M's parameter count (stage 0, W = 1: the rank's
 * partition is the whole model). The 1-bit family and Muon are not timed: they are not element-wise
 * kernels over the partition (the 1-bit family steps the whole stage-0 model with compressed
 * all-reduces, onebit.h; Muon runs Newton-Schulz GEMMs per matrix, muon.h).
 *
 * Bytes counted per parameter: what the kernel must move, each fp32 array read or written once per
 * pass (the copy moves 2 * bytes, read + write):
 *   Adam/AdamW (FusedAdam and torch's rule)  read p, g, m, v; write p, m, v        7 * 4 = 28
 *   Adagrad                                  read p, g, sum; write p, sum          5 * 4 = 20
 *   Lion                                     read p, g, m; write p, m              5 * 4 = 20
 *   SGD with momentum                        read p, g, buf; write p, buf          5 * 4 = 20
 *   Lamb, two passes over the data (its trust ratio needs ||p|| and ||u|| before any p changes):
 *     part 1 reads p, g, m, v and writes m, v (24); part 3 reads p, m, v and writes p (16)  = 40
 *     (part 2 reduces at most 512 block sums: nothing per parameter).
 * Timed steps are past the first (Adagrad and SGD skip reading their state on step 1).
 *
 * Before timing, each rule is checked bit for bit on an aligned 2^20 prefix and a misaligned,
 * odd-length slice (any vector/tail split of a kernel): FusedAdam against an independent host
 * formula (optim.cu's, rewritten here); the other element-wise rules against cpu_optim.c, the same
 * optim_math.h element arithmetic on the host (so it checks the launch, indexing and scalars); Lamb's
 * moments and parameter update bit for bit given the kernel's trust ratio, and that ratio against
 * one from double sums (relative 1e-5: float tree sums of 2^20 terms err by ~20 ulps). --fmad=false
 * and IEEE sqrt/division make the element arithmetic exact on both sides. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.cuh"
#include "cpu_optim.h"
#include "optim.h"
#include "optim_math.h"

/* The independent FusedAdam oracle: optim.cu's per-element arithmetic, same association, float. */
static void adam_host(const zs_optimizer_config *hp, int64_t t, float lr, float inv, float *p, const float *g,
                      float *m, float *v, size_t n)
{
    const float b1 = (float)hp->betas[0], b2 = (float)hp->betas[1], eps = (float)hp->eps;
    const float wd = (float)hp->weight_decay;
    const float bc1 = (float)(1.0 - pow((double)b1, (double)t)), bc2 = (float)(1.0 - pow((double)b2, (double)t));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * inv;
        if (!hp->adam_w_mode)
            gi = gi + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float update = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);
        if (hp->adam_w_mode)
            update = update + wd * p[i];
        p[i] = p[i] - lr * update;
    }
}

/* One benchmarked rule: its row name, config, bytes per parameter, and torch_peers.py's rows for
 * the same update (NULL-terminated) or why there are none. */
typedef struct optim_row {
    const char *name;
    zsf_optim_rule rule;
    int adam_w_mode;
    int bytes_per_param;
    const char *bytes_note;
    const char *peers[4];
    const char *no_peer;
} optim_row;

static const optim_row rows[] = {
    {"FusedAdam (AdamW)", ZSF_FUSED_ADAM, 1, 28, "read p, g, m, v; write p, m, v",
     {"AdamW fused", "AdamW fused (one flat tensor)", "AdamW foreach", NULL}, NULL},
    {"FusedAdam (Adam, L2)", ZSF_FUSED_ADAM, 0, 28, "read p, g, m, v; write p, m, v", {"Adam fused", "Adam foreach", NULL},
     NULL},
    {"torch Adam rule (AdamW)", ZSF_TORCH_ADAM, 1, 28, "read p, g, m, v; write p, m, v",
     {"AdamW foreach", "AdamW fused", NULL}, NULL},
    {"torch Adam rule (Adam, L2)", ZSF_TORCH_ADAM, 0, 28, "read p, g, m, v; write p, m, v",
     {"Adam foreach", "Adam fused", NULL}, NULL},
    {"FusedLamb", ZSF_FUSED_LAMB, 0, 40,
     "part 1 reads p, g, m, v and writes m, v (24); part 3 reads p, m, v and writes p (16)", {NULL},
     "torch has no Lamb optimizer (DeepSpeed's FusedLamb and apex's FusedLAMB are outside torch)"},
    {"torch Adagrad rule", ZSF_TORCH_ADAGRAD, 0, 20, "read p, g, sum; write p, sum", {"Adagrad foreach", NULL}, NULL},
    {"FusedLion", ZSF_FUSED_LION, 0, 20, "read p, g, m; write p, m", {NULL},
     "torch has no Lion optimizer (DeepSpeed's FusedLion is outside torch)"},
    {"torch SGD rule (momentum 0.9)", ZSF_TORCH_SGD, 0, 20, "read p, g, buf; write p, buf",
     {"SGD momentum fused", "SGD momentum foreach", NULL}, NULL},
};

/* Each rule's hyperparameters: the benchmarks' Adam ones (GPT-2 style) for the Adam family; the
 * torch_peers.py peers' for SGD and Adagrad (lr 6e-4, no weight decay); DeepSpeed's defaults
 * otherwise, with the same lr and decay. */
static zs_optimizer_config config_of(const optim_row *r)
{
    zs_optimizer_config hp = zsfb_adam_config(r->adam_w_mode);
    hp.torch_adam = r->rule == ZSF_TORCH_ADAM;
    switch (r->rule) {
    case ZSF_FUSED_LAMB:
        hp.betas[1] = 0.999;
        hp.max_coeff = 10.0;
        hp.min_coeff = 0.01;
        break;
    case ZSF_FUSED_LION:
        hp.betas[1] = 0.99;
        break;
    case ZSF_TORCH_ADAGRAD:
        hp.weight_decay = 0.0;
        hp.eps = 1e-10;
        break;
    case ZSF_TORCH_SGD:
        hp.weight_decay = 0.0;
        hp.momentum = 0.9;
        break;
    default:
        break;
    }
    return hp;
}

static zsf_optim_scalars scalars_of(zsf_optim_rule rule, const zs_optimizer_config *hp, int64_t t)
{
    zsf_optim_scalars sc;
    zsf_optim_scalars_for(rule, hp, t, hp->lr, hp->betas[0], hp->betas[1], &sc);
    return sc;
}

/* Host copies of k = 0..3 of bufs [off, off+n) (param, grad, state 0, state 1). */
static void to_host(float *h[4], float *const dev[4], int nb, size_t off, size_t n, cudaStream_t s)
{
    for (int k = 0; k < nb; k++) {
        h[k] = (float *)malloc(n * sizeof(float));
        if (!h[k])
            zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
        CUDA_CHECK(cudaMemcpyAsync(h[k], dev[k] + off, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));
}

/* Elements whose bits differ between want[k] and got[k], over the arrays the step writes (k != 1). */
static size_t mismatches(float *want[4], float *got[4], int nb, size_t n)
{
    size_t bad = 0;
    for (int k = 0; k < nb; k++)
        for (size_t i = 0; k != 1 && i < n; i++)
            bad += memcmp(&want[k][i], &got[k][i], sizeof(float)) != 0;
    return bad;
}

static void free_all(float *a[4], int nb)
{
    for (int k = 0; k < nb; k++)
        free(a[k]);
}

/* Lamb on the host from the kernel's trust ratio `coeff`: moments, then p -= (step_size*coeff)*u;
 * returns ||p||/||u|| clamped as the kernel does, from double sums (the check of `coeff`). */
static float lamb_host(const zsf_optim_scalars *c, float inv, float coeff, float *p, const float *g, float *m,
                       float *v, size_t n)
{
    double sw = 0.0, su = 0.0;
    for (size_t i = 0; i < n; i++) {
        zsf_lamb_moments(c, g[i] * inv, &m[i], &v[i]);
        const float u = zsf_lamb_update(c, m[i], v[i], p[i]);
        sw += (double)p[i] * p[i];
        su += (double)u * u;
    }
    for (size_t i = 0; i < n; i++) {
        const float u = zsf_lamb_update(c, m[i], v[i], p[i]);
        p[i] = p[i] - (c->step_size * coeff) * u;
    }
    return zsf_lamb_coeff(c, (float)sw, (float)su);
}

/* One device step of rule r on [off, off+n) and its host check (file comment); returns the number
 * of mismatching elements (a Lamb trust ratio off by more than 1e-5 counts as one). */
static size_t check_slice(const optim_row *r, float *const buf[4], float *const *state, float *scratch, size_t off,
                          size_t n, cudaStream_t s)
{
    const zs_optimizer_config hp = config_of(r);
    const int nb = 2 + zsf_optim_n_state(r->rule);
    float *const dev[4] = {buf[0], buf[1], state[0], nb > 3 ? state[1] : NULL};
    float *want[4] = {NULL, NULL, NULL, NULL}, *got[4] = {NULL, NULL, NULL, NULL};
    to_host(want, dev, nb, off, n, s);
    const float inv = 0.75f;
    const int64_t t = 3;
    const zsf_optim_scalars sc = scalars_of(r->rule, &hp, t);
    float *slice_state[ZSF_OPTIM_N_STATE] = {state[0] + off, nb > 3 ? state[1] + off : NULL, NULL};
    zsf_optim_step(&sc, inv, dev[0] + off, dev[1] + off, slice_state, n, scratch, s);
    to_host(got, dev, nb, off, n, s);
    size_t bad = 0;
    if (r->rule == ZSF_FUSED_ADAM) {
        adam_host(&hp, t, (float)hp.lr, inv, want[0], want[1], want[2], want[3], n);
    } else if (r->rule == ZSF_FUSED_LAMB) {
        float coeff = 0.0f;
        CUDA_CHECK(cudaMemcpy(&coeff, scratch + 2 * ZSF_LAMB_THREADS, sizeof coeff, cudaMemcpyDeviceToHost));
        const float ref = lamb_host(&sc, inv, coeff, want[0], want[1], want[2], want[3], n);
        bad += !(fabs((double)coeff - ref) <= 1e-5 * fabs((double)ref));
    } else {
        zsf_cpu_optim_step(&sc, inv, want[0], want[1], want + 2, n, NULL, ZSF_FP32, 0);
    }
    bad += mismatches(want, got, nb, n);
    free_all(want, nb);
    free_all(got, nb);
    return bad;
}

/* Fresh random inputs: param, grad, first state (signed, like a momentum), second state (>= 0,
 * like a second moment). */
static void fill_inputs(float *const buf[4], size_t n, cudaStream_t s)
{
    const float lo[4] = {-0.1f, -0.01f, -1e-3f, 0.0f}, hi[4] = {0.1f, 0.01f, 1e-3f, 1e-5f};
    for (int k = 0; k < 4; k++)
        zsfb_fill(buf[k], n, 0xB0C4u + (uint64_t)k, lo[k], hi[k], s);
}

/* Times one rule over the n-element buffers; adds its JSON row to list. */
static void bench_rule(cJSON *list, const optim_row *r, float *const buf[4], float *scratch, size_t n, double copy_gbps,
                       double budget_s, cudaStream_t s)
{
    fill_inputs(buf, n, s);
    /* Adagrad's only state is a sum of squares: give it the non-negative buffer */
    float *state[ZSF_OPTIM_N_STATE] = {r->rule == ZSF_TORCH_ADAGRAD ? buf[3] : buf[2], buf[3], NULL};
    const size_t bad = check_slice(r, buf, state, scratch, 0, (size_t)1 << 20, s) +
                       check_slice(r, buf, state, scratch, 1, ((size_t)1 << 16) + 3, s);
    const zs_optimizer_config hp = config_of(r);
    int64_t step = 10;
    auto one = [&] {
        const zsf_optim_scalars sc = scalars_of(r->rule, &hp, step++);
        zsf_optim_step(&sc, 1.0f, buf[0], buf[1], state, n, scratch, s);
    };
    double ms[64];
    const double first = zsfb_time(one, 2, 1, s, ms);
    const int reps = zsfb_reps_for(first * 1e-3, budget_s, 5, 50);
    const double med = zsfb_time(one, 1, reps, s, ms);
    const double gbps = (double)r->bytes_per_param * (double)n / (med * 1e-3) / 1e9;

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "impl", "zs-fast");
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "rule", zsf_optim_rule_name(r->rule));
    cJSON_AddStringToObject(o, "layout", "one flat fp32 buffer");
    cJSON_AddNumberToObject(o, "bytes_per_param", r->bytes_per_param);
    cJSON_AddStringToObject(o, "bytes_note", r->bytes_note);
    if (r->peers[0]) {
        cJSON *peers = cJSON_AddArrayToObject(o, "torch_peers");
        for (int k = 0; r->peers[k]; k++)
            cJSON_AddItemToArray(peers, cJSON_CreateString(r->peers[k]));
    } else {
        cJSON_AddStringToObject(o, "no_torch_peer", r->no_peer);
    }
    zsfb_put_times(o, ms, reps);
    cJSON_AddNumberToObject(o, "gbps", gbps);
    cJSON_AddNumberToObject(o, "frac_copy", gbps / copy_gbps);
    cJSON_AddStringToObject(o, "check", r->rule == ZSF_FUSED_ADAM   ? "bit for bit vs an independent host formula"
                                        : r->rule == ZSF_FUSED_LAMB ? "moments and update bit for bit given the trust "
                                                                      "ratio; ratio within 1e-5 of double sums"
                                                                    : "bit for bit vs optim_math.h on the host");
    cJSON_AddNumberToObject(o, "check_mismatches", (double)bad);
    cJSON_AddItemToArray(list, o);
    printf("zs-fast %-30s %2d B/param %8.3f ms  %7.1f GB/s  %.3f of copy  check %s\n", r->name, r->bytes_per_param,
           med, gbps, gbps / copy_gbps, bad ? "FAILED" : "passed");
}

int zsfb_bench_optim(cJSON *out, const zs_model_dims *d, double budget_s, cudaStream_t s)
{
    size_t n = 0;
    if (zsfb_param_count(d, &n))
        return -1;
    float *pool = NULL, *dst = NULL, *scratch = NULL;
    CUDA_CHECK(cudaMalloc((void **)&pool, 4 * n * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&dst, 4 * n * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&scratch, ZSF_OPTIM_SCRATCH * sizeof(float)));
    float *const buf[4] = {pool, pool + n, pool + 2 * n, pool + 3 * n};
    fill_inputs(buf, n, s);
    cJSON_AddNumberToObject(out, "params", (double)n);

    /* Copy bandwidth: 4n floats device to device. */
    const double copy_bytes = 2.0 * 4.0 * (double)n * sizeof(float);
    double ms[64];
    cJSON *copy = cJSON_AddObjectToObject(out, "copy");
    cJSON_AddStringToObject(copy, "what", "cudaMemcpyAsync device to device, bytes read + written");
    cJSON_AddNumberToObject(copy, "bytes", copy_bytes);
    double med = zsfb_time([&] { CUDA_CHECK(cudaMemcpyAsync(dst, pool, 4 * n * sizeof(float), cudaMemcpyDeviceToDevice, s)); },
                           3, 20, s, ms);
    zsfb_put_times(copy, ms, 20);
    const double copy_gbps = copy_bytes / (med * 1e-3) / 1e9;
    cJSON_AddNumberToObject(copy, "gbps", copy_gbps);
    printf("copy: %.3f ms for %.2f GB moved: %.1f GB/s\n", med, copy_bytes / 1e9, copy_gbps);
    CUDA_CHECK(cudaFree(dst));

    cJSON *list = cJSON_AddArrayToObject(out, "optimizers");
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        bench_rule(list, &rows[k], buf, scratch, n, copy_gbps, budget_s, s);
    static const char not_timed[] =
        "OneBitAdam, ZeroOneAdam, OneBitLamb (the 1-bit family steps the whole stage-0 model around compressed "
        "all-reduces, onebit.h) and Muon (Newton-Schulz GEMMs per matrix, muon.h): not element-wise kernels over "
        "the partition, so not timed here";
    cJSON_AddStringToObject(out, "not_timed", not_timed);
    printf("not timed: %s\n", not_timed);
    CUDA_CHECK(cudaFree(scratch));
    CUDA_CHECK(cudaFree(pool));
    return 0;
}
