/* zs-check internals (docs/conformance.md): the trace comparison engine and the suite driver.
 *
 *   tolerance.c  tolerance classes, tensor kinds from trace names, the tolerance table
 *   numbers.c    reading elements as double, ULP distances, number formatting
 *   compare.c    diff of two traces: metadata, tensor set, shapes, values
 *   report.c     text report, first-failure line, JSON
 *   junit.c      JUnit XML for a `run`
 *   spawn.c      running one implementation process with a timeout
 *   run.c        `zs-check run`: cases x world sizes -> implementation -> diff against fixtures
 *   plugin.c     `zs-check plugin`: a third party's kernels (zerospec/plugin.h) on the op-level cases
 *
 * zs-check only reads traces: nothing here depends on the reference's numerics. */
#ifndef ZS_CHECK_H
#define ZS_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "zerospec/error.h"
#include "zerospec/safetensors.h"

/* The trace format versions this zs-check reads (docs/spec.md §13). */
#define ZS_CHECK_TRACE_FORMAT "zerospec.trace"
#define ZS_CHECK_FORMAT_VERSION "1"

/* ---- tolerance policy (tolerance.c) ---- */

typedef enum zs_tol_class { ZS_CLASS_FP32, ZS_CLASS_FP16, ZS_CLASS_BF16, ZS_CLASS_EXACT, ZS_CLASS_COUNT } zs_tol_class;

/* Tensor kinds, in the order a step computes them: the first failing tensor in this order is the
 * likeliest root cause of the later ones. */
typedef enum zs_tensor_kind {
    ZS_KIND_INIT_PARAM,   /* init/param/<name> */
    ZS_KIND_LOSS,         /* step<k>/loss, step<k>/rank<r>/loss */
    ZS_KIND_LOSS_SCALE,   /* step<k>/loss_scale, step<k>/loss_scaler (fp16: the scaler's state) */
    ZS_KIND_GRAD,         /* step<k>/rank<r>/grad */
    ZS_KIND_FLAG,         /* step<k>/overflow, step<k>/skipped */
    ZS_KIND_GRAD_NORM,    /* step<k>/grad_norm */
    ZS_KIND_LR,           /* step<k>/lr */
    ZS_KIND_EXP_AVG,      /* step<k>/rank<r>/exp_avg */
    ZS_KIND_EXP_AVG_SQ,   /* step<k>/rank<r>/exp_avg_sq */
    ZS_KIND_MOMENTUM,     /* step<k>/rank<r>/momentum_buffer (SGD) */
    ZS_KIND_SQ_SUM,       /* step<k>/rank<r>/sum (Adagrad's sum of squared gradients) */
    ZS_KIND_STATE,        /* step<k>/rank<r>/<any other optimizer state name> */
    ZS_KIND_MASTER,       /* step<k>/rank<r>/master */
    ZS_KIND_PARAM,        /* step<k>/param/<name> */
    ZS_KIND_MODEL,        /* step<k>/model/<name>: fp16/bf16 model weights (must be representable) */
    ZS_KIND_UNKNOWN,      /* a name outside the trace schema */
    ZS_KIND_COUNT
} zs_tensor_kind;

/* A trace tensor name taken apart: "step<k>/rank<r>/<tensor>", "step<k>/param/<name>", ... */
typedef struct zs_tensor_name {
    zs_tensor_kind kind;
    long step;            /* 0 for init/..., -1 when the name has no step */
    int rank;             /* -1 when the tensor is not per rank */
    char tensor[160];     /* what remains: "grad", "exp_avg", "param/wte", "loss", ... */
} zs_tensor_name;

/* Element passes when |got - expected| <= atol + rtol * |expected|, or when it is at most `ulps`
 * units in the last place away (ulps > 0 only). All zero = the values must be equal. */
typedef struct zs_tolerance {
    double atol, rtol, ulps;
} zs_tolerance;

const char *zs_tol_class_name(zs_tol_class c);
int zs_tol_class_parse(const char *s, zs_tol_class *out);            /* -1 if unknown */
/* The class for a trace's `precision` metadata value ("fp32", "fp16", "bf16"); -1 if unknown. */
int zs_tol_class_of_precision(const char *precision, zs_tol_class *out);
const char *zs_tensor_kind_name(zs_tensor_kind k);
void zs_tensor_name_parse(const char *name, zs_tensor_name *out);
zs_tolerance zs_tolerance_for(zs_tol_class c, zs_tensor_kind k);
/* One line of why the entry is what it is (docs/conformance.md has the long form). */
const char *zs_tolerance_why(zs_tol_class c, zs_tensor_kind k);
/* Optimizer families with their own entries for some kinds (docs/conformance.md "Muon", "The 1-bit
 * family"), chosen from the golden trace's config: Muon at ZeRO stage >= 1 (grad, grad_norm, exp_avg,
 * exp_avg_sq), the 1-bit optimizers (grad, exp_avg, exp_avg_sq, other state). */
