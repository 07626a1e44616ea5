/* Shared helpers for the kernel headers: launch geometry and the checked launch macro.
 * With --fmad=false (fast/CMakeLists.txt) elementwise arithmetic rounds exactly as the reference
 * does. Reductions either sum in the reference's loop order (docs/spec/model.md) or, where that
 * would leave the chip idle (row reductions, attention), in another fixed order: an fp32 sum may be
 * reassociated (docs/conformance.md), and a fixed order keeps runs bit-identical. cuBLAS GEMMs and
 * the CUDA math library's expf/logf/tanhf/coshf differ from the reference by rounding. */
#ifndef ZS_FAST_KERNELS_COMMON_CUH
#define ZS_FAST_KERNELS_COMMON_CUH

#include <stddef.h>
#include <stdint.h>

#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../check.h"
#include "../rounding.h"

#define ZSF_BLOCK 256

static inline unsigned zsf_blocks(size_t n)
{
    return (unsigned)((n + ZSF_BLOCK - 1) / ZSF_BLOCK);
}

/* Launches kernel over n threads (nothing when n == 0) on `stream` and checks the launch. */
#define ZSF_LAUNCH(kernel, n, stream, ...)                                                         \
    do {                                                                                           \
        size_t zsf_n_ = (n);                                                                       \
        if (zsf_n_) {                                                                              \
            kernel<<<zsf_blocks(zsf_n_), ZSF_BLOCK, 0, (stream)>>>(__VA_ARGS__);                   \
            CUDA_CHECK_LAUNCH();                                                                   \
        }                                                                                          \
    } while (0)

/* Row kernels give each row to one warp of a ZSF_BLOCK-thread block: lane-strided left folds, then
 * warp_sum / warp_max, a fixed butterfly whose partners combine the same two values (commutative),
 * so every lane ends with the same bits and runs are bit-identical. */
#define ZSF_WARPS_PER_BLOCK (ZSF_BLOCK / 32)

__device__ static inline float warp_sum(float x)
{
    for (int m = 16; m > 0; m >>= 1)
        x = x + __shfl_xor_sync(0xffffffffu, x, m);
    return x;
}

__device__ static inline float warp_max(float x)
{
    for (int m = 16; m > 0; m >>= 1) {
        float y = __shfl_xor_sync(0xffffffffu, x, m);
        x = y > x ? y : x;
    }
    return x;
}

/* Launches kernel with one warp per row over `rows` rows and checks the launch. */
#define ZSF_LAUNCH_ROWS(kernel, rows, stream, ...)                                                 \
    do {                                                                                           \
        size_t zsf_rows_ = (rows);                                                                 \
        if (zsf_rows_) {                                                                           \
            kernel<<<(unsigned)((zsf_rows_ + ZSF_WARPS_PER_BLOCK - 1) / ZSF_WARPS_PER_BLOCK), ZSF_BLOCK, 0, \
                     (stream)>>>(__VA_ARGS__);                                                     \
            CUDA_CHECK_LAUNCH();                                                                   \
        }                                                                                          \
    } while (0)

/* The row of the calling warp in a ZSF_LAUNCH_ROWS launch. */
__device__ static inline size_t zsf_warp_row(void)
{
    return (size_t)blockIdx.x * ZSF_WARPS_PER_BLOCK + threadIdx.x / 32;
}

/* Global thread index for 1-D launches. */
__device__ static inline size_t zsf_tid(void)
{
    return (size_t)blockIdx.x * blockDim.x + threadIdx.x;
}

/* x = fl_M(x) in place: a rounding point of docs/spec/model.md (nothing in fp32). */
__global__ static void round_kernel(float *x, size_t n, zsf_dtype dt)
{
    size_t i = zsf_tid();
    if (i < n)
        x[i] = zsf_round(dt, x[i]);
}

static inline void round_inplace(float *x, size_t n, zsf_dtype dt, cudaStream_t s)
{
    if (dt != ZSF_FP32)
        ZSF_LAUNCH(round_kernel, n, s, x, n, dt);
}

/* ---- storage types (llm.c's floatX) --------------------------------------------------------------
 * The kernel families are templates over how an activation is stored: float (fp32 runs), __half (fp16)
 * or __nv_bfloat16 (bf16). A 16-bit store is the spec's fl_M: rounding.h's conversions, which keep NaN
 * payloads (CUDA's intrinsics differ on NaNs); the 16-bit types only carry the bits. Arithmetic stays
 * fp32: ld widens a value for arithmetic, widen one to be stored as it is, st rounds once, and
 * rnd = ld(st(x)) is fl_M(x) kept in a float. For float all four are the identity, so the fp32
 * instantiations compute exactly what the fp32 code did. */
template <class T> struct zsf_st;
template <> struct zsf_st<float> {
    static constexpr zsf_dtype dt = ZSF_FP32;
    static constexpr cudaDataType_t cuda = CUDA_R_32F;
    __device__ static float load(float x) { return x; }
    __device__ static float widen(float x) { return x; }
    __device__ static float store(float x) { return x; }
};
/* The 16-bit conversions are the hardware's (cvt.rn: round to nearest even, overflow to Inf, subnormals
 * kept) for every input but NaN. The store takes rounding.h's path for a NaN to keep its payload (the
 * hardware's NaNs are canonical). Of the loads, `widen` keeps a NaN's payload the same way, for a
 * value stored without arithmetic (a cast, a gather); `load` is the plain hardware widening, for the
 * values that feed fp32 arithmetic: the GPU's arithmetic returns the canonical NaN whatever its NaN
 * operand's payload, so no result's bits depend on it. zs-fast-bench's ops phase checks all three on
 * the device before it times anything: st and widen against rounding.h for all 2^32 floats and all
 * 2^16 16-bit patterns, load on every non-NaN pattern, and the arithmetic's NaNs (nan_arith_noncanonical,
 * performance-notes.md runs 8 and 11). The payload test in every load cost fp16 kernels registers: the
 * softmax backward took 107 with it, bf16's 80 (run 10). */
