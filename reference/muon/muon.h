/* Muon (DeepSpeed v0.19.6 "type": "Muon" = MuonWithAuxAdam, since v0.18.0): which parameters it
 * orthogonalises, the per-parameter update, and the ZeRO-1/2 gradient hook that applies it
 * (docs/spec/optimizers.md §8 is normative). The inner optimizer steps (SGD with decoupled decay for
 * the muon group, the auxiliary Adam for the rest) are partition-local: optim/muon_adam.c. */
#ifndef ZS_REFERENCE_MUON_MUON_H
#define ZS_REFERENCE_MUON_MUON_H

#include <stddef.h>

#include "gpt2.h"
#include "muon/newton_schulz.h"
#include "zerospec/error.h"

struct zs_engine;

/* deepspeed/__init__.py set_optimizer_flags: use_muon = ndim >= 2 and the lower-cased name contains
 * neither "embed" nor "lm_head". For the GPT-2 names (docs/spec/model.md) that is every 2-D weight,
 * wte and wpe included. */
int zs_muon_uses_muon(const zs_gpt2_param *p);

/* The ZeRO flat order (engine.py _configure_basic_optimizer builds the muon group first, then the
 * Adam group; MuonWithAuxAdam.__init__ sorts the muon group by torch.Size, descending, stably):
 * order[0..n_muon) = the muon params sorted, order[n_muon..n_params) = the others in model order.
 * Returns n_muon. */
int zs_muon_param_order(const zs_gpt2 *model, int *order);

/* original_muon.py muon_update for one whole rows x cols parameter in the model dtype `t`:
 *   M = lerp(M, G, 1 - beta) ; U = lerp(G, M, beta)       (nesterov; rounded to t)
 *   U' = NS(U) * sqrt(max(1, rows/cols)) in the NS dtype, then rounded to t.
 * G is replaced by U' (as DeepSpeed's grad.lerp_ works in place). Returns -1 when out of memory. */
int zs_muon_update(zs_dtype t, float *G, float *M, int rows, int cols, double beta, zs_ns_method method);

/* ZeRO-1/2 state: per rank, one momentum buffer holding every muon parameter that touches the
 * rank's muon-group partition, whole, in group order (stage_1_and_2.py get_flat_partition). */
typedef struct zs_muon {
    int world;
    int n_muon;
    int *params;              /* model parameter indices, group order */
    size_t *group_start;      /* each one's first element in the group's flat buffer */
    float **momentum;         /* per rank */
    size_t *momentum_len;     /* per rank */
    float *full_grad;         /* numel: the reduced gradient, assembled */
    float *work;              /* largest muon parameter */
} zs_muon;

int zs_muon_init(zs_muon *m, const struct zs_engine *e, zs_error *err);
void zs_muon_free(zs_muon *m);

/* The hook at the gradient-accumulation boundary, after the reduction and before the overflow check:
 * every rank replaces its partition of each muon parameter's averaged gradient by that rank's
 * muon_update of the whole gradient. */
int zs_muon_orthogonalise(zs_muon *m, struct zs_engine *e, zs_error *err);

#endif
