/* zs-fast's checkpoint re-partitioning (fast/ckpt_layout.c): a checkpoint written at (stage a, W ranks)
 * gives every rank of a run at (stage b, M ranks) exactly its partition of the same full vectors, for
 * every pair of layouts, with padding zero; and incompatible checkpoints are refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ckpt_layout.h"

static const zs_model_dims dims = {29, 8, 16, 1, 2};   /* 3904 parameters: padding at W = 3, 5, 7 */
static const char *const names[2] = {"exp_avg", "exp_avg_sq"};

static void sizes_of(const zsf_params *t, size_t *sizes)
{
    for (int p = 0; p < t->n; p++)
        sizes[p] = t->p[p].numel;
}

/* A checkpoint at (stage, world) of full vectors master[i] = i + 0.5, state k = -(i + 1) * (k + 1). */
static void make_checkpoint(const zsf_params *t, int stage, int world, zs_checkpoint *c)
{
    size_t sizes[64];
    sizes_of(t, sizes);
    zsf_partition p;
    zs_error err = {{0}};
    assert_int_equal(zsf_partition_init(&p, stage, world, sizes, t->n, &err), 0);
    memset(c, 0, sizeof *c);
    snprintf(c->precision, sizeof c->precision, "fp32");
    c->model = dims;
    c->seed = 7;
    c->world = world;
    c->stage = stage;
    c->numel = t->numel;
    c->part_len = p.len;
    c->n_state = 2;
    /* stored in the opposite order to the rule's: matched by name */
    snprintf(c->state_names[0], sizeof c->state_names[0], "%s", names[1]);
    snprintf(c->state_names[1], sizeof c->state_names[1], "%s", names[0]);
    assert_int_equal(zs_ckpt_alloc(c, &err), 0);
    for (int r = 0; r < world; r++)
        for (size_t j = 0; j < p.len; j++) {
            int64_t i = zsf_partition_index(&p, r, j);
            c->master[r][j] = i >= 0 ? (float)i + 0.5f : 0.0f;
            c->state[0][r][j] = i >= 0 ? -(float)(i + 1) * 2.0f : 0.0f;
            c->state[1][r][j] = i >= 0 ? -(float)(i + 1) : 0.0f;
        }
    zsf_partition_free(&p);
}

static void every_layout_pair(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    assert_int_equal(zsf_params_build(&t, dims, &err), 0);
    size_t sizes[64];
    sizes_of(&t, sizes);
    for (int sa = 0; sa < 4; sa++)
        for (int wa = 1; wa <= 5; wa++) {
            zs_checkpoint c;
            make_checkpoint(&t, sa, wa, &c);
            for (int sb = 0; sb < 4; sb++)
                for (int wb = 1; wb <= 7; wb += 2) {
                    zsf_partition dst;
                    assert_int_equal(zsf_partition_init(&dst, sb, wb, sizes, t.n, &err), 0);
                    float *m = malloc(dst.len * sizeof(float)), *s0 = malloc(dst.len * sizeof(float));
                    float *s1 = malloc(dst.len * sizeof(float));
                    float *st[2] = {s0, s1};
                    for (int r = 0; r < wb; r++) {
                        assert_int_equal(zsf_ckpt_take_partition(&c, &t, 7, "fp32", names, 2, &dst, r, m, st, &err), 0);
                        for (size_t j = 0; j < dst.len; j++) {
                            int64_t i = zsf_partition_index(&dst, r, j);
                            assert_true(m[j] == (i >= 0 ? (float)i + 0.5f : 0.0f));
                            assert_true(s0[j] == (i >= 0 ? -(float)(i + 1) : 0.0f));          /* exp_avg */
                            assert_true(s1[j] == (i >= 0 ? -(float)(i + 1) * 2.0f : 0.0f));   /* exp_avg_sq */
                        }
                    }
                    free(m);
                    free(s0);
                    free(s1);
                    zsf_partition_free(&dst);
                }
            zs_ckpt_free(&c);
        }
    zsf_params_free(&t);
}

static void expect_refusal(zs_checkpoint *c, const zsf_params *t, uint64_t seed, const char *precision,
                           const char *needle)
{
    size_t sizes[64];
    sizes_of(t, sizes);
    zsf_partition dst;
    zs_error err = {{0}};
    assert_int_equal(zsf_partition_init(&dst, 2, 2, sizes, t->n, &err), 0);
    float *m = malloc(dst.len * sizeof(float) * 3);
    float *st[2] = {m + dst.len, m + 2 * dst.len};
    assert_int_equal(zsf_ckpt_take_partition(c, t, seed, precision, names, 2, &dst, 0, m, st, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("expected \"%s\" in: %s", needle, err.msg);
    free(m);
    zsf_partition_free(&dst);
}

static void incompatible_checkpoints(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    assert_int_equal(zsf_params_build(&t, dims, &err), 0);
    zs_checkpoint c;
    make_checkpoint(&t, 3, 3, &c);
    expect_refusal(&c, &t, 8, "fp32", "checkpoint seed 7, the case's is 8");
    expect_refusal(&c, &t, 7, "bf16", "precision fp32, the config's is bf16");
    snprintf(c.state_names[0], sizeof c.state_names[0], "momentum_buffer");
    expect_refusal(&c, &t, 7, "fp32", "no optimizer state \"exp_avg_sq\"");
    snprintf(c.state_names[0], sizeof c.state_names[0], "exp_avg_sq");
    c.part_len += 2;
    expect_refusal(&c, &t, 7, "fp32", "spec's layout");
    c.part_len -= 2;
    c.model.layers = 2;
    expect_refusal(&c, &t, 7, "fp32", "another model");
    zs_ckpt_free(&c);
    zsf_params_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_layout_pair),
        cmocka_unit_test(incompatible_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
