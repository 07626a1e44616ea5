/* zs-fast's command line (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char zsf_usage[] =
    "usage: mpirun -np N zs-fast (--case FILE | --config FILE) [--world N] [--out FILE] [options]\n"
    "\n"
    "Trains the case's tiny GPT-2 on the GPU with N data-parallel ranks (one MPI process each) under\n"
    "the DeepSpeed config's ZeRO stage, and writes the same trace as zs-ref (docs/spec.md §13).\n"
    "\n"
    "  --case FILE         conformance case (DeepSpeed config + model, seed, steps)\n"
    "  --config FILE       plain DeepSpeed JSON config; default model, seed 1234, 5 steps\n"
    "  --world N           number of ranks; must equal the MPI job size (default: that size)\n"
    "  --out FILE          write the trace (safetensors) to FILE, atomically (rank 0)\n"
    "  --steps K           override the number of optimizer steps\n"
    "  --backend B         nccl (default: NCCL collectives, one GPU per rank) or mpi (host-staged\n"
    "                      MPI collectives summing in rank order; ranks may share a GPU)\n"
    "  --bucket-size N     elements per collective call (default: the config's reduce_bucket_size\n"
    "                      and allgather_bucket_size)\n"
    "  --save DIR          after the last step, save a zerospec checkpoint (docs/spec/checkpoint.md)\n"
    "  --resume DIR        start from a checkpoint (any world size and stage) and run steps k+1..K\n"
    "  --quiet             print nothing but errors\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 success, 1 training stopped (non-finite gradient) or a CUDA/NCCL/MPI failure,\n"
    "2 bad usage or bad input (config, case, world size).\n";

const char *zsf_backend_name(zsf_backend b)
{
    return b == ZSF_BACKEND_MPI ? "mpi" : "nccl";
}

static int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, zs_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return zs_fail(err, "%s expects an integer %lld..%lld, got '%s'", flag, (long long)lo, (long long)hi, s);
    *out = v;
    return 0;
}

int zsf_parse_args(int argc, char **argv, zsf_options *o, zs_error *err)
{
    *o = (zsf_options){.world = 0, .steps = -1, .backend = ZSF_BACKEND_NCCL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        static const char *const valued[] = {"--case", "--config", "--out", "--world", "--steps", "--backend",
                                             "--bucket-size", "--save", "--resume"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known)
            return zs_fail(err, "unknown argument '%s' (see zs-fast --help)", a);
        if (i + 1 >= argc)
            return zs_fail(err, "%s needs a value", a);
        const char *v = argv[++i];
        int64_t x = 0;
        if (!strcmp(a, "--case")) {
            o->case_path = v;
        } else if (!strcmp(a, "--config")) {
            o->config_path = v;
        } else if (!strcmp(a, "--out")) {
            o->out_path = v;
        } else if (!strcmp(a, "--save")) {
            o->save_dir = v;
        } else if (!strcmp(a, "--resume")) {
            o->resume_dir = v;
        } else if (!strcmp(a, "--world")) {
            if (parse_i64(a, v, 1, 4096, &x, err))
                return -1;
            o->world = (int)x;
        } else if (!strcmp(a, "--steps")) {
            if (parse_i64(a, v, 0, 1000000, &x, err))
                return -1;
            o->steps = (int)x;
        } else if (!strcmp(a, "--bucket-size")) {
            if (parse_i64(a, v, 1, INT64_MAX, &x, err))
                return -1;
            o->bucket_elems = x;
        } else if (!strcmp(v, "nccl")) {
            o->backend = ZSF_BACKEND_NCCL;
        } else if (!strcmp(v, "mpi")) {
            o->backend = ZSF_BACKEND_MPI;
        } else {
            return zs_fail(err, "--backend expects nccl or mpi, got '%s'", v);
        }
    }
    if (!o->case_path == !o->config_path)
        return zs_fail(err, "give exactly one of --case FILE or --config FILE (see zs-fast --help)");
    return 0;
}
