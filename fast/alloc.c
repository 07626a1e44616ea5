/* Counted allocations (alloc.h). */
#include "alloc.h"

#include <cuda_runtime.h>

#include "check.h"

void *zsf_device_bytes(int64_t *row, size_t bytes)
{
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    *row += (int64_t)bytes;
    return p;
}

void *zsf_host_bytes(int64_t *row, size_t bytes)
{
    void *p = NULL;
    CUDA_CHECK(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault));
    *row += (int64_t)bytes;
    return p;
}

float *zsf_host_floats(int64_t *row, size_t n)
{
    return (float *)zsf_host_bytes(row, n * sizeof(float));
}
