/* zerospec plugin ABI, version 1: how a third party's kernels are checked against the golden
 * op-level cases without the model (docs/conformance.md "Checking your kernels").
 *
 * A plugin is a shared library exporting one symbol:
 *
 *     const zs_plugin *zerospec_plugin_v1(void);
 *
 * returning a struct of function pointers. `zs-check plugin LIB.so` loads it with dlopen, checks
 * `abi_version` and `struct_size` (so older plugins keep working when the struct grows at its end),
 * and runs every op-level case (fixtures/ops/) whose entry point the plugin fills: optimizers,
 * schedulers, loss scaler, unscale/clip, collectives, rounding, the model's layers, the 1-bit
 * compressed all-reduce and Muon's Newton-Schulz / update. A NULL entry, or
 * an entry returning ZS_PLUGIN_UNSUPPORTED for a given configuration, is reported as skipped, not
 * failed. All buffers are host memory; a CUDA plugin copies to and from the device inside the call.
 * Plain C, no zerospec headers needed beyond this one. */
#ifndef ZEROSPEC_PLUGIN_H
#define ZEROSPEC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_PLUGIN_ABI_VERSION 1u
#define ZS_PLUGIN_SYMBOL "zerospec_plugin_v1"

enum {
    ZS_PLUGIN_OK = 0,
    ZS_PLUGIN_UNSUPPORTED = 1, /* this entry does not handle these arguments: the case is skipped */
    ZS_PLUGIN_ERROR = -1       /* the plugin failed: the case fails, with the plugin's message */
};

/* Optimizer hyper-parameters (DeepSpeed names; docs/spec/optimizers.md defines each rule). */
typedef struct zs_plugin_hparams {
    double lr, beta1, beta2, eps, weight_decay;
    int adam_w_mode;               /* Adam/AdamW: 1 = decoupled weight decay, 0 = L2 */
    int bias_correction;
    int torch_adam;                /* torch.optim.Adam/AdamW formulas instead of FusedAdam's */
    double max_coeff, min_coeff;   /* Lamb */
    int eps_inside_sqrt;           /* Lamb */
    double lr_decay, initial_accumulator_value;   /* Adagrad */
    double momentum, dampening;    /* SGD */
    int nesterov;                  /* SGD */
} zs_plugin_hparams;

/* One optimizer step over one rank's flat fp32 partition, updated in place. */
typedef struct zs_plugin_optimizer_step {
    const char *optimizer;         /* "Adam", "AdamW", "Lamb", "Adagrad", "Lion", "SGD" */
    const zs_plugin_hparams *hp;
    int64_t step;                  /* 1-based count of applied steps including this one */
    size_t n;
    float *param;                  /* in/out */
    const float *grad;             /* unscaled, clipped fp32 gradient */
    int n_state;
    const char *const *state_names;   /* e.g. "exp_avg", "exp_avg_sq" */
    float *const *state;           /* in/out, n floats each, zero before the first step */
} zs_plugin_optimizer_step;

/* Loss-scale update of DeepSpeed's DynamicLossScaler (docs/spec/precision.md). */
typedef struct zs_plugin_loss_scaler {
    double cur_scale, min_scale;
    int64_t scale_window, cur_iter, last_overflow_iter;
    int delayed_shift, cur_hysteresis, consecutive_hysteresis;
} zs_plugin_loss_scaler;

/* Global-norm unscale and clip over W ranks' partitions (docs/spec.md §11): computes the norm of the
 * scaled gradient across ranks and scales every partition in place by 1 / combined. */
typedef struct zs_plugin_unscale_clip {
    int world;
    size_t len;                    /* partition length */
    float *const *grads;           /* [world][len], in/out (fp32 copies of the gradient partitions) */
    float loss_scale;
    double clip;                   /* gradient_clipping, 0 = off */
    float norm;                    /* out: the unscaled global norm, N_scaled / S */
} zs_plugin_unscale_clip;

