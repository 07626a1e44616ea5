/* Checkpoint files (zerospec/checkpoint.h): round trip, and one clear refusal for every way a
 * checkpoint on disk can be incomplete, inconsistent or corrupt (docs/reliability.md). */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zerospec/checkpoint.h"

typedef struct fixture {
    char dir[64];
    zs_checkpoint c;
} fixture;

static void fill(zs_checkpoint *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->generator, sizeof c->generator, "test");
    snprintf(c->case_name, sizeof c->case_name, "unit");
    snprintf(c->precision, sizeof c->precision, "fp16");
    c->model = (zs_model_dims){29, 8, 16, 1, 2};
    c->seed = 18446744073709551615ull;   /* u64 max: must survive JSON */
    c->world = 2;
    c->stage = 2;
    c->numel = 9;
    c->part_len = 5;
    c->global_steps = 7;
    c->applied_steps = 5;
    c->skipped_steps = 2;
    c->scaler = (zs_ckpt_scaler){32768.0, 7, 4, 1};
    c->n_state = 2;
    snprintf(c->state_names[0], sizeof c->state_names[0], "exp_avg");
    snprintf(c->state_names[1], sizeof c->state_names[1], "exp_avg_sq");
    c->config_json = strdup("{\"zero_optimization\":{\"stage\":2}}");
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_alloc(c, &err), 0);
    for (int r = 0; r < 2; r++)
        for (size_t i = 0; i < 5; i++) {
            c->master[r][i] = (float)(r * 10 + (int)i) * 0.25f;
            c->state[0][r][i] = -(float)i;
            c->state[1][r][i] = (float)i * 1e-9f;
        }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/zs-ckpt-test.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    fill(&f->c);
    zs_error err = {{0}};
    if (zs_ckpt_save(&f->c, f->dir, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    zs_ckpt_remove(f->dir);
    zs_ckpt_free(&f->c);
    free(f);
    return 0;
}

static void path_of(const fixture *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, name);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    b[*len] = 0;
    fclose(fp);
    return b;
}

static void spit(const char *path, const char *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, len, fp), len);
    fclose(fp);
}

/* Replaces the first occurrence of `from` in the manifest by `to`. */
static void edit_manifest(const fixture *f, const char *from, const char *to)
{
    char path[128];
    size_t len;
    path_of(f, "manifest.json", path, sizeof path);
    char *m = slurp(path, &len);
    char *at = strstr(m, from);
    assert_non_null(at);
    size_t n = strlen(m) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - m), m, to, at + strlen(from));
    spit(path, out, strlen(out));
    free(m);
    free(out);
}

static void expect_load_error(const fixture *f, const char *needle)
{
    zs_checkpoint c;
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_load(f->dir, &c, &err), -1);
    print_message("%s\n", err.msg);
    if (!strstr(err.msg, needle))
        fail_msg("expected \"%s\" in: %s", needle, err.msg);
}

static void round_trip(void **state)
{
    fixture *f = *state;
    zs_checkpoint c;
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_load(f->dir, &c, &err), 0);
    assert_string_equal(c.case_name, "unit");
    assert_string_equal(c.precision, "fp16");
    assert_true(c.seed == 18446744073709551615ull);
    assert_int_equal(c.world, 2);
    assert_int_equal(c.stage, 2);
    assert_int_equal(c.numel, 9);
    assert_int_equal(c.part_len, 5);
    assert_int_equal(c.global_steps, 7);
    assert_int_equal(c.applied_steps, 5);
    assert_true(c.scaler.cur_scale == 32768.0);
    assert_int_equal(c.scaler.last_overflow_iter, 4);
    assert_int_equal(c.scaler.cur_hysteresis, 1);
    assert_int_equal(c.n_state, 2);
    assert_string_equal(c.state_names[1], "exp_avg_sq");
    assert_string_equal(c.config_json, "{\"zero_optimization\":{\"stage\":2}}");
    for (int r = 0; r < 2; r++) {
        assert_memory_equal(c.master[r], f->c.master[r], 5 * sizeof(float));
        assert_memory_equal(c.state[1][r], f->c.state[1][r], 5 * sizeof(float));
    }
    zs_ckpt_free(&c);
}

static void not_a_directory_or_no_manifest(void **state)
{
    fixture *f = *state;
    zs_checkpoint c;
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_load("/no/such/checkpoint", &c, &err), -1);
    assert_non_null(strstr(err.msg, "not a checkpoint directory"));
    char path[128];
    path_of(f, "manifest.json", path, sizeof path);
    remove(path);
    expect_load_error(f, "no manifest.json (an interrupted save writes it last)");
}

static void missing_shard(void **state)
{
    fixture *f = *state;
    char path[128];
    path_of(f, "rank1.safetensors", path, sizeof path);
    remove(path);
    expect_load_error(f, "shard of rank 1 is missing");
}

static void modified_shard(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    path_of(f, "rank0.safetensors", path, sizeof path);
    char *b = slurp(path, &len);
    b[len - 3] ^= 0x40;   /* one flipped bit in the last float */
    spit(path, b, len);
    free(b);
    expect_load_error(f, "does not match the manifest's");
}

static void truncated_shard(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    path_of(f, "rank0.safetensors", path, sizeof path);
    char *b = slurp(path, &len);
    spit(path, b, len - 4);
    free(b);
    expect_load_error(f, "the shard is truncated or from another checkpoint");
}

