#define _POSIX_C_SOURCE 200809L  /* strdup, dirent */
/* zs-check plugin LIB.so [--ops DIR]: checks a third party's kernels, loaded through the plugin ABI
 * (zerospec/plugin.h), against the op-level golden cases written by `zs-ref ops` (fixtures/ops/).
 * Optimizer cases are teacher-forced: every step starts from the golden parameters and states of the
 * previous step, so an error is reported at the step that makes it instead of compounding. Layer
 * cases are in plugin_layers.c, the 1-bit all-reduce in plugin_onebit.c, Muon in plugin_muon.c. */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zerospec/plugin.h"
#include "zerospec/safetensors.h"
#include "zs_check.h"

/* One op from identical inputs: only the kernel's own rounding may differ (e.g. FMA contraction), so
 * results must agree to a few units in the last place — much tighter than the trajectory tolerances
 * of docs/conformance.md, which allow for many steps of different summation orders. */
static const zs_tolerance op_tolerance = {1e-30, 0, 4};

/* ------------------------------------------------------------------------------------------------
 * Comparison of plain float arrays under a tolerance-policy entry. */

typedef struct array_cmp {
    size_t mismatched, first;
    double max_abs;
    float got, want;
} array_cmp;

static int element_ok(double got, double want, zs_tolerance t, zs_ulp_format f)
{
    if (isnan(got) || isnan(want))
        return isnan(got) && isnan(want);
    if (isinf(got) || isinf(want))
        return got == want;
    double d = fabs(got - want);
    if (d <= t.atol + t.rtol * fabs(want))
        return 1;
    return t.ulps > 0 && zs_ulp_distance(got, want, f) <= t.ulps;
}

static array_cmp compare_arrays(const float *got, const float *want, size_t n, zs_tolerance t, zs_ulp_format f)
{
    array_cmp c = {0};
    for (size_t i = 0; i < n; i++) {
        if (isfinite(got[i]) && isfinite(want[i]))
            c.max_abs = fmax(c.max_abs, fabs((double)got[i] - (double)want[i]));
        if (!element_ok(got[i], want[i], t, f) && c.mismatched++ == 0) {
            c.first = i;
            c.got = got[i];
            c.want = want[i];
        }
    }
    return c;
}

const float *zs_plugin_tensor_f32(const zs_st_file *f, const char *name, size_t n)
{
    const zs_st_tensor *t = zs_st_find(f, name);
    return t && t->dtype == ZS_F32 && t->numel == n ? t->data : NULL;
}

void zs_plugin_verdict(zs_plugin_run *r, const char *kase, int rc, const char *detail)
{
    const char *msg = rc == ZS_PLUGIN_UNSUPPORTED ? "SKIP" : rc == ZS_PLUGIN_OK ? "PASS" : "FAIL";
    if (rc == ZS_PLUGIN_UNSUPPORTED)
        r->skipped++;
    else if (rc == ZS_PLUGIN_OK)
        r->passed++;
    else
        r->failed++;
    fprintf(r->out, "%-4s %-32s %s\n", msg, kase, detail);
}

const char *zs_plugin_error(const zs_plugin_run *r)
{
    const char *m = r->p->last_error ? r->p->last_error() : NULL;
    return m ? m : "the plugin returned ZS_PLUGIN_ERROR";
}

/* Fails the case with the first mismatch of `c` (returns 1), or returns 0. */
static int report_mismatch(zs_plugin_run *r, const char *kase, const char *where, const array_cmp *c, size_t n)
{
    if (!c->mismatched)
        return 0;
    char detail[512];
    snprintf(detail, sizeof detail, "%s[%zu]: got %.9g (%a), expected %.9g (%a); %zu of %zu elements out of tolerance",
             where, c->first, (double)c->got, (double)c->got, (double)c->want, (double)c->want, c->mismatched, n);
    zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, detail);
    return 1;
}

/* ------------------------------------------------------------------------------------------------
 * Optimizer steps. */

