/* The causal attention's GEMMs over row blocks: only the tiles on or below the diagonal.
 *
 * The queries t are cut into n blocks [r0, r1) of `size` rows (the last may be shorter). Query block r
 * needs keys t2 < r1 only, so the scores, att @ v, datt and dq of block r are GEMMs over a prefix
 * of length r1; key block c receives dv and dk from queries t >= c0 only, a suffix of length T - c0.
 * With n = 8 the products cover (n + 1) / 2n = 56% of the full T x T tiles, and the [T,T] matrices
 * they write or read shrink alike (docs/results/performance-notes.md, run 8). The terms left out are
 * the 0 * x products above the diagonal that full tiles add: nothing changes unless x is Inf or NaN,
 * which attention.cuh's exact kernels handle in either layout.
 *
 * Each block is one cublasGemmBatchedEx over the B*NH heads (a head's operands are not one stride
 * apart in b and h together, so strided batching would need a call per batch row and block). The
 * pointer tables live in device memory given by the caller (attention_ptr_slots entries) and are
 * written by one kernel per pass, ordered on the stream before the GEMMs that read them. cuBLAS cannot
 * see the pointers' alignment in a table, so blocks are used only where every pointer is a multiple of
 * 16 bytes (T and hs multiples of 8, block starts multiples of 8): otherwise attention_blocks returns
 * n = 0 and attention.cuh runs full tiles, as before. */
#ifndef ZS_FAST_KERNELS_ATTENTION_BLOCKS_CUH
#define ZS_FAST_KERNELS_ATTENTION_BLOCKS_CUH

#include <algorithm>

#include <cublas_v2.h>

#include "common.cuh"

#define ATT_MAX_BLOCKS 8   /* blocks per sequence: 8 of 128 rows at T = 1024 */
#define ATT_MAX_GEMMS 4    /* GEMMs per pass (the backward's datt, dv, dq, dk) */

struct attn_blocks {
    int n, size;   /* n = 0: full T x T tiles */
};

/* The row blocks of a sequence of T positions with head size hs. */
static inline attn_blocks attention_blocks(int T, int hs)
{
    attn_blocks none = {0, T};
    if (T % 8 || hs % 8)
        return none;
    int size = ((T + ATT_MAX_BLOCKS - 1) / ATT_MAX_BLOCKS + 7) / 8 * 8;
    int n = (T + size - 1) / size;
    return n >= 2 ? attn_blocks{n, size} : none;
}

/* Pointer-table entries attention_forward / attention_backward need for B*NH heads. */
static inline size_t attention_ptr_slots(int B, int NH)
{
    return (size_t)ATT_MAX_GEMMS * 3 * ATT_MAX_BLOCKS * B * NH;
}

/* Which length a GEMM dimension has in block [r0, r1): the head size, the block's width r1 - r0,
 * the prefix r1 (keys of a query block) or the suffix T - r0 (queries of a key block). */
enum attn_extent { ATT_HS, ATT_WIDTH, ATT_PREFIX, ATT_SUFFIX };

/* Operand (b, h) of block r starts at p + b*per_b + h*per_h + r0*per_r0 (bytes). */
struct attn_blk_operand {
    const char *p;
    size_t per_b, per_h, per_r0;
};

/* An attention operand as attention.cuh describes it (element strides), with its start per block row. */
template <class X> static attn_blk_operand attn_blk_op(const X *p, size_t per_b, size_t per_h, size_t per_r0)
{
    return {(const char *)p, per_b * sizeof(X), per_h * sizeof(X), per_r0 * sizeof(X)};
}

/* One GEMM of a pass: C = alpha * op(A) @ op(B), per block and head. */
struct attn_blk_gemm {
    cublasOperation_t ta, tb;
    attn_extent m, n, k;
    attn_blk_operand op[3];   /* A, B, C */
    int ld[3];
    cudaDataType type;   /* of A, B and C: the activations' storage type */
    float alpha;
};

struct attn_blk_tables {
    attn_blk_operand op[ATT_MAX_GEMMS][3];
};

/* ptrs[((g*3 + o)*n + r)*B*NH + b*NH + h]: operand o of GEMM g for block r and head (b, h). */
__global__ static void attention_fill_ptrs_kernel(const void **ptrs, attn_blk_tables t, int ngemm, int n, int size,
                                                  int B, int NH)
{
    size_t bnh = (size_t)B * NH, total = (size_t)ngemm * 3 * n * bnh;
    for (size_t i = zsf_tid(); i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t bh = i % bnh;
        int r = (int)((i / bnh) % n), o = (int)((i / (bnh * n)) % 3), g = (int)(i / (bnh * n * 3));
        const attn_blk_operand &x = t.op[g][o];
        ptrs[i] = x.p + (bh / NH) * x.per_b + (bh % NH) * x.per_h + (size_t)r * size * x.per_r0;
    }
}

static inline int attn_extent_of(attn_extent e, int hs, int T, int r0, int r1)
{
    switch (e) {
    case ATT_HS:
        return hs;
    case ATT_WIDTH:
        return r1 - r0;
    case ATT_PREFIX:
        return r1;
    default:
        return T - r0;
    }
}

/* Writes the pointer tables of the ngemm GEMMs g[] of a pass (ptrs: attention_ptr_slots(B, NH)
 * entries of device memory), ordered on stream s before the GEMMs that read them. */
static void attention_blocks_prepare(const attn_blk_gemm *g, int ngemm, attn_blocks blk, const void **ptrs, int B,
                                     int NH, cudaStream_t s)
{
    attn_blk_tables t;
    for (int i = 0; i < ngemm; i++)
        for (int o = 0; o < 3; o++)
            t.op[i][o] = g[i].op[o];
    const size_t total = (size_t)ngemm * 3 * blk.n * B * NH;
    attention_fill_ptrs_kernel<<<std::min(zsf_blocks(total), 1024u), ZSF_BLOCK, 0, s>>>(ptrs, t, ngemm, blk.n,
                                                                                      blk.size, B, NH);
    CUDA_CHECK_LAUNCH();
}

/* GEMM i of the prepared pass (g[i] as given to attention_blocks_prepare), over every block: one
 * batched call per block over the B*NH heads. */
static void attention_blocks_run(cublasHandle_t hdl, const attn_blk_gemm &g, int i, attn_blocks blk,
                                 const void **ptrs, int B, int T, int NH, int hs)
{
    const int bnh = B * NH;
    const size_t op_stride = (size_t)blk.n * bnh;   /* from operand A's table to B's, B's to C's */
    const float zero = 0.0f;
    for (int r = 0; r < blk.n; r++) {
        int r0 = r * blk.size, r1 = std::min(T, r0 + blk.size);
        const void *const *tab = ptrs + (size_t)i * 3 * op_stride + (size_t)r * bnh;
        CUBLAS_CHECK(cublasGemmBatchedEx(hdl, g.ta, g.tb, attn_extent_of(g.m, hs, T, r0, r1),
                                         attn_extent_of(g.n, hs, T, r0, r1), attn_extent_of(g.k, hs, T, r0, r1),
                                         &g.alpha, tab, g.type, g.ld[0], tab + op_stride, g.type, g.ld[1], &zero,
                                         (void *const *)(tab + 2 * op_stride), g.type, g.ld[2], bnh,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

#endif
