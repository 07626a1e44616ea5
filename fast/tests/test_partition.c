/* zs-fast's partitioning and exchange layout (fast/partition.c), checked against docs/spec.md §5's
 * worked example and, for W = 1..8, the ownership invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpt2_params.h"
#include "partition.h"

static void init_or_fail(zsf_partition *p, int stage, int world, const size_t *sizes, int n)
{
    zs_error err = {{0}};
    assert_int_equal(zsf_partition_init(p, stage, world, sizes, n, &err), 0);
}

/* spec §5: params of 5 and 4 elements, W = 4. */
static void test_worked_example_stage2(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4};
    zsf_partition p;
    init_or_fail(&p, 2, 4, sizes, 2);
    assert_int_equal(p.len, 4);
    const int64_t expect[4][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, -1, -1, -1}, {-1, -1, -1, -1}};
    for (int r = 0; r < 4; r++)
        for (size_t j = 0; j < 4; j++)
            assert_int_equal(zsf_partition_index(&p, r, j), expect[r][j]);
    zsf_partition_free(&p);
}

static void test_worked_example_stage3(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4};
    zsf_partition p;
    init_or_fail(&p, 3, 4, sizes, 2);
    assert_int_equal(p.len, 3);   /* shards of 2 (a) and 1 (b) */
    const int64_t rank2[3] = {4, -1, 5 + 2};   /* [a[4], pad, b[2]] */
    for (size_t j = 0; j < 3; j++)
        assert_int_equal(zsf_partition_index(&p, 2, j), rank2[j]);
    assert_int_equal(zsf_partition_index(&p, 3, 0), -1);   /* a[6] does not exist */
    assert_int_equal(zsf_partition_index(&p, 3, 2), 5 + 3);
    zsf_partition_free(&p);
}

static void tiny_model_sizes(size_t **sizes, int *n, size_t *numel)
{
    zsf_params t;
    zs_error err = {{0}};
    assert_int_equal(zsf_params_build(&t, zs_model_dims_default(), &err), 0);
    *sizes = malloc(sizeof(size_t) * (size_t)t.n);
    for (int i = 0; i < t.n; i++)
        (*sizes)[i] = t.p[i].numel;
    *n = t.n;
    *numel = t.numel;
    zsf_params_free(&t);
}

/* Every model element is owned exactly once (stages 1-3), or by every rank (stage 0). */
static void test_every_element_owned_once(void **state)
{
    (void)state;
    size_t *sizes, numel;
    int n;
    tiny_model_sizes(&sizes, &n, &numel);
    assert_int_equal(numel, 29088);
    int *count = calloc(numel, sizeof(int));
    for (int stage = 0; stage <= 3; stage++)
        for (int W = 1; W <= 8; W++) {
            zsf_partition p;
            init_or_fail(&p, stage, W, sizes, n);
            memset(count, 0, numel * sizeof(int));
            size_t padding = 0;
            for (int r = 0; r < W; r++)
                for (size_t j = 0; j < p.len; j++) {
                    int64_t idx = zsf_partition_index(&p, r, j);
                    if (idx < 0)
                        padding++;
                    else
                        count[idx]++;
                }
            for (size_t i = 0; i < numel; i++)
                assert_int_equal(count[i], stage == 0 ? W : 1);
            if (stage == 1 || stage == 2) {
                assert_int_equal(p.len % 2, 0);
                assert_true(padding < (size_t)(2 * W));
                assert_int_equal(padding != 0, W == 5 || W == 7);   /* 29088 = 2^5 3^2 101 */
            }
            zsf_partition_free(&p);
        }
    free(count);
    free(sizes);
}

static void test_assemble_inverts_partition(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4, 7};
    for (int stage = 1; stage <= 3; stage++) {
        zsf_partition p;
        init_or_fail(&p, stage, 3, sizes, 3);
        float *parts[3], full[16] = {0};
        for (int r = 0; r < 3; r++) {
            parts[r] = calloc(p.len, sizeof(float));
            for (size_t j = 0; j < p.len; j++) {
                int64_t idx = zsf_partition_index(&p, r, j);
                parts[r][j] = idx >= 0 ? (float)(100 + idx) : 0.0f;
            }
        }
        zsf_partition_assemble(&p, (const float *const *)parts, full);
        for (int i = 0; i < 16; i++)
            assert_true(full[i] == (float)(100 + i));
        for (int r = 0; r < 3; r++)
            free(parts[r]);
        zsf_partition_free(&p);
    }
}

