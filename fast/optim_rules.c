/* Optimizer selection and step scalars (optim_rules.h). */
#include "optim_rules.h"

#include <math.h>
#include <string.h>

int zsf_optim_rule_of(const zs_ds_config *cfg, zsf_optim_rule *rule, zs_error *err)
{
    const zs_optimizer_config *o = &cfg->optimizer;
    if (!cfg->has_optimizer)
        return zs_fail(err, "the config has no \"optimizer\" block; zs-fast needs one");
    switch (o->type) {
    case ZS_OPT_ADAM:
    case ZS_OPT_ADAMW:
        *rule = o->torch_adam ? ZSF_TORCH_ADAM : ZSF_FUSED_ADAM;
        return 0;
    case ZS_OPT_LAMB:
        *rule = ZSF_FUSED_LAMB;
        return 0;
    case ZS_OPT_ADAGRAD:
        *rule = ZSF_TORCH_ADAGRAD;
        return 0;
    case ZS_OPT_LION:
        *rule = ZSF_FUSED_LION;
        return 0;
    case ZS_OPT_SGD:
        *rule = ZSF_TORCH_SGD;
        return 0;
    case ZS_OPT_ONEBIT_ADAM:
        *rule = ZSF_ONEBIT_ADAM;
        return 0;
    case ZS_OPT_ZERO_ONE_ADAM:
        *rule = ZSF_ZERO_ONE_ADAM;
        return 0;
    case ZS_OPT_ONEBIT_LAMB:
        *rule = ZSF_ONEBIT_LAMB;
        return 0;
    case ZS_OPT_MUON:
        *rule = ZSF_MUON;
        return 0;
    default:
        return zs_fail(err, "optimizer \"%s\" is not implemented by zs-fast (it has Adam/AdamW, torch Adam/AdamW, "
                            "Lamb, Adagrad, Lion, SGD, OneBitAdam, ZeroOneAdam, OneBitLamb and Muon)",
                       o->type_name);
    }
}

const char *zsf_optim_rule_name(zsf_optim_rule r)
{
    static const char *const names[ZSF_OPTIM_RULES] = {"FusedAdam", "torch.optim.Adam", "FusedLamb",
                                                       "torch.optim.Adagrad", "FusedLion", "torch.optim.SGD",
                                                       "OnebitAdam", "ZeroOneAdam", "OnebitLamb", "MuonWithAuxAdam"};
    return r < ZSF_OPTIM_RULES ? names[r] : "?";
}

int zsf_optim_n_state(zsf_optim_rule r)
{
    if (r == ZSF_ZERO_ONE_ADAM || r == ZSF_ONEBIT_LAMB)
        return 3;
    return r == ZSF_FUSED_ADAM || r == ZSF_TORCH_ADAM || r == ZSF_FUSED_LAMB || r == ZSF_ONEBIT_ADAM ||
           r == ZSF_MUON ? 2 : 1;
}

const char *zsf_optim_state_name(zsf_optim_rule r, int k)
{
    switch (r) {
    case ZSF_TORCH_ADAGRAD:
        return k == 0 ? "sum" : NULL;
    case ZSF_TORCH_SGD:
        return k == 0 ? "momentum_buffer" : NULL;
    case ZSF_FUSED_LION:
        return k == 0 ? "exp_avg" : NULL;
    case ZSF_ZERO_ONE_ADAM:
        return k == 0 ? "exp_avg" : k == 1 ? "exp_avg_sq" : k == 2 ? "momentum_accumulator" : NULL;
    case ZSF_ONEBIT_LAMB:
        return k == 0 ? "exp_avg" : k == 1 ? "exp_avg_sq" : k == 2 ? "exp_avg_sq_fresh" : NULL;
    default:
        return k == 0 ? "exp_avg" : k == 1 ? "exp_avg_sq" : NULL;
    }
}

int zsf_optim_has_betas(zsf_optim_rule r)
{
    /* MuonWithAuxAdam is built with defaults dict(): OneCycle does not cycle its betas */
    return r != ZSF_TORCH_ADAGRAD && r != ZSF_TORCH_SGD && r != ZSF_MUON;
}

int zsf_optim_is_onebit(zsf_optim_rule r)
{
    return r == ZSF_ONEBIT_ADAM || r == ZSF_ZERO_ONE_ADAM || r == ZSF_ONEBIT_LAMB;
}

int zsf_optim_per_tensor(zsf_optim_rule r)
{
    return r == ZSF_FUSED_LAMB;
}

/* C++ `float bc = 1 - std::pow(float beta, int t)`: pow and the subtraction in double. */
static float fused_bias_correction(float beta, int64_t t)
{
    return (float)(1.0 - pow((double)beta, (double)t));
}

void zsf_optim_scalars_for(zsf_optim_rule rule, const zs_optimizer_config *hp, int64_t t, double lr, double beta1,
                           double beta2, zsf_optim_scalars *o)
{
    memset(o, 0, sizeof *o);
    o->rule = rule;
    o->lr = (float)lr;
    o->beta1 = (float)beta1;
    o->beta2 = (float)beta2;
    o->eps = (float)hp->eps;
    o->wd = (float)hp->weight_decay;
    o->adam_w_mode = hp->adam_w_mode;
    o->eps_inside_sqrt = hp->eps_inside_sqrt;
    o->first_step = t == 1;
    o->apply_wd = hp->weight_decay != 0.0;
    o->bc1 = o->bc2 = 1.0f;
    switch (rule) {
    case ZSF_FUSED_ADAM:
    case ZSF_FUSED_LAMB:
        if (hp->bias_correction) {
            o->bc1 = fused_bias_correction(o->beta1, t);
            o->bc2 = fused_bias_correction(o->beta2, t);
        }
        o->step_size = hp->bias_correction ? o->lr * sqrtf(o->bc2) / o->bc1 : o->lr;   /* Lamb, float math */
        o->max_coeff = (float)hp->max_coeff;
        o->min_coeff = (float)hp->min_coeff;
        break;
    case ZSF_TORCH_ADAM: {
        const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
        o->step_size = (float)((lr / bc1) * -1.0);
        o->bc2_sqrt = (float)pow(bc2, 0.5);   /* Python `bc2 ** 0.5` */
        o->lerp_w = (float)(1.0 - beta1);
        o->one_minus_b2 = (float)(1.0 - beta2);
        o->decay = (float)(1.0 - lr * hp->weight_decay);
        break;
    }
    case ZSF_TORCH_ADAGRAD: {
        const double clr = lr / (1.0 + (double)(t - 1) * hp->lr_decay);
        o->minus_clr = (float)-clr;
        o->init_acc = (float)hp->initial_accumulator_value;
        break;
    }
    case ZSF_FUSED_LION:
        o->decay = 1.0f - o->lr * o->wd;
        break;
    case ZSF_TORCH_SGD:
        o->momentum = (float)hp->momentum;
        o->one_minus_damp = (float)(1.0 - hp->dampening);
        o->neg_lr = (float)-lr;
        o->nesterov = hp->nesterov;
        break;
    default:
        break;
    }
}
