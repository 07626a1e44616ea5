/* Shared helpers of zs-fast-bench (bench.h): the model size, medians, repeat counts, memory. */
#define _POSIX_C_SOURCE 200809L  /* clock_gettime */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gpt2_params.h"

zs_model_dims zsfb_gpt2_124m(void)
{
    zs_model_dims d = {.vocab = 50257, .seq = 1024, .channels = 768, .layers = 12, .heads = 12};
    return d;
}

int zsfb_param_count(const zs_model_dims *d, size_t *n)
{
    zsf_params t;
    zs_error err = {{0}};
    if (zsf_params_build(&t, *d, &err)) {
        fprintf(stderr, "zs-fast-bench: %s\n", err.msg);
        return -1;
    }
    *n = t.numel;
    zsf_params_free(&t);
    return 0;
}

zs_optimizer_config zsfb_adam_config(int adam_w_mode)
{
    zs_optimizer_config hp;
    memset(&hp, 0, sizeof hp);
    hp.lr = 6e-4;
    hp.betas[0] = 0.9;
    hp.betas[1] = 0.95;
    hp.eps = 1e-8;
    hp.weight_decay = 0.1;
    hp.adam_w_mode = adam_w_mode;
    hp.bias_correction = 1;
    return hp;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double zsfb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double zsfb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int zsfb_reps_for(double first_s, double budget_s, int lo, int hi)
{
    int n = first_s > 0 ? (int)(budget_s / first_s) : hi;
    return n < lo ? lo : n > hi ? hi : n;
}

double zsfb_put_times(cJSON *obj, double *ms, int n)
{
    cJSON_AddItemToObject(obj, "ms", cJSON_CreateDoubleArray(ms, n));
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        zsf_die(__FILE__, __LINE__, "malloc", "out of host memory");
    for (int i = 0; i < n; i++)
        sorted[i] = ms[i];
    double med = zsfb_median(sorted, n);
    free(sorted);
    cJSON_AddNumberToObject(obj, "median_ms", med);
    return med;
}

size_t zsfb_device_used(void)
{
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return total_b - free_b;
}

const char *zsfb_dtype_name(zsf_dtype dt)
{
    return dt == ZSF_BF16 ? "bf16" : dt == ZSF_FP16 ? "fp16" : "fp32";
}

int zsfb_case(zs_case *kase, const zs_model_dims *d, int batch, zsf_dtype dt, int stage, int overlap_comm, int world)
{
    const char *precision = dt == ZSF_BF16   ? ", \"bf16\": {\"enabled\": true}"
                            : dt == ZSF_FP16 ? ", \"fp16\": {\"enabled\": true, \"initial_scale_power\": 12}"
                                             : "";
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"bench_gpt2_124m\", \"model\": {\"vocab\": %d, \"seq\": %d, \"channels\": %d, \"layers\": %d,"
             " \"heads\": %d}, \"seed\": 1, \"steps\": 1, \"ds_config\": {\"train_batch_size\": %d,"
             " \"train_micro_batch_size_per_gpu\": %d, \"gradient_clipping\": 1.0, \"optimizer\": {\"type\": \"AdamW\","
             " \"params\": {\"lr\": 6e-4, \"betas\": [0.9, 0.95], \"eps\": 1e-8, \"weight_decay\": 0.1}},"
             " \"zero_optimization\": {\"stage\": %d, \"overlap_comm\": %s}%s}}",
             d->vocab, d->seq, d->channels, d->layers, d->heads, batch * world, batch, stage,
             overlap_comm ? "true" : "false", precision);
    zs_error err = {{0}};
    if (zs_case_parse(json, "<zs-fast-bench>", ".", kase, &err)) {
        fprintf(stderr, "zs-fast-bench: %s\n", err.msg);
        return -1;
    }
    return 0;
}
