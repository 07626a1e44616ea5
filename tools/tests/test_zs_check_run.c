/* `zs-check run` (tools/zs_check/run.c, spawn.c, junit.c) with a fake implementation
 * (tools/tests/data/fake_impl.sh): pass, mismatch, non-zero exit, timeout, no output, missing
 * fixture (skipped), the launcher's {N}, --worlds, --keep, and the JUnit and JSON reports. */
#define _XOPEN_SOURCE 700   /* mkdtemp, mkdir, nftw */

#include <ftw.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zs_check_test_util.h"

#define FAKE ZS_SOURCE_DIR "/tools/tests/data/fake_impl.sh"

static char root[64];
static char cases_dir[128], fixtures[128], impl_out[128], case_file[192];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* root/cases/t_case.json (worlds 1 and 2), root/fixtures/t_case/w1.safetensors only (w2 is
 * skipped), root/impl/ for what the fake implementation copies. */
static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/zs_check_run.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(cases_dir, sizeof cases_dir, "%s/cases", root);
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", root);
    snprintf(impl_out, sizeof impl_out, "%s/impl", root);
    snprintf(case_file, sizeof case_file, "%s/t_case.json", cases_dir);
    char dir[192];
    snprintf(dir, sizeof dir, "%s/t_case", fixtures);
    if (mkdir(cases_dir, 0755) || mkdir(fixtures, 0755) || mkdir(dir, 0755) || mkdir(impl_out, 0755))
        return -1;
    write_text(case_file, "{\"name\": \"t_case\", \"world_sizes\": [1, 2], \"steps\": 1,\n"
                          " \"ds_config\": {\"train_batch_size\": 2, \"optimizer\": {\"type\": \"Adam\"}}}\n");
    test_trace t = tt_default();
    char path[256];
    snprintf(path, sizeof path, "%s/w1.safetensors", dir);
    tt_write(&t, path);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);   /* deepest first */
}

/* What the fake implementation will hand back for world 1. */
static void impl_writes(const test_trace *t)
{
    char path[256];
    snprintf(path, sizeof path, "%s/w1.safetensors", impl_out);
    tt_write(t, path);
}

typedef struct suite_run {
    zs_run_record *recs;
    size_t n;
    char *log;
} suite_run;

static suite_run run_suite(const char *mode, const char *launcher, const char *worlds, double timeout,
                           const char *keep)
{
    char impl[512];
    snprintf(impl, sizeof impl, "sh %s %s %s", FAKE, mode, impl_out);
    zs_run_options o = {.fixtures = fixtures, .keep_dir = keep, .timeout_s = timeout, .class_override = -1,
                        .report = {.max_report = 10}, .log = tmpfile()};
    assert_non_null(o.log);
    o.impl = zs_split_command(impl);
    o.launcher = launcher ? zs_split_command(launcher) : NULL;
    if (worlds)
        o.worlds[o.n_worlds++] = atoi(worlds);
    char *files[] = {case_file};
    suite_run r = {0};
    zs_error err = {{0}};
    if (zs_run_suite(&o, files, 1, &r.recs, &r.n, &err))
        fail_msg("zs_run_suite: %s", err.msg);
    r.log = tt_read_stream(o.log);
    fclose(o.log);
    zs_free_argv(o.impl);
    zs_free_argv(o.launcher);
    return r;
}

static void suite_free(suite_run *r)
{
    zs_run_records_free(r->recs, r->n);
    free(r->log);
}

static void contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

static void matching_output_passes_and_missing_fixture_is_skipped(void **state)
{
    (void)state;
    test_trace t = tt_default();
    impl_writes(&t);
    suite_run r = run_suite("copy", NULL, NULL, 30, NULL);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.recs[0].world, 1);
    assert_int_equal(r.recs[0].verdict, ZS_PASS);
    assert_int_equal(r.recs[1].world, 2);
    assert_int_equal(r.recs[1].verdict, ZS_SKIP);
    contains(r.recs[1].reason, "no golden fixture");
    contains(r.recs[1].reason, "t_case/w2.safetensors");
    contains(r.log, "PASS t_case w1 (");
    contains(r.log, "SKIP t_case w2: no golden fixture");
    suite_free(&r);
}

static void mismatching_output_fails_with_the_first_mismatch(void **state)
{
    (void)state;
    test_trace t = tt_default();
    t.loss = 3.5f;
    impl_writes(&t);
    suite_run r = run_suite("copy", NULL, "1", 30, NULL);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.recs[0].verdict, ZS_FAIL);
    assert_true(r.recs[0].has_diff);
    contains(r.recs[0].reason, "first mismatch at step 1, tensor loss, index 0: got 3.5");
    contains(r.log, "FAIL t_case w1: first mismatch");
    contains(r.log, "worst/tol");   /* the report body follows a failure */
    suite_free(&r);
}

