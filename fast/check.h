/* Error checks for every CUDA, cuBLAS, NCCL and MPI call of zs-fast.
 *
 * A failed call prints one line, "zs-fast: rank R: <file>:<line>: <call>: <error string>", and
 * aborts the whole MPI job (MPI_Abort), so no other rank is left waiting in a collective. Bad user
 * input is not handled here: it gets a clear message and exit status 2 (main.c). */
#ifndef ZS_FAST_CHECK_H
#define ZS_FAST_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This process's rank in MPI_COMM_WORLD (-1 until MPI is initialised), for messages. */
extern int zsf_rank;

/* Prints the failure line and aborts the MPI job. Never returns. */
void zsf_die(const char *file, int line, const char *call, const char *what) __attribute__((noreturn));

const char *zsf_cublas_error_string(cublasStatus_t s);
const char *zsf_mpi_error_string(int code);

#ifdef __cplusplus
}
#endif

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t zsf_e_ = (call);                                                               \
        if (zsf_e_ != cudaSuccess)                                                                 \
            zsf_die(__FILE__, __LINE__, #call, cudaGetErrorString(zsf_e_));                        \
    } while (0)

/* After a kernel launch: launch-configuration errors show up here. */
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t zsf_s_ = (call);                                                            \
        if (zsf_s_ != CUBLAS_STATUS_SUCCESS)                                                       \
            zsf_die(__FILE__, __LINE__, #call, zsf_cublas_error_string(zsf_s_));                   \
    } while (0)

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t zsf_r_ = (call);                                                              \
        if (zsf_r_ != ncclSuccess)                                                                 \
            zsf_die(__FILE__, __LINE__, #call, ncclGetErrorString(zsf_r_));                        \
    } while (0)

#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int zsf_m_ = (call);                                                                       \
        if (zsf_m_ != MPI_SUCCESS)                                                                 \
            zsf_die(__FILE__, __LINE__, #call, zsf_mpi_error_string(zsf_m_));                      \
    } while (0)

#endif
