/* zs-ref's subcommands (tools/zs_ref/): the training run is in main.c. */
#ifndef ZS_TOOLS_ZS_REF_H
#define ZS_TOOLS_ZS_REF_H

/* `zs-ref config check ...`: argv starts after "check". Returns the exit status. */
int zs_ref_config_check(int argc, char **argv);

/* `zs-ref ops --out DIR`: writes the op-level golden cases. Returns the exit status. */
int zs_ref_ops(int argc, char **argv);

/* `zs-ref ckpt info DIR` and `zs-ref ckpt consolidate DIR --out FILE`. Returns the exit status. */
int zs_ref_ckpt(int argc, char **argv);

#endif
