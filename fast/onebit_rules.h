/* Host-side logic of the 1-bit optimizers (docs/spec/optimizers.md §8; DeepSpeed v0.19.6
 * runtime/fp16/onebit/{adam,zoadam,lamb}.py): the compressed buffers' padded size, the call schedule
 * (initialisation call, warm-up, freeze, the engine's all-reduce switch, ZeroOneAdam's variance and
 * local-step intervals), and OnebitLamb's per-tensor scalars in double. Host code with unit tests; the
 * kernels that consume it are onebit.cu. */
#ifndef ZS_FAST_ONEBIT_RULES_H
#define ZS_FAST_ONEBIT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "optim_rules.h"
#include "zerospec/ds_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n rounded up to a multiple of W*lcm(W, 8) (adam.py "corrected_tensor_size"): each rank's chunk of
 * sign bits is whole bytes. */
size_t zsf_onebit_padded(size_t n, int world);

/* What one optimizer call does. */
typedef enum zsf_onebit_phase {
    ZSF_OB_INIT,        /* call 1: counters only (the zero momentum compresses to zero) */
    ZSF_OB_WARMUP,      /* OnebitAdam/OnebitLamb warm-up; ZeroOneAdam's variance step (g all-reduced) */
    ZSF_OB_COMPRESSED,  /* OnebitAdam/OnebitLamb: the momentum is compressed; ZeroOneAdam phase 1:
                           the local gradient is compressed into the momentum */
    ZSF_OB_LOCAL        /* ZeroOneAdam phase 2: a local step, synchronised when plan.sync */
} zsf_onebit_phase;

typedef struct zsf_onebit_plan {
    zsf_onebit_phase phase;
    int copy_v_fresh;     /* OnebitLamb warm-up at step == freeze_step: v_fresh = v */
    int first_compressed; /* OnebitLamb: the scaling coefficients are fixed before this call */
    int sync;             /* ZeroOneAdam phase 2: synchronise after the local step */
    double lrs;           /* ZeroOneAdam: the accumulated lr the synchronisation divides by */
} zsf_onebit_plan;

/* The optimizer's counters (equal on every rank and, in DeepSpeed, every tensor). */
typedef struct zsf_onebit_sched {
    zsf_optim_rule rule;
    int64_t freeze_step, var_freeze_step, var_update_scaler, local_step_scaler, local_step_clipper;
    int64_t step;         /* state['step'], counting the initialisation call */
    int initialized, frozen, allreduce, errors_reset, has_scaling;
    int64_t var_interval, var_counter, local_interval, local_counter;
    double lrs;
} zsf_onebit_sched;

void zsf_onebit_sched_init(zsf_onebit_sched *s, zsf_optim_rule rule, const zs_optimizer_config *hp);
/* Starts a call at learning rate lr: advances step (and ZeroOneAdam's lrs in phase 2). */
void zsf_onebit_begin(zsf_onebit_sched *s, double lr, zsf_onebit_plan *plan);
/* Ends the call: freeze, the all-reduce switch, the intervals. Returns 1 when the error buffers must be
 * zeroed now (ZeroOneAdam's reinitial_error_buffer, the first time phase 2 is entered). */
int zsf_onebit_end(zsf_onebit_sched *s, const zsf_onebit_plan *plan);

/* OnebitLamb warm-up trust ratio: clamp(fl32(w/u), min_coeff, max_coeff) (max first), 1 if a norm is 0. */
double zsf_onebit_lamb_coeff(float w_norm, float u_norm, const zs_optimizer_config *hp);
/* lamb_coeff_freeze after a warm-up call with trust ratio coeff (unchanged when coeff == 1). */
double zsf_onebit_lamb_freeze(double coeff_freeze, double coeff, const zs_optimizer_config *hp);
/* The compressed step's factor from max(denom/(sqrt(v_fresh)+eps)); with weight decay u0_norm/u_norm
 * (|update without| / |update with| decay) mixes it towards 1; then the clamps, last_factor's last. */
double zsf_onebit_lamb_factor(float max_ratio, float u0_norm, float u_norm, double last_factor,
                              const zs_optimizer_config *hp);
/* scaling_coeff[t] = mean(scale) / scale[t] (T tensors). -1 (t in *bad) when a scale is 0
 * (DeepSpeed's ZeroDivisionError). */
int zsf_onebit_lamb_scaling(const double *scale, int T, double *coeff, int *bad);

#ifdef __cplusplus
}
#endif
#endif
