/* Every layer's backward pass against central finite differences, in double precision: the _f64
 * build of reference/layers.c (the same source as the float reference). The objective is
 * J = sum_i w_i * out_i with fixed pseudo-random weights w, so d J / d out = w is fed to the backward
 * pass and every input element's analytic gradient is compared with (J(x+h) - J(x-h)) / 2h.
 * In double, h = 1e-6 leaves truncation error ~h^2 and rounding error ~1e-16/h = 1e-10, so a relative
 * tolerance of 1e-6 (plus 1e-9 absolute) is loose for correct code and tight for any real bug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

#define REL_TOL 1e-6
#define ABS_TOL 1e-9
#define FD_STEP 1e-6

/* Deterministic test values in [-1, 1) (a 64-bit LCG; independent of the spec RNG on purpose). */
static void fill(double *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (double)(s >> 11) * 0x1p-52 - 1.0;
    }
}

/* Test buffers: every vec() of a test is freed by its teardown (free_vecs). */
static double *allocated[32];
static int n_allocated;

static double *vec(size_t n, uint64_t seed)
{
    double *x = calloc(n, sizeof(double));
    fill(x, n, seed);
    assert_true(n_allocated < 32);
    allocated[n_allocated++] = x;
    return x;
}

static int free_vecs(void **state)
{
    (void)state;
    while (n_allocated > 0)
        free(allocated[--n_allocated]);
    return 0;
}

/* A layer under test: `forward` computes J from the current inputs; `backward` adds dJ/dinput into
 * the gradient buffers. Inputs and gradients are listed so the harness can perturb each element. */
typedef struct layer_case {
    double (*forward)(void *ctx);
    void (*backward)(void *ctx);
    void *ctx;
    int n_inputs;
    double *inputs[4];
    double *grads[4];
    size_t sizes[4];
    const char *names[4];
} layer_case;

static void check_gradients(const layer_case *lc)
{
    for (int k = 0; k < lc->n_inputs; k++)
        memset(lc->grads[k], 0, lc->sizes[k] * sizeof(double));
    lc->forward(lc->ctx);
    lc->backward(lc->ctx);
    for (int k = 0; k < lc->n_inputs; k++) {
        for (size_t i = 0; i < lc->sizes[k]; i++) {
            double keep = lc->inputs[k][i];
            double h = FD_STEP * (fabs(keep) > 1 ? fabs(keep) : 1);
            lc->inputs[k][i] = keep + h;
            double jp = lc->forward(lc->ctx);
            lc->inputs[k][i] = keep - h;
            double jm = lc->forward(lc->ctx);
            lc->inputs[k][i] = keep;
            double numeric = (jp - jm) / (2 * h), analytic = lc->grads[k][i];
            double bound = ABS_TOL + REL_TOL * (fabs(numeric) + fabs(analytic));
            if (fabs(numeric - analytic) > bound)
                fail_msg("%s[%zu]: analytic %.12g, numeric %.12g", lc->names[k], i, analytic, numeric);
        }
    }
}

static double weighted_sum(const double *out, const double *w, size_t n)
{
    double j = 0;
    for (size_t i = 0; i < n; i++)
        j += w[i] * out[i];
    return j;
}

enum { B = 2, T = 5, C = 8, NH = 2, V = 7, OC = 6 };

/* ---- layernorm ---- */
typedef struct { double *x, *w, *b, *out, *mean, *rstd, *dout, *dx, *dw, *db; } ln_ctx;
static double ln_fwd(void *p)
{
    ln_ctx *c = p;
    layernorm_forward_f64(c->out, c->mean, c->rstd, c->x, c->w, c->b, B, T, C);
    return weighted_sum(c->out, c->dout, B * T * C);
}
static void ln_bwd(void *p)
{
    ln_ctx *c = p;
    layernorm_backward_f64(c->dx, c->dw, c->db, c->dout, c->x, c->w, c->mean, c->rstd, B, T, C);
}
static void layernorm_gradients(void **state)
{
    (void)state;
    ln_ctx c = {vec(B * T * C, 1), vec(C, 2), vec(C, 3), vec(B * T * C, 0), vec(B * T, 0), vec(B * T, 0),
                vec(B * T * C, 4), vec(B * T * C, 0), vec(C, 0), vec(C, 0)};
    layer_case lc = {ln_fwd, ln_bwd, &c, 3, {c.x, c.w, c.b}, {c.dx, c.dw, c.db}, {B * T * C, C, C}, {"x", "w", "b"}};
    check_gradients(&lc);
}

