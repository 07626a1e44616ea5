/* Optimizer update rules of the reference (docs/spec/optimizers.md is normative).
 *
 * One call updates one rank's flat fp32 master partition in place. Under ZeRO, DeepSpeed's inner
 * optimizer sees exactly one flat fp32 tensor per (param group, rank) -- per (sub-group, rank) at
 * stage 3 -- so anything the source computes "per tensor" (FusedLamb's trust ratio) is computed per
 * partition here and therefore changes with the number of ranks.
 *
 * Each rule follows the implementation DeepSpeed v0.19.6 runs on a GPU without offload (FusedAdam,
 * FusedLamb, FusedLion, or torch.optim.* on CUDA tensors): fp32 element math with every multiply and
 * add kept separate, in the order the source writes them (the build has -ffp-contract=off; nvcc
 * would contract some of them into FMAs), and host-side scalars computed in the precision the source
 * computes them (double on the host, rounded to float where a kernel takes a float argument). */
#ifndef ZS_REFERENCE_OPTIM_OPTIMIZER_H
#define ZS_REFERENCE_OPTIM_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/ds_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_OPTIM_MAX_STATE 4

/* What changes from step to step; everything else comes from zs_optimizer_config. */
typedef struct zs_optim_step {
    int64_t step;   /* 1-based count of applied optimizer steps including this one
                       (the bias-correction exponent t) */
    double lr;      /* scheduler value for this step */
    double beta1, beta2; /* current betas (OneCycle overrides beta1 and forces beta2 = 0.99 for
                            optimizers that have betas; docs/spec/schedulers.md) */
} zs_optim_step;

/* Updates param[0..n) in place from the unscaled, clipped fp32 gradient grad[0..n).
 * state[0..n_state) are n floats each, zero-initialised by the caller before step 1 and kept
 * between steps (a rule that needs another initial value sets it itself when s->step == 1). */
typedef void (*zs_optim_step_fn)(const zs_optimizer_config *hp, const zs_optim_step *s, float *param,
                                 const float *grad, float *const *state, size_t n);

typedef struct zs_optim_ops {
    zs_optimizer_type type;  /* the config type it serves (FusedAdam: ZS_OPT_ADAM, also for AdamW) */
    const char *name;        /* the DeepSpeed / torch class it follows, e.g. "FusedAdam" */
    int n_state;
    const char *state_names[ZS_OPTIM_MAX_STATE]; /* trace names = the source's state keys */
    zs_optim_step_fn step;
    int has_betas;           /* 'betas' in the optimizer's defaults: only then does OneCycle's
                                cycle_momentum rewrite them (OneCycle._initialize_momentum) */
} zs_optim_ops;

/* The rule DeepSpeed v0.19.6 uses for this config without offload (engine.py
 * _configure_basic_optimizer). NULL when the optimizer is not a partition-local update: the 1-bit
 * family (a step-level hook over all ranks: reference/onebit/onebit.h), MuAdam/MuAdamW/MuSGD (need
 * mup's per-parameter infshape), or ZS_OPT_NONE. Muon has two param groups: this returns the Adam
 * group's rule (whose state the trace records); zs_optim_matrix_ops_for gives the muon group's. */
const zs_optim_ops *zs_optim_ops_for(const zs_optimizer_config *hp);
/* The rule of the matrix (muon) param group, or NULL when the optimizer has a single group. */
const zs_optim_ops *zs_optim_matrix_ops_for(const zs_optimizer_config *hp);

/* The individual rules (one file each). */
extern const zs_optim_ops zs_optim_fused_adam;   /* adam.c: Adam/AdamW, default */
extern const zs_optim_ops zs_optim_torch_adam;   /* adam_torch.c: torch_adam, L2 (adam_w_mode 0) */
extern const zs_optim_ops zs_optim_torch_adamw;  /* adam_torch.c: torch_adam, decoupled */
extern const zs_optim_ops zs_optim_fused_lamb;   /* lamb.c */
extern const zs_optim_ops zs_optim_torch_adagrad;/* adagrad.c */
extern const zs_optim_ops zs_optim_fused_lion;   /* lion.c */
extern const zs_optim_ops zs_optim_torch_sgd;    /* sgd.c */
extern const zs_optim_ops zs_optim_muon_matrix;   /* muon_adam.c: Muon's muon group (SGD, decoupled decay) */
extern const zs_optim_ops zs_optim_muon_aux_adam; /* muon_adam.c: Muon's auxiliary Adam group */

#ifdef __cplusplus
}
#endif
#endif
