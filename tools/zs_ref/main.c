/* zs-ref: run the CPU reference on a case (or a plain DeepSpeed config) at one world size, print the
 * per-step table and what each simulated rank holds, and optionally write the golden trace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_checkpoint.h"
#include "trace.h"
#include "zs_ref.h"
#include "zerospec/case.h"

static const char usage[] =
    "usage: zs-ref (--case FILE | --config FILE) [--world N] [--out FILE] [options]\n"
    "       zs-ref config check FILE [--set key=value ...]\n"
    "       zs-ref ops --out DIR     (write the op-level golden cases)\n"
    "       zs-ref ckpt (info DIR | consolidate DIR --out FILE)\n"
    "\n"
    "Trains the tiny GPT-2 of the case with the CPU reference, simulating N data-parallel ranks\n"
    "under the DeepSpeed config's ZeRO stage, precision, optimizer and LR scheduler, and prints one\n"
    "line per optimizer step plus the bytes of model state each rank holds.\n"
    "\n"
    "  --case FILE      conformance case (DeepSpeed config + model, seed, steps, world sizes)\n"
    "  --config FILE    plain DeepSpeed JSON config; default model, seed 1234, 5 steps\n"
    "  --set KEY=VALUE  with --config: resolve Hugging Face \"auto\" values from TrainingArguments\n"
    "                   names (learning_rate=3e-4, per_device_train_batch_size=4, ...); repeatable;\n"
    "                   the resolved config is printed\n"
    "  --world N        number of simulated ranks (default: the case's first world size)\n"
    "  --out FILE       write the golden trace (safetensors) to FILE, atomically\n"
    "  --steps K        override the number of optimizer steps\n"
    "  --stage S        override zero_optimization.stage (0-3)\n"
    "  --save DIR       after the last step, save a checkpoint (one shard per rank + manifest.json)\n"
    "  --resume DIR     start from a checkpoint (written at any world size and ZeRO stage) and run\n"
    "                   its steps k+1..K, K = --steps or the case's steps\n"
    "  --memory         also print the per-rank bytes every ZeRO stage would hold\n"
    "  --trace-comm     print every collective (op, dtype, elements, bytes sent per rank)\n"
    "  --strict         treat warnings (config keys DeepSpeed ignores) as errors\n"
    "  --quiet          print nothing but errors\n"
    "  --describe       print the case name and its world sizes, then exit\n"
    "  -h, --help       this help\n"
    "\n"
    "Exit status: 0 success, 1 training stopped (e.g. loss scale at minimum, non-finite gradient),\n"
    "2 bad usage or bad input (config, case). docs/spec.md defines what is computed.\n";

typedef struct options {
    const char *case_path, *config_path, *out_path, *save_dir, *resume_dir;
    int world, steps, stage;
    int memory, trace_comm, strict, quiet, describe;
    const char *sets[64];
    int n_sets;
} options;

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "zs-ref: error: %s expects an integer %d..%d, got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.world = 0, .steps = -1, .stage = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        int takes_value = !strcmp(a, "--case") || !strcmp(a, "--config") || !strcmp(a, "--out") || !strcmp(a, "--set") ||
                          !strcmp(a, "--save") || !strcmp(a, "--resume") || !strcmp(a, "--world") || !strcmp(a, "--steps") || !strcmp(a, "--stage");
        if (takes_value && !next) {
            fprintf(stderr, "zs-ref: error: %s needs a value\n", a);
            return -1;
        }
        if (!strcmp(a, "--case")) o->case_path = argv[++i];
        else if (!strcmp(a, "--config")) o->config_path = argv[++i];
        else if (!strcmp(a, "--out")) o->out_path = argv[++i];
        else if (!strcmp(a, "--save")) o->save_dir = argv[++i];
        else if (!strcmp(a, "--resume")) o->resume_dir = argv[++i];
        else if (!strcmp(a, "--set")) {
            if (o->n_sets == 64) {
                fprintf(stderr, "zs-ref: error: at most 64 --set options\n");
                return -1;
            }
            o->sets[o->n_sets++] = argv[++i];
        }
        else if (!strcmp(a, "--world")) { if (parse_int(a, argv[++i], 1, ZS_MAX_WORLD, &o->world)) return -1; }
        else if (!strcmp(a, "--steps")) { if (parse_int(a, argv[++i], 0, 1000000, &o->steps)) return -1; }
        else if (!strcmp(a, "--stage")) { if (parse_int(a, argv[++i], 0, 3, &o->stage)) return -1; }
        else if (!strcmp(a, "--memory")) o->memory = 1;
        else if (!strcmp(a, "--trace-comm")) o->trace_comm = 1;
        else if (!strcmp(a, "--strict")) o->strict = 1;
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if (!strcmp(a, "--describe")) o->describe = 1;
        else {
            fprintf(stderr, "zs-ref: error: unknown argument '%s' (see zs-ref --help)\n", a);
            return -1;
        }
    }
    if (o->n_sets && !o->config_path) {
        fprintf(stderr, "zs-ref: error: --set applies to --config FILE (a case file's config is fixed)\n");
        return -1;
    }
    if (!o->case_path == !o->config_path) {
        fprintf(stderr, "zs-ref: error: give exactly one of --case FILE or --config FILE (see zs-ref --help)\n");
        return -1;
    }
    return 0;
}

/* Reports the config keys DeepSpeed itself ignores (to `out` unless NULL); returns their count. */
static int config_warnings(const zs_ds_config *cfg, const char *source, FILE *out)
{
    int n = 0;
    for (size_t i = 0; i < cfg->report.count; i++) {
        const zs_key_entry *k = &cfg->report.entries[i];
        if (k->status == ZS_KEY_IGNORED || k->status == ZS_KEY_UNKNOWN) {
            if (out)
                fprintf(out, "zs-ref: warning: %s: %s: %s\n", source, k->path, k->note);
            n++;
        }
    }
    return n;
}