/* ---- matmul (Conv1D layout) ---- */
typedef struct { double *x, *w, *b, *out, *dout, *dx, *dw, *db; } mm_ctx;
static double mm_fwd(void *p)
{
    mm_ctx *c = p;
    matmul_forward_f64(c->out, c->x, c->w, c->b, B * T, C, OC);
    return weighted_sum(c->out, c->dout, B * T * OC);
}
static void mm_bwd(void *p)
{
    mm_ctx *c = p;
    matmul_backward_f64(c->dx, c->dw, c->db, c->dout, c->x, c->w, B * T, C, OC);
}
static void matmul_gradients(void **state)
{
    (void)state;
    mm_ctx c = {vec(B * T * C, 5), vec(C * OC, 6), vec(OC, 7), vec(B * T * OC, 0), vec(B * T * OC, 8),
                vec(B * T * C, 0), vec(C * OC, 0), vec(OC, 0)};
    layer_case lc = {mm_fwd, mm_bwd, &c, 3, {c.x, c.w, c.b}, {c.dx, c.dw, c.db}, {B * T * C, C * OC, OC}, {"x", "w", "b"}};
    check_gradients(&lc);
}

/* ---- matmul with transposed weight (tied LM head) ---- */
static double mmt_fwd(void *p)
{
    mm_ctx *c = p;
    matmul_wt_forward_f64(c->out, c->x, c->w, B * T, C, OC);
    return weighted_sum(c->out, c->dout, B * T * OC);
}
static void mmt_bwd(void *p)
{
    mm_ctx *c = p;
    matmul_wt_backward_f64(c->dx, c->dw, c->dout, c->x, c->w, B * T, C, OC);
}
static void matmul_wt_gradients(void **state)
{
    (void)state;
    mm_ctx c = {vec(B * T * C, 9), vec(OC * C, 10), NULL, vec(B * T * OC, 0), vec(B * T * OC, 11),
                vec(B * T * C, 0), vec(OC * C, 0), NULL};
    layer_case lc = {mmt_fwd, mmt_bwd, &c, 2, {c.x, c.w}, {c.dx, c.dw}, {B * T * C, OC * C}, {"x", "w"}};
    check_gradients(&lc);
}

/* ---- attention: scores, causal softmax, values ---- */
typedef struct { double *qkv, *pre, *att, *out, *dout, *dqkv, *dpre, *datt; } at_ctx;
static double sc_fwd(void *p)
{
    at_ctx *c = p;
    attention_scores_forward_f64(c->pre, c->qkv, B, T, C, NH);
    return weighted_sum(c->pre, c->dout, B * NH * T * T);
}
static void sc_bwd(void *p)
{
    at_ctx *c = p;
    /* entries above the diagonal are not outputs of the layer: zero their weights */
    for (int r = 0; r < B * NH * T; r++)
        for (int t2 = r % T + 1; t2 < T; t2++)
            c->dout[r * T + t2] = 0;
    attention_scores_backward_f64(c->dqkv, c->dout, c->qkv, B, T, C, NH);
}
static void attention_scores_gradients(void **state)
{
    (void)state;
    at_ctx c = {vec(B * T * 3 * C, 12), vec(B * NH * T * T, 0), NULL, NULL, vec(B * NH * T * T, 13),
                vec(B * T * 3 * C, 0), NULL, NULL};
    sc_bwd(&c);   /* zero the masked weights before the first evaluation */
    layer_case lc = {sc_fwd, sc_bwd, &c, 1, {c.qkv}, {c.dqkv}, {B * T * 3 * C}, {"qkv"}};
    check_gradients(&lc);
}

static double sm_fwd(void *p)
{
    at_ctx *c = p;
    softmax_causal_forward_f64(c->att, c->pre, B, T, NH);
    return weighted_sum(c->att, c->dout, B * NH * T * T);
}
static void sm_bwd(void *p)
{
    at_ctx *c = p;
    softmax_causal_backward_f64(c->dpre, c->dout, c->att, B, T, NH);
}
static void softmax_causal_gradients(void **state)
{
    (void)state;
    at_ctx c = {NULL, vec(B * NH * T * T, 14), vec(B * NH * T * T, 0), NULL, vec(B * NH * T * T, 15),
                NULL, vec(B * NH * T * T, 0), NULL};
    layer_case lc = {sm_fwd, sm_bwd, &c, 1, {c.pre}, {c.dpre}, {B * NH * T * T}, {"preatt"}};
    check_gradients(&lc);
}