static double json_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void parse_hparams(const char *json, zs_plugin_hparams *hp)
{
    cJSON *o = cJSON_Parse(json ? json : "{}");
    *hp = (zs_plugin_hparams){
        .lr = json_num(o, "lr"), .beta1 = json_num(o, "beta1"), .beta2 = json_num(o, "beta2"),
        .eps = json_num(o, "eps"), .weight_decay = json_num(o, "weight_decay"),
        .adam_w_mode = (int)json_num(o, "adam_w_mode"), .bias_correction = (int)json_num(o, "bias_correction"),
        .torch_adam = (int)json_num(o, "torch_adam"), .max_coeff = json_num(o, "max_coeff"),
        .min_coeff = json_num(o, "min_coeff"), .eps_inside_sqrt = (int)json_num(o, "eps_inside_sqrt"),
        .lr_decay = json_num(o, "lr_decay"), .initial_accumulator_value = json_num(o, "initial_accumulator_value"),
        .momentum = json_num(o, "momentum"), .dampening = json_num(o, "dampening"),
        .nesterov = (int)json_num(o, "nesterov")};
    cJSON_Delete(o);
}

/* State names: every "<name>/step1" tensor other than grad/ and param/. */
static int state_names(const zs_st_file *f, char names[][64], int max)
{
    int n = 0;
    for (size_t i = 0; i < f->count && n < max; i++) {
        const char *t = f->tensors[i].name, *slash = strrchr(t, '/');
        if (!slash || strcmp(slash, "/step1") || !strncmp(t, "grad/", 5) || !strncmp(t, "param/", 6))
            continue;
        snprintf(names[n], 64, "%.*s", (int)(slash - t), t);
        n++;
    }
    return n;
}

static void check_optimizer(zs_plugin_run *r, const char *kase, const zs_st_file *f)
{
    if (!r->p->optimizer_step)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no optimizer_step entry)");
    const zs_st_tensor *init = zs_st_find(f, "param/init");
    const char *opt = zs_st_meta(f, "optimizer"), *steps_s = zs_st_meta(f, "steps");
    if (!init || !opt || !steps_s)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, "malformed golden file (param/init, optimizer, steps)");
    size_t n = init->numel;
    int steps = atoi(steps_s);
    zs_plugin_hparams hp;
    parse_hparams(zs_st_meta(f, "hparams"), &hp);
    char names[4][64];
    int n_state = state_names(f, names, 4);
    const char *name_ptrs[4];
    float *param = malloc(n * sizeof(float)), *state_mem = calloc((size_t)4 * n, sizeof(float));
    float *state[4];
    for (int s = 0; s < 4; s++) {
        state[s] = state_mem + (size_t)s * n;
        name_ptrs[s] = names[s];
    }
    zs_tolerance tol_param = op_tolerance, tol_state = op_tolerance;
    double worst = 0;
    char key[128], where[160];
    for (int k = 1; k <= steps; k++) {
        /* teacher forcing: start from the golden state of step k-1 */
        snprintf(key, sizeof key, "param/step%d", k - 1);
        const float *prev = k == 1 ? init->data : zs_plugin_tensor_f32(f, key, n);
        memcpy(param, prev, n * sizeof(float));
        for (int s = 0; s < n_state; s++) {
            snprintf(key, sizeof key, "%s/step%d", names[s], k - 1);
            const float *ps = zs_plugin_tensor_f32(f, key, n);
            if (k == 1 || !ps)
                memset(state[s], 0, n * sizeof(float));
            else
                memcpy(state[s], ps, n * sizeof(float));
        }
        snprintf(key, sizeof key, "grad/step%d", k);
        const float *grad = zs_plugin_tensor_f32(f, key, n);
        zs_plugin_optimizer_step a = {opt, &hp, k, n, param, grad, n_state, name_ptrs, state};
        int rc = r->p->optimizer_step(&a);
        if (rc == ZS_PLUGIN_UNSUPPORTED) {
            zs_plugin_verdict(r, kase, rc, "(the plugin does not handle this optimizer/configuration)");
            goto done;
        }
        if (rc != ZS_PLUGIN_OK) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, zs_plugin_error(r));
            goto done;
        }
        snprintf(key, sizeof key, "param/step%d", k);
        array_cmp c = compare_arrays(param, zs_plugin_tensor_f32(f, key, n), n, tol_param, ZS_ULP_F32);
        snprintf(where, sizeof where, "step %d param", k);
        if (report_mismatch(r, kase, where, &c, n))
            goto done;
        worst = fmax(worst, c.max_abs);
        for (int s = 0; s < n_state; s++) {
            snprintf(key, sizeof key, "%s/step%d", names[s], k);
            c = compare_arrays(state[s], zs_plugin_tensor_f32(f, key, n), n, tol_state, ZS_ULP_F32);
            snprintf(where, sizeof where, "step %d %s", k, names[s]);
            if (report_mismatch(r, kase, where, &c, n))
                goto done;
        }
    }
    snprintf(where, sizeof where, "(%s, %d steps x %zu elements, teacher-forced; max |diff| %.3g)", opt, steps, n, worst);
    zs_plugin_verdict(r, kase, ZS_PLUGIN_OK, where);
