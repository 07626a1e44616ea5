/* Shared by the step-level plugin cases (plugin_onebit.c, plugin_muon.c): element-wise judgement
 * against a per-element bound — each output element has its own allowed error, derived from the
 * golden data (a norm's scale, a matrix's largest element), and sign bits may be required exact —
 * and the walk over a file's named cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zs_check.h"

int zs_judge_element(zs_bound_judge *j, const char *where, size_t i, double got, double want, double bound,
                     int sign_exact)
{
    double err = fabs(got - want);
    int sign_ok = !sign_exact || !signbit(got) == !signbit(want);
    int ok = isfinite(got) && err <= bound && sign_ok;
    if (isfinite(got))
        j->worst = fmax(j->worst, bound > 0 ? err / bound : err > 0 ? INFINITY : 0);
    if (!ok && !j->failed++)
        snprintf(j->detail, sizeof j->detail, "%s[%zu]: got %.9g (%a), expected %.9g (%a), allowed error %.3g%s", where, i,
                 got, got, want, want, bound, sign_ok ? "" : "; the sign bit differs");
    return ok ? 0 : -1;
}

void zs_plugin_each_case(zs_plugin_run *r, const char *kase, const zs_st_file *f, const char *list_key, const char *prefix,
                         int has_entry, int in_struct, const char *entry_name,
                         zs_plugin_case_fn check)
{
    const char *list = zs_st_meta(f, list_key);
    char label[160], detail[128];
    if (!list)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, "malformed golden file (case lists)");
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        p += len + (p[len] == ' ');
        snprintf(label, sizeof label, "%s%s%s %s", kase, prefix ? " " : "", prefix ? prefix : "", name);
        snprintf(detail, sizeof detail, "(no %s entry%s)", entry_name, in_struct ? "" : ": the plugin predates it");
        if (!has_entry)
            zs_plugin_verdict(r, label, ZS_PLUGIN_UNSUPPORTED, detail);
        else
            check(r, label, f, name);
    }
}

