/* offload_optimizer's host state and its pipelined step (offload.h). */
#include "offload.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu_optim.h"

void zsf_offload_init(zsf_offload *o, size_t len, int n_state, zsf_dtype dt, void *host_model, int threads,
                      size_t chunk, zsf_host_memory *mem)
{
    memset(o, 0, sizeof *o);
    o->len = len;
    o->chunk = chunk ? chunk : ZSF_OFFLOAD_CHUNK;
    o->n_chunks = (int)((len + o->chunk - 1) / o->chunk);
    o->n_state = n_state;
    o->threads = threads;
    o->dt = dt;
    o->grad = zsf_host_floats(&mem->grads, len);
    o->master = zsf_host_floats(&mem->optimizer, len);
    for (int k = 0; k < n_state; k++) {
        o->state[k] = zsf_host_floats(&mem->optimizer, len);
        memset(o->state[k], 0, len * sizeof(float));
    }
    if (dt == ZSF_FP32) {   /* the cast is the value: no narrowing */
        o->model = host_model ? (float *)host_model : o->master;   /* fp32: the master is the model's value */
        o->up = o->model;
    } else {                /* the CPU writes fl_M as floats, narrowed to 16 bits per chunk for the copy up */
        o->model = zsf_host_floats(&mem->working, len);
        o->model_owned = 1;
        o->up = host_model ? host_model : zsf_host_bytes(&mem->working, len * zsf_dtype_size(dt));
        o->up_owned = !host_model;
    }
    CUDA_CHECK(cudaStreamCreateWithFlags(&o->d2h, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&o->h2d, cudaStreamNonBlocking));
    o->landed = (cudaEvent_t *)calloc((size_t)(o->n_chunks ? o->n_chunks : 1), sizeof(cudaEvent_t));
    if (!o->landed)
        zsf_die(__FILE__, __LINE__, "calloc", "out of host memory");
    for (int i = 0; i < o->n_chunks; i++)
        CUDA_CHECK(cudaEventCreateWithFlags(&o->landed[i], cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&o->start, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&o->done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(o->done, o->h2d));
}

void zsf_offload_free(zsf_offload *o)
{
    if (!o->landed)
        return;
    cudaStreamSynchronize(o->d2h);
    cudaStreamSynchronize(o->h2d);
    for (int i = 0; i < o->n_chunks; i++)
        cudaEventDestroy(o->landed[i]);
    free(o->landed);
    cudaEventDestroy(o->start);
    cudaEventDestroy(o->done);
    cudaStreamDestroy(o->d2h);
    cudaStreamDestroy(o->h2d);
    cudaFreeHost(o->grad);
    cudaFreeHost(o->master);
    for (int k = 0; k < o->n_state; k++)
        cudaFreeHost(o->state[k]);
    if (o->model_owned)
        cudaFreeHost(o->model);
    if (o->up_owned)
        cudaFreeHost(o->up);
    memset(o, 0, sizeof *o);
}

/* The model-dtype partition formed from the whole host master, as a step forms it chunk by chunk:
 * fl_M(master) in o->model, then narrowed into o->up for the copy up. */
static void cast_master(zsf_offload *o)
{
    if (o->model != o->master)
        for (size_t i = 0; i < o->len; i++)
            o->model[i] = zsf_round(o->dt, o->master[i]);
    if (o->up != (void *)o->model)
        zsf_narrow(o->up, o->model, o->len, o->dt);
}

void zsf_offload_upload_master(zsf_offload *o, const float *master_dev, cudaStream_t s)
{
    CUDA_CHECK(cudaMemcpyAsync(o->master, master_dev, o->len * sizeof(float), cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    cast_master(o);   /* the initial master holds model-dtype values already: the cast is exact */
}

/* Elements [off, off + n) of the model-dtype partition as they go up. */
static void *up_at(const zsf_offload *o, size_t off)
{
    return (unsigned char *)o->up + off * zsf_dtype_size(o->dt);
}

void zsf_offload_load(zsf_offload *o, const float *master, const float *const *state, void *model_dev,
                      cudaStream_t s)
{
    const size_t bytes = o->len * sizeof(float);
    CUDA_CHECK(cudaEventSynchronize(o->done));   /* no copy of the last step still reads o->model */
    memcpy(o->master, master, bytes);
    for (int k = 0; k < o->n_state; k++)
        memcpy(o->state[k], state[k], bytes);
    cast_master(o);
    if (model_dev)
        CUDA_CHECK(cudaMemcpyAsync(model_dev, o->up, o->len * zsf_dtype_size(o->dt), cudaMemcpyHostToDevice, s));
    CUDA_CHECK(cudaStreamSynchronize(s));   /* the host buffers may be freed once we return */
}

void zsf_offload_step(zsf_offload *o, const zsf_optim_scalars *sc, float inv, const float *grad_dev, void *model_dev,
                      cudaStream_t s)
{
    const size_t F = sizeof(float), E = zsf_dtype_size(o->dt);
    CUDA_CHECK(cudaEventSynchronize(o->done));   /* the last step's copies no longer read o->model */
    CUDA_CHECK(cudaEventRecord(o->start, s));    /* the gradient is complete; model_dev is free */
    CUDA_CHECK(cudaStreamWaitEvent(o->d2h, o->start, 0));
    CUDA_CHECK(cudaStreamWaitEvent(o->h2d, o->start, 0));
    for (int i = 0; i < o->n_chunks; i++) {
        const size_t off = (size_t)i * o->chunk, n = off + o->chunk < o->len ? o->chunk : o->len - off;
        CUDA_CHECK(cudaMemcpyAsync(o->grad + off, grad_dev + off, n * F, cudaMemcpyDeviceToHost, o->d2h));
        CUDA_CHECK(cudaEventRecord(o->landed[i], o->d2h));
    }
    for (int i = 0; i < o->n_chunks; i++) {
        const size_t off = (size_t)i * o->chunk, n = off + o->chunk < o->len ? o->chunk : o->len - off;
        float *state[ZSF_OPTIM_N_STATE] = {0};
        for (int k = 0; k < o->n_state; k++)
            state[k] = o->state[k] + off;
        CUDA_CHECK(cudaEventSynchronize(o->landed[i]));
        if (zsf_cpu_optim_step(sc, inv, o->master + off, o->grad + off, state, n,
                               o->model == o->master ? NULL : o->model + off, o->dt, o->threads))
            zsf_die(__FILE__, __LINE__, "zsf_cpu_optim_step", "the optimizer rule has no CPU step");
        if (o->up != (void *)o->model)
            zsf_narrow(up_at(o, off), o->model + off, n, o->dt);
        if (model_dev)
            CUDA_CHECK(cudaMemcpyAsync((unsigned char *)model_dev + off * E, up_at(o, off), n * E,
                                       cudaMemcpyHostToDevice, o->h2d));
    }
    CUDA_CHECK(cudaEventRecord(o->done, o->h2d));
    CUDA_CHECK(cudaStreamWaitEvent(s, o->done, 0));
}
