/* Stage 3's fetch units (fast/layer_plan.c): they tile the model and every rank's partition, each
 * unit's exchange map carries exactly the elements the whole-model partition gives the rank there,
 * and the use order is the model's (forward, tied head, backward). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layer_plan.h"

typedef struct fixture {
    zsf_params t;
    zsf_partition p;
    zsf_layer_plan lp;
} fixture;

static void setup(fixture *f, zs_model_dims d, int stage, int world)
{
    zs_error err = {{0}};
    memset(f, 0, sizeof *f);
    assert_int_equal(zsf_params_build(&f->t, d, &err), 0);
    size_t *sizes = malloc((size_t)f->t.n * sizeof *sizes);
    assert_non_null(sizes);
    for (int i = 0; i < f->t.n; i++)
        sizes[i] = f->t.p[i].numel;
    assert_int_equal(zsf_partition_init(&f->p, stage, world, sizes, f->t.n, &err), 0);
    free(sizes);
}

static void teardown(fixture *f)
{
    zsf_layer_plan_free(&f->lp);
    zsf_partition_free(&f->p);
    zsf_params_free(&f->t);
}

static const zs_model_dims odd = {.vocab = 13, .seq = 5, .channels = 6, .layers = 3, .heads = 2};

/* Units are consecutive flat ranges covering the model and consecutive partition ranges covering len;
 * the pool and exchange sizes are their maxima. */
static void test_units_tile_model_and_partition(void **state)
{
    (void)state;
    for (int W = 1; W <= 5; W++) {
        fixture f;
        zs_error err = {{0}};
        setup(&f, odd, 3, W);
        assert_int_equal(zsf_layer_plan_build(&f.lp, &f.t, &f.p, &err), 0);
        assert_int_equal(f.lp.n, odd.layers + 2);
        size_t flat = 0, part = 0, max_numel = 0, max_shard = 0;
        for (int u = 0; u < f.lp.n; u++) {
            const zsf_unit *x = &f.lp.u[u];
            assert_int_equal(x->offset, flat);
            assert_int_equal(x->shard_offset, part);
            size_t numel;   /* the range the model's hooks use */
            assert_int_equal(zsf_unit_range(&f.t, u, &numel), x->offset);
            assert_int_equal(numel, x->numel);
            flat += x->numel;
            part += x->shard_len;
            max_numel = x->numel > max_numel ? x->numel : max_numel;
            max_shard = x->shard_len > max_shard ? x->shard_len : max_shard;
        }
        assert_int_equal(flat, f.t.numel);
        assert_int_equal(part, f.p.len);
        assert_int_equal(f.lp.max_numel, max_numel);
        assert_int_equal(f.lp.max_shard, max_shard);
        /* embeddings: wte + wpe; block 1: 12 tensors from h.0.ln_1.weight; last: ln_f */
        assert_int_equal(f.lp.u[0].numel, (size_t)(13 + 5) * 6);
        assert_string_equal(f.t.p[f.lp.u[1].first_param].name, "h.0.ln_1.weight");
        assert_int_equal(f.lp.u[1].n_params, ZSF_PER_LAYER);
        assert_string_equal(f.t.p[f.lp.u[odd.layers + 1].first_param].name, "ln_f.weight");
        teardown(&f);
    }
}

/* Each unit gathered on its own carries, at every exchange position, the element the whole-model
 * partition gives that rank there, and every unit element exactly once. */