static void failing_implementation_shows_its_stderr(void **state)
{
    (void)state;
    suite_run r = run_suite("fail", NULL, "1", 30, NULL);
    assert_int_equal(r.recs[0].verdict, ZS_FAIL);
    assert_string_equal(r.recs[0].reason, "the implementation exited with status 3");
    contains(r.log, "| fake_impl: boom at world 1");
    suite_free(&r);
}

static void timeout_kills_the_process_group(void **state)
{
    (void)state;
    suite_run r = run_suite("sleep", NULL, "1", 0.3, NULL);
    assert_int_equal(r.recs[0].verdict, ZS_FAIL);
    contains(r.recs[0].reason, "timed out after 0.3 s");
    assert_true(r.recs[0].seconds < 5);
    suite_free(&r);
}

static void no_output_fails_with_the_readers_message(void **state)
{
    (void)state;
    suite_run r = run_suite("silent", NULL, "1", 30, NULL);
    assert_int_equal(r.recs[0].verdict, ZS_FAIL);
    assert_false(r.recs[0].has_diff);
    contains(r.recs[0].reason, "w1.safetensors");
    suite_free(&r);
}

static void unstartable_command_fails(void **state)
{
    (void)state;
    zs_run_options o = {.fixtures = fixtures, .timeout_s = 5, .class_override = -1, .log = tmpfile()};
    o.impl = zs_split_command("/no/such/implementation");
    char *files[] = {case_file};
    zs_run_record *recs;
    size_t n;
    zs_error err = {{0}};
    assert_int_equal(zs_run_suite(&o, files, 1, &recs, &n, &err), 0);
    assert_int_equal(recs[0].verdict, ZS_FAIL);
    contains(recs[0].reason, "/no/such/implementation");
    zs_run_records_free(recs, n);
    zs_free_argv(o.impl);
    fclose(o.log);
}

/* --fail-fast: nothing runs after the first failure (w2 would otherwise be recorded, as skipped). */
static void fail_fast_stops_at_the_first_failure(void **state)
{
    (void)state;
    char impl[512];
    snprintf(impl, sizeof impl, "sh %s fail %s", FAKE, impl_out);
    zs_run_options o = {.fixtures = fixtures, .timeout_s = 30, .class_override = -1, .fail_fast = 1,
                        .log = tmpfile()};
    o.impl = zs_split_command(impl);
    char *files[] = {case_file, case_file};
    zs_run_record *recs;
    size_t n;
    zs_error err = {{0}};
    assert_int_equal(zs_run_suite(&o, files, 2, &recs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].verdict, ZS_FAIL);
    char *log = tt_read_stream(o.log);
    contains(log, "stopping at the first failure (--fail-fast)");
    free(log);
    zs_run_records_free(recs, n);
    zs_free_argv(o.impl);
    fclose(o.log);
}

/* The launcher's {N} becomes the world size (the fake checks it against --world); --keep keeps
 * the trace and the logs. */
static void launcher_and_keep(void **state)
{
    (void)state;
    test_trace t = tt_default();
    impl_writes(&t);
    char keep[192], path[256];
    snprintf(keep, sizeof keep, "%s/kept", root);
    suite_run r = run_suite("copy", "env ZS_FAKE_LAUNCH_N={N}", "1", 30, keep);
    assert_int_equal(r.recs[0].verdict, ZS_PASS);
    snprintf(path, sizeof path, "%s/t_case/w1.safetensors", keep);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/t_case/w1.stderr", keep);
    assert_int_equal(access(path, R_OK), 0);
    suite_free(&r);

    r = run_suite("copy", "env ZS_FAKE_LAUNCH_N=9{N}", "1", 30, NULL);   /* 91 != 1: the fake refuses */
    assert_int_equal(r.recs[0].verdict, ZS_FAIL);
    contains(r.log, "launcher said 91 ranks");
    suite_free(&r);
}

