/* The optimizer step on the CPU, for offload_optimizer (docs/spec/optimizers.md "Selection"): the
 * rank's fp32 master partition and optimizer state live in host memory and are stepped there.
 *
 * The spec models one rule per optimizer whether or not the step is offloaded (DeepSpeedCPUAdam's own
 * operation order is "not modelled", and the fixtures of the offload cases are the GPU rule's), so the
 * arithmetic is optim_math.h's, the very functions the CUDA kernels run: results equal the GPU path
 * bit for bit. Element-wise rules only — FusedLamb's trust ratio is a CUDA block reduction, and the
 * config layer refuses Lamb with offload anyway (DeepSpeed has no CPU Lamb).
 *
 * Speed: OpenMP threads over contiguous slices (when CMake finds OpenMP; one thread otherwise), each
 * slice a loop the compiler vectorizes (cpu_optim.c is compiled with -O3 -fno-math-errno; no
 * -ffast-math, no contraction, so vector lanes round as the scalar rule does). Host code, tested
 * without a GPU (fast/tests/test_cpu_optim.c). */
#ifndef ZS_FAST_CPU_OPTIM_H
#define ZS_FAST_CPU_OPTIM_H

#include <stddef.h>

#include "optim_rules.h"
#include "rounding.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the rule is element-wise, so that a CPU step over any split of the partition is exact. */
int zsf_cpu_optim_supported(zsf_optim_rule r);

/* Threads a step uses when asked for 0: OpenMP's default (the machine's cores), or 1 without OpenMP. */
int zsf_cpu_optim_max_threads(void);

/* One step over n elements with `threads` threads (0: zsf_cpu_optim_max_threads()): param and
 * state[0..n_state) updated in place from grad * inv, as zsf_optim_step does on the device. When
 * model is not NULL it receives the updated param rounded to dt (the cast the engine publishes),
 * fused into the same pass. Returns 0, or -1 for a rule that is not element-wise (nothing changed). */
int zsf_cpu_optim_step(const zsf_optim_scalars *sc, float inv, float *param, const float *grad,
                       float *const *state, size_t n, float *model, zsf_dtype dt, int threads);

#ifdef __cplusplus
}
#endif
#endif