/* Stage 0: every rank holds a whole replica, and they can differ (ZeroOneAdam's local steps,
 * docs/spec/optimizers.md §8.3); the assembled model is rank 0's, as zs-ref's step<k>/param. */
static void test_assemble_stage0_takes_rank0(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4, 7};
    zsf_partition p;
    init_or_fail(&p, 0, 3, sizes, 3);
    float *parts[3], full[16] = {0};
    for (int r = 0; r < 3; r++) {
        parts[r] = calloc(p.len, sizeof(float));
        for (size_t j = 0; j < p.len; j++)
            parts[r][j] = (float)(1000 * r + (int)j);
    }
    zsf_partition_assemble(&p, (const float *const *)parts, full);
    for (int i = 0; i < 16; i++)
        assert_true(full[i] == (float)i);
    for (int r = 0; r < 3; r++)
        free(parts[r]);
    zsf_partition_free(&p);
}

/* Buckets tile [0, len) in order, each at most bucket_elems / W per rank (at least 1). */
static void test_bucket_plan(void **state)
{
    (void)state;
    zsf_bucket *b;
    int nb = zsf_plan_buckets(10, 2, 7, &b);   /* 3 per rank */
    assert_int_equal(nb, 4);
    const size_t off[] = {0, 3, 6, 9}, cnt[] = {3, 3, 3, 1};
    for (int k = 0; k < nb; k++) {
        assert_int_equal(b[k].offset, off[k]);
        assert_int_equal(b[k].count, cnt[k]);
    }
    free(b);
    nb = zsf_plan_buckets(10, 4, 0, &b);   /* no limit: one bucket */
    assert_int_equal(nb, 1);
    assert_int_equal(b[0].count, 10);
    free(b);
    nb = zsf_plan_buckets(5, 8, 3, &b);    /* fewer elements than ranks: 1 per rank */
    assert_int_equal(nb, 5);
    free(b);
}

/* The exchange map is the partition laid out bucket by bucket, each rank's block contiguous. */
static void test_exchange_map(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4, 7};
    for (int stage = 1; stage <= 3; stage++)
        for (int64_t bucket = 0; bucket <= 9; bucket += 3) {
            const int W = 3;
            zsf_partition p;
            init_or_fail(&p, stage, W, sizes, 3);
            zsf_bucket *b;
            int nb = zsf_plan_buckets(p.len, W, bucket, &b);
            int64_t *map = malloc(sizeof(int64_t) * W * p.len);
            int *seen = calloc(W * p.len, sizeof(int));
            zsf_exchange_map(&p, b, nb, map);
            for (int d = 0; d < W; d++)
                for (size_t j = 0; j < p.len; j++) {
                    size_t q = zsf_exchange_pos(b, nb, W, d, j);
                    assert_true(q < W * p.len);
                    assert_int_equal(map[q], zsf_partition_index(&p, d, j));
                    seen[q]++;
                }
            for (size_t q = 0; q < W * p.len; q++)
                assert_int_equal(seen[q], 1);
            for (int k = 0; k < nb; k++)   /* rank d's block of bucket k: W*offset + d*count, contiguous */
                for (int d = 0; d < W; d++)
                    for (size_t i = 0; i < b[k].count; i++)
                        assert_int_equal(zsf_exchange_pos(b, nb, W, d, b[k].offset + i),
                                         W * b[k].offset + d * b[k].count + i);
            free(map);
            free(seen);
            free(b);
            zsf_partition_free(&p);
        }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const size_t sizes[] = {5};
    zsf_partition p;
    zs_error err = {{0}};
    assert_int_equal(zsf_partition_init(&p, 4, 2, sizes, 1, &err), -1);
    assert_non_null(strstr(err.msg, "stage"));
    assert_int_equal(zsf_partition_init(&p, 1, 0, sizes, 1, &err), -1);
    assert_non_null(strstr(err.msg, "world"));
}

/* Grouped layout (docs/spec/optimizers.md §8a.2): params a (5), b (4), c (3) at model offsets 0, 5, 9;
 * groups {c, a} then {b}, W = 2. Group 0's flat buffer c0 c1 c2 a0..a4 (8, a multiple of 2W) is cut
 * into pieces of 4, group 1's b0..b3 into pieces of 2; rank r's partition is its piece of each. */
