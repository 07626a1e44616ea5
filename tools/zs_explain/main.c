/* zs-explain: what each rank holds and sends under each ZeRO stage, for a DeepSpeed config and any
 * model size, without training. For small models it also prints which elements each rank owns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gpt2.h"
#include "partition.h"
#include "predict.h"
#include "svg.h"
#include "zerospec/case.h"

static const char usage[] =
    "usage: zs-explain (--case FILE | --config FILE) --world N [--model NAME | --params N] [--map] [--svg FILE]\n"
    "\n"
    "Prints, for each ZeRO stage, the bytes of parameters, gradients and optimizer state one rank holds\n"
    "(on the device and, with offload, on the host) and the bytes it sends per optimizer step, using\n"
    "the config's precision, optimizer, offload and gradient accumulation.\n"
    "\n"
    "  --model NAME  gpt2-tiny (the case's model, default), gpt2-124m, gpt2-350m, gpt2-774m, gpt2-1.5b\n"
    "  --params N    any parameter count (e.g. 7e9), as one flat tensor\n"
    "  --map         print which parameter elements each rank owns (models up to 1M parameters)\n"
    "  --svg FILE    draw the partition map and the per-stage bytes as an SVG picture (same limit)\n";

typedef struct preset {
    const char *name;
    zs_model_dims dims;
} preset;

static const preset presets[] = {
    {"gpt2-124m", {50257, 1024, 768, 12, 12}},
    {"gpt2-350m", {50257, 1024, 1024, 24, 16}},
    {"gpt2-774m", {50257, 1024, 1280, 36, 20}},
    {"gpt2-1.5b", {50257, 1024, 1600, 48, 25}},
};

static void print_human(int64_t bytes)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    printf(u ? " %9.2f %-3s" : " %9.0f %-3s", v, unit[u]);
}

int main(int argc, char **argv)
{
    const char *case_path = NULL, *config_path = NULL, *model = NULL, *svg_path = NULL;
    double params = 0;
    int world = 0, map = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--map")) {
            map = 1;
        } else if (v && !strcmp(a, "--case")) {
            case_path = argv[++i];
        } else if (v && !strcmp(a, "--config")) {
            config_path = argv[++i];
        } else if (v && !strcmp(a, "--svg")) {
            svg_path = argv[++i];
        } else if (v && !strcmp(a, "--model")) {
            model = argv[++i];
        } else if (v && !strcmp(a, "--world")) {
            world = atoi(argv[++i]);
        } else if (v && !strcmp(a, "--params")) {
            char *end;
            errno = 0;
            params = strtod(argv[++i], &end);
            if (errno || *end || params < 1 || params > 1e15) {
                fprintf(stderr, "zs-explain: error: --params expects a count 1..1e15, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "zs-explain: error: unexpected argument '%s' (see zs-explain --help)\n", a);
            return 2;
        }
    }
    if (!case_path == !config_path || world < 1 || world > 4096) {
        fprintf(stderr, "zs-explain: error: give one of --case/--config and --world 1..4096 (see --help)\n");
        return 2;
    }
    zs_case kase;
    zs_error err = {{0}};
    int rc = case_path ? zs_case_load(case_path, &kase, &err) : zs_case_from_config_file(config_path, &kase, &err);
    if (rc) {
        fprintf(stderr, "zs-explain: error: %s\n", err.msg);
        return 2;
    }
    zs_model_dims dims = kase.model;
    for (size_t p = 0; model && p < sizeof presets / sizeof presets[0]; p++)
        if (!strcmp(model, presets[p].name))
            dims = presets[p].dims;
    if (model && strcmp(model, "gpt2-tiny") && dims.vocab == kase.model.vocab && dims.channels == kase.model.channels) {
        fprintf(stderr, "zs-explain: error: unknown --model '%s' (see --help)\n", model);
        zs_case_free(&kase);
        return 2;
    }
    zs_gpt2 gpt;
    size_t *sizes = NULL, flat = (size_t)params;
    zs_explain_model m = {&flat, 1};
    if (!params) {
        if (zs_gpt2_init(&gpt, dims, &err)) {
            fprintf(stderr, "zs-explain: error: %s\n", err.msg);
            zs_case_free(&kase);
            return 2;
        }
        sizes = malloc(sizeof(size_t) * (size_t)gpt.n_params);
        for (int i = 0; i < gpt.n_params; i++)
            sizes[i] = gpt.params[i].numel;
        m = (zs_explain_model){sizes, gpt.n_params};
    }
    zs_batch batch = {0, 1, 1};
    if (zs_ds_config_resolve_batch(&kase.config, world, &batch, &err))
        fprintf(stderr, "zs-explain: warning: %s; assuming gradient_accumulation_steps 1\n", err.msg);
    const zs_ds_config *c = &kase.config;
    size_t total = 0;
    for (int i = 0; i < m.n_tensors; i++)
        total += m.tensor_numel[i];
    printf("%zu parameters | world %d | %s | %s (%d state(s) per element) | grad-accum %lld | offload optimizer %s, "
           "params %s\n",
           total, world, zs_precision_name(c->precision), zs_optimizer_type_name(c->optimizer.type),
           zs_explain_optimizer_states(&c->optimizer), (long long)batch.grad_accum_steps,
           c->zero.offload_optimizer.device ? "cpu" : "no", c->zero.offload_param.device ? "cpu" : "no");
    if (zs_explain_state_is_approximate(&c->optimizer))
        printf("note: %s keeps state that is not one value per element (docs/spec/optimizers.md §8, §8a); the "
               "optimizer column counts %d per element as an estimate; `zs-ref --case ... --world %d` prints "
               "what each simulated rank really holds\n",
               zs_optimizer_type_name(c->optimizer.type), zs_explain_optimizer_states(&c->optimizer), world);
    printf("%-7s %13s %13s %13s %13s %13s | %13s %13s\n", "stage", "params", "grads", "optimizer", "device total",
           "host", "reduce/step", "gather/step");
    zs_explain_bytes stage_bytes[4];
    for (int s = 0; s <= 3; s++) {
        zs_explain_bytes b = stage_bytes[s] = zs_explain_rank_bytes(c, s, world, &m);
        zs_explain_comm cm = zs_explain_step_comm(c, s, world, batch.grad_accum_steps, &m);
        printf("ZeRO-%d ", s);
        print_human(b.params);
        print_human(b.grads);
        print_human(b.optimizer);
        print_human(b.params + b.grads + b.optimizer);
        print_human(b.host_params + b.host_optimizer);
        printf(" |");
        print_human(cm.reduce_bytes);
        print_human(cm.gather_bytes);
        printf("\n");
    }
    printf("(bytes per rank; model states only — activations and buffers come on top; communication is what\n"
           " each rank sends per optimizer step under ring collectives)\n");
    int status = 0;
    if ((map || svg_path) && (params || total > 1000000)) {
        fprintf(stderr, "zs-explain: error: --map and --svg need a model of at most 1M parameters (not --params)\n");
        status = 2;
    } else if (map || svg_path) {
        const char **names = malloc(sizeof(char *) * (size_t)gpt.n_params);
        for (int i = 0; i < gpt.n_params; i++)
            names[i] = gpt.params[i].name;
        int stage = c->zero.stage;
        zs_partition part;
        zs_error lerr = {{0}};
        if (zs_engine_layout(&part, &gpt, c, world, &lerr)) {   /* Muon: the grouped layout */
            fprintf(stderr, "zs-explain: error: %s\n", lerr.msg);
            free(names);
            zs_gpt2_free(&gpt);
            free(sizes);
            zs_case_free(&kase);
            return 2;
        }
        if (map) {
            printf("\npartition map, ZeRO stage %d (config), world %d:\n", stage, world);
            zs_partition_print(&part, names, sizes, gpt.n_params, stdout);
        }
        if (svg_path) {
            char title[256];
            snprintf(title, sizeof title, "%s: %zu parameters, %d ranks, ZeRO stage %d, %s", kase.name, total, world,
                     stage, zs_precision_name(c->precision));
            zs_svg_input in = {&part, names, sizes, gpt.n_params, {stage_bytes[0], stage_bytes[1], stage_bytes[2],
                               stage_bytes[3]}, title};
            if (zs_svg_write_file(svg_path, &in)) {
                fprintf(stderr, "zs-explain: error: cannot write %s: %s\n", svg_path, strerror(errno));
                status = 2;
            }
        }
        zs_partition_free(&part);
        free(names);
    }
    if (!params)
        zs_gpt2_free(&gpt);
    free(sizes);
    zs_case_free(&kase);
    return status;
}