done:
    free(param);
    free(state_mem);
}

/* ------------------------------------------------------------------------------------------------
 * Schedulers, loss scaler, unscale/clip, collectives, rounding. */

static void check_schedulers(zs_plugin_run *r, const zs_st_file *f)
{
    double base_lr = atof(zs_st_meta(f, "base_lr") ? zs_st_meta(f, "base_lr") : "0");
    for (size_t i = 0; i < f->count; i++) {
        const zs_st_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "lr/", 3) || t->dtype != ZS_F64)
            continue;
        char kase[96], key[96], detail[256];
        snprintf(kase, sizeof kase, "scheduler %s", t->name + 3);
        snprintf(key, sizeof key, "config/%s", t->name + 3);
        if (!r->p->scheduler_lr) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no scheduler_lr entry)");
            continue;
        }
        int rc = ZS_PLUGIN_OK;
        size_t k;
        for (k = 0; k < t->numel && rc == ZS_PLUGIN_OK; k++) {
            double lr = NAN, want = ((const double *)t->data)[k];
            rc = r->p->scheduler_lr(zs_st_meta(f, key), base_lr, (int64_t)k, &lr);
            if (rc == ZS_PLUGIN_OK && !(fabs(lr - want) <= 1e-12 * fabs(want) + 1e-15)) {
                snprintf(detail, sizeof detail, "step %zu: lr %.17g, expected %.17g", k, lr, want);
                zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, detail);
                break;
            }
        }
        if (rc == ZS_PLUGIN_OK && k == t->numel)
            zs_plugin_verdict(r, kase, rc, "(all steps, relative 1e-12)");
        else if (rc != ZS_PLUGIN_OK)
            zs_plugin_verdict(r, kase, rc, rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
    }
}

static zs_plugin_loss_scaler scaler_from_json(const char *json)
{
    cJSON *o = cJSON_Parse(json ? json : "{}");
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(o, "consecutive_hysteresis");
    const cJSON *minv = cJSON_GetObjectItemCaseSensitive(o, "min_loss_scale");
    int hysteresis = (int)json_num(o, "hysteresis");
    zs_plugin_loss_scaler s = {
        .cur_scale = ldexp(1.0, (int)json_num(o, "initial_scale_power")),
        .min_scale = cJSON_IsNumber(minv) ? minv->valuedouble : 1.0,
        .scale_window = (int64_t)json_num(o, "loss_scale_window"),
        .cur_iter = 0, .last_overflow_iter = -1,
        .delayed_shift = hysteresis, .cur_hysteresis = hysteresis,
        .consecutive_hysteresis = cJSON_IsTrue(cons)};
    cJSON_Delete(o);
    return s;
}