typedef enum zs_tol_family { ZS_FAMILY_NONE, ZS_FAMILY_MUON, ZS_FAMILY_ONEBIT, ZS_FAMILY_COUNT } zs_tol_family;
/* The class entry widened by the family's; unchanged for other kinds, ZS_FAMILY_NONE and the exact class. */
zs_tolerance zs_tolerance_for_family(zs_tol_family f, zs_tol_class c, zs_tensor_kind k);
/* Why the family's entry of kind k is what it is; NULL for the kinds it does not widen. */
const char *zs_tolerance_family_why(zs_tol_family f, zs_tensor_kind k);
/* For reports: "Muon's Newton-Schulz", "the 1-bit family's"; "" for ZS_FAMILY_NONE. */
const char *zs_tol_family_name(zs_tol_family f);

/* ---- numbers (numbers.c) ---- */

/* The format in which ULP distances are counted. */
typedef enum zs_ulp_format { ZS_ULP_F64, ZS_ULP_F32, ZS_ULP_F16, ZS_ULP_BF16, ZS_ULP_INT } zs_ulp_format;

const char *zs_ulp_format_name(zs_ulp_format f);
/* Element i of a tensor's data as double (exact for every supported dtype except I64 beyond 2^53). */
double zs_element(const void *data, zs_dtype dtype, size_t i);
/* Number of representable values of format f between a and b (both finite): 0 for equal values and
 * for -0 vs +0; counts across zero. Values not representable in f are placed proportionally between
 * their neighbours, so the distance is fractional there. */
double zs_ulp_distance(double a, double b, zs_ulp_format f);
/* "0.0123457 (0x1.948b1p-7)": decimal with enough digits to tell neighbours apart, then hex float. */
void zs_format_value(char *buf, size_t n, double v, zs_dtype dtype);
/* "[29, 16]", "[]" for a scalar. */
void zs_format_shape(char *buf, size_t n, int ndim, const int64_t *shape);

/* ---- comparison (compare.c) ---- */

typedef enum zs_tensor_status {
    ZS_T_PASS,
    ZS_T_VALUES,       /* some elements out of tolerance */
    ZS_T_DTYPE,        /* dtypes differ */
    ZS_T_SHAPE,        /* shapes differ */
    ZS_T_MISSING,      /* in the golden file only: a failure */
    ZS_T_EXTRA         /* in the implementation's file only: a warning */
} zs_tensor_status;

typedef struct zs_tensor_result {
    char *name;
    zs_tensor_name parsed;
    zs_tensor_status status;
    zs_dtype dtype_got, dtype_expected;
    int ndim_got, ndim_expected;
    int64_t shape_got[ZS_ST_MAX_DIMS], shape_expected[ZS_ST_MAX_DIMS];
    size_t numel;
    zs_tolerance tol;
    zs_ulp_format ulp_format;
    /* Over elements where both values are finite: */
    double max_abs, max_rel, max_ulp;
    double worst_ratio;              /* max over elements of error / allowance (> 1 = out of tolerance) */
    size_t mismatched;               /* elements out of tolerance, non-finite ones included */
    size_t sign_flips;               /* master/param elements out of tolerance but within the sign-flip
                                        allowance (docs/conformance.md "Noise-level gradients") */
    size_t nonfinite_mismatched;     /* NaN vs non-NaN, Inf vs anything else */
    int has_first;
    size_t first_index;              /* flat index of the first mismatch */
    double first_got, first_expected;
} zs_tensor_result;

typedef struct zs_meta_diff {
    char *key;
    char *got, *expected;            /* NULL when absent */
} zs_meta_diff;

typedef struct zs_diff_result {
    zs_tol_class tol_class;
    char precision[16];              /* the golden file's precision metadata */
    char case_name[128];
    char world_size[16], stage[16];
    zs_tensor_result *tensors;       /* sorted by step, kind, rank, name */
    size_t n_tensors;
    zs_meta_diff *meta;
    size_t n_meta;
    size_t n_failed_tensors;         /* values, dtype, shape */
    size_t n_missing, n_extra;
    long resumed_from;               /* the implementation's trace starts after this step (0: from init);
                                      * golden tensors of earlier steps are not expected of it */
    long last_step;                  /* > 0: golden tensors of later steps are not expected either */
    zs_tol_family family;            /* from the golden run's config: zs_tolerance_for_family */
    int pass;
} zs_diff_result;

