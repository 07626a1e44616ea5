/* The 1-bit optimizers on the GPU (docs/spec/optimizers.md §8: OnebitAdam, ZeroOneAdam, OnebitLamb;
 * DeepSpeed v0.19.6 runtime/fp16/onebit/{adam,zoadam,lamb}.py), stage 0 only. Each rank steps its own
 * fp32 master over the whole model; after the warm-up the engine's gradient all-reduce is switched off
 * (zsf_onebit_allreduce_enabled) and the momentum (OnebitAdam, OnebitLamb), the local gradient or the
 * accumulated local steps (ZeroOneAdam) are exchanged through the compressed all-reduce instead.
 *
 * The optimizer's tensors: the model's parameters in fp32 and for OnebitLamb; with an fp16/bf16 model
 * OnebitAdam and ZeroOneAdam see FP16_Optimizer's one flat fp32 master (§8.6), whose initialisation
 * call runs at construction (zsf_onebit_new). Error buffers: one region per tensor (Adam pair), one
 * for the flat momentum (Lamb). */
#ifndef ZS_FAST_ONEBIT_H
#define ZS_FAST_ONEBIT_H

#include "compressed_allreduce.h"
#include "engine.h"
#include "onebit_rules.h"
#include "zerospec/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_onebit {
    zsf_onebit_sched s;
    const zs_optimizer_config *hp;
    int T;                   /* the optimizer's tensors */
    size_t *bounds;          /* host, T + 1 element offsets */
    size_t *dev_bounds;      /* the same on the device */
    size_t numel, worker_len, server_len;
    size_t *woff, *soff;     /* host, T + 1: each tensor's region in the error buffers (Adam pair) */
    float *werr, *serr;      /* device: this rank's worker and server error buffers */
    float *pad;              /* device, OnebitLamb: the flat momentum's padding tail */
    float *scratch;          /* device, max padded size: the buffer being compressed */
    float *u;                /* device, numel (OnebitLamb): the update; then m before the step */
    float *m_prev;           /* device, numel (OnebitLamb) */
    float *dev_small, *host_small;   /* 4T floats: per-tensor reductions down, steps up */
    double *coeff_freeze, *last_factor, *scaling_coeff;   /* host, T (OnebitLamb; equal on every rank) */
    zsf_car car;
} zsf_onebit;

/* After the engine's buffers exist: the state above, and fp16/bf16's construction-time call 1. */
zsf_onebit *zsf_onebit_new(zsf_engine *e);
void zsf_onebit_free(zsf_onebit *ob);

/* engine.enable_backward_allreduce for this step's boundary. */
int zsf_onebit_allreduce_enabled(const zsf_onebit *ob);

/* One optimizer call on this rank's master from grad_part * inv (inv: this rank's own unscale and
 * clip). Returns 0, or 1 with the message in err (OnebitLamb's zero momentum scale: DeepSpeed's
 * ZeroDivisionError), the same on every rank. */
int zsf_onebit_step(zsf_onebit *ob, zsf_engine *e, float inv, double lr, zs_error *err);

/* Every rank calls it: step<k>/rank<r>/{worker_error, server_error, lrs, exp_avg_padding,
 * lamb_coeff_freeze, last_factor, scaling_coeff} as zs-ref writes them; w is rank 0's writer. */
void zsf_onebit_trace(const zsf_onebit *ob, const zsf_engine *e, zs_st_writer *w, long long k);

#ifdef __cplusplus
}
#endif
#endif
