/* Which update rule a config selects, as DeepSpeed v0.19.6 engine.py _configure_basic_optimizer
 * does without offload_optimizer (offload would pick DeepSpeedCPUAdam/Adagrad/Lion: not modelled). */
#include <stddef.h>

#include "optim/optimizer.h"

const zs_optim_ops *zs_optim_ops_for(const zs_optimizer_config *hp)
{
    switch (hp->type) {
    case ZS_OPT_ADAM:
    case ZS_OPT_ADAMW:
        /* adam_w_mode is already the effective mode: type AdamW, or "adam_w_mode" (default true). */
        if (hp->torch_adam)
            return hp->adam_w_mode ? &zs_optim_torch_adamw : &zs_optim_torch_adam;
        return &zs_optim_fused_adam;
    case ZS_OPT_LAMB:
        return &zs_optim_fused_lamb;
    case ZS_OPT_ADAGRAD:
        return &zs_optim_torch_adagrad;
    case ZS_OPT_LION:
        return &zs_optim_fused_lion;
    case ZS_OPT_SGD:
        return &zs_optim_torch_sgd;
    case ZS_OPT_MUON:
        return &zs_optim_muon_aux_adam;
    default:
        /* NONE; the 1-bit family (reference/onebit/: a step-level engine hook, not a partition rule);
         * MuAdam/MuAdamW/MuSGD (need mup's per-parameter infshape): docs/spec/optimizers.md §8. */
        return NULL;
    }
}

const zs_optim_ops *zs_optim_matrix_ops_for(const zs_optimizer_config *hp)
{
    return hp->type == ZS_OPT_MUON ? &zs_optim_muon_matrix : NULL;
}
