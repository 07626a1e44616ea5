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
#include "layer_plan.h"
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

static void assert_runs(const zsf_run *got, int n, const zsf_run *expect, int n_expect)
{
    assert_int_equal(n, n_expect);
    for (int i = 0; i < n; i++) {   /* field by field: the struct has padding */
        assert_int_equal(got[i].rank, expect[i].rank);
        assert_int_equal(got[i].part, expect[i].part);
        assert_int_equal(got[i].model, expect[i].model);
        assert_int_equal(got[i].count, expect[i].count);
    }
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
    /* as runs (stage 2's reductions): one ends where consecutive partition elements stop carrying
     * consecutive model elements (rank 0's a0 then b0); they come back in model order */
    zsf_run *runs;
    const zsf_run expect_runs[5] = {{0, 3, 0, 1}, {1, 0, 1, 4}, {0, 4, 5, 2}, {1, 4, 7, 2}, {0, 0, 9, 3}};
    assert_runs(runs, zsf_partition_runs(&p, &runs), expect_runs, 5);
    free(runs);
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

/* Stage 2's reductions to owners (engine.cu, fast/README.md "Stage 2"): spec §5's worked example
 * (params of 5 and 4, W = 4) as runs, and model elements [3, 9) cut into them, whole and by 2. */
static void test_runs_worked_example(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 4};
    zsf_partition p;
    init_or_fail(&p, 2, 4, sizes, 2);
    zsf_run *runs, *cut;
    int n = zsf_partition_runs(&p, &runs);
    const zsf_run expect[3] = {{0, 0, 0, 4}, {1, 0, 4, 4}, {2, 0, 8, 1}};   /* rank 3: padding only */
    assert_runs(runs, n, expect, 3);
    const zsf_run whole[3] = {{0, 3, 3, 1}, {1, 0, 4, 4}, {2, 0, 8, 1}};
    assert_runs(cut, zsf_runs_slice(runs, n, 3, 9, 0, &cut), whole, 3);
    free(cut);
    const zsf_run by2[4] = {{0, 3, 3, 1}, {1, 0, 4, 2}, {1, 2, 6, 2}, {2, 0, 8, 1}};
    assert_runs(cut, zsf_runs_slice(runs, n, 3, 9, 2, &cut), by2, 4);
    free(cut);
    assert_int_equal(zsf_runs_slice(runs, n, 9, 9, 0, &cut), 0);   /* an empty range */
    free(cut);
    const zsf_run none[1] = {{0}}, tail[1] = {{2, 1, 0, 3}}, all[1] = {{3, 0, 0, 4}};   /* padding */
    assert_runs(cut, zsf_runs_gaps(runs, n, 0, p.len, &cut), none, 0);
    free(cut);
    assert_runs(cut, zsf_runs_gaps(runs, n, 2, p.len, &cut), tail, 1);
    free(cut);
    assert_runs(cut, zsf_runs_gaps(runs, n, 3, p.len, &cut), all, 1);
    free(cut);
    free(runs);
    zsf_partition_free(&p);
    init_or_fail(&p, 3, 4, sizes, 2);   /* stage 3 reduces per unit shard (stage3.h), not along runs */
    assert_int_equal(zsf_partition_runs(&p, &runs), -1);
    assert_null(runs);
    zsf_partition_free(&p);
}

/* Stages 1-2, plain and grouped, W = 1..8, every bucket size: the slices of the model's units carry
 * each model element exactly once, from the partition element that holds it, within the bucket size. */
static void check_unit_slices(const zsf_partition *p, const zsf_params *t, int64_t bucket, int *count)
{
    zsf_run *runs;
    int n = zsf_partition_runs(p, &runs);
    assert_true(n > 0);
    memset(count, 0, t->numel * sizeof(int));
    for (int u = 0; u < zsf_unit_count(t); u++) {
        size_t numel;
        const size_t lo = zsf_unit_range(t, u, &numel), hi = lo + numel;
        zsf_run *cut;
        int k = zsf_runs_slice(runs, n, lo, hi, bucket, &cut);
        assert_true(k > 0);
        for (int i = 0; i < k; i++) {
            assert_true(cut[i].count > 0 && cut[i].model >= lo && cut[i].model + cut[i].count <= hi);
            assert_true(bucket <= 0 || cut[i].count <= (size_t)bucket);
            assert_true(i == 0 || cut[i].model == cut[i - 1].model + cut[i - 1].count);   /* model order */
            for (size_t e = 0; e < cut[i].count; e++) {
                assert_int_equal(zsf_partition_index(p, cut[i].rank, cut[i].part + e), cut[i].model + e);
                count[cut[i].model + e]++;
            }
        }
        free(cut);
    }
    for (size_t i = 0; i < t->numel; i++)
        assert_int_equal(count[i], 1);
    for (int r = 0; r < p->world; r++) {   /* the gaps are exactly the rank's padding */
        zsf_run *gaps;
        int k = zsf_runs_gaps(runs, n, r, p->len, &gaps);
        size_t padding = 0, covered = 0;
        for (size_t j = 0; j < p->len; j++)
            padding += zsf_partition_index(p, r, j) < 0;
        for (int i = 0; i < k; i++) {
            assert_true(gaps[i].count > 0 && gaps[i].part + gaps[i].count <= p->len);
            assert_true(i == 0 || gaps[i].part > gaps[i - 1].part + gaps[i - 1].count);   /* ordered, maximal */
            for (size_t e = 0; e < gaps[i].count; e++)
                assert_int_equal(zsf_partition_index(p, r, gaps[i].part + e), -1);
            covered += gaps[i].count;
        }
        assert_int_equal(covered, padding);
        free(gaps);
    }
    free(runs);
}

static void test_unit_slices_tile_the_model(void **state)
{
    (void)state;
    zsf_params t;
    zs_error err = {{0}};
    assert_int_equal(zsf_params_build(&t, zs_model_dims_default(), &err), 0);
    size_t *sizes = malloc(sizeof(size_t) * (size_t)t.n);
    int *order = malloc(sizeof(int) * (size_t)t.n), counts[2] = {0, 0};
    int *count = malloc(sizeof(int) * t.numel);
    assert_true(sizes && order && count);
    for (int i = 0; i < t.n; i++)
        sizes[i] = t.p[i].numel;
    for (int i = t.n - 1; i >= 0; i--)   /* as test_grouped_every_element_owned_once */
        if (i % 2)
            order[counts[0]++] = i;
    for (int i = 0; i < t.n; i++)
        if (!(i % 2))
            order[counts[0] + counts[1]++] = i;
    const int64_t buckets[] = {0, 1, 7, 1000, 100000};
    for (int stage = 1; stage <= 2; stage++)
        for (int W = 1; W <= 8; W++)
            for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++)
                for (int grouped = 0; grouped <= 1; grouped++) {
                    zsf_partition p;
                    assert_int_equal(grouped ? zsf_partition_init_grouped(&p, stage, W, sizes, t.n, order, counts, 2, &err)
                                             : zsf_partition_init(&p, stage, W, sizes, t.n, &err),
                                     0);
                    check_unit_slices(&p, &t, buckets[b], count);
                    zsf_partition_free(&p);
                }
    free(count);
    free(order);
    free(sizes);
    zsf_params_free(&t);
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
        cmocka_unit_test(test_runs_worked_example),
        cmocka_unit_test(test_unit_slices_tile_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
