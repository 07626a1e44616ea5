/* fast/cpu_optim.c: the offloaded optimizer step (vectorized, multithreaded) equals optim_math.h's
 * scalar rule bit for bit — the rule the CUDA kernels run — for every element-wise optimizer, on
 * random inputs with edge values, for any thread count, any split into chunks (the offload pipeline
 * steps the partition chunk by chunk) and misaligned slices; the fused cast is the model-dtype
 * rounding; FusedLamb is refused untouched. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_optim.h"
#include "optim_math.h"

/* param, grad, state0, state1, model */
typedef struct bufs {
    float *p, *g, *s0, *s1, *model;
} bufs;

static uint64_t rng_state;

static uint32_t next_u32(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 32);
}

/* Mostly ordinary values of the given magnitude, with zeros of both signs, huge, tiny (subnormal)
 * and mixed-sign values sprinkled in, so every branch of every rule runs in the vector lanes. */
static float random_value(float scale, int nonneg)
{
    const uint32_t r = next_u32();
    float x;
    switch (r % 64) {
    case 0:
        x = 0.0f;
        break;
    case 1:
        x = -0.0f;
        break;
    case 2:
        x = 1e30f;
        break;
    case 3:
        x = 1e-41f;
        break;
    default:
        x = scale * ((float)(next_u32() >> 8) / 16777216.0f * 2.0f - 1.0f);
    }
    return nonneg ? fabsf(x) : x;
}

static bufs make(size_t n, uint64_t seed)
{
    rng_state = seed;
    bufs b = {malloc((n + 1) * sizeof(float)), malloc((n + 1) * sizeof(float)), malloc((n + 1) * sizeof(float)),
              malloc((n + 1) * sizeof(float)), malloc((n + 1) * sizeof(float))};
    assert_non_null(b.p);
    assert_non_null(b.g);
    assert_non_null(b.s0);
    assert_non_null(b.s1);
    assert_non_null(b.model);
    for (size_t i = 0; i < n + 1; i++) {
        b.p[i] = random_value(0.1f, 0);
        b.g[i] = random_value(0.01f, 0);
        b.s0[i] = random_value(1e-3f, 0);
        b.s1[i] = random_value(1e-5f, 1);   /* exp_avg_sq, Adagrad's sum: never negative */
        b.model[i] = -1.0f;
    }
    return b;
}

static bufs copy_of(const bufs *a, size_t n)
{
    bufs b = make(n, 0);
    memcpy(b.p, a->p, (n + 1) * sizeof(float));
    memcpy(b.g, a->g, (n + 1) * sizeof(float));
    memcpy(b.s0, a->s0, (n + 1) * sizeof(float));
    memcpy(b.s1, a->s1, (n + 1) * sizeof(float));
    memcpy(b.model, a->model, (n + 1) * sizeof(float));
    return b;
}

static void drop(bufs *b)
{
    free(b->p);
    free(b->g);
    free(b->s0);
    free(b->s1);
    free(b->model);
}

/* The oracle: optim_math.h's scalar rule, element by element, as optim.cu's kernels apply it. */
static void scalar_rule(const zsf_optim_scalars *c, float inv, bufs *b, size_t off, size_t n)
{
    for (size_t i = off; i < off + n; i++) {
        const float g = b->g[i] * inv;
        switch (c->rule) {
        case ZSF_FUSED_ADAM:
            zsf_fused_adam_elem(c, &b->p[i], g, &b->s0[i], &b->s1[i]);
            break;
        case ZSF_TORCH_ADAM:
            zsf_torch_adam_elem(c, &b->p[i], g, &b->s0[i], &b->s1[i]);
            break;
        case ZSF_TORCH_ADAGRAD:
            zsf_adagrad_elem(c, &b->p[i], g, &b->s0[i]);
            break;
        case ZSF_FUSED_LION:
            zsf_lion_elem(c, &b->p[i], g, &b->s0[i]);
            break;
        case ZSF_TORCH_SGD:
            zsf_sgd_elem(c, &b->p[i], g, &b->s0[i]);
            break;
        default:
            fail_msg("no scalar rule for %d", (int)c->rule);
        }
    }
}

static int step(const zsf_optim_scalars *c, float inv, bufs *b, size_t off, size_t n, zsf_dtype dt, int threads)
{
    float *state[ZSF_OPTIM_N_STATE] = {b->s0 + off, b->s1 + off};
    return zsf_cpu_optim_step(c, inv, b->p + off, b->g + off, state, n, b->model + off, dt, threads);
}

