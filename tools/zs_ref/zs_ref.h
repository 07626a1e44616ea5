/* zs-ref's subcommands (tools/zs_ref/): the training run is in main.c. */
#ifndef ZS_TOOLS_ZS_REF_H
#define ZS_TOOLS_ZS_REF_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/error.h"
#include "zerospec/safetensors.h"

/* `zs-ref config check ...`: argv starts after "check". Returns the exit status. */
int zs_ref_config_check(int argc, char **argv);

/* `zs-ref ops --out DIR`: writes the op-level golden cases. Returns the exit status. */
int zs_ref_ops(int argc, char **argv);

/* `zs-ref ckpt info DIR` and `zs-ref ckpt consolidate DIR --out FILE`. Returns the exit status. */
int zs_ref_ckpt(int argc, char **argv);
/* Shared by the op-level writers (ops*.c). Inputs come from the spec RNG under this seed. */
#define OPS_SEED 20261123ULL
/* x[i] = scale * N(0,1) draw i of `stream`. */
void zs_ref_ops_fill_normal(float *x, size_t n, uint64_t stream, double scale);
/* Writes `w` to DIR/FILE and frees it. */
int zs_ref_ops_write(zs_st_writer *w, const char *dir, const char *file, zs_error *err);
/* fixtures/ops/layer_<name>.safetensors for every layer of zerospec/plugin.h's table. */
int zs_ref_ops_layers(const char *dir, zs_error *err);
/* fixtures/ops/onebit_compressed_allreduce.safetensors (ops_onebit.c) and muon_newton_schulz.safetensors
 * (ops_muon.c). */
int zs_ref_ops_onebit(const char *dir, zs_error *err);
int zs_ref_ops_muon(const char *dir, zs_error *err);

#endif
