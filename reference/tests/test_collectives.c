#define _POSIX_C_SOURCE 200809L  /* fmemopen */
/* The simulated collectives: semantics, fixed rank-order summation, rounding in the communication
 * dtype, and the bytes they report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "collectives.h"
#include "precision.h"

#include <stdio.h>
#include <string.h>

static void all_reduce_sums_on_every_rank(void **state)
{
    (void)state;
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, c[3] = {100, 200, 300};
    float *bufs[3] = {a, b, c};
    zs_comm comm = {.world = 3};
    zs_all_reduce_sum(&comm, bufs, 3, ZS_F32, "t");
    for (int r = 0; r < 3; r++) {
        assert_true(bufs[r][0] == 111.0f);
        assert_true(bufs[r][2] == 333.0f);
    }
    assert_int_equal(comm.stats[ZS_COMM_ALL_REDUCE].calls, 1);
    /* ring all-reduce: each rank sends 2 (W-1)/W of 3 floats = 2*2/3*12 = 16 bytes */
    assert_int_equal(comm.stats[ZS_COMM_ALL_REDUCE].bytes_per_rank, 16);
}

/* The order is a left fold 0, 1, ..., W-1: (1e8 + 1) - 1e8 with fp32 rounding gives 0, while
 * 1e8 + (1 - 1e8) would give 1. A tree/ring order change would fail this test. */
static void all_reduce_is_a_rank_order_left_fold(void **state)
{
    (void)state;
    float r0[1] = {1e8f}, r1[1] = {1.0f}, r2[1] = {-1e8f};
    float *bufs[3] = {r0, r1, r2};
    zs_comm comm = {.world = 3};
    zs_all_reduce_sum(&comm, bufs, 1, ZS_F32, "t");
    assert_true(r0[0] == 0.0f);
}

/* In fp16 every partial sum is rounded: 2048 + 1 rounds to 2048 (ties to even), twice. */
static void all_reduce_rounds_in_comm_dtype(void **state)
{
    (void)state;
    float r0[1] = {2048.0f}, r1[1] = {1.0f}, r2[1] = {1.0f};
    float *bufs[3] = {r0, r1, r2};
    zs_comm comm = {.world = 3};
    zs_all_reduce_sum(&comm, bufs, 1, ZS_F16, "t");
    assert_true(r0[0] == 2048.0f);
    float s0[1] = {2048.0f}, s1[1] = {1.0f}, s2[1] = {1.0f};
    float *b32[3] = {s0, s1, s2};
    zs_all_reduce_sum(&comm, b32, 1, ZS_F32, "t");
    assert_true(s0[0] == 2050.0f);
}

static void reduce_scatter_delivers_block_d_to_rank_d(void **state)
{
    (void)state;
    /* W = 2, chunk = 2: send[r] = [block0 | block1] */
    float s0[4] = {1, 2, 3, 4}, s1[4] = {10, 20, 30, 40};
    float r0[2], r1[2];
    const float *send[2] = {s0, s1};
    float *recv[2] = {r0, r1};
    zs_comm comm = {.world = 2};
    zs_reduce_scatter_sum(&comm, send, recv, 2, ZS_F32, "t");
    assert_true(r0[0] == 11 && r0[1] == 22);
    assert_true(r1[0] == 33 && r1[1] == 44);
    assert_int_equal(comm.stats[ZS_COMM_REDUCE_SCATTER].elements, 2);
    assert_int_equal(comm.stats[ZS_COMM_REDUCE_SCATTER].bytes_per_rank, 8);   /* (W-1)/W * 16 bytes */
}

static void all_gather_concatenates_in_rank_order(void **state)
{
    (void)state;
    float s0[2] = {1, 2}, s1[2] = {3, 4}, s2[2] = {5, 6};
    float r0[6], r1[6], r2[6];
    const float *send[3] = {s0, s1, s2};
    float *recv[3] = {r0, r1, r2};
    zs_comm comm = {.world = 3};
    zs_all_gather(&comm, send, recv, 2, ZS_F16, "t");
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 6; i++)
            assert_true(recv[r][i] == (float)(i + 1));
    assert_int_equal(comm.stats[ZS_COMM_ALL_GATHER].bytes_per_rank, 8);   /* 2/3 * 6 * 2 bytes */
}

static void scalar_reductions(void **state)
{
    (void)state;
    zs_comm comm = {.world = 4};
    double parts[4] = {1.0, 2.0, 3.0, 4.5};
    assert_true(zs_all_reduce_sum_f64(&comm, parts, "t") == 10.5);
    int flags[4] = {0, 0, 1, 0};
    assert_int_equal(zs_all_reduce_max_int(&comm, flags, "t"), 1);
    int none[4] = {0, 0, 0, 0};
    assert_int_equal(zs_all_reduce_max_int(&comm, none, "t"), 0);
}

static void log_lines_name_op_dtype_and_size(void **state)
{
    (void)state;
    char buf[512] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    zs_comm comm = {.world = 2, .log = f, .log_context = "step 1"};
    float a[4] = {0}, b[4] = {0};
    float *bufs[2] = {a, b};
    zs_all_reduce_sum(&comm, bufs, 4, ZS_BF16, "gradients");
    fclose(f);
    assert_non_null(strstr(buf, "all_reduce"));
    assert_non_null(strstr(buf, "gradients"));
    assert_non_null(strstr(buf, "BF16"));
    assert_non_null(strstr(buf, "[step 1]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_reduce_sums_on_every_rank),
        cmocka_unit_test(all_reduce_is_a_rank_order_left_fold),
        cmocka_unit_test(all_reduce_rounds_in_comm_dtype),
        cmocka_unit_test(reduce_scatter_delivers_block_d_to_rank_d),
        cmocka_unit_test(all_gather_concatenates_in_rank_order),
        cmocka_unit_test(scalar_reductions),
        cmocka_unit_test(log_lines_name_op_dtype_and_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