/* Bitwise equality of every array, naming the first difference. */
static void assert_same_bits(const bufs *want, const bufs *got, size_t n, const char *what)
{
    const float *w[] = {want->p, want->g, want->s0, want->s1, want->model};
    const float *g[] = {got->p, got->g, got->s0, got->s1, got->model};
    static const char *names[] = {"param", "grad", "state0", "state1", "model"};
    for (int k = 0; k < 5; k++)
        for (size_t i = 0; i < n + 1; i++)
            if (memcmp(&w[k][i], &g[k][i], sizeof(float)))
                fail_msg("%s: %s[%zu]: want %a, got %a", what, names[k], i, (double)w[k][i], (double)g[k][i]);
}

/* Every element-wise rule in its variants: (rule, type, adam_w_mode, weight decay, momentum, nesterov,
 * step t). */
typedef struct variant {
    zsf_optim_rule rule;
    int adam_w_mode;
    double wd, momentum;
    int nesterov;
    int64_t t;
} variant;

static const variant variants[] = {
    {ZSF_FUSED_ADAM, 1, 0.01, 0, 0, 3},  {ZSF_FUSED_ADAM, 0, 0.01, 0, 0, 1},  {ZSF_TORCH_ADAM, 1, 0.01, 0, 0, 2},
    {ZSF_TORCH_ADAM, 0, 0.1, 0, 0, 5},   {ZSF_TORCH_ADAM, 1, 0.0, 0, 0, 1},   {ZSF_TORCH_ADAGRAD, 0, 0.01, 0, 0, 1},
    {ZSF_TORCH_ADAGRAD, 0, 0.0, 0, 0, 4}, {ZSF_FUSED_LION, 0, 0.01, 0, 0, 2}, {ZSF_TORCH_SGD, 0, 0.01, 0.9, 1, 1},
    {ZSF_TORCH_SGD, 0, 0.0, 0.9, 0, 3},  {ZSF_TORCH_SGD, 0, 0.01, 0.0, 0, 2},
};

static zsf_optim_scalars scalars_of(const variant *v)
{
    zs_optimizer_config hp;
    memset(&hp, 0, sizeof hp);
    hp.lr = 1e-2;
    hp.betas[0] = 0.9;
    hp.betas[1] = 0.999;
    hp.eps = 1e-8;
    hp.weight_decay = v->wd;
    hp.bias_correction = 1;
    hp.adam_w_mode = v->adam_w_mode;
    hp.momentum = v->momentum;
    hp.nesterov = v->nesterov;
    hp.dampening = 0.1;
    hp.lr_decay = 0.01;
    hp.initial_accumulator_value = 0.1;
    hp.max_coeff = 10.0;
    hp.min_coeff = 0.01;
    zsf_optim_scalars c;
    zsf_optim_scalars_for(v->rule, &hp, v->t, 7e-3, 0.9, 0.999, &c);
    return c;
}

static const size_t sizes[] = {1, 15, 16, 17, 33, 8191, 8193, 100003};

static void test_equals_scalar_rule_for_every_thread_count(void **unused)
{
    (void)unused;
    const int max_threads = zsf_cpu_optim_max_threads() > 8 ? zsf_cpu_optim_max_threads() : 8;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const zsf_optim_scalars c = scalars_of(&variants[v]);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const size_t n = sizes[s];
            bufs want = make(n, 1000 + 17 * v + s);
            scalar_rule(&c, 0.75f, &want, 0, n);
            memcpy(want.model, want.p, n * sizeof(float));   /* fp32: the cast is the value */
            for (int threads = 0; threads <= max_threads; threads += threads < 4 ? 1 : 3) {
                bufs got = make(n, 1000 + 17 * v + s);
                assert_int_equal(step(&c, 0.75f, &got, 0, n, ZSF_FP32, threads), 0);
                char what[96];
                snprintf(what, sizeof what, "%s variant %zu, n %zu, %d threads", zsf_optim_rule_name(c.rule), v, n,
                         threads);
                assert_same_bits(&want, &got, n, what);
                drop(&got);
            }
            drop(&want);
        }
    }
}

