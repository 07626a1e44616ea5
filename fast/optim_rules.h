/* Which optimizer rule a config selects, its state tensors, and the host-side scalars of one step
 * (docs/spec/optimizers.md; DeepSpeed v0.19.6 engine.py _configure_basic_optimizer). Host code with
 * unit tests; the kernels that consume the scalars are in optim.cu.
 *
 * Scalars are computed as each source computes them: FusedAdam/FusedLamb/FusedLion take float kernel
 * arguments and form bias corrections as float(1 - pow(double(float beta), t)); the torch optimizers
 * (Adam/AdamW with torch_adam, Adagrad, SGD) compute in Python doubles and round to float where the
 * CUDA foreach kernel takes the scalar. */
#ifndef ZS_FAST_OPTIM_RULES_H
#define ZS_FAST_OPTIM_RULES_H

#include <stdint.h>

#include "zerospec/ds_config.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zsf_optim_rule {
    ZSF_FUSED_ADAM = 0,   /* "Adam"/"AdamW" */
    ZSF_TORCH_ADAM,       /* "Adam"/"AdamW" with torch_adam: torch.optim.Adam or AdamW */
    ZSF_FUSED_LAMB,       /* "Lamb" */
    ZSF_TORCH_ADAGRAD,    /* "Adagrad" */
    ZSF_FUSED_LION,       /* "Lion" */
    ZSF_TORCH_SGD,        /* "SGD" */
    ZSF_ONEBIT_ADAM,      /* "OneBitAdam": the 1-bit family (onebit.h) steps the whole stage-0 model itself */
    ZSF_ZERO_ONE_ADAM,    /* "ZeroOneAdam" */
    ZSF_ONEBIT_LAMB,      /* "OneBitLamb" */
    ZSF_MUON,             /* "Muon": MuonWithAuxAdam, two param groups (muon.h; not through zsf_optim_step) */
    ZSF_OPTIM_RULES
} zsf_optim_rule;

/* At most this many state tensors per element. */
#define ZSF_OPTIM_N_STATE 3

/* 0 and *rule if zs-fast implements the config's optimizer, else -1 naming it. */
int zsf_optim_rule_of(const zs_ds_config *cfg, zsf_optim_rule *rule, zs_error *err);
const char *zsf_optim_rule_name(zsf_optim_rule r);
int zsf_optim_n_state(zsf_optim_rule r);
/* DeepSpeed's/torch's state keys (the trace names), k < zsf_optim_n_state(r). */
const char *zsf_optim_state_name(zsf_optim_rule r, int k);
/* Whether the optimizer has betas (OneCycle cycles beta1 of those only). */
int zsf_optim_has_betas(zsf_optim_rule r);
/* The 1-bit family (OneBitAdam, ZeroOneAdam, OneBitLamb): stepped by onebit.h, not zsf_optim_step. */
int zsf_optim_is_onebit(zsf_optim_rule r);
/* Lamb's trust ratio is per tensor: at stage 0 the optimizer steps each parameter separately. */
int zsf_optim_per_tensor(zsf_optim_rule r);

/* Everything a kernel needs for one step, as the kernel receives it. */
typedef struct zsf_optim_scalars {
    zsf_optim_rule rule;
    float lr, beta1, beta2, eps, wd;
    float bc1, bc2;                  /* FusedAdam/FusedLamb bias corrections (1 when off) */
    float step_size;                 /* FusedLamb: lr*sqrtf(bc2)/bc1; torch Adam: -(lr/bc1) */
    float bc2_sqrt;                  /* torch Adam: (1 - b2^t)^0.5 */
    float lerp_w, one_minus_b2;      /* torch Adam: fl32(1 - b1), fl32(1 - b2) */
    float decay;                     /* torch AdamW: fl32(1 - lr*wd); FusedLion: 1 - lr*wd (float) */
    float minus_clr, init_acc;       /* Adagrad */
    float momentum, one_minus_damp, neg_lr;   /* SGD */
    float max_coeff, min_coeff;      /* FusedLamb */
    int adam_w_mode, eps_inside_sqrt, nesterov, first_step, apply_wd;
} zsf_optim_scalars;

/* Step t (1-based applied steps) at learning rate lr with this step's betas. */
void zsf_optim_scalars_for(zsf_optim_rule rule, const zs_optimizer_config *hp, int64_t t, double lr, double beta1,
                           double beta2, zsf_optim_scalars *out);

#ifdef __cplusplus
}
#endif
#endif
