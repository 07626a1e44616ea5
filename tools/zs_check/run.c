/* `zs-check run`: for every case file and world size, run the implementation through the CLI
 * contract (docs/conformance.md)
 *     [launcher with {N} = world] IMPL --case FILE --world N --out OUT
 * and diff OUT against <fixtures>/<case name>/w<N>.safetensors. Case files are read with the
 * suite's own parser (zs_case_load), so a case zs-check accepts is one the reference accepts. */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp, mkdir */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zerospec/case.h"
#include "zerospec/checkpoint.h"
#include "zs_check.h"

/* ---- small helpers: argv building, case file lists ---- */

char **zs_split_command(const char *s)
{
    size_t len = strlen(s);
    char **argv = calloc(len / 2 + 2, sizeof *argv);   /* at most (len+1)/2 words */
    if (!argv)
        return NULL;
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t w = strcspn(p, " \t");
        if (!w)
            break;
        argv[n] = malloc(w + 1);
        if (!argv[n]) {
            zs_free_argv(argv);
            return NULL;
        }
        memcpy(argv[n], p, w);
        argv[n++][w] = '\0';
        p += w;
    }
    return argv;
}

void zs_free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char ***list, int *n, int *cap, const char *s)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        char **grown = realloc(*list, (size_t)c * sizeof **list);
        if (!grown)
            return -1;
        *list = grown;
        *cap = c;
    }
    return ((*list)[(*n)++] = dup_str(s)) ? 0 : -1;
}

static int add_directory(const char *dir, char ***files, int *n, int *cap, zs_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return zs_fail(err, "%s: cannot open the directory: %s", dir, strerror(errno));
    int first = *n, rc = 0;
    struct dirent *ent;
    char path[4096];
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len < 6 || strcmp(ent->d_name + len - 5, ".json"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        rc = push(files, n, cap, path);
    }
    closedir(d);
    if (rc)
        return zs_fail(err, "out of memory");
    if (*n == first)
        return zs_fail(err, "%s: no *.json case files in this directory", dir);
    qsort(*files + first, (size_t)(*n - first), sizeof **files, by_string);
    return 0;
}

int zs_collect_case_files(char *const *args, int n_args, char ***files, int *n_files, zs_error *err)
{
    int cap = 0;
    *files = NULL;
    *n_files = 0;
    for (int i = 0; i < n_args; i++) {
        struct stat st;
        int rc;
        if (stat(args[i], &st))
            rc = zs_fail(err, "%s: %s", args[i], strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = add_directory(args[i], files, n_files, &cap, err);
        else
            rc = push(files, n_files, &cap, args[i]) ? zs_fail(err, "out of memory") : 0;
        if (rc) {
            for (int k = 0; k < *n_files; k++)
                free((*files)[k]);
            free(*files);
            *files = NULL;
            *n_files = 0;
            return -1;
        }
    }
    return 0;
}

/* ---- one (case, world) ---- */

typedef struct work_paths {
    char dir[4096], out[4096], out_log[4096], err_log[4096];
} work_paths;

static int make_dir(const char *path, zs_error *err)
{
    if (mkdir(path, 0755) && errno != EEXIST)
        return zs_fail(err, "%s: cannot create the directory: %s", path, strerror(errno));
    return 0;
}

static int world_selected(const zs_run_options *o, int world)
{
    if (o->n_worlds == 0)
        return 1;
    for (int i = 0; i < o->n_worlds; i++)
        if (o->worlds[i] == world)
            return 1;
    return 0;
}

/* launcher (with {N} replaced) + impl + the contract's arguments. */
static char **build_argv(const zs_run_options *o, const char *case_path, int world, const char *out,
                         const char *const *extra)
{
    size_t nl = 0, ni = 0;
    while (o->launcher && o->launcher[nl])
        nl++;
    while (o->impl[ni])
        ni++;
    size_t nx = 0;
    while (extra && extra[nx])
        nx++;
    char **argv = calloc(nl + ni + nx + 7, sizeof *argv);
    if (!argv)
        return NULL;
    char w[16];
    snprintf(w, sizeof w, "%d", world);
    size_t n = 0;
    int ok = 1;
    for (size_t i = 0; i < nl && ok; i++) {
        const char *tok = o->launcher[i], *at = strstr(tok, "{N}");
        char buf[1024];
        if (at)
            snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - tok), tok, w, at + 3);
        ok = (argv[n++] = dup_str(at ? buf : tok)) != NULL;
    }
    const char *tail[] = {"--case", case_path, "--world", w, "--out", out};
    for (size_t i = 0; i < ni && ok; i++)
        ok = (argv[n++] = dup_str(o->impl[i])) != NULL;
    for (size_t i = 0; i < 6 && ok; i++)
        ok = (argv[n++] = dup_str(tail[i])) != NULL;
    for (size_t i = 0; i < nx && ok; i++)
        ok = (argv[n++] = dup_str(extra[i])) != NULL;
    if (!ok) {
        zs_free_argv(argv);
        return NULL;
    }
    return argv;
}