/* The offload pipeline steps chunk by chunk: any split, and slices that start off any alignment. */
static void test_chunk_boundaries_and_misaligned_slices(void **unused)
{
    (void)unused;
    const size_t n = 70001;
    const size_t cuts[] = {1, 16, 17, 4096, 65536, 69999};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const zsf_optim_scalars c = scalars_of(&variants[v]);
        bufs want = make(n, 77 + v);
        scalar_rule(&c, 0.5f, &want, 0, n);
        memcpy(want.model, want.p, n * sizeof(float));
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            bufs got = copy_of(&want, n);
            bufs fresh = make(n, 77 + v);
            memcpy(got.p, fresh.p, (n + 1) * sizeof(float));
            memcpy(got.s0, fresh.s0, (n + 1) * sizeof(float));
            memcpy(got.s1, fresh.s1, (n + 1) * sizeof(float));
            memcpy(got.model, fresh.model, (n + 1) * sizeof(float));
            drop(&fresh);
            assert_int_equal(step(&c, 0.5f, &got, 0, cuts[k], ZSF_FP32, 3), 0);
            assert_int_equal(step(&c, 0.5f, &got, cuts[k], n - cuts[k], ZSF_FP32, 5), 0);
            assert_same_bits(&want, &got, n, "two chunks");
            drop(&got);
        }
        /* a slice starting one element in: the vector loop's peel and tail both run */
        bufs off1 = make(n, 77 + v), ref = make(n, 77 + v);
        scalar_rule(&c, 0.5f, &ref, 1, n - 2);
        memcpy(ref.model + 1, ref.p + 1, (n - 2) * sizeof(float));
        assert_int_equal(step(&c, 0.5f, &off1, 1, n - 2, ZSF_FP32, 2), 0);
        assert_same_bits(&ref, &off1, n, "misaligned slice");
        drop(&off1);
        drop(&ref);
        drop(&want);
    }
}

/* The fused cast: the updated master rounded to fp16/bf16 (rounding.h), the master itself fp32. */
static void test_cast_to_model_dtype(void **unused)
{
    (void)unused;
    const size_t n = 20011;
    const zsf_dtype dts[] = {ZSF_FP16, ZSF_BF16};
    const zsf_optim_scalars c = scalars_of(&variants[0]);
    for (size_t d = 0; d < 2; d++) {
        bufs want = make(n, 5), got = make(n, 5);
        scalar_rule(&c, 1.0f, &want, 0, n);
        for (size_t i = 0; i < n; i++)
            want.model[i] = zsf_round(dts[d], want.p[i]);
        assert_int_equal(step(&c, 1.0f, &got, 0, n, dts[d], 4), 0);
        assert_same_bits(&want, &got, n, dts[d] == ZSF_FP16 ? "fp16 cast" : "bf16 cast");
        drop(&want);
        drop(&got);
    }
    /* no model buffer: only the master and the state change */
    bufs want = make(n, 6), got = make(n, 6);
    scalar_rule(&c, 1.0f, &want, 0, n);
    float *state[ZSF_OPTIM_N_STATE] = {got.s0, got.s1};
    assert_int_equal(zsf_cpu_optim_step(&c, 1.0f, got.p, got.g, state, n, NULL, ZSF_FP32, 2), 0);
    assert_same_bits(&want, &got, n, "no cast");
    drop(&want);
    drop(&got);
}

static void test_lamb_refused_untouched(void **unused)
{
    (void)unused;
    assert_false(zsf_cpu_optim_supported(ZSF_FUSED_LAMB));
    assert_true(zsf_cpu_optim_supported(ZSF_FUSED_ADAM));
    assert_true(zsf_cpu_optim_supported(ZSF_TORCH_SGD));
    variant lamb = {ZSF_FUSED_LAMB, 1, 0.01, 0, 0, 1};
    const zsf_optim_scalars c = scalars_of(&lamb);
    const size_t n = 100;
    bufs want = make(n, 9), got = make(n, 9);
    assert_int_equal(step(&c, 1.0f, &got, 0, n, ZSF_FP32, 2), -1);
    assert_same_bits(&want, &got, n, "Lamb");
    /* an empty partition (a rank whose share is all padding) is a no-op */
    const zsf_optim_scalars adam = scalars_of(&variants[0]);
    assert_int_equal(step(&adam, 1.0f, &got, 0, 0, ZSF_FP32, 2), 0);
    assert_same_bits(&want, &got, n, "empty");
    assert_true(zsf_cpu_optim_max_threads() >= 1);
    drop(&want);
    drop(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_scalar_rule_for_every_thread_count),
        cmocka_unit_test(test_chunk_boundaries_and_misaligned_slices),
        cmocka_unit_test(test_cast_to_model_dtype),
        cmocka_unit_test(test_lamb_refused_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