/* Collective semantics over W ranks' buffers (docs/spec.md §7). dtype: "F32", "F16", "BF16": sums
 * are rounded to that format after every addition. */
typedef struct zs_plugin_collective {
    int world;
    size_t chunk;                  /* elements per rank block */
    const char *dtype;
    const float *const *send;      /* reduce-scatter: [world][world*chunk]; all-gather: [world][chunk] */
    float *const *recv;            /* reduce-scatter: [world][chunk];       all-gather: [world][world*chunk] */
} zs_plugin_collective;

/* ------------------------------------------------------------------------------------------------
 * Layers of the GPT-2 model (docs/spec/model.md), one forward or backward pass at a time, on fp32
 * host buffers. zs-check (`zs-check plugin`) feeds the golden inputs of fixtures/ops/layer_<name>.safetensors
 * and compares every output with the reference's fp32 result and its exact (fp64) value
 * (docs/conformance.md "Checking your kernels: layers").
 *
 * Buffers are passed by name, inputs and outputs in the order of the table below; look them up by
 * name (zs_plugin_buffer_find). Token ids and targets are int32 ("I32"); everything else is fp32
 * ("F32"), row-major in the shape shown. Inputs are read-only. Before a forward call every output
 * is filled with NaN (so an element the kernel never writes fails); before a backward call every
 * gradient output is zeroed, so a kernel may either store or accumulate (+=) its gradients.
 * A layer name the plugin does not implement, or shapes it does not handle, -> ZS_PLUGIN_UNSUPPORTED.
 *
 *  layer          shape      forward: inputs -> outputs                 backward: inputs -> outputs
 *  "encoder"      B,T,C,V    inp I32[B,T], wte[V,C], wpe[T,C]           dout[B,T,C], inp I32[B,T]
 *                            -> out[B,T,C]                              -> dwte[V,C], dwpe[T,C]
 *                            out[b,t] = wte[inp[b,t]] + wpe[t]          (repeated tokens accumulate)
 *  "layernorm"    B,T,C      inp[B,T,C], weight[C], bias[C]             dout[B,T,C], inp, weight, mean, rstd
 *                            -> out[B,T,C], mean[B,T], rstd[B,T]        -> dinp[B,T,C], dweight[C], dbias[C]
 *                            over C: eps 1e-5, biased variance, rstd = 1/sqrt(var + eps)
 *  "matmul"       B,T,C,OC   inp[B,T,C], weight[C,OC], bias[OC]         dout[B,T,OC], inp, weight
 *                            -> out[B,T,OC] = inp @ weight + bias       -> dinp[B,T,C], dweight[C,OC], dbias[OC]
 *                            (Hugging Face Conv1D layout [in, out])
 *  "matmul_wt"    B,T,C,OC   inp[B,T,C], weight[OC,C]                   dout[B,T,OC], inp, weight
 *                            -> out[B,T,OC] = inp @ weight^T            -> dinp[B,T,C], dweight[OC,C]
 *                            (the tied LM head: weight is wte, OC = V, no bias)
 *  "attention"    B,T,C,NH   qkv[B,T,3C] (q | k | v; head h uses        dout[B,T,C], qkv, att
 *                            channels h*hs..(h+1)*hs-1, hs = C/NH)      -> dqkv[B,T,3C]
 *                            -> out[B,T,C], att[B,NH,T,T]: causal softmax of q.k/sqrt(hs) over
 *                            t2 <= t (max subtracted); entries t2 > t are 0 (a fused kernel that
 *                            never materialises att still writes it: it is compared too)
 *  "gelu"         B,T,C      inp[B,T,C] -> out[B,T,C]                   inp, dout[B,T,C] -> dinp[B,T,C]
 *                            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *  "residual"     B,T,C      inp1[B,T,C], inp2[B,T,C] -> out[B,T,C]     dout[B,T,C] -> dinp1, dinp2
 *  "crossentropy" B,T,V      logits[B,T,V], targets I32[B,T]            dlosses[B,T], probs, targets
 *                            -> losses[B,T], probs[B,T,V]               -> dlogits[B,T,V]
 *                            probs = softmax (max subtracted),           dlogits = (probs - onehot) * dlosses
 *                            losses = -log probs[target]                (training passes dloss/(B*T) everywhere)
 *
 * Shape parameters a layer does not use are 0. Backward inputs that the forward pass produces (mean,
 * rstd, att, probs) are the reference's fp32 forward outputs. Every output is compared with the
 * exact (fp64) result under a bound scaled by the fp32 reference's own error (docs/conformance.md
 * "Checking your kernels" / "Layers"); conformance/plugins/example_layernorm.c is an example. */
