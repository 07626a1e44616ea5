/* zs-check: the conformance checker. `diff` compares an implementation's trace with a golden one;
 * `run` drives an implementation over the suite's cases and diffs every result. docs/conformance.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zs_check.h"

static const char usage[] =
    "usage: zs-check diff GOT.safetensors EXPECTED.safetensors [GOT2 EXPECTED2 ...] [options]\n"
    "       zs-check run --impl CMD --cases DIR_OR_FILE... --fixtures DIR [options]\n"
    "       zs-check plugin LIB.so [--ops DIR]   (a plugin's kernels on the op-level cases, default fixtures/ops)\n"
    "\n"
    "diff compares traces tensor by tensor: GOT is the implementation under test, EXPECTED the golden\n"
    "trace. run executes, for every case and world size N it lists,\n"
    "    [LAUNCHER] CMD --case FILE --world N --out OUT\n"
    "and diffs OUT with FIXTURES/<case>/wN.safetensors (missing fixture: skipped).\n"
    "\n"
    "  --tolerance-class C  fp32, fp16, bf16 or exact (bit-identical); default: the golden trace's precision\n"
    "  --max-report N       failing tensors reported in full per comparison (default 10)\n"
    "  --all                report every tensor, passing ones too\n"
    "  --json FILE          write machine-readable results\n"
    "run only:\n"
    "  --impl CMD           the implementation's command (split on spaces)\n"
    "  --cases PATH...      case files, or directories of *.json case files\n"
    "  --fixtures DIR       golden traces: DIR/<case>/w<N>.safetensors\n"
    "  --launcher CMD       e.g. \"mpirun -np {N} --allow-run-as-root --oversubscribe\" ({N} = world size)\n"
    "  --worlds LIST        only these world sizes, e.g. 1,2\n"
    "  --timeout S          seconds per run before its process group is killed (default 300)\n"
    "  --junit FILE         write JUnit XML (one testcase per case and world size)\n"
    "  --keep DIR           keep every run's trace and stdout/stderr under DIR/<case>/\n"
    "  --fail-fast          stop after the first failed run\n"
    "  --teacher-forcing    restart the implementation from the golden state before every step\n"
    "                       (contract: IMPL ... --steps K --resume CKPT_DIR), so errors cannot compound\n"
    "  -h, --help           this help\n"
    "\n"
    "Last line: \"N passed, N failed, N skipped\" (comparisons, i.e. file pairs or (case, world) runs).\n"
    "Exit status: 0 all passed (or skipped), 1 something failed, 2 bad usage or unreadable input.\n";

typedef struct cli {
    const char *command;
    char **positional;                    /* diff: file pairs; run: --cases arguments */
    int n_positional;
    const char *json, *junit, *keep, *fixtures, *impl, *launcher;
    int class_override, fail_fast, teacher_forcing;
    zs_report_options report;
    double timeout;
    int worlds[64], n_worlds;
} cli;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("zs-check: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see zs-check --help)\n", stderr);
    return -1;
}

static int parse_worlds(const char *s, cli *c)
{
    const char *p = s;
    c->n_worlds = 0;
    while (*p) {
        char *end;
        errno = 0;
        long w = strtol(p, &end, 10);
        if (errno || end == p || w < 1 || w > 64 || (*end && *end != ',') || c->n_worlds == 64)
            return usage_error("--worlds expects a comma-separated list of integers 1..64, got '%s'", s);
        c->worlds[c->n_worlds++] = (int)w;
        p = *end ? end + 1 : end;
    }
    return c->n_worlds ? 0 : usage_error("--worlds expects a comma-separated list of integers 1..64, got '%s'", s);
}