static void bad_case_file_is_an_input_error(void **state)
{
    (void)state;
    char bad[192];
    snprintf(bad, sizeof bad, "%s/bad.json", root);
    write_text(bad, "{\"name\": \"x\"}");
    zs_run_options o = {.fixtures = fixtures, .timeout_s = 5, .class_override = -1, .log = stdout};
    o.impl = zs_split_command("true");
    char *files[] = {bad};
    zs_run_record *recs;
    size_t n;
    zs_error err = {{0}};
    assert_int_equal(zs_run_suite(&o, files, 1, &recs, &n, &err), -1);
    contains(err.msg, "ds_config");
    zs_run_records_free(recs, n);
    zs_free_argv(o.impl);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void junit_is_well_formed(void **state)
{
    (void)state;
    zs_run_record recs[3] = {
        {.case_name = "a", .world = 1, .verdict = ZS_PASS, .seconds = 0.5},
        {.case_name = "a", .world = 2, .verdict = ZS_FAIL, .reason = "step 1: got <1> & \"2\" \x01"},
        {.case_name = "b", .world = 4, .verdict = ZS_SKIP, .reason = "no golden fixture"},
    };
    char path[192];
    snprintf(path, sizeof path, "%s/junit.xml", root);
    zs_error err = {{0}};
    assert_int_equal(zs_write_junit(path, recs, 3, &err), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    char *xml = tt_read_stream(f);
    fclose(f);
    contains(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    contains(xml, "<testsuites name=\"zs-check\" tests=\"3\" failures=\"1\" skipped=\"1\"");
    contains(xml, "<testcase classname=\"zerospec.a\" name=\"w1\" time=\"0.500\"/>");
    contains(xml, "<testcase classname=\"zerospec.a\" name=\"w2\"");
    contains(xml, "<failure message=\"step 1: got &lt;1&gt; &amp; &quot;2&quot; ?\">");
    contains(xml, "<skipped message=\"no golden fixture\">");
    assert_int_equal(count(xml, "<testcase "), 3);
    assert_int_equal(count(xml, "<testsuite "), count(xml, "</testsuite>"));
    assert_int_equal(count(xml, "<testsuites "), count(xml, "</testsuites>"));
    assert_int_equal(count(xml, "<testcase ") - count(xml, "/>\n"), count(xml, "</testcase>"));
    assert_int_equal(count(xml, "<failure "), count(xml, "</failure>"));
    assert_int_equal(count(xml, "<"), count(xml, ">"));
    free(xml);
    assert_int_equal(zs_write_junit("/no/such/dir/junit.xml", recs, 3, &err), -1);
    contains(err.msg, "/no/such/dir/junit.xml");
}

static void json_reports_parse_back(void **state)
{
    (void)state;
    test_trace t = tt_default();
    t.grad[0] = NAN;
    impl_writes(&t);
    suite_run r = run_suite("copy", NULL, NULL, 30, NULL);
    cJSON *root_json = zs_run_records_json(r.recs, r.n);
    char path[192];
    snprintf(path, sizeof path, "%s/results.json", root);
    zs_error err = {{0}};
    assert_int_equal(zs_write_json(path, root_json, &err), 0);
    cJSON_Delete(root_json);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    char *text = tt_read_stream(f);
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "failed")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "skipped")->valueint, 1);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0);
    assert_string_equal(cJSON_GetObjectItem(first, "verdict")->valuestring, "FAIL");
    cJSON *diff = cJSON_GetObjectItem(first, "diff");
    cJSON *tensors = cJSON_GetObjectItem(diff, "tensors");
    cJSON *grad = NULL, *item;
    cJSON_ArrayForEach(item, tensors)
        if (!strcmp(cJSON_GetObjectItem(item, "name")->valuestring, "step1/rank0/grad"))
            grad = item;
    assert_non_null(grad);
    assert_string_equal(cJSON_GetObjectItem(grad, "status")->valuestring, "values");
    assert_int_equal(cJSON_GetObjectItem(grad, "nonfinite_mismatched")->valueint, 1);
    cJSON *m = cJSON_GetObjectItem(grad, "first_mismatch");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "got")));   /* NaN is written as null */
    assert_string_equal(cJSON_GetObjectItem(m, "got_text")->valuestring, "nan");
    cJSON_Delete(j);
    free(text);
    suite_free(&r);
}

static void commands_split_and_case_directories_expand(void **state)
{
    (void)state;
    char **argv = zs_split_command("  mpirun -np {N}\t--oversubscribe ");
    assert_string_equal(argv[0], "mpirun");
    assert_string_equal(argv[2], "{N}");
    assert_string_equal(argv[3], "--oversubscribe");
    assert_null(argv[4]);
    zs_free_argv(argv);

    char second[192];
    snprintf(second, sizeof second, "%s/a_first.json", cases_dir);
    write_text(second, "{}");
    char *args[] = {cases_dir, case_file};
    char **files;
    int n;
    zs_error err = {{0}};
    assert_int_equal(zs_collect_case_files(args, 2, &files, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(files[0], second);      /* directory entries in name order */
    assert_string_equal(files[1], case_file);
    assert_string_equal(files[2], case_file);
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
    remove(second);

    char *missing[] = {"/no/such/cases"};
    assert_int_equal(zs_collect_case_files(missing, 1, &files, &n, &err), -1);
    contains(err.msg, "/no/such/cases");
    char *empty[] = {impl_out};
    assert_int_equal(zs_collect_case_files(empty, 1, &files, &n, &err), -1);
    contains(err.msg, "no *.json case files");
    assert_null(files);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matching_output_passes_and_missing_fixture_is_skipped),
        cmocka_unit_test(mismatching_output_fails_with_the_first_mismatch),
        cmocka_unit_test(failing_implementation_shows_its_stderr),
        cmocka_unit_test(timeout_kills_the_process_group),
        cmocka_unit_test(no_output_fails_with_the_readers_message),
        cmocka_unit_test(unstartable_command_fails),
        cmocka_unit_test(fail_fast_stops_at_the_first_failure),
        cmocka_unit_test(launcher_and_keep),
        cmocka_unit_test(bad_case_file_is_an_input_error),
        cmocka_unit_test(junit_is_well_formed),
        cmocka_unit_test(json_reports_parse_back),
        cmocka_unit_test(commands_split_and_case_directories_expand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