static void shards_swapped(void **state)
{
    fixture *f = *state;   /* rank 1's file under rank 0's name, with a manifest updated to match it */
    char p0[128], p1[128], hex0[72], hex1[72];
    size_t len;
    path_of(f, "rank0.safetensors", p0, sizeof p0);
    path_of(f, "rank1.safetensors", p1, sizeof p1);
    char *b1 = slurp(p1, &len);
    spit(p0, b1, len);
    free(b1);
    size_t mlen;
    char mpath[128];
    path_of(f, "manifest.json", mpath, sizeof mpath);
    char *m = slurp(mpath, &mlen);
    char *s0 = strstr(m, "\"sha256\""), *s1 = s0 ? strstr(s0 + 1, "\"sha256\"") : NULL;
    assert_non_null(s1);
    snprintf(hex0, sizeof hex0, "%.64s", strchr(s0 + 8, '"') + 1);
    snprintf(hex1, sizeof hex1, "%.64s", strchr(s1 + 8, '"') + 1);
    free(m);
    edit_manifest(f, hex0, hex1);
    expect_load_error(f, "shard metadata (rank, world_size, global_steps) does not match the manifest");
}

static void manifest_world_disagrees(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"world_size\":\t2", "\"world_size\":\t3");
    expect_load_error(f, "\"shards\" lists 2 file(s) for world_size 3");
}

static void manifest_syntax_error_has_line_and_column(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"stage\":\t2,", "\"stage\":\t2,,");
    expect_load_error(f, "invalid JSON at line");
}

static void manifest_missing_key(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"applied_steps\"", "\"applied\"");
    expect_load_error(f, "missing key \"applied_steps\"");
}

static void manifest_counters_inconsistent(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"skipped_steps\":\t2", "\"skipped_steps\":\t1");
    expect_load_error(f, "!= global_steps");
}

static void manifest_bad_values(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"fp16\"", "\"fp8\"");
    expect_load_error(f, "precision \"fp8\" is not fp32, fp16 or bf16");
}

static void manifest_wrong_format(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"format_version\":\t1", "\"format_version\":\t2");
    expect_load_error(f, "format_version 2 is not one this build reads");
}

static void non_finite_values_are_refused(void **state)
{
    fixture *f = *state;
    zs_ckpt_remove(f->dir);
    f->c.state[1][1][3] = NAN;
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_save(&f->c, f->dir, &err), 0);
    expect_load_error(f, "tensor \"exp_avg_sq\" holds a non-finite value (nan) at element 3");
}

static void shard_partition_length_disagrees(void **state)
{
    fixture *f = *state;
    edit_manifest(f, "\"partition_length\":\t5", "\"partition_length\":\t6");
    expect_load_error(f, "must be F32 of shape [6]");
}

static void save_into_a_file_path_fails_cleanly(void **state)
{
    fixture *f = *state;
    char path[128];
    path_of(f, "manifest.json", path, sizeof path);
    zs_error err = {{0}};
    assert_int_equal(zs_ckpt_save(&f->c, path, &err), -1);
    assert_non_null(strstr(err.msg, "exists and is not a directory"));
}

/* The golden state of a real fp16 fixture: counters from its skipped flags, the scaler it recorded. */
static void from_trace_of_a_fixture(void **state)
{
    (void)state;
    const char *path = "fixtures/fp16_walk_seed000/w2.safetensors";
    zs_st_file t = {0};
    zs_error err = {{0}};
    assert_int_equal(zs_st_read_file(path, &t, &err), 0);
    zs_checkpoint c;
    int skipped = 0;
    for (int64_t k = 1; zs_ckpt_from_trace(&t, path, k, &c, &err) == 0; k++) {
        char name[64];
        snprintf(name, sizeof name, "step%lld/skipped", (long long)k);
        skipped += *(const uint8_t *)zs_st_find(&t, name)->data;
        assert_int_equal(c.global_steps, k);
        assert_int_equal(c.skipped_steps, skipped);
        assert_int_equal(c.world, 2);
        snprintf(name, sizeof name, "step%lld/loss_scale", (long long)k + 1);
        const zs_st_tensor *next = zs_st_find(&t, name);
        if (next)   /* the scale after step k is the one step k+1 used */
            assert_true(c.scaler.cur_scale == *(const double *)next->data);
        snprintf(name, sizeof name, "step%lld/rank1/master", (long long)k);
        assert_memory_equal(c.master[1], zs_st_find(&t, name)->data, c.part_len * sizeof(float));
        zs_ckpt_free(&c);
    }
    assert_non_null(strstr(err.msg, "has no step"));
    assert_true(skipped > 0);   /* the walk overflows: the counters were really exercised */
    assert_int_equal(zs_ckpt_from_trace(&t, path, 0, &c, &err), -1);
    assert_non_null(strstr(err.msg, "k >= 1"));
    /* an fp16 trace without the scaler's state cannot be restarted */
    for (size_t i = 0; i < t.count; i++)
        if (strstr(t.tensors[i].name, "/loss_scaler"))
            t.tensors[i].name[0] = 'X';
    assert_int_equal(zs_ckpt_from_trace(&t, path, 1, &c, &err), -1);
    assert_non_null(strstr(err.msg, "needs \"step1/loss_scaler\""));
    zs_st_file_free(&t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(round_trip),
        T(not_a_directory_or_no_manifest),
        T(missing_shard),
        T(modified_shard),
        T(truncated_shard),
        T(shards_swapped),
        T(manifest_world_disagrees),
        T(manifest_syntax_error_has_line_and_column),
        T(manifest_missing_key),
        T(manifest_counters_inconsistent),
        T(manifest_bad_values),
        T(manifest_wrong_format),
        T(non_finite_values_are_refused),
        T(shard_partition_length_disagrees),
        T(save_into_a_file_path_fails_cleanly),
        cmocka_unit_test(from_trace_of_a_fixture),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
