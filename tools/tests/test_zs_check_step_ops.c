/* zs-check's step-level cases (tools/zs_check/plugin_onebit.c, plugin_muon.c) on the committed
 * fixtures/ops files, with in-process plugins written here from docs/spec/optimizers.md §8.1 and
 * §8a.3-8a.4 (no reference code but the fp16/bf16 rounding): in the spec's orders they reproduce the
 * golden values bit for bit; in the orders a GPU may use (norms summed in fp32 pairwise, the server
 * sum in reverse rank order, 1/W applied after the sum; matmul sums reversed, pairwise, 4-way split,
 * in blocks of 8, in double)
 * they pass within the tolerance; planted bugs fail with the element named; a plugin built before
 * these entries is skipped. */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <math.h>

#include "precision.h"
#include "zs_check_test_util.h"

#define ONEBIT_FILE ZS_SOURCE_DIR "/fixtures/ops/onebit_compressed_allreduce.safetensors"
#define MUON_FILE ZS_SOURCE_DIR "/fixtures/ops/muon_newton_schulz.safetensors"

/* ------------------------------------------------------------------------------------------------
 * An independent compressed all-reduce, with the freedoms of a GPU kernel and some bugs. */

static struct {
    int fp32_pairwise_norm, server_reverse, divide_after;        /* legitimate */
    int no_server_feedback, zero_is_negative, chunk_scale_over_n; /* bugs */
} ob;

static double sum_squares_pairwise(const float *y, size_t n)
{
    if (n <= 2)
        return n == 0 ? 0.0f : n == 1 ? y[0] * y[0] : y[0] * y[0] + y[1] * y[1];
    return (float)((float)sum_squares_pairwise(y, n / 2) + (float)sum_squares_pairwise(y + n / 2, n - n / 2));
}

static float l2(const float *y, size_t n)
{
    if (ob.fp32_pairwise_norm)
        return sqrtf((float)sum_squares_pairwise(y, n));
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * y[i];
    return (float)sqrt(s);
}

static float sgn(float y)
{
    return ob.zero_is_negative ? (y <= 0.0f ? -1.0f : 1.0f) : (y < 0.0f ? -1.0f : 1.0f);
}

static int my_allreduce(const zs_plugin_compressed_allreduce *a)
{
    size_t n = a->n, chunk = n / (size_t)a->world;
    float s[64];
    for (int r = 0; r < a->world; r++) {
        float *y = a->bufs[r], *e = a->worker_error[r];
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] + e[i];
        s[r] = l2(y, n) * (1.0f / sqrtf((float)n));
        for (size_t i = 0; i < n; i++) {
            e[i] = y[i] - s[r] * sgn(y[i]);
            y[i] = sgn(y[i]);
        }
    }
    float *z = malloc(chunk * sizeof(float));
    for (int j = 0; j < a->world; j++) {
        float *f = a->server_error[j];
        for (size_t i = 0; i < chunk; i++) {
            float acc = 0.0f;
            for (int q = 0; q < a->world; q++) {
                int r = ob.server_reverse ? a->world - 1 - q : q;
                float b = a->bufs[r][(size_t)j * chunk + i];
                acc += ob.divide_after ? b * s[r] : b * (s[r] * (1.0f / (float)a->world));
            }
            z[i] = (ob.divide_after ? acc / (float)a->world : acc) + (ob.no_server_feedback ? 0.0f : f[i]);
        }
        float t = l2(z, chunk) * (1.0f / sqrtf((float)(ob.chunk_scale_over_n ? n : chunk)));
        for (size_t i = 0; i < chunk; i++) {
            f[i] = z[i] - t * sgn(z[i]);
            for (int r = 0; r < a->world; r++)
                a->bufs[r][(size_t)j * chunk + i] = t * sgn(z[i]);
        }
    }
    free(z);
    return ZS_PLUGIN_OK;
}

/* ------------------------------------------------------------------------------------------------
 * An independent Newton-Schulz and muon_update, with the matmul's fp32 sum in several orders. */