/* Compares `got` (implementation under test) with `expected` (golden); the names label messages.
 * class_override < 0: the class follows the golden file's precision. last_step > 0 compares steps up
 * to last_step only (a teacher-forced run of one step); 0 compares every step. Fails (-1) only when the files
 * cannot be compared at all: not a zerospec trace, an unknown format_version, no precision to pick
 * tolerances from. */
int zs_diff_files(const zs_st_file *got, const char *got_name, const zs_st_file *expected,
                  const char *expected_name, int class_override, long last_step, zs_diff_result *out,
                  zs_error *err);
/* Reads both files, then zs_diff_files; messages name the file at fault. */
int zs_diff_paths(const char *got_path, const char *expected_path, int class_override, long last_step,
                  zs_diff_result *out, zs_error *err);
void zs_diff_result_free(zs_diff_result *r);

/* ---- reports (report.c) ---- */

typedef struct zs_report_options {
    int max_report;                  /* failing tensors printed in full (default 10) */
    int all;                         /* print every tensor, passing ones too */
} zs_report_options;

/* The one line that says why a diff failed (first metadata difference, missing tensor, or first
 * mismatching element); "" when it passed. */
void zs_diff_first_failure(const zs_diff_result *r, char *buf, size_t n);
/* The report body: metadata differences, missing/extra tensors, failing tensors, a per-kind table. */
void zs_report_diff(FILE *out, const zs_diff_result *r, const zs_report_options *o);
/* Machine-readable form of one diff (every tensor). Non-finite numbers become null. */
cJSON *zs_diff_result_json(const zs_diff_result *r);
/* Writes `root` to `path` (pretty-printed); -1 with a message on I/O errors. */
int zs_write_json(const char *path, const cJSON *root, zs_error *err);

/* ---- the suite driver (run.c, spawn.c, junit.c) ---- */

typedef enum zs_verdict { ZS_PASS, ZS_FAIL, ZS_SKIP } zs_verdict;

typedef struct zs_run_record {
    char case_name[128];
    char case_path[1024];
    int world;
    zs_verdict verdict;
    char reason[1024];               /* failure: the first failure line; skip: why */
    double seconds;                  /* wall time of the implementation */
    int has_diff;
    zs_diff_result diff;
} zs_run_record;

typedef struct zs_run_options {
    char **impl;                     /* the implementation command, split on spaces; NULL-terminated */
    char **launcher;                 /* launcher tokens ("{N}" = world size) or NULL; NULL-terminated */
    const char *fixtures;
    const char *keep_dir;            /* NULL: work in a temporary directory, removed afterwards */
    int worlds[64];                  /* --worlds filter; n_worlds = 0: every world size of the case */
    int n_worlds;
    double timeout_s;
    int class_override;              /* -1: from the fixture's precision */
    int fail_fast;                   /* stop after the first failed run */
    int teacher_forcing;             /* restart every step from the golden state (--teacher-forcing) */
    zs_report_options report;
    FILE *log;                       /* verdict lines and reports (stdout) */
} zs_run_options;

typedef struct zs_proc_result {
    int exit_code;                   /* when it exited */
    int signal;                      /* when a signal ended it (0 otherwise) */
    int timed_out;                   /* killed (the whole process group) after the timeout */
    double seconds;
} zs_proc_result;

/* Runs argv[0] (searched in PATH) as the leader of a new process group, stdin from /dev/null,
 * stdout and stderr to the given files, and waits at most timeout_s (then SIGTERM, 2 s later SIGKILL
 * to the group). -1 only when it could not be started. */
int zs_spawn_wait(char *const argv[], const char *stdout_path, const char *stderr_path, double timeout_s,
                  zs_proc_result *res, zs_error *err);
/* The last `lines` lines of a text file, each prefixed with `indent` ("" when unreadable). */
void zs_print_file_tail(FILE *out, const char *path, int lines, const char *indent);

/* Splits a command string on spaces and tabs (no quoting); NULL-terminated, free with zs_free_argv. */
char **zs_split_command(const char *s);
void zs_free_argv(char **argv);

/* Expands `--cases` arguments: files as given, directories to their *.json in name order. */
int zs_collect_case_files(char *const *args, int n, char ***files, int *n_files, zs_error *err);

/* Runs every (case, world) and fills *records (caller frees with zs_run_records_free). -1 only on an
 * input error (unreadable case file, no work directory); per-run problems are failed records. */
int zs_run_suite(const zs_run_options *o, char *const *case_files, int n_cases, zs_run_record **records,
                 size_t *n_records, zs_error *err);