static void print_header(const zs_engine *e)
{
    const zs_ds_config *c = e->cfg;
    printf("case %s | ZeRO stage %d | world %d | %s | %s | scheduler %s | micro-batch %lld x grad-accum %lld"
           " x world %d = batch %lld | %zu parameters\n",
           e->kase->name, e->stage, e->world, zs_precision_name(c->precision),
           zs_optimizer_type_name(c->optimizer.type), zs_scheduler_type_name(c->scheduler.type),
           (long long)e->batch.micro_batch, (long long)e->batch.grad_accum_steps, e->world,
           (long long)e->batch.train_batch_size, e->model.numel);
    printf("%5s %10s %12s %11s %12s %8s\n", "step", "loss", "lr", "grad_norm", "loss_scale", "skipped");
}

static void print_step(const zs_step_report *r)
{
    printf("%5lld %10.6f %12.6e %11.6f %12.6g %8s\n", (long long)r->step, (double)r->loss, r->lr,
           (double)r->grad_norm, r->loss_scale, r->skipped ? "yes" : "no");
}

static void print_bytes_row(const char *label, zs_rank_bytes b)
{
    printf("%-10s %12lld %12lld %12lld %12lld\n", label, (long long)b.params, (long long)b.grads,
           (long long)b.optimizer, (long long)(b.params + b.grads + b.optimizer));
}

static void print_rank_bytes(const zs_engine *e)
{
    printf("per-rank model-state bytes (ZeRO stage %d, world %d, padded partition %zu of %zu elements):\n",
           e->stage, e->world, e->part.len, e->model.numel);
    printf("%-10s %12s %12s %12s %12s\n", "rank", "params", "grads", "optimizer", "total");
    char label[32];
    for (int r = 0; r < e->world; r++) {
        snprintf(label, sizeof label, "%d", r);
        print_bytes_row(label, zs_engine_rank_bytes(e, r));
    }
}

/* Builds an engine for each stage and prints what one rank holds under each. */
static int print_stage_comparison(zs_case *kase, int world, zs_error *err)
{
    int saved = kase->config.zero.stage;
    printf("bytes each rank holds, by ZeRO stage (world %d):\n", world);
    printf("%-10s %12s %12s %12s %12s\n", "stage", "params", "grads", "optimizer", "total");
    for (int s = 0; s <= 3; s++) {
        zs_engine e;
        kase->config.zero.stage = s;
        int rc = zs_engine_init(&e, kase, world, err);
        if (!rc) {
            char label[32];
            snprintf(label, sizeof label, "ZeRO-%d", s);
            print_bytes_row(label, zs_engine_rank_bytes(&e, 0));
        }
        zs_engine_free(&e);
        if (rc) {
            kase->config.zero.stage = saved;
            return -1;
        }
    }
    kase->config.zero.stage = saved;
    return 0;
}

