/* zs-fast's command line (host code; the same contract as zs-ref where the two overlap). */
#ifndef ZS_FAST_CLI_H
#define ZS_FAST_CLI_H

#include <stdint.h>

#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zsf_backend {
    ZSF_BACKEND_NCCL = 0,  /* NCCL collectives on a dedicated stream; one GPU per rank */
    ZSF_BACKEND_MPI        /* host-staged MPI collectives; several ranks may share a GPU */
} zsf_backend;

typedef struct zsf_options {
    const char *case_path, *config_path, *out_path;
    const char *save_dir, *resume_dir;   /* zerospec checkpoints (NULL: none) */
    int world;             /* 0: not given (= the MPI size) */
    int steps;             /* -1: the case's */
    zsf_backend backend;
    int64_t bucket_elems;  /* 0: from the config (reduce_bucket_size / allgather_bucket_size) */
    int quiet, help;
} zsf_options;

extern const char zsf_usage[];

/* Parses argv (argv[0] is skipped). Returns 0, or -1 with a one-line message in err. --help sets
 * o->help and returns 0 without checking the rest. */
int zsf_parse_args(int argc, char **argv, zsf_options *o, zs_error *err);

const char *zsf_backend_name(zsf_backend b);

#ifdef __cplusplus
}
#endif
#endif
