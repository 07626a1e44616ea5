/* zs-fast's command line (fast/cli.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

#define ARGV(...) ((char *[]){"zs-fast", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)))
#define PARSE(o, err, ...) zsf_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err))

static void test_full_command_line(void **state)
{
    (void)state;
    zsf_options o;
    zs_error err = {{0}};
    assert_int_equal(PARSE(&o, &err, "--case", "c.json", "--world", "4", "--out", "t.st", "--steps", "2",
                           "--backend", "mpi", "--bucket-size", "1000", "--quiet"),
                     0);
    assert_string_equal(o.case_path, "c.json");
    assert_null(o.config_path);
    assert_string_equal(o.out_path, "t.st");
    assert_int_equal(o.world, 4);
    assert_int_equal(o.steps, 2);
    assert_int_equal(o.backend, ZSF_BACKEND_MPI);
    assert_int_equal(o.bucket_elems, 1000);
    assert_true(o.quiet);
    assert_string_equal(zsf_backend_name(o.backend), "mpi");
}

static void test_defaults(void **state)
{
    (void)state;
    zsf_options o;
    zs_error err = {{0}};
    assert_int_equal(PARSE(&o, &err, "--config", "ds.json"), 0);
    assert_int_equal(o.world, 0);
    assert_int_equal(o.steps, -1);
    assert_int_equal(o.backend, ZSF_BACKEND_NCCL);
    assert_int_equal(o.bucket_elems, 0);
    assert_false(o.quiet);
}

static void expect_error(int rc, const zs_error *err, const char *fragment)
{
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err->msg, fragment));
}

static void test_errors_name_the_problem(void **state)
{
    (void)state;
    zsf_options o;
    zs_error err = {{0}};
    expect_error(PARSE(&o, &err, "--case", "c", "--frobnicate"), &err, "unknown argument '--frobnicate'");
    expect_error(PARSE(&o, &err, "--case"), &err, "--case needs a value");
    expect_error(PARSE(&o, &err, "--case", "c", "--world", "0"), &err, "--world expects an integer 1..4096");
    expect_error(PARSE(&o, &err, "--case", "c", "--world", "2x"), &err, "got '2x'");
    expect_error(PARSE(&o, &err, "--case", "c", "--steps", "-1"), &err, "--steps");
    expect_error(PARSE(&o, &err, "--case", "c", "--backend", "gloo"), &err, "nccl or mpi");
    expect_error(PARSE(&o, &err, "--world", "2"), &err, "exactly one of --case");
    expect_error(PARSE(&o, &err, "--case", "a", "--config", "b"), &err, "exactly one of --case");
}

static void test_help_wins(void **state)
{
    (void)state;
    zsf_options o;
    zs_error err = {{0}};
    assert_int_equal(PARSE(&o, &err, "--bogus-later-is-ignored", "--help"), -1);   /* left to right */
    assert_int_equal(PARSE(&o, &err, "-h", "--bogus"), 0);
    assert_true(o.help);
    assert_non_null(strstr(zsf_usage, "--backend"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_command_line), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_the_problem), cmocka_unit_test(test_help_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
