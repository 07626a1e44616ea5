#include "predict.h"

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t total_numel(const zs_explain_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        n += (int64_t)m->tensor_numel[i];
    return n;
}

/* Elements per rank partition: stage 1/2 pad the flat buffer to a multiple of 2W and split it evenly;
 * stage 3 pads each tensor to a multiple of W; stage 0 holds everything. */
static int64_t partition_len(int stage, int world, const zs_explain_model *m)
{
    int64_t n = total_numel(m), W = world;
    if (stage == 0)
        return n;
    if (stage <= 2)
        return ceil_div(n, 2 * W) * 2;
    int64_t len = 0;
    for (int i = 0; i < m->n_tensors; i++)
        len += ceil_div((int64_t)m->tensor_numel[i], W);
    return len;
}

int zs_explain_optimizer_states(const zs_optimizer_config *opt)
{
    switch (opt->type) {
    case ZS_OPT_ADAGRAD:
    case ZS_OPT_LION:
        return 1;
    case ZS_OPT_SGD:
    case ZS_OPT_MUSGD:
        return opt->momentum != 0.0;
    default:
        return 2;   /* Adam family, Lamb: exp_avg and exp_avg_sq */
    }
}

int zs_explain_state_is_approximate(const zs_optimizer_config *opt)
{
    /* Muon: whole-parameter momentum per rank; the 1-bit family: error-feedback buffers sized by W */
    return opt->type == ZS_OPT_MUON || opt->type == ZS_OPT_ONEBIT_ADAM || opt->type == ZS_OPT_ZERO_ONE_ADAM ||
           opt->type == ZS_OPT_ONEBIT_LAMB;
}

zs_explain_bytes zs_explain_rank_bytes(const zs_ds_config *cfg, int stage, int world, const zs_explain_model *m)
{
    int64_t n = total_numel(m), len = partition_len(stage, world, m);
    int64_t msize = cfg->precision == ZS_PREC_FP32 ? 4 : 2;
    /* fp32 at stage 0 updates the parameters themselves; otherwise an fp32 master copy is kept */
    int64_t master = stage == 0 && cfg->precision == ZS_PREC_FP32 ? 0 : 4;
    int64_t optimizer = ((int64_t)zs_explain_optimizer_states(&cfg->optimizer) * 4 + master) * len;
    zs_explain_bytes b = {0};
    b.partition_len = len;
    b.params = (stage == 3 ? len : n) * msize;
    b.grads = (stage <= 1 ? n : len) * msize;
    b.optimizer = optimizer;
    if (stage >= 1 && cfg->zero.offload_optimizer.device != ZS_OFFLOAD_NONE) {
        b.host_optimizer = b.optimizer;
        b.optimizer = 0;
    }
    if (stage == 3 && cfg->zero.offload_param.device != ZS_OFFLOAD_NONE) {
        b.host_params = b.params;
        b.params = 0;
    }
    return b;
}

/* Ring collectives: all-reduce sends 2(W-1)/W of the buffer per rank, reduce-scatter and all-gather
 * (W-1)/W of the full buffer (nccl-tests' bus-bandwidth factors). */
zs_explain_comm zs_explain_step_comm(const zs_ds_config *cfg, int stage, int world, int64_t gas,
                                     const zs_explain_model *m)
{
    zs_explain_comm c = {0};
    if (world == 1)
        return c;
    int64_t W = world, msize = cfg->precision == ZS_PREC_FP32 ? 4 : 2;
    int64_t full = total_numel(m) * msize, part = partition_len(stage, world, m) * W * msize;
    switch (stage) {
    case 0:   /* one all-reduce of the accumulated gradient */
        c.reduce_bytes = full * 2 * (W - 1) / W;
        c.reduce_calls = 1;
        break;
    case 1:   /* reduce-scatter at the boundary, all-gather of the updated partitions */
        c.reduce_bytes = part * (W - 1) / W;
        c.gather_bytes = part * (W - 1) / W;
        c.reduce_calls = c.gather_calls = 1;
        break;
    case 2:   /* reduce-scatter every micro-step, one all-gather after the step */
        c.reduce_bytes = gas * (part * (W - 1) / W);
        c.gather_bytes = part * (W - 1) / W;
        c.reduce_calls = (int)gas;
        c.gather_calls = 1;
        break;
    default:  /* stage 3: parameters gathered for forward and for backward, gradients reduce-scattered */
        c.reduce_bytes = gas * (part * (W - 1) / W);
        c.gather_bytes = gas * 2 * (part * (W - 1) / W);
        c.reduce_calls = (int)gas;
        c.gather_calls = (int)(2 * gas);
        break;
    }
    return c;
}
