/* zsf_die and the error strings behind check.h's macros. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

int zsf_rank = -1;

void zsf_die(const char *file, int line, const char *call, const char *what)
{
    fprintf(stderr, "zs-fast: rank %d: %s:%d: %s: %s\n", zsf_rank, file, line, call, what);
    fflush(stderr);
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

const char *zsf_cublas_error_string(cublasStatus_t s)
{
    return cublasGetStatusString(s);
}

const char *zsf_mpi_error_string(int code)
{
    static char buf[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS)
        snprintf(buf, sizeof buf, "MPI error %d", code);
    return buf;
}