typedef struct zs_plugin_buffer {
    const char *name;              /* "inp", "weight", "dout", ... as in the table */
    const char *dtype;             /* "F32" (float) or "I32" (int32_t) */
    void *data;                    /* host memory; inputs must not be written */
    size_t numel;                  /* product of the table's shape */
} zs_plugin_buffer;

typedef struct zs_plugin_layer {
    const char *layer;             /* a name from the table, e.g. "layernorm" */
    int B, T, C, NH, V, OC;        /* batch, sequence, channels, heads, vocabulary, output channels */
    int n_in;
    const zs_plugin_buffer *in;    /* [n_in], the table's order */
    int n_out;
    const zs_plugin_buffer *out;   /* [n_out], the table's order: written by the plugin */
} zs_plugin_layer;

/* The buffer called `name` in a layer call's inputs or outputs, or NULL. */
static inline const zs_plugin_buffer *zs_plugin_buffer_find(const zs_plugin_buffer *b, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(b[i].name, name))
            return &b[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Step-level pieces of two optimizer families (docs/spec/optimizers.md §8.1, §8a.3-8a.4;
 * docs/conformance.md "Checking your kernels: 1-bit all-reduce, Newton-Schulz").
 *
 * DeepSpeed's error-compensated 1-bit all-reduce (NcclBackend.compressed_allreduce) over W ranks'
 * host buffers, in place. n is the padded length N (a multiple of W * lcm(W, 8); the padding is real
 * data, filled by the caller). Worker phase on every rank r, then server phase on every chunk j
 * (elements [j*n/W, (j+1)*n/W)), with norm(y) = the L2 norm and sign(y) = -1 if y < 0, else +1:
 *   y = bufs[r] + worker_error[r] ; s_r = norm(y) * (1.0f / sqrtf(n)) ; worker_error[r] = y - s_r*sign(y)
 *   z = sum over r of sign(y_r)[chunk j] * (s_r * (1.0f / W)) + server_error[j]
 *   t_j = norm(z) * (1.0f / sqrtf(n / W)) ; server_error[j] = z - t_j*sign(z)
 *   every bufs[r][chunk j] = t_j*sign(z)                         (identical on all ranks) */
typedef struct zs_plugin_compressed_allreduce {
    int world;
    size_t n;                      /* padded floats per rank */
    float *const *bufs;            /* [world][n], in: each rank's x_r; out: the all-reduced result */
    float *const *worker_error;    /* [world][n], in/out (zero before the first call) */
    float *const *server_error;    /* [world][n / world], in/out: rank j's, for chunk j (zero at first) */
} zs_plugin_compressed_allreduce;

/* Muon's Newton-Schulz orthogonalisation, emulated in the compute dtype: "gram" fp16
 * (zeropower_via_gram_newtonschulz; the standard iteration on a square matrix), "standard" bf16
 * (zeropower_via_newtonschulz5); coefficients (3.4445, -4.7750, 2.0315). Every torch op rounds its
 * result to the compute dtype once; a matmul's products are exact and summed in fp32. Transposes a
 * tall matrix first and back at the end; no aspect-ratio scale (that is muon_update's). */
typedef struct zs_plugin_newton_schulz {
    const char *ns_method;         /* "gram" or "standard" */
    int rows, cols;
    int steps;                     /* iterations (DeepSpeed: 5) */
    const float *in;               /* [rows][cols] row-major, any fp32 values (rounded to the dtype first) */
    float *out;                    /* [rows][cols]: values of the compute dtype */
} zs_plugin_newton_schulz;

/* original_muon.py muon_update for one whole rows x cols parameter (nesterov, 5 NS steps) in the
 * model dtype t ("F32", "F16", "BF16"; lerp as ATen's, weights fl32(1 - beta) and fl32(beta)):
 *   momentum = round_t(lerp(momentum, grad, 1 - beta)) ; u = round_t(lerp(grad, momentum, beta))
 *   u = newton_schulz(u) ; rows > cols: u = round_c(u * fl32(sqrt(rows / cols))) ; grad = round_t(u) */
typedef struct zs_plugin_muon_update {
    const char *dtype;             /* model dtype */
    const char *ns_method;         /* "gram" or "standard" */
    int rows, cols;
    double beta;                   /* momentum (DeepSpeed's default 0.95) */
    float *grad;                   /* [rows][cols], in: the averaged gradient; out: the update */
    float *momentum;               /* [rows][cols], in/out (zero before the first call) */
} zs_plugin_muon_update;

typedef struct zs_plugin {
    uint32_t abi_version;          /* ZS_PLUGIN_ABI_VERSION */
    uint32_t struct_size;          /* sizeof(zs_plugin) as the plugin was compiled */
    const char *name;
    /* Each entry may be NULL. Return ZS_PLUGIN_OK, ZS_PLUGIN_UNSUPPORTED or ZS_PLUGIN_ERROR. */
    int (*optimizer_step)(const zs_plugin_optimizer_step *args);
    /* lr for optimizer step k (0-based) of a DeepSpeed scheduler described by its config JSON,
     * e.g. {"type": "WarmupLR", "params": {...}}, with the optimizer's lr as base_lr. */
    int (*scheduler_lr)(const char *scheduler_json, double base_lr, int64_t k, double *lr);
    int (*loss_scale_update)(zs_plugin_loss_scaler *state, int overflow);
    int (*unscale_clip)(zs_plugin_unscale_clip *args);
    int (*reduce_scatter_sum)(const zs_plugin_collective *args);
    int (*all_gather)(const zs_plugin_collective *args);
    /* Round fp32 values to "F16" or "BF16" (round to nearest even), in place, results as floats. */
    int (*round_to)(const char *dtype, float *values, size_t n);
    /* Optional: a message for the last ZS_PLUGIN_ERROR. */
    const char *(*last_error)(void);
    /* ---- added after the first release of ABI v1; a host reads them only when struct_size covers
     * them (ZS_PLUGIN_HAS), so plugins built before still load and these cases are skipped ---- */
    /* One layer's forward / backward pass (the table above). */
    int (*layer_forward)(const zs_plugin_layer *args);
    int (*layer_backward)(const zs_plugin_layer *args);
    /* ---- added after the layer entries (ZS_PLUGIN_HAS(p, compressed_allreduce) etc.) ---- */
    /* The 1-bit compressed all-reduce, Newton-Schulz and Muon's per-parameter update (above). */
    int (*compressed_allreduce)(const zs_plugin_compressed_allreduce *args);
    int (*newton_schulz)(const zs_plugin_newton_schulz *args);
    int (*muon_update)(const zs_plugin_muon_update *args);
} zs_plugin;

/* Whether plugin `p` (a struct of p->struct_size bytes) has the entry `field`. */
#define ZS_PLUGIN_HAS(p, field) \
    ((p)->struct_size >= offsetof(zs_plugin, field) + sizeof(((zs_plugin *)0)->field))
/* The size of the struct in the first release of ABI v1 (through last_error): the smallest a host
 * accepts. */
#define ZS_PLUGIN_V1_MIN_SIZE offsetof(zs_plugin, layer_forward)

typedef const zs_plugin *(*zs_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