static void print_stderr_tail(const zs_run_options *o, const work_paths *p)
{
    if (o->keep_dir)
        fprintf(o->log, "  last lines of the implementation's stderr (%s):\n", p->err_log);
    else
        fprintf(o->log, "  last lines of the implementation's stderr (--keep DIR keeps all of it):\n");
    zs_print_file_tail(o->log, p->err_log, 10, "    | ");
}

/* Runs the implementation (with `extra` arguments after the contract's) and diffs its trace up to
 * last_step (0: all); fills rec's verdict, reason and diff. */
static void run_one(const zs_run_options *o, const char *fixture, const work_paths *p, const char *const *extra,
                    long last_step, zs_run_record *rec)
{
    zs_error err = {{0}};
    zs_proc_result pr;
    remove(p->out);   /* never diff a stale trace from an earlier run */
    char **argv = build_argv(o, rec->case_path, rec->world, p->out, extra);
    if (!argv) {
        snprintf(rec->reason, sizeof rec->reason, "out of memory");
        return;
    }
    int rc = zs_spawn_wait(argv, p->out_log, p->err_log, o->timeout_s, &pr, &err);
    zs_free_argv(argv);
    rec->seconds += pr.seconds;
    if (rc) {
        snprintf(rec->reason, sizeof rec->reason, "%s", err.msg);
        return;
    }
    if (pr.timed_out || pr.signal || pr.exit_code) {
        if (pr.timed_out)
            snprintf(rec->reason, sizeof rec->reason,
                     "timed out after %g s (the implementation's process group was killed)", o->timeout_s);
        else if (pr.signal)
            snprintf(rec->reason, sizeof rec->reason, "the implementation was killed by signal %d", pr.signal);
        else
            snprintf(rec->reason, sizeof rec->reason, "the implementation exited with status %d", pr.exit_code);
        return;
    }
    if (zs_diff_paths(p->out, fixture, o->class_override, last_step, &rec->diff, &err)) {
        snprintf(rec->reason, sizeof rec->reason, "%s", err.msg);
        return;
    }
    rec->has_diff = 1;
    if (rec->diff.pass)
        rec->verdict = ZS_PASS;
    else
        zs_diff_first_failure(&rec->diff, rec->reason, sizeof rec->reason);
}

/* Teacher forcing: step 1 from the initial state, then for k = 1..steps-1 a checkpoint of the golden
 * state after step k (zs_ckpt_from_trace) and one step from it (--resume DIR --steps k+1), so an error
 * in one step cannot compound into the next. The record keeps the first failing step's diff. */
static void run_teacher_forced(const zs_run_options *o, const char *fixture, const work_paths *p, int steps,
                               zs_run_record *rec)
{
    zs_st_file golden = {0};
    zs_error err = {{0}};
    if (zs_st_read_file(fixture, &golden, &err)) {
        snprintf(rec->reason, sizeof rec->reason, "%s", err.msg);
        return;
    }
    if (steps > 1 && !zs_ckpt_trace_restartable(&golden, &err)) {
        rec->verdict = ZS_SKIP;
        snprintf(rec->reason, sizeof rec->reason, "teacher forcing does not apply: %s", err.msg);
        zs_st_file_free(&golden);
        return;
    }
    char ckpt[4096 + 16], steps_arg[24], step_reason[sizeof rec->reason];
    snprintf(ckpt, sizeof ckpt, "%s/w%d.ckpt", p->dir, rec->world);
    for (int k = 0; k < steps; k++) {
        snprintf(steps_arg, sizeof steps_arg, "%d", k + 1);
        const char *first[] = {"--steps", steps_arg, NULL};
        const char *resumed[] = {"--steps", steps_arg, "--resume", ckpt, NULL};
        if (k > 0) {
            zs_checkpoint c;
            int bad = zs_ckpt_from_trace(&golden, fixture, k, &c, &err);
            if (!bad) {
                bad = zs_ckpt_save(&c, ckpt, &err);
                zs_ckpt_free(&c);
            }
            if (bad) {
                snprintf(rec->reason, sizeof rec->reason, "golden state after step %d: %s", k, err.msg);
                rec->verdict = ZS_FAIL;
                break;
            }
        }
        if (rec->has_diff)
            zs_diff_result_free(&rec->diff);
        rec->has_diff = 0;
        rec->verdict = ZS_FAIL;
        run_one(o, fixture, p, k ? resumed : first, k + 1, rec);
        if (rec->verdict != ZS_PASS) {
            snprintf(step_reason, sizeof step_reason, "step %d restarted from the golden state%s: %s", k + 1,
                     k ? "" : " (initial)", rec->reason);
            snprintf(rec->reason, sizeof rec->reason, "%s", step_reason);
            break;
        }
    }
    zs_ckpt_remove(ckpt);
    zs_st_file_free(&golden);
}

static void print_record(const zs_run_options *o, const zs_run_record *rec, const work_paths *p)
{
    static const char *const names[] = {"PASS", "FAIL", "SKIP"};
    fprintf(o->log, "%s %s w%d", names[rec->verdict], rec->case_name, rec->world);
    if (rec->verdict == ZS_PASS)
        fprintf(o->log, " (%.2f s)\n", rec->seconds);
    else
        fprintf(o->log, ": %s\n", rec->reason);
    if (rec->has_diff && (rec->verdict == ZS_FAIL || o->report.all))
        zs_report_diff(o->log, &rec->diff, &o->report);
    else if (rec->verdict == ZS_FAIL && p)
        print_stderr_tail(o, p);
}

