/* JUnit XML for CI dashboards: one <testcase> per (case, world), classname "zerospec.<case>",
 * name "w<N>"; a failure's message is its first failure line, a skip's its reason. */
#include <stdio.h>

#include "zs_check.h"

/* XML 1.0 text/attribute escaping; control characters other than tab/newline are not allowed in
 * XML 1.0 at all, so they become '?'. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c, f); break;
        }
    }
}

static void put_testcase(FILE *f, const zs_run_record *r)
{
    fputs("    <testcase classname=\"zerospec.", f);
    put_escaped(f, r->case_name);
    fprintf(f, "\" name=\"w%d\" time=\"%.3f\"", r->world, r->seconds);
    if (r->verdict == ZS_PASS) {
        fputs("/>\n", f);
        return;
    }
    const char *tag = r->verdict == ZS_SKIP ? "skipped" : "failure";
    fprintf(f, ">\n      <%s message=\"", tag);
    put_escaped(f, r->reason);
    fputs("\">", f);
    put_escaped(f, r->case_path);
    fprintf(f, " at world %d: ", r->world);
    put_escaped(f, r->reason);
    fprintf(f, "</%s>\n    </testcase>\n", tag);
}

int zs_write_junit(const char *path, const zs_run_record *records, size_t n, zs_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return zs_fail(err, "%s: cannot write the JUnit report", path);
    size_t failed = 0, skipped = 0;
    double seconds = 0;
    for (size_t i = 0; i < n; i++) {
        failed += records[i].verdict == ZS_FAIL;
        skipped += records[i].verdict == ZS_SKIP;
        seconds += records[i].seconds;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites name=\"zs-check\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", n,
            failed, skipped, seconds);
    fprintf(f, "  <testsuite name=\"zerospec.conformance\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
               "time=\"%.3f\">\n", n, failed, skipped, seconds);
    for (size_t i = 0; i < n; i++)
        put_testcase(f, &records[i]);
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (ferror(f) | fclose(f))
        return zs_fail(err, "%s: cannot write the JUnit report", path);
    return 0;
}