static int parse_number(const char *flag, const char *s, double lo, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo)) {
        fprintf(stderr, "zs-check: error: %s expects a number >= %g, got '%s' (see zs-check --help)\n", flag, lo, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_option(cli *c, char **argv, int argc, int *i)
{
    const char *a = argv[*i];
    static const char *const shared[] = {"--json", "--max-report", "--tolerance-class"};
    static const char *const run_only[] = {"--impl", "--cases", "--fixtures", "--launcher", "--worlds", "--timeout",
                                           "--junit", "--keep"};
    int known = 0, is_run = !strcmp(c->command, "run");
    for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++)
        known |= !strcmp(a, shared[k]);
    for (size_t k = 0; k < sizeof run_only / sizeof run_only[0]; k++)
        if (!strcmp(a, run_only[k])) {
            if (!is_run)
                return usage_error("%s is an option of zs-check run, not diff", a);
            known = 1;
        }
    if (!strcmp(a, "--all")) {
        c->report.all = 1;
        return 0;
    }
    if (!strcmp(a, "--fail-fast") || !strcmp(a, "--teacher-forcing")) {
        if (!is_run)
            return usage_error("%s is an option of zs-check run, not diff", a);
        *(a[2] == 'f' ? &c->fail_fast : &c->teacher_forcing) = 1;
        return 0;
    }
    if (!known)
        return usage_error("unknown argument '%s'", a);
    if (*i + 1 >= argc)
        return usage_error("%s needs a value", a);
    const char *v = argv[++*i];
    double num;
    if (!strcmp(a, "--json")) c->json = v;
    else if (!strcmp(a, "--junit")) c->junit = v;
    else if (!strcmp(a, "--keep")) c->keep = v;
    else if (!strcmp(a, "--fixtures")) c->fixtures = v;
    else if (!strcmp(a, "--impl")) c->impl = v;
    else if (!strcmp(a, "--launcher")) c->launcher = v;
    else if (!strcmp(a, "--worlds")) return parse_worlds(v, c);
    else if (!strcmp(a, "--timeout")) {
        if (parse_number(a, v, 0.001, &c->timeout))
            return -1;
    } else if (!strcmp(a, "--max-report")) {
        if (parse_number(a, v, 0, &num))
            return -1;
        c->report.max_report = num > 1e6 ? 1000000 : (int)num;
    } else if (!strcmp(a, "--tolerance-class")) {
        zs_tol_class tc;
        if (zs_tol_class_parse(v, &tc))
            return usage_error("--tolerance-class expects fp32, fp16, bf16 or exact, got '%s'", v);
        c->class_override = (int)tc;
    } else if (!strcmp(a, "--cases")) {
        /* every following argument up to the next option */
        c->positional = &argv[*i];
        for (c->n_positional = 0; *i < argc && strncmp(argv[*i], "--", 2); ++*i)
            c->n_positional++;
        --*i;
    }
    return 0;
}

static int parse_args(int argc, char **argv, cli *c)
{
    *c = (cli){.command = argv[1], .class_override = -1, .report = {.max_report = 10}, .timeout = 300};
    char **files = calloc((size_t)argc, sizeof *files);
    if (!files)
        return usage_error("%s", "out of memory");
    int n_files = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            free(files);
            exit(0);
        }
        if (!strncmp(argv[i], "--", 2)) {
            if (parse_option(c, argv, argc, &i)) {
                free(files);
                return -1;
            }
        } else if (!strcmp(c->command, "diff")) {
            files[n_files++] = argv[i];
        } else {
            free(files);
            return usage_error("unexpected argument '%s'", argv[i]);
        }
    }
    if (!strcmp(c->command, "diff")) {
        c->positional = files;   /* freed by main */
        c->n_positional = n_files;
    } else {
        free(files);
    }
    return 0;
}

static void print_totals(size_t passed, size_t failed, size_t skipped)
{
    printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
}