template <> struct zsf_st<__half> {
    static constexpr zsf_dtype dt = ZSF_FP16;
    static constexpr cudaDataType_t cuda = CUDA_R_16F;
    __device__ static float load(__half x) { return __half2float(x); }
    __device__ static float widen(__half x)
    {
        unsigned short b = __half_as_ushort(x);
        return (b & 0x7FFFu) > 0x7C00u ? zsf_f16_to_f32(b) : __half2float(x);
    }
    __device__ static __half store(float x) { return x != x ? __ushort_as_half(zsf_f32_to_f16(x)) : __float2half_rn(x); }
};
template <> struct zsf_st<__nv_bfloat16> {
    static constexpr zsf_dtype dt = ZSF_BF16;
    static constexpr cudaDataType_t cuda = CUDA_R_16BF;
    __device__ static float load(__nv_bfloat16 x) { return zsf_bf16_to_f32(__bfloat16_as_ushort(x)); }
    __device__ static float widen(__nv_bfloat16 x) { return load(x); }   /* a shift: the payload is kept */
    __device__ static __nv_bfloat16 store(float x)
    {
        return x != x ? __ushort_as_bfloat16(zsf_f32_to_bf16(x)) : __float2bfloat16_rn(x);
    }
};

template <class T> __device__ static inline float ld(T x) { return zsf_st<T>::load(x); }
template <class T> __device__ static inline float widen(T x) { return zsf_st<T>::widen(x); }
template <class T> __device__ static inline T st(float x) { return zsf_st<T>::store(x); }
template <class T> __device__ static inline float rnd(float x) { return ld(st<T>(x)); }

template <class T> constexpr bool zsf_is_f32 = std::is_same<T, float>::value;

/* ---- 16-byte vectors ----------------------------------------------------------------------------
 * Memory-bound kernels move 16 bytes per load or store (8 fp16/bf16 values, 4 fp32): with one 2-byte
 * element per thread too few bytes are in flight to fill DRAM's pipe (GELU and the residual add
 * reached 1.1-1.6 TB/s of ~3.0 on an H100, performance-notes.md run 9). Each value still takes the
 * same arithmetic, so a vectorized element-wise kernel writes the same bits as the scalar one. */
template <class T> constexpr int zsf_vec_n = 16 / (int)sizeof(T);
template <class T> struct __align__(16) zsf_vec {
    T v[zsf_vec_n<T>];
};

/* 1 when every pointer given is 16-byte aligned (NULL counts as aligned: an absent operand). */
template <class... P> static inline int zsf_aligned16(const P *...p)
{
    return ((((uintptr_t)p & 15u) == 0) && ...);
}

/* Elements [i0, i0 + N) of p: one 16-byte load when `vec` (p 16-byte aligned) and all N exist, else
 * element by element, T() past n. */
template <class T> __device__ static inline zsf_vec<T> vload(const T *p, size_t i0, size_t n, int vec)
{
    zsf_vec<T> r;
    if (vec && i0 + zsf_vec_n<T> <= n)
        return *(const zsf_vec<T> *)(p + i0);
#pragma unroll
    for (int j = 0; j < zsf_vec_n<T>; j++)
        r.v[j] = i0 + j < n ? p[i0 + j] : T();
    return r;
}

/* Stores r to elements [i0, i0 + N) of p that are < n (as vload). */
template <class T> __device__ static inline void vstore(T *p, size_t i0, size_t n, int vec, const zsf_vec<T> &r)
{
    if (vec && i0 + zsf_vec_n<T> <= n) {
        *(zsf_vec<T> *)(p + i0) = r;
        return;
    }
#pragma unroll
    for (int j = 0; j < zsf_vec_n<T>; j++)
        if (i0 + j < n)
            p[i0 + j] = r.v[j];
}

/* Launches kernel with one thread per N = zsf_vec_n<T> elements of n (nothing when n == 0). */
#define ZSF_LAUNCH_VEC(kernel, T, n, stream, ...)                                                  \
    ZSF_LAUNCH(kernel, ((n) + zsf_vec_n<T> - 1) / zsf_vec_n<T>, stream, __VA_ARGS__)

/* f(T()) with T the storage type of dt: the one place a run's dtype picks a template instantiation. */
template <class F> static inline void zsf_dispatch(zsf_dtype dt, F f)
{
    if (dt == ZSF_FP16)
        f(__half());
    else if (dt == ZSF_BF16)
        f(__nv_bfloat16());
    else
        f(0.0f);
}

/* Where a GEMM of a T-stored result writes its fp32 output when a kernel finishes that result (a bias
 * added before the rounding): the result itself when T is float (the fp32 code path), else fp32 scratch. */
template <class T> static inline float *f32_view(T *buf, float *scratch)
{
    if constexpr (zsf_is_f32<T>)
        return buf;
    else
        return scratch;
}

/* out[i] = ((part[0][i] + part[1][i]) + ...) over `chunks` rows of n: level 2 of the deterministic
 * two-level column sums (bias and LayerNorm parameter gradients), one thread per column. */
__global__ static void fold_chunks_kernel(float *out, const float *part, int n, int chunks)
{
    size_t i = zsf_tid();
    if (i >= (size_t)n)
        return;
    float acc = 0.0f;
    for (int c = 0; c < chunks; c++)
        acc = acc + part[(size_t)c * n + i];
    out[i] = acc;
}

#endif
