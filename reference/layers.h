/* The layers of the reference model, llm.c style: one function per layer, *_forward then
 * *_backward; outputs first, then inputs, then dimensions. Shapes: B batch, T sequence, C channels,
 * OC output channels, V vocabulary, NH heads. Backward functions ADD (+=) into their gradient
 * outputs; callers zero them first.
 *
 * The same code is compiled twice (layers.c): with `float` (suffix _f32, used by the reference) and
 * with `double` (suffix _f64, used by the finite-difference gradient tests). Loop and summation
 * orders are normative (docs/spec/model.md). */
#ifndef ZS_REFERENCE_LAYERS_H
#define ZS_REFERENCE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#define ZS_LAYER_DECLARATIONS(R, S)                                                                  \
    void encoder_forward##S(R *out, const int *inp, const R *wte, const R *wpe, int B, int T, int C); \
    void encoder_backward##S(R *dwte, R *dwpe, const R *dout, const int *inp, int B, int T, int C);   \
    void layernorm_forward##S(R *out, R *mean, R *rstd, const R *inp, const R *weight, const R *bias, \
                              int B, int T, int C);                                                  \
    void layernorm_backward##S(R *dinp, R *dweight, R *dbias, const R *dout, const R *inp,             \
                               const R *weight, const R *mean, const R *rstd, int B, int T, int C);    \
    void matmul_forward##S(R *out, const R *inp, const R *weight, const R *bias, int BT, int C, int OC); \
    void matmul_backward##S(R *dinp, R *dweight, R *dbias, const R *dout, const R *inp, const R *weight, \
                            int BT, int C, int OC);                                                  \
    void matmul_wt_forward##S(R *out, const R *inp, const R *weight, int BT, int C, int OC);          \
    void matmul_wt_backward##S(R *dinp, R *dweight, const R *dout, const R *inp, const R *weight,      \
                               int BT, int C, int OC);                                               \
    void attention_scores_forward##S(R *preatt, const R *qkv, int B, int T, int C, int NH);           \
    void attention_scores_backward##S(R *dqkv, const R *dpreatt, const R *qkv, int B, int T, int C, int NH); \
    void softmax_causal_forward##S(R *att, const R *preatt, int B, int T, int NH);                    \
    void softmax_causal_backward##S(R *dpreatt, const R *datt, const R *att, int B, int T, int NH);    \
    void attention_values_forward##S(R *out, const R *att, const R *qkv, int B, int T, int C, int NH); \
    void attention_values_backward##S(R *datt, R *dqkv, const R *dout, const R *att, const R *qkv,     \
                                      int B, int T, int C, int NH);                                  \
    void gelu_forward##S(R *out, const R *inp, int N);                                               \
    void gelu_backward##S(R *dinp, const R *inp, const R *dout, int N);                              \
    void residual_forward##S(R *out, const R *inp1, const R *inp2, int N);                           \
    void residual_backward##S(R *dinp1, R *dinp2, const R *dout, int N);                             \
    void crossentropy_forward##S(R *losses, R *probs, const R *logits, const int *targets, int BT, int V); \
    void crossentropy_backward##S(R *dlogits, const R *probs, const int *targets, R dloss_per_position, \
                                  int BT, int V);

ZS_LAYER_DECLARATIONS(float, _f32)
ZS_LAYER_DECLARATIONS(double, _f64)

/* ------------------------------------------------------------------------------------------------
 * The layers by name (layer_calls.c), for callers holding named buffers: the plugin ABI's
 * layer_forward / layer_backward (conformance/include/zerospec/plugin.h has the same table) and the
 * layer golden cases of `zs-ref ops`. */

typedef struct zs_layer_dims {
    int B, T, C, NH, V, OC;
} zs_layer_dims;

/* One layer's buffers in call order, "name[dims]" separated by spaces, dims from B, T, C, 3C, NH, V,
 * OC; `ids` names the int32 input (token ids, targets), NULL when there is none. */
typedef struct zs_layer_spec {
    int id;                        /* its index in zs_layer_specs */
    const char *name;
    const char *forward_in, *forward_out, *backward_in, *backward_out;
    const char *ids;
} zs_layer_spec;

extern const zs_layer_spec zs_layer_specs[];
extern const int zs_layer_spec_count;
const zs_layer_spec *zs_layer_spec_find(const char *name);   /* NULL if unknown */

/* One buffer of a spec list with its shape under given dims. */
typedef struct zs_layer_buffer {
    char name[16];
    int ndim;
    int64_t shape[4];
    size_t numel;
} zs_layer_buffer;

/* Parses a spec list ("inp[B,T,C] weight[C]") into at most `max` buffers; returns how many. */
int zs_layer_buffers(const char *list, const zs_layer_dims *d, zs_layer_buffer *out, int max);

/* Runs `spec` forward (backward = 0) or backward on positional buffers: in[] then out[] in the
 * spec's order; the int32 input comes as `ids` (its in[] slot is not read). Forward passes write
 * their outputs, backward passes add (+=) into them. -1 only when scratch memory runs out. */
#define ZS_LAYER_CALL_DECLARATION(R, S)                                                              \
    int zs_layer_call##S(const zs_layer_spec *spec, int backward, const zs_layer_dims *d, R *const *in, \
                         R *const *out, const int *ids);
ZS_LAYER_CALL_DECLARATION(float, _f32)
ZS_LAYER_CALL_DECLARATION(double, _f64)

#endif