enum { SUM_FORWARD, SUM_REVERSE, SUM_PAIRWISE, SUM_SPLIT4, SUM_BLOCK8, SUM_DOUBLE, SUM_ORDERS };
static struct {
    int order;
    int swap_bc, skip_restart;   /* bugs */
} ns;

static float sum_terms(const float *p, int k)
{
    float acc = 0.0f, part[4] = {0};
    switch (ns.order) {
    case SUM_REVERSE:
        for (int q = k - 1; q >= 0; q--)
            acc += p[q];
        return acc;
    case SUM_PAIRWISE:
        if (k <= 2)
            return k == 0 ? 0.0f : k == 1 ? p[0] : p[0] + p[1];
        return sum_terms(p, k / 2) + sum_terms(p + k / 2, k - k / 2);
    case SUM_SPLIT4:
        for (int q = 0; q < k; q++)
            part[q % 4] += p[q];
        return (part[0] + part[1]) + (part[2] + part[3]);
    case SUM_BLOCK8:   /* contiguous blocks of 8 (a tiled GEMM's k loop), then the blocks in order */
        for (int q0 = 0; q0 < k; q0 += 8) {
            float block = 0.0f;
            for (int q = q0; q < k && q < q0 + 8; q++)
                block += p[q];
            acc += block;
        }
        return acc;
    case SUM_DOUBLE: {   /* wider accumulation, rounded once */
        double d = 0;
        for (int q = 0; q < k; q++)
            d += p[q];
        return (float)d;
    }
    default:
        for (int q = 0; q < k; q++)
            acc += p[q];
        return acc;
    }
}

typedef struct mat {
    int r, c;
    float *v;
} mat;

static mat mat_new(int r, int c)
{
    return (mat){r, c, calloc((size_t)r * (size_t)c, sizeof(float))};
}

/* round(A @ B), or round(A @ B^T) with bt */
static mat mul(zs_dtype t, mat A, mat B, int bt)
{
    int m = bt ? B.r : B.c;
    mat C = mat_new(A.r, m);
    float *p = malloc((size_t)A.c * sizeof(float));
    for (int i = 0; i < A.r; i++)
        for (int j = 0; j < m; j++) {
            for (int q = 0; q < A.c; q++)
                p[q] = A.v[i * A.c + q] * (bt ? B.v[j * B.c + q] : B.v[q * B.c + j]);
            C.v[i * m + j] = zs_round_to(t, sum_terms(p, A.c));
        }
    free(p);
    return C;
}

/* round(round(fl32(alpha) x) + y) element-wise into a new matrix (y may be NULL: no addition) */
static mat axpy(zs_dtype t, double alpha, mat X, const mat *Y)
{
    mat out = mat_new(X.r, X.c);
    for (int i = 0; i < X.r * X.c; i++) {
        float v = zs_round_to(t, (float)alpha * X.v[i]);
        out.v[i] = Y ? zs_round_to(t, v + Y->v[i]) : v;
    }
    return out;
}

static void replace(mat *dst, mat src)
{
    free(dst->v);
    *dst = src;
}

/* b R + (c R) R */
static mat quintic_part(zs_dtype t, mat R)
{
    double b = ns.swap_bc ? 2.0315 : -4.7750, c = ns.swap_bc ? -4.7750 : 2.0315;
    mat cR = axpy(t, c, R, NULL), T = mul(t, cR, R, 0), Z = axpy(t, b, R, &T);
    free(cR.v);
    free(T.v);
    return Z;
}

/* a Y + Z Y */
static mat apply_p(zs_dtype t, mat Z, mat Y)
{
    mat T = mul(t, Z, Y, 0), out = axpy(t, 3.4445, Y, &T);
    free(T.v);
    return out;
}