static void test_grouped_worked_example(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4, 3};
    const int order[] = {2, 0, 1}, counts[] = {2, 1};
    zsf_partition p;
    zs_error err = {{0}};
    assert_int_equal(zsf_partition_init_grouped(&p, 2, 2, sizes, 3, order, counts, 2, &err), 0);
    assert_int_equal(p.len, 6);
    assert_int_equal(p.n_groups, 2);
    assert_int_equal(p.group_len[0], 4);
    assert_int_equal(p.group_offset[1], 4);
    assert_int_equal(p.group_len[1], 2);
    const int64_t expect[2][6] = {{9, 10, 11, 0, 5, 6}, {1, 2, 3, 4, 7, 8}};
    int64_t own[6];
    for (int r = 0; r < 2; r++) {
        zsf_partition_own_map(&p, r, own);
        for (size_t j = 0; j < 6; j++) {
            assert_int_equal(zsf_partition_index(&p, r, j), expect[r][j]);
            assert_int_equal(own[j], expect[r][j]);
        }
    }
    zsf_partition_free(&p);
    /* W = 3: group 0 pads 8 to 12 (pieces of 4), group 1 pads 4 to 6 (pieces of 2) */
    assert_int_equal(zsf_partition_init_grouped(&p, 1, 3, sizes, 3, order, counts, 2, &err), 0);
    assert_int_equal(p.len, 6);
    assert_int_equal(zsf_partition_index(&p, 2, 0), -1);
    assert_int_equal(zsf_partition_index(&p, 1, 3), 4);
    assert_int_equal(zsf_partition_index(&p, 1, 4), 7);
    assert_int_equal(zsf_partition_index(&p, 2, 4), -1);
    assert_int_equal(zsf_partition_index(&p, 0, 5), 6);
    zsf_partition_free(&p);
    /* other stages keep the model order; a bad group count is refused */
    assert_int_equal(zsf_partition_init_grouped(&p, 0, 2, sizes, 3, order, counts, 2, &err), 0);
    assert_true(p.map == NULL && p.n_groups == 1 && zsf_partition_index(&p, 1, 0) == 0);
    zsf_partition_free(&p);
    assert_int_equal(zsf_partition_init_grouped(&p, 2, 2, sizes, 3, order, counts, 3, &err), -1);
    assert_non_null(strstr(err.msg, "groups"));
}

/* Grouped, W = 1..8, tiny model with two groups: every model element once, the exchange map agrees. */
static void test_grouped_every_element_owned_once(void **state)
{
    (void)state;
    size_t *sizes, numel;
    int n;
    tiny_model_sizes(&sizes, &n, &numel);
    int *order = malloc((size_t)n * sizeof(int)), counts[2] = {0, 0};
    assert_non_null(order);
    for (int i = n - 1; i >= 0; i--)   /* odd-indexed params first, in reverse, then the even ones */
        if (i % 2)
            order[counts[0]++] = i;
    for (int i = 0; i < n; i++)
        if (!(i % 2))
            order[counts[0] + counts[1]++] = i;
    for (int W = 1; W <= 8; W++) {
        zsf_partition p;
        zs_error err = {{0}};
        assert_int_equal(zsf_partition_init_grouped(&p, 2, W, sizes, n, order, counts, 2, &err), 0);
        int *count = calloc(numel, sizeof(int));
        assert_non_null(count);
        for (int r = 0; r < W; r++)
            for (size_t j = 0; j < p.len; j++) {
                int64_t idx = zsf_partition_index(&p, r, j);
                if (idx >= 0)
                    count[idx]++;
            }
        for (size_t i = 0; i < numel; i++)
            assert_int_equal(count[i], 1);
        assert_int_equal(p.group_len[0] % 2, 0);
        assert_int_equal(p.group_len[0] + p.group_len[1], p.len);
        free(count);
        zsf_partition_free(&p);
    }
    free(order);
    free(sizes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example_stage2), cmocka_unit_test(test_worked_example_stage3),
        cmocka_unit_test(test_every_element_owned_once), cmocka_unit_test(test_assemble_inverts_partition),
        cmocka_unit_test(test_assemble_stage0_takes_rank0),
        cmocka_unit_test(test_bucket_plan),   cmocka_unit_test(test_exchange_map),
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_grouped_worked_example),
        cmocka_unit_test(test_grouped_every_element_owned_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