static int resume(zs_engine *e, const char *dir, int steps, zs_error *err)
{
    zs_checkpoint c;
    if (zs_ckpt_load(dir, &c, err))
        return -1;
    int rc = zs_engine_resume(e, &c, err);
    if (!rc && c.global_steps >= steps)
        rc = zs_fail(err, "the checkpoint is after step %lld; give --steps K with K > %lld to continue it",
                     (long long)c.global_steps, (long long)c.global_steps);
    zs_ckpt_free(&c);
    return rc ? zs_error_prefix(err, "%s", dir) : 0;
}

static int save(const zs_engine *e, const char *dir, int quiet, zs_error *err)
{
    zs_checkpoint c;
    int rc = zs_engine_checkpoint(e, "zs-ref " ZS_SPEC_VERSION, &c, err);
    rc = rc ? rc : zs_ckpt_save(&c, dir, err);
    if (!rc && !quiet)
        printf("checkpoint after step %lld saved to %s (%d shard(s), stage %d)\n", (long long)e->global_steps, dir,
               e->world, e->stage);
    zs_ckpt_free(&c);
    return rc;
}

static int run(const options *o, zs_case *kase)
{
    zs_error err = {{0}};
    int world = o->world ? o->world : kase->world_sizes[0];
    if (o->steps >= 0)
        kase->steps = o->steps;
    if (o->stage >= 0)
        kase->config.zero.stage = o->stage;
    zs_engine e;
    zs_trace trace = {0};
    int status = 2;
    if (zs_engine_init(&e, kase, world, &err))
        goto done;
    if (o->save_dir && zs_engine_can_checkpoint(&e, "--save", &err))
        goto done;
    if (o->resume_dir && resume(&e, o->resume_dir, kase->steps, &err))
        goto done;
    status = 1;
    if (o->trace_comm && !o->quiet)
        e.comm.log = stdout;
    if (o->out_path && zs_trace_begin(&trace, &e, "zs-ref " ZS_SPEC_VERSION, &err))
        goto done;
    if (!o->quiet)
        print_header(&e);
    for (int64_t k = e.global_steps; k < kase->steps; k++) {
        char context[64];
        snprintf(context, sizeof context, "step %lld", (long long)k + 1);
        e.comm.log_context = context;
        zs_step_report rep;
        if (zs_engine_step(&e, &rep, &err))
            goto done;
        if (!o->quiet)
            print_step(&rep);
        if (o->out_path && zs_trace_step(&trace, &e, &rep, &err))
            goto done;
    }
    if (!o->quiet)
        print_rank_bytes(&e);
    if (o->memory && !o->quiet && print_stage_comparison(kase, world, &err))
        goto done;
    if (o->out_path && zs_trace_finish(&trace, o->out_path, &err))
        goto done;
    if (o->save_dir && save(&e, o->save_dir, o->quiet, &err))
        goto done;
    status = 0;
done:
    if (status)
        fprintf(stderr, "zs-ref: error: %s\n", err.msg);
    zs_trace_free(&trace);
    zs_engine_free(&e);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "config") && !strcmp(argv[2], "check"))
        return zs_ref_config_check(argc - 3, argv + 3);
    if (argc >= 2 && !strcmp(argv[1], "ops"))
        return zs_ref_ops(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "ckpt"))
        return zs_ref_ckpt(argc - 2, argv + 2);
    options o;
    if (parse_args(argc, argv, &o))
        return 2;
    zs_case kase;
    zs_error err = {{0}};
    int rc = o.case_path ? zs_case_load(o.case_path, &kase, &err)
                         : zs_case_from_config_file_resolved(o.config_path, o.sets, o.n_sets, o.world, &kase, &err);
    if (rc) {
        fprintf(stderr, "zs-ref: error: %s\n", err.msg);
        return 2;
    }
    if (o.describe) {
        printf("%s", kase.name);
        for (int i = 0; i < kase.n_world_sizes; i++)
            printf(" %d", kase.world_sizes[i]);
        printf("\n");
        zs_case_free(&kase);
        return 0;
    }
    if (o.n_sets && !o.quiet)
        printf("resolved config: %s\n", kase.config.canonical_json);
    int warnings = config_warnings(&kase.config, kase.config_source, o.quiet ? NULL : stderr);
    if (o.strict && warnings) {
        fprintf(stderr, "zs-ref: error: %d warning(s) and --strict given\n", warnings);
        zs_case_free(&kase);
        return 2;
    }
    int status = run(&o, &kase);
    zs_case_free(&kase);
    return status;
}