static mat orthogonalise(zs_dtype t, int gram, mat X, int steps)
{
    if (!gram || X.r == X.c) {
        for (int s = 0; s < steps; s++) {
            mat A = mul(t, X, X, 1), B = quintic_part(t, A);
            replace(&X, apply_p(t, B, X));
            free(A.v);
            free(B.v);
        }
        return X;
    }
    mat R = mul(t, X, X, 1), Q = {0, 0, NULL};
    for (int i = 0; i < steps; i++) {
        if (i == 2 && !ns.skip_restart) {
            replace(&X, mul(t, Q, X, 0));
            replace(&R, mul(t, X, X, 1));
            replace(&Q, (mat){0, 0, NULL});
        }
        mat Z = quintic_part(t, R);
        if (!Q.v) {
            Q = axpy(t, 1.0, Z, NULL);
            for (int d = 0; d < Q.r; d++)
                Q.v[d * Q.c + d] = zs_round_to(t, Q.v[d * Q.c + d] + 3.4445f);
        } else {
            mat T = mul(t, Z, Q, 0);
            replace(&Q, axpy(t, 3.4445, Q, &T));
            free(T.v);
        }
        if (i < steps - 1 && i + 1 != 2) {
            mat RZ = apply_p(t, Z, R);
            replace(&R, apply_p(t, Z, RZ));
            free(RZ.v);
        }
        free(Z.v);
    }
    replace(&X, mul(t, Q, X, 0));
    free(R.v);
    free(Q.v);
    return X;
}

static void my_ns_into(const char *method, const float *in, int rows, int cols, int steps, float *out)
{
    int gram = !strcmp(method, "gram"), tall = rows > cols;
    zs_dtype t = gram ? ZS_F16 : ZS_BF16;
    mat X = tall ? mat_new(cols, rows) : mat_new(rows, cols);
    float *sq = malloc((size_t)rows * (size_t)cols * sizeof(float));
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float x = zs_round_to(t, in[i * cols + j]);
            sq[i * cols + j] = x * x;
            X.v[tall ? j * rows + i : i * cols + j] = x;
        }
    float norm = zs_round_to(t, sqrtf(sum_terms(sq, rows * cols)));
    float denom = zs_round_to(t, norm + 1e-7f);
    for (int i = 0; i < rows * cols; i++)
        X.v[i] = zs_round_to(t, X.v[i] / denom);
    X = orthogonalise(t, gram, X, steps);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[i * cols + j] = X.v[tall ? j * rows + i : i * cols + j];
    free(X.v);
    free(sq);
}

static int my_ns(const zs_plugin_newton_schulz *a)
{
    my_ns_into(a->ns_method, a->in, a->rows, a->cols, a->steps, a->out);
    return ZS_PLUGIN_OK;
}

