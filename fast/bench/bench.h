/* zs-fast-bench: timings of zs-fast at GPT-2 124M size (tools/bench/run.sh runs it on the device).
 *
 * Method (docs/results/performance-notes.md): CUDA events around each repeat, warm-up first, the
 * median over repeats; inputs are random (never zeros) and far larger than the L2 cache. Each phase
 * adds its numbers to one cJSON object, which main.c writes to --json. */
#ifndef ZS_FAST_BENCH_H
#define ZS_FAST_BENCH_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <cuda_runtime.h>

#include "comm.h"
#include "rounding.h"
#include "zerospec/case.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GPT-2 124M: vocab 50257, seq 1024, channels 768, 12 layers, 12 heads. */
zs_model_dims zsfb_gpt2_124m(void);

/* Elements of the model's parameters (printed error and -1 if the dims are invalid). */
int zsfb_param_count(const zs_model_dims *d, size_t *n);

/* The benchmarks' Adam hyperparameters (GPT-2 style: lr 6e-4, betas 0.9/0.95, eps 1e-8, weight
 * decay 0.1, bias correction), decoupled (AdamW) or L2. */
zs_optimizer_config zsfb_adam_config(int adam_w_mode);

/* "fp32", "bf16" or "fp16". */
const char *zsfb_dtype_name(zsf_dtype dt);

/* The benchmark case: GPT-2 124M (d), B sequences per rank and micro-step (gradient accumulation 1),
 * clipping 1.0, AdamW (zsfb_adam_config(1)), ZeRO `stage` with zero_optimization.overlap_comm as given
 * (stage 2: reductions on the comm stream or in line, fast/stage2.h) at `world` ranks, model dtype dt
 * (fp16 with its dynamic loss scaler). Returns 0, or -1 after printing why. */
int zsfb_case(zs_case *kase, const zs_model_dims *d, int batch, zsf_dtype dt, int stage, int overlap_comm, int world);

/* Median of v[0..n) (sorts v). */
double zsfb_median(double *v, int n);

/* Seconds of a monotonic host clock. */
double zsfb_now(void);

/* Repeats: the number of timed runs that fit in budget_s given one run of first_s, within [lo, hi]. */
int zsfb_reps_for(double first_s, double budget_s, int lo, int hi);

/* Adds {"median_ms", "ms": [...]} of the n repeat times (ms) to obj; returns the median. */
double zsfb_put_times(cJSON *obj, double *ms, int n);

/* Device-memory bytes in use now (cudaMemGetInfo: total - free), for peak accounting. */
size_t zsfb_device_used(void);

/* Phases. Each returns 0, or -1 after printing why. budget_s bounds the timed repeats of one
 * measurement (at least a minimum number of repeats always run). */
int zsfb_bench_optim(cJSON *out, const zs_model_dims *d, double budget_s, cudaStream_t s);
/* step and ops take the model dtype: fp32 (the conformance path), bf16 or fp16. */
int zsfb_bench_step(cJSON *out, const zs_model_dims *d, int batch, double budget_s, zsf_comm *comm, zsf_dtype dt);
int zsfb_bench_ops(cJSON *out, const zs_model_dims *d, int batch, double budget_s, cudaStream_t s, zsf_dtype dt);
/* --stages: comma-separated ZeRO stages 1-3, each optionally suffixed s (overlap_comm false; plain:
 * true), e.g. "1,2,2s,3". Fills stage[] and overlap[]; returns the count, or -1 if malformed or longer
 * than max. */
#define ZSFB_MAX_STAGES 8
int zsfb_parse_stages(const char *list, int *stage, int *overlap, int max);

/* world: the step of zsfb_bench_step at every rank of the MPI job (nccl backend), once per ZeRO stage
 * of `stages` ("1,2,3"); rank 0 fills out. */
int zsfb_bench_world(cJSON *out, const zs_model_dims *d, int batch, double budget_s, zsf_comm *comm, zsf_dtype dt,
                     const char *stages);
int zsfb_bench_offload(cJSON *out, const zs_model_dims *d, double budget_s, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
