/* The GPT-2 model on the GPU: forward and backward of one micro-batch of B sequences. Parameters and
 * gradients are flat device buffers laid out by gpt2_params.h. The parameters are stored in the model
 * dtype (zsf_dtype_size(dt) bytes per element: float in fp32, the 16-bit bits of rounding.h in
 * fp16/bf16; the GEMMs, LayerNorms, biases and embeddings read them as they are, with no copy). Every
 * op computes in fp32 and rounds its output at the rounding points of docs/spec/model.md
 * (activations, and each activation gradient once complete). The parameter gradient is an fp32
 * buffer: contributions are summed in fp32 and the micro-step's gradient is rounded once at the end
 * (`.grad` in the model dtype, held in the float). */
#ifndef ZS_FAST_MODEL_H
#define ZS_FAST_MODEL_H

#include <stddef.h>

#include <cuda_runtime.h>

#include "gpt2_params.h"
#include "rounding.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_model zsf_model;

/* Allocates the activation workspace for micro-batches of B sequences; all work goes to `stream`.
 * `t` must outlive the model. `dt`: the model dtype (rounding of activations and gradients). */
zsf_model *zsf_model_new(const zsf_params *t, int B, zsf_dtype dt, cudaStream_t stream);
void zsf_model_free(zsf_model *m);

/* Device buffers [B*T] the next forward pass reads its tokens from. */
int *zsf_model_inputs(zsf_model *m);
int *zsf_model_targets(zsf_model *m);

/* Writes the micro-batch's mean loss (fp32, device) to *loss. params: numel model-dtype elements. */
void zsf_model_forward(zsf_model *m, const void *params, float *loss);
/* Writes (does not accumulate) grads[numel] (fp32) = d(dloss * loss)/d(params) for the last forward,
 * rounded to the model dtype. */
void zsf_model_backward(zsf_model *m, const void *params, float *grads, float dloss);

/* Stage 3 (engine.cu): the engine owns where each unit's parameters are (layer_plan.h numbers the
 * units: 0 the embeddings, 1 + l block l, L + 1 the final LayerNorm; the tied LM head uses unit 0) and
 * learns when a unit's gradient is final. The model calls, on the host, in layer_plan.h's use order:
 *   fetch(u)      before queueing work that reads unit u's parameters; returns the device address of
 *                 the unit's elements (model dtype, flat layout from the unit's first element on), valid for work
 *                 queued on the model's stream until release(u)
 *   release(u)    after queueing the last read of this use (may be NULL: stages 2 and 3 need no call)
 *   grads_done(u) backward: the unit's slice of `grads` is final, rounded to the model dtype, once the
 *                 work queued so far on the model's stream has run
 * With hooks set, forward and backward ignore their `params` argument (pass NULL). */
typedef struct zsf_model_hooks {
    const void *(*fetch)(void *ctx, int unit);
    void (*release)(void *ctx, int unit);
    void (*grads_done)(void *ctx, int unit);
    void *ctx;
} zsf_model_hooks;

/* NULL: no hooks, the flat `params` buffer (stages 0-2). */
void zsf_model_set_hooks(zsf_model *m, const zsf_model_hooks *hooks);

/* Bytes of activation and activation-gradient workspace held. */
size_t zsf_model_workspace_bytes(const zsf_model *m);

#ifdef __cplusplus
}
#endif
#endif