static float aten_lerp(float a, float b, float w)
{
    return fabsf(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

static int my_update(const zs_plugin_muon_update *a)
{
    zs_dtype t = ZS_F32;
    zs_dtype_parse(a->dtype, &t);
    int n = a->rows * a->cols, gram = !strcmp(a->ns_method, "gram");
    for (int i = 0; i < n; i++) {
        a->momentum[i] = zs_round_to(t, aten_lerp(a->momentum[i], a->grad[i], (float)(1.0 - a->beta)));
        a->grad[i] = zs_round_to(t, aten_lerp(a->grad[i], a->momentum[i], (float)a->beta));
    }
    my_ns_into(a->ns_method, a->grad, a->rows, a->cols, 5, a->grad);
    float s = a->rows > a->cols ? (float)sqrt((double)a->rows / a->cols) : 1.0f;
    for (int i = 0; i < n; i++)
        a->grad[i] = zs_round_to(t, a->rows > a->cols ? zs_round_to(gram ? ZS_F16 : ZS_BF16, a->grad[i] * s) : a->grad[i]);
    return ZS_PLUGIN_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Running the files. */

static zs_plugin_run run_file(const char *path, const zs_plugin *p, char **out)
{
    size_t len = 0;
    zs_plugin_run r = {p, open_memstream(out, &len), 0, 0, 0};
    zs_st_file f;
    zs_error err = {{0}};
    assert_int_equal(zs_st_read_file(path, &f, &err), 0);
    if (!strcmp(zs_st_meta(&f, "op"), "muon"))
        zs_plugin_check_muon(&r, "muon_newton_schulz", &f);
    else
        zs_plugin_check_onebit(&r, "onebit_compressed_allreduce", &f);
    zs_st_file_free(&f);
    fclose(r.out);
    return r;
}

static const zs_plugin mine = {.abi_version = ZS_PLUGIN_ABI_VERSION, .struct_size = sizeof(zs_plugin),
                               .compressed_allreduce = my_allreduce, .newton_schulz = my_ns, .muon_update = my_update};

/* The largest "worst error/bound" of the report. */
static double worst_ratio(const char *out)
{
    double worst = 0;
    for (const char *p = out; (p = strstr(p, "error/bound ")); p++)
        worst = fmax(worst, atof(p + 12));
    return worst;
}

static void spec_order_allreduce_is_bit_exact(void **state)
{
    (void)state;
    char *out;
    memset(&ob, 0, sizeof ob);
    zs_plugin_run r = run_file(ONEBIT_FILE, &mine, &out);
    assert_int_equal(r.passed, 3);
    assert_int_equal(r.failed, 0);
    assert_true(worst_ratio(out) == 0.0);
    assert_non_null(strstr(out, "PASS onebit_compressed_allreduce w3_n100 (3 calls teacher-forced"));
    free(out);
}

static void gpu_orders_allreduce_passes(void **state)
{
    (void)state;
    for (int v = 1; v < 8; v++) {
        char *out;
        memset(&ob, 0, sizeof ob);
        ob.fp32_pairwise_norm = v & 1;
        ob.server_reverse = (v >> 1) & 1;
        ob.divide_after = (v >> 2) & 1;
        zs_plugin_run r = run_file(ONEBIT_FILE, &mine, &out);
        print_message("allreduce variant %d (pairwise fp32 norm %d, reverse server sum %d, 1/W after %d): worst "
                      "error/bound %.3g\n", v, ob.fp32_pairwise_norm, ob.server_reverse, ob.divide_after, worst_ratio(out));
        if (r.failed)
            fail_msg("variant %d failed:\n%s", v, out);
        assert_int_equal(r.passed, 3);
        free(out);
    }
}

static void allreduce_bugs_fail(void **state)
{
    (void)state;
    const struct { int which; const char *expect; } bugs[] = {
        {0, "call 2 rank 0 out["},                                        /* server error not fed back */
        {1, "the sign bit differs"},                                      /* 0 compresses to -1 */
        {2, "call 1 rank 0 out[0]"},                                      /* chunk scale over N, not N/W */
    };
    for (size_t b = 0; b < sizeof bugs / sizeof bugs[0]; b++) {
        char *out;
        memset(&ob, 0, sizeof ob);
        ob.no_server_feedback = bugs[b].which == 0;
        ob.zero_is_negative = bugs[b].which == 1;
        ob.chunk_scale_over_n = bugs[b].which == 2;
        zs_plugin_run r = run_file(ONEBIT_FILE, &mine, &out);
        assert_int_equal(r.failed, 3);
        if (!strstr(out, bugs[b].expect))
            fail_msg("bug %zu: no '%s' in:\n%s", b, bugs[b].expect, out);
        free(out);
    }
}

static void spec_order_ns_is_bit_exact(void **state)
{
    (void)state;
    char *out;
    memset(&ns, 0, sizeof ns);
    zs_plugin_run r = run_file(MUON_FILE, &mine, &out);
    if (r.failed)
        fail_msg("%s", out);
    assert_int_equal(r.passed, 9);
    assert_true(worst_ratio(out) == 0.0);
    free(out);
}

static void other_matmul_orders_pass(void **state)
{
    (void)state;
    double worst = 0;
    for (int o = SUM_REVERSE; o < SUM_ORDERS; o++) {
        char *out;
        memset(&ns, 0, sizeof ns);
        ns.order = o;
        zs_plugin_run r = run_file(MUON_FILE, &mine, &out);
        print_message("matmul sum order %d: worst error/bound %.3g\n%s", o, worst_ratio(out), out);
        if (r.failed)
            fail_msg("order %d failed:\n%s", o, out);
        assert_int_equal(r.passed, 9);
        worst = fmax(worst, worst_ratio(out));
        free(out);
    }
    assert_true(worst > 0);   /* the orders do change some results: the bound is not vacuous */
}

static void ns_bugs_fail(void **state)
{
    (void)state;
    char *out;
    memset(&ns, 0, sizeof ns);
    ns.swap_bc = 1;
    zs_plugin_run r = run_file(MUON_FILE, &mine, &out);
    assert_int_equal(r.failed, 9);
    assert_non_null(strstr(out, "FAIL muon_newton_schulz ns gram_r12_c20 out["));
    free(out);
    memset(&ns, 0, sizeof ns);
    ns.skip_restart = 1;   /* only the gram iteration on a non-square matrix restarts */
    r = run_file(MUON_FILE, &mine, &out);
    assert_int_equal(r.failed, 4);
    assert_non_null(strstr(out, "FAIL muon_newton_schulz ns gram_r20_c12"));
    assert_non_null(strstr(out, "PASS muon_newton_schulz ns gram_r16_c16"));
    free(out);
}

static void plugin_before_these_entries_is_skipped(void **state)
{
    (void)state;
    zs_plugin old = mine;
    old.struct_size = (uint32_t)offsetof(zs_plugin, compressed_allreduce);
    old.compressed_allreduce = NULL;   /* what zs-check's copy of a shorter struct holds */
    old.newton_schulz = NULL;
    old.muon_update = NULL;
    char *out;
    zs_plugin_run r = run_file(ONEBIT_FILE, &old, &out);
    assert_int_equal(r.skipped, 3);
    assert_non_null(strstr(out, "(no compressed_allreduce entry: the plugin predates it)"));
    free(out);
    r = run_file(MUON_FILE, &old, &out);
    assert_int_equal(r.skipped, 9);
    assert_non_null(strstr(out, "(no muon_update entry: the plugin predates it)"));
    free(out);
    old.struct_size = sizeof(zs_plugin);   /* a current plugin that leaves them NULL */
    r = run_file(MUON_FILE, &old, &out);
    assert_int_equal(r.skipped, 9);
    assert_non_null(strstr(out, "(no newton_schulz entry)"));
    free(out);
}

static void malformed_files_fail(void **state)
{
    (void)state;
    const char *meta[][2] = {{"cases", "a b"}, {"config/b", "{\"world\":2,\"padded\":4,\"calls\":1}"},
                             {"ns_cases", "c"}, {"update_cases", "d"},
                             {"update/d", "{\"rows\":2,\"cols\":2,\"calls\":1}"}};
    zs_st_writer *w = zs_st_writer_new();
    zs_error err = {{0}};
    float x[4] = {0};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        assert_int_equal(zs_st_set_meta(w, meta[i][0], meta[i][1], &err), 0);
    assert_int_equal(zs_st_add_f32(w, "b/call1/in/rank0", x, 4, &err), 0);
    zs_st_file f;
    tt_read_writer(w, &f);
    char *out;
    size_t n = 0;
    zs_plugin_run r = {&mine, open_memstream(&out, &n), 0, 0, 0};
    zs_plugin_check_onebit(&r, "x", &f);   /* a: no config; b: rank 1's input missing */
    zs_plugin_check_muon(&r, "x", &f);     /* c: no metadata; d: no tensors */
    fclose(r.out);
    assert_int_equal(r.failed, 4);
    assert_non_null(strstr(out, "malformed golden file (config)"));
    assert_non_null(strstr(out, "malformed golden file (a call's tensors)"));
    free(out);
    zs_st_file_free(&f);
    f = (zs_st_file){0};
    r = (zs_plugin_run){&mine, open_memstream(&out, &n), 0, 0, 0};
    zs_plugin_check_onebit(&r, "x", &f);
    zs_plugin_check_muon(&r, "x", &f);
    fclose(r.out);
    assert_int_equal(r.failed, 3);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_order_allreduce_is_bit_exact),
        cmocka_unit_test(gpu_orders_allreduce_passes),
        cmocka_unit_test(allreduce_bugs_fail),
        cmocka_unit_test(spec_order_ns_is_bit_exact),
        cmocka_unit_test(other_matmul_orders_pass),
        cmocka_unit_test(ns_bugs_fail),
        cmocka_unit_test(plugin_before_these_entries_is_skipped),
        cmocka_unit_test(malformed_files_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