static int cmd_diff(const cli *c)
{
    if (c->n_positional < 2 || c->n_positional % 2)
        return usage_error("%s", "diff needs pairs of files: GOT.safetensors EXPECTED.safetensors"), 2;
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "results");
    size_t passed = 0, failed = 0;
    int status = 0;
    for (int i = 0; i < c->n_positional && status == 0; i += 2) {
        const char *got = c->positional[i], *expected = c->positional[i + 1];
        zs_diff_result r;
        zs_error err = {{0}};
        if (zs_diff_paths(got, expected, c->class_override, 0, &r, &err)) {
            fprintf(stderr, "zs-check: error: %s\n", err.msg);
            status = 2;
            break;
        }
        char line[1024];
        printf("== %s (implementation) vs %s (golden)\n", got, expected);
        zs_report_diff(stdout, &r, &c->report);
        zs_diff_first_failure(&r, line, sizeof line);
        printf("%s %s vs %s%s%s\n", r.pass ? "PASS" : "FAIL", got, expected, r.pass ? "" : ": ", line);
        passed += r.pass;
        failed += !r.pass;
        cJSON *o = zs_diff_result_json(&r);
        cJSON_AddStringToObject(o, "got_file", got);
        cJSON_AddStringToObject(o, "expected_file", expected);
        cJSON_AddItemToArray(list, o);
        zs_diff_result_free(&r);
    }
    if (status == 0) {
        print_totals(passed, failed, 0);
        cJSON_AddNumberToObject(root, "passed", (double)passed);
        cJSON_AddNumberToObject(root, "failed", (double)failed);
        cJSON_AddNumberToObject(root, "skipped", 0);
        zs_error err = {{0}};
        if (c->json && zs_write_json(c->json, root, &err)) {
            fprintf(stderr, "zs-check: error: %s\n", err.msg);
            status = 2;
        } else {
            status = failed ? 1 : 0;
        }
    }
    cJSON_Delete(root);
    return status;
}

static int write_run_reports(const cli *c, const zs_run_record *recs, size_t n)
{
    zs_error err = {{0}};
    if (c->junit && zs_write_junit(c->junit, recs, n, &err))
        return fprintf(stderr, "zs-check: error: %s\n", err.msg), -1;
    if (c->json) {
        cJSON *root = zs_run_records_json(recs, n);
        int rc = zs_write_json(c->json, root, &err);
        cJSON_Delete(root);
        if (rc)
            return fprintf(stderr, "zs-check: error: %s\n", err.msg), -1;
    }
    return 0;
}

static int cmd_run(const cli *c)
{
    if (!c->impl || !c->n_positional || !c->fixtures)
        return usage_error("%s", "run needs --impl CMD, --cases DIR_OR_FILE... and --fixtures DIR"), 2;
    zs_run_options o = {.fixtures = c->fixtures, .keep_dir = c->keep, .n_worlds = c->n_worlds,
                        .timeout_s = c->timeout, .class_override = c->class_override, .fail_fast = c->fail_fast,
                        .teacher_forcing = c->teacher_forcing, .report = c->report,
                        .log = stdout};
    memcpy(o.worlds, c->worlds, sizeof o.worlds);
    o.impl = zs_split_command(c->impl);
    o.launcher = c->launcher ? zs_split_command(c->launcher) : NULL;
    char **files = NULL;
    int n_files = 0, status = 2;
    zs_run_record *recs = NULL;
    size_t n = 0;
    zs_error err = {{0}};
    if (!o.impl || !o.impl[0] || (c->launcher && (!o.launcher || !o.launcher[0])))
        usage_error("%s", "--impl and --launcher need a command");
    else if (zs_collect_case_files(c->positional, c->n_positional, &files, &n_files, &err) ||
             zs_run_suite(&o, files, n_files, &recs, &n, &err))
        fprintf(stderr, "zs-check: error: %s\n", err.msg);
    else {
        size_t counts[3] = {0};
        for (size_t i = 0; i < n; i++)
            counts[recs[i].verdict]++;
        print_totals(counts[ZS_PASS], counts[ZS_FAIL], counts[ZS_SKIP]);
        status = write_run_reports(c, recs, n) ? 2 : counts[ZS_FAIL] ? 1 : 0;
    }
    zs_run_records_free(recs, n);
    for (int i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    zs_free_argv(o.impl);
    zs_free_argv(o.launcher);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "plugin"))
        return zs_check_plugin_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "diff") && strcmp(argv[1], "run")) {
        usage_error("unknown command '%s' (commands: diff, run, plugin)", argv[1]);
        return 2;
    }
    cli c;
    if (parse_args(argc, argv, &c))
        return 2;
    int status = !strcmp(c.command, "diff") ? cmd_diff(&c) : cmd_run(&c);
    if (!strcmp(c.command, "diff"))
        free(c.positional);
    return status;
}
