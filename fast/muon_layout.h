/* Muon's parameter groups and per-rank momentum layout (DeepSpeed v0.19.6 MuonWithAuxAdam;
 * docs/spec/optimizers.md §8a.1-8a.3). Host code with unit tests; the device side is muon.cu.
 *
 * Groups: deepspeed/__init__.py set_optimizer_flags marks a parameter use_muon when ndim >= 2 and its
 * lower-cased name contains neither "embed" nor "lm_head" (for GPT-2: every 2-D weight, wte and wpe
 * included). The muon group comes first, sorted by torch.Size descending (lexicographic; Python's
 * sort is stable), then the Adam group in model order: the flat layout of ZeRO-1/2
 * (zsf_partition_init_grouped). Momentum: rank r keeps one buffer holding, whole and in group order,
 * every muon parameter with an element in r's piece of the muon group (stage_1_and_2.py
 * get_flat_partition), so a parameter split over ranks is on each of them. */
#ifndef ZS_FAST_MUON_LAYOUT_H
#define ZS_FAST_MUON_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "gpt2_params.h"
#include "partition.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether Muon orthogonalises parameter p (set_optimizer_flags' rule). */
int zsf_muon_uses(const zsf_param *p);

/* order[0..n_muon) = the muon parameters sorted by shape, descending, stably; order[n_muon..t->n) =
 * the others in model order. Returns n_muon, or -1 out of memory. */
int zsf_muon_order(const zsf_params *t, int *order);

/* What zs-fast, like the reference, does not model of Muon (docs/spec/optimizers.md §8a.6): stage 3,
 * and more than one micro-step per optimizer step under ZeRO. -1 with the reason. */
int zsf_muon_check(int stage, int64_t grad_accum_steps, zs_error *err);

/* The flat layout: at stages 1-2 the grouped partition (the sorted muon group, then the Adam group);
 * at stage 0 the model order. */
int zsf_muon_partition_init(zsf_partition *p, const zsf_params *t, int stage, int world, zs_error *err);

/* Rank `rank`'s muon parameters: those with an element in its piece of the muon group (group 0 of a
 * grouped stage-1/2 partition), in group order, with their offsets in its momentum buffer. */
typedef struct zsf_muon_plan {
    int n;                 /* parameters */
    int *param;            /* model parameter indices, group order */
    size_t *buf_offset;    /* where each starts in the momentum buffer */
    size_t buf_len;        /* elements of the momentum buffer */
    size_t max_numel;      /* largest parameter (1 when none) */
    size_t max_square;     /* largest min(rows, cols)^2 (1 when none): the Newton-Schulz Gram matrices */
} zsf_muon_plan;

int zsf_muon_plan_init(zsf_muon_plan *m, const zsf_params *t, const zsf_partition *part, int rank, zs_error *err);
void zsf_muon_plan_free(zsf_muon_plan *m);

#ifdef __cplusplus
}
#endif
#endif
