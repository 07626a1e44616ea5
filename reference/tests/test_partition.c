#define _POSIX_C_SOURCE 200809L  /* fmemopen */
/* Partition layout (docs/spec.md "Partitioning") for N = 1..8, checked against the worked examples
 * of DeepSpeed's layouts and against structural invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"

/* DeepSpeed stage 1/2 example (research note §2.1): params [5, 4], W = 4: n = 9, padded to 16,
 * P = 4. Rank 0 owns p0[0:4]; rank 1 owns p0[4], p1[0:3]; rank 2 owns p1[3] + 3 pad; rank 3 pad. */
static void stage2_worked_example(void **state)
{
    (void)state;
    size_t sizes[2] = {5, 4};
    zs_partition p;
    assert_int_equal(zs_partition_init(&p, 2, 4, sizes, 2), 0);
    assert_int_equal(p.len, 4);
    const int64_t expect[4][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, -1, -1, -1}, {-1, -1, -1, -1}};
    for (int r = 0; r < 4; r++)
        for (size_t j = 0; j < 4; j++)
            assert_int_equal(zs_partition_model_index(&p, r, j), expect[r][j]);
    assert_int_equal(zs_partition_real_count(&p, 2), 1);
    zs_partition_free(&p);
}

/* DeepSpeed stage 3 example: same params, W = 4: p0 shards of 2 (r2: p0[4] + pad, r3: 2 pad),
 * p1 shards of 1. Rank 2's partition = [p0[4], pad, p1[2]]. */
static void stage3_worked_example(void **state)
{
    (void)state;
    size_t sizes[2] = {5, 4};
    zs_partition p;
    assert_int_equal(zs_partition_init(&p, 3, 4, sizes, 2), 0);
    assert_int_equal(p.len, 3);
    const int64_t expect[4][3] = {{0, 1, 5}, {2, 3, 6}, {4, -1, 7}, {-1, -1, 8}};
    for (int r = 0; r < 4; r++)
        for (size_t j = 0; j < 3; j++)
            assert_int_equal(zs_partition_model_index(&p, r, j), expect[r][j]);
    zs_partition_free(&p);
}

static void stage0_is_identity(void **state)
{
    (void)state;
    size_t sizes[3] = {3, 1, 7};
    zs_partition p;
    assert_int_equal(zs_partition_init(&p, 0, 3, sizes, 3), 0);
    assert_int_equal(p.len, 11);
    for (int r = 0; r < 3; r++)
        for (size_t j = 0; j < 11; j++)
            assert_int_equal(zs_partition_model_index(&p, r, j), (int64_t)j);
    zs_partition_free(&p);
}

/* For every stage 1-3 and W = 1..8, on an awkward size list: every model element is owned by
 * exactly one rank, partitions have equal length, stage 1/2 padding < 2W and sits at the end,
 * and extract/assemble round-trips. */
static void every_element_owned_once(void **state)
{
    (void)state;
    size_t sizes[6] = {97 * 32, 16 * 32, 32, 32, 32 * 96, 7};
    size_t numel = 0;
    for (int i = 0; i < 6; i++)
        numel += sizes[i];
    float *full = malloc(numel * sizeof(float)), *back = malloc(numel * sizeof(float));
    int *owners = malloc(numel * sizeof(int));
    for (size_t i = 0; i < numel; i++)
        full[i] = (float)i + 0.5f;
    for (int stage = 1; stage <= 3; stage++) {
        for (int W = 1; W <= 8; W++) {
            zs_partition p;
            assert_int_equal(zs_partition_init(&p, stage, W, sizes, 6), 0);
            for (size_t i = 0; i < numel; i++)
                owners[i] = 0;
            size_t real = 0;
            float *parts[8];
            for (int r = 0; r < W; r++) {
                parts[r] = malloc(p.len * sizeof(float));
                zs_partition_extract(&p, r, full, parts[r]);
                for (size_t j = 0; j < p.len; j++) {
                    int64_t idx = zs_partition_model_index(&p, r, j);
                    if (idx >= 0) {
                        owners[idx]++;
                        assert_true(parts[r][j] == full[idx]);
                    } else {
                        assert_true(parts[r][j] == 0.0f);
                    }
                }
                real += zs_partition_real_count(&p, r);
            }
            for (size_t i = 0; i < numel; i++)
                assert_int_equal(owners[i], 1);
            assert_int_equal(real, numel);
            if (stage < 3) {
                assert_int_equal((p.len * (size_t)W) % (2 * (size_t)W), 0);
                assert_true(p.len * (size_t)W - numel < 2 * (size_t)W);
            } else {
                size_t expect_len = 0;
                for (int i = 0; i < 6; i++)
                    expect_len += (sizes[i] + (size_t)W - 1) / (size_t)W;
                assert_int_equal(p.len, expect_len);
            }
            for (size_t i = 0; i < numel; i++)
                back[i] = -1.0f;
            zs_partition_assemble(&p, (const float *const *)parts, back);
            for (size_t i = 0; i < numel; i++)
                assert_true(back[i] == full[i]);
            for (int r = 0; r < W; r++)
                free(parts[r]);
            zs_partition_free(&p);
        }
    }
    free(full);
    free(back);
    free(owners);
}

/* The default tiny model (29088 parameters) pads at stage 1/2 only when 2W does not divide 29088. */
static void default_model_padding(void **state)
{
    (void)state;
    size_t sizes[1] = {29088};
    const size_t expect_len[9] = {0, 29088, 14544, 9696, 7272, 5818, 4848, 4156, 3636};
    for (int W = 1; W <= 8; W++) {
        zs_partition p;
        assert_int_equal(zs_partition_init(&p, 2, W, sizes, 1), 0);
        assert_int_equal(p.len, expect_len[W]);
        zs_partition_free(&p);
    }
}

static void print_map(void **state)
{
    (void)state;
    size_t sizes[2] = {5, 4};
    const char *names[2] = {"a", "b"};
    zs_partition p;
    assert_int_equal(zs_partition_init(&p, 3, 4, sizes, 2), 0);
    char buf[512] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    zs_partition_print(&p, names, sizes, 2, f);
    fclose(f);
    assert_non_null(strstr(buf, "rank 2 (3 elements): a[4:5] pad[1] b[2:3]"));
    assert_non_null(strstr(buf, "rank 3 (3 elements): pad[2] b[3:4]"));
    zs_partition_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stage2_worked_example),
        cmocka_unit_test(stage3_worked_example),
        cmocka_unit_test(stage0_is_identity),
        cmocka_unit_test(every_element_owned_once),
        cmocka_unit_test(default_model_padding),
        cmocka_unit_test(print_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