static int grow(zs_run_record **records, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    zs_run_record *r = realloc(*records, c * sizeof *r);
    if (!r)
        return -1;
    *records = r;
    *cap = c;
    return 0;
}

static void clean_up(const work_paths *p)
{
    remove(p->out);
    remove(p->out_log);
    remove(p->err_log);
    rmdir(p->dir);   /* only succeeds once the case's last world is done */
}

/* 0: go on; 1: stop (--fail-fast and a run failed); -1: input error. */
static int run_case(const zs_run_options *o, const char *case_file, const char *work, zs_run_record **records,
                    size_t *n, size_t *cap, zs_error *err)
{
    zs_case kase;
    if (zs_case_load(case_file, &kase, err))
        return -1;
    int rc = 0;
    for (int i = 0; i < kase.n_world_sizes && rc == 0; i++) {
        int world = kase.world_sizes[i];
        if (!world_selected(o, world))
            continue;
        if (grow(records, *n, cap)) {
            rc = zs_fail(err, "out of memory");
            break;
        }
        zs_run_record *rec = &(*records)[(*n)++];
        *rec = (zs_run_record){.world = world, .verdict = ZS_FAIL};
        snprintf(rec->case_name, sizeof rec->case_name, "%s", kase.name);
        snprintf(rec->case_path, sizeof rec->case_path, "%s", case_file);
        char fixture[4096];
        snprintf(fixture, sizeof fixture, "%s/%s/w%d.safetensors", o->fixtures, kase.name, world);
        if (access(fixture, F_OK)) {
            rec->verdict = ZS_SKIP;
            snprintf(rec->reason, sizeof rec->reason, "no golden fixture %s", fixture);
            print_record(o, rec, NULL);
            continue;
        }
        work_paths p;
        snprintf(p.dir, sizeof p.dir, "%s/%s", work, kase.name);
        snprintf(p.out, sizeof p.out, "%s/w%d.safetensors", p.dir, world);
        snprintf(p.out_log, sizeof p.out_log, "%s/w%d.stdout", p.dir, world);
        snprintf(p.err_log, sizeof p.err_log, "%s/w%d.stderr", p.dir, world);
        if ((rc = make_dir(p.dir, err)) != 0)
            break;
        if (o->teacher_forcing)
            run_teacher_forced(o, fixture, &p, kase.steps, rec);
        else
            run_one(o, fixture, &p, NULL, 0, rec);
        print_record(o, rec, &p);
        if (!o->keep_dir)
            clean_up(&p);
        if (o->fail_fast && rec->verdict == ZS_FAIL) {
            fprintf(o->log, "stopping at the first failure (--fail-fast)\n");
            rc = 1;
        }
    }
    zs_case_free(&kase);
    return rc;
}

int zs_run_suite(const zs_run_options *o, char *const *case_files, int n_cases, zs_run_record **records,
                 size_t *n_records, zs_error *err)
{
    *records = NULL;
    *n_records = 0;
    size_t cap = 0;
    char work[4096];
    if (o->keep_dir) {
        snprintf(work, sizeof work, "%s", o->keep_dir);
        if (make_dir(work, err))
            return -1;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/zs-check.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work))
            return zs_fail(err, "%s: cannot create a work directory: %s", work, strerror(errno));
    }
    int rc = 0;
    for (int i = 0; i < n_cases && rc == 0; i++)
        rc = run_case(o, case_files[i], work, records, n_records, &cap, err);
    if (!o->keep_dir)
        rmdir(work);
    return rc < 0 ? -1 : 0;
}

void zs_run_records_free(zs_run_record *records, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (records[i].has_diff)
            zs_diff_result_free(&records[i].diff);
    free(records);
}

cJSON *zs_run_records_json(const zs_run_record *records, size_t n)
{
    static const char *const names[] = {"PASS", "FAIL", "SKIP"};
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "results");
    size_t counts[3] = {0};
    for (size_t i = 0; i < n; i++) {
        const zs_run_record *r = &records[i];
        counts[r->verdict]++;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "case", r->case_name);
        cJSON_AddStringToObject(o, "case_file", r->case_path);
        cJSON_AddNumberToObject(o, "world", r->world);
        cJSON_AddStringToObject(o, "verdict", names[r->verdict]);
        cJSON_AddStringToObject(o, "reason", r->reason);
        cJSON_AddNumberToObject(o, "seconds", r->seconds);
        if (r->has_diff)
            cJSON_AddItemToObject(o, "diff", zs_diff_result_json(&r->diff));
        cJSON_AddItemToArray(list, o);
    }
    cJSON_AddNumberToObject(root, "passed", (double)counts[ZS_PASS]);
    cJSON_AddNumberToObject(root, "failed", (double)counts[ZS_FAIL]);
    cJSON_AddNumberToObject(root, "skipped", (double)counts[ZS_SKIP]);
    return root;
}
