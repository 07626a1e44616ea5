/* The optimizer step on the CPU (cpu_optim.h): optim_math.h's element rules over contiguous slices,
 * one slice per OpenMP thread. */
#include "cpu_optim.h"

#include "optim_math.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Each slice loop is cloned for AVX-512 and AVX2 beside the baseline and picked at load time (GCC's
 * target_clones), so one binary uses the widest vectors the machine has. The lanes round as the
 * scalar code: IEEE division and square root, no contraction (-ffp-contract=off), no fast-math. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ZSF_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ZSF_VECTOR_CLONES
#endif

/* One rule's loop over a slice. The scalars are copied to a local and the arrays are restrict, so the
 * compiler knows no store changes them and vectorizes the loop (invariant branches unswitched). */
#define ZSF_SLICE_1(fn, elem)                                                                                \
    ZSF_VECTOR_CLONES static void fn(const zsf_optim_scalars *sc, float inv, float *restrict p,              \
                                     const float *restrict g, float *restrict s0, float *restrict s1, size_t n) \
    {                                                                                                        \
        const zsf_optim_scalars c = *sc;                                                                     \
        (void)s1;                                                                                            \
        for (size_t i = 0; i < n; i++)                                                                       \
            elem(&c, &p[i], g[i] * inv, &s0[i]);                                                             \
    }
#define ZSF_SLICE_2(fn, elem)                                                                                \
    ZSF_VECTOR_CLONES static void fn(const zsf_optim_scalars *sc, float inv, float *restrict p,              \
                                     const float *restrict g, float *restrict s0, float *restrict s1, size_t n) \
    {                                                                                                        \
        const zsf_optim_scalars c = *sc;                                                                     \
        for (size_t i = 0; i < n; i++)                                                                       \
            elem(&c, &p[i], g[i] * inv, &s0[i], &s1[i]);                                                     \
    }

ZSF_SLICE_2(fused_adam_slice, zsf_fused_adam_elem)
ZSF_SLICE_2(torch_adam_slice, zsf_torch_adam_elem)
ZSF_SLICE_1(adagrad_slice, zsf_adagrad_elem)
ZSF_SLICE_1(lion_slice, zsf_lion_elem)
ZSF_SLICE_1(sgd_slice, zsf_sgd_elem)

typedef void (*slice_fn)(const zsf_optim_scalars *, float, float *restrict, const float *restrict, float *restrict,
                         float *restrict, size_t);

static slice_fn slice_of(zsf_optim_rule r)
{
    switch (r) {
    case ZSF_FUSED_ADAM:
        return fused_adam_slice;
    case ZSF_TORCH_ADAM:
        return torch_adam_slice;
    case ZSF_TORCH_ADAGRAD:
        return adagrad_slice;
    case ZSF_FUSED_LION:
        return lion_slice;
    case ZSF_TORCH_SGD:
        return sgd_slice;
    default:   /* FusedLamb: one trust ratio per call, a block reduction (optim.cu) */
        return NULL;
    }
}

int zsf_cpu_optim_supported(zsf_optim_rule r)
{
    return slice_of(r) != NULL;
}

int zsf_cpu_optim_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

ZSF_VECTOR_CLONES static void cast_slice(float *restrict out, const float *restrict in, size_t n, zsf_dtype dt)
{
    for (size_t i = 0; i < n; i++)
        out[i] = zsf_round(dt, in[i]);
}

/* Slices start on 64-byte boundaries (16 floats), so no two threads write one cache line. */
#define SLICE_ALIGN 16
/* Fewer elements than this per thread are not worth waking a thread for. */
#define MIN_PER_THREAD 8192

int zsf_cpu_optim_step(const zsf_optim_scalars *sc, float inv, float *param, const float *grad,
                       float *const *state, size_t n, float *model, zsf_dtype dt, int threads)
{
    const slice_fn fn = slice_of(sc->rule);
    if (!fn)
        return -1;
    if (n == 0)
        return 0;
    int T = threads > 0 ? threads : zsf_cpu_optim_max_threads();
    if ((size_t)T > n / MIN_PER_THREAD + 1)
        T = (int)(n / MIN_PER_THREAD + 1);
    float *s0 = state[0], *s1 = zsf_optim_n_state(sc->rule) > 1 ? state[1] : NULL;
#ifdef _OPENMP
#pragma omp parallel for num_threads(T) schedule(static, 1)
#endif
    for (int k = 0; k < T; k++) {
        const size_t lo = k == 0 ? 0 : n * (size_t)k / (size_t)T / SLICE_ALIGN * SLICE_ALIGN;
        const size_t hi = k == T - 1 ? n : n * (size_t)(k + 1) / (size_t)T / SLICE_ALIGN * SLICE_ALIGN;
        if (hi <= lo)
            continue;
        fn(sc, inv, param + lo, grad + lo, s0 + lo, s1 ? s1 + lo : NULL, hi - lo);
        if (model)
            cast_slice(model + lo, param + lo, hi - lo, dt);
    }
    return 0;
}