static double av_fwd(void *p)
{
    at_ctx *c = p;
    attention_values_forward_f64(c->out, c->att, c->qkv, B, T, C, NH);
    return weighted_sum(c->out, c->dout, B * T * C);
}
static void av_bwd(void *p)
{
    at_ctx *c = p;
    attention_values_backward_f64(c->datt, c->dqkv, c->dout, c->att, c->qkv, B, T, C, NH);
}
static void attention_values_gradients(void **state)
{
    (void)state;
    at_ctx c = {vec(B * T * 3 * C, 16), NULL, vec(B * NH * T * T, 17), vec(B * T * C, 0), vec(B * T * C, 18),
                vec(B * T * 3 * C, 0), NULL, vec(B * NH * T * T, 0)};
    /* only t2 <= t of att is read: the strictly-upper entries must get zero gradient */
    layer_case lc = {av_fwd, av_bwd, &c, 2, {c.att, c.qkv}, {c.datt, c.dqkv}, {B * NH * T * T, B * T * 3 * C},
                     {"att", "qkv"}};
    check_gradients(&lc);
}

/* ---- gelu, residual ---- */
typedef struct { double *x, *y, *out, *dout, *dx, *dy; } ew_ctx;
static double gelu_fwd(void *p)
{
    ew_ctx *c = p;
    gelu_forward_f64(c->out, c->x, 40);
    return weighted_sum(c->out, c->dout, 40);
}
static void gelu_bwd(void *p)
{
    ew_ctx *c = p;
    gelu_backward_f64(c->dx, c->x, c->dout, 40);
}
static void gelu_gradients(void **state)
{
    (void)state;
    ew_ctx c = {vec(40, 19), NULL, vec(40, 0), vec(40, 20), vec(40, 0), NULL};
    for (int i = 0; i < 40; i++)
        c.x[i] *= 4;   /* cover the tails of tanh */
    layer_case lc = {gelu_fwd, gelu_bwd, &c, 1, {c.x}, {c.dx}, {40}, {"x"}};
    check_gradients(&lc);
}

static double res_fwd(void *p)
{
    ew_ctx *c = p;
    residual_forward_f64(c->out, c->x, c->y, 30);
    return weighted_sum(c->out, c->dout, 30);
}
static void res_bwd(void *p)
{
    ew_ctx *c = p;
    residual_backward_f64(c->dx, c->dy, c->dout, 30);
}
static void residual_gradients(void **state)
{
    (void)state;
    ew_ctx c = {vec(30, 21), vec(30, 22), vec(30, 0), vec(30, 23), vec(30, 0), vec(30, 0)};
    layer_case lc = {res_fwd, res_bwd, &c, 2, {c.x, c.y}, {c.dx, c.dy}, {30, 30}, {"a", "b"}};
    check_gradients(&lc);
}

/* ---- encoder (gradients w.r.t. the tables) ---- */
typedef struct { double *wte, *wpe, *out, *dout, *dwte, *dwpe; int inp[B * T]; } enc_ctx;
static double enc_fwd(void *p)
{
    enc_ctx *c = p;
    encoder_forward_f64(c->out, c->inp, c->wte, c->wpe, B, T, C);
    return weighted_sum(c->out, c->dout, B * T * C);
}
static void enc_bwd(void *p)
{
    enc_ctx *c = p;
    encoder_backward_f64(c->dwte, c->dwpe, c->dout, c->inp, B, T, C);
}
static void encoder_gradients(void **state)
{
    (void)state;
    enc_ctx c = {vec(V * C, 24), vec(T * C, 25), vec(B * T * C, 0), vec(B * T * C, 26), vec(V * C, 0), vec(T * C, 0), {0}};
    for (int i = 0; i < B * T; i++)
        c.inp[i] = (i * 3) % V;   /* repeated tokens: contributions must add up */
    layer_case lc = {enc_fwd, enc_bwd, &c, 2, {c.wte, c.wpe}, {c.dwte, c.dwpe}, {V * C, T * C}, {"wte", "wpe"}};
    check_gradients(&lc);
}

/* ---- softmax cross-entropy: J = scale * sum of per-position losses ---- */
typedef struct { double *logits, *probs, *losses, *dlogits; int targets[B * T]; } ce_ctx;
static const double CE_SCALE = 0.37;
static double ce_fwd(void *p)
{
    ce_ctx *c = p;
    crossentropy_forward_f64(c->losses, c->probs, c->logits, c->targets, B * T, V);
    double j = 0;
    for (int i = 0; i < B * T; i++)
        j += CE_SCALE * c->losses[i];
    return j;
}
static void ce_bwd(void *p)
{
    ce_ctx *c = p;
    crossentropy_backward_f64(c->dlogits, c->probs, c->targets, CE_SCALE, B * T, V);
}
static void crossentropy_gradients(void **state)
{
    (void)state;
    ce_ctx c = {vec(B * T * V, 27), vec(B * T * V, 0), vec(B * T, 0), vec(B * T * V, 0), {0}};
    for (int i = 0; i < B * T; i++)
        c.targets[i] = (i * 5 + 1) % V;
    layer_case lc = {ce_fwd, ce_bwd, &c, 1, {c.logits}, {c.dlogits}, {B * T * V}, {"logits"}};
    check_gradients(&lc);
}

