/* Muon (DeepSpeed v0.19.6 "type": "Muon" = MuonWithAuxAdam; docs/spec/optimizers.md §8a) in the
 * zs-fast engine: the ZeRO-1/2 gradient hook (momentum, Newton-Schulz, aspect scale on each muon
 * parameter's whole reduced gradient, the rank keeping its slice) and the inner step of the two
 * param groups (the muon group: SGD with decoupled decay; the rest: the auxiliary Adam). Stage 0 has
 * no hook: the muon group is plain decayed SGD on the averaged gradient, per tensor.
 * Groups and layouts: muon_layout.h; element math: muon_math.h; Newton-Schulz: newton_schulz.h. */
#ifndef ZS_FAST_MUON_H
#define ZS_FAST_MUON_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "muon_layout.h"
#include "newton_schulz.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zsf_muon {
    int *uses;              /* host, per parameter: 1 if in the muon group */
    zsf_muon_plan plan;     /* stages 1-2: this rank's muon parameters and momentum layout */
    float *momentum;        /* device, plan.buf_len floats: momentum_buffer, values of the gradient dtype */
    int64_t *own;           /* device, group_len[0]: model index of each element of the rank's muon piece */
    zsf_ns_work ns;
    zsf_ns_method method;
} zsf_muon;

/* e->muon for a Muon config (after the partition and the buffers exist); counts its device memory in
 * e->mem. Returns 0, or -1 out of host memory. */
int zsf_muon_init(zsf_engine *e, zs_error *err);
void zsf_muon_free(zsf_engine *e);

/* Stages 1-2, after the gradient reduction and before the overflow check (stage_1_and_2.py
 * get_flat_partition): all-gathers the reduced partitions, runs muon_update on every muon parameter
 * touching this rank's partition with its momentum, and replaces the rank's muon-group piece of
 * e->grad_part by its slice of the results. Nothing at stage 0. A collective: every rank calls it. */
void zsf_muon_hook(zsf_engine *e);

/* MuonWithAuxAdam.step on this rank's fp32 master from grad_part * inv: the muon group at lr (the
 * scheduler's from muon_lr), the Adam group at the scheduler's lr from adam_lr. */
void zsf_muon_step(zsf_engine *e, float inv, double lr);

/* Elements of this rank's momentum buffer (0 at stage 0), and a host copy of it. */
size_t zsf_muon_momentum_len(const zsf_engine *e);
void zsf_muon_read_momentum(zsf_engine *e, float *out);

#ifdef __cplusplus
}
#endif
#endif
