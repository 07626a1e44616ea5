/* The GPT-2 parameter table: every tensor's Hugging Face name, shape, offset in the flat buffer and
 * init rule, in GPT2LMHeadModel.named_parameters() order without the "transformer." prefix
 * (docs/spec.md §3, §5):
 *
 *   wte [V,C], wpe [T,C],
 *   per layer l: h.l.ln_1.weight [C], ln_1.bias [C], attn.c_attn.weight [C,3C], attn.c_attn.bias [3C],
 *                attn.c_proj.weight [C,C], attn.c_proj.bias [C], ln_2.weight [C], ln_2.bias [C],
 *                mlp.c_fc.weight [C,4C], mlp.c_fc.bias [4C], mlp.c_proj.weight [4C,C], mlp.c_proj.bias [C]
 *   ln_f.weight [C], ln_f.bias [C]
 *
 * Linear weights are Conv1D [in, out]. Host code only; the device code indexes the flat buffer with
 * these offsets. */
#ifndef ZS_FAST_GPT2_PARAMS_H
#define ZS_FAST_GPT2_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/case.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zsf_init_kind {
    ZSF_INIT_NORMAL = 0,   /* 0.02 * normal */
    ZSF_INIT_NORMAL_PROJ,  /* 0.02 / sqrt(2 * layers) * normal: attn.c_proj.weight, mlp.c_proj.weight */
    ZSF_INIT_ZERO,         /* biases */
    ZSF_INIT_ONE           /* LayerNorm weights */
} zsf_init_kind;

/* Position of each tensor inside a transformer block (add 2 + 12*l for its table index). */
enum {
    ZSF_LN1W = 0, ZSF_LN1B, ZSF_QKVW, ZSF_QKVB, ZSF_ATTPROJW, ZSF_ATTPROJB,
    ZSF_LN2W, ZSF_LN2B, ZSF_FCW, ZSF_FCB, ZSF_FCPROJW, ZSF_FCPROJB, ZSF_PER_LAYER
};

typedef struct zsf_param {
    char name[64];
    int ndim;              /* 1 or 2 */
    int64_t shape[2];
    size_t numel;
    size_t offset;         /* in the flat buffer */
    zsf_init_kind init;
} zsf_param;

typedef struct zsf_params {
    zs_model_dims dims;
    zsf_param *p;          /* n entries, HF order */
    int n;
    size_t numel;
} zsf_params;

/* Fails (naming the field) on non-positive sizes or channels not divisible by heads. */
int zsf_params_build(zsf_params *t, zs_model_dims dims, zs_error *err);
void zsf_params_free(zsf_params *t);

/* Table entries: the embeddings, tensor k (ZSF_LN1W..) of layer l, the final LayerNorm. */
const zsf_param *zsf_param_wte(const zsf_params *t);
const zsf_param *zsf_param_wpe(const zsf_params *t);
const zsf_param *zsf_param_layer(const zsf_params *t, int l, int k);
const zsf_param *zsf_param_lnf_w(const zsf_params *t);
const zsf_param *zsf_param_lnf_b(const zsf_params *t);

/* The init standard deviation: computed in double, as the spec requires (0 for ZERO/ONE). */
double zsf_param_init_std(const zsf_param *p, int layers);

/* Index of the tensor holding flat element `flat` (binary search), or -1 if out of range. */
int zsf_param_of(const zsf_params *t, size_t flat);

#ifdef __cplusplus
}
#endif
#endif