/* ---- known answers (float variants, as the reference uses them) ---- */
static void known_answers(void **state)
{
    (void)state;
    /* layernorm of [1, 2, 3]: mean 2, var 2/3 -> [-1.2247, 0, 1.2247] (eps 1e-5 barely matters) */
    float x[3] = {1, 2, 3}, w[3] = {1, 1, 1}, b[3] = {0, 0, 0}, out[3], mean, rstd;
    layernorm_forward_f32(out, &mean, &rstd, x, w, b, 1, 1, 3);
    assert_float_equal(out[0], -1.2247357f, 1e-6);
    assert_float_equal(out[1], 0.0f, 1e-7);
    assert_float_equal(mean, 2.0f, 0);
    /* gelu_new: gelu(0) = 0, gelu(1) = 0.8411920, gelu(-1) = -0.1588080 */
    float g_in[3] = {0, 1, -1}, g_out[3];
    gelu_forward_f32(g_out, g_in, 3);
    assert_float_equal(g_out[0], 0.0f, 0);
    assert_float_equal(g_out[1], 0.8411920f, 1e-6);
    assert_float_equal(g_out[2], -0.1588080f, 1e-6);
    /* uniform logits: loss = log V */
    float logits[7] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, probs[7], loss;
    int target = 3;
    crossentropy_forward_f32(&loss, probs, logits, &target, 1, 7);
    assert_float_equal(loss, logf(7.0f), 1e-6);
    /* causal softmax: row t uses t+1 entries, each 1/(t+1) for equal scores */
    float pre[9] = {0}, att[9];
    softmax_causal_forward_f32(att, pre, 1, 3, 1);
    assert_float_equal(att[0], 1.0f, 0);
    assert_float_equal(att[1], 0.0f, 0);
    assert_float_equal(att[4], 0.5f, 0);
    assert_float_equal(att[8], 1.0f / 3.0f, 1e-7);
}

/* The f32 and f64 builds compute the same function: same inputs give results within fp32 rounding. */
static void float_and_double_builds_agree(void **state)
{
    (void)state;
    double *xd = vec(B * T * C, 30), *wd = vec(C * OC, 31), *bd = vec(OC, 32), out_d[B * T * OC];
    float xf[B * T * C], wf[C * OC], bf[OC], out_f[B * T * OC];
    for (int i = 0; i < B * T * C; i++) xf[i] = (float)xd[i];
    for (int i = 0; i < C * OC; i++) wf[i] = (float)wd[i];
    for (int i = 0; i < OC; i++) bf[i] = (float)bd[i];
    for (int i = 0; i < B * T * C; i++) xd[i] = xf[i];
    for (int i = 0; i < C * OC; i++) wd[i] = wf[i];
    for (int i = 0; i < OC; i++) bd[i] = bf[i];
    matmul_forward_f64(out_d, xd, wd, bd, B * T, C, OC);
    matmul_forward_f32(out_f, xf, wf, bf, B * T, C, OC);
    for (int i = 0; i < B * T * OC; i++)
        assert_float_equal(out_f[i], out_d[i], 1e-5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(layernorm_gradients, free_vecs),
        cmocka_unit_test_teardown(matmul_gradients, free_vecs),
        cmocka_unit_test_teardown(matmul_wt_gradients, free_vecs),
        cmocka_unit_test_teardown(attention_scores_gradients, free_vecs),
        cmocka_unit_test_teardown(softmax_causal_gradients, free_vecs),
        cmocka_unit_test_teardown(attention_values_gradients, free_vecs),
        cmocka_unit_test_teardown(gelu_gradients, free_vecs),
        cmocka_unit_test_teardown(residual_gradients, free_vecs),
        cmocka_unit_test_teardown(encoder_gradients, free_vecs),
        cmocka_unit_test_teardown(crossentropy_gradients, free_vecs),
        cmocka_unit_test_teardown(known_answers, free_vecs),
        cmocka_unit_test_teardown(float_and_double_builds_agree, free_vecs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
