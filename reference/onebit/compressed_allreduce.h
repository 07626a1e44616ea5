/* DeepSpeed's error-compensated 1-bit all-reduce over W simulated ranks (docs/spec/optimizers.md §8,
 * "compressed_allreduce"). Source: deepspeedai/DeepSpeed v0.19.6 deepspeed/runtime/comm/nccl.py
 * NcclBackend.compressed_allreduce, runtime/comm/utils.py check_and_handle_empty_buffer.
 *
 * Every rank r holds a buffer x_r of N = zs_onebit_padded_size(n, W) floats, its worker error e_r (N)
 * and its server error f_r (N/W). Worker phase on each rank, then server phase on each chunk:
 *   y_r = x_r + e_r ; s_r = rms(y_r) ; b_r = -1 where y_r < 0 else +1 ; e_r = y_r - s_r*b_r
 *   chunk j (elements [j*N/W, (j+1)*N/W)) on rank j:
 *   z_j = sum over r = 0..W-1 of b_r*(s_r*fl32(1/W)) ; z_j = z_j + f_j
 *   t_j = rms(z_j) ; c_j = sign as above ; f_j = z_j - t_j*c_j
 *   every x_r = concat over j of t_j*c_j
 * rms(y) = fl32(sqrt(sum of y_i^2)) * (1.0f / fl32(sqrt(len))), the sum in double in index order
 * (torch.linalg.norm(y) / np.sqrt(len): ATen divides a CUDA tensor by a host scalar as a multiply by
 * its float reciprocal). 0, -0 and NaN compress to +1 (sign().add_(1).bool()). */
#ifndef ZS_REFERENCE_ONEBIT_COMPRESSED_ALLREDUCE_H
#define ZS_REFERENCE_ONEBIT_COMPRESSED_ALLREDUCE_H

#include <stddef.h>

/* n rounded up to a multiple of W*lcm(W, 8), so that each rank's chunk of sign bits is whole bytes
 * (onebit/adam.py OnebitAdam.step "corrected_tensor_size"). 0 for n = 0. */
size_t zs_onebit_padded_size(size_t n, int world);

/* The compressed sign of y: -1 if y < 0, else +1 (0, -0 and NaN give +1). */
float zs_onebit_sign(float y);

/* The L2 norm of every 1-bit quantity: fl32(sqrt(sum of y_i^2)), squares and sum in double in index
 * order (DeepSpeed leaves the order to torch.linalg.norm / .pow(2).sum().sqrt() on the GPU). */
float zs_onebit_norm(const float *y, size_t len);

/* The scale of a compressed vector, rms(y) above (NaN for len = 0). */
float zs_onebit_rms(const float *y, size_t len);

/* All-reduces bufs[0..W) in place (N = padded floats each, N a multiple of W; the caller fills
 * the padding). worker_error[r] has N floats, server_error[r] N/W; both are updated. N = 0 zeroes
 * nothing and returns (DeepSpeed's empty-buffer case zeroes the error buffers, which are empty). */
void zs_compressed_allreduce(float *const *bufs, size_t padded, int world, float *const *worker_error,
                             float *const *server_error);

#endif