void zs_run_records_free(zs_run_record *records, size_t n);
cJSON *zs_run_records_json(const zs_run_record *records, size_t n);
int zs_write_junit(const char *path, const zs_run_record *records, size_t n, zs_error *err);

/* ---- plugins (plugin.c, plugin_layers.c, plugin_onebit.c, plugin_muon.c, plugin_bound.c) ---- */

#include "zerospec/plugin.h"

/* One `zs-check plugin` run: the plugin's entries (a copy, with the entries beyond its struct_size
 * NULL) and the verdict counts. */
typedef struct zs_plugin_run {
    const zs_plugin *p;
    FILE *out;
    int passed, failed, skipped;
} zs_plugin_run;

/* Prints "PASS|FAIL|SKIP  case  detail" for rc = ZS_PLUGIN_OK / ERROR / UNSUPPORTED and counts it. */
void zs_plugin_verdict(zs_plugin_run *r, const char *kase, int rc, const char *detail);
/* The plugin's last_error() message, or a generic one. */
const char *zs_plugin_error(const zs_plugin_run *r);
/* Runs the layer golden cases of one layer_<name>.safetensors (op=layer): every variant's forward and
 * backward pass, each output compared with zs_layer_bound. */
void zs_plugin_check_layer(zs_plugin_run *r, const char *kase, const zs_st_file *f);

/* Layer tolerance (docs/conformance.md "Checking your kernels: layers"): an output element whose exact
 * (fp64) value is `exact` may be off by at most
 *     ZS_LAYER_K * max(ref_err, mean_ref_err) + ZS_LAYER_ULPS * ulp_fp32(exact)
 * where ref_err = |reference fp32 - exact| at that element and mean_ref_err its mean over the buffer. */
#define ZS_LAYER_K 32.0
#define ZS_LAYER_ULPS 2.0
double zs_layer_bound(double ref_err, double mean_ref_err, double exact);
/* The spacing of fp32 numbers at |x| (2^-149 below the normal range). */
double zs_ulp_fp32(double x);

/* The spacing of format f's numbers at |x| (its smallest subnormal spacing below the normal range). */
double zs_ulp_spacing(double x, zs_ulp_format f);

/* Runs the step-level golden cases: the 1-bit compressed all-reduce (plugin_onebit.c, op=
 * compressed_allreduce) and Muon's Newton-Schulz and update (plugin_muon.c, op=muon). */
void zs_plugin_check_onebit(zs_plugin_run *r, const char *kase, const zs_st_file *f);
void zs_plugin_check_muon(zs_plugin_run *r, const char *kase, const zs_st_file *f);
/* Their tolerances (docs/conformance.md "1-bit all-reduce", "Newton-Schulz"): a 1-bit scale (an L2
 * norm) may be off by ZS_ONEBIT_SCALE_RTOL relative; a Newton-Schulz output element by
 * ZS_NS_ULPS spacings of the compute dtype at the matrix's largest element. */
#define ZS_ONEBIT_SCALE_RTOL 1e-5
#define ZS_NS_ULPS 8.0

/* Element-wise judgement against a per-element bound (plugin_bound.c): the worst error/bound seen
 * and the first failure, described as "<where>[i]: got .., expected .., allowed error ..". */
typedef struct zs_bound_judge {
    double worst;
    int failed;
    char detail[512];
} zs_bound_judge;
/* |got - want| <= bound (finite got; with sign_exact also the same sign bit). 0 if it holds. */
int zs_judge_element(zs_bound_judge *j, const char *where, size_t i, double got, double want, double bound,
                     int sign_exact);
/* Runs check(r, "<kase> [<prefix> ]<name>", f, name) for every name of the space-separated metadata
 * list `list_key`, or skips each (has_entry 0) naming `entry_name` and, when the plugin's struct_size
 * does not reach it (in_struct 0), that the plugin predates the entry. */
typedef void (*zs_plugin_case_fn)(zs_plugin_run *r, const char *label, const zs_st_file *f, const char *name);
void zs_plugin_each_case(zs_plugin_run *r, const char *kase, const zs_st_file *f, const char *list_key,
                         const char *prefix, int has_entry, int in_struct, const char *entry_name,
                         zs_plugin_case_fn check);
/* An F32 tensor of exactly n elements, or NULL. */
const float *zs_plugin_tensor_f32(const zs_st_file *f, const char *name, size_t n);

/* `zs-check plugin LIB.so [--ops DIR]` (argv after "plugin"): runs the op-level golden cases through a
 * plugin's entry points; prints one verdict per case and `N passed, N failed, N skipped`. Returns the
 * exit status (0 pass, 1 failure, 2 the plugin or the cases could not be loaded). */
int zs_check_plugin_main(int argc, char **argv);

#endif
