/* The model: a GPT-2-style decoder (Hugging Face GPT-2 layout and parameter names).
 *
 *   x   = wte[tokens] + wpe[positions]
 *   per block l:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
 *        attn = c_proj(causal multi-head softmax(Q K^T / sqrt(hd)) V), Q,K,V = split(c_attn(.))
 *        mlp  = c_proj(gelu_tanh(c_fc(.)))
 *   logits = ln_f(x) @ wte^T   (tied LM head)
 *   loss   = mean over B*T positions of cross-entropy(logits, targets)
 *
 * All parameters live in one flat fp32 buffer in Hugging Face `named_parameters()` order (without the
 * "transformer." prefix); zs_gpt2_param describes each tensor's name, shape and offset. Linear
 * weights use HF Conv1D layout [in, out] (y = x @ W + b). docs/spec.md "Model" is normative. */
#ifndef ZS_REFERENCE_GPT2_H
#define ZS_REFERENCE_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/case.h"
#include "zerospec/dtype.h"
#include "zerospec/error.h"

/* How a parameter tensor is initialised (docs/spec.md "Initialisation"). */
typedef enum zs_init_kind {
    ZS_INIT_NORMAL = 0,      /* N(0, 0.02) */
    ZS_INIT_NORMAL_PROJ,     /* N(0, 0.02 / sqrt(2 * layers)): attn.c_proj.weight, mlp.c_proj.weight */
    ZS_INIT_ZERO,            /* biases */
    ZS_INIT_ONE              /* LayerNorm weights */
} zs_init_kind;

typedef struct zs_gpt2_param {
    char name[64];           /* e.g. "wte", "h.0.attn.c_attn.weight", "ln_f.bias" */
    int ndim;                /* 1 or 2 */
    int64_t shape[2];
    size_t numel;
    size_t offset;           /* element offset in the flat buffer */
    zs_init_kind init;
} zs_gpt2_param;

typedef struct zs_gpt2 {
    zs_model_dims dims;
    zs_gpt2_param *params;   /* HF order */
    int n_params;
    size_t numel;            /* total parameter count */
} zs_gpt2;

/* Builds the parameter table for the given sizes; fails (naming the field) on non-positive sizes
 * or channels not divisible by heads. */
int zs_gpt2_init(zs_gpt2 *m, zs_model_dims dims, zs_error *err);
void zs_gpt2_free(zs_gpt2 *m);
const zs_gpt2_param *zs_gpt2_find(const zs_gpt2 *m, const char *name);

/* Activation workspace for a micro-batch of B sequences (and the matching activation gradients). */
typedef struct zs_gpt2_acts zs_gpt2_acts;
zs_gpt2_acts *zs_gpt2_acts_new(const zs_gpt2 *m, int B);
void zs_gpt2_acts_free(zs_gpt2_acts *a);

/* Forward pass over B sequences of dims.seq tokens. inputs/targets are [B*T] token ids in
 * [0, vocab). act_dtype is the activation storage type: every materialised activation is rounded
 * to it (ZS_F32 = no rounding). Returns the mean cross-entropy loss, computed in fp32 from the
 * (rounded) logits. */
float zs_gpt2_forward(const zs_gpt2 *m, zs_gpt2_acts *a, const float *params, const int *inputs,
                      const int *targets, int B, zs_dtype act_dtype);

/* Per-position cross-entropy losses [B*T] of the last forward pass. */
const float *zs_gpt2_position_losses(const zs_gpt2_acts *a);

/* Backward pass for the last forward: writes (overwrites, does not accumulate) into grads[numel]
 * the gradient of (dloss * loss) w.r.t. every parameter. dloss carries loss scaling and the
 * 1/gradient_accumulation_steps factor. Parameter-gradient contributions are accumulated in fp32
 * (the tied wte gets both its embedding and its LM-head contribution summed in fp32); activation
 * gradients are rounded to act_dtype like the activations. The caller rounds grads to the
 * gradient dtype. */
void zs_gpt2_backward(const zs_gpt2 *m, zs_gpt2_acts *a, const float *params, float *grads,
                      float dloss, zs_dtype act_dtype);

#endif