static void check_loss_scaler(zs_plugin_run *r, const zs_st_file *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const zs_st_tensor *flags = &f->tensors[i];
        const char *slash = strrchr(flags->name, '/');
        if (!slash || strcmp(slash, "/overflow"))
            continue;
        char base[64], key[96], kase[96], detail[256];
        snprintf(base, sizeof base, "%.*s", (int)(slash - flags->name), flags->name);
        snprintf(kase, sizeof kase, "loss scaler %s", base);
        if (!r->p->loss_scale_update) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no loss_scale_update entry)");
            continue;
        }
        snprintf(key, sizeof key, "config/%s", base);
        zs_plugin_loss_scaler s = scaler_from_json(zs_st_meta(f, key));
        snprintf(key, sizeof key, "%s/scale", base);
        const zs_st_tensor *scale = zs_st_find(f, key);
        int rc = ZS_PLUGIN_OK, bad = 0;
        for (size_t k = 0; scale && k < flags->numel && rc == ZS_PLUGIN_OK && !bad; k++) {
            double want = ((const double *)scale->data)[k];
            if (s.cur_scale != want) {
                snprintf(detail, sizeof detail, "step %zu: scale %g, expected %g", k + 1, s.cur_scale, want);
                bad = 1;
            } else {
                rc = r->p->loss_scale_update(&s, ((const uint8_t *)flags->data)[k]);
            }
        }
        if (bad)
            zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, detail);
        else
            zs_plugin_verdict(r, kase, rc, rc == ZS_PLUGIN_OK ? "(every step's scale exact)"
                                 : rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
    }
}

static void check_unscale_clip(zs_plugin_run *r, const zs_st_file *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name, *slash = strrchr(name, '/');
        if (!slash || strcmp(slash, "/norm"))
            continue;
        char base[64], key[96], kase[96];
        snprintf(base, sizeof base, "%.*s", (int)(slash - name), name);
        snprintf(kase, sizeof kase, "unscale_clip %s", base);
        if (!r->p->unscale_clip) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no unscale_clip entry)");
            continue;
        }
        snprintf(key, sizeof key, "config/%s", base);
        cJSON *cfg = cJSON_Parse(zs_st_meta(f, key) ? zs_st_meta(f, key) : "{}");
        int world = (int)json_num(cfg, "world");
        float scale = (float)json_num(cfg, "loss_scale");
        double clip = json_num(cfg, "clip");
        cJSON_Delete(cfg);
        snprintf(key, sizeof key, "%s/in/rank0", base);
        const zs_st_tensor *in0 = zs_st_find(f, key);
        if (world < 1 || world > 64 || !in0) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, "malformed golden file");
            continue;
        }
        size_t len = in0->numel;
        float *mem = malloc((size_t)world * len * sizeof(float));
        float *grads[64];
        for (int k = 0; k < world; k++) {
            snprintf(key, sizeof key, "%s/in/rank%d", base, k);
            grads[k] = mem + (size_t)k * len;
            memcpy(grads[k], zs_plugin_tensor_f32(f, key, len), len * sizeof(float));
        }
        zs_plugin_unscale_clip a = {world, len, grads, scale, clip, 0};
        int rc = r->p->unscale_clip(&a);
        zs_tolerance tol = op_tolerance;   /* the norm may sum in another order: still a few ulps */
        int failed_case = 0;
        for (int k = 0; k < world && rc == ZS_PLUGIN_OK && !failed_case; k++) {
            snprintf(key, sizeof key, "%s/out/rank%d", base, k);
            array_cmp c = compare_arrays(grads[k], zs_plugin_tensor_f32(f, key, len), len, tol, ZS_ULP_F32);
            char where[96];
            snprintf(where, sizeof where, "rank %d gradient", k);
            failed_case = report_mismatch(r, kase, where, &c, len);
        }
        snprintf(key, sizeof key, "%s/norm", base);
        float want = *(const float *)zs_st_find(f, key)->data;
        if (rc == ZS_PLUGIN_OK && !failed_case && !element_ok(a.norm, want, tol, ZS_ULP_F32)) {
            char detail[128];
            snprintf(detail, sizeof detail, "norm %.9g, expected %.9g", (double)a.norm, (double)want);
            zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, detail);
        } else if (!failed_case) {
            zs_plugin_verdict(r, kase, rc, rc == ZS_PLUGIN_OK ? "(gradients and norm)"
                                 : rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
        }
        free(mem);
    }
}