static void check_unit_maps(fixture *f, int64_t bucket_elems)
{
    const int W = f->p.world;
    for (int u = 0; u < f->lp.n; u++) {
        const zsf_unit *x = &f->lp.u[u];
        zsf_bucket *b = NULL;
        int nb = zsf_plan_buckets(x->shard_len, W, bucket_elems, &b);
        assert_true(nb > 0);
        size_t n = (size_t)W * x->shard_len;
        int64_t *map = malloc((n ? n : 1) * sizeof *map);
        int *seen = calloc(x->numel ? x->numel : 1, sizeof *seen);
        assert_non_null(map);
        assert_non_null(seen);
        for (size_t q = 0; q < n; q++)
            map[q] = -2;
        zsf_unit_exchange_map(&f->lp, &f->p, u, b, nb, map);
        for (int d = 0; d < W; d++)
            for (size_t j = 0; j < x->shard_len; j++) {
                int64_t got = map[zsf_exchange_pos(b, nb, W, d, j)];
                int64_t whole = zsf_partition_index(&f->p, d, x->shard_offset + j);
                assert_int_equal(got, whole < 0 ? -1 : whole - (int64_t)x->offset);
                if (got >= 0) {
                    assert_true((size_t)got < x->numel);
                    seen[got]++;
                }
            }
        for (size_t i = 0; i < x->numel; i++)
            assert_int_equal(seen[i], 1);
        free(seen);
        free(map);
        free(b);
    }
}

static void test_unit_maps_match_whole_partition(void **state)
{
    (void)state;
    const int64_t buckets[] = {0, 7, 64};
    for (int W = 1; W <= 8; W++)
        for (size_t k = 0; k < sizeof buckets / sizeof buckets[0]; k++) {
            fixture f;
            zs_error err = {{0}};
            setup(&f, odd, 3, W);
            assert_int_equal(zsf_layer_plan_build(&f.lp, &f.t, &f.p, &err), 0);
            check_unit_maps(&f, buckets[k]);
            teardown(&f);
        }
}

/* forward 0..L+1, head 0; backward head 0, L+1..1; next skips repeats of the same unit. */
static void test_use_order(void **state)
{
    (void)state;
    fixture f;
    zs_error err = {{0}};
    setup(&f, odd, 3, 2);
    assert_int_equal(zsf_layer_plan_build(&f.lp, &f.t, &f.p, &err), 0);
    const int expect[] = {0, 1, 2, 3, 4, 0, 0, 4, 3, 2, 1};
    assert_int_equal(f.lp.n_uses, (int)(sizeof expect / sizeof expect[0]));
    for (int i = 0; i < f.lp.n_uses; i++)
        assert_int_equal(f.lp.uses[i], expect[i]);
    assert_int_equal(zsf_layer_plan_next(&f.lp, 0), 1);
    assert_int_equal(zsf_layer_plan_next(&f.lp, 5), 7);   /* the head's forward and backward share unit 0 */
    assert_int_equal(zsf_layer_plan_next(&f.lp, 6), 7);
    assert_int_equal(zsf_layer_plan_next(&f.lp, 10), -1);
    teardown(&f);
}

static void test_unit_params_of_table(void **state)
{
    (void)state;
    fixture f;
    setup(&f, odd, 3, 1);
    int first = -1, count = -1;
    zsf_unit_params(&f.t, 2, &first, &count);   /* block 1 */
    assert_ptr_equal(&f.t.p[first], zsf_param_layer(&f.t, 1, ZSF_LN1W));
    assert_int_equal(count, ZSF_PER_LAYER);
    zsf_unit_params(&f.t, 4, &first, &count);
    assert_ptr_equal(&f.t.p[first], zsf_param_lnf_w(&f.t));
    assert_int_equal(first + count, f.t.n);
    teardown(&f);
}

static void test_refuses_other_stages(void **state)
{
    (void)state;
    fixture f;
    zs_error err = {{0}};
    setup(&f, odd, 2, 2);
    assert_int_equal(zsf_layer_plan_build(&f.lp, &f.t, &f.p, &err), -1);
    assert_non_null(strstr(err.msg, "stage-3 partition"));
    assert_null(f.lp.u);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_tile_model_and_partition),
        cmocka_unit_test(test_unit_maps_match_whole_partition),
        cmocka_unit_test(test_use_order),
        cmocka_unit_test(test_unit_params_of_table),
        cmocka_unit_test(test_refuses_other_stages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