static void check_collective(zs_plugin_run *r, const zs_st_file *f, const char *op, const char *dtype)
{
    int (*fn)(const zs_plugin_collective *) = !strcmp(op, "reduce_scatter") ? r->p->reduce_scatter_sum : r->p->all_gather;
    char kase[96], key[128];
    snprintf(kase, sizeof kase, "%s %s", op, dtype);
    if (!fn)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no entry)");
    int world = 0;
    const zs_st_tensor *s0 = NULL, *r0 = NULL;
    for (;; world++) {
        snprintf(key, sizeof key, "%s_%s/send/rank%d", op, dtype, world);
        if (!zs_st_find(f, key))
            break;
    }
    snprintf(key, sizeof key, "%s_%s/send/rank0", op, dtype);
    s0 = zs_st_find(f, key);
    snprintf(key, sizeof key, "%s_%s/recv/rank0", op, dtype);
    r0 = zs_st_find(f, key);
    if (!world || world > 64 || !s0 || !r0)
        return zs_plugin_verdict(r, kase, ZS_PLUGIN_ERROR, "malformed golden file");
    size_t chunk = !strcmp(op, "reduce_scatter") ? r0->numel : s0->numel;
    const float *send[64];
    float *recv[64];
    float *mem = calloc((size_t)world * r0->numel, sizeof(float));
    for (int k = 0; k < world; k++) {
        snprintf(key, sizeof key, "%s_%s/send/rank%d", op, dtype, k);
        send[k] = zs_st_find(f, key)->data;
        recv[k] = mem + (size_t)k * r0->numel;
    }
    zs_plugin_collective a = {world, chunk, dtype, send, recv};
    int rc = fn(&a);
    /* all-gather moves values: exact. Reduce-scatter may sum in another order: one ulp of the
     * communication format per addition. */
    zs_tolerance tol = {0, 0, !strcmp(op, "all_gather") ? 0 : (double)(world - 1)};
    zs_ulp_format uf = !strcmp(dtype, "F16") ? ZS_ULP_F16 : !strcmp(dtype, "BF16") ? ZS_ULP_BF16 : ZS_ULP_F32;
    int failed_case = 0;
    for (int k = 0; k < world && rc == ZS_PLUGIN_OK && !failed_case; k++) {
        snprintf(key, sizeof key, "%s_%s/recv/rank%d", op, dtype, k);
        array_cmp c = compare_arrays(recv[k], zs_plugin_tensor_f32(f, key, r0->numel), r0->numel, tol, uf);
        char where[64];
        snprintf(where, sizeof where, "rank %d", k);
        failed_case = report_mismatch(r, kase, where, &c, r0->numel);
    }
    if (!failed_case)
        zs_plugin_verdict(r, kase, rc, rc == ZS_PLUGIN_OK ? "" : rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)" : zs_plugin_error(r));
    free(mem);
}

static void check_round_to(zs_plugin_run *r, const zs_st_file *f)
{
    const char *formats[2] = {"F16", "BF16"};
    const zs_st_tensor *in = zs_st_find(f, "input");
    for (int k = 0; k < 2; k++) {
        char kase[64];
        snprintf(kase, sizeof kase, "round_to %s", formats[k]);
        if (!r->p->round_to) {
            zs_plugin_verdict(r, kase, ZS_PLUGIN_UNSUPPORTED, "(no round_to entry)");
            continue;
        }
        float *x = malloc(in->numel * sizeof(float));
        memcpy(x, in->data, in->numel * sizeof(float));
        int rc = r->p->round_to(formats[k], x, in->numel);
        zs_tolerance exact = {0, 0, 0};
        array_cmp c = compare_arrays(x, zs_plugin_tensor_f32(f, formats[k], in->numel), in->numel, exact, ZS_ULP_F32);
        if (rc != ZS_PLUGIN_OK || !report_mismatch(r, kase, "value", &c, in->numel))
            zs_plugin_verdict(r, kase, rc, rc == ZS_PLUGIN_OK ? "(bit-exact)" : rc == ZS_PLUGIN_UNSUPPORTED ? "(not handled)"
                                                                                                 : zs_plugin_error(r));
        free(x);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Entry: zs-check plugin LIB.so [--ops DIR] */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zs_check_plugin_main(int argc, char **argv)
{
    const char *lib = NULL, *ops = "fixtures/ops";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            ops = argv[++i];
        else if (argv[i][0] != '-' && !lib)
            lib = argv[i];
        else {
            fprintf(stderr, "zs-check: error: plugin: unexpected argument '%s' (usage: zs-check plugin LIB.so [--ops DIR])\n", argv[i]);
            return 2;
        }
    }
    if (!lib) {
        fprintf(stderr, "zs-check: error: plugin needs a shared library (usage: zs-check plugin LIB.so [--ops DIR])\n");
        return 2;
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "zs-check: error: cannot load %s: %s\n", lib, dlerror());
        return 2;
    }
    zs_plugin_entry_fn entry = (zs_plugin_entry_fn)dlsym(h, ZS_PLUGIN_SYMBOL);
    const zs_plugin *p = entry ? entry() : NULL;
    if (!p) {
        fprintf(stderr, "zs-check: error: %s exports no %s() (see zerospec/plugin.h)\n", lib, ZS_PLUGIN_SYMBOL);
        dlclose(h);
        return 2;
    }
    if (p->abi_version != ZS_PLUGIN_ABI_VERSION || p->struct_size < ZS_PLUGIN_V1_MIN_SIZE) {
        fprintf(stderr, "zs-check: error: %s: plugin ABI version %u (struct size %u); this zs-check speaks version %u "
                        "(struct size %zu to %zu)\n", lib, p->abi_version, p->struct_size, ZS_PLUGIN_ABI_VERSION,
                (size_t)ZS_PLUGIN_V1_MIN_SIZE, sizeof(zs_plugin));
        dlclose(h);
        return 2;
    }
    /* A plugin built against an older header has a shorter struct: read only what it has, the later
     * entries stay NULL (skipped). A newer one's extra entries are not read. */
    zs_plugin known = {0};
    memcpy(&known, p, p->struct_size < sizeof known ? p->struct_size : sizeof known);
    DIR *d = opendir(ops);
    if (!d) {
        fprintf(stderr, "zs-check: error: cannot open the op-level cases in %s (generate them: zs-ref ops --out DIR)\n", ops);
        dlclose(h);
        return 2;
    }
    char *files[256];
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 256;) {
        size_t len = strlen(de->d_name);
        if (len > 12 && !strcmp(de->d_name + len - 12, ".safetensors"))
            files[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof files[0], by_name);
    zs_plugin_run r = {&known, stdout, 0, 0, 0};
    printf("plugin %s (%s), op-level cases in %s\n", known.name ? known.name : "?", lib, ops);
    int bad_input = 0;
    for (int i = 0; i < n; i++) {
        char path[1024], kase[128];
        snprintf(path, sizeof path, "%s/%s", ops, files[i]);
        snprintf(kase, sizeof kase, "%.*s", (int)(strlen(files[i]) - 12), files[i]);
        zs_st_file f;
        zs_error err = {{0}};
        if (zs_st_read_file(path, &f, &err)) {
            fprintf(stderr, "zs-check: error: %s\n", err.msg);
            bad_input = 1;
        } else {
            const char *op = zs_st_meta(&f, "op");
            if (op && !strcmp(op, "optimizer"))
                check_optimizer(&r, kase, &f);
            else if (op && !strcmp(op, "scheduler"))
                check_schedulers(&r, &f);
            else if (op && !strcmp(op, "loss_scaler"))
                check_loss_scaler(&r, &f);
            else if (op && !strcmp(op, "unscale_clip"))
                check_unscale_clip(&r, &f);
            else if (op && !strcmp(op, "collectives")) {
                const char *dt[3] = {"F32", "F16", "BF16"};
                for (int k = 0; k < 3; k++) {
                    check_collective(&r, &f, "reduce_scatter", dt[k]);
                    check_collective(&r, &f, "all_gather", dt[k]);
                }
            } else if (op && !strcmp(op, "round_to"))
                check_round_to(&r, &f);
            else if (op && !strcmp(op, "layer"))
                zs_plugin_check_layer(&r, kase, &f);
            else if (op && !strcmp(op, "compressed_allreduce"))
                zs_plugin_check_onebit(&r, kase, &f);
            else if (op && !strcmp(op, "muon"))
                zs_plugin_check_muon(&r, kase, &f);
            zs_st_file_free(&f);
        }
        free(files[i]);
    }
    printf("%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped);
    dlclose(h);
    return bad_input ? 2 : r.failed ? 1 : 0;
}
